#include "mtls/logger.h"

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

Logger::Logger(LoggerSettings settings) : settings_(std::move(settings)) {
    if (settings_.syslog) {
        // openlog keeps the pointer: settings_.ident lives as long as we do.
        openlog(settings_.ident.c_str(), LOG_PID | LOG_NDELAY, settings_.facility != 0 ? settings_.facility : LOG_MAIL);
    }
}

Logger::~Logger() {
    if (settings_.syslog) {
        closelog();
    }
}

void Logger::log(Severity severity, std::string_view text) {
    if (settings_.syslog) {
        syslog(priority_of(severity), "%.*s", static_cast<int>(text.size()), text.data());
    }
    if (settings_.stderr_output) {
        const std::lock_guard lock(stderr_mutex_);
        std::fprintf(stderr, "%.*s\n", static_cast<int>(text.size()), text.data());
        std::fflush(stderr);
    }
}

}  // namespace mtls
