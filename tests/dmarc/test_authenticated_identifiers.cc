#include <catch2/catch.hpp>

#include "dmarc/authenticated_identifiers.h"

using namespace mtls::dmarc;

namespace {
const std::vector<std::string> kTrusted = {"mx.example.org"};
}

TEST_CASE("identifiers: DKIM, SPF and mtls from trusted fields") {
    const std::string_view headers[] = {
        "mx.example.org; mtls=pass (DNSSEC secure) smtp.mailfrom=Example.COM",
        "mx.example.org; dkim=pass header.d=example.com header.i=@example.com; dkim=fail header.d=fail.test; "
        "dkim=pass header.i=user@sign.example.net",
        "mx.example.org; spf=pass smtp.mailfrom=bounce@example.com; spf=pass smtp.mailfrom=other.test",
    };
    const auto ids = authenticated_identifiers(headers, kTrusted, "Example.com");
    CHECK(ids.dkim_pass_domains == std::vector<std::string>{"example.com", "sign.example.net"});
    CHECK(ids.spf_pass_domains == std::vector<std::string>{"example.com"});
    REQUIRE(ids.mtls);
    CHECK(ids.mtls->domain == "example.com");
    CHECK_FALSE(ids.mtls->from_helo);
}

TEST_CASE("identifiers: untrusted, malformed and hostile fields count for nothing") {
    const std::string_view headers[] = {
        "evil.example; dkim=pass header.d=example.com; spf=pass smtp.mailfrom=example.com",
        "mx.example.org; dkim=pass header.d=example.net(.example.com",
        "mx.example.org; dkim=pass header.d=\"exa mple.com\"",
        "mx.example.org; mtls=fail smtp.mailfrom=example.com",
        "mx.example.org; spf=pass smtp.helo=example.com",
    };
    const auto ids = authenticated_identifiers(headers, kTrusted, "example.com");
    CHECK(ids.dkim_pass_domains.empty());
    CHECK(ids.spf_pass_domains.empty());
    CHECK_FALSE(ids.mtls);
}

TEST_CASE("identifiers: mtls via HELO for the null sender") {
    const std::string_view headers[] = {"mx.example.org; mtls=pass smtp.helo=out1.example.org"};
    const auto ids = authenticated_identifiers(headers, kTrusted, "");
    REQUIRE(ids.mtls);
    CHECK(ids.mtls->domain == "out1.example.org");
    CHECK(ids.mtls->from_helo);
}

TEST_CASE("identifiers: the null sender's SPF identity is postmaster@<HELO>") {
    const std::string_view headers[] = {
        "mx.example.org; spf=pass smtp.helo=Out1.Example.org",
        "mx.example.org; spf=pass smtp.mailfrom=postmaster@out2.example.org",
    };
    CHECK(authenticated_identifiers(headers, kTrusted, "", "out1.example.org").spf_pass_domains ==
          std::vector<std::string>{"out1.example.org"});
    CHECK(authenticated_identifiers(headers, kTrusted, "", "out2.example.org").spf_pass_domains ==
          std::vector<std::string>{"out2.example.org"});
    CHECK(authenticated_identifiers(headers, kTrusted, "", "").spf_pass_domains.empty());
    // With a MAIL FROM domain, smtp.helo is another identity.
    CHECK(
        authenticated_identifiers(headers, kTrusted, "out1.example.org", "out1.example.org").spf_pass_domains.empty());
}
