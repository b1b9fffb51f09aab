// Output of mtls-report: an aligned text table, JSON, CSV and a one-file HTML
// page with an inline SVG chart. Every string in a Summary comes from a mail
// log, that is from senders: each format escapes it for its own syntax.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "report_summary.h"
#include "report_time.h"

namespace mtls::report {

struct InputFile {
    std::string name;  // as given on the command line, "-" for standard input
    std::uint64_t lines = 0;
    bool opened = false;
    std::string error;  // why it could not be (fully) read
};

struct RenderOptions {
    std::vector<InputFile> files;
    std::size_t top = 0;            // domains listed, 0 = all
    std::int64_t bucket_width = 0;  // chart/timeline bucket in seconds, 0 = automatic
    Timestamp generated{};
};

void render_text(std::ostream& out, const Summary& summary, const RenderOptions& options);
void render_json(std::ostream& out, const Summary& summary, const RenderOptions& options);
void render_csv(std::ostream& out, const Summary& summary, const RenderOptions& options);
void render_html(std::ostream& out, const Summary& summary, const RenderOptions& options);

// One RFC 4180 field. A text starting with = + - @ (or tab/CR) gets a leading
// apostrophe so that spreadsheets show it instead of evaluating a formula
// (OWASP's advice against CSV injection); quotes when needed, "" inside.
std::string csv_field(std::string_view text);

// & < > " ' as character references: safe in element text and in quoted
// attribute values.
std::string html_escape(std::string_view text);

}  // namespace mtls::report
