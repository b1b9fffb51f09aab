#include "report_render.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>
#include <span>

#include "mtls/verdict_record.h"

namespace mtls::report {
namespace {

// ordered_json: keys stay in the order written, so that a person reading the
// report meets the input statistics first and the domains last.
using json = nlohmann::ordered_json;

constexpr std::size_t kMaxChartSlots = 400;
constexpr std::size_t kTableNameWidth = 48;
// Failing domains shown in text and HTML; JSON lists them all.
constexpr std::size_t kMaxFailingShown = 25;
constexpr std::array<std::string_view, kResultCount> kColours = {"#2e7d32", "#c62828", "#9e9e9e", "#ef6c00", "#6a1b9a"};

std::string percent(double share) {
    return fmt::format("{:.1f}%", share * 100.0);
}

std::string percent_or_dash(std::optional<double> share) {
    return share ? percent(*share) : "-";
}

// A file name comes from the command line and may hold any byte.
std::string safe_name(std::string_view name) {
    return escape_for_log(name);
}

std::string iso_or_dash(std::optional<Timestamp> time) {
    return time ? format_iso(*time) : "-";
}

std::string counter_text(const CappedCounter& counter, std::string_view separator = ", ") {
    std::vector<std::string> parts;
    for (const auto& [value, count] : counter.sorted()) {
        parts.push_back(fmt::format("{} ({})", value, count));
    }
    if (counter.more() != 0) {
        parts.push_back(fmt::format("+{} more", counter.more()));
    }
    return parts.empty() ? "-" : fmt::format("{}", fmt::join(parts, separator));
}

// "yes", "no", or "null" when every Client MX record seen was the null one.
std::string client_mx_state(const DomainStats& stats) {
    if (!stats.publishes_client_mx) {
        return "no";
    }
    const auto hosts = stats.client_mx_hosts.sorted();
    if (!hosts.empty() && hosts.size() == 1 && hosts.front().first == "." && stats.client_mx_hosts.more() == 0) {
        return "null";
    }
    return "yes";
}

// "secure", or "secure/insecure" when answers differed, most frequent first.
std::string dnssec_states(const DomainStats& stats) {
    std::vector<std::string> states;
    for (const auto& [state, count] : stats.dnssec.sorted()) {
        states.push_back(state);
    }
    return states.empty() ? "-" : fmt::format("{}", fmt::join(states, "/"));
}

std::vector<std::pair<std::string_view, const DomainStats*>> listed_domains(const Summary& summary,
                                                                            const RenderOptions& options) {
    auto domains = summary.domains();
    if (options.top != 0 && domains.size() > options.top) {
        domains.resize(options.top);
    }
    return domains;
}

std::span<const RejectReadiness::Domain> shown_failing(const RejectReadiness& readiness) {
    return std::span(readiness.failing).first(std::min(readiness.failing.size(), kMaxFailingShown));
}

std::int64_t chart_width(const Summary& summary, const RenderOptions& options) {
    const auto& timeline = summary.timeline();
    const auto automatic = timeline.auto_width(kMaxChartSlots);
    return options.bucket_width == 0 ? automatic : std::max(options.bucket_width, timeline.resolution());
}

std::string bucket_label(std::int64_t start, std::int64_t width) {
    const auto iso = format_iso(Timestamp{std::chrono::seconds{start}});
    // "2025-11-24T10:00:00Z" -> "2025-11-24 10:00" for hours, the date otherwise.
    return width < Timeline::kDay ? iso.substr(0, 10) + " " + iso.substr(11, 5) : iso.substr(0, 10);
}

std::string_view width_name(std::int64_t width) {
    if (width == Timeline::kHour) {
        return "hour";
    }
    if (width == Timeline::kDay) {
        return "day";
    }
    if (width == Timeline::kWeek) {
        return "week";
    }
    return "multi-week";
}

// --- text --------------------------------------------------------------------

class Table {
public:
    explicit Table(std::vector<bool> right_aligned) : right_(std::move(right_aligned)) {}

    void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }

    void print(std::ostream& out, std::string_view indent = "") const {
        std::vector<std::size_t> widths(right_.size(), 0);
        for (const auto& row : rows_) {
            for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) {
                widths[i] = std::max(widths[i], row[i].size());
            }
        }
        for (const auto& row : rows_) {
            std::string line(indent);
            for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) {
                const bool last = i + 1 == row.size();
                if (right_[i]) {
                    line += fmt::format("{:>{}}", row[i], widths[i]);
                } else {
                    line += last ? row[i] : fmt::format("{:<{}}", row[i], widths[i]);
                }
                if (!last) {
                    line += "  ";
                }
            }
            out << line << '\n';
        }
    }

private:
    std::vector<bool> right_;
    std::vector<std::vector<std::string>> rows_;
};

std::string clipped(std::string_view name) {
    if (name.size() <= kTableNameWidth) {
        return std::string(name);
    }
    return std::string(name.substr(0, kTableNameWidth - 3)) + "...";
}

void text_input(std::ostream& out, const Summary& summary, const RenderOptions& options) {
    const auto& input = summary.input();
    out << "Input\n";
    for (const auto& file : options.files) {
        if (file.opened) {
            out << fmt::format("  {}: {} lines{}\n", safe_name(file.name), file.lines,
                               file.error.empty() ? "" : fmt::format(" (read error: {})", safe_name(file.error)));
        } else {
            out << fmt::format("  {}: not read: {}\n", safe_name(file.name), safe_name(file.error));
        }
    }
    out << fmt::format("  {} lines read, {} used, {} skipped\n", input.lines_read, input.lines_used, input.skipped());
    Table skipped({true, false});
    for (const auto& reason : input.skip_reasons()) {
        skipped.add({std::to_string(reason.count), reason.description});
    }
    skipped.print(out, "    ");
    const bool window = summary.options().since || summary.options().until;
    if (window) {
        out << fmt::format("  Window: since {} until {} (UTC); records without a timestamp are excluded ({})\n",
                           iso_or_dash(summary.options().since), iso_or_dash(summary.options().until),
                           input.untimed_excluded);
    } else {
        out << fmt::format("  No time window; records without a timestamp are included ({})\n", input.untimed_used);
    }
    out << fmt::format("  Period seen: {} .. {} (UTC)\n", iso_or_dash(summary.first_seen()),
                       iso_or_dash(summary.last_seen()));
}

void text_totals(std::ostream& out, const Summary& summary) {
    const auto total = summary.messages();
    out << fmt::format("\nResults: {} messages", total);
    for (std::size_t i = 0; i < kResultCount; ++i) {
        const auto count = summary.totals()[i];
        out << fmt::format("{}{} {}", i == 0 ? ": " : ", ", to_string(result_at(i)), count);
        if (total != 0) {
            out << fmt::format(" ({})", percent(static_cast<double>(count) / static_cast<double>(total)));
        }
    }
    out << '\n';
}

void text_readiness(std::ostream& out, const Summary& summary) {
    const auto readiness = reject_readiness(summary);
    out << "\nBefore on-fail=reject\n";
    out << fmt::format("  Domains publishing Client MX: {}, with {} messages ({} pass, {} fail, {} temperror)\n",
                       readiness.publishing_domains, readiness.messages, readiness.pass, readiness.fail,
                       readiness.temperror);
    if (readiness.pass + readiness.fail != 0) {
        out << fmt::format("  Fail share among them: {} of pass+fail\n", percent(readiness.fail_share()));
    }
    out << fmt::format("  on-temperror=tempfail would have deferred {} messages (all domains)\n",
                       summary.totals()[index_of(Result::temperror)]);
    if (readiness.failing.empty()) {
        out << "  on-fail=reject would have rejected no message.\n";
        return;
    }
    out << fmt::format(
        "  on-fail=reject would have rejected {} messages from {} domains; {} of these domains also "
        "passed (some of their servers fail: fix before rejecting)\n",
        readiness.fail, readiness.failing.size(), readiness.failing_with_passes);
    Table failing({false, true, true, true, false});
    failing.add({"DOMAIN", "FAIL", "PASS", "FAIL%", "TOP REASON"});
    for (const auto& domain : shown_failing(readiness)) {
        failing.add({clipped(domain.name), std::to_string(domain.stats->count(Result::fail)),
                     std::to_string(domain.stats->count(Result::pass)), percent_or_dash(fail_share(*domain.stats)),
                     domain.top_reason});
    }
    failing.print(out, "    ");
    if (readiness.failing.size() > kMaxFailingShown) {
        out << fmt::format("    (+{} more domains; --format json lists all)\n",
                           readiness.failing.size() - kMaxFailingShown);
    }
    out << "  Fail reasons, all domains:\n";
    Table reasons({true, false});
    for (const auto& [reason, count] : readiness.fail_reasons) {
        reasons.add({std::to_string(count), reason});
    }
    reasons.print(out, "    ");
}

}  // namespace

std::string csv_field(std::string_view text) {
    std::string value;
    if (!text.empty() && std::string_view("=+-@\t\r").find(text.front()) != std::string_view::npos) {
        value.push_back('\'');
    }
    value.append(text);
    if (value.find_first_of(",\"\r\n") == std::string::npos &&
        (value.empty() || (value.front() != ' ' && value.back() != ' '))) {
        return value;
    }
    std::string quoted = "\"";
    for (const char c : value) {
        if (c == '"') {
            quoted += "\"\"";
        } else {
            quoted.push_back(c);
        }
    }
    return quoted + "\"";
}

std::string html_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&#39;"; break;
            default: out.push_back(c);
        }
    }
    return out;
}

void render_text(std::ostream& out, const Summary& summary, const RenderOptions& options) {
    out << fmt::format("mtls-report, generated {}; all times UTC\n\n", format_iso(options.generated));
    text_input(out, summary, options);
    text_totals(out, summary);
    const auto all = summary.domains();
    const auto domains = listed_domains(summary, options);
    if (domains.empty()) {
        out << "\nNo mtls-milter records found.\n";
        return;
    }
    out << '\n';
    Table table({false, true, true, true, true, true, true, true, false, false});
    table.add({"DOMAIN", "MSGS", "PASS", "FAIL", "NONE", "TEMPERR", "PERMERR", "FAIL%", "CLIENT-MX", "DNSSEC"});
    for (const auto& [name, stats] : domains) {
        std::vector<std::string> row = {clipped(name), std::to_string(stats->messages)};
        for (const auto count : stats->results) {
            row.push_back(std::to_string(count));
        }
        row.push_back(percent_or_dash(fail_share(*stats)));
        row.push_back(client_mx_state(*stats));
        row.push_back(dnssec_states(*stats));
        table.add(std::move(row));
    }
    table.print(out);
    if (domains.size() < all.size()) {
        out << fmt::format("(+{} more domains not listed; --top 0 lists all)\n", all.size() - domains.size());
    }
    if (summary.overflow_messages() != 0) {
        out << fmt::format("({} messages of domains beyond --max-domains are counted under {})\n",
                           summary.overflow_messages(), kOtherDomains);
    }
    text_readiness(out, summary);
    out << "\nDomains in detail (\"+N more\": messages with further values, not kept)\n";
    for (const auto& [name, stats] : domains) {
        out << fmt::format("{}\n", name);
        out << fmt::format("  seen:              {} .. {}\n", iso_or_dash(stats->first_seen),
                           iso_or_dash(stats->last_seen));
        out << fmt::format("  certificate names: {}\n", counter_text(stats->cert_names));
        out << fmt::format("  Client MX hosts:   {}\n", counter_text(stats->client_mx_hosts));
        out << fmt::format("  reasons:           {}\n", counter_text(stats->reasons));
        out << fmt::format("  DNSSEC:            {}\n", counter_text(stats->dnssec));
        out << fmt::format("  actions:           {}\n", counter_text(stats->actions));
        if (stats->via_helo != 0) {
            out << fmt::format("  via HELO name:     {} (null sender)\n", stats->via_helo);
        }
    }
}

// --- JSON --------------------------------------------------------------------

namespace {

json time_or_null(std::optional<Timestamp> time) {
    return time ? json(format_iso(*time)) : json(nullptr);
}

json share_or_null(std::optional<double> share) {
    return share ? json(*share) : json(nullptr);
}

json counter_json(const CappedCounter& counter) {
    json values = json::array();
    for (const auto& [value, count] : counter.sorted()) {
        values.push_back({{"value", value}, {"count", count}});
    }
    return {{"values", values}, {"more", counter.more()}};
}

json results_json(const ResultCounts& counts) {
    json out = json::object();
    for (std::size_t i = 0; i < kResultCount; ++i) {
        out[std::string(to_string(result_at(i)))] = counts[i];
    }
    return out;
}

}  // namespace

void render_json(std::ostream& out, const Summary& summary, const RenderOptions& options) {
    const auto& input = summary.input();
    json files = json::array();
    for (const auto& file : options.files) {
        files.push_back({{"name", safe_name(file.name)},
                         {"opened", file.opened},
                         {"lines", file.lines},
                         {"error", file.error.empty() ? json(nullptr) : json(safe_name(file.error))}});
    }
    json skipped = json::array();
    for (const auto& reason : input.skip_reasons()) {
        skipped.push_back({{"reason", reason.key}, {"description", reason.description}, {"count", reason.count}});
    }
    json totals = results_json(summary.totals());
    totals["messages"] = summary.messages();

    const auto readiness = reject_readiness(summary);
    json failing = json::array();
    for (const auto& domain : readiness.failing) {
        failing.push_back({{"domain", std::string(domain.name)},
                           {"messages", domain.stats->messages},
                           {"pass", domain.stats->count(Result::pass)},
                           {"fail", domain.stats->count(Result::fail)},
                           {"fail_share", share_or_null(fail_share(*domain.stats))},
                           {"top_reason", domain.top_reason}});
    }
    json fail_reasons = json::array();
    for (const auto& [reason, count] : readiness.fail_reasons) {
        fail_reasons.push_back({{"reason", reason}, {"count", count}});
    }

    const auto all = summary.domains();
    json domains = json::array();
    for (const auto& [name, stats] : listed_domains(summary, options)) {
        json domain = results_json(stats->results);
        domain["domain"] = std::string(name);
        domain["messages"] = stats->messages;
        domain["fail_share"] = share_or_null(fail_share(*stats));
        domain["publishes_client_mx"] = stats->publishes_client_mx;
        domain["via_helo"] = stats->via_helo;
        domain["cert_names"] = counter_json(stats->cert_names);
        domain["client_mx_hosts"] = counter_json(stats->client_mx_hosts);
        domain["reasons"] = counter_json(stats->reasons);
        domain["dnssec"] = counter_json(stats->dnssec);
        domain["actions"] = counter_json(stats->actions);
        domain["first_seen"] = time_or_null(stats->first_seen);
        domain["last_seen"] = time_or_null(stats->last_seen);
        domains.push_back(std::move(domain));
    }

    json buckets = json::array();
    const auto width = chart_width(summary, options);
    for (const auto& [start, counts] : summary.timeline().buckets(width)) {
        json bucket = results_json(counts);
        bucket["start"] = format_iso(Timestamp{std::chrono::seconds{start}});
        buckets.push_back(std::move(bucket));
    }

    const json report = {
        {"generated", format_iso(options.generated)},
        {"window",
         {{"since", time_or_null(summary.options().since)}, {"until", time_or_null(summary.options().until)}}},
        {"period", {{"first", time_or_null(summary.first_seen())}, {"last", time_or_null(summary.last_seen())}}},
        {"input",
         {{"files", files},
          {"lines_read", input.lines_read},
          {"lines_used", input.lines_used},
          {"lines_skipped", input.skipped()},
          {"skipped", skipped},
          {"untimed_records_used", input.untimed_used},
          {"untimed_records_excluded", input.untimed_excluded}}},
        {"totals", totals},
        {"reject_readiness",
         {{"publishing_domains", readiness.publishing_domains},
          {"messages", readiness.messages},
          {"pass", readiness.pass},
          {"fail", readiness.fail},
          {"temperror", readiness.temperror},
          {"fail_share", readiness.pass + readiness.fail == 0 ? json(nullptr) : json(readiness.fail_share())},
          {"failing_domains", failing},
          {"failing_domains_that_also_passed", readiness.failing_with_passes},
          {"temperror_all_domains", summary.totals()[index_of(Result::temperror)]},
          {"fail_reasons", fail_reasons}}},
        {"domains_total", all.size()},
        {"domains_listed", domains.size()},
        {"overflow_messages", summary.overflow_messages()},
        {"domains", domains},
        {"timeline", {{"bucket_seconds", width}, {"buckets", buckets}}},
    };
    // Strings are ASCII (records are validated, names escaped); replace is a
    // second line of defence, since dump() would otherwise throw.
    out << report.dump(2, ' ', false, json::error_handler_t::replace) << '\n';
}

// --- CSV ---------------------------------------------------------------------

void render_csv(std::ostream& out, const Summary& summary, const RenderOptions& options) {
    // RFC 4180: CRLF after every record, the header included.
    out << "domain,messages,pass,fail,none,temperror,permerror,fail_share,client_mx,dnssec,cert_names,"
           "client_mx_hosts,reasons,actions,first_seen,last_seen\r\n";
    for (const auto& [name, stats] : listed_domains(summary, options)) {
        const auto share = fail_share(*stats);
        out << csv_field(name) << ',' << stats->messages;
        for (const auto count : stats->results) {
            out << ',' << count;
        }
        out << ',' << (share ? fmt::format("{:.4f}", *share) : "") << ',' << csv_field(client_mx_state(*stats)) << ','
            << csv_field(dnssec_states(*stats)) << ',' << csv_field(counter_text(stats->cert_names, "; ")) << ','
            << csv_field(counter_text(stats->client_mx_hosts, "; ")) << ','
            << csv_field(counter_text(stats->reasons, "; ")) << ',' << csv_field(counter_text(stats->actions, "; "))
            << ',' << (stats->first_seen ? format_iso(*stats->first_seen) : "") << ','
            << (stats->last_seen ? format_iso(*stats->last_seen) : "") << "\r\n";
    }
}

// --- HTML --------------------------------------------------------------------

namespace {

void html_chart(std::ostream& out, const Summary& summary, const RenderOptions& options) {
    const auto width = chart_width(summary, options);
    const auto buckets = summary.timeline().buckets(width);
    if (buckets.empty()) {
        out << "<p>No record carried a timestamp, so there is no chart (lines from <code>journalctl -o cat</code> "
               "or a bare log have none).</p>\n";
        return;
    }
    constexpr double kWidth = 960;
    constexpr double kHeight = 320;
    constexpr double kLeft = 56;
    constexpr double kRight = 12;
    constexpr double kTop = 28;
    constexpr double kBottom = 44;
    const auto first = buckets.begin()->first;
    const std::int64_t slot_count = (buckets.rbegin()->first - first) / width + 1;  // whole buckets
    const auto slots = static_cast<double>(slot_count);
    std::uint64_t peak = 1;
    for (const auto& [start, counts] : buckets) {
        std::uint64_t total = 0;
        for (const auto count : counts) {
            total += count;
        }
        peak = std::max(peak, total);
    }
    const double plot_width = kWidth - kLeft - kRight;
    const double plot_height = kHeight - kTop - kBottom;
    const double bar = plot_width / slots;
    const double scale = plot_height / static_cast<double>(peak);

    out << fmt::format(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {0} {1}\" width=\"{0}\" height=\"{1}\" role=\"img\" "
        "aria-label=\"messages per {2}, by result\">\n",
        kWidth, kHeight, width_name(width));
    // Legend.
    double x = kLeft;
    for (std::size_t i = 0; i < kResultCount; ++i) {
        out << fmt::format(
            "<rect x=\"{:.1f}\" y=\"8\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{:.1f}\" "
            "y=\"18\">{}</text>\n",
            x, kColours[i], x + 16, html_escape(to_string(result_at(i))));
        x += 100;
    }
    // Axes and the peak.
    out << fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"#444\"/>\n", kLeft, kTop,
                       kHeight - kBottom);
    out << fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"#444\"/>\n", kLeft,
                       kHeight - kBottom, kWidth - kRight);
    out << fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n", kLeft - 6, kTop + 10, peak);
    out << fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">0</text>\n", kLeft - 6, kHeight - kBottom);
    // Stacked bars, one group per bucket with a tooltip.
    for (const auto& [start, counts] : buckets) {
        const std::int64_t slot = (start - first) / width;  // starts are multiples of width
        const double left = kLeft + static_cast<double>(slot) * bar;
        double base = kHeight - kBottom;
        std::vector<std::string> tip;
        for (std::size_t i = 0; i < kResultCount; ++i) {
            tip.push_back(fmt::format("{} {}", to_string(result_at(i)), counts[i]));
        }
        out << fmt::format("<g><title>{} ({}): {}</title>", html_escape(bucket_label(start, width)), width_name(width),
                           html_escape(fmt::format("{}", fmt::join(tip, ", "))));
        for (std::size_t i = 0; i < kResultCount; ++i) {
            if (counts[i] == 0) {
                continue;
            }
            const double height = static_cast<double>(counts[i]) * scale;
            base -= height;
            out << fmt::format("<rect x=\"{:.2f}\" y=\"{:.2f}\" width=\"{:.2f}\" height=\"{:.2f}\" fill=\"{}\"/>", left,
                               base, std::max(bar - 1.0, 0.5), height, kColours[i]);
        }
        out << "</g>\n";
    }
    // Up to six labels along the time axis.
    const std::int64_t step = std::max<std::int64_t>(1, (slot_count + 5) / 6);
    for (std::int64_t slot = 0; slot < slot_count; slot += step) {
        out << fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"start\">{}</text>\n",
                           kLeft + static_cast<double>(slot) * bar, kHeight - kBottom + 18,
                           html_escape(bucket_label(first + slot * width, width)));
    }
    out << "</svg>\n";
    out << fmt::format("<p>Messages per {} (UTC), stacked by result; hover a bar for its counts.</p>\n",
                       width_name(width));
}

void html_counter(std::ostream& out, const CappedCounter& counter) {
    out << "<td>" << html_escape(counter_text(counter)) << "</td>";
}

}  // namespace

void render_html(std::ostream& out, const Summary& summary, const RenderOptions& options) {
    const auto& input = summary.input();
    // The policy forbids loading anything: the page must work offline and
    // must not call home when a mail log holds a crafted name.
    out << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
           "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
           "<title>mtls-report</title>\n<style>\n"
           "body{font-family:sans-serif;margin:1.5em;color:#222}\n"
           "table{border-collapse:collapse;margin:.5em 0}\n"
           "th,td{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}\n"
           "td.n,th.n{text-align:right}\n"
           "svg text{font-size:12px;font-family:sans-serif}\n"
           "</style>\n</head>\n<body>\n<h1>mtls-milter report</h1>\n";
    out << fmt::format("<p>Generated {}. All times are UTC.</p>\n", html_escape(format_iso(options.generated)));

    out << "<h2>Input</h2>\n<table>\n";
    for (const auto& file : options.files) {
        out << fmt::format(
            "<tr><td>{}</td><td>{}</td></tr>\n", html_escape(safe_name(file.name)),
            html_escape(file.opened ? fmt::format("{} lines{}", file.lines,
                                                  file.error.empty() ? "" : ", read error: " + file.error)
                                    : "not read: " + file.error));
    }
    out << "</table>\n<table>\n";
    out << fmt::format("<tr><th>lines read</th><td class=\"n\">{}</td></tr>\n", input.lines_read);
    out << fmt::format("<tr><th>used</th><td class=\"n\">{}</td></tr>\n", input.lines_used);
    out << fmt::format("<tr><th>skipped</th><td class=\"n\">{}</td></tr>\n", input.skipped());
    for (const auto& reason : input.skip_reasons()) {
        out << fmt::format("<tr><td>&nbsp;&nbsp;{}</td><td class=\"n\">{}</td></tr>\n", html_escape(reason.description),
                           reason.count);
    }
    out << "</table>\n";
    const bool window = summary.options().since || summary.options().until;
    out << fmt::format(
        "<p>{}. Period seen: {} .. {}.</p>\n",
        window
            ? html_escape(fmt::format("Window: since {} until {}; {} records without a timestamp excluded",
                                      iso_or_dash(summary.options().since), iso_or_dash(summary.options().until),
                                      input.untimed_excluded))
            : html_escape(fmt::format("No time window; {} records without a timestamp included", input.untimed_used)),
        html_escape(iso_or_dash(summary.first_seen())), html_escape(iso_or_dash(summary.last_seen())));

    out << "<h2>Results</h2>\n<table>\n<tr><th>messages</th>";
    for (std::size_t i = 0; i < kResultCount; ++i) {
        out << fmt::format("<th class=\"n\" style=\"color:{}\">{}</th>", kColours[i], to_string(result_at(i)));
    }
    out << fmt::format("</tr>\n<tr><td class=\"n\">{}</td>", summary.messages());
    for (const auto count : summary.totals()) {
        out << fmt::format("<td class=\"n\">{}</td>", count);
    }
    out << "</tr>\n</table>\n";
    html_chart(out, summary, options);

    const auto readiness = reject_readiness(summary);
    out << "<h2>Before on-fail=reject</h2>\n";
    out << fmt::format(
        "<p>{} domains publish Client MX records, with {} messages: {} pass, {} fail, {} temperror{}.</p>\n",
        readiness.publishing_domains, readiness.messages, readiness.pass, readiness.fail, readiness.temperror,
        readiness.pass + readiness.fail == 0
            ? ""
            : fmt::format("; fail share {} of pass+fail", percent(readiness.fail_share())));
    out << fmt::format("<p>on-temperror=tempfail would have deferred {} messages (all domains).</p>\n",
                       summary.totals()[index_of(Result::temperror)]);
    if (readiness.failing.empty()) {
        out << "<p>on-fail=reject would have rejected no message.</p>\n";
    } else {
        out << fmt::format(
            "<p>on-fail=reject would have rejected {} messages from {} domains; {} of these domains also passed, "
            "so some of their servers fail: fix those before rejecting.</p>\n",
            readiness.fail, readiness.failing.size(), readiness.failing_with_passes);
        out << "<table>\n<tr><th>domain</th><th class=\"n\">fail</th><th class=\"n\">pass</th><th "
               "class=\"n\">fail %</th><th>top reason</th></tr>\n";
        for (const auto& domain : shown_failing(readiness)) {
            out << fmt::format(
                "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td "
                "class=\"n\">{}</td><td>{}</td></tr>\n",
                html_escape(domain.name), domain.stats->count(Result::fail), domain.stats->count(Result::pass),
                percent_or_dash(fail_share(*domain.stats)), html_escape(domain.top_reason));
        }
        out << "</table>\n";
        if (readiness.failing.size() > kMaxFailingShown) {
            out << fmt::format("<p>+{} more domains; --format json lists all.</p>\n",
                               readiness.failing.size() - kMaxFailingShown);
        }
        out << "<table>\n<tr><th class=\"n\">count</th><th>fail reason (all domains)</th></tr>\n";
        for (const auto& [reason, count] : readiness.fail_reasons) {
            out << fmt::format("<tr><td class=\"n\">{}</td><td>{}</td></tr>\n", count, html_escape(reason));
        }
        out << "</table>\n";
    }

    const auto all = summary.domains();
    const auto domains = listed_domains(summary, options);
    out << fmt::format("<h2>Domains ({} of {})</h2>\n", domains.size(), all.size());
    out << "<table>\n<tr><th>domain</th><th class=\"n\">messages</th>";
    for (std::size_t i = 0; i < kResultCount; ++i) {
        out << fmt::format("<th class=\"n\">{}</th>", to_string(result_at(i)));
    }
    out << "<th class=\"n\">fail %</th><th>Client MX</th><th>DNSSEC</th><th>certificate names</th><th>Client MX "
           "hosts</th><th>reasons</th><th>first seen</th><th>last seen</th></tr>\n";
    for (const auto& [name, stats] : domains) {
        out << fmt::format("<tr><td>{}</td><td class=\"n\">{}</td>", html_escape(name), stats->messages);
        for (const auto count : stats->results) {
            out << fmt::format("<td class=\"n\">{}</td>", count);
        }
        out << fmt::format("<td class=\"n\">{}</td><td>{}</td><td>{}</td>", percent_or_dash(fail_share(*stats)),
                           client_mx_state(*stats), html_escape(counter_text(stats->dnssec)));
        html_counter(out, stats->cert_names);
        html_counter(out, stats->client_mx_hosts);
        html_counter(out, stats->reasons);
        out << fmt::format("<td>{}</td><td>{}</td></tr>\n", iso_or_dash(stats->first_seen),
                           iso_or_dash(stats->last_seen));
    }
    out << "</table>\n";
    if (summary.overflow_messages() != 0) {
        out << fmt::format("<p>{} messages of domains beyond --max-domains are counted under {}.</p>\n",
                           summary.overflow_messages(), html_escape(kOtherDomains));
    }
    out << "<p>&quot;+N more&quot;: messages with further values that the report did not keep.</p>\n</body>\n</html>\n";
}

}  // namespace mtls::report
