#include "mta_sts/mx_pattern.h"

#include "dns/domain_name.h"

namespace mtls {

Expected<MxPattern> parse_mx_pattern(std::string_view text) {
    MxPattern pattern;
    if (text.starts_with("*.")) {
        pattern.wildcard = true;
        text.remove_prefix(2);
    }
    if (text.find('*') != std::string_view::npos) {
        return Error{"'*' is allowed only as the whole left-most label"};
    }
    auto domain = canonical_host_name(text);
    if (!domain) {
        return Error{"not a host name: " + domain.error()};
    }
    pattern.domain = std::move(domain).value();
    return pattern;
}

bool mx_pattern_matches(const MxPattern& pattern, std::string_view host) {
    const auto name = canonical_host_name(host);
    if (!name) {
        return false;
    }
    const std::string& canonical = name.value();
    if (!pattern.wildcard) {
        return canonical == pattern.domain;
    }
    // Exactly one label before ".domain": the label is non-empty (canonical
    // names have no empty labels) and holds no dot.
    if (canonical.size() <= pattern.domain.size() + 1 || !canonical.ends_with(pattern.domain)) {
        return false;
    }
    const std::size_t dot = canonical.size() - pattern.domain.size() - 1;
    return canonical[dot] == '.' && canonical.find('.') == dot;
}

}  // namespace mtls
