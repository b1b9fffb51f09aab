#include "mail/identity.h"

#include <algorithm>

#include "dns/domain_name.h"

namespace mtls {
namespace {

constexpr std::size_t kMaxPathLength = 2048;  // RFC 5321 allows 256; be generous, not unbounded

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && is_space(text.front())) {
        text.remove_prefix(1);
    }
    while (!text.empty() && is_space(text.back())) {
        text.remove_suffix(1);
    }
    return text;
}

bool has_control(std::string_view text) {
    return std::any_of(text.begin(), text.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u < 0x20 || u == 0x7f;
    });
}

// Skips a quoted local part; returns the index just past the closing quote,
// or npos when the quote never closes.
std::size_t skip_quoted_string(std::string_view text) {
    for (std::size_t i = 1; i < text.size(); ++i) {
        if (text[i] == '\\') {
            ++i;  // quoted-pair: the next character is literal
        } else if (text[i] == '"') {
            return i + 1;
        }
    }
    return std::string_view::npos;
}

ReversePath failure(std::string why) {
    ReversePath path;
    path.problem = std::move(why);
    return path;
}

}  // namespace

std::string_view property_name(IdentityKind kind) {
    return kind == IdentityKind::helo ? "smtp.helo" : "smtp.mailfrom";
}

ReversePath parse_reverse_path(std::string_view text) {
    if (text.size() > kMaxPathLength) {
        return failure("MAIL FROM address is too long");
    }
    if (has_control(text)) {
        return failure("MAIL FROM address contains control characters");
    }
    text = trim(text);
    if (!text.empty() && text.front() == '<') {
        if (text.size() < 2 || text.back() != '>') {
            return failure("MAIL FROM address has an unbalanced angle bracket");
        }
        text = trim(text.substr(1, text.size() - 2));
    }
    if (text.empty()) {
        ReversePath path;
        path.null_sender = true;
        return path;
    }
    // RFC 5321 section 4.1.2: a source route "@a,@b:" is obsolete and ignored.
    if (text.front() == '@') {
        const auto colon = text.find(':');
        if (colon == std::string_view::npos) {
            return failure("MAIL FROM source route has no ':'");
        }
        text = text.substr(colon + 1);
    }
    std::size_t at = std::string_view::npos;
    if (!text.empty() && text.front() == '"') {
        const auto end = skip_quoted_string(text);
        if (end == std::string_view::npos) {
            return failure("MAIL FROM local part has an unterminated quote");
        }
        at = end < text.size() && text[end] == '@' ? end : std::string_view::npos;
    } else {
        at = text.rfind('@');
        if (at != std::string_view::npos && text.substr(0, at).find_first_of("@\"<>") != std::string_view::npos) {
            return failure("MAIL FROM local part is malformed");
        }
    }
    if (at == std::string_view::npos) {
        return failure("MAIL FROM address has no domain");
    }
    if (at == 0) {
        return failure("MAIL FROM address has an empty local part");
    }
    const std::string_view domain = text.substr(at + 1);
    if (!domain.empty() && domain.front() == '[') {
        return failure("MAIL FROM domain is an address literal");
    }
    auto canonical = canonical_host_name(domain);
    if (!canonical) {
        return failure("MAIL FROM domain is invalid: " + canonical.error());
    }
    ReversePath path;
    path.domain = std::move(canonical).value();
    return path;
}

Identity identity_from_envelope(std::string_view reverse_path, std::string_view helo_name) {
    Identity identity;
    auto path = parse_reverse_path(reverse_path);
    if (!path.null_sender) {
        identity.kind = IdentityKind::mail_from;
        identity.domain = std::move(path.domain);
        identity.problem = std::move(path.problem);
        return identity;
    }
    identity.kind = IdentityKind::helo;
    const std::string_view helo = trim(helo_name);
    if (helo.empty()) {
        identity.problem = "null sender and no HELO name";
    } else if (helo.front() == '[') {
        identity.problem = "null sender and the HELO name is an address literal";
    } else if (has_control(helo) || helo.size() > kMaxPathLength) {
        identity.problem = "HELO name is invalid";
    } else if (auto canonical = canonical_host_name(helo)) {
        identity.domain = std::move(canonical).value();
    } else {
        identity.problem = "HELO name is invalid: " + canonical.error();
    }
    return identity;
}

}  // namespace mtls
