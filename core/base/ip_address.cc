#include "base/ip_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include <fmt/format.h>

namespace mtls {
namespace {

constexpr std::array<std::uint8_t, 12> kMappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
constexpr unsigned kMappedPrefixBits = 96;

// ::ffff:a.b.c.d for an IPv4 address (its first four bytes).
std::array<std::uint8_t, 16> mapped_bytes(const std::array<std::uint8_t, 16>& v4) {
    std::array<std::uint8_t, 16> v6{};
    std::copy(kMappedPrefix.begin(), kMappedPrefix.end(), v6.begin());
    std::copy(v4.begin(), v4.begin() + 4, v6.begin() + 12);
    return v6;
}

// The first ``length`` bits of a and n are equal.
bool same_leading_bits(const std::array<std::uint8_t, 16>& a, const std::array<std::uint8_t, 16>& n, unsigned length) {
    const unsigned full_bytes = length / 8;
    if (!std::equal(a.begin(), a.begin() + full_bytes, n.begin())) {
        return false;
    }
    const unsigned rest = length % 8;
    if (rest == 0) {
        return true;
    }
    const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
    return (a[full_bytes] & mask) == (n[full_bytes] & mask);
}

}  // namespace

IpAddress IpAddress::unmapped(const std::array<std::uint8_t, 16>& v6) {
    IpAddress address;
    if (std::equal(kMappedPrefix.begin(), kMappedPrefix.end(), v6.begin())) {
        address.family_ = Family::v4;
        std::copy(v6.begin() + 12, v6.end(), address.bytes_.begin());
    } else {
        address.family_ = Family::v6;
        address.bytes_ = v6;
    }
    return address;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
    // inet_pton reads a C string: an embedded NUL would cut the text short.
    if (text.empty() || text.size() > INET6_ADDRSTRLEN || text.find('\0') != std::string_view::npos) {
        return std::nullopt;
    }
    const std::string input(text);
    IpAddress address;
    if (inet_pton(AF_INET, input.c_str(), address.bytes_.data()) == 1) {
        address.family_ = Family::v4;
        return address;
    }
    std::array<std::uint8_t, 16> v6{};
    if (inet_pton(AF_INET6, input.c_str(), v6.data()) == 1) {
        return unmapped(v6);
    }
    return std::nullopt;
}

socklen_t IpAddress::to_sockaddr(std::uint16_t port, sockaddr_storage& out) const {
    out = sockaddr_storage{};
    if (family_ == Family::v4) {
        sockaddr_in v4{};
        v4.sin_family = AF_INET;
        v4.sin_port = htons(port);
        std::memcpy(&v4.sin_addr, bytes_.data(), 4);
        std::memcpy(&out, &v4, sizeof v4);
        return sizeof v4;
    }
    sockaddr_in6 v6{};
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(port);
    std::memcpy(&v6.sin6_addr, bytes_.data(), 16);
    std::memcpy(&out, &v6, sizeof v6);
    return sizeof v6;
}

std::optional<IpAddress> IpAddress::from_sockaddr(const sockaddr* address) {
    if (address == nullptr) {
        return std::nullopt;
    }
    if (address->sa_family == AF_INET) {
        sockaddr_in v4{};
        std::memcpy(&v4, address, sizeof v4);
        IpAddress result;
        result.family_ = Family::v4;
        std::memcpy(result.bytes_.data(), &v4.sin_addr, 4);
        return result;
    }
    if (address->sa_family == AF_INET6) {
        sockaddr_in6 v6{};
        std::memcpy(&v6, address, sizeof v6);
        std::array<std::uint8_t, 16> bytes{};
        std::memcpy(bytes.data(), &v6.sin6_addr, 16);
        return unmapped(bytes);
    }
    return std::nullopt;
}

std::string IpAddress::to_string() const {
    std::array<char, INET6_ADDRSTRLEN> buffer{};
    const int af = family_ == Family::v4 ? AF_INET : AF_INET6;
    if (inet_ntop(af, bytes_.data(), buffer.data(), buffer.size()) == nullptr) {
        return "?";
    }
    return buffer.data();
}

Expected<IpPrefix> IpPrefix::parse(std::string_view text) {
    const auto slash = text.find('/');
    const auto address_text = text.substr(0, slash);
    const auto address = IpAddress::parse(address_text);
    if (!address) {
        return Error{fmt::format("'{}' is not an IP address or CIDR prefix", text)};
    }
    // IPv6 notation counts 128 bits, also when the address is IPv4-mapped
    // (which IpAddress::parse has already turned into IPv4).
    const bool v6_notation = address_text.find(':') != std::string_view::npos;
    const unsigned max_length = v6_notation ? 128 : 32;
    unsigned length = max_length;
    if (slash != std::string_view::npos) {
        const auto digits = text.substr(slash + 1);
        const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
        if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || length > max_length) {
            return Error{fmt::format("'{}' has an invalid prefix length", text)};
        }
    }
    IpPrefix prefix;
    prefix.network_ = *address;
    prefix.length_ = length;
    if (v6_notation && address->family() == IpAddress::Family::v4) {
        if (length >= kMappedPrefixBits) {
            // Inside ::ffff:0:0/96: the IPv4 prefix of the remaining bits.
            prefix.length_ = length - kMappedPrefixBits;
        } else {
            // Wider than the mapped block: an IPv6 prefix, which holds every
            // IPv4 address (contains() compares their mapped form).
            prefix.network_.family_ = IpAddress::Family::v6;
            prefix.network_.bytes_ = mapped_bytes(address->bytes());
        }
    }
    return prefix;
}

bool IpPrefix::contains(const IpAddress& address) const {
    if (address.family() == network_.family()) {
        return same_leading_bits(address.bytes(), network_.bytes(), length_);
    }
    // IPv4 clients are IPv4-mapped IPv6 addresses as far as an IPv6 prefix is
    // concerned: only a prefix shorter than /96 can hold the mapped block,
    // and it then holds all of it. An IPv4 prefix never holds an IPv6 address.
    if (address.family() == IpAddress::Family::v4) {
        return same_leading_bits(mapped_bytes(address.bytes()), network_.bytes(), length_);
    }
    return false;
}

std::string IpPrefix::to_string() const {
    return fmt::format("{}/{}", network_.to_string(), length_);
}

Expected<HostList> HostList::parse(std::string_view text) {
    HostList list;
    std::size_t pos = 0;
    while (pos < text.size()) {
        const auto start = text.find_first_not_of(", \t\r\n", pos);
        if (start == std::string_view::npos) {
            break;
        }
        auto end = text.find_first_of(", \t\r\n", start);
        if (end == std::string_view::npos) {
            end = text.size();
        }
        auto prefix = IpPrefix::parse(text.substr(start, end - start));
        if (!prefix) {
            return Error{prefix.error()};
        }
        list.prefixes_.push_back(std::move(prefix).value());
        pos = end;
    }
    return list;
}

bool HostList::contains(const IpAddress& address) const {
    return std::any_of(prefixes_.begin(), prefixes_.end(),
                       [&](const IpPrefix& prefix) { return prefix.contains(address); });
}

std::string HostList::to_string() const {
    std::vector<std::string> parts;
    parts.reserve(prefixes_.size());
    for (const auto& prefix : prefixes_) {
        parts.push_back(prefix.to_string());
    }
    return fmt::format("{}", fmt::join(parts, ", "));
}

}  // namespace mtls
