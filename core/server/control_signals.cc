#include "server/control_signals.h"

#include <poll.h>
#include <pthread.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <future>
#include <stdexcept>
#include <utility>

namespace mtls::server {
namespace {

// What the handlers may touch: lock-free atomics and a descriptor.
std::atomic<int> g_wakeup_fd{-1};
std::atomic<bool> g_reload_requested{false};
std::atomic<bool> g_stop_requested{false};

void wake_from_handler() {
    const std::uint64_t one = 1;
    // write() on an eventfd is async-signal-safe and cannot block here.
    [[maybe_unused]] const auto written = write(g_wakeup_fd.load(), &one, sizeof one);
}

extern "C" void on_reload_signal(int /*signal*/) {
    g_reload_requested = true;
    wake_from_handler();
}

extern "C" void on_stop_signal(int /*signal*/) {
    g_stop_requested = true;
    wake_from_handler();
}

// The standby thread (control_signals.h): says it runs, then sleeps until
// told to stop; a handler that runs here interrupts the poll, which is then
// resumed.
void stand_by(int stop_fd, std::promise<void> running) {
    running.set_value();
    pollfd stop{stop_fd, POLLIN, 0};
    while (poll(&stop, 1, -1) <= 0 || (stop.revents & POLLIN) == 0) {
    }
}

void install(int signal, void (*handler)(int)) {
    struct sigaction action {};
    action.sa_handler = handler;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    sigaction(signal, &action, nullptr);
}

}  // namespace

ControlSignals::ControlSignals(StopSignals stop) : stop_(stop) {
    int expected = -1;
    if (!g_wakeup_fd.compare_exchange_strong(expected, wakeup_.fd())) {
        throw std::logic_error("ControlSignals: one per process");
    }
    g_reload_requested = false;
    g_stop_requested = false;
    if (stop == StopSignals::blocked) {
        sigset_t signals{};
        sigemptyset(&signals);
        sigaddset(&signals, SIGTERM);
        sigaddset(&signals, SIGINT);
        pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    } else {
        install(SIGTERM, on_stop_signal);
        install(SIGINT, on_stop_signal);
    }
    install(SIGHUP, on_reload_signal);
    try {
        // Wait until it runs: glibc's pthread_create starts a thread with
        // every signal blocked and gives it its mask only once it is
        // scheduled, so until then the kernel passes it by (seen on a
        // loaded machine: a thread made later took the SIGHUP).
        // The thread owns the promise: it may still be inside set_value()
        // when wait() returns here.
        std::promise<void> running;
        auto started = running.get_future();
        standby_ = std::thread(stand_by, standby_stop_.fd(), std::move(running));
        started.wait();
    } catch (...) {
        g_wakeup_fd = -1;  // no destructor runs: let the next one register
        throw;
    }
}

// SIGHUP's handler stays: a late SIGHUP must not kill a daemon that is
// stopping (its default action), and without a descriptor the handler only
// sets its flag. SIGTERM and SIGINT get their default action back, so that
// a second one ends a stop that hangs.
ControlSignals::~ControlSignals() {
    standby_stop_.signal();
    standby_.join();
    if (stop_ == StopSignals::handled) {
        install(SIGTERM, SIG_DFL);
        install(SIGINT, SIG_DFL);
    }
    g_wakeup_fd = -1;
}

bool ControlSignals::wait() const {
    return wakeup_.wait();
}

bool ControlSignals::take_reload_request() {
    return g_reload_requested.exchange(false);
}

bool ControlSignals::stop_requested() const {
    return g_stop_requested;
}

}  // namespace mtls::server
