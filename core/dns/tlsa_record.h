// TLSA records (RFC 6698) and the kinds mtls-milter can check from what an
// MTA tells it, the SHA-256 fingerprints of the client's certificate and
// public key: DANE-EE (usage 3) for the certificate (selector 0) or its
// public key (selector 1), given as a SHA-256 digest (matching type 1) or in
// full (matching type 0, whose SHA-256 must then equal the fingerprint: the
// same bytes, since SHA-256 is collision-resistant). SHA-512 digests
// (matching type 2) and DANE-TA (usage 2) need the certificate chain itself,
// which no MTA hands a milter; PKIX usages 0/1 are unusable for SMTP
// (RFC 7672, section 3.1).
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

// True for a record that SMTP DANE can use at all (RFC 7672, sections
// 2.2 and 3.1; RFC 6698 with RFC 7218's names): usage DANE-TA(2) or
// DANE-EE(3), selector Cert(0) or SPKI(1), matching type Full(0),
// SHA2-256(1) or SHA2-512(2), its data well-formed (parse_tlsa_rdata checks
// the digest lengths). PKIX-TA(0)/PKIX-EE(1) and unknown selectors or
// matching types are unusable; a secure RRset without a usable record is
// treated as one without TLSA records. The one definition both the milter
// (tlsa_needs_chain) and mtls-tlspolicy (tlspolicy/dns_facts.cc) use.
bool tlsa_usable_for_smtp(const TlsaRecord& record);

// True for a DANE-EE record, SHA-256 or full, that names the certificate or
// key whose fingerprint its selector points at. Every other record is
// unusable here and never matches.
bool dane_ee_matches(const TlsaRecord& record, const Fingerprints& fingerprints);

// True for the records only the certificate chain can match: DANE-EE with a
// SHA-512 digest and DANE-TA, selector 0 or 1, matching type 0, 1 or 2
// (core/mtls/dane_chain.h, which needs a chain certificate discovery fetched).
bool tlsa_needs_chain(const TlsaRecord& record);

// The record in zone-file form, e.g. "3 1 1 a1b2...".
std::string to_presentation(const TlsaRecord& record);

}  // namespace mtls
