// Failures inside the milter (exceptions from the resolver or the MTA
// session, through the seams) and what the MTA is told then: every callback
// runs through guarded() (milter/callback_guard.h) as libmilter_glue.cc does,
// and on-internal-error decides. Whatever fails, a message that is accepted
// never keeps a forged Authentication-Results.
#include <catch2/catch.hpp>

#include <new>
#include <stdexcept>

#include "callback_guard.h"
#include "connection.h"
#include "fake_mta.h"
#include "fake_resolver.h"
#include "mail/authentication_results.h"

using namespace mtls;
using namespace mtls::milter;
using mtls::testing::FakeMta;
using mtls::testing::FakeResolver;
using mtls::testing::RecordedCall;
using mtls::testing::records_answer;

namespace {

constexpr const char* kForged = "mx.example.net; mtls=pass smtp.mailfrom=evil.example";

// Drives one Connection through guarded() callbacks, as the glue does.
struct Harness {
    std::shared_ptr<FakeResolver> resolver = std::make_shared<FakeResolver>();
    Settings settings = default_settings();  // the option table's defaults (core/options/settings.h)
    FakeMta mta;
    std::unique_ptr<Connection> connection;

    explicit Harness(InternalErrorAction on_internal_error) {
        settings.authserv_id = "mx.example.net";
        // Generous: every lookup here is answered or fails at once, and a
        // short deadline would turn a slow run (TSan) into a DNS timeout.
        settings.authenticator.dns_timeout = std::chrono::seconds(10);
        settings.syslog = false;
        settings.policy.on_internal_error = on_internal_error;
        resolver->script("example.org", records_answer({{10, "out1.example.org"}}));
        mta.macros["{tls_version}"] = "TLSv1.3";
        mta.macros["{cert_subject}"] = "out1.example.org";
        mta.macros["i"] = "4ABCDEF";
    }

    Connection& open(bool headers_need_no_reply = false) {
        auto runtime = std::make_shared<const Runtime>(settings, resolver,
                                                       std::make_shared<Logger>(LoggerSettings{false, 0, false}));
        connection = std::make_unique<Connection>(runtime, headers_need_no_reply);
        return *connection;
    }

    template <typename Body>
    Status run(CallbackStage stage, Body&& body) {
        return guarded(*connection, mta, stage, std::forward<Body>(body));
    }
    Status connect() {
        return run(CallbackStage::connect, [&] { return connection->connect(IpAddress::parse("192.0.2.10")); });
    }
    Status helo() {
        return run(CallbackStage::helo, [&] { return connection->helo(mta, "out1.example.org"); });
    }
    Status mail(std::string_view from = "<alice@example.org>") {
        return run(CallbackStage::mail, [&] { return connection->mail_from(mta, from); });
    }
    Status header(std::string_view name, std::string_view value) {
        return run(CallbackStage::header, [&] { return connection->header(name, value); });
    }
    Status forged_headers() {
        header("Authentication-Results", kForged);                             // #1 forged
        header("Authentication-Results", "other.example; spf=pass");           // #2 kept
        return header("Authentication-Results", "mx.example.net; dkim=pass");  // #3 forged
    }
    Status end_of_message() {
        return run(CallbackStage::end_of_message, [&] { return connection->end_of_message(mta); });
    }
    // Connect, HELO and MAIL FROM, all without failure.
    void start_transaction() {
        REQUIRE(connect() == Status::proceed);
        REQUIRE(helo() == Status::proceed);
        REQUIRE(mail() == Status::proceed);
    }
    // And the forged headers.
    void start_message() {
        start_transaction();
        REQUIRE(forged_headers() == Status::proceed);
    }
    // A stage whose body throws, for stages with no seam of their own.
    Status fail(CallbackStage stage) {
        return run(stage, []() -> Status { throw std::runtime_error("injected"); });
    }

    std::vector<RecordedCall> calls_of(std::string_view what) const { return mta.calls_of(what); }
};

const std::vector<RecordedCall> kForgedDeleted{
    {"delete", 3, "Authentication-Results", ""},
    {"delete", 1, "Authentication-Results", ""},
};

// The calls of an accepted message after an internal error: forged headers
// out, then ours saying temperror "internal error".
void check_accepted_as_internal_error(const Harness& h, std::string_view identity = "smtp.mailfrom=example.org") {
    REQUIRE(h.mta.calls.size() == 3);
    CHECK(std::vector<RecordedCall>(h.mta.calls.begin(), h.mta.calls.begin() + 2) == kForgedDeleted);
    const auto& ours = h.mta.calls.back();
    CHECK(ours.what == "insert");
    CHECK(ours.index == 0);
    CHECK(ours.name == "Authentication-Results");
    CHECK(ours.value.rfind("mx.example.net;", 0) == 0);
    CHECK(ours.value.find("mtls=temperror") != std::string::npos);
    CHECK(ours.value.find("internal error") != std::string::npos);
    CHECK(ours.value.find(identity) != std::string::npos);
}

}  // namespace

TEST_CASE("on-internal-error: tempfail by default, accept on request") {
    CHECK(ActionSettings{}.on_internal_error == InternalErrorAction::tempfail);
    CHECK(parse_on_internal_error("tempfail").value() == InternalErrorAction::tempfail);
    CHECK(parse_on_internal_error("accept").value() == InternalErrorAction::accept);
    for (const auto* bad : {"", "tag", "continue", "reject", "Accept", "accept "}) {
        INFO("on-internal-error '" << bad << "'");
        CHECK_FALSE(parse_on_internal_error(bad));
    }
    CHECK(to_string(InternalErrorAction::accept) == "accept");
}

TEST_CASE("without failures the guard changes nothing") {
    for (const auto mode : {InternalErrorAction::tempfail, InternalErrorAction::accept}) {
        Harness h(mode);
        h.open();
        h.start_message();
        REQUIRE(h.end_of_message() == Status::proceed);
        REQUIRE(h.mta.calls.size() == 3);
        CHECK(h.calls_of("insert").front().value.find("mtls=pass") != std::string::npos);
    }
}

TEST_CASE("tempfail: an exception in any callback answers TEMPFAIL") {
    Harness h(InternalErrorAction::tempfail);
    h.open();

    SECTION("connect, and every later message on the connection") {
        CHECK(h.fail(CallbackStage::connect) == Status::tempfail);
        CHECK(h.helo() == Status::proceed);
        CHECK(h.mail() == Status::tempfail);
        h.forged_headers();
        CHECK(h.end_of_message() == Status::tempfail);
        CHECK(h.mta.calls.empty());
        CHECK(h.resolver->start_count() == 0);
    }
    SECTION("HELO: reading the TLS macros throws") {
        REQUIRE(h.connect() == Status::proceed);
        h.mta.throwing_macros.insert("{tls_version}");
        CHECK(h.helo() == Status::tempfail);
        h.mta.throwing_macros.clear();
        CHECK(h.mail() == Status::tempfail);
        CHECK(h.end_of_message() == Status::tempfail);
        CHECK(h.mta.calls.empty());
    }
    SECTION("MAIL: the resolver throws") {
        h.resolver->fail("example.org");
        REQUIRE(h.connect() == Status::proceed);
        REQUIRE(h.helo() == Status::proceed);
        CHECK(h.mail() == Status::tempfail);
        // Should the MTA go on regardless, the message is still not accepted.
        h.forged_headers();
        CHECK(h.end_of_message() == Status::tempfail);
        CHECK(h.mta.calls.empty());
    }
    SECTION("MAIL: reading the queue id throws") {
        REQUIRE(h.connect() == Status::proceed);
        REQUIRE(h.helo() == Status::proceed);
        h.mta.throwing_macros.insert("i");
        CHECK(h.mail() == Status::tempfail);
        CHECK(h.resolver->start_count() == 0);
    }
    SECTION("a header") {
        h.start_transaction();
        CHECK(h.fail(CallbackStage::header) == Status::tempfail);
        CHECK(h.end_of_message() == Status::tempfail);
        CHECK(h.mta.calls.empty());
    }
    SECTION("end of message: inserting our header throws after the forged ones went") {
        h.start_message();
        h.mta.throwing_inserts = 1;
        CHECK(h.end_of_message() == Status::tempfail);
        CHECK(h.mta.calls == kForgedDeleted);
    }
    SECTION("end of message: reading the queue id throws") {
        h.start_message();
        h.mta.throwing_macros.insert("i");
        CHECK(h.end_of_message() == Status::tempfail);
        CHECK(h.mta.calls.empty());
    }
    SECTION("the next transaction is judged again") {
        h.start_transaction();
        h.mta.throwing_inserts = 1;
        REQUIRE(h.end_of_message() == Status::tempfail);
        REQUIRE(h.mail() == Status::proceed);
        CHECK(h.end_of_message() == Status::proceed);
        REQUIRE(h.calls_of("insert").size() == 1);
        CHECK(h.calls_of("insert").front().value.find("mtls=pass") != std::string::npos);
    }
}

TEST_CASE("abort and close swallow their failures and forget the message") {
    for (const auto mode : {InternalErrorAction::tempfail, InternalErrorAction::accept}) {
        Harness h(mode);
        h.open();
        h.start_transaction();
        h.forged_headers();
        CHECK(h.fail(CallbackStage::abort) == Status::proceed);
        CHECK(h.end_of_message() == Status::proceed);  // no transaction left
        CHECK(h.mta.calls.empty());
        CHECK(h.fail(CallbackStage::close) == Status::proceed);
    }
}

TEST_CASE("accept: the message goes on as temperror \"internal error\", forged headers removed") {
    Harness h(InternalErrorAction::accept);
    h.open();

    SECTION("MAIL: the resolver throws") {
        h.resolver->fail("example.org");
        REQUIRE(h.connect() == Status::proceed);
        REQUIRE(h.helo() == Status::proceed);
        CHECK(h.mail() == Status::proceed);
        CHECK(h.forged_headers() == Status::proceed);
        CHECK(h.end_of_message() == Status::proceed);
        check_accepted_as_internal_error(h);
    }
    SECTION("MAIL: reading a macro throws before the message is set up") {
        REQUIRE(h.connect() == Status::proceed);
        REQUIRE(h.helo() == Status::proceed);
        h.mta.throwing_macros.insert("i");
        CHECK(h.mail() == Status::proceed);
        h.mta.throwing_macros.clear();
        CHECK(h.forged_headers() == Status::proceed);
        CHECK(h.end_of_message() == Status::proceed);
        check_accepted_as_internal_error(h, "");
        CHECK(h.resolver->start_count() == 0);
    }
    SECTION("connect: every message on the connection, without a lookup") {
        CHECK(h.fail(CallbackStage::connect) == Status::proceed);
        REQUIRE(h.helo() == Status::proceed);
        for (int message = 0; message < 2; ++message) {
            h.mta.calls.clear();
            CHECK(h.mail() == Status::proceed);
            CHECK(h.forged_headers() == Status::proceed);
            CHECK(h.end_of_message() == Status::proceed);
            check_accepted_as_internal_error(h);
        }
        CHECK(h.resolver->start_count() == 0);
    }
    SECTION("HELO: reading the TLS macros throws") {
        REQUIRE(h.connect() == Status::proceed);
        h.mta.throwing_macros.insert("{tls_version}");
        CHECK(h.helo() == Status::proceed);
        h.mta.throwing_macros.clear();
        CHECK(h.mail() == Status::proceed);
        CHECK(h.forged_headers() == Status::proceed);
        CHECK(h.end_of_message() == Status::proceed);
        check_accepted_as_internal_error(h);
        CHECK(h.resolver->start_count() == 0);
    }
    SECTION("end of message: inserting our header throws once") {
        h.start_message();
        h.mta.throwing_inserts = 1;
        CHECK(h.end_of_message() == Status::proceed);
        check_accepted_as_internal_error(h);
    }
    SECTION("end of message: inserting always throws; the forged headers are gone, ours is missing") {
        h.start_message();
        h.mta.throwing_inserts = 2;
        CHECK(h.end_of_message() == Status::proceed);
        CHECK(h.mta.calls == kForgedDeleted);
    }
    SECTION("end of message: a deletion throws once, the retry removes them") {
        h.start_message();
        h.mta.throwing_deletes = 1;
        CHECK(h.end_of_message() == Status::proceed);
        check_accepted_as_internal_error(h);
    }
    SECTION("end of message: the removal fails again, so the message is deferred") {
        h.start_message();
        h.mta.throwing_deletes = 2;
        CHECK(h.end_of_message() == Status::tempfail);
        CHECK(h.calls_of("insert").empty());
    }
    SECTION("a header failure leaves the forged headers unknown: deferred") {
        h.start_transaction();
        CHECK(h.fail(CallbackStage::header) == Status::tempfail);
        CHECK(h.end_of_message() == Status::tempfail);
        CHECK(h.mta.calls.empty());
    }
}

TEST_CASE("with SMFIP_NR_HDR a header failure is answered at end of message") {
    for (const auto mode : {InternalErrorAction::tempfail, InternalErrorAction::accept}) {
        Harness h(mode);
        h.open(true);
        h.start_transaction();
        CHECK(h.header("Authentication-Results", kForged) == Status::no_reply);
        CHECK(h.fail(CallbackStage::header) == Status::no_reply);
        CHECK(h.end_of_message() == Status::tempfail);
        CHECK(h.mta.calls.empty());
    }
}

TEST_CASE("a deletion the MTA refuses defers the message in either mode") {
    for (const auto mode : {InternalErrorAction::tempfail, InternalErrorAction::accept}) {
        Harness h(mode);
        h.open();
        h.start_message();
        h.mta.refused_deletes = 1;
        CHECK(h.end_of_message() == Status::tempfail);
        CHECK(h.calls_of("insert").empty());
    }
}

TEST_CASE("a resolver that throws inside the check gives temperror; on-temperror decides") {
    // The check's own failure is a result (Connection::evaluate), not an
    // internal error of the callback: the DANE lookups are where it throws.
    Harness h(InternalErrorAction::tempfail);
    // Sendmail's macros: a verified certificate for another host, and its
    // fingerprint, which DANE-EE records could still match.
    h.mta.macros.erase("{cert_subject}");
    h.mta.macros["{verify}"] = "OK";
    h.mta.macros["{cn_subject}"] = "rogue.example.org";
    h.mta.macros["{cert_fp}"] = std::string(64, 'a');
    h.resolver->fail("_client.out1.example.org");
    h.resolver->fail("_25._tcp.out1.example.org");
    h.open();
    REQUIRE(h.connect() == Status::proceed);
    REQUIRE(h.helo() == Status::proceed);
    REQUIRE(h.mail() == Status::proceed);
    REQUIRE(h.forged_headers() == Status::proceed);
    CHECK(h.end_of_message() == Status::proceed);
    REQUIRE(h.mta.calls.size() == 3);
    CHECK(h.mta.calls.back().value.find("mtls=temperror") != std::string::npos);
    CHECK(h.mta.calls.back().value.find("internal error") != std::string::npos);
}

TEST_CASE("whatever fails, an accepted message has lost its forged headers") {
    // Each injection point in turn, in both modes: either the message is not
    // accepted, or both forged headers were deleted.
    struct Injection {
        const char* name;
        std::function<void(Harness&)> arm;
    };
    const std::vector<Injection> injections{
        {"resolver", [](Harness& h) { h.resolver->fail("example.org"); }},
        {"tls macros", [](Harness& h) { h.mta.throwing_macros.insert("{tls_version}"); }},
        {"queue id", [](Harness& h) { h.mta.throwing_macros.insert("i"); }},
        {"auth macro", [](Harness& h) { h.mta.throwing_macros.insert("{auth_authen}"); }},
        {"one insert", [](Harness& h) { h.mta.throwing_inserts = 1; }},
        {"every insert", [](Harness& h) { h.mta.throwing_inserts = 100; }},
        {"one delete", [](Harness& h) { h.mta.throwing_deletes = 1; }},
        {"every delete", [](Harness& h) { h.mta.throwing_deletes = 100; }},
        {"refused delete", [](Harness& h) { h.mta.refused_deletes = 1; }},
    };
    for (const auto mode : {InternalErrorAction::tempfail, InternalErrorAction::accept}) {
        for (const auto& injection : injections) {
            INFO("on-internal-error=" << to_string(mode) << ", failing: " << injection.name);
            Harness h(mode);
            injection.arm(h);
            h.open();
            h.connect();
            h.helo();
            h.mail();
            h.forged_headers();
            const Status status = h.end_of_message();
            const bool accepted = status == Status::proceed || status == Status::accept;
            if (accepted) {
                CHECK(h.calls_of("delete") == kForgedDeleted);
            } else {
                CHECK(status == Status::tempfail);
            }
            if (mode == InternalErrorAction::tempfail) {
                CHECK(status == Status::tempfail);
            }
        }
    }
}
