// One connect-back probe: TCP to the client's own address, the banner, EHLO
// with our host name, STARTTLS, a TLS handshake that records the peer's chain
// without judging it (that happens afterwards, against our trust anchors),
// QUIT. A state machine on a non-blocking socket, so that one event thread
// (core/discovery/certificate_discovery.cc) drives many probes: it polls
// fd() for events() until deadline() and then calls advance().
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "base/ip_address.h"
#include "base/openssl_ptr.h"
#include "base/unique_fd.h"
#include "discovery/probe_result.h"
#include "discovery/smtp_reply.h"
#include "tls/fingerprint.h"

namespace mtls::discovery {

using SslCtxPtr = std::unique_ptr<SSL_CTX, FreeWith<&SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, FreeWith<&SSL_free>>;
using Clock = std::chrono::steady_clock;

// Plain-text bytes a probe reads at most (banner, EHLO and STARTTLS replies).
inline constexpr std::size_t kMaxProbeTextBytes = std::size_t{64} * 1024;
// The TLS Certificate message a probe accepts at most (SSL_CTX_set_max_cert_list).
inline constexpr long kMaxCertificateMessage = 64L * 1024;

// Where to probe and what to look for. The address is always the connecting
// client's: never one taken from DNS (see certificate_discovery.h).
struct ProbeTarget {
    IpAddress address;
    std::uint16_t port = 25;
    Sha256Digest fingerprint{};
    // SNI for the handshake, e.g. the Client MX host whose address records
    // hold this address; empty: none.
    std::string server_name;
};

struct ProbeTiming {
    Clock::time_point deadline;              // of the whole probe
    std::chrono::milliseconds step{10'000};  // connect, each reply, the handshake
};

// The client context every probe shares: any certificate is accepted during
// the handshake, because verification happens afterwards on the bytes.
Expected<SslCtxPtr> make_probe_tls_context();

class SmtpProbe {
public:
    // helo_name: our host name for EHLO. tls must outlive the probe.
    SmtpProbe(ProbeTarget target, std::string helo_name, SSL_CTX* tls, ProbeTiming timing);

    // Opens the socket and starts connecting; the probe may be done at once.
    void start();
    // Runs as far as the socket allows; call when fd() is ready or when
    // deadline() has passed (then the probe ends as timed out).
    void advance();

    [[nodiscard]] bool done() const { return state_ == State::done; }
    [[nodiscard]] int fd() const { return socket_.get(); }
    [[nodiscard]] short events() const { return events_; }  // POLLIN and/or POLLOUT
    [[nodiscard]] Clock::time_point deadline() const;
    [[nodiscard]] const ProbeTarget& target() const { return target_; }
    // Once done.
    [[nodiscard]] ProbeResult take_result() { return std::move(result_); }

private:
    enum class State { idle, connecting, banner, ehlo, starttls, handshake, done };

    void finish(ProbeOutcome outcome, std::string reason);
    void enter(State state);
    // Sends what is queued; false when it must wait (or the probe ended).
    bool flush();
    void send_command(std::string command, State next);
    // The next reply, or nullptr when more bytes are needed (or the probe ended).
    std::optional<SmtpReply> read_reply();
    void on_connected();
    void on_reply(const SmtpReply& reply);
    void handshake();
    void capture_chain();
    [[nodiscard]] std::string peer() const;
    [[nodiscard]] std::string_view step_name() const;

    ProbeTarget target_;
    std::string helo_name_;
    SSL_CTX* tls_;
    ProbeTiming timing_;
    State state_ = State::idle;
    Clock::time_point step_deadline_{};
    UniqueFd socket_;
    SslPtr ssl_;
    short events_ = 0;
    std::string output_;
    SmtpReplyReader reader_;
    std::size_t text_bytes_ = 0;
    ProbeResult result_;
};

}  // namespace mtls::discovery
