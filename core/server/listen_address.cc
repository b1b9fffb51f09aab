#include "server/listen_address.h"

#include <fmt/format.h>
#include <charconv>

namespace mtls {
namespace {

// 1 to 65535, digits only.
std::optional<std::uint16_t> parse_port(std::string_view text) {
    if (text.empty() || text.size() > 5 || text.find_first_not_of("0123456789") != std::string_view::npos) {
        return std::nullopt;
    }
    unsigned value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size() || value == 0 || value > 65535) {
        return std::nullopt;
    }
    return static_cast<std::uint16_t>(value);
}

bool starts_with_ipv6_tag(std::string_view address) {
    constexpr std::string_view kTag = "ipv6:";
    if (address.size() < kTag.size()) {
        return false;
    }
    for (std::size_t i = 0; i < kTag.size(); ++i) {
        const char lower =
            (address[i] >= 'A' && address[i] <= 'Z') ? static_cast<char>(address[i] - 'A' + 'a') : address[i];
        if (lower != kTag[i]) {
            return false;
        }
    }
    return true;
}

std::string_view without_brackets(std::string_view host) {
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        return host.substr(1, host.size() - 2);
    }
    return host;
}

Expected<ListenAddress> parse_unix(std::string_view text) {
    ListenAddress listen;
    listen.unix_path = text.substr(text.find(':') + 1);
    if (listen.unix_path.empty() || listen.unix_path.front() != '/') {
        return Error{"expected an absolute path after unix:"};
    }
    return listen;
}

Expected<ListenAddress> parse_inet(std::string_view text) {
    const auto rest = text.substr(text.find(':') + 1);
    const auto at = rest.find('@');
    // Without "@ADDRESS" libmilter listens on every address: never by accident.
    if (at == std::string_view::npos || at + 1 == rest.size()) {
        return Error{"expected inet:PORT@ADDRESS (e.g. inet:8894@127.0.0.1)"};
    }
    const auto port = parse_port(rest.substr(0, at));
    if (!port) {
        return Error{"expected a port from 1 to 65535 before @"};
    }
    const auto address = IpAddress::parse(without_brackets(rest.substr(at + 1)));
    if (!address) {
        return Error{"expected an IP address (not a host name) after @"};
    }
    ListenAddress listen;
    listen.inet = Endpoint{*address, *port};
    return listen;
}

}  // namespace

std::optional<Endpoint> Endpoint::parse(std::string_view address, std::string_view port) {
    // Only with the tag removed do "IPv6:2001:db8::1" and "2001:db8::1" name
    // the same connection; IpAddress::parse then canonicalises the spelling.
    if (starts_with_ipv6_tag(address)) {
        address.remove_prefix(5);
        if (address.find('.') != std::string_view::npos && address.find(':') == std::string_view::npos) {
            return std::nullopt;  // "IPv6:192.0.2.1" is no IPv6 address
        }
    }
    const auto ip = IpAddress::parse(address);
    const auto number = parse_port(port);
    if (!ip || !number) {
        return std::nullopt;
    }
    return Endpoint{*ip, *number};
}

bool Endpoint::operator==(const Endpoint& other) const {
    return address.family() == other.address.family() && address.bytes() == other.address.bytes() && port == other.port;
}

Expected<ListenAddress> parse_listen_address(std::string_view text) {
    if (text.starts_with("unix:") || text.starts_with("local:")) {
        return parse_unix(text);
    }
    if (text.starts_with("inet:") || text.starts_with("inet6:")) {
        return parse_inet(text);
    }
    return Error{"expected unix:PATH, inet:PORT@ADDRESS or inet6:PORT@ADDRESS"};
}

Expected<Endpoint> parse_endpoint(std::string_view text) {
    std::string_view host;
    std::string_view port;
    if (text.starts_with('[')) {
        const auto close = text.find("]:");
        if (close == std::string_view::npos) {
            return Error{"expected [IPv6]:PORT"};
        }
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
    } else {
        const auto colon = text.find(':');
        // "2001:db8::1:9700" could be an address and a port, or an address:
        // an IPv6 address needs its brackets.
        if (colon == std::string_view::npos || text.find(':', colon + 1) != std::string_view::npos) {
            return Error{"expected ADDRESS:PORT or [IPv6]:PORT"};
        }
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
    }
    const auto address = IpAddress::parse(host);
    const auto number = parse_port(port);
    if (!address || !number) {
        return Error{"expected an IP address (not a host name) and a port from 1 to 65535"};
    }
    return Endpoint{*address, *number};
}

std::string to_milter_connection(const ListenAddress& address) {
    if (!address.unix_path.empty()) {
        return "unix:" + address.unix_path;
    }
    // In brackets libmilter reads the address as a number (inet_addr or
    // inet_pton in mi_milteropen, libmilter/listener.c); without them it
    // passes it to the resolver library as a host name.
    const bool v4 = address.inet.address.family() == IpAddress::Family::v4;
    return fmt::format("{}:{}@[{}]", v4 ? "inet" : "inet6", address.inet.port, address.inet.address.to_string());
}

std::string to_string(const ListenAddress& address) {
    if (!address.unix_path.empty()) {
        return "unix:" + address.unix_path;
    }
    const bool v4 = address.inet.address.family() == IpAddress::Family::v4;
    return fmt::format("{}:{}@{}", v4 ? "inet" : "inet6", address.inet.port, address.inet.address.to_string());
}

std::string to_string(const Endpoint& endpoint) {
    const bool v4 = endpoint.address.family() == IpAddress::Family::v4;
    return v4 ? fmt::format("{}:{}", endpoint.address.to_string(), endpoint.port)
              : fmt::format("[{}]:{}", endpoint.address.to_string(), endpoint.port);
}

}  // namespace mtls
