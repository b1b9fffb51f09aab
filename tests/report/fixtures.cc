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

#include "mtls/verdict.h"
#include "report_time.h"

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

DmarcLine& DmarcLine::set(mtls::dmarc::DmarcField field, std::string value) {
    for (auto& [key, old] : fields) {
        if (key == field) {
            old = std::move(value);
            return *this;
        }
    }
    fields.emplace_back(field, std::move(value));
    return *this;
}

namespace {

DmarcLine dmarc_line(std::string_view domain, std::string_view client, std::string_view aligned_by,
                     std::string_view result, std::string_view result_rfc9989) {
    using F = mtls::dmarc::DmarcField;
    DmarcLine line;
    line.set(F::stage, std::string(mtls::dmarc::kDmarcStageValue))
        .set(F::queue_id, "4Dm12345")
        .set(F::client_addr, std::string(client))
        .set(F::header_from, std::string(domain))
        .set(F::policy_domain, std::string(domain))
        .set(F::org_domain, std::string(domain))
        .set(F::p, "reject")
        .set(F::sp, "quarantine")
        .set(F::np, "-")
        .set(F::t, "n")
        .set(F::aspf, "r")
        .set(F::adkim, "r")
        .set(F::policy_dmarc, "reject")
        .set(F::disposition, "none")
        .set(F::aligned_by, std::string(aligned_by))
        .set(F::dnssec, "secure")
        .set(F::queries, "1")
        .set(F::dmarc, std::string(result))
        .set(F::dmarc_rfc9989, std::string(result_rfc9989))
        .set(F::reason, "-");
    return line;
}

}  // namespace

DmarcLine dmarc_mtls_only(std::string_view domain, std::string_view client) {
    return dmarc_line(domain, client, "mtls", "pass", "fail");
}

DmarcLine dmarc_aligned(std::string_view domain, std::string_view client) {
    return dmarc_line(domain, client, "spf,dkim,mtls", "pass", "pass");
}

DmarcLine dmarc_fail(std::string_view domain, std::string_view policy, std::string_view client) {
    auto line = dmarc_line(domain, client, "-", "fail", "fail");
    line.set(mtls::dmarc::DmarcField::policy_dmarc, std::string(policy));
    line.set(mtls::dmarc::DmarcField::p, std::string(policy));
    return line;
}

DmarcLine dmarc_none(std::string_view domain) {
    using F = mtls::dmarc::DmarcField;
    auto line = dmarc_line(domain, "192.0.2.30", "-", "none", "none");
    for (const auto field : {F::policy_domain, F::org_domain, F::p, F::sp, F::policy_dmarc}) {
        line.set(field, "-");
    }
    return line;
}

DmarcLine dmarc_at(DmarcLine line, std::string_view iso) {
    auto time = mtls::report::parse_log_timestamp(iso, mtls::report::now());
    line.set(mtls::dmarc::DmarcField::ts, mtls::iso8601_utc(*time));
    return line;
}

std::string dmarc_body(const DmarcLine& line, Format format) {
    using F = mtls::dmarc::DmarcField;
    if (format == Format::text) {
        std::vector<std::string> parts;
        for (const auto& [field, value] : line.fields) {
            parts.push_back(fmt::format("{}={}", mtls::dmarc::field_name(field), value));
        }
        return fmt::format("{}", fmt::join(parts, " "));
    }
    nlohmann::json object = nlohmann::json::object();
    for (const auto& [field, value] : line.fields) {
        const auto key = std::string(mtls::dmarc::field_name(field));
        if (field == F::queries) {
            object[key] = std::stoi(value);
        } else {
            object[key] = value;
        }
    }
    // Hostile values hold invalid UTF-8: written replaced, as a JSON logger would.
    return object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
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
