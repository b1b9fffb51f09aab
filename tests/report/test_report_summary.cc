// Aggregation: the counts an operator reads, the window, and the bounds that
// keep memory flat however many names senders invent.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <stdexcept>
#include <string>

#include "fixtures.h"
#include "report_summary.h"

using namespace mtls::report;
using fixtures::Format;

namespace {

const Timestamp kReference = Timestamp{std::chrono::seconds{1764028800}};  // 2025-11-25T00:00:00Z

std::string line_at(const std::string& stamp, const mtls::VerdictRecord& log, Format format = Format::text) {
    return fixtures::short_iso_line(stamp, fixtures::body(fixtures::at(log, stamp), format));
}

const DomainStats& domain(const Summary& summary, std::string_view name) {
    for (const auto& [key, stats] : summary.domains()) {
        if (key == name) {
            return *stats;
        }
    }
    FAIL("no domain " << name);
    throw std::logic_error("unreachable");
}

Record record_of(const mtls::VerdictRecord& log) {
    std::string problem;
    auto record = parse_text_record(fixtures::body(log, Format::text), problem);
    REQUIRE(record);
    return *record;
}

std::uint64_t sum_of_skips(const InputStats& input) {
    std::uint64_t total = 0;
    for (const auto& reason : input.skip_reasons()) {
        total += reason.count;
    }
    return total;
}

}  // namespace

TEST_CASE("CappedCounter keeps the first values and counts the rest", "[report][summary]") {
    CappedCounter counter(3);
    for (const char* value : {"a", "b", "a", "c", "d", "e", "a", "d", "b"}) {
        counter.add(value);
    }
    const auto sorted = counter.sorted();
    REQUIRE(sorted.size() == 3);
    CHECK(sorted[0] == std::pair<std::string, std::uint64_t>{"a", 3});
    CHECK(sorted[1] == std::pair<std::string, std::uint64_t>{"b", 2});
    CHECK(sorted[2] == std::pair<std::string, std::uint64_t>{"c", 1});
    CHECK(counter.more() == 3);  // d, e, d
}

TEST_CASE("per-domain counts from a mixed log", "[report][summary]") {
    Summary summary({});
    const std::vector<std::string> lines = {
        line_at("2025-11-24T10:00:00Z", fixtures::passing()),
        line_at("2025-11-24T10:05:00Z", fixtures::passing(), Format::json),
        line_at("2025-11-24T10:10:00Z", fixtures::failing()),
        line_at("2025-11-24T11:00:00Z", fixtures::no_client_mx()),
        line_at("2025-11-24T11:30:00Z", fixtures::bogus(), Format::json),
        line_at("2025-11-24T12:00:00Z", fixtures::invalid_mail_from("<bad address")),
        line_at("2025-11-24T12:00:00Z", fixtures::null_sender()),
        fixtures::short_iso_line("2025-11-24T12:00:01Z", fixtures::skip_body()),
        fixtures::short_iso_line("2025-11-24T09:00:00Z", fixtures::startup_body()),
        "2025-11-24T12:00:02Z mx1 postfix/smtpd[9]: disconnect from unknown",
        "{\"queue_id\":\"trunc",
        "",
    };
    for (const auto& line : lines) {
        summary.add_line(line, kReference);
    }
    summary.add_too_long();

    const auto& input = summary.input();
    CHECK(input.lines_read == lines.size() + 1);
    CHECK(input.lines_used == 7);
    CHECK(input.skipped() == 6);
    CHECK(sum_of_skips(input) == input.skipped());
    CHECK(input.by_kind[static_cast<std::size_t>(LineKind::milter_skip)] == 1);
    CHECK(input.by_kind[static_cast<std::size_t>(LineKind::milter_notice)] == 1);
    CHECK(input.by_kind[static_cast<std::size_t>(LineKind::not_mtls)] == 1);
    CHECK(input.by_kind[static_cast<std::size_t>(LineKind::malformed)] == 1);
    CHECK(input.by_kind[static_cast<std::size_t>(LineKind::empty)] == 1);
    CHECK(input.by_kind[static_cast<std::size_t>(LineKind::too_long)] == 1);

    CHECK(summary.messages() == 7);
    CHECK(summary.totals()[index_of(mtls::Result::pass)] == 3);
    CHECK(summary.totals()[index_of(mtls::Result::fail)] == 1);
    CHECK(summary.totals()[index_of(mtls::Result::none)] == 1);
    CHECK(summary.totals()[index_of(mtls::Result::temperror)] == 1);
    CHECK(summary.totals()[index_of(mtls::Result::permerror)] == 1);
    CHECK(format_iso(summary.first_seen().value()) == "2025-11-24T10:00:00Z");
    CHECK(format_iso(summary.last_seen().value()) == "2025-11-24T12:00:00Z");

    const auto& example = domain(summary, "example.org");
    CHECK(example.messages == 3);
    CHECK(example.count(mtls::Result::pass) == 2);
    CHECK(example.count(mtls::Result::fail) == 1);
    CHECK(example.publishes_client_mx);
    CHECK(fail_share(example).value() == Approx(1.0 / 3.0));
    const auto names = example.cert_names.sorted();
    REQUIRE(names.size() == 2);
    CHECK(names[0] == std::pair<std::string, std::uint64_t>{"out1.example.org", 2});
    CHECK(names[1] == std::pair<std::string, std::uint64_t>{"rogue.example.net", 1});
    CHECK(example.client_mx_hosts.sorted() ==
          std::vector<std::pair<std::string, std::uint64_t>>{{"out1.example.org", 3}});
    CHECK(example.reasons.sorted() ==
          std::vector<std::pair<std::string, std::uint64_t>>{{"fail: certificate name matches no Client MX host", 1}});

    const auto& plain = domain(summary, "plain.example");
    CHECK_FALSE(plain.publishes_client_mx);
    CHECK_FALSE(fail_share(plain));
    CHECK(plain.dnssec.sorted() == std::vector<std::pair<std::string, std::uint64_t>>{{"insecure", 1}});

    CHECK(domain(summary, "broken.example").dnssec.sorted().front().first == "bogus");
    CHECK(domain(summary, kInvalidMailFrom).count(mtls::Result::permerror) == 1);
    CHECK(domain(summary, "mx.helo.example").via_helo == 1);

    const auto readiness = reject_readiness(summary);
    CHECK(readiness.publishing_domains == 2);  // example.org and the HELO domain
    CHECK(readiness.pass == 3);
    CHECK(readiness.fail == 1);
    CHECK(readiness.fail_share() == Approx(0.25));
    REQUIRE(readiness.failing.size() == 1);
    CHECK(readiness.failing[0].name == "example.org");
    CHECK(readiness.failing[0].top_reason == "certificate name matches no Client MX host");
    CHECK(readiness.failing_with_passes == 1);
    REQUIRE(readiness.fail_reasons.size() == 1);
}

TEST_CASE("the time window, and records without a time", "[report][summary]") {
    const auto since = parse_time_argument("2025-11-24T10:30:00Z", kReference);
    const auto until = parse_time_argument("2025-11-24T12:00:00Z", kReference);
    const std::vector<std::string> lines = {
        line_at("2025-11-24T10:00:00Z", fixtures::passing()),  // before
        line_at("2025-11-24T10:30:00Z", fixtures::passing()),  // since is inclusive
        line_at("2025-11-24T11:59:59Z", fixtures::failing()),  // inside
        line_at("2025-11-24T12:00:00Z", fixtures::passing()),  // until is exclusive
        fixtures::body(fixtures::passing(), Format::text),     // no time
        fixtures::journal_json_line(1764021318000000, fixtures::body(fixtures::passing(), Format::text)),  // 21:55
    };
    SECTION("with a window, untimed records are excluded and counted") {
        Summary summary({since, until});
        for (const auto& line : lines) {
            summary.add_line(line, kReference);
        }
        CHECK(summary.input().lines_used == 2);
        CHECK(summary.input().outside_window == 3);
        CHECK(summary.input().untimed_excluded == 1);
        CHECK(sum_of_skips(summary.input()) == summary.input().skipped());
        CHECK(summary.totals()[index_of(mtls::Result::fail)] == 1);
    }
    SECTION("without a window, untimed records are included and counted") {
        Summary summary({});
        for (const auto& line : lines) {
            summary.add_line(line, kReference);
        }
        CHECK(summary.input().lines_used == 6);
        CHECK(summary.input().untimed_used == 1);
        CHECK(summary.input().skipped() == 0);
    }
}

TEST_CASE("memory stays bounded: distinct domains and names are capped", "[report][summary]") {
    ReportOptions options;
    options.max_domains = 3;
    options.max_values = 20;
    Summary summary(options);
    for (int i = 0; i < 10; ++i) {
        summary.add_record(record_of(fixtures::passing(fmt::format("d{}.example", i))), std::nullopt);
    }
    for (int i = 0; i < 25; ++i) {
        summary.add_record(record_of(fixtures::failing("d0.example", fmt::format("n{}.example", i))), std::nullopt);
    }
    const auto domains = summary.domains();
    CHECK(domains.size() == 4);  // three domains and the overflow bucket
    CHECK(summary.overflow_messages() == 7);
    CHECK(domain(summary, kOtherDomains).messages == 7);
    const auto& d0 = domain(summary, "d0.example");
    CHECK(d0.messages == 26);
    CHECK(d0.cert_names.sorted().size() == 20);
    CHECK(d0.cert_names.more() == 6);  // 26 names seen, 20 kept
}

TEST_CASE("the timeline coarsens instead of growing without bound", "[report][summary]") {
    Timeline timeline;
    const auto start = Timestamp{std::chrono::seconds{1764028800}};
    timeline.add(start, mtls::Result::pass);
    timeline.add(start + std::chrono::minutes{30}, mtls::Result::fail);
    timeline.add(start + std::chrono::hours{1}, mtls::Result::pass);
    CHECK(timeline.resolution() == Timeline::kHour);
    CHECK(timeline.auto_width(400) == Timeline::kHour);
    const auto hours = timeline.buckets(Timeline::kHour);
    REQUIRE(hours.size() == 2);
    CHECK(hours.begin()->second[index_of(mtls::Result::fail)] == 1);
    CHECK(timeline.buckets(Timeline::kDay).size() == 1);

    for (std::int64_t hour = 0; hour < static_cast<std::int64_t>(Timeline::kMaxBuckets) + 10; ++hour) {
        timeline.add(start + std::chrono::hours{hour}, mtls::Result::none);
    }
    CHECK(timeline.resolution() == Timeline::kDay);
    CHECK(timeline.buckets(Timeline::kHour).size() <= Timeline::kMaxBuckets);
    CHECK(timeline.auto_width(400) >= Timeline::kWeek);
    // Weeks start on Mondays: 2025-11-24 was one.
    CHECK(Timeline::bucket_start(1764028800, Timeline::kWeek) == 1763942400);
}
