// Picking the identity from the envelope: MAIL FROM domain, or HELO for the
// null sender. Every input here may come straight from an attacker.
#include <catch2/catch.hpp>

#include <string>

#include "mail/identity.h"

using namespace mtls;
using namespace std::string_literals;

namespace {

const std::string kHelo = "out1.example.net";

void require_mail_from(std::string_view reverse_path, std::string_view expected_domain) {
    INFO("reverse-path: " << std::string(reverse_path));
    const auto identity = identity_from_envelope(reverse_path, kHelo);
    CHECK(identity.kind == IdentityKind::mail_from);
    CHECK(identity.usable());
    CHECK(identity.domain == expected_domain);
    CHECK(identity.problem.empty());
}

void require_unusable_mail_from(std::string_view reverse_path) {
    INFO("reverse-path: " << std::string(reverse_path));
    const auto identity = identity_from_envelope(reverse_path, kHelo);
    CHECK(identity.kind == IdentityKind::mail_from);
    CHECK_FALSE(identity.usable());
    CHECK(identity.domain.empty());
    CHECK_FALSE(identity.problem.empty());
    // The problem is our text, never an echo that could carry a line break.
    CHECK(identity.problem.find_first_of("\r\n") == std::string::npos);
}

}  // namespace

TEST_CASE("property_name names the registered ptype.property", "[identity]") {
    CHECK(property_name(IdentityKind::mail_from) == "smtp.mailfrom");
    CHECK(property_name(IdentityKind::helo) == "smtp.helo");
}

TEST_CASE("the MAIL FROM domain is the identity, canonicalised", "[identity]") {
    require_mail_from("<user@Example.ORG>", "example.org");
    require_mail_from("user@example.org", "example.org");
    require_mail_from("  <user@example.org>  ", "example.org");
    require_mail_from("< user@example.org >", "example.org");
    require_mail_from("<user@example.org.>", "example.org");
    require_mail_from("<first.last+tag@sub.example.org>", "sub.example.org");
}

TEST_CASE("the null sender falls back to the HELO name", "[identity]") {
    for (const auto* null_sender : {"<>", "", "< >", "  ", "<  >"}) {
        INFO("reverse-path: '" << null_sender << "'");
        const auto identity = identity_from_envelope(null_sender, "Out1.Example.NET.");
        CHECK(identity.kind == IdentityKind::helo);
        CHECK(identity.usable());
        CHECK(identity.domain == "out1.example.net");
        CHECK(property_name(identity.kind) == "smtp.helo");
        CHECK(parse_reverse_path(null_sender).null_sender);
    }
}

TEST_CASE("a non-null sender never falls back to HELO", "[identity]") {
    const auto identity = identity_from_envelope("<no-at-sign>", "out1.example.net");
    CHECK(identity.kind == IdentityKind::mail_from);
    CHECK_FALSE(identity.usable());
}

TEST_CASE("a quoted local part may contain @ and spaces", "[identity]") {
    require_mail_from("\"a@b c\"@example.org", "example.org");
    require_mail_from("<\"a@b c\"@example.org>", "example.org");
    require_mail_from("<\"a\\\"@evil.example\"@example.org>", "example.org");  // escaped quote inside
    require_unusable_mail_from("<\"unterminated@example.org>");
    require_unusable_mail_from("<\"a\"b@example.org>");  // text after the quoted string
    // The domain after a quoted local part must itself be a host name.
    require_unusable_mail_from("<\"a\"@example.org@evil.example>");
}

TEST_CASE("a source route is ignored", "[identity]") {
    require_mail_from("<@relay.example,@other.example:user@example.org>", "example.org");
    require_mail_from("<@relay.example:user@Example.org>", "example.org");
    require_unusable_mail_from("<@relay.example,@other.example>");
}

TEST_CASE("SMTPUTF8 addresses yield the A-label domain", "[identity]") {
    require_mail_from("<user@bücher.example>", "xn--bcher-kva.example");
    require_mail_from("<jürgen@bücher.example>", "xn--bcher-kva.example");
    require_mail_from("<用户@例え.テスト>", "xn--r8jz45g.xn--zckzah");
}

TEST_CASE("address literals are not usable identities", "[identity]") {
    require_unusable_mail_from("<user@[192.0.2.1]>");
    require_unusable_mail_from("<user@[IPv6:2001:db8::1]>");
    require_unusable_mail_from("user@[192.0.2.1]");
    require_unusable_mail_from("<user@192.0.2.1>");  // unbracketed address is no domain either
}

TEST_CASE("malformed reverse-paths are unusable", "[identity]") {
    require_unusable_mail_from("<user>");
    require_unusable_mail_from("user");
    require_unusable_mail_from("<@example.org>");
    require_unusable_mail_from("@example.org");
    require_unusable_mail_from("<user@>");
    require_unusable_mail_from("<user@example.org");
    require_unusable_mail_from("user@example.org>");
    require_unusable_mail_from("<");
    require_unusable_mail_from(">");
    require_unusable_mail_from("<<user@example.org>>");
    require_unusable_mail_from("<user@example.org@evil.example>");
    require_unusable_mail_from("<user@exa mple.org>");
    require_unusable_mail_from("<user@example..org>");
    require_unusable_mail_from("<user@bad_name.example>");
}

TEST_CASE("control characters cannot smuggle text through the identity", "[identity]") {
    require_unusable_mail_from("user@example.org\r\nX: y");
    require_unusable_mail_from("<user@example.org>\r\nX: y");
    require_unusable_mail_from("<user@example.org\n>");
    require_unusable_mail_from("<user@example.org\0.evil.example>"s);
    require_unusable_mail_from("<us\0er@example.org>"s);
    require_unusable_mail_from("<user@example.org\x1b[2J>");
    require_unusable_mail_from("<user@exam\tple.org>");
}

TEST_CASE("huge reverse-paths are refused without trouble", "[identity]") {
    require_unusable_mail_from(std::string(5000, 'a'));
    require_unusable_mail_from("<" + std::string(5000, 'a') + "@example.org>");
    require_unusable_mail_from("<user@" + std::string(5000, 'a') + ".org>");
    require_unusable_mail_from(std::string(5000, '<'));
    require_unusable_mail_from(std::string(5000, '"'));
    require_unusable_mail_from(std::string(5000, '@'));
    require_unusable_mail_from("<" + std::string(1000000, '\xff') + ">");
}

TEST_CASE("the null sender with an unusable HELO name", "[identity]") {
    for (const auto& helo : {"[192.0.2.1]"s, ""s, "bad_name"s, "[IPv6:2001:db8::1]"s, "192.0.2.1"s,
                             "host.example\r\nX: y"s, "host.example\0.evil"s, std::string(5000, 'a'), "  "s}) {
        INFO("HELO: '" << helo << "'");
        const auto identity = identity_from_envelope("<>", helo);
        CHECK(identity.kind == IdentityKind::helo);
        CHECK_FALSE(identity.usable());
        CHECK_FALSE(identity.problem.empty());
    }
}

TEST_CASE("parse_reverse_path reports the domain or the problem", "[identity]") {
    const auto good = parse_reverse_path("<User@Example.ORG>");
    CHECK_FALSE(good.null_sender);
    CHECK(good.domain == "example.org");
    CHECK(good.problem.empty());

    const auto null_path = parse_reverse_path("<>");
    CHECK(null_path.null_sender);
    CHECK(null_path.domain.empty());
    CHECK(null_path.problem.empty());

    const auto bad = parse_reverse_path("<user@[192.0.2.1]>");
    CHECK_FALSE(bad.null_sender);
    CHECK(bad.domain.empty());
    CHECK_FALSE(bad.problem.empty());
}
