#include "mtls/discovery_verdict.h"

#include <algorithm>

#include "tls/name_match.h"

namespace mtls {
namespace {

Verdict failed(Verdict verdict, std::string_view reason) {
    verdict.result = Result::fail;
    verdict.reason = std::string(reason);
    return verdict;
}

// Fixed text for the header: the probe's own sentence (with the peer's
// words) goes to the log only.
std::string_view reason_for(discovery::ProbeOutcome outcome) {
    using discovery::ProbeOutcome;
    switch (outcome) {
        case ProbeOutcome::other_certificate: return "certificate discovery found another certificate";
        case ProbeOutcome::no_listener: return "certificate discovery: connection refused";
        case ProbeOutcome::no_starttls: return "certificate discovery: no STARTTLS";
        case ProbeOutcome::smtp_failed: return "certificate discovery: SMTP error";
        case ProbeOutcome::tls_failed: return "certificate discovery: TLS handshake failed";
        default: return "";
    }
}

}  // namespace

bool discovery_worth_starting(const TlsEvidence& evidence) {
    if (!evidence.fingerprints.certificate) {
        return false;
    }
    switch (evidence.status) {
        case CertificateStatus::unverified:
        case CertificateStatus::absent_or_unverified: return true;
        case CertificateStatus::verified: return evidence.names.empty();
        case CertificateStatus::no_tls:
        case CertificateStatus::no_certificate: return false;
    }
    return false;
}

bool discovery_applicable(const Verdict& verdict, const TlsEvidence& evidence) {
    return verdict.result == Result::fail && !sending_hosts(verdict).empty() && evidence.fingerprints.certificate &&
           evidence.status != CertificateStatus::no_tls && evidence.status != CertificateStatus::no_certificate;
}

std::vector<std::string> discovery_hosts(const Verdict& verdict, std::span<const TlsaLookupResult> tlsa) {
    auto hosts = sending_hosts(verdict);
    std::erase_if(hosts, [&](const std::string& host) {
        return std::any_of(tlsa.begin(), tlsa.end(), [&](const TlsaLookupResult& lookup) {
            return lookup.host == host && lookup.answer.status == AnswerStatus::records &&
                   lookup.answer.dnssec == DnssecState::secure;
        });
    });
    return hosts;
}

Verdict apply_discovery(Verdict verdict, const std::optional<discovery::DiscoveryResult>& result,
                        std::span<const std::string> hosts, bool allow_wildcards, DiscoveryReport& report) {
    using discovery::ProbeOutcome;
    if (!result) {
        report.outcome = kDiscoveryPending;
        verdict.result = Result::temperror;
        verdict.reason = "certificate discovery timed out";
        return verdict;
    }
    report.detail = result->probe.reason;
    report.from_cache = result->from_cache;
    const ProbeOutcome outcome = result->probe.outcome;
    if (outcome != ProbeOutcome::matched) {
        report.outcome = discovery::to_string(outcome);
        if (outcome == ProbeOutcome::timed_out) {
            verdict.result = Result::temperror;
            verdict.reason = "certificate discovery timed out";
            return verdict;
        }
        const auto reason = reason_for(outcome);
        return reason.empty() ? verdict : failed(std::move(verdict), reason);
    }
    if (!result->verified()) {
        report.outcome = kDiscoveryChainInvalid;
        return failed(std::move(verdict), "discovered certificate chain not valid");
    }
    const TlsEvidence& discovered = result->chain->evidence;
    if (auto host = first_matching_host(discovered.names, hosts, allow_wildcards)) {
        report.outcome = kDiscoveryPass;
        verdict.result = Result::pass;
        verdict.method = PassMethod::discovered;
        verdict.reason = "discovered";
        verdict.matched_host = std::move(*host);
        return verdict;
    }
    report.outcome = kDiscoveryNameMismatch;
    return failed(std::move(verdict), discovered.names.empty()
                                          ? "discovered certificate has no usable host name"
                                          : "discovered certificate name matches no Client MX host");
}

}  // namespace mtls
