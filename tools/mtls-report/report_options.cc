#include "report_options.h"

#include <array>

namespace mtls::report {
namespace {

constexpr std::array<std::string_view, 5> kFormatChoices = {"text", "json", "csv", "html", "dmarc-xml"};
constexpr std::array<std::string_view, 4> kBucketChoices = {"auto", "hour", "day", "week"};

constexpr std::array<OptionSpec, 14> kReportOptions = {{
    {.name = "since",
     .placeholder = "TIME",
     .help = "Only lines at or after TIME (ISO 8601, syslog, @EPOCH, or -30m/-24h/-7d).",
     .doc = R"roff(Use only lines at or after
.IR TIME .)roff",
     .programs = kReport,
     .in_config = false},
    {.name = "until",
     .placeholder = "TIME",
     .help = "Only lines before TIME.",
     .doc = R"roff(Use only lines before
.I TIME
(the end is exclusive, so a date alone means up to the start of that day).
.IP
.I TIME
is an ISO 8601 date or time
.RI ( 2025\-11\-24 ,
.RI \(dq "2025\-11\-24 22:00" \(dq,
.IR 2025\-11\-24T22:00:00Z ,
.IR 2025\-11\-24T22:00:00+01:00 ;
without a zone it is local time), a syslog time
.RI (\(dq "Nov 24 22:00:00" \(dq,
in the current year or the one before),
.BI @ EPOCH
in seconds, or a time relative to now:
.BR \-30m ,
.BR \-24h ,
.BR \-7d ,
.BR \-2w .
Write a relative time with an equals sign
.RB ( \-\-since=\-24h ),
since a separate argument starting with a dash is taken for an option.
.IP
Records without a usable timestamp (bare text lines, as from
.B journalctl \-o cat
or a redirected standard error; lines behind an unknown timestamp form) are
.B included
when no window is given, and
.B excluded
when
.B \-\-since
or
.B \-\-until
is; either way the report gives their number.)roff",
     .programs = kReport,
     .in_config = false},
    {.name = "format",
     .placeholder = "text|json|csv|html|dmarc-xml",
     .type = ValueType::choice,
     .default_value = "text",
     .help = "Output format: text, json, csv, html, or dmarc-xml (RFC 9990 aggregate reports).",
     .doc = R"roff(The output format; see
.BR OUTPUT .)roff",
     .programs = kReport,
     .choices = kFormatChoices,
     .in_config = false},
    {.name = "output",
     .placeholder = "FILE",
     .help = "Write the report to FILE instead of stdout.",
     .doc = R"roff(Write the report to
.I FILE
instead of standard output.)roff",
     .programs = kReport,
     .short_name = 'o',
     .in_config = false},
    {.name = "output-dir",
     .placeholder = "DIR",
     .help = "With --format dmarc-xml: one file per policy domain in DIR.",
     .doc = R"roff(With
.BR "\-\-format dmarc\-xml" ,
write one report per policy domain into the existing directory
.IR DIR ,
each named as RFC 9990 section 3.5.2 names the attachment:
.IB receiver ! policy\-domain ! begin ! end .xml\fR,
where
.I receiver
is the domain of
.BR \-\-report\-email .
A file of that name is replaced, as a report sent again keeps its name.
Without
.BR \-\-output\-dir ,
a log whose messages name one policy domain gives its report on standard output (or
.BR \-\-output );
several documents cannot be joined into one XML file, so more than one
policy domain needs
.BR \-\-output\-dir .)roff",
     .programs = kReport,
     .in_config = false},
    {.name = "org-name",
     .placeholder = "NAME",
     .help = "With --format dmarc-xml: the reporting organization (org_name).",
     .doc = R"roff(With
.BR "\-\-format dmarc\-xml" ,
the name of the reporting organization, written as
.BR org_name ;
required for that format. Printable ASCII.)roff",
     .programs = kReport,
     .in_config = false},
    {.name = "report-email",
     .placeholder = "ADDRESS",
     .help = "With --format dmarc-xml: the reporting organization's contact address.",
     .doc = R"roff(With
.BR "\-\-format dmarc\-xml" ,
the contact address of the reporting organization, written as
.BR email ;
its domain names the files of
.B \-\-output\-dir
and ends the report ids. Required for that format.)roff",
     .programs = kReport,
     .in_config = false},
    {.name = "top",
     .placeholder = "N",
     .type = ValueType::integer,
     .default_value = "0",
     .help = "List only the N busiest domains (0: all).",
     .doc = R"roff(List only the
.I N
domains with the most messages (0 lists all). Totals and the
on-fail=reject figures always cover every domain.)roff",
     .programs = kReport,
     .minimum = 0,
     .maximum = 1'000'000'000,
     .in_config = false},
    {.name = "bucket",
     .placeholder = "auto|hour|day|week",
     .type = ValueType::choice,
     .default_value = "auto",
     .help = "Timeline bucket: auto, hour, day or week.",
     .doc = R"roff(The width of the time buckets of the HTML chart and the JSON timeline.
.B auto
takes hours for up to a week, days for up to six months,
weeks beyond, and wider buckets when more than 400 would be needed.)roff",
     .programs = kReport,
     .choices = kBucketChoices,
     .in_config = false},
    {.name = "max-domains",
     .placeholder = "N",
     .type = ValueType::integer,
     .default_value = "10000",
     .help = "Distinct domains kept; further ones are counted together.",
     .doc = R"roff(Keep at most
.I N
distinct domains. Messages of further domains are counted
together under
.BR "(other domains)" ,
and the report says how many there were. Senders choose their MAIL FROM
domain: without a cap, a flood of invented domains would grow the report's
memory without bound.)roff",
     .programs = kReport,
     .minimum = 1,
     .maximum = 1'000'000'000,
     .in_config = false},
    {.name = "max-names",
     .placeholder = "N",
     .type = ValueType::integer,
     .default_value = "20",
     .help = "Distinct names, hosts and reasons kept per domain.",
     .doc = R"roff(Keep at most
.I N
distinct values in each per-domain list: certificate names,
Client MX hosts, reasons, DNSSEC states and actions. Values first seen after
the list is full are not kept; the list ends with
.RB \(dq +M\ more \(dq,
where
.I M
is the number of
.B messages
that carried such further values (not the number of distinct values, which
would need the memory the cap saves).)roff",
     .programs = kReport,
     .minimum = 1,
     .maximum = 1'000'000'000,
     .in_config = false},
    {.name = "help",
     .type = ValueType::command,
     .help = "Print this help and exit.",
     .doc = R"roff(Print a summary of the options and exit.)roff",
     .programs = kReport,
     .short_name = 'h',
     .in_config = false},
    {.name = "version",
     .type = ValueType::command,
     .help = "Print the version and exit.",
     .doc = R"roff(Print the version and exit.)roff",
     .programs = kReport,
     .in_config = false},
    {.name = "file",
     .placeholder = "FILE",
     .type = ValueType::list,
     .help = "Log files to read (gzip allowed); none or - reads standard input.",
     .programs = kReport,
     .in_config = false,
     .positional = true},
}};

}  // namespace

std::span<const OptionSpec> report_options() {
    return kReportOptions;
}

}  // namespace mtls::report
