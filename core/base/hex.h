// Hexadecimal digits, as xtext (RFC 3461), fingerprints and TLSA records
// write bytes.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace mtls {

// 0-15 for a hex digit of either case, -1 for anything else.
constexpr int hex_value(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

// Lower-case hex without separators, as TLSA presentation format writes it.
inline std::string to_hex(std::span<const std::uint8_t> bytes) {
    static constexpr std::string_view kDigits = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (const std::uint8_t byte : bytes) {
        out.push_back(kDigits[byte >> 4]);
        out.push_back(kDigits[byte & 0x0f]);
    }
    return out;
}

}  // namespace mtls
