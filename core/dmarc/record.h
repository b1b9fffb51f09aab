// A DMARC policy record (RFC 9989, sections 4.7 and 4.8): the TXT text at
// _dmarc.<domain>, parsed into what policy discovery and evaluation need.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.h"

namespace mtls::dmarc {

// The values of p=, sp=, np= and of the A-R property policy.dmarc.
enum class Policy { none, quarantine, reject };
enum class AlignmentMode { relaxed, strict };  // adkim= and aspf=
enum class PsdFlag { unknown, yes, no };       // psd=u (default), psd=y, psd=n

std::string_view to_string(Policy policy);
std::string_view to_string(AlignmentMode mode);  // "r" or "s", as in the record
std::string_view to_string(PsdFlag flag);        // "u", "y" or "n"

struct Record {
    Policy p = Policy::none;
    std::optional<Policy> sp;  // absent: p applies to subdomains
    std::optional<Policy> np;  // absent: sp (else p) applies to non-existent subdomains
    PsdFlag psd = PsdFlag::unknown;
    bool testing = false;  // t=y: apply one level lower (section 4.7, replaces pct)
    AlignmentMode adkim = AlignmentMode::relaxed;
    AlignmentMode aspf = AlignmentMode::relaxed;
    std::vector<std::string> rua;  // the syntactically valid URIs, "!size" suffixes dropped
    std::vector<std::string> ruf;
    std::string fo = "0";
    // Set when p, sp or np was missing or invalid and a valid rua made the
    // record count as "v=DMARC1; p=none" (section 4.10.1); says why.
    std::string fallback;
    // Set when p, sp or np was missing or invalid and there was no valid rua
    // either; says why. Such a record is still the one record at its name on
    // the DNS Tree Walk (section 4.10 step 2 filters on v= and on the count
    // only): its psd= stops a walk and it can be the organizational domain's
    // record. But where it is the record that applies, "the Mail Receiver
    // applies no DMARC processing to this message" (section 4.10.1).
    std::string no_policy;
};

// Whether a TXT text starts with the tag "v=DMARC1" (DMARC1 case-sensitive):
// the filter of the DNS Tree Walk's first step (section 4.10).
bool starts_with_version_tag(std::string_view text);

// Parses one record. Unknown tags are ignored, syntax errors in optional
// tags fall back to the defaults, pct/rf/ri are historic and ignored. An
// error means "no DMARC record": v=DMARC1 is not the first tag. No valid p
// (or an invalid sp/np) gives p=none without sp/np, and either fallback
// (a valid rua URI) or no_policy (none) says why.
Expected<Record> parse_record(std::string_view text);

// The text of one TXT RDATA: its character-strings concatenated without
// separators (RFC 7208 section 3.3 style, as section 4.7 expects). A
// truncated length byte ends the text where the data ends.
std::string txt_rdata_text(std::span<const std::uint8_t> rdata);

}  // namespace mtls::dmarc
