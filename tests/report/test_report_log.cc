// Reading records back: every line the core's formatter writes must parse to
// the same fields, wherever it is embedded; nothing else may pass for one.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <string>

#include "fixtures.h"
#include "report_log.h"

using namespace mtls::report;
using fixtures::Format;

namespace {

const Timestamp kReference = Timestamp{std::chrono::seconds{1764028800}};  // 2025-11-25T00:00:00Z

std::string escaped(std::string_view text) {
    return mtls::escape_for_log(text.substr(0, 512));
}

void check_round_trip(const mtls::VerdictRecord& log, Format format) {
    const auto line = fixtures::body(log, format);
    INFO(line);
    std::string problem;
    const auto record = format == Format::json ? parse_json_record(line, problem) : parse_text_record(line, problem);
    INFO(problem);
    REQUIRE(record);
    CHECK(record->queue_id == escaped(log.queue_id));
    CHECK(record->client == escaped(log.client_address));
    CHECK(record->identity_type == mtls::property_name(log.identity.kind));
    CHECK(record->identity_usable == log.identity.usable());
    CHECK(record->identity == (log.identity.usable() ? log.identity.domain : escaped(log.raw_identity)));
    CHECK(record->tls == mtls::to_string(log.evidence.status));
    CHECK(record->cert_names == log.evidence.names);
    CHECK(record->dnssec == mtls::to_string(log.verdict.dnssec));
    CHECK(record->result == log.verdict.result);
    CHECK(record->reason == log.verdict.reason);
    CHECK(record->matched == log.verdict.matched_host);
    CHECK(record->action == log.action);
    CHECK(record->lookup_ms == Approx(static_cast<double>(log.lookup_time.count()) / 1000.0).margin(0.05));
    CHECK(record->dns_detail == escaped(log.dns_detail));
    if (log.time.time_since_epoch().count() != 0) {
        REQUIRE(record->time);
        CHECK(std::chrono::floor<std::chrono::milliseconds>(record->time->time_since_epoch()) ==
              std::chrono::floor<std::chrono::milliseconds>(log.time.time_since_epoch()));
    } else {
        CHECK_FALSE(record->time);  // a VerdictRecord without a time is written without ts
    }
    REQUIRE(record->client_mx.size() == log.verdict.client_mx.size());
    for (std::size_t i = 0; i < log.verdict.client_mx.size(); ++i) {
        const auto& mx = log.verdict.client_mx[i];
        CHECK(client_mx_host(record->client_mx[i]) == (mx.is_null() ? "." : mx.host));
    }
}

std::vector<mtls::VerdictRecord> every_kind() {
    return {fixtures::at(fixtures::passing(), "2025-11-24T21:55:18.123Z"),
            fixtures::failing(),
            fixtures::no_client_mx(),
            fixtures::bogus(),
            fixtures::null_sender(),
            fixtures::invalid_mail_from("<not an address"),
            fixtures::hostile(),
            fixtures::invalid_mail_from("x result=pass action=tag \"")};
}

}  // namespace

TEST_CASE("text records read back as the core wrote them", "[report][log]") {
    for (const auto& log : every_kind()) {
        check_round_trip(log, Format::text);
    }
}

TEST_CASE("JSON records read back as the core wrote them", "[report][log]") {
    for (const auto& log : every_kind()) {
        check_round_trip(log, Format::json);
    }
}

TEST_CASE("an unusable identity is told apart by the core's own reason", "[report][log]") {
    std::string problem;
    auto record = parse_text_record(fixtures::body(fixtures::invalid_mail_from("<a b@@>"), Format::text), problem);
    REQUIRE(record);
    CHECK_FALSE(record->identity_usable);
    record = parse_json_record(fixtures::body(fixtures::passing(), Format::json), problem);
    REQUIRE(record);
    CHECK(record->identity_usable);
    CHECK(record->identity == "example.org");
}

TEST_CASE("attacker text in a field cannot forge another field", "[report][log]") {
    // The raw identity tries to smuggle result=pass into the text format.
    for (const auto format : {Format::text, Format::json}) {
        const auto line = fixtures::body(fixtures::invalid_mail_from("<x result=pass reason=- \"q\"@e>"), format);
        const auto parsed = parse_line(line, kReference);
        REQUIRE(parsed.kind == LineKind::record);
        CHECK(parsed.record.result == mtls::Result::permerror);
        CHECK(parsed.record.identity.find("result=pass") != std::string::npos);
    }
}

TEST_CASE("records inside syslog and journal lines", "[report][log]") {
    for (const auto format : {Format::text, Format::json}) {
        const auto body = fixtures::body(fixtures::passing(), format);
        INFO(body);

        auto parsed = parse_line(fixtures::syslog_line("Nov 24 22:55:18", body), kReference);
        REQUIRE(parsed.kind == LineKind::record);
        REQUIRE(parsed.time);
        CHECK(format_iso(*parsed.time) == "2025-11-24T22:55:18Z");
        CHECK(parsed.record.identity == "example.org");

        parsed = parse_line(fixtures::syslog_line("Nov  4 02:00:00", body), kReference);
        REQUIRE(parsed.kind == LineKind::record);
        CHECK(format_iso(parsed.time.value()) == "2025-11-04T02:00:00Z");

        parsed = parse_line(fixtures::short_iso_line("2025-11-24T22:55:18+0100", body), kReference);
        REQUIRE(parsed.kind == LineKind::record);
        CHECK(format_iso(parsed.time.value()) == "2025-11-24T21:55:18Z");

        parsed = parse_line("2025-11-24T22:55:18.123456+01:00 mx1 mtls-milter: " + body, kReference);
        REQUIRE(parsed.kind == LineKind::record);
        CHECK(format_iso(parsed.time.value()) == "2025-11-24T21:55:18Z");

        parsed = parse_line("<22>Nov 24 22:55:18 mx1 mtls-milter[1]: " + body, kReference);
        REQUIRE(parsed.kind == LineKind::record);

        parsed = parse_line(fixtures::journal_json_line(1764021318000000, body), kReference);
        REQUIRE(parsed.kind == LineKind::record);
        CHECK(format_iso(parsed.time.value()) == "2025-11-24T21:55:18Z");

        // journalctl -o cat, or the milter's own stderr: no time at all.
        parsed = parse_line(body, kReference);
        REQUIRE(parsed.kind == LineKind::record);
        CHECK_FALSE(parsed.time);

        // An unknown timestamp form still yields the record, without a time.
        parsed = parse_line("[  123.456789] mx1 mtls-milter[4242]: " + body, kReference);
        REQUIRE(parsed.kind == LineKind::record);
        CHECK_FALSE(parsed.time);
    }
}

TEST_CASE("a journal MESSAGE given as bytes", "[report][log]") {
    const auto body = fixtures::body(fixtures::failing(), Format::text);
    nlohmann::json entry = {{"__REALTIME_TIMESTAMP", "1764021318000000"}, {"SYSLOG_IDENTIFIER", "mtls-milter"}};
    entry["MESSAGE"] = std::vector<unsigned>(body.begin(), body.end());
    const auto parsed = parse_line(entry.dump(), kReference);
    REQUIRE(parsed.kind == LineKind::record);
    CHECK(parsed.record.result == mtls::Result::fail);
}

TEST_CASE("the milter's other lines are recognised and not counted as messages", "[report][log]") {
    CHECK(parse_line(fixtures::skip_body(), kReference).kind == LineKind::milter_skip);
    CHECK(parse_line(fixtures::syslog_line("Nov 24 22:55:18", fixtures::skip_body()), kReference).kind ==
          LineKind::milter_skip);
    CHECK(parse_line(fixtures::startup_body(), kReference).kind == LineKind::milter_notice);
    CHECK(parse_line(fixtures::syslog_line("Nov 24 22:55:18", fixtures::startup_body()), kReference).kind ==
          LineKind::milter_notice);
    CHECK(parse_line(fixtures::syslog_line("Nov 24 22:55:18", "queue_id=4X internal error: bad \" thing"), kReference)
              .kind == LineKind::milter_notice);
    CHECK(parse_line(fixtures::syslog_line("Nov 24 22:55:18", "mtls-milter stopped"), kReference).kind ==
          LineKind::milter_notice);
    CHECK(parse_line(fixtures::journal_json_line(1, fixtures::startup_body()), kReference).kind ==
          LineKind::milter_notice);
}

TEST_CASE("other programs' lines are not ours, even when they quote ours", "[report][log]") {
    const auto body = fixtures::body(fixtures::passing(), Format::text);
    for (const auto& line : {
             std::string("Nov 24 22:55:18 mx1 postfix/smtpd[99]: connect from unknown[192.0.2.1]"),
             "Nov 24 22:55:18 mx1 postfix/smtpd[99]: NOQUEUE: reject: from=<x mtls-milter[1]: " + body + ">",
             "Nov 24 22:55:18 mx1 postfix/cleanup[99]: x mtls-milter[1]: " + body,
             "mx1 sshd[1]: mtls-milter: " + body,
             "Nov 24 22:55:18 mx1 mtls-milterx[1]: " + body,
             "Nov 24 22:55:18 mx1 mtls-milter[1x]: " + body,
             std::string("-- Journal begins at Mon 2025-11-24 00:00:00 UTC. --"),
             std::string("just some text"),
             fixtures::journal_json_line(1, body, "postfix/smtpd"),
         }) {
        INFO(line);
        CHECK(parse_line(line, kReference).kind == LineKind::not_mtls);
    }
}

TEST_CASE("garbage is counted, never trusted", "[report][log]") {
    const auto text = fixtures::body(fixtures::passing(), Format::text);
    const auto json = fixtures::body(fixtures::passing(), Format::json);
    CHECK(parse_line("", kReference).kind == LineKind::empty);
    CHECK(parse_line("  \t \r", kReference).kind == LineKind::empty);
    CHECK(parse_line(std::string("Nov 24 22:55:18 mx1 mtls-milter[1]: queue\0_id", 44), kReference).kind ==
          LineKind::binary);
    CHECK(parse_line("\x1b[2J" + text, kReference).kind == LineKind::binary);
    CHECK(parse_line("{\"queue_id\":", kReference).kind == LineKind::malformed);
    CHECK(parse_line("{}", kReference).kind == LineKind::malformed);
    CHECK(parse_line("[1,2,3]", kReference).kind == LineKind::not_mtls);
    CHECK(parse_line(std::string(100000, '[') + std::string(100000, ']'), kReference).kind == LineKind::not_mtls);
    CHECK(parse_line("{\"a\":" + std::string(100000, '[') + std::string(100000, ']') + "}", kReference).kind ==
          LineKind::malformed);

    SECTION("every truncation of a record is malformed, never a record with missing fields") {
        for (const auto& line : {text, json}) {
            for (std::size_t cut = 1; cut + 1 < line.size(); ++cut) {
                const auto head = line.substr(0, cut);
                const auto parsed = parse_line(head, kReference);
                // Cutting inside the last number leaves a complete record.
                if (parsed.kind == LineKind::record) {
                    CHECK(head.find("lookup_ms=") != std::string::npos);
                    continue;
                }
                INFO(head);
                CHECK((parsed.kind == LineKind::malformed || parsed.kind == LineKind::not_mtls));
            }
        }
    }
    SECTION("fields the milter never writes") {
        for (const auto& line : {
                 "{\"queue_id\":\"1\",\"identity_type\":\"smtp.mailfrom\",\"identity\":\"a.example\",\"result\":"
                 "\"maybe\"}",
                 "{\"queue_id\":\"1\",\"identity_type\":\"smtp.other\",\"identity\":\"a.example\",\"result\":\"pass\"}",
                 "{\"queue_id\":\"1\",\"identity_type\":\"smtp.mailfrom\",\"identity\":\"a\\u001b[31m\",\"result\":"
                 "\"pass\"}",
                 "{\"queue_id\":1,\"identity_type\":\"smtp.mailfrom\",\"identity\":\"a\",\"result\":\"pass\"}",
                 "{\"queue_id\":\"1\",\"identity_type\":\"smtp.mailfrom\",\"identity\":\"a\",\"result\":\"pass\","
                 "\"cert_names\":\"x\"}",
                 "{\"queue_id\":\"1\",\"identity_type\":\"smtp.mailfrom\",\"identity\":\"\xc3\xa9\",\"result\":"
                 "\"pass\"}",
             }) {
            INFO(line);
            CHECK(parse_line(line, kReference).kind == LineKind::malformed);
        }
        // A repeated key in the text format: which result would count?
        const auto pos = text.find(" reason=");
        CHECK(parse_line(text.substr(0, pos) + " result=fail" + text.substr(pos), kReference).kind ==
              LineKind::malformed);
        CHECK(parse_line(text + " \xc3\xa9=1", kReference).kind == LineKind::malformed);
    }
}

TEST_CASE("the ts of a JSON line wins over the prefix, an unset one does not", "[report][log]") {
    const auto timed = fixtures::body(fixtures::at(fixtures::passing(), "2025-11-24T21:55:18.5Z"), Format::json);
    auto parsed = parse_line(fixtures::syslog_line("Nov 20 00:00:00", timed), kReference);
    REQUIRE(parsed.kind == LineKind::record);
    CHECK(format_iso(parsed.time.value()) == "2025-11-24T21:55:18Z");
    // journalctl -o cat or a redirected stderr: the ts is the only time.
    parsed = parse_line(timed, kReference);
    REQUIRE(parsed.kind == LineKind::record);
    CHECK(format_iso(parsed.time.value()) == "2025-11-24T21:55:18Z");
    // A VerdictRecord without a time is written without ts: the prefix is the time.
    const auto unset = fixtures::body(fixtures::passing(), Format::json);
    REQUIRE(unset.find("\"ts\"") == std::string::npos);
    parsed = parse_line(fixtures::syslog_line("Nov 20 00:00:00", unset), kReference);
    REQUIRE(parsed.kind == LineKind::record);
    CHECK(format_iso(parsed.time.value()) == "2025-11-20T00:00:00Z");
    CHECK_FALSE(parse_line(unset, kReference).time);
    // A ts that is not a time does not make the record malformed.
    auto object = nlohmann::json::parse(timed);
    object["ts"] = "yesterday";
    parsed = parse_line(fixtures::syslog_line("Nov 20 00:00:00", object.dump()), kReference);
    REQUIRE(parsed.kind == LineKind::record);
    CHECK(format_iso(parsed.time.value()) == "2025-11-20T00:00:00Z");
}

TEST_CASE("text lines of earlier versions, with client= and policy=, still read", "[report][log]") {
    auto log = fixtures::at(fixtures::passing(), "2025-11-24T21:55:18Z");
    log.policy_channel = "matched";
    const auto current = fixtures::body(log, Format::text);
    REQUIRE(current.find(" client_addr=192.0.2.25 ") != std::string::npos);
    REQUIRE(current.find(" policy_channel=matched ") != std::string::npos);
    auto former = current;
    former.replace(former.find(" client_addr="), 13, " client=");
    former.replace(former.find(" policy_channel="), 16, " policy=");
    INFO(former);
    const auto parsed = parse_line(fixtures::syslog_line("Nov 24 21:55:18", former), kReference);
    REQUIRE(parsed.kind == LineKind::record);
    CHECK(parsed.record.client == "192.0.2.25");
    CHECK(parsed.record.result == mtls::Result::pass);
    CHECK(parsed.record.identity == "example.org");
    // A line of the earlier format without the client is as incomplete as one of today's.
    auto without_client = former;
    without_client.erase(without_client.find(" client="), std::string(" client=192.0.2.25").size());
    std::string problem;
    CHECK_FALSE(parse_text_record(without_client, problem));
    CHECK(problem == "missing field client_addr");
    // The same field under both names is a repeated field, as a repeated key is.
    const auto both = current + " client=198.51.100.1";
    CHECK(parse_line(both, kReference).kind == LineKind::malformed);
    CHECK_FALSE(parse_text_record(both, problem));
    CHECK(problem == "repeated field client");
}
