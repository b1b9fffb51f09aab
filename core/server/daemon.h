// Process housekeeping for a mail-system daemon: detaching, dropping root,
// the pid file, systemd notification, socket options libmilter lacks.
// Each throws std::runtime_error with the system's reason.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/unique_fd.h"

namespace mtls::server {

// The child's word to the parent after detach_from_terminal(): the parent
// waits for it, so that an init script or operator sees a failed start as a
// failure with its reason, not as exit status 0 followed by silence.
class StartupReport {
public:
    explicit StartupReport(UniqueFd fd) : fd_(std::move(fd)) {}
    ~StartupReport();  // without succeeded(), the parent reports a failed start
    StartupReport(const StartupReport&) = delete;
    StartupReport& operator=(const StartupReport&) = delete;

    void succeeded();
    void failed(std::string_view why);

private:
    void finish(std::string_view message);
    UniqueFd fd_;
};

// Forks; the parent exits once the child has reported (0 on success, 1 with
// the child's reason on standard error, after "program: "). The child gets a new session,
// / as its directory and /dev/null as standard input and output.
std::unique_ptr<StartupReport> detach_from_terminal(std::string_view program);

void drop_privileges(const std::string& user);

// What would stop the daemon from starting that --check-config can see
// without starting it: unknown user, missing socket or pid file directory.
std::vector<std::string> startup_problems(const std::string& user, const std::string& socket,
                                          const std::string& pidfile);

// --check-config's verdict: each problem on standard error after
// "program: ", or "program: configuration OK" on standard output. Returns
// the exit status, 0 or 1.
int report_configuration_problems(std::string_view program, const std::vector<std::string>& problems);

// Tells the operator why a start failed (the caller has logged it): through
// the report to the waiting parent when detached, else on standard error
// unless the log already goes there.
void report_failed_start(StartupReport* report, bool log_to_stderr, std::string_view program, std::string_view reason);

// libmilter never sets TCP_NODELAY, so a reply written right after another
// one waits for the MTA's delayed ACK (40 ms on Linux). Accepted sockets
// inherit the option from the listening socket, which libmilter does not
// expose: find it among our descriptors. Returns how many were changed.
int disable_nagle_on_listening_sockets();

// sd_notify(3) when started by systemd with Type=notify; a no-op otherwise.
void notify_service_manager(std::string_view state);

// Writes the pid file on construction and removes it on destruction.
class PidFile {
public:
    explicit PidFile(std::string path);
    ~PidFile();
    PidFile(const PidFile&) = delete;
    PidFile& operator=(const PidFile&) = delete;

private:
    std::string path_;
};

}  // namespace mtls::server
