// Certificate names against Client MX hosts: exact, or RFC 9525 wildcards
// when the operator allows them.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "tls/name_match.h"

using namespace mtls;

TEST_CASE("exact matching", "[name_match]") {
    for (const bool wildcards : {false, true}) {
        CHECK(certificate_name_matches("out1.example.org", "out1.example.org", wildcards));
        CHECK_FALSE(certificate_name_matches("out1.example.org", "out2.example.org", wildcards));
        CHECK_FALSE(certificate_name_matches("out1.example.org", "example.org", wildcards));
        CHECK_FALSE(certificate_name_matches("example.org", "out1.example.org", wildcards));
        CHECK_FALSE(certificate_name_matches("out1.example.org", "out1.example.org.evil", wildcards));
        CHECK_FALSE(certificate_name_matches("", "out1.example.org", wildcards));
        CHECK_FALSE(certificate_name_matches("out1.example.org", "", wildcards));
    }
}

TEST_CASE("inputs must already be canonical: no case folding here", "[name_match]") {
    CHECK_FALSE(certificate_name_matches("OUT1.example.org", "out1.example.org", false));
    CHECK_FALSE(certificate_name_matches("out1.example.org", "Out1.example.org", true));
    CHECK_FALSE(certificate_name_matches("out1.example.org.", "out1.example.org", false));
}

TEST_CASE("wildcards are off unless allowed", "[name_match]") {
    CHECK_FALSE(certificate_name_matches("*.example.org", "a.example.org", false));
    CHECK_FALSE(certificate_name_matches("*.example.org", "*.example.org", false));
}

TEST_CASE("an allowed wildcard stands for exactly one left-most label", "[name_match]") {
    CHECK(certificate_name_matches("*.example.org", "a.example.org", true));
    CHECK(certificate_name_matches("*.example.org", "out-1.example.org", true));
    CHECK_FALSE(certificate_name_matches("*.example.org", "example.org", true));
    CHECK_FALSE(certificate_name_matches("*.example.org", "a.b.example.org", true));
    CHECK_FALSE(certificate_name_matches("*.example.org", "a.example.org.evil", true));
    CHECK_FALSE(certificate_name_matches("*.example.org", "aexample.org", true));
    CHECK_FALSE(certificate_name_matches("*.example.org", ".example.org", true));
    CHECK_FALSE(certificate_name_matches("*.example.org", "a.notexample.org", true));
    CHECK_FALSE(certificate_name_matches("*.b.example.org", "a.example.org", true));
}

TEST_CASE("a wildcard directly under a top-level domain never matches", "[name_match]") {
    CHECK_FALSE(certificate_name_matches("*.org", "example.org", true));
    CHECK_FALSE(certificate_name_matches("*.org", "a.org", true));
    CHECK_FALSE(certificate_name_matches("*.org", "org", true));
    CHECK_FALSE(certificate_name_matches("*.", "org", true));
    CHECK_FALSE(certificate_name_matches("*", "org", true));
}

TEST_CASE("first_matching_host follows the order of the hosts", "[name_match]") {
    const std::vector<std::string> hosts = {"out1.example.org", "out2.example.org", "out3.example.org"};

    const std::vector<std::string> presented = {"out3.example.org", "out2.example.org"};
    CHECK(first_matching_host(presented, hosts, false) == std::optional<std::string>("out2.example.org"));

    const std::vector<std::string> reversed_hosts = {"out3.example.org", "out2.example.org", "out1.example.org"};
    CHECK(first_matching_host(presented, reversed_hosts, false) == std::optional<std::string>("out3.example.org"));

    const std::vector<std::string> wildcard = {"*.example.org"};
    CHECK(first_matching_host(wildcard, hosts, true) == std::optional<std::string>("out1.example.org"));
    CHECK_FALSE(first_matching_host(wildcard, hosts, false).has_value());

    const std::vector<std::string> none = {"mail.example.net"};
    CHECK_FALSE(first_matching_host(none, hosts, true).has_value());
    CHECK_FALSE(first_matching_host({}, hosts, true).has_value());
    CHECK_FALSE(first_matching_host(presented, {}, true).has_value());
}
