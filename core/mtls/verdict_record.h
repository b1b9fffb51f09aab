// The one log line per message that operators report from (mtls-report reads
// it back). Every field may hold attacker-influenced text; both formats
// escape it so that a line stays one line and one record.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "mail/identity.h"
#include "mtls/discovery_verdict.h"
#include "mtls/verdict.h"
#include "tls/tls_evidence.h"

namespace mtls {

struct VerdictRecord {
    std::string queue_id;
    std::string client_address;
    Identity identity;
    std::string raw_identity;  // the MAIL FROM or HELO text as received (untrusted)
    TlsEvidence evidence;
    Verdict verdict;
    std::string action;      // tag, reject, tempfail, quarantine, skip
    std::string dns_detail;  // resolver's words, e.g. why an answer was bogus
    std::chrono::microseconds lookup_time{0};
    // Whether Postfix's policy channel gave this connection's certificate
    // fingerprints: "matched", "none", or "" when it is not configured.
    std::string policy_channel;
    // Certificate discovery's outcome for this message (empty: not tried) and
    // the probe's sentence.
    DiscoveryReport discovery;
    // When the verdict was reached; both formats carry it ("ts", UTC, left out
    // when unset), so that a log without syslog prefixes can be reported by time.
    std::chrono::system_clock::time_point time{};
};

// "2026-11-24T22:55:18.123Z"
std::string iso8601_utc(std::chrono::system_clock::time_point time);

std::string format_text(const VerdictRecord& record);
std::string format_json(const VerdictRecord& record);

// Printable ASCII only: other bytes become \xNN, so that CR, LF and escape
// sequences in attacker text cannot forge log lines or control terminals.
std::string escape_for_log(std::string_view text);

}  // namespace mtls
