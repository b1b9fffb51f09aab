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
    // --format dmarc-xml: report_metadata's org_name and email, and the
    // generator element ("mtls-report 1.2").
    std::string org_name;
    std::string report_email;
    std::string generator;
};

void render_text(std::ostream& out, const Summary& summary, const RenderOptions& options);
void render_json(std::ostream& out, const Summary& summary, const RenderOptions& options);
void render_csv(std::ostream& out, const Summary& summary, const RenderOptions& options);
void render_html(std::ostream& out, const Summary& summary, const RenderOptions& options);

// --format dmarc-xml: one RFC 9990 aggregate report per policy domain.
// The period is --since/--until where given, else the time span of the
// domain's records, else the time of generation (in seconds, end inclusive).
struct DateRange {
    std::int64_t begin = 0;
    std::int64_t end = 0;
};
DateRange report_period(const Summary& summary, const PolicyReport& report, const RenderOptions& options);
void render_dmarc_xml(std::ostream& out, std::string_view policy_domain, const PolicyReport& report,
                      const Summary& summary, const RenderOptions& options);
// RFC 9990 section 3.5.2's attachment file name,
// "receiver!policy-domain!begin!end.xml", the receiver being the domain of
// the report e-mail address: a report written again gets the same name.
std::string dmarc_xml_file_name(std::string_view policy_domain, const PolicyReport& report, const Summary& summary,
                                const RenderOptions& options);
// The namespace of the mtls extension elements (RFC 9990, "Extensible
// Reporting": extension elements MUST be namespaced, by a URI that leads to
// their definition), defined in man/mtls-report.1 under EXTENSION, where
// the URI is the search key that finds it. A URN of RFC 9562's registered
// "uuid" namespace, from a random (version 4) UUID: unique without anyone's
// registration, and claiming nothing it does not have. urn:x-... is no URN
// namespace (RFC 8141 has no experimental ones), urn:ietf:params needs an
// IANA registration, and a tag: or http URI needs a domain this project
// does not own. It never changes while the elements keep their meaning;
// one that changes an element's meaning gets a new UUID.
inline constexpr std::string_view kMtlsReportNamespace = "urn:uuid:b3e76a8d-0e1f-4876-a103-0197a572d21f";

// One RFC 4180 field. A text starting with = + - @ (or tab/CR) gets a leading
// apostrophe so that spreadsheets show it instead of evaluating a formula
// (OWASP's advice against CSV injection); quotes when needed, "" inside.
std::string csv_field(std::string_view text);

// & < > " ' as character references: safe in element text and in quoted
// attribute values.
std::string html_escape(std::string_view text);

}  // namespace mtls::report
