// Where log lines go: syslog and/or standard error. Thread-safe; libmilter
// calls us from many worker threads.
#pragma once

#include <string_view>

namespace mtls {

enum class Severity { error, warning, info, debug };

struct LoggerSettings {
    bool syslog = true;
    int facility = 0;  // LOG_MAIL when 0
    bool stderr_output = false;
    // The program's name in every syslog line ("mtls-milter"). openlog(3)
    // keeps the pointer for the life of the process: a string literal. Null
    // lets syslog use the executable's name.
    const char* ident = nullptr;

    bool operator==(const LoggerSettings&) const = default;
};

class Logger {
public:
    explicit Logger(LoggerSettings settings);
    Logger(const Logger&) = delete;
    Logger& operator=(const Logger&) = delete;

    // text must already be safe for a log (see escape_for_log). Never
    // throws: callers include noexcept error paths (milter/internal_error_log.cc).
    void log(Severity severity, std::string_view text) noexcept;

    [[nodiscard]] const LoggerSettings& settings() const { return settings_; }

private:
    LoggerSettings settings_;
};

}  // namespace mtls
