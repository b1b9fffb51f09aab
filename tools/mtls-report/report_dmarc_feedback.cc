#include "report_dmarc_feedback.h"

#include "base/ip_address.h"

namespace mtls::report {
namespace {

// RFC 9990 ActionDispositionType: "pass" is a pass under an enforcing
// policy; a fail is what was done to it (tempfail, a deferral, did nothing
// to the message yet, so it is none).
std::string disposition_of(const DmarcRecord& record) {
    if (record.result == Result::pass) {
        return record.policy && *record.policy != DmarcPolicy::none ? "pass" : "none";
    }
    if (record.disposition == "reject" || record.disposition == "quarantine") {
        return record.disposition;
    }
    return "none";
}

FeedbackRow row_of(const DmarcRecord& record, std::string source_ip) {
    FeedbackRow row;
    row.source_ip = std::move(source_ip);
    row.disposition = disposition_of(record);
    row.dkim_aligned = record.aligned_dkim;
    row.spf_aligned = record.aligned_spf;
    row.pass_by_mtls_only = record.pass_by_mtls_only();
    row.not_enforced = record.result == Result::fail && record.policy && *record.policy != DmarcPolicy::none &&
                       row.disposition != to_string(*record.policy);
    row.temperror = record.result == Result::temperror;
    row.header_from = record.header_from;
    row.envelope_from = record.envelope_from;
    row.dkim_results = record.dkim_results;
    // An SPF result names no domain but the MAIL FROM's: without that there
    // is nothing to put in the report's spf/domain.
    if (record.envelope_from && !record.envelope_from->empty()) {
        row.spf_result = record.spf_result;
    }
    row.mtls_aligned = record.aligned_mtls;
    row.result_with_mtls = std::string(to_string(record.result));
    return row;
}

}  // namespace

void DmarcFeedback::add(const DmarcRecord& record, std::optional<Timestamp> time) {
    // A report goes to the domain whose record applied: without one (none,
    // permerror, most temperrors) there is no one to report to.
    if (record.policy_domain.empty() || !record.p || record.header_from.empty()) {
        ++unreported_["no DMARC policy applied"];
        return;
    }
    const auto address = IpAddress::parse(record.client);
    if (!address) {
        ++unreported_["client address is not an IP address"];
        return;
    }
    auto it = reports_.find(record.policy_domain);
    if (it == reports_.end()) {
        if (reports_.size() >= max_domains_) {
            ++unreported_["more policy domains than --max-domains"];
            return;
        }
        it = reports_.try_emplace(record.policy_domain).first;
    }
    PolicyReport& report = it->second;
    ++report.messages;
    if (!report.policy_seen || !time || *time >= *report.policy_seen) {
        report.p = *record.p;
        report.sp = record.sp;
        report.np = record.np;
        report.adkim = record.adkim;
        report.aspf = record.aspf;
        report.testing = record.testing;
        if (time) {
            report.policy_seen = time;
        }
    }
    if (time) {
        if (!report.first_seen || *time < *report.first_seen) {
            report.first_seen = time;
        }
        if (!report.last_seen || *time > *report.last_seen) {
            report.last_seen = time;
        }
    }
    auto row = row_of(record, address->to_string());
    if (const auto found = report.rows.find(row); found != report.rows.end()) {
        ++found->second;
    } else if (report.rows.size() < PolicyReport::kMaxRows) {
        report.rows.emplace(std::move(row), 1);
    } else {
        ++report.omitted;
    }
}

}  // namespace mtls::report
