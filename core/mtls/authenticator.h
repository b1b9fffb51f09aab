// The whole check for one message, shared by the milter and mtls-check:
// start the Client MX lookup as soon as the identity is known, and turn the
// answer plus the TLS evidence into a verdict when the message is complete.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "dns/resolver.h"
#include "mail/identity.h"
#include "mtls/dane.h"
#include "mtls/verdict.h"
#include "tls/tls_evidence.h"

namespace mtls {

// The values come from the option table (core/options/setting_options.cc);
// code that builds these by hand starts from default_settings() there.
struct AuthenticatorSettings {
    std::uint16_t client_mx_type = 0;
    std::chrono::milliseconds dns_timeout{};
    VerdictSettings verdict;
    DaneSettings dane;
};

struct Evaluation {
    Verdict verdict;
    DnsAnswer answer;                    // status error with no detail when no lookup was made
    std::vector<TlsaLookupResult> tlsa;  // the DANE lookups, when any were made
};

class PendingCheck {
public:
    explicit PendingCheck(Identity identity, std::optional<Lookup> lookup = std::nullopt)
        : identity_(std::move(identity)), lookup_(std::move(lookup)) {}

    [[nodiscard]] const Identity& identity() const { return identity_; }

private:
    friend class Authenticator;
    Identity identity_;
    std::optional<Lookup> lookup_;
};

class Authenticator {
public:
    Authenticator(std::shared_ptr<Resolver> resolver, AuthenticatorSettings settings)
        : resolver_(std::move(resolver)), settings_(std::move(settings)) {}

    [[nodiscard]] PendingCheck begin(Identity identity) const;
    // Waits for the answer (at most until dns-timeout after begin()). When
    // only DANE can still pass the message, its TLSA lookups take at most
    // another dns-timeout.
    [[nodiscard]] Evaluation finish(PendingCheck& check, const TlsEvidence& evidence) const;

private:
    [[nodiscard]] std::vector<TlsaLookupResult> look_up_tlsa(const Verdict& verdict) const;

    std::shared_ptr<Resolver> resolver_;
    AuthenticatorSettings settings_;
};

}  // namespace mtls
