// The data of RFC 9990 aggregate reports, gathered from the DMARC stage's
// log lines: one report per policy domain (the domain whose DMARC record
// applied), its published policy, and its messages grouped into rows by
// source address, DMARC evaluation, identifiers, the raw SPF and DKIM
// results (RFC 9990: one record per IP, result and authentication
// identifiers) and mtls alignment. Bounded
// like the rest of the summary, since senders choose From domains and
// connect from any address.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "report_dmarc_log.h"
#include "report_time.h"

namespace mtls::report {

// One <record> of a report, less its count. policy_evaluated is RFC 9989's:
// spf and dkim are the aligned results of SPF and DKIM alone, never mtls.
struct FeedbackRow {
    std::string source_ip;    // canonical address text
    std::string disposition;  // none, pass, quarantine or reject (RFC 9990 ActionDispositionType)
    bool dkim_aligned = false;
    bool spf_aligned = false;
    bool pass_by_mtls_only = false;  // reason local_policy: mtls made the pass
    bool not_enforced = false;       // reason local_policy: a fail the policy would reject or quarantine, tagged only
    bool temperror = false;          // reason other: DMARC could not be evaluated
    std::string header_from;
    std::optional<std::string> envelope_from;  // "" for the null sender; unset when not known
    // auth_results: uninterpreted with respect to DMARC.
    std::vector<dmarc::DkimAuthResult> dkim_results;
    std::string spf_result;  // for envelope_from, "" for none
    // For the namespaced extension element: whether the domain that passed
    // mtls aligned, and the DMARC result with mtls in place of SPF.
    bool mtls_aligned = false;
    std::string result_with_mtls;

    // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy misreads the defaulted <=> (its 0 comparisons)
    auto operator<=>(const FeedbackRow&) const = default;
};

struct PolicyReport {
    // The policy as last seen (RFC 9990 reports the policy published).
    DmarcPolicy p = DmarcPolicy::none;
    std::optional<DmarcPolicy> sp;
    std::optional<DmarcPolicy> np;
    char adkim = 'r';
    char aspf = 'r';
    bool testing = false;
    std::optional<Timestamp> policy_seen;
    std::optional<Timestamp> first_seen;
    std::optional<Timestamp> last_seen;
    std::map<FeedbackRow, std::uint64_t> rows;
    std::uint64_t omitted = 0;  // messages beyond kMaxRows distinct rows
    std::uint64_t messages = 0;

    static constexpr std::size_t kMaxRows = 10000;
};

class DmarcFeedback {
public:
    explicit DmarcFeedback(std::size_t max_domains) : max_domains_(max_domains) {}

    void add(const DmarcRecord& record, std::optional<Timestamp> time);

    // By policy domain.
    [[nodiscard]] const std::map<std::string, PolicyReport>& reports() const { return reports_; }
    // Messages no report can hold, by why: no policy applied, no usable
    // source address, more policy domains than --max-domains.
    [[nodiscard]] const std::map<std::string, std::uint64_t>& unreported() const { return unreported_; }

private:
    std::size_t max_domains_;
    std::map<std::string, PolicyReport> reports_;
    std::map<std::string, std::uint64_t> unreported_;
};

}  // namespace mtls::report
