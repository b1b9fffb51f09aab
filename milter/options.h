// mtls-milter's command line and config file, parsed the same way at start-up
// and on every SIGHUP, so that a reload sees exactly what a restart would.
#pragma once

#include <string>
#include <vector>

#include "options/settings.h"

namespace mtls::milter {

struct CommandLine {
    Settings settings;
    bool help = false;
    bool version = false;
    bool check_config = false;
    std::string help_text;
};

// Throws SettingsError or boost::program_options::error with a one-line reason.
CommandLine parse_command_line(const std::vector<std::string>& arguments);

}  // namespace mtls::milter
