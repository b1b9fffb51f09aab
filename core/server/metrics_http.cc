#include "server/metrics_http.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>
#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "base/unique_fd.h"

namespace mtls::server {
namespace {

constexpr int kIoTimeoutMs = 2000;
constexpr std::size_t kMaxRequest = 8192;

bool wait_for(int fd, short events) {
    pollfd entry{fd, events, 0};
    return poll(&entry, 1, kIoTimeoutMs) == 1 && (entry.revents & events) != 0;
}

void write_all(int fd, std::string_view data) {
    while (!data.empty() && wait_for(fd, POLLOUT)) {
        const auto written = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (written <= 0) {
            return;
        }
        data.remove_prefix(static_cast<std::size_t>(written));
    }
}

}  // namespace

MetricsServer::MetricsServer(const Endpoint& endpoint, std::function<std::string()> render)
    : render_(std::move(render)) {
    const bool v4 = endpoint.address.family() == IpAddress::Family::v4;
    listener_ = socket(v4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (listener_ < 0) {
        throw std::runtime_error(fmt::format("metrics socket: {}", std::strerror(errno)));
    }
    const int on = 1;
    setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    sockaddr_storage address{};
    const socklen_t length = endpoint.address.to_sockaddr(endpoint.port, address);
    if (bind(listener_, reinterpret_cast<sockaddr*>(&address), length) != 0 || listen(listener_, 16) != 0) {
        const std::string reason = std::strerror(errno);
        close(listener_);
        throw std::runtime_error(fmt::format("metrics {}:{}: {}", endpoint.address.to_string(), endpoint.port, reason));
    }
    wakeup_ = eventfd(0, EFD_CLOEXEC);
    if (wakeup_ < 0) {
        close(listener_);
        throw std::runtime_error("metrics: eventfd failed");
    }
    thread_ = std::thread([this] { serve(); });
}

MetricsServer::~MetricsServer() {
    stopping_ = true;
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto written = write(wakeup_, &one, sizeof one);
    thread_.join();
    close(listener_);
    close(wakeup_);
}

void MetricsServer::serve() {
    std::array<pollfd, 2> fds{{{listener_, POLLIN, 0}, {wakeup_, POLLIN, 0}}};
    while (!stopping_) {
        if (poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) {
            return;
        }
        if (stopping_) {
            return;
        }
        if ((fds[0].revents & POLLIN) != 0) {
            const int client = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (client >= 0) {
                answer(client);
            }
        }
    }
}

void MetricsServer::answer(int client) const {
    const UniqueFd connection(client);
    std::string request;
    std::array<char, 1024> buffer{};
    // Read the request head only; a scraper sends no body.
    while (request.find("\r\n\r\n") == std::string::npos && request.size() < kMaxRequest &&
           wait_for(connection.get(), POLLIN)) {
        const auto got = recv(connection.get(), buffer.data(), buffer.size(), 0);
        if (got <= 0) {
            return;
        }
        request.append(buffer.data(), static_cast<std::size_t>(got));
    }
    const bool scrape = request.starts_with("GET /metrics ") || request.starts_with("GET /metrics?");
    std::string body;
    std::string status = "404 Not Found";
    std::string type = "text/plain; charset=utf-8";
    if (scrape) {
        try {
            body = render_();
            status = "200 OK";
            type = "text/plain; version=0.0.4; charset=utf-8";
        } catch (const std::exception&) {
            status = "500 Internal Server Error";
        }
    } else {
        body = "mtls-milter serves GET /metrics only\n";
    }
    write_all(connection.get(), fmt::format("HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n"
                                            "Connection: close\r\n\r\n{}",
                                            status, type, body.size(), body));
}

}  // namespace mtls::server
