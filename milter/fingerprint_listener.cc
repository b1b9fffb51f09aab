#include "fingerprint_listener.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <optional>
#include <stdexcept>

#include "mtls/verdict_record.h"

namespace mtls::milter {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kAnswer = "action=DUNNO\n\n";
constexpr std::size_t kReadChunk = 4096;
// Per wakeup and client: one busy client must not starve the others.
constexpr int kMaxReadsPerWakeup = 16;
constexpr int kMaxAcceptsPerWakeup = 64;
constexpr int kBacklog = 64;
constexpr auto kRefusalLogInterval = std::chrono::seconds(60);
constexpr auto kAcceptPause = std::chrono::seconds(1);

[[noreturn]] void fail(std::string_view what) {
    throw std::runtime_error(fmt::format("{}: {}", what, std::strerror(errno)));
}

bool would_block() {
    return errno == EAGAIN || errno == EWOULDBLOCK;
}

}  // namespace

std::vector<std::string> policy_socket_problems(const ListenAddress& address) {
    std::vector<std::string> problems;
    const std::string& path = address.unix_path;
    if (path.empty()) {
        return problems;
    }
    if (path.size() >= sizeof(sockaddr_un::sun_path)) {
        problems.push_back(fmt::format("policy-socket unix:{}: path too long for a unix socket", path));
    }
    const auto slash = path.rfind('/');
    const std::string directory = slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
    struct stat info {};
    if (stat(directory.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
        problems.push_back(fmt::format("policy-socket unix:{}: the directory does not exist", path));
    } else if (lstat(path.c_str(), &info) == 0 && !S_ISSOCK(info.st_mode)) {
        problems.push_back(fmt::format("policy-socket unix:{}: exists and is not a socket", path));
    }
    return problems;
}

struct FingerprintListener::Client {
    UniqueFd fd;
    PolicyRequestReader reader;
    std::string unsent;
    Clock::time_point last_activity;
    std::uint64_t serial = 0;
    // Each problem is logged once per connection: Postfix sends the same
    // attributes on every request of it, and keeps it open for minutes.
    bool warned_digest = false;
    bool warned_client = false;
    bool closing = false;
};

FingerprintListener::FingerprintListener(const ListenAddress& address, std::shared_ptr<FingerprintStore> sessions,
                                         Log log, Limits limits)
    : sessions_(std::move(sessions)), log_(std::move(log)), limits_(limits) {
    if (!sessions_) {
        throw std::invalid_argument("policy server: no session store");
    }
    wakeup_ = UniqueFd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!wakeup_.valid()) {
        fail("policy-socket: eventfd");
    }
    if (!address.unix_path.empty()) {
        listen_unix(address.unix_path);
    } else {
        listen_inet(address.inet);
    }
    thread_ = std::thread([this] { serve(); });
}

FingerprintListener::~FingerprintListener() {
    stopping_ = true;
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto written = write(wakeup_.get(), &one, sizeof one);
    thread_.join();
    listener_.reset();
    if (!unix_path_.empty()) {
        struct stat info {};
        if (lstat(unix_path_.c_str(), &info) == 0 && info.st_dev == unix_device_ && info.st_ino == unix_inode_) {
            unlink(unix_path_.c_str());
        }
    }
}

void FingerprintListener::listen_unix(const std::string& path) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.size() >= sizeof address.sun_path) {
        throw std::runtime_error(fmt::format("policy-socket unix:{}: path too long", path));
    }
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    const auto* generic = reinterpret_cast<const sockaddr*>(&address);

    struct stat info {};
    if (lstat(path.c_str(), &info) == 0) {
        if (!S_ISSOCK(info.st_mode)) {
            throw std::runtime_error(fmt::format("policy-socket unix:{}: exists and is not a socket", path));
        }
        // A socket someone still accepts on is not stale: taking it over
        // would silently cut off another daemon (or a second copy of us).
        const UniqueFd probe(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
        if (probe.valid() && (connect(probe.get(), generic, sizeof address) == 0 || errno == EAGAIN)) {
            throw std::runtime_error(fmt::format("policy-socket unix:{}: another process listens on it", path));
        }
        if (unlink(path.c_str()) != 0 && errno != ENOENT) {
            fail(fmt::format("policy-socket unix:{}: cannot remove the stale socket", path));
        }
    }
    listener_ = UniqueFd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!listener_.valid()) {
        fail("policy-socket: socket");
    }
    if (bind(listener_.get(), generic, sizeof address) != 0) {
        fail(fmt::format("policy-socket unix:{}", path));
    }
    unix_path_ = path;
    if (lstat(path.c_str(), &info) == 0) {
        unix_device_ = info.st_dev;
        unix_inode_ = info.st_ino;
    }
    if (listen(listener_.get(), kBacklog) != 0) {
        fail(fmt::format("policy-socket unix:{}: listen", path));
    }
}

void FingerprintListener::listen_inet(const Endpoint& endpoint) {
    const bool v4 = endpoint.address.family() == IpAddress::Family::v4;
    const std::string name = to_string(ListenAddress{{}, endpoint});
    listener_ = UniqueFd(socket(v4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!listener_.valid()) {
        fail("policy-socket: socket");
    }
    const int on = 1;
    setsockopt(listener_.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    sockaddr_storage address{};
    socklen_t length = endpoint.address.to_sockaddr(endpoint.port, address);
    if (bind(listener_.get(), reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        listen(listener_.get(), kBacklog) != 0) {
        fail(fmt::format("policy-socket {}", name));
    }
    length = sizeof address;
    if (getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&address), &length) == 0) {
        port_ = ntohs(v4 ? reinterpret_cast<sockaddr_in*>(&address)->sin_port
                         : reinterpret_cast<sockaddr_in6*>(&address)->sin6_port);
    }
}

void FingerprintListener::serve() {
    // Nothing may escape the thread: std::terminate would take the mail
    // filter down with it. The policy channel is an extra; without it the
    // milter still works (it only lacks fingerprints).
    try {
        std::vector<Client> clients;
        std::vector<pollfd> fds;
        while (!stopping_) {
            const auto now = Clock::now();
            const bool accepting = now >= accept_paused_until_;
            fds.clear();
            fds.push_back({wakeup_.get(), POLLIN, 0});
            fds.push_back({listener_.get(), static_cast<short>(accepting ? POLLIN : 0), 0});
            auto wake_at = accepting ? Clock::time_point::max() : accept_paused_until_;
            for (const auto& client : clients) {
                fds.push_back(
                    {client.fd.get(), static_cast<short>(client.unsent.empty() ? POLLIN : POLLIN | POLLOUT), 0});
                wake_at = std::min(wake_at, client.last_activity + limits_.idle_timeout);
            }
            int timeout = -1;
            if (wake_at != Clock::time_point::max()) {
                const auto wait = std::chrono::ceil<std::chrono::milliseconds>(wake_at - now).count();
                timeout = static_cast<int>(std::clamp<decltype(wait)>(wait, 0, 60000));
            }
            if (poll(fds.data(), fds.size(), timeout) < 0) {
                if (errno == EINTR) {
                    continue;
                }
                fail("poll");
            }
            if (stopping_) {
                break;
            }
            const auto after = Clock::now();
            for (std::size_t i = 0; i < clients.size(); ++i) {
                Client& client = clients[i];
                const short events = fds[i + 2].revents;
                if ((events & (POLLIN | POLLHUP | POLLERR)) != 0 && !receive(client)) {
                    client.closing = true;
                }
                if (!client.closing && (events & POLLOUT) != 0 && !flush(client)) {
                    client.closing = true;
                }
                if (!client.closing && after - client.last_activity >= limits_.idle_timeout) {
                    client.closing = true;
                }
            }
            std::erase_if(clients, [](const Client& client) { return client.closing; });
            if ((fds[1].revents & POLLIN) != 0) {
                accept_clients(clients);
            }
            client_count_ = clients.size();
        }
    } catch (const std::exception& error) {
        // Refused connections make Postfix give up at once; a listener nobody
        // accepts on would hold each request for smtpd_policy_service_timeout.
        listener_.reset();
        try {
            log_(Severity::error, fmt::format("policy channel stopped: {}", escape_for_log(error.what())));
        } catch (...) {  // NOLINT(bugprone-empty-catch): nowhere left to report to
        }
    }
    client_count_ = 0;
}

void FingerprintListener::accept_clients(std::vector<Client>& clients) {
    for (int round = 0; round < kMaxAcceptsPerWakeup; ++round) {
        UniqueFd fd(accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
        const auto now = Clock::now();
        if (!fd.valid()) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                accept_paused_until_ = now + kAcceptPause;
                if (now - last_refusal_log_ >= kRefusalLogInterval) {
                    last_refusal_log_ = now;
                    log_(Severity::warning,
                         fmt::format("policy channel: cannot accept connections: {}", std::strerror(errno)));
                }
            }
            return;
        }
        if (clients.size() >= limits_.max_clients) {
            // Closed at once, so that Postfix fails over (and applies its
            // smtpd_policy_service_default_action) instead of hanging.
            if (now - last_refusal_log_ >= kRefusalLogInterval) {
                last_refusal_log_ = now;
                log_(Severity::warning,
                     fmt::format("policy channel: {} connections open, refusing more", limits_.max_clients));
            }
            continue;
        }
        Client client{std::move(fd), PolicyRequestReader(limits_.reader), {}, now, ++connection_serial_};
        clients.push_back(std::move(client));
    }
}

bool FingerprintListener::receive(Client& client) {
    std::array<char, kReadChunk> buffer{};
    for (int round = 0; round < kMaxReadsPerWakeup; ++round) {
        const auto got = recv(client.fd.get(), buffer.data(), buffer.size(), 0);
        if (got == 0) {
            return false;  // Postfix closed it (max_idle, max_ttl, smtpd exit)
        }
        if (got < 0) {
            if (would_block()) {
                break;
            }
            if (errno == EINTR) {
                continue;
            }
            return false;
        }
        client.last_activity = Clock::now();
        client.reader.append(std::string_view(buffer.data(), static_cast<std::size_t>(got)));
        while (const auto request = client.reader.next()) {
            try {
                handle(client, *request);
            } catch (const std::exception& error) {
                // Still answered: a fault of ours must not fail Postfix's request.
                log_(Severity::error,
                     fmt::format("policy channel: connection #{}: {}", client.serial, escape_for_log(error.what())));
            }
            client.unsent.append(kAnswer);
            if (client.unsent.size() > limits_.max_unsent &&
                (!flush(client) || client.unsent.size() > limits_.max_unsent)) {
                log_(Severity::warning, fmt::format("policy channel: connection #{} does not read its answers; "
                                                    "closing it",
                                                    client.serial));
                return false;
            }
        }
        if (client.reader.failed()) {
            log_(Severity::warning, fmt::format("policy channel: connection #{} broke the protocol ({}); closing it",
                                                client.serial, client.reader.error()));
            flush(client);  // the answers to its earlier requests, if they fit
            return false;
        }
        if (static_cast<std::size_t>(got) < buffer.size()) {
            break;
        }
    }
    return flush(client);
}

bool FingerprintListener::flush(Client& client) {
    while (!client.unsent.empty()) {
        const auto sent =
            send(client.fd.get(), client.unsent.data(), client.unsent.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent < 0) {
            if (would_block()) {
                return true;  // the rest when poll says POLLOUT
            }
            if (errno == EINTR) {
                continue;
            }
            return false;
        }
        client.unsent.erase(0, static_cast<std::size_t>(sent));
    }
    return true;
}

void FingerprintListener::handle(Client& client, const PolicyRequest& request) {
    const auto tls = client_tls_from(request);
    const auto client_text = [&] {
        return fmt::format("client={} port={}", escape_for_log(request.get("client_address").value_or("")),
                           escape_for_log(request.get("client_port").value_or("")));
    };
    if (!tls.unusable.empty() && !client.warned_digest) {
        client.warned_digest = true;
        const auto& first = tls.unusable.front();
        log_(Severity::warning,
             fmt::format("policy channel: {} {}={} is {}; set smtpd_tls_fingerprint_digest = sha256 in Postfix's "
                         "main.cf, or certificates cannot be matched by fingerprint",
                         client_text(), first.attribute, escape_for_log(first.value), first.why));
    }
    if (tls.fingerprints.empty()) {
        return;  // no client certificate: the usual case, nothing to say
    }
    std::optional<Endpoint> endpoint;
    if (tls.client) {
        endpoint = Endpoint::parse(tls.client->address, tls.client->port);
    }
    if (!endpoint) {
        if (!client.warned_client) {
            client.warned_client = true;
            log_(Severity::warning,
                 fmt::format("policy channel: a request with a certificate fingerprint but {} ({}); its "
                             "fingerprints cannot be matched to a milter connection",
                             tls.client ? "an unusable client address or port" : "no client_address or client_port",
                             client_text()));
        }
        return;
    }
    // Recorded before the answer goes out: Postfix carries on with the SMTP
    // session only after reading it, so the milter never asks too early.
    sessions_->record(*endpoint, tls.fingerprints, Clock::now());
}

}  // namespace mtls::milter
