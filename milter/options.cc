#include "options.h"

#include <boost/program_options.hpp>
#include <sstream>

namespace po = boost::program_options;

namespace mtls::milter {

CommandLine parse_command_line(const std::vector<std::string>& arguments) {
    po::options_description settings_options("Options");
    add_setting_options(settings_options, OptionScope::engine);
    add_setting_options(settings_options, OptionScope::daemon);
    po::options_description commands("Commands");
    commands.add_options()("help", "Print this help and exit.")("version", "Print the version and exit.")(
        "check-config", "Validate every option and the resolver setup, then exit.");
    po::options_description all;
    all.add(settings_options).add(commands);

    CommandLine command;
    po::variables_map variables;
    po::store(po::command_line_parser(arguments).options(all).run(), variables);
    if (variables.count("config") != 0U) {
        load_config_file(variables["config"].as<std::string>(), settings_options, variables);
    }
    po::notify(variables);
    command.help = variables.count("help") != 0U;
    command.version = variables.count("version") != 0U;
    command.check_config = variables.count("check-config") != 0U;
    if (command.help) {
        std::ostringstream text;
        text << "Usage: mtls-milter [--config FILE] [--name value]...\n\n" << all << '\n';
        command.help_text = text.str();
    } else if (!command.version) {
        command.settings = settings_from(variables, true);
    }
    return command;
}

}  // namespace mtls::milter
