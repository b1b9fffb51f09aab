// The MTA-STS policies in force, by domain: a bounded in-memory LRU in front
// of the persistent PolicyStore (core/mta_sts/policy_store.h). Queries for
// a known domain are answered from memory; the store is read on a miss
// (after a restart, or when another daemon sharing a Redis store fetched
// it) and written after each fetch. A store that fails is logged, and the
// memory carries on: a broken disk must not stop mail.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/logger.h"
#include "mta_sts/policy_store.h"
#include "mta_sts/sts_policy.h"

namespace mtls::tlspolicy {

struct CachedPolicy {
    StoredPolicy stored;  // from StsPolicyCache's memory: without its text
    StsPolicy policy;     // parse_sts_policy(stored.text)

    // RFC 8461, section 5.1: refresh well before expiry. Half the lifetime
    // leaves a policy of a day twelve hours of failed refreshes.
    [[nodiscard]] bool due_for_refresh(std::int64_t now) const {
        return now >= stored.fetched_at + (stored.expires_at - stored.fetched_at) / 2;
    }
};

// A fetched policy body as a cache entry, its lifetime max_age (capped) from
// fetched_at; an Error when the body is no valid policy.
Expected<CachedPolicy> make_cached_policy(std::string domain, std::string id, std::string text,
                                          std::int64_t fetched_at);

class StsPolicyCache {
public:
    using Log = std::function<void(Severity, std::string_view)>;

    StsPolicyCache(std::unique_ptr<PolicyStore> store, std::size_t capacity, Log log);

    // The unexpired policy of domain at `now` (Unix seconds), from memory or
    // else the store; nullopt when there is none or it expired.
    std::optional<CachedPolicy> find(const std::string& domain, std::int64_t now);
    // The same from memory alone (never the store), leaving an expired entry
    // for find() to drop: for callers that must not wait for the store.
    std::optional<CachedPolicy> find_in_memory(const std::string& domain, std::int64_t now);
    void put(const CachedPolicy& entry);

    // Domains in memory whose policy is due for a refresh, at most `limit`.
    std::vector<std::string> due_for_refresh(std::int64_t now, std::size_t limit) const;

    [[nodiscard]] std::size_t size() const;
    [[nodiscard]] std::string describe() const { return store_ ? store_->describe() : "memory"; }

private:
    using Entries = std::list<CachedPolicy>;   // most recently used first
    void remember(const CachedPolicy& entry);  // with mutex_ held

    std::unique_ptr<PolicyStore> store_;
    std::size_t capacity_;
    Log log_;
    mutable std::mutex mutex_;
    Entries entries_;
    // Keyed by a view of the entry's own domain (list nodes do not move),
    // and entries in memory keep no policy text (only the store needs it):
    // at 100,000 domains a copy of each domain and text is about 12 MiB.
    std::unordered_map<std::string_view, Entries::iterator> index_;
};

}  // namespace mtls::tlspolicy
