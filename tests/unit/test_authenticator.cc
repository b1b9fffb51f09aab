// The whole check with a scripted resolver: which lookups are started, and
// how the answer and the evidence become the verdict.
#include <catch2/catch.hpp>

#include <memory>
#include <thread>

#include "fake_resolver.h"
#include "mtls/authenticator.h"
#include "options/settings.h"

using namespace mtls;
using namespace mtls::testing;
using namespace std::chrono_literals;

namespace {

const AuthenticatorSettings kDefaults = default_settings().authenticator;

AuthenticatorSettings settings_with(std::uint16_t type = kDefaults.client_mx_type,
                                    std::chrono::milliseconds timeout = kDefaults.dns_timeout,
                                    VerdictSettings verdict = {}) {
    AuthenticatorSettings settings = kDefaults;
    settings.client_mx_type = type;
    settings.dns_timeout = timeout;
    settings.verdict = verdict;
    return settings;
}

TlsEvidence verified(std::string name) {
    TlsEvidence evidence;
    evidence.status = CertificateStatus::verified;
    evidence.names = {std::move(name)};
    return evidence;
}

}  // namespace

TEST_CASE("an unusable identity is permerror, with no lookup", "[authenticator]") {
    auto resolver = std::make_shared<FakeResolver>();
    const Authenticator authenticator(resolver, settings_with());
    for (const auto& identity :
         {identity_from_envelope("<user@[192.0.2.1]>", "out1.example.net"), identity_from_envelope("<>", "[192.0.2.1]"),
          identity_from_envelope("user@example.org\r\nX: y", "out1.example.net")}) {
        REQUIRE_FALSE(identity.usable());
        auto check = authenticator.begin(identity);
        CHECK(resolver->start_count() == 0);
        const auto evaluation = authenticator.finish(check, verified("out1.example.org"));
        CHECK(evaluation.verdict.result == Result::permerror);
        CHECK(evaluation.verdict.matched_host.empty());
        CHECK(evaluation.answer.status == AnswerStatus::error);
        CHECK(resolver->start_count() == 0);
        CHECK(check.identity().kind == identity.kind);
    }
    CHECK(resolver->cancel_count() == 0);
}

TEST_CASE("a usable identity starts exactly one lookup at begin()", "[authenticator]") {
    auto resolver = std::make_shared<FakeResolver>();
    const Authenticator authenticator(resolver, settings_with(65280, 1234ms));
    auto check = authenticator.begin(identity_from_envelope("<user@Example.ORG>", "out1.example.net"));
    // Started before finish(): DNS latency hides behind the DATA phase.
    REQUIRE(resolver->start_count() == 1);
    const auto started = resolver->started().front();
    CHECK(started.name == "example.org");
    CHECK(started.type == 65280);
    CHECK(started.timeout == 1234ms);
    CHECK(check.identity().domain == "example.org");

    resolver->answer(0, records_answer({{10, "out1.example.org"}}));
    const auto evaluation = authenticator.finish(check, verified("out1.example.org"));
    CHECK(resolver->start_count() == 1);
    CHECK(evaluation.verdict.result == Result::pass);
    CHECK(evaluation.verdict.matched_host == "out1.example.org");
    CHECK(evaluation.answer.status == AnswerStatus::records);
    CHECK(resolver->cancel_count() == 0);
}

TEST_CASE("the null sender looks up the HELO name", "[authenticator]") {
    auto resolver = std::make_shared<FakeResolver>();
    resolver->script("out1.example.net", records_answer({{10, "out1.example.net"}}));
    const Authenticator authenticator(resolver, settings_with());
    auto check = authenticator.begin(identity_from_envelope("<>", "OUT1.example.net"));
    REQUIRE(resolver->start_count() == 1);
    CHECK(resolver->started().front().name == "out1.example.net");
    CHECK(resolver->started().front().type == kDefaults.client_mx_type);
    const auto evaluation = authenticator.finish(check, verified("out1.example.net"));
    CHECK(evaluation.verdict.result == Result::pass);
    CHECK(check.identity().kind == IdentityKind::helo);
}

TEST_CASE("the answer and the evidence decide the verdict", "[authenticator]") {
    auto resolver = std::make_shared<FakeResolver>();
    resolver->script("pass.example", records_answer({{10, "out1.pass.example"}}));
    resolver->script("wrong.example", records_answer({{10, "out1.wrong.example"}}));
    resolver->script("bogus.example", [] {
        auto answer = records_answer({{10, "out1.bogus.example"}}, DnssecState::bogus);
        answer.status = AnswerStatus::bogus;
        return answer;
    }());
    resolver->script("none.example", status_answer(AnswerStatus::nxdomain, DnssecState::secure));
    resolver->script("insecure.example", records_answer({{10, "out1.insecure.example"}}, DnssecState::insecure));
    resolver->script("servfail.example", status_answer(AnswerStatus::servfail));

    const auto run = [&](const Authenticator& authenticator, const char* domain, const char* cert) {
        auto check = authenticator.begin(identity_from_envelope(std::string("<u@") + domain + ">", "h.example"));
        return authenticator.finish(check, verified(cert)).verdict.result;
    };
    const Authenticator lax(resolver, settings_with());
    CHECK(run(lax, "pass.example", "out1.pass.example") == Result::pass);
    CHECK(run(lax, "wrong.example", "out1.pass.example") == Result::fail);
    CHECK(run(lax, "bogus.example", "out1.bogus.example") == Result::temperror);
    CHECK(run(lax, "none.example", "out1.none.example") == Result::none);
    CHECK(run(lax, "insecure.example", "out1.insecure.example") == Result::pass);
    CHECK(run(lax, "servfail.example", "out1.servfail.example") == Result::temperror);

    const Authenticator strict(
        resolver, settings_with(kDefaults.client_mx_type, kDefaults.dns_timeout, VerdictSettings{true, false}));
    CHECK(run(strict, "insecure.example", "out1.insecure.example") == Result::none);
    CHECK(run(strict, "pass.example", "out1.pass.example") == Result::pass);
    CHECK(resolver->cancel_count() == 0);
}

TEST_CASE("no answer within dns-timeout is temperror, and the lookup is cancelled", "[authenticator]") {
    auto resolver = std::make_shared<FakeResolver>();
    const Authenticator authenticator(resolver, settings_with(kDefaults.client_mx_type, 50ms));
    auto check = authenticator.begin(identity_from_envelope("<user@slow.example>", "h.example"));
    const auto started = Clock::now();
    const auto evaluation = authenticator.finish(check, verified("out1.slow.example"));
    CHECK(Clock::now() - started < 5s);
    CHECK(evaluation.answer.status == AnswerStatus::timeout);
    CHECK(evaluation.verdict.result == Result::temperror);
    CHECK(resolver->start_count() == 1);
    CHECK(resolver->cancel_count() == 1);
}

TEST_CASE("the deadline runs from begin(), not from finish()", "[authenticator]") {
    auto resolver = std::make_shared<FakeResolver>();
    const Authenticator authenticator(resolver, settings_with(kDefaults.client_mx_type, 300ms));
    auto check = authenticator.begin(identity_from_envelope("<user@slow.example>", "h.example"));
    std::this_thread::sleep_for(600ms);  // the DATA phase
    const auto before_finish = Clock::now();
    const auto evaluation = authenticator.finish(check, verified("out1.slow.example"));
    CHECK(Clock::now() - before_finish < 250ms);  // no fresh 300 ms from finish()
    CHECK(evaluation.verdict.result == Result::temperror);
}

TEST_CASE("an answer arriving during finish() is used", "[authenticator]") {
    auto resolver = std::make_shared<FakeResolver>();
    const Authenticator authenticator(resolver, settings_with(kDefaults.client_mx_type, 10000ms));
    auto check = authenticator.begin(identity_from_envelope("<user@example.org>", "h.example"));
    std::thread answerer([resolver] {
        std::this_thread::sleep_for(50ms);
        resolver->answer(0, records_answer({{10, "out1.example.org"}}));
    });
    const auto evaluation = authenticator.finish(check, verified("out1.example.org"));
    answerer.join();
    CHECK(evaluation.verdict.result == Result::pass);
    CHECK(resolver->cancel_count() == 0);
}

TEST_CASE("an abandoned check cancels its lookup exactly once", "[authenticator]") {
    auto resolver = std::make_shared<FakeResolver>();
    const Authenticator authenticator(resolver, settings_with());
    {
        auto check = authenticator.begin(identity_from_envelope("<user@example.org>", "h.example"));
        REQUIRE(resolver->start_count() == 1);
    }
    CHECK(resolver->cancel_count() == 1);

    // A finished check has nothing left to cancel.
    resolver->script("done.example", records_answer({{10, "out1.done.example"}}));
    {
        auto check = authenticator.begin(identity_from_envelope("<user@done.example>", "h.example"));
        (void)authenticator.finish(check, verified("out1.done.example"));
    }
    CHECK(resolver->cancel_count() == 1);
}
