// The key Postfix looks up in smtp_tls_policy_maps: the next-hop destination
// as the transport sees it. "example.com" (or "example.com:25") means MX
// delivery to that domain, which is where MTA-STS, DANE and Client MX opt-in
// apply. "[mx.example.com]" or "[192.0.2.1]:587" names a host with MX lookups
// suppressed (a relayhost, a transport(5) entry): the recipient domain's
// policies say nothing about it, so the answer is NOTFOUND. ".example.com"
// is Postfix's own parent-domain lookup: after NOTFOUND for
// "mail.example.com", smtp(8) asks for ".example.com", then ".com" (seen in
// tests/integration/test_tlspolicy_outbound.py); RFC 8461 and DANE policies
// belong to one exact domain, so that is NOTFOUND too, and an error there
// would defer the mail ("policy table lookup error").
#pragma once

#include <string>
#include <string_view>

#include "base/expected.h"

namespace mtls::tlspolicy {

enum class NextHopKind {
    domain,      // MX delivery to `domain`
    bracketed,   // [host] or [host]:port: not ours to decide
    other_port,  // domain:port with a port other than 25 (submission relays): RFC 8461 covers port 25 MX delivery only
    // ".example.com": Postfix's own parent-domain lookup after NOTFOUND for
    // sub.example.com (smtp_tls_policy_maps works like transport(5)). The
    // policies here belong to one exact domain each, never to its children.
    parent_domain,
};

struct NextHop {
    NextHopKind kind = NextHopKind::domain;
    std::string domain;  // canonical (dns/domain_name.h) for kind domain; the key as given otherwise
};

// An Error for a key that is no next hop at all (not a domain name, an
// unterminated bracket, a port that is not a number).
Expected<NextHop> parse_next_hop(std::string_view key);

}  // namespace mtls::tlspolicy
