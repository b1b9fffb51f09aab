// Logging an internal error from code that must not throw: the noexcept
// callback paths (milter/callback_guard.h, milter/libmilter_glue.cc) call it
// after an exception, when memory may be what ran out.
#pragma once

#include <string_view>

#include "base/logger.h"

namespace mtls::milter {

// Logs "queue_id=Q internal error in STAGE: WHAT" through logger (which may
// be null). When building that line throws (out of memory, say), a fixed
// line naming only the stage goes to syslog(3) directly instead, so the
// operator still learns that something failed and where.
void log_internal_error(Logger* logger, const char* stage, std::string_view queue_id, std::string_view what) noexcept;

}  // namespace mtls::milter
