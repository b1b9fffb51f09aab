// --format json: every number of the report, for scripts and dashboards.
#include <nlohmann/json.hpp>

#include "report_render.h"
#include "report_render_shared.h"

namespace mtls::report {
namespace {

using namespace render;

// ordered_json: keys stay in the order written, so that a person reading the
// report meets the input statistics first and the domains last.
using json = nlohmann::ordered_json;

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

json input_json(const Summary& summary, const RenderOptions& options) {
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
    return {{"files", files},
            {"lines_read", input.lines_read},
            {"lines_used", input.lines_used},
            {"lines_skipped", input.skipped()},
            {"skipped", skipped},
            {"untimed_records_used", input.untimed_used},
            {"untimed_records_excluded", input.untimed_excluded}};
}

json readiness_json(const Summary& summary) {
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
    return {{"publishing_domains", readiness.publishing_domains},
            {"messages", readiness.messages},
            {"pass", readiness.pass},
            {"fail", readiness.fail},
            {"temperror", readiness.temperror},
            {"fail_share", readiness.pass + readiness.fail == 0 ? json(nullptr) : json(readiness.fail_share())},
            {"failing_domains", failing},
            {"failing_domains_that_also_passed", readiness.failing_with_passes},
            {"temperror_all_domains", summary.totals()[index_of(Result::temperror)]},
            {"fail_reasons", fail_reasons}};
}

json domain_json(std::string_view name, const DomainStats& stats) {
    json domain = results_json(stats.results);
    domain["domain"] = std::string(name);
    domain["messages"] = stats.messages;
    domain["fail_share"] = share_or_null(fail_share(stats));
    domain["publishes_client_mx"] = stats.publishes_client_mx;
    domain["via_helo"] = stats.via_helo;
    domain["cert_names"] = counter_json(stats.cert_names);
    domain["client_mx_hosts"] = counter_json(stats.client_mx_hosts);
    domain["reasons"] = counter_json(stats.reasons);
    domain["dnssec"] = counter_json(stats.dnssec);
    domain["actions"] = counter_json(stats.actions);
    domain["first_seen"] = time_or_null(stats.first_seen);
    domain["last_seen"] = time_or_null(stats.last_seen);
    return domain;
}

json dmarc_stats_json(const DmarcDomainStats& stats) {
    json out = results_json(stats.results);
    out["messages"] = stats.messages;
    out["pass_rfc9989"] = stats.pass_rfc9989;
    out["pass_by_mtls_only"] = stats.pass_by_mtls_only;
    out["would_reject"] = stats.would_reject;
    out["would_quarantine"] = stats.would_quarantine;
    return out;
}

json dmarc_json(const Summary& summary, const RenderOptions& options) {
    json domains = json::array();
    for (const auto& [name, stats] : listed_dmarc_domains(summary, options)) {
        json domain = {{"org_domain", std::string(name)}};
        domain.update(dmarc_stats_json(*stats));
        domains.push_back(std::move(domain));
    }
    json unreported = json::array();
    for (const auto& [why, count] : summary.feedback().unreported()) {
        unreported.push_back({{"reason", why}, {"count", count}});
    }
    return {{"totals", dmarc_stats_json(summary.dmarc_totals())},
            {"policy_domains", summary.feedback().reports().size()},
            {"not_in_aggregate_reports", unreported},
            {"domains_total", summary.dmarc_domains().size()},
            {"domains_listed", domains.size()},
            {"overflow_messages", summary.dmarc_overflow_messages()},
            {"domains", domains}};
}

json timeline_json(const Summary& summary, const RenderOptions& options) {
    json buckets = json::array();
    const auto width = chart_width(summary, options);
    for (const auto& [start, counts] : summary.timeline().buckets(width)) {
        json bucket = results_json(counts);
        bucket["start"] = format_iso(Timestamp{std::chrono::seconds{start}});
        buckets.push_back(std::move(bucket));
    }
    return {{"bucket_seconds", width}, {"buckets", buckets}};
}

}  // namespace

void render_json(std::ostream& out, const Summary& summary, const RenderOptions& options) {
    json totals = results_json(summary.totals());
    totals["messages"] = summary.messages();
    json by_method = json::object();
    for (std::size_t i = 0; i < kPassMethodCount; ++i) {
        by_method[std::string(pass_method_at(i))] = summary.passes_by_method()[i];
    }
    totals["pass_by_method"] = by_method;
    json domains = json::array();
    for (const auto& [name, stats] : listed_domains(summary, options)) {
        domains.push_back(domain_json(name, *stats));
    }
    const json report = {
        {"generated", format_iso(options.generated)},
        {"window",
         {{"since", time_or_null(summary.options().since)}, {"until", time_or_null(summary.options().until)}}},
        {"period", {{"first", time_or_null(summary.first_seen())}, {"last", time_or_null(summary.last_seen())}}},
        {"input", input_json(summary, options)},
        {"totals", totals},
        {"reject_readiness", readiness_json(summary)},
        {"domains_total", summary.domains().size()},
        {"domains_listed", domains.size()},
        {"overflow_messages", summary.overflow_messages()},
        {"domains", domains},
        {"timeline", timeline_json(summary, options)},
        {"dmarc", dmarc_json(summary, options)},
    };
    // Strings are ASCII (records are validated, names escaped); replace is a
    // second line of defence, since dump() would otherwise throw.
    out << report.dump(2, ' ', false, json::error_handler_t::replace) << '\n';
}

}  // namespace mtls::report
