// mtls-tlspolicy: the TLS policy server for Postfix's smtp_tls_policy_maps
// (issue 15): per next-hop domain it answers DANE, MTA-STS (with
// "dnssec: yes") or Client MX opt-in, from DNS gathered by its own
// validating resolver and MTA-STS policies fetched over HTTPS and cached.
//
// Threads: the main thread waits for signals (server::ControlSignals):
// SIGHUP reloads, SIGTERM/SIGINT drain and stop. The socketmap service has
// its server thread and workers, the refresher one thread, libunbound its
// event thread; all are started after detaching and dropping privileges.
#include <sys/stat.h>

#include <fmt/format.h>

#include <boost/program_options/errors.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>

#include "dns/unbound_resolver.h"
#include "mtls/verdict_record.h"
#include "policy_engine.h"
#include "policy_refresher.h"
#include "server/control_signals.h"
#include "server/daemon.h"
#include "server/listener.h"
#include "server/metrics_http.h"
#include "socketmap_service.h"
#include "tlspolicy_options.h"

using namespace mtls;
using namespace mtls::tlspolicy;
using namespace mtls::server;

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

LoggerSettings logger_settings_for(const Settings& shared) {
    return LoggerSettings{shared.syslog, shared.syslog_facility, shared.log_stderr, kProgramName};
}

std::string describe(const TlsPolicySettings& settings, const StsPolicyCache& cache) {
    const auto& engine = settings.engine;
    return fmt::format(
        "socket={} cache={} dns-timeout={}ms https-timeout={}ms dane={} client-mx-optin={} client-mx-type={} "
        "workers={} metrics={}",
        escape_for_log(to_string(settings.socket)), escape_for_log(cache.describe()), engine.dns.timeout.count(),
        engine.fetch.timeout.count(), engine.decision.dane ? "yes" : "no",
        engine.decision.client_mx_optin ? "yes" : "no", engine.dns.client_mx_type, settings.workers,
        settings.metrics ? to_string(*settings.metrics) : "off");
}

std::string answer_line(std::string_view key, const Decision& decision, std::chrono::microseconds elapsed, bool json) {
    const auto reply = reply_payload(decision.reply);
    if (json) {
        const nlohmann::json line = {{"key", escape_for_log(key)},
                                     {"reply", reply},
                                     {"rule", to_string(decision.basis)},
                                     {"ms", static_cast<double>(elapsed.count()) / 1000.0}};
        return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    return fmt::format("answer key={} reply=\"{}\" rule={} ms={:.1f}", escape_for_log(key), escape_for_log(reply),
                       to_string(decision.basis), static_cast<double>(elapsed.count()) / 1000.0);
}

// What a reload may change: the engine (resolver, timeouts, rules) and the
// log settings; the rest is read at start-up only.
struct Runtime {
    std::shared_ptr<Logger> logger;
    bool log_json = false;
    std::shared_ptr<PolicyEngine> engine;
};

class Daemon {
public:
    Daemon(const TlsPolicySettings& settings, std::shared_ptr<Logger> logger)
        : settings_(settings),
          cache_(open_store(settings), settings.cache_size,
                 [this](Severity severity, std::string_view text) { log(severity, text); }) {
        runtime_.logger = std::move(logger);
        runtime_.log_json = settings.shared.log_json;
        runtime_.engine = make_engine(settings);
    }

    void log(Severity severity, std::string_view text) {
        if (const auto logger = current().logger) {
            logger->log(severity, text);
        }
    }

    Runtime current() {
        const std::scoped_lock lock(mutex_);
        return runtime_;
    }

    Decision answer(std::string_view key) {
        const auto now = current();
        const auto started = std::chrono::steady_clock::now();
        auto decision = now.engine->answer(key);
        note_answer(now, key, decision, started);
        return decision;
    }

    // On the socket thread: only what needs no waiting (policy_engine.h).
    std::optional<Decision> answer_from_memory(std::string_view key) {
        const auto now = current();
        const auto started = std::chrono::steady_clock::now();
        auto decision = now.engine->answer_from_memory(key);
        if (decision) {
            note_answer(now, key, *decision, started);
        }
        return decision;
    }

    void note_answer(const Runtime& now, std::string_view key, const Decision& decision,
                     std::chrono::steady_clock::time_point started) {
        const auto elapsed =
            std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started);
        metrics_.count_answer(decision, elapsed);
        now.logger->log(decision.reply.status == SocketmapStatus::temp ? Severity::warning : Severity::info,
                        answer_line(key, decision, elapsed, now.log_json));
    }

    void start_services() {
        refresher_.emplace([this](const std::string& domain) { current().engine->refresh(domain); },
                           [this] { return cache_.due_for_refresh(unix_now(), PolicyRefresher::kMaxQueued); });
        if (settings_.metrics) {
            metrics_server_.emplace(
                *settings_.metrics, [this] { return metrics_.render(); }, kProgramName,
                [this](Severity severity, std::string_view text) { log(severity, text); });
        }
        SocketmapServiceLimits limits;
        limits.workers = settings_.workers;
        service_.emplace(
            settings_.socket, [this](std::string_view key) { return answer(key); },
            [this](Severity severity, std::string_view text) { log(severity, text); }, limits,
            [this](std::string_view key) { return answer_from_memory(key); });
    }

    // Stops taking queries, finishes those in progress.
    void stop() {
        service_.reset();
        refresher_.reset();
        metrics_server_.reset();
    }

    void reload(const TlsPolicySettings& next) {
        auto engine = make_engine(next);  // throws on a bad resolver configuration: nothing changes
        auto logger = current().logger;
        if (logger_settings_for(next.shared) != logger->settings()) {
            logger = std::make_shared<Logger>(logger_settings_for(next.shared));
        }
        const std::scoped_lock lock(mutex_);
        runtime_ = Runtime{std::move(logger), next.shared.log_json, std::move(engine)};
    }

    StsPolicyCache& cache() { return cache_; }

private:
    static std::unique_ptr<PolicyStore> open_store(const TlsPolicySettings& settings) {
        return open_policy_store(settings.cache, settings.cache_size);
    }

    std::shared_ptr<PolicyEngine> make_engine(const TlsPolicySettings& settings) {
        return std::make_shared<PolicyEngine>(
            UnboundResolver::create(settings.shared.unbound), settings.engine, cache_, metrics_,
            [this](Severity severity, std::string_view text) { log(severity, text); },
            [this](const std::string& domain) {
                if (refresher_) {
                    refresher_->request(domain);
                }
            });
    }

    TlsPolicySettings settings_;
    TlsPolicyMetrics metrics_;
    StsPolicyCache cache_;
    std::mutex mutex_;
    Runtime runtime_;
    std::optional<PolicyRefresher> refresher_;
    std::optional<MetricsServer> metrics_server_;
    std::optional<SocketmapService> service_;
};

// The option table of this program, in the order of CommandLine::option_texts
// (tlspolicy_options.h).
std::vector<OptionSpec> option_specs() {
    std::vector<OptionSpec> specs;
    for (const auto& option : tlspolicy_options()) {
        specs.push_back(option.spec);
    }
    for (const auto& spec : setting_specs_for(kTlsPolicy)) {
        specs.push_back(spec);
    }
    return specs;
}

void reload(const std::vector<std::string>& arguments, std::vector<std::string>& running_texts, Daemon& daemon) {
    notify_service_manager("RELOADING=1");
    try {
        auto command = parse_command_line(arguments);
        // Only the engine and the logging change; the start-up options are
        // reported here and otherwise left as they run.
        auto texts =
            keep_start_options(option_specs(), command.option_texts, running_texts,
                               [&daemon](std::string_view warning) { daemon.log(Severity::warning, warning); });
        daemon.reload(command.settings);
        running_texts = std::move(texts);
        daemon.log(Severity::info, "reloaded: " + describe(command.settings, daemon.cache()));
    } catch (const std::exception& error) {
        daemon.log(Severity::error,
                   fmt::format("reload failed, keeping the running configuration: {}", escape_for_log(error.what())));
    }
    notify_service_manager("READY=1");
}

int serve(const CommandLine& command, const std::vector<std::string>& arguments) {
    const auto& settings = command.settings;
    auto logger = std::make_shared<Logger>(logger_settings_for(settings.shared));
    std::unique_ptr<StartupReport> report;
    try {
        if (!settings.shared.foreground) {
            report = detach_from_terminal(kProgramName);
        }
        ControlSignals signals(StopSignals::handled);  // before any thread exists, so all inherit its mask
        drop_privileges(settings.shared.user);
        umask(settings.shared.umask);
        init_policy_fetch();
        Daemon daemon(settings, logger);
        daemon.start_services();
        const PidFile pidfile(settings.shared.pidfile);
        daemon.log(Severity::info,
                   fmt::format("{} {} started: {}", kProgramName, MTLS_VERSION, describe(settings, daemon.cache())));
        notify_service_manager("READY=1");
        if (report) {
            report->succeeded();
        }
        auto running_texts = command.option_texts;
        while (!signals.stop_requested() && signals.wait()) {
            if (signals.take_reload_request() && !signals.stop_requested()) {
                reload(arguments, running_texts, daemon);
            }
        }
        notify_service_manager("STOPPING=1");
        daemon.log(Severity::info, "stopping: finishing the queries in progress");
        daemon.stop();
        daemon.log(Severity::info, fmt::format("{} stopped", kProgramName));
        return 0;
    } catch (const std::exception& error) {
        logger->log(Severity::error, fmt::format("fatal: {}", escape_for_log(error.what())));
        report_failed_start(report.get(), settings.shared.log_stderr, kProgramName, error.what());
        return kExitFailure;
    }
}

// --query: the same engine as the daemon, its answer on standard output.
int query(const CommandLine& command) {
    const auto& settings = command.settings;
    init_policy_fetch();
    std::vector<std::string> notes;
    std::unique_ptr<PolicyStore> store;
    try {
        store = open_policy_store(settings.cache, settings.cache_size, StoreAccess::read_only);
    } catch (const std::exception& error) {
        notes.push_back(fmt::format("policy cache unavailable ({}); fetching afresh", escape_for_log(error.what())));
    }
    StsPolicyCache cache(std::move(store), settings.cache_size,
                         [&](Severity, std::string_view text) { notes.emplace_back(text); });
    TlsPolicyMetrics metrics;
    PolicyEngine engine(UnboundResolver::create(settings.shared.unbound), settings.engine, cache, metrics,
                        [&](Severity, std::string_view text) { notes.emplace_back(text); });
    const auto decision = engine.answer(command.query);
    std::printf("%s\n", reply_payload(decision.reply).c_str());
    for (const auto& line : decision.explanation) {
        std::printf("%s\n", escape_for_log(line).c_str());
    }
    for (const auto& note : notes) {
        std::printf("note: %s\n", note.c_str());
    }
    return 0;
}

int check_config(const CommandLine& command) {
    const auto& settings = command.settings;
    auto problems = startup_problems(settings.shared.user, "", settings.shared.pidfile);
    for (auto& problem : unix_socket_problems(settings.socket, "socket " + to_string(settings.socket))) {
        problems.push_back(std::move(problem));
    }
    try {
        const auto resolver = UnboundResolver::create(settings.shared.unbound);
    } catch (const std::exception& error) {
        problems.emplace_back(error.what());
    }
    // Read-only: run by root, a created file would lock the daemon's user out.
    const auto& sqlite_path = settings.cache.sqlite_path;
    if (!sqlite_path.empty() && !std::filesystem::exists(sqlite_path)) {
        const auto directory = std::filesystem::path(sqlite_path).parent_path();
        if (!directory.empty() && !std::filesystem::is_directory(directory)) {
            problems.push_back(fmt::format("cache {}: the directory does not exist", sqlite_path));
        }
    } else {
        try {
            const auto store = open_policy_store(settings.cache, settings.cache_size, StoreAccess::read_only);
        } catch (const std::exception& error) {
            problems.emplace_back(error.what());
        }
    }
    return report_configuration_problems(kProgramName, problems);
}

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> arguments(argv + 1, argv + argc);
    CommandLine command;
    try {
        command = parse_command_line(arguments);
    } catch (const boost::program_options::error& error) {
        std::fprintf(stderr, "%s: %s\n", kProgramName, describe_options_error(error).c_str());
        return kExitUsage;
    } catch (const std::exception& error) {
        std::fprintf(stderr, "%s: %s\n", kProgramName, error.what());
        return kExitUsage;
    }
    if (command.help) {
        std::cout << command.help_text;
        return 0;
    }
    if (command.version) {
        std::printf("%s %s\n", kProgramName, MTLS_VERSION);
        return 0;
    }
    try {
        if (command.check_config) {
            return check_config(command);
        }
        if (!command.query.empty()) {
            return query(command);
        }
    } catch (const std::exception& error) {
        std::fprintf(stderr, "%s: %s\n", kProgramName, error.what());
        return kExitFailure;
    }
    return serve(command, arguments);
}
