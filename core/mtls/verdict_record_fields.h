// The fields of the per-message log line: one table that the writer
// (format_text and format_json in core/mtls/verdict_record.cc) and the reader
// (tools/mtls-report/report_log.cc) both spell their keys from, so that the
// two cannot drift. Each field has one name, the same in both formats; the
// rows are in the order format_text writes its fields.
#pragma once

#include <array>
#include <optional>
#include <string_view>

namespace mtls {

enum class VerdictField {
    queue_id,
    client_addr,
    identity_type,
    identity,
    tls,
    evidence,
    cert_names,
    unusable_cert_names,
    client_mx,
    dnssec,
    result,
    matched,
    via,
    tlsa,
    cert_sha256,
    key_sha256,
    policy_channel,
    discovery,
    discovery_detail,
    reason,
    action,
    lookup_ms,
    dns_detail,
    ts,
};

// Whether format_text writes a field. The text format has no identity_type:
// its identity value is "smtp.mailfrom:example.org", the type folded in.
enum class TextPresence {
    always,    // on every record: a line without it is not a whole record
    when_set,  // only when the record has a value for it
    absent,    // JSON only
};

struct VerdictFieldSpec {
    VerdictField field;
    std::string_view name;
    TextPresence text;
    // The key text lines of earlier versions used, "" when the same: the
    // reader still accepts it, so that logs written before the rename report.
    std::string_view former_text_key;
};

inline constexpr std::array kVerdictFields = {
    VerdictFieldSpec{VerdictField::queue_id, "queue_id", TextPresence::always, ""},
    VerdictFieldSpec{VerdictField::client_addr, "client_addr", TextPresence::always, "client"},
    VerdictFieldSpec{VerdictField::identity_type, "identity_type", TextPresence::absent, ""},
    VerdictFieldSpec{VerdictField::identity, "identity", TextPresence::always, ""},
    VerdictFieldSpec{VerdictField::tls, "tls", TextPresence::always, ""},
    VerdictFieldSpec{VerdictField::evidence, "evidence", TextPresence::absent, ""},
    VerdictFieldSpec{VerdictField::cert_names, "cert_names", TextPresence::always, ""},
    VerdictFieldSpec{VerdictField::unusable_cert_names, "unusable_cert_names", TextPresence::when_set, ""},
    VerdictFieldSpec{VerdictField::client_mx, "client_mx", TextPresence::always, ""},
    VerdictFieldSpec{VerdictField::dnssec, "dnssec", TextPresence::always, ""},
    VerdictFieldSpec{VerdictField::result, "result", TextPresence::always, ""},
    VerdictFieldSpec{VerdictField::matched, "matched", TextPresence::when_set, ""},
    VerdictFieldSpec{VerdictField::via, "via", TextPresence::when_set, ""},
    VerdictFieldSpec{VerdictField::tlsa, "tlsa", TextPresence::when_set, ""},
    VerdictFieldSpec{VerdictField::cert_sha256, "cert_sha256", TextPresence::absent, ""},
    VerdictFieldSpec{VerdictField::key_sha256, "key_sha256", TextPresence::when_set, ""},
    VerdictFieldSpec{VerdictField::policy_channel, "policy_channel", TextPresence::when_set, "policy"},
    VerdictFieldSpec{VerdictField::discovery, "discovery", TextPresence::when_set, ""},
    VerdictFieldSpec{VerdictField::discovery_detail, "discovery_detail", TextPresence::when_set, ""},
    VerdictFieldSpec{VerdictField::reason, "reason", TextPresence::always, ""},
    VerdictFieldSpec{VerdictField::action, "action", TextPresence::always, ""},
    VerdictFieldSpec{VerdictField::lookup_ms, "lookup_ms", TextPresence::always, ""},
    VerdictFieldSpec{VerdictField::dns_detail, "dns_detail", TextPresence::when_set, ""},
    VerdictFieldSpec{VerdictField::ts, "ts", TextPresence::when_set, ""},
};

// Rows are in declaration order (checked below), so an enumerator indexes its row.
constexpr const VerdictFieldSpec& spec_of(VerdictField field) {
    return kVerdictFields.at(static_cast<std::size_t>(field));
}

constexpr std::string_view field_name(VerdictField field) {
    return spec_of(field).name;
}

// The field a text line's key names, its former key included; std::nullopt
// for a key this version does not know (a later version's field).
constexpr std::optional<VerdictField> field_from_text_key(std::string_view key) {
    for (const auto& spec : kVerdictFields) {
        if (spec.text != TextPresence::absent && !key.empty() && (key == spec.name || key == spec.former_text_key)) {
            return spec.field;
        }
    }
    return std::nullopt;
}

namespace verdict_fields_detail {
constexpr bool rows_in_enum_order() {
    for (std::size_t i = 0; i < kVerdictFields.size(); ++i) {
        if (static_cast<std::size_t>(kVerdictFields[i].field) != i) {
            return false;
        }
    }
    return true;
}
}  // namespace verdict_fields_detail
static_assert(verdict_fields_detail::rows_in_enum_order() &&
                  kVerdictFields.size() == static_cast<std::size_t>(VerdictField::ts) + 1,
              "one row per VerdictField, in declaration order");

}  // namespace mtls
