#include "discovery/probe_result.h"

namespace mtls::discovery {

std::string_view to_string(ProbeOutcome outcome) {
    switch (outcome) {
        case ProbeOutcome::matched: return "matched";
        case ProbeOutcome::other_certificate: return "other-certificate";
        case ProbeOutcome::no_listener: return "no-listener";
        case ProbeOutcome::no_starttls: return "no-starttls";
        case ProbeOutcome::smtp_failed: return "smtp-failed";
        case ProbeOutcome::tls_failed: return "tls-failed";
        case ProbeOutcome::timed_out: return "timed-out";
        case ProbeOutcome::not_allowed: return "not-allowed";
        case ProbeOutcome::rate_limited: return "rate-limited";
        case ProbeOutcome::overloaded: return "overloaded";
        case ProbeOutcome::shut_down: return "shut-down";
    }
    return "unknown";
}

}  // namespace mtls::discovery
