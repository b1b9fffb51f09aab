// Certificate discovery's verdict step (core/mtls/discovery_verdict.h): when
// a probe may start, which hosts it may pass for, and what each probe
// outcome makes of a certificate-path fail. Pure; the probe itself is
// tested in tests/discovery/, end to end in test_discovery.py.
#include <catch2/catch.hpp>

#include "mtls/discovery_verdict.h"

using namespace mtls;
using discovery::DiscoveryResult;
using discovery::ProbeOutcome;

namespace {

Verdict failed_for(std::vector<std::string> hosts) {
    Verdict verdict;
    verdict.result = Result::fail;
    verdict.reason = "no verified client certificate";
    verdict.dnssec = DnssecState::secure;
    std::uint16_t preference = 10;
    for (auto& host : hosts) {
        verdict.client_mx.push_back(ClientMx{preference, std::move(host)});
        preference += 10;
    }
    return verdict;
}

TlsEvidence presented(CertificateStatus status, std::vector<std::string> names = {}) {
    TlsEvidence evidence;
    evidence.status = status;
    evidence.names = std::move(names);
    Sha256Digest digest{};
    digest.fill(7);
    evidence.fingerprints.certificate = digest;
    return evidence;
}

DiscoveryResult probed(ProbeOutcome outcome, std::string reason = "the probe's words") {
    DiscoveryResult result;
    result.probe.outcome = outcome;
    result.probe.reason = std::move(reason);
    return result;
}

DiscoveryResult matched(CertificateStatus status, std::vector<std::string> names, bool from_cache = false) {
    DiscoveryResult result = probed(ProbeOutcome::matched);
    CertificateChainReport report;
    report.evidence = presented(status, std::move(names));
    report.problem = status == CertificateStatus::verified ? "" : "certificate has expired (depth 0)";
    result.chain = report;
    result.from_cache = from_cache;
    return result;
}

TlsaLookupResult tlsa_for(std::string host, DnssecState dnssec) {
    TlsaLookupResult lookup;
    lookup.host = std::move(host);
    lookup.owner = "_25._tcp." + lookup.host;
    lookup.answer.status = AnswerStatus::records;
    lookup.answer.dnssec = dnssec;
    return lookup;
}

}  // namespace

TEST_CASE("discovery: a probe starts only when the MTA's word may not be enough") {
    CHECK(discovery_worth_starting(presented(CertificateStatus::unverified)));
    CHECK(discovery_worth_starting(presented(CertificateStatus::absent_or_unverified)));
    CHECK(discovery_worth_starting(presented(CertificateStatus::verified)));  // verified, but no name
    // Verified with names: only once they are known to match no host.
    CHECK_FALSE(discovery_worth_starting(presented(CertificateStatus::verified, {"out1.example.org"})));
    CHECK_FALSE(discovery_worth_starting(presented(CertificateStatus::no_certificate)));
    CHECK_FALSE(discovery_worth_starting(presented(CertificateStatus::no_tls)));
    TlsEvidence without_fingerprint = presented(CertificateStatus::unverified);
    without_fingerprint.fingerprints = {};
    CHECK_FALSE(discovery_worth_starting(without_fingerprint));
}

TEST_CASE("discovery: applies to certificate-path fails only") {
    const auto evidence = presented(CertificateStatus::verified, {"rogue.example.org"});
    CHECK(discovery_applicable(failed_for({"out1.example.org"}), evidence));
    Verdict passed = failed_for({"out1.example.org"});
    passed.result = Result::pass;
    CHECK_FALSE(discovery_applicable(passed, evidence));
    CHECK_FALSE(discovery_applicable(failed_for({""}), evidence));  // null Client MX
    CHECK_FALSE(discovery_applicable(failed_for({"out1.example.org"}), presented(CertificateStatus::no_tls)));
}

TEST_CASE("discovery: never for a host whose secure TLSA records named another key") {
    const auto verdict = failed_for({"out1.example.org", "out2.example.org", "out3.example.org"});
    const std::vector<TlsaLookupResult> tlsa = {tlsa_for("out1.example.org", DnssecState::secure),
                                                tlsa_for("out2.example.org", DnssecState::insecure)};
    CHECK(discovery_hosts(verdict, tlsa) == std::vector<std::string>{"out2.example.org", "out3.example.org"});
}

TEST_CASE("discovery: a verified chain naming a Client MX host passes") {
    const std::vector<std::string> hosts = {"out1.example.org"};
    DiscoveryReport report;
    const auto verdict = apply_discovery(
        failed_for(hosts), matched(CertificateStatus::verified, {"other.example.org", "out1.example.org"}), hosts,
        false, report);
    CHECK(verdict.result == Result::pass);
    CHECK(verdict.method == PassMethod::discovered);
    CHECK(verdict.reason == "discovered");
    CHECK(verdict.matched_host == "out1.example.org");
    CHECK(report.outcome == "pass");
}

TEST_CASE("discovery: invalid chains and other names fail, saying which") {
    const std::vector<std::string> hosts = {"out1.example.org"};
    DiscoveryReport report;
    auto verdict = apply_discovery(failed_for(hosts), matched(CertificateStatus::unverified, {"out1.example.org"}),
                                   hosts, false, report);
    CHECK(verdict.result == Result::fail);
    CHECK(verdict.reason == "discovered certificate chain not valid");
    CHECK(report.outcome == "chain-invalid");

    verdict = apply_discovery(failed_for(hosts), matched(CertificateStatus::verified, {"rogue.example.org"}, true),
                              hosts, false, report);
    CHECK(verdict.result == Result::fail);
    CHECK(verdict.reason == "discovered certificate name matches no Client MX host");
    CHECK(report.outcome == "name-mismatch");
    CHECK(report.from_cache);

    // Wildcards only with allow-wildcards.
    verdict = apply_discovery(failed_for(hosts), matched(CertificateStatus::verified, {"*.example.org"}), hosts, false,
                              report);
    CHECK(verdict.result == Result::fail);
    verdict = apply_discovery(failed_for(hosts), matched(CertificateStatus::verified, {"*.example.org"}), hosts, true,
                              report);
    CHECK(verdict.result == Result::pass);
}

TEST_CASE("discovery: each probe failure has its own fixed reason") {
    const std::vector<std::string> hosts = {"out1.example.org"};
    const std::vector<std::pair<ProbeOutcome, std::string>> cases = {
        {ProbeOutcome::no_listener, "certificate discovery: connection refused"},
        {ProbeOutcome::no_starttls, "certificate discovery: no STARTTLS"},
        {ProbeOutcome::other_certificate, "certificate discovery found another certificate"},
        {ProbeOutcome::smtp_failed, "certificate discovery: SMTP error"},
        {ProbeOutcome::tls_failed, "certificate discovery: TLS handshake failed"},
    };
    for (const auto& [outcome, reason] : cases) {
        DiscoveryReport report;
        // The probe's words (peer text) stay out of the header's reason.
        const auto verdict =
            apply_discovery(failed_for(hosts), probed(outcome, "peer said \"evil\""), hosts, false, report);
        CHECK(verdict.result == Result::fail);
        CHECK(verdict.reason == reason);
        CHECK(report.outcome == discovery::to_string(outcome));
        CHECK(report.detail == "peer said \"evil\"");
    }
}

TEST_CASE("discovery: timeouts are temperror, never fail") {
    const std::vector<std::string> hosts = {"out1.example.org"};
    DiscoveryReport report;
    auto verdict = apply_discovery(failed_for(hosts), std::nullopt, hosts, false, report);
    CHECK(verdict.result == Result::temperror);
    CHECK(verdict.reason == "certificate discovery timed out");
    CHECK(report.outcome == "pending");
    verdict = apply_discovery(failed_for(hosts), probed(ProbeOutcome::timed_out), hosts, false, report);
    CHECK(verdict.result == Result::temperror);
    CHECK(report.outcome == "timed-out");
}

TEST_CASE("discovery: probes not made leave the verdict as it was") {
    const std::vector<std::string> hosts = {"out1.example.org"};
    for (const auto outcome :
         {ProbeOutcome::not_allowed, ProbeOutcome::rate_limited, ProbeOutcome::overloaded, ProbeOutcome::shut_down}) {
        DiscoveryReport report;
        const auto verdict = apply_discovery(failed_for(hosts), probed(outcome), hosts, false, report);
        CHECK(verdict.result == Result::fail);
        CHECK(verdict.reason == "no verified client certificate");
        CHECK(report.outcome == discovery::to_string(outcome));
    }
}
