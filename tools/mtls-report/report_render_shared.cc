#include "report_render_shared.h"

#include <fmt/format.h>

#include <algorithm>

#include "mtls/verdict_record.h"

namespace mtls::report::render {
namespace {

constexpr std::size_t kMaxChartSlots = 400;

}  // namespace

std::string percent(double share) {
    return fmt::format("{:.1f}%", share * 100.0);
}

std::string percent_or_dash(std::optional<double> share) {
    return share ? percent(*share) : "-";
}

std::string safe_name(std::string_view name) {
    return escape_for_log(name);
}

std::string iso_or_dash(std::optional<Timestamp> time) {
    return time ? format_iso(*time) : "-";
}

std::string counter_text(const CappedCounter& counter, std::string_view separator) {
    std::vector<std::string> parts;
    for (const auto& [value, count] : counter.sorted()) {
        parts.push_back(fmt::format("{} ({})", value, count));
    }
    if (counter.more() != 0) {
        parts.push_back(fmt::format("+{} more", counter.more()));
    }
    return parts.empty() ? "-" : fmt::format("{}", fmt::join(parts, separator));
}

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

std::string dnssec_states(const DomainStats& stats) {
    std::vector<std::string> states;
    for (const auto& [state, count] : stats.dnssec.sorted()) {
        states.push_back(state);
    }
    return states.empty() ? "-" : fmt::format("{}", fmt::join(states, "/"));
}

ListedDomains listed_domains(const Summary& summary, const RenderOptions& options) {
    auto domains = summary.domains();
    if (options.top != 0 && domains.size() > options.top) {
        domains.resize(options.top);
    }
    return domains;
}

ListedDmarcDomains listed_dmarc_domains(const Summary& summary, const RenderOptions& options) {
    auto domains = summary.dmarc_domains();
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

std::string deferred_sentence(const Summary& summary) {
    return fmt::format("on-temperror=tempfail would have deferred {} messages (all domains)",
                       summary.totals()[index_of(Result::temperror)]);
}

std::string rejected_sentence(const RejectReadiness& readiness) {
    return fmt::format(
        "on-fail=reject would have rejected {} messages from {} domains; {} of these domains also passed",
        readiness.fail, readiness.failing.size(), readiness.failing_with_passes);
}

std::string more_failing_note(const RejectReadiness& readiness) {
    return fmt::format("+{} more domains; --format json lists all", readiness.failing.size() - kMaxFailingShown);
}

std::string overflow_note(const Summary& summary) {
    return fmt::format("{} messages of domains beyond --max-domains are counted under {}", summary.overflow_messages(),
                       kOtherDomains);
}

std::string dmarc_totals_sentence(const DmarcDomainStats& totals) {
    return fmt::format("{} messages: {} pass ({} of them by mtls only), {} fail, {} none, {} temperror, {} permerror",
                       totals.messages, totals.count(Result::pass), totals.pass_by_mtls_only,
                       totals.count(Result::fail), totals.count(Result::none), totals.count(Result::temperror),
                       totals.count(Result::permerror));
}

std::string dmarc_enforce_sentence(const DmarcDomainStats& totals) {
    return fmt::format(
        "dmarc-enforce=yes would have rejected {} and quarantined {} messages; without mtls, {} more would not have "
        "passed",
        totals.would_reject, totals.would_quarantine, totals.pass_by_mtls_only);
}

std::string dmarc_overflow_note(const Summary& summary) {
    return fmt::format("{} messages of From domains beyond --max-domains are counted under {}",
                       summary.dmarc_overflow_messages(), kOtherDomains);
}

std::string unreported_text(const Summary& summary) {
    std::vector<std::string> parts;
    for (const auto& [why, count] : summary.feedback().unreported()) {
        parts.push_back(fmt::format("{} ({})", why, count));
    }
    return fmt::format("{}", fmt::join(parts, ", "));
}

}  // namespace mtls::report::render
