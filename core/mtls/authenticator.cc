#include "mtls/authenticator.h"

#include <algorithm>

#include "dns/tlsa_record.h"

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
    if (dane_applicable(evaluation.verdict, evidence.fingerprints, settings_.dane)) {
        evaluation.tlsa = look_up_tlsa(evaluation.verdict);
        evaluation.verdict = apply_dane(std::move(evaluation.verdict), evaluation.tlsa, evidence.fingerprints);
    }
    return evaluation;
}

std::vector<TlsaLookupResult> Authenticator::look_up_tlsa(const Verdict& verdict) const {
    struct InFlight {
        TlsaLookupResult result;
        Lookup lookup;
    };
    // All at once, then collected: the whole stage costs one round trip.
    std::vector<InFlight> in_flight;
    auto hosts = sending_hosts(verdict);
    hosts.resize(std::min(hosts.size(), kMaxDaneHosts));
    for (const auto& host : hosts) {
        for (const auto& name_template : settings_.dane.tlsa_names) {
            if (auto owner = tlsa_owner_name(name_template, host)) {
                auto lookup = resolver_->start(*owner, kTlsaType, settings_.dns_timeout);
                in_flight.push_back(InFlight{TlsaLookupResult{host, std::move(*owner), {}}, std::move(lookup)});
            }
        }
    }
    std::vector<TlsaLookupResult> results;
    results.reserve(in_flight.size());
    for (auto& flight : in_flight) {
        flight.result.answer = flight.lookup.wait();
        results.push_back(std::move(flight.result));
    }
    return results;
}

}  // namespace mtls
