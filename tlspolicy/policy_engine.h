// One answer, from the socketmap key to the Decision: the next hop parsed,
// the DNS facts gathered (dns_facts.h), the MTA-STS policy taken from the
// cache or fetched (RFC 8461, section 5.1), and policy_decision.h's rules
// applied. Thread-safe: the socketmap workers, the background refresher and
// --query share it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "dns/resolver.h"
#include "dns_facts.h"
#include "mta_sts/policy_fetch.h"
#include "policy_decision.h"
#include "sts_policy_cache.h"
#include "tlspolicy_metrics.h"

namespace mtls::tlspolicy {

// How long a failed MTA-STS fetch for (domain, id) is remembered: while it
// is, queries for the domain answer as RFC 8461, section 5.1 says for a
// failed fetch (an unexpired cached policy, else none) without fetching
// again. Five minutes, not something derived from https-timeout: the
// timeout bounds what one attempt costs a worker, the back-off how often a
// dead policy host may cost it; five minutes makes a dead host cost at most
// one attempt per domain and id in that time (the background refresher's
// and a query's alike), and a repaired host is used again soon after.
inline constexpr std::chrono::seconds kFetchFailureBackoff{300};
// At most this many remembered failures; the oldest go first.
inline constexpr std::size_t kMaxRememberedFetchFailures = 4096;

struct EngineSettings {
    DnsQuerySettings dns;
    PolicyFetchSettings fetch;
    DecisionSettings decision;
    std::chrono::seconds fetch_failure_backoff = kFetchFailureBackoff;
};

class PolicyEngine {
public:
    using Log = std::function<void(Severity, std::string_view)>;
    // Called with a domain whose cached policy should be refreshed soon,
    // without the caller waiting for it (the background refresher).
    using RefreshRequest = std::function<void(const std::string& domain)>;

    PolicyEngine(std::shared_ptr<Resolver> resolver, EngineSettings settings, StsPolicyCache& cache,
                 TlsPolicyMetrics& metrics, Log log, RefreshRequest request_refresh = {});

    // The answer to the socketmap key (everything after "postfix ").
    Decision answer(std::string_view key);
    // The same answer when it needs nothing but what is in memory (cached
    // DNS answers, a cached policy): no lookup, no store read, no fetch, no
    // wait. std::nullopt otherwise; answer() then gives it.
    std::optional<Decision> answer_from_memory(std::string_view key);

    // For the background refresher: looks at the domain's _mta-sts record
    // and fetches its policy again (a failure keeps the cached one).
    void refresh(const std::string& domain);

    [[nodiscard]] const EngineSettings& settings() const { return settings_; }

private:
    struct FetchResult {
        Expected<CachedPolicy> policy;
        bool bogus_address = false;  // mta-sts.<domain>'s address answer was bogus: nothing was fetched
    };

    // Sets facts.sts.policy (and its age, source, fetch error) and
    // facts.dnssec_expectation_cached. With memory_only, from the cache's
    // memory alone, and false when that is not enough to decide (the store
    // might hold the policy, or it would have to be fetched).
    // dns_deadline: the query's, which the lookup of mta-sts.<domain> shares.
    bool attach_policy(DomainFacts& facts, bool memory_only, Clock::time_point dns_deadline);
    // Fetches and caches the policy for (domain, id); one fetch per domain at
    // a time, later callers wait for it and share its result. A failure is
    // remembered for settings().fetch_failure_backoff and given again,
    // without a new attempt, until then (unless the id changes).
    FetchResult fetch(const std::string& domain, const std::string& id, Clock::time_point dns_deadline);
    FetchResult fetch_now(const std::string& domain, const std::string& id, Clock::time_point dns_deadline);
    // The failure for a bogus A/AAAA answer for mta-sts.<domain>: counted and logged.
    FetchResult bogus_policy_host(const std::string& domain);
    // A warning for an _mta-sts TXT RRset that gave no record, with why.
    void log_record_problem(const DomainFacts& facts);

    std::shared_ptr<Resolver> resolver_;
    EngineSettings settings_;
    StsPolicyCache& cache_;
    TlsPolicyMetrics& metrics_;
    Log log_;
    RefreshRequest request_refresh_;

    struct Flight {
        bool done = false;
        std::optional<FetchResult> result;
    };
    std::mutex flights_mutex_;
    std::condition_variable flight_done_;
    std::map<std::string, std::shared_ptr<Flight>> flights_;

    // Failed fetches (no answer, refused, invalid policy) by domain, guarded
    // by flights_mutex_; a success or a new id ends one. A bogus address
    // answer is never remembered, nor an internal error: each query looks
    // the address up again, so that it defers while the answer stays bogus
    // and sees when it stops being so.
    struct RememberedFailure {
        std::string id;
        Clock::time_point failed_at;  // in force until failed_at + settings_.fetch_failure_backoff
        std::string error;
    };
    std::map<std::string, RememberedFailure> failures_;
    // The remembered failure for (domain, id), if one is still in force.
    std::optional<FetchResult> remembered_failure(const std::string& domain, const std::string& id);
    void remember_failure(const std::string& domain, const std::string& id, const FetchResult& result);
};

// Unix seconds now.
std::int64_t unix_now();

}  // namespace mtls::tlspolicy
