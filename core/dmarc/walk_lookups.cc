#include "dmarc/walk_lookups.h"

namespace mtls::dmarc {
namespace {

constexpr std::uint16_t kAType = 1;

}  // namespace

WalkLookups::WalkLookups(Resolver& resolver, std::chrono::milliseconds timeout, std::size_t max_queries)
    : resolver_(&resolver), timeout_(timeout), max_queries_(max_queries) {}

void WalkLookups::start_walk(std::string_view domain) {
    for (auto& name : walk_domains(domain)) {
        if (started_ >= max_queries_) {
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
    for (const auto& domain : ids.spf_pass_domains) {
        if (domain != author) {
            lookups.start_walk(domain);
        }
    }
    if (ids.mtls && ids.mtls->domain != author) {
        lookups.start_walk(ids.mtls->domain);
    }
    for (const auto& domain : ids.dkim_pass_domains) {
        if (domain != author) {
            lookups.start_walk(domain);
        }
    }
    const auto& answers = lookups.answers();
    if (needs_existence(discover_policy(author, answers))) {
        lookups.start_existence(author);
        input.author_exists = lookups.existence();
    }
    return evaluate(input, answers);
}

}  // namespace mtls::dmarc
