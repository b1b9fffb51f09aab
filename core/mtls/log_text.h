// One value of the text format of the per-message log lines (stage 1's,
// core/mtls/verdict_record.cc, and the DMARC stage's,
// core/dmarc/dmarc_record.cc): escaped and clipped, bare when it is a
// simple word, else in double quotes with inner quotes backslashed.
#pragma once

#include <string>
#include <string_view>

namespace mtls {

std::string log_text_value(std::string_view value);

}  // namespace mtls
