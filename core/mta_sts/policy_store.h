// Where fetched MTA-STS policies are kept between fetches and across
// restarts (RFC 8461, section 5.1: a policy must outlive a restart, or each
// restart opens a downgrade window). Two backends behind one interface:
// SQLite in a local file (the default) and Redis, which lets several MTAs
// share one cache the way fleets run postfix-mta-sts-resolver.
//
// Entries are the policy text as fetched, not a parsed form: the parser
// (sts_policy.h) stays the one judge of what a policy says, also of entries
// written by another version of the daemon.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/expected.h"

namespace mtls {

struct StoredPolicy {
    std::string domain;  // canonical policy domain
    std::string id;      // the _mta-sts TXT id it was fetched under
    std::string text;    // the policy file as served
    std::int64_t fetched_at = 0;  // Unix seconds
    std::int64_t expires_at = 0;  // fetched_at + max_age (capped to one year)
    friend bool operator==(const StoredPolicy&, const StoredPolicy&) = default;
};

// Thread-safe. Failures of the backend (disk full, Redis gone) throw
// std::runtime_error with the backend's reason; callers fall back to what
// they hold in memory.
class PolicyStore {
public:
    PolicyStore() = default;
    virtual ~PolicyStore() = default;
    PolicyStore(const PolicyStore&) = delete;
    PolicyStore& operator=(const PolicyStore&) = delete;

    // The entry for domain, expired or not (the caller judges).
    virtual std::optional<StoredPolicy> load(std::string_view domain) = 0;
    // Replaces the domain's entry. Keeps at most max_entries: beyond, the
    // expired go first, then the least recently fetched.
    virtual void save(const StoredPolicy& policy) = 0;
    [[nodiscard]] virtual std::string describe() const = 0;
};

// "redis://HOST[:PORT][/DB]" (HOST a name or address, IPv6 in brackets;
// port 6379 and database 0 by default), or a file path for SQLite.
struct StoreLocation {
    std::string sqlite_path;  // non-empty for SQLite
    std::string redis_host;
    std::uint16_t redis_port = 6379;
    int redis_database = 0;
};

Expected<StoreLocation> parse_store_location(std::string_view text);

// Opens (and for SQLite creates) the store; throws std::runtime_error.
std::unique_ptr<PolicyStore> open_policy_store(const StoreLocation& location, std::size_t max_entries);

}  // namespace mtls
