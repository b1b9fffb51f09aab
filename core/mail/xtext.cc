#include "mail/xtext.h"

#include "base/hex.h"

namespace mtls {
Expected<std::string> xtext_decode(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '+') {
            out.push_back(text[i]);
            continue;
        }
        if (i + 2 >= text.size()) {
            return Error{"truncated xtext escape"};
        }
        const int high = hex_value(text[i + 1]);
        const int low = hex_value(text[i + 2]);
        if (high < 0 || low < 0) {
            return Error{"invalid xtext escape"};
        }
        out.push_back(static_cast<char>(high * 16 + low));
        i += 2;
    }
    return out;
}

}  // namespace mtls
