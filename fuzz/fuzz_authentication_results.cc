// Incoming Authentication-Results header bodies (RFC 8601), which anyone can
// put in a message: parse_authserv_id and claims_authserv_id against our
// fixed authserv-id.
// Properties: a strictly parsed id is never empty; whatever the strict parse
// attributes to us, the removal check claims too (the lenient reading only
// adds); the check ignores case and a trailing dot of our id; and a header
// body that names us plainly is always claimed, whatever follows it.
#include <cstddef>
#include <cstdint>

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
    return 0;
}
