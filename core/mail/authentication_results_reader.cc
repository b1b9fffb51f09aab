#include "mail/authentication_results_reader.h"

#include <algorithm>

#include "dns/domain_name.h"
#include "mail/rfc5322_comment.h"

namespace mtls {
namespace {

// A cursor over a header body that knows RFC 5322 CFWS and RFC 2045 tokens.
class Cursor {
public:
    explicit Cursor(std::string_view text) : text_(text) {}

    [[nodiscard]] bool at_end() const { return pos_ >= text_.size(); }
    [[nodiscard]] char peek() const { return at_end() ? '\0' : text_[pos_]; }
    void advance() { ++pos_; }

    // White space and nested comments; false for an unterminated comment.
    bool skip_cfws() {
        while (!at_end()) {
            const char c = text_[pos_];
            if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
                ++pos_;
            } else if (c == '(') {
                if (!skip_comment()) {
                    return false;
                }
            } else {
                break;
            }
        }
        return true;
    }

    // A token (RFC 2045) or, for value positions, a quoted-string.
    std::optional<std::string> token(std::string_view extra_stops = {}) {
        std::string out;
        while (!at_end() && is_token_char(text_[pos_]) && extra_stops.find(text_[pos_]) == std::string_view::npos) {
            out.push_back(text_[pos_++]);
        }
        if (out.empty()) {
            return std::nullopt;
        }
        return out;
    }

    std::optional<std::string> quoted_string() {
        std::string out;
        for (++pos_; !at_end(); ++pos_) {
            const char c = text_[pos_];
            if (c == '\\' && pos_ + 1 < text_.size()) {
                out.push_back(text_[++pos_]);
            } else if (c == '"') {
                ++pos_;
                return out;
            } else {
                out.push_back(c);
            }
        }
        return std::nullopt;
    }

    // value = token / quoted-string.
    std::optional<std::string> value() { return peek() == '"' ? quoted_string() : token(); }

    // pvalue: a value, or [[local-part] "@"] domain-name, which holds "@"
    // and "." and may start with a quoted local part. Also "/", which RFC
    // 8601's grammar leaves out: OpenDKIM writes header.b= unquoted, the
    // first characters of a base64 signature, and about one in eight holds a
    // "/"; refusing those would drop a genuine dkim=pass at random
    // (tests/integration/test_dmarc.py, DmarcWithOpenDkimTests).
    std::optional<std::string> property_value() {
        std::string out;
        if (peek() == '"') {
            auto quoted = quoted_string();
            if (!quoted) {
                return std::nullopt;
            }
            out = std::move(*quoted);
        }
        while (!at_end() && (is_token_char(text_[pos_]) || text_[pos_] == '@' || text_[pos_] == '/')) {
            out.push_back(text_[pos_++]);
        }
        return out;
    }

private:
    static bool is_token_char(char c) {
        const auto u = static_cast<unsigned char>(c);
        return u > 0x20 && u < 0x7f && std::string_view("()<>@,;:\\\"/[]?=").find(c) == std::string_view::npos;
    }

    bool skip_comment() {
        const auto end = end_of_comment(text_, pos_);
        pos_ = end.value_or(text_.size());
        return end.has_value();
    }

    std::string_view text_;
    std::size_t pos_ = 0;
};

// methodspec [CFWS reasonspec] [CFWS 1*propspec], after the ";".
std::optional<MethodResult> read_resinfo(Cursor& in) {
    MethodResult result;
    auto method = in.token();
    if (!method || !in.skip_cfws()) {
        return std::nullopt;
    }
    if (in.peek() == '/') {  // method-version
        in.advance();
        if (!in.skip_cfws() || !in.token() || !in.skip_cfws()) {
            return std::nullopt;
        }
    }
    if (in.peek() != '=') {
        return std::nullopt;
    }
    in.advance();
    if (!in.skip_cfws()) {
        return std::nullopt;
    }
    auto value = in.token();
    if (!value) {
        return std::nullopt;
    }
    result.method = ascii_lower(*method);
    result.result = ascii_lower(*value);
    while (true) {
        if (!in.skip_cfws()) {
            return std::nullopt;
        }
        if (in.at_end() || in.peek() == ';') {
            return result;
        }
        // token "." token "=" pvalue, or "reason" "=" value; tokens here stop at ".".
        auto ptype = in.token(".");
        if (!ptype || !in.skip_cfws()) {
            return std::nullopt;
        }
        if (ascii_iequals(*ptype, "reason") && in.peek() == '=') {
            in.advance();
            if (!in.skip_cfws()) {
                return std::nullopt;
            }
            auto reason = in.value();
            if (!reason) {
                return std::nullopt;
            }
            result.reason = std::move(*reason);
            continue;
        }
        if (in.peek() != '.') {
            return std::nullopt;
        }
        in.advance();
        if (!in.skip_cfws()) {
            return std::nullopt;
        }
        auto property = in.token();
        if (!property || !in.skip_cfws() || in.peek() != '=') {
            return std::nullopt;
        }
        in.advance();
        if (!in.skip_cfws()) {
            return std::nullopt;
        }
        auto pvalue = in.property_value();
        if (!pvalue) {
            return std::nullopt;
        }
        result.properties.push_back(ResultProperty{ascii_lower(*ptype), ascii_lower(*property), std::move(*pvalue)});
    }
}

std::string_view without_trailing_dot(std::string_view text) {
    if (!text.empty() && text.back() == '.') {
        text.remove_suffix(1);
    }
    return text;
}

}  // namespace

std::optional<std::string_view> MethodResult::property(std::string_view ptype, std::string_view name) const {
    for (const auto& candidate : properties) {
        if (ascii_iequals(candidate.ptype, ptype) && ascii_iequals(candidate.property, name)) {
            return candidate.value;
        }
    }
    return std::nullopt;
}

std::optional<AuthenticationResultsField> read_authentication_results(std::string_view header_body) {
    Cursor in(header_body);
    AuthenticationResultsField field;
    if (!in.skip_cfws()) {
        return std::nullopt;
    }
    // authserv-id = value; a token here may hold "/" (OpenDKIM's job id).
    auto id = in.peek() == '"' ? in.quoted_string() : in.token();
    while (id && in.peek() == '/') {
        in.advance();
        auto rest = in.token();
        if (!rest) {
            return std::nullopt;
        }
        *id += "/" + *rest;
    }
    if (!id || id->empty() || !in.skip_cfws()) {
        return std::nullopt;
    }
    field.authserv_id = std::move(*id);
    if (auto version = in.token(); version) {  // authres-version, or "none"
        if (ascii_iequals(*version, "none")) {
            return in.skip_cfws() && in.at_end() ? std::optional(field) : std::nullopt;
        }
        if (!std::all_of(version->begin(), version->end(), [](char c) { return c >= '0' && c <= '9'; }) ||
            !in.skip_cfws()) {
            return std::nullopt;
        }
    }
    if (in.at_end()) {
        return std::nullopt;  // neither "none" nor a resinfo
    }
    while (!in.at_end()) {
        if (in.peek() != ';') {
            return std::nullopt;
        }
        in.advance();
        if (!in.skip_cfws()) {
            return std::nullopt;
        }
        if (in.at_end()) {
            break;  // a trailing ";", which some writers add
        }
        if (auto after = in; field.results.empty()) {  // no-result: ";" "none"
            if (auto word = after.token();
                word && ascii_iequals(*word, "none") && after.skip_cfws() && after.at_end()) {
                break;
            }
        }
        auto resinfo = read_resinfo(in);
        if (!resinfo) {
            return std::nullopt;
        }
        field.results.push_back(std::move(*resinfo));
    }
    return field;
}

bool is_trusted_authserv_id(std::string_view authserv_id, std::span<const std::string> trusted) {
    const auto id = without_trailing_dot(authserv_id);
    const auto slash = id.find('/');
    const auto host = without_trailing_dot(id.substr(0, slash));
    return !host.empty() && std::any_of(trusted.begin(), trusted.end(), [&](const std::string& candidate) {
        return ascii_iequals(host, without_trailing_dot(candidate));
    });
}

}  // namespace mtls
