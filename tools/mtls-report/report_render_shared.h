// What the output formats of mtls-report share: formatting of numbers, times
// and counters, the selection of domains to list, the chart's buckets, and
// the advice sentences that the text and HTML reports both give. Internal to
// the renderers (report_render_*.cc); the interface is report_render.h.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "report_render.h"
#include "report_summary.h"
#include "report_time.h"

namespace mtls::report::render {

// Failing domains shown in text and HTML; JSON lists them all.
inline constexpr std::size_t kMaxFailingShown = 25;
// Result colours of the HTML page and its chart, in result_at() order.
inline constexpr std::array<std::string_view, kResultCount> kColours = {"#2e7d32", "#c62828", "#9e9e9e", "#ef6c00",
                                                                        "#6a1b9a"};

std::string percent(double share);
std::string percent_or_dash(std::optional<double> share);
// A file name comes from the command line and may hold any byte.
std::string safe_name(std::string_view name);
std::string iso_or_dash(std::optional<Timestamp> time);
// "a (3), b (1), +2 more", or "-" for none.
std::string counter_text(const CappedCounter& counter, std::string_view separator = ", ");
// "yes", "no", or "null" when every Client MX record seen was the null one.
std::string client_mx_state(const DomainStats& stats);
// "secure", or "secure/insecure" when answers differed, most frequent first.
std::string dnssec_states(const DomainStats& stats);

// The domains a report lists, most messages first: all, or the first --top.
using ListedDomains = std::vector<std::pair<std::string_view, const DomainStats*>>;
ListedDomains listed_domains(const Summary& summary, const RenderOptions& options);
using ListedDmarcDomains = std::vector<std::pair<std::string_view, const DmarcDomainStats*>>;
ListedDmarcDomains listed_dmarc_domains(const Summary& summary, const RenderOptions& options);
std::span<const RejectReadiness::Domain> shown_failing(const RejectReadiness& readiness);

// Timeline bucket width in seconds: --bucket, else what fits the chart.
std::int64_t chart_width(const Summary& summary, const RenderOptions& options);
// "2025-11-24 10:00" for buckets under a day, the date otherwise.
std::string bucket_label(std::int64_t start, std::int64_t width);
// "hour", "day", "week" or "multi-week".
std::string_view width_name(std::int64_t width);

// The advice before on-fail=reject, worded once for text and HTML; each
// format adds its own punctuation and markup.
inline constexpr std::string_view kRejectsNothing = "on-fail=reject would have rejected no message.";
// "on-temperror=tempfail would have deferred N messages (all domains)"
std::string deferred_sentence(const Summary& summary);
// "on-fail=reject would have rejected N messages from M domains; K of these domains also passed"
std::string rejected_sentence(const RejectReadiness& readiness);
// "+N more domains; --format json lists all"
std::string more_failing_note(const RejectReadiness& readiness);
// "N messages of domains beyond --max-domains are counted under (other domains)"
std::string overflow_note(const Summary& summary);

// The DMARC section's sentences, worded once for text and HTML:
// "N messages: X pass (Y of them by mtls only), ..." and
// "dmarc-enforce=yes would have rejected R and quarantined Q messages; without mtls, M more would not have passed"
std::string dmarc_totals_sentence(const DmarcDomainStats& totals);
std::string dmarc_enforce_sentence(const DmarcDomainStats& totals);
// "N messages of From domains beyond --max-domains are counted under (other domains)"
std::string dmarc_overflow_note(const Summary& summary);
// "a (3), b (1)": messages no aggregate report holds, by why; "" for none.
std::string unreported_text(const Summary& summary);

}  // namespace mtls::report::render
