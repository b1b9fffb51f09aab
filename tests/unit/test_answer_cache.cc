// AnswerCache: what may be repeated, for how long, and what makes room.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "dns/answer_cache.h"

using namespace mtls;
using namespace std::chrono_literals;

namespace {

constexpr std::uint16_t kClientMx = 265;
constexpr std::uint16_t kTlsa = 52;

DnsAnswer answer_with(AnswerStatus status, DnssecState dnssec, std::uint8_t first_byte = 0) {
    DnsAnswer answer;
    answer.status = status;
    answer.dnssec = dnssec;
    if (status == AnswerStatus::records) {
        answer.rdata.push_back({0, 10, first_byte, 0});
    }
    answer.canonical_name = "example.org";
    answer.elapsed = 1234us;
    return answer;
}

DnsAnswer secure_records(std::uint8_t first_byte = 0) {
    return answer_with(AnswerStatus::records, DnssecState::secure, first_byte);
}

}  // namespace

TEST_CASE("AnswerCache: a stored answer is found until its TTL runs out", "[answer_cache]") {
    AnswerCache cache;
    const auto t0 = AnswerCache::Clock::now();
    CHECK_FALSE(cache.find("example.org", kClientMx, t0));
    cache.store("example.org", kClientMx, secure_records(7), 60s, t0);

    const auto hit = cache.find("example.org", kClientMx, t0 + 59s);
    REQUIRE(hit);
    CHECK(hit->status == AnswerStatus::records);
    CHECK(hit->dnssec == DnssecState::secure);
    REQUIRE(hit->rdata.size() == 1);
    CHECK(hit->rdata[0][2] == 7);
    CHECK(hit->canonical_name == "example.org");
    CHECK(hit->elapsed == 0us);  // the lookup that hits reports its own time

    CHECK_FALSE(cache.find("example.org", kClientMx, t0 + 60s));
    CHECK(cache.size() == 0);  // an expired entry goes when it is met
}

TEST_CASE("AnswerCache: the key is the name and the type", "[answer_cache]") {
    AnswerCache cache;
    const auto now = AnswerCache::Clock::now();
    cache.store("example.org", kClientMx, secure_records(1), 60s, now);
    CHECK_FALSE(cache.find("example.org", kTlsa, now));
    CHECK_FALSE(cache.find("example.net", kClientMx, now));
    CHECK_FALSE(cache.find("www.example.org", kClientMx, now));
    cache.store("example.org", kTlsa, secure_records(2), 60s, now);
    CHECK(cache.find("example.org", kClientMx, now)->rdata[0][2] == 1);
    CHECK(cache.find("example.org", kTlsa, now)->rdata[0][2] == 2);
}

TEST_CASE("AnswerCache: TTLs are capped and a TTL of zero is not cached", "[answer_cache]") {
    AnswerCache cache(16, 300s);
    const auto now = AnswerCache::Clock::now();
    cache.store("long.example", kClientMx, secure_records(), 86400s, now);
    CHECK(cache.find("long.example", kClientMx, now + 299s));
    CHECK_FALSE(cache.find("long.example", kClientMx, now + 300s));

    cache.store("zero.example", kClientMx, secure_records(), 0s, now);
    cache.store("negative.example", kClientMx, secure_records(), -5s, now);
    CHECK(cache.size() == 0);
}

TEST_CASE("AnswerCache: only settled, validated answers are kept", "[answer_cache]") {
    SECTION("cacheable") {
        for (const auto status : {AnswerStatus::records, AnswerStatus::nodata, AnswerStatus::nxdomain}) {
            for (const auto dnssec : {DnssecState::secure, DnssecState::insecure}) {
                CHECK(AnswerCache::cacheable(answer_with(status, dnssec)));
            }
        }
    }
    SECTION("never cached") {
        const auto status =
            GENERATE(AnswerStatus::servfail, AnswerStatus::bogus, AnswerStatus::timeout, AnswerStatus::error);
        const auto dnssec =
            GENERATE(DnssecState::secure, DnssecState::insecure, DnssecState::bogus, DnssecState::unknown);
        AnswerCache cache;
        const auto now = AnswerCache::Clock::now();
        cache.store("example.org", kClientMx, answer_with(status, dnssec), 60s, now);
        CHECK_FALSE(cache.find("example.org", kClientMx, now));
    }
    SECTION("bogus or unknown DNSSEC state, whatever the status") {
        const auto status = GENERATE(AnswerStatus::records, AnswerStatus::nodata, AnswerStatus::nxdomain);
        const auto dnssec = GENERATE(DnssecState::bogus, DnssecState::unknown);
        CHECK_FALSE(AnswerCache::cacheable(answer_with(status, dnssec)));
    }
}

TEST_CASE("AnswerCache: a newer answer replaces the older one", "[answer_cache]") {
    AnswerCache cache;
    const auto now = AnswerCache::Clock::now();
    cache.store("example.org", kClientMx, secure_records(1), 10s, now);
    cache.store("example.org", kClientMx, answer_with(AnswerStatus::nxdomain, DnssecState::insecure), 100s, now);
    CHECK(cache.size() == 1);
    const auto hit = cache.find("example.org", kClientMx, now + 50s);
    REQUIRE(hit);
    CHECK(hit->status == AnswerStatus::nxdomain);
    CHECK(hit->dnssec == DnssecState::insecure);
}

TEST_CASE("AnswerCache: when full, the least recently used entry goes", "[answer_cache]") {
    AnswerCache cache(3);
    const auto now = AnswerCache::Clock::now();
    cache.store("a.example", kClientMx, secure_records(), 60s, now);
    cache.store("b.example", kClientMx, secure_records(), 60s, now);
    cache.store("c.example", kClientMx, secure_records(), 60s, now);
    CHECK(cache.find("a.example", kClientMx, now));  // a is now the most recent
    cache.store("d.example", kClientMx, secure_records(), 60s, now);
    CHECK(cache.size() == 3);
    CHECK_FALSE(cache.find("b.example", kClientMx, now));
    CHECK(cache.find("a.example", kClientMx, now));
    CHECK(cache.find("c.example", kClientMx, now));
    CHECK(cache.find("d.example", kClientMx, now));
}

TEST_CASE("AnswerCache: a capacity of zero caches nothing", "[answer_cache]") {
    AnswerCache cache(0);
    const auto now = AnswerCache::Clock::now();
    cache.store("example.org", kClientMx, secure_records(), 60s, now);
    CHECK_FALSE(cache.find("example.org", kClientMx, now));
}

TEST_CASE("AnswerCache: many threads storing and finding at once", "[answer_cache]") {
    AnswerCache cache(64);
    const auto now = AnswerCache::Clock::now();
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&cache, &wrong, now, t] {
            for (int i = 0; i < 2000; ++i) {
                const auto n = static_cast<std::uint8_t>((i + t) % 100);
                const std::string name = "d" + std::to_string(n) + ".example";
                cache.store(name, kClientMx, secure_records(n), 60s, now);
                if (const auto hit = cache.find(name, kClientMx, now); hit && hit->rdata.at(0).at(2) != n) {
                    ++wrong;
                }
            }
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    CHECK(wrong == 0);
    CHECK(cache.size() <= 64);
}
