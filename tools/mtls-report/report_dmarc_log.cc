#include "report_dmarc_log.h"

#include <fmt/format.h>

#include <algorithm>

#include "dns/domain_name.h"

namespace mtls::report {
namespace {

constexpr std::array kPolicies = {DmarcPolicy::none, DmarcPolicy::quarantine, DmarcPolicy::reject};
constexpr std::array kResults = {Result::pass, Result::fail, Result::none, Result::temperror, Result::permerror};
constexpr std::array<std::string_view, 4> kDispositions = {"none", "quarantine", "reject", "tempfail"};

class Reader {
public:
    Reader(const DmarcValues& values, std::string& problem) : values_(values), problem_(problem) {}

    [[nodiscard]] bool ok() const { return problem_.empty(); }

    // The value, "" for a missing optional field or "-"; a missing required
    // field is a problem.
    std::string_view text(DmarcField field) {
        const auto& value = values_.at(static_cast<std::size_t>(field));
        if (!value) {
            if (required(field)) {
                fail(field, "missing");
            }
            return {};
        }
        return *value == "-" ? std::string_view{} : std::string_view(*value);
    }

    // A canonical domain (the stage logs A-labels, lower case), or "".
    std::string domain(DmarcField field) {
        const auto value = text(field);
        if (value.empty()) {
            return {};
        }
        const auto canonical = canonical_host_name(value);
        if (!canonical || *canonical != value) {
            fail(field, "not a domain");
            return {};
        }
        return std::string(value);
    }

    std::optional<DmarcPolicy> policy(DmarcField field) {
        const auto value = text(field);
        if (value.empty()) {
            return std::nullopt;
        }
        for (const auto policy : kPolicies) {
            if (to_string(policy) == value) {
                return policy;
            }
        }
        fail(field, "not a policy");
        return std::nullopt;
    }

    std::optional<Result> result(DmarcField field) {
        const auto value = text(field);
        if (value.empty()) {
            return std::nullopt;
        }
        for (const auto result : kResults) {
            if (to_string(result) == value) {
                return result;
            }
        }
        fail(field, "not a result");
        return std::nullopt;
    }

    // One of two letters, `fallback` when absent.
    char flag(DmarcField field, std::string_view letters, char fallback) {
        const auto value = text(field);
        if (value.empty()) {
            return fallback;
        }
        if (value.size() != 1 || letters.find(value.front()) == std::string_view::npos) {
            fail(field, fmt::format("not one of {}", letters));
            return fallback;
        }
        return value.front();
    }

    void fail(DmarcField field, std::string_view what) {
        if (problem_.empty()) {
            problem_ = fmt::format("field {}: {}", field_name(field), what);
        }
    }

private:
    const DmarcValues& values_;
    std::string& problem_;
};

// "spf,dkim,mtls" in any order, or none.
void read_aligned(Reader& reader, DmarcRecord& record) {
    auto list = reader.text(DmarcField::aligned_by);
    while (!list.empty()) {
        const auto comma = list.find(',');
        const auto name = list.substr(0, comma);
        if (name == "spf") {
            record.aligned_spf = true;
        } else if (name == "dkim") {
            record.aligned_dkim = true;
        } else if (name == "mtls") {
            record.aligned_mtls = true;
        } else {
            reader.fail(DmarcField::aligned_by, "unknown identifier");
            return;
        }
        list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    }
}

// "<>" is the null sender; a domain otherwise.
void read_envelope_from(Reader& reader, DmarcRecord& record) {
    if (reader.text(DmarcField::envelope_from) == "<>") {
        record.envelope_from = std::string();
    } else if (auto domain = reader.domain(DmarcField::envelope_from); !domain.empty()) {
        record.envelope_from = std::move(domain);
    }
}

void read_auth_results(Reader& reader, DmarcRecord& record) {
    if (const auto text = reader.text(DmarcField::dkim_results); !text.empty()) {
        auto results = dmarc::dkim_results_from_text(text);
        if (!results) {
            reader.fail(DmarcField::dkim_results, results.error());
        } else {
            record.dkim_results = std::move(results).value();
        }
    }
    record.spf_result = std::string(reader.text(DmarcField::spf_result));
    if (!record.spf_result.empty() && !dmarc::is_spf_result(record.spf_result)) {
        reader.fail(DmarcField::spf_result, "not an SPF result");
    }
}

}  // namespace

std::string_view to_string(DmarcPolicy policy) {
    switch (policy) {
        case DmarcPolicy::none: return "none";
        case DmarcPolicy::quarantine: return "quarantine";
        case DmarcPolicy::reject: return "reject";
    }
    return "none";
}

std::optional<DmarcRecord> dmarc_record_from(const DmarcValues& values, std::string& problem) {
    using F = DmarcField;
    problem.clear();
    Reader reader(values, problem);
    DmarcRecord record;
    record.queue_id = std::string(reader.text(F::queue_id));
    record.client = std::string(reader.text(F::client_addr));
    record.header_from = reader.domain(F::header_from);
    read_envelope_from(reader, record);
    record.policy_domain = reader.domain(F::policy_domain);
    record.org_domain = reader.domain(F::org_domain);
    record.p = reader.policy(F::p);
    record.sp = reader.policy(F::sp);
    record.np = reader.policy(F::np);
    record.policy = reader.policy(F::policy_dmarc);
    record.testing = reader.flag(F::t, "yn", 'n') == 'y';
    record.aspf = reader.flag(F::aspf, "rs", 'r');
    record.adkim = reader.flag(F::adkim, "rs", 'r');
    record.disposition = std::string(reader.text(F::disposition));
    if (record.disposition.empty()) {
        record.disposition = "none";
    } else if (std::find(kDispositions.begin(), kDispositions.end(), record.disposition) == kDispositions.end()) {
        reader.fail(F::disposition, "not a disposition");
    }
    read_aligned(reader, record);
    read_auth_results(reader, record);
    record.dnssec = std::string(reader.text(F::dnssec));
    const auto result = reader.result(F::dmarc);
    const auto result_rfc9989 = reader.result(F::dmarc_rfc9989);
    if (reader.text(F::stage) != dmarc::kDmarcStageValue) {
        reader.fail(F::stage, "not the DMARC stage");
    }
    if (reader.ok() && (!result || !result_rfc9989)) {
        reader.fail(result ? F::dmarc_rfc9989 : F::dmarc, "no result");
    }
    if (!reader.ok()) {
        return std::nullopt;
    }
    record.result = *result;
    record.result_rfc9989 = *result_rfc9989;
    return record;
}

}  // namespace mtls::report
