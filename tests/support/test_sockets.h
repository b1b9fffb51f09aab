// Real sockets and a log capture for the tests of the servers (tests/unit/test_stream_server.cc,
// tests/milter/test_fingerprint_listener.cc): a client's side of a
// connection, with every wait bounded.
#pragma once

#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/logger.h"
#include "base/unique_fd.h"
#include "options/settings.h"

namespace mtls::test {

inline constexpr int kTimeoutMs = 5000;

// What a server logged, from its thread.
struct LogCapture {
    std::mutex mutex;
    std::vector<std::string> lines;

    std::function<void(Severity, std::string_view)> sink() {
        return [this](Severity, std::string_view text) {
            const std::lock_guard lock(mutex);
            lines.emplace_back(text);
        };
    }
    std::size_t count(std::string_view needle) {
        const std::lock_guard lock(mutex);
        std::size_t n = 0;
        for (const auto& line : lines) {
            n += line.find(needle) != std::string::npos ? 1 : 0;
        }
        return n;
    }
    [[nodiscard]] std::vector<std::string> all() {
        const std::lock_guard lock(mutex);
        return lines;
    }
};

inline ListenAddress unix_address(const std::string& path) {
    ListenAddress address;
    address.unix_path = path;
    return address;
}

inline ListenAddress loopback_any_port() {
    ListenAddress address;
    address.inet = Endpoint{*IpAddress::parse("127.0.0.1"), 0};
    return address;
}

class TempDir {
public:
    TempDir() {
        std::string pattern = "/tmp/mtls-test-XXXXXX";
        REQUIRE(mkdtemp(pattern.data()) != nullptr);
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    [[nodiscard]] std::string file(std::string_view name) const { return path_ + "/" + std::string(name); }

private:
    std::string path_;
};

inline UniqueFd connect_unix(const std::string& path) {
    UniqueFd socket_fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    REQUIRE(connect(socket_fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    return socket_fd;
}

inline UniqueFd connect_loopback(std::uint16_t port) {
    UniqueFd socket_fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(connect(socket_fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    return socket_fd;
}

inline void send_all(const UniqueFd& socket_fd, std::string_view data) {
    while (!data.empty()) {
        const auto sent = send(socket_fd.get(), data.data(), data.size(), MSG_NOSIGNAL);
        if (sent <= 0) {
            return;  // the server closed it; the test reads EOF next
        }
        data.remove_prefix(static_cast<std::size_t>(sent));
    }
}

// Reads until `wanted` bytes arrived, the peer closed, or the timeout.
inline std::string receive(const UniqueFd& socket_fd, std::size_t wanted, int timeout_ms = kTimeoutMs) {
    std::string got;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (got.size() < wanted) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
        pollfd entry{socket_fd.get(), POLLIN, 0};
        if (left <= 0 || poll(&entry, 1, static_cast<int>(left)) != 1) {
            break;
        }
        std::array<char, 4096> buffer{};
        const auto n = recv(socket_fd.get(), buffer.data(), std::min(buffer.size(), wanted - got.size()), 0);
        if (n <= 0) {
            break;
        }
        got.append(buffer.data(), static_cast<std::size_t>(n));
    }
    return got;
}

// True when the server closed the connection within the timeout.
inline bool closed_by_server(const UniqueFd& socket_fd, int timeout_ms = kTimeoutMs) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (true) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
        pollfd entry{socket_fd.get(), POLLIN, 0};
        if (left <= 0 || poll(&entry, 1, static_cast<int>(left)) != 1) {
            return false;
        }
        std::array<char, 4096> buffer{};
        const auto n = recv(socket_fd.get(), buffer.data(), buffer.size(), 0);
        if (n == 0 || (n < 0 && errno == ECONNRESET)) {
            return true;
        }
        if (n < 0) {
            return false;
        }
    }
}

}  // namespace mtls::test
