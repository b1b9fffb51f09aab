// The generic Prometheus registry: what each kind of family renders, in
// declaration order, and that a name is declared once.
#include <catch2/catch.hpp>

#include <chrono>
#include <stdexcept>

#include "server/metrics_registry.h"

using namespace mtls::server;

TEST_CASE("metrics registry: families render in declaration order with HELP and TYPE") {
    MetricsRegistry registry;
    auto& requests = registry.counter("demo_requests_total", "Requests served.");
    auto& answers = registry.labelled_counter("demo_answers_total", "Answers, by kind.", "kind", {"ok", "notfound"});
    auto& open = registry.gauge("demo_open", "Open connections.");
    auto& latency = registry.histogram("demo_seconds", "Time taken.", {0.01, 1.0});
    requests.add();
    requests.add(2);
    answers.at(1).add();
    open.set(-1);
    latency.observe(std::chrono::milliseconds(5));
    latency.observe(std::chrono::seconds(3));
    CHECK(registry.render() ==
          "# HELP demo_requests_total Requests served.\n# TYPE demo_requests_total counter\n"
          "demo_requests_total 3\n"
          "# HELP demo_answers_total Answers, by kind.\n# TYPE demo_answers_total counter\n"
          "demo_answers_total{kind=\"ok\"} 0\ndemo_answers_total{kind=\"notfound\"} 1\n"
          "# HELP demo_open Open connections.\n# TYPE demo_open gauge\ndemo_open -1\n"
          "# HELP demo_seconds Time taken.\n# TYPE demo_seconds histogram\n"
          "demo_seconds_bucket{le=\"0.01\"} 1\ndemo_seconds_bucket{le=\"1\"} 1\ndemo_seconds_bucket{le=\"+Inf\"} 2\n"
          "demo_seconds_sum 3.005\ndemo_seconds_count 2\n");
}

TEST_CASE("metrics registry: a name is declared once") {
    MetricsRegistry registry;
    registry.counter("demo_total", "Once.");
    CHECK_THROWS_AS(registry.gauge("demo_total", "Twice."), std::logic_error);
}
