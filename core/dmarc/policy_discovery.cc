#include "dmarc/policy_discovery.h"

#include <fmt/format.h>

namespace mtls::dmarc {
namespace {

// The record that applies. One with no usable policy still is the one
// (nothing else is looked for), but with it "the Mail Receiver applies no
// DMARC processing to this message" (section 4.10.1).
void apply_record(PolicyDiscovery& discovery, std::string_view domain, Record record, DnssecState dnssec) {
    discovery.policy_domain = std::string(domain);
    discovery.record = std::move(record);
    discovery.dnssec = dnssec;
    if (discovery.record.no_policy.empty()) {
        discovery.kind = PolicyDiscovery::Kind::found;
    } else {
        discovery.kind = PolicyDiscovery::Kind::none;
        discovery.note = fmt::format("{} at {}", discovery.record.no_policy, dmarc_query_name(domain));
    }
}

}  // namespace

PolicyDiscovery discover_policy(std::string_view author_domain, const WalkAnswers& answers) {
    PolicyDiscovery discovery;
    auto at_author = outcome_at(answers, author_domain);
    if (at_author.kind == NameOutcome::Kind::error) {
        discovery.kind = PolicyDiscovery::Kind::temperror;
        discovery.note = fmt::format("{} at {}", at_author.note, dmarc_query_name(author_domain));
        return discovery;
    }
    if (at_author.kind == NameOutcome::Kind::record) {
        apply_record(discovery, author_domain, std::move(at_author.record), at_author.dnssec);
        discovery.at_author_domain = true;
        // The organizational domain (for relaxed alignment and reports) is a
        // separate walk whose errors do not undo the policy found here.
        discovery.organizational = organizational_domain(author_domain, answers);
        return discovery;
    }
    // No record at the author domain: the walk from the author domain (its
    // first name already answered "none") finds the organizational domain.
    discovery.organizational = organizational_domain(author_domain, answers);
    const auto& org = discovery.organizational;
    if (!org.determined) {
        discovery.kind = PolicyDiscovery::Kind::temperror;
        discovery.note = fmt::format("{} at {}", org.error, dmarc_query_name(org.error_domain));
        return discovery;
    }
    const FoundRecord* used = nullptr;
    for (const auto& found : org.found) {
        if (found.domain == org.domain) {
            used = &found;
        }
    }
    if (used == nullptr && org.psd) {
        used = &*org.psd;
    }
    if (used == nullptr) {
        discovery.kind = PolicyDiscovery::Kind::none;
        return discovery;
    }
    apply_record(discovery, used->domain, used->record, used->dnssec);
    return discovery;
}

bool needs_existence(const PolicyDiscovery& discovery) {
    if (discovery.kind != PolicyDiscovery::Kind::found || discovery.at_author_domain || !discovery.record.np) {
        return false;
    }
    const auto& record = discovery.record;
    return *record.np != record.sp.value_or(record.p);
}

std::string_view to_string(PolicySource source) {
    switch (source) {
        case PolicySource::p: return "p";
        case PolicySource::sp: return "sp";
        case PolicySource::np: return "np";
    }
    return "p";
}

Policy lowered_for_testing(Policy policy) {
    switch (policy) {
        case Policy::reject: return Policy::quarantine;
        case Policy::quarantine:
        case Policy::none: return Policy::none;
    }
    return Policy::none;
}

AppliedPolicy applied_policy(const PolicyDiscovery& discovery, Existence existence) {
    AppliedPolicy applied;
    const auto& record = discovery.record;
    // The author domain's own record applies with p; a record found higher
    // up applies with np for a name that does not exist, else sp, else p.
    const bool inherited = !discovery.at_author_domain;
    if (inherited && existence == Existence::nonexistent && record.np) {
        applied.source = PolicySource::np;
        applied.published = *record.np;
    } else if (inherited && record.sp) {
        applied.source = PolicySource::sp;
        applied.published = *record.sp;
    } else {
        applied.source = PolicySource::p;
        applied.published = record.p;
    }
    applied.effective = record.testing ? lowered_for_testing(applied.published) : applied.published;
    return applied;
}

}  // namespace mtls::dmarc
