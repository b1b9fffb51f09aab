#include "policy_engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>

#include "mtls/verdict_record.h"

namespace mtls::tlspolicy {

std::int64_t unix_now() {
    return static_cast<std::int64_t>(std::time(nullptr));
}

PolicyEngine::PolicyEngine(std::shared_ptr<Resolver> resolver, EngineSettings settings, StsPolicyCache& cache,
                           TlsPolicyMetrics& metrics, Log log, RefreshRequest request_refresh)
    : resolver_(std::move(resolver)),
      settings_(std::move(settings)),
      cache_(cache),
      metrics_(metrics),
      log_(std::move(log)),
      request_refresh_(std::move(request_refresh)) {}

Decision PolicyEngine::answer(std::string_view key) {
    const auto next_hop = parse_next_hop(key);
    if (auto decision = decide_without_lookup(key, next_hop)) {
        return std::move(decision).value();
    }
    // One deadline for all DNS of this query, the policy host's address
    // included: the documented worst case is dns-timeout plus https-timeout
    // (man/mtls-tlspolicy.8), within Postfix's socketmap timeout.
    const auto dns_deadline = Clock::now() + settings_.dns.timeout;
    auto facts = gather_dns_facts(*resolver_, next_hop->domain, settings_.dns, dns_deadline);
    attach_policy(facts, false, dns_deadline);
    log_record_problem(facts);
    return decide(facts, settings_.decision);
}

std::optional<Decision> PolicyEngine::answer_from_memory(std::string_view key) {
    const auto next_hop = parse_next_hop(key);
    if (auto decision = decide_without_lookup(key, next_hop)) {
        return decision;
    }
    auto facts = gather_cached_dns_facts(*resolver_, next_hop->domain, settings_.dns);
    if (!facts || !attach_policy(*facts, true, Clock::now())) {
        return std::nullopt;
    }
    log_record_problem(*facts);
    return decide(*facts, settings_.decision);
}

void PolicyEngine::log_record_problem(const DomainFacts& facts) {
    // The answer's own log line says only NOTFOUND; without this the reason
    // would show in --query alone.
    if (!facts.sts.record_problem.empty()) {
        log_(Severity::warning, fmt::format("_mta-sts.{} TXT: no MTA-STS record: {}", escape_for_log(facts.domain),
                                            escape_for_log(facts.sts.record_problem)));
    }
}

bool PolicyEngine::attach_policy(DomainFacts& facts, bool memory_only, Clock::time_point dns_deadline) {
    const auto now = unix_now();
    auto& sts = facts.sts;
    auto cached = memory_only ? cache_.find_in_memory(facts.domain, now) : cache_.find(facts.domain, now);
    const auto use_cached = [&](const CachedPolicy& entry) {
        sts.policy = entry.policy;
        sts.policy_from_cache = true;
        sts.policy_age = std::chrono::seconds(std::max<std::int64_t>(now - entry.stored.fetched_at, 0));
        facts.dnssec_expectation_cached = entry.policy.mode != StsMode::none && entry.policy.dnssec_expected;
    };
    if (!sts.record) {
        // RFC 8461, section 5.1: without a record (removed, or DNS failing)
        // an unexpired cached policy still applies.
        if (cached) {
            metrics_.count_cache(true);
            use_cached(*cached);
            return true;
        }
        return !memory_only;  // the store may hold one
    }
    if (cached && cached->stored.id == sts.record->id) {
        metrics_.count_cache(true);
        use_cached(*cached);
        if (request_refresh_ && cached->due_for_refresh(now)) {
            request_refresh_(facts.domain);
        }
        return true;
    }
    if (memory_only) {
        return false;
    }
    // No policy yet, or the id changed: fetch now, so the first answer
    // already carries the policy (Postfix would deliver without it meanwhile).
    metrics_.count_cache(false);
    const auto fetched = fetch(facts.domain, sts.record->id, dns_deadline);
    if (fetched.policy) {
        sts.policy = fetched.policy->policy;
        sts.policy_age = std::chrono::seconds(std::max<std::int64_t>(now - fetched.policy->stored.fetched_at, 0));
        return true;
    }
    sts.fetch_error = fetched.policy.error();
    sts.policy_host_bogus = fetched.bogus_address;
    if (cached) {
        use_cached(*cached);  // a failed refresh keeps the unexpired policy
    }
    return true;
}

PolicyEngine::FetchResult PolicyEngine::fetch(const std::string& domain, const std::string& id,
                                              Clock::time_point dns_deadline) {
    std::shared_ptr<Flight> flight;
    bool leader = false;
    {
        std::unique_lock lock(flights_mutex_);
        if (auto remembered = remembered_failure(domain, id)) {
            lock.unlock();
            // The policy host's address is still looked up (from the
            // resolver's cache, mostly, and within the query's DNS deadline):
            // a bogus answer defers now as it would without the back-off.
            // What the back-off saves is the HTTPS attempt, up to
            // https-timeout.
            if (resolve_addresses(*resolver_, "mta-sts." + domain, dns_deadline).bogus) {
                return bogus_policy_host(domain);
            }
            metrics_.count_fetch(FetchOutcome::backed_off);
            log_(Severity::warning, fmt::format("MTA-STS policy of {}: not fetched: {}", domain,
                                                escape_for_log(remembered->policy.error())));
            return std::move(remembered).value();
        }
        auto& slot = flights_[domain];
        if (!slot) {
            slot = std::make_shared<Flight>();
            leader = true;
        }
        flight = slot;
        if (!leader) {
            flight_done_.wait(lock, [&] { return flight->done; });
            return *flight->result;
        }
    }
    std::optional<FetchResult> result;
    bool attempted = false;  // an internal error (out of resources, say) is not the policy host's failure
    try {
        result = fetch_now(domain, id, dns_deadline);
        attempted = true;
    } catch (const std::exception& error) {
        result = FetchResult{Error{fmt::format("internal error: {}", error.what())}};
    }
    {
        const std::scoped_lock lock(flights_mutex_);
        if (attempted) {
            remember_failure(domain, id, *result);
        }
        flight->result = result;
        flight->done = true;
        flights_.erase(domain);
    }
    flight_done_.notify_all();
    return *result;
}

std::optional<PolicyEngine::FetchResult> PolicyEngine::remembered_failure(const std::string& domain,
                                                                          const std::string& id) {
    const auto it = failures_.find(domain);
    if (it == failures_.end()) {
        return std::nullopt;
    }
    const auto now = Clock::now();
    const auto until = it->second.failed_at + settings_.fetch_failure_backoff;
    if (until <= now) {
        failures_.erase(it);
        return std::nullopt;
    }
    if (it->second.id != id) {
        return std::nullopt;  // a new policy announced: its fetch is not held back by the old one's failure
    }
    const auto ago = std::chrono::duration_cast<std::chrono::seconds>(now - it->second.failed_at).count();
    const auto left = std::chrono::ceil<std::chrono::seconds>(until - now).count();
    return FetchResult{
        Error{fmt::format("remembered failure: the fetch for id={} failed {} s ago, next attempt in "
                          "{} s or later: {}",
                          id, ago, left, it->second.error)}};
}

void PolicyEngine::remember_failure(const std::string& domain, const std::string& id, const FetchResult& result) {
    if (result.policy || result.bogus_address || settings_.fetch_failure_backoff <= std::chrono::seconds::zero()) {
        failures_.erase(domain);
        return;
    }
    const auto now = Clock::now();
    if (!failures_.contains(domain) && failures_.size() >= kMaxRememberedFetchFailures) {
        // Full: drop the oldest, which is also the first to run out.
        const auto oldest = std::min_element(failures_.begin(), failures_.end(), [](const auto& a, const auto& b) {
            return a.second.failed_at < b.second.failed_at;
        });
        failures_.erase(oldest);
    }
    failures_[domain] = RememberedFailure{id, now, result.policy.error()};
}

PolicyEngine::FetchResult PolicyEngine::bogus_policy_host(const std::string& domain) {
    metrics_.count_fetch(FetchOutcome::failed);
    const auto why = fmt::format("the A/AAAA answer for mta-sts.{} is bogus (DNSSEC validation failed)", domain);
    log_(Severity::warning, fmt::format("MTA-STS policy of {}: not fetched: {}", domain, why));
    return FetchResult{Error{why}, true};
}

PolicyEngine::FetchResult PolicyEngine::fetch_now(const std::string& domain, const std::string& id,
                                                  Clock::time_point dns_deadline) {
    // The policy host's address from our validating resolver, pinned into
    // libcurl; a bogus answer is kept apart from "no address", so that the
    // decision can defer rather than call the server unreachable.
    const auto host = resolve_addresses(*resolver_, "mta-sts." + domain, dns_deadline);
    if (host.bogus) {
        return bogus_policy_host(domain);
    }
    auto body = fetch_sts_policy(domain, host.addresses, settings_.fetch);
    if (!body) {
        metrics_.count_fetch(FetchOutcome::failed);
        log_(Severity::warning,
             fmt::format("MTA-STS policy of {}: fetch failed: {}", domain, escape_for_log(body.error())));
        return FetchResult{Error{body.error()}};
    }
    auto entry = make_cached_policy(domain, id, std::move(body).value(), unix_now());
    if (!entry) {
        metrics_.count_fetch(FetchOutcome::invalid);
        log_(Severity::warning, fmt::format("MTA-STS policy of {}: {}", domain, escape_for_log(entry.error())));
        return FetchResult{std::move(entry)};
    }
    metrics_.count_fetch(FetchOutcome::fetched);
    cache_.put(*entry);
    metrics_.set_cached_policies(cache_.size());
    log_(Severity::info, fmt::format("MTA-STS policy of {} fetched: id={} mode={} max_age={}{}", domain, id,
                                     to_string(entry->policy.mode), entry->policy.max_age,
                                     entry->policy.dnssec_expected ? " dnssec=yes" : ""));
    return FetchResult{std::move(entry)};
}

void PolicyEngine::refresh(const std::string& domain) {
    const auto dns_deadline = Clock::now() + settings_.dns.timeout;
    const auto facts = gather_dns_facts(*resolver_, domain, settings_.dns, dns_deadline);
    if (!facts.sts.record) {
        return;  // no record now: the cached policy runs out by itself
    }
    static_cast<void>(fetch(domain, facts.sts.record->id, dns_deadline));
}

}  // namespace mtls::tlspolicy
