// The TLS policy for one next hop, as the socketmap answers Postfix's
// smtp_tls_policy_maps, in the order of issue 15's "Decisions":
//   0. a bracketed next hop, one on a port other than 25, or Postfix's
//      parent-domain lookup (".example.com"): NOTFOUND;
//   1. DANE: a secure MX RRset and every MX host with secure addresses and
//      usable TLSA records: "OK dane-only"; some of them: "OK dane" (unless 3
//      forbids it);
//   2. MTA-STS in enforce mode: "OK secure match=<each allowed MX host>
//      servername=hostname"; testing and none enforce nothing;
//   3. "dnssec: yes" (draft-frickl): MX RRset and MX host addresses must be
//      secure, else TEMP; then 1's dane-only, else 2's enforce answer;
//   4. Client MX opt-in (draft-chuang): "OK secure match=<D's MX hosts>
//      servername=hostname";
//   5. NOTFOUND. Bogus answers (an attack, not an outage) are TEMP wherever
//      they decide the outcome; a bogus TLSA, A or AAAA answer for any MX
//      host, or a bogus address of mta-sts.<domain> with no policy in
//      force, always does. A failed (not bogus) TLSA lookup under a secure
//      MX RRset is "OK dane" after rules 2 and 4, so that Postfix looks
//      again itself.
// Pure: no DNS, no clock, no I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.h"
#include "domain_facts.h"
#include "next_hop.h"
#include "postfix/socketmap.h"

namespace mtls::tlspolicy {

struct DecisionSettings {
    bool dane = true;             // option `dane`
    bool client_mx_optin = true;  // option `client-mx-optin`
};

// Which rule answered: a label for the answer's log line and metrics.
enum class Basis {
    invalid_next_hop,  // PERM: the key is no next hop
    not_mx_delivery,   // NOTFOUND: bracketed or another port
    dane_only,
    dane,
    mta_sts,
    dnssec_missing,  // TEMP: "dnssec: yes" and DNSSEC data missing
    client_mx,
    bogus,        // TEMP: a bogus answer decided it
    dns_failure,  // TEMP: a needed answer failed while a policy applies
    no_policy,    // NOTFOUND
};

std::string_view to_string(Basis basis);

struct Decision {
    SocketmapReply reply;
    Basis basis = Basis::no_policy;
    // One line per step, for `--query` (after the reply line) and the log.
    std::vector<std::string> explanation;
};

// The answer for a next hop that needs no lookups (bracketed, other port, no
// next hop at all); std::nullopt for a domain: gather its DomainFacts and call
// decide().
std::optional<Decision> decide_without_lookup(std::string_view key, const Expected<NextHop>& next_hop);

Decision decide(const DomainFacts& facts, const DecisionSettings& settings);

}  // namespace mtls::tlspolicy
