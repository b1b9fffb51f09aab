#include "dns/dns_answer.h"

namespace mtls {

std::string_view to_string(DnssecState state) {
    switch (state) {
        case DnssecState::secure: return "secure";
        case DnssecState::insecure: return "insecure";
        case DnssecState::bogus: return "bogus";
        case DnssecState::unknown: return "unknown";
    }
    return "unknown";
}

std::string_view to_string(AnswerStatus status) {
    switch (status) {
        case AnswerStatus::records: return "records";
        case AnswerStatus::nodata: return "nodata";
        case AnswerStatus::nxdomain: return "nxdomain";
        case AnswerStatus::servfail: return "servfail";
        case AnswerStatus::bogus: return "bogus";
        case AnswerStatus::timeout: return "timeout";
        case AnswerStatus::error: return "error";
    }
    return "error";
}

DnsAnswer classify_answer(RawAnswer raw) {
    constexpr int kNoError = 0;
    constexpr int kNameError = 3;
    DnsAnswer answer;
    answer.detail = std::move(raw.detail);
    answer.canonical_name = std::move(raw.canonical_name);
    if (raw.resolver_error != 0) {
        answer.status = AnswerStatus::error;
        return answer;
    }
    if (raw.bogus) {
        answer.status = AnswerStatus::bogus;
        answer.dnssec = DnssecState::bogus;
        return answer;
    }
    answer.dnssec = raw.secure ? DnssecState::secure : DnssecState::insecure;
    if (raw.nxdomain || raw.rcode == kNameError) {
        answer.status = AnswerStatus::nxdomain;
    } else if (raw.rcode != kNoError) {
        answer.status = AnswerStatus::servfail;
        answer.dnssec = DnssecState::unknown;
    } else if (raw.havedata && !raw.rdata.empty()) {
        answer.status = AnswerStatus::records;
        answer.rdata = std::move(raw.rdata);
    } else {
        answer.status = AnswerStatus::nodata;
    }
    return answer;
}

}  // namespace mtls
