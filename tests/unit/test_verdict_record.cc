// The per-message log line: one line, one record, whatever the attacker sends.
#include <catch2/catch.hpp>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "mtls/verdict_record.h"
#include "mtls/verdict_record_fields.h"

using namespace mtls;
using namespace std::chrono_literals;
using namespace std::string_literals;

namespace {

VerdictRecord passing_record() {
    VerdictRecord record;
    record.queue_id = "4Xyz1234";
    record.client_address = "192.0.2.25";
    record.identity.kind = IdentityKind::mail_from;
    record.identity.domain = "example.org";
    record.raw_identity = "<user@example.org>";
    record.evidence.status = CertificateStatus::verified;
    record.evidence.names = {"out1.example.org"};
    record.verdict.result = Result::pass;
    record.verdict.matched_host = "out1.example.org";
    record.verdict.client_mx = {ClientMx{10, "out1.example.org"}, ClientMx{20, ""}};
    record.verdict.dnssec = DnssecState::secure;
    record.action = "tag";
    record.lookup_time = 12345us;
    return record;
}

const std::string kHostile =
    "evil\r\nresult=pass \"quoted\" back\\slash \x1b[31mred\x1b[0m \x7f\xff\xfe\xc3\xa9 tab\there"s +
    std::string(1, '\0') + "nul";

VerdictRecord hostile_record() {
    VerdictRecord record;
    record.queue_id = kHostile;
    record.client_address = kHostile;
    record.identity.kind = IdentityKind::mail_from;
    record.identity.problem = "MAIL FROM address contains control characters";
    record.raw_identity = kHostile;
    record.evidence.status = CertificateStatus::verified;
    record.evidence.unusable_names = {kHostile, "John \"Doe\"", std::string(100000, '\n')};
    record.evidence.tls_version = kHostile;
    record.evidence.verify_detail = kHostile;
    record.verdict.result = Result::permerror;
    record.verdict.reason = "invalid MAIL FROM address";
    record.action = "tag";
    record.dns_detail = kHostile;
    return record;
}

bool printable_ascii_only(const std::string& line) {
    for (const char c : line) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u > 0x7e) {
            return false;
        }
    }
    return true;
}

// Splits a text-format line as a reader would: fields separated by spaces,
// values possibly "quoted" (with \" inside), anywhere within the field.
std::vector<std::pair<std::string, std::string>> fields_of(const std::string& line) {
    std::vector<std::pair<std::string, std::string>> fields;
    std::string current;
    bool in_quotes = false;
    const auto finish = [&] {
        if (!current.empty()) {
            const auto eq = current.find('=');
            fields.emplace_back(current.substr(0, eq), eq == std::string::npos ? "" : current.substr(eq + 1));
        }
        current.clear();
    };
    for (std::size_t i = 0; i < line.size(); ++i) {
        const char c = line[i];
        if (in_quotes && c == '\\' && i + 1 < line.size()) {
            current.push_back(line[++i]);
        } else if (c == '"') {
            in_quotes = !in_quotes;
        } else if (c == ' ' && !in_quotes) {
            finish();
        } else {
            current.push_back(c);
        }
    }
    REQUIRE_FALSE(in_quotes);
    finish();
    return fields;
}

}  // namespace

TEST_CASE("escape_for_log keeps printable ASCII and escapes the rest", "[verdict_record]") {
    CHECK(escape_for_log("plain text, 100% ok") == "plain text, 100% ok");
    CHECK(escape_for_log("a\r\nb") == "a\\x0d\\x0ab");
    CHECK(escape_for_log("back\\slash") == "back\\x5cslash");
    CHECK(escape_for_log("\x1b[2J") == "\\x1b[2J");
    CHECK(escape_for_log("\x7f") == "\\x7f");
    CHECK(escape_for_log("\xc3\xa9") == "\\xc3\\xa9");
    CHECK(escape_for_log("\xff") == "\\xff");
    CHECK(escape_for_log("\0"s) == "\\x00");
    CHECK(escape_for_log("\t") == "\\x09");
    CHECK(escape_for_log("").empty());
    CHECK(escape_for_log("\"quotes\"") == "\"quotes\"");
    // Escaping is unambiguous: an escape cannot be confused with literal text.
    CHECK(escape_for_log("\\x0a") != escape_for_log("\n"));
}

TEST_CASE("the text format holds the fields", "[verdict_record]") {
    const auto line = format_text(passing_record());
    INFO(line);
    CHECK(line.find('\n') == std::string::npos);
    const auto fields = fields_of(line);
    std::map<std::string, std::string> by_name(fields.begin(), fields.end());
    CHECK(by_name.size() == fields.size());  // no key twice
    CHECK(by_name["queue_id"] == "4Xyz1234");
    CHECK(by_name["client_addr"] == "192.0.2.25");
    CHECK(by_name["identity"] == "smtp.mailfrom:example.org");
    CHECK(by_name["tls"] == "verified");
    CHECK(by_name["cert_names"] == "out1.example.org");
    CHECK(by_name["client_mx"] == "10:out1.example.org,20:.");
    CHECK(by_name["dnssec"] == "secure");
    CHECK(by_name["result"] == "pass");
    CHECK(by_name["matched"] == "out1.example.org");
    CHECK(by_name["action"] == "tag");
    CHECK(by_name["lookup_ms"] == "12.3");
}

TEST_CASE("the text format with a failing verdict and a HELO identity", "[verdict_record]") {
    auto record = passing_record();
    record.identity.kind = IdentityKind::helo;
    record.verdict.result = Result::fail;
    record.verdict.matched_host.clear();
    record.verdict.reason = "certificate name matches no Client MX host";
    record.action = "reject";
    record.dns_detail = "validation failure <example.org. TYPE265 IN>";
    const auto fields = fields_of(format_text(record));
    std::map<std::string, std::string> by_name(fields.begin(), fields.end());
    CHECK(by_name["identity"] == "smtp.helo:example.org");
    CHECK(by_name["result"] == "fail");
    CHECK(by_name["reason"] == "certificate name matches no Client MX host");
    CHECK(by_name["action"] == "reject");
    CHECK(by_name["dns_detail"] == "validation failure <example.org. TYPE265 IN>");
    CHECK(by_name.count("matched") == 0);
}

TEST_CASE("attacker text cannot break or forge a text line", "[verdict_record]") {
    const auto line = format_text(hostile_record());
    INFO(line);
    CHECK(printable_ascii_only(line));
    const auto fields = fields_of(line);
    std::map<std::string, std::string> by_name(fields.begin(), fields.end());
    CHECK(by_name.size() == fields.size());  // "result=pass" in the text did not become a field
    CHECK(by_name["result"] == "permerror");
    CHECK(by_name["action"] == "tag");
    CHECK(by_name["identity"].starts_with("smtp.mailfrom:"));
    CHECK(by_name["identity"].find("result=pass") != std::string::npos);  // kept, as data
}

TEST_CASE("the JSON format parses and holds the fields", "[verdict_record]") {
    const auto line = format_json(passing_record());
    INFO(line);
    CHECK(line.find('\n') == std::string::npos);
    const auto json = nlohmann::json::parse(line);
    CHECK(json.at("result") == "pass");
    CHECK(json.at("reason") == "");
    CHECK(json.at("identity") == "example.org");
    CHECK(json.at("identity_type") == "smtp.mailfrom");
    CHECK(json.at("queue_id") == "4Xyz1234");
    CHECK(json.at("client_addr") == "192.0.2.25");
    CHECK(json.at("dnssec") == "secure");
    CHECK(json.at("tls") == "verified");
    CHECK(json.at("matched") == "out1.example.org");
    CHECK(json.at("action") == "tag");
    CHECK(json.at("cert_names") == nlohmann::json::array({"out1.example.org"}));
    CHECK(json.at("client_mx") == nlohmann::json::array({"10:out1.example.org", "20:."}));
    CHECK(json.at("lookup_ms").get<double>() == Approx(12.345));
}

TEST_CASE("attacker text cannot break a JSON line", "[verdict_record]") {
    std::string line;
    REQUIRE_NOTHROW(line = format_json(hostile_record()));
    INFO(line);
    CHECK(printable_ascii_only(line));
    nlohmann::json json;
    REQUIRE_NOTHROW(json = nlohmann::json::parse(line));
    REQUIRE(json.is_object());
    for (const auto* key : {"result", "reason", "identity", "queue_id", "client_addr", "dnssec"}) {
        INFO("key " << key);
        CHECK(json.contains(key));
    }
    CHECK(json.at("result") == "permerror");
    CHECK(json.at("identity_type") == "smtp.mailfrom");
    // The decoded values hold no control characters either.
    for (const auto* key : {"identity", "queue_id", "client_addr", "dns_detail"}) {
        const auto value = json.at(key).get<std::string>();
        INFO("key " << key << ": " << value);
        CHECK(printable_ascii_only(value));
        CHECK_FALSE(value.empty());
    }
    for (const auto& name : json.at("unusable_cert_names")) {
        CHECK(printable_ascii_only(name.get<std::string>()));
    }
}

TEST_CASE("an unusable identity is logged as received, escaped", "[verdict_record]") {
    auto record = passing_record();
    record.identity.domain.clear();
    record.identity.problem = "MAIL FROM address has no domain";
    record.raw_identity = "<no-at-sign>";
    record.verdict.result = Result::permerror;
    const auto json = nlohmann::json::parse(format_json(record));
    CHECK(json.at("identity") == "<no-at-sign>");
    const auto fields = fields_of(format_text(record));
    std::map<std::string, std::string> by_name(fields.begin(), fields.end());
    CHECK(by_name["identity"] == "smtp.mailfrom:<no-at-sign>");
}

TEST_CASE("JSON lines carry the time of the verdict in UTC") {
    VerdictRecord record;
    record.time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1795560918123LL));
    const auto line = nlohmann::json::parse(format_json(record));
    CHECK(line.at("ts") == "2026-11-24T22:55:18.123Z");
    CHECK(iso8601_utc(std::chrono::system_clock::time_point{}) == "1970-01-01T00:00:00.000Z");
    CHECK(format_text(record).find(" ts=2026-11-24T22:55:18.123Z") != std::string::npos);
}

TEST_CASE("a record without a time carries no ts") {
    const VerdictRecord record;
    CHECK_FALSE(nlohmann::json::parse(format_json(record)).contains("ts"));
    CHECK(format_text(record).find("ts=") == std::string::npos);
}

namespace {

// Every field set, so that every optional field of both formats is written.
VerdictRecord full_record() {
    auto record = passing_record();
    record.evidence.unusable_names = {"John Doe"};
    record.verdict.method = PassMethod::dane;
    record.verdict.tlsa_owner = "_25._tcp.out1.example.org";
    record.evidence.fingerprints.certificate = Sha256Digest{};
    record.evidence.fingerprints.public_key = Sha256Digest{};
    record.policy_channel = "matched";
    record.discovery =
        DiscoveryReport{"other-certificate", "192.0.2.25 port 25 presented another certificate", true, true};
    record.verdict.reason = "dane";
    record.dns_detail = "detail";
    record.time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1795560918123LL));
    return record;
}

}  // namespace

TEST_CASE("both formats name every field as the field table does", "[verdict_record]") {
    const auto record = full_record();
    const auto fields = fields_of(format_text(record));
    std::map<std::string, std::string> text(fields.begin(), fields.end());
    const auto json = nlohmann::json::parse(format_json(record));
    for (const auto& spec : kVerdictFields) {
        const std::string name(spec.name);
        INFO("field " << name);
        CHECK(json.contains(name));
        CHECK(text.count(name) == (spec.text == TextPresence::absent ? 0 : 1));
    }
    CHECK(json.size() == kVerdictFields.size());
    CHECK(text.size() + 3 == kVerdictFields.size());  // identity_type, evidence, cert_sha256: JSON only
    CHECK(text["client_addr"] == "192.0.2.25");
    CHECK(text["policy_channel"] == "matched");
    CHECK(json.at("policy_channel") == "matched");
    CHECK(text["discovery"] == "other-certificate");
    CHECK(text["discovery_detail"] == "(cached) 192.0.2.25 port 25 presented another certificate");
    CHECK(json.at("discovery_detail") == "(cached) 192.0.2.25 port 25 presented another certificate");
}

TEST_CASE("the text format writes only the always fields when nothing optional is set", "[verdict_record]") {
    const VerdictRecord record;
    const auto fields = fields_of(format_text(record));
    std::vector<std::string> expected;
    for (const auto& spec : kVerdictFields) {
        if (spec.text == TextPresence::always) {
            expected.emplace_back(spec.name);
        }
    }
    std::vector<std::string> written;
    for (const auto& [key, value] : fields) {
        written.push_back(key);
    }
    CHECK(written == expected);  // in table order, too
}

TEST_CASE("former text keys map to their field", "[verdict_record]") {
    CHECK(field_from_text_key("client") == VerdictField::client_addr);
    CHECK(field_from_text_key("client_addr") == VerdictField::client_addr);
    CHECK(field_from_text_key("policy") == VerdictField::policy_channel);
    CHECK(field_from_text_key("policy_channel") == VerdictField::policy_channel);
    CHECK(field_from_text_key("result") == VerdictField::result);
    CHECK_FALSE(field_from_text_key("identity_type"));  // JSON only: text folds it into identity
    CHECK_FALSE(field_from_text_key(""));
    CHECK_FALSE(field_from_text_key("a_later_field"));
    CHECK(field_name(VerdictField::client_addr) == "client_addr");
}
