#include "dmarc/author_domain.h"

#include <algorithm>
#include <optional>

#include "dns/domain_name.h"
#include "mail/rfc5322_comment.h"

namespace mtls::dmarc {
namespace {

// Lexical units of RFC 5322 section 3.2 once CFWS is dropped.
struct Token {
    enum class Kind { atom, quoted, literal, special };
    Kind kind = Kind::special;
    std::string text;  // atom text, quoted-string content, or the special character
};

bool is_wsp(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// atext, plus any byte of a UTF-8 sequence (RFC 6532 section 3.2).
bool is_atext(char c) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x80) {
        return true;
    }
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
        return true;
    }
    return std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

class Lexer {
public:
    explicit Lexer(std::string_view text) : text_(text) {}

    Expected<std::vector<Token>> tokens() {
        std::vector<Token> out;
        while (true) {
            if (!skip_cfws()) {
                return Error{"unterminated comment"};
            }
            if (pos_ >= text_.size()) {
                return out;
            }
            const char c = text_[pos_];
            if (c == '"') {
                auto quoted = delimited('"');
                if (!quoted) {
                    return Error{"unterminated quoted string"};
                }
                out.push_back(Token{Token::Kind::quoted, std::move(*quoted)});
            } else if (c == '[') {
                auto literal = delimited(']');
                if (!literal) {
                    return Error{"unterminated domain literal"};
                }
                out.push_back(Token{Token::Kind::literal, std::move(*literal)});
            } else if (is_atext(c)) {
                const auto start = pos_;
                while (pos_ < text_.size() && is_atext(text_[pos_])) {
                    ++pos_;
                }
                out.push_back(Token{Token::Kind::atom, std::string(text_.substr(start, pos_ - start))});
            } else if (std::string_view("<>@,;:.").find(c) != std::string_view::npos) {
                out.push_back(Token{Token::Kind::special, std::string(1, c)});
                ++pos_;
            } else {
                return Error{"unexpected character in From"};
            }
        }
    }

private:
    // White space and nested comments with quoted-pairs.
    bool skip_cfws() {
        while (pos_ < text_.size()) {
            if (is_wsp(text_[pos_])) {
                ++pos_;
                continue;
            }
            if (text_[pos_] != '(') {
                return true;
            }
            const auto end = end_of_comment(text_, pos_);
            if (!end) {
                return false;
            }
            pos_ = *end;
        }
        return true;
    }

    // The content between text_[pos_] and the closing character, with
    // quoted-pairs resolved; std::nullopt when it never closes.
    std::optional<std::string> delimited(char close) {
        std::string content;
        for (++pos_; pos_ < text_.size(); ++pos_) {
            const char c = text_[pos_];
            if (c == '\\' && pos_ + 1 < text_.size()) {
                content.push_back(text_[++pos_]);
            } else if (c == close) {
                ++pos_;
                return content;
            } else {
                content.push_back(c);
            }
        }
        return std::nullopt;
    }

    std::string_view text_;
    std::size_t pos_ = 0;
};

class AddressListParser {
public:
    explicit AddressListParser(const std::vector<Token>& tokens) : tokens_(tokens) {}

    Expected<std::vector<std::string>> parse() {
        while (!at_end()) {
            if (is_special(",")) {  // obs-addr-list allows empty elements
                ++pos_;
                continue;
            }
            if (auto problem = address(); !problem.empty()) {
                return Error{problem};
            }
            if (!at_end() && !is_special(",")) {
                return Error{"unexpected text after an address in From"};
            }
        }
        return domains_;
    }

private:
    [[nodiscard]] bool at_end() const { return pos_ >= tokens_.size(); }
    [[nodiscard]] bool is_special(std::string_view c) const {
        return !at_end() && tokens_[pos_].kind == Token::Kind::special && tokens_[pos_].text == c;
    }
    [[nodiscard]] bool is_word() const {
        return !at_end() && (tokens_[pos_].kind == Token::Kind::atom || tokens_[pos_].kind == Token::Kind::quoted);
    }

    // address = mailbox / group. Returns a problem, or "" on success.
    std::string address() {
        // A phrase (display name, obs-phrase with dots) or a local part.
        const auto phrase_start = pos_;
        while (is_word() || (pos_ > phrase_start && is_special("."))) {
            ++pos_;
        }
        const bool had_phrase = pos_ > phrase_start;
        if (is_special(":")) {
            if (!had_phrase) {
                return "group without a display name in From";
            }
            ++pos_;
            return group();
        }
        if (is_special("<")) {
            ++pos_;
            return angle_addr();
        }
        if (is_special("@") && had_phrase) {
            if (!local_part_ok(phrase_start, pos_)) {
                return "malformed local part in From";
            }
            ++pos_;
            return domain();
        }
        return "no address in From";
    }

    // The local part: word *("." word), obs-local-part allowing CFWS (dropped).
    [[nodiscard]] bool local_part_ok(std::size_t begin, std::size_t end) const {
        bool want_word = true;
        for (auto i = begin; i < end; ++i) {
            const bool word = tokens_[i].kind != Token::Kind::special;
            if (word != want_word) {
                return false;
            }
            want_word = !want_word;
        }
        return !want_word;
    }

    std::string group() {
        // group-list: mailbox-list / CFWS / obs-group-list, then ";".
        while (!at_end() && !is_special(";")) {
            if (is_special(",")) {
                ++pos_;
                continue;
            }
            const auto start = pos_;
            while (is_word() || (pos_ > start && is_special("."))) {
                ++pos_;
            }
            std::string problem;
            if (is_special("<")) {
                ++pos_;
                problem = angle_addr();
            } else if (is_special("@") && pos_ > start && local_part_ok(start, pos_)) {
                ++pos_;
                problem = domain();
            } else {
                problem = "malformed group in From";
            }
            if (!problem.empty()) {
                return problem;
            }
            if (!at_end() && !is_special(",") && !is_special(";")) {
                return "unexpected text in a group in From";
            }
        }
        if (!is_special(";")) {
            return "unterminated group in From";
        }
        ++pos_;
        return {};
    }

    // After "<": [obs-route] addr-spec ">".
    std::string angle_addr() {
        if (is_special("@") || is_special(",")) {
            // obs-route = obs-domain-list ":"; its domains are not the author's.
            while (!at_end() && !is_special(":") && !is_special(">")) {
                ++pos_;
            }
            if (!is_special(":")) {
                return "malformed route in From";
            }
            ++pos_;
        }
        const auto start = pos_;
        while (is_word() || (pos_ > start && is_special("."))) {
            ++pos_;
        }
        if (!is_special("@") || !local_part_ok(start, pos_)) {
            return is_special(">") && pos_ == start ? "empty address <> in From" : "malformed address in From";
        }
        ++pos_;
        if (auto problem = domain(); !problem.empty()) {
            return problem;
        }
        if (!is_special(">")) {
            return "unterminated angle address in From";
        }
        ++pos_;
        return {};
    }

    // domain = dot-atom / obs-domain (atoms separated by dots); a domain
    // literal is no domain DMARC can look up.
    std::string domain() {
        if (!at_end() && tokens_[pos_].kind == Token::Kind::literal) {
            return "address literal in From";
        }
        std::string text;
        bool want_atom = true;
        while (!at_end()) {
            const auto& token = tokens_[pos_];
            if (want_atom && token.kind == Token::Kind::atom) {
                text += token.text;
            } else if (!want_atom && token.kind == Token::Kind::special && token.text == ".") {
                text += '.';
            } else {
                break;
            }
            want_atom = !want_atom;
            ++pos_;
        }
        if (text.empty() || want_atom) {
            return "malformed domain in From";
        }
        auto canonical = canonical_host_name(text);
        if (!canonical) {
            return "invalid domain in From: " + canonical.error();
        }
        if (std::find(domains_.begin(), domains_.end(), *canonical) == domains_.end()) {
            domains_.push_back(std::move(canonical).value());
        }
        return {};
    }

    const std::vector<Token>& tokens_;
    std::size_t pos_ = 0;
    std::vector<std::string> domains_;
};

}  // namespace

Expected<std::vector<std::string>> from_domains(std::string_view field_body) {
    if (field_body.find('\0') != std::string_view::npos) {
        return Error{"NUL in From"};
    }
    auto tokens = Lexer(field_body).tokens();
    if (!tokens) {
        return Error{tokens.error()};
    }
    return AddressListParser(*tokens).parse();
}

Expected<std::string> author_domain(std::span<const std::string_view> from_field_bodies) {
    if (from_field_bodies.empty()) {
        return Error{"no From field"};
    }
    if (from_field_bodies.size() > 1) {
        return Error{"several From fields"};
    }
    auto domains = from_domains(from_field_bodies.front());
    if (!domains) {
        return Error{domains.error()};
    }
    if (domains->empty()) {
        return Error{"no mailbox in From"};
    }
    if (domains->size() > 1) {
        return Error{"mailboxes in several domains in From"};
    }
    return std::move(domains).value().front();
}

}  // namespace mtls::dmarc
