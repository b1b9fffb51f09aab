#include "dns/tlsa_record.h"

#include <algorithm>

#include <fmt/format.h>

namespace mtls {
namespace {

constexpr std::uint8_t kUsageDaneTa = 2;
constexpr std::uint8_t kUsageDaneEe = 3;
constexpr std::uint8_t kSelectorCertificate = 0;
constexpr std::uint8_t kSelectorPublicKey = 1;
constexpr std::uint8_t kMatchingFull = 0;
constexpr std::uint8_t kMatchingSha256 = 1;
constexpr std::uint8_t kMatchingSha512 = 2;

}  // namespace

Expected<TlsaRecord> parse_tlsa_rdata(std::span<const std::uint8_t> rdata) {
    if (rdata.size() < 3) {
        return Error{"TLSA record shorter than its fixed fields"};
    }
    TlsaRecord record;
    record.usage = rdata[0];
    record.selector = rdata[1];
    record.matching_type = rdata[2];
    record.data.assign(rdata.begin() + 3, rdata.end());
    if (record.matching_type == kMatchingSha256 && record.data.size() != 32) {
        return Error{"TLSA SHA-256 digest is not 32 octets"};
    }
    if (record.matching_type == kMatchingSha512 && record.data.size() != 64) {
        return Error{"TLSA SHA-512 digest is not 64 octets"};
    }
    if (record.data.empty()) {
        return Error{"TLSA record without association data"};
    }
    return record;
}

bool tlsa_usable_for_smtp(const TlsaRecord& record) {
    const bool dane_usage = record.usage == kUsageDaneTa || record.usage == kUsageDaneEe;
    const bool known_selector = record.selector == kSelectorCertificate || record.selector == kSelectorPublicKey;
    const bool known_matching = record.matching_type == kMatchingFull || record.matching_type == kMatchingSha256 ||
                                record.matching_type == kMatchingSha512;
    return dane_usage && known_selector && known_matching;
}

bool dane_ee_matches(const TlsaRecord& record, const Fingerprints& fingerprints) {
    if (record.usage != kUsageDaneEe ||
        (record.matching_type != kMatchingSha256 && record.matching_type != kMatchingFull)) {
        return false;
    }
    const std::optional<Sha256Digest>* digest = nullptr;
    if (record.selector == kSelectorCertificate) {
        digest = &fingerprints.certificate;
    } else if (record.selector == kSelectorPublicKey) {
        digest = &fingerprints.public_key;
    } else {
        return false;
    }
    if (!digest->has_value()) {
        return false;
    }
    if (record.matching_type == kMatchingFull) {
        const auto full = sha256_of(record.data);
        return full.has_value() && *full == **digest;
    }
    return std::equal(record.data.begin(), record.data.end(), (*digest)->begin(), (*digest)->end());
}

bool tlsa_needs_chain(const TlsaRecord& record) {
    return tlsa_usable_for_smtp(record) &&
           (record.usage == kUsageDaneTa || (record.usage == kUsageDaneEe && record.matching_type == kMatchingSha512));
}

std::string to_presentation(const TlsaRecord& record) {
    return fmt::format("{} {} {} {}", record.usage, record.selector, record.matching_type, to_hex(record.data));
}

}  // namespace mtls
