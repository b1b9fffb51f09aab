// Client MX records: RDATA identical to MX (RFC 1035, section 3.3.9), a 16-bit
// preference and a domain name. As an unknown RR type the name arrives
// uncompressed (RFC 3597, section 4); anything else is malformed.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "base/expected.h"

namespace mtls {

struct ClientMx {
    std::uint16_t preference = 0;
    // Canonical host name (see domain_name.h); empty for the root name ".",
    // which says "no host may send for this domain" (as null MX, RFC 7505).
    std::string host;

    [[nodiscard]] bool is_null() const { return host.empty(); }
    bool operator==(const ClientMx&) const = default;
};

Expected<ClientMx> parse_client_mx_rdata(std::span<const std::uint8_t> rdata);

// The record in zone-file form, e.g. "10 out1.example.org." (for tools and logs).
std::string to_presentation(const ClientMx& record);

}  // namespace mtls
