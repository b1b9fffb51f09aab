// The dmarc method of our Authentication-Results field (RFC 8601; RFC 9989
// section 9.1 registers header.from and policy.dmarc), in OpenDMARC's shape
// so that existing log searches keep working:
//   dmarc=pass (p=reject dis=none; aligned: mtls; DNSSEC secure)
//       header.from=example.com policy.dmarc=reject
#pragma once

#include <string>
#include <vector>

#include "dmarc/evaluation.h"

namespace mtls::dmarc {

// The words of the method, to be folded between by the caller: the result,
// the comment (split at its spaces, where FWS may go), header.from when an
// author domain was found, policy.dmarc when a policy applied (pass, fail).
// dis= is the disposition actually taken, which the caller decides
// (tagging only: none). Every variable part is a canonical domain or fixed
// text; the reason of none and errors is reduced to comment-safe text.
std::vector<std::string> result_words(const Evaluation& evaluation, Policy disposition_taken);

// The same words joined by single spaces, unfolded.
std::string result_text(const Evaluation& evaluation, Policy disposition_taken);

}  // namespace mtls::dmarc
