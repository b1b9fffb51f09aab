// The DMARC stage's one log line per message (fields in
// core/dmarc/dmarc_record_fields.h), in the text and JSON formats of stage
// 1's line (core/mtls/verdict_record.h). Every value is a canonical domain,
// a fixed word or escaped text, so that a line stays one line.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "dmarc/auth_results.h"
#include "dmarc/evaluation.h"

namespace mtls::dmarc {

struct DmarcRecord {
    std::string queue_id;
    std::string client_address;
    std::string envelope_from;  // the MAIL FROM domain, canonical; "" when null or unusable
    bool null_sender = false;
    Evaluation evaluation;
    // What RFC 9990's auth_results lists: all DKIM results read (the line
    // keeps reported_dkim_results of them) and the SPF result, "" for none.
    std::vector<DkimAuthResult> dkim_results;
    std::string spf_result;
    std::string disposition;  // none, quarantine, reject, tempfail
    std::size_t queries = 0;
    std::chrono::system_clock::time_point time{};
};

std::string format_text(const DmarcRecord& record);
std::string format_json(const DmarcRecord& record);

}  // namespace mtls::dmarc
