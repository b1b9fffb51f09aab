// SIGHUP asks for a reload, SIGTERM (when handled) for a stop, and wake()
// ends a wait from another thread; one ControlSignals per process.
#include <catch2/catch.hpp>

#include <csignal>
#include <stdexcept>
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
