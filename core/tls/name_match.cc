#include "tls/name_match.h"

#include <algorithm>

namespace mtls {

bool certificate_name_matches(std::string_view presented, std::string_view host, bool allow_wildcards) {
    if (presented.size() < 2 || presented.substr(0, 2) != "*.") {
        return presented == host;
    }
    if (!allow_wildcards) {
        return false;
    }
    const std::string_view parent = presented.substr(2);
    // A wildcard directly under a top-level domain ("*.com") would let one
    // certificate speak for a whole registry; RFC 9525 leaves such policy to
    // the client, and no legitimate sender needs it.
    if (parent.find('.') == std::string_view::npos) {
        return false;
    }
    const auto dot = host.find('.');
    if (dot == std::string_view::npos || dot == 0) {
        return false;
    }
    return host.substr(dot + 1) == parent;  // exactly one label replaced
}

std::optional<std::string> first_matching_host(std::span<const std::string> presented,
                                               std::span<const std::string> hosts, bool allow_wildcards) {
    for (const auto& host : hosts) {
        const bool matched = std::any_of(presented.begin(), presented.end(), [&](const std::string& name) {
            return certificate_name_matches(name, host, allow_wildcards);
        });
        if (matched) {
            return host;
        }
    }
    return std::nullopt;
}

}  // namespace mtls
