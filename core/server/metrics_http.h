// A minimal HTTP endpoint for Prometheus scrapes (GET /metrics), served by a
// StreamServer (core/server/stream_server.h): one request per connection,
// few connections, every one bounded by a short idle timeout. A scrape every
// few seconds needs nothing more, and it must never disturb mail.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "server/listen_address.h"
#include "server/stream_server.h"

namespace mtls::server {

class MetricsServer {
public:
    // Binds and listens at once (throws std::runtime_error on failure);
    // render is called for each scrape, from the server's thread. program
    // names the daemon in the answer to any other request.
    MetricsServer(const Endpoint& endpoint, std::function<std::string()> render, std::string_view program,
                  StreamServer::Log log = {});
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;

    [[nodiscard]] std::uint16_t port() const { return server_.port(); }

private:
    std::function<std::string()> render_;
    std::string not_found_;
    StreamServer server_;  // last: its thread uses the members above
};

// The HTTP answer to one request head (what came before "\r\n\r\n", or as
// much of it as was read): the rendered metrics for GET /metrics, 404 with
// not_found as the body for anything else, 500 when render throws.
std::string answer_scrape(std::string_view request, const std::function<std::string()>& render,
                          std::string_view not_found);

}  // namespace mtls::server
