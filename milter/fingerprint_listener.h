// Postfix's policy delegation channel (check_policy_service), used only to
// learn the client certificate fingerprints that the milter macros never
// carry. Every request is answered DUNNO: this service must never decide,
// delay or break mail; it records what it saw in the FingerprintStore and
// the milter side picks it up.
//
// The connections are served by a server::StreamServer
// (core/server/stream_server.h). Postfix keeps a policy connection open for
// many requests and opens several in parallel, so clients are many and
// long-lived; each is bounded in number, idle time, request size and unread
// answers.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/logger.h"
#include "fingerprint_store.h"
#include "options/settings.h"
#include "postfix/policy_delegation.h"
#include "server/stream_server.h"

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
    using Log = server::StreamServer::Log;

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
    [[nodiscard]] std::uint16_t port() const;
    // Open client connections, for tests and diagnostics.
    [[nodiscard]] std::size_t clients() const;

private:
    class PolicyConnection;

    void handle(PolicyConnection& client, const PolicyRequest& request);

    std::shared_ptr<FingerprintStore> sessions_;
    Log log_;
    Limits limits_;
    // Last: its thread calls back into the members above, so it starts
    // after them and stops before they go.
    server::StreamServer server_;
};

}  // namespace mtls::milter
