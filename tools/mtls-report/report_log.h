// Reading the milter's log lines back: the per-message records that
// core/mtls/verdict_record.cc writes (text or JSON), found bare, behind a syslog
// prefix or inside journalctl's JSON export, and everything else a log file
// holds, sorted into the reasons a report gives for skipping it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mtls/verdict.h"
#include "report_dmarc_log.h"
#include "report_time.h"

namespace mtls::report {

// The syslog ident the milter logs under (kSyslogIdent in core/base/logger.cc).
inline constexpr std::string_view kMilterIdent = "mtls-milter";

// Longer lines are skipped unread: a record is a few hundred bytes, rsyslog
// cuts messages at 8 KiB, and a reader must not buffer a runaway line.
inline constexpr std::size_t kMaxLineLength = std::size_t{256} * 1024;

// One per-message record. Strings are kept as the milter wrote them, that is
// already escaped to printable ASCII; a line carrying anything else was not
// written by the milter and is rejected as malformed, so every string here
// is safe to print on a terminal.
struct Record {
    std::string queue_id;
    std::string client;
    std::string identity_type;  // "smtp.mailfrom" or "smtp.helo"
    std::string identity;       // the domain, or the raw text when unusable
    bool identity_usable = true;
    std::string tls;
    std::string evidence;  // JSON only
    std::vector<std::string> cert_names;
    std::vector<std::string> unusable_cert_names;
    std::vector<std::string> client_mx;  // "10:out.example.org", "0:." for null
    std::string dnssec;
    Result result = Result::temperror;
    std::string reason;
    std::string matched;
    std::string via;  // how a pass came about: certificate, dane, discovered
    std::string action;
    double lookup_ms = 0;
    std::string dns_detail;
    std::optional<Timestamp> time;  // from the "ts" field of JSON lines
};

enum class LineKind {
    record,         // a per-message record
    dmarc_record,   // a per-message record of the DMARC stage
    milter_skip,    // "queue_id=... client=... skipped: SMTP-AUTH client"
    milter_notice,  // other milter lines: start-up, stop, errors
    empty,          // nothing but white space
    not_mtls,       // another program's line, or text that is not ours
    malformed,      // claims to be ours but does not parse: truncated, bad field
    binary,         // control characters or NUL bytes
    too_long,       // longer than kMaxLineLength (set by the reader)
};

inline constexpr std::size_t kLineKindCount = 9;
std::string_view to_string(LineKind kind);
// Operator wording for a skip reason, e.g. "not an mtls-milter line".
std::string_view describe(LineKind kind);

struct ParsedLine {
    LineKind kind = LineKind::not_mtls;
    Record record;                  // when kind == record
    DmarcRecord dmarc;              // when kind == dmarc_record
    std::optional<Timestamp> time;  // from the record's "ts", else the prefix
    std::string problem;            // why a line is malformed, for --verbose
};

// Classifies one line (without its newline). `reference` dates syslog's
// year-less timestamps (see parse_log_timestamp).
ParsedLine parse_line(std::string_view line, Timestamp reference);

// The two record formats on their own, for tests: std::nullopt with `problem`
// set when the text is not a complete, valid record.
std::optional<Record> parse_text_record(std::string_view text, std::string& problem);
std::optional<Record> parse_json_record(std::string_view text, std::string& problem);

// The key=value fields of a text line in the syntax format_text writes
// (core/mtls/verdict_record.cc), in order; std::nullopt with `problem` set
// when the text holds free words, an unterminated quote, a repeated key or
// characters the milter never writes.
using TextFields = std::vector<std::pair<std::string, std::string>>;
std::optional<TextFields> text_fields(std::string_view text, std::string& problem);

// Splits "10:out.example.org" into its host ("." for a null Client MX).
std::string_view client_mx_host(std::string_view entry);

}  // namespace mtls::report
