// mtls-milter's command line and config file, parsed the same way at start-up
// and on every SIGHUP, so that a reload sees exactly what a restart would.
// The options themselves are declared in core/options/setting_options.cc.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "options/settings.h"

namespace boost::program_options {
class options_description;
}

namespace mtls::milter {

struct CommandLine {
    Settings settings;
    // The text of each option of setting_specs_for(kMilter), in that order:
    // what a reload compares to find start-up options that changed.
    std::vector<std::string> option_texts;
    bool help = false;
    bool version = false;
    bool check_config = false;
    std::string help_text;
};

// --help, --version, --check-config.
std::span<const OptionSpec> command_options();

// The options a config file for mtls-milter may set.
boost::program_options::options_description milter_setting_options();

// Throws SettingsError or boost::program_options::error with a one-line reason.
CommandLine parse_command_line(const std::vector<std::string>& arguments);

}  // namespace mtls::milter
