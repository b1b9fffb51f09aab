#include "daemon.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <fmt/format.h>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <vector>

namespace mtls::milter {
namespace {

[[noreturn]] void fail(std::string_view what) {
    throw std::runtime_error(fmt::format("{}: {}", what, std::strerror(errno)));
}

}  // namespace

void detach_from_terminal() {
    if (daemon(0, 0) != 0) {
        fail("cannot detach");
    }
}

void drop_privileges(const std::string& user) {
    if (user.empty()) {
        return;
    }
    std::vector<char> buffer(16384);
    passwd entry{};
    passwd* found = nullptr;
    const int rc = getpwnam_r(user.c_str(), &entry, buffer.data(), buffer.size(), &found);
    if (rc != 0 || found == nullptr) {
        throw std::runtime_error(fmt::format("user {}: no such user", user));
    }
    if (getuid() != 0) {
        if (getuid() == entry.pw_uid) {
            return;  // already that user (e.g. started by systemd with User=)
        }
        throw std::runtime_error(fmt::format("user {}: must start as root to switch users", user));
    }
    if (initgroups(entry.pw_name, entry.pw_gid) != 0) {
        fail("initgroups");
    }
    if (setgid(entry.pw_gid) != 0) {
        fail("setgid");
    }
    if (setuid(entry.pw_uid) != 0) {
        fail("setuid");
    }
    // setuid(0) must now fail; if it does not, we are still root.
    if (entry.pw_uid != 0 && setuid(0) == 0) {
        throw std::runtime_error("privileges were not dropped");
    }
}

PidFile::PidFile(std::string path) : path_(std::move(path)) {
    if (path_.empty()) {
        return;
    }
    std::ofstream file(path_, std::ios::trunc);
    file << getpid() << '\n';
    if (!file.flush()) {
        throw std::runtime_error(fmt::format("pidfile {}: cannot be written", path_));
    }
}

PidFile::~PidFile() {
    if (!path_.empty()) {
        unlink(path_.c_str());
    }
}

}  // namespace mtls::milter
