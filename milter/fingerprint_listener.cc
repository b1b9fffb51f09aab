#include "fingerprint_listener.h"

#include <fmt/format.h>

#include <optional>
#include <stdexcept>

#include "mtls/verdict_record.h"
#include "server/listener.h"

namespace mtls::milter {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kAnswer = "action=DUNNO\n\n";
constexpr int kBacklog = 64;
constexpr std::string_view kLogName = "policy channel";

std::string option_text(const ListenAddress& address) {
    return "policy-socket " + to_string(address);
}

server::StreamLimits stream_limits(const FingerprintListener::Limits& limits) {
    return server::StreamLimits{limits.max_clients, limits.idle_timeout, limits.max_unsent};
}

}  // namespace

std::vector<std::string> policy_socket_problems(const ListenAddress& address) {
    return server::unix_socket_problems(address, option_text(address));
}

// One Postfix policy connection: many requests, each answered DUNNO.
class FingerprintListener::PolicyConnection final : public server::ConnectionHandler {
public:
    PolicyConnection(FingerprintListener& owner, std::uint64_t serial)
        : owner_(owner), reader_(owner.limits_.reader), serial_(serial) {}

    void received(std::string_view bytes) override { reader_.append(bytes); }

    std::optional<std::string> next_reply() override {
        const auto request = reader_.next();
        if (!request) {
            return std::nullopt;
        }
        try {
            owner_.handle(*this, *request);
        } catch (const std::exception& error) {
            // Still answered: a fault of ours must not fail Postfix's request.
            owner_.log_(Severity::error,
                        fmt::format("{}: connection #{}: {}", kLogName, serial_, escape_for_log(error.what())));
        }
        return std::string(kAnswer);
    }

    [[nodiscard]] std::string protocol_error() const override { return reader_.error(); }

    // Each problem is logged once per connection: Postfix sends the same
    // attributes on every request of it, and keeps it open for minutes.
    bool warned_digest = false;
    bool warned_client = false;

private:
    FingerprintListener& owner_;
    PolicyRequestReader reader_;
    std::uint64_t serial_;
};

FingerprintListener::FingerprintListener(const ListenAddress& address, std::shared_ptr<FingerprintStore> sessions,
                                         Log log, Limits limits)
    : sessions_(sessions ? std::move(sessions) : throw std::invalid_argument("policy server: no session store")),
      log_(std::move(log)),
      limits_(limits),
      server_(
          server::Listener(address, option_text(address), kBacklog), std::string(kLogName),
          [this](std::uint64_t serial) { return std::make_unique<PolicyConnection>(*this, serial); }, log_,
          stream_limits(limits_)) {}

FingerprintListener::~FingerprintListener() = default;

std::uint16_t FingerprintListener::port() const {
    return server_.port();
}

std::size_t FingerprintListener::clients() const {
    return server_.clients();
}

void FingerprintListener::handle(PolicyConnection& client, const PolicyRequest& request) {
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
