// The fields of the DMARC stage's per-message log line: one table that the
// writer (format_text and format_json in core/dmarc/dmarc_record.cc) and
// mtls-report's reader both spell their keys from, as
// core/mtls/verdict_record_fields.h does for stage 1's line. Each field has
// one name, the same in the text and JSON formats; rows are in the order
// format_text writes them.
//
// A line of this table is told from stage 1's verdict line by its first
// field, stage=dmarc (text) or "stage":"dmarc" (JSON); stage 1's lines have
// no stage field.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

namespace mtls::dmarc {

enum class DmarcField {
    stage,          // always "dmarc"
    queue_id,       // "-" when the MTA gave none
    client_addr,    // the SMTP client's address
    header_from,    // the author domain (A-label), "-" when none was found
    envelope_from,  // the MAIL FROM domain (A-label), "<>" for the null sender, "-" when unusable
    dmarc,          // the result with mtls as dmarc-mtls says: pass fail none temperror permerror
    dmarc_rfc9989,  // the result from SPF and DKIM alone (RFC 9989)
    policy_domain,  // where the record that applied was found, "-" for none
    org_domain,     // the author domain's organizational domain, "-" when unknown
    p,              // the record's p= (none quarantine reject), "-" without a record
    sp,             // the record's sp=, "-" when absent
    np,             // the record's np=, "-" when absent
    t,              // the record's t= (y or n), "-" without a record
    aspf,           // r or s, "-" without a record
    adkim,          // r or s, "-" without a record
    policy_dmarc,   // policy.dmarc: the effective policy after sp/np and t=y; "-" unless pass or fail
    disposition,    // what was done: none, quarantine, reject, tempfail
    aligned_by,     // comma list of spf, dkim, mtls that aligned ("-" for none); mtls even when report-only
    dkim_results,   // every DKIM result read, as domain:selector:result,... (dmarc/auth_results.h); "-" for none
    spf_result,     // the SPF result for envelope_from (scope mfrom), RFC 8601's word; "-" for none
    dnssec,         // of the record used (secure insecure bogus indeterminate unknown)
    queries,        // how many DNS queries the message's walks made
    reason,         // why none, temperror or permerror; "-" otherwise
    ts,             // when the result was reached, ISO 8601 UTC; text: only when set
};

struct DmarcFieldSpec {
    DmarcField field;
    std::string_view name;
};

inline constexpr std::array kDmarcFields = {
    DmarcFieldSpec{DmarcField::stage, "stage"},
    DmarcFieldSpec{DmarcField::queue_id, "queue_id"},
    DmarcFieldSpec{DmarcField::client_addr, "client_addr"},
    DmarcFieldSpec{DmarcField::header_from, "header_from"},
    DmarcFieldSpec{DmarcField::envelope_from, "envelope_from"},
    DmarcFieldSpec{DmarcField::dmarc, "dmarc"},
    DmarcFieldSpec{DmarcField::dmarc_rfc9989, "dmarc_rfc9989"},
    DmarcFieldSpec{DmarcField::policy_domain, "policy_domain"},
    DmarcFieldSpec{DmarcField::org_domain, "org_domain"},
    DmarcFieldSpec{DmarcField::p, "p"},
    DmarcFieldSpec{DmarcField::sp, "sp"},
    DmarcFieldSpec{DmarcField::np, "np"},
    DmarcFieldSpec{DmarcField::t, "t"},
    DmarcFieldSpec{DmarcField::aspf, "aspf"},
    DmarcFieldSpec{DmarcField::adkim, "adkim"},
    DmarcFieldSpec{DmarcField::policy_dmarc, "policy.dmarc"},
    DmarcFieldSpec{DmarcField::disposition, "disposition"},
    DmarcFieldSpec{DmarcField::aligned_by, "aligned_by"},
    DmarcFieldSpec{DmarcField::dkim_results, "dkim_results"},
    DmarcFieldSpec{DmarcField::spf_result, "spf_result"},
    DmarcFieldSpec{DmarcField::dnssec, "dnssec"},
    DmarcFieldSpec{DmarcField::queries, "queries"},
    DmarcFieldSpec{DmarcField::reason, "reason"},
    DmarcFieldSpec{DmarcField::ts, "ts"},
};

// The value of the stage field on every DMARC line.
inline constexpr std::string_view kDmarcStageValue = "dmarc";

constexpr std::string_view field_name(DmarcField field) {
    return kDmarcFields.at(static_cast<std::size_t>(field)).name;
}

// The field a key names; std::nullopt for a key this version does not know.
constexpr std::optional<DmarcField> dmarc_field_from_key(std::string_view key) {
    for (const auto& spec : kDmarcFields) {
        if (key == spec.name) {
            return spec.field;
        }
    }
    return std::nullopt;
}

namespace dmarc_fields_detail {
constexpr bool rows_in_enum_order() {
    for (std::size_t i = 0; i < kDmarcFields.size(); ++i) {
        if (static_cast<std::size_t>(kDmarcFields[i].field) != i) {
            return false;
        }
    }
    return true;
}
}  // namespace dmarc_fields_detail
static_assert(dmarc_fields_detail::rows_in_enum_order() &&
                  kDmarcFields.size() == static_cast<std::size_t>(DmarcField::ts) + 1,
              "one row per DmarcField, in declaration order");

}  // namespace mtls::dmarc
