// The DNS seam. A lookup is started when the envelope sender is known and
// collected at end of message, so DNS latency hides behind the DATA phase.
// Production uses UnboundResolver; unit tests script answers with their own
// Resolver (tests/support/fake_resolver.h).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>

#include "dns/dns_answer.h"

namespace mtls {

using Clock = std::chrono::steady_clock;

// Where an answer lands; shared by the resolver's callback and the waiter.
class AnswerSlot {
public:
    void fulfil(DnsAnswer answer);
    // The answer, or std::nullopt when the deadline passed first.
    std::optional<DnsAnswer> wait_until(Clock::time_point deadline);

private:
    std::mutex mutex_;
    std::condition_variable ready_;
    std::optional<DnsAnswer> answer_;
};

// One lookup in flight. Destroying it before the answer arrives cancels it.
class Lookup {
public:
    Lookup(std::shared_ptr<AnswerSlot> slot, Clock::time_point started, Clock::time_point deadline,
           std::function<void()> cancel);
    ~Lookup();
    Lookup(const Lookup&) = delete;
    Lookup& operator=(const Lookup&) = delete;
    Lookup(Lookup&&) noexcept;
    Lookup& operator=(Lookup&&) noexcept;

    // Blocks until the answer or the deadline set when the lookup started;
    // a missed deadline yields AnswerStatus::timeout. Call once.
    DnsAnswer wait();

private:
    void cancel_if_pending();

    std::shared_ptr<AnswerSlot> slot_;
    Clock::time_point started_;
    Clock::time_point deadline_;
    std::function<void()> cancel_;
    bool done_ = false;
};

class Resolver {
public:
    virtual ~Resolver() = default;
    // Starts a DNSSEC-validating lookup of (name, type), answering within timeout.
    virtual Lookup start(std::string_view name, std::uint16_t type, std::chrono::milliseconds timeout) = 0;
    // The answer to (name, type) when the resolver holds it already (an
    // answer cache), without starting a lookup or waiting; std::nullopt when
    // a lookup would be needed. Lets a caller that must not block (a server
    // thread) answer what needs no DNS traffic.
    virtual std::optional<DnsAnswer> cached(std::string_view /*name*/, std::uint16_t /*type*/) { return std::nullopt; }
};

}  // namespace mtls
