#include "internal_error_log.h"

#include <syslog.h>

#include <fmt/format.h>

#include "mtls/verdict_record.h"

namespace mtls::milter {

void log_internal_error(Logger* logger, const char* stage, std::string_view queue_id, std::string_view what) noexcept {
    try {
        if (logger != nullptr) {
            logger->log(Severity::error,
                        fmt::format("queue_id={} internal error in {}: {}",
                                    escape_for_log(queue_id.empty() ? "-" : queue_id), stage, escape_for_log(what)));
        }
    } catch (...) {
        // A fixed format and no allocation of ours: syslog(3) cannot throw.
        // The facility is the Logger's, so the line lands where the others do.
        const int facility = logger != nullptr ? logger->settings().facility : LOG_MAIL;
        syslog(facility | LOG_ERR, "internal error in %s; its details could not be logged", stage);
    }
}

}  // namespace mtls::milter
