#include "sts_policy_cache.h"

#include <fmt/format.h>

#include "mtls/verdict_record.h"

namespace mtls::tlspolicy {

Expected<CachedPolicy> make_cached_policy(std::string domain, std::string id, std::string text,
                                          std::int64_t fetched_at) {
    auto policy = parse_sts_policy(text);
    if (!policy) {
        return Error{"invalid policy: " + policy.error()};
    }
    const auto expires_at = fetched_at + static_cast<std::int64_t>(policy->max_age);
    return CachedPolicy{{std::move(domain), std::move(id), std::move(text), fetched_at, expires_at},
                        std::move(policy).value()};
}

StsPolicyCache::StsPolicyCache(std::unique_ptr<PolicyStore> store, std::size_t capacity, Log log)
    : store_(std::move(store)), capacity_(std::max<std::size_t>(capacity, 1)), log_(std::move(log)) {}

std::optional<CachedPolicy> StsPolicyCache::find(const std::string& domain, std::int64_t now) {
    {
        const std::scoped_lock lock(mutex_);
        if (const auto found = index_.find(domain); found != index_.end()) {
            entries_.splice(entries_.begin(), entries_, found->second);
            if (found->second->stored.expires_at > now) {
                return *found->second;
            }
            const auto entry = found->second;
            index_.erase(found);  // first: its key is a view of the entry's domain
            entries_.erase(entry);
            return std::nullopt;
        }
    }
    if (!store_) {
        return std::nullopt;
    }
    std::optional<StoredPolicy> stored;
    try {
        stored = store_->load(domain);
    } catch (const std::exception& error) {
        log_(Severity::warning, fmt::format("policy cache {}: {}", store_->describe(), escape_for_log(error.what())));
        return std::nullopt;
    }
    if (!stored || stored->expires_at <= now) {
        return std::nullopt;
    }
    auto entry = make_cached_policy(stored->domain, stored->id, stored->text, stored->fetched_at);
    if (!entry) {
        log_(Severity::warning, fmt::format("policy cache {}: entry for {} ignored: {}", store_->describe(), domain,
                                            escape_for_log(entry.error())));
        return std::nullopt;
    }
    // Another writer's (or an older version's) lifetime: never beyond what
    // the policy itself allows.
    entry.value().stored.expires_at = std::min(entry->stored.expires_at, stored->expires_at);
    if (entry->stored.expires_at <= now) {
        return std::nullopt;
    }
    const std::scoped_lock lock(mutex_);
    remember(*entry);
    return entry.value();
}

std::optional<CachedPolicy> StsPolicyCache::find_in_memory(const std::string& domain, std::int64_t now) {
    const std::scoped_lock lock(mutex_);
    const auto found = index_.find(domain);
    if (found == index_.end() || found->second->stored.expires_at <= now) {
        return std::nullopt;
    }
    entries_.splice(entries_.begin(), entries_, found->second);
    return *found->second;
}

void StsPolicyCache::put(const CachedPolicy& entry) {
    {
        const std::scoped_lock lock(mutex_);
        remember(entry);
    }
    if (!store_) {
        return;
    }
    try {
        store_->save(entry.stored);
    } catch (const std::exception& error) {
        log_(Severity::warning, fmt::format("policy cache {}: cannot save {}: {}", store_->describe(),
                                            entry.stored.domain, escape_for_log(error.what())));
    }
}

void StsPolicyCache::remember(const CachedPolicy& entry) {
    if (const auto found = index_.find(entry.stored.domain); found != index_.end()) {
        // The domain stays as it is: the index's key is a view of it.
        auto& kept = *found->second;
        kept.stored.id = entry.stored.id;
        kept.stored.fetched_at = entry.stored.fetched_at;
        kept.stored.expires_at = entry.stored.expires_at;
        kept.policy = entry.policy;
        entries_.splice(entries_.begin(), entries_, found->second);
        return;
    }
    entries_.push_front(CachedPolicy{
        {entry.stored.domain, entry.stored.id, {}, entry.stored.fetched_at, entry.stored.expires_at}, entry.policy});
    index_.emplace(entries_.front().stored.domain, entries_.begin());
    while (entries_.size() > capacity_) {
        index_.erase(entries_.back().stored.domain);
        entries_.pop_back();
    }
}

std::vector<std::string> StsPolicyCache::due_for_refresh(std::int64_t now, std::size_t limit) const {
    std::vector<std::string> due;
    const std::scoped_lock lock(mutex_);
    for (const auto& entry : entries_) {
        if (due.size() >= limit) {
            break;
        }
        if (entry.due_for_refresh(now)) {
            due.push_back(entry.stored.domain);
        }
    }
    return due;
}

std::size_t StsPolicyCache::size() const {
    const std::scoped_lock lock(mutex_);
    return entries_.size();
}

}  // namespace mtls::tlspolicy
