// The author domain (RFC 9989 section 5.3.1): the domain of the RFC 5322
// From header field, the one identifier DMARC protects.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.h"

namespace mtls::dmarc {

// The canonical domains (A-labels, lower case) of every mailbox in one From
// field body, parsed as an RFC 5322 address-list: comments, quoted strings,
// display names, groups, obsolete routes and folding white space; UTF-8 is
// allowed where RFC 6532 allows it. An error for text that does not parse,
// an address literal or a domain that is not a host name.
Expected<std::vector<std::string>> from_domains(std::string_view field_body);

// The author domain of a message, given the bodies of all its From fields.
// An error (dmarc=permerror) for no From field, several From fields, a From
// that does not parse, no mailbox at all ("undisclosed:;") or mailboxes in
// more than one domain.
Expected<std::string> author_domain(std::span<const std::string_view> from_field_bodies);

}  // namespace mtls::dmarc
