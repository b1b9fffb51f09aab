// A small cache of classified DNS answers in front of libunbound.
//
// libunbound caches too, but asking it costs a round trip through its worker
// thread even on a hit: a command over a pipe, an answer back over another,
// two thread wake-ups and about twenty system calls (measured in bench/,
// docs/PERFORMANCE.md). On a busy MX most senders repeat, so the answer the
// last message got is usually the one the next message needs.
//
// Only answers that are safe to repeat are kept: status records, nodata or
// nxdomain under DNSSEC state secure or insecure, for no longer than the
// answer's own TTL (capped). Bogus answers, server failures, resolver errors
// and timeouts are never cached: each must be asked again. One cache per
// resolver, so a reload (which builds a new resolver) starts empty.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "dns/dns_answer.h"

namespace mtls {

class AnswerCache {
public:
    using Clock = std::chrono::steady_clock;

    static constexpr std::size_t kDefaultCapacity = 4096;
    // Longer TTLs are cut to this, so that a changed record is seen within
    // minutes even when its zone says hours.
    static constexpr std::chrono::seconds kDefaultMaxTtl{300};

    explicit AnswerCache(std::size_t capacity = kDefaultCapacity, std::chrono::seconds max_ttl = kDefaultMaxTtl);

    // Whether an answer may be cached at all (its TTL aside).
    [[nodiscard]] static bool cacheable(const DnsAnswer& answer);

    // The answer stored for (name, type) if it has not expired by now.
    [[nodiscard]] std::optional<DnsAnswer> find(std::string_view name, std::uint16_t type, Clock::time_point now);

    // Keeps a copy of answer for ttl (at most max_ttl) from now, replacing any
    // older one. Does nothing if the answer is not cacheable or ttl is not
    // positive. When full, the least recently used entry makes room.
    void store(std::string_view name, std::uint16_t type, const DnsAnswer& answer, std::chrono::seconds ttl,
               Clock::time_point now);

    [[nodiscard]] std::size_t size() const;

private:
    struct Entry {
        std::string key;
        DnsAnswer answer;
        Clock::time_point expires;
    };
    using Entries = std::list<Entry>;  // most recently used first

    // The type goes in front of the name, so keys of one type share a prefix
    // and names need no escaping (a name cannot hold two bytes of type).
    static std::string key_of(std::string_view name, std::uint16_t type);

    const std::size_t capacity_;
    const std::chrono::seconds max_ttl_;
    mutable std::mutex mutex_;  // guards entries_ and index_
    Entries entries_;
    std::unordered_map<std::string_view, Entries::iterator> index_;  // views of Entry::key
};

}  // namespace mtls
