#include "mtls/authenticator.h"

namespace mtls {

PendingCheck Authenticator::begin(Identity identity) const {
    if (!identity.usable()) {
        return PendingCheck(std::move(identity));
    }
    auto lookup = resolver_->start(identity.domain, settings_.client_mx_type, settings_.dns_timeout);
    return PendingCheck(std::move(identity), std::move(lookup));
}

Evaluation Authenticator::finish(PendingCheck& check, const TlsEvidence& evidence) const {
    Evaluation evaluation;
    if (!check.identity_.usable() || !check.lookup_) {
        evaluation.verdict = verdict_for_unusable_identity(check.identity_);
        return evaluation;
    }
    evaluation.answer = check.lookup_->wait();
    check.lookup_.reset();
    evaluation.verdict = decide(evaluation.answer, evidence, settings_.verdict);
    return evaluation;
}

}  // namespace mtls
