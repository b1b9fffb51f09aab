// The DMARC stage's process. libmilter serves one socket per process: its
// smfi_register, smfi_setconn and smfi_main keep the filter description,
// the connection name and the listening socket in process-global state
// (docs/MTA-FACTS.md, "libmilter: one listener per process"), so a second
// milter socket cannot be served by a second smfi_main in the same process.
// The daemon therefore forks one child for dmarc-socket right after
// detaching and before any thread starts; the child runs its own libmilter
// instance, resolver and answer cache with the DMARC callbacks.
//
// Supervision fails closed: the parent forwards SIGHUP (reload) and, on its
// own stop, SIGTERM to the child and waits for it; when the child ends
// unexpectedly the parent stops and exits non-zero (logged), so that systemd
// restarts both (a child that exits 0 was told to stop: the parent stops
// cleanly); the child gets SIGTERM when the parent dies
// (PR_SET_PDEATHSIG). The child's counters live in shared memory
// (core/dmarc/dmarc_metrics.h) that the parent's /metrics renders.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <functional>
#include <memory>
#include <thread>

#include "base/unique_fd.h"

namespace mtls::milter {

class DmarcChild {
public:
    // Forks. The parent gets the child; the child gets nullptr, with
    // ready_fd set to where it reports that its socket is open
    // (report_ready).
    static std::unique_ptr<DmarcChild> fork(UniqueFd& ready_fd);

    // The child pid, and the pipe where it reports readiness.
    DmarcChild(pid_t pid, UniqueFd ready) : pid_(pid), ready_(std::move(ready)) {}

    // In the child, after setuid: dies with SIGTERM when the parent does.
    // Throws when the parent is gone already.
    static void die_with_parent(pid_t parent);
    // In the child, once its socket is listening.
    static void report_ready(UniqueFd& ready_fd);

    DmarcChild(DmarcChild&&) = delete;
    DmarcChild& operator=(DmarcChild&&) = delete;
    DmarcChild(const DmarcChild&) = delete;
    DmarcChild& operator=(const DmarcChild&) = delete;
    // Stops the child (SIGTERM) and waits for it, if that was not done yet.
    ~DmarcChild();

    // Waits until the child has opened its socket; throws when it ended first.
    void wait_ready();
    // Starts the thread that reaps the child; on_unexpected_exit runs in it
    // when the child ends before stop(). Call after the signal mask is set.
    void watch(std::function<void()> on_unexpected_exit);
    void forward(int signal) const;
    // SIGTERM, then waits for the child to end; its wait status.
    int stop();
    // It ended before stop(): with a failure (killed, or a non-zero exit) ...
    [[nodiscard]] bool ended_unexpectedly() const { return unexpected_; }
    // ... or at all (exit status 0 after a stop signal sent to it directly).
    [[nodiscard]] bool ended_early() const { return ended_early_; }
    [[nodiscard]] pid_t pid() const { return pid_; }
    [[nodiscard]] int wait_status() const { return status_; }

private:
    void reap();

    pid_t pid_ = -1;
    UniqueFd ready_;
    std::thread reaper_;
    std::atomic<bool> ended_{false};
    std::atomic<bool> stopping_{false};
    std::atomic<bool> unexpected_{false};
    std::atomic<bool> ended_early_{false};
    int status_ = 0;
};

}  // namespace mtls::milter
