// discovery/certificate_discovery.h against real STARTTLS servers on
// 127.0.0.1 (smtp_test_server.h) with certificates made here. Deadlines are
// generous where a probe must succeed and short only where it must time out,
// so that no assertion depends on the machine's speed.
#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "discovery/certificate_discovery.h"
#include "smtp_test_server.h"
#include "test_pki.h"

using namespace mtls;
using namespace mtls::discovery;
using namespace mtls::test;
using namespace std::chrono_literals;
using Names = std::vector<std::string>;

// Designated initializers name only what a certificate is about; the rest
// keep their defaults on purpose.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace {

constexpr auto kPatience = 60s;  // for what must finish; never reached unless broken

// The probe's target: the test server listens on 127.0.0.1.
IpAddress loopback() {
    return *IpAddress::parse("127.0.0.1");
}

class TempFile {
public:
    explicit TempFile(const std::string& text) {
        std::string pattern = "/tmp/mtls-discovery-XXXXXX";
        const int fd = ::mkstemp(pattern.data());
        REQUIRE(fd >= 0);
        REQUIRE(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
        ::close(fd);
        path_ = pattern;
    }
    ~TempFile() { ::unlink(path_.c_str()); }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    [[nodiscard]] const std::string& path() const { return path_; }

private:
    std::string path_;
};

// A public-CA-like hierarchy and a 2026 leaf: serverAuth only, no CN.
struct Pki {
    Issued root = issue({.cn = "Discovery Test Root", .ca = true, .not_after = 3650 * kDay}, nullptr);
    Issued intermediate = issue({.cn = "Discovery Test Intermediate", .ca = true, .not_after = 365 * kDay}, &root);
    Issued leaf = issue({.san = "DNS:out1.example.test", .eku = "serverAuth"}, &intermediate);
    Issued other = issue({.san = "DNS:other.example.test", .eku = "serverAuth"}, &intermediate);
    Issued stranger_root = issue({.cn = "Stranger Root", .ca = true, .not_after = 3650 * kDay}, nullptr);
    TempFile root_file{pem_of({&root})};
    TempFile stranger_file{pem_of({&stranger_root})};
};

DiscoverySettings settings_for(std::uint16_t port, const Pki& pki) {
    DiscoverySettings settings;
    settings.helo_name = "receiver.example.test";
    settings.port = port;
    settings.networks = HostList::parse("127.0.0.0/8").value();
    settings.verification.ca_file = pki.root_file.path();
    return settings;
}

std::unique_ptr<CertificateDiscovery> make(DiscoverySettings settings) {
    auto discovery = CertificateDiscovery::create(std::move(settings));
    INFO((discovery ? std::string() : discovery.error()));
    REQUIRE(discovery);
    return std::move(discovery).value();
}

DiscoveryResult finished(const DiscoveryTicket& ticket) {
    auto result = ticket.collect(kPatience);
    REQUIRE(result);
    INFO(result->probe.reason);
    return *result;
}

struct Probed {
    DiscoveryResult result;
    DiscoveryCounters counters;
};

// One request for the leaf's fingerprint to a fresh service probing port.
Probed probe_once(
    std::uint16_t port, const Pki& pki,
    const std::function<void(DiscoverySettings&)>& adjust = [](DiscoverySettings&) {}) {
    auto settings = settings_for(port, pki);
    adjust(settings);
    const auto discovery = make(std::move(settings));
    auto result = finished(discovery->start(loopback(), fingerprint_of(pki.leaf)));
    return {std::move(result), discovery->counters()};
}

}  // namespace

TEST_CASE("discovery: the served certificate matches and its chain verifies") {
    const Pki pki;
    const SmtpTestServer server(Script::starttls, &pki.leaf, {&pki.intermediate});
    const auto discovery = make(settings_for(server.port(), pki));

    const auto result = finished(discovery->start(loopback(), fingerprint_of(pki.leaf), "out1.example.test"));
    CHECK(result.probe.outcome == ProbeOutcome::matched);
    CHECK(result.verified());
    CHECK_FALSE(result.from_cache);
    REQUIRE(result.chain);
    CHECK(result.chain->chain_length == 2);  // the intermediate came along
    CHECK(result.chain->evidence.names == Names{"out1.example.test"});
    CHECK(result.chain->evidence.fingerprints.certificate == fingerprint_of(pki.leaf));
    const auto counters = discovery->counters();
    CHECK(counters.probed == 1);
    CHECK(counters.pass == 1);
}

TEST_CASE("discovery: a matching certificate from an untrusted CA is chain-invalid") {
    const Pki pki;
    const SmtpTestServer server(Script::starttls, &pki.leaf, {&pki.intermediate});
    const auto [result, counters] = probe_once(server.port(), pki, [&](DiscoverySettings& settings) {
        settings.verification.ca_file = pki.stranger_file.path();
    });
    CHECK(result.probe.outcome == ProbeOutcome::matched);
    CHECK_FALSE(result.verified());
    CHECK_THAT(result.probe.reason, Catch::Contains("chain is invalid"));
    CHECK(counters.chain_invalid == 1);
}

TEST_CASE("discovery: another certificate on the port") {
    const Pki pki;
    const SmtpTestServer server(Script::starttls, &pki.other, {&pki.intermediate});
    const auto [result, counters] = probe_once(server.port(), pki);
    CHECK(result.probe.outcome == ProbeOutcome::other_certificate);
    CHECK(result.probe.reason == fmt::format("127.0.0.1:{} presents another certificate", server.port()));
    CHECK_FALSE(result.chain);
    CHECK(counters.other_certificate == 1);
}

TEST_CASE("discovery: nothing listening") {
    const Pki pki;
    const auto port = unused_port();
    const auto [result, counters] = probe_once(port, pki);
    CHECK(result.probe.outcome == ProbeOutcome::no_listener);
    CHECK(result.probe.reason == fmt::format("connection refused by 127.0.0.1:{}", port));
    CHECK(counters.no_listener == 1);
}

TEST_CASE("discovery: no STARTTLS offered") {
    const Pki pki;
    const SmtpTestServer server(Script::no_starttls, &pki.leaf);
    const auto [result, counters] = probe_once(server.port(), pki);
    CHECK(result.probe.outcome == ProbeOutcome::no_starttls);
    CHECK_THAT(result.probe.reason, Catch::Contains("offers no STARTTLS"));
    CHECK(counters.no_starttls == 1);
}

TEST_CASE("discovery: a server that says nothing times out") {
    const Pki pki;
    const SmtpTestServer server(Script::stall, &pki.leaf);
    const auto [result, counters] =
        probe_once(server.port(), pki, [&](DiscoverySettings& settings) { settings.timeout = 200ms; });
    CHECK(result.probe.outcome == ProbeOutcome::timed_out);
    CHECK_THAT(result.probe.reason, Catch::Contains("timed out waiting for the banner"));
    CHECK(counters.timed_out == 1);
}

TEST_CASE("discovery: the step timeout ends a stalled step within the overall one") {
    const Pki pki;
    const SmtpTestServer server(Script::stall, &pki.leaf);
    const auto [result, counters] =
        probe_once(server.port(), pki, [](DiscoverySettings& settings) { settings.step_timeout = 200ms; });
    CHECK(result.probe.outcome == ProbeOutcome::timed_out);
}

TEST_CASE("discovery: hostile servers are cut off before TLS") {
    const Pki pki;
    const auto [script, reason] = GENERATE(table<Script, std::string>({
        {Script::endless_line, "longer than 512 octets"},
        {Script::injection, "STARTTLS injection"},  // RFC 3207: the extra reply never reaches TLS
        {Script::bare_lf, "bare LF"},
    }));
    const SmtpTestServer server(script, &pki.leaf);
    const auto [result, counters] = probe_once(server.port(), pki);
    CHECK(result.probe.outcome == ProbeOutcome::smtp_failed);
    CHECK_THAT(result.probe.reason, Catch::Contains(reason));
    CHECK(counters.smtp_failed == 1);
    CHECK(server.handshakes() == 0);
}

TEST_CASE("discovery: a discovered certificate is cached: one probe for two requests") {
    const Pki pki;
    const SmtpTestServer server(Script::starttls, &pki.leaf, {&pki.intermediate});
    const auto discovery = make(settings_for(server.port(), pki));

    CHECK(finished(discovery->start(loopback(), fingerprint_of(pki.leaf))).verified());
    const auto second = finished(discovery->start(loopback(), fingerprint_of(pki.leaf)));
    CHECK(second.verified());
    CHECK(second.from_cache);
    REQUIRE(second.chain);
    CHECK(second.chain->evidence.names == Names{"out1.example.test"});
    CHECK(server.connections() == 1);
    const auto counters = discovery->counters();
    CHECK(counters.requests == 2);
    CHECK(counters.probed == 1);
    CHECK(counters.cache_hits == 1);
    CHECK(counters.pass == 2);
}

TEST_CASE("discovery: failures are cached per address and fingerprint") {
    const Pki pki;
    const SmtpTestServer server(Script::no_starttls, &pki.leaf);
    const auto discovery = make(settings_for(server.port(), pki));

    CHECK(finished(discovery->start(loopback(), fingerprint_of(pki.leaf))).probe.outcome == ProbeOutcome::no_starttls);
    const auto second = finished(discovery->start(loopback(), fingerprint_of(pki.leaf)));
    CHECK(second.probe.outcome == ProbeOutcome::no_starttls);
    CHECK(second.from_cache);
    CHECK(server.connections() == 1);
    // Another fingerprint from the same address is probed anew.
    CHECK(finished(discovery->start(loopback(), fingerprint_of(pki.other))).probe.outcome == ProbeOutcome::no_starttls);
    CHECK(server.connections() == 2);
    CHECK(discovery->counters().cache_hits == 1);
}

TEST_CASE("discovery: a timeout is cached as a failure") {
    const Pki pki;
    const SmtpTestServer server(Script::stall, &pki.leaf);
    auto settings = settings_for(server.port(), pki);
    settings.timeout = 200ms;
    const auto discovery = make(std::move(settings));

    CHECK(finished(discovery->start(loopback(), fingerprint_of(pki.leaf))).probe.outcome == ProbeOutcome::timed_out);
    const auto second = finished(discovery->start(loopback(), fingerprint_of(pki.leaf)));
    CHECK(second.probe.outcome == ProbeOutcome::timed_out);
    CHECK(second.from_cache);
    CHECK(server.connections() == 1);
}

TEST_CASE("discovery: a second request joins the probe in flight") {
    const Pki pki;
    SmtpTestServer server(Script::starttls, &pki.leaf, {&pki.intermediate});
    server.close_gate();  // no probe can finish before both requests are in
    const auto discovery = make(settings_for(server.port(), pki));

    const auto first = discovery->start(loopback(), fingerprint_of(pki.leaf));
    const auto second = discovery->start(loopback(), fingerprint_of(pki.leaf));
    CHECK_FALSE(first.collect(0ms));  // still running: the caller may move on
    server.open_gate();
    CHECK(finished(first).verified());
    const auto joined = finished(second);
    CHECK(joined.verified());
    CHECK_FALSE(joined.from_cache);
    CHECK(server.connections() == 1);
    const auto counters = discovery->counters();
    CHECK(counters.probed == 1);
    CHECK(counters.joined == 1);
    CHECK(counters.pass == 2);
}

TEST_CASE("discovery: the global cap on probes in flight") {
    const Pki pki;
    SmtpTestServer server(Script::starttls, &pki.leaf, {&pki.intermediate});
    server.close_gate();
    auto settings = settings_for(server.port(), pki);
    settings.max_in_flight = 2;
    const auto discovery = make(std::move(settings));

    // Different fingerprints, so that each is a probe of its own.
    const Issued third_leaf = issue({.san = "DNS:third.example.test", .eku = "serverAuth"}, &pki.intermediate);
    const auto first = discovery->start(loopback(), fingerprint_of(pki.leaf));
    const auto second = discovery->start(loopback(), fingerprint_of(pki.other));
    const auto third = discovery->start(loopback(), fingerprint_of(third_leaf));
    const auto refused = third.collect(0ms);  // answered at once
    REQUIRE(refused);
    CHECK(refused->probe.outcome == ProbeOutcome::overloaded);
    CHECK(refused->probe.reason == "2 probes in flight already");
    CHECK(discovery->counters().overloaded == 1);
    server.open_gate();
    CHECK(finished(first).verified());
    CHECK(finished(second).probe.outcome == ProbeOutcome::other_certificate);  // the server has only one
    CHECK(discovery->counters().probed == 2);
    CHECK(server.connections() == 2);
}

TEST_CASE("discovery: non-global addresses are probed only when listed") {
    const Pki pki;
    const SmtpTestServer server(Script::starttls, &pki.leaf, {&pki.intermediate});
    auto settings = settings_for(server.port(), pki);
    settings.networks = HostList::parse("10.0.0.0/8").value();
    const auto discovery = make(std::move(settings));

    const auto result = discovery->start(loopback(), fingerprint_of(pki.leaf)).collect(0ms);
    REQUIRE(result);
    CHECK(result->probe.outcome == ProbeOutcome::not_allowed);
    CHECK(result->probe.reason == "127.0.0.1 is not a global address and not in cert-discovery-networks");
    CHECK(server.connections() == 0);
    CHECK(discovery->counters().not_allowed == 1);
}

TEST_CASE("discovery: a per-address rate limit") {
    const Pki pki;
    const SmtpTestServer server(Script::no_starttls, &pki.leaf);
    auto settings = settings_for(server.port(), pki);
    settings.probes_per_address = 1;
    const auto discovery = make(std::move(settings));

    CHECK(finished(discovery->start(loopback(), fingerprint_of(pki.leaf))).probe.outcome == ProbeOutcome::no_starttls);
    const auto limited = finished(discovery->start(loopback(), fingerprint_of(pki.other)));
    CHECK(limited.probe.outcome == ProbeOutcome::rate_limited);
    CHECK(server.connections() == 1);
    CHECK(discovery->counters().rate_limited == 1);
}

TEST_CASE("discovery: a probe still running when the service stops ends as shut down") {
    const Pki pki;
    SmtpTestServer server(Script::stall, &pki.leaf);
    auto discovery = make(settings_for(server.port(), pki));
    const auto ticket = discovery->start(loopback(), fingerprint_of(pki.leaf));
    discovery.reset();
    const auto result = ticket.collect(0ms);
    REQUIRE(result);
    CHECK(result->probe.outcome == ProbeOutcome::shut_down);
}

TEST_CASE("discovery: an unusable EHLO name is refused at creation") {
    DiscoverySettings settings;
    settings.helo_name = "bad name\r\nRCPT TO:<x>";
    CHECK_FALSE(CertificateDiscovery::create(settings));
    settings.helo_name = "";
    CHECK_FALSE(CertificateDiscovery::create(settings));
}

TEST_CASE("discovery: a cached chain is judged again against the trust store as it is now") {
    Pki pki;
    const SmtpTestServer server(Script::starttls, &pki.leaf, {&pki.intermediate});
    const TempFile anchors{pem_of({&pki.root})};
    auto settings = settings_for(server.port(), pki);
    settings.verification.ca_file = anchors.path();
    settings.revalidate_after = 0s;  // every cache hit validates again
    const auto discovery = make(std::move(settings));

    CHECK(finished(discovery->start(loopback(), fingerprint_of(pki.leaf))).verified());
    // The operator replaces the trust anchors: the cached chain no longer verifies.
    {
        std::ofstream out(anchors.path(), std::ios::trunc);
        out << pem_of({&pki.stranger_root});
    }
    const auto again = finished(discovery->start(loopback(), fingerprint_of(pki.leaf)));
    CHECK(again.from_cache);
    CHECK(again.probe.outcome == ProbeOutcome::matched);
    CHECK_FALSE(again.verified());
    CHECK(discovery->counters().probed == 1);
}
