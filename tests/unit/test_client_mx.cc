// Client MX RDATA: a preference and an uncompressed wire-format name.
#include <catch2/catch.hpp>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "dns/client_mx.h"

using namespace mtls;

namespace {

using Bytes = std::vector<std::uint8_t>;

// Wire-format RDATA from a preference and labels, exactly as given.
Bytes rdata(std::uint16_t preference, std::initializer_list<std::string> labels) {
    Bytes out = {static_cast<std::uint8_t>(preference >> 8), static_cast<std::uint8_t>(preference & 0xff)};
    for (const auto& label : labels) {
        out.push_back(static_cast<std::uint8_t>(label.size()));
        out.insert(out.end(), label.begin(), label.end());
    }
    out.push_back(0);
    return out;
}

Expected<ClientMx> parse(const Bytes& bytes) {
    return parse_client_mx_rdata(bytes);
}

}  // namespace

TEST_CASE("a valid Client MX record", "[client_mx]") {
    const Bytes bytes = {0x00, 0x0a, 4,   'o', 'u', 't', '1', 7,   'e', 'x', 'a',
                         'm',  'p',  'l', 'e', 4,   't', 'e', 's', 't', 0};
    const auto record = parse(bytes);
    REQUIRE(record);
    CHECK(record->preference == 10);
    CHECK(record->host == "out1.example.test");
    CHECK_FALSE(record->is_null());
    CHECK(to_presentation(*record) == "10 out1.example.test.");
}

TEST_CASE("the preference is a 16-bit big-endian number", "[client_mx]") {
    const auto high = parse(rdata(0xABCD, {"a", "example"}));
    REQUIRE(high);
    CHECK(high->preference == 0xABCD);
    const auto max = parse(rdata(65535, {"a", "example"}));
    REQUIRE(max);
    CHECK(max->preference == 65535);
    CHECK(to_presentation(*max) == "65535 a.example.");
}

TEST_CASE("the root target is the null Client MX", "[client_mx]") {
    const auto record = parse({0x00, 0x00, 0x00});
    REQUIRE(record);
    CHECK(record->is_null());
    CHECK(record->host.empty());
    CHECK(to_presentation(*record) == "0 .");
}

TEST_CASE("the target is canonicalised to lower case", "[client_mx]") {
    const auto record = parse(rdata(5, {"OUT1", "Example", "TEST"}));
    REQUIRE(record);
    CHECK(record->host == "out1.example.test");
}

TEST_CASE("malformed Client MX RDATA is rejected", "[client_mx]") {
    SECTION("too short") {
        CHECK_FALSE(parse({}));
        CHECK_FALSE(parse({0x00}));
        CHECK_FALSE(parse({0x00, 0x0a}));
    }
    SECTION("compression pointer") {
        CHECK_FALSE(parse({0x00, 0x0a, 0xC0, 0x0C}));
        // A pointer after a first label.
        CHECK_FALSE(parse({0x00, 0x0a, 1, 'a', 0xC0, 0x0C}));
    }
    SECTION("extended label types") {
        CHECK_FALSE(parse({0x00, 0x0a, 0x40, 'a', 0}));
        CHECK_FALSE(parse({0x00, 0x0a, 0x80, 'a', 0}));
    }
    SECTION("truncated label") {
        CHECK_FALSE(parse({0x00, 0x0a, 5, 'a', 'b'}));
        CHECK_FALSE(parse({0x00, 0x0a, 1, 'a'}));  // no terminating root label
        CHECK_FALSE(parse({0x00, 0x0a, 63}));
    }
    SECTION("trailing bytes after the name") {
        auto bytes = rdata(10, {"out1", "example", "test"});
        bytes.push_back(0);
        CHECK_FALSE(parse(bytes));
        CHECK_FALSE(parse({0x00, 0x00, 0x00, 0x00}));  // root plus a stray byte
        CHECK_FALSE(parse({0x00, 0x00, 0x00, 'x'}));
    }
    SECTION("label of 64 bytes") {
        CHECK_FALSE(parse(rdata(10, {std::string(64, 'a'), "example"})));
        const auto ok = parse(rdata(10, {std::string(63, 'a'), "example"}));
        REQUIRE(ok);
        CHECK(ok->host == std::string(63, 'a') + ".example");
    }
    SECTION("bytes that are not host-name characters") {
        CHECK_FALSE(parse(rdata(10, {"out1.example", "test"})));  // a '.' inside a label
        CHECK_FALSE(parse(rdata(10, {"out 1", "example"})));
        CHECK_FALSE(parse(rdata(10, {std::string("out\0", 4) + "1", "example"})));
        CHECK_FALSE(parse(rdata(10, {"out1\r\nX", "example"})));
        CHECK_FALSE(parse(rdata(10, {"out_1", "example"})));
        CHECK_FALSE(parse(rdata(10, {"*", "example"})));
        CHECK_FALSE(parse(rdata(10, {"-out1", "example"})));
        CHECK_FALSE(parse(rdata(10, {"b\xc3\xbc"
                                     "cher",
                                     "example"})));             // raw UTF-8 is not an A-label
        CHECK_FALSE(parse(rdata(10, {"192", "0", "2", "1"})));  // numeric top-level label
    }
    SECTION("names longer than DNS allows") {
        // Five 63-byte labels: 320 bytes of wire name.
        const std::string l(63, 'a');
        CHECK_FALSE(parse(rdata(10, {l, l, l, l, l})));
    }
}

TEST_CASE("to_presentation writes zone-file form", "[client_mx]") {
    CHECK(to_presentation(ClientMx{20, "out2.example.org"}) == "20 out2.example.org.");
    CHECK(to_presentation(ClientMx{0, ""}) == "0 .");
}
