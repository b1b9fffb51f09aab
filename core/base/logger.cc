#include "base/logger.h"

#include <syslog.h>

#include <cstdio>

namespace mtls {
namespace {

int priority_of(Severity severity) {
    switch (severity) {
        case Severity::error: return LOG_ERR;
        case Severity::warning: return LOG_WARNING;
        case Severity::info: return LOG_INFO;
        case Severity::debug: return LOG_DEBUG;
    }
    return LOG_INFO;
}

}  // namespace

// The syslog connection is process-wide and outlives any one Logger: a
// reload may run an old and a new Logger side by side, so neither closes it,
// and each names its facility in every message.
Logger::Logger(LoggerSettings settings) : settings_(settings) {
    if (settings_.facility == 0) {
        settings_.facility = LOG_MAIL;
    }
    if (settings_.syslog) {
        openlog(settings_.ident, LOG_PID | LOG_NDELAY, settings_.facility);
    }
}

void Logger::log(Severity severity, std::string_view text) noexcept {
    if (settings_.syslog) {
        syslog(priority_of(severity) | settings_.facility, "%.*s", static_cast<int>(text.size()), text.data());
    }
    if (settings_.stderr_output) {
        // stdio's own lock on the stream (POSIX flockfile), not a mutex of
        // ours: it cannot throw, and it also keeps the lines of an old and a
        // new Logger apart while a reload runs both.
        flockfile(stderr);
        std::fprintf(stderr, "%.*s\n", static_cast<int>(text.size()), text.data());
        std::fflush(stderr);
        funlockfile(stderr);
    }
}

}  // namespace mtls
