#include "mtls/dane.h"

#include <algorithm>

#include <fmt/format.h>

#include "dns/tlsa_record.h"

namespace mtls {
namespace {

constexpr std::size_t kMaxNameLength = 253;  // presentation form, no trailing dot
constexpr std::size_t kMaxLabelLength = 63;

bool is_label(std::string_view label) {
    if (label.empty() || label.size() > kMaxLabelLength || label.front() == '-' || label.back() == '-') {
        return false;
    }
    for (const char c : label) {
        const bool ok =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (!ok) {
            return false;
        }
    }
    return true;
}

Expected<std::string> parse_template(std::string_view text) {
    const auto at = text.find(kHostPlaceholder);
    if (at == std::string_view::npos || at + kHostPlaceholder.size() != text.size()) {
        return Error{fmt::format("'{}': expected labels followed by {}", text, kHostPlaceholder)};
    }
    std::string_view prefix = text.substr(0, at);
    if (prefix.empty()) {
        return std::string(text);  // "{host}" alone: the TLSA RRset at the host name itself
    }
    if (prefix.back() != '.') {
        return Error{fmt::format("'{}': expected a dot before {}", text, kHostPlaceholder)};
    }
    prefix.remove_suffix(1);
    while (!prefix.empty()) {
        const auto dot = prefix.find('.');
        const auto label = prefix.substr(0, dot);
        if (!is_label(label)) {
            return Error{fmt::format("'{}': '{}' is not a DNS label", text, label)};
        }
        prefix = dot == std::string_view::npos ? std::string_view() : prefix.substr(dot + 1);
        if (dot != std::string_view::npos && prefix.empty()) {
            return Error{fmt::format("'{}': empty label", text)};
        }
    }
    return std::string(text);
}

}  // namespace

Expected<std::vector<std::string>> parse_tlsa_name_templates(std::string_view text) {
    std::vector<std::string> templates;
    std::size_t pos = 0;
    while (pos < text.size()) {
        const auto end = text.find_first_of(", \t", pos);
        const auto item = text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
        if (!item.empty()) {
            auto parsed = parse_template(item);
            if (!parsed) {
                return Error{parsed.error()};
            }
            if (std::find(templates.begin(), templates.end(), parsed.value()) == templates.end()) {
                templates.push_back(std::move(parsed).value());
            }
        }
        if (end == std::string_view::npos) {
            break;
        }
        pos = end + 1;
    }
    return templates;
}

std::optional<std::string> tlsa_owner_name(std::string_view name_template, std::string_view host) {
    std::string name(name_template.substr(0, name_template.size() - kHostPlaceholder.size()));
    name += host;
    if (host.empty() || name.size() > kMaxNameLength) {
        return std::nullopt;
    }
    return name;
}

bool dane_applicable(const Verdict& verdict, const Fingerprints& fingerprints, const DaneSettings& settings) {
    return settings.enabled && !settings.tlsa_names.empty() && verdict.result == Result::fail &&
           verdict.dnssec == DnssecState::secure && !fingerprints.empty() && !sending_hosts(verdict).empty();
}

Verdict apply_dane(Verdict verdict, std::span<const TlsaLookupResult> results, const Fingerprints& fingerprints) {
    std::string_view failure;
    bool secure_records = false;
    for (const auto& result : results) {
        const DnsAnswer& answer = result.answer;
        if (answer.status == AnswerStatus::bogus || answer.dnssec == DnssecState::bogus) {
            failure = "TLSA DNSSEC validation failed";
            continue;
        }
        if (answer.status == AnswerStatus::timeout || answer.status == AnswerStatus::servfail ||
            answer.status == AnswerStatus::error) {
            if (failure.empty()) {
                failure = "TLSA lookup failed";
            }
            continue;
        }
        if (answer.status != AnswerStatus::records || answer.dnssec != DnssecState::secure) {
            continue;  // no records, or unsigned ones: nothing to trust
        }
        secure_records = true;
        for (const auto& rdata : answer.rdata) {
            // RFC 7671, section 4: malformed or unusable records are skipped,
            // the others still count.
            const auto record = parse_tlsa_rdata(rdata);
            if (record && dane_ee_matches(record.value(), fingerprints)) {
                verdict.result = Result::pass;
                verdict.method = PassMethod::dane;
                verdict.reason = "dane";
                verdict.matched_host = result.host;
                verdict.tlsa_owner = result.owner;
                return verdict;
            }
        }
    }
    if (!failure.empty()) {
        verdict.result = Result::temperror;
        verdict.reason = std::string(failure);
    } else if (secure_records) {
        verdict.reason = "no TLSA record matches the client key";
    }
    return verdict;
}

}  // namespace mtls
