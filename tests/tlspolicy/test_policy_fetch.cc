// What an HTTPS response must look like to carry an MTA-STS policy
// (RFC 8461, section 3.3); the transfer itself is exercised end to end in
// tests/integration/test_tlspolicy.py.
#include <catch2/catch.hpp>

#include <string>

#include "mta_sts/policy_fetch.h"
#include "mta_sts/sts_policy.h"

using namespace mtls;

TEST_CASE("a 200 text/plain response is a policy body") {
    for (const auto* type : {"text/plain", "TEXT/Plain", "text/plain; charset=utf-8", " text/plain ;charset=x"}) {
        INFO(type);
        const auto body = accept_policy_response({200, type, "version: STSv1\n", false});
        REQUIRE(body);
        CHECK(*body == "version: STSv1\n");
    }
}

TEST_CASE("redirects and other statuses are refused, never followed") {
    for (const long status : {301L, 302L, 303L, 307L, 308L}) {
        const auto body = accept_policy_response({status, "text/plain", "", false});
        REQUIRE_FALSE(body);
        CHECK(body.error().find("redirects are not followed") != std::string::npos);
    }
    for (const long status : {0L, 201L, 204L, 404L, 500L}) {
        const auto body = accept_policy_response({status, "text/plain", "version: STSv1\n", false});
        REQUIRE_FALSE(body);
        CHECK(body.error().find("HTTP status") == 0);
    }
}

TEST_CASE("a body of another media type is refused") {
    for (const auto* type : {"", "text/html", "text/plainx", "application/octet-stream", "text/plain\x01"}) {
        INFO(type);
        const auto body = accept_policy_response({200, type, "version: STSv1\n", false});
        REQUIRE_FALSE(body);
        CHECK(body.error().find("not text/plain") != std::string::npos);
    }
}

TEST_CASE("a body beyond 64 KiB is refused, whatever else is right") {
    const auto truncated = accept_policy_response({200, "text/plain", std::string(100, 'x'), true});
    REQUIRE_FALSE(truncated);
    CHECK(truncated.error().find("larger than 65536 bytes") != std::string::npos);
    const auto oversized = accept_policy_response({200, "text/plain", std::string(kMaxStsPolicyBytes + 1, 'x'), false});
    REQUIRE_FALSE(oversized);
    const auto at_limit = accept_policy_response({200, "text/plain", std::string(kMaxStsPolicyBytes, 'x'), false});
    CHECK(at_limit);
}

TEST_CASE("a fetch without an address for mta-sts.<domain> fails without connecting") {
    const auto body = fetch_sts_policy("example.com", {}, PolicyFetchSettings{});
    REQUIRE_FALSE(body);
    CHECK(body.error() == "mta-sts.example.com has no usable address");
}
