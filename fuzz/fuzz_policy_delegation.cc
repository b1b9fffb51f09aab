// Postfix policy delegation requests (PolicyRequestReader, client_tls_from).
// Input: one byte choosing how the rest is cut into chunks, then the byte
// stream as a policy client would send it.
// Properties: how the bytes are cut changes nothing (the same requests, the
// same error); every request read respects the limits and could have been
// sent that way; a fingerprint is either usable SHA-256 or reported.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fuzz_support.h"
#include "postfix/policy_delegation.h"

using namespace mtls;

namespace {

struct Outcome {
    std::vector<PolicyRequest> requests;
    std::string error;
};

Outcome read(std::string_view stream, std::size_t chunk, const PolicyReaderLimits& limits) {
    PolicyRequestReader reader(limits);
    Outcome outcome;
    for (std::size_t at = 0; at < stream.size(); at += chunk) {
        reader.append(stream.substr(at, chunk));
        while (auto request = reader.next()) {
            outcome.requests.push_back(std::move(*request));
        }
    }
    outcome.error = reader.error();
    return outcome;
}

void check_request(const PolicyRequest& request, const PolicyReaderLimits& limits, std::string_view input) {
    FUZZ_CHECK(request.attributes.size() <= limits.max_attributes, input);
    std::size_t size = 1;  // the empty line
    for (const auto& [name, value] : request.attributes) {
        FUZZ_CHECK(!name.empty() && name.find_first_of(std::string_view("=\n\0", 3)) == std::string::npos, input);
        FUZZ_CHECK(value.find_first_of(std::string_view("\n\0", 2)) == std::string::npos, input);
        FUZZ_CHECK(name.size() + 1 + value.size() <= limits.max_line, input);
        size += name.size() + 1 + value.size() + 1;
    }
    FUZZ_CHECK(size <= limits.max_request, input);

    const auto tls = client_tls_from(request);
    struct Expectation {
        std::string_view attribute;
        const std::optional<Sha256Digest>& digest;
    };
    for (const Expectation& expected : {Expectation{"ccert_fingerprint", tls.fingerprints.certificate},
                                        Expectation{"ccert_pubkey_fingerprint", tls.fingerprints.public_key}}) {
        const auto value = request.get(expected.attribute);
        const bool reported = std::any_of(tls.unusable.begin(), tls.unusable.end(), [&](const UnusableFingerprint& u) {
            return u.attribute == expected.attribute;
        });
        if (!value || value->empty()) {
            FUZZ_CHECK(!expected.digest && !reported, input);
        } else {
            // Never silently absent: usable or reported, not both.
            FUZZ_CHECK(expected.digest.has_value() != reported, input);
            FUZZ_CHECK(expected.digest == parse_sha256_fingerprint(*value), input);
        }
    }
    if (tls.client) {
        FUZZ_CHECK(!tls.client->address.empty() && !tls.client->port.empty(), input);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) {
        return 0;
    }
    const std::size_t chunk = data[0] % 64 + 1;
    const auto stream = fuzz::as_text(data + 1, size - 1);
    // Small limits, so that short inputs reach every one of them.
    for (const PolicyReaderLimits& limits : {PolicyReaderLimits{}, PolicyReaderLimits{40, 200, 6}}) {
        const auto whole = read(stream, std::max<std::size_t>(stream.size(), 1), limits);
        const auto cut = read(stream, chunk, limits);
        FUZZ_CHECK(whole.requests == cut.requests, stream);
        FUZZ_CHECK(whole.error == cut.error, stream);
        for (const auto& request : whole.requests) {
            check_request(request, limits, stream);
        }
    }
    return 0;
}
