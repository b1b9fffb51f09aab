#include "dmarc/organizational_domain.h"

#include <algorithm>

namespace mtls::dmarc {
namespace {

std::size_t label_count(std::string_view domain) {
    return static_cast<std::size_t>(std::count(domain.begin(), domain.end(), '.')) + 1;
}

// The suffix of domain with count labels (domain itself if it has fewer).
std::string_view suffix_with_labels(std::string_view domain, std::size_t count) {
    auto total = label_count(domain);
    std::size_t pos = 0;
    while (total > count) {
        pos = domain.find('.', pos) + 1;
        --total;
    }
    return domain.substr(pos);
}

}  // namespace

OrganizationalDomain organizational_domain(std::string_view domain, const WalkAnswers& answers) {
    OrganizationalDomain result;
    const auto names = walk_domains(domain);
    bool stopped_at_psd = false;
    for (std::size_t i = 0; i < names.size() && !stopped_at_psd; ++i) {
        const auto& name = names[i];
        ++result.names_reached;
        auto outcome = outcome_at(answers, name);
        if (outcome.kind == NameOutcome::Kind::error) {
            result.error_domain = name;
            result.error = outcome.note;
            return result;
        }
        if (outcome.kind != NameOutcome::Kind::record) {
            continue;
        }
        const auto psd = outcome.record.psd;
        result.found.push_back(FoundRecord{name, std::move(outcome.record), outcome.dnssec});
        if (psd == PsdFlag::no) {
            result.domain = name;
            stopped_at_psd = true;
        } else if (psd == PsdFlag::yes) {
            stopped_at_psd = true;
            result.psd = result.found.back();
            // One label below the public suffix domain, unless the walk
            // started there (then the rule of fewest labels picks the start).
            result.domain = i == 0 ? name : std::string(suffix_with_labels(domain, label_count(name) + 1));
        }
    }
    result.determined = true;
    if (!stopped_at_psd) {
        result.domain = result.found.empty() ? std::string(domain) : result.found.back().domain;
    }
    return result;
}

}  // namespace mtls::dmarc
