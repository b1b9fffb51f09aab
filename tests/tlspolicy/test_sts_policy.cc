#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "mta_sts/sts_policy.h"

using namespace mtls;

namespace {

std::vector<std::string> pattern_texts(const StsPolicy& policy) {
    std::vector<std::string> out;
    for (const auto& pattern : policy.mx) {
        out.push_back(pattern.text());
    }
    return out;
}

}  // namespace

TEST_CASE("RFC 8461's policy example, with LF and with CRLF") {
    for (const auto* eol : {"\n", "\r\n"}) {
        std::string body;
        for (const auto* line : {"version: STSv1", "mode: enforce", "mx: mail.example.com", "mx: *.example.net",
                                 "mx: backupmx.example.com", "max_age: 604800"}) {
            body += std::string(line) + eol;
        }
        const auto policy = parse_sts_policy(body);
        REQUIRE(policy);
        CHECK(policy->mode == StsMode::enforce);
        CHECK(policy->max_age == 604800);
        CHECK_FALSE(policy->max_age_capped);
        CHECK_FALSE(policy->dnssec_expected);
        CHECK(pattern_texts(*policy) ==
              std::vector<std::string>{"mail.example.com", "*.example.net", "backupmx.example.com"});
        // The same without the final line end.
        body.resize(body.size() - std::string_view(eol).size());
        CHECK(parse_sts_policy(body));
    }
}

TEST_CASE("RFC 8461's mx example: *.example.net allows one label only") {
    const auto policy = parse_sts_policy(
        "version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\n"
        "mx: backupmx.example.com\nmax_age: 604800\n");
    REQUIRE(policy);
    const std::vector<std::string> hosts = {"mail.example.com.",   "mx1.example.net",   "a.b.example.net",
                                            "example.net",         "other.example.org", "MX1.example.net",
                                            "backupmx.example.com"};
    CHECK(allowed_mx_hosts(*policy, hosts) ==
          std::vector<std::string>{"mail.example.com", "mx1.example.net", "backupmx.example.com"});
}

TEST_CASE("draft-frickl's example policy with dnssec: yes") {
    const auto policy = parse_sts_policy(
        "version: STSv1\nmode: enforce\nmx: mail.example.com\nmax_age: 86400\n"
        "dnssec: yes\n");
    REQUIRE(policy);
    CHECK(policy->dnssec_expected);
    CHECK(parse_sts_policy("version: STSv1\nmode: enforce\nmx: m.example\nmax_age: 1\ndnssec: YES\n")->dnssec_expected);
    // Other values are undefined and ignored (draft-frickl, section 2).
    for (const auto* value : {"no", "true", "yes please", "1"}) {
        INFO(value);
        const auto other = parse_sts_policy(std::string("version: STSv1\nmode: enforce\nmx: m.example\nmax_age: 1\n"
                                                        "dnssec: ") +
                                            value + "\n");
        REQUIRE(other);
        CHECK_FALSE(other->dnssec_expected);
    }
}

TEST_CASE("max_age above one year is capped, and more than 10 digits is invalid") {
    const auto capped = parse_sts_policy("version: STSv1\nmode: testing\nmx: m.example\nmax_age: 9999999999\n");
    REQUIRE(capped);
    CHECK(capped->max_age == kMaxStsMaxAge);
    CHECK(capped->max_age_capped);
    const auto limit = parse_sts_policy("version: STSv1\nmode: testing\nmx: m.example\nmax_age: 31557600\n");
    REQUIRE(limit);
    CHECK(limit->max_age == 31557600);
    CHECK_FALSE(limit->max_age_capped);
    CHECK(parse_sts_policy("version: STSv1\nmode: testing\nmx: m.example\nmax_age: 0\n")->max_age == 0);
    for (const auto* value : {"99999999999", "-1", "1.5", "1e6", "86400s", "0x10"}) {
        INFO(value);
        CHECK_FALSE(
            parse_sts_policy(std::string("version: STSv1\nmode: testing\nmx: m.example\nmax_age: ") + value + "\n"));
    }
}

TEST_CASE("mode none needs no mx, enforce and testing do") {
    const auto none = parse_sts_policy("version: STSv1\nmode: none\nmax_age: 86400\n");
    REQUIRE(none);
    CHECK(none->mode == StsMode::none);
    CHECK(none->mx.empty());
    for (const auto* mode : {"enforce", "testing"}) {
        const auto missing = parse_sts_policy(std::string("version: STSv1\nmode: ") + mode + "\nmax_age: 86400\n");
        REQUIRE_FALSE(missing);
        CHECK_THAT(missing.error(), Catch::Contains("no mx"));
    }
}

TEST_CASE("unknown fields are ignored, the first of a repeated field counts, mx accumulates") {
    const auto policy = parse_sts_policy(
        "version: STSv1\nmode: testing\nmode: enforce\nfoo_bar: anything at all\nmx: a.example\n"
        "max_age: 100\nmax_age: 200\nmx: b.example\nmx: A.example\nversion: STSv2\n");
    REQUIRE(policy);
    CHECK(policy->mode == StsMode::testing);
    CHECK(policy->max_age == 100);
    CHECK(pattern_texts(*policy) == std::vector<std::string>{"a.example", "b.example"});
}

TEST_CASE("blank lines and spaces around fields are tolerated") {
    const auto policy = parse_sts_policy(
        "\n  version:STSv1  \r\n\r\nmode:\tenforce\n mx:  mail.example.com \n"
        "max_age: 86400\n\n\n");
    REQUIRE(policy);
    CHECK(policy->mode == StsMode::enforce);
}

TEST_CASE("invalid policies say why") {
    struct Case {
        std::string body;
        std::string why;
    };
    const std::string valid_tail = "mx: m.example\nmax_age: 86400\n";
    const std::vector<Case> cases = {
        {"", "no version"},
        {"<html><body>Not Found</body></html>", "not \"name: value\""},
        {"mode: enforce\n" + valid_tail, "no version"},
        {"version: STSv2\nmode: enforce\n" + valid_tail, "not STSv1"},
        {"version: stsv1\nmode: enforce\n" + valid_tail, "not STSv1"},
        {"version: STSv1\n" + valid_tail, "no mode"},
        {"version: STSv1\nmode: Enforce\n" + valid_tail, "mode is not"},
        {"version: STSv1\nMode: enforce\n" + valid_tail, "no mode"},  // field names are case-sensitive
        {"version: STSv1\nmode: enforce\nmx: m.example\n", "no max_age"},
        {"version: STSv1\nmode: enforce\nmx: *.*.example\nmax_age: 1\n", "invalid mx"},
        {"version: STSv1\nmode: enforce\nmx: m.example\nmax_age: 1\nthis line has no colon\n", "line 5"},
        {"version: STSv1\nmode: enforce\n: value\n" + valid_tail, "invalid field name"},
        {"version: STSv1\nmode: enforce\nkey:\n" + valid_tail, "empty value"},
        {"version: STSv1\nmode: enforce\nkey: a\x01z\n" + valid_tail, "control character"},
        {"version: STSv1\rmode: enforce\r" + valid_tail, "control character"},  // a bare CR ends no line
    };
    for (const auto& c : cases) {
        INFO(c.body);
        const auto policy = parse_sts_policy(c.body);
        REQUIRE_FALSE(policy);
        CHECK_THAT(policy.error(), Catch::Contains(c.why));
    }
}

TEST_CASE("a policy above 64 KiB is invalid, one at the limit is read") {
    const std::string head = "version: STSv1\nmode: enforce\nmx: m.example\nmax_age: 86400\n";
    std::string body = head + "x: " + std::string(kMaxStsPolicyBytes - head.size() - 4, 'y') + "\n";
    REQUIRE(body.size() == kMaxStsPolicyBytes);
    CHECK(parse_sts_policy(body));
    body += "\n";
    const auto too_big = parse_sts_policy(body);
    REQUIRE_FALSE(too_big);
    CHECK_THAT(too_big.error(), Catch::Contains("64 KiB"));
    CHECK_FALSE(parse_sts_policy(std::string(2 * 1024 * 1024, 'a')));
}
