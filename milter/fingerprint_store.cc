#include "fingerprint_store.h"

#include <string>

namespace mtls::milter {
namespace {

constexpr std::string_view kExpired = "expired";
constexpr std::string_view kEvicted = "evicted: policy-max-sessions reached";

}  // namespace

FingerprintStore::FingerprintStore(Limits limits, UnclaimedHandler on_unclaimed)
    : limits_(limits), on_unclaimed_(std::move(on_unclaimed)) {
    if (limits_.max_sessions == 0) {
        limits_.max_sessions = 1;  // a store that can hold nothing would evict what it just took
    }
}

std::size_t FingerprintStore::KeyHash::operator()(const Key& key) const noexcept {
    // FNV-1a: keys come from the network, but a collision only costs a
    // longer bucket, and the store's size is bounded.
    std::size_t hash = 1469598103934665603ULL;
    const auto mix = [&hash](std::uint8_t byte) {
        hash ^= byte;
        hash *= 1099511628211ULL;
    };
    for (const std::uint8_t byte : key.address) {
        mix(byte);
    }
    mix(key.v6 ? 1 : 0);
    mix(static_cast<std::uint8_t>(key.port >> 8));
    mix(static_cast<std::uint8_t>(key.port & 0xff));
    return hash;
}

FingerprintStore::Key FingerprintStore::key_of(const Endpoint& client) {
    return Key{client.address.bytes(), client.address.family() == IpAddress::Family::v6, client.port};
}

void FingerprintStore::erase_locked(std::unordered_map<Key, Entry, KeyHash>::iterator entry) {
    order_.erase(entry->second.position);
    entries_.erase(entry);
}

void FingerprintStore::expire_locked(StoreClock::time_point now, std::vector<Dropped>& dropped) {
    // order_ is by record time, so the expired entries are at its front (a
    // caller passing an earlier `now` than before only delays expiry).
    while (!order_.empty()) {
        const auto entry = entries_.find(order_.front());
        if (now - entry->second.recorded < limits_.lifetime) {
            return;
        }
        if (!entry->second.claimed) {
            dropped.push_back({entry->second.client, kExpired});
        }
        erase_locked(entry);
    }
}

void FingerprintStore::report(const std::vector<Dropped>& dropped) const {
    if (!on_unclaimed_) {
        return;
    }
    for (const auto& item : dropped) {
        on_unclaimed_(item.client, item.why);
    }
}

void FingerprintStore::record(const Endpoint& client, const Fingerprints& fingerprints, StoreClock::time_point now) {
    std::vector<Dropped> dropped;
    {
        const std::lock_guard lock(mutex_);
        expire_locked(now, dropped);
        const Key key = key_of(client);
        if (const auto existing = entries_.find(key); existing != entries_.end()) {
            erase_locked(existing);
        } else {
            while (entries_.size() >= limits_.max_sessions) {
                const auto oldest = entries_.find(order_.front());
                if (!oldest->second.claimed) {
                    dropped.push_back({oldest->second.client, kEvicted});
                }
                erase_locked(oldest);
            }
        }
        order_.push_back(key);
        entries_.emplace(key, Entry{client, fingerprints, now, false, std::prev(order_.end())});
    }
    report(dropped);
}

std::optional<Fingerprints> FingerprintStore::find(const Endpoint& client, StoreClock::time_point since,
                                                   StoreClock::time_point now) {
    std::vector<Dropped> dropped;
    std::optional<Fingerprints> found;
    {
        const std::lock_guard lock(mutex_);
        expire_locked(now, dropped);
        const auto entry = entries_.find(key_of(client));
        // An entry from before `since` belongs to an earlier connection that
        // happened to use the same address and port.
        if (entry != entries_.end() && entry->second.recorded >= since) {
            entry->second.claimed = true;
            found = entry->second.fingerprints;
        }
    }
    report(dropped);
    return found;
}

void FingerprintStore::forget(const Endpoint& client, StoreClock::time_point since) {
    const std::lock_guard lock(mutex_);
    const auto entry = entries_.find(key_of(client));
    if (entry != entries_.end() && entry->second.recorded >= since) {
        erase_locked(entry);
    }
}

std::size_t FingerprintStore::size() const {
    const std::lock_guard lock(mutex_);
    return entries_.size();
}

}  // namespace mtls::milter
