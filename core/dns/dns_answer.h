// A DNS answer for one (name, type), reduced to what the verdict needs, and
// the DNSSEC state under which it was obtained.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mtls {

enum class DnssecState {
    secure,    // validated chain of trust from a trust anchor
    insecure,  // provably unsigned (or outside every trust anchor)
    bogus,     // validation failed: must never authenticate anything
    unknown,   // no answer to judge (timeout, resolver failure)
};

enum class AnswerStatus {
    records,   // an RRset of the asked type exists
    nodata,    // the name exists, the type does not
    nxdomain,  // the name does not exist
    servfail,  // the servers failed or refused (any rcode but 0 and 3)
    bogus,     // DNSSEC validation failed
    timeout,   // no answer within the deadline
    error,     // the resolver itself failed (configuration, resources)
};

std::string_view to_string(DnssecState state);
std::string_view to_string(AnswerStatus status);

struct DnsAnswer {
    AnswerStatus status = AnswerStatus::error;
    DnssecState dnssec = DnssecState::unknown;
    std::vector<std::vector<std::uint8_t>> rdata;  // one entry per record, raw
    std::string canonical_name;                    // after CNAMEs, when known
    std::string detail;                            // resolver's words (why bogus, error text)
    std::chrono::microseconds elapsed{0};
};

// What libunbound (or any validating stub) reports, before classification.
// Kept free of libunbound types so the classification is unit-testable.
struct RawAnswer {
    int resolver_error = 0;  // non-zero: the resolver failed to produce an answer
    int rcode = 0;
    bool havedata = false;
    bool nxdomain = false;
    bool secure = false;
    bool bogus = false;
    std::vector<std::vector<std::uint8_t>> rdata;
    std::string canonical_name;
    std::string detail;
};

// Bogus wins over everything: a bogus answer may still carry data
// (docs/MTA-FACTS.md, "libunbound"), and that data must never be used.
DnsAnswer classify_answer(RawAnswer raw);

}  // namespace mtls
