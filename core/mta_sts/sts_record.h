// The MTA-STS TXT record at _mta-sts.<domain> (RFC 8461, section 3.1):
// "v=STSv1; id=<1-32 letters or digits>" plus extension fields. Its id says
// when the cached policy must be fetched again; the record never carries the
// policy itself.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/expected.h"

namespace mtls {

inline constexpr std::size_t kMaxStsIdLength = 32;

struct StsRecord {
    std::string id;
    // Fields other than v and id, in order; RFC 8461 says to ignore them.
    std::vector<std::pair<std::string, std::string>> extensions;
    friend bool operator==(const StsRecord&, const StsRecord&) = default;
};

// One record's text (its character-strings already joined). Follows the
// ABNF: "v=STSv1" first, then ';'-separated fields with optional spaces or
// tabs around the ';', a trailing ';' allowed. Exactly one id is required: a
// record with two ids is ambiguous, so it is invalid.
Expected<StsRecord> parse_sts_record(std::string_view text);

// TXT RDATA in wire form is a sequence of <length><bytes> character-strings;
// RFC 8461 joins them without spaces. Malformed when a length overruns.
Expected<std::string> join_txt_strings(std::span<const std::uint8_t> rdata);

// Whether a TXT record is an MTA-STS record candidate at all: it starts with
// "v=STSv1" followed by ';', a space, a tab or its end. Other TXT records at
// the same name are ignored.
bool is_sts_candidate(std::string_view text);

// The records of the _mta-sts TXT RRset, joined: std::nullopt when none is a
// candidate (no policy); an Error, treated as no policy too but worth a log
// line, when several are or the one candidate is invalid.
Expected<std::optional<StsRecord>> select_sts_record(std::span<const std::string> txt_records);

}  // namespace mtls
