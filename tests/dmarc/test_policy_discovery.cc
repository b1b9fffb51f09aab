#include <catch2/catch.hpp>

#include "dmarc/policy_discovery.h"
#include "walk_fixtures.h"

using namespace mtls::dmarc;
using namespace mtls::dmarc::testing;

TEST_CASE("policy discovery: the author domain's record applies with p") {
    const auto answers =
        walk({"example.com"}, {{"example.com", txt({"v=DMARC1; p=reject; sp=none"})}, {"com", failed("timeout")}});
    const auto discovery = discover_policy("example.com", answers);
    REQUIRE(discovery.kind == PolicyDiscovery::Kind::found);
    CHECK(discovery.at_author_domain);
    CHECK(discovery.policy_domain == "example.com");
    const auto applied = applied_policy(discovery, Existence::unknown);
    CHECK(applied.source == PolicySource::p);
    CHECK(applied.published == Policy::reject);
    CHECK_FALSE(needs_existence(discovery));
}

TEST_CASE("policy discovery: several records on the walk, the organizational domain's applies") {
    const auto answers = walk({"a.b.example.com"}, {{"b.example.com", txt({"v=DMARC1; p=none"})},
                                                    {"example.com", txt({"v=DMARC1; p=reject; sp=quarantine"})}});
    const auto discovery = discover_policy("a.b.example.com", answers);
    REQUIRE(discovery.kind == PolicyDiscovery::Kind::found);
    CHECK(discovery.policy_domain == "example.com");
    CHECK(applied_policy(discovery, Existence::exists).published == Policy::quarantine);
}

TEST_CASE("policy discovery: duplicate records at the author domain are skipped, the walk goes on") {
    const auto answers =
        walk({"mail.example.com"}, {{"mail.example.com", txt({"v=DMARC1; p=none", "v=DMARC1; p=none"})},
                                    {"example.com", txt({"v=DMARC1; p=reject"})}});
    const auto discovery = discover_policy("mail.example.com", answers);
    REQUIRE(discovery.kind == PolicyDiscovery::Kind::found);
    CHECK(discovery.policy_domain == "example.com");
    CHECK(applied_policy(discovery, Existence::exists).source == PolicySource::p);
}

TEST_CASE("policy discovery: sp and np below a psd=y domain") {
    const auto answers =
        walk({"sub.example.test"}, {{"test", txt({"v=DMARC1; p=none; sp=quarantine; np=reject; psd=y"})}});
    const auto discovery = discover_policy("sub.example.test", answers);
    REQUIRE(discovery.kind == PolicyDiscovery::Kind::found);
    CHECK(discovery.policy_domain == "test");
    CHECK(discovery.organizational.domain == "example.test");
    CHECK(needs_existence(discovery));
    CHECK(applied_policy(discovery, Existence::exists).source == PolicySource::sp);
    CHECK(applied_policy(discovery, Existence::exists).published == Policy::quarantine);
    CHECK(applied_policy(discovery, Existence::nonexistent).source == PolicySource::np);
    CHECK(applied_policy(discovery, Existence::nonexistent).published == Policy::reject);
}

TEST_CASE("policy discovery: np falls back to sp, then p") {
    const auto answers = walk({"nx.example.com"}, {{"example.com", txt({"v=DMARC1; p=reject; sp=quarantine"})}});
    const auto discovery = discover_policy("nx.example.com", answers);
    CHECK_FALSE(needs_existence(discovery));
    CHECK(applied_policy(discovery, Existence::nonexistent).source == PolicySource::sp);
    const auto only_p =
        discover_policy("nx.example.com", walk({"nx.example.com"}, {{"example.com", txt({"v=DMARC1; p=reject"})}}));
    CHECK(applied_policy(only_p, Existence::nonexistent).source == PolicySource::p);
}

TEST_CASE("policy discovery: an invalid sp falls back like a missing p") {
    const auto with_rua = discover_policy(
        "sub.example.com",
        walk({"sub.example.com"}, {{"example.com", txt({"v=DMARC1; p=reject; sp=nope; rua=mailto:r@example.com"})}}));
    REQUIRE(with_rua.kind == PolicyDiscovery::Kind::found);
    CHECK(applied_policy(with_rua, Existence::exists).published == Policy::none);
    const auto without = discover_policy(
        "sub.example.com", walk({"sub.example.com"}, {{"example.com", txt({"v=DMARC1; p=reject; np=nope"})}}));
    CHECK(without.kind == PolicyDiscovery::Kind::none);
    CHECK(without.note == "invalid np and no valid rua at _dmarc.example.com");
}

TEST_CASE("policy discovery: a psd=n record without p is the organizational domain's, and DMARC does not apply") {
    // Section 4.10 step 2 stops the walk at dept.example.com; its record
    // applies, and without a valid p or rua "the Mail Receiver applies no
    // DMARC processing" (section 4.10.1): example.com's p=reject must not.
    const auto answers =
        walk({"a.dept.example.com"}, {{"dept.example.com", txt({"v=DMARC1; psd=n"})},
                                      {"example.com", txt({"v=DMARC1; p=reject; rua=mailto:d@example.com"})}});
    const auto discovery = discover_policy("a.dept.example.com", answers);
    CHECK(discovery.kind == PolicyDiscovery::Kind::none);
    CHECK(discovery.organizational.domain == "dept.example.com");
    CHECK(discovery.policy_domain == "dept.example.com");
    CHECK(discovery.note == "no p and no valid rua at _dmarc.dept.example.com");
    CHECK_FALSE(needs_existence(discovery));
}

TEST_CASE("policy discovery: an invalid p without rua at the author domain is no DMARC, not the parent's sp") {
    const auto answers = walk({"mail.example.com"}, {{"mail.example.com", txt({"v=DMARC1; p=rejct"})},
                                                     {"example.com", txt({"v=DMARC1; p=reject; sp=quarantine"})}});
    const auto discovery = discover_policy("mail.example.com", answers);
    CHECK(discovery.kind == PolicyDiscovery::Kind::none);
    CHECK(discovery.at_author_domain);
    CHECK(discovery.note == "invalid p and no valid rua at _dmarc.mail.example.com");
}

TEST_CASE("policy discovery: a psd=y record without p still makes the domain below it the organizational domain") {
    // The public suffix domain's record applies (nothing at example.test),
    // and it has no usable policy: none, though the walk used its psd=y.
    const auto answers = walk({"a.b.example.test"}, {{"test", txt({"v=DMARC1; psd=y"})}});
    const auto discovery = discover_policy("a.b.example.test", answers);
    CHECK(discovery.kind == PolicyDiscovery::Kind::none);
    CHECK(discovery.organizational.domain == "example.test");
    CHECK(discovery.policy_domain == "test");
}

TEST_CASE("policy discovery: t=y lowers the policy one level") {
    const auto answers = walk({"example.com"}, {{"example.com", txt({"v=DMARC1; p=reject; t=y"})}});
    const auto applied = applied_policy(discover_policy("example.com", answers), Existence::unknown);
    CHECK(applied.published == Policy::reject);
    CHECK(applied.effective == Policy::quarantine);
    CHECK(lowered_for_testing(Policy::quarantine) == Policy::none);
    CHECK(lowered_for_testing(Policy::none) == Policy::none);
}

TEST_CASE("policy discovery: no record anywhere is none") {
    CHECK(discover_policy("mail.example.com", walk({"mail.example.com"}, {})).kind == PolicyDiscovery::Kind::none);
}

TEST_CASE("policy discovery: errors count only on names the walk reaches") {
    // At the author domain: temperror, a stripped p=reject must not pass.
    const auto at_author = discover_policy("example.com", walk({"example.com"}, {{"example.com", failed("bogus")}}));
    CHECK(at_author.kind == PolicyDiscovery::Kind::temperror);
    CHECK(at_author.note == "bogus at _dmarc.example.com");
    // On a parent the walk reaches.
    const auto on_parent =
        discover_policy("mail.example.com", walk({"mail.example.com"}, {{"example.com", failed("servfail")}}));
    CHECK(on_parent.kind == PolicyDiscovery::Kind::temperror);
    // Past a psd=n stop: never reached.
    const auto past_stop = discover_policy(
        "a.mail.example.com", walk({"a.mail.example.com"}, {{"mail.example.com", txt({"v=DMARC1; p=reject; psd=n"})},
                                                            {"example.com", failed("timeout")},
                                                            {"com", failed("timeout")}}));
    REQUIRE(past_stop.kind == PolicyDiscovery::Kind::found);
    CHECK(past_stop.policy_domain == "mail.example.com");
    // Above a record found at the author domain: never needed for the policy.
    const auto above_author = discover_policy(
        "example.com", walk({"example.com"}, {{"example.com", txt({"v=DMARC1; p=reject"})}, {"com", failed("bogus")}}));
    CHECK(above_author.kind == PolicyDiscovery::Kind::found);
}
