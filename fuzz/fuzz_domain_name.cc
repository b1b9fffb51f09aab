// Host names as they arrive in MAIL FROM, HELO, certificate names and Client
// MX targets: canonical_host_name and canonical_certificate_name.
// Properties: whatever they accept is canonical (checked independently),
// canonicalising is idempotent, and the two functions agree on plain names.
#include <cstddef>
#include <cstdint>

#include "dns/domain_name.h"
#include "fuzz_support.h"
#include "tls/name_match.h"

using namespace mtls;
using mtls::fuzz::looks_canonical_host;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto text = fuzz::as_text(data, size);

    const auto host = canonical_host_name(text);
    if (host) {
        FUZZ_CHECK(looks_canonical_host(host.value()), text);
        const auto again = canonical_host_name(host.value());
        FUZZ_CHECK(again && again.value() == host.value(), text);
        FUZZ_CHECK(ascii_iequals(host.value(), ascii_lower(host.value())), text);
        FUZZ_CHECK(certificate_name_matches(host.value(), host.value(), false), text);
    } else {
        FUZZ_CHECK(!host.error().empty(), text);
    }

    const auto certificate = canonical_certificate_name(text);
    if (certificate) {
        const std::string& name = certificate.value();
        const bool wildcard = name.size() > 2 && name.starts_with("*.");
        FUZZ_CHECK(looks_canonical_host(wildcard ? std::string_view(name).substr(2) : std::string_view(name)), text);
        const auto again = canonical_certificate_name(name);
        FUZZ_CHECK(again && again.value() == name, text);
        if (!wildcard) {
            FUZZ_CHECK(host && host.value() == name, text);
        }
    } else {
        // Every host name is also a valid presented identifier.
        FUZZ_CHECK(!host, text);
    }

    FUZZ_CHECK(ascii_iequals(text, ascii_lower(text)), text);
    FUZZ_CHECK(ascii_lower(text).size() == text.size(), text);
    return 0;
}
