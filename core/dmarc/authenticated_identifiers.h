// The authenticated identifiers DMARC checks for alignment, taken from the
// trusted Authentication-Results fields the earlier milters added: DKIM
// (OpenDKIM's dkim=pass header.d=), SPF (spf=pass smtp.mailfrom=) and our
// own stage 1's mtls=pass (smtp.mailfrom= or, for the null sender, smtp.helo=).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dmarc/auth_results.h"

namespace mtls::dmarc {

struct MtlsPass {
    std::string domain;      // canonical
    bool from_helo = false;  // smtp.helo (null sender), not smtp.mailfrom
};

struct AuthenticatedIdentifiers {
    std::vector<std::string> spf_pass_domains;   // canonical, each at most once
    std::vector<std::string> dkim_pass_domains;  // canonical, each at most once
    std::optional<MtlsPass> mtls;
    // For reports (dmarc/auth_results.h), whatever the results: every DKIM
    // result read (bounded), and the SPF result for the MAIL FROM identity
    // (scope mfrom; the HELO name's for the null sender), "" when none was
    // read.
    std::vector<DkimAuthResult> dkim_results;
    std::string spf_result;
};

// Reads every header body whose authserv-id is trusted (mail/
// authentication_results_reader.h); others, and those that do not parse,
// are ignored. SPF counts only for this message's MAIL FROM identity (an
// upstream result about another domain says nothing about this message):
// smtp.mailfrom whose domain equals envelope_domain; for the null sender
// (envelope_domain empty) the identity is postmaster@<HELO> (RFC 7208
// section 2.4, which RFC 9989 section 3.2.4 points to), so smtp.mailfrom or
// smtp.helo whose domain equals helo_domain. DKIM takes header.d, else the
// domain of header.i, and header.s for the report.
// Every domain must be a valid host name (canonicalised): anything else is
// dropped, so attacker text never reaches a header or a DNS query.
AuthenticatedIdentifiers authenticated_identifiers(std::span<const std::string_view> header_bodies,
                                                   std::span<const std::string> trusted_authserv_ids,
                                                   std::string_view envelope_domain, std::string_view helo_domain = {});

}  // namespace mtls::dmarc
