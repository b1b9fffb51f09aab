// The reverse-path and HELO name, as the MTA hands them to the milter:
// identity_from_envelope and parse_reverse_path.
// Input: reverse-path NUL helo-name.
// Properties: an identity is either usable with a canonical domain and no
// problem, or unusable with a reason; the null sender, and only it, falls
// back to the HELO name; the two entry points agree.
#include <cstddef>
#include <cstdint>

#include "dns/domain_name.h"
#include "fuzz_support.h"
#include "mail/identity.h"

using namespace mtls;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto input = fuzz::as_text(data, size);
    const auto fields = fuzz::split_fields(input, 2);
    const std::string_view reverse_path = fields[0];
    const std::string_view helo = fields[1];

    const Identity identity = identity_from_envelope(reverse_path, helo);
    const ReversePath path = parse_reverse_path(reverse_path);

    if (identity.usable()) {
        FUZZ_CHECK(identity.problem.empty(), input);
        FUZZ_CHECK(fuzz::looks_canonical_host(identity.domain), input);
        const auto again = canonical_host_name(identity.domain);
        FUZZ_CHECK(again && again.value() == identity.domain, input);
    } else {
        FUZZ_CHECK(!identity.problem.empty(), input);
    }

    FUZZ_CHECK(path.null_sender || path.domain.empty() != path.problem.empty(), input);
    FUZZ_CHECK(!path.null_sender || (path.domain.empty() && path.problem.empty()), input);
    if (path.null_sender) {
        FUZZ_CHECK(identity.kind == IdentityKind::helo, input);
    } else {
        FUZZ_CHECK(identity.kind == IdentityKind::mail_from, input);
        FUZZ_CHECK(identity.domain == path.domain, input);
        FUZZ_CHECK(identity.problem == path.problem, input);
    }
    FUZZ_CHECK(property_name(identity.kind).starts_with("smtp."), input);
    return 0;
}
