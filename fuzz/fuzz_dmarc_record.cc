// The DMARC record parser (core/dmarc/record.h) and TXT RDATA concatenation.
// Input: the record text (also read as raw TXT RDATA).
// Properties: a record is accepted exactly when v=DMARC1 comes first; an
// accepted record's rua/ruf URIs are free of white space and controls; a
// fallback record is p=none without sp/np, with a rua; a record with no
// usable policy is p=none without sp/np and without a rua, and never also a
// fallback; parsing is deterministic.
#include <cstddef>
#include <cstdint>
#include <span>

#include "dmarc/record.h"
#include "fuzz_support.h"

using namespace mtls;
using namespace mtls::dmarc;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto input = fuzz::as_text(data, size);
    const auto record = parse_record(input);
    FUZZ_CHECK(record.has_value() == starts_with_version_tag(input), input);
    if (record) {
        for (const auto* uris : {&record->rua, &record->ruf}) {
            for (const auto& uri : *uris) {
                FUZZ_CHECK(!uri.empty(), input);
                for (const char c : uri) {
                    const auto u = static_cast<unsigned char>(c);
                    FUZZ_CHECK(u > 0x20 && u != 0x7f, input);
                }
            }
        }
        if (!record->fallback.empty()) {
            FUZZ_CHECK(record->p == Policy::none && !record->sp && !record->np && !record->rua.empty(), input);
        }
        if (!record->no_policy.empty()) {
            FUZZ_CHECK(record->p == Policy::none && !record->sp && !record->np && record->rua.empty(), input);
            FUZZ_CHECK(record->fallback.empty(), input);
        }
        const auto again = parse_record(input);
        FUZZ_CHECK(again && again->p == record->p && again->rua == record->rua && again->psd == record->psd &&
                       again->no_policy == record->no_policy,
                   input);
    } else {
        FUZZ_CHECK(!record.error().empty(), input);
    }
    const auto text = txt_rdata_text(std::span(data, size));
    FUZZ_CHECK(text.size() < size || size == 0, input);
    return 0;
}
