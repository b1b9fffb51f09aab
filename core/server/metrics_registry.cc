#include "server/metrics_registry.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>
#include <utility>
#include <variant>

namespace mtls::server {

LabelledCounter::LabelledCounter(std::string label, std::vector<std::string> values)
    : label_(std::move(label)), values_(std::move(values)), counters_(values_.size()) {}

DurationHistogram::DurationHistogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(bounds_.size() + 1) {}

void DurationHistogram::observe(std::chrono::microseconds elapsed) {
    const double seconds = static_cast<double>(elapsed.count()) / 1e6;
    std::size_t bucket = bounds_.size();
    for (std::size_t i = 0; i < bounds_.size(); ++i) {
        if (seconds <= bounds_[i]) {
            bucket = i;
            break;
        }
    }
    buckets_[bucket].add();
    sum_us_.add(static_cast<std::uint64_t>(std::max<std::int64_t>(0, elapsed.count())));
    count_.add();
}

struct MetricsRegistry::Family {
    std::string name;
    std::string help;
    std::string_view type;
    std::variant<std::monostate, Counter, LabelledCounter, Gauge, DurationHistogram> metric;
};

namespace {

void render_samples(std::string& out, const std::string& name, const Counter& counter) {
    out += fmt::format("{} {}\n", name, counter.value());
}

void render_samples(std::string& out, const std::string& name, const Gauge& gauge) {
    out += fmt::format("{} {}\n", name, gauge.value());
}

void render_samples(std::string& out, const std::string& name, const LabelledCounter& counter) {
    for (std::size_t i = 0; i < counter.values().size(); ++i) {
        out += fmt::format("{}{{{}=\"{}\"}} {}\n", name, counter.label(), counter.values()[i], counter.at(i).value());
    }
}

void render_samples(std::string& out, const std::string& name, const DurationHistogram& histogram) {
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < histogram.bounds().size(); ++i) {
        cumulative += histogram.in_bucket(i);
        out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, histogram.bounds()[i], cumulative);
    }
    cumulative += histogram.in_bucket(histogram.bounds().size());
    out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n", name, cumulative);
    out += fmt::format("{}_sum {}\n", name, static_cast<double>(histogram.sum_us()) / 1e6);
    out += fmt::format("{}_count {}\n", name, histogram.count());
}

void render_samples(std::string& /*out*/, const std::string& /*name*/, const std::monostate& /*none*/) {}

}  // namespace

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

MetricsRegistry::Family& MetricsRegistry::declare(std::string name, std::string help, std::string_view type) {
    for (const auto& family : families_) {
        if (family->name == name) {
            throw std::logic_error("metric declared twice: " + name);
        }
    }
    auto family = std::make_unique<Family>();  // not movable: it holds atomics
    family->name = std::move(name);
    family->help = std::move(help);
    family->type = type;
    families_.push_back(std::move(family));
    return *families_.back();
}

Counter& MetricsRegistry::counter(std::string name, std::string help) {
    return declare(std::move(name), std::move(help), "counter").metric.emplace<Counter>();
}

LabelledCounter& MetricsRegistry::labelled_counter(std::string name, std::string help, std::string label,
                                                   std::vector<std::string> values) {
    return declare(std::move(name), std::move(help), "counter")
        .metric.emplace<LabelledCounter>(std::move(label), std::move(values));
}

Gauge& MetricsRegistry::gauge(std::string name, std::string help) {
    return declare(std::move(name), std::move(help), "gauge").metric.emplace<Gauge>();
}

DurationHistogram& MetricsRegistry::histogram(std::string name, std::string help, std::vector<double> bounds) {
    return declare(std::move(name), std::move(help), "histogram").metric.emplace<DurationHistogram>(std::move(bounds));
}

std::string MetricsRegistry::render() const {
    std::string out;
    for (const auto& family : families_) {
        out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", family->name, family->help, family->name, family->type);
        std::visit([&](const auto& metric) { render_samples(out, family->name, metric); }, family->metric);
    }
    return out;
}

}  // namespace mtls::server
