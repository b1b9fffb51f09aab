#include "server/metrics_http.h"

#include <fmt/format.h>

#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <utility>

namespace mtls::server {
namespace {

// A scraper sends its request head at once and reads the answer at once.
constexpr auto kIdleTimeout = std::chrono::seconds(2);
constexpr std::size_t kMaxRequest = 8192;
constexpr std::size_t kMaxClients = 8;
constexpr std::size_t kMaxUnsent = std::size_t{1} << 20;
constexpr int kBacklog = 16;

// Reads the request head only (a scraper sends no body) and answers once.
class ScrapeConnection final : public ConnectionHandler {
public:
    ScrapeConnection(const std::function<std::string()>& render, std::string_view not_found)
        : render_(render), not_found_(not_found) {}

    void received(std::string_view bytes) override {
        if (!answered_) {
            request_.append(bytes.substr(0, kMaxRequest - std::min(kMaxRequest, request_.size())));
        }
    }

    std::optional<std::string> next_reply() override {
        if (answered_ || (request_.find("\r\n\r\n") == std::string::npos && request_.size() < kMaxRequest)) {
            return std::nullopt;
        }
        answered_ = true;
        return answer_scrape(request_, render_, not_found_);
    }

    [[nodiscard]] std::string protocol_error() const override { return {}; }
    [[nodiscard]] bool finished() const override { return answered_; }

private:
    const std::function<std::string()>& render_;
    std::string_view not_found_;
    std::string request_;
    bool answered_ = false;
};

}  // namespace

std::string answer_scrape(std::string_view request, const std::function<std::string()>& render,
                          std::string_view not_found) {
    const bool scrape = request.starts_with("GET /metrics ") || request.starts_with("GET /metrics?");
    std::string body;
    std::string_view status = "404 Not Found";
    std::string_view type = "text/plain; charset=utf-8";
    if (scrape) {
        try {
            body = render();
            status = "200 OK";
            type = "text/plain; version=0.0.4; charset=utf-8";
        } catch (const std::exception&) {
            status = "500 Internal Server Error";
        }
    } else {
        body = not_found;
    }
    return fmt::format("HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}", status,
                       type, body.size(), body);
}

MetricsServer::MetricsServer(const Endpoint& endpoint, std::function<std::string()> render, std::string_view program,
                             StreamServer::Log log)
    : render_(std::move(render)),
      not_found_(fmt::format("{} serves GET /metrics only\n", program)),
      server_(
          Listener(ListenAddress{{}, endpoint},
                   fmt::format("metrics {}:{}", endpoint.address.to_string(), endpoint.port), kBacklog),
          "metrics endpoint",
          [this](std::uint64_t /*serial*/) { return std::make_unique<ScrapeConnection>(render_, not_found_); },
          log ? std::move(log) : [](Severity, std::string_view) {},
          StreamLimits{kMaxClients, kIdleTimeout, kMaxUnsent}) {}

}  // namespace mtls::server
