// Helpers shared by the libFuzzer targets: splitting an input into fields and
// failing loudly when a property does not hold.
//
// Fields are separated by NUL bytes. Everything a milter receives from the
// MTA (reverse-path, HELO name, macro values, header values) arrives as a C
// string, so NUL can never occur inside one of them, and seed files stay
// readable: printf 'a\0b' > seed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace mtls::fuzz {

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

// At most max_fields fields; the last one keeps any further NULs.
inline std::vector<std::string_view> split_fields(std::string_view input, std::size_t max_fields) {
    std::vector<std::string_view> fields;
    while (fields.size() + 1 < max_fields) {
        const auto nul = input.find('\0');
        if (nul == std::string_view::npos) {
            break;
        }
        fields.push_back(input.substr(0, nul));
        input.remove_prefix(nul + 1);
    }
    fields.push_back(input);
    fields.resize(max_fields);  // missing fields are empty
    return fields;
}

// Printable, so that the report of a failed property is one readable line.
inline std::string printable(std::string_view text) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (u >= 0x20 && u < 0x7f && c != '\\') {
            out.push_back(c);
        } else {
            out += "\\x";
            out.push_back(kHex[u >> 4]);
            out.push_back(kHex[u & 0xf]);
        }
    }
    return out;
}

[[noreturn]] inline void property_failed(const char* file, int line, const char* condition, std::string_view context) {
    std::fprintf(stderr, "%s:%d: property violated: %s\n  context: %s\n", file, line, condition,
                 printable(context).c_str());
    std::abort();
}

// The shape every canonical host name has (domain_name.h), checked
// independently of the code that produced it: lower-case LDH labels of 1 to 63
// characters, no leading or trailing hyphen, at most 253 characters, and a
// top label that is not all digits.
inline bool looks_canonical_host(std::string_view name) {
    if (name.empty() || name.size() > 253) {
        return false;
    }
    std::size_t start = 0;
    std::string_view label;
    while (start <= name.size()) {
        auto dot = name.find('.', start);
        if (dot == std::string_view::npos) {
            dot = name.size();
        }
        label = name.substr(start, dot - start);
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
            return false;
        }
        for (const char c : label) {
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
                return false;
            }
        }
        start = dot + 1;
    }
    return label.find_first_not_of("0123456789") != std::string_view::npos;
}

}  // namespace mtls::fuzz

// Aborts (libFuzzer then saves the input) when a property does not hold.
#define FUZZ_CHECK(condition, context)                                              \
    do {                                                                            \
        if (!(condition)) {                                                         \
            ::mtls::fuzz::property_failed(__FILE__, __LINE__, #condition, context); \
        }                                                                           \
    } while (false)
