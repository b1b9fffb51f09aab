#include "mtls/verdict.h"

#include <algorithm>

#include "tls/name_match.h"

namespace mtls {
namespace {

Verdict make(Result result, std::string reason, DnssecState dnssec) {
    Verdict verdict;
    verdict.result = result;
    verdict.reason = std::move(reason);
    verdict.dnssec = dnssec;
    return verdict;
}

std::string_view certificate_problem(CertificateStatus status) {
    switch (status) {
        case CertificateStatus::no_tls: return "TLS not used";
        case CertificateStatus::no_certificate: return "no client certificate";
        case CertificateStatus::unverified: return "client certificate not verified";
        case CertificateStatus::absent_or_unverified: return "no verified client certificate";
        case CertificateStatus::verified: return "";
    }
    return "no verified client certificate";
}

}  // namespace

std::string_view to_string(Result result) {
    switch (result) {
        case Result::pass: return "pass";
        case Result::fail: return "fail";
        case Result::none: return "none";
        case Result::temperror: return "temperror";
        case Result::permerror: return "permerror";
    }
    return "temperror";
}

std::string_view to_string(PassMethod method) {
    switch (method) {
        case PassMethod::none: return "none";
        case PassMethod::certificate: return "certificate";
        case PassMethod::dane: return "dane";
        case PassMethod::discovered: return "discovered";
    }
    return "none";
}

std::vector<std::string> sending_hosts(const Verdict& verdict) {
    std::vector<std::string> hosts;
    for (const auto& record : verdict.client_mx) {
        if (!record.is_null() && std::find(hosts.begin(), hosts.end(), record.host) == hosts.end()) {
            hosts.push_back(record.host);
        }
    }
    return hosts;
}

Verdict verdict_for_unusable_identity(const Identity& identity) {
    return make(Result::permerror,
                identity.kind == IdentityKind::helo ? "invalid HELO name for null sender" : "invalid MAIL FROM address",
                DnssecState::unknown);
}

Verdict decide(const DnsAnswer& answer, const TlsEvidence& evidence, const VerdictSettings& policy) {
    switch (answer.status) {
        case AnswerStatus::timeout: return make(Result::temperror, "DNS lookup timed out", answer.dnssec);
        case AnswerStatus::servfail: return make(Result::temperror, "DNS server failure", answer.dnssec);
        case AnswerStatus::error: return make(Result::temperror, "DNS resolver error", answer.dnssec);
        case AnswerStatus::bogus: return make(Result::temperror, "DNSSEC validation failed", DnssecState::bogus);
        case AnswerStatus::nxdomain: return make(Result::none, "domain does not exist", answer.dnssec);
        case AnswerStatus::nodata: return make(Result::none, "no Client MX records", answer.dnssec);
        case AnswerStatus::records: break;
    }
    if (answer.dnssec == DnssecState::bogus) {
        // classify_answer never pairs records with bogus; a Resolver that did
        // must still not get a bogus RRset to pass.
        return make(Result::temperror, "DNSSEC validation failed", DnssecState::bogus);
    }
    if (answer.dnssec != DnssecState::secure && policy.require_dnssec) {
        return make(Result::none, "Client MX records not DNSSEC-signed", answer.dnssec);
    }

    Verdict verdict = make(Result::fail, "", answer.dnssec);
    for (const auto& rdata : answer.rdata) {
        auto record = parse_client_mx_rdata(rdata);
        if (!record) {
            return make(Result::permerror, "malformed Client MX record", answer.dnssec);
        }
        verdict.client_mx.push_back(std::move(record).value());
    }
    std::stable_sort(verdict.client_mx.begin(), verdict.client_mx.end(),
                     [](const ClientMx& a, const ClientMx& b) { return a.preference < b.preference; });

    const std::vector<std::string> hosts = sending_hosts(verdict);
    if (hosts.empty()) {
        verdict.reason = "null Client MX: domain sends no mail";
        return verdict;
    }
    if (evidence.status != CertificateStatus::verified) {
        verdict.reason = certificate_problem(evidence.status);
        return verdict;
    }
    if (evidence.names.empty()) {
        verdict.reason = "client certificate has no usable host name";
        return verdict;
    }
    if (auto host = first_matching_host(evidence.names, hosts, policy.allow_wildcards)) {
        verdict.result = Result::pass;
        verdict.method = PassMethod::certificate;
        verdict.matched_host = std::move(*host);
        verdict.reason.clear();
        return verdict;
    }
    verdict.reason = "certificate name matches no Client MX host";
    return verdict;
}

}  // namespace mtls
