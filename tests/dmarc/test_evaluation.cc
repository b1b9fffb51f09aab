#include <catch2/catch.hpp>

#include "dmarc/evaluation.h"
#include "walk_fixtures.h"

using namespace mtls;
using namespace mtls::dmarc;
using namespace mtls::dmarc::testing;

namespace {

EvaluationInput input_for(std::string author) {
    EvaluationInput input;
    input.author_domain = std::move(author);
    return input;
}

const auto kReject =
    walk({"example.com", "bounce.example.com", "other.net"}, {{"example.com", txt({"v=DMARC1; p=reject"})}});

}  // namespace

TEST_CASE("evaluation: mtls substitutes for a failed SPF") {
    auto input = input_for("example.com");
    input.identifiers.mtls = MtlsPass{"example.com", false};
    const auto evaluation = evaluate(input, kReject);
    CHECK(evaluation.result == Result::pass);
    CHECK(evaluation.result_rfc9989 == Result::fail);
    CHECK(evaluation.aligned.mtls);
    CHECK_FALSE(evaluation.aligned.spf);
    REQUIRE(evaluation.policy);
    CHECK(evaluation.policy->effective == Policy::reject);
    CHECK(evaluation.dnssec == DnssecState::secure);
    CHECK(requested_disposition(evaluation) == Policy::none);

    input.mode = MtlsMode::report_only;
    const auto report_only = evaluate(input, kReject);
    CHECK(report_only.result == Result::fail);
    CHECK(report_only.aligned.mtls);
    CHECK(requested_disposition(report_only) == Policy::reject);
}

TEST_CASE("evaluation: mtls is aligned like SPF, with aspf") {
    auto input = input_for("example.com");
    input.identifiers.mtls = MtlsPass{"bounce.example.com", false};
    CHECK(evaluate(input, kReject).result == Result::pass);
    const auto strict =
        walk({"example.com", "bounce.example.com"}, {{"example.com", txt({"v=DMARC1; p=reject; aspf=s"})}});
    CHECK(evaluate(input, strict).result == Result::fail);
    // adkim=s does not touch mtls.
    const auto adkim =
        walk({"example.com", "bounce.example.com"}, {{"example.com", txt({"v=DMARC1; p=reject; adkim=s"})}});
    CHECK(evaluate(input, adkim).result == Result::pass);
}

TEST_CASE("evaluation: mtls only adds passes") {
    auto input = input_for("example.com");
    input.identifiers.dkim_pass_domains = {"example.com"};
    input.identifiers.mtls = MtlsPass{"other.net", false};
    const auto evaluation = evaluate(input, kReject);
    CHECK(evaluation.result == Result::pass);
    CHECK(evaluation.result_rfc9989 == Result::pass);
    CHECK(evaluation.aligned.dkim);
    CHECK_FALSE(evaluation.aligned.mtls);
}

TEST_CASE("evaluation: SPF and DKIM without mtls") {
    auto input = input_for("example.com");
    input.identifiers.spf_pass_domains = {"other.net"};
    const auto fail = evaluate(input, kReject);
    CHECK(fail.result == Result::fail);
    CHECK(requested_disposition(fail) == Policy::reject);
    input.identifiers.spf_pass_domains = {"bounce.example.com"};
    const auto pass = evaluate(input, kReject);
    CHECK(pass.result == Result::pass);
    CHECK(pass.aligned.spf);
}

TEST_CASE("evaluation: none, permerror and temperror") {
    CHECK(evaluate(input_for("example.com"), walk({"example.com"}, {})).result == Result::none);

    EvaluationInput no_from;
    no_from.author_domain = Error{"several From fields"};
    const auto permerror = evaluate(no_from, {});
    CHECK(permerror.result == Result::permerror);
    CHECK(permerror.result_rfc9989 == Result::permerror);
    CHECK(permerror.reason == "several From fields");
    CHECK_FALSE(permerror.policy);

    auto input = input_for("example.com");
    input.identifiers.mtls = MtlsPass{"example.com", false};
    const auto bogus = evaluate(input, walk({"example.com"}, {{"example.com", failed("bogus")}}));
    CHECK(bogus.result == Result::temperror);
    CHECK_FALSE(bogus.policy);
    CHECK(requested_disposition(bogus) == Policy::none);

    // An identifier whose organizational domain is unknown, nothing else aligned.
    auto unknown = input_for("example.com");
    unknown.identifiers.spf_pass_domains = {"bounce.example.com"};
    const auto answers = walk({"example.com", "bounce.example.com"}, {{"example.com", txt({"v=DMARC1; p=reject"})},
                                                                      {"bounce.example.com", failed("servfail")}});
    CHECK(evaluate(unknown, answers).result == Result::temperror);
}

TEST_CASE("evaluation: np for a non-existent subdomain, existence errors") {
    const auto answers =
        walk({"nx.example.com"}, {{"example.com", txt({"v=DMARC1; p=none; sp=quarantine; np=reject"})}});
    auto input = input_for("nx.example.com");
    input.author_exists = Existence::nonexistent;
    const auto nx = evaluate(input, answers);
    CHECK(nx.result == Result::fail);
    REQUIRE(nx.policy);
    CHECK(nx.policy->source == PolicySource::np);
    CHECK(nx.policy_domain == "example.com");
    CHECK(nx.organizational_domain == "example.com");
    input.author_exists = Existence::exists;
    CHECK(evaluate(input, answers).policy->source == PolicySource::sp);
    input.author_exists = Existence::error;
    CHECK(evaluate(input, answers).result == Result::temperror);
}

TEST_CASE("evaluation: np that would change the policy, with existence never looked up, is temperror") {
    // Section 4.10.1: np applies if the author domain does not exist. Not
    // knowing must not make sp=none stand in for np=reject.
    const auto answers = walk({"nx.example.com"}, {{"example.com", txt({"v=DMARC1; p=reject; sp=none; np=reject"})}});
    auto input = input_for("nx.example.com");
    input.author_exists = Existence::unknown;
    const auto evaluation = evaluate(input, answers);
    CHECK(evaluation.result == Result::temperror);
    CHECK(evaluation.reason == "existence of nx.example.com not looked up");
    CHECK_FALSE(evaluation.policy);

    // When np gives what sp gives anyway, existence does not matter.
    const auto same = walk({"nx.example.com"}, {{"example.com", txt({"v=DMARC1; p=reject; sp=none; np=none"})}});
    CHECK(evaluate(input, same).result == Result::fail);
}

TEST_CASE("evaluation: the record that applies has no usable policy: none, saying why") {
    // From a.dept.example.com, a DKIM pass for other.net only; the walk stops
    // at dept.example.com's psd=n record, which has neither p nor rua.
    const auto answers = walk({"a.dept.example.com", "other.net"},
                              {{"dept.example.com", txt({"v=DMARC1; psd=n"}, DnssecState::insecure)},
                               {"example.com", txt({"v=DMARC1; p=reject; rua=mailto:d@example.com"})}});
    auto input = input_for("a.dept.example.com");
    input.identifiers.dkim_pass_domains = {"other.net"};
    const auto evaluation = evaluate(input, answers);
    CHECK(evaluation.result == Result::none);
    CHECK(evaluation.result_rfc9989 == Result::none);
    CHECK(evaluation.reason == "no p and no valid rua at _dmarc.dept.example.com");
    CHECK(evaluation.organizational_domain == "dept.example.com");
    CHECK(evaluation.dnssec == DnssecState::insecure);
    CHECK_FALSE(evaluation.policy);
    CHECK(requested_disposition(evaluation) == Policy::none);
}
