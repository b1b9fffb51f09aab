#include "postfix/policy_delegation.h"

#include <fmt/format.h>
#include <limits>
#include <utility>

namespace mtls {
namespace {

constexpr std::string_view kCertificateFingerprint = "ccert_fingerprint";
constexpr std::string_view kPublicKeyFingerprint = "ccert_pubkey_fingerprint";

bool is_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// Why a non-empty fingerprint is not a SHA-256 one, in words that point the
// operator at smtpd_tls_fingerprint_digest.
std::string why_unusable(std::string_view value) {
    std::size_t digits = 0;
    for (const char c : value) {
        if (is_hex(c)) {
            ++digits;
        } else if (c != ':') {
            return "not a hex digest";
        }
    }
    if (digits % 2 != 0) {
        return "not a hex digest";
    }
    const std::size_t bytes = digits / 2;
    switch (bytes) {
        case 16: return "a 16-byte digest (MD5?), not SHA-256";
        case 20: return "a 20-byte digest (SHA-1?), not SHA-256";
        case 32: return "a malformed 32-byte digest";
        default: return fmt::format("a {}-byte digest, not SHA-256", bytes);
    }
}

void take_fingerprint(const PolicyRequest& request, std::string_view name, std::optional<Sha256Digest>& digest,
                      std::vector<UnusableFingerprint>& unusable) {
    const auto value = request.get(name);
    // Empty means no certificate (or no TLS): Postfix sends the attribute
    // regardless.
    if (!value || value->empty()) {
        return;
    }
    digest = parse_sha256_fingerprint(*value);
    if (!digest) {
        unusable.push_back({std::string(name), std::string(*value), why_unusable(*value)});
    }
}

}  // namespace

std::optional<std::string_view> PolicyRequest::get(std::string_view name) const {
    for (auto it = attributes.rbegin(); it != attributes.rend(); ++it) {
        if (it->name == name) {
            return it->value;
        }
    }
    return std::nullopt;
}

PolicyRequestReader::PolicyRequestReader(PolicyReaderLimits limits) : limits_(limits) {}

void PolicyRequestReader::append(std::string_view bytes) {
    if (failed()) {
        return;  // nothing after an error is ever read
    }
    if (consumed_ > 0) {
        buffer_.erase(0, consumed_);
        consumed_ = 0;
    }
    buffer_.append(bytes);
}

void PolicyRequestReader::fail(std::string reason) {
    error_ = std::move(reason);
    buffer_.clear();
    buffer_.shrink_to_fit();
    consumed_ = 0;
    current_ = {};
}

bool PolicyRequestReader::over_limit(std::string_view line, bool complete) {
    // Which limit the line broke is decided by the byte at which it broke
    // it, as if the bytes arrived one by one. Unfinished lines are judged
    // too (waiting for the LF would let a peer make us buffer without limit),
    // and without this rule the error would depend on where the reads cut
    // the stream.
    constexpr std::size_t kNever = std::numeric_limits<std::size_t>::max();
    const std::size_t bytes = line.size() + (complete ? 1 : 0);  // the LF counts
    // A line may take one byte more for a CR before its LF, so the limit is
    // certainly broken at byte max_line + 2, and a complete line of
    // max_line + 1 bytes breaks it (at its LF, the same byte) unless the
    // extra one is that CR.
    std::size_t line_breaks_at = kNever;
    if (line.size() >= limits_.max_line + 2 ||
        (complete && line.size() == limits_.max_line + 1 && line.back() != '\r')) {
        line_breaks_at = limits_.max_line + 2;
    }
    std::size_t request_breaks_at = kNever;
    if (current_size_ + bytes > limits_.max_request) {
        request_breaks_at = limits_.max_request - current_size_ + 1;
    }
    if (line_breaks_at == kNever && request_breaks_at == kNever) {
        return false;
    }
    if (line_breaks_at <= request_breaks_at) {
        fail(fmt::format("a line longer than {} bytes", limits_.max_line));
    } else {
        fail(fmt::format("a request longer than {} bytes", limits_.max_request));
    }
    return true;
}

std::optional<PolicyRequest> PolicyRequestReader::next() {
    while (!failed()) {
        const std::string_view rest = std::string_view(buffer_).substr(consumed_);
        const auto newline = rest.find('\n');
        if (newline == std::string_view::npos) {
            over_limit(rest, false);
            return std::nullopt;
        }
        std::string_view line = rest.substr(0, newline);
        if (over_limit(line, true)) {
            return std::nullopt;
        }
        consumed_ += newline + 1;
        current_size_ += newline + 1;
        // Postfix ends lines with LF alone; a CR before it comes from people
        // testing by hand, and no attribute value can end in one.
        if (!line.empty() && line.back() == '\r') {
            line.remove_suffix(1);
        }
        if (line.empty()) {
            current_size_ = 0;
            return std::exchange(current_, PolicyRequest{});
        }
        if (line.find('\0') != std::string_view::npos) {
            fail("a NUL byte in a line");
        } else if (const auto equals = line.find('='); equals == std::string_view::npos) {
            fail("a line without '='");
        } else if (equals == 0) {
            fail("an attribute without a name");
        } else if (current_.attributes.size() >= limits_.max_attributes) {
            fail(fmt::format("a request with more than {} attributes", limits_.max_attributes));
        } else {
            current_.attributes.push_back({std::string(line.substr(0, equals)), std::string(line.substr(equals + 1))});
        }
    }
    return std::nullopt;
}

PolicyClientTls client_tls_from(const PolicyRequest& request) {
    PolicyClientTls result;
    const auto address = request.get("client_address");
    const auto port = request.get("client_port");
    if (address && port && !address->empty() && !port->empty()) {
        result.client = PolicyClientTls::Client{std::string(*address), std::string(*port)};
    }
    take_fingerprint(request, kCertificateFingerprint, result.fingerprints.certificate, result.unusable);
    take_fingerprint(request, kPublicKeyFingerprint, result.fingerprints.public_key, result.unusable);
    return result;
}

}  // namespace mtls
