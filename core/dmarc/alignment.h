// Identifier alignment (RFC 9989 section 4.4): whether an authenticated
// domain (SPF's MAIL FROM, a DKIM d=, the domain mtls authenticated) stands
// for the author domain.
#pragma once

#include <string_view>

#include "dmarc/record.h"
#include "dmarc/tree_walk.h"

namespace mtls::dmarc {

enum class Aligned {
    yes,
    no,
    unknown,  // relaxed, and an organizational domain could not be found (DNS error)
};

// Strict: the same domain, ignoring case. Relaxed: the same organizational
// domain, each found by its own tree walk over answers. Equal domains align
// in both modes without any walk. Never label arithmetic on the names.
Aligned aligned(std::string_view author_domain, std::string_view identifier, AlignmentMode mode,
                const WalkAnswers& answers);

// Whether the two domains end in the same top-level label (ignoring case).
// An organizational domain is its domain or one of its parents (section
// 4.10.2), so domains that do not can never share one: relaxed alignment is
// "no" without either walk, and the identifier's walk need not be asked.
bool may_share_organizational_domain(std::string_view author_domain, std::string_view identifier);

}  // namespace mtls::dmarc
