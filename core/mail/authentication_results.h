// Authentication-Results (RFC 8601): writing ours, and recognising incoming
// ones that claim our authserv-id so they can be removed (section 5).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mail/identity.h"
#include "mtls/verdict.h"

namespace mtls {

inline constexpr std::string_view kAuthenticationResults = "Authentication-Results";
inline constexpr std::size_t kFoldColumn = 78;

// True when text is an RFC 2045 token, the form we require of our own
// authserv-id so that it never needs quoting.
bool is_token(std::string_view text);

// The header field body (after "Authentication-Results:"), folded with
// "\n\t" so that no line exceeds 78 columns unless a single word does.
// Every variable part is either a canonical domain or text of our own.
std::string format_authentication_results(std::string_view authserv_id, const Identity& identity,
                                          const Verdict& verdict);

// "<authserv-id>; word word ...", folded as above: for results written by
// other code (the DMARC stage, core/dmarc/result_text.h) from words that
// are canonical domains or text of our own.
std::string fold_authentication_results(std::string_view authserv_id, const std::vector<std::string>& words);

// The authserv-id of an incoming header body, per RFC 8601's grammar
// (CFWS, comments, quoted-string); std::nullopt when it does not parse.
std::optional<std::string> parse_authserv_id(std::string_view header_body);

// Whether an incoming header body claims our authserv-id, by the strict
// parse or by a lenient reading of malformed text that some consumer might
// still attribute to us. Case-insensitive; a trailing dot is ignored.
bool claims_authserv_id(std::string_view header_body, std::string_view our_id);

}  // namespace mtls
