// TLSA records (RFC 6698) and the one kind mtls-milter can check from what an
// MTA tells it: DANE-EE (usage 3) with a SHA-256 digest (matching type 1) of
// the certificate (selector 0) or of its public key (selector 1). DANE-TA
// (usage 2) needs the issuer certificates, which no MTA hands a milter, and
// PKIX usages 0/1 are unusable for SMTP (RFC 7672, section 3.1).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/expected.h"
#include "tls/fingerprint.h"

namespace mtls {

inline constexpr std::uint16_t kTlsaType = 52;

struct TlsaRecord {
    std::uint8_t usage = 0;
    std::uint8_t selector = 0;
    std::uint8_t matching_type = 0;
    std::vector<std::uint8_t> data;

    bool operator==(const TlsaRecord&) const = default;
};

// Malformed when shorter than the three fixed octets or, for matching types
// 1 and 2, when the data is not a digest of the right length.
Expected<TlsaRecord> parse_tlsa_rdata(std::span<const std::uint8_t> rdata);

// True for a DANE-EE SHA-256 record whose digest equals the fingerprint its
// selector names. Every other record is unusable here and never matches.
bool dane_ee_matches(const TlsaRecord& record, const Fingerprints& fingerprints);

// The record in zone-file form, e.g. "3 1 1 a1b2...".
std::string to_presentation(const TlsaRecord& record);

}  // namespace mtls
