// make_runtime: what a reload keeps and what it replaces.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "runtime.h"

using mtls::Endpoint;
using mtls::IpAddress;
using mtls::ListenAddress;
using mtls::Settings;
using mtls::Severity;
using mtls::milter::make_runtime;
using mtls::milter::StoreClock;

namespace {

Settings with_policy_channel() {
    Settings settings = mtls::default_settings();
    ListenAddress socket;
    socket.unix_path = "/nonexistent/policy.sock";  // make_runtime never binds it
    settings.policy_channel.socket = socket;
    settings.policy_channel.lifetime = std::chrono::seconds(60);
    return settings;
}

}  // namespace

TEST_CASE("the session store outlives its Runtime and logs unclaimed entries through the current log") {
    std::vector<std::pair<Severity, std::string>> lines;
    auto current_log = [&lines](Severity severity, std::string_view text) { lines.emplace_back(severity, text); };

    const auto first = make_runtime(with_policy_channel(), nullptr, current_log);
    REQUIRE(first->sessions);
    Settings changed = with_policy_channel();
    changed.log_stderr = !changed.log_stderr;  // a reload that replaces the logger
    const auto second = make_runtime(changed, first.get(), current_log);
    CHECK(second->sessions == first->sessions);
    CHECK(second->logger != first->logger);
    CHECK(second->metrics == first->metrics);

    const auto t0 = StoreClock::now();
    mtls::Fingerprints fingerprints;
    fingerprints.public_key = mtls::Sha256Digest{};
    second->sessions->record(Endpoint{*IpAddress::parse("192.0.2.7"), 40001}, fingerprints, t0);
    // A later record expires the first, which no milter connection claimed.
    second->sessions->record(Endpoint{*IpAddress::parse("192.0.2.8"), 40002}, fingerprints,
                             t0 + std::chrono::seconds(61));
    REQUIRE(lines.size() == 1);
    CHECK(lines[0].first == Severity::info);
    CHECK(lines[0].second.find("client=192.0.2.7 port=40001 never reached a milter connection") != std::string::npos);
}

TEST_CASE("without policy-socket there is no session store") {
    const auto runtime = make_runtime(Settings{}, nullptr, [](Severity, std::string_view) {});
    CHECK_FALSE(runtime->sessions);
}
