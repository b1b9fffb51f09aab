#include "smtp_test_server.h"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <array>
#include <chrono>
#include <string>
#include <string_view>

namespace mtls::test {
namespace {

using namespace std::chrono_literals;

UniqueFd bound_socket() {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(fd.valid());
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    return fd;
}

std::uint16_t port_of(int fd) {
    sockaddr_in address{};
    socklen_t length = sizeof address;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    return ntohs(address.sin_port);
}

bool send_all(int fd, std::string_view text) {
    while (!text.empty()) {
        const ssize_t sent = ::send(fd, text.data(), text.size(), MSG_NOSIGNAL);
        if (sent <= 0) {
            return false;
        }
        text.remove_prefix(static_cast<std::size_t>(sent));
    }
    return true;
}

// One command line, without CRLF; empty on timeout or close.
std::string read_line(int fd) {
    std::string line;
    char c = 0;
    while (line.size() < 1000 && ::recv(fd, &c, 1, 0) == 1) {
        line.push_back(c);
        if (line.ends_with("\r\n")) {
            line.resize(line.size() - 2);
            return line;
        }
    }
    return {};
}

}  // namespace

std::uint16_t unused_port() {
    const UniqueFd fd = bound_socket();
    return port_of(fd.get());
}

SmtpTestServer::SmtpTestServer(Script script, const Issued* certificate, const std::vector<const Issued*>& chain)
    : script_(script) {
    if (certificate != nullptr) {
        tls_.reset(SSL_CTX_new(TLS_server_method()));
        REQUIRE(tls_);
        REQUIRE(SSL_CTX_use_certificate(tls_.get(), certificate->cert.get()) == 1);
        REQUIRE(SSL_CTX_use_PrivateKey(tls_.get(), certificate->key.get()) == 1);
        for (const auto* intermediate : chain) {
            REQUIRE(SSL_CTX_add1_chain_cert(tls_.get(), intermediate->cert.get()) == 1);
        }
    }
    listener_ = bound_socket();
    REQUIRE(::listen(listener_.get(), 16) == 0);
    port_ = port_of(listener_.get());
    acceptor_ = std::thread([this] { accept_loop(); });
}

SmtpTestServer::~SmtpTestServer() {
    stopping_ = true;
    open_gate();
    acceptor_.join();
    const std::lock_guard lock(threads_mutex_);
    for (auto& thread : threads_) {
        thread.join();
    }
}

void SmtpTestServer::close_gate() {
    const std::lock_guard lock(gate_mutex_);
    gate_open_ = false;
}

void SmtpTestServer::open_gate() {
    {
        const std::lock_guard lock(gate_mutex_);
        gate_open_ = true;
    }
    gate_changed_.notify_all();
}

void SmtpTestServer::wait_for_gate() {
    std::unique_lock lock(gate_mutex_);
    gate_changed_.wait(lock, [&] { return gate_open_; });
}

void SmtpTestServer::accept_loop() {
    while (!stopping()) {
        pollfd ready{.fd = listener_.get(), .events = POLLIN, .revents = 0};
        if (::poll(&ready, 1, 20) <= 0) {
            continue;
        }
        UniqueFd connection(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (!connection.valid()) {
            continue;
        }
        ++connections_;
        const std::lock_guard lock(threads_mutex_);
        threads_.emplace_back([this, fd = std::move(connection)]() mutable { serve(std::move(fd)); });
    }
}

void SmtpTestServer::serve(UniqueFd connection) {
    // SSL_accept and SSL_read write with write(2): no SIGPIPE when the probe has gone.
    sigset_t pipe{};
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
    const int fd = connection.get();
    const timeval timeout{.tv_sec = 5, .tv_usec = 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    wait_for_gate();
    switch (script_) {
        case Script::stall:
            while (!stopping()) {
                std::this_thread::sleep_for(10ms);
            }
            return;
        case Script::endless_line:
            send_all(fd, "220 ");
            while (!stopping() && send_all(fd, std::string(4096, 'x'))) {
            }
            return;
        case Script::bare_lf:
            send_all(fd, "220 test.example ESMTP\n");
            read_line(fd);
            return;
        default: break;
    }
    send_all(fd, "220 test.example ESMTP\r\n");
    if (!read_line(fd).starts_with("EHLO ")) {
        return;
    }
    if (script_ == Script::no_starttls) {
        send_all(fd, "250-test.example\r\n250-PIPELINING\r\n250 8BITMIME\r\n");
        read_line(fd);
        return;
    }
    send_all(fd, "250-test.example\r\n250-PIPELINING\r\n250-starttls\r\n250 8BITMIME\r\n");
    if (read_line(fd) != "STARTTLS") {
        return;
    }
    send_all(fd, script_ == Script::injection ? "220 go ahead\r\n250 injected\r\n" : "220 go ahead\r\n");
    // (No REQUIRE on this thread: Catch2's assertions belong to the test's.)
    const std::unique_ptr<SSL, FreeWith<&SSL_free>> ssl(tls_ ? SSL_new(tls_.get()) : nullptr);
    if (!ssl || SSL_set_fd(ssl.get(), fd) != 1) {
        return;
    }
    if (SSL_accept(ssl.get()) == 1) {
        ++handshakes_;
        std::array<char, 256> buffer{};
        while (SSL_read(ssl.get(), buffer.data(), static_cast<int>(buffer.size())) > 0) {
        }
    }
}

}  // namespace mtls::test
