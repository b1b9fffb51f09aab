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
    // Sendmail's ${verify} for an inbound session that used STARTTLS: OK, NO
    // (no certificate), NOT (none requested), FAIL, TEMP, PROTOCOL, SOFTWARE,
    // ... Without STARTTLS it is not defined at all (docs/MTA-FACTS.md,
    // "Sendmail"); NONE and CLEAR are its outbound values, taken as no TLS.
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

// Sendmail puts one of these into {cn_subject} instead of a CN when the
// certificate has none, one too long, or one containing a NUL (sendmail/tls.c,
// tls_get_info; docs/MTA-FACTS.md): a note, not a name the client presented.
std::optional<std::string_view> sendmail_cn_placeholder_meaning(std::string_view cn) {
    if (cn == "BadCertificateUnknown") {
        return "the certificate has no CN";
    }
    if (cn == "BadCertificateTooLong") {
        return "the certificate's CN is too long";
    }
    if (cn == "BadCertificateContainsNUL") {
        return "the certificate's CN contains a NUL";
    }
    return std::nullopt;
}

// Sendmail's $v is its bare version number ("8.17.1.9"); Postfix's is
// "$mail_name $mail_version" ("Postfix 3.7.11"). Needed to recognise
// Sendmail in a session without STARTTLS, where it defines no {verify}.
bool is_sendmail_version(const std::optional<std::string>& version) {
    return version && !version->empty() && (*version)[0] >= '0' && (*version)[0] <= '9';
}

void add_sendmail_cn(TlsEvidence& evidence, const std::string& cn) {
    auto decoded = xtext_decode(cn);
    if (!decoded) {
        evidence.unusable_names.push_back(cn);
    } else if (const auto meaning = sendmail_cn_placeholder_meaning(decoded.value())) {
        // Kept out of names, with the reason in the log's unusable_cert_names.
        evidence.unusable_names.push_back(decoded.value() + " (Sendmail's placeholder: " + std::string(*meaning) + ")");
    } else {
        add_presented_name(evidence, decoded.value());
    }
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

    const auto verify = bounded(macro, "{verify}");
    if (verify || is_sendmail_version(bounded(macro, "v"))) {
        evidence.source = EvidenceSource::sendmail_macros;
        evidence.verify_detail = verify.value_or("");
        // Encrypted but no {verify}: the macro was not sent, so nothing says
        // the chain verified (Sendmail sets {cn_subject} for any certificate).
        evidence.status = !encrypted ? CertificateStatus::no_tls
                          : verify   ? sendmail_status(*verify)
                                     : CertificateStatus::unverified;
        // {cert_fp} is set for any presented certificate, verified or not; it
        // is SHA-256 only with CertFingerprintAlgorithm=sha256 (else MD5,
        // which DANE cannot use and which is then ignored).
        if (const auto fingerprint = bounded(macro, "{cert_fp}"); fingerprint && encrypted) {
            evidence.fingerprints.certificate = parse_sha256_fingerprint(*fingerprint);
        }
        if (evidence.status == CertificateStatus::verified) {
            if (const auto cn = bounded(macro, "{cn_subject}")) {
                add_sendmail_cn(evidence, *cn);
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
