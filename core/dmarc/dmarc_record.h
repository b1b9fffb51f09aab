// The DMARC stage's one log line per message (fields in
// core/dmarc/dmarc_record_fields.h), in the text and JSON formats of stage
// 1's line (core/mtls/verdict_record.h). Every value is a canonical domain,
// a fixed word or escaped text, so that a line stays one line.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "dmarc/evaluation.h"

namespace mtls::dmarc {

struct DmarcRecord {
    std::string queue_id;
    std::string client_address;
    Evaluation evaluation;
    std::string disposition;  // none, quarantine, reject, tempfail
    std::size_t queries = 0;
    std::chrono::system_clock::time_point time{};
};

std::string format_text(const DmarcRecord& record);
std::string format_json(const DmarcRecord& record);

}  // namespace mtls::dmarc
