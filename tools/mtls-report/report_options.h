// mtls-report's options, declared in the typed form of core/options/option.h
// so that its parser, --help, man/mtls-report.1 and the README's table come
// from one place (tools/gen-option-docs).
#pragma once

#include <span>

#include "options/option.h"

namespace mtls::report {

// Every option, the positional "file" last.
std::span<const OptionSpec> report_options();

}  // namespace mtls::report
