// The MTA-STS policy file (RFC 8461, section 3.2), as fetched from
// https://mta-sts.<domain>/.well-known/mta-sts.txt: "key: value" lines ending
// in LF or CRLF, with "version: STSv1", "mode", "max_age" and, unless the mode
// is none, one or more "mx" patterns. Also the "dnssec: yes" field of
// draft-frickl-mta-sts-dnssec-policy: the recipient expects DNSSEC, so
// missing DNSSEC data must defer delivery instead of falling back.
//
// The body comes from the network, so a file that is not a policy (an HTML
// error page, garbage, two megabytes) is invalid with a reason, never
// half-read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.h"
#include "mta_sts/mx_pattern.h"

namespace mtls {

inline constexpr std::size_t kMaxStsPolicyBytes = std::size_t{64} * 1024;  // RFC 8461, section 3.3
inline constexpr std::uint32_t kMaxStsMaxAge = 31557600;                   // one year, RFC 8461, section 3.2

enum class StsMode { enforce, testing, none };

std::string_view to_string(StsMode mode);

struct StsPolicy {
    StsMode mode = StsMode::none;
    std::uint32_t max_age = 0;     // seconds, at most kMaxStsMaxAge
    bool max_age_capped = false;   // the file said more than kMaxStsMaxAge
    std::vector<MxPattern> mx;     // in file order, duplicates removed
    bool dnssec_expected = false;  // "dnssec: yes" (case-insensitive); other values are ignored
    friend bool operator==(const StsPolicy&, const StsPolicy&) = default;
};

// Strict about syntax (every non-blank line is "name: value" with an
// RFC 8461 field name and a value free of control characters; field names
// are case-sensitive), lenient about layout (blank lines, spaces around
// fields). Unknown fields are ignored; of a repeated field other than mx the
// first counts. A max_age of up to 10 digits above the limit is capped.
Expected<StsPolicy> parse_sts_policy(std::string_view body);

// The MX host names that at least one of the policy's patterns allows, in
// the order given, canonical, each once.
std::vector<std::string> allowed_mx_hosts(const StsPolicy& policy, std::span<const std::string> mx_hosts);

}  // namespace mtls
