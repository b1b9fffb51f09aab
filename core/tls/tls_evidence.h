// What we know about the client's TLS session and certificate, and how we
// know it. The MTA's milter macros are one source; a full certificate chain
// (mtls-check --cert) or other channels can fill the same type, so that the
// verdict never cares where the evidence came from.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tls/fingerprint.h"

namespace mtls {

enum class EvidenceSource {
    postfix_macros,   // {cert_subject} defined <=> Postfix verified the chain
    sendmail_macros,  // {verify} says whether Sendmail verified the chain
    operator_input,   // stated on the mtls-check command line
    certificate_chain,
};

enum class CertificateStatus {
    no_tls,                // the session was not encrypted
    no_certificate,        // TLS, but the client presented no certificate
    unverified,            // a certificate was presented and failed verification
    absent_or_unverified,  // TLS, and the MTA does not say which (Postfix)
    verified,              // the MTA verified the chain (RFC 5280 path validation)
};

std::string_view to_string(EvidenceSource source);
std::string_view to_string(CertificateStatus status);

struct TlsEvidence {
    EvidenceSource source = EvidenceSource::postfix_macros;
    CertificateStatus status = CertificateStatus::no_tls;
    // Canonical DNS identifiers usable for matching (see domain_name.h).
    std::vector<std::string> names;
    // Presented names that are not usable DNS identifiers, as received
    // (untrusted: sanitise before logging).
    std::vector<std::string> unusable_names;
    std::string tls_version;    // untrusted, for logging
    std::string verify_detail;  // Sendmail's {verify} value, untrusted
    // Digests of the presented certificate, verified or not: what DANE-EE
    // TLSA records are matched against. Filled from Sendmail's {cert_fp},
    // Postfix's policy channel, or a certificate file.
    Fingerprints fingerprints;
};

// Looks up a milter macro by its name as requested ("{cert_subject}", "i").
// std::nullopt when the MTA did not define it.
using MacroLookup = std::function<std::optional<std::string>(std::string_view)>;

// Interprets the TLS macros of Postfix or Sendmail (docs/MTA-FACTS.md):
// Sendmail is recognised by {verify}, which Postfix never sends, or, in a
// session without STARTTLS, by its bare version number in v.
TlsEvidence evidence_from_macros(const MacroLookup& macro);

// Adds a presented name to the evidence, sorting it into names or
// unusable_names.
void add_presented_name(TlsEvidence& evidence, std::string_view name);

}  // namespace mtls
