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
//     from secure TLSA records, and when those hold DANE-TA or SHA-512
//     records, which only the certificate chain can match, dane_chain_pass()
//     in dane_chain.h judges the chain discovery fetched (a host whose
//     secure TLSA RRset has such records may be probed for that alone);
//     when it still failed, apply_discovery() in discovery_verdict.h judges
//     the chain certificate discovery fetched from the client's own address
//     (started by Authenticator::discover() as soon as the fingerprint was
//     known) for the hosts without secure TLSA records.
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

#include "base/ip_address.h"
#include "discovery/certificate_discovery.h"
#include "dns/resolver.h"
#include "mail/identity.h"
#include "mtls/dane.h"
#include "mtls/discovery_verdict.h"
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
    DiscoveryReport discovery;           // outcome empty when discovery was not tried
};

class PendingCheck {
public:
    explicit PendingCheck(Identity identity, std::optional<Lookup> lookup = std::nullopt,
                          std::optional<IpAddress> client = std::nullopt)
        : identity_(std::move(identity)), lookup_(std::move(lookup)), client_(client) {}

    [[nodiscard]] const Identity& identity() const { return identity_; }

private:
    friend class Authenticator;
    struct Probe {
        discovery::DiscoveryTicket ticket;
        std::chrono::steady_clock::time_point started;
    };
    Identity identity_;
    std::optional<Lookup> lookup_;
    std::optional<IpAddress> client_;  // the connecting client: the only address discovery probes
    std::optional<Probe> probe_;
};

class Authenticator {
public:
    // discovery: null when cert-discovery is off.
    Authenticator(std::shared_ptr<Resolver> resolver, AuthenticatorSettings settings,
                  std::shared_ptr<discovery::CertificateDiscovery> discovery = nullptr)
        : resolver_(std::move(resolver)), settings_(std::move(settings)), discovery_(std::move(discovery)) {}

    // client: the connecting client's address, when known (for discovery).
    [[nodiscard]] PendingCheck begin(Identity identity, std::optional<IpAddress> client = std::nullopt) const;
    // Starts certificate discovery for the presented certificate when it is
    // on and the MTA's word may not be enough (discovery_worth_starting);
    // true when this started a probe of its own (for the metrics). Call as
    // soon as the fingerprint is known; finish() collects the result.
    bool discover(PendingCheck& check, const TlsEvidence& evidence) const;
    // Waits for the answer (at most until dns-timeout after begin()). When
    // only DANE can still pass the message, its TLSA lookups take at most
    // another dns-timeout. A discovery probe is waited for until
    // dns-timeout after it started.
    [[nodiscard]] Evaluation finish(PendingCheck& check, const TlsEvidence& evidence) const;

private:
    [[nodiscard]] std::vector<TlsaLookupResult> look_up_tlsa(const Verdict& verdict) const;
    [[nodiscard]] std::optional<discovery::DiscoveryResult> collect_probe(const PendingCheck& check) const;
    void apply_dane_to_chain(PendingCheck& check, const TlsEvidence& evidence, const Verdict& before,
                             Evaluation& evaluation) const;
    void apply_discovery_to(PendingCheck& check, const TlsEvidence& evidence, Evaluation& evaluation) const;
    bool start_probe(PendingCheck& check, const Sha256Digest& fingerprint) const;

    std::shared_ptr<Resolver> resolver_;
    AuthenticatorSettings settings_;
    std::shared_ptr<discovery::CertificateDiscovery> discovery_;
};

}  // namespace mtls
