#include "server/daemon.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <array>
#include <charconv>
#include <cstdio>
#include <memory>

#include <fmt/format.h>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <vector>

#include "base/free_with.h"
#include "base/unique_fd.h"
#include "server/fail.h"

namespace mtls::server {

// Without succeeded() or failed(), fd_ closes here and the parent reads EOF:
// the child died during start-up.
StartupReport::~StartupReport() = default;

void StartupReport::finish(std::string_view message) {
    if (!fd_.valid()) {
        return;
    }
    while (!message.empty()) {
        const auto written = write(fd_.get(), message.data(), message.size());
        if (written <= 0) {
            break;
        }
        message.remove_prefix(static_cast<std::size_t>(written));
    }
    fd_.reset();
}

void StartupReport::succeeded() {
    finish("OK");
    // Start-up is over: from now on the terminal (if any) is not ours.
    const UniqueFd null(open("/dev/null", O_WRONLY | O_CLOEXEC));
    if (null.valid()) {
        dup2(null.get(), STDERR_FILENO);
    }
}

void StartupReport::failed(std::string_view why) {
    finish(why);
}

std::unique_ptr<StartupReport> detach_from_terminal(std::string_view program) {
    std::array<int, 2> pipe_fds{};
    if (pipe2(pipe_fds.data(), O_CLOEXEC) != 0) {
        fail("pipe");
    }
    UniqueFd read_end(pipe_fds[0]);
    UniqueFd write_end(pipe_fds[1]);
    const pid_t child = fork();
    if (child < 0) {
        fail("fork");
    }
    if (child > 0) {
        write_end.reset();
        std::string message;
        std::array<char, 512> buffer{};
        ssize_t got = 0;
        while ((got = read(read_end.get(), buffer.data(), buffer.size())) > 0 || (got < 0 && errno == EINTR)) {
            if (got > 0) {
                message.append(buffer.data(), static_cast<std::size_t>(got));
            }
        }
        if (message == "OK") {
            _exit(0);
        }
        std::fprintf(stderr, "%.*s: %s\n", static_cast<int>(program.size()), program.data(),
                     message.empty() ? "exited during start-up (see the log)" : message.c_str());
        _exit(1);
    }
    read_end.reset();
    if (setsid() < 0 || chdir("/") != 0) {
        fail("setsid");
    }
    const UniqueFd null(open("/dev/null", O_RDWR | O_CLOEXEC));
    if (!null.valid() || dup2(null.get(), STDIN_FILENO) < 0 || dup2(null.get(), STDOUT_FILENO) < 0) {
        fail("/dev/null");
    }
    // Standard error stays until start-up is over, so that a failure before
    // the report is made still reaches the terminal.
    return std::make_unique<StartupReport>(std::move(write_end));
}

std::vector<std::string> startup_problems(const std::string& user, const std::string& socket,
                                          const std::string& pidfile) {
    std::vector<std::string> problems;
    const auto directory_missing = [](const std::string& path) {
        const auto slash = path.rfind('/');
        const std::string directory = slash == 0 ? "/" : path.substr(0, slash);
        struct stat info {};
        return slash == std::string::npos || stat(directory.c_str(), &info) != 0 || !S_ISDIR(info.st_mode);
    };
    if (!user.empty() && getpwnam(user.c_str()) == nullptr) {
        problems.push_back(fmt::format("user {}: no such user", user));
    }
    for (const std::string_view prefix : {"unix:", "local:"}) {
        if (socket.starts_with(prefix)) {
            const std::string path = socket.substr(prefix.size());
            if (directory_missing(path)) {
                problems.push_back(fmt::format("socket {}: the directory does not exist", path));
            }
        }
    }
    if (!pidfile.empty() && directory_missing(pidfile)) {
        problems.push_back(fmt::format("pidfile {}: the directory does not exist", pidfile));
    }
    return problems;
}

int report_configuration_problems(std::string_view program, const std::vector<std::string>& problems) {
    for (const auto& problem : problems) {
        std::fprintf(stderr, "%.*s: %s\n", static_cast<int>(program.size()), program.data(), problem.c_str());
    }
    if (!problems.empty()) {
        return 1;
    }
    std::printf("%.*s: configuration OK\n", static_cast<int>(program.size()), program.data());
    return 0;
}

void report_failed_start(StartupReport* report, bool log_to_stderr, std::string_view program, std::string_view reason) {
    if (report != nullptr) {
        report->failed(reason);
    } else if (!log_to_stderr) {
        std::fprintf(stderr, "%.*s: %.*s\n", static_cast<int>(program.size()), program.data(),
                     static_cast<int>(reason.size()), reason.data());
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
    const std::unique_ptr<DIR, FreeWith<&closedir>> fds(opendir("/proc/self/fd"));
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

}  // namespace mtls::server
