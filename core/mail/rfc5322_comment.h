// RFC 5322 comments (section 3.2.2): "(" ... ")", nested, with quoted-pairs.
// One reading for every parser of header fields here: the From parser
// (core/dmarc/author_domain.cc) and the Authentication-Results reader
// (core/mail/authentication_results_reader.cc).
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace mtls {

// With text[start] == '(': the position just past its matching ')', or
// std::nullopt when the comment never closes (attacker text often does not).
inline std::optional<std::size_t> end_of_comment(std::string_view text, std::size_t start) {
    int depth = 0;
    for (std::size_t pos = start; pos < text.size();) {
        const char c = text[pos++];
        if (c == '\\') {
            ++pos;  // a quoted-pair: the next character is taken as is
        } else if (c == '(') {
            ++depth;
        } else if (c == ')' && --depth == 0) {
            return pos;
        }
    }
    return std::nullopt;
}

}  // namespace mtls
