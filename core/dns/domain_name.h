// Host and domain names as they appear in envelopes, certificates and DNS data.
// Everything that leaves this module is canonical: A-labels, ASCII lower case,
// no trailing dot, LDH only. That is what makes the names safe to put in a
// header or a log line and to compare with ==.
#pragma once

#include <string>
#include <string_view>

#include "base/expected.h"

namespace mtls {

inline constexpr std::size_t kMaxDomainLength = 253;  // presentation form, no trailing dot
inline constexpr std::size_t kMaxLabelLength = 63;

// Parses a host name (RFC 5321 Domain / RFC 1123 host name). U-labels are
// converted to A-labels with libidn2 (IDNA2008, as SMTPUTF8 requires).
// Rejects empty labels, non-LDH characters, over-long names and all-numeric
// top labels (an IP address written without brackets is not a domain).
Expected<std::string> canonical_host_name(std::string_view text);

// A certificate's presented DNS identifier: a host name, or a wildcard
// "*.rest" whose "*" is the whole left-most label (RFC 9525, section 6.3).
Expected<std::string> canonical_certificate_name(std::string_view text);

// ASCII-only case folding; DNS names are compared this way (RFC 4343).
std::string ascii_lower(std::string_view text);
bool ascii_iequals(std::string_view a, std::string_view b);

// Whether canonical domain is name or below it (name one of its parent
// domains), comparing whole labels.
bool is_at_or_below(std::string_view domain, std::string_view name);

}  // namespace mtls
