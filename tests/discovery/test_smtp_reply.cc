// discovery/smtp_reply.h: the replies of the host a probe connects back to,
// which is whoever just sent us mail: hostile input.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "discovery/smtp_reply.h"

using namespace mtls::discovery;
using Lines = std::vector<std::string>;

namespace {

SmtpReply one_reply(std::string_view bytes) {
    SmtpReplyReader reader;
    reader.feed(bytes);
    auto reply = reader.next();
    INFO((reply ? std::string() : reply.error()));
    REQUIRE(reply);
    REQUIRE(reply->has_value());
    CHECK(reader.buffered() == 0);
    return **reply;
}

std::string error_of(std::string_view bytes) {
    SmtpReplyReader reader;
    reader.feed(bytes);
    auto reply = reader.next();
    REQUIRE_FALSE(reply);
    // and it stays an error
    reader.feed("250 ok\r\n");
    auto again = reader.next();
    REQUIRE_FALSE(again);
    CHECK(again.error() == reply.error());
    return reply.error();
}

}  // namespace

TEST_CASE("a one-line reply") {
    const auto reply = one_reply("220 mx.example ESMTP ready\r\n");
    CHECK(reply.code == 220);
    CHECK(reply.lines == Lines{"mx.example ESMTP ready"});
    CHECK(reply.positive());
    CHECK(reply.summary() == "220 mx.example ESMTP ready");
}

TEST_CASE("a bare reply code is a complete reply") {
    const auto reply = one_reply("220\r\n");
    CHECK(reply.code == 220);
    CHECK(reply.lines == Lines{""});
}

TEST_CASE("a multi-line EHLO reply, and whether it offers STARTTLS") {
    const auto reply = one_reply("250-mx.example\r\n250-PIPELINING\r\n250-StartTLS\r\n250 SIZE 10240000\r\n");
    CHECK(reply.code == 250);
    CHECK(reply.lines == Lines{"mx.example", "PIPELINING", "StartTLS", "SIZE 10240000"});
    CHECK(offers_starttls(reply));
    CHECK_FALSE(offers_starttls(one_reply("250-STARTTLS\r\n250 8BITMIME\r\n")));  // the greeting line does not count
    CHECK_FALSE(offers_starttls(one_reply("250-mx.example\r\n250 STARTTLSX\r\n")));
}

TEST_CASE("a reply split across reads anywhere") {
    const std::string bytes = "220-mx.example\r\n220 ready\r\n";
    for (std::size_t cut = 0; cut <= bytes.size(); ++cut) {
        SmtpReplyReader reader;
        reader.feed(std::string_view(bytes).substr(0, cut));
        auto first = reader.next();
        REQUIRE(first);
        if (cut < bytes.size()) {
            CHECK_FALSE(first->has_value());
            reader.feed(std::string_view(bytes).substr(cut));
            first = reader.next();
            REQUIRE(first);
        }
        REQUIRE(first->has_value());
        CHECK((*first)->lines == Lines{"mx.example", "ready"});
    }
}

TEST_CASE("two replies in a row are read one at a time, leaving the rest buffered") {
    SmtpReplyReader reader;
    reader.feed("220 go ahead\r\n250 injected\r\n");
    auto first = reader.next();
    REQUIRE(first);
    REQUIRE(first->has_value());
    CHECK((*first)->code == 220);
    CHECK(reader.buffered() == 14);  // what the probe refuses before STARTTLS's handshake
}

TEST_CASE("hostile replies are refused with a reason") {
    CHECK_THAT(error_of("220 ok\n"), Catch::Contains("bare LF"));
    CHECK_THAT(error_of(std::string("220 o\0k\r\n", 9)), Catch::Contains("NUL"));
    CHECK_THAT(error_of(std::string("220 o\0k", 7)), Catch::Contains("NUL"));
    CHECK_THAT(error_of("220 a\rb\r\n"), Catch::Contains("control character"));
    CHECK_THAT(error_of("220 a\x1b[31m\r\n"), Catch::Contains("control character"));
    CHECK_THAT(error_of("hello\r\n"), Catch::Contains("without a reply code"));
    CHECK_THAT(error_of("22\r\n"), Catch::Contains("without a reply code"));
    CHECK_THAT(error_of("120 wait\r\n"), Catch::Contains("without a reply code"));
    CHECK_THAT(error_of("620 what\r\n"), Catch::Contains("without a reply code"));
    CHECK_THAT(error_of("220_ok\r\n"), Catch::Contains("space or hyphen"));
    CHECK_THAT(error_of("250-one\r\n220 two\r\n"), Catch::Contains("changes from 250 to 220"));
}

TEST_CASE("an endless line is cut off at the limit, with or without CRLF") {
    CHECK_THAT(error_of("220 " + std::string(kMaxReplyLineLength, 'x')), Catch::Contains("longer than 512"));
    CHECK_THAT(error_of("220 " + std::string(kMaxReplyLineLength, 'x') + "\r\n"), Catch::Contains("longer than 512"));
    SmtpReplyReader reader;
    for (int i = 0; i < 1000; ++i) {
        reader.feed(std::string(4096, 'x'));  // memory stays bounded however much arrives
    }
    CHECK(reader.buffered() <= kMaxReplyBytes);
    CHECK_FALSE(reader.next());
}

TEST_CASE("a line of exactly the limit is accepted") {
    const std::string text(kMaxReplyLineLength - 6, 'x');  // "220 " + text + CRLF = 512
    CHECK(one_reply("220 " + text + "\r\n").lines == Lines{text});
    // also when a read ends between its CR and LF (found by fuzz/fuzz_smtp_reply.cc)
    SmtpReplyReader reader;
    reader.feed("220 " + text + "\r");
    const auto pending = reader.next();
    REQUIRE(pending);
    CHECK_FALSE(pending->has_value());
    reader.feed("\n");
    const auto reply = reader.next();
    REQUIRE(reply);
    REQUIRE(reply->has_value());
    CHECK((*reply)->lines == Lines{text});
}

TEST_CASE("too many lines in one reply are refused") {
    std::string bytes;
    for (std::size_t i = 0; i <= kMaxReplyLines; ++i) {
        bytes += "250-X\r\n";
    }
    CHECK_THAT(error_of(bytes), Catch::Contains("longer than 64 lines"));
}

TEST_CASE("the summary of a reply is short and printable") {
    const auto reply = one_reply("554 " + std::string(200, 'x') + "\xc3\xa9\r\n");
    CHECK(reply.summary().size() < 100);
    CHECK(reply.summary().ends_with("..."));
    CHECK(one_reply("554 caf\xc3\xa9\r\n").summary() == "554 caf??");
}
