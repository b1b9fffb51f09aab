#include "dmarc/record.h"

#include <algorithm>

#include "dns/domain_name.h"

namespace mtls::dmarc {
namespace {

bool is_wsp(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && is_wsp(text.front())) {
        text.remove_prefix(1);
    }
    while (!text.empty() && is_wsp(text.back())) {
        text.remove_suffix(1);
    }
    return text;
}

struct Tag {
    std::string_view name;
    std::string_view value;
    bool well_formed = false;  // "name=value" with a non-empty name
};

Tag split_tag(std::string_view text) {
    const auto equals = text.find('=');
    if (equals == std::string_view::npos) {
        return {trim(text), {}, false};
    }
    const auto name = trim(text.substr(0, equals));
    return {name, trim(text.substr(equals + 1)), !name.empty()};
}

std::vector<Tag> split_tags(std::string_view text) {
    std::vector<Tag> tags;
    std::size_t start = 0;
    while (start <= text.size()) {
        const auto semicolon = std::min(text.find(';', start), text.size());
        const auto part = trim(text.substr(start, semicolon - start));
        if (!part.empty()) {
            tags.push_back(split_tag(part));
        }
        start = semicolon + 1;
    }
    return tags;
}

std::optional<Policy> parse_policy(std::string_view value) {
    if (ascii_iequals(value, "none")) {
        return Policy::none;
    }
    if (ascii_iequals(value, "quarantine")) {
        return Policy::quarantine;
    }
    if (ascii_iequals(value, "reject")) {
        return Policy::reject;
    }
    return std::nullopt;
}

std::optional<AlignmentMode> parse_alignment(std::string_view value) {
    if (ascii_iequals(value, "r")) {
        return AlignmentMode::relaxed;
    }
    if (ascii_iequals(value, "s")) {
        return AlignmentMode::strict;
    }
    return std::nullopt;
}

bool is_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// Drops the obsolete "!size" suffix (RFC 7489's dmarc-uri; RFC 9989 ignores it).
std::string_view without_size_suffix(std::string_view uri) {
    const auto bang = uri.rfind('!');
    if (bang == std::string_view::npos) {
        return uri;
    }
    auto size = uri.substr(bang + 1);
    if (!size.empty() && std::string_view("kmgtKMGT").find(size.back()) != std::string_view::npos) {
        size.remove_suffix(1);
    }
    if (size.empty() || !std::all_of(size.begin(), size.end(), is_digit)) {
        return uri;
    }
    return uri.substr(0, bang);
}

// An absolute URI as far as a receiver needs to know (RFC 3986 scheme ":"
// something, no white space or controls); mailto: needs an "@".
bool is_valid_uri(std::string_view uri) {
    const auto colon = uri.find(':');
    if (colon == 0 || colon == std::string_view::npos || colon + 1 == uri.size() || !is_alpha(uri.front())) {
        return false;
    }
    const auto scheme = uri.substr(0, colon);
    const bool scheme_ok = std::all_of(scheme.begin(), scheme.end(), [](char c) {
        return is_alpha(c) || is_digit(c) || c == '+' || c == '-' || c == '.';
    });
    const bool rest_ok = std::all_of(uri.begin() + static_cast<std::ptrdiff_t>(colon) + 1, uri.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u > 0x20 && u != 0x7f;
    });
    if (!scheme_ok || !rest_ok) {
        return false;
    }
    return !ascii_iequals(scheme, "mailto") || uri.find('@', colon) != std::string_view::npos;
}

std::vector<std::string> parse_uri_list(std::string_view value) {
    std::vector<std::string> uris;
    std::size_t start = 0;
    while (start <= value.size()) {
        const auto comma = std::min(value.find(',', start), value.size());
        const auto uri = without_size_suffix(trim(value.substr(start, comma - start)));
        if (is_valid_uri(uri)) {
            uris.emplace_back(uri);
        }
        start = comma + 1;
    }
    return uris;
}

// fo: 1*("0" / "1" / "d" / "s") separated by ":"; anything else is the default.
bool is_valid_fo(std::string_view value) {
    if (value.empty()) {
        return false;
    }
    std::size_t start = 0;
    while (start <= value.size()) {
        const auto colon = std::min(value.find(':', start), value.size());
        const auto option = trim(value.substr(start, colon - start));
        if (option.size() != 1 || std::string_view("01dsDS").find(option.front()) == std::string_view::npos) {
            return false;
        }
        start = colon + 1;
    }
    return true;
}

}  // namespace

std::string_view to_string(Policy policy) {
    switch (policy) {
        case Policy::none: return "none";
        case Policy::quarantine: return "quarantine";
        case Policy::reject: return "reject";
    }
    return "none";
}

std::string_view to_string(AlignmentMode mode) {
    return mode == AlignmentMode::strict ? "s" : "r";
}

std::string_view to_string(PsdFlag flag) {
    switch (flag) {
        case PsdFlag::yes: return "y";
        case PsdFlag::no: return "n";
        case PsdFlag::unknown: return "u";
    }
    return "u";
}

bool starts_with_version_tag(std::string_view text) {
    const auto semicolon = std::min(text.find(';'), text.size());
    const auto first = split_tag(trim(text.substr(0, semicolon)));
    // The tag name is matched as ABNF literals are (ignoring case); the value
    // "DMARC1" is case-sensitive (section 4.7).
    return first.well_formed && ascii_iequals(first.name, "v") && first.value == "DMARC1";
}

Expected<Record> parse_record(std::string_view text) {
    if (!starts_with_version_tag(text)) {
        return Error{"not a DMARC record: v=DMARC1 is not the first tag"};
    }
    Record record;
    std::optional<Policy> p;
    std::vector<std::string> problems;
    bool seen_p = false;
    auto tags = split_tags(text);
    // A tag given twice: the first one counts.
    std::vector<std::string> seen;
    for (std::size_t i = 1; i < tags.size(); ++i) {
        const auto& tag = tags[i];
        if (!tag.well_formed) {
            continue;  // a syntax error in one tag does not spoil the others
        }
        const auto name = ascii_lower(tag.name);
        if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
            continue;
        }
        seen.push_back(name);
        const auto value = tag.value;
        if (name == "p") {
            seen_p = true;
            p = parse_policy(value);
            if (!p) {
                problems.emplace_back("invalid p");
            }
        } else if (name == "sp") {
            record.sp = parse_policy(value);
            if (!record.sp) {
                problems.emplace_back("invalid sp");
            }
        } else if (name == "np") {
            record.np = parse_policy(value);
            if (!record.np) {
                problems.emplace_back("invalid np");
            }
        } else if (name == "psd") {
            if (ascii_iequals(value, "y")) {
                record.psd = PsdFlag::yes;
            } else if (ascii_iequals(value, "n")) {
                record.psd = PsdFlag::no;
            }
        } else if (name == "t") {
            record.testing = ascii_iequals(value, "y");
        } else if (name == "adkim") {
            record.adkim = parse_alignment(value).value_or(AlignmentMode::relaxed);
        } else if (name == "aspf") {
            record.aspf = parse_alignment(value).value_or(AlignmentMode::relaxed);
        } else if (name == "rua") {
            record.rua = parse_uri_list(value);
        } else if (name == "ruf") {
            record.ruf = parse_uri_list(value);
        } else if (name == "fo") {
            if (is_valid_fo(value)) {
                record.fo = ascii_lower(value);
                record.fo.erase(std::remove_if(record.fo.begin(), record.fo.end(), is_wsp), record.fo.end());
            }
        }
        // pct, rf and ri are historic (section 9.3); other tags are unknown
        // and MUST be ignored.
    }
    if (!seen_p) {
        problems.insert(problems.begin(), "no p");
    }
    if (problems.empty()) {
        record.p = *p;
        return record;
    }
    // Section 4.10.1: no valid p, or an invalid sp or np: with a valid rua
    // the record counts as "v=DMARC1; p=none", otherwise DMARC does not
    // apply where this record is the one that applies. Either way it stays a
    // record for the walk, with its psd (section 4.10 step 2).
    std::string why;
    for (const auto& problem : problems) {
        why += why.empty() ? problem : ", " + problem;
    }
    record.p = Policy::none;
    record.sp.reset();
    record.np.reset();
    if (record.rua.empty()) {
        record.no_policy = why + " and no valid rua";
    } else {
        record.fallback = why;
    }
    return record;
}

std::string txt_rdata_text(std::span<const std::uint8_t> rdata) {
    std::string text;
    std::size_t pos = 0;
    while (pos < rdata.size()) {
        const std::size_t length = rdata[pos++];
        const auto take = std::min(length, rdata.size() - pos);
        text.append(reinterpret_cast<const char*>(rdata.data() + pos), take);
        pos += take;
    }
    return text;
}

}  // namespace mtls::dmarc
