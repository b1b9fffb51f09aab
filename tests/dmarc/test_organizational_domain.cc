#include <catch2/catch.hpp>

#include "dmarc/organizational_domain.h"
#include "walk_fixtures.h"

using namespace mtls::dmarc;
using namespace mtls::dmarc::testing;

TEST_CASE("organizational domain: the record with the fewest labels") {
    const auto answers = walk({"a.b.mail.example.com"}, {{"mail.example.com", txt({"v=DMARC1; p=none"})},
                                                         {"example.com", txt({"v=DMARC1; p=reject"})}});
    const auto org = organizational_domain("a.b.mail.example.com", answers);
    REQUIRE(org.determined);
    CHECK(org.domain == "example.com");
    CHECK(org.found.size() == 2);
    CHECK(org.names_reached == 5);
}

TEST_CASE("organizational domain: psd=n stops the walk at its domain") {
    const auto answers = walk({"a.b.mail.example.com"}, {{"mail.example.com", txt({"v=DMARC1; p=none; psd=n"})},
                                                         {"example.com", failed("servfail")}});
    const auto org = organizational_domain("a.b.mail.example.com", answers);
    REQUIRE(org.determined);  // the error lies past the stop: it does not count
    CHECK(org.domain == "mail.example.com");
}

TEST_CASE("organizational domain: one label below a psd=y record") {
    const auto answers = walk({"a.b.example.test"}, {{"test", txt({"v=DMARC1; p=reject; psd=y"})}});
    const auto org = organizational_domain("a.b.example.test", answers);
    REQUIRE(org.determined);
    CHECK(org.domain == "example.test");
    REQUIRE(org.psd);
    CHECK(org.psd->domain == "test");

    // psd=y at the start: the domain itself.
    const auto at_start = organizational_domain("test", answers);
    CHECK(at_start.domain == "test");
}

TEST_CASE("organizational domain: psd=y below the 7-label cut of a long name") {
    const std::string domain = "a.b.c.d.e.f.g.h.i.example.test";  // 11 labels
    const auto answers = walk({domain}, {{"f.g.h.i.example.test", txt({"v=DMARC1; p=none; psd=y"})}});
    const auto org = organizational_domain(domain, answers);
    REQUIRE(org.determined);
    CHECK(org.domain == "e.f.g.h.i.example.test");  // 7 labels, never queried
}

TEST_CASE("organizational domain: no record anywhere is the domain itself") {
    const auto org = organizational_domain("mail.example.com", walk({"mail.example.com"}, {}));
    REQUIRE(org.determined);
    CHECK(org.domain == "mail.example.com");
}

TEST_CASE("organizational domain: an error on a name the walk reaches") {
    const auto answers = walk({"mail.example.com"}, {{"example.com", failed("bogus")}});
    const auto org = organizational_domain("mail.example.com", answers);
    CHECK_FALSE(org.determined);
    CHECK(org.error == "bogus");
    CHECK(org.error_domain == "example.com");
}

TEST_CASE("organizational domain: a psd= record without p stops the walk all the same") {
    // Section 4.10 step 2: "If a single record remains and it contains a
    // psd=n or psd=y tag, stop." Nothing there asks for a valid p.
    const auto psd_n = walk({"a.dept.example.com"}, {{"dept.example.com", txt({"v=DMARC1; psd=n"})},
                                                     {"example.com", txt({"v=DMARC1; p=reject"})}});
    const auto org = organizational_domain("a.dept.example.com", psd_n);
    REQUIRE(org.determined);
    CHECK(org.domain == "dept.example.com");

    const auto psd_y = walk({"a.b.example.test"}, {{"test", txt({"v=DMARC1; psd=y"})}});
    const auto below_psd = organizational_domain("a.b.example.test", psd_y);
    REQUIRE(below_psd.determined);
    CHECK(below_psd.domain == "example.test");
    REQUIRE(below_psd.psd);
    CHECK(below_psd.psd->domain == "test");
}
