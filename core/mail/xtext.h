// xtext (RFC 3461, section 4): Sendmail encodes certificate subject and
// issuer macros this way ("+XX" for unsafe bytes).
#pragma once

#include <string>
#include <string_view>

#include "base/expected.h"

namespace mtls {

// Decodes xtext. A '+' not followed by two upper-case hex digits is an error
// (RFC 3461 requires upper case; lower case is accepted, as Sendmail reads it).
Expected<std::string> xtext_decode(std::string_view text);

}  // namespace mtls
