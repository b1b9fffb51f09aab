#include "server/stream_server.h"

#include <sys/socket.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "mtls/verdict_record.h"
#include "server/fail.h"

namespace mtls::server {
namespace {

constexpr std::size_t kReadChunk = 4096;
// Per wakeup and client: one busy client must not starve the others.
constexpr int kMaxReadsPerWakeup = 16;
constexpr int kMaxAcceptsPerWakeup = 64;
constexpr auto kRefusalLogInterval = std::chrono::seconds(60);
constexpr auto kAcceptPause = std::chrono::seconds(1);
constexpr int kMaxPollMs = 60000;

bool would_block() {
    return errno == EAGAIN || errno == EWOULDBLOCK;
}

}  // namespace

struct StreamServer::Client {
    UniqueFd fd;
    std::unique_ptr<ConnectionHandler> handler;
    std::string unsent;
    Clock::time_point last_activity;
    std::uint64_t serial = 0;
    bool closing = false;
};

StreamServer::StreamServer(Listener listener, std::string name, HandlerFactory make_handler, Log log,
                           StreamLimits limits)
    : listener_(std::move(listener)),
      name_(std::move(name)),
      make_handler_(std::move(make_handler)),
      log_(std::move(log)),
      limits_(limits),
      port_(listener_.port()) {
    thread_ = std::thread([this] { serve(); });
}

StreamServer::~StreamServer() {
    stopping_ = true;
    wakeup_.signal();
    thread_.join();
}

void StreamServer::serve() {
    // Nothing may escape the thread: std::terminate would take the whole
    // daemon down with it, for the sake of one of its services.
    try {
        serve_until_stopped();
    } catch (const std::exception& error) {
        // Refused connections make a client (Postfix) give up at once; a
        // listener nobody accepts on would hold each of its requests until
        // the client's own timeout.
        listener_.close();
        try {
            log_(Severity::error, fmt::format("{} stopped: {}", name_, escape_for_log(error.what())));
        } catch (...) {  // NOLINT(bugprone-empty-catch): nowhere left to report to
        }
    }
    client_count_ = 0;
}

void StreamServer::serve_until_stopped() {
    std::vector<Client> clients;
    std::vector<pollfd> fds;
    while (!stopping_) {
        const auto now = Clock::now();
        const bool accepting = now >= accept_paused_until_;
        fds.clear();
        fds.push_back({wakeup_.fd(), POLLIN, 0});
        fds.push_back({listener_.fd(), static_cast<short>(accepting ? POLLIN : 0), 0});
        fds.push_back({ready_.fd(), POLLIN, 0});
        for (const auto& client : clients) {
            fds.push_back({client.fd.get(), static_cast<short>(client.unsent.empty() ? POLLIN : POLLIN | POLLOUT), 0});
        }
        if (poll(fds.data(), fds.size(), poll_timeout(clients, now)) < 0) {
            if (errno == EINTR) {
                continue;
            }
            fail("poll");
        }
        if (stopping_) {
            break;
        }
        const bool replies_ready = (fds[2].revents & POLLIN) != 0;
        if (replies_ready) {
            std::uint64_t count = 0;  // reset the event (non-blocking)
            [[maybe_unused]] const auto got = read(ready_.fd(), &count, sizeof count);
        }
        handle_events(clients, fds, replies_ready);
        if ((fds[1].revents & POLLIN) != 0) {
            accept_clients(clients);
        }
        client_count_ = clients.size();
    }
}

int StreamServer::poll_timeout(const std::vector<Client>& clients, Clock::time_point now) const {
    auto wake_at = now >= accept_paused_until_ ? Clock::time_point::max() : accept_paused_until_;
    for (const auto& client : clients) {
        wake_at = std::min(wake_at, client.last_activity + limits_.idle_timeout);
    }
    if (wake_at == Clock::time_point::max()) {
        return -1;
    }
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(wake_at - now).count();
    return static_cast<int>(std::clamp<decltype(wait)>(wait, 0, kMaxPollMs));
}

void StreamServer::handle_events(std::vector<Client>& clients, const std::vector<pollfd>& fds,
                                 bool replies_ready) {
    constexpr std::size_t kFirstClient = 3;  // after the wakeup, the listener and the ready event
    const auto now = Clock::now();
    for (std::size_t i = 0; i < clients.size(); ++i) {
        Client& client = clients[i];
        const short events = i + kFirstClient < fds.size() ? fds[i + kFirstClient].revents : 0;
        if ((events & (POLLIN | POLLHUP | POLLERR)) != 0 && !receive(client)) {
            client.closing = true;
        }
        if (!client.closing && replies_ready && (!answer(client) || !flush(client))) {
            client.closing = true;
        }
        if (!client.closing && (events & POLLOUT) != 0 && !flush(client)) {
            client.closing = true;
        }
        if (!client.closing && client.unsent.empty() && client.handler->finished()) {
            client.closing = true;
        }
        if (!client.closing && now - client.last_activity >= limits_.idle_timeout) {
            client.closing = true;
        }
    }
    std::erase_if(clients, [](const Client& client) { return client.closing; });
}

void StreamServer::note_refusal(Clock::time_point now, std::string_view why) {
    if (now - last_refusal_log_ >= kRefusalLogInterval) {
        last_refusal_log_ = now;
        log_(Severity::warning, fmt::format("{}: {}", name_, why));
    }
}

void StreamServer::accept_clients(std::vector<Client>& clients) {
    for (int round = 0; round < kMaxAcceptsPerWakeup; ++round) {
        UniqueFd fd(accept4(listener_.fd(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
        const auto now = Clock::now();
        if (!fd.valid()) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                accept_paused_until_ = now + kAcceptPause;
                note_refusal(now, fmt::format("cannot accept connections: {}", std::strerror(errno)));
            }
            return;
        }
        if (clients.size() >= limits_.max_clients) {
            // Closed at once, so that the client fails over (Postfix applies
            // its smtpd_policy_service_default_action) instead of hanging.
            note_refusal(now, fmt::format("{} connections open, refusing more", limits_.max_clients));
            continue;
        }
        const auto serial = ++connection_serial_;
        clients.push_back(Client{std::move(fd), make_handler_(serial), {}, now, serial});
    }
}

bool StreamServer::receive(Client& client) {
    std::array<char, kReadChunk> buffer{};
    for (int round = 0; round < kMaxReadsPerWakeup; ++round) {
        const auto got = recv(client.fd.get(), buffer.data(), buffer.size(), 0);
        if (got == 0) {
            flush(client);  // a peer that only shut down its sending side still gets its replies
            return false;   // the peer closed it (for Postfix: max_idle, max_ttl, smtpd exit)
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
        client.handler->received(std::string_view(buffer.data(), static_cast<std::size_t>(got)));
        if (!answer(client)) {
            return false;
        }
        if (static_cast<std::size_t>(got) < buffer.size()) {
            break;
        }
    }
    return flush(client);
}

bool StreamServer::answer(Client& client) {
    try {
        while (auto reply = client.handler->next_reply()) {
            client.unsent.append(*reply);
            if (client.unsent.size() > limits_.max_unsent &&
                (!flush(client) || client.unsent.size() > limits_.max_unsent)) {
                log_(Severity::warning,
                     fmt::format("{}: connection #{} does not read its answers; closing it", name_, client.serial));
                return false;
            }
        }
        if (const auto error = client.handler->protocol_error(); !error.empty()) {
            log_(Severity::warning,
                 fmt::format("{}: connection #{} broke the protocol ({}); closing it", name_, client.serial, error));
            flush(client);  // the answers to its earlier requests, if they fit
            return false;
        }
    } catch (const std::exception& error) {
        log_(Severity::error,
             fmt::format("{}: connection #{}: {}; closing it", name_, client.serial, escape_for_log(error.what())));
        return false;
    }
    return true;
}

bool StreamServer::flush(Client& client) {
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

}  // namespace mtls::server
