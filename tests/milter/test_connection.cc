// The milter logic driven through the MtaSession seam, with a scripted
// resolver: which headers are deleted (and in which order), where ours is
// inserted, what the MTA is told. No MTA, no DNS, no libmilter.
#include <catch2/catch.hpp>

#include <map>
#include <thread>

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
using mtls::testing::status_answer;

namespace {

struct Harness {
    std::shared_ptr<FakeResolver> resolver = std::make_shared<FakeResolver>();
    Settings settings = default_settings();
    FakeMta mta;

    Harness() {
        settings.authserv_id = "mx.example.net";
        settings.authenticator.dns_timeout = std::chrono::milliseconds(50);
        settings.ignore_hosts = HostList::parse("127.0.0.0/8, ::1").value();
        settings.syslog = false;
        resolver->script("example.org", records_answer({{10, "out1.example.org"}}));
        resolver->script("optout.example", status_answer(AnswerStatus::nodata, DnssecState::secure));
        mta.macros["{tls_version}"] = "TLSv1.3";
        mta.macros["i"] = "4ABCDEF";
    }

    Connection connect(std::string_view address = "192.0.2.10", bool no_reply = false) {
        auto runtime = std::make_shared<const Runtime>(settings, resolver,
                                                       std::make_shared<Logger>(LoggerSettings{false, 0, false}));
        Connection connection(runtime, no_reply);
        REQUIRE(connection.connect(IpAddress::parse(address)) == Status::proceed);
        REQUIRE(connection.helo(mta, "out1.example.org") == Status::proceed);
        return connection;
    }

    std::vector<RecordedCall> calls_of(std::string_view what) const { return mta.calls_of(what); }
};

}  // namespace

TEST_CASE("verified certificate matching the Client MX passes; header goes to index 0") {
    Harness h;
    h.mta.macros["{cert_subject}"] = "out1.example.org";
    auto c = h.connect();
    REQUIRE(c.mail_from(h.mta, "<alice@example.org>") == Status::proceed);
    REQUIRE(c.end_of_message(h.mta) == Status::proceed);
    REQUIRE(h.mta.calls.size() == 1);
    const auto& call = h.mta.calls.front();
    CHECK(call.what == "insert");
    CHECK(call.index == 0);
    CHECK(call.name == "Authentication-Results");
    CHECK(call.value.rfind("mx.example.net;", 0) == 0);
    CHECK(call.value.find("mtls=pass") != std::string::npos);
    CHECK(call.value.find("smtp.mailfrom=example.org") != std::string::npos);
    REQUIRE(h.resolver->start_count() == 1);
    CHECK(h.resolver->started().front().name == "example.org");
    CHECK(h.resolver->started().front().type == 265);
}

TEST_CASE("forged headers are deleted highest index first, before ours is inserted") {
    Harness h;
    h.mta.macros["{cert_subject}"] = "out1.example.org";
    auto c = h.connect();
    REQUIRE(c.mail_from(h.mta, "<alice@example.org>") == Status::proceed);
    c.header("Authentication-Results", "MX.Example.Net; mtls=pass smtp.mailfrom=evil.example");  // #1 forged
    c.header("Received", "from somewhere");
    c.header("authentication-results", "other.example; spf=pass smtp.mailfrom=x.example");  // #2 kept
    c.header("AUTHENTICATION-RESULTS", "(c) \"mx.example.net\" 1; dkim=pass");              // #3 forged
    c.header("Authentication-Results", "mx.example.net.; none");                            // #4 forged
    REQUIRE(c.end_of_message(h.mta) == Status::proceed);
    const std::vector<RecordedCall> expected{
        {"delete", 4, "Authentication-Results", ""},
        {"delete", 3, "Authentication-Results", ""},
        {"delete", 1, "Authentication-Results", ""},
    };
    REQUIRE(h.mta.calls.size() == 4);
    CHECK(std::vector<RecordedCall>(h.mta.calls.begin(), h.mta.calls.begin() + 3) == expected);
    CHECK(h.mta.calls.back().what == "insert");
    CHECK(h.mta.calls.back().index == 0);
}

TEST_CASE("header callbacks answer no-reply when the MTA negotiated SMFIP_NR_HDR") {
    Harness h;
    auto quiet = h.connect("192.0.2.10", true);
    REQUIRE(quiet.mail_from(h.mta, "<a@example.org>") == Status::proceed);
    CHECK(quiet.header("Subject", "x") == Status::no_reply);
    auto chatty = h.connect("192.0.2.10", false);
    REQUIRE(chatty.mail_from(h.mta, "<a@example.org>") == Status::proceed);
    CHECK(chatty.header("Subject", "x") == Status::proceed);
}

TEST_CASE("ignored hosts are accepted at connect and never looked up") {
    Harness h;
    auto runtime = std::make_shared<const Runtime>(h.settings, h.resolver,
                                                   std::make_shared<Logger>(LoggerSettings{false, 0, false}));
    for (const char* address : {"127.0.0.1", "::1", "::ffff:127.0.0.2"}) {
        Connection c(runtime, false);
        CHECK(c.connect(IpAddress::parse(address)) == Status::accept);
    }
    CHECK(h.resolver->start_count() == 0);
}

TEST_CASE("SMTP-AUTH clients get no verdict, but forged headers are still removed") {
    Harness h;
    h.mta.macros["{auth_authen}"] = "alice";
    auto c = h.connect();
    REQUIRE(c.mail_from(h.mta, "<alice@example.org>") == Status::proceed);
    c.header("Authentication-Results", "mx.example.net; mtls=pass");
    REQUIRE(c.end_of_message(h.mta) == Status::proceed);
    CHECK(h.resolver->start_count() == 0);
    REQUIRE(h.mta.calls.size() == 1);
    CHECK(h.mta.calls.front().what == "delete");

    SECTION("unless skip-authenticated is off") {
        Harness h2;
        h2.settings.skip_authenticated = false;
        h2.mta.macros["{auth_authen}"] = "alice";
        auto c2 = h2.connect();
        REQUIRE(c2.mail_from(h2.mta, "<alice@example.org>") == Status::proceed);
        REQUIRE(c2.end_of_message(h2.mta) == Status::proceed);
        CHECK(h2.resolver->start_count() == 1);
        CHECK(h2.calls_of("insert").size() == 1);
    }
}

TEST_CASE("on-fail policies act on fail only") {
    Harness h;
    h.mta.macros["{cert_subject}"] = "rogue.example.org";

    SECTION("reject: 550 5.7.1, no header") {
        h.settings.policy.on_fail = Action::reject;
        auto c = h.connect();
        REQUIRE(c.mail_from(h.mta, "<a@example.org>") == Status::proceed);
        CHECK(c.end_of_message(h.mta) == Status::reject);
        REQUIRE(h.calls_of("reply").size() == 1);
        CHECK(h.calls_of("reply").front().name == "550 5.7.1");
        CHECK(h.calls_of("insert").empty());
    }
    SECTION("tempfail: 451 4.7.1") {
        h.settings.policy.on_fail = Action::tempfail;
        auto c = h.connect();
        REQUIRE(c.mail_from(h.mta, "<a@example.org>") == Status::proceed);
        CHECK(c.end_of_message(h.mta) == Status::tempfail);
        CHECK(h.calls_of("reply").front().name == "451 4.7.1");
    }
    SECTION("quarantine: header and quarantine") {
        h.settings.policy.on_fail = Action::quarantine;
        auto c = h.connect();
        REQUIRE(c.mail_from(h.mta, "<a@example.org>") == Status::proceed);
        CHECK(c.end_of_message(h.mta) == Status::proceed);
        CHECK(h.calls_of("quarantine").size() == 1);
        CHECK(h.calls_of("insert").front().value.find("mtls=fail") != std::string::npos);
    }
    SECTION("a domain without Client MX is never rejected") {
        h.settings.policy.on_fail = Action::reject;
        auto c = h.connect();
        REQUIRE(c.mail_from(h.mta, "<a@optout.example>") == Status::proceed);
        CHECK(c.end_of_message(h.mta) == Status::proceed);
        CHECK(h.calls_of("insert").front().value.find("mtls=none") != std::string::npos);
    }
}

TEST_CASE("a lookup without answer becomes temperror within dns-timeout; on-temperror decides") {
    Harness h;
    h.settings.policy.on_temperror = Action::tempfail;
    auto c = h.connect();
    REQUIRE(c.mail_from(h.mta, "<a@silent.example>") == Status::proceed);
    const auto started = Clock::now();
    CHECK(c.end_of_message(h.mta) == Status::tempfail);
    CHECK(Clock::now() - started < std::chrono::seconds(2));
    CHECK(h.calls_of("reply").front().name == "451 4.4.3");
}

TEST_CASE("null sender is judged on the HELO name") {
    Harness h;
    h.resolver->script("out1.example.org", records_answer({{10, "out1.example.org"}}));
    h.mta.macros["{cert_subject}"] = "out1.example.org";
    auto c = h.connect();
    REQUIRE(c.mail_from(h.mta, "<>") == Status::proceed);
    REQUIRE(c.end_of_message(h.mta) == Status::proceed);
    const auto value = h.calls_of("insert").front().value;
    CHECK(value.find("mtls=pass") != std::string::npos);
    CHECK(value.find("smtp.helo=out1.example.org") != std::string::npos);
}

TEST_CASE("each transaction on a connection gets its own verdict") {
    Harness h;
    h.mta.macros["{cert_subject}"] = "out1.example.org";
    auto c = h.connect();
    REQUIRE(c.mail_from(h.mta, "<a@example.org>") == Status::proceed);
    c.header("Authentication-Results", "mx.example.net; mtls=pass");
    c.abort();  // RSET
    REQUIRE(c.mail_from(h.mta, "<b@optout.example>") == Status::proceed);
    REQUIRE(c.end_of_message(h.mta) == Status::proceed);
    CHECK(h.calls_of("delete").empty());  // the aborted message's forged header is not carried over
    REQUIRE(c.mail_from(h.mta, "<c@example.org>") == Status::proceed);
    REQUIRE(c.end_of_message(h.mta) == Status::proceed);
    const auto inserts = h.calls_of("insert");
    REQUIRE(inserts.size() == 2);
    CHECK(inserts[0].value.find("mtls=none") != std::string::npos);
    CHECK(inserts[1].value.find("mtls=pass") != std::string::npos);
}

TEST_CASE("hostile envelope values give permerror and a clean header") {
    Harness h;
    for (const char* from :
         {"<a@exa\r\nX-Evil: 1mple.org>", "<a@[192.0.2.1]>", "<a@b;c.example>", "<\"unterminated@x>"}) {
        FakeMta mta = h.mta;
        auto c = h.connect();
        REQUIRE(c.mail_from(mta, from) == Status::proceed);
        REQUIRE(c.end_of_message(mta) == Status::proceed);
        REQUIRE(mta.calls.size() == 1);
        const auto& value = mta.calls.front().value;
        CHECK(value.find("mtls=permerror") != std::string::npos);
        CHECK(value.find('\r') == std::string::npos);
        CHECK(value.find("Evil") == std::string::npos);
        CHECK(value.find("smtp.mailfrom") == std::string::npos);
    }
    CHECK(h.resolver->start_count() == 0);
}

TEST_CASE("end of message without MAIL FROM does nothing") {
    Harness h;
    auto c = h.connect();
    CHECK(c.end_of_message(h.mta) == Status::proceed);
    CHECK(h.mta.calls.empty());
}

TEST_CASE("a HELO name given before STARTTLS does not count for the null sender after it") {
    Harness h;
    h.resolver->script("out1.example.org", records_answer({{10, "out1.example.org"}}));
    h.mta.macros["{cert_subject}"] = "out1.example.org";
    auto runtime = std::make_shared<const Runtime>(h.settings, h.resolver,
                                                   std::make_shared<Logger>(LoggerSettings{false, 0, false}));
    Connection c(runtime, false);
    REQUIRE(c.connect(IpAddress::parse("192.0.2.10")) == Status::proceed);
    FakeMta cleartext;  // EHLO before STARTTLS: no TLS macros yet
    REQUIRE(c.helo(cleartext, "out1.example.org") == Status::proceed);
    // STARTTLS, then MAIL FROM:<> without a second EHLO
    REQUIRE(c.mail_from(h.mta, "<>") == Status::proceed);
    REQUIRE(c.end_of_message(h.mta) == Status::proceed);
    const auto value = h.calls_of("insert").front().value;
    CHECK(value.find("mtls=permerror") != std::string::npos);
    CHECK(value.find("smtp.helo") == std::string::npos);
    CHECK(h.resolver->start_count() == 0);

    SECTION("an EHLO repeated inside TLS counts again") {
        h.mta.calls.clear();
        REQUIRE(c.helo(h.mta, "out1.example.org") == Status::proceed);
        REQUIRE(c.mail_from(h.mta, "<>") == Status::proceed);
        REQUIRE(c.end_of_message(h.mta) == Status::proceed);
        CHECK(h.calls_of("insert").front().value.find("mtls=pass") != std::string::npos);
    }
}

namespace {

// A Runtime with the policy channel's session store, as make_runtime builds
// it when policy-socket is set.
struct PolicyHarness : Harness {
    std::shared_ptr<FingerprintStore> sessions =
        std::make_shared<FingerprintStore>(FingerprintStore::Limits{100, std::chrono::seconds(60)});
    Sha256Digest key{};

    PolicyHarness() {
        key.fill(0x42);
        resolver->script("_25._tcp.out1.example.org",
                         mtls::testing::tlsa_answer({mtls::testing::tlsa_rdata(3, 1, 1, key)}));
        resolver->script("_client.out1.example.org", status_answer(AnswerStatus::nxdomain, DnssecState::secure));
    }

    Connection connect_from(std::string_view address, std::uint16_t port) {
        auto runtime = std::make_shared<const Runtime>(settings, resolver,
                                                       std::make_shared<Logger>(LoggerSettings{false, 0, false}),
                                                       std::make_shared<Metrics>(), sessions);
        Connection connection(runtime, false);
        REQUIRE(connection.connect(IpAddress::parse(address), port) == Status::proceed);
        REQUIRE(connection.helo(mta, "out1.example.org") == Status::proceed);
        return connection;
    }

    void record(std::string_view address, std::uint16_t port) {
        Fingerprints fingerprints;
        fingerprints.public_key = key;
        sessions->record(Endpoint{*IpAddress::parse(address), port}, fingerprints, StoreClock::now());
    }

    std::string header() const {
        const auto inserted = calls_of("insert");
        REQUIRE(inserted.size() == 1);
        return inserted.front().value;
    }
};

}  // namespace

TEST_CASE("policy-channel fingerprints let an unverified certificate pass through DANE") {
    PolicyHarness h;
    auto c = h.connect_from("192.0.2.10", 40000);
    h.record("192.0.2.10", 40000);  // Postfix asks the policy service at RCPT
    REQUIRE(c.mail_from(h.mta, "<alice@example.org>") == Status::proceed);
    REQUIRE(c.end_of_message(h.mta) == Status::proceed);
    const auto header = h.header();
    CHECK(header.find("mtls=pass") != std::string::npos);
    CHECK(header.find("reason=\"dane\"") != std::string::npos);
    CHECK(header.find("_25._tcp.out1.example.org") != std::string::npos);
}

TEST_CASE("policy-channel fingerprints never cross connections") {
    PolicyHarness h;
    SECTION("another port") {
        auto c = h.connect_from("192.0.2.10", 40000);
        h.record("192.0.2.10", 40001);
        REQUIRE(c.mail_from(h.mta, "<alice@example.org>") == Status::proceed);
        REQUIRE(c.end_of_message(h.mta) == Status::proceed);
        CHECK(h.header().find("mtls=fail") != std::string::npos);
    }
    SECTION("recorded before this connection began (address and port reused)") {
        h.record("192.0.2.10", 40000);
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        auto c = h.connect_from("192.0.2.10", 40000);
        REQUIRE(c.mail_from(h.mta, "<alice@example.org>") == Status::proceed);
        REQUIRE(c.end_of_message(h.mta) == Status::proceed);
        CHECK(h.header().find("mtls=fail") != std::string::npos);
    }
    SECTION("closing the connection drops its entry") {
        {
            auto c = h.connect_from("192.0.2.10", 40000);
            h.record("192.0.2.10", 40000);
            CHECK(h.sessions->size() == 1);
            c.close();
        }
        CHECK(h.sessions->size() == 0);
    }
    SECTION("a connection without a port falls back to the MTA's macros") {
        auto c = h.connect_from("192.0.2.10", 0);
        h.mta.macros["{client_addr}"] = "192.0.2.10";
        h.mta.macros["{client_port}"] = "40002";
        h.record("192.0.2.10", 40002);
        REQUIRE(c.mail_from(h.mta, "<alice@example.org>") == Status::proceed);
        REQUIRE(c.end_of_message(h.mta) == Status::proceed);
        CHECK(h.header().find("mtls=pass") != std::string::npos);
    }
}
