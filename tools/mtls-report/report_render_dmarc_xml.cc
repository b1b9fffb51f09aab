// --format dmarc-xml: RFC 9990 aggregate reports (schema dmarc-xml-0.2.xsd,
// namespace urn:ietf:params:xml:ns:dmarc-2.0). policy_evaluated is RFC
// 9989's verdict on SPF and DKIM: mtls never appears as spf. Where only mtls
// made a message pass, a local_policy reason says so, and every record
// carries mtls's own result in an element of kMtlsReportNamespace, which
// readers that do not know it skip (RFC 9990, "Extensible Reporting").
// identifiers and auth_results carry the MAIL FROM domain and the raw SPF
// and DKIM results the stage logged (core/dmarc/auth_results.h). Every string is a
// canonical domain, a canonical address or a keyword by the time it gets
// here (report_dmarc_log.cc, report_dmarc_feedback.cc), and is escaped anyway.
#include <fmt/format.h>

#include "report_render.h"

namespace mtls::report {
namespace {

std::int64_t seconds_of(Timestamp time) {
    return std::chrono::floor<std::chrono::seconds>(time.time_since_epoch()).count();
}

std::string element(std::string_view name, std::string_view text) {
    return fmt::format("<{0}>{1}</{0}>", name, html_escape(text));
}

void write_metadata(std::ostream& out, std::string_view policy_domain, const DateRange& period,
                    const RenderOptions& options) {
    const auto at = options.report_email.rfind('@');
    const auto receiver =
        at == std::string::npos ? std::string_view{} : std::string_view(options.report_email).substr(at + 1);
    out << "  <report_metadata>\n"
        << "    " << element("org_name", options.org_name) << '\n'
        << "    " << element("email", options.report_email)
        << '\n'
        // RFC 9990 section 3.5.1's example form, "begin-domain@receiver",
        // with the end added: the same period and domain give the same id,
        // so that a report written again is known as a duplicate.
        << "    " << element("report_id", fmt::format("{}-{}-{}@{}", period.begin, period.end, policy_domain, receiver))
        << '\n'
        << fmt::format("    <date_range>\n      <begin>{}</begin>\n      <end>{}</end>\n    </date_range>\n",
                       period.begin, period.end);
    if (!options.generator.empty()) {
        out << "    " << element("generator", options.generator) << '\n';
    }
    out << "  </report_metadata>\n";
}

void write_policy(std::ostream& out, std::string_view policy_domain, const PolicyReport& report) {
    out << "  <policy_published>\n"
        << "    " << element("domain", policy_domain) << '\n'
        << "    " << element("p", to_string(report.p)) << '\n';
    if (report.sp) {
        out << "    " << element("sp", to_string(*report.sp)) << '\n';
    }
    if (report.np) {
        out << "    " << element("np", to_string(*report.np)) << '\n';
    }
    out << "    " << element("adkim", std::string(1, report.adkim)) << '\n'
        << "    " << element("aspf", std::string(1, report.aspf)) << '\n'
        << "    <discovery_method>treewalk</discovery_method>\n"
        << "    " << element("testing", report.testing ? "y" : "n") << '\n'
        << "  </policy_published>\n";
}

void write_reason(std::ostream& out, std::string_view type, std::string_view comment) {
    out << "        <reason>\n"
        << "          " << element("type", type) << '\n'
        << "          " << element("comment", comment) << '\n'
        << "        </reason>\n";
}

// envelope_from empty for the null sender (RFC 9990 allows that), absent
// when the log line did not name it.
void write_identifiers(std::ostream& out, const FeedbackRow& row) {
    out << "    <identifiers>\n      " << element("header_from", row.header_from) << '\n';
    if (row.envelope_from) {
        out << "      " << element("envelope_from", *row.envelope_from) << '\n';
    }
    out << "    </identifiers>\n";
}

// Every DKIM result the stage logged, then SPF's for the MAIL FROM domain:
// uninterpreted with respect to DMARC. mtls is not among them: it is not
// SPF, and stays in the extension element.
void write_auth_results(std::ostream& out, const FeedbackRow& row) {
    const bool spf = !row.spf_result.empty() && row.envelope_from;  // set only with a domain (row_of)
    if (row.dkim_results.empty() && !spf) {
        out << "    <auth_results/>\n";
        return;
    }
    out << "    <auth_results>\n";
    for (const auto& dkim : row.dkim_results) {
        out << "      <dkim>\n"
            << "        " << element("domain", dkim.domain) << '\n'
            << "        " << element("selector", dkim.selector) << '\n'
            << "        " << element("result", dkim.result) << '\n'
            << "      </dkim>\n";
    }
    if (spf) {
        out << "      <spf>\n"
            << "        " << element("domain", *row.envelope_from) << '\n'
            << "        <scope>mfrom</scope>\n"
            << "        " << element("result", row.spf_result) << '\n'
            << "      </spf>\n";
    }
    out << "    </auth_results>\n";
}

void write_record(std::ostream& out, const FeedbackRow& row, std::uint64_t count) {
    out << "  <record>\n    <row>\n"
        << "      " << element("source_ip", row.source_ip) << '\n'
        << fmt::format("      <count>{}</count>\n", count) << "      <policy_evaluated>\n"
        << "        " << element("disposition", row.disposition) << '\n'
        << "        " << element("dkim", row.dkim_aligned ? "pass" : "fail") << '\n'
        << "        " << element("spf", row.spf_aligned ? "pass" : "fail") << '\n';
    if (row.pass_by_mtls_only) {
        write_reason(out, "local_policy",
                     "mtls=pass aligned: DMARC passed by mtls in place of SPF "
                     "(draft-chuang-mutual-tls-email-authentication section 1.2.4)");
    }
    if (row.not_enforced) {
        write_reason(out, "local_policy", "DMARC fail tagged only: the policy was not enforced");
    }
    if (row.temperror) {
        write_reason(out, "other", "dmarc=temperror: the evaluation failed on a DNS error");
    }
    out << "      </policy_evaluated>\n    </row>\n";
    write_identifiers(out, row);
    write_auth_results(out, row);
    out << "    <mtls:auth_results>\n"
        << "      " << element("mtls:aligned", row.mtls_aligned ? "yes" : "no") << '\n'
        << "      " << element("mtls:dmarc", row.result_with_mtls) << '\n'
        << "    </mtls:auth_results>\n  </record>\n";
}

}  // namespace

DateRange report_period(const Summary& summary, const PolicyReport& report, const RenderOptions& options) {
    const auto& window = summary.options();
    DateRange period;
    period.begin = seconds_of(window.since.value_or(report.first_seen.value_or(options.generated)));
    period.end =
        window.until ? seconds_of(*window.until) - 1 : seconds_of(report.last_seen.value_or(options.generated));
    period.end = std::max(period.end, period.begin);
    return period;
}

std::string dmarc_xml_file_name(std::string_view policy_domain, const PolicyReport& report, const Summary& summary,
                                const RenderOptions& options) {
    const auto period = report_period(summary, report, options);
    const auto at = options.report_email.rfind('@');
    return fmt::format("{}!{}!{}!{}.xml", options.report_email.substr(at == std::string::npos ? 0 : at + 1),
                       policy_domain, period.begin, period.end);
}

void render_dmarc_xml(std::ostream& out, std::string_view policy_domain, const PolicyReport& report,
                      const Summary& summary, const RenderOptions& options) {
    out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        << fmt::format("<feedback xmlns=\"urn:ietf:params:xml:ns:dmarc-2.0\" xmlns:mtls=\"{}\">\n",
                       kMtlsReportNamespace)
        // For a reader who meets the namespace: where it is defined.
        << "  <!-- mtls: elements of mtls-report's extension, defined in the mtls-report(1) manual, EXTENSION -->\n"
        << "  <version>1.0</version>\n";
    write_metadata(out, policy_domain, report_period(summary, report, options), options);
    write_policy(out, policy_domain, report);
    if (report.omitted != 0) {
        out << fmt::format("  <extension>\n    <mtls:omitted_messages>{}</mtls:omitted_messages>\n  </extension>\n",
                           report.omitted);
    }
    for (const auto& [row, count] : report.rows) {
        write_record(out, row, count);
    }
    out << "</feedback>\n";
}

}  // namespace mtls::report
