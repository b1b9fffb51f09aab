#include "mtls/authenticator.h"

#include <algorithm>

#include "dns/tlsa_record.h"

namespace mtls {

PendingCheck Authenticator::begin(Identity identity, std::optional<IpAddress> client) const {
    if (!identity.usable()) {
        return PendingCheck(std::move(identity));
    }
    auto lookup = resolver_->start(identity.domain, settings_.client_mx_type, settings_.dns_timeout);
    return PendingCheck(std::move(identity), std::move(lookup), client);
}

bool Authenticator::start_probe(PendingCheck& check, const Sha256Digest& fingerprint) const {
    if (!discovery_ || !check.client_ || check.probe_ || !check.identity_.usable()) {
        return false;
    }
    // No SNI: the client's host name is what is being established.
    auto ticket = discovery_->start(*check.client_, fingerprint);
    const bool started = ticket.started_probe();
    check.probe_.emplace(PendingCheck::Probe{std::move(ticket), std::chrono::steady_clock::now()});
    return started;
}

bool Authenticator::discover(PendingCheck& check, const TlsEvidence& evidence) const {
    return discovery_worth_starting(evidence) && start_probe(check, *evidence.fingerprints.certificate);
}

void Authenticator::apply_discovery_to(PendingCheck& check, const TlsEvidence& evidence, Evaluation& evaluation) const {
    if (!discovery_ || !discovery_applicable(evaluation.verdict, evidence)) {
        return;
    }
    const auto hosts = discovery_hosts(evaluation.verdict, evaluation.tlsa);
    if (hosts.empty()) {
        return;  // every Client MX host has secure TLSA records, and none named the key
    }
    // A verified certificate with names is probed only now that they are
    // known to match no Client MX host.
    evaluation.discovery.probe_started = start_probe(check, *evidence.fingerprints.certificate);
    if (!check.probe_) {
        return;
    }
    const auto waited = std::chrono::steady_clock::now() - check.probe_->started;
    const auto left = std::max(std::chrono::steady_clock::duration::zero(), settings_.dns_timeout - waited);
    const auto result = check.probe_->ticket.collect(std::chrono::ceil<std::chrono::milliseconds>(left));
    evaluation.verdict = apply_discovery(std::move(evaluation.verdict), result, hosts,
                                         settings_.verdict.allow_wildcards, evaluation.discovery);
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
    apply_discovery_to(check, evidence, evaluation);
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
