#include <catch2/catch.hpp>

#include "dmarc/walk_lookups.h"
#include "fake_resolver.h"

using namespace std::chrono_literals;
using namespace mtls;
using namespace mtls::dmarc;
using mtls::testing::FakeResolver;
using mtls::testing::status_answer;

namespace {

DnsAnswer txt_answer(std::string_view text) {
    DnsAnswer answer;
    answer.status = AnswerStatus::records;
    answer.dnssec = DnssecState::secure;
    std::vector<std::uint8_t> rdata{static_cast<std::uint8_t>(text.size())};
    rdata.insert(rdata.end(), text.begin(), text.end());
    answer.rdata.push_back(std::move(rdata));
    return answer;
}

}  // namespace

TEST_CASE("walk lookups: a 12-label From starts exactly the 8 walk queries, all TXT, at once") {
    FakeResolver resolver;
    WalkLookups lookups(resolver, 50ms);
    lookups.start_walk("a.b.c.d.e.f.g.h.i.j.mail.example.com");
    const auto started = resolver.started();
    REQUIRE(started.size() == 8);
    CHECK(started.front().name == "_dmarc.a.b.c.d.e.f.g.h.i.j.mail.example.com");
    CHECK(started[1].name == "_dmarc.g.h.i.j.mail.example.com");
    CHECK(started.back().name == "_dmarc.com");
    for (const auto& lookup : started) {
        CHECK(lookup.type == kTxtType);
        CHECK(lookup.timeout == 50ms);
    }
    CHECK(lookups.queries() == 8);
}

TEST_CASE("walk lookups: memoised per message and bounded") {
    FakeResolver resolver;
    WalkLookups lookups(resolver, 20ms, 5);
    lookups.start_walk("mail.example.com");
    lookups.start_walk("bounce.example.com");  // example.com and com already asked
    CHECK(resolver.start_count() == 4);
    lookups.start_walk("a.b.c.example.net");  // only one more fits
    CHECK(resolver.start_count() == 5);
    const auto& answers = lookups.answers();  // all time out: errors, never "no record"
    CHECK(answers.size() == 5);
    CHECK(answers.at("example.com").kind == WalkAnswer::Kind::error);
    CHECK(answers.at("example.com").error == "timeout");
    CHECK_FALSE(answers.contains("c.example.net"));
}

TEST_CASE("walk lookups: evaluation over scripted DNS, with the existence lookup for np") {
    FakeResolver resolver;
    resolver.script("_dmarc.nx.example.com", status_answer(AnswerStatus::nxdomain, DnssecState::secure));
    resolver.script("_dmarc.example.com", txt_answer("v=DMARC1; p=none; np=reject"));
    resolver.script("_dmarc.com", status_answer(AnswerStatus::nxdomain, DnssecState::secure));
    resolver.script("nx.example.com", status_answer(AnswerStatus::nxdomain, DnssecState::secure));
    WalkLookups lookups(resolver, 1s);
    EvaluationInput input;
    input.author_domain = std::string("nx.example.com");
    input.identifiers.mtls = MtlsPass{"nx.example.com", false};
    const auto evaluation = evaluate_with_lookups(lookups, input);
    CHECK(evaluation.result == Result::pass);
    REQUIRE(evaluation.policy);
    CHECK(evaluation.policy->source == PolicySource::np);
    CHECK(evaluation.policy->published == Policy::reject);
    CHECK(lookups.queries() == 4);
    CHECK(resolver.started().back().type == 1);
}

TEST_CASE("walk lookups: a SERVFAIL on the author's _dmarc is a temperror") {
    FakeResolver resolver;
    resolver.script("_dmarc.example.com", status_answer(AnswerStatus::servfail));
    resolver.script("_dmarc.com", status_answer(AnswerStatus::nxdomain, DnssecState::secure));
    WalkLookups lookups(resolver, 1s);
    EvaluationInput input;
    input.author_domain = std::string("example.com");
    CHECK(evaluate_with_lookups(lookups, input).result == Result::temperror);
}

TEST_CASE("walk lookups: no author domain, no queries") {
    FakeResolver resolver;
    WalkLookups lookups(resolver, 1s);
    EvaluationInput input;
    input.author_domain = Error{"no From field"};
    CHECK(evaluate_with_lookups(lookups, input).result == Result::permerror);
    CHECK(resolver.start_count() == 0);
}
