// Postfix's policy delegation protocol (SMTPD_POLICY_README), the reading
// side: "name=value" lines ending in LF, a request ends with an empty line,
// and one connection carries many requests. Postfix sends some 40 attributes
// per request; several values (sender, helo_name, ...) are chosen by the SMTP
// client, so the reader is bounded in every dimension and never trusts a
// length it has not counted.
//
// We listen only to learn the client certificate's fingerprints, which
// Postfix's milter macros never carry (docs/MTA-FACTS.md, "Postfix").
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tls/fingerprint.h"

namespace mtls {

struct PolicyAttribute {
    std::string name;
    std::string value;
    friend bool operator==(const PolicyAttribute&, const PolicyAttribute&) = default;
};

struct PolicyRequest {
    std::vector<PolicyAttribute> attributes;  // in the order received

    // The value of the last attribute of that name (Postfix sends each once).
    [[nodiscard]] std::optional<std::string_view> get(std::string_view name) const;
    friend bool operator==(const PolicyRequest&, const PolicyRequest&) = default;
};

struct PolicyReaderLimits {
    std::size_t max_line = 8192;       // bytes, without the LF
    std::size_t max_request = 65536;   // bytes of one request, LFs included
    std::size_t max_attributes = 200;  // per request
};

// Incremental: append() bytes as they arrive, then call next() until it
// returns std::nullopt. A protocol error is final (failed() and error() say
// so): the stream can no longer be trusted to be in step, so the caller closes
// the connection. Buffered bytes stay below max_line plus what was appended
// since next() last returned std::nullopt.
class PolicyRequestReader {
public:
    explicit PolicyRequestReader(PolicyReaderLimits limits = {});

    void append(std::string_view bytes);

    // The next complete request; std::nullopt when more bytes are needed or
    // the stream broke the protocol. A lone empty line is an empty request
    // (it still deserves an answer: the sender waits for one).
    std::optional<PolicyRequest> next();

    [[nodiscard]] bool failed() const { return !error_.empty(); }
    // Why the stream broke the protocol, in words safe for a log; empty while
    // it has not.
    [[nodiscard]] const std::string& error() const { return error_; }

private:
    void fail(std::string reason);
    // Fails (and says so) when this line, finished or not, breaks a limit.
    bool over_limit(std::string_view line, bool complete);

    PolicyReaderLimits limits_;
    std::string buffer_;
    std::size_t consumed_ = 0;  // of buffer_, already parsed
    PolicyRequest current_;
    std::size_t current_size_ = 0;
    std::string error_;
};

// A fingerprint attribute present and non-empty but not a SHA-256 digest.
struct UnusableFingerprint {
    std::string attribute;  // ccert_fingerprint or ccert_pubkey_fingerprint
    std::string value;      // as received (untrusted: escape before logging)
    std::string why;        // e.g. "a 16-byte digest (MD5?), not SHA-256"
};

struct PolicyClientTls {
    struct Client {
        std::string address;  // client_address as sent ("192.0.2.1", "2001:db8::1")
        std::string port;     // client_port as sent (Postfix 3.0 and later)
    };
    // Both client_address and client_port present and non-empty; not yet
    // validated.
    std::optional<Client> client;
    // The SHA-256 fingerprints only.
    Fingerprints fingerprints;
    // The fingerprints that are there but useless to us, most often because
    // smtpd_tls_fingerprint_digest is md5 (Postfix's default before
    // compatibility level 3.6); the operator has to be told.
    std::vector<UnusableFingerprint> unusable;
};

// What the milter needs from a request. A request without fingerprints (no
// client certificate, or no TLS) gives empty fingerprints and no unusable ones.
PolicyClientTls client_tls_from(const PolicyRequest& request);

}  // namespace mtls
