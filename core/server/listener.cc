#include "server/listener.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "server/fail.h"

namespace mtls::server {

Listener::Listener(const ListenAddress& address, std::string name, int backlog) : name_(std::move(name)) {
    if (!address.unix_path.empty()) {
        listen_unix(address.unix_path, backlog);
    } else {
        listen_inet(address.inet, backlog);
    }
}

Listener::Listener(Listener&& other) noexcept
    : name_(std::move(other.name_)),
      fd_(std::move(other.fd_)),
      port_(other.port_),
      unix_path_(std::exchange(other.unix_path_, {})),
      unix_device_(other.unix_device_),
      unix_inode_(other.unix_inode_) {}

Listener::~Listener() {
    close();
}

void Listener::close() noexcept {
    fd_.reset();
    if (unix_path_.empty()) {
        return;
    }
    struct stat info {};
    if (lstat(unix_path_.c_str(), &info) == 0 && info.st_dev == unix_device_ && info.st_ino == unix_inode_) {
        unlink(unix_path_.c_str());
    }
    unix_path_.clear();
}

void Listener::listen_unix(const std::string& path, int backlog) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.size() >= sizeof address.sun_path) {
        throw std::runtime_error(fmt::format("{}: path too long", name_));
    }
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    const auto* generic = reinterpret_cast<const sockaddr*>(&address);

    struct stat info {};
    if (lstat(path.c_str(), &info) == 0) {
        if (!S_ISSOCK(info.st_mode)) {
            throw std::runtime_error(fmt::format("{}: exists and is not a socket", name_));
        }
        // A socket someone still accepts on is not stale: taking it over
        // would silently cut off another daemon (or a second copy of us).
        const UniqueFd probe(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
        if (probe.valid() && (connect(probe.get(), generic, sizeof address) == 0 || errno == EAGAIN)) {
            throw std::runtime_error(fmt::format("{}: another process listens on it", name_));
        }
        if (unlink(path.c_str()) != 0 && errno != ENOENT) {
            fail(fmt::format("{}: cannot remove the stale socket", name_));
        }
    }
    fd_ = UniqueFd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd_.valid()) {
        fail(fmt::format("{}: socket", name_));
    }
    if (bind(fd_.get(), generic, sizeof address) != 0) {
        fail(name_);
    }
    unix_path_ = path;
    if (lstat(path.c_str(), &info) == 0) {
        unix_device_ = info.st_dev;
        unix_inode_ = info.st_ino;
    }
    if (listen(fd_.get(), backlog) != 0) {
        fail(fmt::format("{}: listen", name_));
    }
}

void Listener::listen_inet(const Endpoint& endpoint, int backlog) {
    const bool v4 = endpoint.address.family() == IpAddress::Family::v4;
    fd_ = UniqueFd(socket(v4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd_.valid()) {
        fail(fmt::format("{}: socket", name_));
    }
    const int on = 1;
    setsockopt(fd_.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    sockaddr_storage address{};
    socklen_t length = endpoint.address.to_sockaddr(endpoint.port, address);
    if (bind(fd_.get(), reinterpret_cast<sockaddr*>(&address), length) != 0 || listen(fd_.get(), backlog) != 0) {
        fail(name_);
    }
    length = sizeof address;
    if (getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&address), &length) == 0) {
        port_ = ntohs(v4 ? reinterpret_cast<sockaddr_in*>(&address)->sin_port
                         : reinterpret_cast<sockaddr_in6*>(&address)->sin6_port);
    }
}

std::vector<std::string> unix_socket_problems(const ListenAddress& address, std::string_view name) {
    std::vector<std::string> problems;
    const std::string& path = address.unix_path;
    if (path.empty()) {
        return problems;
    }
    if (path.size() >= sizeof(sockaddr_un::sun_path)) {
        problems.push_back(fmt::format("{}: path too long for a unix socket", name));
    }
    const auto slash = path.rfind('/');
    const std::string directory = slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
    struct stat info {};
    if (stat(directory.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
        problems.push_back(fmt::format("{}: the directory does not exist", name));
    } else if (lstat(path.c_str(), &info) == 0 && !S_ISSOCK(info.st_mode)) {
        problems.push_back(fmt::format("{}: exists and is not a socket", name));
    }
    return problems;
}

}  // namespace mtls::server
