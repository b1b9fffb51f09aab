// A small SMTP server on 127.0.0.1 for the probe to connect back to, with
// real STARTTLS (OpenSSL) and scripted misbehaviour. Each connection gets its
// own thread; all are joined when the server is destroyed. Blocking sockets
// with receive timeouts, so that no script can hang the test run.
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "base/unique_fd.h"
#include "test_pki.h"

namespace mtls::test {

enum class Script {
    starttls,      // banner, EHLO with STARTTLS, 220, TLS handshake, reads until QUIT/close
    no_starttls,   // the EHLO reply lists no STARTTLS
    stall,         // accepts and says nothing until the server stops
    endless_line,  // a banner line that never ends
    injection,     // the 220 to STARTTLS comes with a second reply in the same packet
    bare_lf,       // the banner ends in LF only
};

class SmtpTestServer {
public:
    // certificate: the leaf and key it serves; chain: intermediates sent after it.
    SmtpTestServer(Script script, const Issued* certificate, const std::vector<const Issued*>& chain = {});
    ~SmtpTestServer();
    SmtpTestServer(const SmtpTestServer&) = delete;
    SmtpTestServer& operator=(const SmtpTestServer&) = delete;

    [[nodiscard]] std::uint16_t port() const { return port_; }
    [[nodiscard]] int connections() const { return connections_.load(); }
    [[nodiscard]] int handshakes() const { return handshakes_.load(); }

    // While closed, connections wait before their banner: lets a test start
    // several requests before any probe can finish.
    void close_gate();
    void open_gate();

private:
    void accept_loop();
    void serve(UniqueFd connection);
    void wait_for_gate();
    [[nodiscard]] bool stopping() const { return stopping_.load(); }

    Script script_;
    std::unique_ptr<SSL_CTX, FreeWith<&SSL_CTX_free>> tls_;  // null: no TLS
    UniqueFd listener_;
    std::uint16_t port_ = 0;
    std::atomic<bool> stopping_{false};
    std::atomic<int> connections_{0};
    std::atomic<int> handshakes_{0};
    std::mutex gate_mutex_;
    std::condition_variable gate_changed_;
    bool gate_open_ = true;
    std::mutex threads_mutex_;
    std::vector<std::thread> threads_;
    std::thread acceptor_;
};

// A port on 127.0.0.1 where nothing listens (bound once, then released).
std::uint16_t unused_port();

}  // namespace mtls::test
