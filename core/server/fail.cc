#include "server/fail.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace mtls::server {

void fail(std::string_view what) {
    const int error = errno;  // fmt::format may allocate, and malloc may set errno
    throw std::runtime_error(fmt::format("{}: {}", what, std::strerror(error)));
}

}  // namespace mtls::server
