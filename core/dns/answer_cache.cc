#include "dns/answer_cache.h"

#include <algorithm>

namespace mtls {

AnswerCache::AnswerCache(std::size_t capacity, std::chrono::seconds max_ttl) : capacity_(capacity), max_ttl_(max_ttl) {}

bool AnswerCache::cacheable(const DnsAnswer& answer) {
    const bool settled = answer.status == AnswerStatus::records || answer.status == AnswerStatus::nodata ||
                         answer.status == AnswerStatus::nxdomain;
    const bool validated = answer.dnssec == DnssecState::secure || answer.dnssec == DnssecState::insecure;
    return settled && validated;
}

std::string AnswerCache::key_of(std::string_view name, std::uint16_t type) {
    std::string key;
    key.reserve(2 + name.size());
    key.push_back(static_cast<char>(type >> 8));
    key.push_back(static_cast<char>(type & 0xff));
    key.append(name);
    return key;
}

std::optional<DnsAnswer> AnswerCache::find(std::string_view name, std::uint16_t type, Clock::time_point now) {
    const std::string key = key_of(name, type);
    const std::lock_guard lock(mutex_);
    const auto found = index_.find(key);
    if (found == index_.end()) {
        return std::nullopt;
    }
    const auto entry = found->second;
    if (now >= entry->expires) {
        index_.erase(found);
        entries_.erase(entry);
        return std::nullopt;
    }
    entries_.splice(entries_.begin(), entries_, entry);  // iterators stay valid
    return entry->answer;
}

void AnswerCache::store(std::string_view name, std::uint16_t type, const DnsAnswer& answer, std::chrono::seconds ttl,
                        Clock::time_point now) {
    if (capacity_ == 0 || ttl <= std::chrono::seconds::zero() || !cacheable(answer)) {
        return;
    }
    const auto expires = now + std::min(ttl, max_ttl_);
    std::string key = key_of(name, type);
    // Copied before taking the lock: the copy allocates.
    DnsAnswer copy = answer;
    copy.elapsed = std::chrono::microseconds{0};  // each hit reports its own
    const std::lock_guard lock(mutex_);
    if (const auto found = index_.find(key); found != index_.end()) {
        found->second->answer = std::move(copy);
        found->second->expires = expires;
        entries_.splice(entries_.begin(), entries_, found->second);
        return;
    }
    if (entries_.size() >= capacity_) {
        index_.erase(entries_.back().key);
        entries_.pop_back();
    }
    entries_.push_front(Entry{std::move(key), std::move(copy), expires});
    index_.emplace(entries_.front().key, entries_.begin());
}

std::size_t AnswerCache::size() const {
    const std::lock_guard lock(mutex_);
    return entries_.size();
}

}  // namespace mtls
