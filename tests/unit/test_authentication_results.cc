// Our Authentication-Results header (RFC 8601), and recognising incoming
// ones that claim our authserv-id.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <string>
#include <vector>

#include "mail/authentication_results.h"

using namespace mtls;

namespace {

Identity mail_from(std::string domain) {
    Identity identity;
    identity.kind = IdentityKind::mail_from;
    identity.domain = std::move(domain);
    return identity;
}

Identity helo(std::string domain) {
    Identity identity;
    identity.kind = IdentityKind::helo;
    identity.domain = std::move(domain);
    return identity;
}

Identity unusable(IdentityKind kind) {
    Identity identity;
    identity.kind = kind;
    identity.problem = "whatever";
    return identity;
}

Verdict verdict(Result result, std::string reason = {}, DnssecState dnssec = DnssecState::unknown,
                std::string matched = {}) {
    Verdict v;
    v.result = result;
    v.reason = std::move(reason);
    v.dnssec = dnssec;
    v.matched_host = std::move(matched);
    return v;
}

// The header body as one line, with every fold undone.
std::string unfolded(std::string text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\n' && i + 1 < text.size() && text[i + 1] == '\t') {
            out.push_back(' ');
            ++i;
        } else {
            out.push_back(text[i]);
        }
    }
    return out;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::size_t start = 0;
    while (true) {
        const auto end = text.find('\n', start);
        lines.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
        if (end == std::string::npos) {
            return lines;
        }
        start = end + 1;
    }
}

// Checks the folding rules on one formatted body: lines of at most 78
// columns ("Authentication-Results: " on the first, a tab counted as 8), a
// longer line holding one word only, "\n\t" as the only line break, no CR.
void check_folding(const std::string& body) {
    INFO("body: " << body);
    CHECK(body.find('\r') == std::string::npos);
    for (std::size_t i = 0; i < body.size(); ++i) {
        if (body[i] == '\n') {
            REQUIRE(i + 1 < body.size());
            CHECK(body[i + 1] == '\t');
        }
    }
    CHECK(body.find("\n\t\n") == std::string::npos);
    const auto lines = lines_of(body);
    for (std::size_t n = 0; n < lines.size(); ++n) {
        std::string content = lines[n];
        std::size_t columns = 0;
        if (n == 0) {
            columns = kAuthenticationResults.size() + 2;
        } else {
            REQUIRE_FALSE(content.empty());
            CHECK(content.front() == '\t');
            content.erase(0, 1);
            columns = 8;
        }
        columns += content.size();
        INFO("line " << n << ": '" << lines[n] << "' (" << columns << " columns)");
        CHECK_FALSE(content.empty());
        CHECK(content.back() != ' ');
        CHECK(content.front() != ' ');
        if (columns > kFoldColumn) {
            // Only a single word too long for any line may exceed the limit.
            CHECK(content.find(' ') == std::string::npos);
        }
        for (const char c : content) {
            CHECK((c >= 0x20 && c < 0x7f));
        }
    }
}

}  // namespace

TEST_CASE("is_token", "[authentication_results]") {
    CHECK(is_token("example.com"));
    CHECK(is_token("mx-1.example.com"));
    CHECK(is_token("a"));
    CHECK_FALSE(is_token(""));
    CHECK_FALSE(is_token("a b"));
    CHECK_FALSE(is_token("x;y"));
    CHECK_FALSE(is_token("\"quoted\""));
    CHECK_FALSE(is_token("a(b)"));
    CHECK_FALSE(is_token("a=b"));
    CHECK_FALSE(is_token("a\tb"));
    CHECK_FALSE(is_token("a\r\nb"));
    CHECK_FALSE(is_token("bücher"));
    CHECK_FALSE(is_token("a\x7f"));
    CHECK_FALSE(is_token(std::string_view("a\0b", 3)));
    for (const char special : std::string_view("()<>@,;:\\\"/[]?=")) {
        CHECK_FALSE(is_token(std::string("a") + special + "b"));
    }
}

TEST_CASE("the header for each result", "[authentication_results]") {
    SECTION("pass names the matched host and the DNSSEC state") {
        const auto body =
            format_authentication_results("mx.example.com", mail_from("example.org"),
                                          verdict(Result::pass, {}, DnssecState::secure, "out1.example.org"));
        CHECK(unfolded(body) ==
              "mx.example.com; mtls=pass (certificate name out1.example.org; DNSSEC secure) smtp.mailfrom=example.org");
        check_folding(body);
    }
    SECTION("a DANE pass names the record's kind and owner") {
        for (const bool trust_anchor : {false, true}) {
            auto v = verdict(Result::pass, "dane", DnssecState::secure, "out1.example.org");
            v.method = PassMethod::dane;
            v.tlsa_owner = "_25._tcp.out1.example.org";
            v.dane_trust_anchor = trust_anchor;
            const auto body = format_authentication_results("mx.example.com", mail_from("example.org"), v);
            CHECK(unfolded(body) == fmt::format("mx.example.com; mtls=pass reason=\"dane\" (DANE-{} TLSA "
                                                "_25._tcp.out1.example.org; DNSSEC secure) smtp.mailfrom=example.org",
                                                trust_anchor ? "TA" : "EE"));
            check_folding(body);
        }
    }
    SECTION("fail carries the reason") {
        const auto body = format_authentication_results(
            "mx.example.com", mail_from("example.org"),
            verdict(Result::fail, "certificate name matches no Client MX host", DnssecState::insecure));
        CHECK(unfolded(body) ==
              "mx.example.com; mtls=fail reason=\"certificate name matches no Client MX host\" (DNSSEC insecure) "
              "smtp.mailfrom=example.org");
        check_folding(body);
    }
    SECTION("none") {
        const auto body =
            format_authentication_results("mx.example.com", mail_from("example.org"),
                                          verdict(Result::none, "no Client MX records", DnssecState::secure));
        CHECK(unfolded(body) ==
              "mx.example.com; mtls=none reason=\"no Client MX records\" (DNSSEC secure) smtp.mailfrom=example.org");
        check_folding(body);
    }
    SECTION("temperror without a DNSSEC state has no comment") {
        const auto body = format_authentication_results("mx.example.com", mail_from("example.org"),
                                                        verdict(Result::temperror, "DNS lookup timed out"));
        CHECK(unfolded(body) ==
              "mx.example.com; mtls=temperror reason=\"DNS lookup timed out\" smtp.mailfrom=example.org");
        check_folding(body);
    }
    SECTION("permerror for an unusable identity has no smtp property") {
        for (const auto kind : {IdentityKind::mail_from, IdentityKind::helo}) {
            const auto body = format_authentication_results("mx.example.com", unusable(kind),
                                                            verdict(Result::permerror, "invalid MAIL FROM address"));
            CHECK(unfolded(body) == "mx.example.com; mtls=permerror reason=\"invalid MAIL FROM address\"");
            CHECK(body.find("smtp.") == std::string::npos);
            check_folding(body);
        }
    }
    SECTION("the null sender is reported as smtp.helo") {
        const auto body =
            format_authentication_results("mx.example.com", helo("out1.example.net"),
                                          verdict(Result::pass, {}, DnssecState::secure, "out1.example.net"));
        CHECK(unfolded(body).ends_with(" smtp.helo=out1.example.net"));
        CHECK(body.find("smtp.mailfrom") == std::string::npos);
    }
}

TEST_CASE("a reason with quotes or backslashes stays one quoted-string", "[authentication_results]") {
    const auto body = format_authentication_results("mx.example.com", mail_from("example.org"),
                                                    verdict(Result::fail, "say \"hi\" \\ there"));
    CHECK(unfolded(body).find("reason=\"say \\\"hi\\\" \\\\ there\"") != std::string::npos);
}

TEST_CASE("the header is folded at 78 columns", "[authentication_results]") {
    const std::string label63(63, 'a');
    const std::string long_domain = label63 + "." + std::string(63, 'b') + "." + std::string(63, 'c') + "." +
                                    std::string(61, 'd');  // 253 characters
    const std::vector<std::string> ids = {"mx.example.com", "m", std::string(60, 'x') + ".example.com",
                                          std::string(100, 'y')};
    const std::vector<std::string> domains = {"example.org", "a.b", std::string(50, 'e') + ".example.org", long_domain};
    const std::vector<Verdict> verdicts = {
        verdict(Result::pass, {}, DnssecState::secure, "out1.example.org"),
        verdict(Result::pass, {}, DnssecState::insecure, long_domain),
        verdict(Result::pass, {}, DnssecState::secure, std::string(40, 'h') + ".example.org"),
        verdict(Result::fail, "certificate name matches no Client MX host", DnssecState::secure),
        verdict(Result::fail, "null Client MX: domain sends no mail", DnssecState::bogus),
        verdict(Result::none, "no Client MX records", DnssecState::insecure),
        verdict(Result::temperror, "DNSSEC validation failed", DnssecState::bogus),
        verdict(Result::temperror, "DNS lookup timed out"),
        verdict(Result::permerror, "malformed Client MX record", DnssecState::secure),
    };
    for (const auto& id : ids) {
        for (const auto& domain : domains) {
            for (const auto& v : verdicts) {
                for (const auto& identity : {mail_from(domain), helo(domain), unusable(IdentityKind::mail_from)}) {
                    const auto body = format_authentication_results(id, identity, v);
                    check_folding(body);
                    // Folding only ever replaces a space.
                    CHECK(unfolded(body).starts_with(id + "; mtls=" + std::string(to_string(v.result))));
                    if (identity.usable()) {
                        CHECK(unfolded(body).ends_with(std::string(property_name(identity.kind)) + "=" + domain));
                    }
                    if (!v.matched_host.empty()) {
                        CHECK(unfolded(body).find(v.matched_host) != std::string::npos);
                    }
                }
            }
        }
    }
}

TEST_CASE("parse_authserv_id follows RFC 8601", "[authentication_results]") {
    CHECK(parse_authserv_id("example.com; spf=pass smtp.mailfrom=example.net") ==
          std::optional<std::string>("example.com"));
    CHECK(parse_authserv_id("example.com 1; none") == std::optional<std::string>("example.com"));
    CHECK(parse_authserv_id("example.com; none") == std::optional<std::string>("example.com"));
    CHECK(parse_authserv_id("example.com none") == std::optional<std::string>("example.com"));
    CHECK(parse_authserv_id("(comment) \"example.com\"; dkim=pass") == std::optional<std::string>("example.com"));
    CHECK(parse_authserv_id("\n\texample.com;") == std::optional<std::string>("example.com"));
    CHECK(parse_authserv_id(" example.com\r\n\t; spf=pass") == std::optional<std::string>("example.com"));
    CHECK(parse_authserv_id("example.com (the (nested) comment) 1 (more); x=y") ==
          std::optional<std::string>("example.com"));
    CHECK(parse_authserv_id("example.com") == std::optional<std::string>("example.com"));
    CHECK(parse_authserv_id("\"ex\\\\am\\\"ple\"; none") == std::optional<std::string>("ex\\am\"ple"));
}

TEST_CASE("parse_authserv_id refuses what does not parse", "[authentication_results]") {
    CHECK_FALSE(parse_authserv_id(""));
    CHECK_FALSE(parse_authserv_id("   "));
    CHECK_FALSE(parse_authserv_id("; spf=pass"));
    CHECK_FALSE(parse_authserv_id("(comment example.com; spf=pass"));
    CHECK_FALSE(parse_authserv_id("(a (b) example.com; spf=pass"));
    CHECK_FALSE(parse_authserv_id("(trailing backslash \\"));
    CHECK_FALSE(parse_authserv_id("\"example.com; spf=pass"));
    CHECK_FALSE(parse_authserv_id("\"example.com\\\"; spf=pass"));
    CHECK_FALSE(parse_authserv_id("example.com (unterminated; spf=pass"));
    CHECK_FALSE(parse_authserv_id("example.com garbage; spf=pass"));
    CHECK_FALSE(parse_authserv_id("\"\"; none"));
}

TEST_CASE("claims_authserv_id recognises our id in every disguise", "[authentication_results]") {
    const std::string ours = "example.com";
    for (const auto* body : {
             "example.com; spf=pass",
             "EXAMPLE.COM; mtls=pass smtp.mailfrom=example.org",
             "Example.Com; none",
             "example.com.; mtls=pass",
             "(leading comment) example.com; mtls=pass",
             "(nested (comment)) example.com; mtls=pass",
             "\"example.com\"; mtls=pass",
             "\"ex\\ample.com\"; mtls=pass",
             "\"\\e\\x\\a\\m\\p\\l\\e\\.\\c\\o\\m\"; mtls=pass",
             "example.com 1; mtls=pass",
             "example.com(comment); mtls=pass",
             "example.com garbage after; mtls=pass",
             "(comment) example.com garbage; mtls=pass",
             "(other.example) \"example.com\" garbage; mtls=pass",
             "\"example.com; mtls=pass",
             "  \r\n\texample.com;mtls=pass",
             "example.com",
         }) {
        INFO("body: " << body);
        CHECK(claims_authserv_id(body, ours));
    }
    CHECK(claims_authserv_id("example.com; mtls=pass", "Example.COM."));
}

TEST_CASE("claims_authserv_id leaves other ids alone", "[authentication_results]") {
    const std::string ours = "example.com";
    for (const auto* body : {
             "other.example; mtls=pass",
             "notexample.com; mtls=pass",
             "example.com.evil; mtls=pass",
             "example.comm; mtls=pass",
             "xexample.com; mtls=pass",
             "sub.example.com; mtls=pass",
             "example.co; mtls=pass",
             "\"other.example\"; mtls=pass smtp.mailfrom=example.com",
             "other.example; mtls=pass (example.com)",
             "(example.com) other.example; mtls=pass",
             "",
             "   ",
             ";",
         }) {
        INFO("body: '" << body << "'");
        CHECK_FALSE(claims_authserv_id(body, ours));
    }
}

TEST_CASE("parse_authserv_id: no-result form is exactly \"none\"") {
    CHECK(parse_authserv_id("example.com; none") == std::optional<std::string>("example.com"));
    CHECK(parse_authserv_id("example.com none") == std::optional<std::string>("example.com"));
    CHECK(parse_authserv_id("example.com 1 none (no checks)") == std::optional<std::string>("example.com"));
    CHECK_FALSE(parse_authserv_id("example.com nonesuch").has_value());
    CHECK_FALSE(parse_authserv_id("example.com none dkim=pass").has_value());
}
