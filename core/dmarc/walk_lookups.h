// The DNS side of the DMARC stage: starts the tree walks' TXT queries over
// the Resolver seam (dns/resolver.h; in production libunbound behind the
// answer cache of dns/answer_cache.h) and collects them into WalkAnswers
// for the pure functions of tree_walk.h.
//
// All the names of a walk start at once, so a walk costs one round trip;
// a name is asked once per message however many walks pass through it;
// and the whole message asks at most max_queries names (a From, a MAIL
// FROM and a few DKIM d= domains fit; a name past the budget is never
// asked and counts as an error if a walk reaches it). One query of the
// budget is kept for the author domain's existence lookup: the identifiers
// are the sender's to choose, and if their walks could use it all, np
// (RFC 9989 section 4.10.1) would never apply. Start the author domain's
// walk as soon as From is known and collect at end of message, so the
// lookups run while the message body arrives.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "dmarc/evaluation.h"
#include "dmarc/policy_discovery.h"
#include "dmarc/tree_walk.h"
#include "dns/resolver.h"

namespace mtls::dmarc {

class WalkLookups {
public:
    static constexpr std::size_t kDefaultMaxQueries = 32;
    // Of max_queries, what start_walk() leaves for start_existence().
    static constexpr std::size_t kExistenceReserve = 1;

    WalkLookups(Resolver& resolver, std::chrono::milliseconds timeout, std::size_t max_queries = kDefaultMaxQueries);
    WalkLookups(const WalkLookups&) = delete;
    WalkLookups& operator=(const WalkLookups&) = delete;
    WalkLookups(WalkLookups&&) noexcept = default;
    WalkLookups& operator=(WalkLookups&&) noexcept = default;
    ~WalkLookups() = default;  // pending lookups are cancelled by ~Lookup

    // Starts the TXT queries of every walk name of domain not yet started,
    // while the budget less kExistenceReserve (until start_existence() ran)
    // allows. The domain must be canonical (dns/domain_name.h).
    void start_walk(std::string_view domain);

    // Starts the existence lookup of the author domain (type A: NXDOMAIN
    // means it does not exist; an answer or NODATA that it does). Counts
    // against the same budget, in which the walks left it room.
    void start_existence(std::string_view domain);

    // Waits for every query started so far (each up to its own deadline)
    // and returns all answers. Later start_walk() calls add to them.
    const WalkAnswers& answers();

    // The existence of the domain passed to start_existence, once collected.
    Existence existence();

    // How many queries were started (for the log line's "queries").
    [[nodiscard]] std::size_t queries() const { return started_; }

private:
    [[nodiscard]] std::size_t walk_budget() const;

    Resolver* resolver_;
    std::chrono::milliseconds timeout_;
    std::size_t max_queries_;
    std::size_t started_ = 0;
    std::map<std::string, Lookup, std::less<>> pending_;  // by domain
    WalkAnswers answers_;
    std::optional<Lookup> existence_lookup_;
    Existence existence_ = Existence::unknown;
};

// The whole DMARC check of one message: starts (or reuses) the walks of the
// author domain and of every identifier that differs from it but could share
// its organizational domain (relaxed alignment needs theirs; one under
// another top-level label cannot align, so its walk costs no query), waits,
// looks up the author domain's existence when np matters, and evaluates.
Evaluation evaluate_with_lookups(WalkLookups& lookups, EvaluationInput input);

}  // namespace mtls::dmarc
