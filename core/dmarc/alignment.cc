#include "dmarc/alignment.h"

#include "dmarc/organizational_domain.h"
#include "dns/domain_name.h"

namespace mtls::dmarc {

Aligned aligned(std::string_view author_domain, std::string_view identifier, AlignmentMode mode,
                const WalkAnswers& answers) {
    if (author_domain.empty() || identifier.empty()) {
        return Aligned::no;
    }
    if (ascii_iequals(author_domain, identifier)) {
        return Aligned::yes;
    }
    if (mode == AlignmentMode::strict) {
        return Aligned::no;
    }
    const auto author = ascii_lower(author_domain);
    const auto other = ascii_lower(identifier);
    const auto author_org = organizational_domain(author, answers);
    const auto identifier_org = organizational_domain(other, answers);
    // An organizational domain is its domain or a parent of it. So one known
    // organizational domain that is not shared as a parent settles "no",
    // and a DNS error on the other walk cannot turn that into "unknown".
    if ((author_org.determined && !is_at_or_below(other, author_org.domain)) ||
        (identifier_org.determined && !is_at_or_below(author, identifier_org.domain))) {
        return Aligned::no;
    }
    if (!author_org.determined || !identifier_org.determined) {
        return Aligned::unknown;
    }
    return author_org.domain == identifier_org.domain ? Aligned::yes : Aligned::no;
}

}  // namespace mtls::dmarc
