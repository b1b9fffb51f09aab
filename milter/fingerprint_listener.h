// Postfix's policy delegation channel (check_policy_service), used only to
// learn the client certificate fingerprints that the milter macros never
// carry. Every request is answered DUNNO: this service must never decide,
// delay or break mail; it records what it saw in the FingerprintStore and
// the milter side picks it up.
//
// One thread polls the listener and every client. Postfix keeps a policy
// connection open for many requests and opens several in parallel, so
// clients are many and long-lived; each is bounded in number, idle time,
// request size and unread answers.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "base/logger.h"
#include "base/unique_fd.h"
#include "fingerprint_store.h"
#include "options/settings.h"
#include "postfix/policy_delegation.h"

namespace mtls::milter {

// What --check-config can see without binding: a path too long for a unix
// socket, a missing directory, a file in the way that is no socket.
std::vector<std::string> policy_socket_problems(const ListenAddress& address);

class FingerprintListener {
public:
    struct Limits {
        std::size_t max_clients = 256;
        // Longer than Postfix's smtpd_policy_service_max_idle (300 s), so
        // that Postfix, not we, ends an idle connection and never sends a
        // request into one we are closing.
        std::chrono::milliseconds idle_timeout{std::chrono::seconds(330)};
        PolicyReaderLimits reader;
        // Answers a client has not read yet; Postfix reads each one before
        // it sends the next request, so only a broken peer gets near this.
        std::size_t max_unsent = 16384;
    };
    // Text must already be safe for a log; called from the server's thread.
    using Log = std::function<void(Severity, std::string_view)>;

    // Binds and listens at once (throws std::runtime_error naming the
    // address on failure). A unix socket is created with the process's
    // umask; a stale socket file is replaced, a live one (something accepts
    // connections on it) or a file that is no socket is left alone.
    FingerprintListener(const ListenAddress& address, std::shared_ptr<FingerprintStore> sessions, Log log,
                        Limits limits);
    FingerprintListener(const ListenAddress& address, std::shared_ptr<FingerprintStore> sessions, Log log)
        : FingerprintListener(address, std::move(sessions), std::move(log), Limits{}) {}
    // Stops the thread, closes every connection, removes the unix socket.
    ~FingerprintListener();
    FingerprintListener(const FingerprintListener&) = delete;
    FingerprintListener& operator=(const FingerprintListener&) = delete;

    // The bound TCP port (useful after binding port 0); 0 for a unix socket.
    [[nodiscard]] std::uint16_t port() const { return port_; }
    // Open client connections, for tests and diagnostics.
    [[nodiscard]] std::size_t clients() const { return client_count_; }

private:
    struct Client;

    void listen_unix(const std::string& path);
    void listen_inet(const Endpoint& endpoint);

    void serve();
    void accept_clients(std::vector<Client>& clients);
    // Reads what is there and answers every complete request; false when
    // the client is to be closed.
    bool receive(Client& client);
    static bool flush(Client& client);
    void handle(Client& client, const PolicyRequest& request);

    std::shared_ptr<FingerprintStore> sessions_;
    Log log_;
    Limits limits_;
    std::string unix_path_;  // removed again at destruction when non-empty
    // The socket file we created: only that one is removed, not one another
    // process put there since.
    std::uint64_t unix_device_ = 0;
    std::uint64_t unix_inode_ = 0;
    std::uint16_t port_ = 0;
    UniqueFd listener_;
    UniqueFd wakeup_;  // eventfd that ends serve()
    std::atomic<bool> stopping_{false};
    std::atomic<std::size_t> client_count_{0};
    std::uint64_t connection_serial_ = 0;  // names connections in the log
    std::chrono::steady_clock::time_point last_refusal_log_{};
    // accept() failed for lack of descriptors: until then the listener is
    // not polled, or its pending connection would wake us in a busy loop.
    std::chrono::steady_clock::time_point accept_paused_until_{};
    std::thread thread_;
};

}  // namespace mtls::milter
