// One thread that serves a listening socket's clients by poll(2): the loop
// under every request/response service here (Postfix's policy delegation in
// milter/fingerprint_listener.h, the Prometheus endpoint in
// core/server/metrics_http.h, a Postfix socketmap next). The protocol is a
// ConnectionHandler per connection; the loop does the sockets and the
// limits, so that no peer can make it block, busy-loop or grow unbounded:
// clients are bounded in number, idle time and unread replies, and one busy
// client cannot starve the others. A handler may also answer later, from
// another thread, and say so with replies_ready() (tlspolicy/ does, whose
// answers wait for DNS and HTTPS).
#pragma once

#include <poll.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/logger.h"
#include "base/wakeup_event.h"
#include "server/listener.h"

namespace mtls::server {

// One connection's side of a request/response protocol. The server hands it
// the bytes as they come and sends each reply it produces, in order. It is
// called from the server's thread only.
class ConnectionHandler {
public:
    ConnectionHandler() = default;
    virtual ~ConnectionHandler() = default;
    ConnectionHandler(const ConnectionHandler&) = delete;
    ConnectionHandler& operator=(const ConnectionHandler&) = delete;

    // Bytes the peer sent, in order; what is not yet a whole request is the
    // handler's to keep.
    virtual void received(std::string_view bytes) = 0;
    // The reply to the next complete request, or nullopt when none is
    // complete. Called after each received() until it returns nullopt. An
    // exception closes this connection (and is logged), no other.
    virtual std::optional<std::string> next_reply() = 0;
    // Non-empty once the peer broke the protocol beyond repair: the replies
    // so far are sent (if they fit), the reason logged, the connection closed.
    [[nodiscard]] virtual std::string protocol_error() const = 0;
    // True when the connection ends once its replies are sent (one request
    // per connection, as HTTP with "Connection: close").
    [[nodiscard]] virtual bool finished() const { return false; }
};

struct StreamLimits {
    std::size_t max_clients = 256;
    std::chrono::milliseconds idle_timeout{std::chrono::seconds(330)};
    // Replies a client has not read yet; past this it is closed.
    std::size_t max_unsent = 16384;
};

class StreamServer {
public:
    // Text must already be safe for a log; called from the server's thread.
    using Log = std::function<void(Severity, std::string_view)>;
    // serial numbers the connections in the log, from 1.
    using HandlerFactory = std::function<std::unique_ptr<ConnectionHandler>(std::uint64_t serial)>;

    // Starts serving at once. name starts every log line ("policy channel").
    StreamServer(Listener listener, std::string name, HandlerFactory make_handler, Log log, StreamLimits limits);
    // Stops the thread, closes every connection and the listener.
    ~StreamServer();
    StreamServer(const StreamServer&) = delete;
    StreamServer& operator=(const StreamServer&) = delete;

    [[nodiscard]] std::uint16_t port() const { return port_; }
    // Open client connections, for tests and diagnostics.
    [[nodiscard]] std::size_t clients() const { return client_count_; }

    // From any thread: some handler has a reply ready that was not ready
    // when its request arrived (a handler that answers from worker threads);
    // the server asks every handler's next_reply() again.
    void replies_ready() const noexcept { ready_.signal(); }

private:
    using Clock = std::chrono::steady_clock;
    struct Client;

    void serve();
    void serve_until_stopped();
    int poll_timeout(const std::vector<Client>& clients, Clock::time_point now) const;
    void handle_events(std::vector<Client>& clients, const std::vector<pollfd>& fds, bool replies_ready);
    void accept_clients(std::vector<Client>& clients);
    void note_refusal(Clock::time_point now, std::string_view why);
    // Reads what is there and answers every complete request; false when
    // the client is to be closed.
    bool receive(Client& client);
    bool answer(Client& client);
    static bool flush(Client& client);

    Listener listener_;
    std::string name_;
    HandlerFactory make_handler_;
    Log log_;
    StreamLimits limits_;
    std::uint16_t port_ = 0;
    WakeupEvent wakeup_;  // ends serve()
    WakeupEvent ready_;   // replies_ready()
    std::atomic<bool> stopping_{false};
    std::atomic<std::size_t> client_count_{0};
    std::uint64_t connection_serial_ = 0;
    Clock::time_point last_refusal_log_{};
    // accept() failed for lack of descriptors: until then the listener is
    // not polled, or its pending connection would wake us in a busy loop.
    Clock::time_point accept_paused_until_{};
    std::thread thread_;
};

}  // namespace mtls::server
