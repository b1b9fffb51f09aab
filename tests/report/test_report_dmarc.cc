// The DMARC stage's lines in mtls-report: both log formats read alike,
// hostile values refused without a crash, the DMARC counts, and RFC 9990
// aggregate reports that xmllint validates against the RFC's own schema
// (tests/report/dmarc-xml-0.2.xsd).
#include <fmt/format.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <sstream>
#include <string>

#include "fixtures.h"
#include "report_render.h"

using namespace mtls::report;
using fixtures::Format;
using F = DmarcField;

namespace {

const Timestamp kReference = Timestamp{std::chrono::seconds{1764028800}};  // 2025-11-25T00:00:00Z

ParsedLine parse_body(const std::string& body) {
    return parse_line(fixtures::short_iso_line("2025-11-24T10:00:00Z", body), kReference);
}

ParsedLine parse(const mtls::dmarc::DmarcRecord& record, Format format) {
    return parse_body(fixtures::dmarc_body(record, format));
}

// xmllint --schema on one document: true when it validates.
bool schema_valid(const std::string& xml) {
    const fixtures::TempDir dir;
    const auto path = dir.file("report.xml");
    fixtures::write_file(path, xml);
    const auto command = fmt::format("xmllint --noout --schema '{}' '{}' 2>&1", MTLS_REPORT_DMARC_XSD, path.string());
    const int status = std::system(command.c_str());
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

RenderOptions xml_options() {
    RenderOptions options;
    options.generated = kReference;
    options.org_name = "Example & <Receiver> \"Org\"";
    options.report_email = "dmarc-reports@mx.example.net";
    options.generator = "mtls-report test";
    return options;
}

std::string render_xml(const Summary& summary, const std::string& domain) {
    const auto& reports = summary.feedback().reports();
    const auto it = reports.find(domain);
    REQUIRE(it != reports.end());
    std::ostringstream out;
    render_dmarc_xml(out, it->first, it->second, summary, xml_options());
    return out.str();
}

void add_body(Summary& summary, const std::string& body, std::string_view iso) {
    summary.add_line(fixtures::short_iso_line(iso, body), kReference);
}

void add(Summary& summary, const mtls::dmarc::DmarcRecord& record, std::string_view iso, Format format) {
    add_body(summary, fixtures::dmarc_body(fixtures::dmarc_at(record, iso), format), iso);
}

}  // namespace

TEST_CASE("dmarc log: text and JSON lines read alike", "[report][dmarc]") {
    for (const auto format : {Format::text, Format::json}) {
        const auto parsed = parse(fixtures::dmarc_mtls_only(), format);
        INFO(fixtures::dmarc_body(fixtures::dmarc_mtls_only(), format) << " / " << parsed.problem);
        REQUIRE(parsed.kind == LineKind::dmarc_record);
        const auto& record = parsed.dmarc;
        CHECK(record.queue_id == "4Dm12345");
        CHECK(record.client == "192.0.2.25");
        CHECK(record.header_from == "example.com");
        CHECK(record.policy_domain == "example.com");
        CHECK(record.p == DmarcPolicy::reject);
        CHECK(record.sp == DmarcPolicy::quarantine);
        CHECK_FALSE(record.np);
        CHECK(record.policy == DmarcPolicy::reject);
        CHECK(record.aligned_mtls);
        CHECK_FALSE(record.aligned_spf);
        CHECK_FALSE(record.aligned_dkim);
        CHECK(record.result == mtls::Result::pass);
        CHECK(record.result_rfc9989 == mtls::Result::fail);
        CHECK(record.pass_by_mtls_only());
    }
}

TEST_CASE("dmarc log: stage 1's records still read beside the DMARC lines", "[report][dmarc]") {
    Summary summary({});
    summary.add_line(fixtures::body(fixtures::passing(), Format::text), kReference);
    summary.add_line(fixtures::dmarc_body(fixtures::dmarc_aligned(), Format::text), kReference);
    summary.add_line(fixtures::dmarc_body(fixtures::dmarc_aligned(), Format::json), kReference);
    CHECK(summary.messages() == 1);
    CHECK(summary.dmarc_totals().messages == 2);
    CHECK(summary.input().lines_used == 3);
    CHECK(summary.input().skipped() == 0);
}

TEST_CASE("dmarc log: hostile values are refused as malformed, never crash", "[report][dmarc]") {
    const std::vector<std::pair<F, std::string>> bad = {
        {F::header_from, "<script>x</script>"},
        {F::header_from, "EXAMPLE.COM"},  // the stage logs canonical names
        {F::policy_domain, "a..b"},
        {F::org_domain, "evil\"quote"},
        {F::p, "rejectx"},
        {F::sp, "all"},
        {F::policy_dmarc, "1"},
        {F::aspf, "rs"},
        {F::t, "maybe"},
        {F::disposition, "drop"},
        {F::aligned_by, "spf,arc"},
        {F::dmarc, "pass,pass"},
        {F::dmarc_rfc9989, ""},
        {F::header_from, fixtures::kHostile},
        {F::client_addr, fixtures::kHostile},
        {F::stage, "dmarcx"},
    };
    for (const auto& [field, value] : bad) {
        for (const auto format : {Format::text, Format::json}) {
            const auto parsed =
                parse_body(fixtures::dmarc_body_with(fixtures::dmarc_mtls_only(), format, field, value));
            INFO(field_name(field) << "=" << value);
            CHECK(parsed.kind != LineKind::dmarc_record);
        }
    }
    // A required field missing: a line cut short.
    for (const auto format : {Format::text, Format::json}) {
        CHECK(parse_body(fixtures::dmarc_body_without(fixtures::dmarc_mtls_only(), format, {F::dmarc_rfc9989})).kind ==
              LineKind::malformed);
    }
    // A repeated key could smuggle a second verdict.
    const auto body = fixtures::dmarc_body(fixtures::dmarc_mtls_only(), Format::text) + " dmarc=fail";
    CHECK(parse_line(body, kReference).kind == LineKind::malformed);
}

TEST_CASE("dmarc summary: passes by mtls only, and what enforcing would have done", "[report][dmarc]") {
    Summary summary({});
    add(summary, fixtures::dmarc_mtls_only(), "2025-11-24T10:00:00Z", Format::text);
    add(summary, fixtures::dmarc_mtls_only(), "2025-11-24T10:05:00Z", Format::json);
    add(summary, fixtures::dmarc_aligned(), "2025-11-24T11:00:00Z", Format::text);
    add(summary, fixtures::dmarc_fail(), "2025-11-24T12:00:00Z", Format::json);
    add(summary, fixtures::dmarc_fail("q.example", "quarantine"), "2025-11-24T12:00:00Z", Format::text);
    add(summary, fixtures::dmarc_none(), "2025-11-24T13:00:00Z", Format::json);
    const auto& totals = summary.dmarc_totals();
    CHECK(totals.messages == 6);
    CHECK(totals.count(mtls::Result::pass) == 3);
    CHECK(totals.pass_rfc9989 == 1);
    CHECK(totals.pass_by_mtls_only == 2);
    CHECK(totals.count(mtls::Result::fail) == 2);
    CHECK(totals.count(mtls::Result::none) == 1);
    CHECK(totals.would_reject == 1);
    CHECK(totals.would_quarantine == 1);
    const auto domains = summary.dmarc_domains();
    REQUIRE(domains.size() == 3);
    CHECK(domains[0].first == "example.com");
    CHECK(domains[0].second->messages == 4);
    CHECK(summary.feedback().reports().size() == 2);  // plain.example has no policy
    CHECK(summary.feedback().unreported().at("no DMARC policy applied") == 1);
}

TEST_CASE("dmarc-xml: reports validate against the RFC 9990 schema", "[report][dmarc][xml]") {
    Summary summary({});
    add(summary, fixtures::dmarc_mtls_only(), "2025-11-24T10:00:00Z", Format::text);
    add(summary, fixtures::dmarc_mtls_only(), "2025-11-24T10:05:00Z", Format::json);
    add(summary, fixtures::dmarc_mtls_only("example.com", "2001:db8::25"), "2025-11-24T10:06:00Z", Format::json);
    add(summary, fixtures::dmarc_aligned(), "2025-11-24T11:00:00Z", Format::text);
    add(summary, fixtures::dmarc_fail(), "2025-11-24T12:00:00Z", Format::json);
    add(summary, fixtures::dmarc_temperror(), "2025-11-24T12:30:00Z", Format::text);
    add(summary, fixtures::dmarc_mtls_only("example.com", "::ffff:192.0.2.40"), "2025-11-24T13:00:00Z", Format::text);
    const auto xml = render_xml(summary, "example.com");
    INFO(xml);
    CHECK(schema_valid(xml));
    // Grouped by source address: the two mtls-only messages from one address are one row.
    CHECK(xml.find("<source_ip>192.0.2.25</source_ip>\n      <count>2</count>") != std::string::npos);
    CHECK(xml.find("<source_ip>192.0.2.40</source_ip>") != std::string::npos);  // unmapped
    CHECK(xml.find("<begin>1763978400</begin>") != std::string::npos);          // 10:00
    CHECK(xml.find("<end>1763989200</end>") != std::string::npos);              // 13:00
    CHECK(xml.find("<org_name>Example &amp; &lt;Receiver&gt; &quot;Org&quot;</org_name>") != std::string::npos);
    // mtls never poses as SPF: only the aligned SPF pass row says spf pass.
    std::size_t spf_passes = 0;
    for (auto at = xml.find("<spf>pass</spf>"); at != std::string::npos; at = xml.find("<spf>pass</spf>", at + 1)) {
        ++spf_passes;
    }
    CHECK(spf_passes == 1);
    // The reason for each of the three mtls-only rows, and none elsewhere.
    std::size_t mtls_reasons = 0;
    for (auto at = xml.find("<comment>mtls=pass aligned"); at != std::string::npos;
         at = xml.find("<comment>mtls=pass aligned", at + 1)) {
        ++mtls_reasons;
    }
    CHECK(mtls_reasons == 3);
    CHECK(xml.find("<type>other</type>") != std::string::npos);  // the temperror
    CHECK(xml.find("<mtls:aligned>yes</mtls:aligned>\n      <mtls:dmarc>pass</mtls:dmarc>") != std::string::npos);
}

TEST_CASE("dmarc-xml: hostile lines leave the XML valid", "[report][dmarc][xml]") {
    Summary summary({});
    add(summary, fixtures::dmarc_fail(), "2025-11-24T12:00:00Z", Format::text);
    for (const auto& [field, value] : std::vector<std::pair<F, std::string>>{
             {F::client_addr, "not-an-address"},
             {F::client_addr, "192.0.2.1<x>"},
             {F::reason, "<b>&amp;"},
             {F::reason, fixtures::kHostile},
             {F::queue_id, "q<&>\""},
             {F::dnssec, "</feedback>"},
         }) {
        const auto line = fixtures::dmarc_at(fixtures::dmarc_mtls_only(), "2025-11-24T12:10:00Z");
        for (const auto format : {Format::text, Format::json}) {
            add_body(summary, fixtures::dmarc_body_with(line, format, field, value), "2025-11-24T12:10:00Z");
        }
    }
    const auto xml = render_xml(summary, "example.com");
    INFO(xml);
    CHECK(schema_valid(xml));
    CHECK(xml.find("not-an-address") == std::string::npos);
    CHECK(xml.find("<b>") == std::string::npos);
    CHECK(summary.feedback().unreported().at("client address is not an IP address") >= 2);
}

TEST_CASE("dmarc-xml: the attachment file name of RFC 9990", "[report][dmarc][xml]") {
    Summary summary({});
    add(summary, fixtures::dmarc_aligned(), "2025-11-24T11:00:00Z", Format::text);
    add(summary, fixtures::dmarc_aligned(), "2025-11-24T12:00:00Z", Format::text);
    const auto& [domain, report] = *summary.feedback().reports().begin();
    CHECK(dmarc_xml_file_name(domain, report, summary, xml_options()) ==
          "mx.example.net!example.com!1763982000!1763985600.xml");
    // A window gives the period, its end exclusive.
    ReportOptions window;
    window.since = Timestamp{std::chrono::seconds{1763942400}};
    window.until = Timestamp{std::chrono::seconds{1764028800}};
    Summary windowed(window);
    add(windowed, fixtures::dmarc_aligned(), "2025-11-24T11:00:00Z", Format::text);
    const auto& [name, windowed_report] = *windowed.feedback().reports().begin();
    CHECK(dmarc_xml_file_name(name, windowed_report, windowed, xml_options()) ==
          "mx.example.net!example.com!1763942400!1764028799.xml");
}

TEST_CASE("dmarc log: a line in the writer's exact shape, quoted reason included", "[report][dmarc]") {
    // As format_text in core/dmarc/dmarc_record.cc wrote a message without a
    // From field before the line named MAIL FROM and the raw results: such
    // lines still read.
    const std::string text =
        "stage=dmarc queue_id=- client_addr=192.0.2.1 header_from=- dmarc=permerror dmarc_rfc9989=permerror "
        "policy_domain=- org_domain=- p=- sp=- np=- t=- aspf=- adkim=- policy.dmarc=- disposition=none "
        "aligned_by=- dnssec=unknown queries=0 reason=\"no From field\"";
    const auto parsed = parse_line(fixtures::syslog_line("Nov 24 10:00:00", text), kReference);
    INFO(parsed.problem);
    REQUIRE(parsed.kind == LineKind::dmarc_record);
    CHECK(parsed.dmarc.result == mtls::Result::permerror);
    CHECK(parsed.dmarc.header_from.empty());
    CHECK_FALSE(parsed.dmarc.p);
    CHECK(parsed.time);
    Summary summary({});
    summary.add_line(text, kReference);
    CHECK(summary.dmarc_domains().front().first == kNoFromDomain);
    CHECK(summary.feedback().reports().empty());
}

TEST_CASE("dmarc log: MAIL FROM and the raw SPF and DKIM results read back", "[report][dmarc]") {
    for (const auto format : {Format::text, Format::json}) {
        const auto parsed = parse(fixtures::dmarc_mtls_only(), format);
        INFO(fixtures::dmarc_body(fixtures::dmarc_mtls_only(), format) << " / " << parsed.problem);
        REQUIRE(parsed.kind == LineKind::dmarc_record);
        CHECK(parsed.dmarc.envelope_from == "example.com");
        CHECK(parsed.dmarc.dkim_results == std::vector<mtls::dmarc::DkimAuthResult>{{"esp.example", "s1", "fail"}});
        CHECK(parsed.dmarc.spf_result == "softfail");
        auto null_sender = fixtures::dmarc_mtls_only();
        null_sender.envelope_from.clear();
        null_sender.null_sender = true;
        CHECK(parse(null_sender, format).dmarc.envelope_from == "");
        null_sender.null_sender = false;  // an unusable MAIL FROM
        CHECK_FALSE(parse(null_sender, format).dmarc.envelope_from);
        // A line of a version before these fields.
        const auto body = fixtures::dmarc_body_without(fixtures::dmarc_mtls_only(), format,
                                                       {F::envelope_from, F::dkim_results, F::spf_result});
        const auto old = parse_body(body);
        INFO(body);
        REQUIRE(old.kind == LineKind::dmarc_record);
        CHECK_FALSE(old.dmarc.envelope_from);
        CHECK(old.dmarc.dkim_results.empty());
    }
}

TEST_CASE("dmarc log: hostile MAIL FROM and results are refused", "[report][dmarc]") {
    const std::vector<std::pair<F, std::string>> bad = {
        {F::envelope_from, "EXAMPLE.COM"},
        {F::envelope_from, "<script>"},
        {F::envelope_from, fixtures::kHostile},
        {F::dkim_results, "example.com:sel"},
        {F::dkim_results, "example.com:sel:hardfail"},
        {F::dkim_results, "example.com:<b>:pass"},
        {F::dkim_results, "example.com:s:pass," + std::string(600, 'a')},
        {F::dkim_results, fixtures::kHostile},
        {F::spf_result, "hardfail"},
        {F::spf_result, "pass,pass"},
    };
    for (const auto& [field, value] : bad) {
        for (const auto format : {Format::text, Format::json}) {
            INFO(field_name(field) << "=" << value);
            CHECK(parse_body(fixtures::dmarc_body_with(fixtures::dmarc_mtls_only(), format, field, value)).kind !=
                  LineKind::dmarc_record);
        }
    }
}

TEST_CASE("dmarc-xml: identifiers and auth_results from the log, mtls only in the extension", "[report][dmarc][xml]") {
    Summary summary({});
    add(summary, fixtures::dmarc_mtls_only(), "2025-11-24T10:00:00Z", Format::text);
    add(summary, fixtures::dmarc_aligned(), "2025-11-24T11:00:00Z", Format::json);
    auto bounce = fixtures::dmarc_mtls_only("example.com", "192.0.2.77");
    bounce.envelope_from.clear();
    bounce.null_sender = true;
    bounce.spf_result.clear();
    bounce.dkim_results.clear();
    add(summary, bounce, "2025-11-24T12:00:00Z", Format::json);
    const auto xml = render_xml(summary, "example.com");
    INFO(xml);
    CHECK(schema_valid(xml));
    CHECK(xml.find(fmt::format("xmlns:mtls=\"{}\"", kMtlsReportNamespace)) != std::string::npos);
    CHECK(kMtlsReportNamespace.starts_with("urn:uuid:"));
    // The mtls-only row: MAIL FROM, the failing foreign signature, SPF's softfail.
    CHECK(xml.find("<header_from>example.com</header_from>\n      <envelope_from>example.com</envelope_from>") !=
          std::string::npos);
    CHECK(xml.find("<dkim>\n        <domain>esp.example</domain>\n        <selector>s1</selector>\n"
                   "        <result>fail</result>\n      </dkim>") != std::string::npos);
    CHECK(xml.find("<spf>\n        <domain>example.com</domain>\n        <scope>mfrom</scope>\n"
                   "        <result>softfail</result>\n      </spf>") != std::string::npos);
    CHECK(xml.find("<selector>sel2024</selector>\n        <result>pass</result>") != std::string::npos);
    // The bounce: an empty envelope_from (RFC 9990 allows it), nothing to report as SPF.
    CHECK(xml.find("<envelope_from></envelope_from>\n    </identifiers>\n    <auth_results/>") != std::string::npos);
    // mtls never an SPF result.
    CHECK(xml.find("<result>mtls") == std::string::npos);
    CHECK(xml.find("<domain>mtls") == std::string::npos);
}
