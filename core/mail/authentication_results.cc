#include "mail/authentication_results.h"

#include <algorithm>
#include <vector>

#include <fmt/format.h>

#include "dns/domain_name.h"

namespace mtls {
namespace {

constexpr std::string_view kTokenSpecials = "()<>@,;:\\\"/[]?=";

bool is_wsp(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

std::string quoted(std::string_view text) {
    std::string out = "\"";
    for (const char c : text) {
        if (c == '"' || c == '\\') {
            out.push_back('\\');
        }
        out.push_back(c);
    }
    out.push_back('"');
    return out;
}

std::string comment_for(const Verdict& verdict) {
    std::vector<std::string> parts;
    if (verdict.method == PassMethod::dane) {
        parts.push_back((verdict.dane_trust_anchor ? "DANE-TA TLSA " : "DANE-EE TLSA ") + verdict.tlsa_owner);
    } else if (verdict.method == PassMethod::discovered) {
        parts.push_back("discovered certificate name " + verdict.matched_host);
    } else if (!verdict.matched_host.empty()) {
        parts.push_back("certificate name " + verdict.matched_host);
    }
    if (verdict.dnssec != DnssecState::unknown) {
        parts.push_back(fmt::format("DNSSEC {}", to_string(verdict.dnssec)));
    }
    if (parts.empty()) {
        return {};
    }
    return fmt::format("({})", fmt::join(parts, "; "));
}

std::string fold(std::string_view first, const std::vector<std::string>& words) {
    std::string out(first);
    std::size_t column = kAuthenticationResults.size() + 2 + first.size();  // "Name: " + first
    for (const auto& word : words) {
        if (column + 1 + word.size() > kFoldColumn) {
            out += "\n\t";
            column = 8;  // a tab, as most readers display it
        } else {
            out.push_back(' ');
            column += 1;
        }
        out += word;
        column += word.size();
    }
    return out;
}

// Skips whitespace and (nested) comments; returns false on an unterminated comment.
bool skip_cfws(std::string_view text, std::size_t& pos) {
    while (pos < text.size()) {
        if (is_wsp(text[pos])) {
            ++pos;
        } else if (text[pos] == '(') {
            int depth = 0;
            do {
                if (text[pos] == '\\') {
                    ++pos;
                } else if (text[pos] == '(') {
                    ++depth;
                } else if (text[pos] == ')') {
                    --depth;
                }
                ++pos;
            } while (depth > 0 && pos < text.size());
            if (depth > 0) {
                return false;
            }
        } else {
            break;
        }
    }
    return true;
}

std::string strip_trailing_dot(std::string text) {
    if (!text.empty() && text.back() == '.') {
        text.pop_back();
    }
    return text;
}

// What a careless parser might take for the authserv-id: the first run of
// non-separator characters once comments, quotes and escapes are dropped.
std::string lenient_authserv_id(std::string_view body) {
    std::string out;
    int depth = 0;
    for (std::size_t i = 0; i < body.size(); ++i) {
        const char c = body[i];
        if (c == '\\') {
            ++i;
            if (depth == 0 && i < body.size()) {
                out.push_back(body[i]);
            }
            continue;
        }
        if (c == '(') {
            ++depth;
            continue;
        }
        if (c == ')') {
            depth = std::max(0, depth - 1);
            continue;
        }
        if (depth > 0 || c == '"') {
            continue;
        }
        if (is_wsp(c) || c == ';') {
            if (!out.empty()) {
                break;
            }
            continue;
        }
        out.push_back(c);
    }
    return out;
}

bool same_id(std::string_view candidate, std::string_view ours) {
    return !candidate.empty() &&
           ascii_iequals(strip_trailing_dot(std::string(candidate)), strip_trailing_dot(std::string(ours)));
}

}  // namespace

bool is_token(std::string_view text) {
    return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u > 0x20 && u < 0x7f && kTokenSpecials.find(c) == std::string_view::npos;
    });
}

std::string format_authentication_results(std::string_view authserv_id, const Identity& identity,
                                          const Verdict& verdict) {
    std::vector<std::string> words;
    words.push_back(fmt::format("mtls={}", to_string(verdict.result)));
    if (!verdict.reason.empty()) {
        words.push_back("reason=" + quoted(verdict.reason));
    }
    if (auto comment = comment_for(verdict); !comment.empty()) {
        // Foldable at its spaces (FWS is allowed in a comment): it may hold
        // a 253-character host name.
        for (std::size_t start = 0; start <= comment.size();) {
            const auto space = std::min(comment.find(' ', start), comment.size());
            words.push_back(comment.substr(start, space - start));
            start = space + 1;
        }
    }
    if (identity.usable()) {
        words.push_back(fmt::format("{}={}", property_name(identity.kind), identity.domain));
    }
    return fold(fmt::format("{};", authserv_id), words);
}

std::string fold_authentication_results(std::string_view authserv_id, const std::vector<std::string>& words) {
    return fold(fmt::format("{};", authserv_id), words);
}

std::optional<std::string> parse_authserv_id(std::string_view body) {
    std::size_t pos = 0;
    if (!skip_cfws(body, pos) || pos >= body.size()) {
        return std::nullopt;
    }
    std::string id;
    if (body[pos] == '"') {
        for (++pos; pos < body.size() && body[pos] != '"'; ++pos) {
            if (body[pos] == '\\' && pos + 1 < body.size()) {
                ++pos;
            }
            id.push_back(body[pos]);
        }
        if (pos >= body.size()) {
            return std::nullopt;  // unterminated quoted-string
        }
        ++pos;
    } else {
        while (pos < body.size() && is_token(body.substr(pos, 1))) {
            id.push_back(body[pos++]);
        }
    }
    if (id.empty()) {
        return std::nullopt;
    }
    // What follows must be CFWS, an optional version, then ";" or the end.
    if (!skip_cfws(body, pos)) {
        return std::nullopt;
    }
    while (pos < body.size() && body[pos] >= '0' && body[pos] <= '9') {
        ++pos;
    }
    if (!skip_cfws(body, pos)) {
        return std::nullopt;
    }
    if (pos < body.size() && body[pos] != ';') {
        // "id none" (no-result) is the only other valid continuation.
        constexpr std::string_view kNone = "none";
        if (!ascii_iequals(body.substr(pos, kNone.size()), kNone)) {
            return std::nullopt;
        }
        pos += kNone.size();
        if (!skip_cfws(body, pos) || pos != body.size()) {
            return std::nullopt;
        }
    }
    return id;
}

bool claims_authserv_id(std::string_view header_body, std::string_view our_id) {
    if (auto strict = parse_authserv_id(header_body); strict && same_id(*strict, our_id)) {
        return true;
    }
    return same_id(lenient_authserv_id(header_body), our_id);
}

}  // namespace mtls
