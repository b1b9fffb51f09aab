#include "base/address_scope.h"

#include <algorithm>
#include <array>
#include <span>
#include <string_view>
#include <vector>

#include <fmt/format.h>

namespace mtls {
namespace {

// IANA IPv4 Special-Purpose Address Registry entries not marked globally
// reachable, plus multicast (RFC 5771) and the limited broadcast address.
// 192.0.0.9 and 192.0.0.10 are marked reachable but sit in 192.0.0.0/24,
// where no mail server lives: the whole /24 stays out.
constexpr std::array<std::string_view, 16> kSpecialV4 = {
    "0.0.0.0/8",           // "this network" (RFC 791)
    "10.0.0.0/8",          // private (RFC 1918)
    "100.64.0.0/10",       // shared address space (RFC 6598)
    "127.0.0.0/8",         // loopback
    "169.254.0.0/16",      // link-local (RFC 3927)
    "172.16.0.0/12",       // private
    "192.0.0.0/24",        // IETF protocol assignments (RFC 6890)
    "192.0.2.0/24",        // TEST-NET-1 (RFC 5737)
    "192.88.99.0/24",      // 6to4 relay anycast, deprecated (RFC 7526)
    "192.168.0.0/16",      // private
    "198.18.0.0/15",       // benchmarking (RFC 2544)
    "198.51.100.0/24",     // TEST-NET-2
    "203.0.113.0/24",      // TEST-NET-3
    "224.0.0.0/4",         // multicast
    "240.0.0.0/4",         // reserved (RFC 1112)
    "255.255.255.255/32",  // limited broadcast
};

// Only global unicast can be global at all: this leaves out ::, ::1,
// 100::/64, 64:ff9b:1::/48, fc00::/7, fe80::/10, fec0::/10, ff00::/8 and the
// unassigned space.
constexpr std::string_view kGlobalUnicast = "2000::/3";

// Inside 2000::/3, the blocks that are not global.
constexpr std::array<std::string_view, 4> kSpecialV6 = {
    "2001::/23",      // IETF protocol assignments (RFC 2928), except kReachableV6
    "2001:db8::/32",  // documentation (RFC 3849)
    "3fff::/20",      // documentation (RFC 9637)
    "5f00::/16",      // SRv6 SIDs (RFC 9602)
};

// Inside 2001::/23, what the registry marks globally reachable. Teredo
// (2001::/32) is "N/A" there: it tunnels to an address we cannot judge.
constexpr std::array<std::string_view, 7> kReachableV6 = {
    "2001:1::1/128",    // port control protocol anycast (RFC 7723)
    "2001:1::2/128",    // TURN anycast (RFC 8155)
    "2001:1::3/128",    // DNS-SD service registration anycast (RFC 9665)
    "2001:3::/32",      // AMT (RFC 7450)
    "2001:4:112::/48",  // AS112-v6 (RFC 7535)
    "2001:20::/28",     // ORCHIDv2 (RFC 7343)
    "2001:30::/28",     // drone remote ID DETs (RFC 9374)
};

// These carry an IPv4 address, judged in their place.
constexpr std::string_view kTranslation = "64:ff9b::/96";  // RFC 6052, bytes 12-15
constexpr std::string_view kSixToFour = "2002::/16";       // RFC 3056, bytes 2-5

std::vector<IpPrefix> parse_all(std::span<const std::string_view> texts) {
    std::vector<IpPrefix> prefixes;
    prefixes.reserve(texts.size());
    for (const auto text : texts) {
        prefixes.push_back(IpPrefix::parse(text).value());  // constants: a typo fails every test
    }
    return prefixes;
}

bool in_any(const IpAddress& address, const std::vector<IpPrefix>& prefixes) {
    return std::any_of(prefixes.begin(), prefixes.end(),
                       [&](const IpPrefix& prefix) { return prefix.contains(address); });
}

bool in(const IpAddress& address, std::string_view prefix) {
    return IpPrefix::parse(prefix).value().contains(address);
}

bool is_global_v4(const IpAddress& address) {
    static const std::vector<IpPrefix> special = parse_all(kSpecialV4);
    return !in_any(address, special);
}

// The IPv4 address in bytes [offset, offset + 4) of an IPv6 address.
bool embedded_v4_is_global(const IpAddress& address, std::size_t offset) {
    const auto& b = address.bytes();
    const auto v4 =
        IpAddress::parse(fmt::format("{}.{}.{}.{}", b[offset], b[offset + 1], b[offset + 2], b[offset + 3]));
    return v4 && is_global_v4(*v4);
}

}  // namespace

bool is_global_address(const IpAddress& address) {
    if (address.family() == IpAddress::Family::v4) {
        return is_global_v4(address);
    }
    static const std::vector<IpPrefix> special = parse_all(kSpecialV6);
    static const std::vector<IpPrefix> reachable = parse_all(kReachableV6);
    if (in(address, kTranslation)) {
        return embedded_v4_is_global(address, 12);
    }
    if (!in(address, kGlobalUnicast)) {
        return false;
    }
    if (in(address, kSixToFour)) {
        return embedded_v4_is_global(address, 2);
    }
    return !in_any(address, special) || in_any(address, reachable);
}

}  // namespace mtls
