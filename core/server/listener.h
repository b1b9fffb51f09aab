// A listening stream socket, unix or TCP, set up the one way every daemon
// here does it: non-blocking and close-on-exec, SO_REUSEADDR for TCP, a unix
// socket created with the process's umask, a stale socket file replaced but
// a live one (something accepts on it) or a file that is no socket left
// alone, and the socket file removed again when the Listener goes, if it is
// still the one we made.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/unique_fd.h"
#include "options/settings.h"

namespace mtls::server {

class Listener {
public:
    // name prefixes every error, e.g. "policy-socket unix:/run/x.sock" or
    // "metrics 127.0.0.1:9100". Throws std::runtime_error on failure.
    Listener(const ListenAddress& address, std::string name, int backlog);
    ~Listener();
    Listener(Listener&& other) noexcept;
    Listener& operator=(Listener&& other) = delete;
    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;

    [[nodiscard]] int fd() const { return fd_.get(); }
    // The bound TCP port (useful after binding port 0); 0 for a unix socket.
    [[nodiscard]] std::uint16_t port() const { return port_; }
    [[nodiscard]] const std::string& name() const { return name_; }
    // Closes the socket early (and removes the unix socket file), so that
    // connections are refused at once rather than left to time out.
    void close() noexcept;

private:
    void listen_unix(const std::string& path, int backlog);
    void listen_inet(const Endpoint& endpoint, int backlog);

    std::string name_;
    UniqueFd fd_;
    std::uint16_t port_ = 0;
    std::string unix_path_;  // removed again at close() when non-empty
    // The socket file we created: only that one is removed, not one another
    // process put there since.
    std::uint64_t unix_device_ = 0;
    std::uint64_t unix_inode_ = 0;
};

// What a --check-config can see without binding a unix socket: a path too
// long, a missing directory, a file in the way that is no socket. Each
// problem starts with name (e.g. "policy-socket unix:/run/x.sock"). Empty
// for a TCP address.
std::vector<std::string> unix_socket_problems(const ListenAddress& address, std::string_view name);

}  // namespace mtls::server
