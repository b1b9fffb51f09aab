// Host and certificate names: what leaves domain_name.h must be canonical
// (A-labels, lower case, no trailing dot, LDH), and everything else refused.
#include <catch2/catch.hpp>

#include <string>

#include "dns/domain_name.h"

using namespace mtls;
using namespace std::string_literals;

namespace {

std::string host_ok(std::string_view text) {
    const auto result = canonical_host_name(text);
    INFO("input: " << std::string(text));
    REQUIRE(result.has_value());
    return result.value();
}

bool host_rejected(std::string_view text) {
    const auto result = canonical_host_name(text);
    return !result.has_value() && !result.error().empty();
}

std::string repeat(char c, std::size_t n) {
    return std::string(n, c);
}

}  // namespace

TEST_CASE("canonical_host_name folds ASCII case", "[domain_name]") {
    CHECK(host_ok("Example.ORG") == "example.org");
    CHECK(host_ok("OUT1.MAIL.EXAMPLE.NET") == "out1.mail.example.net");
    CHECK(host_ok("example.org") == "example.org");
}

TEST_CASE("canonical_host_name strips one trailing dot", "[domain_name]") {
    CHECK(host_ok("example.org.") == "example.org");
    CHECK(host_rejected("example.org.."));
    CHECK(host_rejected("."));
    CHECK(host_rejected(""));
}

TEST_CASE("canonical_host_name converts U-labels to A-labels", "[domain_name]") {
    CHECK(host_ok("bücher.example") == "xn--bcher-kva.example");
    CHECK(host_ok("BÜCHER.example") == "xn--bcher-kva.example");
    CHECK(host_ok("mail.bücher.example.") == "mail.xn--bcher-kva.example");
    // An A-label is already canonical ASCII.
    CHECK(host_ok("XN--BCHER-KVA.example") == "xn--bcher-kva.example");
}

TEST_CASE("canonical_host_name accepts ordinary LDH names", "[domain_name]") {
    CHECK(host_ok("a-b.example") == "a-b.example");
    CHECK(host_ok("123.example") == "123.example");
    CHECK(host_ok("localhost") == "localhost");
    CHECK(host_ok("x.y2k") == "x.y2k");
}

TEST_CASE("canonical_host_name rejects malformed names", "[domain_name]") {
    CHECK(host_rejected("a..b"));
    CHECK(host_rejected(".example.org"));
    CHECK(host_rejected("-a.example"));
    CHECK(host_rejected("a-.example"));
    CHECK(host_rejected("a.-example"));
    CHECK(host_rejected("a_b.example"));
    CHECK(host_rejected("_dmarc.example"));
    CHECK(host_rejected("a b.example"));
    CHECK(host_rejected(" example.org"));
    CHECK(host_rejected("example.org "));
    CHECK(host_rejected("ex*ample.org"));
    CHECK(host_rejected("*.example.org"));  // a wildcard is a certificate name, not a host
    CHECK(host_rejected("exa@mple.org"));
    CHECK(host_rejected("example.org;x"));
    CHECK(host_rejected("[192.0.2.1]"));
}

TEST_CASE("canonical_host_name enforces label and name lengths", "[domain_name]") {
    const std::string label63 = repeat('a', 63);
    const std::string label64 = repeat('a', 64);
    CHECK(host_ok(label63 + ".example") == label63 + ".example");
    CHECK(host_rejected(label64 + ".example"));
    CHECK(host_rejected("example." + label64));

    // Three labels of 63, one of 61 and three dots: 253 characters.
    const std::string name253 = label63 + "." + repeat('b', 63) + "." + repeat('c', 63) + "." + repeat('d', 61);
    REQUIRE(name253.size() == 253);
    CHECK(host_ok(name253) == name253);
    CHECK(host_ok(name253 + ".") == name253);   // the trailing dot does not count
    CHECK(host_rejected("x" + name253));        // 254
    CHECK(host_rejected(repeat('a', 100000)));  // absurd input, no crash
    CHECK(host_rejected(repeat('\xc3', 100000)));
}

TEST_CASE("canonical_host_name rejects a numeric top-level label", "[domain_name]") {
    CHECK(host_rejected("1.2.3.4"));
    CHECK(host_rejected("192.0.2.1."));
    CHECK(host_rejected("example.123"));
    CHECK(host_rejected("42"));
}

TEST_CASE("canonical_host_name rejects NUL and line breaks", "[domain_name]") {
    CHECK(host_rejected("example.org\0.evil"s));
    CHECK(host_rejected("\0example.org"s));
    CHECK(host_rejected("bücher.example\0.evil"s));
    CHECK(host_rejected("example.org\r\nX-Injected: yes"));
    CHECK(host_rejected("example.org\n"));
    CHECK(host_rejected("example\r.org"));
    CHECK(host_rejected("exa\tmple.org"));
    CHECK(host_rejected("example.org\x7f"));
}

TEST_CASE("canonical_host_name rejects invalid non-ASCII text", "[domain_name]") {
    CHECK(host_rejected("\xff\xfe.example"));            // not UTF-8
    CHECK(host_rejected("b\xc3.example"));               // truncated UTF-8 sequence
    CHECK(host_rejected("bü cher.example"));             // space inside an IDN
    CHECK(host_rejected("bücher\xe2\x80\xae.example"));  // RIGHT-TO-LEFT OVERRIDE
}

TEST_CASE("canonical_certificate_name keeps a whole-label wildcard", "[domain_name]") {
    auto wildcard = canonical_certificate_name("*.Example.ORG");
    REQUIRE(wildcard);
    CHECK(wildcard.value() == "*.example.org");

    auto plain = canonical_certificate_name("Out1.Example.ORG.");
    REQUIRE(plain);
    CHECK(plain.value() == "out1.example.org");

    auto idn = canonical_certificate_name("*.bücher.example");
    REQUIRE(idn);
    CHECK(idn.value() == "*.xn--bcher-kva.example");
}

TEST_CASE("canonical_certificate_name rejects partial and nested wildcards", "[domain_name]") {
    CHECK_FALSE(canonical_certificate_name("f*o.example.org"));
    CHECK_FALSE(canonical_certificate_name("*o.example.org"));
    CHECK_FALSE(canonical_certificate_name("o*.example.org"));
    CHECK_FALSE(canonical_certificate_name("*.*.example"));
    CHECK_FALSE(canonical_certificate_name("a.*.example"));
    CHECK_FALSE(canonical_certificate_name("*"));
    CHECK_FALSE(canonical_certificate_name("*."));
    CHECK_FALSE(canonical_certificate_name("**.example.org"));
    CHECK_FALSE(canonical_certificate_name("*.1.2.3"));
    CHECK_FALSE(canonical_certificate_name("John Doe"));
    CHECK_FALSE(canonical_certificate_name(""));
}

TEST_CASE("ascii_lower and ascii_iequals touch ASCII letters only", "[domain_name]") {
    CHECK(ascii_lower("MiXeD-123.ORG") == "mixed-123.org");
    CHECK(ascii_lower("\xc3\x9c") == "\xc3\x9c");  // no locale-dependent folding of UTF-8 bytes
    CHECK(ascii_iequals("Example.ORG", "example.org"));
    CHECK(ascii_iequals("", ""));
    CHECK_FALSE(ascii_iequals("example.org", "example.org."));
    CHECK_FALSE(ascii_iequals("example.org", "examp1e.org"));
    CHECK_FALSE(ascii_iequals("a", "ab"));
    CHECK_FALSE(ascii_iequals("[", "{"));  // '[' + 0x20 is '{': not letters
    CHECK_FALSE(ascii_iequals("@", "`"));
}

TEST_CASE("A-labels must decode as punycode") {
    CHECK(canonical_host_name("xn--bcher-kva.example").value() == "xn--bcher-kva.example");
    CHECK(canonical_host_name("mail.XN--BCHER-KVA.example").value() == "mail.xn--bcher-kva.example");
    CHECK_FALSE(canonical_host_name("xn--zz.example").has_value());
    CHECK_FALSE(canonical_host_name("mail.xn--zz.example").has_value());
}
