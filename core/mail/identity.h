// The identity that mtls authenticates: the MAIL FROM domain, or for the null
// reverse-path the HELO/EHLO name, as SPF does (RFC 7208, section 2.3/2.4).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mtls {

enum class IdentityKind { mail_from, helo };

// The Authentication-Results property that names the identity
// ("smtp.mailfrom" or "smtp.helo"); both are registered ptypes.
std::string_view property_name(IdentityKind kind);

struct Identity {
    IdentityKind kind = IdentityKind::mail_from;
    // Canonical domain (see domain_name.h); empty when the identity is unusable.
    std::string domain;
    // Why the identity is unusable; empty when domain is set.
    std::string problem;

    [[nodiscard]] bool usable() const { return !domain.empty(); }
};

// Parses a reverse-path as an MTA hands it to a milter ("<user@example.org>",
// possibly without brackets, with a source route, a quoted local part, an
// address literal, a trailing dot or SMTPUTF8 text) and picks the identity.
// Never throws; nonsense yields an unusable identity with the reason.
Identity identity_from_envelope(std::string_view reverse_path, std::string_view helo_name);

// The domain part of a reverse-path, std::nullopt for the null sender "<>".
// Exposed for tests and tools; identity_from_envelope is the normal entry.
struct ReversePath {
    bool null_sender = false;
    std::string domain;   // canonical, when parsed
    std::string problem;  // non-empty when it could not be parsed
};
ReversePath parse_reverse_path(std::string_view text);

}  // namespace mtls
