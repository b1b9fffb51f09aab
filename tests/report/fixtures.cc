#include "fixtures.h"

#include <fmt/format.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "dmarc/evaluation.h"
#include "mtls/verdict.h"
#include "report_time.h"
#include "walk_fixtures.h"

using namespace std::chrono_literals;
using namespace std::string_literals;

namespace fixtures {

const std::string kHostile =
    "evil\r\nresult=pass \"quoted\" back\\slash \x1b[31mred =cmd|'/C calc'!A0 <script>x</script> \xc3\xa9\xff tab\there"s +
    std::string(1, '\0') + "nul";

namespace {

// Client MX RDATA as a DNS server sends it: preference, uncompressed name.
std::vector<std::uint8_t> rdata(std::uint16_t preference, std::string_view host) {
    std::vector<std::uint8_t> out = {static_cast<std::uint8_t>(preference >> 8U),
                                     static_cast<std::uint8_t>(preference & 0xffU)};
    while (!host.empty()) {
        const auto dot = host.find('.');
        const auto label = host.substr(0, dot);
        out.push_back(static_cast<std::uint8_t>(label.size()));
        out.insert(out.end(), label.begin(), label.end());
        host = dot == std::string_view::npos ? std::string_view{} : host.substr(dot + 1);
    }
    out.push_back(0);
    return out;
}

// A record as the milter builds it: identity and verdict from the core's own
// functions, so reasons and fields cannot drift from the real ones.
mtls::VerdictRecord judged(std::string_view domain, const mtls::DnsAnswer& answer, const mtls::TlsEvidence& evidence) {
    mtls::VerdictRecord record;
    record.queue_id = "4Xyz1234";
    record.client_address = "192.0.2.25";
    record.raw_identity = fmt::format("<user@{}>", domain);
    record.identity = mtls::identity_from_envelope(record.raw_identity, "mx.helo.example");
    record.evidence = evidence;
    record.verdict = mtls::decide(answer, evidence, {});
    record.action = "tag";
    record.lookup_time = 12345us;
    return record;
}

mtls::TlsEvidence verified(std::string_view name) {
    mtls::TlsEvidence evidence;
    evidence.status = mtls::CertificateStatus::verified;
    mtls::add_presented_name(evidence, name);
    return evidence;
}

mtls::DnsAnswer client_mx(std::string_view host) {
    mtls::DnsAnswer answer;
    answer.status = mtls::AnswerStatus::records;
    answer.dnssec = mtls::DnssecState::secure;
    answer.rdata = {rdata(10, host)};
    return answer;
}

}  // namespace

mtls::VerdictRecord passing(std::string_view domain, std::string_view host) {
    return judged(domain, client_mx(host), verified(host));
}

mtls::VerdictRecord passing_by(mtls::PassMethod method, std::string_view domain, std::string_view host) {
    auto record = passing(domain, host);
    record.verdict.method = method;
    record.verdict.reason = method == mtls::PassMethod::dane ? "dane" : "discovered";
    return record;
}

mtls::VerdictRecord failing(std::string_view domain, std::string_view cert) {
    return judged(domain, client_mx(fmt::format("out1.{}", domain)), verified(cert));
}

mtls::VerdictRecord no_client_mx(std::string_view domain) {
    mtls::DnsAnswer answer;
    answer.status = mtls::AnswerStatus::nodata;
    answer.dnssec = mtls::DnssecState::insecure;
    mtls::TlsEvidence evidence;
    evidence.status = mtls::CertificateStatus::absent_or_unverified;
    return judged(domain, answer, evidence);
}

mtls::VerdictRecord bogus(std::string_view domain) {
    mtls::DnsAnswer answer;
    answer.status = mtls::AnswerStatus::bogus;
    answer.dnssec = mtls::DnssecState::bogus;
    auto record = judged(domain, answer, verified("out1.broken.example"));
    record.dns_detail = "validation failure <broken.example. TYPE265 IN>: signature expired";
    return record;
}

mtls::VerdictRecord invalid_mail_from(std::string_view raw) {
    mtls::VerdictRecord record;
    record.queue_id = "4Bad0001";
    record.client_address = "198.51.100.7";
    record.raw_identity = std::string(raw);
    record.identity = mtls::identity_from_envelope(raw, "mx.helo.example");
    record.verdict = mtls::verdict_for_unusable_identity(record.identity);
    record.dns_detail = record.identity.problem;
    record.action = "tag";
    return record;
}

mtls::VerdictRecord null_sender(std::string_view helo) {
    mtls::VerdictRecord record = passing(helo, helo);
    record.identity = mtls::identity_from_envelope("<>", helo);
    record.raw_identity = std::string(helo);
    return record;
}

mtls::VerdictRecord hostile() {
    mtls::VerdictRecord record = invalid_mail_from(kHostile);
    record.queue_id = kHostile;
    record.client_address = kHostile;
    record.evidence.status = mtls::CertificateStatus::verified;
    record.evidence.unusable_names = {kHostile, "John \"Doe\", Esq.", std::string(3000, '\n')};
    record.dns_detail = kHostile;
    return record;
}

mtls::VerdictRecord at(mtls::VerdictRecord record, std::string_view iso) {
    const auto time = mtls::report::parse_log_timestamp(iso, mtls::report::now());
    if (!time) {
        throw std::invalid_argument("bad fixture time");
    }
    record.time = std::chrono::system_clock::time_point{time->time_since_epoch()};
    return record;
}

std::string body(const mtls::VerdictRecord& record, Format format) {
    return format == Format::json ? mtls::format_json(record) : mtls::format_text(record);
}

std::string syslog_line(std::string_view stamp, std::string_view body) {
    return fmt::format("{} mx1 mtls-milter[4242]: {}", stamp, body);
}

std::string short_iso_line(std::string_view stamp, std::string_view body) {
    return fmt::format("{} mx1 mtls-milter[4242]: {}", stamp, body);
}

std::string journal_json_line(std::int64_t realtime_micros, std::string_view body, std::string_view identifier) {
    // The fields journalctl -o json prints for a syslog(3) message, trimmed.
    const nlohmann::json entry = {
        {"__CURSOR", "s=0123;i=1"},
        {"__REALTIME_TIMESTAMP", std::to_string(realtime_micros)},
        {"__MONOTONIC_TIMESTAMP", "123456789"},
        {"_BOOT_ID", "0123456789abcdef"},
        {"PRIORITY", "6"},
        {"SYSLOG_FACILITY", "2"},
        {"SYSLOG_IDENTIFIER", identifier},
        {"SYSLOG_PID", "4242"},
        {"_PID", "4242"},
        {"_COMM", identifier},
        {"_SYSTEMD_UNIT", "mtls-milter.service"},
        {"MESSAGE", body},
    };
    return entry.dump();
}

namespace {

using mtls::dmarc::testing::txt;
using mtls::dmarc::testing::walk;

// One message as the DMARC stage judges and logs it: the record published
// at domain, the identifiers that passed, and the raw results it read.
mtls::dmarc::DmarcRecord judged_dmarc(std::string_view domain, std::string_view client,
                                      mtls::dmarc::AuthenticatedIdentifiers identifiers,
                                      const mtls::dmarc::WalkAnswers& answers) {
    mtls::dmarc::DmarcRecord record;
    record.queue_id = "4Dm12345";
    record.client_address = std::string(client);
    record.envelope_from = std::string(domain);
    record.dkim_results = identifiers.dkim_results;
    record.spf_result = identifiers.spf_result;
    mtls::dmarc::EvaluationInput input;
    input.author_domain = std::string(domain);
    input.identifiers = std::move(identifiers);
    record.evaluation = mtls::dmarc::evaluate(input, answers);
    record.disposition = "none";
    record.queries = 1;
    return record;
}

mtls::dmarc::WalkAnswers published(std::string_view domain, std::string_view policy) {
    const std::string name(domain);
    return walk({name}, {{name, txt({fmt::format("v=DMARC1; p={}; sp=quarantine", policy)})}});
}

}  // namespace

mtls::dmarc::DmarcRecord dmarc_mtls_only(std::string_view domain, std::string_view client) {
    mtls::dmarc::AuthenticatedIdentifiers ids;
    ids.mtls = mtls::dmarc::MtlsPass{std::string(domain), false};
    ids.dkim_results = {{"esp.example", "s1", "fail"}};
    ids.spf_result = "softfail";
    return judged_dmarc(domain, client, std::move(ids), published(domain, "reject"));
}

mtls::dmarc::DmarcRecord dmarc_aligned(std::string_view domain, std::string_view client) {
    mtls::dmarc::AuthenticatedIdentifiers ids;
    ids.spf_pass_domains = {std::string(domain)};
    ids.dkim_pass_domains = {std::string(domain)};
    ids.mtls = mtls::dmarc::MtlsPass{std::string(domain), false};
    ids.dkim_results = {{std::string(domain), "sel2024", "pass"}};
    ids.spf_result = "pass";
    return judged_dmarc(domain, client, std::move(ids), published(domain, "reject"));
}

mtls::dmarc::DmarcRecord dmarc_fail(std::string_view domain, std::string_view policy, std::string_view client) {
    mtls::dmarc::AuthenticatedIdentifiers ids;
    ids.spf_result = "fail";
    return judged_dmarc(domain, client, std::move(ids), published(domain, policy));
}

mtls::dmarc::DmarcRecord dmarc_temperror(std::string_view domain, std::string_view client) {
    const std::string signer = fmt::format("mail.{}", domain);
    mtls::dmarc::AuthenticatedIdentifiers ids;
    ids.dkim_pass_domains = {signer};
    ids.dkim_results = {{signer, "s", "pass"}};
    auto answers = published(domain, "reject");
    answers.insert_or_assign(signer, mtls::dmarc::testing::failed("SERVFAIL"));
    auto record = judged_dmarc(domain, client, std::move(ids), answers);
    record.disposition = "tempfail";
    return record;
}

mtls::dmarc::DmarcRecord dmarc_none(std::string_view domain) {
    const std::string name(domain);
    return judged_dmarc(domain, "192.0.2.30", {}, walk({name}, {}));
}

mtls::dmarc::DmarcRecord dmarc_at(mtls::dmarc::DmarcRecord record, std::string_view iso) {
    const auto time = mtls::report::parse_log_timestamp(iso, mtls::report::now());
    if (!time) {
        throw std::invalid_argument("bad fixture time");
    }
    record.time = std::chrono::system_clock::time_point{time->time_since_epoch()};
    return record;
}

std::string dmarc_body(const mtls::dmarc::DmarcRecord& record, Format format) {
    return format == Format::json ? mtls::dmarc::format_json(record) : mtls::dmarc::format_text(record);
}

namespace {

// Where "name=value" of the writer's text line is: the start of the key and
// the end of the value (a quoted value ends at its closing quote).
std::pair<std::size_t, std::size_t> text_field_span(std::string_view line, std::string_view name) {
    const auto key = fmt::format("{}=", name);
    std::size_t at = line.starts_with(key) ? 0 : line.find(fmt::format(" {}", key));
    if (at == std::string_view::npos) {
        throw std::invalid_argument("the writer wrote no such field");
    }
    at += line[at] == ' ' ? 1 : 0;
    auto end = at + key.size();
    if (end < line.size() && line[end] == '"') {
        for (++end; end < line.size() && line[end] != '"'; ++end) {
            end += line[end] == '\\' ? 1 : 0;
        }
        ++end;
    } else {
        end = std::min(line.find(' ', end), line.size());
    }
    return {at, end};
}

}  // namespace

std::string dmarc_body_with(const mtls::dmarc::DmarcRecord& record, Format format, mtls::dmarc::DmarcField field,
                            std::string_view value) {
    const auto name = mtls::dmarc::field_name(field);
    auto line = dmarc_body(record, format);
    if (format == Format::text) {
        const auto [at, end] = text_field_span(line, name);
        return line.replace(at, end - at, fmt::format("{}={}", name, value));
    }
    auto object = nlohmann::json::parse(line);
    object[std::string(name)] = std::string(value);
    // Hostile values hold invalid UTF-8: written replaced, as a JSON logger would.
    return object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string dmarc_body_without(const mtls::dmarc::DmarcRecord& record, Format format,
                               std::initializer_list<mtls::dmarc::DmarcField> fields) {
    auto line = dmarc_body(record, format);
    if (format == Format::text) {
        for (const auto field : fields) {
            const auto [at, end] = text_field_span(line, mtls::dmarc::field_name(field));
            line.erase(at, std::min(end + 1, line.size()) - at);
        }
        return line;
    }
    auto object = nlohmann::json::parse(line);
    for (const auto field : fields) {
        object.erase(std::string(mtls::dmarc::field_name(field)));
    }
    return object.dump();
}

std::string skip_body(std::string_view queue_id) {
    // As milter/connection.cc's log_skip writes it.
    return fmt::format("queue_id={} client=192.0.2.99 skipped: SMTP-AUTH client", queue_id);
}

std::string startup_body() {
    return "mtls-milter 0.1.0 listening on inet:8894@127.0.0.1; authserv-id=mx.example client-mx-type=265 "
           "dns-timeout=5000ms on-fail=tag on-temperror=tag ignore-hosts=[]";
}

TempDir::TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "mtls-report-test.XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
        throw std::runtime_error("mkdtemp failed");
    }
    path_ = pattern;
}

TempDir::~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
}

void write_file(const std::filesystem::path& path, std::string_view content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    if (!out) {
        throw std::runtime_error("cannot write " + path.string());
    }
}

void write_gzip(const std::filesystem::path& path, std::string_view content) {
    struct GzClose {
        void operator()(gzFile file) const { gzclose(file); }
    };
    const std::unique_ptr<gzFile_s, GzClose> file(gzopen(path.c_str(), "wb"));
    if (!file ||
        (!content.empty() && gzwrite(file.get(), content.data(), static_cast<unsigned>(content.size())) <= 0)) {
        throw std::runtime_error("cannot write " + path.string());
    }
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream content;
    content << in.rdbuf();
    return content.str();
}

std::string join_lines(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& line : lines) {
        out += line;
        out += '\n';
    }
    return out;
}

}  // namespace fixtures
