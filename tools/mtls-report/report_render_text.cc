// --format text: aligned tables for a terminal or an e-mail.
#include <fmt/format.h>

#include <algorithm>

#include "report_render.h"
#include "report_render_shared.h"

namespace mtls::report {
namespace {

using namespace render;

constexpr std::size_t kTableNameWidth = 48;

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
    out << "\nPasses by method:";
    for (std::size_t i = 0; i < kPassMethodCount; ++i) {
        out << fmt::format("{}{} {}", i == 0 ? " " : ", ", pass_method_at(i), summary.passes_by_method()[i]);
    }
    out << '\n';
}

void text_failing_domains(std::ostream& out, const RejectReadiness& readiness) {
    Table failing({false, true, true, true, false});
    failing.add({"DOMAIN", "FAIL", "PASS", "FAIL%", "TOP REASON"});
    for (const auto& domain : shown_failing(readiness)) {
        failing.add({clipped(domain.name), std::to_string(domain.stats->count(Result::fail)),
                     std::to_string(domain.stats->count(Result::pass)), percent_or_dash(fail_share(*domain.stats)),
                     domain.top_reason});
    }
    failing.print(out, "    ");
    if (readiness.failing.size() > kMaxFailingShown) {
        out << fmt::format("    ({})\n", more_failing_note(readiness));
    }
    out << "  Fail reasons, all domains:\n";
    Table reasons({true, false});
    for (const auto& [reason, count] : readiness.fail_reasons) {
        reasons.add({std::to_string(count), reason});
    }
    reasons.print(out, "    ");
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
    out << fmt::format("  {}\n", deferred_sentence(summary));
    if (readiness.failing.empty()) {
        out << fmt::format("  {}\n", kRejectsNothing);
        return;
    }
    out << fmt::format("  {} (some of their servers fail: fix before rejecting)\n", rejected_sentence(readiness));
    text_failing_domains(out, readiness);
}

void text_domain_table(std::ostream& out, const Summary& summary, const ListedDomains& domains, std::size_t all) {
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
    if (domains.size() < all) {
        out << fmt::format("(+{} more domains not listed; --top 0 lists all)\n", all - domains.size());
    }
    if (summary.overflow_messages() != 0) {
        out << fmt::format("({})\n", overflow_note(summary));
    }
}

void text_domain_details(std::ostream& out, const ListedDomains& domains) {
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

void text_dmarc(std::ostream& out, const Summary& summary, const RenderOptions& options) {
    const auto& totals = summary.dmarc_totals();
    if (totals.messages == 0) {
        return;
    }
    out << "\nDMARC, by From organizational domain (pass: with mtls in place of SPF)\n";
    out << fmt::format("  {}\n  {}\n", dmarc_totals_sentence(totals), dmarc_enforce_sentence(totals));
    if (const auto unreported = unreported_text(summary); !unreported.empty()) {
        out << fmt::format("  Not in aggregate reports: {}\n", unreported);
    }
    Table table({false, true, true, true, true, true, true, true, true, true});
    table.add({"ORG DOMAIN", "MSGS", "PASS", "MTLS-ONLY", "FAIL", "NONE", "TEMPERR", "PERMERR", "WOULD-REJECT",
               "WOULD-QUAR"});
    const auto domains = listed_dmarc_domains(summary, options);
    for (const auto& [name, stats] : domains) {
        table.add({clipped(name), std::to_string(stats->messages), std::to_string(stats->count(Result::pass)),
                   std::to_string(stats->pass_by_mtls_only), std::to_string(stats->count(Result::fail)),
                   std::to_string(stats->count(Result::none)), std::to_string(stats->count(Result::temperror)),
                   std::to_string(stats->count(Result::permerror)), std::to_string(stats->would_reject),
                   std::to_string(stats->would_quarantine)});
    }
    table.print(out, "  ");
    const auto all = summary.dmarc_domains().size();
    if (domains.size() < all) {
        out << fmt::format("  (+{} more domains not listed; --top 0 lists all)\n", all - domains.size());
    }
    if (summary.dmarc_overflow_messages() != 0) {
        out << fmt::format("  ({})\n", dmarc_overflow_note(summary));
    }
}

}  // namespace

void render_text(std::ostream& out, const Summary& summary, const RenderOptions& options) {
    out << fmt::format("mtls-report, generated {}; all times UTC\n\n", format_iso(options.generated));
    text_input(out, summary, options);
    text_totals(out, summary);
    const auto domains = listed_domains(summary, options);
    if (domains.empty()) {
        out << "\nNo mtls-milter records found.\n";
    } else {
        out << '\n';
        text_domain_table(out, summary, domains, summary.domains().size());
        text_readiness(out, summary);
        text_domain_details(out, domains);
    }
    text_dmarc(out, summary, options);
}

}  // namespace mtls::report
