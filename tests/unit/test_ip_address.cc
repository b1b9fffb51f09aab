// Client addresses and the ignore-hosts CIDR list.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>
#include <string>

#include "base/ip_address.h"

using namespace mtls;
using namespace std::string_literals;

namespace {

IpAddress ip(std::string_view text) {
    auto address = IpAddress::parse(text);
    INFO("address: " << std::string(text));
    REQUIRE(address.has_value());
    return *address;
}

IpPrefix prefix(std::string_view text) {
    auto parsed = IpPrefix::parse(text);
    INFO("prefix: " << std::string(text) << (parsed ? "" : " error: " + parsed.error()));
    REQUIRE(parsed.has_value());
    return parsed.value();
}

}  // namespace

TEST_CASE("IPv4 and IPv6 addresses parse", "[ip_address]") {
    const auto v4 = ip("192.0.2.1");
    CHECK(v4.family() == IpAddress::Family::v4);
    CHECK(v4.to_string() == "192.0.2.1");
    CHECK(v4.bytes()[0] == 192);
    CHECK(v4.bytes()[3] == 1);

    const auto v6 = ip("2001:DB8::1");
    CHECK(v6.family() == IpAddress::Family::v6);
    CHECK(v6.to_string() == "2001:db8::1");
    CHECK(v6.bytes()[0] == 0x20);
    CHECK(v6.bytes()[15] == 1);

    CHECK(ip("::1").family() == IpAddress::Family::v6);
    CHECK(ip("::").to_string() == "::");
}

TEST_CASE("IPv4-mapped IPv6 addresses become IPv4", "[ip_address]") {
    const auto mapped = ip("::ffff:127.0.0.1");
    CHECK(mapped.family() == IpAddress::Family::v4);
    CHECK(mapped.to_string() == "127.0.0.1");
    CHECK(prefix("127.0.0.0/8").contains(mapped));
    CHECK_FALSE(prefix("::1").contains(mapped));
    // IPv4-compatible (::a.b.c.d, deprecated) is not mapped.
    CHECK(ip("::127.0.0.1").family() == IpAddress::Family::v6);
}

TEST_CASE("malformed addresses are refused", "[ip_address]") {
    for (const auto& text :
         {""s, "abc"s, "1.2.3"s, "1.2.3.4.5"s, "256.1.1.1"s, "1.2.3.4 "s, " 1.2.3.4"s, "1.2.3.4/24"s, "[192.0.2.1]"s,
          "2001:db8:::1"s, "2001:db8::g"s, "1.2.3.4\n"s, std::string(1000, '1'), "1.2.3.4\0.5.6.7"s, "::1\0junk"s}) {
        INFO("address: '" << text << "'");
        CHECK_FALSE(IpAddress::parse(text).has_value());
    }
}

TEST_CASE("prefix lengths", "[ip_address]") {
    SECTION("0.0.0.0/0 holds every IPv4 address and no IPv6 address") {
        const auto all_v4 = prefix("0.0.0.0/0");
        CHECK(all_v4.contains(ip("1.2.3.4")));
        CHECK(all_v4.contains(ip("255.255.255.255")));
        CHECK_FALSE(all_v4.contains(ip("2001:db8::1")));
        CHECK_FALSE(all_v4.contains(ip("::1")));
    }
    SECTION("::/0 holds every address: IPv4 clients are ::ffff:a.b.c.d to it") {
        const auto all = prefix("::/0");
        CHECK(all.contains(ip("2001:db8::1")));
        CHECK(all.contains(ip("1.2.3.4")));
        CHECK(all.contains(ip("::ffff:1.2.3.4")));
    }
    SECTION("/32 and /128 are single hosts, like a bare address") {
        CHECK(prefix("192.0.2.1/32").contains(ip("192.0.2.1")));
        CHECK_FALSE(prefix("192.0.2.1/32").contains(ip("192.0.2.2")));
        CHECK(prefix("192.0.2.1").contains(ip("192.0.2.1")));
        CHECK_FALSE(prefix("192.0.2.1").contains(ip("192.0.2.0")));
        CHECK(prefix("2001:db8::1/128").contains(ip("2001:db8::1")));
        CHECK_FALSE(prefix("2001:db8::1/128").contains(ip("2001:db8::2")));
        CHECK(prefix("::1").contains(ip("::1")));
        CHECK_FALSE(prefix("::1").contains(ip("::")));
    }
    SECTION("byte-aligned prefixes") {
        CHECK(prefix("10.0.0.0/8").contains(ip("10.255.255.255")));
        CHECK_FALSE(prefix("10.0.0.0/8").contains(ip("11.0.0.0")));
        CHECK(prefix("2001:db8::/32").contains(ip("2001:db8:ffff::1")));
        CHECK_FALSE(prefix("2001:db8::/32").contains(ip("2001:db9::1")));
    }
    SECTION("/20 is not byte-aligned") {
        const auto p = prefix("192.0.16.0/20");
        CHECK(p.contains(ip("192.0.16.0")));
        CHECK(p.contains(ip("192.0.31.255")));
        CHECK_FALSE(p.contains(ip("192.0.32.0")));
        CHECK_FALSE(p.contains(ip("192.0.15.255")));
    }
    SECTION("/121 is not byte-aligned") {
        const auto p = prefix("2001:db8::/121");
        CHECK(p.contains(ip("2001:db8::")));
        CHECK(p.contains(ip("2001:db8::7f")));
        CHECK_FALSE(p.contains(ip("2001:db8::80")));
        CHECK_FALSE(p.contains(ip("2001:db8::1:0")));
    }
    SECTION("/1 and /31") {
        CHECK(prefix("128.0.0.0/1").contains(ip("200.1.1.1")));
        CHECK_FALSE(prefix("128.0.0.0/1").contains(ip("127.255.255.255")));
        CHECK(prefix("192.0.2.2/31").contains(ip("192.0.2.3")));
        CHECK_FALSE(prefix("192.0.2.2/31").contains(ip("192.0.2.4")));
    }
    SECTION("host bits set in the network do not matter") {
        CHECK(prefix("192.0.2.77/24").contains(ip("192.0.2.1")));
    }
}

TEST_CASE("IPv4-mapped IPv6 prefixes count their length in 128 bits", "[ip_address]") {
    SECTION("/96 and longer: the IPv4 prefix of length - 96") {
        const auto ten = prefix("::ffff:10.0.0.0/104");
        CHECK(ten.to_string() == "10.0.0.0/8");
        CHECK(ten.contains(ip("10.200.0.1")));
        CHECK(ten.contains(ip("::ffff:10.1.2.3")));
        CHECK_FALSE(ten.contains(ip("11.0.0.1")));
        CHECK_FALSE(ten.contains(ip("::a00:1")));  // IPv4-compatible, not mapped
        CHECK_FALSE(ten.contains(ip("2001:db8::1")));

        const auto all_v4 = prefix("::ffff:0:0/96");
        CHECK(all_v4.to_string() == "0.0.0.0/0");
        CHECK(all_v4.contains(ip("1.2.3.4")));
        CHECK(all_v4.contains(ip("255.255.255.255")));
        CHECK_FALSE(all_v4.contains(ip("::1")));
        CHECK_FALSE(all_v4.contains(ip("::fffe:ffff:ffff")));  // just below the mapped block
        CHECK(prefix("0:0:0:0:0:ffff::/96").to_string() == "0.0.0.0/0");

        const auto host = prefix("::ffff:192.0.2.7");
        CHECK(host.to_string() == "192.0.2.7/32");
        CHECK(host.contains(ip("192.0.2.7")));
        CHECK_FALSE(host.contains(ip("192.0.2.8")));
        CHECK(prefix("::ffff:192.0.2.7/128").to_string() == "192.0.2.7/32");
        CHECK(prefix("::ffff:192.0.2.0/120").to_string() == "192.0.2.0/24");
        CHECK(prefix("::ffff:192.0.2.128/121").contains(ip("192.0.2.200")));
        CHECK_FALSE(prefix("::ffff:192.0.2.128/121").contains(ip("192.0.2.100")));
        CHECK(prefix("::ffff:128.0.0.0/97").contains(ip("200.1.1.1")));
        CHECK_FALSE(prefix("::ffff:128.0.0.0/97").contains(ip("100.1.1.1")));
    }
    SECTION("the old reading: /8 of a mapped address is ::/8, not 10.0.0.0/8") {
        const auto eight = prefix("::ffff:10.0.0.0/8");
        CHECK(eight.contains(ip("::1")));
        CHECK(eight.contains(ip("10.0.0.1")));
        CHECK(eight.contains(ip("11.0.0.1")));  // ::ffff:0:0/96 lies inside ::/8
        CHECK_FALSE(eight.contains(ip("2001:db8::1")));
    }
    SECTION("shorter than /96: all of IPv4, plus the IPv6 addresses of the prefix") {
        const auto p80 = prefix("::ffff:0:0/80");  // the addresses of ::/80
        CHECK(p80.contains(ip("1.2.3.4")));
        CHECK(p80.contains(ip("::1")));
        CHECK(p80.contains(ip("::fffe:0:1")));
        CHECK_FALSE(p80.contains(ip("0:0:0:0:1::1")));
        CHECK_FALSE(p80.contains(ip("2001:db8::1")));
        CHECK(p80.to_string() == "::ffff:0.0.0.0/80");

        const auto p95 = prefix("::ffff:0:0/95");  // ::fffe:0:0 to ::ffff:ffff:ffff
        CHECK(p95.contains(ip("8.8.8.8")));
        CHECK(p95.contains(ip("::fffe:0:1")));
        CHECK_FALSE(p95.contains(ip("::fffd:0:1")));
        CHECK_FALSE(p95.contains(ip("::1")));

        // The same sets written without a mapped address.
        CHECK(prefix("::/80").contains(ip("1.2.3.4")));
        CHECK(prefix("::fffe:0:0/95").contains(ip("1.2.3.4")));
    }
    SECTION("IPv6 prefixes outside the mapped block hold no IPv4 address") {
        CHECK_FALSE(prefix("2001:db8::/32").contains(ip("1.2.3.4")));
        CHECK_FALSE(prefix("::/96").contains(ip("1.2.3.4")));  // the IPv4-compatible block
        CHECK_FALSE(prefix("::1").contains(ip("127.0.0.1")));
        CHECK_FALSE(prefix("::ffff:0:0:0/96").contains(ip("1.2.3.4")));
        CHECK_FALSE(prefix("8000::/1").contains(ip("1.2.3.4")));
    }
    SECTION("lengths are checked against 128 in IPv6 notation and 32 in IPv4") {
        CHECK(IpPrefix::parse("::ffff:10.0.0.0/128").has_value());
        CHECK(IpPrefix::parse("::ffff:10.0.0.0/0").has_value());
        CHECK_FALSE(IpPrefix::parse("::ffff:10.0.0.0/129").has_value());
        CHECK_FALSE(IpPrefix::parse("10.0.0.0/104").has_value());
    }
    SECTION("in a HostList") {
        const auto list = HostList::parse("::ffff:10.0.0.0/104, ::1");
        REQUIRE(list);
        CHECK(list->contains(ip("10.9.9.9")));
        CHECK(list->contains(ip("::ffff:10.9.9.9")));
        CHECK_FALSE(list->contains(ip("192.168.0.1")));
        CHECK_FALSE(list->contains(ip("127.0.0.1")));
        CHECK(list->to_string() == "10.0.0.0/8, ::1/128");
    }
}

TEST_CASE("malformed prefixes are refused with a reason", "[ip_address]") {
    for (const auto* text : {"1.2.3.4/33", "::1/129", "abc", "1.2.3.4/", "1.2.3.4/x", "1.2.3.4/-1", "1.2.3.4/8x",
                             "1.2.3.4/ 8", "/8", "", "1.2.3.4//8", "1.2.3.4/8/8", "1.2.3.4/99999999999999999999"}) {
        INFO("prefix: '" << text << "'");
        const auto parsed = IpPrefix::parse(text);
        CHECK_FALSE(parsed.has_value());
        if (!parsed) {
            CHECK_FALSE(parsed.error().empty());
        }
    }
}

TEST_CASE("prefix to_string", "[ip_address]") {
    CHECK(prefix("10.0.0.0/8").to_string() == "10.0.0.0/8");
    CHECK(prefix("::1").to_string() == "::1/128");
    CHECK(prefix("192.0.2.1").to_string() == "192.0.2.1/32");
}

TEST_CASE("HostList parses comma- and space-separated prefixes", "[ip_address]") {
    const auto list = HostList::parse("127.0.0.0/8, ::1,10.0.0.0/8  192.168.0.0/16\t2001:db8::/32");
    REQUIRE(list);
    CHECK(list->contains(ip("127.0.0.1")));
    CHECK(list->contains(ip("::ffff:127.0.0.2")));
    CHECK(list->contains(ip("::1")));
    CHECK(list->contains(ip("10.1.2.3")));
    CHECK(list->contains(ip("192.168.5.5")));
    CHECK(list->contains(ip("2001:db8::25")));
    CHECK_FALSE(list->contains(ip("192.0.2.1")));
    CHECK_FALSE(list->contains(ip("::2")));
    CHECK(list->to_string() == "127.0.0.0/8, ::1/128, 10.0.0.0/8, 192.168.0.0/16, 2001:db8::/32");

    const auto with_empties = HostList::parse(" , ,127.0.0.1,, ");
    REQUIRE(with_empties);
    CHECK(with_empties->contains(ip("127.0.0.1")));
    CHECK_FALSE(with_empties->contains(ip("127.0.0.2")));
}

TEST_CASE("an empty HostList holds nothing", "[ip_address]") {
    for (const auto* text : {"", " ", ", ,"}) {
        const auto list = HostList::parse(text);
        REQUIRE(list);
        CHECK_FALSE(list->contains(ip("127.0.0.1")));
        CHECK_FALSE(list->contains(ip("::1")));
        CHECK(list->to_string().empty());
    }
}

TEST_CASE("HostList refuses any bad entry", "[ip_address]") {
    for (const auto* text : {"127.0.0.0/8, bogus", "1.2.3.4/33", "10.0.0.0/8;192.168.0.0/16", "localhost"}) {
        INFO("list: '" << text << "'");
        const auto list = HostList::parse(text);
        CHECK_FALSE(list.has_value());
        if (!list) {
            CHECK_FALSE(list.error().empty());
        }
    }
}

TEST_CASE("from_sockaddr", "[ip_address]") {
    SECTION("sockaddr_in") {
        sockaddr_in v4{};
        v4.sin_family = AF_INET;
        v4.sin_port = htons(25);
        REQUIRE(inet_pton(AF_INET, "192.0.2.7", &v4.sin_addr) == 1);
        const auto address = IpAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&v4));
        REQUIRE(address);
        CHECK(address->family() == IpAddress::Family::v4);
        CHECK(address->to_string() == "192.0.2.7");
    }
    SECTION("sockaddr_in6") {
        sockaddr_in6 v6{};
        v6.sin6_family = AF_INET6;
        v6.sin6_port = htons(25);
        REQUIRE(inet_pton(AF_INET6, "2001:db8::7", &v6.sin6_addr) == 1);
        const auto address = IpAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&v6));
        REQUIRE(address);
        CHECK(address->family() == IpAddress::Family::v6);
        CHECK(address->to_string() == "2001:db8::7");
    }
    SECTION("sockaddr_in6 with a mapped IPv4 address") {
        sockaddr_in6 v6{};
        v6.sin6_family = AF_INET6;
        REQUIRE(inet_pton(AF_INET6, "::ffff:192.0.2.8", &v6.sin6_addr) == 1);
        const auto address = IpAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&v6));
        REQUIRE(address);
        CHECK(address->family() == IpAddress::Family::v4);
        CHECK(address->to_string() == "192.0.2.8");
    }
    SECTION("nullptr and other families") {
        CHECK_FALSE(IpAddress::from_sockaddr(nullptr).has_value());
        sockaddr_un local{};
        local.sun_family = AF_UNIX;
        std::strcpy(local.sun_path, "/run/x.sock");
        CHECK_FALSE(IpAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&local)).has_value());
    }
}
