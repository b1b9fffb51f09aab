// The DMARC stage's per-message log line, read back: the fields of
// core/dmarc/dmarc_record_fields.h (the writer's own table), checked value by value, so that what reaches a report
// (and an RFC 9990 XML document) is a canonical domain, a known keyword or an
// address that still has to be checked where it is used.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "dmarc/auth_results.h"
#include "dmarc/dmarc_record_fields.h"
#include "mtls/verdict.h"
#include "report_time.h"

namespace mtls::report {

using dmarc::DmarcField;
using dmarc::field_name;
using dmarc::kDmarcFields;

// The writer puts every field on every line but ts (format_text in
// core/dmarc/dmarc_record.cc): a line without one is cut short. Lines of
// versions before envelope_from, dkim_results and spf_result lack those.
constexpr bool required(DmarcField field) {
    return field != DmarcField::ts && field != DmarcField::envelope_from && field != DmarcField::dkim_results &&
           field != DmarcField::spf_result;
}

// p, sp, np and the effective policy (RFC 9989 section 4.7).
enum class DmarcPolicy { none, quarantine, reject };
std::string_view to_string(DmarcPolicy policy);

struct DmarcRecord {
    std::string queue_id;
    std::string client;       // as logged: printable ASCII, not yet checked as an address
    std::string header_from;  // canonical domains, "" when the stage found none
    // The MAIL FROM domain: "" for the null sender, std::nullopt when the
    // line does not say (an unusable MAIL FROM, or an older line).
    std::optional<std::string> envelope_from;
    std::string policy_domain;
    std::string org_domain;
    std::optional<DmarcPolicy> p;
    std::optional<DmarcPolicy> sp;
    std::optional<DmarcPolicy> np;
    std::optional<DmarcPolicy> policy;  // policy.dmarc: the effective policy, set when one applied
    bool testing = false;               // t=y
    char aspf = 'r';
    char adkim = 'r';
    std::string disposition;  // taken: none, quarantine, reject or tempfail
    bool aligned_spf = false;
    bool aligned_dkim = false;
    bool aligned_mtls = false;
    std::string dnssec;
    // RFC 9990's auth_results: the DKIM results and the SPF result ("" for
    // none), as dmarc/auth_results.h spells and checks them.
    std::vector<dmarc::DkimAuthResult> dkim_results;
    std::string spf_result;
    // DMARC's results use mtls's words: Result serves both.
    Result result = Result::none;          // with mtls in place of SPF
    Result result_rfc9989 = Result::none;  // SPF and DKIM only
    std::optional<Timestamp> time;

    // A pass that only mtls made: what the report calls "passes by mtls only".
    [[nodiscard]] bool pass_by_mtls_only() const { return result == Result::pass && result_rfc9989 != Result::pass; }
};

// Each field's value as the line gave it ("-" for none; JSON's numbers
// written out), std::nullopt when the line lacks the key.
using DmarcValues = std::array<std::optional<std::string>, kDmarcFields.size()>;

// std::nullopt with `problem` set when a required field is missing or a
// value is not what the stage writes.
std::optional<DmarcRecord> dmarc_record_from(const DmarcValues& values, std::string& problem);

}  // namespace mtls::report
