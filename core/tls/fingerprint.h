// SHA-256 digests of a client certificate and of its public key, the two
// things a DANE-EE TLSA record can name (RFC 6698 selectors 0 and 1). MTAs
// hand them over as hex, with or without colons (Postfix's ccert_fingerprint
// and ccert_pubkey_fingerprint, Sendmail's {cert_fp}).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "base/hex.h"

namespace mtls {

using Sha256Digest = std::array<std::uint8_t, 32>;

struct Fingerprints {
    std::optional<Sha256Digest> certificate;  // over the DER certificate (selector 0)
    std::optional<Sha256Digest> public_key;   // over the DER SubjectPublicKeyInfo (selector 1)

    [[nodiscard]] bool empty() const { return !certificate && !public_key; }
    friend bool operator==(const Fingerprints&, const Fingerprints&) = default;
};

// "AB:CD:...", "abcd..." -> the digest. std::nullopt for anything that is not
// exactly 32 bytes of hex (an MD5 or SHA-1 fingerprint, a typo, garbage).
std::optional<Sha256Digest> parse_sha256_fingerprint(std::string_view text);

// SHA-256 of bytes (a DER certificate or SubjectPublicKeyInfo, or the full
// association data of a TLSA record). std::nullopt only when OpenSSL fails.
std::optional<Sha256Digest> sha256_of(std::span<const std::uint8_t> data);

}  // namespace mtls
