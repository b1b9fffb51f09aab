// A policy store in Redis (hiredis), shared by every MTA that points at the
// same database, as fleets of postfix-mta-sts-resolver do. One key per domain,
// "mtls-tlspolicy:sts:<domain>", holding the entry as JSON and expiring with
// the policy, so Redis itself bounds the set (size it with its maxmemory).
// One connection, re-established after a failure.
#pragma once

#include <hiredis/hiredis.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/free_with.h"
#include "mta_sts/policy_store.h"

namespace mtls {

class RedisPolicyStore final : public PolicyStore {
public:
    RedisPolicyStore(std::string host, std::uint16_t port, int database);

    std::optional<StoredPolicy> load(std::string_view domain) override;
    void save(const StoredPolicy& policy) override;
    [[nodiscard]] std::string describe() const override;

private:
    using Reply = std::unique_ptr<redisReply, FreeWith<&freeReplyObject>>;
    // Connects when there is no connection; throws std::runtime_error.
    redisContext* connection();
    // One command; a failed connection is dropped so that the next reconnects.
    Reply command(const std::vector<std::string>& arguments);

    std::string host_;
    std::uint16_t port_;
    int database_;
    std::mutex mutex_;
    std::unique_ptr<redisContext, FreeWith<&redisFree>> context_;
};

}  // namespace mtls
