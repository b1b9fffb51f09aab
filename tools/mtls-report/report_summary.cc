#include "report_summary.h"

#include <fmt/format.h>

#include <algorithm>

namespace mtls::report {
namespace {

constexpr std::size_t kMaxOverallReasons = 100;
constexpr std::string_view kFailPrefix = "fail: ";

// Monday 1970-01-05: weeks start on Mondays, as ISO 8601 weeks do.
constexpr std::int64_t kWeekOrigin = 4 * Timeline::kDay;

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
    const auto q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

std::int64_t seconds_of(Timestamp time) {
    return std::chrono::floor<std::chrono::seconds>(time.time_since_epoch()).count();
}

std::string reason_key(const Record& record) {
    return fmt::format("{}: {}", to_string(record.result), record.reason.empty() ? "(no reason given)" : record.reason);
}

bool sorted_before(const std::pair<std::string, std::uint64_t>& a, const std::pair<std::string, std::uint64_t>& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
}

}  // namespace

std::size_t index_of(Result result) {
    switch (result) {
        case Result::pass: return 0;
        case Result::fail: return 1;
        case Result::none: return 2;
        case Result::temperror: return 3;
        case Result::permerror: return 4;
    }
    return 3;
}

Result result_at(std::size_t index) {
    constexpr std::array<Result, kResultCount> kOrder = {Result::pass, Result::fail, Result::none, Result::temperror,
                                                         Result::permerror};
    return kOrder.at(index);
}

// --- CappedCounter -----------------------------------------------------------

void CappedCounter::add(std::string_view value, std::uint64_t count) {
    // Linear search: at most cap_ (about 20) entries.
    for (auto& entry : entries_) {
        if (entry.first == value) {
            entry.second += count;
            return;
        }
    }
    if (entries_.size() < cap_) {
        entries_.emplace_back(std::string(value), count);
    } else {
        more_ += count;
    }
}

std::vector<std::pair<std::string, std::uint64_t>> CappedCounter::sorted() const {
    auto out = entries_;
    std::sort(out.begin(), out.end(), sorted_before);
    return out;
}

// --- Timeline ----------------------------------------------------------------

std::int64_t Timeline::bucket_start(std::int64_t seconds, std::int64_t width) {
    const std::int64_t origin = width % kWeek == 0 ? kWeekOrigin : 0;
    return floor_div(seconds - origin, width) * width + origin;
}

void Timeline::add(Timestamp time, Result result) {
    ++buckets_[bucket_start(seconds_of(time), resolution_)][index_of(result)];
    while (buckets_.size() > kMaxBuckets) {
        const auto coarser = resolution_ == kHour ? kDay : resolution_ == kDay ? kWeek : resolution_ * 2;
        buckets_ = buckets(coarser);
        resolution_ = coarser;
    }
}

std::map<std::int64_t, ResultCounts> Timeline::buckets(std::int64_t width) const {
    width = std::max(width, resolution_);
    if (width == resolution_) {
        return buckets_;
    }
    std::map<std::int64_t, ResultCounts> out;
    for (const auto& [start, counts] : buckets_) {
        auto& target = out[bucket_start(start, width)];
        for (std::size_t i = 0; i < kResultCount; ++i) {
            target[i] += counts[i];
        }
    }
    return out;
}

std::int64_t Timeline::auto_width(std::size_t max_slots) const {
    if (buckets_.empty()) {
        return resolution_;
    }
    const auto span = buckets_.rbegin()->first - buckets_.begin()->first + resolution_;
    std::int64_t width = span <= 7 * kDay ? kHour : span <= 180 * kDay ? kDay : kWeek;
    width = std::max(width, resolution_);
    while (static_cast<std::size_t>(span / width) > max_slots) {
        width = width < kWeek ? (width == kHour ? kDay : kWeek) : width * 2;
    }
    return width;
}

// --- InputStats --------------------------------------------------------------

std::vector<SkipReason> InputStats::skip_reasons() const {
    std::vector<SkipReason> out;
    for (std::size_t i = 0; i < kLineKindCount; ++i) {
        const auto kind = static_cast<LineKind>(i);
        if (kind != LineKind::record && kind != LineKind::dmarc_record && by_kind[i] != 0) {
            out.push_back({std::string(to_string(kind)), std::string(describe(kind)), by_kind[i]});
        }
    }
    if (outside_window != 0) {
        out.push_back({"outside_window", "outside the time window", outside_window});
    }
    if (untimed_excluded != 0) {
        out.push_back(
            {"untimed_excluded", "record without a timestamp (excluded: a time window was given)", untimed_excluded});
    }
    std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.count > b.count; });
    return out;
}

// --- Summary -----------------------------------------------------------------

Summary::Summary(ReportOptions options)
    : options_(options), reasons_(kMaxOverallReasons), feedback_(options.max_domains) {}

bool Summary::in_window(Timestamp time) const {
    return (!options_.since || time >= *options_.since) && (!options_.until || time < *options_.until);
}

void Summary::add_too_long() {
    ++input_.lines_read;
    ++input_.by_kind[static_cast<std::size_t>(LineKind::too_long)];
}

void Summary::add_line(std::string_view line, Timestamp reference) {
    ++input_.lines_read;
    ParsedLine parsed = parse_line(line, reference);
    const bool record = parsed.kind == LineKind::record || parsed.kind == LineKind::dmarc_record;
    const bool ours = record || parsed.kind == LineKind::milter_skip || parsed.kind == LineKind::milter_notice ||
                      parsed.kind == LineKind::malformed;
    if (ours && parsed.time && !in_window(*parsed.time)) {
        ++input_.outside_window;
        return;
    }
    if (!record) {
        ++input_.by_kind[static_cast<std::size_t>(parsed.kind)];
        return;
    }
    if (!parsed.time) {
        // A window cannot place a line without a time: leave it out then,
        // and say so; without a window every record counts.
        if (options_.since || options_.until) {
            ++input_.untimed_excluded;
            return;
        }
        ++input_.untimed_used;
    }
    ++input_.lines_used;
    ++input_.by_kind[static_cast<std::size_t>(parsed.kind)];
    if (parsed.kind == LineKind::dmarc_record) {
        add_dmarc_record(parsed.dmarc, parsed.time);
    } else {
        add_record(parsed.record, parsed.time);
    }
}

DomainStats& Summary::stats_for(const std::string& key) {
    if (const auto it = domains_.find(key); it != domains_.end()) {
        return it->second;
    }
    if (domains_.size() >= options_.max_domains) {
        ++overflow_messages_;
        return domains_.try_emplace(std::string(kOtherDomains), options_.max_values).first->second;
    }
    return domains_.try_emplace(key, options_.max_values).first->second;
}

namespace {

constexpr std::array<std::string_view, kPassMethodCount> kPassMethods = {"certificate", "dane", "discovered"};

// Logs from before the via field knew only the certificate path.
std::size_t pass_method_index(std::string_view via) {
    const auto* found = std::find(kPassMethods.begin(), kPassMethods.end(), via);
    return found == kPassMethods.end() ? 0 : static_cast<std::size_t>(found - kPassMethods.begin());
}

}  // namespace

std::string_view pass_method_at(std::size_t index) {
    return kPassMethods.at(index);
}

void Summary::add_record(const Record& record, std::optional<Timestamp> time) {
    std::string key = record.identity;
    if (!record.identity_usable || key.empty()) {
        key = record.identity_type == "smtp.helo" ? kInvalidHelo : kInvalidMailFrom;
    }
    DomainStats& stats = stats_for(key);
    const auto index = index_of(record.result);
    ++stats.messages;
    ++stats.results[index];
    ++totals_[index];
    if (record.result == Result::pass) {
        ++passes_by_method_.at(pass_method_index(record.via));
    }
    if (record.identity_type == "smtp.helo") {
        ++stats.via_helo;
    }
    if (!record.client_mx.empty() || record.result == Result::pass || record.result == Result::fail) {
        stats.publishes_client_mx = true;
    }
    for (const auto& name : record.cert_names) {
        stats.cert_names.add(name);
    }
    for (const auto& entry : record.client_mx) {
        stats.client_mx_hosts.add(client_mx_host(entry));
    }
    if (record.result != Result::pass) {
        const auto reason = reason_key(record);
        stats.reasons.add(reason);
        reasons_.add(reason);
    }
    stats.dnssec.add(record.dnssec.empty() ? "unknown" : record.dnssec);
    stats.actions.add(record.action.empty() ? "-" : record.action);
    if (time) {
        timeline_.add(*time, record.result);
        note_time(*time);
        if (!stats.first_seen || *time < *stats.first_seen) {
            stats.first_seen = time;
        }
        if (!stats.last_seen || *time > *stats.last_seen) {
            stats.last_seen = time;
        }
    }
}

void Summary::note_time(Timestamp time) {
    if (!first_ || time < *first_) {
        first_ = time;
    }
    if (!last_ || time > *last_) {
        last_ = time;
    }
}

void DmarcDomainStats::add(const DmarcRecord& record) {
    ++messages;
    ++results[index_of(record.result)];
    if (record.result_rfc9989 == Result::pass) {
        ++pass_rfc9989;
    }
    if (record.pass_by_mtls_only()) {
        ++pass_by_mtls_only;
    }
    if (record.result == Result::fail && record.policy == DmarcPolicy::reject) {
        ++would_reject;
    }
    if (record.result == Result::fail && record.policy == DmarcPolicy::quarantine) {
        ++would_quarantine;
    }
}

void Summary::add_dmarc_record(const DmarcRecord& record, std::optional<Timestamp> time) {
    std::string key = !record.org_domain.empty()    ? record.org_domain
                      : !record.header_from.empty() ? record.header_from
                                                    : std::string(kNoFromDomain);
    auto it = dmarc_domains_.find(key);
    if (it == dmarc_domains_.end()) {
        if (dmarc_domains_.size() >= options_.max_domains) {
            ++dmarc_overflow_messages_;
            key = kOtherDomains;
        }
        it = dmarc_domains_.try_emplace(key).first;
    }
    it->second.add(record);
    dmarc_totals_.add(record);
    feedback_.add(record, time);
    if (time) {
        note_time(*time);
    }
}

std::vector<std::pair<std::string_view, const DmarcDomainStats*>> Summary::dmarc_domains() const {
    std::vector<std::pair<std::string_view, const DmarcDomainStats*>> out;
    out.reserve(dmarc_domains_.size());
    for (const auto& [name, stats] : dmarc_domains_) {
        out.emplace_back(name, &stats);
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
        return a.second->messages != b.second->messages ? a.second->messages > b.second->messages : a.first < b.first;
    });
    return out;
}

std::uint64_t Summary::messages() const {
    std::uint64_t total = 0;
    for (const auto count : totals_) {
        total += count;
    }
    return total;
}

std::vector<std::pair<std::string_view, const DomainStats*>> Summary::domains() const {
    std::vector<std::pair<std::string_view, const DomainStats*>> out;
    out.reserve(domains_.size());
    for (const auto& [name, stats] : domains_) {
        out.emplace_back(name, &stats);
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
        return a.second->messages != b.second->messages ? a.second->messages > b.second->messages : a.first < b.first;
    });
    return out;
}

std::optional<double> fail_share(const DomainStats& stats) {
    const auto pass = stats.count(Result::pass);
    const auto fail = stats.count(Result::fail);
    if (pass + fail == 0) {
        return std::nullopt;
    }
    return static_cast<double>(fail) / static_cast<double>(pass + fail);
}

RejectReadiness reject_readiness(const Summary& summary) {
    RejectReadiness out;
    for (const auto& [name, stats] : summary.domains()) {
        if (!stats->publishes_client_mx) {
            continue;
        }
        ++out.publishing_domains;
        out.messages += stats->messages;
        out.pass += stats->count(Result::pass);
        out.fail += stats->count(Result::fail);
        out.temperror += stats->count(Result::temperror);
        if (stats->count(Result::fail) == 0) {
            continue;
        }
        RejectReadiness::Domain domain;
        domain.name = name;
        domain.stats = stats;
        for (const auto& [reason, count] : stats->reasons.sorted()) {
            if (reason.starts_with(kFailPrefix)) {
                domain.top_reason = reason.substr(kFailPrefix.size());
                break;
            }
        }
        if (stats->count(Result::pass) != 0) {
            ++out.failing_with_passes;
        }
        out.failing.push_back(std::move(domain));
    }
    std::stable_sort(out.failing.begin(), out.failing.end(), [](const auto& a, const auto& b) {
        return a.stats->count(Result::fail) > b.stats->count(Result::fail);
    });
    for (const auto& [reason, count] : summary.reasons().sorted()) {
        if (reason.starts_with(kFailPrefix)) {
            out.fail_reasons.emplace_back(reason.substr(kFailPrefix.size()), count);
        }
    }
    return out;
}

}  // namespace mtls::report
