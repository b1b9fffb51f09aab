// The MTA's TLS macros ({tls_version}, {cert_subject}, Sendmail's {verify}
// and xtext-encoded {cn_subject}, ...): evidence_from_macros and xtext_decode.
// Input: NUL-separated fields "name=value" (a field without '=' defines the
// macro with an empty value); the whole input is also decoded as xtext.
// Properties: names usable for matching are canonical; a certificate counts
// as verified only as docs/MTA-FACTS.md says each MTA reports it; untrusted text
// stays bounded; xtext decoding inverts encoding.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "dns/domain_name.h"
#include "fuzz_support.h"
#include "mail/xtext.h"
#include "tls/tls_evidence.h"

using namespace mtls;

namespace {

constexpr std::size_t kMaxFields = 16;

std::string xtext_encode(std::string_view text) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (u >= 0x21 && u <= 0x7e && c != '+' && c != '=') {
            out.push_back(c);
        } else {
            out.push_back('+');
            out.push_back(kHex[u >> 4]);
            out.push_back(kHex[u & 0xf]);
        }
    }
    return out;
}

void check_xtext(std::string_view input) {
    const auto decoded = xtext_decode(input);
    if (decoded) {
        FUZZ_CHECK(decoded->size() <= input.size(), input);
        FUZZ_CHECK(input.find('+') != std::string_view::npos || decoded.value() == input, input);
    } else {
        FUZZ_CHECK(input.find('+') != std::string_view::npos, input);
    }
    const auto round_trip = xtext_decode(xtext_encode(input));
    FUZZ_CHECK(round_trip && round_trip.value() == input, input);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto input = fuzz::as_text(data, size);
    check_xtext(input);

    std::map<std::string, std::string, std::less<>> macros;
    for (const auto field : fuzz::split_fields(input, kMaxFields)) {
        if (field.empty()) {
            continue;
        }
        const auto equals = field.find('=');
        const auto name = field.substr(0, equals);
        const auto value = equals == std::string_view::npos ? std::string_view() : field.substr(equals + 1);
        macros.insert_or_assign(std::string(name), std::string(value));
        check_xtext(value);
    }
    int lookups = 0;
    const MacroLookup lookup = [&](std::string_view name) -> std::optional<std::string> {
        ++lookups;
        if (auto it = macros.find(name); it != macros.end()) {
            return it->second;
        }
        return std::nullopt;
    };

    const TlsEvidence evidence = evidence_from_macros(lookup);

    FUZZ_CHECK(lookups > 0, input);
    for (const auto& name : evidence.names) {
        const bool wildcard = name.starts_with("*.");
        FUZZ_CHECK(fuzz::looks_canonical_host(wildcard ? std::string_view(name).substr(2) : std::string_view(name)),
                   input);
        const auto again = canonical_certificate_name(name);
        FUZZ_CHECK(again && again.value() == name, input);
    }
    for (const auto& name : evidence.unusable_names) {
        FUZZ_CHECK(!name.empty() && name.size() <= 4096, input);
    }
    FUZZ_CHECK(evidence.tls_version.size() <= 4096, input);
    FUZZ_CHECK(evidence.verify_detail.size() <= 4096, input);
    FUZZ_CHECK(evidence.names.size() + evidence.unusable_names.size() <= 1, input);

    // Sendmail defines {verify} after STARTTLS; without it, its v is a bare
    // version number where Postfix's starts with "Postfix" (docs/MTA-FACTS.md).
    const auto version = macros.find("v");
    const bool sendmail =
        macros.contains("{verify}") || (version != macros.end() && !version->second.empty() &&
                                        version->second.front() >= '0' && version->second.front() <= '9');
    const auto defined_non_empty = [&](std::string_view name) {
        const auto it = macros.find(name);
        return it != macros.end() && !it->second.empty();
    };
    const bool encrypted = defined_non_empty("{tls_version}") || defined_non_empty("{cipher}");
    FUZZ_CHECK(evidence.source == (sendmail ? EvidenceSource::sendmail_macros : EvidenceSource::postfix_macros), input);
    if (!encrypted) {
        FUZZ_CHECK(evidence.status == CertificateStatus::no_tls, input);
    }
    if (evidence.status == CertificateStatus::verified) {
        if (sendmail) {
            FUZZ_CHECK(macros.at("{verify}") == "OK", input);
        } else {
            FUZZ_CHECK(macros.contains("{cert_subject}"), input);
        }
    } else {
        FUZZ_CHECK(evidence.names.empty() && evidence.unusable_names.empty(), input);
    }
    return 0;
}
