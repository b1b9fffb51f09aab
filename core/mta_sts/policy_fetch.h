// The MTA-STS policy fetch (RFC 8461, section 3.3): GET
// https://mta-sts.<domain>/.well-known/mta-sts.txt with libcurl, exactly as
// the RFC asks and no more leniently: the certificate validated for
// mta-sts.<domain> against the WebPKI (the system store, or ca-file and
// ca-path), SNI, HTTP 200 only, no redirects, text/plain, at most 64 KiB
// (the transfer is aborted beyond), a deadline for the whole exchange.
//
// The address of mta-sts.<domain> comes from the caller, resolved by the
// daemon's own validating resolver, and is pinned into libcurl
// (CURLOPT_RESOLVE): libcurl never asks the system resolver, so the policy
// host is looked up by the same rules as every other name we depend on.
#pragma once

#include <chrono>
#include <span>
#include <string>
#include <string_view>

#include "base/expected.h"

namespace mtls {

struct PolicyFetchSettings {
    std::chrono::milliseconds timeout{std::chrono::seconds(10)};
    std::string ca_file;  // empty: libcurl's default, the system store
    std::string ca_path;
    std::uint16_t port = 443;  // RFC 8461 names no other
};

// What the server answered, before it is judged.
struct PolicyResponse {
    long status = 0;           // HTTP status code
    std::string content_type;  // the Content-Type header's value, "" when absent
    std::string body;
    bool truncated = false;  // the body went past kMaxStsPolicyBytes and was cut off
};

// Whether a response carries a policy body (RFC 8461, section 3.3): status
// 200, media type text/plain (parameters allowed), at most 64 KiB. The error
// names what was wrong ("HTTP status 302 (redirects are not followed)").
Expected<std::string> accept_policy_response(const PolicyResponse& response);

// Call once before any thread starts (curl_global_init is not thread-safe).
void init_policy_fetch();

// https://mta-sts.<domain>/.well-known/mta-sts.txt, connecting only to
// `addresses` (literal IPv4/IPv6). The body on success; otherwise why not,
// in words fit for a log (attacker text escaped).
Expected<std::string> fetch_sts_policy(std::string_view domain, std::span<const std::string> addresses,
                                       const PolicyFetchSettings& settings);

}  // namespace mtls
