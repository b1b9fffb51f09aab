// The organizational domain of RFC 9989 section 4.10.2, found by the DNS
// Tree Walk instead of a public suffix list. Used for relaxed alignment and,
// through policy_discovery.h, to choose the record whose policy applies.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dmarc/record.h"
#include "dmarc/tree_walk.h"

namespace mtls::dmarc {

// The single v=DMARC1 record at a name the walk met; it may have no usable
// policy (Record::no_policy) and still count here (section 4.10 step 2).
struct FoundRecord {
    std::string domain;
    Record record;
    DnssecState dnssec = DnssecState::unknown;
};

struct OrganizationalDomain {
    // False when the walk reached a name whose answer was an error (or that
    // was never asked) before it could stop: the domain is then unknown.
    // Errors on names past the point where the walk stops do not count.
    bool determined = false;
    std::string domain;  // when determined
    std::string error_domain;
    std::string error;               // why not determined: "bogus", "timeout", ...
    std::vector<FoundRecord> found;  // from the longest name to the shortest
    std::size_t names_reached = 0;   // how many walk names the walk used
    std::optional<FoundRecord> psd;  // a psd=y record the walk stopped at
};

// Walks from domain itself: stops at the first record with psd=y or psd=n;
// then the organizational domain is the psd=n record's domain; else the
// domain one label below a psd=y record (not at the start); else the
// domain of the record with the fewest labels; else the domain itself.
OrganizationalDomain organizational_domain(std::string_view domain, const WalkAnswers& answers);

}  // namespace mtls::dmarc
