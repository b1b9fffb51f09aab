#include "tls/fingerprint.h"

#include <openssl/evp.h>

namespace mtls {

std::optional<Sha256Digest> parse_sha256_fingerprint(std::string_view text) {
    Sha256Digest digest{};
    std::size_t count = 0;
    std::size_t pos = 0;
    // Either every byte is separated by a colon or none is: "AB:CDEF" is a typo.
    const bool colons = text.find(':') != std::string_view::npos;
    while (pos < text.size()) {
        if (count == digest.size() || pos + 2 > text.size()) {
            return std::nullopt;
        }
        const int high = hex_value(text[pos]);
        const int low = hex_value(text[pos + 1]);
        if (high < 0 || low < 0) {
            return std::nullopt;
        }
        digest[count++] = static_cast<std::uint8_t>((high << 4) | low);
        pos += 2;
        if (colons && pos < text.size()) {
            if (text[pos] != ':') {
                return std::nullopt;
            }
            ++pos;
            if (pos == text.size()) {
                return std::nullopt;  // a trailing colon
            }
        }
    }
    if (count != digest.size()) {
        return std::nullopt;
    }
    return digest;
}

std::optional<Sha256Digest> sha256_of(std::span<const std::uint8_t> data) {
    Sha256Digest digest{};
    unsigned int length = 0;
    if (EVP_Digest(data.data(), data.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1 ||
        length != digest.size()) {
        return std::nullopt;
    }
    return digest;
}

}  // namespace mtls
