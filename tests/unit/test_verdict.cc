// The verdict table: Client MX answer x TLS evidence x policy -> result.
#include <catch2/catch.hpp>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "fake_resolver.h"
#include "mtls/verdict.h"

using namespace mtls;
using mtls::testing::client_mx_rdata;
using mtls::testing::status_answer;

namespace {

using Bytes = std::vector<std::uint8_t>;

DnsAnswer answer_with(std::vector<Bytes> rdata, DnssecState dnssec = DnssecState::secure) {
    DnsAnswer answer;
    answer.status = AnswerStatus::records;
    answer.dnssec = dnssec;
    answer.rdata = std::move(rdata);
    return answer;
}

TlsEvidence verified(std::vector<std::string> names) {
    TlsEvidence evidence;
    evidence.status = CertificateStatus::verified;
    evidence.names = std::move(names);
    return evidence;
}

TlsEvidence with_status(CertificateStatus status) {
    TlsEvidence evidence;
    evidence.status = status;
    evidence.names = {"out1.example.org"};  // must be ignored unless verified
    return evidence;
}

const VerdictSettings kDefault{};
const VerdictSettings kRequireDnssec{true, false};
const VerdictSettings kWildcards{false, true};

}  // namespace

TEST_CASE("to_string of results", "[verdict]") {
    CHECK(to_string(Result::pass) == "pass");
    CHECK(to_string(Result::fail) == "fail");
    CHECK(to_string(Result::none) == "none");
    CHECK(to_string(Result::temperror) == "temperror");
    CHECK(to_string(Result::permerror) == "permerror");
}

TEST_CASE("a verified certificate naming a Client MX host passes", "[verdict]") {
    const auto verdict =
        decide(answer_with({client_mx_rdata(10, "out1.example.org")}), verified({"out1.example.org"}), kDefault);
    CHECK(verdict.result == Result::pass);
    CHECK(verdict.matched_host == "out1.example.org");
    CHECK(verdict.dnssec == DnssecState::secure);
    REQUIRE(verdict.client_mx.size() == 1);
    CHECK(verdict.client_mx[0] == ClientMx{10, "out1.example.org"});
}

TEST_CASE("DNS failures are temperror", "[verdict]") {
    for (const auto status :
         {AnswerStatus::timeout, AnswerStatus::servfail, AnswerStatus::error, AnswerStatus::bogus}) {
        INFO("status " << to_string(status));
        const auto verdict = decide(status_answer(status), verified({"out1.example.org"}), kDefault);
        CHECK(verdict.result == Result::temperror);
        CHECK_FALSE(verdict.reason.empty());
        CHECK(verdict.matched_host.empty());
    }
}

TEST_CASE("bogus never passes", "[verdict]") {
    // A bogus answer that still carries records naming the verified certificate.
    DnsAnswer answer = answer_with({client_mx_rdata(10, "out1.example.org")}, DnssecState::bogus);
    answer.status = AnswerStatus::bogus;
    for (const auto& policy : {kDefault, kRequireDnssec, kWildcards}) {
        const auto verdict = decide(answer, verified({"out1.example.org"}), policy);
        CHECK(verdict.result == Result::temperror);
        CHECK(verdict.dnssec == DnssecState::bogus);
        CHECK(verdict.matched_host.empty());
    }
}

TEST_CASE("no Client MX records is none", "[verdict]") {
    for (const auto status : {AnswerStatus::nxdomain, AnswerStatus::nodata}) {
        for (const auto dnssec : {DnssecState::secure, DnssecState::insecure}) {
            const auto verdict = decide(status_answer(status, dnssec), verified({"out1.example.org"}), kDefault);
            CHECK(verdict.result == Result::none);
            CHECK(verdict.dnssec == dnssec);
            CHECK_FALSE(verdict.reason.empty());
        }
    }
}

TEST_CASE("insecure records under require-dnssec are none", "[verdict]") {
    const auto answer = answer_with({client_mx_rdata(10, "out1.example.org")}, DnssecState::insecure);
    const auto strict = decide(answer, verified({"out1.example.org"}), kRequireDnssec);
    CHECK(strict.result == Result::none);
    CHECK(strict.dnssec == DnssecState::insecure);
    CHECK(strict.matched_host.empty());

    const auto lax = decide(answer, verified({"out1.example.org"}), kDefault);
    CHECK(lax.result == Result::pass);
    CHECK(lax.dnssec == DnssecState::insecure);

    const auto secure =
        decide(answer_with({client_mx_rdata(10, "out1.example.org")}), verified({"out1.example.org"}), kRequireDnssec);
    CHECK(secure.result == Result::pass);
}

TEST_CASE("a malformed record among good ones is permerror", "[verdict]") {
    const auto answer = answer_with(
        {client_mx_rdata(10, "out1.example.org"), Bytes{0, 20, 0xC0, 0x0C}, client_mx_rdata(30, "out3.example.org")});
    const auto verdict = decide(answer, verified({"out1.example.org"}), kDefault);
    CHECK(verdict.result == Result::permerror);
    CHECK(verdict.matched_host.empty());
    CHECK_FALSE(verdict.reason.empty());

    const auto only_bad = decide(answer_with({Bytes{0, 10}}), verified({"out1.example.org"}), kDefault);
    CHECK(only_bad.result == Result::permerror);
}

TEST_CASE("the null Client MX", "[verdict]") {
    const Bytes root = {0, 0, 0};
    SECTION("alone: the domain sends no mail") {
        const auto verdict = decide(answer_with({root}), verified({"out1.example.org"}), kDefault);
        CHECK(verdict.result == Result::fail);
        CHECK_FALSE(verdict.reason.empty());
        CHECK(verdict.matched_host.empty());
        // Its own reason: not a certificate problem, whatever the certificate.
        const auto wrong_name =
            decide(answer_with({client_mx_rdata(10, "out1.example.org")}), verified({"out9.example.org"}), kDefault);
        CHECK(verdict.reason != wrong_name.reason);
        CHECK(decide(answer_with({root}), with_status(CertificateStatus::no_tls), kDefault).reason == verdict.reason);
        CHECK(decide(answer_with({root, root}), verified({}), kDefault).reason == verdict.reason);
        REQUIRE(verdict.client_mx.size() == 1);
        CHECK(verdict.client_mx[0].is_null());
    }
    SECTION("next to a real host: the real host still counts") {
        const auto verdict = decide(answer_with({root, client_mx_rdata(10, "out1.example.org")}),
                                    verified({"out1.example.org"}), kDefault);
        CHECK(verdict.result == Result::pass);
        CHECK(verdict.matched_host == "out1.example.org");
    }
}

TEST_CASE("certificate problems fail, each with its own reason", "[verdict]") {
    const auto answer = answer_with({client_mx_rdata(10, "out1.example.org")});
    std::set<std::string> reasons;
    for (const auto status : {CertificateStatus::no_tls, CertificateStatus::no_certificate,
                              CertificateStatus::unverified, CertificateStatus::absent_or_unverified}) {
        INFO("status " << to_string(status));
        const auto verdict = decide(answer, with_status(status), kDefault);
        CHECK(verdict.result == Result::fail);
        CHECK(verdict.matched_host.empty());
        CHECK_FALSE(verdict.reason.empty());
        reasons.insert(verdict.reason);
    }
    CHECK(reasons.size() == 4);
}

TEST_CASE("a verified certificate without usable names fails", "[verdict]") {
    const auto answer = answer_with({client_mx_rdata(10, "out1.example.org")});
    TlsEvidence evidence = verified({});
    evidence.unusable_names = {"John Doe"};
    const auto verdict = decide(answer, evidence, kDefault);
    CHECK(verdict.result == Result::fail);
    CHECK_FALSE(verdict.reason.empty());
    CHECK(verdict.reason != decide(answer, verified({"x.example.net"}), kDefault).reason);
}

TEST_CASE("a verified certificate for another host fails", "[verdict]") {
    const auto answer = answer_with({client_mx_rdata(10, "out1.example.org"), client_mx_rdata(20, "out2.example.org")});
    for (const auto& names : {std::vector<std::string>{"out3.example.org"}, std::vector<std::string>{"example.org"},
                              std::vector<std::string>{"out1.example.org.evil"}}) {
        const auto verdict = decide(answer, verified(names), kDefault);
        CHECK(verdict.result == Result::fail);
        CHECK(verdict.matched_host.empty());
        CHECK_FALSE(verdict.reason.empty());
    }
}

TEST_CASE("wildcard certificates match only when allowed", "[verdict]") {
    const auto answer = answer_with({client_mx_rdata(10, "out1.example.org")});
    CHECK(decide(answer, verified({"*.example.org"}), kDefault).result == Result::fail);
    const auto allowed = decide(answer, verified({"*.example.org"}), kWildcards);
    CHECK(allowed.result == Result::pass);
    CHECK(allowed.matched_host == "out1.example.org");
    CHECK(decide(answer, verified({"*.org"}), kWildcards).result == Result::fail);
}

TEST_CASE("any record counts, whatever its preference", "[verdict]") {
    const auto answer =
        answer_with({client_mx_rdata(10, "out1.example.org"), client_mx_rdata(50, "backup.example.org")});
    const auto verdict = decide(answer, verified({"backup.example.org"}), kDefault);
    CHECK(verdict.result == Result::pass);
    CHECK(verdict.matched_host == "backup.example.org");
}

TEST_CASE("records are reported sorted by preference", "[verdict]") {
    const auto answer = answer_with({client_mx_rdata(30, "c.example.org"), client_mx_rdata(10, "a.example.org"),
                                     client_mx_rdata(20, "b.example.org"), client_mx_rdata(10, "d.example.org")});
    const auto verdict = decide(answer, verified({"d.example.org"}), kDefault);
    CHECK(verdict.result == Result::pass);
    REQUIRE(verdict.client_mx.size() == 4);
    CHECK(verdict.client_mx[0].preference == 10);
    CHECK(verdict.client_mx[1].preference == 10);
    CHECK(verdict.client_mx[2] == ClientMx{20, "b.example.org"});
    CHECK(verdict.client_mx[3] == ClientMx{30, "c.example.org"});

    // The matched host is the most preferred one the certificate names.
    const auto both = decide(answer, verified({"c.example.org", "b.example.org"}), kDefault);
    CHECK(both.matched_host == "b.example.org");
}

TEST_CASE("an unusable identity is permerror", "[verdict]") {
    Identity mail_from;
    mail_from.kind = IdentityKind::mail_from;
    mail_from.problem = "MAIL FROM address has no domain";
    const auto verdict = verdict_for_unusable_identity(mail_from);
    CHECK(verdict.result == Result::permerror);
    CHECK_FALSE(verdict.reason.empty());
    CHECK(verdict.matched_host.empty());

    Identity helo;
    helo.kind = IdentityKind::helo;
    const auto helo_verdict = verdict_for_unusable_identity(helo);
    CHECK(helo_verdict.result == Result::permerror);
    CHECK(helo_verdict.reason != verdict.reason);
}

TEST_CASE("reasons are fixed text, safe for a header", "[verdict]") {
    std::vector<Verdict> verdicts = {
        decide(status_answer(AnswerStatus::timeout), verified({}), kDefault),
        decide(answer_with({client_mx_rdata(10, "out1.example.org")}), with_status(CertificateStatus::no_tls),
               kDefault),
        decide(answer_with({Bytes{0, 1}}), verified({}), kDefault),
    };
    for (const auto& verdict : verdicts) {
        for (const char c : verdict.reason) {
            CHECK((c >= 0x20 && c < 0x7f && c != '"' && c != '\\'));
        }
    }
}

TEST_CASE("a bogus DNSSEC state never passes, whatever the status says") {
    const auto answer = answer_with({client_mx_rdata(10, "out1.example.org")}, DnssecState::bogus);
    const auto verdict = decide(answer, verified({"out1.example.org"}), VerdictSettings{});
    CHECK(verdict.result == Result::temperror);
    CHECK(verdict.dnssec == DnssecState::bogus);
}
