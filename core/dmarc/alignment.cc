#include "dmarc/alignment.h"

#include "dmarc/organizational_domain.h"
#include "dns/domain_name.h"

namespace mtls::dmarc {
namespace {

std::string_view top_level_label(std::string_view domain) {
    const auto dot = domain.rfind('.');
    return dot == std::string_view::npos ? domain : domain.substr(dot + 1);
}

}  // namespace

bool may_share_organizational_domain(std::string_view author_domain, std::string_view identifier) {
    return !author_domain.empty() && ascii_iequals(top_level_label(author_domain), top_level_label(identifier));
}

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
    // Settled without a walk: evaluate_with_lookups() never asks the walk of
    // such an identifier, and one never asked must not read as unknown.
    if (!may_share_organizational_domain(author_domain, identifier)) {
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
