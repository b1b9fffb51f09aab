// Client addresses and the CIDR lists that exempt some of them (ignore-hosts).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/socket.h>

#include "base/expected.h"

struct sockaddr;

namespace mtls {

class IpAddress {
public:
    enum class Family { v4, v6 };

    // IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) become IPv4, so that a
    // dual-stack socket and an IPv4 rule agree.
    static std::optional<IpAddress> parse(std::string_view text);
    static std::optional<IpAddress> from_sockaddr(const sockaddr* address);

    // A sockaddr_in or sockaddr_in6 for bind(2); returns its length.
    socklen_t to_sockaddr(std::uint16_t port, sockaddr_storage& out) const;

    [[nodiscard]] Family family() const { return family_; }
    [[nodiscard]] std::string to_string() const;
    // The address as 4 or 16 bytes, network order.
    [[nodiscard]] const std::array<std::uint8_t, 16>& bytes() const { return bytes_; }

private:
    friend class IpPrefix;  // keeps an IPv6 network in the mapped block as IPv6
    static IpAddress unmapped(const std::array<std::uint8_t, 16>& v6);

    Family family_ = Family::v4;
    std::array<std::uint8_t, 16> bytes_{};
};

class IpPrefix {
public:
    // "192.0.2.0/24", "2001:db8::/32", or a bare address (a host prefix).
    // A prefix written in IPv6 notation counts its length in 128 bits, also
    // for an IPv4-mapped address: "::ffff:10.0.0.0/104" is 10.0.0.0/8 and
    // "::ffff:0:0/96" is every IPv4 address. An IPv6 prefix shorter than
    // /96 that holds the mapped block ::ffff:0:0/96 (e.g. "::ffff:0:0/80",
    // "::/0") holds every IPv4 address as well as its IPv6 addresses.
    static Expected<IpPrefix> parse(std::string_view text);
    [[nodiscard]] bool contains(const IpAddress& address) const;
    [[nodiscard]] std::string to_string() const;

private:
    IpAddress network_;
    unsigned length_ = 0;
};

class HostList {
public:
    // Comma- and/or space-separated prefixes; an empty text is an empty list.
    static Expected<HostList> parse(std::string_view text);
    [[nodiscard]] bool contains(const IpAddress& address) const;
    [[nodiscard]] std::string to_string() const;

private:
    std::vector<IpPrefix> prefixes_;
};

}  // namespace mtls
