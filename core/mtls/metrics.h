// mtls-milter's counters for the optional Prometheus endpoint: results,
// actions, DNS lookup latency. The families are declared here, with the
// milter's "mtls_" prefix, in a generic registry (core/server/
// metrics_registry.h) that also renders them; their names, labels and HELP
// texts are what dashboards and tests/integration read, pinned in
// tests/unit/test_metrics.cc.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "mtls/action.h"
#include "mtls/verdict.h"
#include "server/metrics_registry.h"

namespace mtls {

class Metrics {
public:
    // Upper bounds of the lookup latency buckets, in seconds (+Inf is implied).
    static constexpr std::array<double, 12> kLatencyBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                               0.1,   0.25,   0.5,   1.0,  2.5,   5.0};

    Metrics();
    Metrics(const Metrics&) = delete;
    Metrics& operator=(const Metrics&) = delete;

    void count_message(Result result, Action action);
    void count_skipped();
    void count_forged_removed(int headers);
    void observe_lookup(std::chrono::microseconds elapsed);
    // Certificate discovery: a probe started; one message's outcome (the
    // names in core/mtls/discovery_verdict.h and discovery::to_string), and
    // whether it came from the cache.
    void count_discovery_probe();
    void count_discovery(std::string_view outcome, bool from_cache);

    // Prometheus text exposition format 0.0.4. Called from one thread (the
    // metrics endpoint's) at a time.
    [[nodiscard]] std::string render(std::size_t active_connections);

private:
    server::MetricsRegistry registry_;
    server::LabelledCounter& results_;
    server::LabelledCounter& actions_;
    server::Counter& skipped_;
    server::Counter& forged_removed_;
    server::DurationHistogram& lookup_seconds_;
    server::Counter& discovery_probes_;
    server::LabelledCounter& discovery_results_;
    server::Counter& discovery_cache_hits_;
    server::Gauge& active_connections_;
};

}  // namespace mtls
