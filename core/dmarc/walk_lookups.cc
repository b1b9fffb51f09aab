#include "dmarc/walk_lookups.h"

#include "dmarc/alignment.h"

namespace mtls::dmarc {
namespace {

constexpr std::uint16_t kAType = 1;

}  // namespace

WalkLookups::WalkLookups(Resolver& resolver, std::chrono::milliseconds timeout, std::size_t max_queries)
    : resolver_(&resolver), timeout_(timeout), max_queries_(max_queries) {}

std::size_t WalkLookups::walk_budget() const {
    const bool existence_started = existence_lookup_.has_value() || existence_ != Existence::unknown;
    const auto reserve = existence_started ? 0 : kExistenceReserve;
    return max_queries_ > reserve ? max_queries_ - reserve : 0;
}

void WalkLookups::start_walk(std::string_view domain) {
    for (auto& name : walk_domains(domain)) {
        if (started_ >= walk_budget()) {
            return;
        }
        if (answers_.contains(name) || pending_.contains(name)) {
            continue;  // memoised: asked once per message
        }
        auto lookup = resolver_->start(dmarc_query_name(name), kTxtType, timeout_);
        ++started_;
        pending_.emplace(std::move(name), std::move(lookup));
    }
}

void WalkLookups::start_existence(std::string_view domain) {
    if (existence_lookup_ || existence_ != Existence::unknown || started_ >= max_queries_) {
        return;
    }
    existence_lookup_.emplace(resolver_->start(domain, kAType, timeout_));
    ++started_;
}

const WalkAnswers& WalkLookups::answers() {
    // Each lookup waits up to its own deadline, set when it started: as they
    // all started together, the whole collection takes one timeout at most.
    for (auto& [name, lookup] : pending_) {
        answers_.insert_or_assign(name, walk_answer_from(lookup.wait()));
    }
    pending_.clear();
    return answers_;
}

Existence WalkLookups::existence() {
    if (existence_lookup_) {
        const auto answer = existence_lookup_->wait();
        existence_lookup_.reset();
        switch (answer.status) {
            case AnswerStatus::records:
            case AnswerStatus::nodata: existence_ = Existence::exists; break;
            case AnswerStatus::nxdomain: existence_ = Existence::nonexistent; break;
            case AnswerStatus::servfail:
            case AnswerStatus::bogus:
            case AnswerStatus::timeout:
            case AnswerStatus::error: existence_ = Existence::error; break;
        }
    }
    return existence_;
}

Evaluation evaluate_with_lookups(WalkLookups& lookups, EvaluationInput input) {
    if (!input.author_domain) {
        return evaluate(input, {});
    }
    const auto& author = *input.author_domain;
    lookups.start_walk(author);
    const auto& ids = input.identifiers;
    const auto walk_if_useful = [&lookups, &author](const std::string& domain) {
        if (domain != author && may_share_organizational_domain(author, domain)) {
            lookups.start_walk(domain);
        }
    };
    for (const auto& domain : ids.spf_pass_domains) {
        walk_if_useful(domain);
    }
    if (ids.mtls) {
        walk_if_useful(ids.mtls->domain);
    }
    for (const auto& domain : ids.dkim_pass_domains) {
        walk_if_useful(domain);
    }
    const auto& answers = lookups.answers();
    if (needs_existence(discover_policy(author, answers))) {
        lookups.start_existence(author);
        input.author_exists = lookups.existence();
    }
    return evaluate(input, answers);
}

}  // namespace mtls::dmarc
