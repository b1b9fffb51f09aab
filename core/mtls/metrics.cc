#include "mtls/metrics.h"

#include <fmt/format.h>

namespace mtls {
namespace {

constexpr std::array kResults = {Result::pass, Result::fail, Result::none, Result::temperror, Result::permerror};
constexpr std::array kActions = {Action::tag, Action::reject, Action::tempfail, Action::quarantine};

template <typename Enum, std::size_t N>
std::size_t index_of(const std::array<Enum, N>& values, Enum value) {
    for (std::size_t i = 0; i < N; ++i) {
        if (values[i] == value) {
            return i;
        }
    }
    return 0;
}

}  // namespace

void Metrics::count_message(Result result, Action action) {
    results_[index_of(kResults, result)].fetch_add(1, std::memory_order_relaxed);
    actions_[index_of(kActions, action)].fetch_add(1, std::memory_order_relaxed);
}

void Metrics::count_skipped() {
    skipped_.fetch_add(1, std::memory_order_relaxed);
}

void Metrics::count_forged_removed(int headers) {
    if (headers > 0) {
        forged_removed_.fetch_add(static_cast<std::uint64_t>(headers), std::memory_order_relaxed);
    }
}

void Metrics::observe_lookup(std::chrono::microseconds elapsed) {
    const double seconds = static_cast<double>(elapsed.count()) / 1e6;
    std::size_t bucket = kLatencyBuckets.size();
    for (std::size_t i = 0; i < kLatencyBuckets.size(); ++i) {
        if (seconds <= kLatencyBuckets[i]) {
            bucket = i;
            break;
        }
    }
    latency_buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
    latency_sum_us_.fetch_add(static_cast<std::uint64_t>(std::max<std::int64_t>(0, elapsed.count())),
                              std::memory_order_relaxed);
    latency_count_.fetch_add(1, std::memory_order_relaxed);
}

std::string Metrics::render(std::size_t active_connections) const {
    std::string out;
    out += "# HELP mtls_messages_total Messages judged, by mtls result.\n# TYPE mtls_messages_total counter\n";
    for (std::size_t i = 0; i < kResults.size(); ++i) {
        out += fmt::format("mtls_messages_total{{result=\"{}\"}} {}\n", to_string(kResults[i]), results_[i].load());
    }
    out += "# HELP mtls_actions_total Policy actions taken.\n# TYPE mtls_actions_total counter\n";
    for (std::size_t i = 0; i < kActions.size(); ++i) {
        out += fmt::format("mtls_actions_total{{action=\"{}\"}} {}\n", to_string(kActions[i]), actions_[i].load());
    }
    out += fmt::format(
        "# HELP mtls_skipped_total Messages not judged (SMTP-AUTH clients).\n# TYPE mtls_skipped_total counter\n"
        "mtls_skipped_total {}\n",
        skipped_.load());
    out += fmt::format(
        "# HELP mtls_forged_headers_removed_total Incoming Authentication-Results claiming our authserv-id.\n"
        "# TYPE mtls_forged_headers_removed_total counter\nmtls_forged_headers_removed_total {}\n",
        forged_removed_.load());
    out += "# HELP mtls_dns_lookup_seconds Client MX lookup time.\n# TYPE mtls_dns_lookup_seconds histogram\n";
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < kLatencyBuckets.size(); ++i) {
        cumulative += latency_buckets_[i].load();
        out += fmt::format("mtls_dns_lookup_seconds_bucket{{le=\"{}\"}} {}\n", kLatencyBuckets[i], cumulative);
    }
    cumulative += latency_buckets_.back().load();
    out += fmt::format("mtls_dns_lookup_seconds_bucket{{le=\"+Inf\"}} {}\n", cumulative);
    out += fmt::format("mtls_dns_lookup_seconds_sum {}\n", static_cast<double>(latency_sum_us_.load()) / 1e6);
    out += fmt::format("mtls_dns_lookup_seconds_count {}\n", latency_count_.load());
    out += fmt::format(
        "# HELP mtls_active_connections MTA connections open now.\n# TYPE mtls_active_connections gauge\n"
        "mtls_active_connections {}\n",
        active_connections);
    return out;
}

}  // namespace mtls
