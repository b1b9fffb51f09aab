#include "mtls/authenticator.h"

#include <algorithm>

#include "dns/tlsa_record.h"
#include "mtls/dane_chain.h"

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

std::optional<discovery::DiscoveryResult> Authenticator::collect_probe(const PendingCheck& check) const {
    const auto waited = std::chrono::steady_clock::now() - check.probe_->started;
    const auto left = std::max(std::chrono::steady_clock::duration::zero(), settings_.dns_timeout - waited);
    return check.probe_->ticket.collect(std::chrono::ceil<std::chrono::milliseconds>(left));
}

// The smallest sound way to judge the TLSA records only a chain can match
// (DANE-TA, SHA-512: core/mtls/dane_chain.h): apply_dane() runs first, as it
// always did, on the fingerprints alone; only when it did not pass and a
// secure RRset holds such records is the probe collected (and started here
// when the early rules of discovery_worth_starting() did not start it), and
// the chain judged against the verdict apply_dane() was given. So a pass
// needs a secure record that names this chain; everything else leaves
// apply_dane()'s result as it was: no probe, a probe that has not ended or
// that found no chain keep today's fail (a slow probe must not turn a DANE
// fail into temperror), and the discovered certificate's own PKIX verdict
// is never consulted for these hosts (discovery_hosts() leaves them out).
void Authenticator::apply_dane_to_chain(PendingCheck& check, const TlsEvidence& evidence, const Verdict& before,
                                        Evaluation& evaluation) const {
    if (!discovery_ || evaluation.verdict.result == Result::pass || !evidence.fingerprints.certificate ||
        !dane_needs_chain(evaluation.tlsa)) {
        return;
    }
    if (start_probe(check, *evidence.fingerprints.certificate)) {
        evaluation.discovery.probe_started = true;
    }
    if (!check.probe_) {
        return;
    }
    const auto result = collect_probe(check);
    DiscoveryReport& report = evaluation.discovery;
    if (!result) {
        report.outcome = kDiscoveryPending;
        return;
    }
    report.outcome = discovery::to_string(result->probe.outcome);
    report.detail = result->probe.reason;
    report.from_cache = result->from_cache;
    if (result->probe.outcome != discovery::ProbeOutcome::matched || !result->chain) {
        return;
    }
    const DiscoveredChain chain{result->probe.chain, result->chain->evidence.names, settings_.verdict.allow_wildcards,
                                std::nullopt};
    if (auto pass = dane_chain_pass(before, evaluation.tlsa, chain)) {
        evaluation.verdict = std::move(*pass);
    }
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
    // known to match no Client MX host (unless apply_dane_to_chain() did).
    if (start_probe(check, *evidence.fingerprints.certificate)) {
        evaluation.discovery.probe_started = true;
    }
    if (!check.probe_) {
        return;
    }
    const auto result = collect_probe(check);
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
        const Verdict before = evaluation.verdict;
        evaluation.verdict = apply_dane(std::move(evaluation.verdict), evaluation.tlsa, evidence.fingerprints);
        apply_dane_to_chain(check, evidence, before, evaluation);
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
