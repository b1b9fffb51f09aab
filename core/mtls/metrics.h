// Counters for the optional Prometheus endpoint: results, actions, DNS lookup
// latency. Lock-free, so the per-message cost is a few atomic increments.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "mtls/action.h"
#include "mtls/verdict.h"

namespace mtls {

class Metrics {
public:
    // Upper bounds of the lookup latency buckets, in seconds (+Inf is implied).
    static constexpr std::array<double, 12> kLatencyBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                               0.1,   0.25,   0.5,   1.0,  2.5,   5.0};

    void count_message(Result result, Action action);
    void count_skipped();
    void count_forged_removed(int headers);
    void observe_lookup(std::chrono::microseconds elapsed);

    // Prometheus text exposition format 0.0.4.
    [[nodiscard]] std::string render(std::size_t active_connections) const;

private:
    std::array<std::atomic<std::uint64_t>, 5> results_{};
    std::array<std::atomic<std::uint64_t>, 4> actions_{};
    std::atomic<std::uint64_t> skipped_{0};
    std::atomic<std::uint64_t> forged_removed_{0};
    std::array<std::atomic<std::uint64_t>, kLatencyBuckets.size() + 1> latency_buckets_{};  // last: +Inf
    std::atomic<std::uint64_t> latency_sum_us_{0};
    std::atomic<std::uint64_t> latency_count_{0};
};

}  // namespace mtls
