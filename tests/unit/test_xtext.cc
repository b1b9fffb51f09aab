// xtext (RFC 3461 section 4) as Sendmail encodes certificate macros.
#include <catch2/catch.hpp>

#include <string>

#include "mail/xtext.h"

using namespace mtls;
using namespace std::string_literals;

TEST_CASE("xtext_decode decodes +XX escapes", "[xtext]") {
    CHECK(xtext_decode("+2B").value() == "+");
    CHECK(xtext_decode("a+20b").value() == "a b");
    CHECK(xtext_decode("out1+2Eexample.org").value() == "out1.example.org");
    CHECK(xtext_decode("+2B+2B").value() == "++");
    CHECK(xtext_decode("+2b").value() == "+");  // lower case, as Sendmail reads it
    CHECK(xtext_decode("+00").value() == "\0"s);
    CHECK(xtext_decode("+FF").value() == "\xff");
    CHECK(xtext_decode("x+3D").value() == "x=");
}

TEST_CASE("xtext_decode passes plain text through", "[xtext]") {
    CHECK(xtext_decode("").value().empty());
    CHECK(xtext_decode("out1.example.org").value() == "out1.example.org");
    CHECK(xtext_decode("CN=John").value() == "CN=John");
}

TEST_CASE("xtext_decode rejects truncated and invalid escapes", "[xtext]") {
    CHECK_FALSE(xtext_decode("+"));
    CHECK_FALSE(xtext_decode("+2"));
    CHECK_FALSE(xtext_decode("abc+2"));
    CHECK_FALSE(xtext_decode("abc+"));
    CHECK_FALSE(xtext_decode("+ZZ"));
    CHECK_FALSE(xtext_decode("+2G"));
    CHECK_FALSE(xtext_decode("+G2"));
    CHECK_FALSE(xtext_decode("+ 2"));
    CHECK_FALSE(xtext_decode("++2B"));
    CHECK_FALSE(
        xtext_decode("+\0"
                     "0"s));
    auto bad = xtext_decode("a+Z");
    REQUIRE_FALSE(bad);
    CHECK_FALSE(bad.error().empty());
}

TEST_CASE("xtext_decode reads nothing beyond the text it is given", "[xtext]") {
    const std::string buffer = "ab+2B+41";
    CHECK_FALSE(xtext_decode(std::string_view(buffer.data(), 4)));  // "ab+2", then memory holding "B"
    CHECK_FALSE(xtext_decode(std::string_view(buffer.data(), 3)));  // "ab+"
    CHECK(xtext_decode(std::string_view(buffer.data(), 5)).value() == "ab+");
    CHECK_FALSE(xtext_decode(std::string_view(buffer.data() + 5, 2)));  // "+4"
}

TEST_CASE("xtext_decode copes with long input", "[xtext]") {
    std::string encoded;
    for (int i = 0; i < 20000; ++i) {
        encoded += "+41";
    }
    const auto decoded = xtext_decode(encoded);
    REQUIRE(decoded);
    CHECK(decoded.value() == std::string(20000, 'A'));
    CHECK_FALSE(xtext_decode(encoded + "+4"));
}
