// mtls-milter: authenticates the sending server of inbound mail by its TLS
// client certificate and the sender domain's Client MX records.
#include <libmilter/mfapi.h>
#include <sys/stat.h>

#include <fmt/format.h>
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>
#include <memory>

#include "daemon.h"
#include "libmilter_glue.h"
#include "mtls/message_log.h"
#include "mtls/settings.h"
#include "mtls/unbound_resolver.h"
#include "runtime.h"

namespace po = boost::program_options;
using namespace mtls;

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

struct CommandLine {
    Settings settings;
    bool help = false;
    bool version = false;
    bool check_config = false;
    po::options_description description{"Options"};
};

std::unique_ptr<CommandLine> parse_command_line(int argc, char** argv) {
    auto command = std::make_unique<CommandLine>();
    add_setting_options(command->description, OptionScope::engine);
    add_setting_options(command->description, OptionScope::daemon);
    po::options_description switches("Commands");
    switches.add_options()("help", "Print this help and exit.")("version", "Print the version and exit.")(
        "check-config", "Validate every option and the resolver setup, then exit.");
    po::options_description all;
    all.add(command->description).add(switches);

    po::variables_map variables;
    po::store(po::parse_command_line(argc, argv, all), variables);
    if (variables.count("config") != 0U) {
        load_config_file(variables["config"].as<std::string>(), command->description, variables);
    }
    po::notify(variables);
    command->help = variables.count("help") != 0U;
    command->version = variables.count("version") != 0U;
    command->check_config = variables.count("check-config") != 0U;
    if (command->help) {
        std::cout << "Usage: mtls-milter [--config FILE] [--name value]...\n\n" << all << '\n';
        return command;
    }
    if (!command->version) {
        command->settings = settings_from(variables, true);
    }
    return command;
}

std::shared_ptr<Logger> make_logger(const Settings& settings) {
    return std::make_shared<Logger>(
        LoggerSettings{"mtls-milter", settings.syslog, settings.syslog_facility, settings.log_stderr});
}

int serve(const Settings& settings) {
    auto logger = make_logger(settings);
    try {
        if (!settings.foreground) {
            milter::detach_from_terminal();
        }
        milter::drop_privileges(settings.user);
        // Threads do not survive fork(): the resolver starts after detaching.
        auto resolver = UnboundResolver::create(settings.unbound);
        milter::install_runtime(std::make_shared<const milter::Runtime>(settings, resolver, logger));

        if (smfi_setconn(const_cast<char*>(settings.socket.c_str())) != MI_SUCCESS ||  // NOLINT: C API
            !milter::register_filter()) {
            throw std::runtime_error(fmt::format("cannot set up the milter on {}", settings.socket));
        }
        umask(settings.umask);
        if (smfi_opensocket(true) != MI_SUCCESS) {
            throw std::runtime_error(fmt::format("cannot listen on {}", settings.socket));
        }
        const milter::PidFile pidfile(settings.pidfile);
        logger->log(
            Severity::info,
            fmt::format("mtls-milter {} listening on {}; authserv-id={} client-mx-type={} dns-timeout={}ms "
                        "on-fail={} on-temperror={} ignore-hosts=[{}]",
                        MTLS_VERSION, escape_for_log(settings.socket), settings.authserv_id, settings.client_mx_type,
                        settings.dns_timeout.count(), to_string(settings.policy.on_fail),
                        to_string(settings.policy.on_temperror), settings.ignore_hosts.to_string()));
        const int rc = smfi_main();
        logger->log(Severity::info, "mtls-milter stopped");
        milter::install_runtime(nullptr);
        return rc == MI_SUCCESS ? 0 : kExitFailure;
    } catch (const std::exception& error) {
        logger->log(Severity::error, fmt::format("fatal: {}", escape_for_log(error.what())));
        if (settings.foreground && !settings.log_stderr) {
            std::fprintf(stderr, "mtls-milter: %s\n", error.what());
        }
        return kExitFailure;
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::unique_ptr<CommandLine> command;
    try {
        command = parse_command_line(argc, argv);
    } catch (const std::exception& error) {
        std::fprintf(stderr, "mtls-milter: %s\n", error.what());
        return kExitUsage;
    }
    if (command->help) {
        return 0;
    }
    if (command->version) {
        std::printf("mtls-milter %s\n", MTLS_VERSION);
        return 0;
    }
    if (command->check_config) {
        try {
            // Loads the unbound config and trust anchor exactly as serving would.
            const auto resolver = UnboundResolver::create(command->settings.unbound);
        } catch (const std::exception& error) {
            std::fprintf(stderr, "mtls-milter: %s\n", error.what());
            return kExitFailure;
        }
        std::printf("mtls-milter: configuration OK\n");
        return 0;
    }
    return serve(command->settings);
}
