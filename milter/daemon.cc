#include "daemon.h"

#include <dirent.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <charconv>
#include <memory>

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

int disable_nagle_on_listening_sockets() {
    struct CloseDir {
        void operator()(DIR* dir) const { closedir(dir); }
    };
    const std::unique_ptr<DIR, CloseDir> fds(opendir("/proc/self/fd"));
    if (!fds) {
        fail("/proc/self/fd");
    }
    int changed = 0;
    while (const dirent* entry = readdir(fds.get())) {
        const std::string_view name(entry->d_name);
        int fd = -1;
        if (std::from_chars(name.data(), name.data() + name.size(), fd).ec != std::errc() || fd == dirfd(fds.get())) {
            continue;
        }
        int listening = 0;
        socklen_t length = sizeof listening;
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &length) != 0 || listening == 0) {
            continue;  // not a socket, or not listening
        }
        sockaddr_storage address{};
        socklen_t address_length = sizeof address;
        if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &address_length) != 0 ||
            (address.ss_family != AF_INET && address.ss_family != AF_INET6)) {
            continue;
        }
        const int on = 1;
        if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) != 0) {
            fail("setsockopt TCP_NODELAY");
        }
        ++changed;
    }
    return changed;
}

void notify_service_manager(std::string_view state) {
    const std::string text(state);
    // Failure to notify is not fatal: systemd's start timeout reports it.
    static_cast<void>(sd_notify(0, text.c_str()));
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
