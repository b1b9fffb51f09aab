// DANE for the sending host: where its TLSA records are looked up. The owner
// names are templates because draft-ietf-dance-client-auth is still a draft:
// "_client.{host}" follows it, "_25._tcp.{host}" (RFC 7672's name for the same
// host as a server) is the fallback most operators already publish.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.h"
#include "dns/dns_answer.h"
#include "mtls/verdict.h"
#include "tls/fingerprint.h"

namespace mtls {

inline constexpr std::string_view kHostPlaceholder = "{host}";

// Defaults: the dane and dane-tlsa-names options (core/options/setting_options.cc).
struct DaneSettings {
    bool enabled = false;
    std::vector<std::string> tlsa_names;
};

// Comma- and/or space-separated templates, each with {host} exactly once as
// its last labels, e.g. "_client.{host}"; the prefix labels must be valid
// DNS labels. Empty text is an empty list.
Expected<std::vector<std::string>> parse_tlsa_name_templates(std::string_view text);

// The owner name for a canonical host name, or std::nullopt when the result
// would be longer than a DNS name may be.
std::optional<std::string> tlsa_owner_name(std::string_view name_template, std::string_view host);

// At most this many Client MX hosts get TLSA lookups: a hostile Client MX
// RRset must not turn one message into hundreds of queries.
inline constexpr std::size_t kMaxDaneHosts = 8;

struct TlsaLookupResult {
    std::string host;   // the Client MX host
    std::string owner;  // the TLSA owner name asked for
    DnsAnswer answer;
};

// Whether TLSA records could still turn this certificate-path verdict into a
// pass: it failed, the Client MX RRset is DNSSEC-secure (DANE is worth no
// more than the chain that names the host), and the client's key is known.
bool dane_applicable(const Verdict& verdict, const Fingerprints& fingerprints, const DaneSettings& settings);

// The verdict after the TLSA answers. Pure. Only secure answers count:
// insecure TLSA records never authenticate. A DANE-EE record matching the
// client's key passes for its host (reason "dane"); a lookup that failed
// (bogus, timeout, server failure) with no match makes temperror, since a
// retry may pass; secure records that all miss keep the fail and say so.
Verdict apply_dane(Verdict verdict, std::span<const TlsaLookupResult> results, const Fingerprints& fingerprints);

}  // namespace mtls
