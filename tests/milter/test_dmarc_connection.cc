// The DMARC stage's per-connection logic (milter/dmarc_connection.h) over
// the MtaSession seam with a scripted resolver: when the walk starts, what
// header it writes where, and what enforcement tells the MTA. The same
// stage runs end to end in tests/integration/test_dmarc.py.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "dmarc_connection.h"
#include "fake_mta.h"
#include "fake_resolver.h"

using namespace mtls;
using namespace mtls::milter;
using mtls::testing::FakeMta;
using mtls::testing::FakeResolver;
using mtls::testing::status_answer;
using mtls::testing::txt_answer;

namespace {

std::string unfolded(std::string text) {
    for (auto at = text.find("\n\t"); at != std::string::npos; at = text.find("\n\t", at)) {
        text.replace(at, 2, " ");
    }
    return text;
}

constexpr std::string_view kStageOne = "mx.example.net; mtls=pass smtp.mailfrom=example.org";

struct Harness {
    std::shared_ptr<FakeResolver> resolver = std::make_shared<FakeResolver>();
    Settings settings = default_settings();
    dmarc::DmarcMetrics metrics;
    FakeMta mta;

    Harness() {
        settings.authserv_id = "mx.example.net";
        settings.authenticator.dns_timeout = std::chrono::milliseconds(50);
        settings.ignore_hosts = HostList::parse("127.0.0.0/8").value();
        resolver->script("_dmarc.example.org", txt_answer({"v=DMARC1; p=reject"}));
        resolver->script("_dmarc.org", status_answer(AnswerStatus::nxdomain, DnssecState::secure));
        resolver->script("_dmarc.out1.example.org", status_answer(AnswerStatus::nxdomain, DnssecState::secure));
        resolver->script("_dmarc.bogus.example", status_answer(AnswerStatus::bogus, DnssecState::bogus));
        resolver->script("_dmarc.example", status_answer(AnswerStatus::nxdomain, DnssecState::secure));
        mta.macros["i"] = "4ABCDEF";
    }

    bool log_to_stderr = false;

    DmarcConnection connect(std::string_view address = "192.0.2.10") {
        auto runtime = std::make_shared<const Runtime>(
            settings, resolver, std::make_shared<Logger>(LoggerSettings{false, 0, log_to_stderr}));
        DmarcConnection connection(runtime, &metrics);
        REQUIRE(connection.connect(IpAddress::parse(address)) == Status::proceed);
        return connection;
    }
};

}  // namespace

TEST_CASE("DMARC stage: the walk starts at the From header; an aligned mtls pass passes p=reject") {
    Harness h;
    auto c = h.connect();
    REQUIRE(c.mail_from(h.mta, "<alice@example.org>") == Status::proceed);
    CHECK(h.resolver->start_count() == 0);
    c.header("Authentication-Results", kStageOne);
    c.header("From", " Alice <alice@example.org>");
    CHECK(h.resolver->start_count() == 2);  // _dmarc.example.org and _dmarc.org, before end of message
    REQUIRE(c.end_of_message(h.mta) == Status::proceed);
    REQUIRE(h.mta.calls.size() == 1);
    const auto& call = h.mta.calls.front();
    CHECK(call.what == "insert");
    CHECK(call.index == 0);
    CHECK(call.name == "Authentication-Results");
    CHECK(unfolded(call.value) ==
          "mx.example.net; dmarc=pass (p=reject dis=none; aligned: mtls; DNSSEC secure) header.from=example.org "
          "policy.dmarc=reject");
    CHECK(h.metrics.render().find("mtls_dmarc_mtls_only_passes_total 1\n") != std::string::npos);
}

TEST_CASE("DMARC stage: results of untrusted authserv-ids do not count") {
    Harness h;
    auto c = h.connect();
    REQUIRE(c.mail_from(h.mta, "<alice@example.org>") == Status::proceed);
    c.header("Authentication-Results", "elsewhere.example; mtls=pass smtp.mailfrom=example.org");
    c.header("From", "alice@example.org");
    REQUIRE(c.end_of_message(h.mta) == Status::proceed);
    REQUIRE(h.mta.calls.size() == 1);
    CHECK(unfolded(h.mta.calls.front().value).find("dmarc=fail") != std::string::npos);
}

TEST_CASE("DMARC stage: trusted-authserv-ids adds OpenDKIM's own id") {
    Harness h;
    h.settings.dmarc.other_authserv_ids = {"dkim.example.net"};
    auto c = h.connect();
    REQUIRE(c.mail_from(h.mta, "<bounce@other.example>") == Status::proceed);
    c.header("Authentication-Results", "dkim.example.net; dkim=pass header.d=example.org");
    c.header("From", "alice@example.org");
    REQUIRE(c.end_of_message(h.mta) == Status::proceed);
    CHECK(unfolded(h.mta.calls.front().value).find("dmarc=pass (p=reject dis=none; aligned: dkim;") !=
          std::string::npos);
}

TEST_CASE("DMARC stage: enforcing rejects a fail with 550 5.7.1 and writes no header") {
    Harness h;
    h.settings.dmarc.enforce = true;
    auto c = h.connect();
    REQUIRE(c.mail_from(h.mta, "<alice@example.org>") == Status::proceed);
    c.header("From", "alice@example.org");
    REQUIRE(c.end_of_message(h.mta) == Status::reject);
    REQUIRE(h.mta.calls.size() == 1);
    CHECK(h.mta.calls.front().what == "reply");
    CHECK(h.mta.calls.front().name == "550 5.7.1");
}

TEST_CASE("DMARC stage: a temperror is tagged, or deferred with dmarc-on-temperror=tempfail") {
    Harness h;
    {
        auto c = h.connect();
        REQUIRE(c.mail_from(h.mta, "<alice@bogus.example>") == Status::proceed);
        c.header("From", "alice@bogus.example");
        REQUIRE(c.end_of_message(h.mta) == Status::proceed);
        CHECK(unfolded(h.mta.calls.front().value).find("dmarc=temperror") != std::string::npos);
    }
    h.settings.dmarc.tempfail_on_temperror = true;
    h.mta.calls.clear();
    auto c = h.connect();
    REQUIRE(c.mail_from(h.mta, "<alice@bogus.example>") == Status::proceed);
    c.header("From", "alice@bogus.example");
    REQUIRE(c.end_of_message(h.mta) == Status::tempfail);
    CHECK(h.mta.calls.front().name == "451 4.7.1");
}

TEST_CASE("DMARC stage: the HELO identity counts only for the null sender, and only with dmarc-mtls-helo") {
    Harness h;
    const std::string_view helo_pass = "mx.example.net; mtls=pass smtp.helo=out1.example.org";
    {
        auto c = h.connect();
        REQUIRE(c.mail_from(h.mta, "<>") == Status::proceed);
        c.header("Authentication-Results", helo_pass);
        c.header("From", "postmaster@example.org");
        REQUIRE(c.end_of_message(h.mta) == Status::proceed);
        CHECK(unfolded(h.mta.calls.back().value).find("dmarc=pass") != std::string::npos);
    }
    h.settings.dmarc.mtls_helo = false;
    auto c = h.connect();
    REQUIRE(c.mail_from(h.mta, "<>") == Status::proceed);
    c.header("Authentication-Results", helo_pass);
    c.header("From", "postmaster@example.org");
    REQUIRE(c.end_of_message(h.mta) == Status::proceed);
    CHECK(unfolded(h.mta.calls.back().value).find("dmarc=fail") != std::string::npos);
}

TEST_CASE("DMARC stage: for the null sender, SPF counts for postmaster@<HELO>, the HELO of this session") {
    // RFC 7208 section 2.4; RFC 9989 aligns on that identity like any other.
    Harness h;
    h.settings.dmarc.mtls = dmarc::MtlsMode::report_only;  // SPF alone must make the pass
    const auto result_of = [&h](std::string_view helo, std::string_view spf) {
        auto c = h.connect();
        REQUIRE(c.helo(h.mta, helo) == Status::proceed);
        REQUIRE(c.mail_from(h.mta, "<>") == Status::proceed);
        c.header("Authentication-Results", spf);
        c.header("From", "postmaster@example.org");
        REQUIRE(c.end_of_message(h.mta) == Status::proceed);
        const auto header = unfolded(h.mta.calls.back().value);
        return header.substr(0, header.find(' ', header.find("dmarc=")));
    };
    const auto pass = std::string("mx.example.net; dmarc=pass");
    const auto fail = std::string("mx.example.net; dmarc=fail");
    CHECK(result_of("Out1.Example.org", "mx.example.net; spf=pass smtp.mailfrom=postmaster@out1.example.org") == pass);
    CHECK(result_of("out1.example.org", "mx.example.net; spf=pass smtp.helo=out1.example.org") == pass);
    // Another session's HELO, or no host name at all, says nothing.
    CHECK(result_of("other.example.net", "mx.example.net; spf=pass smtp.helo=out1.example.org") == fail);
    CHECK(result_of("[192.0.2.10]", "mx.example.net; spf=pass smtp.helo=out1.example.org") == fail);
}

TEST_CASE("DMARC stage: a sender with a MAIL FROM domain gets no SPF pass from smtp.helo") {
    Harness h;
    h.settings.dmarc.mtls = dmarc::MtlsMode::report_only;
    auto c = h.connect();
    REQUIRE(c.helo(h.mta, "example.org") == Status::proceed);
    REQUIRE(c.mail_from(h.mta, "<alice@elsewhere.example>") == Status::proceed);
    c.header("Authentication-Results", "mx.example.net; spf=pass smtp.helo=example.org");
    c.header("From", "alice@example.org");
    REQUIRE(c.end_of_message(h.mta) == Status::proceed);
    CHECK(unfolded(h.mta.calls.back().value).find("dmarc=fail") != std::string::npos);
}

TEST_CASE("DMARC stage: SMTP-AUTH and ignore-hosts clients are not evaluated") {
    Harness h;
    auto runtime = std::make_shared<const Runtime>(h.settings, h.resolver,
                                                   std::make_shared<Logger>(LoggerSettings{false, 0, false}));
    DmarcConnection local(runtime, &h.metrics);
    CHECK(local.connect(IpAddress::parse("127.0.0.1")) == Status::accept);

    h.mta.macros["{auth_authen}"] = "alice";
    auto c = h.connect();
    REQUIRE(c.mail_from(h.mta, "<alice@example.org>") == Status::proceed);
    c.header("From", "alice@example.org");
    REQUIRE(c.end_of_message(h.mta) == Status::proceed);
    CHECK(h.mta.calls.empty());
    CHECK(h.resolver->start_count() == 0);
}

TEST_CASE("DMARC stage: a record without a usable policy gives dmarc=none and says why in the comment") {
    // RFC 9989 section 4.10.1: no valid p and no valid rua, "no DMARC
    // processing"; the record is not skipped for a parent's.
    Harness h;
    h.resolver->script("_dmarc.nopolicy.example", txt_answer({"v=DMARC1; p=rejct"}));
    auto c = h.connect();
    REQUIRE(c.mail_from(h.mta, "<alice@nopolicy.example>") == Status::proceed);
    c.header("From", "alice@nopolicy.example");
    REQUIRE(c.end_of_message(h.mta) == Status::proceed);
    REQUIRE(h.mta.calls.size() == 1);
    CHECK(unfolded(h.mta.calls.front().value) ==
          "mx.example.net; dmarc=none (invalid p and no valid rua at _dmarc.nopolicy.example; DNSSEC secure) "
          "header.from=nopolicy.example");
}

TEST_CASE("DMARC stage: two From fields are permerror without a query") {
    Harness h;
    auto c = h.connect();
    REQUIRE(c.mail_from(h.mta, "<alice@example.org>") == Status::proceed);
    c.header("From", "alice@example.org");
    c.header("From", "mallory@other.example");
    REQUIRE(c.end_of_message(h.mta) == Status::proceed);
    CHECK(unfolded(h.mta.calls.front().value) == "mx.example.net; dmarc=permerror (several From fields)");
}

namespace {

// What the code run by `body` writes on stderr (the Logger's stderr output).
template <typename Body>
std::string stderr_of(Body body) {
    std::fflush(stderr);
    std::FILE* file = std::tmpfile();
    REQUIRE(file != nullptr);
    const int saved = dup(STDERR_FILENO);
    dup2(fileno(file), STDERR_FILENO);
    body();
    std::fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    std::string text;
    std::rewind(file);
    for (int c = std::fgetc(file); c != EOF; c = std::fgetc(file)) {
        text.push_back(static_cast<char>(c));
    }
    std::fclose(file);
    return text;
}

// The DMARC stage's JSON line among what was logged.
nlohmann::json dmarc_line(const std::string& logged) {
    std::size_t start = 0;
    for (auto end = logged.find('\n'); end != std::string::npos; start = end + 1, end = logged.find('\n', start)) {
        const auto line = nlohmann::json::parse(logged.substr(start, end - start), nullptr, false);
        if (line.is_object() && line.value("stage", "") == "dmarc") {
            return line;
        }
    }
    FAIL("no DMARC line in: " << logged);
    return {};
}

}  // namespace

TEST_CASE("DMARC stage: the log line names MAIL FROM and the SPF and DKIM results it read") {
    Harness h;
    h.log_to_stderr = true;
    h.settings.log_json = true;
    auto c = h.connect();
    const auto text = stderr_of([&] {
        REQUIRE(c.mail_from(h.mta, "<bounce@Example.ORG>") == Status::proceed);
        c.header("Authentication-Results", kStageOne);
        c.header("Authentication-Results",
                 "mx.example.net; dkim=fail header.d=esp.example header.s=s1 header.b=abc; "
                 "dkim=pass header.d=example.org header.s=Sel2024; dkim=pass header.d=\"x y\"; "
                 "spf=softfail smtp.mailfrom=bounce@example.org");
        c.header("From", "alice@example.org");
        REQUIRE(c.end_of_message(h.mta) == Status::proceed);
    });
    INFO(text);
    const auto line = dmarc_line(text);
    CHECK(line["envelope_from"] == "example.org");
    // The From domain's pass first (RFC 9990's order); the invalid d= never logged.
    CHECK(line["dkim_results"] == "example.org:sel2024:pass,esp.example:s1:fail");
    CHECK(line["spf_result"] == "softfail");

    const auto bounce = stderr_of([&] {
        REQUIRE(c.mail_from(h.mta, "<>") == Status::proceed);
        c.header("From", "mailer-daemon@example.org");
        REQUIRE(c.end_of_message(h.mta) == Status::proceed);
    });
    const auto null_line = dmarc_line(bounce);
    CHECK(null_line["envelope_from"] == "<>");
    CHECK(null_line["dkim_results"] == "-");
    CHECK(null_line["spf_result"] == "-");
}
