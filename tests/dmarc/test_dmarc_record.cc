#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "dmarc/dmarc_metrics.h"
#include "dmarc/dmarc_record.h"
#include "dmarc/dmarc_record_fields.h"
#include "walk_fixtures.h"

using namespace mtls;
using namespace mtls::dmarc;
using namespace mtls::dmarc::testing;

namespace {

DmarcRecord pass_by_mtls() {
    EvaluationInput input;
    input.author_domain = std::string("example.com");
    input.identifiers.mtls = MtlsPass{"example.com", false};
    DmarcRecord record;
    record.queue_id = "4B34FA729D4";
    record.client_address = "192.0.2.1";
    record.envelope_from = "example.com";
    record.dkim_results = {{"example.com", "sel", "fail"}};
    record.spf_result = "softfail";
    record.evaluation =
        evaluate(input, walk({"example.com"}, {{"example.com", txt({"v=DMARC1; p=reject; sp=quarantine"})}}));
    record.disposition = "none";
    record.queries = 2;
    return record;
}

}  // namespace

TEST_CASE("DMARC log line: text, every field of the table in its order") {
    CHECK(format_text(pass_by_mtls()) ==
          "stage=dmarc queue_id=4B34FA729D4 client_addr=192.0.2.1 header_from=example.com envelope_from=example.com "
          "dmarc=pass dmarc_rfc9989=fail policy_domain=example.com org_domain=example.com p=reject sp=quarantine "
          "np=- t=n aspf=r adkim=r policy.dmarc=reject disposition=none aligned_by=mtls "
          "dkim_results=example.com:sel:fail spf_result=softfail dnssec=secure queries=2 reason=-");
}

TEST_CASE("DMARC log line: the null sender, an unusable MAIL FROM, no results") {
    auto record = pass_by_mtls();
    record.envelope_from.clear();
    record.null_sender = true;
    record.dkim_results.clear();
    record.spf_result.clear();
    CHECK(format_text(record).find(" envelope_from=<> ") != std::string::npos);
    CHECK(format_text(record).find(" dkim_results=- spf_result=- ") != std::string::npos);
    record.null_sender = false;
    CHECK(format_text(record).find(" envelope_from=- ") != std::string::npos);
    record.spf_result = "evil\nword";  // never a word the schema does not know
    CHECK(format_text(record).find(" spf_result=- ") != std::string::npos);
    const auto json = nlohmann::json::parse(format_json(record));
    CHECK(json["envelope_from"] == "-");
    CHECK(json["dkim_results"] == "-");
}

TEST_CASE("DMARC log line: JSON has the same names, queries a number") {
    const auto line = nlohmann::json::parse(format_json(pass_by_mtls()));
    for (const auto& spec : kDmarcFields) {
        if (spec.field != DmarcField::ts) {
            CHECK(line.contains(std::string(spec.name)));
        }
    }
    CHECK(line["stage"] == "dmarc");
    CHECK(line["policy.dmarc"] == "reject");
    CHECK(line["queries"] == 2);
    CHECK(dmarc_field_from_key("policy.dmarc") == DmarcField::policy_dmarc);
    CHECK_FALSE(dmarc_field_from_key("policy").has_value());
}

TEST_CASE("DMARC log line: attacker text in a permerror reason stays one line") {
    DmarcRecord record;
    EvaluationInput input;
    input.author_domain = Error{"bad From \"x\"\r\ninjected=1"};
    record.evaluation = evaluate(input, {});
    record.disposition = "none";
    const auto text = format_text(record);
    CHECK(text.find('\n') == std::string::npos);
    CHECK(text.find('\r') == std::string::npos);
    CHECK(text.find("header_from=- envelope_from=- dmarc=permerror") != std::string::npos);
    CHECK(text.find("reason=\"bad From \\\"x\\\"\\x0d\\x0ainjected=1\"") != std::string::npos);
}

TEST_CASE("DMARC counters: by result, by aligned identifier, passes only mtls made") {
    DmarcMetrics metrics;
    metrics.count_message(pass_by_mtls().evaluation);
    metrics.count_skipped();
    const auto text = metrics.render();
    CHECK(text.find("mtls_dmarc_messages_total{result=\"pass\"} 1\n") != std::string::npos);
    CHECK(text.find("mtls_dmarc_rfc9989_messages_total{result=\"fail\"} 1\n") != std::string::npos);
    CHECK(text.find("mtls_dmarc_aligned_total{identifier=\"mtls\"} 1\n") != std::string::npos);
    CHECK(text.find("mtls_dmarc_aligned_total{identifier=\"spf\"} 0\n") != std::string::npos);
    CHECK(text.find("mtls_dmarc_mtls_only_passes_total 1\n") != std::string::npos);
    CHECK(text.find("mtls_dmarc_skipped_total 1\n") != std::string::npos);
}
