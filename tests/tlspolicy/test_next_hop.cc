#include <catch2/catch.hpp>

#include "next_hop.h"
#include "policy_decision.h"

using namespace mtls;
using namespace mtls::tlspolicy;

TEST_CASE("a domain next hop is canonical, and port 25 is the same") {
    for (const auto* key : {"example.com", "Example.COM.", "example.com:25"}) {
        INFO(key);
        const auto hop = parse_next_hop(key);
        REQUIRE(hop);
        CHECK(hop->kind == NextHopKind::domain);
        CHECK(hop->domain == "example.com");
        CHECK_FALSE(decide_without_lookup(key, hop));
    }
}

TEST_CASE("bracketed next hops, with or without a port, are NOTFOUND") {
    for (const auto* key : {"[mx.example.com]", "[mx.example.com]:25", "[192.0.2.1]:587", "[ipv6:2001:db8::1]"}) {
        INFO(key);
        const auto hop = parse_next_hop(key);
        REQUIRE(hop);
        CHECK(hop->kind == NextHopKind::bracketed);
        const auto decision = decide_without_lookup(key, hop);
        REQUIRE(decision);
        CHECK(reply_payload(decision->reply) == "NOTFOUND ");
        CHECK(decision->basis == Basis::not_mx_delivery);
    }
}

TEST_CASE("a domain on another port is not MX delivery to port 25: NOTFOUND") {
    const auto hop = parse_next_hop("example.com:587");
    REQUIRE(hop);
    CHECK(hop->kind == NextHopKind::other_port);
    const auto decision = decide_without_lookup("example.com:587", hop);
    REQUIRE(decision);
    CHECK(reply_payload(decision->reply) == "NOTFOUND ");
}

TEST_CASE("Postfix's parent-domain lookups (\".example.com\") are NOTFOUND, never PERM") {
    // After NOTFOUND for mail.example.com Postfix asks for .example.com
    // (smtp_tls_policy_maps works like transport(5)); a PERM would defer
    // the mail as a table lookup error.
    for (const auto* key : {".example.com", ".com", ".EXAMPLE.com"}) {
        INFO(key);
        const auto hop = parse_next_hop(key);
        REQUIRE(hop);
        CHECK(hop->kind == NextHopKind::parent_domain);
        const auto decision = decide_without_lookup(key, hop);
        REQUIRE(decision);
        CHECK(reply_payload(decision->reply) == "NOTFOUND ");
        CHECK(decision->basis == Basis::not_mx_delivery);
    }
    for (const auto* key : {".", "..", "..com", ".-bad-.example", ".exa mple.com"}) {
        INFO(key);
        CHECK_FALSE(parse_next_hop(key));
    }
}

TEST_CASE("keys that are no next hop get PERM with the reason") {
    for (const auto* key : {"", "[", "[]", "[mx.example", "[mx.example]x", "[mx.example]:", "[mx.example]:99999",
                            "example.com:", "example.com:smtp", "exa mple.com", "-bad-.example", "192.0.2.1", "a..b",
                            "example.com:25:25"}) {
        INFO(key);
        const auto hop = parse_next_hop(key);
        REQUIRE_FALSE(hop);
        const auto decision = decide_without_lookup(key, hop);
        REQUIRE(decision);
        CHECK(decision->reply.status == SocketmapStatus::perm);
        CHECK(decision->basis == Basis::invalid_next_hop);
    }
}
