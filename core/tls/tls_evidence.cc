#include "tls/tls_evidence.h"

#include <algorithm>

#include "dns/domain_name.h"
#include "mail/xtext.h"

namespace mtls {
namespace {

constexpr std::size_t kMaxMacroLength = 4096;  // a CN is at most 64 bytes; a DN a few hundred

std::optional<std::string> bounded(const MacroLookup& macro, std::string_view name) {
    auto value = macro(name);
    if (value && value->size() > kMaxMacroLength) {
        value->resize(kMaxMacroLength);
    }
    return value;
}

CertificateStatus sendmail_status(std::string_view verify) {
    // Sendmail's ${verify}: OK, NO (no cert), NOT (not requested), NONE (no
    // STARTTLS), FAIL, TEMP, PROTOCOL, SOFTWARE, CLEAR, ...
    if (verify == "OK") {
        return CertificateStatus::verified;
    }
    if (verify == "NO" || verify == "NOT") {
        return CertificateStatus::no_certificate;
    }
    if (verify == "NONE" || verify == "CLEAR") {
        return CertificateStatus::no_tls;
    }
    return CertificateStatus::unverified;
}

}  // namespace

std::string_view to_string(EvidenceSource source) {
    switch (source) {
        case EvidenceSource::postfix_macros: return "postfix-macros";
        case EvidenceSource::sendmail_macros: return "sendmail-macros";
        case EvidenceSource::operator_input: return "operator";
        case EvidenceSource::certificate_chain: return "certificate-chain";
    }
    return "unknown";
}

std::string_view to_string(CertificateStatus status) {
    switch (status) {
        case CertificateStatus::no_tls: return "no-tls";
        case CertificateStatus::no_certificate: return "no-certificate";
        case CertificateStatus::unverified: return "unverified";
        case CertificateStatus::absent_or_unverified: return "absent-or-unverified";
        case CertificateStatus::verified: return "verified";
    }
    return "unknown";
}

void add_presented_name(TlsEvidence& evidence, std::string_view name) {
    if (name.empty()) {
        return;
    }
    if (auto canonical = canonical_certificate_name(name)) {
        if (std::find(evidence.names.begin(), evidence.names.end(), canonical.value()) == evidence.names.end()) {
            evidence.names.push_back(std::move(canonical).value());
        }
    } else {
        evidence.unusable_names.emplace_back(name);
    }
}

TlsEvidence evidence_from_macros(const MacroLookup& macro) {
    TlsEvidence evidence;
    const auto tls_version = bounded(macro, "{tls_version}");
    const auto cipher = bounded(macro, "{cipher}");
    const bool encrypted = (tls_version && !tls_version->empty()) || (cipher && !cipher->empty());
    evidence.tls_version = tls_version.value_or("");

    if (const auto verify = bounded(macro, "{verify}")) {
        evidence.source = EvidenceSource::sendmail_macros;
        evidence.verify_detail = *verify;
        evidence.status = encrypted ? sendmail_status(*verify) : CertificateStatus::no_tls;
        // {cert_fp} is set for any presented certificate, verified or not; it
        // is SHA-256 only with CertFingerprintAlgorithm=sha256 (else MD5,
        // which DANE cannot use and which is then ignored).
        if (const auto fingerprint = bounded(macro, "{cert_fp}"); fingerprint && encrypted) {
            evidence.fingerprints.certificate = parse_sha256_fingerprint(*fingerprint);
        }
        if (evidence.status == CertificateStatus::verified) {
            if (const auto cn = bounded(macro, "{cn_subject}")) {
                if (auto decoded = xtext_decode(*cn)) {
                    add_presented_name(evidence, decoded.value());
                } else {
                    evidence.unusable_names.push_back(*cn);
                }
            }
        }
        return evidence;
    }

    evidence.source = EvidenceSource::postfix_macros;
    if (!encrypted) {
        evidence.status = CertificateStatus::no_tls;
        return evidence;
    }
    // Postfix defines {cert_subject} only for a verified chain; its value is
    // the CN, possibly empty (a SAN-only certificate).
    if (const auto subject = bounded(macro, "{cert_subject}")) {
        evidence.status = CertificateStatus::verified;
        add_presented_name(evidence, *subject);
    } else {
        evidence.status = CertificateStatus::absent_or_unverified;
    }
    return evidence;
}

}  // namespace mtls
