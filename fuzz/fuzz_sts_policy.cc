// MTA-STS policy files, TXT records and mx patterns (core/mta_sts/).
// Input: fields separated by NUL: policy body, TXT record text, MX host name.
// Properties: a parsed policy obeys RFC 8461 (mode, max_age within the limit,
// mx required unless mode none, canonical patterns, the body at most 64 KiB);
// a parsed record has an id of 1 to 32 letters or digits; every MX host the
// policy allows is canonical and matched by one pattern, a wildcard covering
// exactly one label.
#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "dns/domain_name.h"
#include "fuzz_support.h"
#include "mta_sts/sts_policy.h"
#include "mta_sts/sts_record.h"

using namespace mtls;

namespace {

bool pattern_allows(const MxPattern& pattern, const std::string& host) {
    if (!pattern.wildcard) {
        return host == pattern.domain;
    }
    const auto dot = host.find('.');
    return dot != std::string::npos && dot > 0 && host.substr(dot + 1) == pattern.domain;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto fields = fuzz::split_fields(fuzz::as_text(data, size), 3);
    const auto body = fields[0];
    const auto txt = fields[1];
    const std::string host(fields[2]);

    const auto policy = parse_sts_policy(body);
    if (policy) {
        FUZZ_CHECK(body.size() <= kMaxStsPolicyBytes, body);
        FUZZ_CHECK(policy->max_age <= kMaxStsMaxAge, body);
        FUZZ_CHECK(policy->mode == StsMode::none || !policy->mx.empty(), body);
        FUZZ_CHECK(body.find("version") != std::string_view::npos, body);
        for (const auto& pattern : policy->mx) {
            FUZZ_CHECK(fuzz::looks_canonical_host(pattern.domain), body);
            const auto again = parse_mx_pattern(pattern.text());
            FUZZ_CHECK(again && again.value() == pattern, body);
        }
        // The fuzzed host, and for each pattern its domain, one label more and two labels more.
        std::vector<std::string> hosts = {host};
        for (const auto& pattern : policy->mx) {
            for (const auto& candidate : {pattern.domain, "a." + pattern.domain, "a.b." + pattern.domain}) {
                hosts.push_back(candidate);
            }
        }
        const auto allowed = allowed_mx_hosts(*policy, hosts);
        for (const auto& name : allowed) {
            FUZZ_CHECK(fuzz::looks_canonical_host(name), host);
            FUZZ_CHECK(std::count(allowed.begin(), allowed.end(), name) == 1, host);
        }
        for (const auto& candidate : hosts) {
            const auto canonical = canonical_host_name(candidate);
            if (!canonical || canonical.value() != candidate) {
                continue;  // allowed_mx_hosts canonicalises; only names already canonical compare directly
            }
            const bool expected = std::any_of(policy->mx.begin(), policy->mx.end(), [&](const MxPattern& pattern) {
                return pattern_allows(pattern, candidate);
            });
            const bool listed = std::find(allowed.begin(), allowed.end(), candidate) != allowed.end();
            FUZZ_CHECK(expected == listed, candidate);
        }
    } else {
        FUZZ_CHECK(!policy.error().empty(), body);
    }

    const auto record = parse_sts_record(txt);
    if (record) {
        FUZZ_CHECK(txt.starts_with("v=STSv1"), txt);
        FUZZ_CHECK(!record->id.empty() && record->id.size() <= kMaxStsIdLength, txt);
        FUZZ_CHECK(std::all_of(record->id.begin(), record->id.end(),
                               [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }),
                   txt);
    }
    const std::vector<std::string> records = {std::string(txt), std::string(txt)};
    const auto twice = select_sts_record(records);
    FUZZ_CHECK(!twice || !twice.value().has_value(), txt);  // two candidates are never one
    return 0;
}
