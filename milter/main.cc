// mtls-milter: authenticates the sending server of inbound mail by its TLS
// client certificate and the sender domain's Client MX records.
//
// Threads and signals: libmilter's smfi_main() blocks SIGHUP, SIGTERM and
// SIGINT in its thread and starts a thread that sigwait()s for all three and
// treats SIGHUP as "stop". So smfi_main() runs in a thread of its own, the
// main thread keeps SIGHUP unblocked with a handler (server::ControlSignals,
// core/server/control_signals.h), and SIGTERM/SIGINT stay blocked everywhere
// but in libmilter's signal thread, which stops the milter; the main thread
// then drains.
//
// With dmarc-socket set, the DMARC stage runs in a child process forked
// before any thread starts (milter/dmarc_stage.h says why and how).
#include <libmilter/mfapi.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <sys/wait.h>
#include <atomic>
#include <boost/program_options/errors.hpp>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <optional>
#include <string_view>
#include <thread>

#include "dmarc/dmarc_metrics.h"
#include "dmarc_stage.h"
#include "dns/unbound_resolver.h"
#include "fingerprint_listener.h"
#include "libmilter_glue.h"
#include "mtls/verdict_record.h"
#include "options.h"
#include "runtime.h"
#include "server/control_signals.h"
#include "server/daemon.h"
#include "server/metrics_http.h"
#include "settings_description.h"

using namespace mtls;
using namespace mtls::milter;
using namespace mtls::server;

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
// How long in-flight messages may take to finish after SIGTERM: longer than
// any DNS wait, shorter than systemd's default stop timeout (90 s).
constexpr auto kDrainLimit = std::chrono::seconds(60);

// For what outlives one Runtime (the policy server, the session store): the
// log settings of the Runtime installed when the line is written.
void log_to_current_runtime(Severity severity, std::string_view text) {
    if (const auto now = current_runtime()) {
        now->logger->log(severity, text);
    }
}

// Re-reads the command line and config file. Options that only take effect
// at start-up are reported, not silently ignored; a bad config keeps the old.
// describe: what this process logs of its new settings (describe_milter, or
// describe_dmarc_stage in the DMARC stage's process).
using Describe = std::string (*)(const Settings&);
void reload(const std::vector<std::string>& arguments, std::vector<std::string>& running_texts, Describe describe) {
    const auto current = current_runtime();
    notify_service_manager("RELOADING=1");
    try {
        auto texts = keep_start_options(
            setting_specs_for(kMilter), parse_command_line(arguments).option_texts, running_texts,
            [&current](std::string_view warning) { current->logger->log(Severity::warning, warning); });
        const auto next = settings_from_texts(kMilter, texts);
        auto runtime = make_runtime(next, current.get(), log_to_current_runtime);
        install_runtime(runtime);
        running_texts = std::move(texts);
        runtime->logger->log(Severity::info, "reloaded: " + describe(next));
    } catch (const std::exception& error) {
        current->logger->log(Severity::error, fmt::format("reload failed, keeping the running configuration: {}",
                                                          escape_for_log(error.what())));
    }
    notify_service_manager("READY=1");
}

void drain(Logger& logger) {
    const auto deadline = std::chrono::steady_clock::now() + kDrainLimit;
    std::size_t open = active_connections();
    if (open > 0) {
        logger.log(Severity::info, fmt::format("stopping: waiting for {} connection(s)", open));
    }
    while (open > 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        open = active_connections();
    }
    if (open > 0) {
        logger.log(Severity::warning, fmt::format("stopping with {} connection(s) still open", open));
    }
}

// Everything that serves besides libmilter: up from start-up to the very
// end, drain included. The policy socket especially: while it is down,
// Postfix applies smtpd_policy_service_default_action (451 unless the
// operator changed it) to every policy request.
// Started after the privileges are dropped and with the daemon's umask, like
// the milter socket.
struct Services {
    // dmarc_metrics: the DMARC stage's counters, rendered after ours; may be null.
    Services(const Settings& settings, const dmarc::DmarcMetrics* dmarc_metrics);

    std::optional<MetricsServer> metrics;
    std::optional<FingerprintListener> policy;
};

Services::Services(const Settings& settings, const dmarc::DmarcMetrics* dmarc_metrics) {
    if (settings.metrics) {
        const auto metrics_now = current_runtime()->metrics;  // the same object across reloads
        metrics.emplace(
            *settings.metrics,
            [metrics_now, dmarc_metrics] {
                auto text = metrics_now->render(active_connections());
                if (dmarc_metrics != nullptr) {
                    text += dmarc_metrics->render();
                }
                return text;
            },
            kProgramName, log_to_current_runtime);
    }
    if (settings.policy_channel.socket) {
        policy.emplace(*settings.policy_channel.socket, current_runtime()->sessions, log_to_current_runtime);
    }
}

void open_milter_socket(const ListenAddress& socket, mode_t mask, const std::function<bool()>& register_callbacks) {
    auto connection = to_milter_connection(socket);
    if (smfi_setconn(connection.data()) != MI_SUCCESS || !register_callbacks()) {
        throw std::runtime_error(fmt::format("cannot set up the milter on {}", connection));
    }
    umask(mask);
    if (smfi_opensocket(true) != MI_SUCCESS) {
        throw std::runtime_error(fmt::format("cannot listen on {}", connection));
    }
    disable_nagle_on_listening_sockets();
}

// Runs libmilter until it stops (SIGTERM, SIGINT), reloading on SIGHUP
// meanwhile; smfi_main()'s result. on_reload runs after each reload (the
// parent forwards SIGHUP to the DMARC stage's process there).
int run_milter(ControlSignals& signals, const std::vector<std::string>& arguments,
               std::vector<std::string> running_texts, StartupReport* report, Describe describe,
               const std::function<void()>& on_reload = {}) {
    std::atomic<bool> stopped{false};
    std::atomic<int> status{MI_SUCCESS};
    std::thread milter_thread([&] {
        status = smfi_main();
        stopped = true;
        signals.wake();
    });
    notify_service_manager("READY=1");
    if (report != nullptr) {
        report->succeeded();
    }
    while (!stopped && signals.wait()) {
        if (signals.take_reload_request() && !stopped) {
            reload(arguments, running_texts, describe);
            if (on_reload) {
                on_reload();
            }
        }
    }
    notify_service_manager("STOPPING=1");
    milter_thread.join();
    return status;
}

// The DMARC stage's process (milter/dmarc_stage.h): its own signals,
// resolver and libmilter on dmarc-socket; nothing else (no pid file, no
// metrics server, no policy socket: the parent serves those).
int serve_dmarc_stage(const CommandLine& command, const std::vector<std::string>& arguments,
                      dmarc::DmarcMetrics& metrics, UniqueFd ready_fd, pid_t parent) {
    Settings settings = command.settings;
    settings.policy_channel.socket.reset();  // the parent's alone
    auto logger = std::make_shared<Logger>(logger_settings_for(settings));
    try {
        unsetenv("NOTIFY_SOCKET");  // systemd hears from the main process only
        ControlSignals signals(StopSignals::blocked);
        drop_privileges(settings.user);
        DmarcChild::die_with_parent(parent);
        auto runtime = make_runtime(settings, nullptr, log_to_current_runtime);
        logger = runtime->logger;
        install_runtime(std::move(runtime));
        open_milter_socket(*settings.dmarc.socket, settings.umask,
                           [&metrics] { return register_dmarc_filter(&metrics); });
        DmarcChild::report_ready(ready_fd);
        logger->log(Severity::info, "DMARC stage started: " + describe_dmarc_stage(settings));
        const int status = run_milter(signals, arguments, command.option_texts, nullptr, describe_dmarc_stage);
        drain(*logger);
        logger->log(Severity::info, "DMARC stage stopped");
        return status == MI_SUCCESS ? 0 : kExitFailure;
    } catch (const std::exception& error) {
        logger->log(Severity::error, fmt::format("fatal: DMARC stage: {}", escape_for_log(error.what())));
        return kExitFailure;
    }
}

// Why the DMARC stage's process ended, for the log.
std::string describe_wait_status(int status) {
    if (WIFEXITED(status)) {
        return fmt::format("exit status {}", WEXITSTATUS(status));
    }
    if (WIFSIGNALED(status)) {
        return fmt::format("signal {}", WTERMSIG(status));
    }
    return "unknown status";
}

int serve(const CommandLine& command, const std::vector<std::string>& arguments) {
    const Settings& settings = command.settings;
    auto logger = std::make_shared<Logger>(logger_settings_for(settings));
    std::unique_ptr<StartupReport> report;
    try {
        if (!settings.foreground) {
            report = detach_from_terminal(kProgramName);
        }
        // Before the fork, so that both processes map the same counters.
        std::unique_ptr<dmarc::DmarcMetrics> dmarc_metrics;
        std::unique_ptr<DmarcChild> dmarc_child;
        if (settings.dmarc.socket) {
            dmarc_metrics = std::make_unique<dmarc::DmarcMetrics>();
            const pid_t parent = getpid();
            UniqueFd ready_fd;
            dmarc_child = DmarcChild::fork(ready_fd);
            if (!dmarc_child) {
                // The child. Only the parent reports to the terminal; closing
                // our copy of the report's pipe says nothing.
                report.reset();
                return serve_dmarc_stage(command, arguments, *dmarc_metrics, std::move(ready_fd), parent);
            }
        }
        ControlSignals signals(StopSignals::blocked);  // before any thread exists, so all inherit it
        drop_privileges(settings.user);
        // Threads do not survive fork(): the resolver starts after detaching.
        // make_runtime also creates the policy channel's session store.
        auto runtime = make_runtime(settings, nullptr, log_to_current_runtime);
        logger = runtime->logger;  // one Logger for the same settings, not two
        install_runtime(std::move(runtime));
        if (dmarc_child) {
            // Before our own socket opens: once the MTA can reach stage 1,
            // stage 2 is listening too.
            dmarc_child->wait_ready();
            // Fail closed: without its DMARC stage the daemon stops, so that
            // systemd restarts both.
            dmarc_child->watch([] { smfi_stop(); });
        }
        open_milter_socket(settings.socket, settings.umask, [] { return register_filter(); });
        const Services services(settings, dmarc_metrics.get());
        const PidFile pidfile(settings.pidfile);
        logger->log(Severity::info,
                    fmt::format("{} {} started: {}", kProgramName, MTLS_VERSION, describe_milter(settings)));

        int status =
            run_milter(signals, arguments, command.option_texts, report.get(), describe_milter, [&dmarc_child] {
                if (dmarc_child) {
                    dmarc_child->forward(SIGHUP);
                }
            });
        if (dmarc_child && dmarc_child->ended_unexpectedly()) {
            logger->log(Severity::error,
                        fmt::format("the DMARC stage's process {} ended ({}); stopping", dmarc_child->pid(),
                                    describe_wait_status(dmarc_child->wait_status())));
            status = MI_FAILURE;
        } else if (dmarc_child && dmarc_child->ended_early()) {
            logger->log(Severity::info, "the DMARC stage's process stopped; stopping");
        }
        drain(*logger);
        if (dmarc_child) {
            dmarc_child->stop();
        }
        logger->log(Severity::info, fmt::format("{} stopped", kProgramName));
        return status == MI_SUCCESS ? 0 : kExitFailure;
    } catch (const std::exception& error) {
        logger->log(Severity::error, fmt::format("fatal: {}", escape_for_log(error.what())));
        report_failed_start(report.get(), settings.log_stderr, kProgramName, error.what());
        return kExitFailure;
    }
}

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> arguments(argv + 1, argv + argc);
    CommandLine command;
    try {
        command = parse_command_line(arguments);
    } catch (const boost::program_options::error& error) {
        std::fprintf(stderr, "mtls-milter: %s\n", describe_options_error(error).c_str());
        return kExitUsage;
    } catch (const std::exception& error) {
        std::fprintf(stderr, "mtls-milter: %s\n", error.what());
        return kExitUsage;
    }
    if (command.help) {
        std::cout << command.help_text;
        return 0;
    }
    if (command.version) {
        std::printf("mtls-milter %s\n", MTLS_VERSION);
        return 0;
    }
    if (command.check_config) {
        const Settings& settings = command.settings;
        auto problems = startup_problems(settings.user, to_milter_connection(settings.socket), settings.pidfile);
        if (settings.policy_channel.socket) {
            for (auto& problem : policy_socket_problems(*settings.policy_channel.socket)) {
                problems.push_back(std::move(problem));
            }
        }
        try {
            // Loads the unbound config and trust anchor exactly as serving would.
            const auto resolver = UnboundResolver::create(settings.unbound);
        } catch (const std::exception& error) {
            problems.emplace_back(error.what());
        }
        return report_configuration_problems(kProgramName, problems);
    }
    return serve(command, arguments);
}
