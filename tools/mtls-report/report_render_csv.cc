// --format csv: one row per domain, for spreadsheets (RFC 4180).
#include <fmt/format.h>

#include "report_render.h"
#include "report_render_shared.h"

namespace mtls::report {

std::string csv_field(std::string_view text) {
    std::string value;
    if (!text.empty() && std::string_view("=+-@\t\r").find(text.front()) != std::string_view::npos) {
        value.push_back('\'');
    }
    value.append(text);
    if (value.find_first_of(",\"\r\n") == std::string::npos &&
        (value.empty() || (value.front() != ' ' && value.back() != ' '))) {
        return value;
    }
    std::string quoted = "\"";
    for (const char c : value) {
        if (c == '"') {
            quoted += "\"\"";
        } else {
            quoted.push_back(c);
        }
    }
    return quoted + "\"";
}

void render_csv(std::ostream& out, const Summary& summary, const RenderOptions& options) {
    using namespace render;
    // RFC 4180: CRLF after every record, the header included.
    out << "domain,messages,pass,fail,none,temperror,permerror,fail_share,client_mx,dnssec,cert_names,"
           "client_mx_hosts,reasons,actions,first_seen,last_seen\r\n";
    for (const auto& [name, stats] : listed_domains(summary, options)) {
        const auto share = fail_share(*stats);
        out << csv_field(name) << ',' << stats->messages;
        for (const auto count : stats->results) {
            out << ',' << count;
        }
        out << ',' << (share ? fmt::format("{:.4f}", *share) : "") << ',' << csv_field(client_mx_state(*stats)) << ','
            << csv_field(dnssec_states(*stats)) << ',' << csv_field(counter_text(stats->cert_names, "; ")) << ','
            << csv_field(counter_text(stats->client_mx_hosts, "; ")) << ','
            << csv_field(counter_text(stats->reasons, "; ")) << ',' << csv_field(counter_text(stats->actions, "; "))
            << ',' << (stats->first_seen ? format_iso(*stats->first_seen) : "") << ','
            << (stats->last_seen ? format_iso(*stats->last_seen) : "") << "\r\n";
    }
    if (summary.dmarc_totals().messages == 0) {
        return;
    }
    // The DMARC section is a second table with its own header, after an
    // empty line: its rows are From organizational domains, not MAIL FROM ones.
    out << "\r\ndmarc_org_domain,messages,pass,fail,none,temperror,permerror,pass_rfc9989,pass_by_mtls_only,"
           "would_reject,would_quarantine\r\n";
    for (const auto& [name, stats] : listed_dmarc_domains(summary, options)) {
        out << csv_field(name) << ',' << stats->messages;
        for (const auto count : stats->results) {
            out << ',' << count;
        }
        out << ',' << stats->pass_rfc9989 << ',' << stats->pass_by_mtls_only << ',' << stats->would_reject << ','
            << stats->would_quarantine << "\r\n";
    }
}

}  // namespace mtls::report
