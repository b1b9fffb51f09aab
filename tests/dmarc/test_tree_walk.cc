#include <catch2/catch.hpp>

#include "dmarc/tree_walk.h"
#include "fake_resolver.h"
#include "walk_fixtures.h"

using namespace mtls;
using namespace mtls::dmarc;
using namespace mtls::dmarc::testing;

TEST_CASE("tree walk: a 12-label name makes exactly the 8 queries of section 4.10") {
    const auto names = walk_domains("a.b.c.d.e.f.g.h.i.j.mail.example.com");
    CHECK(names == std::vector<std::string>{"a.b.c.d.e.f.g.h.i.j.mail.example.com", "g.h.i.j.mail.example.com",
                                            "h.i.j.mail.example.com", "i.j.mail.example.com", "j.mail.example.com",
                                            "mail.example.com", "example.com", "com"});
}

TEST_CASE("tree walk: short names walk every parent; 8 labels are cut to 7") {
    CHECK(walk_domains("mail.example.com") == std::vector<std::string>{"mail.example.com", "example.com", "com"});
    CHECK(walk_domains("com") == std::vector<std::string>{"com"});
    CHECK(walk_domains("").empty());
    const auto eight = walk_domains("a.b.c.d.e.f.g.h");
    CHECK(eight.size() == 8);
    CHECK(eight[1] == "b.c.d.e.f.g.h");
    const auto seven = walk_domains("a.b.c.d.e.f.g");
    CHECK(seven.size() == 7);
    CHECK(seven[1] == "b.c.d.e.f.g");
    CHECK(dmarc_query_name("example.com") == "_dmarc.example.com");
}

TEST_CASE("tree walk: answers classified; errors are never no record") {
    using mtls::testing::status_answer;
    CHECK(walk_answer_from(status_answer(AnswerStatus::nxdomain)).kind == WalkAnswer::Kind::no_record);
    CHECK(walk_answer_from(status_answer(AnswerStatus::nodata)).kind == WalkAnswer::Kind::no_record);
    for (const auto status :
         {AnswerStatus::servfail, AnswerStatus::bogus, AnswerStatus::timeout, AnswerStatus::error}) {
        const auto answer = walk_answer_from(status_answer(status));
        CHECK(answer.kind == WalkAnswer::Kind::error);
        CHECK(answer.error == to_string(status));
    }
    DnsAnswer records;
    records.status = AnswerStatus::records;
    records.dnssec = DnssecState::insecure;
    records.rdata = {{3, 'a', 'b', 'c', 2, 'd', 'e'}};
    const auto answer = walk_answer_from(records);
    CHECK(answer.kind == WalkAnswer::Kind::records);
    CHECK(answer.dnssec == DnssecState::insecure);
    CHECK(answer.texts == std::vector<std::string>{"abcde"});
}

TEST_CASE("tree walk: several DMARC records at one name are all discarded") {
    const auto answers = walk({}, {{"example.com", txt({"v=DMARC1; p=reject", "v=DMARC1; p=none"})},
                                   {"example.net", txt({"v=spf1 -all", "v=DMARC1; p=reject"})}});
    const auto several = outcome_at(answers, "example.com");
    CHECK(several.kind == NameOutcome::Kind::none);
    CHECK(several.note == "2 records discarded");
    const auto one = outcome_at(answers, "example.net");
    CHECK(one.kind == NameOutcome::Kind::record);
    CHECK(one.record.p == Policy::reject);
    CHECK(outcome_at(answers, "never.asked").kind == NameOutcome::Kind::error);
}

TEST_CASE("tree walk: a single v=DMARC1 record without a usable policy is still the record at its name") {
    // Section 4.10 step 2 filters on the v= tag and on the count only.
    const auto answers = walk({}, {{"dept.example.com", txt({"v=DMARC1; psd=n"})}});
    const auto outcome = outcome_at(answers, "dept.example.com");
    REQUIRE(outcome.kind == NameOutcome::Kind::record);
    CHECK(outcome.record.psd == PsdFlag::no);
    CHECK(outcome.record.no_policy == "no p and no valid rua");
}
