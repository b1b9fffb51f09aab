#include <catch2/catch.hpp>

#include "mta_sts/mx_pattern.h"

using namespace mtls;

namespace {

bool matches(std::string_view pattern, std::string_view host) {
    const auto parsed = parse_mx_pattern(pattern);
    REQUIRE(parsed);
    return mx_pattern_matches(parsed.value(), host);
}

}  // namespace

TEST_CASE("an exact mx pattern matches that host only, in any case, with or without a trailing dot") {
    CHECK(matches("mail.example.com", "mail.example.com"));
    CHECK(matches("mail.example.com", "MAIL.Example.COM."));
    CHECK(matches("Mail.Example.Com.", "mail.example.com"));
    CHECK_FALSE(matches("mail.example.com", "mail2.example.com"));
    CHECK_FALSE(matches("mail.example.com", "a.mail.example.com"));
    CHECK_FALSE(matches("mail.example.com", "example.com"));
}

TEST_CASE("a wildcard covers exactly one left-most label (RFC 8461, section 4.1)") {
    CHECK(matches("*.example.net", "mx1.example.net"));
    CHECK(matches("*.example.net", "MX1.EXAMPLE.NET."));
    CHECK_FALSE(matches("*.example.net", "example.net"));
    CHECK_FALSE(matches("*.example.net", "a.b.example.net"));
    CHECK_FALSE(matches("*.example.net", "mx1.example.net.evil"));
    CHECK_FALSE(matches("*.example.net", "mx1example.net"));
    CHECK_FALSE(matches("*.example.net", "mx1.notexample.net"));
}

TEST_CASE("an mx host that is no host name matches nothing") {
    CHECK_FALSE(matches("*.example.net", ".example.net"));
    CHECK_FALSE(matches("*.example.net", "a..example.net"));
    CHECK_FALSE(matches("*.example.net", "a b.example.net"));
    CHECK_FALSE(matches("mail.example.com", ""));
}

TEST_CASE("mx patterns are canonical and reject misplaced wildcards") {
    const auto wildcard = parse_mx_pattern("*.Example.NET.");
    REQUIRE(wildcard);
    CHECK(wildcard->wildcard);
    CHECK(wildcard->text() == "*.example.net");
    for (const auto* bad : {"*", "*.", "a*.example.net", "*.*.example.net", "mail.*.example.net", "*example.net", "",
                            ".example.net", "mail..example.net", "mail_x.example.net", "192.0.2.1"}) {
        INFO(bad);
        CHECK_FALSE(parse_mx_pattern(bad));
    }
}
