#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "mta_sts/sts_record.h"

using namespace mtls;

TEST_CASE("RFC 8461's TXT record example parses") {
    const auto record = parse_sts_record("v=STSv1; id=20160831085700Z;");
    REQUIRE(record);
    CHECK(record->id == "20160831085700Z");
    CHECK(record->extensions.empty());
}

TEST_CASE("TXT record layout: spaces, tabs, an optional trailing semicolon, extension fields kept") {
    for (const auto* text : {"v=STSv1;id=abc", "v=STSv1 ; id=abc ;", "v=STSv1;\tid=abc\t", "v=STSv1; id=abc; "}) {
        INFO(text);
        const auto record = parse_sts_record(text);
        REQUIRE(record);
        CHECK(record->id == "abc");
    }
    const auto extended = parse_sts_record("v=STSv1; ext_1=value!; id=Z9; x.y=z");
    REQUIRE(extended);
    CHECK(extended->id == "Z9");
    CHECK(extended->extensions == std::vector<std::pair<std::string, std::string>>{{"ext_1", "value!"}, {"x.y", "z"}});
}

TEST_CASE("invalid TXT records") {
    for (const auto* text : {
             "v=STSv1",                                        // no id
             "v=STSv1;",                                       // no id
             "v=STSv1; id=",                                   // empty id
             "v=STSv1; id=abc-def",                            // not alphanumeric
             "v=STSv1; id=123456789012345678901234567890123",  // 33 characters
             "v=STSv1; id=a; id=b",                            // two ids
             "v=STSv1 id=abc",                                 // no ';'
             "v=STSv1; id=abc;; x=y",                          // empty field
             "v=STSv1; id=abc; novalue",                       // no '='
             "v=STSv1; id=abc; -x=y",                          // extension name starts with '-'
             "v=STSv1; id=abc; x=a b",                         // space in a value
             "v=STSv1; id=abc; x=",                            // empty value
             "v=STSv2; id=abc",                                // another version
             "v=STSv1x; id=abc",                               // not v=STSv1
             " v=STSv1; id=abc",                               // does not start with it
             "id=abc; v=STSv1",                                // v is not first
         }) {
        INFO(text);
        CHECK_FALSE(parse_sts_record(text));
    }
    CHECK(parse_sts_record("v=STSv1; id=12345678901234567890123456789012"));  // 32 characters
}

TEST_CASE("TXT character-strings are joined without spaces") {
    const std::vector<std::uint8_t> rdata = {8,   'v', '=', 'S', 'T', 'S', 'v', '1',
                                             ';', 6,   ' ', 'i', 'd', '=', '4', '2'};
    const auto text = join_txt_strings(rdata);
    REQUIRE(text);
    CHECK(text.value() == "v=STSv1; id=42");
    CHECK(join_txt_strings(std::vector<std::uint8_t>{}).value().empty());
    CHECK_FALSE(join_txt_strings(std::vector<std::uint8_t>{5, 'a', 'b'}));
}

TEST_CASE("of several TXT records only those starting with v=STSv1 count, and more than one means none") {
    const std::vector<std::string> one = {"google-site-verification=xyz", "v=STSv1; id=1", "v=spf1 -all"};
    const auto chosen = select_sts_record(one);
    REQUIRE(chosen);
    REQUIRE(chosen.value().has_value());
    CHECK(chosen.value()->id == "1");

    const auto none = select_sts_record(std::vector<std::string>{"v=spf1 -all", "v=STSv10; id=1"});
    REQUIRE(none);
    CHECK_FALSE(none.value().has_value());

    const auto two = select_sts_record(std::vector<std::string>{"v=STSv1; id=1", "v=STSv1; id=2"});
    REQUIRE_FALSE(two);
    CHECK_THAT(two.error(), Catch::Contains("2 TXT records"));

    const auto invalid = select_sts_record(std::vector<std::string>{"v=STSv1; id=not-alnum"});
    REQUIRE_FALSE(invalid);
    CHECK_THAT(invalid.error(), Catch::Contains("invalid"));
}
