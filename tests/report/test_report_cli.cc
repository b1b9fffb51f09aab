// mtls-report as an operator runs it: log files in every shape the milter's
// lines reach disk in, written here by the core's formatter, then the binary
// with its options, output formats and exit statuses.
#include <fmt/format.h>
#include <sys/wait.h>
#include <catch2/catch.hpp>

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fixtures.h"

using fixtures::Format;

namespace {

struct Run {
    int status = -1;
    std::string out;
};

// Runs mtls-report with `arguments` (already shell-quoted) through sh; stderr
// is dropped unless the arguments redirect it.
Run run(const std::string& arguments) {
    struct PipeClose {
        void operator()(FILE* pipe) const { pclose(pipe); }
    };
    const auto command = fmt::format("'{}' {}", MTLS_REPORT_BINARY, arguments);
    FILE* raw = popen(command.c_str(), "r");
    REQUIRE(raw != nullptr);
    std::unique_ptr<FILE, PipeClose> pipe(raw);
    Run result;
    std::array<char, 65536> buffer{};
    std::size_t n = 0;
    while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe.get())) > 0) {
        result.out.append(buffer.data(), n);
    }
    const int status = pclose(pipe.release());
    result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
}

std::string quoted(const std::filesystem::path& path) {
    return "'" + path.string() + "'";  // temp paths hold no quote
}

// A week of mail in the shapes an operator's machine holds it: today's
// syslog, yesterday's rotated one, an older compressed one, a journal export.
struct Logs {
    fixtures::TempDir dir;
    std::filesystem::path syslog = dir.file("mail.log");
    std::filesystem::path rotated = dir.file("mail.log.1");
    std::filesystem::path compressed = dir.file("mail.log.2.gz");
    std::filesystem::path journal = dir.file("journal.json");
    std::filesystem::path journal_iso = dir.file("journal.txt");
    std::filesystem::path bare = dir.file("stderr.log");
    std::filesystem::path garbage = dir.file("garbage.log");

    Logs() {
        // Traditional syslog stamps have no year: the files' times supply it.
        const auto mtime = std::filesystem::file_time_type::clock::now();
        fixtures::write_file(syslog,
                             fixtures::join_lines({
                                 fixtures::syslog_line("Nov 24 10:00:00", fixtures::startup_body()),
                                 fixtures::syslog_line("Nov 24 10:01:00", mtls_line(fixtures::passing())),
                                 "Nov 24 10:01:01 mx1 postfix/smtpd[77]: connect from x[192.0.2.1]",
                                 fixtures::syslog_line("Nov 24 10:02:00", mtls_line(fixtures::failing())),
                                 fixtures::syslog_line("Nov 24 10:03:00", fixtures::skip_body()),
                                 fixtures::syslog_line("Nov 24 11:00:00", mtls_line(fixtures::hostile(), Format::json)),
                             }));
        fixtures::write_file(rotated, fixtures::join_lines({
                                          fixtures::syslog_line("Nov 23 09:00:00", mtls_line(fixtures::passing())),
                                          fixtures::syslog_line("Nov 23 09:30:00", mtls_line(fixtures::no_client_mx())),
                                      }));
        fixtures::write_gzip(compressed, fixtures::join_lines({
                                             fixtures::syslog_line("Nov 20 08:00:00", mtls_line(fixtures::bogus())),
                                             fixtures::syslog_line("Nov 20 08:00:01", mtls_line(fixtures::passing())),
                                         }));
        for (const auto& path : {syslog, rotated, compressed}) {
            std::filesystem::last_write_time(path, mtime);
        }
        fixtures::write_file(journal, fixtures::join_lines({
                                          fixtures::journal_json_line(1764021318000000,  // 2025-11-24T21:55:18Z
                                                                      mtls_line(fixtures::passing("journal.example"))),
                                          fixtures::journal_json_line(1764021319000000, "unrelated", "cron"),
                                      }));
        fixtures::write_file(
            journal_iso,
            fixtures::join_lines({
                "-- Journal begins at Mon 2025-11-24 00:00:00 UTC. --",
                fixtures::short_iso_line(
                    "2025-11-24T22:00:00+0100",
                    mtls_line(fixtures::at(fixtures::failing("iso.example"), "2025-11-24T21:00:00Z"), Format::json)),
            }));
        // The milter's stderr redirected to a file: a JSON line dates itself
        // with its ts, a text line has no time at all.
        fixtures::write_file(
            bare, fixtures::join_lines({
                      mtls_line(fixtures::at(fixtures::passing("bare.example"), "2025-11-24T21:30:00Z"), Format::json),
                      mtls_line(fixtures::passing("bare.example")),
                  }));
        std::string junk;
        std::uint32_t state = 12345;
        for (int i = 0; i < 20000; ++i) {  // deterministic binary noise
            state = state * 1103515245U + 12345U;
            junk.push_back(static_cast<char>(state >> 24U));
        }
        junk += "\n" + std::string(300000, 'x') + "\n";
        junk += fixtures::syslog_line("Nov 24 10:05:00", mtls_line(fixtures::passing()).substr(0, 100)) + "\n";
        fixtures::write_file(garbage, junk);
    }

    static std::string mtls_line(const mtls::VerdictRecord& log, Format format = Format::text) {
        return fixtures::body(log, format);
    }

    [[nodiscard]] std::string all() const {
        return fmt::format("{} {} {} {} {} {}", quoted(syslog), quoted(rotated), quoted(compressed), quoted(journal),
                           quoted(journal_iso), quoted(bare));
    }
};

nlohmann::json json_of(const Run& run) {
    INFO(run.out);
    REQUIRE(run.status == 0);
    return nlohmann::json::parse(run.out);
}

const nlohmann::json* find_domain(const nlohmann::json& report, std::string_view name) {
    for (const auto& domain : report["domains"]) {
        if (domain["domain"] == name) {
            return &domain;
        }
    }
    return nullptr;
}

}  // namespace

TEST_CASE("cli: every log shape in one report", "[report][cli]") {
    const Logs logs;
    const auto report = json_of(run("--format json " + logs.all()));
    const auto& input = report["input"];
    CHECK(input["lines_read"] == 16);
    CHECK(input["lines_used"] == 11);
    CHECK(input["untimed_records_used"] == 1);  // the bare text line
    CHECK(report["totals"]["messages"] == 11);
    CHECK(report["totals"]["pass"] == 6);
    CHECK(report["totals"]["fail"] == 2);
    CHECK(report["totals"]["none"] == 1);
    CHECK(report["totals"]["temperror"] == 1);
    CHECK(report["totals"]["permerror"] == 1);
    const auto* example = find_domain(report, "example.org");
    REQUIRE(example != nullptr);
    CHECK((*example)["messages"] == 4);
    CHECK((*example)["fail"] == 1);
    CHECK(find_domain(report, "journal.example") != nullptr);
    CHECK(find_domain(report, "iso.example") != nullptr);
    CHECK(find_domain(report, "bare.example") != nullptr);
    CHECK(find_domain(report, "(invalid MAIL FROM)") != nullptr);
}

TEST_CASE("cli: standard input, and the text table", "[report][cli]") {
    const Logs logs;
    const auto result = run("< " + quoted(logs.syslog));
    REQUIRE(result.status == 0);
    CHECK(result.out.find("6 lines read, 3 used, 3 skipped") != std::string::npos);
    CHECK(result.out.find("DOMAIN") != std::string::npos);
    CHECK(result.out.find("example.org") != std::string::npos);
    CHECK(result.out.find('\x1b') == std::string::npos);
    const auto dash = run("- < " + quoted(logs.rotated));
    CHECK(dash.status == 0);
    CHECK(dash.out.find("2 lines read, 2 used") != std::string::npos);
}

TEST_CASE("cli: a time window", "[report][cli]") {
    const Logs logs;
    const auto report = json_of(run("--format json --since 2025-11-24T00:00:00Z --until 2025-11-24T22:00:00Z " +
                                    quoted(logs.journal) + " " + quoted(logs.journal_iso) + " " + quoted(logs.bare)));
    CHECK(report["input"]["lines_used"] == 3);  // journal 21:55:18Z, short-iso 21:00:00Z, ts 21:30:00Z
    CHECK(report["input"]["untimed_records_excluded"] == 1);
    CHECK(report["window"]["since"] == "2025-11-24T00:00:00Z");
    CHECK(report["period"]["first"] == "2025-11-24T21:00:00Z");
    CHECK(report["period"]["last"] == "2025-11-24T21:55:18Z");
}

TEST_CASE("cli: garbage is counted, never fatal", "[report][cli]") {
    const Logs logs;
    const auto report = json_of(run("--format json " + quoted(logs.garbage)));
    CHECK(report["input"]["lines_used"] == 0);
    CHECK(report["input"]["lines_read"].get<int>() > 3);
    std::map<std::string, int> reasons;
    for (const auto& reason : report["input"]["skipped"]) {
        reasons[reason["reason"].get<std::string>()] = reason["count"].get<int>();
    }
    CHECK(reasons["too_long"] == 1);
    CHECK(reasons["malformed"] == 1);
    CHECK(reasons["binary"] >= 1);
}

TEST_CASE("cli: CSV and HTML files", "[report][cli]") {
    const Logs logs;
    const auto csv_path = logs.dir.file("report.csv");
    REQUIRE(run("--format csv -o " + quoted(csv_path) + " " + logs.all()).status == 0);
    const auto csv = fixtures::read_file(csv_path);
    CHECK(csv.starts_with("domain,messages,pass,fail,none,temperror,permerror,"));
    CHECK(csv.find("\r\nexample.org,4,") != std::string::npos);

    const auto html_path = logs.dir.file("report.html");
    REQUIRE(run("--format html --output=" + quoted(html_path) + " " + logs.all()).status == 0);
    const auto html = fixtures::read_file(html_path);
    CHECK(html.starts_with("<!DOCTYPE html>"));
    CHECK(html.find("<svg") != std::string::npos);
    CHECK(html.find("<script") == std::string::npos);
    CHECK(html.rfind("</html>\n") == html.size() - 8);
}

TEST_CASE("cli: exit statuses", "[report][cli]") {
    const Logs logs;
    CHECK(run("2>/dev/null " + quoted(logs.dir.file("missing"))).status == 1);
    CHECK(run("2>/dev/null " + quoted(logs.dir.path())).status == 1);
    const auto partly = run("2>&1 " + quoted(logs.dir.file("missing")) + " " + quoted(logs.rotated));
    CHECK(partly.status == 0);
    CHECK(partly.out.find("missing: No such file or directory") != std::string::npos);
    for (const char* usage : {"--format xml", "--since yesterday", "--bucket month", "--no-such-option",
                              "--since 2025-11-24 --until 2025-11-23", "--max-names 0", "--top -1"}) {
        INFO(usage);
        CHECK(run(std::string(usage) + " 2>/dev/null " + quoted(logs.rotated)).status == 64);
    }
    CHECK(run("--help").status == 0);
    CHECK(run("--since=-24h " + quoted(logs.rotated)).status == 0);
    CHECK(run("-o " + quoted(logs.dir.file("no-such-dir") / "x") + " 2>/dev/null " + quoted(logs.rotated)).status == 1);
}

TEST_CASE("cli: a large log streams through", "[report][cli]") {
    const fixtures::TempDir dir;
    std::string content;
    for (int i = 0; i < 50000; ++i) {
        const auto domain = fmt::format("d{}.example", i % 5000);
        const auto stamp = fmt::format("2025-11-{:02}T{:02}:00:00Z", 1 + i % 28, i % 24);
        const auto log =
            fixtures::at(i % 10 == 0 ? fixtures::failing(domain) : fixtures::passing(domain, "out1." + domain), stamp);
        content += fixtures::short_iso_line(stamp, fixtures::body(log, i % 2 == 0 ? Format::text : Format::json));
        content += '\n';
    }
    fixtures::write_gzip(dir.file("big.log.gz"), content);
    const auto report = json_of(run("--format json --top 5 --max-domains 1000 " + quoted(dir.file("big.log.gz"))));
    CHECK(report["totals"]["messages"] == 50000);
    CHECK(report["totals"]["fail"] == 5000);
    CHECK(report["domains_listed"] == 5);
    CHECK(report["domains_total"] == 1001);
    CHECK(report["overflow_messages"] == 40000);
    CHECK(report["timeline"]["bucket_seconds"] == 86400);
}

TEST_CASE("cli: --format dmarc-xml, one file per policy domain", "[report][cli][dmarc]") {
    const fixtures::TempDir dir;
    std::vector<std::string> lines;
    const auto add = [&lines](const mtls::dmarc::DmarcRecord& line, std::string_view stamp, Format format) {
        lines.push_back(fixtures::short_iso_line(stamp, fixtures::dmarc_body(fixtures::dmarc_at(line, stamp), format)));
    };
    add(fixtures::dmarc_mtls_only(), "2025-11-24T10:00:00Z", Format::text);
    add(fixtures::dmarc_fail("other.example", "quarantine"), "2025-11-24T11:00:00Z", Format::json);
    add(fixtures::dmarc_none(), "2025-11-24T12:00:00Z", Format::text);
    lines.push_back(
        fixtures::short_iso_line("2025-11-24T12:00:00Z", fixtures::body(fixtures::passing(), Format::text)));
    const auto log = dir.file("mail.log");
    fixtures::write_file(log, fixtures::join_lines(lines));
    const auto out = dir.file("reports");
    std::filesystem::create_directory(out);
    const std::string identity = "--org-name 'Example Mail' --report-email dmarc@mx.example.net ";

    const auto written = run("--format dmarc-xml " + identity + "--output-dir " + quoted(out) + " " + quoted(log));
    CHECK(written.status == 0);
    for (const auto* name : {"mx.example.net!example.com!1763978400!1763978400.xml",
                             "mx.example.net!other.example!1763982000!1763982000.xml"}) {
        INFO(name);
        const auto path = out / name;
        REQUIRE(std::filesystem::exists(path));
        CHECK(written.out.find(name) != std::string::npos);
        const auto command =
            fmt::format("xmllint --noout --schema '{}' '{}' 2>/dev/null", MTLS_REPORT_DMARC_XSD, path.string());
        const int status = std::system(command.c_str());
        CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
    }
    CHECK(std::distance(std::filesystem::directory_iterator(out), std::filesystem::directory_iterator()) == 2);

    // Two documents cannot go to one stream; one can.
    CHECK(run("--format dmarc-xml " + identity + "2>/dev/null " + quoted(log)).status == 64);
    const auto one = run("--format dmarc-xml " + identity +
                         "--since 2025-11-24T09:00:00Z --until "
                         "2025-11-24T10:30:00Z " +
                         quoted(log));
    CHECK(one.status == 0);
    CHECK(one.out.starts_with("<?xml"));
    CHECK(one.out.find("<begin>1763974800</begin>") != std::string::npos);  // --since
    CHECK(one.out.find("<end>1763980199</end>") != std::string::npos);      // --until, exclusive
    // The report's identity is required and must be safe (one policy
    // domain in the window, so that nothing else makes it a usage error).
    const std::string window = "--until 2025-11-24T10:30:00Z ";
    CHECK(run("--format dmarc-xml --org-name X --report-email a@b.example " + window + quoted(log)).status == 0);
    for (const char* usage : {"--format dmarc-xml --report-email a@b.example", "--format dmarc-xml --org-name X",
                              "--format dmarc-xml --org-name X --report-email nobody",
                              "--format dmarc-xml --org-name X --report-email 'a@B.example'",
                              "--format dmarc-xml --org-name \"$(printf 'X\\001')\" --report-email a@b.example",
                              "--format json --output-dir /tmp"}) {
        INFO(usage);
        CHECK(run(std::string(usage) + " " + window + "2>/dev/null " + quoted(log)).status == 64);
    }
}
