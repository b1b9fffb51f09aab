#include "dmarc/tree_walk.h"

#include <fmt/format.h>

namespace mtls::dmarc {
namespace {

// Where each label starts: offsets[i] is the start of the domain's last
// (offsets.size() - i) labels.
std::vector<std::size_t> label_starts(std::string_view domain) {
    std::vector<std::size_t> starts{0};
    for (std::size_t i = 0; i < domain.size(); ++i) {
        if (domain[i] == '.') {
            starts.push_back(i + 1);
        }
    }
    return starts;
}

}  // namespace

std::vector<std::string> walk_domains(std::string_view domain) {
    std::vector<std::string> names;
    if (domain.empty()) {
        return names;
    }
    const auto starts = label_starts(domain);
    const auto count = starts.size();
    names.emplace_back(domain);
    // Section 4.10 step 2: with 8 or more labels, shorten to 7 at once.
    constexpr std::size_t kCutTo = kMaxWalkQueries - 1;
    auto next = count >= kMaxWalkQueries ? kCutTo : count - 1;
    for (; next >= 1; --next) {
        names.emplace_back(domain.substr(starts[count - next]));
    }
    return names;
}

std::string dmarc_query_name(std::string_view domain) {
    return fmt::format("_dmarc.{}", domain);
}

WalkAnswer walk_answer_from(const DnsAnswer& answer) {
    WalkAnswer out;
    out.dnssec = answer.dnssec;
    switch (answer.status) {
        case AnswerStatus::records:
            out.kind = WalkAnswer::Kind::records;
            for (const auto& rdata : answer.rdata) {
                out.texts.push_back(txt_rdata_text(rdata));
            }
            break;
        case AnswerStatus::nodata:
        case AnswerStatus::nxdomain: out.kind = WalkAnswer::Kind::no_record; break;
        case AnswerStatus::servfail:
        case AnswerStatus::bogus:
        case AnswerStatus::timeout:
        case AnswerStatus::error:
            out.kind = WalkAnswer::Kind::error;
            out.error = std::string(to_string(answer.status));
            break;
    }
    return out;
}

NameOutcome outcome_at(const WalkAnswers& answers, std::string_view domain) {
    NameOutcome outcome;
    const auto it = answers.find(domain);
    if (it == answers.end()) {
        outcome.kind = NameOutcome::Kind::error;
        outcome.note = "not queried";
        return outcome;
    }
    const auto& answer = it->second;
    outcome.dnssec = answer.dnssec;
    if (answer.kind == WalkAnswer::Kind::error) {
        outcome.kind = NameOutcome::Kind::error;
        outcome.note = answer.error.empty() ? "error" : answer.error;
        return outcome;
    }
    std::vector<const std::string*> candidates;
    for (const auto& text : answer.texts) {
        if (starts_with_version_tag(text)) {
            candidates.push_back(&text);
        }
    }
    if (candidates.size() > 1) {
        outcome.note = fmt::format("{} records discarded", candidates.size());
        return outcome;
    }
    if (candidates.empty()) {
        return outcome;
    }
    auto record = parse_record(*candidates.front());
    if (!record) {
        outcome.note = record.error();
        return outcome;
    }
    outcome.kind = NameOutcome::Kind::record;
    outcome.record = std::move(record).value();
    return outcome;
}

}  // namespace mtls::dmarc
