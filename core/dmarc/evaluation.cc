#include "dmarc/evaluation.h"

#include "dmarc/alignment.h"

namespace mtls::dmarc {
namespace {

// The best alignment of any of the domains.
Aligned best_of(std::string_view author, const std::vector<std::string>& domains, AlignmentMode mode,
                const WalkAnswers& answers) {
    auto best = Aligned::no;
    for (const auto& domain : domains) {
        const auto one = aligned(author, domain, mode, answers);
        if (one == Aligned::yes) {
            return one;
        }
        if (one == Aligned::unknown) {
            best = Aligned::unknown;
        }
    }
    return best;
}

// pass if any counted identifier aligns; temperror if none does but one
// could not be judged for a DNS error; fail otherwise.
Result combine(std::initializer_list<Aligned> counted) {
    bool unknown = false;
    for (const auto one : counted) {
        if (one == Aligned::yes) {
            return Result::pass;
        }
        unknown = unknown || one == Aligned::unknown;
    }
    return unknown ? Result::temperror : Result::fail;
}

}  // namespace

std::string_view to_string(Result result) {
    switch (result) {
        case Result::none: return "none";
        case Result::pass: return "pass";
        case Result::fail: return "fail";
        case Result::temperror: return "temperror";
        case Result::permerror: return "permerror";
    }
    return "none";
}

Evaluation evaluate(const EvaluationInput& input, const WalkAnswers& answers) {
    Evaluation evaluation;
    evaluation.mtls_counted = input.mode == MtlsMode::substitute;
    evaluation.mtls_from_helo = input.identifiers.mtls && input.identifiers.mtls->from_helo;
    const auto finish = [&evaluation](Result result, std::string reason) {
        evaluation.result = result;
        evaluation.result_rfc9989 = result;
        evaluation.reason = std::move(reason);
        return evaluation;
    };
    if (!input.author_domain) {
        return finish(Result::permerror, input.author_domain.error());
    }
    const auto& author = *input.author_domain;
    evaluation.header_from = author;

    auto discovery = discover_policy(author, answers);
    if (discovery.organizational.determined) {
        evaluation.organizational_domain = discovery.organizational.domain;
    }
    if (discovery.kind == PolicyDiscovery::Kind::temperror) {
        evaluation.dnssec = discovery.dnssec;
        return finish(Result::temperror, discovery.note);
    }
    if (discovery.kind == PolicyDiscovery::Kind::none) {
        // With a note, a record applies but has no usable policy: say which
        // and why, and how secure that answer was.
        if (discovery.note.empty()) {
            return finish(Result::none, "no DMARC record");
        }
        evaluation.dnssec = discovery.dnssec;
        return finish(Result::none, discovery.note);
    }
    evaluation.policy_domain = discovery.policy_domain;
    evaluation.record = discovery.record;
    evaluation.dnssec = discovery.dnssec;
    // Section 4.10.1: np applies "if the Author Domain does not exist". When
    // np would give another policy than sp (or p), an existence we could not
    // learn, whether the lookup failed or was never made, is no answer:
    // guessing "exists" would let sp stand in for np.
    if (needs_existence(discovery)) {
        if (input.author_exists == Existence::error) {
            return finish(Result::temperror, "existence of " + author + " unknown");
        }
        if (input.author_exists == Existence::unknown) {
            return finish(Result::temperror, "existence of " + author + " not looked up");
        }
    }
    evaluation.policy = applied_policy(discovery, input.author_exists);

    const auto& record = discovery.record;
    const auto& ids = input.identifiers;
    const auto spf = best_of(author, ids.spf_pass_domains, record.aspf, answers);
    const auto dkim = best_of(author, ids.dkim_pass_domains, record.adkim, answers);
    const auto mtls = ids.mtls ? aligned(author, ids.mtls->domain, record.aspf, answers) : Aligned::no;
    evaluation.aligned = AlignedBy{spf == Aligned::yes, dkim == Aligned::yes, mtls == Aligned::yes};

    evaluation.result_rfc9989 = combine({spf, dkim});
    evaluation.result = evaluation.mtls_counted ? combine({spf, dkim, mtls}) : evaluation.result_rfc9989;
    if (evaluation.result == Result::temperror) {
        evaluation.reason = "organizational domain unknown";
    }
    if (evaluation.result != Result::pass && evaluation.result != Result::fail) {
        evaluation.policy.reset();
    }
    return evaluation;
}

Policy requested_disposition(const Evaluation& evaluation) {
    if (evaluation.result != Result::fail || !evaluation.policy) {
        return Policy::none;
    }
    return evaluation.policy->effective;
}

}  // namespace mtls::dmarc
