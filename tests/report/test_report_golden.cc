// Every output format pinned byte for byte against files in tests/report/golden/,
// for three reports that between them take every branch of the renderers: a
// small mixed log, a busy one (windowed, capped, truncated, overflowing) and an
// empty one. A renderer change that alters a byte fails here; when the change
// is meant, copy the ".actual" file this test leaves in the build directory
// over the golden one and review the diff.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <functional>
#include <sstream>
#include <string>

#include "fixtures.h"
#include "report_render.h"

using namespace mtls::report;
using fixtures::Format;

namespace {

const Timestamp kReference = Timestamp{std::chrono::seconds{1764028800}};  // 2025-11-25T00:00:00Z

Timestamp iso(std::string_view text) {
    return *parse_log_timestamp(text, kReference);
}

void add(Summary& summary, const mtls::VerdictRecord& record, std::string_view stamp, Format format) {
    summary.add_line(fixtures::short_iso_line(stamp, fixtures::body(fixtures::at(record, stamp), format)), kReference);
}

void add(Summary& summary, const mtls::dmarc::DmarcRecord& line, std::string_view stamp, Format format) {
    summary.add_line(fixtures::short_iso_line(stamp, fixtures::dmarc_body(fixtures::dmarc_at(line, stamp), format)),
                     kReference);
}

struct Report {
    Summary summary;
    RenderOptions options;
};

Report small_report() {
    Report report{Summary({}), {}};
    add(report.summary, fixtures::passing(), "2025-11-24T10:00:00Z", Format::text);
    add(report.summary, fixtures::failing(), "2025-11-24T12:00:00Z", Format::json);
    add(report.summary, fixtures::no_client_mx(), "2025-11-24T12:30:00Z", Format::text);
    add(report.summary, fixtures::bogus(), "2025-11-24T13:10:00Z", Format::json);
    add(report.summary, fixtures::null_sender(), "2025-11-24T14:00:00Z", Format::text);
    add(report.summary, fixtures::invalid_mail_from("<not an address>"), "2025-11-24T15:00:00Z", Format::json);
    add(report.summary, fixtures::dmarc_mtls_only(), "2025-11-24T10:00:01Z", Format::text);
    add(report.summary, fixtures::dmarc_aligned(), "2025-11-24T11:00:00Z", Format::json);
    add(report.summary, fixtures::dmarc_fail("example.com", "quarantine"), "2025-11-24T12:00:01Z", Format::text);
    add(report.summary, fixtures::dmarc_none(), "2025-11-24T12:30:01Z", Format::json);
    report.summary.add_line(fixtures::body(fixtures::passing("untimed.example"), Format::text), kReference);
    report.summary.add_line(fixtures::syslog_line("Nov 24 16:00:00", fixtures::skip_body()), kReference);
    report.summary.add_line(fixtures::startup_body(), kReference);
    report.summary.add_line("garbage", kReference);
    report.summary.add_line("queue_id=4Cut client_addr=192.0.2.1 identity=\"smtp.mailfrom:cut", kReference);
    report.options.generated = kReference;
    report.options.files.push_back({"mail.log", 15, true, ""});
    report.options.files.push_back({"mail.log.1.gz", 0, true, "unexpected end of file"});
    report.options.files.push_back({"bad\x1b[2Jname\xff", 0, false, "No such file or directory"});
    return report;
}

// More failing domains than the text and HTML list, more domains than
// --max-domains keeps and --top lists, more names than a domain keeps, a
// null Client MX, and a window that leaves some records out.
Report busy_report() {
    ReportOptions summary_options;
    summary_options.since = iso("2025-11-10T00:00:00Z");
    summary_options.until = iso("2025-11-24T18:00:00Z");
    summary_options.max_domains = 27;
    summary_options.max_values = 2;
    Report report{Summary(summary_options), {}};
    for (int i = 0; i < 5; ++i) {
        add(report.summary, fixtures::failing("many.example", fmt::format("name{}.example.net", i)),
            fmt::format("2025-11-20T0{}:00:00Z", i), Format::text);
    }
    add(report.summary, fixtures::passing("nullmx.example", ""), "2025-11-21T10:00:00Z", Format::text);
    for (int i = 0; i < 30; ++i) {
        const auto domain = fmt::format("d{:02}.example", i);
        const auto day = fmt::format("2025-11-{:02}T{:02}:15:00Z", 10 + (i % 14), i % 24);
        add(report.summary, fixtures::failing(domain, fmt::format("rogue{}.example.net", i % 3)), day,
            i % 2 == 0 ? Format::text : Format::json);
        if (i % 4 == 0) {
            add(report.summary, fixtures::passing(domain, fmt::format("out1.{}", domain)), day, Format::json);
        }
    }
    // DMARC: more From domains than --top lists and --max-domains keeps.
    for (int i = 0; i < 30; ++i) {
        const auto domain = fmt::format("from{:02}.example", i);
        add(report.summary, i % 3 == 0 ? fixtures::dmarc_mtls_only(domain) : fixtures::dmarc_fail(domain),
            fmt::format("2025-11-{:02}T08:00:00Z", 10 + (i % 14)), i % 2 == 0 ? Format::text : Format::json);
    }
    add(report.summary, fixtures::passing_by(mtls::PassMethod::dane, "d00.example", "out1.d00.example"),
        "2025-11-22T10:00:00Z", Format::text);
    add(report.summary, fixtures::passing_by(mtls::PassMethod::discovered, "d01.example", "out1.d01.example"),
        "2025-11-22T11:00:00Z", Format::json);
    add(report.summary, fixtures::passing("late.example"), "2025-11-24T19:00:00Z", Format::text);   // after until
    add(report.summary, fixtures::passing("early.example"), "2025-11-01T00:00:00Z", Format::json);  // before since
    report.summary.add_line(fixtures::body(fixtures::passing("untimed.example"), Format::json), kReference);
    report.options.generated = kReference;
    report.options.top = 3;
    report.options.bucket_width = Timeline::kDay;
    report.options.files.push_back({"-", 48, true, ""});
    return report;
}

Report empty_report() {
    Report report{Summary({}), {}};
    report.options.generated = kReference;
    report.options.files.push_back({"empty.log", 0, true, ""});
    return report;
}

using Renderer = std::function<void(std::ostream&, const Summary&, const RenderOptions&)>;

void check_golden(const Report& report, const Renderer& render, const std::string& name) {
    std::ostringstream out;
    render(out, report.summary, report.options);
    const std::filesystem::path golden = std::filesystem::path(MTLS_REPORT_GOLDEN_DIR) / name;
    const auto expected = fixtures::read_file(golden);
    INFO("golden file " << golden.string());
    if (out.str() != expected) {
        const auto actual = std::filesystem::current_path() / (name + ".actual");
        fixtures::write_file(actual, out.str());
        FAIL_CHECK("output differs from the golden file; this run's output is in " << actual.string());
    }
}

void check_all_formats(const Report& report, const std::string& stem) {
    check_golden(report, render_text, stem + ".txt");
    check_golden(report, render_json, stem + ".json");
    check_golden(report, render_csv, stem + ".csv");
    check_golden(report, render_html, stem + ".html");
}

}  // namespace

TEST_CASE("golden: a small mixed log in every format", "[report][render][golden]") {
    check_all_formats(small_report(), "small");
}

TEST_CASE("golden: a busy, windowed, capped log in every format", "[report][render][golden]") {
    check_all_formats(busy_report(), "busy");
}

TEST_CASE("golden: an empty log in every format", "[report][render][golden]") {
    check_all_formats(empty_report(), "empty");
}
