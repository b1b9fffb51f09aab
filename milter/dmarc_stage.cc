#include "dmarc_stage.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <stdexcept>
#include <system_error>

namespace mtls::milter {

std::unique_ptr<DmarcChild> DmarcChild::fork(UniqueFd& ready_fd) {
    int fds[2];  // NOLINT(*-avoid-c-arrays): pipe2's interface
    if (pipe2(fds, O_CLOEXEC) != 0) {
        throw std::system_error(errno, std::generic_category(), "pipe for the DMARC stage");
    }
    UniqueFd read_end(fds[0]);
    UniqueFd write_end(fds[1]);
    const pid_t pid = ::fork();
    if (pid < 0) {
        throw std::system_error(errno, std::generic_category(), "fork of the DMARC stage");
    }
    if (pid == 0) {
        ready_fd = std::move(write_end);
        return nullptr;
    }
    return std::make_unique<DmarcChild>(pid, std::move(read_end));
}

void DmarcChild::die_with_parent(pid_t parent) {
    // Set after setuid(), which clears it; the check closes the race with a
    // parent that died before.
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) {
        throw std::system_error(errno, std::generic_category(), "prctl(PR_SET_PDEATHSIG)");
    }
    if (getppid() != parent) {
        throw std::runtime_error("the main process is gone");
    }
}

void DmarcChild::report_ready(UniqueFd& ready_fd) {
    const char byte = '1';
    while (write(ready_fd.get(), &byte, 1) < 0 && errno == EINTR) {
    }
    ready_fd.reset();
}

DmarcChild::~DmarcChild() {
    if (pid_ > 0) {
        stop();
    }
}

void DmarcChild::wait_ready() {
    char byte = 0;
    ssize_t got = 0;
    do {
        got = read(ready_.get(), &byte, 1);
    } while (got < 0 && errno == EINTR);
    ready_.reset();
    if (got != 1) {
        // The child closed the pipe without a word: it failed and logged why.
        throw std::runtime_error("the DMARC stage (dmarc-socket) did not start; see its log line");
    }
}

void DmarcChild::reap() {
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0) {
        if (errno != EINTR) {
            break;
        }
    }
    status_ = status;
    ended_ = true;
}

void DmarcChild::watch(std::function<void()> on_unexpected_exit) {
    reaper_ = std::thread([this, on_exit = std::move(on_unexpected_exit)] {
        reap();
        if (!stopping_) {
            // Exit status 0: it was told to stop (systemd's KillMode=control-group
            // signals every process of the unit), so the daemon stops cleanly too.
            ended_early_ = true;
            unexpected_ = !(WIFEXITED(status_) && WEXITSTATUS(status_) == 0);
            on_exit();
        }
    });
}

void DmarcChild::forward(int signal) const {
    if (pid_ > 0 && !ended_) {
        kill(pid_, signal);
    }
}

int DmarcChild::stop() {
    stopping_ = true;
    forward(SIGTERM);
    if (reaper_.joinable()) {
        reaper_.join();
    } else if (!ended_ && pid_ > 0) {
        reap();
    }
    pid_ = -1;
    return status_;
}

}  // namespace mtls::milter
