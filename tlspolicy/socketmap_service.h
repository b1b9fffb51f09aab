// The socketmap server Postfix's smtp_tls_policy_maps talks to
// (socketmap_table(5)): netstring requests "<name> <next-hop>", one netstring
// reply each, in order, on connections Postfix keeps open. The sockets are
// served by a StreamServer thread (core/server/stream_server.h); answers
// that need DNS or HTTPS are computed on a WorkerPool
// (core/server/worker_pool.h), so one slow domain never holds up the
// answers for others. An answer that needs nothing but memory (a cached
// domain) is given on the server thread itself: handing it to a worker and
// back cost two thread wake-ups, most of a cached answer's time, and on a
// busy machine each wake-up can wait milliseconds for a CPU.
#pragma once

#include <functional>
#include <optional>
#include <string_view>

#include "policy_decision.h"
#include "server/listen_address.h"
#include "server/stream_server.h"
#include "server/worker_pool.h"

namespace mtls::tlspolicy {

struct SocketmapServiceLimits {
    std::size_t workers = 32;
    std::size_t max_queued = 4096;  // answers waiting for a worker; beyond: TEMP at once
    // Requests of one connection awaiting their answers. Postfix sends one
    // and waits; a peer that sends more without reading is cut off.
    std::size_t max_in_flight = 16;
    server::StreamLimits stream;
};

class SocketmapService {
public:
    // The answer to one key (after the map name); called on worker threads,
    // also logs and counts it. An exception becomes "TEMP internal error".
    using Answerer = std::function<Decision(std::string_view key)>;
    // The answer when it can be given without waiting for anything (from
    // memory), else std::nullopt; called on the thread that serves the
    // sockets, so that a cached answer costs no hand-off to a worker and
    // back. Logs and counts what it answers, like Answerer.
    using MemoryAnswerer = std::function<std::optional<Decision>(std::string_view key)>;
    using Log = server::StreamServer::Log;

    // Listens at once; throws std::runtime_error when it cannot.
    SocketmapService(const ListenAddress& address, Answerer answer, Log log, SocketmapServiceLimits limits = {},
                     MemoryAnswerer answer_from_memory = {});
    // Stops accepting, lets the answers in progress finish (bounded by the
    // DNS and HTTPS timeouts), then closes every connection.
    ~SocketmapService();
    SocketmapService(const SocketmapService&) = delete;
    SocketmapService& operator=(const SocketmapService&) = delete;

    [[nodiscard]] std::uint16_t port() const { return server_->port(); }

private:
    class Connection;

    // The encoded reply from answer_from_memory_, or std::nullopt: the
    // request goes to a worker.
    [[nodiscard]] std::optional<std::string> reply_from_memory(const std::string& key) const noexcept;

    Answerer answer_;
    MemoryAnswerer answer_from_memory_;
    Log log_;
    SocketmapServiceLimits limits_;
    std::optional<server::WorkerPool> pool_;  // stopped before server_ goes: its jobs wake server_
    std::optional<server::StreamServer> server_;
};

}  // namespace mtls::tlspolicy
