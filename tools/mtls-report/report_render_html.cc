// --format html: one self-contained page with tables and an SVG chart.
#include <fmt/format.h>

#include "report_render.h"
#include "report_render_chart.h"
#include "report_render_shared.h"

namespace mtls::report {

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

namespace {

using namespace render;

void html_head(std::ostream& out, const RenderOptions& options) {
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
}

void html_input(std::ostream& out, const Summary& summary, const RenderOptions& options) {
    const auto& input = summary.input();
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
}

void html_results(std::ostream& out, const Summary& summary, const RenderOptions& options) {
    out << "<h2>Results</h2>\n<table>\n<tr><th>messages</th>";
    for (std::size_t i = 0; i < kResultCount; ++i) {
        out << fmt::format("<th class=\"n\" style=\"color:{}\">{}</th>", kColours[i], to_string(result_at(i)));
    }
    out << fmt::format("</tr>\n<tr><td class=\"n\">{}</td>", summary.messages());
    for (const auto count : summary.totals()) {
        out << fmt::format("<td class=\"n\">{}</td>", count);
    }
    out << "</tr>\n</table>\n<p>Passes by method:";
    for (std::size_t i = 0; i < kPassMethodCount; ++i) {
        out << fmt::format("{}{} {}", i == 0 ? " " : ", ", pass_method_at(i), summary.passes_by_method()[i]);
    }
    out << "</p>\n";
    html_chart(out, summary, options);
}

void html_failing_domains(std::ostream& out, const RejectReadiness& readiness) {
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
        out << fmt::format("<p>{}.</p>\n", more_failing_note(readiness));
    }
    out << "<table>\n<tr><th class=\"n\">count</th><th>fail reason (all domains)</th></tr>\n";
    for (const auto& [reason, count] : readiness.fail_reasons) {
        out << fmt::format("<tr><td class=\"n\">{}</td><td>{}</td></tr>\n", count, html_escape(reason));
    }
    out << "</table>\n";
}

void html_readiness(std::ostream& out, const Summary& summary) {
    const auto readiness = reject_readiness(summary);
    out << "<h2>Before on-fail=reject</h2>\n";
    out << fmt::format(
        "<p>{} domains publish Client MX records, with {} messages: {} pass, {} fail, {} temperror{}.</p>\n",
        readiness.publishing_domains, readiness.messages, readiness.pass, readiness.fail, readiness.temperror,
        readiness.pass + readiness.fail == 0
            ? ""
            : fmt::format("; fail share {} of pass+fail", percent(readiness.fail_share())));
    out << fmt::format("<p>{}.</p>\n", deferred_sentence(summary));
    if (readiness.failing.empty()) {
        out << fmt::format("<p>{}</p>\n", kRejectsNothing);
        return;
    }
    out << fmt::format("<p>{}, so some of their servers fail: fix those before rejecting.</p>\n",
                       rejected_sentence(readiness));
    html_failing_domains(out, readiness);
}

void html_counter(std::ostream& out, const CappedCounter& counter) {
    out << "<td>" << html_escape(counter_text(counter)) << "</td>";
}

void html_domains(std::ostream& out, const Summary& summary, const RenderOptions& options) {
    const auto domains = listed_domains(summary, options);
    out << fmt::format("<h2>Domains ({} of {})</h2>\n", domains.size(), summary.domains().size());
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
        out << fmt::format("<p>{}.</p>\n", html_escape(overflow_note(summary)));
    }
}

void html_dmarc(std::ostream& out, const Summary& summary, const RenderOptions& options) {
    const auto& totals = summary.dmarc_totals();
    if (totals.messages == 0) {
        return;
    }
    const auto domains = listed_dmarc_domains(summary, options);
    out << fmt::format("<h2>DMARC by From organizational domain ({} of {})</h2>\n", domains.size(),
                       summary.dmarc_domains().size());
    out << fmt::format("<p>Pass counts mtls in place of SPF. {}.</p>\n<p>{}.</p>\n",
                       html_escape(dmarc_totals_sentence(totals)), html_escape(dmarc_enforce_sentence(totals)));
    if (const auto unreported = unreported_text(summary); !unreported.empty()) {
        out << fmt::format("<p>Not in aggregate reports: {}.</p>\n", html_escape(unreported));
    }
    out << "<table>\n<tr><th>organizational domain</th><th class=\"n\">messages</th>";
    for (std::size_t i = 0; i < kResultCount; ++i) {
        out << fmt::format("<th class=\"n\">{}</th>", to_string(result_at(i)));
    }
    out << "<th class=\"n\">pass by mtls only</th><th class=\"n\">would reject</th><th class=\"n\">would "
           "quarantine</th></tr>\n";
    for (const auto& [name, stats] : domains) {
        out << fmt::format("<tr><td>{}</td><td class=\"n\">{}</td>", html_escape(name), stats->messages);
        for (const auto count : stats->results) {
            out << fmt::format("<td class=\"n\">{}</td>", count);
        }
        out << fmt::format("<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>\n",
                           stats->pass_by_mtls_only, stats->would_reject, stats->would_quarantine);
    }
    out << "</table>\n";
    if (summary.dmarc_overflow_messages() != 0) {
        out << fmt::format("<p>{}.</p>\n", html_escape(dmarc_overflow_note(summary)));
    }
}

}  // namespace

void render_html(std::ostream& out, const Summary& summary, const RenderOptions& options) {
    html_head(out, options);
    html_input(out, summary, options);
    html_results(out, summary, options);
    html_readiness(out, summary);
    html_domains(out, summary, options);
    html_dmarc(out, summary, options);
    out << "<p>&quot;+N more&quot;: messages with further values that the report did not keep.</p>\n</body>\n</html>\n";
}

}  // namespace mtls::report
