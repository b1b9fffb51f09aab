// AnswerSlot and Lookup: where the DNS answer meets the thread waiting for it.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "dns/resolver.h"

using namespace mtls;
using namespace std::chrono_literals;

namespace {

DnsAnswer answer_with(AnswerStatus status, std::string detail = {}) {
    DnsAnswer answer;
    answer.status = status;
    answer.detail = std::move(detail);
    return answer;
}

struct CancelCounter {
    std::shared_ptr<std::atomic<int>> count = std::make_shared<std::atomic<int>>(0);
    [[nodiscard]] std::function<void()> function() const {
        return [count = count] { ++*count; };
    }
    [[nodiscard]] int value() const { return count->load(); }
};

Lookup make_lookup(const std::shared_ptr<AnswerSlot>& slot, std::chrono::milliseconds timeout,
                   const CancelCounter& cancels) {
    const auto now = Clock::now();
    return Lookup(slot, now, now + timeout, cancels.function());
}

}  // namespace

TEST_CASE("AnswerSlot: an answer fulfilled before the wait", "[resolver]") {
    AnswerSlot slot;
    slot.fulfil(answer_with(AnswerStatus::nodata, "first"));
    const auto started = Clock::now();
    const auto answer = slot.wait_until(Clock::now() + 10s);
    CHECK(Clock::now() - started < 5s);
    REQUIRE(answer);
    CHECK(answer->status == AnswerStatus::nodata);
    CHECK(answer->detail == "first");

    // Already there: returned even when the deadline has passed.
    const auto late = slot.wait_until(Clock::now() - 1s);
    REQUIRE(late);
    CHECK(late->detail == "first");
}

TEST_CASE("AnswerSlot: an answer fulfilled during the wait", "[resolver]") {
    AnswerSlot slot;
    std::thread answerer([&slot] {
        std::this_thread::sleep_for(50ms);
        slot.fulfil(answer_with(AnswerStatus::records, "late"));
    });
    const auto started = Clock::now();
    const auto answer = slot.wait_until(Clock::now() + 10s);
    const auto waited = Clock::now() - started;
    answerer.join();
    REQUIRE(answer);
    CHECK(answer->status == AnswerStatus::records);
    CHECK(answer->detail == "late");
    CHECK(waited < 5s);  // woken by the answer, not by the deadline
}

TEST_CASE("AnswerSlot: the deadline passes first", "[resolver]") {
    AnswerSlot slot;
    const auto started = Clock::now();
    const auto answer = slot.wait_until(started + 50ms);
    CHECK_FALSE(answer.has_value());
    CHECK(Clock::now() - started >= 50ms);

    // An answer after the deadline is still kept for a later wait.
    slot.fulfil(answer_with(AnswerStatus::nxdomain));
    const auto later = slot.wait_until(Clock::now());
    REQUIRE(later);
    CHECK(later->status == AnswerStatus::nxdomain);
}

TEST_CASE("AnswerSlot: the first answer wins", "[resolver]") {
    AnswerSlot slot;
    slot.fulfil(answer_with(AnswerStatus::records, "first"));
    slot.fulfil(answer_with(AnswerStatus::error, "second"));
    const auto answer = slot.wait_until(Clock::now() + 1s);
    REQUIRE(answer);
    CHECK(answer->status == AnswerStatus::records);
    CHECK(answer->detail == "first");
}

TEST_CASE("Lookup::wait returns an answer that arrived before", "[resolver]") {
    CancelCounter cancels;
    auto slot = std::make_shared<AnswerSlot>();
    {
        auto lookup = make_lookup(slot, 10s, cancels);
        slot->fulfil(answer_with(AnswerStatus::records, "here"));
        const auto answer = lookup.wait();
        CHECK(answer.status == AnswerStatus::records);
        CHECK(answer.detail == "here");
    }
    CHECK(cancels.value() == 0);  // answered: nothing to cancel
}

TEST_CASE("Lookup::wait returns an answer that arrives while waiting", "[resolver]") {
    CancelCounter cancels;
    auto slot = std::make_shared<AnswerSlot>();
    {
        auto lookup = make_lookup(slot, 10s, cancels);
        std::thread answerer([slot] {
            std::this_thread::sleep_for(50ms);
            slot->fulfil(answer_with(AnswerStatus::nxdomain));
        });
        const auto started = Clock::now();
        const auto answer = lookup.wait();
        answerer.join();
        CHECK(answer.status == AnswerStatus::nxdomain);
        CHECK(Clock::now() - started < 5s);
    }
    CHECK(cancels.value() == 0);
}

TEST_CASE("Lookup::wait times out into AnswerStatus::timeout", "[resolver]") {
    CancelCounter cancels;
    auto slot = std::make_shared<AnswerSlot>();
    {
        const auto started = Clock::now();
        auto lookup = make_lookup(slot, 50ms, cancels);
        const auto answer = lookup.wait();
        CHECK(answer.status == AnswerStatus::timeout);
        CHECK(answer.dnssec == DnssecState::unknown);
        CHECK(answer.rdata.empty());
        CHECK_FALSE(answer.detail.empty());
        CHECK(Clock::now() - started >= 50ms);
        CHECK(answer.elapsed >= 50ms);
        CHECK(cancels.value() == 1);  // the abandoned query is cancelled ...
    }
    CHECK(cancels.value() == 1);  // ... once, not again on destruction
}

TEST_CASE("the deadline is fixed when the lookup starts", "[resolver]") {
    CancelCounter cancels;
    auto slot = std::make_shared<AnswerSlot>();
    const auto started = Clock::now() - 10s;
    Lookup lookup(slot, started, started + 5s, cancels.function());  // long past
    const auto before_wait = Clock::now();
    const auto answer = lookup.wait();
    CHECK(answer.status == AnswerStatus::timeout);
    CHECK(Clock::now() - before_wait < 2s);  // no fresh 5 s from the wait
    CHECK(answer.elapsed >= 10s);            // measured from the start
}

TEST_CASE("destroying a pending Lookup cancels it exactly once", "[resolver]") {
    CancelCounter cancels;
    auto slot = std::make_shared<AnswerSlot>();
    { auto lookup = make_lookup(slot, 10s, cancels); }
    CHECK(cancels.value() == 1);
}

TEST_CASE("moving a Lookup moves the duty to cancel", "[resolver]") {
    SECTION("move construction") {
        CancelCounter cancels;
        auto slot = std::make_shared<AnswerSlot>();
        {
            auto first = make_lookup(slot, 10s, cancels);
            {
                Lookup second(std::move(first));
                CHECK(cancels.value() == 0);
            }
            CHECK(cancels.value() == 1);
        }
        CHECK(cancels.value() == 1);
    }
    SECTION("move assignment cancels the lookup it replaces") {
        CancelCounter old_cancels;
        CancelCounter new_cancels;
        auto old_slot = std::make_shared<AnswerSlot>();
        auto new_slot = std::make_shared<AnswerSlot>();
        {
            auto target = make_lookup(old_slot, 10s, old_cancels);
            {
                auto source = make_lookup(new_slot, 10s, new_cancels);
                target = std::move(source);
                CHECK(old_cancels.value() == 1);
                CHECK(new_cancels.value() == 0);
            }
            CHECK(new_cancels.value() == 0);  // the moved-from source cancels nothing
            new_slot->fulfil(answer_with(AnswerStatus::records, "new"));
            CHECK(target.wait().detail == "new");
        }
        CHECK(old_cancels.value() == 1);
        CHECK(new_cancels.value() == 0);
    }
    SECTION("a moved-into Lookup still times out and cancels once") {
        CancelCounter cancels;
        auto slot = std::make_shared<AnswerSlot>();
        {
            auto first = make_lookup(slot, 20ms, cancels);
            Lookup second(std::move(first));
            CHECK(second.wait().status == AnswerStatus::timeout);
        }
        CHECK(cancels.value() == 1);
    }
}

TEST_CASE("a Lookup without a cancel function", "[resolver]") {
    auto slot = std::make_shared<AnswerSlot>();
    const auto now = Clock::now();
    {
        Lookup lookup(slot, now, now + 10ms, {});
        CHECK(lookup.wait().status == AnswerStatus::timeout);
    }
    { Lookup pending(slot, now, now + 10s, {}); }
    SUCCEED("no crash");
}

TEST_CASE("a Lookup without a slot times out", "[resolver]") {
    CancelCounter cancels;
    const auto now = Clock::now();
    Lookup lookup(nullptr, now, now + 10ms, cancels.function());
    CHECK(lookup.wait().status == AnswerStatus::timeout);
    CHECK(cancels.value() == 1);
}
