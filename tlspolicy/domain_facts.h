// Everything the TLS policy for one next-hop domain depends on, gathered by
// the daemon (its validating resolver, the HTTPS policy fetch, the policy
// cache) before policy_decision.h turns it into an answer. Plain data, so that
// every rule can be tested from a table and `--query` can print what was seen.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "dns/dns_answer.h"
#include "mta_sts/sts_policy.h"
#include "mta_sts/sts_record.h"

namespace mtls::tlspolicy {

// The TLSA RRset at _25._tcp.<host> (RFC 7672, section 2.2).
enum class TlsaState {
    not_looked_up,  // the host's addresses are not secure: RFC 7672 does not look
    usable,         // secure, with at least one record Postfix can use (DANE-TA or DANE-EE)
    unusable,       // secure, but no record is usable (PKIX-TA/PKIX-EE, unknown selector or matching type, malformed)
    absent,         // secure denial of existence: no TLSA records
    insecure,       // the answer is not signed: no DANE for this host
    bogus,          // DNSSEC validation failed: a forged or broken record, an attack until shown otherwise
    failed,         // server failure, timeout or resolver error: nothing is known either way
};

std::string_view to_string(TlsaState state);

struct MxHostFacts {
    std::string name;                                   // as in the MX RRset
    DnssecState address_dnssec = DnssecState::unknown;  // the A and AAAA answers together: the worse of both
    TlsaState tlsa = TlsaState::not_looked_up;
};

struct MxFacts {
    AnswerStatus status = AnswerStatus::error;
    DnssecState dnssec = DnssecState::unknown;
    bool null_mx = false;  // RFC 7505 "MX 0 .": the domain accepts no mail
    // In preference order. When the domain has no MX RRset (status nodata)
    // the daemon puts the domain itself here, as the implicit MX of RFC 5321,
    // section 5.1.
    std::vector<MxHostFacts> hosts;
};

struct StsFacts {
    AnswerStatus txt_status = AnswerStatus::nxdomain;  // of _mta-sts.<domain> TXT
    DnssecState txt_dnssec = DnssecState::unknown;
    std::optional<StsRecord> record;  // the one valid v=STSv1 record
    std::string record_problem;       // why the TXT RRset gave none: several candidates, invalid syntax
    // The policy in force: fetched just now for this id, or cached and not
    // yet expired (RFC 8461, section 5.1: a failed refresh keeps it).
    std::optional<StsPolicy> policy;
    bool policy_from_cache = false;
    std::chrono::seconds policy_age{0};  // since it was fetched
    std::string fetch_error;             // the latest fetch's failure, if it failed
    // mta-sts.<domain>'s A or AAAA answer was bogus, so the fetch was not
    // tried: a forged address must not pass for an unreachable server.
    bool policy_host_bogus = false;
};

struct ClientMxFacts {
    AnswerStatus status = AnswerStatus::nxdomain;  // of the Client MX RRset (client-mx-type) at the domain
    DnssecState dnssec = DnssecState::unknown;
};

struct DomainFacts {
    std::string domain;  // canonical next-hop domain
    MxFacts mx;
    StsFacts sts;
    ClientMxFacts client_mx;
    // An unexpired "dnssec: yes" seen in an earlier enforce or testing
    // policy. It outlives DNS trouble (a DNS downgrade must not remove it);
    // only a policy freshly fetched over HTTPS without the field ends it,
    // which is the cache's business.
    bool dnssec_expectation_cached = false;
};

}  // namespace mtls::tlspolicy
