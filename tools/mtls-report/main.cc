// mtls-report: per sending domain summary of the milter's log lines, for an
// operator who wants to know who passes, who fails and why, and whether
// on-fail=reject would cost wanted mail. See man/mtls-report.1.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <boost/program_options.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <system_error>

#include "dns/domain_name.h"
#include "mtls/verdict_record.h"
#include "report_input.h"
#include "report_options.h"
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
    std::string format;  // one of the choices of --format
    std::string output;
    std::string output_dir;
    std::string org_name;
    std::string report_email;
    std::size_t top = 0;
    std::int64_t bucket = 0;
};

const mtls::OptionSpec& spec(std::string_view name) {
    return *mtls::find_option(report_options(), name);
}

std::optional<Timestamp> time_option(const po::variables_map& variables, std::string_view name, Timestamp reference) {
    if (!mtls::option_given(variables, name)) {
        return std::nullopt;
    }
    const auto text = mtls::option_text(variables, name);
    const auto time = parse_time_argument(text, reference);
    if (!time) {
        throw UsageError(
            fmt::format("--{}: cannot read '{}' as a time (try 2025-11-24, '2025-11-24 22:00', "
                        "2025-11-24T22:00:00Z, 'Nov 24 22:00:00', @EPOCH or --{}=-24h)",
                        name, mtls::escape_for_log(text), name));
    }
    return time;
}

std::size_t count_option(const po::variables_map& variables, std::string_view name) {
    return static_cast<std::size_t>(mtls::parse_integer(spec(name), mtls::option_text(variables, name)));
}

// The choice's index in the option's declared choices.
std::size_t choice_option(const po::variables_map& variables, std::string_view name) {
    return mtls::parse_choice(spec(name), mtls::option_text(variables, name));
}

constexpr std::array<std::int64_t, 4> kBucketWidths = {0, Timeline::kHour, Timeline::kDay, Timeline::kWeek};

// The command line as Boost reads it; --help prints only the named options.
struct Parsed {
    po::options_description visible{"Options"};
    po::variables_map variables;
};

void read_command_line(int argc, char** argv, Parsed& parsed) {
    po::options_description hidden;
    po::positional_options_description positional;
    for (const auto& option : report_options()) {
        if (option.positional) {
            mtls::add_options(hidden, std::span(&option, 1));
            positional.add(std::string(option.name).c_str(), -1);
        } else {
            mtls::add_options(parsed.visible, std::span(&option, 1));
        }
    }
    po::options_description all;
    all.add(parsed.visible).add(hidden);
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), parsed.variables);
    po::notify(parsed.variables);
}

bool printable_ascii(std::string_view text) {
    return std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

// --format dmarc-xml writes these into every report: they must be there and
// must not break the XML (they are escaped as well).
void check_dmarc_xml_options(const Request& request) {
    if (request.org_name.empty() || !printable_ascii(request.org_name)) {
        throw UsageError("--format dmarc-xml needs --org-name, in printable ASCII");
    }
    const auto at = request.report_email.rfind('@');
    const auto domain =
        at == std::string::npos ? std::string_view{} : std::string_view(request.report_email).substr(at + 1);
    const auto canonical = mtls::canonical_host_name(domain);
    if (at == 0 || !canonical || *canonical != domain || !printable_ascii(request.report_email) ||
        request.report_email.find_first_of(" <>\"") != std::string::npos) {
        throw UsageError("--format dmarc-xml needs --report-email, an address local@domain (domain in lower case)");
    }
}

Request request_from(const po::variables_map& variables, Timestamp started) {
    Request request;
    if (variables.count("file") != 0U) {
        request.files = variables["file"].as<std::vector<std::string>>();
    }
    if (request.files.empty()) {
        request.files.emplace_back("-");
    }
    request.report.since = time_option(variables, "since", started);
    request.report.until = time_option(variables, "until", started);
    if (request.report.since && request.report.until && *request.report.until <= *request.report.since) {
        throw UsageError("--until must be later than --since");
    }
    request.format = spec("format").choices[choice_option(variables, "format")];
    request.bucket = kBucketWidths.at(choice_option(variables, "bucket"));
    request.top = count_option(variables, "top");
    request.report.max_domains = count_option(variables, "max-domains");
    request.report.max_values = count_option(variables, "max-names");
    request.output = mtls::option_text(variables, "output");
    request.output_dir = mtls::option_text(variables, "output-dir");
    request.org_name = mtls::option_text(variables, "org-name");
    request.report_email = mtls::option_text(variables, "report-email");
    if (request.format == "dmarc-xml") {
        check_dmarc_xml_options(request);
    } else if (!request.output_dir.empty()) {
        throw UsageError("--output-dir goes with --format dmarc-xml");
    }
    if (!request.output_dir.empty() && !request.output.empty()) {
        throw UsageError("--output and --output-dir exclude each other");
    }
    return request;
}

std::optional<Request> parse(int argc, char** argv, Timestamp started) {
    Parsed parsed;
    read_command_line(argc, argv, parsed);
    if (parsed.variables.count("help") != 0U) {
        std::cout << "Usage: mtls-report [OPTIONS] [FILE...]\n"
                     "Summarises mtls-milter log lines (text or JSON; bare, in syslog files, or from journalctl\n"
                     "-o short-iso/cat/json) per sending domain. FILEs may be gzip-compressed; none or - reads\n"
                     "standard input.\n\n"
                  << parsed.visible << "\nExit status: 0 ok, 1 no input could be read, 64 usage.\n";
        return std::nullopt;
    }
    if (parsed.variables.count("version") != 0U) {
        std::cout << "mtls-report " << MTLS_VERSION << '\n';
        return std::nullopt;
    }
    return request_from(parsed.variables, started);
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

// Writes `content` to `path` through a temporary file and rename(2), so that a
// reader never meets half a report.
bool write_whole_file(const std::filesystem::path& path, const std::string& content) {
    auto temporary = path;
    temporary += ".tmp";
    {
        std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
        out << content;
        out.flush();
        if (!out) {
            std::error_code ignored;
            std::filesystem::remove(temporary, ignored);
            return false;
        }
    }
    std::error_code error;
    std::filesystem::rename(temporary, path, error);
    return !error;
}

// --format dmarc-xml: one document per policy domain; several go to files.
int write_dmarc_xml(const Request& request, const Summary& summary, const RenderOptions& options) {
    const auto& reports = summary.feedback().reports();
    if (reports.empty()) {
        std::fprintf(stderr, "mtls-report: no DMARC record with a policy domain: no aggregate report to write\n");
        return kExitOk;
    }
    if (request.output_dir.empty()) {
        if (reports.size() > 1) {
            std::fprintf(stderr, "mtls-report: %zu policy domains: give --output-dir for one report each\n",
                         reports.size());
            return kExitUsage;
        }
        const auto& [domain, report] = *reports.begin();
        if (request.output.empty()) {
            render_dmarc_xml(std::cout, domain, report, summary, options);
            std::cout.flush();
            return std::cout ? kExitOk : kExitNoInput;
        }
        std::ostringstream out;
        render_dmarc_xml(out, domain, report, summary, options);
        if (!write_whole_file(request.output, out.str())) {
            std::fprintf(stderr, "mtls-report: cannot write %s\n", mtls::escape_for_log(request.output).c_str());
            return kExitNoInput;
        }
        return kExitOk;
    }
    for (const auto& [domain, report] : reports) {
        std::ostringstream out;
        render_dmarc_xml(out, domain, report, summary, options);
        const auto path =
            std::filesystem::path(request.output_dir) / dmarc_xml_file_name(domain, report, summary, options);
        if (!write_whole_file(path, out.str())) {
            std::fprintf(stderr, "mtls-report: cannot write %s\n", mtls::escape_for_log(path.string()).c_str());
            return kExitNoInput;
        }
        std::printf("%s\n", mtls::escape_for_log(path.string()).c_str());
    }
    return kExitOk;
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
    } catch (const po::error& error) {
        std::fprintf(stderr, "mtls-report: %s\nTry 'mtls-report --help'.\n",
                     mtls::escape_for_log(mtls::describe_options_error(error)).c_str());
        return kExitUsage;
    } catch (const std::exception& error) {
        std::fprintf(stderr, "mtls-report: %s\nTry 'mtls-report --help'.\n",
                     mtls::escape_for_log(error.what()).c_str());
        return kExitUsage;
    }
    try {
        Summary summary(request->report);
        RenderOptions options;
        options.top = request->top;
        options.bucket_width = request->bucket;
        options.generated = started;
        options.org_name = request->org_name;
        options.report_email = request->report_email;
        options.generator = std::string("mtls-report ") + MTLS_VERSION;
        bool any_opened = false;
        for (const auto& name : request->files) {
            options.files.push_back(read_file(name, summary));
            any_opened = any_opened || options.files.back().opened;
        }
        if (!any_opened) {
            std::fprintf(stderr, "mtls-report: no input could be read\n");
            return kExitNoInput;
        }
        if (request->format == "dmarc-xml") {
            return write_dmarc_xml(*request, summary, options);
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
