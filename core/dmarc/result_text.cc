#include "dmarc/result_text.h"

#include <fmt/format.h>

#include "dns/domain_name.h"

namespace mtls::dmarc {
namespace {

// Printable ASCII without the characters that end or nest a comment.
std::string comment_safe(std::string_view text) {
    constexpr std::size_t kMaxReason = 120;
    std::string out;
    for (const char c : text.substr(0, kMaxReason)) {
        const auto u = static_cast<unsigned char>(c);
        out.push_back(u >= 0x20 && u < 0x7f && c != '(' && c != ')' && c != '\\' ? c : '_');
    }
    return out;
}

// A domain we write as a property value must be canonical; anything else
// (which the evaluator never produces) is left out rather than written.
bool writable_domain(const std::string& domain) {
    const auto canonical = canonical_host_name(domain);
    return canonical && *canonical == domain;
}

std::string comment_of(const Evaluation& evaluation, Policy disposition_taken) {
    std::vector<std::string> parts;
    if (evaluation.policy) {
        parts.push_back(
            fmt::format("p={} dis={}", to_string(evaluation.policy->published), to_string(disposition_taken)));
        std::vector<std::string_view> aligned;
        if (evaluation.aligned.spf) {
            aligned.emplace_back("spf");
        }
        if (evaluation.aligned.dkim) {
            aligned.emplace_back("dkim");
        }
        if (evaluation.aligned.mtls) {
            aligned.emplace_back(evaluation.mtls_counted ? "mtls" : "mtls-report-only");
        }
        if (!aligned.empty()) {
            parts.push_back(fmt::format("aligned: {}", fmt::join(aligned, " ")));
        }
    } else if (!evaluation.reason.empty()) {
        parts.push_back(comment_safe(evaluation.reason));
    }
    if (evaluation.dnssec != DnssecState::unknown) {
        parts.push_back(fmt::format("DNSSEC {}", to_string(evaluation.dnssec)));
    }
    if (parts.empty()) {
        return {};
    }
    return fmt::format("({})", fmt::join(parts, "; "));
}

}  // namespace

std::vector<std::string> result_words(const Evaluation& evaluation, Policy disposition_taken) {
    std::vector<std::string> words;
    words.push_back(fmt::format("dmarc={}", to_string(evaluation.result)));
    const auto comment = comment_of(evaluation, disposition_taken);
    for (std::size_t start = 0; start < comment.size();) {
        const auto space = std::min(comment.find(' ', start), comment.size());
        if (space > start) {
            words.push_back(comment.substr(start, space - start));
        }
        start = space + 1;
    }
    if (!evaluation.header_from.empty() && writable_domain(evaluation.header_from)) {
        words.push_back("header.from=" + evaluation.header_from);
    }
    if (evaluation.policy) {
        words.push_back(fmt::format("policy.dmarc={}", to_string(evaluation.policy->effective)));
    }
    return words;
}

std::string result_text(const Evaluation& evaluation, Policy disposition_taken) {
    return fmt::format("{}", fmt::join(result_words(evaluation, disposition_taken), " "));
}

}  // namespace mtls::dmarc
