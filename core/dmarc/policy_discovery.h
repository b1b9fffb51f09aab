// Policy discovery (RFC 9989 section 4.10.1): which DMARC record applies to
// an author domain, and which of its policies (p, sp or np).
#pragma once

#include <string>
#include <string_view>

#include "dmarc/organizational_domain.h"
#include "dmarc/record.h"
#include "dmarc/tree_walk.h"

namespace mtls::dmarc {

struct PolicyDiscovery {
    enum class Kind {
        found,  // record and policy_domain are set
        // DMARC does not apply: no DMARC record applies, or the one that
        // applies has no usable policy (then record, policy_domain and note
        // say which and why, section 4.10.1)
        none,
        temperror,  // a name the discovery needed answered with an error
    };
    Kind kind = Kind::none;
    std::string policy_domain;  // where the record applying was found
    Record record;
    DnssecState dnssec = DnssecState::unknown;  // of the record used
    bool at_author_domain = false;              // p applies; otherwise sp or np
    OrganizationalDomain organizational;        // the author domain's walk
    std::string note;                           // temperror: what failed where; none: why, if a record applies
};

// The record at the author domain, if there is one; otherwise the
// organizational domain's record, else the public suffix domain's (psd=y)
// record met on the walk. Errors count only on names the discovery reached.
// A record with no usable policy is chosen like any other, and makes the
// discovery none.
PolicyDiscovery discover_policy(std::string_view author_domain, const WalkAnswers& answers);

// Whether the author domain exists (section 4.7, np): a domain exists when
// it has any resource record; NXDOMAIN says it does not.
enum class Existence { unknown, exists, nonexistent, error };

// Existence of the author domain matters only when the policy came from
// another domain's record whose np differs from what sp (or p) gives.
bool needs_existence(const PolicyDiscovery& discovery);

enum class PolicySource { p, sp, np };
std::string_view to_string(PolicySource source);

struct AppliedPolicy {
    PolicySource source = PolicySource::p;
    Policy published = Policy::none;  // the value of that tag
    Policy effective = Policy::none;  // after t=y: one level lower (policy.dmarc)
};

// The policy of a found discovery: p at the author domain; below it sp for
// an existing author domain, np (else sp, else p) for a non-existent one.
// Existence::unknown and Existence::error count as existing, which is right
// only when !needs_existence(); otherwise the caller must not guess (the
// evaluation makes them a temperror).
AppliedPolicy applied_policy(const PolicyDiscovery& discovery, Existence existence);

// t=y lowers reject to quarantine and quarantine to none.
Policy lowered_for_testing(Policy policy);

}  // namespace mtls::dmarc
