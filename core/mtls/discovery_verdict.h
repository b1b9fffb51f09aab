// What certificate discovery (core/discovery/certificate_discovery.h) does to
// a verdict: the MTA did not vouch for the client certificate (or vouched for
// one whose name is no Client MX host), so the certificate-path verdict
// failed; a chain fetched from the client's own port 25 whose leaf has the
// fingerprint the MTA reported is that certificate, and is judged here as a
// verified certificate would be. Pure: the Authenticator
// (core/mtls/authenticator.cc) starts the probe and collects its result.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "discovery/probe_result.h"
#include "mtls/dane.h"
#include "mtls/verdict.h"
#include "tls/tls_evidence.h"

namespace mtls {

// Per-message outcomes beyond the probe's own (discovery::to_string):
// the probe matched, and then the chain verified and a name matched, or not.
inline constexpr std::string_view kDiscoveryPass = "pass";
inline constexpr std::string_view kDiscoveryChainInvalid = "chain-invalid";
inline constexpr std::string_view kDiscoveryNameMismatch = "name-mismatch";
// The probe had not ended when the message did.
inline constexpr std::string_view kDiscoveryPending = "pending";

// What the log line and the metrics say of discovery for one message.
struct DiscoveryReport {
    std::string outcome;  // one of the above or a ProbeOutcome's name; empty when not tried
    std::string detail;   // the probe's sentence (printable ASCII, peer text included)
    bool from_cache = false;
    bool probe_started = false;  // this message's request started a probe
};

// Whether the MTA's word on this certificate may be worth a probe before the
// Client MX answer is in: a certificate was presented, its fingerprint is
// known, and the MTA did not verify it or verified one without a usable
// name. A verified certificate with names is probed only once its names are
// known to match no Client MX host (discovery_applicable).
bool discovery_worth_starting(const TlsEvidence& evidence);

// Whether a probe's result may change this verdict: a certificate-path fail
// (not a null Client MX) for a presented certificate with a known
// fingerprint.
bool discovery_applicable(const Verdict& verdict, const TlsEvidence& evidence);

// The Client MX hosts a discovered certificate may pass for: those without
// secure TLSA records. Discovery never overrules DANE: a host whose secure
// TLSA records did not name the key stays a fail.
std::vector<std::string> discovery_hosts(const Verdict& verdict, std::span<const TlsaLookupResult> tlsa);

// The verdict after discovery. result: std::nullopt when the probe had not
// ended in time (temperror "certificate discovery timed out", never fail).
// A verified chain with a name among hosts passes, reason "discovered";
// an invalid chain, other names, refused connections, no STARTTLS or
// another certificate fail with a reason saying which. Probes that were not
// made (a non-global address not listed, rate limit, overload) leave the
// verdict as it was.
Verdict apply_discovery(Verdict verdict, const std::optional<discovery::DiscoveryResult>& result,
                        std::span<const std::string> hosts, bool allow_wildcards, DiscoveryReport& report);

}  // namespace mtls
