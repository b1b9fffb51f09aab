// SIGHUP asks for a reload, SIGTERM (when handled) for a stop, and wake()
// ends a wait from another thread; one ControlSignals per process.
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>

#include "server/control_signals.h"

using namespace mtls::server;

TEST_CASE("control signals: SIGHUP, SIGTERM and wake() end a wait") {
    ControlSignals signals(StopSignals::handled);
    CHECK_THROWS_AS(ControlSignals(StopSignals::handled), std::logic_error);
    CHECK_FALSE(signals.take_reload_request());

    REQUIRE(std::raise(SIGHUP) == 0);
    REQUIRE(std::raise(SIGHUP) == 0);
    CHECK(signals.wait());
    CHECK(signals.take_reload_request());
    CHECK_FALSE(signals.take_reload_request());  // two before a wait count as one
    CHECK_FALSE(signals.stop_requested());

    std::thread waker([&] { signals.wake(); });
    CHECK(signals.wait());
    waker.join();
    CHECK_FALSE(signals.take_reload_request());

    REQUIRE(std::raise(SIGTERM) == 0);
    CHECK(signals.wait());
    CHECK(signals.stop_requested());
}

namespace {

// Whether the thread is blocked in rt_sigtimedwait (sigwait) within a minute
// (/proc/self/task/TID/syscall starts with the number of the system call a
// blocked thread is in).
bool in_sigwait_soon(const std::atomic<pid_t>& tid) {
    for (int i = 0; i < 60000; ++i) {
        if (tid != 0) {
            std::ifstream file("/proc/self/task/" + std::to_string(tid.load()) + "/syscall");
            long number = -1;
            if (file >> number && number == SYS_rt_sigtimedwait) {
                return true;
            }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
}

}  // namespace

// libmilter's smfi_main starts a thread that sigwait()s for SIGHUP and stops
// the filter when it gets one (core/server/control_signals.h). While the
// main thread runs its SIGHUP handler, SIGHUP is blocked there; blocking it
// by hand stands in for that moment. The SIGHUP sent then must run the
// handler on the standby thread, not reach the library's thread.
TEST_CASE("control signals: a SIGHUP during the main thread's handler reaches no library sigwait() thread") {
    ControlSignals signals(StopSignals::blocked);
    sigset_t hup{};
    sigemptyset(&hup);
    sigaddset(&hup, SIGHUP);
    REQUIRE(pthread_sigmask(SIG_BLOCK, &hup, nullptr) == 0);  // inherited by the library's thread
    std::atomic<bool> done{false};
    std::atomic<int> taken_by_library{0};
    std::atomic<pid_t> library_tid{0};
    std::thread library([&] {
        library_tid = static_cast<pid_t>(syscall(SYS_gettid));
        for (;;) {
            int received = 0;
            if (sigwait(&hup, &received) != 0 || done) {
                return;
            }
            ++taken_by_library;
        }
    });
    REQUIRE(in_sigwait_soon(library_tid));
    REQUIRE(kill(getpid(), SIGHUP) == 0);  // the main thread blocks it now
    bool reload = false;
    for (int i = 0; i < 60000 && !reload && taken_by_library == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        reload = signals.take_reload_request();
    }
    done = true;
    pthread_kill(library.native_handle(), SIGHUP);  // to that thread alone: ends its wait
    library.join();
    REQUIRE(pthread_sigmask(SIG_UNBLOCK, &hup, nullptr) == 0);
    CHECK(taken_by_library == 0);
    CHECK(reload);
}
