// Streaming input: plain and gzip files, lines split across reads, runaway
// lines, files that end early.
#include <catch2/catch.hpp>

#include <string>
#include <system_error>
#include <vector>

#include "fixtures.h"
#include "report_input.h"

using namespace mtls::report;

namespace {

struct Read {
    std::vector<std::string> lines;
    std::size_t too_long = 0;
    std::string error;
};

Read read_all(const std::filesystem::path& path, std::size_t max_line = kMaxLineLength) {
    LineReader reader(path.string(), max_line);
    Read out;
    std::string_view line;
    bool too_long = false;
    while (reader.next(line, too_long)) {
        if (too_long) {
            ++out.too_long;
            out.lines.emplace_back("<too long>");
        } else {
            out.lines.emplace_back(line);
        }
    }
    out.error = reader.error();
    return out;
}

}  // namespace

TEST_CASE("plain and gzip files give the same lines", "[report][input]") {
    const fixtures::TempDir dir;
    const std::string content = "first\nsecond\r\n\nlast without newline";
    fixtures::write_file(dir.file("mail.log"), content);
    fixtures::write_gzip(dir.file("mail.log.2.gz"), content);
    fixtures::write_gzip(dir.file("renamed"), content);  // zlib goes by content, not by name
    const std::vector<std::string> expected = {"first", "second\r", "", "last without newline"};
    for (const char* name : {"mail.log", "mail.log.2.gz", "renamed"}) {
        INFO(name);
        const auto read = read_all(dir.file(name));
        CHECK(read.lines == expected);
        CHECK(read.error.empty());
    }
}

TEST_CASE("lines longer than a read buffer are joined, runaway lines dropped", "[report][input]") {
    const fixtures::TempDir dir;
    const std::string long_line(200000, 'a');
    const std::string runaway(300000, 'b');
    fixtures::write_file(dir.file("log"), "x\n" + long_line + "\n" + runaway + "\ny\n" + runaway);
    const auto read = read_all(dir.file("log"), 250000);
    REQUIRE(read.lines.size() == 5);
    CHECK(read.lines[0] == "x");
    CHECK(read.lines[1] == long_line);
    CHECK(read.lines[2] == "<too long>");
    CHECK(read.lines[3] == "y");
    CHECK(read.lines[4] == "<too long>");
    CHECK(read.too_long == 2);
}

TEST_CASE("a truncated gzip file gives its lines and an error", "[report][input]") {
    const fixtures::TempDir dir;
    std::string content;
    for (int i = 0; i < 20000; ++i) {
        content += "line " + std::to_string(i) + " with some text that compresses\n";
    }
    fixtures::write_gzip(dir.file("full.gz"), content);
    const auto whole = fixtures::read_file(dir.file("full.gz"));
    fixtures::write_file(dir.file("cut.gz"), whole.substr(0, whole.size() / 2));
    const auto read = read_all(dir.file("cut.gz"));
    CHECK_FALSE(read.error.empty());
    CHECK(read.lines.size() > 100);
    CHECK(read.lines.size() < 20000);
    CHECK(read.lines.front() == "line 0 with some text that compresses");
}

TEST_CASE("files that cannot be read throw", "[report][input]") {
    const fixtures::TempDir dir;
    CHECK_THROWS_AS(LineReader(dir.file("missing").string()), std::system_error);
    CHECK_THROWS_AS(LineReader(dir.path().string()), std::system_error);
}

TEST_CASE("the reference time is the file's modification time", "[report][input]") {
    const fixtures::TempDir dir;
    fixtures::write_file(dir.file("old.log"), "x\n");
    const auto when = std::filesystem::file_time_type::clock::now() - std::chrono::hours{24 * 400};
    std::filesystem::last_write_time(dir.file("old.log"), when);
    const LineReader reader(dir.file("old.log").string());
    CHECK(reader.reference() < now() - std::chrono::hours{24 * 399});
}
