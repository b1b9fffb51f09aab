// Process housekeeping for a mail-system daemon: detaching, dropping root,
// the pid file. Each throws std::runtime_error with the system's reason.
#pragma once

#include <string>

namespace mtls::milter {

void detach_from_terminal();
void drop_privileges(const std::string& user);

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
