// Process housekeeping for a mail-system daemon: detaching, dropping root,
// the pid file, systemd notification, socket options libmilter lacks.
// Each throws std::runtime_error with the system's reason.
#pragma once

#include <string>
#include <string_view>

namespace mtls::milter {

void detach_from_terminal();
void drop_privileges(const std::string& user);

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

}  // namespace mtls::milter
