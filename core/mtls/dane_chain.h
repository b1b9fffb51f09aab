// DANE records that only the client's certificate chain can match: DANE-EE
// with a SHA-512 digest (3 0 2, 3 1 2) and DANE-TA (2 x x). No MTA hands a
// milter the chain; certificate discovery (core/discovery/) fetches it from
// the client's own port 25, and its leaf is the client's certificate because
// its SHA-256 is the fingerprint the MTA reported. apply_dane() (dane.h)
// judges the records the fingerprints suffice for; this judges the rest
// once a discovered chain is at hand (core/mtls/authenticator.cc).
#pragma once

#include <chrono>
#include <optional>
#include <span>
#include <string>

#include "discovery/probe_result.h"
#include "mtls/dane.h"
#include "mtls/verdict.h"

namespace mtls {

// Whether a secure TLSA RRset among these holds a record only the chain can
// match (tlsa_needs_chain in dns/tlsa_record.h). Insecure records never
// count, so they never make a probe worth starting either.
bool dane_needs_chain(std::span<const TlsaLookupResult> results);

struct DiscoveredChain {
    // DER, the leaf first; its SHA-256 is the MTA's fingerprint
    // (discovery::ProbeOutcome::matched).
    std::span<const std::string> der;
    // The leaf's names as a verifier may use them: SAN dNSNames, the CN only
    // without them (core/tls/certificate_chain.h).
    std::span<const std::string> leaf_names;
    bool allow_wildcards = false;
    // The time the leaf must be valid at (DANE-TA); now when unset. Tests fix it.
    std::optional<std::chrono::system_clock::time_point> at;
};

// The verdict after the secure TLSA records that need the chain, applied to
// the verdict apply_dane() was given (not to its result: a pass here replaces
// its fail; otherwise its result stands, so nothing here weakens it). Pure
// but for OpenSSL. A pass for a host's RRset:
//  - DANE-EE, any matching type: the leaf (selector 0) or its
//    SubjectPublicKeyInfo (1) matches; names and dates do not matter
//    (RFC 7671, section 5.1);
//  - DANE-TA: a certificate of the chain other than the leaf (or its key)
//    matches, the leaf chains to it with it as the only trust anchor (a
//    partial chain, any purpose: the draft makes the EKU local policy,
//    section 1.2.2), validity dates checked, and a leaf name is that host
//    (RFC 7671, section 5.2.2; wildcards only with allow_wildcards).
// The pass says "dane", with dane_trust_anchor set for DANE-TA.
std::optional<Verdict> dane_chain_pass(const Verdict& verdict, std::span<const TlsaLookupResult> results,
                                       const DiscoveredChain& chain);

}  // namespace mtls
