// What one connect-back probe found (core/discovery/smtp_probe.h), and what
// the discovery service (core/discovery/certificate_discovery.h) made of it.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tls/certificate_chain.h"

namespace mtls::discovery {

enum class ProbeOutcome {
    matched,            // the leaf's DER SHA-256 is the fingerprint: see chain
    other_certificate,  // a TLS server answered with another certificate
    no_listener,        // connection refused (or the host is unreachable)
    no_starttls,        // EHLO reply without STARTTLS
    smtp_failed,        // a 4xx/5xx reply or a malformed, hostile one
    tls_failed,         // the TLS handshake failed
    timed_out,          // a step or the whole probe ran out of time
    not_allowed,        // non-global address not in cert-discovery-networks
    rate_limited,       // too many probes to this address lately (not probed)
    overloaded,         // too many probes in flight (not probed)
    shut_down,          // the service stopped before the probe ended
};

// Every outcome, in declaration order (for a metric that renders each).
inline constexpr std::array kProbeOutcomes = {
    ProbeOutcome::matched,      ProbeOutcome::other_certificate, ProbeOutcome::no_listener, ProbeOutcome::no_starttls,
    ProbeOutcome::smtp_failed,  ProbeOutcome::tls_failed,        ProbeOutcome::timed_out,   ProbeOutcome::not_allowed,
    ProbeOutcome::rate_limited, ProbeOutcome::overloaded,        ProbeOutcome::shut_down,
};
static_assert(kProbeOutcomes.size() == static_cast<std::size_t>(ProbeOutcome::shut_down) + 1,
              "kProbeOutcomes lists every ProbeOutcome (shut_down is the last)");

// "matched", "other-certificate", ...: for log fields and metric labels.
std::string_view to_string(ProbeOutcome outcome);

// DER encodings, the peer's leaf first, as it sent them.
using DerChain = std::vector<std::string>;

struct ProbeResult {
    ProbeOutcome outcome = ProbeOutcome::shut_down;
    // A short sentence for a log line or a header comment, e.g. "connection
    // refused by 192.0.2.1 port 25". Any peer text in it is printable ASCII.
    std::string reason;
    DerChain chain;  // only for matched
};

struct DiscoveryResult {
    ProbeResult probe;
    // For matched: RFC 5280 path validation and the names, by the code of
    // mtls-check --cert (tls/certificate_chain.h). evidence.status is
    // verified when the chain is valid for the configured trust anchors.
    std::optional<CertificateChainReport> chain;
    bool from_cache = false;

    // matched and the chain verified: the names in chain->evidence may be
    // matched against the Client MX hosts.
    [[nodiscard]] bool verified() const {
        return probe.outcome == ProbeOutcome::matched && chain && chain->evidence.status == CertificateStatus::verified;
    }
};

}  // namespace mtls::discovery
