// Log lines for the mtls-report tests, written by the core's own formatter
// (format_text/format_json) so that the parser is tested against exactly what
// the milter writes, and wrapped the way syslog and journalctl wrap them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "dmarc/dmarc_record.h"
#include "dmarc/dmarc_record_fields.h"
#include "mtls/verdict_record.h"

namespace fixtures {

// Records of every kind the milter logs.
mtls::VerdictRecord passing(std::string_view domain = "example.org", std::string_view host = "out1.example.org");
// The same pass reached by DANE or by certificate discovery (the log's via).
mtls::VerdictRecord passing_by(mtls::PassMethod method, std::string_view domain, std::string_view host);
mtls::VerdictRecord failing(std::string_view domain = "example.org", std::string_view cert = "rogue.example.net");
mtls::VerdictRecord no_client_mx(std::string_view domain = "plain.example");
mtls::VerdictRecord bogus(std::string_view domain = "broken.example");
mtls::VerdictRecord invalid_mail_from(std::string_view raw);
mtls::VerdictRecord null_sender(std::string_view helo = "mx.helo.example");
// Every field filled with attacker text: CR LF, quotes, =, escapes, NUL, UTF-8.
mtls::VerdictRecord hostile();
extern const std::string kHostile;

// The record with its time set, as the milter sets it when it logs (JSON
// lines carry it as "ts"); ISO 8601 with a zone, e.g. "2025-11-24T10:00:00Z".
mtls::VerdictRecord at(mtls::VerdictRecord record, std::string_view iso);

enum class Format { text, json };
std::string body(const mtls::VerdictRecord& record, Format format);

// "Nov 24 22:55:18 mx1 mtls-milter[4242]: BODY" (traditional rsyslog).
std::string syslog_line(std::string_view stamp, std::string_view body);
// "2025-11-24T22:55:18+0100 mx1 mtls-milter[4242]: BODY" (journalctl -o short-iso).
std::string short_iso_line(std::string_view stamp, std::string_view body);
// One line of journalctl -o json with MESSAGE = body.
std::string journal_json_line(std::int64_t realtime_micros, std::string_view body,
                              std::string_view identifier = "mtls-milter");

// Records of the DMARC stage, judged by the core's own evaluate() over DNS
// answers as the stage's walk would get them, and written by the stage's
// own writer (format_text/format_json, core/dmarc/dmarc_record.cc), so that
// a field the writer changes changes here too.
// From example.com (p=reject sp=quarantine) through 192.0.2.25: pass by
// mtls alone; SPF softfail, DKIM fail by a signature of esp.example.
mtls::dmarc::DmarcRecord dmarc_mtls_only(std::string_view domain = "example.com",
                                         std::string_view client = "192.0.2.25");
// Aligned SPF and DKIM pass, mtls aligned as well.
mtls::dmarc::DmarcRecord dmarc_aligned(std::string_view domain = "example.com", std::string_view client = "192.0.2.26");
// Nothing aligned: fail under the given policy (p=).
mtls::dmarc::DmarcRecord dmarc_fail(std::string_view domain = "example.com", std::string_view policy = "reject",
                                    std::string_view client = "203.0.113.9");
// A DKIM pass below the domain whose own walk failed: relaxed alignment
// cannot be judged, temperror, deferred.
mtls::dmarc::DmarcRecord dmarc_temperror(std::string_view domain = "example.com",
                                         std::string_view client = "203.0.113.9");
// No DMARC record anywhere.
mtls::dmarc::DmarcRecord dmarc_none(std::string_view domain = "plain.example");
mtls::dmarc::DmarcRecord dmarc_at(mtls::dmarc::DmarcRecord record, std::string_view iso);
std::string dmarc_body(const mtls::dmarc::DmarcRecord& record, Format format);
// The writer's line with one value replaced by raw text (unescaped, as a
// forger or a broken relay would write it), or the field left out: for the
// values the writer itself never writes.
std::string dmarc_body_with(const mtls::dmarc::DmarcRecord& record, Format format, mtls::dmarc::DmarcField field,
                            std::string_view value);
std::string dmarc_body_without(const mtls::dmarc::DmarcRecord& record, Format format,
                               std::initializer_list<mtls::dmarc::DmarcField> fields);

// The milter's other lines.
std::string skip_body(std::string_view queue_id = "4AbC12");
std::string startup_body();

// A fresh directory removed with its contents at the end of a test.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    [[nodiscard]] const std::filesystem::path& path() const { return path_; }
    [[nodiscard]] std::filesystem::path file(std::string_view name) const { return path_ / name; }

private:
    std::filesystem::path path_;
};

void write_file(const std::filesystem::path& path, std::string_view content);
// gzip, as logrotate's compress does.
void write_gzip(const std::filesystem::path& path, std::string_view content);
std::string read_file(const std::filesystem::path& path);
std::string join_lines(const std::vector<std::string>& lines);

}  // namespace fixtures
