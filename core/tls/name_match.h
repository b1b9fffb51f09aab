// Matching certificate names against Client MX hosts. The draft asks for an
// exact match; wildcards are an operator's opt-in and then follow RFC 9525,
// section 6.3 ("*" is the whole left-most label and stands for one label).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace mtls {

// Both arguments canonical (see domain_name.h).
bool certificate_name_matches(std::string_view presented, std::string_view host, bool allow_wildcards);

// The first host (in the order given) that some presented name matches.
std::optional<std::string> first_matching_host(std::span<const std::string> presented,
                                               std::span<const std::string> hosts, bool allow_wildcards);

}  // namespace mtls
