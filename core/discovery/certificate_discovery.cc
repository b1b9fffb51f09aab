#include "discovery/certificate_discovery.h"

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <map>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "base/address_scope.h"
#include "base/openssl_ptr.h"
#include "base/unique_fd.h"
#include "discovery/address_rate_limit.h"
#include "discovery/expiring_cache.h"
#include "discovery/smtp_probe.h"

namespace mtls::discovery {
namespace {

using SystemTime = std::chrono::system_clock::time_point;
// A probe is per (client address, fingerprint): another address may serve
// another certificate, and a failure at one says nothing of the next.
using ProbeKey = std::pair<std::string, Sha256Digest>;

struct CachedCertificate {
    DerChain chain;
    std::optional<CertificateChainReport> report;
    SystemTime validated_at;
};

X509Ptr parse_der(const std::string& der) {
    const auto* data = reinterpret_cast<const unsigned char*>(der.data());
    X509Ptr certificate(d2i_X509(nullptr, &data, static_cast<long>(der.size())));
    ERR_clear_error();
    return certificate;
}

// The leaf's notAfter, or the epoch when it cannot be read (nothing is cached).
SystemTime not_after(const DerChain& chain) {
    const X509Ptr leaf = chain.empty() ? nullptr : parse_der(chain.front());
    std::tm time{};
    if (!leaf || ASN1_TIME_to_tm(X509_get0_notAfter(leaf.get()), &time) != 1) {
        ERR_clear_error();
        return {};
    }
    return std::chrono::system_clock::from_time_t(timegm(&time));
}

// check_certificate_chain reads PEM (it serves mtls-check --cert); the few
// KiB of re-encoding are nothing next to the probe that fetched them.
Expected<CertificateChainReport> validate(const DerChain& chain, const ChainVerification& how) {
    const BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio) {
        return Error{"out of memory"};
    }
    for (const auto& der : chain) {
        const X509Ptr certificate = parse_der(der);
        if (!certificate || PEM_write_bio_X509(bio.get(), certificate.get()) != 1) {
            ERR_clear_error();
            return Error{"the server sent a malformed certificate"};
        }
    }
    char* data = nullptr;
    const long length = BIO_get_mem_data(bio.get(), &data);
    return check_certificate_chain({data, static_cast<std::size_t>(std::max(length, 0L))}, how);
}

DiscoveryResult judged(ProbeResult probe, const ChainVerification& how) {
    DiscoveryResult result;
    result.probe = std::move(probe);
    if (result.probe.outcome != ProbeOutcome::matched) {
        return result;
    }
    auto report = validate(result.probe.chain, how);
    if (report) {
        if (!report->problem.empty()) {
            result.probe.reason += fmt::format(", but its chain is invalid: {}", report->problem);
        }
        result.chain = std::move(report).value();
    } else {
        result.probe.reason += fmt::format(", but it cannot be validated: {}", report.error());
    }
    return result;
}

bool cacheable_failure(ProbeOutcome outcome) {
    switch (outcome) {
        case ProbeOutcome::other_certificate:
        case ProbeOutcome::no_listener:
        case ProbeOutcome::no_starttls:
        case ProbeOutcome::smtp_failed:
        case ProbeOutcome::tls_failed:
        case ProbeOutcome::timed_out: return true;
        default: return false;
    }
}

void count(DiscoveryCounters& counters, const DiscoveryResult& result, std::uint64_t requests) {
    switch (result.probe.outcome) {
        case ProbeOutcome::matched: (result.verified() ? counters.pass : counters.chain_invalid) += requests; return;
        case ProbeOutcome::other_certificate: counters.other_certificate += requests; return;
        case ProbeOutcome::no_listener: counters.no_listener += requests; return;
        case ProbeOutcome::no_starttls: counters.no_starttls += requests; return;
        case ProbeOutcome::smtp_failed: counters.smtp_failed += requests; return;
        case ProbeOutcome::tls_failed: counters.tls_failed += requests; return;
        case ProbeOutcome::timed_out: counters.timed_out += requests; return;
        case ProbeOutcome::not_allowed: counters.not_allowed += requests; return;
        case ProbeOutcome::rate_limited: counters.rate_limited += requests; return;
        case ProbeOutcome::overloaded: counters.overloaded += requests; return;
        case ProbeOutcome::shut_down: return;
    }
}

void publish(DiscoveryTicket::Shared& shared, DiscoveryResult result) {
    {
        const std::lock_guard lock(shared.mutex);
        shared.result = std::move(result);
    }
    shared.done.notify_all();
}

// A result without a chain: every outcome but matched.
DiscoveryResult without_chain(ProbeOutcome outcome, std::string reason, bool from_cache = false) {
    DiscoveryResult result;
    result.probe.outcome = outcome;
    result.probe.reason = std::move(reason);
    result.from_cache = from_cache;
    return result;
}

std::shared_ptr<DiscoveryTicket::Shared> ready(DiscoveryResult result) {
    auto shared = std::make_shared<DiscoveryTicket::Shared>();
    shared->result = std::move(result);
    return shared;
}

}  // namespace

std::optional<DiscoveryResult> DiscoveryTicket::collect(std::chrono::milliseconds wait) const {
    std::unique_lock lock(shared_->mutex);
    shared_->done.wait_for(lock, wait, [&] { return shared_->result.has_value(); });
    return shared_->result;
}

class CertificateDiscovery::Engine {
public:
    Engine(DiscoverySettings settings, SslCtxPtr tls, UniqueFd wake)
        : settings_(std::move(settings)),
          tls_(std::move(tls)),
          wake_(std::move(wake)),
          certificates_(settings_.max_cached_certificates),
          failures_(settings_.max_cached_failures),
          rate_(settings_.probes_per_address, settings_.rate_window, settings_.max_tracked_addresses),
          thread_([this] { run(); }) {}

    ~Engine() {
        {
            const std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake();
        thread_.join();
    }
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    DiscoveryTicket start(const IpAddress& client, const Sha256Digest& fingerprint, std::string server_name);

    DiscoveryCounters counters() const {
        const std::lock_guard lock(mutex_);
        return counters_;
    }

private:
    struct Job {
        std::unique_ptr<SmtpProbe> probe;
        std::shared_ptr<DiscoveryTicket::Shared> shared;
        ProbeKey key;
    };
    struct InFlight {
        std::shared_ptr<DiscoveryTicket::Shared> shared;
        std::uint64_t requests = 0;
    };

    // Under mutex_: a result known without probing.
    DiscoveryTicket answer(DiscoveryResult result) {
        count(counters_, result, 1);
        return DiscoveryTicket(ready(std::move(result)));
    }
    std::optional<DiscoveryTicket> from_certificate_cache(const Sha256Digest& fingerprint);
    // Under mutex_: a cached chain last validated revalidate_after ago.
    // Revocation or an intermediate's expiry can end a chain's validity
    // before the leaf's notAfter, so it is judged again now and then.
    std::optional<DerChain> due_for_revalidation(const Sha256Digest& fingerprint);
    // Judges chain again with lock released, and caches the new report.
    void revalidate(std::unique_lock<std::mutex>& lock, const Sha256Digest& fingerprint, DerChain chain);
    void wake() const;
    void run();
    void complete(Job& job);
    void abandon(std::vector<Job>& jobs);

    const DiscoverySettings settings_;
    const SslCtxPtr tls_;
    const UniqueFd wake_;  // an eventfd: start() and the destructor interrupt poll()

    mutable std::mutex mutex_;  // guards everything below but thread_
    bool stopping_ = false;
    std::vector<Job> incoming_;
    std::map<ProbeKey, InFlight> in_flight_;
    ExpiringCache<Sha256Digest, CachedCertificate> certificates_;
    ExpiringCache<ProbeKey, ProbeResult> failures_;
    AddressRateLimit rate_;
    DiscoveryCounters counters_;

    std::thread thread_;  // last: starts once everything above exists
};

void CertificateDiscovery::Engine::wake() const {
    const std::uint64_t one = 1;
    // Only fails when the counter would overflow, and then poll() wakes anyway.
    static_cast<void>(::write(wake_.get(), &one, sizeof one));
}

std::optional<DerChain> CertificateDiscovery::Engine::due_for_revalidation(const Sha256Digest& fingerprint) {
    const auto now = std::chrono::system_clock::now();
    auto cached = certificates_.get(fingerprint, now);
    if (!cached || cached->validated_at + settings_.revalidate_after > now) {
        return std::nullopt;
    }
    return std::move(cached->chain);
}

void CertificateDiscovery::Engine::revalidate(std::unique_lock<std::mutex>& lock, const Sha256Digest& fingerprint,
                                              DerChain chain) {
    // Validation reads the trust store (files, maybe a directory): not
    // under the lock every request takes. Two requests may both do it.
    lock.unlock();
    auto again = judged(ProbeResult{ProbeOutcome::matched, {}, chain}, settings_.verification);
    lock.lock();
    const auto now = std::chrono::system_clock::now();
    const auto expires = not_after(chain);
    certificates_.put(fingerprint, CachedCertificate{std::move(chain), std::move(again.chain), now}, expires, now);
}

std::optional<DiscoveryTicket> CertificateDiscovery::Engine::from_certificate_cache(const Sha256Digest& fingerprint) {
    const auto now = std::chrono::system_clock::now();
    auto cached = certificates_.get(fingerprint, now);
    if (!cached) {
        return std::nullopt;
    }
    ++counters_.cache_hits;
    DiscoveryResult result{ProbeResult{ProbeOutcome::matched, "the certificate was discovered earlier", cached->chain},
                           cached->report, true};
    if (result.chain && !result.chain->problem.empty()) {
        result.probe.reason += fmt::format(", but its chain is invalid: {}", result.chain->problem);
    }
    return answer(std::move(result));
}

DiscoveryTicket CertificateDiscovery::Engine::start(const IpAddress& client, const Sha256Digest& fingerprint,
                                                    std::string server_name) {
    std::unique_lock lock(mutex_);
    ++counters_.requests;
    if (!is_global_address(client) && !settings_.networks.contains(client)) {
        return answer(without_chain(
            ProbeOutcome::not_allowed,
            fmt::format("{} is not a global address and not in cert-discovery-networks", client.to_string())));
    }
    if (auto stale = due_for_revalidation(fingerprint)) {
        revalidate(lock, fingerprint, std::move(*stale));
    }
    if (auto hit = from_certificate_cache(fingerprint)) {
        return *hit;
    }
    ProbeKey key{client.to_string(), fingerprint};
    if (auto failure = failures_.get(key, std::chrono::system_clock::now())) {
        ++counters_.cache_hits;
        DiscoveryResult result;
        result.probe = std::move(*failure);
        result.from_cache = true;
        return answer(std::move(result));
    }
    if (auto it = in_flight_.find(key); it != in_flight_.end()) {
        ++counters_.joined;
        ++it->second.requests;
        return DiscoveryTicket(it->second.shared);
    }
    if (stopping_) {
        return DiscoveryTicket(ready(without_chain(ProbeOutcome::shut_down, "the milter is shutting down")));
    }
    if (in_flight_.size() >= settings_.max_in_flight) {
        return answer(
            without_chain(ProbeOutcome::overloaded, fmt::format("{} probes in flight already", in_flight_.size())));
    }
    if (!rate_.allow(client, Clock::now())) {
        return answer(without_chain(
            ProbeOutcome::rate_limited,
            fmt::format("{} was probed {} times lately", client.to_string(), settings_.probes_per_address)));
    }
    ++counters_.probed;
    auto shared = std::make_shared<DiscoveryTicket::Shared>();
    in_flight_.emplace(key, InFlight{shared, 1});
    const auto deadline = Clock::now() + settings_.timeout;
    incoming_.push_back(
        {std::make_unique<SmtpProbe>(ProbeTarget{client, settings_.port, fingerprint, std::move(server_name)},
                                     settings_.helo_name, tls_.get(), ProbeTiming{deadline, settings_.step_timeout}),
         shared, std::move(key)});
    wake();
    return DiscoveryTicket(std::move(shared), true);
}

void CertificateDiscovery::Engine::complete(Job& job) {
    // Validation reads the trust store: done outside the lock.
    DiscoveryResult result = judged(job.probe->take_result(), settings_.verification);
    {
        const std::lock_guard lock(mutex_);
        const auto now = std::chrono::system_clock::now();
        std::uint64_t requests = 1;
        if (auto it = in_flight_.find(job.key); it != in_flight_.end()) {
            requests = it->second.requests;
            in_flight_.erase(it);
        }
        if (result.probe.outcome == ProbeOutcome::matched) {
            certificates_.put(job.key.second, CachedCertificate{result.probe.chain, result.chain, now},
                              not_after(result.probe.chain), now);
        } else if (cacheable_failure(result.probe.outcome)) {
            failures_.put(job.key, result.probe, now + settings_.failure_ttl, now);
        }
        count(counters_, result, requests);
    }
    publish(*job.shared, std::move(result));
}

void CertificateDiscovery::Engine::abandon(std::vector<Job>& jobs) {
    for (auto& job : jobs) {
        publish(*job.shared, without_chain(ProbeOutcome::shut_down, "the milter is shutting down"));
    }
    jobs.clear();
}

void CertificateDiscovery::Engine::run() {
    // OpenSSL writes to the sockets with write(2), which raises SIGPIPE when
    // a probed host has gone; blocked here, it stays pending on this thread
    // alone instead of ending the milter.
    sigset_t pipe{};
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);

    std::vector<Job> jobs;
    std::vector<pollfd> descriptors;
    while (true) {
        {
            std::unique_lock lock(mutex_);
            if (stopping_) {
                std::vector<Job> waiting = std::move(incoming_);
                in_flight_.clear();
                lock.unlock();
                abandon(waiting);
                abandon(jobs);
                return;
            }
            for (auto& job : incoming_) {
                job.probe->start();
                jobs.push_back(std::move(job));
            }
            incoming_.clear();
        }
        // Probes that ended (or could not start), then the sockets to wait on.
        for (auto& job : jobs) {
            if (job.probe->done()) {
                complete(job);
            }
        }
        std::erase_if(jobs, [](const Job& job) { return job.probe->done(); });

        descriptors.assign(1, pollfd{.fd = wake_.get(), .events = POLLIN, .revents = 0});
        auto next_deadline = Clock::time_point::max();
        for (const auto& job : jobs) {
            descriptors.push_back({.fd = job.probe->fd(), .events = job.probe->events(), .revents = 0});
            next_deadline = std::min(next_deadline, job.probe->deadline());
        }
        int timeout_ms = -1;
        if (!jobs.empty()) {
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(next_deadline - Clock::now());
            timeout_ms = static_cast<int>(std::clamp<std::chrono::milliseconds::rep>(left.count(), 0, 60'000));
        }
        if (::poll(descriptors.data(), descriptors.size(), timeout_ms) < 0 && errno != EINTR) {
            const std::lock_guard lock(mutex_);
            stopping_ = true;  // cannot happen with valid descriptors; end cleanly rather than spin
            continue;
        }
        if ((descriptors.front().revents & POLLIN) != 0) {
            std::uint64_t ignored = 0;
            static_cast<void>(::read(wake_.get(), &ignored, sizeof ignored));
        }
        const auto now = Clock::now();
        for (std::size_t i = 0; i < jobs.size(); ++i) {
            if (descriptors[i + 1].revents != 0 || now >= jobs[i].probe->deadline()) {
                jobs[i].probe->advance();
            }
        }
    }
}

CertificateDiscovery::CertificateDiscovery(std::unique_ptr<Engine> engine) : engine_(std::move(engine)) {}

CertificateDiscovery::~CertificateDiscovery() = default;

Expected<std::unique_ptr<CertificateDiscovery>> CertificateDiscovery::create(DiscoverySettings settings) {
    auto tls = make_probe_tls_context();
    if (!tls) {
        return Error{tls.error()};
    }
    UniqueFd wake(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!wake.valid()) {
        return Error{fmt::format("cannot create an eventfd: {}", std::strerror(errno))};
    }
    // It goes into "EHLO <name>\r\n" as it is.
    if (settings.helo_name.empty() || settings.helo_name.size() > 255 ||
        std::any_of(settings.helo_name.begin(), settings.helo_name.end(), [](char c) { return c <= ' ' || c > '~'; })) {
        return Error{"certificate discovery needs our host name for EHLO, without spaces or control characters"};
    }
    auto engine = std::make_unique<Engine>(std::move(settings), std::move(tls).value(), std::move(wake));
    return std::unique_ptr<CertificateDiscovery>(new CertificateDiscovery(std::move(engine)));
}

DiscoveryTicket CertificateDiscovery::start(const IpAddress& client, const Sha256Digest& fingerprint,
                                            std::string server_name) {
    return engine_->start(client, fingerprint, std::move(server_name));
}

DiscoveryCounters CertificateDiscovery::counters() const {
    return engine_->counters();
}

}  // namespace mtls::discovery
