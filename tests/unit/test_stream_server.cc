// The shared server plumbing on real sockets: the Listener's socket rules,
// the StreamServer's request/response loop with a small line protocol, and
// the metrics endpoint built on both.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/un.h>

#include <fmt/format.h>
#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <deque>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "server/listener.h"
#include "server/metrics_http.h"
#include "server/stream_server.h"
#include "server/worker_pool.h"
#include "test_sockets.h"

using namespace mtls;
using namespace mtls::server;
using namespace mtls::test;
using namespace std::chrono_literals;

namespace {

bool exists(const std::string& path) {
    struct stat info {};
    return lstat(path.c_str(), &info) == 0;
}

// Each line is a request: "quit" asks to close after the reply, "bad"
// breaks the protocol, "throw" makes the handler throw; others are echoed
// upper-cased.
class LineHandler final : public ConnectionHandler {
public:
    void received(std::string_view bytes) override { buffer_.append(bytes); }

    std::optional<std::string> next_reply() override {
        const auto end = buffer_.find('\n');
        if (end == std::string::npos || !error_.empty()) {
            return std::nullopt;
        }
        std::string line = buffer_.substr(0, end);
        buffer_.erase(0, end + 1);
        if (line == "bad") {
            error_ = "a bad line";
            return std::nullopt;
        }
        if (line == "throw") {
            throw std::runtime_error("handler fault");
        }
        if (line == "quit") {
            finished_ = true;
            return "BYE\n";
        }
        for (char& c : line) {
            c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        }
        return line + "\n";
    }

    [[nodiscard]] std::string protocol_error() const override { return error_; }
    [[nodiscard]] bool finished() const override { return finished_; }

private:
    std::string buffer_;
    std::string error_;
    bool finished_ = false;
};

StreamServer line_server(const ListenAddress& address, LogCapture& log, StreamLimits limits = {}) {
    return {Listener(address, "test-socket", 16), "line service",
            [](std::uint64_t) { return std::make_unique<LineHandler>(); }, log.sink(), limits};
}

bool wait_for_clients(const StreamServer& server, std::size_t wanted) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kTimeoutMs);
    while (server.clients() != wanted) {
        if (std::chrono::steady_clock::now() > deadline) {
            return false;
        }
        std::this_thread::sleep_for(5ms);
    }
    return true;
}

}  // namespace

TEST_CASE("stream server: replies in order, several clients at once", "[server]") {
    LogCapture log;
    const auto server = line_server(loopback_any_port(), log);
    REQUIRE(server.port() != 0);
    const auto first = connect_loopback(server.port());
    const auto second = connect_loopback(server.port());
    send_all(first, "one\ntw");
    send_all(second, "x\n");
    CHECK(receive(second, 2) == "X\n");
    send_all(first, "o\n");
    CHECK(receive(first, 8) == "ONE\nTWO\n");
    CHECK(wait_for_clients(server, 2));
}

TEST_CASE("stream server: a finished connection is closed once its reply is sent", "[server]") {
    LogCapture log;
    const auto server = line_server(loopback_any_port(), log);
    const auto client = connect_loopback(server.port());
    send_all(client, "hello\nquit\n");
    CHECK(receive(client, 10) == "HELLO\nBYE\n");
    CHECK(closed_by_server(client));
}

TEST_CASE("stream server: a broken protocol or a throwing handler closes that client only", "[server]") {
    LogCapture log;
    const auto server = line_server(loopback_any_port(), log);
    const auto good = connect_loopback(server.port());
    const auto bad = connect_loopback(server.port());
    SECTION("protocol error: earlier replies still go out") {
        send_all(bad, "ok\nbad\n");
        CHECK(receive(bad, 3) == "OK\n");
        CHECK(closed_by_server(bad));
        CHECK(log.count("line service: connection #2 broke the protocol (a bad line); closing it") == 1);
    }
    SECTION("handler exception") {
        send_all(bad, "throw\n");
        CHECK(closed_by_server(bad));
        CHECK(log.count("line service: connection #2: handler fault; closing it") == 1);
    }
    send_all(good, "still\n");
    CHECK(receive(good, 6) == "STILL\n");
}

TEST_CASE("stream server: limits on clients and idle time", "[server]") {
    LogCapture log;
    StreamLimits limits;
    limits.max_clients = 1;
    limits.idle_timeout = 200ms;
    const auto server = line_server(loopback_any_port(), log, limits);
    const auto first = connect_loopback(server.port());
    REQUIRE(wait_for_clients(server, 1));
    const auto second = connect_loopback(server.port());
    CHECK(closed_by_server(second));
    CHECK(log.count("line service: 1 connections open, refusing more") == 1);
    CHECK(closed_by_server(first));  // idle
    CHECK(wait_for_clients(server, 0));
}

TEST_CASE("stream server: a client that reads none of its replies is dropped", "[server]") {
    LogCapture log;
    StreamLimits limits;
    limits.max_unsent = 100;
    const auto server = line_server(loopback_any_port(), log, limits);
    const auto client = connect_loopback(server.port());
    // Far more than the socket buffers hold, and the client reads nothing.
    std::string lines;
    for (int i = 0; i < 20000; ++i) {
        lines += std::string(999, 'a') + "\n";
    }
    send_all(client, lines);
    CHECK(closed_by_server(client));
    CHECK(log.count("does not read its answers") == 1);
}

namespace {

// Answers each line later, from a WorkerPool thread, as mtls-tlspolicy's
// socketmap does; replies keep the order of the requests.
class DeferredHandler final : public ConnectionHandler {
public:
    DeferredHandler(WorkerPool& pool, std::function<void()> ready) : pool_(pool), ready_(std::move(ready)) {}

    void received(std::string_view bytes) override { buffer_.append(bytes); }

    std::optional<std::string> next_reply() override {
        for (auto end = buffer_.find('\n'); end != std::string::npos; end = buffer_.find('\n')) {
            auto line = buffer_.substr(0, end);
            buffer_.erase(0, end + 1);
            const std::scoped_lock lock(state_->mutex);
            state_->replies.emplace_back();
            auto* slot = &state_->replies.back();
            // The first line waits longest, so later ones finish first.
            const auto delay = state_->replies.size() == 1 ? 100ms : 1ms;
            REQUIRE(pool_.submit([state = state_, slot, line, delay, ready = ready_] {
                std::this_thread::sleep_for(delay);
                {
                    const std::scoped_lock done(state->mutex);
                    *slot = "LATER " + line + "\n";
                }
                ready();
            }));
        }
        const std::scoped_lock lock(state_->mutex);
        if (state_->replies.empty() || !state_->replies.front()) {
            return std::nullopt;
        }
        auto reply = std::move(*state_->replies.front());
        state_->replies.pop_front();
        return reply;
    }

    [[nodiscard]] std::string protocol_error() const override { return {}; }

private:
    struct State {
        std::mutex mutex;
        std::deque<std::optional<std::string>> replies;
    };
    WorkerPool& pool_;
    std::function<void()> ready_;
    std::string buffer_;
    std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace

TEST_CASE("stream server: replies computed on other threads go out in request order", "[server]") {
    LogCapture log;
    WorkerPool pool(4, 16);
    std::optional<StreamServer> server;
    server.emplace(
        Listener(loopback_any_port(), "test-socket", 16), "deferred service",
        [&](std::uint64_t) { return std::make_unique<DeferredHandler>(pool, [&] { server->replies_ready(); }); },
        log.sink(), StreamLimits{});
    const auto client = connect_loopback(server->port());
    send_all(client, "a\nb\nc\n");
    CHECK(receive(client, 24) == "LATER a\nLATER b\nLATER c\n");
    pool.stop();
}

TEST_CASE("worker pool: runs what it accepts, refuses beyond its queue and after stop", "[server]") {
    std::atomic<int> ran{0};
    std::mutex gate;
    std::unique_lock closed(gate);
    WorkerPool pool(1, 2);
    REQUIRE(pool.submit([&] {
        const std::scoped_lock wait(gate);  // holds the only thread until the gate opens
        ++ran;
    }));
    // The thread may or may not have taken the first job off the queue of
    // two yet: one or two more fit, the rest are refused.
    int accepted = 0;
    for (int i = 0; i < 5; ++i) {
        accepted += pool.submit([&] { ++ran; }) ? 1 : 0;
    }
    CHECK(accepted >= 1);
    CHECK(accepted <= 2);
    closed.unlock();
    pool.stop();
    CHECK(ran == accepted + 1);
    CHECK_FALSE(pool.submit([&] { ++ran; }));
    CHECK(pool.pending() == 0);
}

TEST_CASE("listener: a unix socket is replaced when stale, kept when live, removed at the end", "[server]") {
    const TempDir dir;
    const auto path = dir.file("test.sock");
    {
        const Listener listener(unix_address(path), "test-socket unix:" + path, 4);
        CHECK(listener.port() == 0);
        CHECK(exists(path));
        CHECK_THROWS_WITH(Listener(unix_address(path), "test-socket unix:" + path, 4),
                          "test-socket unix:" + path + ": another process listens on it");
        const auto client = connect_unix(path);
        CHECK(client.valid());
    }
    CHECK_FALSE(exists(path));
    {
        // A socket file nobody listens on, as a crash leaves it.
        const UniqueFd leftover(socket(AF_UNIX, SOCK_STREAM, 0));
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
        REQUIRE(bind(leftover.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
        const Listener listener(unix_address(path), "test-socket", 4);
        CHECK(connect_unix(path).valid());
    }
    std::ofstream(path) << "not a socket\n";
    CHECK_THROWS_WITH(Listener(unix_address(path), "test-socket", 4), "test-socket: exists and is not a socket");
    CHECK(unix_socket_problems(unix_address(path), "x") == std::vector<std::string>{"x: exists and is not a socket"});
    CHECK(unix_socket_problems(loopback_any_port(), "x").empty());
}

TEST_CASE("listener: a socket file replaced by someone else is not removed", "[server]") {
    const TempDir dir;
    const auto path = dir.file("test.sock");
    {
        const Listener listener(unix_address(path), "test-socket", 4);
        std::filesystem::remove(path);
        std::ofstream(path) << "someone else's\n";
    }
    CHECK(exists(path));
}

TEST_CASE("metrics endpoint: GET /metrics renders, anything else is 404", "[server]") {
    std::atomic<int> scrapes{0};
    const MetricsServer server(
        Endpoint{*IpAddress::parse("127.0.0.1"), 0}, [&] { return fmt::format("scrape {}\n", ++scrapes); },
        "test-daemon");
    REQUIRE(server.port() != 0);
    {
        const auto client = connect_loopback(server.port());
        send_all(client, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        const std::string expected =
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: 9\r\n"
            "Connection: close\r\n\r\nscrape 1\n";
        CHECK(receive(client, expected.size() + 1) == expected);  // and then EOF
    }
    {
        const auto client = connect_loopback(server.port());
        send_all(client, "GET / HTTP/1.1\r\n\r\n");
        const std::string body = "test-daemon serves GET /metrics only\n";
        CHECK(receive(client, 1000) == fmt::format("HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; "
                                                   "charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                                                   body.size(), body));
    }
    CHECK(scrapes == 1);
}

TEST_CASE("metrics endpoint: a render that throws answers 500", "[server]") {
    CHECK(answer_scrape(
              "GET /metrics?x HTTP/1.1\r\n", []() -> std::string { throw std::runtime_error("no"); }, "p")
              .starts_with("HTTP/1.1 500 Internal Server Error\r\n"));
}
