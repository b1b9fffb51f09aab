// base/address_scope.h: which client addresses certificate discovery may
// connect back to without being told (RFC 6890's registries).
#include <catch2/catch.hpp>

#include <string>

#include "base/address_scope.h"

using namespace mtls;

namespace {

bool global(const std::string& text) {
    const auto address = IpAddress::parse(text);
    REQUIRE(address);
    return is_global_address(*address);
}

}  // namespace

TEST_CASE("special-purpose IPv4 addresses are not global") {
    const auto address =
        GENERATE(as<std::string>{}, "0.0.0.0", "0.1.2.3", "10.0.0.1", "100.64.0.1", "100.127.255.254", "127.0.0.1",
                 "169.254.169.254", "172.16.0.1", "172.31.255.255", "192.0.0.1", "192.0.2.25", "192.88.99.1",
                 "192.168.1.1", "198.18.0.1", "198.19.255.255", "198.51.100.7", "203.0.113.9", "224.0.0.1", "239.1.2.3",
                 "240.0.0.1", "255.255.255.255");
    INFO(address);
    CHECK_FALSE(global(address));
}

TEST_CASE("ordinary IPv4 addresses are global, also next to special blocks") {
    const auto address =
        GENERATE(as<std::string>{}, "1.1.1.1", "8.8.8.8", "9.255.255.255", "11.0.0.0", "100.63.255.255", "100.128.0.0",
                 "126.255.255.255", "128.0.0.1", "169.253.0.1", "172.15.255.255", "172.32.0.0", "192.0.1.1",
                 "192.0.3.1", "192.167.1.1", "198.17.255.255", "198.20.0.0", "203.0.114.1", "223.255.255.255");
    INFO(address);
    CHECK(global(address));
}

TEST_CASE("special-purpose IPv6 addresses are not global") {
    const auto address =
        GENERATE(as<std::string>{}, "::", "::1", "100::1", "64:ff9b:1::1", "2001::1", "2001:0:4136:e378::1",
                 "2001:2::1", "2001:10::1", "2001:db8::25", "3fff::1", "5f00::1", "fc00::1", "fd12:3456::1", "fe80::1",
                 "fec0::1", "ff02::1", "4000::1", "::2");
    INFO(address);
    CHECK_FALSE(global(address));
}

TEST_CASE("global unicast IPv6 is global, with the registry's reachable exceptions") {
    const auto address = GENERATE(as<std::string>{}, "2a00:1450:4001::1", "2600::1", "2001:200::1", "2001:1::1",
                                  "2001:3::1", "2001:4:112::1", "2001:20::1", "2001:30::1", "3ffe::1");
    INFO(address);
    CHECK(global(address));
}

TEST_CASE("addresses that carry IPv4 are judged by it") {
    CHECK(global("::ffff:8.8.8.8"));
    CHECK_FALSE(global("::ffff:10.0.0.1"));
    CHECK_FALSE(global("::ffff:127.0.0.1"));
    CHECK(global("64:ff9b::808:808"));        // 8.8.8.8 through NAT64
    CHECK_FALSE(global("64:ff9b::a00:1"));    // 10.0.0.1 through NAT64
    CHECK(global("2002:808:808::1"));         // 6to4 of 8.8.8.8
    CHECK_FALSE(global("2002:c0a8:101::1"));  // 6to4 of 192.168.1.1
}
