// mtls-check's own options (the engine's come from core/options/settings.h),
// declared in the typed form of core/options/option.h so that its --help and
// man/mtls-check.1 come from one place.
#pragma once

#include <span>

#include "options/option.h"

namespace mtls::check {

// The options that describe the message and certificate to check.
std::span<const OptionSpec> check_options();
// --help.
extern const OptionSpec kCheckHelpOption;

}  // namespace mtls::check
