#include <catch2/catch.hpp>

#include "dmarc/walk_lookups.h"
#include "fake_resolver.h"

using namespace std::chrono_literals;
using namespace mtls;
using namespace mtls::dmarc;
using mtls::testing::FakeResolver;
using mtls::testing::status_answer;
using mtls::testing::txt_answer;

namespace {}  // namespace

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
    WalkLookups lookups(resolver, 20ms, 6);  // 5 for the walks, 1 kept for the existence lookup
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

TEST_CASE("walk lookups: the walks leave the last query of the budget to the existence lookup") {
    FakeResolver resolver;
    WalkLookups lookups(resolver, 20ms, 4);
    lookups.start_walk("a.b.c.d.example.net");  // 6 names, 3 fit
    CHECK(resolver.start_count() == 3);
    lookups.start_existence("a.b.c.d.example.net");
    CHECK(resolver.start_count() == 4);
    CHECK(resolver.started().back().type == 1);
    lookups.start_walk("other.example.org");  // the budget is spent now
    CHECK(lookups.queries() == 4);
}

TEST_CASE("walk lookups: evaluation over scripted DNS, with the existence lookup for np") {
    FakeResolver resolver;
    resolver.script("_dmarc.nx.example.com", status_answer(AnswerStatus::nxdomain, DnssecState::secure));
    resolver.script("_dmarc.example.com", txt_answer({"v=DMARC1; p=none; np=reject"}));
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

namespace {

// _dmarc.victim.example publishes np=reject for its non-existent names and
// sp=none for the others; nx.victim.example does not exist.
void script_victim(FakeResolver& resolver) {
    resolver.script("_dmarc.nx.victim.example", status_answer(AnswerStatus::nxdomain, DnssecState::secure));
    resolver.script("_dmarc.victim.example", txt_answer({"v=DMARC1; p=reject; sp=none; np=reject"}));
    resolver.script("_dmarc.example", status_answer(AnswerStatus::nxdomain, DnssecState::secure));
    resolver.script("nx.victim.example", status_answer(AnswerStatus::nxdomain, DnssecState::secure));
}

EvaluationInput from_nx_victim() {
    EvaluationInput input;
    input.author_domain = std::string("nx.victim.example");
    return input;
}

}  // namespace

TEST_CASE("walk lookups: the sender's long identifiers cannot spend the existence lookup, np still applies") {
    // Long names under the author's own top-level label: their walks are
    // asked (they could align), 7 new names each, far more than the budget.
    FakeResolver resolver;
    script_victim(resolver);
    WalkLookups lookups(resolver, 20ms);
    auto input = from_nx_victim();
    input.identifiers.spf_pass_domains = {"a.b.c.d.e.f.g.h.spf.example"};
    input.identifiers.dkim_pass_domains = {"a.b.c.d.e.f.g.dkim1.example", "a.b.c.d.e.f.g.dkim2.example",
                                           "a.b.c.d.e.f.g.dkim3.example", "a.b.c.d.e.f.g.dkim4.example"};
    const auto evaluation = evaluate_with_lookups(lookups, input);
    CHECK(lookups.queries() == WalkLookups::kDefaultMaxQueries);
    CHECK(resolver.started().back().name == "nx.victim.example");
    CHECK(resolver.started().back().type == 1);
    CHECK(evaluation.result == Result::fail);
    REQUIRE(evaluation.policy);
    CHECK(evaluation.policy->source == PolicySource::np);
    CHECK(evaluation.policy->published == Policy::reject);
}

TEST_CASE("walk lookups: identifiers under another top-level label cost no query") {
    // A 9-label MAIL FROM and three 8-label d= elsewhere would have been 32
    // walk queries: none of them can share victim.example's organizational
    // domain, so none is asked, and the existence lookup is made.
    FakeResolver resolver;
    script_victim(resolver);
    WalkLookups lookups(resolver, 20ms);
    auto input = from_nx_victim();
    input.identifiers.spf_pass_domains = {"a.b.c.d.e.f.g.attacker.net"};
    input.identifiers.dkim_pass_domains = {"a.b.c.d.e.f.attacker.org", "a.b.c.d.e.f.attacker.info",
                                           "a.b.c.d.e.f.attacker.biz"};
    input.identifiers.mtls = MtlsPass{"mx.attacker.net", false};
    const auto evaluation = evaluate_with_lookups(lookups, input);
    CHECK(lookups.queries() == 4);  // the author's 3 names and its existence
    CHECK(evaluation.result == Result::fail);
    REQUIRE(evaluation.policy);
    CHECK(evaluation.policy->source == PolicySource::np);
    CHECK(evaluation.policy->published == Policy::reject);
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
