#include "mtls/verdict_record.h"

#include <fmt/format.h>

#include <ctime>

#include <nlohmann/json.hpp>

#include "mtls/log_text.h"
#include "mtls/verdict_record_fields.h"

namespace mtls {
namespace {

constexpr std::size_t kMaxFieldLength = 512;

std::string clip(std::string_view text) {
    return std::string(text.substr(0, kMaxFieldLength));
}

std::vector<std::string> hosts_of(const Verdict& verdict) {
    std::vector<std::string> out;
    for (const auto& record : verdict.client_mx) {
        out.push_back(fmt::format("{}:{}", record.preference, record.is_null() ? "." : record.host));
    }
    return out;
}

std::vector<std::string> escaped(const std::vector<std::string>& values) {
    std::vector<std::string> out;
    out.reserve(values.size());
    for (const auto& value : values) {
        out.push_back(escape_for_log(clip(value)));
    }
    return out;
}

// "key=value" of the text format, the key from the field table.
std::string text_field(VerdictField field, std::string_view value) {
    return fmt::format("{}={}", field_name(field), value);
}

std::string list_value(const std::vector<std::string>& values) {
    if (values.empty()) {
        return "-";
    }
    return fmt::format("{}", fmt::join(values, ","));
}

// The probe's sentence, saying when it was remembered from an earlier probe.
std::string discovery_detail_of(const DiscoveryReport& report) {
    if (report.detail.empty() || !report.from_cache) {
        return report.detail;
    }
    return "(cached) " + report.detail;
}

}  // namespace

std::string log_text_value(std::string_view value) {
    std::string safe = escape_for_log(clip(value));
    if (!safe.empty() && safe.find_first_of(" \"=") == std::string::npos) {
        return safe;
    }
    std::string out = "\"";
    for (const char c : safe) {
        if (c == '"') {
            out += "\\\"";
        } else {
            out.push_back(c);
        }
    }
    return out + "\"";
}

std::string iso8601_utc(std::chrono::system_clock::time_point time) {
    const auto since_epoch = time.time_since_epoch();
    const auto seconds = std::chrono::floor<std::chrono::seconds>(since_epoch);
    const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count();
    const std::time_t whole = seconds.count();
    std::tm utc{};
    gmtime_r(&whole, &utc);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday,
                       utc.tm_hour, utc.tm_min, utc.tm_sec, millis);
}

std::string escape_for_log(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u >= 0x7f || c == '\\') {
            out += fmt::format("\\x{:02x}", u);
        } else {
            out.push_back(c);
        }
    }
    return out;
}

std::string format_text(const VerdictRecord& record) {
    using enum VerdictField;
    std::vector<std::string> fields;
    fields.push_back(text_field(queue_id, log_text_value(record.queue_id.empty() ? "-" : record.queue_id)));
    fields.push_back(text_field(client_addr, log_text_value(record.client_address)));
    fields.push_back(text_field(identity, fmt::format("{}:{}", property_name(record.identity.kind),
                                                      log_text_value(record.identity.usable() ? record.identity.domain
                                                                                              : record.raw_identity))));
    fields.push_back(text_field(tls, to_string(record.evidence.status)));
    fields.push_back(text_field(cert_names, log_text_value(list_value(escaped(record.evidence.names)))));
    if (!record.evidence.unusable_names.empty()) {
        fields.push_back(
            text_field(unusable_cert_names, log_text_value(list_value(escaped(record.evidence.unusable_names)))));
    }
    fields.push_back(text_field(client_mx, log_text_value(list_value(hosts_of(record.verdict)))));
    fields.push_back(text_field(dnssec, to_string(record.verdict.dnssec)));
    fields.push_back(text_field(result, to_string(record.verdict.result)));
    if (!record.verdict.matched_host.empty()) {
        fields.push_back(text_field(matched, record.verdict.matched_host));
        fields.push_back(text_field(via, to_string(record.verdict.method)));
    }
    if (!record.verdict.tlsa_owner.empty()) {
        fields.push_back(text_field(tlsa, record.verdict.tlsa_owner));
    }
    if (const auto& key = record.evidence.fingerprints.public_key) {
        fields.push_back(text_field(key_sha256, to_hex(*key)));
    }
    if (!record.policy_channel.empty()) {
        fields.push_back(text_field(policy_channel, log_text_value(record.policy_channel)));
    }
    if (!record.discovery.outcome.empty()) {
        fields.push_back(text_field(discovery, record.discovery.outcome));
        if (const auto detail = discovery_detail_of(record.discovery); !detail.empty()) {
            fields.push_back(text_field(discovery_detail, log_text_value(detail)));
        }
    }
    fields.push_back(text_field(reason, log_text_value(record.verdict.reason.empty() ? "-" : record.verdict.reason)));
    fields.push_back(text_field(action, log_text_value(record.action)));
    fields.push_back(
        text_field(lookup_ms, fmt::format("{:.1f}", static_cast<double>(record.lookup_time.count()) / 1000.0)));
    if (!record.dns_detail.empty()) {
        fields.push_back(text_field(dns_detail, log_text_value(record.dns_detail)));
    }
    if (record.time != std::chrono::system_clock::time_point{}) {
        fields.push_back(text_field(ts, iso8601_utc(record.time)));
    }
    return fmt::format("{}", fmt::join(fields, " "));
}

std::string format_json(const VerdictRecord& record) {
    using enum VerdictField;
    const auto& fingerprints = record.evidence.fingerprints;
    nlohmann::json line = nlohmann::json::object();
    const auto set = [&line](VerdictField field, nlohmann::json value) {
        line[std::string(field_name(field))] = std::move(value);
    };
    set(queue_id, escape_for_log(clip(record.queue_id)));
    set(client_addr, escape_for_log(clip(record.client_address)));
    set(identity_type, property_name(record.identity.kind));
    set(identity, record.identity.usable() ? record.identity.domain : escape_for_log(clip(record.raw_identity)));
    set(tls, to_string(record.evidence.status));
    set(evidence, to_string(record.evidence.source));
    set(cert_names, escaped(record.evidence.names));
    set(unusable_cert_names, escaped(record.evidence.unusable_names));
    set(client_mx, hosts_of(record.verdict));
    set(dnssec, to_string(record.verdict.dnssec));
    set(result, to_string(record.verdict.result));
    set(reason, escape_for_log(record.verdict.reason));
    set(matched, escape_for_log(record.verdict.matched_host));
    set(via, to_string(record.verdict.method));
    set(tlsa, record.verdict.tlsa_owner);
    set(cert_sha256, fingerprints.certificate ? to_hex(*fingerprints.certificate) : std::string());
    set(key_sha256, fingerprints.public_key ? to_hex(*fingerprints.public_key) : std::string());
    set(action, escape_for_log(record.action));
    set(lookup_ms, static_cast<double>(record.lookup_time.count()) / 1000.0);
    set(dns_detail, escape_for_log(clip(record.dns_detail)));
    if (!record.policy_channel.empty()) {
        set(policy_channel, record.policy_channel);
    }
    if (!record.discovery.outcome.empty()) {
        set(discovery, record.discovery.outcome);
        set(discovery_detail, escape_for_log(clip(discovery_detail_of(record.discovery))));
    }
    if (record.time != std::chrono::system_clock::time_point{}) {
        set(ts, iso8601_utc(record.time));
    }
    // Every string was escaped to ASCII above, so dump() cannot meet invalid UTF-8.
    return line.dump();
}

}  // namespace mtls
