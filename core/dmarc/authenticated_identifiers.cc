#include "dmarc/authenticated_identifiers.h"

#include <algorithm>

#include "dns/domain_name.h"
#include "mail/authentication_results_reader.h"

namespace mtls::dmarc {
namespace {

// The domain of "local@domain" or of a bare "domain", canonical.
std::optional<std::string> domain_of(std::string_view value) {
    if (const auto at = value.rfind('@'); at != std::string_view::npos) {
        value.remove_prefix(at + 1);
    }
    auto canonical = canonical_host_name(value);
    if (!canonical) {
        return std::nullopt;
    }
    return std::move(canonical).value();
}

void add_once(std::vector<std::string>& domains, std::string domain) {
    if (std::find(domains.begin(), domains.end(), domain) == domains.end()) {
        domains.push_back(std::move(domain));
    }
}

}  // namespace

AuthenticatedIdentifiers authenticated_identifiers(std::span<const std::string_view> header_bodies,
                                                   std::span<const std::string> trusted_authserv_ids,
                                                   std::string_view envelope_domain, std::string_view helo_domain) {
    AuthenticatedIdentifiers identifiers;
    const bool null_sender = envelope_domain.empty();
    const auto spf_identity = ascii_lower(null_sender ? helo_domain : envelope_domain);
    for (const auto body : header_bodies) {
        const auto field = read_authentication_results(body);
        if (!field || !is_trusted_authserv_id(field->authserv_id, trusted_authserv_ids)) {
            continue;
        }
        for (const auto& result : field->results) {
            if (result.method == "dkim") {
                if (auto dkim = dkim_auth_result(result)) {
                    if (dkim->result == "pass") {
                        add_once(identifiers.dkim_pass_domains, dkim->domain);
                    }
                    add_dkim_result(identifiers.dkim_results, std::move(*dkim));
                }
                continue;
            }
            if (result.method == "spf") {
                // Only the MAIL FROM identity, and only this message's; for
                // the null sender an SPF filter names it either way.
                auto identity = result.property("smtp", "mailfrom");
                if (!identity && null_sender) {
                    identity = result.property("smtp", "helo");
                }
                const auto domain = identity ? domain_of(*identity) : std::nullopt;
                if (!domain || spf_identity.empty() || *domain != spf_identity) {
                    continue;
                }
                if (result.result == "pass") {
                    add_once(identifiers.spf_pass_domains, *domain);
                }
                if (identifiers.spf_result.empty() && is_spf_result(result.result)) {
                    identifiers.spf_result = result.result;
                }
                continue;
            }
            if (result.result != "pass") {
                continue;
            }
            if (result.method == "mtls" && !identifiers.mtls) {
                if (const auto mailfrom = result.property("smtp", "mailfrom")) {
                    if (auto domain = domain_of(*mailfrom)) {
                        identifiers.mtls = MtlsPass{std::move(*domain), false};
                    }
                } else if (const auto helo = result.property("smtp", "helo")) {
                    if (auto domain = domain_of(*helo)) {
                        identifiers.mtls = MtlsPass{std::move(*domain), true};
                    }
                }
            }
        }
    }
    return identifiers;
}

}  // namespace mtls::dmarc
