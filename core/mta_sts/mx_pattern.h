// An MTA-STS "mx" pattern (RFC 8461, sections 3.2 and 4.1): a host name, or
// "*." and a domain, where the '*' stands for exactly one whole left-most
// label. "*.example.net" allows mx1.example.net but neither example.net nor
// a.b.example.net. (Postfix 3.7's ".example.net" in a match list would allow
// any depth, which is why tlspolicy/ lists the allowed MX hosts one by one.)
#pragma once

#include <string>
#include <string_view>

#include "base/expected.h"

namespace mtls {

struct MxPattern {
    bool wildcard = false;
    std::string domain;  // canonical (domain_name.h); for a wildcard, the part after "*."

    // "*.example.net" or "mail.example.com", canonical.
    [[nodiscard]] std::string text() const { return wildcard ? "*." + domain : domain; }
    friend bool operator==(const MxPattern&, const MxPattern&) = default;
};

// ["*."] Domain, case-insensitive, a trailing dot allowed. A '*' anywhere
// else ("a*.example", "*", "*.*.example") is invalid.
Expected<MxPattern> parse_mx_pattern(std::string_view text);

// Whether the MX host name (as found in the MX RRset: any case, a trailing
// dot or not) is allowed by the pattern. A host that is not a valid host name
// matches nothing.
bool mx_pattern_matches(const MxPattern& pattern, std::string_view host);

}  // namespace mtls
