#include "mta_sts/sts_policy.h"

#include <algorithm>
#include <optional>

#include "dns/domain_name.h"
#include "mta_sts/field_syntax.h"

namespace mtls {
using sts_syntax::trim_wsp;
using sts_syntax::valid_field_name;

namespace {

// sts-policy-vchar and spaces: no control characters (UTF-8 is allowed).
bool valid_field_value(std::string_view value) {
    return !value.empty() && std::none_of(value.begin(), value.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return (u < 0x20 && c != '\t') || u == 0x7f;
    });
}

Expected<std::uint32_t> parse_max_age(std::string_view value, bool& capped) {
    // sts-policy-max-age-value = 1*10(DIGIT)
    if (value.empty() || value.size() > 10 ||
        !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return Error{"max_age is not 1 to 10 digits"};
    }
    std::uint64_t seconds = 0;
    for (const char c : value) {
        seconds = seconds * 10 + static_cast<std::uint64_t>(c - '0');
    }
    capped = seconds > kMaxStsMaxAge;
    return static_cast<std::uint32_t>(std::min<std::uint64_t>(seconds, kMaxStsMaxAge));
}

}  // namespace

std::string_view to_string(StsMode mode) {
    switch (mode) {
        case StsMode::enforce: return "enforce";
        case StsMode::testing: return "testing";
        case StsMode::none: return "none";
    }
    return "none";
}

Expected<StsPolicy> parse_sts_policy(std::string_view body) {
    if (body.size() > kMaxStsPolicyBytes) {
        return Error{"policy larger than 64 KiB"};
    }
    StsPolicy policy;
    std::optional<std::string_view> version;
    std::optional<std::string_view> mode;
    std::optional<std::string_view> max_age;
    std::optional<std::string_view> dnssec;
    std::size_t line_number = 0;
    while (!body.empty()) {
        ++line_number;
        const auto newline = body.find('\n');
        std::string_view line = body.substr(0, newline);
        body = newline == std::string_view::npos ? std::string_view{} : body.substr(newline + 1);
        if (line.ends_with('\r')) {
            line.remove_suffix(1);  // CRLF
        }
        line = trim_wsp(line);
        if (line.empty()) {
            continue;
        }
        const auto where = " (line " + std::to_string(line_number) + ")";
        const auto colon = line.find(':');
        if (colon == std::string_view::npos) {
            return Error{"line is not \"name: value\"" + where};
        }
        const std::string_view name = line.substr(0, colon);
        const std::string_view value = trim_wsp(line.substr(colon + 1));
        if (!valid_field_name(name)) {
            return Error{"invalid field name" + where};
        }
        if (!valid_field_value(value)) {
            return Error{"empty value or control character" + where};
        }
        if (name == "mx") {
            auto pattern = parse_mx_pattern(value);
            if (!pattern) {
                return Error{"invalid mx pattern: " + pattern.error() + where};
            }
            if (std::find(policy.mx.begin(), policy.mx.end(), pattern.value()) == policy.mx.end()) {
                policy.mx.push_back(std::move(pattern).value());
            }
            continue;
        }
        // The first of a repeated field counts (RFC 8461, section 3.2).
        const auto keep_first = [value](std::optional<std::string_view>& field) {
            if (!field) {
                field = value;
            }
        };
        if (name == "version") {
            keep_first(version);
        } else if (name == "mode") {
            keep_first(mode);
        } else if (name == "max_age") {
            keep_first(max_age);
        } else if (name == "dnssec") {
            keep_first(dnssec);
        }
    }
    if (!version) {
        return Error{"no version field"};
    }
    if (*version != "STSv1") {
        return Error{"version is not STSv1"};
    }
    if (!mode) {
        return Error{"no mode field"};
    }
    if (*mode == "enforce") {
        policy.mode = StsMode::enforce;
    } else if (*mode == "testing") {
        policy.mode = StsMode::testing;
    } else if (*mode == "none") {
        policy.mode = StsMode::none;
    } else {
        return Error{"mode is not enforce, testing or none"};
    }
    if (!max_age) {
        return Error{"no max_age field"};
    }
    auto seconds = parse_max_age(*max_age, policy.max_age_capped);
    if (!seconds) {
        return Error{seconds.error()};
    }
    policy.max_age = seconds.value();
    if (policy.mx.empty() && policy.mode != StsMode::none) {
        return Error{"no mx field (required unless mode is none)"};
    }
    policy.dnssec_expected = dnssec && ascii_iequals(*dnssec, "yes");
    return policy;
}

std::vector<std::string> allowed_mx_hosts(const StsPolicy& policy, std::span<const std::string> mx_hosts) {
    std::vector<std::string> allowed;
    for (const auto& host : mx_hosts) {
        const auto canonical = canonical_host_name(host);
        if (!canonical || std::find(allowed.begin(), allowed.end(), canonical.value()) != allowed.end()) {
            continue;
        }
        if (std::any_of(policy.mx.begin(), policy.mx.end(),
                        [&](const MxPattern& pattern) { return mx_pattern_matches(pattern, canonical.value()); })) {
            allowed.push_back(canonical.value());
        }
    }
    return allowed;
}

}  // namespace mtls
