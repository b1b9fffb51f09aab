// mtls-report: per sending domain summary of the milter's log lines, for an
// operator who wants to know who passes, who fails and why, and whether
// on-fail=reject would cost wanted mail. See man/mtls-report.1.
#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <system_error>

#include "mtls/verdict_record.h"
#include "report_input.h"
#include "report_render.h"
#include "report_summary.h"

namespace po = boost::program_options;
using namespace mtls::report;

namespace {

constexpr int kExitOk = 0;
constexpr int kExitNoInput = 1;
constexpr int kExitUsage = 64;

class UsageError : public std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct Request {
    std::vector<std::string> files;
    ReportOptions report;
    std::string format = "text";
    std::string output;
    std::size_t top = 0;
    std::int64_t bucket = 0;
};

Timestamp time_option(const po::variables_map& variables, const char* name, Timestamp reference) {
    const auto text = variables[name].as<std::string>();
    const auto time = parse_time_argument(text, reference);
    if (!time) {
        throw UsageError(
            fmt::format("--{}: cannot read '{}' as a time (try 2025-11-24, '2025-11-24 22:00', "
                        "2025-11-24T22:00:00Z, 'Nov 24 22:00:00', @EPOCH or --{}=-24h)",
                        name, mtls::escape_for_log(text), name));
    }
    return *time;
}

// Boost would read "-1" into a std::size_t as its largest value.
std::size_t count_option(const po::variables_map& variables, const char* name) {
    const auto text = variables[name].as<std::string>();
    std::size_t value = 0;
    const auto* end = text.data() + text.size();
    const auto [ptr, error] = std::from_chars(text.data(), end, value);
    if (text.empty() || error != std::errc{} || ptr != end) {
        throw UsageError(fmt::format("--{}: expected a number (got '{}')", name, mtls::escape_for_log(text)));
    }
    return value;
}

std::optional<Request> parse(int argc, char** argv, Timestamp started) {
    po::options_description visible("Options");
    visible.add_options()("since", po::value<std::string>()->value_name("TIME"),
                          "Only lines at or after TIME (ISO 8601, syslog, @EPOCH, or -30m/-24h/-7d).")(
        "until", po::value<std::string>()->value_name("TIME"), "Only lines before TIME.")(
        "format", po::value<std::string>()->value_name("FORMAT")->default_value("text"), "text, json, csv or html.")(
        "output,o", po::value<std::string>()->value_name("FILE"), "Write the report to FILE instead of stdout.")(
        "top", po::value<std::string>()->value_name("N")->default_value("0"),
        "List only the N busiest domains (0: all).")(
        "bucket", po::value<std::string>()->value_name("WIDTH")->default_value("auto"),
        "Timeline bucket: auto, hour, day or week.")("max-domains",
                                                     po::value<std::string>()->value_name("N")->default_value("10000"),
                                                     "Distinct domains kept; further ones are counted together.")(
        "max-names", po::value<std::string>()->value_name("N")->default_value("20"),
        "Distinct names, hosts and reasons kept per domain.")("help,h", "Print this help and exit.")(
        "version", "Print the version and exit.");
    po::options_description hidden;
    hidden.add_options()("file", po::value<std::vector<std::string>>());
    po::options_description all;
    all.add(visible).add(hidden);
    po::positional_options_description positional;
    positional.add("file", -1);

    po::variables_map variables;
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), variables);
    po::notify(variables);
    if (variables.count("help") != 0U) {
        std::cout << "Usage: mtls-report [OPTIONS] [FILE...]\n"
                     "Summarises mtls-milter log lines (text or JSON; bare, in syslog files, or from journalctl\n"
                     "-o short-iso/cat/json) per sending domain. FILEs may be gzip-compressed; none or - reads\n"
                     "standard input.\n\n"
                  << visible << "\nExit status: 0 ok, 1 no input could be read, 64 usage.\n";
        return std::nullopt;
    }
    if (variables.count("version") != 0U) {
        std::cout << "mtls-report " << MTLS_VERSION << '\n';
        return std::nullopt;
    }
    Request request;
    if (variables.count("file") != 0U) {
        request.files = variables["file"].as<std::vector<std::string>>();
    }
    if (request.files.empty()) {
        request.files.emplace_back("-");
    }
    if (variables.count("since") != 0U) {
        request.report.since = time_option(variables, "since", started);
    }
    if (variables.count("until") != 0U) {
        request.report.until = time_option(variables, "until", started);
    }
    if (request.report.since && request.report.until && *request.report.until <= *request.report.since) {
        throw UsageError("--until must be later than --since");
    }
    request.format = variables["format"].as<std::string>();
    if (request.format != "text" && request.format != "json" && request.format != "csv" && request.format != "html") {
        throw UsageError(
            fmt::format("--format: expected text, json, csv or html (got '{}')", mtls::escape_for_log(request.format)));
    }
    const auto bucket = variables["bucket"].as<std::string>();
    if (bucket == "hour") {
        request.bucket = Timeline::kHour;
    } else if (bucket == "day") {
        request.bucket = Timeline::kDay;
    } else if (bucket == "week") {
        request.bucket = Timeline::kWeek;
    } else if (bucket != "auto") {
        throw UsageError(
            fmt::format("--bucket: expected auto, hour, day or week (got '{}')", mtls::escape_for_log(bucket)));
    }
    request.top = count_option(variables, "top");
    request.report.max_domains = count_option(variables, "max-domains");
    request.report.max_values = count_option(variables, "max-names");
    if (request.report.max_domains == 0 || request.report.max_values == 0) {
        throw UsageError("--max-domains and --max-names must be at least 1");
    }
    if (variables.count("output") != 0U) {
        request.output = variables["output"].as<std::string>();
    }
    return request;
}

InputFile read_file(const std::string& name, Summary& summary) {
    InputFile file;
    file.name = name;
    try {
        LineReader reader(name);
        file.opened = true;
        std::string_view line;
        bool too_long = false;
        while (reader.next(line, too_long)) {
            ++file.lines;
            if (too_long) {
                summary.add_too_long();
            } else {
                summary.add_line(line, reader.reference());
            }
        }
        file.error = reader.error();
    } catch (const std::system_error& error) {
        file.error = error.code().message();
    }
    if (!file.error.empty()) {
        std::fprintf(stderr, "mtls-report: %s: %s\n", mtls::escape_for_log(name).c_str(),
                     mtls::escape_for_log(file.error).c_str());
    }
    return file;
}

void render(std::ostream& out, const Request& request, const Summary& summary, const RenderOptions& options) {
    if (request.format == "json") {
        render_json(out, summary, options);
    } else if (request.format == "csv") {
        render_csv(out, summary, options);
    } else if (request.format == "html") {
        render_html(out, summary, options);
    } else {
        render_text(out, summary, options);
    }
}

}  // namespace

int main(int argc, char** argv) {
    const auto started = now();
    std::optional<Request> request;
    try {
        request = parse(argc, argv, started);
        if (!request) {
            return kExitOk;
        }
    } catch (const std::exception& error) {
        std::fprintf(stderr, "mtls-report: %s\nTry 'mtls-report --help'.\n", error.what());
        return kExitUsage;
    }
    try {
        Summary summary(request->report);
        RenderOptions options;
        options.top = request->top;
        options.bucket_width = request->bucket;
        options.generated = started;
        bool any_opened = false;
        for (const auto& name : request->files) {
            options.files.push_back(read_file(name, summary));
            any_opened = any_opened || options.files.back().opened;
        }
        if (!any_opened) {
            std::fprintf(stderr, "mtls-report: no input could be read\n");
            return kExitNoInput;
        }
        if (request->output.empty()) {
            render(std::cout, *request, summary, options);
            std::cout.flush();
            return std::cout ? kExitOk : kExitNoInput;
        }
        std::ofstream out(request->output, std::ios::binary | std::ios::trunc);
        if (out) {
            render(out, *request, summary, options);
            out.flush();
        }
        if (!out) {
            std::fprintf(stderr, "mtls-report: cannot write %s\n", mtls::escape_for_log(request->output).c_str());
            return kExitNoInput;
        }
        return kExitOk;
    } catch (const std::exception& error) {
        std::fprintf(stderr, "mtls-report: %s\n", mtls::escape_for_log(error.what()).c_str());
        return kExitNoInput;
    }
}
