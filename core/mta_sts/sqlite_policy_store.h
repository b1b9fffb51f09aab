// The default policy store: one SQLite file (libsqlite3), written in WAL
// mode so that a reader never waits for the writer, one table keyed by
// domain. Survives restarts, which is what RFC 8461, section 5.1 asks.
#pragma once

#include <sqlite3.h>

#include <memory>
#include <mutex>

#include "base/free_with.h"
#include "mta_sts/policy_store.h"

namespace mtls {

class SqlitePolicyStore final : public PolicyStore {
public:
    SqlitePolicyStore(const std::string& path, std::size_t max_entries);

    std::optional<StoredPolicy> load(std::string_view domain) override;
    void save(const StoredPolicy& policy) override;
    [[nodiscard]] std::string describe() const override { return "sqlite:" + path_; }

private:
    void execute(const char* sql);
    void trim();

    std::string path_;
    std::size_t max_entries_;
    std::mutex mutex_;  // one connection, one statement at a time
    std::unique_ptr<sqlite3, FreeWith<&sqlite3_close_v2>> db_;
    std::size_t saves_since_trim_ = 0;
};

}  // namespace mtls
