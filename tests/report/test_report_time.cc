// Timestamps in front of log lines and in --since/--until. ctest runs these
// with TZ=UTC; the local-time case sets its own zone.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <ctime>
#include <string>

#include "report_time.h"

using namespace mtls::report;

namespace {

Timestamp at(std::string_view iso) {
    const auto time = parse_log_timestamp(iso, now());
    REQUIRE(time);
    return *time;
}

// Sets TZ for one test and restores it after.
class ZoneForTest {
public:
    explicit ZoneForTest(const char* zone) {
        if (const char* old = std::getenv("TZ")) {
            old_ = old;
        }
        ::setenv("TZ", zone, 1);
        ::tzset();
    }
    ~ZoneForTest() {
        if (old_.empty()) {
            ::unsetenv("TZ");
        } else {
            ::setenv("TZ", old_.c_str(), 1);
        }
        ::tzset();
    }
    ZoneForTest(const ZoneForTest&) = delete;
    ZoneForTest& operator=(const ZoneForTest&) = delete;

private:
    std::string old_;
};

}  // namespace

TEST_CASE("ISO 8601 timestamps in their journalctl and rsyslog spellings", "[report][time]") {
    const auto utc = at("2025-11-24T21:55:18Z");
    CHECK(format_iso(utc) == "2025-11-24T21:55:18Z");
    CHECK(at("2025-11-24T22:55:18+01:00") == utc);
    CHECK(at("2025-11-24T22:55:18+0100") == utc);
    CHECK(at("2025-11-24T16:55:18-05:00") == utc);
    CHECK(at("2025-11-24T22:55:18.123456+01:00") == utc + std::chrono::microseconds{123456});
    CHECK(at("2025-11-24T22:55:18.5+01:00") == utc + std::chrono::milliseconds{500});
}

TEST_CASE("epoch seconds of journalctl -o short-unix", "[report][time]") {
    CHECK(format_iso(at("1764021318")) == "2025-11-24T21:55:18Z");
    CHECK(at("1764021318.250000") == at("1764021318") + std::chrono::milliseconds{250});
}

TEST_CASE("traditional syslog timestamps get the year of their file", "[report][time]") {
    const auto november = at("2025-11-25T10:00:00Z");
    auto time = parse_log_timestamp("Nov 24 22:55:18", november);
    REQUIRE(time);
    CHECK(format_iso(*time) == "2025-11-24T22:55:18Z");
    time = parse_log_timestamp("Nov  4 01:02:03", november);
    REQUIRE(time);
    CHECK(format_iso(*time) == "2025-11-04T01:02:03Z");

    SECTION("a December line in a file last written in January is from the year before") {
        time = parse_log_timestamp("Dec 31 23:59:59", at("2026-01-01T00:10:00Z"));
        REQUIRE(time);
        CHECK(format_iso(*time) == "2025-12-31T23:59:59Z");
    }
    SECTION("29 February finds its leap year") {
        time = parse_log_timestamp("Feb 29 12:00:00", at("2025-03-01T00:00:00Z"));
        REQUIRE(time);
        CHECK(format_iso(*time) == "2024-02-29T12:00:00Z");
    }
    SECTION("fractions as in journalctl -o short-precise") {
        time = parse_log_timestamp("Nov 24 22:55:18.750000", november);
        REQUIRE(time);
        CHECK(*time == *parse_log_timestamp("Nov 24 22:55:18", november) + std::chrono::milliseconds{750});
    }
}

TEST_CASE("journalctl -o short-full", "[report][time]") {
    CHECK(format_iso(at("Mon 2025-11-24 21:55:18 UTC")) == "2025-11-24T21:55:18Z");
}

TEST_CASE("zone-less times are local time", "[report][time]") {
    const ZoneForTest zone("EST5");  // POSIX form: no zone database needed
    CHECK(format_iso(at("2025-11-24T16:55:18")) == "2025-11-24T21:55:18Z");
    const auto reference = at("2025-11-30T00:00:00Z");
    const auto traditional = parse_log_timestamp("Nov 24 16:55:18", reference);
    REQUIRE(traditional);
    CHECK(format_iso(*traditional) == "2025-11-24T21:55:18Z");
    const auto argument = parse_time_argument("2025-11-24", reference);
    REQUIRE(argument);
    CHECK(format_iso(*argument) == "2025-11-24T05:00:00Z");
}

TEST_CASE("junk is not a timestamp", "[report][time]") {
    const auto reference = now();
    for (const char* junk : {"", "mx1", "Foo 24 22:55:18", "Nov 32 22:55:18", "Nov 24 25:00:00", "2025-13-01T00:00:00Z",
                             "2025-02-30T00:00:00Z", "1969-12-31T23:59:59Z", "2025-11-24T22:55:18+99:00",
                             "2025-11-24T22:55", "[  123.456789]", "12ab", "2025-11-24T22:55:18Zjunk"}) {
        INFO(junk);
        CHECK_FALSE(parse_log_timestamp(junk, reference));
    }
}

TEST_CASE("time arguments of --since and --until", "[report][time]") {
    const auto reference = at("2025-11-24T12:00:00Z");
    const auto parse = [&](const char* text) {
        const auto time = parse_time_argument(text, reference);
        REQUIRE(time);
        return format_iso(*time);
    };
    CHECK(parse("2025-11-20") == "2025-11-20T00:00:00Z");
    CHECK(parse("2025-11-20 08:30") == "2025-11-20T08:30:00Z");
    CHECK(parse("2025-11-20T08:30:15+01:00") == "2025-11-20T07:30:15Z");
    CHECK(parse("Nov 20 08:30:00") == "2025-11-20T08:30:00Z");
    CHECK(parse("@1764021318") == "2025-11-24T21:55:18Z");
    CHECK(parse("-24h") == "2025-11-23T12:00:00Z");
    CHECK(parse("-7d") == "2025-11-17T12:00:00Z");
    CHECK(parse("-2w") == "2025-11-10T12:00:00Z");
    CHECK(parse("-90m") == "2025-11-24T10:30:00Z");
    for (const char* bad : {"yesterday", "-", "-5y", "2025-11", "@", "@12x", "2025-11-20 8:30"}) {
        INFO(bad);
        CHECK_FALSE(parse_time_argument(bad, reference));
    }
}
