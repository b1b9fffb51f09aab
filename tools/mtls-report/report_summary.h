// Aggregation for mtls-report: per sending domain counts over a time window,
// in memory that stays bounded whatever the input, since every domain and
// certificate name in a mail log is chosen by whoever connects.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "report_dmarc_feedback.h"
#include "report_log.h"
#include "report_time.h"

namespace mtls::report {

inline constexpr std::size_t kResultCount = 5;
using ResultCounts = std::array<std::uint64_t, kResultCount>;
// pass, fail, none, temperror, permerror: the order of every report column.
std::size_t index_of(Result result);
Result result_at(std::size_t index);

// How passes came about: the MTA-verified certificate, DANE-EE, or a
// certificate the milter discovered itself (the log's via field).
inline constexpr std::size_t kPassMethodCount = 3;
using PassMethodCounts = std::array<std::uint64_t, kPassMethodCount>;
// "certificate", "dane", "discovered": the order of every report.
std::string_view pass_method_at(std::size_t index);

// Pseudo-domains: parentheses cannot occur in a domain name, so these never
// collide with a real one.
inline constexpr std::string_view kInvalidMailFrom = "(invalid MAIL FROM)";
inline constexpr std::string_view kInvalidHelo = "(invalid HELO)";
inline constexpr std::string_view kOtherDomains = "(other domains)";
inline constexpr std::string_view kNoFromDomain = "(no From domain)";

struct ReportOptions {
    std::optional<Timestamp> since;  // inclusive
    std::optional<Timestamp> until;  // exclusive
    std::size_t max_domains = 10000;
    std::size_t max_values = 20;  // distinct names kept per domain and list
};

// Counts of distinct values, keeping the first `cap` values seen; later new
// values are only counted, as `more()` occurrences, so that a sender cycling
// through names cannot grow the report's memory.
class CappedCounter {
public:
    explicit CappedCounter(std::size_t cap) : cap_(cap) {}

    void add(std::string_view value, std::uint64_t count = 1);
    // Most frequent first, then by name.
    [[nodiscard]] std::vector<std::pair<std::string, std::uint64_t>> sorted() const;
    [[nodiscard]] std::uint64_t more() const { return more_; }
    [[nodiscard]] bool empty() const { return entries_.empty() && more_ == 0; }

private:
    std::size_t cap_;
    std::vector<std::pair<std::string, std::uint64_t>> entries_;
    std::uint64_t more_ = 0;
};

struct DomainStats {
    explicit DomainStats(std::size_t cap)
        : cert_names(cap), client_mx_hosts(cap), reasons(cap), dnssec(cap), actions(cap) {}

    std::uint64_t messages = 0;
    ResultCounts results{};
    std::uint64_t via_helo = 0;  // identity was the HELO name (null sender)
    // Any record listed Client MX records, or judged pass/fail (which needs them).
    bool publishes_client_mx = false;
    CappedCounter cert_names;
    CappedCounter client_mx_hosts;  // "." is a null Client MX
    CappedCounter reasons;          // "fail: certificate name matches no Client MX host"
    CappedCounter dnssec;
    CappedCounter actions;
    std::optional<Timestamp> first_seen;
    std::optional<Timestamp> last_seen;

    [[nodiscard]] std::uint64_t count(Result result) const { return results[index_of(result)]; }
};

// The DMARC stage's messages of one From organizational domain (or, when the
// stage could not determine it, the From domain itself).
struct DmarcDomainStats {
    std::uint64_t messages = 0;
    ResultCounts results{};               // with mtls in place of SPF, as tagged
    std::uint64_t pass_rfc9989 = 0;       // passes of SPF and DKIM alone
    std::uint64_t pass_by_mtls_only = 0;  // pass, and not without mtls
    // Fails whose effective policy (policy.dmarc) asks for this: what
    // dmarc-enforce=yes would have done to them.
    std::uint64_t would_reject = 0;
    std::uint64_t would_quarantine = 0;

    [[nodiscard]] std::uint64_t count(Result result) const { return results[index_of(result)]; }
    void add(const DmarcRecord& record);
};

// Results over time. Starts at hourly buckets and coarsens (day, week, and
// multiples of weeks) when the span would need too many, so that hostile
// timestamps cannot grow it without bound.
class Timeline {
public:
    static constexpr std::int64_t kHour = 3600;
    static constexpr std::int64_t kDay = 24 * kHour;
    static constexpr std::int64_t kWeek = 7 * kDay;
    static constexpr std::size_t kMaxBuckets = 20000;

    void add(Timestamp time, Result result);
    // Buckets of at least `width` seconds (hour, day or a multiple of a week),
    // keyed by their start in seconds since the epoch; only non-empty ones.
    [[nodiscard]] std::map<std::int64_t, ResultCounts> buckets(std::int64_t width) const;
    [[nodiscard]] std::int64_t resolution() const { return resolution_; }
    [[nodiscard]] bool empty() const { return buckets_.empty(); }
    // The width a chart of at most `max_slots` bars needs for this span:
    // hour up to a week, day up to ~6 months, then weeks.
    [[nodiscard]] std::int64_t auto_width(std::size_t max_slots) const;
    static std::int64_t bucket_start(std::int64_t seconds, std::int64_t width);

private:
    std::int64_t resolution_ = kHour;
    std::map<std::int64_t, ResultCounts> buckets_;
};

struct SkipReason {
    std::string key;          // stable, for JSON: a LineKind name, "outside_window", "untimed_excluded"
    std::string description;  // for people
    std::uint64_t count = 0;
};

struct InputStats {
    std::uint64_t lines_read = 0;
    std::uint64_t lines_used = 0;
    std::array<std::uint64_t, kLineKindCount> by_kind{};  // records count only when used
    std::uint64_t outside_window = 0;
    std::uint64_t untimed_excluded = 0;  // records without a time when a window was given
    std::uint64_t untimed_used = 0;      // records without a time, used (no window)

    [[nodiscard]] std::uint64_t skipped() const { return lines_read - lines_used; }
    // Every reason a line was not used, with its count, zero counts left out.
    [[nodiscard]] std::vector<SkipReason> skip_reasons() const;
};

class Summary {
public:
    explicit Summary(ReportOptions options);

    // Classifies one line, applies the window and counts it.
    void add_line(std::string_view line, Timestamp reference);
    // The reader met a line longer than kMaxLineLength and dropped it.
    void add_too_long();
    // A record that passed the window; `time` may be absent.
    void add_record(const Record& record, std::optional<Timestamp> time);
    void add_dmarc_record(const DmarcRecord& record, std::optional<Timestamp> time);

    [[nodiscard]] const ReportOptions& options() const { return options_; }
    [[nodiscard]] const InputStats& input() const { return input_; }
    [[nodiscard]] const ResultCounts& totals() const { return totals_; }
    [[nodiscard]] const PassMethodCounts& passes_by_method() const { return passes_by_method_; }
    [[nodiscard]] std::uint64_t messages() const;
    [[nodiscard]] const CappedCounter& reasons() const { return reasons_; }
    [[nodiscard]] const Timeline& timeline() const { return timeline_; }
    [[nodiscard]] std::optional<Timestamp> first_seen() const { return first_; }
    [[nodiscard]] std::optional<Timestamp> last_seen() const { return last_; }
    // Messages counted under kOtherDomains because max_domains was reached.
    [[nodiscard]] std::uint64_t overflow_messages() const { return overflow_messages_; }
    // By messages, most first, then by name.
    [[nodiscard]] std::vector<std::pair<std::string_view, const DomainStats*>> domains() const;

    // The DMARC stage's records: totals, per From organizational domain (by
    // messages, most first, then by name), and the aggregate reports' data.
    [[nodiscard]] const DmarcDomainStats& dmarc_totals() const { return dmarc_totals_; }
    [[nodiscard]] std::vector<std::pair<std::string_view, const DmarcDomainStats*>> dmarc_domains() const;
    [[nodiscard]] std::uint64_t dmarc_overflow_messages() const { return dmarc_overflow_messages_; }
    [[nodiscard]] const DmarcFeedback& feedback() const { return feedback_; }

private:
    DomainStats& stats_for(const std::string& key);
    [[nodiscard]] bool in_window(Timestamp time) const;
    void note_time(Timestamp time);

    ReportOptions options_;
    InputStats input_;
    ResultCounts totals_{};
    PassMethodCounts passes_by_method_{};
    CappedCounter reasons_;
    Timeline timeline_;
    std::optional<Timestamp> first_;
    std::optional<Timestamp> last_;
    std::unordered_map<std::string, DomainStats> domains_;
    std::uint64_t overflow_messages_ = 0;
    DmarcDomainStats dmarc_totals_;
    std::unordered_map<std::string, DmarcDomainStats> dmarc_domains_;
    std::uint64_t dmarc_overflow_messages_ = 0;
    DmarcFeedback feedback_;
};

// What an operator weighs before setting on-fail=reject: among the domains
// that publish Client MX records, how much of their mail fails and why.
struct RejectReadiness {
    struct Domain {
        std::string_view name;
        const DomainStats* stats = nullptr;
        std::string top_reason;  // most frequent fail reason
    };
    std::uint64_t publishing_domains = 0;
    std::uint64_t messages = 0;  // all results, from publishing domains
    std::uint64_t pass = 0;
    std::uint64_t fail = 0;
    std::uint64_t temperror = 0;
    std::vector<Domain> failing;                                      // fail > 0, by fail count
    std::uint64_t failing_with_passes = 0;                            // of those, domains that also passed
    std::vector<std::pair<std::string, std::uint64_t>> fail_reasons;  // all domains

    [[nodiscard]] double fail_share() const {
        return pass + fail == 0 ? 0.0 : static_cast<double>(fail) / static_cast<double>(pass + fail);
    }
};

RejectReadiness reject_readiness(const Summary& summary);

// fail / (pass + fail) of one domain; std::nullopt when it has neither.
std::optional<double> fail_share(const DomainStats& stats);

}  // namespace mtls::report
