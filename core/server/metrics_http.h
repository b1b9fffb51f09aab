// A minimal HTTP endpoint for Prometheus scrapes (GET /metrics). One thread,
// one request at a time, every read and write bounded by a timeout: a scrape
// every few seconds needs nothing more, and it must never disturb mail.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>

#include "server/listen_address.h"

namespace mtls::server {

class MetricsServer {
public:
    // Binds and listens at once (throws std::runtime_error on failure);
    // render is called for each scrape.
    MetricsServer(const Endpoint& endpoint, std::function<std::string()> render);
    ~MetricsServer();
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;

private:
    void serve();
    void answer(int client) const;

    std::function<std::string()> render_;
    int listener_ = -1;
    int wakeup_ = -1;  // eventfd that ends serve()
    std::atomic<bool> stopping_{false};
    std::thread thread_;
};

}  // namespace mtls::server
