// The documentation that comes from the option tables: the OPTIONS sections
// of the man pages, the README's option tables and the option lines of the
// sample config. Each sits between marker lines in the committed file;
// gen-option-docs (scripts/gen-docs) rewrites them and
// tests/unit/test_documentation.cc fails when a committed file differs.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "base/expected.h"
#include "options/option.h"

namespace mtls::docs {

// The files that hold generated sections, relative to the source tree.
std::span<const std::string_view> generated_files();

// `text` (the content of `file`) with each of its generated sections
// replaced by the generator's output; an error names a missing marker, or in
// the sample config an option line that is missing or repeated.
Expected<std::string> regenerate(std::string_view file, std::string_view text);

// "" when equal, else the first line that differs, in both versions.
std::string first_difference(std::string_view committed, std::string_view generated);

// Whether a config page marks each option as one mtls-check reads too
// ("engine") or the daemon's alone: mtls-milter.conf(5) does, as both
// programs read that file; mtls-tlspolicy.conf(5) has one reader.
enum class ConfigKind { engine_or_daemon, unmarked };

// The pieces, for tests.
std::string roff_config_entries(std::span<const OptionSpec> options,
                                ConfigKind kind = ConfigKind::engine_or_daemon);  // the .conf(5) pages
std::string roff_flag_entries(std::span<const OptionSpec> options);               // --name entries of the other pages
std::string markdown_setting_table(std::span<const OptionSpec> options);
std::string markdown_flag_table(std::span<const OptionSpec> options);
std::string sample_config_line(const OptionSpec& option);  // "#name = default"

}  // namespace mtls::docs
