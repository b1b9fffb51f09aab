#include <catch2/catch.hpp>

#include "mail/authentication_results_reader.h"

using namespace mtls;

TEST_CASE("A-R reader: OpenDKIM's and an SPF filter's fields") {
    const auto field = read_authentication_results(
        " mx.example.org;\n\tdkim=pass (2048-bit key; secure) header.d=example.com header.i=@example.com "
        "header.b=\"abcd1234\";\n\tspf=pass smtp.mailfrom=bounce@example.com");
    REQUIRE(field);
    CHECK(field->authserv_id == "mx.example.org");
    REQUIRE(field->results.size() == 2);
    CHECK(field->results[0].method == "dkim");
    CHECK(field->results[0].result == "pass");
    CHECK(field->results[0].property("header", "d") == "example.com");
    CHECK(field->results[0].property("Header", "I") == "@example.com");
    CHECK(field->results[0].property("header", "b") == "abcd1234");
    CHECK(field->results[1].property("smtp", "mailfrom") == "bounce@example.com");
    CHECK_FALSE(field->results[1].property("smtp", "helo"));
}

TEST_CASE("A-R reader: OpenDKIM's unquoted header.b may hold '/' and '+'") {
    // OpenDKIM 2.11 as Debian 12 ships it: header.b is the start of the
    // base64 signature, unquoted.
    const auto field = read_authentication_results(
        " mx.inbox.test;\n\tdkim=pass (2048-bit key; unprotected) header.d=secure.test header.i=@secure.test "
        "header.a=rsa-sha256 header.s=sel header.b=q/4+Zx/w");
    REQUIRE(field);
    REQUIRE(field->results.size() == 1);
    CHECK(field->results[0].result == "pass");
    CHECK(field->results[0].property("header", "d") == "secure.test");
    CHECK(field->results[0].property("header", "b") == "q/4+Zx/w");
}

TEST_CASE("A-R reader: RFC 8601 appendix B forms") {
    const auto none = read_authentication_results("example.org 1; none");
    REQUIRE(none);
    CHECK(none->results.empty());
    const auto versions = read_authentication_results(
        "example.com; spf/1 = pass (x) smtp . mailfrom = example.net; sender-id=pass header.from=example.net; "
        "dkim=pass reason=\"good signature\" header.i=@mail-router.example.net");
    REQUIRE(versions);
    REQUIRE(versions->results.size() == 3);
    CHECK(versions->results[0].method == "spf");
    CHECK(versions->results[0].property("smtp", "mailfrom") == "example.net");
    CHECK(versions->results[2].reason == "good signature");
    const auto ours =
        read_authentication_results("mx.example.org; mtls=pass (DNSSEC secure) smtp.helo=out1.example.org");
    REQUIRE(ours);
    CHECK(ours->results[0].property("smtp", "helo") == "out1.example.org");
    const auto quoted = read_authentication_results("\"mx.example.org\"; dkim=PASS header.d=Example.COM;");
    REQUIRE(quoted);
    CHECK(quoted->authserv_id == "mx.example.org");
    CHECK(quoted->results[0].result == "pass");
    const auto job = read_authentication_results("mx.example.org/1A2B3C; dkim=pass header.d=example.com");
    REQUIRE(job);
    CHECK(job->authserv_id == "mx.example.org/1A2B3C");
}

TEST_CASE("A-R reader: malformed fields are ignored whole") {
    CHECK_FALSE(read_authentication_results(""));
    CHECK_FALSE(read_authentication_results("mx.example.org"));
    CHECK_FALSE(read_authentication_results("mx.example.org; dkim"));
    CHECK_FALSE(read_authentication_results("mx.example.org; dkim=pass header.d"));
    CHECK_FALSE(read_authentication_results("mx.example.org; dkim=pass (unterminated header.d=x.com"));
    CHECK_FALSE(read_authentication_results("mx.example.org; dkim=pass header.d=\"x.com"));
    CHECK_FALSE(read_authentication_results("mx.example.org; dkim=pass header.d=x.com junk"));
    CHECK_FALSE(read_authentication_results("(only a comment)"));
}

TEST_CASE("A-R reader: trusted authserv-ids") {
    const std::vector<std::string> trusted = {"mx.example.org", "filter.example.org."};
    CHECK(is_trusted_authserv_id("MX.example.org", trusted));
    CHECK(is_trusted_authserv_id("mx.example.org.", trusted));
    CHECK(is_trusted_authserv_id("filter.example.org", trusted));
    CHECK(is_trusted_authserv_id("mx.example.org/1A2B3C", trusted));
    CHECK_FALSE(is_trusted_authserv_id("evil.example", trusted));
    CHECK_FALSE(is_trusted_authserv_id("mx.example.org.evil", trusted));
    CHECK_FALSE(is_trusted_authserv_id("", trusted));
    CHECK_FALSE(is_trusted_authserv_id("/x", trusted));
}
