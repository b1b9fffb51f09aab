// The DNS Tree Walk of RFC 9989 section 4.10: which _dmarc names to ask,
// and what each answer means. Pure functions over answers gathered by
// walk_lookups.h, so that every case can be unit-tested without DNS.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "dmarc/record.h"
#include "dns/dns_answer.h"

namespace mtls::dmarc {

inline constexpr std::uint16_t kTxtType = 16;
inline constexpr std::size_t kMaxWalkQueries = 8;

// The domains whose _dmarc TXT the walk asks, in order: the domain itself;
// then, when it has 8 or more labels, its last 7 labels; then one label
// fewer each time, down to the top-level domain. At most 8 names.
// The domain is expected canonical (dns/domain_name.h).
std::vector<std::string> walk_domains(std::string_view domain);

// "_dmarc." + domain: the name actually queried.
std::string dmarc_query_name(std::string_view domain);

// What the DNS said about one _dmarc name.
struct WalkAnswer {
    enum class Kind {
        records,    // TXT records (texts holds each record's concatenated strings)
        no_record,  // NXDOMAIN or NODATA
        error,      // bogus, SERVFAIL, timeout, resolver failure: never "no record"
    };
    Kind kind = Kind::error;
    DnssecState dnssec = DnssecState::unknown;
    std::vector<std::string> texts;
    std::string error;  // for Kind::error: "bogus", "servfail", "timeout", ...
};

WalkAnswer walk_answer_from(const DnsAnswer& answer);

// Answers keyed by domain (without "_dmarc."). A domain missing from the map
// was never asked (say, the query budget ran out): it counts as an error
// when the walk reaches it.
using WalkAnswers = std::map<std::string, WalkAnswer, std::less<>>;

// One name on the walk after section 4.10's filtering: texts not starting
// with v=DMARC1 dropped; several remaining records all discarded; a single
// remaining one is a record, even one with no usable policy
// (Record::no_policy): the walk's step 2 looks at nothing else.
struct NameOutcome {
    enum class Kind { record, none, error };
    Kind kind = Kind::none;
    Record record;                              // for Kind::record (no_policy possibly set)
    DnssecState dnssec = DnssecState::unknown;  // of the answer
    std::string note;                           // why none or error ("2 records discarded", "bogus")
};

NameOutcome outcome_at(const WalkAnswers& answers, std::string_view domain);

}  // namespace mtls::dmarc
