#include <catch2/catch.hpp>

#include "dmarc/alignment.h"
#include "walk_fixtures.h"

using namespace mtls::dmarc;
using namespace mtls::dmarc::testing;

TEST_CASE("alignment: strict is equality ignoring case, never a subdomain") {
    const WalkAnswers none;
    CHECK(aligned("example.com", "Example.COM", AlignmentMode::strict, none) == Aligned::yes);
    CHECK(aligned("example.com", "sub.example.com", AlignmentMode::strict, none) == Aligned::no);
    CHECK(aligned("sub.example.com", "example.com", AlignmentMode::strict, none) == Aligned::no);
    CHECK(aligned("x.com", "y.com", AlignmentMode::strict, none) == Aligned::no);
    CHECK(aligned("example.com", "", AlignmentMode::relaxed, none) == Aligned::no);
}

TEST_CASE("alignment: relaxed compares organizational domains from the walk") {
    const auto answers = walk({"example.com", "mail.example.com", "bounce.example.com", "x.com", "y.com"},
                              {{"example.com", txt({"v=DMARC1; p=reject"})}});
    CHECK(aligned("example.com", "mail.example.com", AlignmentMode::relaxed, answers) == Aligned::yes);
    CHECK(aligned("mail.example.com", "bounce.example.com", AlignmentMode::relaxed, answers) == Aligned::yes);
    // One-letter labels are labels like any other (libopendmarc's bug (a)).
    CHECK(aligned("x.com", "y.com", AlignmentMode::relaxed, answers) == Aligned::no);
}

TEST_CASE("alignment: psd=n makes a subdomain its own organizational domain") {
    const auto answers = walk(
        {"a.b.mail.example.test", "other.example.test"},
        {{"mail.example.test", txt({"v=DMARC1; p=reject; psd=n"})}, {"example.test", txt({"v=DMARC1; p=reject"})}});
    CHECK(aligned("a.b.mail.example.test", "other.example.test", AlignmentMode::relaxed, answers) == Aligned::no);
    const auto without =
        walk({"a.b.mail.example.test", "other.example.test"}, {{"example.test", txt({"v=DMARC1; p=reject"})}});
    CHECK(aligned("a.b.mail.example.test", "other.example.test", AlignmentMode::relaxed, without) == Aligned::yes);
}

TEST_CASE("alignment: a DNS error makes relaxed alignment unknown only when it could matter") {
    const auto answers =
        walk({"example.com", "mail.example.com", "other.net"}, {{"example.com", txt({"v=DMARC1; p=reject"})},
                                                                {"mail.example.com", failed("servfail")},
                                                                {"other.net", failed("timeout")}});
    CHECK(aligned("example.com", "mail.example.com", AlignmentMode::relaxed, answers) == Aligned::unknown);
    CHECK(aligned("example.com", "other.net", AlignmentMode::relaxed, answers) == Aligned::no);
}

TEST_CASE("alignment: different top-level labels never align, whatever the walks said") {
    // An organizational domain is a parent (or itself) of its domain, so
    // example.com and anything under .net share none. The identifier's walk
    // is never asked (walk_lookups.h); a failed author walk changes nothing.
    const auto answers = walk({"mail.example.com"}, {{"example.com", failed("servfail")}});
    CHECK(aligned("mail.example.com", "mail.example.net", AlignmentMode::relaxed, answers) == Aligned::no);
    CHECK(aligned("mail.example.com", "example.com", AlignmentMode::relaxed, answers) == Aligned::unknown);
    CHECK_FALSE(may_share_organizational_domain("example.com", "example.net"));
    CHECK(may_share_organizational_domain("example.com", "other.COM"));
    CHECK(may_share_organizational_domain("com", "example.com"));
}
