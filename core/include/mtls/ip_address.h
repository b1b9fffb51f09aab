// Client addresses and the CIDR lists that exempt some of them (ignore-hosts).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mtls/expected.h"

struct sockaddr;

namespace mtls {

class IpAddress {
public:
    enum class Family { v4, v6 };

    // IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) become IPv4, so that a
    // dual-stack socket and an IPv4 rule agree.
    static std::optional<IpAddress> parse(std::string_view text);
    static std::optional<IpAddress> from_sockaddr(const sockaddr* address);

    [[nodiscard]] Family family() const { return family_; }
    [[nodiscard]] std::string to_string() const;
    // The address as 4 or 16 bytes, network order.
    [[nodiscard]] const std::array<std::uint8_t, 16>& bytes() const { return bytes_; }

private:
    static IpAddress unmapped(const std::array<std::uint8_t, 16>& v6);

    Family family_ = Family::v4;
    std::array<std::uint8_t, 16> bytes_{};
};

class IpPrefix {
public:
    // "192.0.2.0/24", "2001:db8::/32", or a bare address (a host prefix).
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
