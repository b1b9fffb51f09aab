#include "tlspolicy_metrics.h"

namespace mtls::tlspolicy {
namespace {

std::size_t kind_index(SocketmapStatus status) {
    return static_cast<std::size_t>(status);  // the order of the values below
}

std::size_t basis_index(Basis basis) {
    return static_cast<std::size_t>(basis);
}

std::vector<std::string> basis_labels() {
    std::vector<std::string> labels;
    for (auto basis = Basis::invalid_next_hop;;) {
        labels.emplace_back(to_string(basis));
        if (basis == Basis::no_policy) {
            break;
        }
        basis = static_cast<Basis>(static_cast<int>(basis) + 1);
    }
    return labels;
}

}  // namespace

TlsPolicyMetrics::TlsPolicyMetrics()
    : answers_(registry_.labelled_counter("mtls_tlspolicy_answers_total", "Socketmap answers by kind.", "kind",
                                          {"ok", "notfound", "temp", "timeout", "perm"})),
      bases_(registry_.labelled_counter("mtls_tlspolicy_answers_by_rule_total",
                                        "Socketmap answers by the rule that decided them.", "rule", basis_labels())),
      fetches_(registry_.labelled_counter("mtls_tlspolicy_policy_fetches_total", "MTA-STS policy fetches by outcome.",
                                          "outcome", {"fetched", "failed", "invalid", "backed_off"})),
      cache_hits_(registry_.counter("mtls_tlspolicy_policy_cache_hits_total",
                                    "Queries whose MTA-STS policy came from the cache.")),
      cache_misses_(registry_.counter("mtls_tlspolicy_policy_cache_misses_total",
                                      "Queries with an MTA-STS record and no usable cached policy.")),
      cached_policies_(registry_.gauge("mtls_tlspolicy_cached_policies", "MTA-STS policies held in memory.")),
      answer_seconds_(registry_.histogram("mtls_tlspolicy_answer_seconds", "Time to answer one socketmap query.",
                                          {0.0001, 0.001, 0.01, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0})) {}

void TlsPolicyMetrics::count_answer(const Decision& decision, std::chrono::microseconds elapsed) {
    answers_.at(kind_index(decision.reply.status)).add();
    bases_.at(basis_index(decision.basis)).add();
    answer_seconds_.observe(elapsed);
}

void TlsPolicyMetrics::count_fetch(FetchOutcome outcome) {
    fetches_.at(static_cast<std::size_t>(outcome)).add();
}

void TlsPolicyMetrics::count_cache(bool hit) {
    (hit ? cache_hits_ : cache_misses_).add();
}

}  // namespace mtls::tlspolicy
