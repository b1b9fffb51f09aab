// Connect-back certificate discovery (issue 13): the MTA hands the milter
// only the SHA-256 fingerprint of the client's certificate, yet the TLS
// handshake proved the client holds its key. Bytes from any source whose
// SHA-256 is that fingerprint are that certificate; many sending hosts serve
// the same one on port 25. So this service connects back to the client's own
// address (never to one from DNS: no SSRF, no reflection), fetches the chain
// with STARTTLS and judges it as mtls-check --cert does
// (tls/certificate_chain.h). Probes run on one event thread, bounded in
// number, time and bytes; results are cached so that a sender costs one
// probe per certificate.
//
// The milter starts a probe as soon as the fingerprint is known and collects
// it at end of message, waiting at most what is left of its own budget; the
// probe runs on to its own deadline either way, so that its result serves
// the next message.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "base/expected.h"
#include "base/ip_address.h"
#include "discovery/probe_result.h"
#include "tls/certificate_chain.h"
#include "tls/fingerprint.h"

namespace mtls::discovery {

struct DiscoverySettings {
    std::string helo_name;                           // our host name, for EHLO
    std::uint16_t port = 25;                         // cert-discovery-port
    std::chrono::milliseconds timeout{30'000};       // cert-discovery-timeout: a whole probe
    std::chrono::milliseconds step_timeout{10'000};  // connect, each reply, the handshake
    HostList networks;                               // cert-discovery-networks: non-global addresses allowed
    ChainVerification verification;                  // ca-file / ca-path; default: the system store
    std::size_t max_in_flight = 32;                  // probes at once; more are refused as overloaded
    std::size_t probes_per_address = 4;              // within rate_window
    std::chrono::seconds rate_window{600};
    std::chrono::seconds failure_ttl{3600};       // how long a failure (a timeout too) is remembered
    std::chrono::seconds revalidate_after{3600};  // a cached chain is validated again after this
    std::size_t max_cached_certificates = 4096;
    std::size_t max_cached_failures = 4096;
    std::size_t max_tracked_addresses = 4096;
};

// Every outcome is counted once per request that received it; cache_hits and
// joined say how many of those did not need a probe of their own.
struct DiscoveryCounters {
    std::uint64_t requests = 0;
    std::uint64_t probed = 0;  // probes started
    std::uint64_t cache_hits = 0;
    std::uint64_t joined = 0;         // requests that joined a probe in flight
    std::uint64_t pass = 0;           // matched and the chain verified
    std::uint64_t chain_invalid = 0;  // matched, but the chain did not verify
    std::uint64_t other_certificate = 0;
    std::uint64_t no_listener = 0;
    std::uint64_t no_starttls = 0;
    std::uint64_t smtp_failed = 0;
    std::uint64_t tls_failed = 0;
    std::uint64_t timed_out = 0;
    std::uint64_t not_allowed = 0;
    std::uint64_t rate_limited = 0;
    std::uint64_t overloaded = 0;
};

// One request's share of a probe (or of a result known at once).
class DiscoveryTicket {
public:
    // The result once there is one, waiting at most `wait` for it;
    // std::nullopt when the probe is still running (it runs on).
    [[nodiscard]] std::optional<DiscoveryResult> collect(std::chrono::milliseconds wait) const;

    struct Shared {
        std::mutex mutex;
        std::condition_variable done;
        std::optional<DiscoveryResult> result;
    };
    explicit DiscoveryTicket(std::shared_ptr<Shared> shared, bool started_probe = false)
        : shared_(std::move(shared)), started_probe_(started_probe) {}

    // This request started a probe (it was neither answered from cache nor
    // joined one in flight, nor refused).
    [[nodiscard]] bool started_probe() const { return started_probe_; }

private:
    std::shared_ptr<Shared> shared_;
    bool started_probe_ = false;
};

class CertificateDiscovery {
public:
    // Fails when the TLS context or the event thread cannot be set up.
    static Expected<std::unique_ptr<CertificateDiscovery>> create(DiscoverySettings settings);
    // Stops the event thread; probes still running end as shut_down.
    ~CertificateDiscovery();
    CertificateDiscovery(const CertificateDiscovery&) = delete;
    CertificateDiscovery& operator=(const CertificateDiscovery&) = delete;

    // Starts (or joins, or answers from cache) a probe of client, the
    // connecting client's address, for the certificate with this SHA-256
    // fingerprint. server_name: SNI for the handshake, may be empty.
    DiscoveryTicket start(const IpAddress& client, const Sha256Digest& fingerprint, std::string server_name = {});

    [[nodiscard]] DiscoveryCounters counters() const;

    class Engine;  // the event thread and its state (certificate_discovery.cc)

private:
    explicit CertificateDiscovery(std::unique_ptr<Engine> engine);
    std::unique_ptr<Engine> engine_;
};

}  // namespace mtls::discovery
