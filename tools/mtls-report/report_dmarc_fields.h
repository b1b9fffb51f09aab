// The keys of the DMARC stage's per-message log line (issue 14), as
// mtls-report reads them: every key the reader knows is spelt here and
// nowhere else. The writer is the milter's DMARC stage; until it commits its
// own field table (as core/mtls/verdict_record_fields.h is stage 1's), this
// one stands in for it, and switching to that table is an edit of this file
// alone. The line is told from a stage 1 record by its `dmarc` key.
#pragma once

#include <array>
#include <string_view>

namespace mtls::report {

enum class DmarcField {
    queue_id,
    client_addr,
    identity,  // stage 1's spelling: "smtp.mailfrom:example.org" (text), the domain (JSON)
    identity_type,  // JSON only, as in stage 1
    header_from,
    policy_domain,
    org_domain,
    p,
    sp,
    np,
    t,
    aspf,
    adkim,
    policy_dmarc,
    disposition,
    aligned_by,
    dnssec,
    queries,
    dmarc,
    dmarc_rfc9989,
    mtls,  // stage 1's result for the message, when the line carries it
    ts,
};

struct DmarcFieldSpec {
    DmarcField field;
    std::string_view name;
    bool required;  // a line without it is cut short or not the DMARC stage's
};

inline constexpr std::array kDmarcFields = {
    DmarcFieldSpec{DmarcField::queue_id, "queue_id", true},
    DmarcFieldSpec{DmarcField::client_addr, "client_addr", true},
    DmarcFieldSpec{DmarcField::identity, "identity", false},
    DmarcFieldSpec{DmarcField::identity_type, "identity_type", false},
    DmarcFieldSpec{DmarcField::header_from, "header_from", true},
    DmarcFieldSpec{DmarcField::policy_domain, "policy_domain", true},
    DmarcFieldSpec{DmarcField::org_domain, "org_domain", true},
    DmarcFieldSpec{DmarcField::p, "p", true},
    DmarcFieldSpec{DmarcField::sp, "sp", false},
    DmarcFieldSpec{DmarcField::np, "np", false},
    DmarcFieldSpec{DmarcField::t, "t", false},
    DmarcFieldSpec{DmarcField::aspf, "aspf", false},
    DmarcFieldSpec{DmarcField::adkim, "adkim", false},
    DmarcFieldSpec{DmarcField::policy_dmarc, "policy.dmarc", true},
    DmarcFieldSpec{DmarcField::disposition, "disposition", true},
    DmarcFieldSpec{DmarcField::aligned_by, "aligned_by", true},
    DmarcFieldSpec{DmarcField::dnssec, "dnssec", false},
    DmarcFieldSpec{DmarcField::queries, "queries", false},
    DmarcFieldSpec{DmarcField::dmarc, "dmarc", true},
    DmarcFieldSpec{DmarcField::dmarc_rfc9989, "dmarc_rfc9989", true},
    DmarcFieldSpec{DmarcField::mtls, "mtls", false},
    DmarcFieldSpec{DmarcField::ts, "ts", false},
};

constexpr const DmarcFieldSpec& spec_of(DmarcField field) {
    return kDmarcFields.at(static_cast<std::size_t>(field));
}

constexpr std::string_view field_name(DmarcField field) {
    return spec_of(field).name;
}

// The key that marks a line as the DMARC stage's.
inline constexpr DmarcField kDmarcMarker = DmarcField::dmarc;

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

}  // namespace mtls::report
