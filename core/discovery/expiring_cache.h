// A bounded map whose entries expire: the certificate cache (until notAfter)
// and the failure cache (for a while) of certificate discovery. When full,
// expired entries go first, then the one that would expire soonest, so that
// a flood of new keys cannot grow memory, only shorten what is remembered.
// Not thread-safe: CertificateDiscovery holds its lock around it.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <utility>

namespace mtls::discovery {

template <typename Key, typename Value>
class ExpiringCache {
public:
    using TimePoint = std::chrono::system_clock::time_point;

    explicit ExpiringCache(std::size_t capacity) : capacity_(capacity) {}

    // Replaces any entry for key. An entry already expired is not stored.
    void put(const Key& key, Value value, TimePoint expires, TimePoint now) {
        if (capacity_ == 0 || expires <= now) {
            entries_.erase(key);
            return;
        }
        if (!entries_.contains(key) && entries_.size() >= capacity_) {
            make_room(now);
        }
        entries_.insert_or_assign(key, Entry{std::move(value), expires});
    }

    // The value while it has not expired; an expired entry is dropped.
    std::optional<Value> get(const Key& key, TimePoint now) {
        const auto it = entries_.find(key);
        if (it == entries_.end()) {
            return std::nullopt;
        }
        if (it->second.expires <= now) {
            entries_.erase(it);
            return std::nullopt;
        }
        return it->second.value;
    }

    void erase(const Key& key) { entries_.erase(key); }
    [[nodiscard]] std::size_t size() const { return entries_.size(); }

private:
    struct Entry {
        Value value;
        TimePoint expires;
    };

    void make_room(TimePoint now) {
        std::erase_if(entries_, [&](const auto& entry) { return entry.second.expires <= now; });
        if (entries_.size() < capacity_) {
            return;
        }
        const auto soonest = std::min_element(entries_.begin(), entries_.end(), [](const auto& a, const auto& b) {
            return a.second.expires < b.second.expires;
        });
        entries_.erase(soonest);
    }

    std::size_t capacity_;
    std::map<Key, Entry> entries_;
};

}  // namespace mtls::discovery
