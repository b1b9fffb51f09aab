// The DNS half of DomainFacts (domain_facts.h): D's MX RRset, its hosts'
// A/AAAA and TLSA records, the _mta-sts TXT record and the Client MX RRset,
// all through the daemon's validating resolver (core/dns/resolver.h). The
// lookups that do not depend on each other run at once, and all of them
// share one deadline, so a query never takes much longer than dns-timeout
// whatever the zone does.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dns/resolver.h"
#include "domain_facts.h"

namespace mtls::tlspolicy {

// RFC 7672 asks for no limit, but a zone listing hundreds of MX hosts must
// not make one query start hundreds of lookups; Postfix itself tries at
// most smtp_mx_address_limit (5) addresses.
inline constexpr std::size_t kMaxMxHosts = 16;

struct DnsQuerySettings {
    std::chrono::milliseconds timeout{std::chrono::seconds(10)};  // for all lookups of one query together
    std::uint16_t client_mx_type = 265;
};

// Everything but the MTA-STS policy (facts.sts.policy and fetch_error),
// which the policy cache supplies. Every lookup answers by deadline; the
// caller sets it (settings.timeout after the query came in) and hands what
// is left of it to the policy fetch's resolve_addresses, so that one query's
// DNS never takes more than dns-timeout in all (man/mtls-tlspolicy.8).
DomainFacts gather_dns_facts(Resolver& resolver, const std::string& domain, const DnsQuerySettings& settings,
                             Clock::time_point deadline);
// The same with a deadline of its own, settings.timeout from now.
DomainFacts gather_dns_facts(Resolver& resolver, const std::string& domain, const DnsQuerySettings& settings);

// The same facts from the answers the resolver holds already
// (Resolver::cached), without a lookup or a wait; std::nullopt as soon as one
// of them would need DNS traffic. For answering on the thread that serves
// the sockets (socketmap_service.h), where nothing may block.
std::optional<DomainFacts> gather_cached_dns_facts(Resolver& resolver, const std::string& domain,
                                                   const DnsQuerySettings& settings);

struct HostAddresses {
    std::vector<std::string> addresses;  // literal, for pinning an HTTPS connection
    // The A or the AAAA answer was bogus. Its addresses are never used, and
    // the caller must not take the host for merely unreachable: a forged
    // answer is an attack (policy_decision.h answers TEMP).
    bool bogus = false;
};

// The addresses of host (A and AAAA), both lookups answering by deadline.
HostAddresses resolve_addresses(Resolver& resolver, const std::string& host, Clock::time_point deadline);

}  // namespace mtls::tlspolicy
