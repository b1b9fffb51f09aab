#include "mtls/metrics.h"

#include <algorithm>
#include <string>
#include <vector>

#include "mtls/discovery_verdict.h"

namespace mtls {
namespace {

constexpr std::array kResults = {Result::pass, Result::fail, Result::none, Result::temperror, Result::permerror};
constexpr std::array kActions = {Action::tag, Action::reject, Action::tempfail, Action::quarantine};

// Every per-message outcome of certificate discovery (DiscoveryReport in
// core/mtls/discovery_verdict.h), so that each series is rendered from the
// start: the verdict's own, then each probe outcome's name ("matched" when
// DANE judged the discovered chain), then a probe still running.
const std::vector<std::string>& discovery_outcomes() {
    static const std::vector<std::string> outcomes = [] {
        std::vector<std::string> names = {std::string(kDiscoveryPass), std::string(kDiscoveryNameMismatch),
                                          std::string(kDiscoveryChainInvalid)};
        for (const auto outcome : discovery::kProbeOutcomes) {
            names.emplace_back(discovery::to_string(outcome));
        }
        names.emplace_back(kDiscoveryPending);
        return names;
    }();
    return outcomes;
}

template <typename Enum, std::size_t N>
std::size_t index_of(const std::array<Enum, N>& values, Enum value) {
    for (std::size_t i = 0; i < N; ++i) {
        if (values[i] == value) {
            return i;
        }
    }
    return 0;
}

template <typename Enum, std::size_t N>
std::vector<std::string> names_of(const std::array<Enum, N>& values) {
    std::vector<std::string> names;
    names.reserve(N);
    for (const Enum value : values) {
        names.emplace_back(to_string(value));
    }
    return names;
}

}  // namespace

// Declaration order is rendering order.
Metrics::Metrics()
    : results_(registry_.labelled_counter("mtls_messages_total", "Messages judged, by mtls result.", "result",
                                          names_of(kResults))),
      actions_(registry_.labelled_counter("mtls_actions_total", "Policy actions taken.", "action", names_of(kActions))),
      skipped_(registry_.counter("mtls_skipped_total", "Messages not judged (SMTP-AUTH clients).")),
      forged_removed_(registry_.counter("mtls_forged_headers_removed_total",
                                        "Incoming Authentication-Results claiming our authserv-id.")),
      lookup_seconds_(registry_.histogram("mtls_dns_lookup_seconds", "Client MX lookup time.",
                                          {kLatencyBuckets.begin(), kLatencyBuckets.end()})),
      discovery_probes_(registry_.counter("mtls_discovery_probes_total",
                                          "Certificate discovery probes started (connections back to a client).")),
      discovery_results_(registry_.labelled_counter("mtls_discovery_results_total",
                                                    "Messages whose verdict certificate discovery decided, by outcome.",
                                                    "outcome", discovery_outcomes())),
      discovery_cache_hits_(registry_.counter("mtls_discovery_cache_hits_total",
                                              "Discovery outcomes answered from the cache, without a probe.")),
      active_connections_(registry_.gauge("mtls_active_connections", "MTA connections open now.")) {}

void Metrics::count_message(Result result, Action action) {
    results_.at(index_of(kResults, result)).add();
    actions_.at(index_of(kActions, action)).add();
}

void Metrics::count_skipped() {
    skipped_.add();
}

void Metrics::count_forged_removed(int headers) {
    if (headers > 0) {
        forged_removed_.add(static_cast<std::uint64_t>(headers));
    }
}

void Metrics::observe_lookup(std::chrono::microseconds elapsed) {
    lookup_seconds_.observe(elapsed);
}

void Metrics::count_discovery_probe() {
    discovery_probes_.add();
}

void Metrics::count_discovery(std::string_view outcome, bool from_cache) {
    const auto& outcomes = discovery_outcomes();
    const auto it = std::find(outcomes.begin(), outcomes.end(), outcome);
    if (it != outcomes.end()) {
        discovery_results_.at(static_cast<std::size_t>(it - outcomes.begin())).add();
    }
    if (from_cache) {
        discovery_cache_hits_.add();
    }
}

std::string Metrics::render(std::size_t active_connections) {
    active_connections_.set(static_cast<std::int64_t>(active_connections));
    return registry_.render();
}

}  // namespace mtls
