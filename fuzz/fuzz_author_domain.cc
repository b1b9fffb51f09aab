// The RFC 5322 From parser (core/dmarc/author_domain.h).
// Input: From field bodies separated by NUL (at most 3).
// Properties: every domain found is a canonical host name, each at most
// once; an author domain exists only for exactly one field with exactly
// one domain, and is that domain; errors say why.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "dmarc/author_domain.h"
#include "dns/domain_name.h"
#include "fuzz_support.h"

using namespace mtls;
using namespace mtls::dmarc;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto input = fuzz::as_text(data, size);
    auto fields = fuzz::split_fields(input, 3);
    while (!fields.empty() && fields.back().empty()) {
        fields.pop_back();  // a missing field is no field
    }
    for (const auto field : fields) {
        const auto domains = from_domains(field);
        if (domains) {
            for (const auto& domain : *domains) {
                FUZZ_CHECK(fuzz::looks_canonical_host(domain), input);
                FUZZ_CHECK(std::count(domains->begin(), domains->end(), domain) == 1, input);
            }
        } else {
            FUZZ_CHECK(!domains.error().empty(), input);
        }
    }
    const auto author = author_domain(fields);
    if (author) {
        FUZZ_CHECK(fields.size() == 1, input);
        const auto domains = from_domains(fields.front());
        FUZZ_CHECK(domains && domains->size() == 1 && domains->front() == *author, input);
    } else {
        FUZZ_CHECK(!author.error().empty(), input);
    }
    return 0;
}
