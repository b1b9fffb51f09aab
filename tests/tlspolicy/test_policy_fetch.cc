// What an HTTPS response must look like to carry an MTA-STS policy
// (RFC 8461, section 3.3), and the DNS around a fetch as PolicyEngine does
// it; the transfer itself is exercised end to end in
// tests/integration/test_tlspolicy.py.
#include <fmt/format.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fake_resolver.h"
#include "mta_sts/policy_fetch.h"
#include "mta_sts/sts_policy.h"
#include "policy_engine.h"
#include "sts_policy_cache.h"

using namespace mtls;
using namespace mtls::tlspolicy;

TEST_CASE("a 200 text/plain response is a policy body") {
    for (const auto* type : {"text/plain", "TEXT/Plain", "text/plain; charset=utf-8", " text/plain ;charset=x"}) {
        INFO(type);
        const auto body = accept_policy_response({200, type, "version: STSv1\n", false});
        REQUIRE(body);
        CHECK(*body == "version: STSv1\n");
    }
}

TEST_CASE("redirects and other statuses are refused, never followed") {
    for (const long status : {301L, 302L, 303L, 307L, 308L}) {
        const auto body = accept_policy_response({status, "text/plain", "", false});
        REQUIRE_FALSE(body);
        CHECK(body.error().find("redirects are not followed") != std::string::npos);
    }
    for (const long status : {0L, 201L, 204L, 404L, 500L}) {
        const auto body = accept_policy_response({status, "text/plain", "version: STSv1\n", false});
        REQUIRE_FALSE(body);
        CHECK(body.error().find("HTTP status") == 0);
    }
}

TEST_CASE("a body of another media type is refused") {
    for (const auto* type : {"", "text/html", "text/plainx", "application/octet-stream", "text/plain\x01"}) {
        INFO(type);
        const auto body = accept_policy_response({200, type, "version: STSv1\n", false});
        REQUIRE_FALSE(body);
        CHECK(body.error().find("not text/plain") != std::string::npos);
    }
}

TEST_CASE("a body beyond 64 KiB is refused, whatever else is right") {
    const auto truncated = accept_policy_response({200, "text/plain", std::string(100, 'x'), true});
    REQUIRE_FALSE(truncated);
    CHECK(truncated.error().find("larger than 65536 bytes") != std::string::npos);
    const auto oversized = accept_policy_response({200, "text/plain", std::string(kMaxStsPolicyBytes + 1, 'x'), false});
    REQUIRE_FALSE(oversized);
    const auto at_limit = accept_policy_response({200, "text/plain", std::string(kMaxStsPolicyBytes, 'x'), false});
    CHECK(at_limit);
}

TEST_CASE("a fetch without an address for mta-sts.<domain> fails without connecting") {
    const auto body = fetch_sts_policy("example.com", {}, PolicyFetchSettings{});
    REQUIRE_FALSE(body);
    CHECK(body.error() == "mta-sts.example.com has no usable address");
}

// PolicyEngine (policy_engine.h) over a scripted resolver: the DNS around
// the fetch, and what the daemon logs. No fetch here reaches the network:
// without an address for mta-sts.<domain> fetch_sts_policy fails at once.
namespace {

using mtls::testing::address_answer;
using mtls::testing::FakeResolver;
using mtls::testing::records_answer;
using mtls::testing::status_answer;
using mtls::testing::txt_answer;

struct EngineRig {
    explicit EngineRig(std::chrono::milliseconds dns_timeout = std::chrono::seconds(5))
        : engine(dns, settings(dns_timeout), cache, metrics,
                 [this](Severity severity, std::string_view text) { logged.emplace_back(severity, text); }) {}

    static EngineSettings settings(std::chrono::milliseconds dns_timeout) {
        EngineSettings settings;
        settings.dns.timeout = dns_timeout;
        settings.fetch.timeout = std::chrono::seconds(1);
        // The fake answers example.com's MX and Client MX lookups alike.
        settings.decision.client_mx_optin = false;
        return settings;
    }

    // example.com: a secure MX RRset naming mx.example.com (secure
    // addresses, no TLSA) and an MTA-STS record with the given texts.
    void script_sts_domain(const std::vector<std::string>& txt = {"v=STSv1; id=20261207"}) {
        dns->script("example.com", records_answer({{10, "mx.example.com"}}));
        dns->script("mx.example.com", address_answer());
        dns->script("_25._tcp.mx.example.com", status_answer(AnswerStatus::nxdomain, DnssecState::secure));
        dns->script("_mta-sts.example.com", txt_answer(txt));
    }

    [[nodiscard]] std::string log_text() const {
        std::string text;
        for (const auto& [severity, line] : logged) {
            text += std::string(severity == Severity::warning ? "warning: " : "other: ") + line + "\n";
        }
        return text;
    }

    std::shared_ptr<FakeResolver> dns = std::make_shared<FakeResolver>();
    StsPolicyCache cache{nullptr, 100, [](Severity, std::string_view) {}};
    TlsPolicyMetrics metrics;
    std::vector<std::pair<Severity, std::string>> logged;
    PolicyEngine engine;
};

}  // namespace

TEST_CASE("a bogus address for mta-sts.<domain> defers instead of fetching from nowhere") {
    EngineRig rig;
    rig.script_sts_domain();
    rig.dns->script("mta-sts.example.com", status_answer(AnswerStatus::bogus, DnssecState::bogus));
    const auto decision = rig.engine.answer("example.com");
    INFO(rig.log_text());
    CHECK(reply_payload(decision.reply) ==
          "TEMP bogus A/AAAA answer for mta-sts.example.com, MTA-STS policy host of example.com");
    CHECK(to_string(decision.basis) == "bogus");
}

TEST_CASE("an unreachable mta-sts.<domain> with nothing cached is NOTFOUND (RFC 8461, section 5)") {
    EngineRig rig;
    rig.script_sts_domain();
    rig.dns->script("mta-sts.example.com", status_answer(AnswerStatus::servfail));
    const auto decision = rig.engine.answer("example.com");
    CHECK(reply_payload(decision.reply) == "NOTFOUND ");
}

TEST_CASE("the policy host's address lookup gets what is left of dns-timeout, not a fresh dns-timeout") {
    const auto dns_timeout = std::chrono::milliseconds(400);
    EngineRig rig(dns_timeout);
    // As script_sts_domain, but mx.example.com's addresses never come, so
    // the gathering waits out the whole deadline; mta-sts.example.com never
    // answers either.
    rig.dns->script("example.com", records_answer({{10, "mx.example.com"}}));
    rig.dns->script("_25._tcp.mx.example.com", status_answer(AnswerStatus::nxdomain, DnssecState::secure));
    rig.dns->script("_mta-sts.example.com", txt_answer({"v=STSv1; id=20261207"}));
    const auto decision = rig.engine.answer("example.com");
    CHECK(reply_payload(decision.reply) == "NOTFOUND ");
    std::size_t policy_host_lookups = 0;
    for (const auto& lookup : rig.dns->started()) {
        if (lookup.name == "mta-sts.example.com") {
            ++policy_host_lookups;
            CHECK(lookup.timeout < dns_timeout / 2);
        }
    }
    // Each was given what was left after the gathering had waited out the
    // deadline (a slower machine leaves less, never more), so the documented
    // bound, dns-timeout plus https-timeout, holds. No wall-clock check: it
    // would depend on the machine's speed.
    CHECK(policy_host_lookups == 2);  // A and AAAA
}

TEST_CASE("a rejected _mta-sts TXT record is logged with the reason, not only shown by --query") {
    EngineRig rig;
    std::vector<std::string> txt;
    std::string reason;
    SECTION("two ids in one record") {
        txt = {"v=STSv1; id=1; id=2"};
        reason = "invalid MTA-STS TXT record: more than one id";
    }
    SECTION("two STSv1 records") {
        txt = {"v=STSv1; id=1", "v=STSv1; id=2"};
        reason = "2 TXT records start with v=STSv1";
    }
    rig.script_sts_domain(txt);
    const auto decision = rig.engine.answer("example.com");
    CHECK(reply_payload(decision.reply) == "NOTFOUND ");
    CHECK_THAT(rig.log_text(), Catch::Contains("warning: _mta-sts.example.com TXT: no MTA-STS record: " + reason));
}

// A failed fetch is remembered for (domain, id) for fetch_failure_backoff:
// queries meanwhile answer as RFC 8461, section 5.1 says for a failed fetch
// without a new attempt, so that a dead policy host does not hold a worker
// for https-timeout on every query. mta-sts.example.com fails here with
// SERVFAIL, so fetch_sts_policy fails at once; the attempts show in the
// fetch counters (each attempt is counted once, as failed) and in the log.
namespace {

std::size_t fetches(const EngineRig& rig, std::string_view outcome) {
    const auto text = rig.metrics.render();
    const auto prefix = fmt::format("mtls_tlspolicy_policy_fetches_total{{outcome=\"{}\"}} ", outcome);
    const auto at = text.find(prefix);
    REQUIRE(at != std::string::npos);
    return std::stoul(text.substr(at + prefix.size()));
}

std::size_t logged_containing(const EngineRig& rig, std::string_view needle) {
    std::size_t count = 0;
    for (const auto& [severity, line] : rig.logged) {
        count += line.find(needle) != std::string::npos ? 1 : 0;
    }
    return count;
}

bool explained(const Decision& decision, std::string_view needle) {
    return std::any_of(decision.explanation.begin(), decision.explanation.end(),
                       [&](const std::string& line) { return line.find(needle) != std::string::npos; });
}

}  // namespace

TEST_CASE("a failed fetch is not tried again for the same id while it is remembered") {
    EngineRig rig;
    rig.script_sts_domain();
    rig.dns->script("mta-sts.example.com", status_answer(AnswerStatus::servfail));
    const auto first = rig.engine.answer("example.com");
    const auto second = rig.engine.answer("example.com");
    const auto third = rig.engine.answer("example.com");
    INFO(rig.log_text());
    CHECK(reply_payload(first.reply) == "NOTFOUND ");
    CHECK(reply_payload(second.reply) == "NOTFOUND ");
    CHECK(reply_payload(third.reply) == "NOTFOUND ");
    CHECK(fetches(rig, "failed") == 1);
    CHECK(fetches(rig, "backed_off") == 2);
    CHECK(logged_containing(rig, "fetch failed") == 1);
    CHECK(logged_containing(rig, "not fetched: remembered failure: the fetch for id=20261207 failed") == 2);
    CHECK_FALSE(explained(first, "remembered failure"));
    CHECK(explained(second, "policy fetch failed: remembered failure"));
}

TEST_CASE("the background refresher is held back by a remembered failure too") {
    EngineRig rig;
    rig.script_sts_domain();
    rig.dns->script("mta-sts.example.com", status_answer(AnswerStatus::servfail));
    rig.engine.refresh("example.com");
    rig.engine.refresh("example.com");
    CHECK(fetches(rig, "failed") == 1);
    CHECK(fetches(rig, "backed_off") == 1);
}

TEST_CASE("without a back-off every query fetches again") {
    auto settings = EngineRig::settings(std::chrono::seconds(5));
    settings.fetch_failure_backoff = std::chrono::seconds(0);
    EngineRig rig;
    PolicyEngine engine(rig.dns, settings, rig.cache, rig.metrics, [](Severity, std::string_view) {});
    rig.script_sts_domain();
    rig.dns->script("mta-sts.example.com", status_answer(AnswerStatus::servfail));
    static_cast<void>(engine.answer("example.com"));
    static_cast<void>(engine.answer("example.com"));
    CHECK(fetches(rig, "failed") == 2);
    CHECK(fetches(rig, "backed_off") == 0);
}

TEST_CASE("a new id is fetched at once, whatever the old id's remembered failure") {
    EngineRig rig;
    rig.script_sts_domain({"v=STSv1; id=1"});
    rig.dns->script("mta-sts.example.com", status_answer(AnswerStatus::servfail));
    static_cast<void>(rig.engine.answer("example.com"));
    rig.dns->script("_mta-sts.example.com", txt_answer({"v=STSv1; id=2"}));
    const auto decision = rig.engine.answer("example.com");
    INFO(rig.log_text());
    CHECK(reply_payload(decision.reply) == "NOTFOUND ");
    CHECK(fetches(rig, "failed") == 2);
    CHECK(fetches(rig, "backed_off") == 0);
    // And the new id's failure is the one remembered now.
    static_cast<void>(rig.engine.answer("example.com"));
    CHECK(fetches(rig, "failed") == 2);
    CHECK(fetches(rig, "backed_off") == 1);
}

TEST_CASE("during the back-off an unexpired cached policy still applies (RFC 8461, section 5.1)") {
    EngineRig rig;
    auto entry = make_cached_policy("example.com", "1",
                                    "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 86400\n", unix_now());
    REQUIRE(entry);
    rig.cache.put(*entry);
    rig.script_sts_domain({"v=STSv1; id=2"});  // a new id, whose policy cannot be fetched
    rig.dns->script("mta-sts.example.com", status_answer(AnswerStatus::servfail));
    const auto first = rig.engine.answer("example.com");
    const auto second = rig.engine.answer("example.com");
    INFO(rig.log_text());
    CHECK(to_string(first.basis) == "mta-sts");
    CHECK(to_string(second.basis) == "mta-sts");
    CHECK(reply_payload(second.reply) == reply_payload(first.reply));
    CHECK(explained(second, "remembered failure"));
    CHECK(fetches(rig, "failed") == 1);
    CHECK(fetches(rig, "backed_off") == 1);
}

TEST_CASE("a bogus policy host address defers even while a failure is remembered") {
    EngineRig rig;
    rig.script_sts_domain();
    rig.dns->script("mta-sts.example.com", status_answer(AnswerStatus::servfail));
    static_cast<void>(rig.engine.answer("example.com"));
    rig.dns->script("mta-sts.example.com", status_answer(AnswerStatus::bogus, DnssecState::bogus));
    const auto decision = rig.engine.answer("example.com");
    INFO(rig.log_text());
    CHECK(reply_payload(decision.reply) ==
          "TEMP bogus A/AAAA answer for mta-sts.example.com, MTA-STS policy host of example.com");
    CHECK(fetches(rig, "backed_off") == 0);
}
