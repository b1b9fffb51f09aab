// Addresses the programs listen on, parsed by one set of rules: the milter
// socket (socket), the policy socket (policy-socket) and the metrics endpoint
// (metrics). Only literal IP addresses: a socket we bind at start-up must not
// depend on a name lookup, and libmilter would otherwise resolve a host name
// itself and listen wherever it pointed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/expected.h"
#include "base/ip_address.h"

namespace mtls {

// An IP address and a port: where we listen, or where a client connects from.
struct Endpoint {
    IpAddress address;
    std::uint16_t port = 0;

    // From text as Postfix writes a client in its milter macros and policy
    // requests ("192.0.2.1", "2001:db8::1", "IPv6:2001:db8::1"; port
    // "54321"). std::nullopt for anything else, including port 0.
    static std::optional<Endpoint> parse(std::string_view address, std::string_view port);
    // Not defaulted: IpAddress has no operator== of its own.
    bool operator==(const Endpoint& other) const;
};

// Where a socket we bind ourselves listens: a unix path or an IP endpoint.
struct ListenAddress {
    std::string unix_path;  // non-empty for unix:PATH
    Endpoint inet;          // otherwise
};

// "unix:/PATH" (also "local:/PATH", libmilter's other spelling),
// "inet:PORT@ADDRESS" or "inet6:PORT@ADDRESS", the address a literal IPv4 or
// IPv6 address, IPv6 also in brackets. The error says what was expected.
Expected<ListenAddress> parse_listen_address(std::string_view text);

// "IPv4:PORT" or "[IPv6]:PORT" (brackets required), a literal address and a
// port from 1 to 65535.
Expected<Endpoint> parse_endpoint(std::string_view text);

// libmilter's form for smfi_setconn(): "unix:/PATH", "inet:PORT@[192.0.2.1]"
// or "inet6:PORT@[2001:db8::1]". libmilter reads a bracketed address as a
// number and looks anything else up as a host name (mi_milteropen in
// libmilter/listener.c). Also how a listen address is logged.
std::string to_milter_connection(const ListenAddress& address);

// "192.0.2.1:9700" or "[2001:db8::1]:9700".
std::string to_string(const Endpoint& endpoint);

// As the option is written, for messages: "unix:/PATH", "inet:PORT@192.0.2.1",
// "inet6:PORT@2001:db8::1".
std::string to_string(const ListenAddress& address);

}  // namespace mtls
