#include "report_log.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <nlohmann/json.hpp>

#include "dmarc/dmarc_record_fields.h"
#include "dns/dns_answer.h"
#include "mail/identity.h"
#include "mtls/verdict_record_fields.h"

namespace mtls::report {
namespace {

using nlohmann::json;

constexpr std::array kResults = {Result::pass, Result::fail, Result::none, Result::temperror, Result::permerror};
constexpr std::array kIdentityKinds = {IdentityKind::mail_from, IdentityKind::helo};

// The syslog tag is among the first few words; looking further would let a
// message of another program that quotes "mtls-milter[1]:" pass for ours.
constexpr std::size_t kMaxPrefixWords = 8;

bool printable_ascii(std::string_view text) {
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u > 0x7e) {
            return false;
        }
    }
    return true;
}

bool has_control_bytes(std::string_view line) {
    for (const char c : line) {
        const auto u = static_cast<unsigned char>(c);
        if ((u < 0x20 && c != '\t') || u == 0x7f) {
            return true;
        }
    }
    return false;
}

std::optional<Result> result_from(std::string_view name) {
    for (const auto result : kResults) {
        if (to_string(result) == name) {
            return result;
        }
    }
    return std::nullopt;
}

std::optional<IdentityKind> identity_kind_from(std::string_view name) {
    for (const auto kind : kIdentityKinds) {
        if (property_name(kind) == name) {
            return kind;
        }
    }
    return std::nullopt;
}

// The milter logs an unusable identity's raw text in place of a domain, with
// the reason the core gives it; asking the core for that reason keeps the
// report in step with the verdict module's wording.
void settle_identity(Record& record) {
    const auto kind = identity_kind_from(record.identity_type).value_or(IdentityKind::mail_from);
    Identity unusable;
    unusable.kind = kind;
    record.identity_usable =
        !(record.result == Result::permerror && record.reason == verdict_for_unusable_identity(unusable).reason);
}

std::vector<std::string> split_list(std::string_view text) {
    std::vector<std::string> out;
    if (text == "-" || text.empty()) {
        return out;
    }
    while (true) {
        const auto comma = text.find(',');
        out.emplace_back(text.substr(0, comma));
        if (comma == std::string_view::npos) {
            return out;
        }
        text.remove_prefix(comma + 1);
    }
}

std::optional<double> number_from(std::string_view text) {
    double value = 0;
    const auto* end = text.data() + text.size();
    const auto [ptr, error] = std::from_chars(text.data(), end, value);
    if (error != std::errc{} || ptr != end) {
        return std::nullopt;
    }
    return value;
}

// The "ts" field format_json writes (RFC 3339, UTC). The epoch itself is
// what it writes for a VerdictRecord whose time was never set: no time at all,
// so that the syslog or journal prefix is used instead.
std::optional<Timestamp> ts_from(std::string_view text) {
    auto time = parse_log_timestamp(text, now());
    if (time && time->time_since_epoch().count() == 0) {
        time.reset();
    }
    return time;
}

// --- the text format ---------------------------------------------------------

struct Field {
    std::string key;
    std::string value;
};

enum class TokenStatus { field, word, truncated, end };

// One "key=value" of format_text: a value may hold "quoted" stretches, in
// which \" is a quote; the writer escapes every backslash to \x5c first, so
// \" cannot mean anything else. A word without '=' ends the record part.
class TextTokenizer {
public:
    explicit TextTokenizer(std::string_view text) : text_(text) {}

    TokenStatus next(Field& field, std::string_view& word) {
        while (pos_ < text_.size() && text_[pos_] == ' ') {
            ++pos_;
        }
        if (pos_ == text_.size()) {
            return TokenStatus::end;
        }
        const auto start = pos_;
        field.key.clear();
        field.value.clear();
        bool seen_equals = false;
        bool in_quotes = false;
        for (; pos_ < text_.size(); ++pos_) {
            const char c = text_[pos_];
            if (!in_quotes && c == ' ') {
                break;
            }
            if (!seen_equals) {
                if (c == '=') {
                    seen_equals = true;
                } else if (c == '"') {
                    break;  // a quote before any '=': not a field
                } else {
                    field.key.push_back(c);
                }
                continue;
            }
            if (c == '"') {
                in_quotes = !in_quotes;
            } else if (in_quotes && c == '\\' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '"') {
                field.value.push_back('"');
                ++pos_;
            } else {
                field.value.push_back(c);
            }
        }
        if (!seen_equals || field.key.empty()) {
            while (pos_ < text_.size() && text_[pos_] != ' ') {
                ++pos_;
            }
            word = text_.substr(start, pos_ - start);
            return TokenStatus::word;
        }
        return in_quotes ? TokenStatus::truncated : TokenStatus::field;
    }

private:
    std::string_view text_;
    std::size_t pos_ = 0;
};

// Applies one known field of a text record.
bool apply_text_field(Record& record, VerdictField key, const std::string& value, std::string& problem) {
    switch (key) {
        case VerdictField::queue_id: record.queue_id = value == "-" ? "" : value; break;
        case VerdictField::client_addr: record.client = value; break;
        case VerdictField::identity: {
            const auto colon = value.find(':');
            if (colon == std::string::npos || !identity_kind_from(std::string_view(value).substr(0, colon))) {
                problem = "identity without a known type";
                return false;
            }
            record.identity_type = value.substr(0, colon);
            record.identity = value.substr(colon + 1);
            break;
        }
        case VerdictField::tls: record.tls = value; break;
        case VerdictField::cert_names: record.cert_names = split_list(value); break;
        case VerdictField::unusable_cert_names: record.unusable_cert_names = split_list(value); break;
        case VerdictField::client_mx: record.client_mx = split_list(value); break;
        case VerdictField::dnssec: record.dnssec = value; break;
        case VerdictField::result: {
            const auto result = result_from(value);
            if (!result) {
                problem = "unknown result";
                return false;
            }
            record.result = *result;
            break;
        }
        case VerdictField::matched: record.matched = value; break;
        case VerdictField::via: record.via = value; break;
        case VerdictField::reason: record.reason = value == "-" ? "" : value; break;
        case VerdictField::action: record.action = value; break;
        case VerdictField::lookup_ms: record.lookup_ms = number_from(value).value_or(0); break;
        case VerdictField::dns_detail: record.dns_detail = value; break;
        case VerdictField::ts: record.time = ts_from(value); break;
        // Written but not reported on.
        case VerdictField::tlsa:
        case VerdictField::key_sha256:
        case VerdictField::policy_channel:
        case VerdictField::discovery:
        case VerdictField::discovery_detail:
        // Never in text lines (field_from_text_key does not return them).
        case VerdictField::identity_type:
        case VerdictField::evidence:
        case VerdictField::cert_sha256: break;
    }
    return true;
}

// --- the JSON format ---------------------------------------------------------

// Records are flat objects holding strings and arrays of strings; nothing of
// ours nests deeper than two levels, so deeper structures are dropped while
// parsing instead of being built.
json parse_json_line(std::string_view text) {
    const json::parser_callback_t shallow = [](int depth, json::parse_event_t event, json& /*parsed*/) {
        return !((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) &&
                 depth > 2);
    };
    return json::parse(text.begin(), text.end(), shallow, false);
}

bool get_string(const json& object, VerdictField field, std::string& out, bool required, std::string& problem) {
    const auto key = field_name(field);
    const auto it = object.find(key);
    if (it == object.end()) {
        if (required) {
            problem = fmt::format("missing field {}", key);
        }
        return !required;
    }
    if (!it->is_string() || !printable_ascii(it->get_ref<const std::string&>())) {
        problem = fmt::format("field {} is not a printable string", key);
        return false;
    }
    out = it->get<std::string>();
    return true;
}

bool get_list(const json& object, VerdictField field, std::vector<std::string>& out, std::string& problem) {
    const auto key = field_name(field);
    const auto it = object.find(key);
    if (it == object.end()) {
        return true;
    }
    if (!it->is_array()) {
        problem = fmt::format("field {} is not a list", key);
        return false;
    }
    for (const auto& item : *it) {
        if (!item.is_string() || !printable_ascii(item.get_ref<const std::string&>())) {
            problem = fmt::format("field {} holds a non-string", key);
            return false;
        }
        out.push_back(item.get<std::string>());
    }
    return true;
}

std::optional<Record> record_from_json(const json& object, std::string& problem) {
    if (!object.is_object()) {
        problem = "JSON value is not an object";
        return std::nullopt;
    }
    using F = VerdictField;
    Record record;
    std::string result;
    std::string ts;
    const bool ok = get_string(object, F::queue_id, record.queue_id, true, problem) &&
                    get_string(object, F::identity_type, record.identity_type, true, problem) &&
                    get_string(object, F::identity, record.identity, true, problem) &&
                    get_string(object, F::result, result, true, problem) &&
                    get_string(object, F::client_addr, record.client, false, problem) &&
                    get_string(object, F::tls, record.tls, false, problem) &&
                    get_string(object, F::evidence, record.evidence, false, problem) &&
                    get_string(object, F::dnssec, record.dnssec, false, problem) &&
                    get_string(object, F::reason, record.reason, false, problem) &&
                    get_string(object, F::matched, record.matched, false, problem) &&
                    get_string(object, F::via, record.via, false, problem) &&
                    get_string(object, F::action, record.action, false, problem) &&
                    get_string(object, F::dns_detail, record.dns_detail, false, problem) &&
                    get_string(object, F::ts, ts, false, problem) &&
                    get_list(object, F::cert_names, record.cert_names, problem) &&
                    get_list(object, F::unusable_cert_names, record.unusable_cert_names, problem) &&
                    get_list(object, F::client_mx, record.client_mx, problem);
    if (!ok) {
        return std::nullopt;
    }
    const auto parsed_result = result_from(result);
    if (!parsed_result) {
        problem = "unknown result";
        return std::nullopt;
    }
    if (!identity_kind_from(record.identity_type)) {
        problem = "unknown identity_type";
        return std::nullopt;
    }
    record.result = *parsed_result;
    if (const auto it = object.find(field_name(F::lookup_ms)); it != object.end() && it->is_number()) {
        record.lookup_ms = it->get<double>();
    }
    if (!ts.empty()) {
        record.time = ts_from(ts);
    }
    settle_identity(record);
    return record;
}

// --- the DMARC stage's lines ------------------------------------------------

// Values of a JSON line as strings, numbers (queries) written out; anything
// else is not ours.
std::optional<DmarcValues> dmarc_values_from_json(const json& object, std::string& problem) {
    DmarcValues values;
    for (const auto& spec : kDmarcFields) {
        const auto it = object.find(spec.name);
        if (it == object.end()) {
            continue;
        }
        auto& value = values.at(static_cast<std::size_t>(spec.field));
        if (it->is_string() && printable_ascii(it->get_ref<const std::string&>())) {
            value = it->get<std::string>();
        } else if (it->is_number()) {
            value = it->dump();
        } else {
            problem = fmt::format("field {} is not a printable string", spec.name);
            return std::nullopt;
        }
    }
    return values;
}

std::optional<DmarcValues> dmarc_values_from_text(const TextFields& fields) {
    DmarcValues values;
    for (const auto& [key, value] : fields) {
        for (const auto& spec : kDmarcFields) {
            if (spec.name == key) {
                values.at(static_cast<std::size_t>(spec.field)) = value;
            }
        }
    }
    return values;
}

ParsedLine dmarc_line(const std::optional<DmarcValues>& values, std::string problem) {
    ParsedLine parsed;
    parsed.kind = LineKind::malformed;
    if (!values) {
        parsed.problem = std::move(problem);
        return parsed;
    }
    auto record = dmarc_record_from(*values, parsed.problem);
    if (!record) {
        return parsed;
    }
    if (const auto& ts = values->at(static_cast<std::size_t>(DmarcField::ts)); ts && !ts->empty()) {
        record->time = ts_from(*ts);
    }
    parsed.kind = LineKind::dmarc_record;
    parsed.time = record->time;
    parsed.dmarc = std::move(*record);
    return parsed;
}

// The DMARC stage's lines begin "stage=dmarc " (text) and carry
// "stage":"dmarc" (JSON); stage 1's have no stage field.
constexpr std::string_view kDmarcTextStart = "stage=dmarc ";

bool is_dmarc_json(const json& object) {
    const auto it = object.find(dmarc::field_name(DmarcField::stage));
    return it != object.end() && it->is_string() && it->get_ref<const std::string&>() == dmarc::kDmarcStageValue;
}

ParsedLine classify_dmarc_text(std::string_view body) {
    std::string problem;
    const auto fields = text_fields(body, problem);
    return dmarc_line(fields ? dmarc_values_from_text(*fields) : std::nullopt, std::move(problem));
}

// --- whole lines -------------------------------------------------------------

ParsedLine classify_text(std::string_view body) {
    ParsedLine parsed;
    TextTokenizer tokens(body);
    Field field;
    std::string_view word;
    // Peek for a bare word first: the milter's other "queue_id=" lines
    // (skipped, errors) carry free text after one or two fields.
    for (auto status = tokens.next(field, word); status != TokenStatus::end; status = tokens.next(field, word)) {
        if (status == TokenStatus::word) {
            // Those lines go on after the word ("skipped: SMTP-AUTH client",
            // "internal error: ..."); a record cut inside a key ends on it.
            const auto rest = body.substr(static_cast<std::size_t>(word.data() - body.data()) + word.size());
            if (rest.find_first_not_of(' ') == std::string_view::npos) {
                parsed.kind = LineKind::malformed;
                parsed.problem = "truncated";
                return parsed;
            }
            parsed.kind = word == "skipped:" ? LineKind::milter_skip : LineKind::milter_notice;
            return parsed;
        }
        if (status == TokenStatus::truncated) {
            break;
        }
    }
    if (auto record = parse_text_record(body, parsed.problem)) {
        parsed.kind = LineKind::record;
        parsed.record = std::move(*record);
        parsed.time = parsed.record.time;
    } else {
        parsed.kind = LineKind::malformed;
    }
    return parsed;
}

ParsedLine classify_json(const json& object) {
    if (object.is_object() && is_dmarc_json(object)) {
        std::string problem;
        auto values = dmarc_values_from_json(object, problem);
        return dmarc_line(values, std::move(problem));
    }
    ParsedLine parsed;
    if (auto record = record_from_json(object, parsed.problem)) {
        parsed.kind = LineKind::record;
        parsed.record = std::move(*record);
        parsed.time = parsed.record.time;
    } else {
        parsed.kind = LineKind::malformed;
    }
    return parsed;
}

// A message body: the line itself, or what follows a syslog tag or sits in
// a journal entry's MESSAGE. `ours` says the source is known to be the milter.
ParsedLine classify_body(std::string_view body, bool ours) {
    while (!body.empty() && (body.back() == ' ' || body.back() == '\t')) {
        body.remove_suffix(1);
    }
    if (body.starts_with('{')) {
        const auto object = parse_json_line(body);
        if (object.is_discarded()) {
            ParsedLine parsed;
            parsed.kind = LineKind::malformed;
            parsed.problem = "invalid or truncated JSON";
            return parsed;
        }
        return classify_json(object);
    }
    if (body.starts_with("queue_id=")) {
        return classify_text(body);
    }
    if (body.starts_with(kDmarcTextStart)) {
        return classify_dmarc_text(body);
    }
    ParsedLine parsed;
    parsed.kind = ours || body.starts_with("mtls-milter ") ? LineKind::milter_notice : LineKind::not_mtls;
    return parsed;
}

// `journalctl -o json`: one object per entry; MESSAGE is a string, or an
// array of byte values when it is not valid UTF-8.
ParsedLine classify_journal_entry(const json& entry) {
    ParsedLine not_ours;
    not_ours.kind = LineKind::not_mtls;
    std::optional<bool> ours;
    for (const char* key : {"SYSLOG_IDENTIFIER", "_COMM"}) {
        if (const auto it = entry.find(key); it != entry.end() && it->is_string()) {
            ours = it->get_ref<const std::string&>() == kMilterIdent;
            break;
        }
    }
    if (ours == false) {
        return not_ours;
    }
    std::string message;
    const auto& value = *entry.find("MESSAGE");
    if (value.is_string()) {
        message = value.get<std::string>();
    } else if (value.is_array()) {
        for (const auto& byte : value) {
            if (!byte.is_number_unsigned() || byte.get<unsigned>() > 255) {
                return not_ours;
            }
            message.push_back(static_cast<char>(byte.get<unsigned>()));
        }
    }
    if (has_control_bytes(message)) {
        ParsedLine parsed;
        parsed.kind = LineKind::binary;
        return parsed;
    }
    ParsedLine parsed = classify_body(message, ours.value_or(false));
    if (parsed.kind == LineKind::not_mtls || parsed.time) {
        return parsed;
    }
    if (const auto it = entry.find("__REALTIME_TIMESTAMP"); it != entry.end() && it->is_string()) {
        const auto& text = it->get_ref<const std::string&>();
        long long micros = 0;
        const auto* end = text.data() + text.size();
        if (const auto [ptr, error] = std::from_chars(text.data(), end, micros); error == std::errc{} && ptr == end) {
            parsed.time = Timestamp{std::chrono::microseconds{micros}};
        }
    }
    return parsed;
}

// "TIMESTAMP HOST TAG: MESSAGE" as syslog daemons and journalctl's short
// formats write it. The tag is the first word ending in ':' (a timestamp's
// "22:55:18" does not); it must be the milter's ident, with or without [pid].
ParsedLine classify_prefixed(std::string_view line, Timestamp reference) {
    ParsedLine not_ours;
    not_ours.kind = LineKind::not_mtls;
    std::string_view text = line;
    if (text.starts_with('<')) {  // "<22>" priority, as in forwarded syslog
        const auto close = text.find('>');
        if (close <= 4) {  // npos is larger
            text.remove_prefix(close + 1);
        }
    }
    std::size_t pos = 0;
    std::size_t previous_word = std::string_view::npos;  // start of the host name
    for (std::size_t words = 0; words < kMaxPrefixWords && pos < text.size(); ++words) {
        while (pos < text.size() && text[pos] == ' ') {
            ++pos;
        }
        const auto start = pos;
        while (pos < text.size() && text[pos] != ' ') {
            ++pos;
        }
        const auto word = text.substr(start, pos - start);
        if (!word.ends_with(':')) {
            previous_word = start;
            continue;
        }
        auto tag = word.substr(0, word.size() - 1);
        if (const auto bracket = tag.find('['); bracket != std::string_view::npos) {
            const auto pid = tag.substr(bracket + 1);
            if (pid.size() < 2 || !pid.ends_with(']') ||
                pid.substr(0, pid.size() - 1).find_first_not_of("0123456789") != std::string_view::npos) {
                return not_ours;
            }
            tag = tag.substr(0, bracket);
        }
        if (tag != kMilterIdent) {
            return not_ours;
        }
        auto body = text.substr(pos);
        if (body.starts_with(' ')) {
            body.remove_prefix(1);
        }
        ParsedLine parsed = classify_body(body, true);
        if (!parsed.time && previous_word != std::string_view::npos) {
            parsed.time = parse_log_timestamp(text.substr(0, previous_word), reference);
        }
        return parsed;
    }
    return not_ours;
}

}  // namespace

std::string_view to_string(LineKind kind) {
    switch (kind) {
        case LineKind::record: return "record";
        case LineKind::dmarc_record: return "dmarc_record";
        case LineKind::milter_skip: return "milter_skip";
        case LineKind::milter_notice: return "milter_notice";
        case LineKind::empty: return "empty";
        case LineKind::not_mtls: return "not_mtls";
        case LineKind::malformed: return "malformed";
        case LineKind::binary: return "binary";
        case LineKind::too_long: return "too_long";
    }
    return "not_mtls";
}

std::string_view describe(LineKind kind) {
    switch (kind) {
        case LineKind::record: return "per-message record";
        case LineKind::dmarc_record: return "per-message DMARC record";
        case LineKind::milter_skip: return "message the milter skipped (SMTP-AUTH client)";
        case LineKind::milter_notice: return "other mtls-milter line (start, stop, error)";
        case LineKind::empty: return "empty line";
        case LineKind::not_mtls: return "not an mtls-milter line";
        case LineKind::malformed: return "malformed mtls-milter record (truncated or invalid)";
        case LineKind::binary: return "binary data or control characters";
        case LineKind::too_long: return "line too long";
    }
    return "";
}

std::optional<TextFields> text_fields(std::string_view text, std::string& problem) {
    if (!printable_ascii(text)) {
        problem = "characters the milter never writes";
        return std::nullopt;
    }
    TextFields fields;
    TextTokenizer tokens(text);
    Field field;
    std::string_view word;
    for (auto status = tokens.next(field, word); status != TokenStatus::end; status = tokens.next(field, word)) {
        if (status == TokenStatus::word) {
            problem = "free text in a record";
            return std::nullopt;
        }
        if (status == TokenStatus::truncated) {
            problem = "unterminated quoted value";
            return std::nullopt;
        }
        // A repeated key could smuggle a second value (parse_text_record also
        // treats a field's former and current key as one).
        if (std::any_of(fields.begin(), fields.end(), [&](const auto& seen) { return seen.first == field.key; })) {
            problem = "repeated field " + field.key;
            return std::nullopt;
        }
        fields.emplace_back(field.key, field.value);
    }
    return fields;
}

std::optional<Record> parse_text_record(std::string_view text, std::string& problem) {
    const auto fields = text_fields(text, problem);
    if (!fields) {
        return std::nullopt;
    }
    Record record;
    std::vector<std::string> seen;  // field names, the current one for a former key
    for (const auto& [key, value] : *fields) {
        // A repeated field would let a smuggled "result=pass" compete with
        // the real one: the writer never repeats one, under either of its
        // names ("client=" and "client_addr=" are the same field).
        const auto known = field_from_text_key(key);
        std::string name = known ? std::string(field_name(*known)) : key;
        if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
            problem = "repeated field " + key;
            return std::nullopt;
        }
        // Other keys: fields a later milter may add; ignoring them keeps old
        // reports working on new logs.
        seen.push_back(std::move(name));
        if (!known) {
            continue;
        }
        if (!apply_text_field(record, *known, value, problem)) {
            return std::nullopt;
        }
    }
    // format_text writes these on every record, lookup_ms last but for the
    // optional dns_detail: a line cut short (rsyslog truncates at 8 KiB)
    // lacks it and must not pass for a record with empty fields.
    for (const auto& spec : kVerdictFields) {
        if (spec.text == TextPresence::always && std::find(seen.begin(), seen.end(), spec.name) == seen.end()) {
            problem = fmt::format("missing field {}", spec.name);
            return std::nullopt;
        }
    }
    settle_identity(record);
    return record;
}

std::optional<Record> parse_json_record(std::string_view text, std::string& problem) {
    const auto object = parse_json_line(text);
    if (object.is_discarded()) {
        problem = "invalid or truncated JSON";
        return std::nullopt;
    }
    return record_from_json(object, problem);
}

std::string_view client_mx_host(std::string_view entry) {
    const auto colon = entry.find(':');
    return colon == std::string_view::npos ? entry : entry.substr(colon + 1);
}

ParsedLine parse_line(std::string_view line, Timestamp reference) {
    if (line.ends_with('\r')) {
        line.remove_suffix(1);
    }
    ParsedLine parsed;
    if (line.find_first_not_of(" \t") == std::string_view::npos) {
        parsed.kind = LineKind::empty;
        return parsed;
    }
    if (has_control_bytes(line)) {
        parsed.kind = LineKind::binary;
        return parsed;
    }
    if (line.starts_with('{')) {
        const auto object = parse_json_line(line);
        if (object.is_discarded()) {
            parsed.kind = LineKind::malformed;
            parsed.problem = "invalid or truncated JSON";
            return parsed;
        }
        if (object.is_object() && object.contains("MESSAGE")) {
            return classify_journal_entry(object);
        }
        return classify_json(object);
    }
    if (line.starts_with("queue_id=") || line.starts_with(kDmarcTextStart) || line.starts_with("mtls-milter ")) {
        return classify_body(line, false);
    }
    return classify_prefixed(line, reference);
}

}  // namespace mtls::report
