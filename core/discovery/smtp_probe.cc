#include "discovery/smtp_probe.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

namespace mtls::discovery {
namespace {

std::string tls_error_reason() {
    const unsigned long code = ERR_peek_last_error();
    const char* text = code == 0 ? nullptr : ERR_reason_error_string(code);
    std::string reason = text != nullptr ? text : code == 0 ? "connection closed" : fmt::format("error {:#x}", code);
    ERR_clear_error();
    return reason;
}

std::string der_of(X509* certificate) {
    unsigned char* raw = nullptr;
    const int length = i2d_X509(certificate, &raw);
    const OpenSslBytes der(raw);
    if (length <= 0) {
        ERR_clear_error();
        return {};
    }
    return {reinterpret_cast<const char*>(der.get()), static_cast<std::size_t>(length)};
}

bool has_fingerprint(const std::string& der, const Sha256Digest& fingerprint) {
    Sha256Digest digest{};
    unsigned int length = 0;
    return EVP_Digest(der.data(), der.size(), digest.data(), &length, EVP_sha256(), nullptr) == 1 &&
           length == digest.size() && digest == fingerprint;
}

}  // namespace

Expected<SslCtxPtr> make_probe_tls_context() {
    SslCtxPtr context(SSL_CTX_new(TLS_client_method()));
    if (!context) {
        return Error{fmt::format("cannot create a TLS context: {}", tls_error_reason())};
    }
    // The chain is judged afterwards (tls/certificate_chain.h), on the bytes
    // whose digest the MTA gave us; a verification failure here would only
    // hide the certificate.
    SSL_CTX_set_verify(context.get(), SSL_VERIFY_NONE, nullptr);
    SSL_CTX_set_max_cert_list(context.get(), kMaxCertificateMessage);
    SSL_CTX_set_session_cache_mode(context.get(), SSL_SESS_CACHE_OFF);
    return context;
}

SmtpProbe::SmtpProbe(ProbeTarget target, std::string helo_name, SSL_CTX* tls, ProbeTiming timing)
    : target_(std::move(target)), helo_name_(std::move(helo_name)), tls_(tls), timing_(timing) {}

Clock::time_point SmtpProbe::deadline() const {
    return std::min(timing_.deadline, step_deadline_);
}

std::string SmtpProbe::peer() const {
    return target_.address.family() == IpAddress::Family::v6
               ? fmt::format("[{}]:{}", target_.address.to_string(), target_.port)
               : fmt::format("{}:{}", target_.address.to_string(), target_.port);
}

std::string_view SmtpProbe::step_name() const {
    switch (state_) {
        case State::idle:
        case State::connecting: return "connecting";
        case State::banner: return "waiting for the banner";
        case State::ehlo: return "waiting for the EHLO reply";
        case State::starttls: return "waiting for the STARTTLS reply";
        case State::handshake: return "in the TLS handshake";
        case State::done: return "done";
    }
    return "probing";
}

void SmtpProbe::finish(ProbeOutcome outcome, std::string reason) {
    if (state_ == State::done) {
        return;
    }
    state_ = State::done;
    events_ = 0;
    result_.outcome = outcome;
    result_.reason = std::move(reason);
    if (outcome != ProbeOutcome::matched) {
        result_.chain.clear();
    }
    ssl_.reset();
    socket_.reset();
}

void SmtpProbe::enter(State state) {
    state_ = state;
    step_deadline_ = Clock::now() + timing_.step;
    events_ = POLLIN;
}

void SmtpProbe::start() {
    sockaddr_storage address{};
    const socklen_t length = target_.address.to_sockaddr(target_.port, address);
    socket_ = UniqueFd(::socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!socket_.valid()) {
        finish(ProbeOutcome::no_listener, fmt::format("cannot open a socket: {}", std::strerror(errno)));
        return;
    }
    enter(State::connecting);
    events_ = POLLOUT;
    if (::connect(socket_.get(), reinterpret_cast<const sockaddr*>(&address), length) == 0) {
        on_connected();
    } else if (errno != EINPROGRESS) {
        const int error = errno;
        finish(ProbeOutcome::no_listener, fmt::format("cannot connect to {}: {}", peer(), std::strerror(error)));
    }
}

void SmtpProbe::advance() {
    if (state_ == State::done) {
        return;
    }
    if (Clock::now() >= deadline()) {
        finish(ProbeOutcome::timed_out, fmt::format("timed out {} from {}", step_name(), peer()));
        return;
    }
    switch (state_) {
        case State::connecting: {
            int error = 0;
            socklen_t size = sizeof error;
            if (::getsockopt(socket_.get(), SOL_SOCKET, SO_ERROR, &error, &size) != 0) {
                error = errno;
            }
            if (error == EINPROGRESS || error == EALREADY) {
                return;
            }
            if (error != 0) {
                finish(ProbeOutcome::no_listener,
                       error == ECONNREFUSED ? fmt::format("connection refused by {}", peer())
                                             : fmt::format("cannot connect to {}: {}", peer(), std::strerror(error)));
                return;
            }
            on_connected();
            return;
        }
        case State::banner:
        case State::ehlo:
        case State::starttls:
            if (!flush()) {
                return;
            }
            while (state_ != State::done && state_ != State::handshake) {
                auto reply = read_reply();
                if (!reply) {
                    return;
                }
                on_reply(*reply);
            }
            if (state_ == State::handshake) {
                handshake();
            }
            return;
        case State::handshake: handshake(); return;
        case State::idle:
        case State::done: return;
    }
}

void SmtpProbe::on_connected() {
    enter(State::banner);
}

bool SmtpProbe::flush() {
    while (!output_.empty()) {
        const ssize_t sent = ::send(socket_.get(), output_.data(), output_.size(), MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                events_ = POLLOUT;
                return false;
            }
            finish(ProbeOutcome::smtp_failed,
                   fmt::format("cannot send to {} {}: {}", peer(), step_name(), std::strerror(errno)));
            return false;
        }
        output_.erase(0, static_cast<std::size_t>(sent));
    }
    events_ = POLLIN;
    return true;
}

void SmtpProbe::send_command(std::string command, State next) {
    output_ = std::move(command);
    enter(next);
    flush();
}

std::optional<SmtpReply> SmtpProbe::read_reply() {
    while (true) {
        auto reply = reader_.next();
        if (!reply) {
            finish(ProbeOutcome::smtp_failed, fmt::format("{} {}: {}", peer(), step_name(), reply.error()));
            return std::nullopt;
        }
        if (reply->has_value()) {
            // We never pipeline, so nothing may follow a reply: bytes after
            // the STARTTLS reply would be read as if they came inside TLS.
            if (reader_.buffered() != 0) {
                finish(ProbeOutcome::smtp_failed,
                       fmt::format("{} sent data after its reply {} (pipelining or STARTTLS injection)", peer(),
                                   step_name()));
                return std::nullopt;
            }
            return std::move(reply).value();
        }
        std::array<char, 4096> buffer{};
        const ssize_t received = ::recv(socket_.get(), buffer.data(), buffer.size(), 0);
        if (received < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                return std::nullopt;
            }
            finish(ProbeOutcome::smtp_failed, fmt::format("{} {}: {}", peer(), step_name(), std::strerror(errno)));
            return std::nullopt;
        }
        if (received == 0) {
            finish(ProbeOutcome::smtp_failed, fmt::format("{} closed the connection {}", peer(), step_name()));
            return std::nullopt;
        }
        text_bytes_ += static_cast<std::size_t>(received);
        if (text_bytes_ > kMaxProbeTextBytes) {
            finish(ProbeOutcome::smtp_failed, fmt::format("{} sent more than {} bytes", peer(), kMaxProbeTextBytes));
            return std::nullopt;
        }
        reader_.feed({buffer.data(), static_cast<std::size_t>(received)});
    }
}

void SmtpProbe::on_reply(const SmtpReply& reply) {
    const auto refuse = [&] {
        finish(ProbeOutcome::smtp_failed, fmt::format("{} replied \"{}\" {}", peer(), reply.summary(), step_name()));
    };
    switch (state_) {
        case State::banner:
            if (reply.code != 220) {
                refuse();
                return;
            }
            send_command(fmt::format("EHLO {}\r\n", helo_name_), State::ehlo);
            return;
        case State::ehlo:
            if (reply.code != 250) {
                refuse();
                return;
            }
            if (!offers_starttls(reply)) {
                finish(ProbeOutcome::no_starttls, fmt::format("{} offers no STARTTLS", peer()));
                return;
            }
            send_command("STARTTLS\r\n", State::starttls);
            return;
        case State::starttls:
            if (reply.code != 220) {
                refuse();
                return;
            }
            enter(State::handshake);
            return;
        default: return;
    }
}

void SmtpProbe::handshake() {
    if (!ssl_) {
        ssl_.reset(SSL_new(tls_));
        if (!ssl_ || SSL_set_fd(ssl_.get(), socket_.get()) != 1) {
            finish(ProbeOutcome::tls_failed, fmt::format("cannot start TLS: {}", tls_error_reason()));
            return;
        }
        SSL_set_connect_state(ssl_.get());
        if (!target_.server_name.empty() && SSL_set_tlsext_host_name(ssl_.get(), target_.server_name.c_str()) != 1) {
            finish(ProbeOutcome::tls_failed, fmt::format("cannot set SNI: {}", tls_error_reason()));
            return;
        }
    }
    ERR_clear_error();
    const int status = SSL_do_handshake(ssl_.get());
    if (status == 1) {
        capture_chain();
        return;
    }
    switch (SSL_get_error(ssl_.get(), status)) {
        case SSL_ERROR_WANT_READ: events_ = POLLIN; return;
        case SSL_ERROR_WANT_WRITE: events_ = POLLOUT; return;
        default:
            finish(ProbeOutcome::tls_failed,
                   fmt::format("TLS handshake with {} failed: {}", peer(), tls_error_reason()));
            return;
    }
}

void SmtpProbe::capture_chain() {
    // On the client side the peer's chain includes its leaf, first.
    STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl_.get());
    const int count = chain == nullptr ? 0 : sk_X509_num(chain);
    if (count <= 0) {
        finish(ProbeOutcome::tls_failed, fmt::format("{} presented no certificate", peer()));
        return;
    }
    DerChain der;
    for (int i = 0; i < count && der.size() < kMaxChainCertificates; ++i) {
        der.push_back(der_of(sk_X509_value(chain, i)));
    }
    // Best effort, never waited for: the connection ends here either way.
    static constexpr std::string_view kQuit = "QUIT\r\n";
    static_cast<void>(SSL_write(ssl_.get(), kQuit.data(), static_cast<int>(kQuit.size())));
    static_cast<void>(SSL_shutdown(ssl_.get()));
    ERR_clear_error();
    if (der.front().empty() || !has_fingerprint(der.front(), target_.fingerprint)) {
        finish(ProbeOutcome::other_certificate, fmt::format("{} presents another certificate", peer()));
        return;
    }
    result_.chain = std::move(der);
    finish(ProbeOutcome::matched, fmt::format("{} presents the certificate", peer()));
}

}  // namespace mtls::discovery
