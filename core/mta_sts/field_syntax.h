// The ABNF pieces the MTA-STS TXT record (sts_record.h) and policy file
// (sts_policy.h) share (RFC 8461, sections 3.1 and 3.2): ALPHA / DIGIT, WSP,
// and the field-name rule both use for their extension fields.
#pragma once

#include <algorithm>
#include <string_view>

namespace mtls::sts_syntax {

inline bool is_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

inline bool is_wsp(char c) {
    return c == ' ' || c == '\t';
}

inline std::string_view trim_wsp(std::string_view text) {
    while (!text.empty() && is_wsp(text.front())) {
        text.remove_prefix(1);
    }
    while (!text.empty() && is_wsp(text.back())) {
        text.remove_suffix(1);
    }
    return text;
}

// sts-ext-name and sts-policy-ext-name:
// (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
inline bool valid_field_name(std::string_view name) {
    return !name.empty() && name.size() <= 32 && is_alnum(name.front()) &&
           std::all_of(name.begin(), name.end(),
                       [](char c) { return is_alnum(c) || c == '_' || c == '-' || c == '.'; });
}

}  // namespace mtls::sts_syntax
