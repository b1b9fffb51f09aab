// mtls-tlspolicy's counters for the optional Prometheus endpoint, with the
// prefix "mtls_tlspolicy_": answers by kind and by rule, policy fetches by
// outcome, policy cache hits and misses, answer latency.
#pragma once

#include <chrono>
#include <string>

#include "policy_decision.h"
#include "server/metrics_registry.h"

namespace mtls::tlspolicy {

// backed_off: not attempted, an earlier failure for the same id being
// remembered (policy_engine.h, kFetchFailureBackoff).
enum class FetchOutcome { fetched, failed, invalid, backed_off };

class TlsPolicyMetrics {
public:
    TlsPolicyMetrics();
    TlsPolicyMetrics(const TlsPolicyMetrics&) = delete;
    TlsPolicyMetrics& operator=(const TlsPolicyMetrics&) = delete;

    void count_answer(const Decision& decision, std::chrono::microseconds elapsed);
    void count_fetch(FetchOutcome outcome);
    void count_cache(bool hit);
    void set_cached_policies(std::size_t count) { cached_policies_.set(static_cast<std::int64_t>(count)); }

    [[nodiscard]] std::string render() const { return registry_.render(); }

private:
    server::MetricsRegistry registry_;
    server::LabelledCounter& answers_;
    server::LabelledCounter& bases_;
    server::LabelledCounter& fetches_;
    server::Counter& cache_hits_;
    server::Counter& cache_misses_;
    server::Gauge& cached_policies_;
    server::DurationHistogram& answer_seconds_;
};

}  // namespace mtls::tlspolicy
