// Reading Authentication-Results header fields (RFC 8601 section 2.2) that
// other filters (OpenDKIM, an SPF filter, our own mtls stage) added, so that
// the DMARC stage can use their results. Only fields whose authserv-id is
// trusted count; everything else an attacker could have written.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mtls {

// ptype "." property "=" pvalue, e.g. header.d=example.com.
struct ResultProperty {
    std::string ptype;     // lower case: "smtp", "header", "body", "policy", ...
    std::string property;  // lower case: "mailfrom", "d", "i", ...
    std::string value;     // quoted-strings unquoted, as written otherwise
};

// One resinfo: method "=" result, an optional reason, properties.
struct MethodResult {
    std::string method;  // lower case, without a method version
    std::string result;  // lower case
    std::string reason;
    std::vector<ResultProperty> properties;

    // The value of the first ptype.property, if present (names ignore case).
    [[nodiscard]] std::optional<std::string_view> property(std::string_view ptype, std::string_view name) const;
};

struct AuthenticationResultsField {
    std::string authserv_id;
    std::vector<MethodResult> results;  // empty for "authserv-id; none"
};

// Parses a header field body (after "Authentication-Results:"): comments,
// quoted strings, folding white space and method versions as RFC 8601
// allows. std::nullopt when it does not parse: such a field is ignored as a
// whole (nothing in it is trusted).
std::optional<AuthenticationResultsField> read_authentication_results(std::string_view header_body);

// Whether authserv_id is one of trusted (ignoring case and a trailing dot),
// or one of them followed by "/" and a job id, as OpenDKIM writes it with
// AuthservIDWithJobID.
bool is_trusted_authserv_id(std::string_view authserv_id, std::span<const std::string> trusted);

}  // namespace mtls
