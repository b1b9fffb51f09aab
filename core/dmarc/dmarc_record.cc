#include "dmarc/dmarc_record.h"

#include <fmt/format.h>

#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "dmarc/dmarc_record_fields.h"
#include "mtls/log_text.h"
#include "mtls/verdict_record.h"

namespace mtls::dmarc {
namespace {

constexpr std::size_t kMaxFieldLength = 512;
static_assert(kMaxAuthResultsText <= kMaxFieldLength, "dkim_results is never clipped mid-entry");

// The value of each field, "-" where there is none; both formats write these.
std::vector<std::pair<DmarcField, std::string>> values_of(const DmarcRecord& record) {
    using enum DmarcField;
    const Evaluation& e = record.evaluation;
    // Raw values (the formats escape them), "-" for none.
    const auto or_dash = [](std::string_view text) { return text.empty() ? std::string("-") : std::string(text); };
    const auto policy_or_dash = [](const std::optional<Policy>& policy) {
        return policy ? std::string(to_string(*policy)) : std::string("-");
    };
    std::vector<std::string> aligned;
    if (e.aligned.spf) {
        aligned.emplace_back("spf");
    }
    if (e.aligned.dkim) {
        aligned.emplace_back("dkim");
    }
    if (e.aligned.mtls) {
        aligned.emplace_back("mtls");
    }
    const Record* const r = e.record ? &*e.record : nullptr;
    std::vector<std::pair<DmarcField, std::string>> out;
    out.emplace_back(stage, std::string(kDmarcStageValue));
    out.emplace_back(queue_id, or_dash(record.queue_id));
    out.emplace_back(client_addr, or_dash(record.client_address));
    out.emplace_back(header_from, or_dash(e.header_from));
    out.emplace_back(envelope_from, record.null_sender ? std::string("<>") : or_dash(record.envelope_from));
    out.emplace_back(dmarc, std::string(to_string(e.result)));
    out.emplace_back(dmarc_rfc9989, std::string(to_string(e.result_rfc9989)));
    out.emplace_back(policy_domain, or_dash(e.policy_domain));
    out.emplace_back(org_domain, or_dash(e.organizational_domain));
    out.emplace_back(p, r != nullptr ? std::string(to_string(r->p)) : "-");
    out.emplace_back(sp, r != nullptr ? policy_or_dash(r->sp) : "-");
    out.emplace_back(np, r != nullptr ? policy_or_dash(r->np) : "-");
    out.emplace_back(t, r != nullptr ? (r->testing ? "y" : "n") : "-");
    out.emplace_back(aspf, r != nullptr ? std::string(to_string(r->aspf)) : "-");
    out.emplace_back(adkim, r != nullptr ? std::string(to_string(r->adkim)) : "-");
    out.emplace_back(policy_dmarc, e.policy ? std::string(to_string(e.policy->effective)) : "-");
    out.emplace_back(disposition, or_dash(record.disposition));
    out.emplace_back(aligned_by, aligned.empty() ? std::string("-") : fmt::format("{}", fmt::join(aligned, ",")));
    out.emplace_back(dkim_results, dkim_results_text(reported_dkim_results(record.dkim_results, e.header_from,
                                                                           e.organizational_domain)));
    out.emplace_back(spf_result, is_spf_result(record.spf_result) ? record.spf_result : std::string("-"));
    out.emplace_back(dnssec, std::string(to_string(e.dnssec)));
    out.emplace_back(queries, std::to_string(record.queries));
    out.emplace_back(reason, or_dash(e.reason));
    return out;
}

}  // namespace

std::string format_text(const DmarcRecord& record) {
    std::vector<std::string> fields;
    for (const auto& [field, value] : values_of(record)) {
        fields.push_back(fmt::format("{}={}", field_name(field), log_text_value(value)));
    }
    if (record.time != std::chrono::system_clock::time_point{}) {
        fields.push_back(fmt::format("{}={}", field_name(DmarcField::ts), iso8601_utc(record.time)));
    }
    return fmt::format("{}", fmt::join(fields, " "));
}

std::string format_json(const DmarcRecord& record) {
    nlohmann::json line = nlohmann::json::object();
    for (const auto& [field, value] : values_of(record)) {
        if (field == DmarcField::queries) {
            line[std::string(field_name(field))] = record.queries;
        } else {
            line[std::string(field_name(field))] = escape_for_log(value.substr(0, kMaxFieldLength));
        }
    }
    if (record.time != std::chrono::system_clock::time_point{}) {
        line[std::string(field_name(DmarcField::ts))] = iso8601_utc(record.time);
    }
    // Every string was escaped to ASCII, so dump() cannot meet invalid UTF-8.
    return line.dump();
}

}  // namespace mtls::dmarc
