// The store between the policy channel and the milter: which connection an
// entry belongs to (since), how long it lives, how many there are, and who
// hears of the ones nobody claimed.
#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fingerprint_store.h"

using namespace mtls;
using namespace mtls::milter;
using namespace std::chrono_literals;

namespace {

ClientEndpoint endpoint(std::string_view address, std::string_view port) {
    const auto parsed = ClientEndpoint::parse(address, port);
    REQUIRE(parsed);
    return *parsed;
}

Fingerprints fingerprints(std::uint8_t seed) {
    Fingerprints result;
    result.certificate = Sha256Digest{};
    result.certificate->fill(seed);
    result.public_key = Sha256Digest{};
    result.public_key->fill(static_cast<std::uint8_t>(seed + 1));
    return result;
}

struct Unclaimed {
    std::mutex mutex;
    std::vector<std::string> seen;  // "address port why"

    FingerprintStore::UnclaimedHandler handler() {
        return [this](const ClientEndpoint& client, std::string_view why) {
            const std::lock_guard lock(mutex);
            seen.push_back(client.address.to_string() + " " + std::to_string(client.port) + " " + std::string(why));
        };
    }
};

const StoreClock::time_point t0 = StoreClock::now();

}  // namespace

TEST_CASE("client endpoints as Postfix writes them", "[session_store]") {
    CHECK(endpoint("192.0.2.1", "25").address.to_string() == "192.0.2.1");
    CHECK(endpoint("192.0.2.1", "65535").port == 65535);
    CHECK(endpoint("2001:db8::1", "54321") == endpoint("IPv6:2001:db8::1", "54321"));
    CHECK(endpoint("2001:DB8:0::1", "54321") == endpoint("ipv6:2001:db8::1", "54321"));
    CHECK(endpoint("::ffff:192.0.2.1", "1") == endpoint("192.0.2.1", "1"));
    CHECK(endpoint("IPv6:2001:db8::1", "54321").address.to_string() == "2001:db8::1");
    CHECK_FALSE(endpoint("192.0.2.1", "25") == endpoint("192.0.2.1", "26"));
    CHECK_FALSE(endpoint("192.0.2.1", "25") == endpoint("192.0.2.2", "25"));

    for (const auto& [address, port] : std::vector<std::pair<std::string, std::string>>{
             {"192.0.2.1", "0"},
             {"192.0.2.1", "65536"},
             {"192.0.2.1", "123456"},
             {"192.0.2.1", ""},
             {"192.0.2.1", "-1"},
             {"192.0.2.1", "+25"},
             {"192.0.2.1", " 25"},
             {"192.0.2.1", "25x"},
             {"", "25"},
             {"unknown", "25"},
             {"IPv6:", "25"},
             {"IPv6:192.0.2.1", "25"},
             {"[192.0.2.1]", "25"},
             {"mx.example.test", "25"},
             {std::string("192.0.2.1\0", 10), "25"},
         }) {
        INFO(address << " / " << port);
        CHECK_FALSE(ClientEndpoint::parse(address, port));
    }
}

TEST_CASE("a session is found by a connection that began before it was recorded", "[session_store]") {
    FingerprintStore store({10, 3600s});
    const auto client = endpoint("192.0.2.1", "40000");
    store.record(client, fingerprints(1), t0 + 10s);

    CHECK(store.find(client, t0, t0 + 11s) == fingerprints(1));
    CHECK(store.find(client, t0 + 10s, t0 + 11s) == fingerprints(1));  // "at or after"
    // A milter connection that began later is a later TCP connection that
    // reuses the address and port: the entry is not its own.
    CHECK_FALSE(store.find(client, t0 + 10s + 1ms, t0 + 11s));
    CHECK_FALSE(store.find(endpoint("192.0.2.1", "40001"), t0, t0 + 11s));
    CHECK_FALSE(store.find(endpoint("192.0.2.2", "40000"), t0, t0 + 11s));
    CHECK(store.size() == 1);
}

TEST_CASE("a later record for the same connection replaces the earlier one", "[session_store]") {
    FingerprintStore store({10, 3600s});
    const auto client = endpoint("2001:db8::1", "40000");
    store.record(client, fingerprints(1), t0 + 1s);
    store.record(endpoint("IPv6:2001:db8::1", "40000"), fingerprints(5), t0 + 2s);
    CHECK(store.size() == 1);
    CHECK(store.find(client, t0, t0 + 3s) == fingerprints(5));
}

TEST_CASE("forget drops only the entry of this connection", "[session_store]") {
    Unclaimed unclaimed;
    FingerprintStore store({10, 3600s}, unclaimed.handler());
    const auto client = endpoint("192.0.2.1", "40000");
    store.record(client, fingerprints(1), t0 + 10s);
    store.forget(client, t0 + 11s);  // a later connection ends: not its entry
    CHECK(store.size() == 1);
    store.forget(client, t0 + 5s);
    CHECK(store.size() == 0);
    CHECK_FALSE(store.find(client, t0, t0 + 12s));
    CHECK(unclaimed.seen.empty());  // forgetting is not losing
}

TEST_CASE("sessions expire after their lifetime, unclaimed ones are reported", "[session_store]") {
    Unclaimed unclaimed;
    FingerprintStore store({10, 60s}, unclaimed.handler());
    const auto claimed = endpoint("192.0.2.1", "1000");
    const auto lost = endpoint("192.0.2.2", "2000");
    const auto young = endpoint("192.0.2.3", "3000");
    store.record(claimed, fingerprints(1), t0);
    store.record(lost, fingerprints(2), t0 + 1s);
    store.record(young, fingerprints(3), t0 + 30s);
    CHECK(store.find(claimed, t0, t0 + 59s) == fingerprints(1));
    CHECK(unclaimed.seen.empty());

    // At its lifetime an entry is gone, on any access.
    CHECK_FALSE(store.find(claimed, t0, t0 + 60s));
    CHECK(store.size() == 2);
    CHECK(unclaimed.seen.empty());  // it had been claimed
    CHECK_FALSE(store.find(lost, t0, t0 + 61s));
    CHECK(unclaimed.seen == std::vector<std::string>{"192.0.2.2 2000 expired"});
    CHECK(store.find(young, t0, t0 + 61s) == fingerprints(3));

    // record() expires too.
    store.record(endpoint("192.0.2.4", "4000"), fingerprints(4), t0 + 200s);
    CHECK(store.size() == 1);
    CHECK(unclaimed.seen.size() == 1);  // young had been claimed
}

TEST_CASE("the oldest session is evicted at max_sessions", "[session_store]") {
    Unclaimed unclaimed;
    FingerprintStore store({3, 3600s}, unclaimed.handler());
    for (int i = 1; i <= 3; ++i) {
        store.record(endpoint("192.0.2.1", std::to_string(i)), fingerprints(static_cast<std::uint8_t>(i)),
                     t0 + std::chrono::seconds(i));
    }
    CHECK(store.find(endpoint("192.0.2.1", "2"), t0, t0 + 4s));
    // Replacing an entry does not count as a new one, but makes it the newest.
    store.record(endpoint("192.0.2.1", "1"), fingerprints(9), t0 + 4s);
    CHECK(store.size() == 3);
    CHECK(unclaimed.seen.empty());

    store.record(endpoint("192.0.2.1", "4"), fingerprints(4), t0 + 5s);  // evicts 2 (claimed)
    CHECK(store.size() == 3);
    CHECK(unclaimed.seen.empty());
    CHECK_FALSE(store.find(endpoint("192.0.2.1", "2"), t0, t0 + 5s));

    store.record(endpoint("192.0.2.1", "5"), fingerprints(5), t0 + 6s);  // evicts 3 (unclaimed)
    CHECK(unclaimed.seen == std::vector<std::string>{"192.0.2.1 3 evicted: policy-max-sessions reached"});
    CHECK(store.find(endpoint("192.0.2.1", "1"), t0, t0 + 6s) == fingerprints(9));
    CHECK(store.find(endpoint("192.0.2.1", "4"), t0, t0 + 6s));
    CHECK(store.find(endpoint("192.0.2.1", "5"), t0, t0 + 6s));
}

TEST_CASE("the unclaimed handler runs outside the store's lock", "[session_store]") {
    // A handler that calls back into the store would deadlock under the lock.
    std::shared_ptr<FingerprintStore> store;
    std::size_t size_seen = 99;
    store =
        std::make_shared<FingerprintStore>(FingerprintStore::Limits{1, 3600s},
                                           [&](const ClientEndpoint&, std::string_view) { size_seen = store->size(); });
    store->record(endpoint("192.0.2.1", "1"), fingerprints(1), t0);
    store->record(endpoint("192.0.2.1", "2"), fingerprints(2), t0 + 1s);
    CHECK(size_seen == 1);
}

TEST_CASE("the session store under concurrent use", "[session_store]") {
    std::atomic<int> reported{0};
    FingerprintStore store({500, 3600s}, [&](const ClientEndpoint&, std::string_view) { ++reported; });
    constexpr int kThreads = 8;
    constexpr int kPerThread = 2000;
    std::atomic<int> found{0};
    std::vector<std::thread> threads;
    const auto start = StoreClock::now();
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < kPerThread; ++i) {
                // No Catch2 assertions in these threads: Catch2 v2 is not thread-safe.
                const auto client = *ClientEndpoint::parse("192.0.2." + std::to_string(t + 1), std::to_string(i + 1));
                store.record(client, fingerprints(static_cast<std::uint8_t>(t)), StoreClock::now());
                if (store.find(client, start, StoreClock::now()) == fingerprints(static_cast<std::uint8_t>(t))) {
                    ++found;
                }
                if (i % 2 == 0) {
                    store.forget(client, start);
                }
            }
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    CHECK(store.size() <= 500);
    // Each entry was either claimed by its find, or evicted before it (500
    // newer ones from other threads came in between) and then reported:
    // never both, never neither.
    CHECK(found + reported == kThreads * kPerThread);
    CHECK(found > 0);
}
