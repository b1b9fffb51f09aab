// How a daemon's main thread learns what to do next: SIGHUP asks for a
// reload; SIGTERM and SIGINT ask it to stop, unless a library (libmilter)
// handles those in a thread of its own; other threads wake it with wake().
// The handlers only set a flag and write to an eventfd, which is
// async-signal-safe; all the work happens in the main thread after wait().
//
// Linux delivers a process-directed signal to the main thread when that
// thread does not block it; otherwise it walks the threads in the order
// they were made, from the one it last picked, and picks the first that
// will take it (the kernel's complete_signal()). The main thread keeps
// SIGHUP unblocked, and every thread started after the ControlSignals
// inherits its mask (so create it before any thread). But while the main thread runs its SIGHUP handler,
// SIGHUP is blocked there, and libmilter's smfi_main has a thread of its
// own that sigwait()s for SIGHUP, SIGTERM and SIGINT and stops the filter on
// any of them (libmilter/signal.c). So the constructor also starts a
// standby thread, the first thread of the process, and waits until it runs
// (until then glibc keeps every signal blocked in it); it only sleeps with
// SIGHUP unblocked: a SIGHUP that comes while the main thread is in its
// handler runs the same handler there, ahead of any thread made later.
// What is left: a SIGHUP that comes while both are in the handler (a third
// one within one delayed handler run) can still reach libmilter's thread.
// Seen without it: SIGHUPs 0.1 s apart on a loaded machine stopped the
// milter (scripts/reliability, "SIGHUP under load").
#pragma once

#include <atomic>
#include <thread>

#include "base/wakeup_event.h"

namespace mtls::server {

enum class StopSignals {
    handled,  // SIGTERM/SIGINT set stop_requested() and wake the main thread
    blocked,  // blocked here and in every later thread: a library's own signal thread sigwait()s for them
};

class ControlSignals {
public:
    // One per process (the handlers are process-wide): a second throws
    // std::logic_error. Throws std::runtime_error without an eventfd.
    explicit ControlSignals(StopSignals stop);
    // SIGTERM and SIGINT get their default action back (when handled here);
    // the SIGHUP handler and the signal mask stay.
    ~ControlSignals();
    ControlSignals(const ControlSignals&) = delete;
    ControlSignals& operator=(const ControlSignals&) = delete;

    // Sleeps until a signal or wake(); false when the wait itself failed.
    bool wait() const;
    // From any thread (or a signal handler): ends the current wait().
    void wake() const noexcept { wakeup_.signal(); }

    // True once per SIGHUP (several before a wait() count as one).
    bool take_reload_request();
    [[nodiscard]] bool stop_requested() const;

private:
    StopSignals stop_;
    WakeupEvent wakeup_{0};  // blocking: wait() sleeps in read(2)
    WakeupEvent standby_stop_;
    std::thread standby_;  // see the comment at the top
};

}  // namespace mtls::server
