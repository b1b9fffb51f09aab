// Incoming Authentication-Results header bodies (RFC 8601), which anyone can
// put in a message: parse_authserv_id and claims_authserv_id against our
// fixed authserv-id.
// Properties: a strictly parsed id is never empty; whatever the strict parse
// attributes to us, the removal check claims too (the lenient reading only
// adds); the check ignores case and a trailing dot of our id; and a header
// body that names us plainly is always claimed, whatever follows it.
// The same bodies under our id, read as the DMARC stage reads them
// (dmarc/authenticated_identifiers.h): every DKIM and SPF result kept for
// the log is made of checked names and RFC 8601 words, and the log's
// dkim_results text stays within its limit and reads back as written
// (dmarc/auth_results.h).
#include <cstddef>
#include <cstdint>

#include <algorithm>
#include <array>

#include "dmarc/auth_results.h"
#include "dmarc/authenticated_identifiers.h"
#include "dns/domain_name.h"
#include "fuzz_support.h"
#include "mail/authentication_results.h"

using namespace mtls;

namespace {

constexpr std::string_view kOurId = "mx.example.net";

bool same_id(std::string_view a, std::string_view b) {
    const auto strip = [](std::string_view s) { return s.ends_with('.') ? s.substr(0, s.size() - 1) : s; };
    return !a.empty() && ascii_iequals(strip(a), strip(b));
}

void check_reported_results(std::string_view forged) {
    const std::array<std::string_view, 1> bodies = {forged};
    const std::array<std::string, 1> trusted = {std::string(kOurId)};
    const auto ids = dmarc::authenticated_identifiers(bodies, trusted, "example.com");
    FUZZ_CHECK(ids.dkim_results.size() <= dmarc::kMaxDkimResultsRead, forged);
    for (const auto& r : ids.dkim_results) {
        const auto domain = canonical_host_name(r.domain);
        FUZZ_CHECK(domain && *domain == r.domain, forged);
        const auto selector = dmarc::canonical_selector(r.selector);
        FUZZ_CHECK(r.selector.empty() || (selector && *selector == r.selector), forged);
        FUZZ_CHECK(dmarc::is_dkim_result(r.result), forged);
    }
    FUZZ_CHECK(ids.spf_result.empty() || dmarc::is_spf_result(ids.spf_result), forged);
    const auto reported = dmarc::reported_dkim_results(ids.dkim_results, "example.com", "example.com");
    const auto text = dmarc::dkim_results_text(reported);
    FUZZ_CHECK(text.size() <= dmarc::kMaxAuthResultsText, forged);
    const auto back = dmarc::dkim_results_from_text(text);
    FUZZ_CHECK(back.has_value(), forged);
    // What the text holds is what was reported, less entries that did not fit.
    auto next = reported.begin();
    for (const auto& r : *back) {
        next = std::find(next, reported.end(), r);
        FUZZ_CHECK(next != reported.end(), forged);
        ++next;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto body = fuzz::as_text(data, size);

    const auto id = parse_authserv_id(body);
    const bool claimed = claims_authserv_id(body, kOurId);
    if (id) {
        FUZZ_CHECK(!id->empty(), body);
        FUZZ_CHECK(id->size() <= body.size(), body);
        if (same_id(*id, kOurId)) {
            FUZZ_CHECK(claimed, body);
        }
    }
    FUZZ_CHECK(claims_authserv_id(body, "MX.Example.NET.") == claimed, body);

    // Our id in front of anything at all, as a forger would write it.
    const std::string forged = std::string(kOurId) + "; " + std::string(body);
    FUZZ_CHECK(claims_authserv_id(forged, kOurId), forged);
    const auto forged_id = parse_authserv_id(forged);
    FUZZ_CHECK(forged_id && *forged_id == kOurId, forged);
    check_reported_results(body);
    check_reported_results(forged);
    return 0;
}
