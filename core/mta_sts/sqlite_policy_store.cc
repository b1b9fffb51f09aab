#include "mta_sts/sqlite_policy_store.h"

#include <fmt/format.h>

#include <stdexcept>

namespace mtls {
namespace {

using Statement = std::unique_ptr<sqlite3_stmt, FreeWith<&sqlite3_finalize>>;

// Counting rows on every save would cost a scan; every this many saves is
// enough to keep the table near its bound.
constexpr std::size_t kTrimEvery = 64;

[[noreturn]] void fail(sqlite3* db, std::string_view what) {
    throw std::runtime_error(fmt::format("SQLite {}: {}", what, sqlite3_errmsg(db)));
}

Statement prepare(sqlite3* db, std::string_view sql) {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &raw, nullptr) != SQLITE_OK) {
        fail(db, "prepare");
    }
    return Statement(raw);
}

void bind_text(sqlite3* db, sqlite3_stmt* statement, int index, std::string_view text) {
    if (sqlite3_bind_text(statement, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT) !=
        SQLITE_OK) {
        fail(db, "bind");
    }
}

std::string column_text(sqlite3_stmt* statement, int column) {
    const auto* text = sqlite3_column_text(statement, column);
    const auto size = sqlite3_column_bytes(statement, column);
    return text == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(text), size);
}

}  // namespace

SqlitePolicyStore::SqlitePolicyStore(const std::string& path, std::size_t max_entries, StoreAccess access)
    : path_(path), max_entries_(max_entries) {
    sqlite3* raw = nullptr;
    const int mode =
        access == StoreAccess::read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    const int opened = sqlite3_open_v2(path.c_str(), &raw, mode | SQLITE_OPEN_NOMUTEX, nullptr);
    db_.reset(raw);
    if (opened != SQLITE_OK) {
        throw std::runtime_error(fmt::format("cannot open the policy cache {}: {}", path,
                                             raw != nullptr ? sqlite3_errmsg(raw) : "out of memory"));
    }
    sqlite3_busy_timeout(db_.get(), 2000);  // another process (a second daemon) holding the lock
    if (access == StoreAccess::read_only) {
        return;
    }
    execute("PRAGMA journal_mode=WAL");
    execute("PRAGMA synchronous=NORMAL");
    execute(
        "CREATE TABLE IF NOT EXISTS sts_policy (domain TEXT PRIMARY KEY, id TEXT NOT NULL, policy TEXT NOT NULL, "
        "fetched_at INTEGER NOT NULL, expires_at INTEGER NOT NULL)");
}

void SqlitePolicyStore::execute(const char* sql) {
    char* message = nullptr;
    if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, &message) != SQLITE_OK) {
        const std::unique_ptr<char, FreeWith<&sqlite3_free>> owned(message);
        throw std::runtime_error(
            fmt::format("SQLite {}: {}: {}", path_, sql, owned ? owned.get() : sqlite3_errmsg(db_.get())));
    }
}

std::optional<StoredPolicy> SqlitePolicyStore::load(std::string_view domain) {
    const std::scoped_lock lock(mutex_);
    auto statement = prepare(db_.get(), "SELECT id, policy, fetched_at, expires_at FROM sts_policy WHERE domain = ?1");
    bind_text(db_.get(), statement.get(), 1, domain);
    const int step = sqlite3_step(statement.get());
    if (step == SQLITE_DONE) {
        return std::nullopt;
    }
    if (step != SQLITE_ROW) {
        fail(db_.get(), "read");
    }
    return StoredPolicy{std::string(domain), column_text(statement.get(), 0), column_text(statement.get(), 1),
                        sqlite3_column_int64(statement.get(), 2), sqlite3_column_int64(statement.get(), 3)};
}

void SqlitePolicyStore::save(const StoredPolicy& policy) {
    const std::scoped_lock lock(mutex_);
    auto statement = prepare(db_.get(),
                             "INSERT OR REPLACE INTO sts_policy (domain, id, policy, fetched_at, expires_at) "
                             "VALUES (?1, ?2, ?3, ?4, ?5)");
    bind_text(db_.get(), statement.get(), 1, policy.domain);
    bind_text(db_.get(), statement.get(), 2, policy.id);
    bind_text(db_.get(), statement.get(), 3, policy.text);
    sqlite3_bind_int64(statement.get(), 4, policy.fetched_at);
    sqlite3_bind_int64(statement.get(), 5, policy.expires_at);
    if (sqlite3_step(statement.get()) != SQLITE_DONE) {
        fail(db_.get(), "write");
    }
    if (++saves_since_trim_ >= kTrimEvery) {
        saves_since_trim_ = 0;
        trim();
    }
}

// Beyond the bound, the expired rows go first, then the least recently
// fetched: one statement, ordered so that expired rows sort first. That
// statement sorts the whole table, which near 100,000 rows took tens of
// milliseconds under the store's lock every kTrimEvery saves; counting the
// rows first is a fraction of that, and below the bound is all it costs.
void SqlitePolicyStore::trim() {
    auto count = prepare(db_.get(), "SELECT count(*) FROM sts_policy");
    if (sqlite3_step(count.get()) != SQLITE_ROW) {
        fail(db_.get(), "count");
    }
    if (sqlite3_column_int64(count.get(), 0) <= static_cast<sqlite3_int64>(max_entries_)) {
        return;
    }
    auto statement = prepare(db_.get(),
                             "DELETE FROM sts_policy WHERE domain IN (SELECT domain FROM sts_policy "
                             "ORDER BY expires_at < strftime('%s','now') ASC, fetched_at DESC LIMIT -1 OFFSET ?1)");
    sqlite3_bind_int64(statement.get(), 1, static_cast<sqlite3_int64>(max_entries_));
    if (sqlite3_step(statement.get()) != SQLITE_DONE) {
        fail(db_.get(), "trim");
    }
}

}  // namespace mtls
