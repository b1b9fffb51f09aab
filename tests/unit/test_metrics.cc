// The Prometheus exposition: every family has HELP/TYPE, counters count,
// histogram buckets are cumulative and end in +Inf == _count.
#include <catch2/catch.hpp>

#include <sstream>
#include <string>

#include "mtls/metrics.h"

using namespace mtls;

namespace {

std::string line_starting(const std::string& text, const std::string& prefix) {
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.rfind(prefix, 0) == 0) {
            return line;
        }
    }
    return {};
}

}  // namespace

TEST_CASE("metrics: results and actions are counted per label") {
    Metrics metrics;
    metrics.count_message(Result::pass, Action::tag);
    metrics.count_message(Result::fail, Action::reject);
    metrics.count_message(Result::fail, Action::reject);
    metrics.count_skipped();
    metrics.count_forged_removed(3);
    const auto text = metrics.render(7);
    CHECK(line_starting(text, "mtls_messages_total{result=\"pass\"}") == "mtls_messages_total{result=\"pass\"} 1");
    CHECK(line_starting(text, "mtls_messages_total{result=\"fail\"}") == "mtls_messages_total{result=\"fail\"} 2");
    CHECK(line_starting(text, "mtls_messages_total{result=\"none\"}") == "mtls_messages_total{result=\"none\"} 0");
    CHECK(line_starting(text, "mtls_actions_total{action=\"reject\"}") == "mtls_actions_total{action=\"reject\"} 2");
    CHECK(line_starting(text, "mtls_skipped_total ") == "mtls_skipped_total 1");
    CHECK(line_starting(text, "mtls_forged_headers_removed_total ") == "mtls_forged_headers_removed_total 3");
    CHECK(line_starting(text, "mtls_active_connections ") == "mtls_active_connections 7");
}

TEST_CASE("metrics: lookup latency histogram is cumulative") {
    Metrics metrics;
    metrics.observe_lookup(std::chrono::microseconds(500));  // <= 1 ms
    metrics.observe_lookup(std::chrono::milliseconds(30));   // <= 50 ms
    metrics.observe_lookup(std::chrono::seconds(7));         // +Inf only
    const auto text = metrics.render(0);
    CHECK(line_starting(text, "mtls_dns_lookup_seconds_bucket{le=\"0.001\"}") ==
          "mtls_dns_lookup_seconds_bucket{le=\"0.001\"} 1");
    CHECK(line_starting(text, "mtls_dns_lookup_seconds_bucket{le=\"0.025\"}") ==
          "mtls_dns_lookup_seconds_bucket{le=\"0.025\"} 1");
    CHECK(line_starting(text, "mtls_dns_lookup_seconds_bucket{le=\"0.05\"}") ==
          "mtls_dns_lookup_seconds_bucket{le=\"0.05\"} 2");
    CHECK(line_starting(text, "mtls_dns_lookup_seconds_bucket{le=\"5\"}") ==
          "mtls_dns_lookup_seconds_bucket{le=\"5\"} 2");
    CHECK(line_starting(text, "mtls_dns_lookup_seconds_bucket{le=\"+Inf\"}") ==
          "mtls_dns_lookup_seconds_bucket{le=\"+Inf\"} 3");
    CHECK(line_starting(text, "mtls_dns_lookup_seconds_count ") == "mtls_dns_lookup_seconds_count 3");
    CHECK(line_starting(text, "mtls_dns_lookup_seconds_sum ") == "mtls_dns_lookup_seconds_sum 7.0305");
}

TEST_CASE("metrics: every sample line belongs to a family with HELP and TYPE") {
    Metrics metrics;
    const auto text = metrics.render(0);
    std::istringstream lines(text);
    std::string line;
    std::string family;
    while (std::getline(lines, line)) {
        if (line.rfind("# TYPE ", 0) == 0) {
            family = line.substr(7, line.find(' ', 7) - 7);
            continue;
        }
        if (line.rfind("# HELP ", 0) == 0) {
            continue;
        }
        INFO(line);
        REQUIRE_FALSE(family.empty());
        CHECK(line.rfind(family, 0) == 0);
    }
}

// Dashboards and tests/integration read these names, labels and HELP texts:
// the whole exposition is pinned, byte for byte.
TEST_CASE("metrics: the rendered exposition is pinned") {
    Metrics metrics;
    metrics.count_message(Result::pass, Action::tag);
    metrics.count_message(Result::temperror, Action::tempfail);
    metrics.count_message(Result::permerror, Action::quarantine);
    metrics.count_skipped();
    metrics.count_forged_removed(2);
    metrics.count_forged_removed(0);
    metrics.observe_lookup(std::chrono::microseconds(2500));
    metrics.observe_lookup(std::chrono::milliseconds(700));
    metrics.count_discovery_probe();
    metrics.count_discovery("pending", false);
    metrics.count_discovery("pass", true);
    metrics.count_discovery("matched", false);  // DANE judged the discovered chain
    metrics.count_discovery("no such outcome", false);
    CHECK(metrics.render(3) ==
          "# HELP mtls_messages_total Messages judged, by mtls result.\n"
          "# TYPE mtls_messages_total counter\n"
          "mtls_messages_total{result=\"pass\"} 1\n"
          "mtls_messages_total{result=\"fail\"} 0\n"
          "mtls_messages_total{result=\"none\"} 0\n"
          "mtls_messages_total{result=\"temperror\"} 1\n"
          "mtls_messages_total{result=\"permerror\"} 1\n"
          "# HELP mtls_actions_total Policy actions taken.\n"
          "# TYPE mtls_actions_total counter\n"
          "mtls_actions_total{action=\"tag\"} 1\n"
          "mtls_actions_total{action=\"reject\"} 0\n"
          "mtls_actions_total{action=\"tempfail\"} 1\n"
          "mtls_actions_total{action=\"quarantine\"} 1\n"
          "# HELP mtls_skipped_total Messages not judged (SMTP-AUTH clients).\n"
          "# TYPE mtls_skipped_total counter\n"
          "mtls_skipped_total 1\n"
          "# HELP mtls_forged_headers_removed_total Incoming Authentication-Results claiming our authserv-id.\n"
          "# TYPE mtls_forged_headers_removed_total counter\n"
          "mtls_forged_headers_removed_total 2\n"
          "# HELP mtls_dns_lookup_seconds Client MX lookup time.\n"
          "# TYPE mtls_dns_lookup_seconds histogram\n"
          "mtls_dns_lookup_seconds_bucket{le=\"0.001\"} 0\n"
          "mtls_dns_lookup_seconds_bucket{le=\"0.0025\"} 1\n"
          "mtls_dns_lookup_seconds_bucket{le=\"0.005\"} 1\n"
          "mtls_dns_lookup_seconds_bucket{le=\"0.01\"} 1\n"
          "mtls_dns_lookup_seconds_bucket{le=\"0.025\"} 1\n"
          "mtls_dns_lookup_seconds_bucket{le=\"0.05\"} 1\n"
          "mtls_dns_lookup_seconds_bucket{le=\"0.1\"} 1\n"
          "mtls_dns_lookup_seconds_bucket{le=\"0.25\"} 1\n"
          "mtls_dns_lookup_seconds_bucket{le=\"0.5\"} 1\n"
          "mtls_dns_lookup_seconds_bucket{le=\"1\"} 2\n"
          "mtls_dns_lookup_seconds_bucket{le=\"2.5\"} 2\n"
          "mtls_dns_lookup_seconds_bucket{le=\"5\"} 2\n"
          "mtls_dns_lookup_seconds_bucket{le=\"+Inf\"} 2\n"
          "mtls_dns_lookup_seconds_sum 0.7025\n"
          "mtls_dns_lookup_seconds_count 2\n"
          "# HELP mtls_discovery_probes_total Certificate discovery probes started (connections back to a client).\n"
          "# TYPE mtls_discovery_probes_total counter\n"
          "mtls_discovery_probes_total 1\n"
          "# HELP mtls_discovery_results_total Messages whose verdict certificate discovery decided, by outcome.\n"
          "# TYPE mtls_discovery_results_total counter\n"
          "mtls_discovery_results_total{outcome=\"pass\"} 1\n"
          "mtls_discovery_results_total{outcome=\"name-mismatch\"} 0\n"
          "mtls_discovery_results_total{outcome=\"chain-invalid\"} 0\n"
          "mtls_discovery_results_total{outcome=\"matched\"} 1\n"
          "mtls_discovery_results_total{outcome=\"other-certificate\"} 0\n"
          "mtls_discovery_results_total{outcome=\"no-listener\"} 0\n"
          "mtls_discovery_results_total{outcome=\"no-starttls\"} 0\n"
          "mtls_discovery_results_total{outcome=\"smtp-failed\"} 0\n"
          "mtls_discovery_results_total{outcome=\"tls-failed\"} 0\n"
          "mtls_discovery_results_total{outcome=\"timed-out\"} 0\n"
          "mtls_discovery_results_total{outcome=\"not-allowed\"} 0\n"
          "mtls_discovery_results_total{outcome=\"rate-limited\"} 0\n"
          "mtls_discovery_results_total{outcome=\"overloaded\"} 0\n"
          "mtls_discovery_results_total{outcome=\"shut-down\"} 0\n"
          "mtls_discovery_results_total{outcome=\"pending\"} 1\n"
          "# HELP mtls_discovery_cache_hits_total Discovery outcomes answered from the cache, without a probe.\n"
          "# TYPE mtls_discovery_cache_hits_total counter\n"
          "mtls_discovery_cache_hits_total 1\n"
          "# HELP mtls_active_connections MTA connections open now.\n"
          "# TYPE mtls_active_connections gauge\n"
          "mtls_active_connections 3\n");
}
