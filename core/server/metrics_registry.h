// Prometheus metrics for any daemon here: counters, labelled counters,
// gauges and duration histograms, kept lock-free so that counting costs a
// few atomic increments, and rendered in the text exposition format 0.0.4
// (HELP and TYPE lines, then the samples, families in declaration order).
//
// A program declares its own families with its own prefix at start-up (see
// core/mtls/metrics.cc for mtls-milter's); the registry knows no names.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mtls::server {

class Counter {
public:
    void add(std::uint64_t amount = 1) { value_.fetch_add(amount, std::memory_order_relaxed); }
    [[nodiscard]] std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> value_{0};
};

class Gauge {
public:
    void set(std::int64_t value) { value_.store(value, std::memory_order_relaxed); }
    [[nodiscard]] std::int64_t value() const { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::int64_t> value_{0};
};

// One counter per value of a single label, the values fixed at declaration
// (so every sample is rendered, zero or not, and dashboards see all series).
class LabelledCounter {
public:
    LabelledCounter(std::string label, std::vector<std::string> values);

    // by index into the values given at declaration
    Counter& at(std::size_t index) { return counters_.at(index); }
    [[nodiscard]] const std::string& label() const { return label_; }
    [[nodiscard]] const std::vector<std::string>& values() const { return values_; }
    [[nodiscard]] const Counter& at(std::size_t index) const { return counters_.at(index); }

private:
    std::string label_;
    std::vector<std::string> values_;
    std::vector<Counter> counters_;
};

// Durations, in seconds: cumulative buckets ending in +Inf, _sum and _count.
// The sum is kept in whole microseconds, so it renders exactly.
class DurationHistogram {
public:
    // Upper bounds in seconds, ascending; +Inf is implied.
    explicit DurationHistogram(std::vector<double> bounds);

    void observe(std::chrono::microseconds elapsed);

    [[nodiscard]] const std::vector<double>& bounds() const { return bounds_; }
    // Observations per bucket, not cumulative; the last is +Inf's own.
    [[nodiscard]] std::uint64_t in_bucket(std::size_t index) const { return buckets_.at(index).value(); }
    [[nodiscard]] std::uint64_t sum_us() const { return sum_us_.value(); }
    [[nodiscard]] std::uint64_t count() const { return count_.value(); }

private:
    std::vector<double> bounds_;
    std::vector<Counter> buckets_;  // bounds_.size() + 1
    Counter sum_us_;
    Counter count_;
};

class MetricsRegistry {
public:
    MetricsRegistry();
    ~MetricsRegistry();
    MetricsRegistry(const MetricsRegistry&) = delete;
    MetricsRegistry& operator=(const MetricsRegistry&) = delete;

    // Declaring is not thread-safe: do it before the metrics are served.
    // The references stay valid as long as the registry. Names must be
    // valid Prometheus metric names; help is one line of text.
    Counter& counter(std::string name, std::string help);
    LabelledCounter& labelled_counter(std::string name, std::string help, std::string label,
                                      std::vector<std::string> values);
    Gauge& gauge(std::string name, std::string help);
    DurationHistogram& histogram(std::string name, std::string help, std::vector<double> bounds);

    // Safe while other threads count.
    [[nodiscard]] std::string render() const;

private:
    struct Family;
    Family& declare(std::string name, std::string help, std::string_view type);

    std::vector<std::unique_ptr<Family>> families_;
};

}  // namespace mtls::server
