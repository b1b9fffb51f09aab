#include "mta_sts/sts_record.h"

#include <algorithm>

#include "mta_sts/field_syntax.h"

namespace mtls {
using sts_syntax::is_alnum;
using sts_syntax::is_wsp;
using sts_syntax::trim_wsp;
using sts_syntax::valid_field_name;

namespace {

constexpr std::string_view kVersion = "v=STSv1";

// sts-ext-value = 1*(%x21-3A / %x3C / %x3E-7E): printable, no '=', ';' or space.
bool valid_extension_value(std::string_view value) {
    return !value.empty() && std::all_of(value.begin(), value.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u >= 0x21 && u <= 0x7e && c != '=' && c != ';';
    });
}

}  // namespace

bool is_sts_candidate(std::string_view text) {
    if (!text.starts_with(kVersion)) {
        return false;
    }
    return text.size() == kVersion.size() || text[kVersion.size()] == ';' || is_wsp(text[kVersion.size()]);
}

Expected<StsRecord> parse_sts_record(std::string_view text) {
    if (!is_sts_candidate(text)) {
        return Error{"does not start with v=STSv1"};
    }
    text.remove_prefix(kVersion.size());
    StsRecord record;
    bool have_id = false;
    while (!text.empty()) {
        // sts-field-delim = *WSP ";" *WSP; a trailing delimiter is allowed.
        const auto after_wsp = trim_wsp(text);
        if (after_wsp.empty()) {
            break;  // trailing whitespace after the last field
        }
        if (after_wsp.front() != ';') {
            return Error{"fields must be separated by ';'"};
        }
        const auto semicolon = after_wsp.substr(1);
        const auto end = semicolon.find(';');
        const std::string_view field = trim_wsp(semicolon.substr(0, end));
        text = end == std::string_view::npos ? std::string_view{} : semicolon.substr(end);
        if (field.empty()) {
            if (!text.empty()) {
                return Error{"empty field between ';'"};
            }
            break;  // the optional trailing ';'
        }
        const auto equals = field.find('=');
        if (equals == std::string_view::npos) {
            return Error{"field without '='"};
        }
        const std::string_view name = field.substr(0, equals);
        const std::string_view value = field.substr(equals + 1);
        if (name == "id") {
            if (have_id) {
                return Error{"more than one id"};
            }
            if (value.empty() || value.size() > kMaxStsIdLength || !std::all_of(value.begin(), value.end(), is_alnum)) {
                return Error{"id must be 1 to 32 letters or digits"};
            }
            record.id = std::string(value);
            have_id = true;
        } else if (valid_field_name(name) && valid_extension_value(value)) {
            record.extensions.emplace_back(name, value);
        } else {
            return Error{"invalid field"};
        }
    }
    if (!have_id) {
        return Error{"no id"};
    }
    return record;
}

Expected<std::string> join_txt_strings(std::span<const std::uint8_t> rdata) {
    std::string text;
    std::size_t at = 0;
    while (at < rdata.size()) {
        const std::size_t length = rdata[at];
        if (at + 1 + length > rdata.size()) {
            return Error{"TXT character-string overruns its record"};
        }
        text.append(reinterpret_cast<const char*>(rdata.data() + at + 1), length);
        at += 1 + length;
    }
    return text;
}

Expected<std::optional<StsRecord>> select_sts_record(std::span<const std::string> txt_records) {
    const std::string* candidate = nullptr;
    std::size_t candidates = 0;
    for (const auto& text : txt_records) {
        if (is_sts_candidate(text)) {
            candidate = &text;
            ++candidates;
        }
    }
    if (candidates == 0) {
        return std::optional<StsRecord>{};
    }
    if (candidates > 1) {
        return Error{std::to_string(candidates) + " TXT records start with v=STSv1 (RFC 8461: none applies)"};
    }
    auto record = parse_sts_record(*candidate);
    if (!record) {
        return Error{"invalid MTA-STS TXT record: " + record.error()};
    }
    return std::optional<StsRecord>(std::move(record).value());
}

}  // namespace mtls
