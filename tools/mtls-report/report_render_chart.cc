#include "report_render_chart.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "report_render_shared.h"

namespace mtls::report::render {
namespace {

constexpr double kWidth = 960;
constexpr double kHeight = 320;
constexpr double kLeft = 56;
constexpr double kRight = 12;
constexpr double kTop = 28;
constexpr double kBottom = 44;
constexpr double kBaseline = kHeight - kBottom;

using Buckets = std::map<std::int64_t, ResultCounts>;

// Where the bars go: one slot per bucket width from the first bucket to the
// last, empty buckets included, and a height scale that fits the peak.
struct Geometry {
    std::int64_t width = 0;  // of a bucket, in seconds
    std::int64_t first = 0;  // start of the first bucket
    std::int64_t slot_count = 0;
    std::uint64_t peak = 1;
    double bar = 0;    // width of a slot
    double scale = 0;  // height of one message

    Geometry(const Buckets& buckets, std::int64_t bucket_width)
        : width(bucket_width),
          first(buckets.begin()->first),
          slot_count((buckets.rbegin()->first - first) / width + 1) {  // whole buckets
        for (const auto& [start, counts] : buckets) {
            std::uint64_t total = 0;
            for (const auto count : counts) {
                total += count;
            }
            peak = std::max(peak, total);
        }
        bar = (kWidth - kLeft - kRight) / static_cast<double>(slot_count);
        scale = (kHeight - kTop - kBottom) / static_cast<double>(peak);
    }
};

void legend_and_axes(std::ostream& out, const Geometry& chart) {
    double x = kLeft;
    for (std::size_t i = 0; i < kResultCount; ++i) {
        out << fmt::format(
            "<rect x=\"{:.1f}\" y=\"8\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{:.1f}\" "
            "y=\"18\">{}</text>\n",
            x, kColours[i], x + 16, html_escape(to_string(result_at(i))));
        x += 100;
    }
    out << fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"#444\"/>\n", kLeft, kTop, kBaseline);
    out << fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"#444\"/>\n", kLeft, kBaseline,
                       kWidth - kRight);
    out << fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n", kLeft - 6, kTop + 10, chart.peak);
    out << fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">0</text>\n", kLeft - 6, kBaseline);
}

// One group per bucket, its counts in a tooltip.
void stacked_bar(std::ostream& out, const Geometry& chart, std::int64_t start, const ResultCounts& counts) {
    const std::int64_t slot = (start - chart.first) / chart.width;  // starts are multiples of width
    const double left = kLeft + static_cast<double>(slot) * chart.bar;
    double base = kBaseline;
    std::vector<std::string> tip;
    for (std::size_t i = 0; i < kResultCount; ++i) {
        tip.push_back(fmt::format("{} {}", to_string(result_at(i)), counts[i]));
    }
    out << fmt::format("<g><title>{} ({}): {}</title>", html_escape(bucket_label(start, chart.width)),
                       width_name(chart.width), html_escape(fmt::format("{}", fmt::join(tip, ", "))));
    for (std::size_t i = 0; i < kResultCount; ++i) {
        if (counts[i] == 0) {
            continue;
        }
        const double height = static_cast<double>(counts[i]) * chart.scale;
        base -= height;
        out << fmt::format("<rect x=\"{:.2f}\" y=\"{:.2f}\" width=\"{:.2f}\" height=\"{:.2f}\" fill=\"{}\"/>", left,
                           base, std::max(chart.bar - 1.0, 0.5), height, kColours[i]);
    }
    out << "</g>\n";
}

// Up to six labels along the time axis.
void time_labels(std::ostream& out, const Geometry& chart) {
    const std::int64_t step = std::max<std::int64_t>(1, (chart.slot_count + 5) / 6);
    for (std::int64_t slot = 0; slot < chart.slot_count; slot += step) {
        out << fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"start\">{}</text>\n",
                           kLeft + static_cast<double>(slot) * chart.bar, kBaseline + 18,
                           html_escape(bucket_label(chart.first + slot * chart.width, chart.width)));
    }
}

}  // namespace

void html_chart(std::ostream& out, const Summary& summary, const RenderOptions& options) {
    const auto width = chart_width(summary, options);
    const auto buckets = summary.timeline().buckets(width);
    if (buckets.empty()) {
        out << "<p>No record carried a timestamp, so there is no chart (lines from <code>journalctl -o cat</code> "
               "or a bare log have none).</p>\n";
        return;
    }
    const Geometry chart(buckets, width);
    out << fmt::format(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {0} {1}\" width=\"{0}\" height=\"{1}\" role=\"img\" "
        "aria-label=\"messages per {2}, by result\">\n",
        kWidth, kHeight, width_name(width));
    legend_and_axes(out, chart);
    for (const auto& [start, counts] : buckets) {
        stacked_bar(out, chart, start, counts);
    }
    time_labels(out, chart);
    out << "</svg>\n";
    out << fmt::format("<p>Messages per {} (UTC), stacked by result; hover a bar for its counts.</p>\n",
                       width_name(width));
}

}  // namespace mtls::report::render
