#include "options.h"

#include <boost/program_options.hpp>
#include <sstream>

namespace po = boost::program_options;

namespace mtls::milter {
namespace {

constexpr std::array<OptionSpec, 3> kCommands = {{
    {.name = "check-config",
     .type = ValueType::command,
     .help = "Validate every option and the resolver setup, then exit.",
     .doc = R"roff(Check every option, load the
.B unbound\-config
file and the trust anchor exactly as the daemon would, print
.RB \(dq "mtls-milter: configuration OK" \(dq
and exit 0.
It also checks that
.B user
exists and that the directories of a unix
.B socket
and of the
.B pidfile
exist; each problem is printed on its own line and the exit status is 1.
It does not create the socket or write the pid file.)roff",
     .in_config = false},
    {.name = "version",
     .type = ValueType::command,
     .help = "Print the version and exit.",
     .doc = "Print the version and exit.",
     .in_config = false},
    {.name = "help",
     .type = ValueType::command,
     .help = "Print this help and exit.",
     .doc = "Print every option with its default and exit.",
     .in_config = false},
}};

}  // namespace

std::span<const OptionSpec> command_options() {
    return kCommands;
}

po::options_description milter_setting_options() {
    po::options_description description("Options");
    add_options(description, std::span(&kConfigOption, 1));
    add_options(description, setting_specs_for(kMilter));
    return description;
}

CommandLine parse_command_line(const std::vector<std::string>& arguments) {
    const auto settings_options = milter_setting_options();
    po::options_description commands("Commands");
    add_options(commands, kCommands);
    po::options_description all;
    all.add(settings_options).add(commands);

    po::variables_map variables;
    po::store(po::command_line_parser(join_boolean_values(arguments, setting_specs())).options(all).run(), variables);
    if (variables.count("config") != 0U) {
        load_config_file(variables["config"].as<std::string>(), settings_options, variables);
    }
    po::notify(variables);
    CommandLine command;
    command.help = variables.count("help") != 0U;
    command.version = variables.count("version") != 0U;
    command.check_config = variables.count("check-config") != 0U;
    if (command.help) {
        std::ostringstream text;
        text << "Usage: mtls-milter [--config FILE] [--name value]...\n\n" << all << '\n';
        command.help_text = text.str();
    } else if (!command.version) {
        command.option_texts = option_texts(variables, kMilter);
        command.settings = settings_from_texts(kMilter, command.option_texts);
    }
    return command;
}

}  // namespace mtls::milter
