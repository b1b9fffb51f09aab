// How the daemon plumbing reports a failed system call: a
// std::runtime_error "what: strerror(errno)", which start-up shows the
// operator and a serving thread logs.
#pragma once

#include <string_view>

namespace mtls::server {

// Reads errno: call it right after the failed call, before anything else
// can change errno.
[[noreturn]] void fail(std::string_view what);

}  // namespace mtls::server
