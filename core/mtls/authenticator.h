// The whole check for one message, shared by the milter and mtls-check:
// start the Client MX lookup as soon as the identity is known, and turn the
// answer plus the TLS evidence into a verdict when the message is complete.
//
// Where a verdict is made, in order (start here when reading the code):
//  1. identity: MAIL FROM's domain, or HELO for <> (core/mail/identity.h);
//     Authenticator::begin() starts the Client MX lookup (core/dns/).
//  2. evidence: the MTA's TLS macros (core/tls/tls_evidence.h), plus the
//     certificate fingerprints from Postfix's policy channel
//     (milter/fingerprint_store.h) or Sendmail's {cert_fp}.
//  3. Authenticator::finish() (authenticator.cc): decide() in verdict.h
//     judges the certificate path (DNSSEC state, exact name match); when it
//     failed, apply_dane() in dane.h may turn it into a pass or temperror
//     from secure TLSA records.
//  4. internal errors: an exception inside the check is temperror "internal
//     error" (milter/connection.cc, Connection::evaluate); one anywhere else
//     in a callback goes to Connection::recover() through
//     milter/callback_guard.h, where on-internal-error decides.
//  5. action: decide_action() in action.h maps the result to tag, reject,
//     tempfail or quarantine (on-fail, on-temperror); Connection::act()
//     applies it and writes the header (core/mail/authentication_results.h)
//     after forged ones are removed; the log line is a VerdictRecord
//     (verdict_record.h).
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
