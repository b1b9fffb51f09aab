// The policy stores (SQLite here; Redis end to end in
// tests/integration/test_tlspolicy.py) and the in-memory cache in front.
#include <unistd.h>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

#include "mta_sts/policy_store.h"
#include "mta_sts/sqlite_policy_store.h"
#include "sts_policy_cache.h"

using namespace mtls;
using namespace mtls::tlspolicy;

namespace {

constexpr std::int64_t kNow = 1'800'000'000;

std::string policy_text(std::string_view mode, int max_age, std::string_view extra = "") {
    return "version: STSv1\nmode: " + std::string(mode) + "\nmx: mx.example.com\nmax_age: " + std::to_string(max_age) +
           "\n" + std::string(extra);
}

struct TempDir {
    TempDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "mtls-cache-XXXXXX").string();
        REQUIRE(mkdtemp(pattern.data()) != nullptr);
        path = pattern;
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::filesystem::path path;
};

// A store in memory that counts its calls, for the cache's own logic.
class CountingStore final : public PolicyStore {
public:
    std::optional<StoredPolicy> load(std::string_view domain) override {
        ++loads;
        if (fail) {
            throw std::runtime_error("disk on fire");
        }
        const auto found = entries.find(std::string(domain));
        return found == entries.end() ? std::nullopt : std::optional(found->second);
    }
    void save(const StoredPolicy& policy) override {
        if (fail) {
            throw std::runtime_error("disk on fire");
        }
        entries[policy.domain] = policy;
    }
    [[nodiscard]] std::string describe() const override { return "counting"; }

    std::map<std::string, StoredPolicy> entries;
    int loads = 0;
    bool fail = false;
};

}  // namespace

TEST_CASE("cache locations: a file, or redis://HOST[:PORT][/DB]") {
    const auto file = parse_store_location("/var/lib/mtls-tlspolicy/cache.sqlite");
    REQUIRE(file);
    CHECK(file->sqlite_path == "/var/lib/mtls-tlspolicy/cache.sqlite");
    const auto redis = parse_store_location("redis://cache.example:6380/2");
    REQUIRE(redis);
    CHECK(redis->sqlite_path.empty());
    CHECK(redis->redis_host == "cache.example");
    CHECK(redis->redis_port == 6380);
    CHECK(redis->redis_database == 2);
    const auto defaults = parse_store_location("redis://127.0.0.1");
    REQUIRE(defaults);
    CHECK(defaults->redis_port == 6379);
    CHECK(defaults->redis_database == 0);
    const auto v6 = parse_store_location("redis://[::1]:7000");
    REQUIRE(v6);
    CHECK(v6->redis_host == "::1");
    CHECK(v6->redis_port == 7000);
    for (const auto* bad : {"", "redis://", "redis://host:0", "redis://host:x", "redis://host/x", "redis://[::1",
                            "redis://host:70000", "redis://:6379"}) {
        INFO(bad);
        CHECK_FALSE(parse_store_location(bad));
    }
}

TEST_CASE("a cached policy lives max_age from its fetch, capped at a year, and is due halfway") {
    const auto entry = make_cached_policy("example.com", "id1", policy_text("enforce", 86400), kNow);
    REQUIRE(entry);
    CHECK(entry->stored.expires_at == kNow + 86400);
    CHECK_FALSE(entry->due_for_refresh(kNow + 43199));
    CHECK(entry->due_for_refresh(kNow + 43200));
    const auto capped = make_cached_policy("example.com", "id1", policy_text("enforce", 99999999), kNow);
    REQUIRE(capped);
    CHECK(capped->stored.expires_at == kNow + kMaxStsMaxAge);
    const auto garbage = make_cached_policy("example.com", "id1", "<html>oops</html>", kNow);
    REQUIRE_FALSE(garbage);
    CHECK(garbage.error().find("invalid policy") == 0);
}

TEST_CASE("SQLite store: entries survive reopening, and the table stays bounded") {
    const TempDir dir;
    const auto path = (dir.path / "cache.sqlite").string();
    const StoredPolicy policy{"example.com", "id1", policy_text("enforce", 600), kNow, kNow + 600};
    {
        SqlitePolicyStore store(path, 1000);
        CHECK_FALSE(store.load("example.com"));
        store.save(policy);
        CHECK(store.load("example.com") == policy);
    }
    {
        SqlitePolicyStore reopened(path, 1000);
        CHECK(reopened.load("example.com") == policy);
        auto newer = policy;
        newer.id = "id2";
        reopened.save(newer);
        CHECK(reopened.load("example.com")->id == "id2");
    }
    SqlitePolicyStore small(path, 10);
    const auto far_future = std::int64_t{4'000'000'000};
    for (int i = 0; i < 200; ++i) {
        small.save({"d" + std::to_string(i) + ".example", "id", "text", kNow + i, far_future});
    }
    int kept = 0;
    for (int i = 0; i < 200; ++i) {
        kept += small.load("d" + std::to_string(i) + ".example") ? 1 : 0;
    }
    // Trimmed every 64 saves: at most the bound plus what came since.
    CHECK(kept <= 10 + 64);
    CHECK(small.load("d199.example"));  // the most recent are kept

    // Below its bound a store loses nothing, however many trims came by.
    SqlitePolicyStore large((dir.path / "large.sqlite").string(), 300);
    for (int i = 0; i < 300; ++i) {
        large.save({"d" + std::to_string(i) + ".example", "id", "text", kNow + i, far_future});
    }
    int all = 0;
    for (int i = 0; i < 300; ++i) {
        all += large.load("d" + std::to_string(i) + ".example") ? 1 : 0;
    }
    CHECK(all == 300);
}

TEST_CASE("read-only access (--query) reads the daemon's entries and writes nothing") {
    const TempDir dir;
    const auto path = (dir.path / "cache.sqlite").string();
    StoreLocation location;
    location.sqlite_path = path;
    CHECK_THROWS(open_policy_store(location, 10, StoreAccess::read_only));  // no file: none is created
    CHECK_FALSE(std::filesystem::exists(path));
    const StoredPolicy policy{"example.com", "id1", policy_text("enforce", 600), kNow, kNow + 600};
    open_policy_store(location, 10)->save(policy);
    const auto reader = open_policy_store(location, 10, StoreAccess::read_only);
    CHECK(reader->load("example.com") == policy);
    auto other = policy;
    other.domain = "other.example";
    reader->save(other);
    CHECK_FALSE(reader->load("other.example"));
    CHECK(reader->describe() == "sqlite:" + path + " (read-only)");
}

TEST_CASE("SQLite store: a file that cannot be created is an error with the path") {
    CHECK_THROWS_WITH(SqlitePolicyStore("/nonexistent-dir/cache.sqlite", 10),
                      Catch::Contains("/nonexistent-dir/cache.sqlite"));
}

TEST_CASE("the memory cache answers from memory, reads the store on a miss, drops expired entries") {
    auto owned = std::make_unique<CountingStore>();
    auto& store = *owned;
    StsPolicyCache cache(std::move(owned), 2, [](Severity, std::string_view) {});
    auto entry = make_cached_policy("a.example", "id1", policy_text("enforce", 600), kNow);
    REQUIRE(entry);
    cache.put(*entry);
    CHECK(store.entries.count("a.example") == 1);
    const auto loads = store.loads;
    REQUIRE(cache.find("a.example", kNow + 10));
    CHECK(store.loads == loads);                       // from memory
    CHECK_FALSE(cache.find("a.example", kNow + 600));  // expired

    // Written by another daemon (a shared Redis): found through the store.
    store.entries["b.example"] = {"b.example", "id9", policy_text("testing", 600, "dnssec: yes\n"), kNow, kNow + 600};
    const auto shared = cache.find("b.example", kNow + 1);
    REQUIRE(shared);
    CHECK(shared->policy.mode == StsMode::testing);
    CHECK(shared->policy.dnssec_expected);
    // A store entry claiming a longer life than its max_age gets no more.
    store.entries["c.example"] = {"c.example", "id", policy_text("enforce", 60), kNow, kNow + 999999};
    CHECK_FALSE(cache.find("c.example", kNow + 61));
    // Garbage in the store is no entry.
    store.entries["d.example"] = {"d.example", "id", "garbage", kNow, kNow + 600};
    CHECK_FALSE(cache.find("d.example", kNow + 1));
}

TEST_CASE("find_in_memory never reads the store and leaves expired entries to find") {
    auto owned = std::make_unique<CountingStore>();
    auto& store = *owned;
    StsPolicyCache cache(std::move(owned), 2, [](Severity, std::string_view) {});
    cache.put(*make_cached_policy("a.example", "id1", policy_text("enforce", 600), kNow));
    store.entries["b.example"] = {"b.example", "id9", policy_text("enforce", 600), kNow, kNow + 600};
    const auto loads = store.loads;
    const auto found = cache.find_in_memory("a.example", kNow + 10);
    REQUIRE(found);
    CHECK(found->stored.id == "id1");
    CHECK_FALSE(cache.find_in_memory("b.example", kNow + 10));   // only in the store
    CHECK_FALSE(cache.find_in_memory("a.example", kNow + 600));  // expired
    CHECK(store.loads == loads);
    CHECK(cache.size() == 1);
    CHECK(cache.find("b.example", kNow + 10));  // find() still reads the store
    CHECK(cache.find_in_memory("b.example", kNow + 10));
}

TEST_CASE("a domain put again is one entry with the newer policy; memory keeps no policy text") {
    StsPolicyCache cache(nullptr, 2, [](Severity, std::string_view) {});
    cache.put(*make_cached_policy("a.example", "id1", policy_text("enforce", 600), kNow));
    cache.put(*make_cached_policy("a.example", "id2", policy_text("testing", 600), kNow + 5));
    CHECK(cache.size() == 1);
    const auto found = cache.find("a.example", kNow + 10);
    REQUIRE(found);
    CHECK(found->stored.id == "id2");
    CHECK(found->stored.fetched_at == kNow + 5);
    CHECK(found->policy.mode == StsMode::testing);
    CHECK(found->stored.text.empty());
    // The index keys on the entries' own domains: evicting and expiring
    // entries must leave it consistent.
    cache.put(*make_cached_policy("b.example", "id", policy_text("enforce", 600), kNow));
    cache.put(*make_cached_policy("c.example", "id", policy_text("enforce", 60), kNow));
    CHECK_FALSE(cache.find("a.example", kNow + 10));
    CHECK_FALSE(cache.find("c.example", kNow + 61));
    CHECK(cache.size() == 1);
    CHECK(cache.find("b.example", kNow + 61));
}

TEST_CASE("the memory cache is bounded (least recently used go) and survives a failing store") {
    auto owned = std::make_unique<CountingStore>();
    auto& store = *owned;
    std::vector<std::string> logged;
    StsPolicyCache cache(std::move(owned), 2, [&](Severity, std::string_view text) { logged.emplace_back(text); });
    for (const auto* domain : {"a.example", "b.example", "c.example"}) {
        cache.put(*make_cached_policy(domain, "id", policy_text("enforce", 600), kNow));
    }
    CHECK(cache.size() == 2);
    store.fail = true;
    CHECK_FALSE(cache.find("a.example", kNow + 1));  // evicted from memory, store failing
    CHECK(cache.find("c.example", kNow + 1));
    cache.put(*make_cached_policy("e.example", "id", policy_text("enforce", 600), kNow));
    CHECK(cache.find("e.example", kNow + 1));  // memory still works
    CHECK(logged.size() == 2);
    CHECK(logged.front().find("disk on fire") != std::string::npos);
}

TEST_CASE("due_for_refresh lists domains past half their lifetime") {
    StsPolicyCache cache(nullptr, 10, [](Severity, std::string_view) {});
    cache.put(*make_cached_policy("old.example", "id", policy_text("enforce", 100), kNow - 60));
    cache.put(*make_cached_policy("new.example", "id", policy_text("enforce", 100), kNow));
    CHECK(cache.due_for_refresh(kNow, 10) == std::vector<std::string>{"old.example"});
    CHECK(cache.due_for_refresh(kNow, 0).empty());
}
