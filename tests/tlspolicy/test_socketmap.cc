#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "postfix/socketmap.h"

using namespace mtls;

namespace {

struct ReadResult {
    std::vector<SocketmapRequest> requests;
    std::vector<std::string> rejected;  // well-framed but not "name key"
    std::string error;
};

ReadResult read_all(std::string_view stream, std::size_t chunk = 0, SocketmapReaderLimits limits = {}) {
    SocketmapReader reader(limits);
    ReadResult result;
    if (chunk == 0) {
        chunk = std::max<std::size_t>(stream.size(), 1);
    }
    for (std::size_t at = 0; at < stream.size(); at += chunk) {
        reader.append(stream.substr(at, chunk));
        while (auto request = reader.next()) {
            if (*request) {
                result.requests.push_back(request->value());
            } else {
                result.rejected.push_back(request->error());
            }
        }
    }
    result.error = reader.error();
    return result;
}

}  // namespace

TEST_CASE("netstrings encode length, colon, data, comma") {
    CHECK(encode_netstring("") == "0:,");
    CHECK(encode_netstring("postfix example.com") == "19:postfix example.com,");
    CHECK(encode_netstring(std::string_view("a\0b", 3)) == std::string("3:a\0b,", 6));
}

TEST_CASE("a request round-trips through the reader, whole and byte by byte") {
    const SocketmapRequest request{"postfix", "example.com"};
    const std::string stream = encode_netstring("postfix example.com") + encode_netstring("postfix [mx.example]:587");
    for (const std::size_t chunk : {0UL, 1UL, 2UL, 7UL}) {
        const auto result = read_all(stream, chunk);
        REQUIRE(result.error.empty());
        REQUIRE(result.requests.size() == 2);
        CHECK(result.requests[0] == request);
        CHECK(result.requests[1] == SocketmapRequest{"postfix", "[mx.example]:587"});
    }
}

TEST_CASE("the key is everything after the first space") {
    const auto request = parse_socketmap_request("postfix a b");
    REQUIRE(request);
    CHECK(request->name == "postfix");
    CHECK(request->key == "a b");
}

TEST_CASE("a well-framed netstring that is not name-space-key is rejected, the stream stays in step") {
    const std::string stream =
        encode_netstring("postfix") + encode_netstring(" example.com") + encode_netstring("postfix ") +
        encode_netstring("") + encode_netstring("postfix exa\nmple.com") +
        encode_netstring(std::string("postfix a\0b", 11)) + encode_netstring("postfix ok.example");
    const auto result = read_all(stream, 3);
    CHECK(result.error.empty());
    CHECK(result.rejected.size() == 6);
    REQUIRE(result.requests.size() == 1);
    CHECK(result.requests[0].key == "ok.example");
}

TEST_CASE("framing errors are final") {
    struct Case {
        std::string stream;
        std::string error_part;
    };
    const std::vector<Case> cases = {
        {"x:abc,", "does not start with a digit"},
        {":abc,", "no length"},
        {"1x:a,", "non-digit"},
        {"-1:a,", "does not start with a digit"},
        {" 3:abc,", "does not start with a digit"},
        {"03:abc,", "leading zero"},
        {"00:,", "leading zero"},
        {"3:abc;", "does not end with ','"},
        {"3:abcd,", "does not end with ','"},
        {"5000:", "above the limit"},
        {"99999999999999999999999", "above the limit"},
        {"11:postfix a.b,GET / HTTP/1.0\r\n", "does not start with a digit"},
    };
    for (const auto& c : cases) {
        INFO(c.stream);
        for (const std::size_t chunk : {0UL, 1UL}) {
            SocketmapReader reader;
            for (std::size_t at = 0; at < c.stream.size(); at += chunk == 0 ? c.stream.size() : chunk) {
                reader.append(std::string_view(c.stream).substr(at, chunk == 0 ? c.stream.size() : chunk));
                while (reader.next()) {
                }
            }
            CHECK(reader.failed());
            CHECK_THAT(reader.error(), Catch::Contains(c.error_part));
            // Nothing more comes out of a failed stream, whatever follows.
            reader.append("7:a b.com,");
            CHECK_FALSE(reader.next());
        }
    }
}

TEST_CASE("an absurd length fails before its payload is buffered") {
    SocketmapReader reader(SocketmapReaderLimits{100});
    reader.append("1000");
    CHECK_FALSE(reader.next());
    CHECK(reader.failed());
    SocketmapReader exact(SocketmapReaderLimits{100});
    exact.append("101:");
    CHECK_FALSE(exact.next());
    CHECK_THAT(exact.error(), Catch::Contains("101"));
    SocketmapReader limit(SocketmapReaderLimits{12});
    limit.append(encode_netstring("postfix a.bc"));
    const auto request = limit.next();
    REQUIRE(request);
    CHECK(request->has_value());
}

TEST_CASE("an incomplete netstring waits and is reported as in a request") {
    SocketmapReader reader;
    CHECK_FALSE(reader.in_request());
    reader.append("19:postfix exam");
    CHECK_FALSE(reader.next());
    CHECK_FALSE(reader.failed());
    CHECK(reader.in_request());
    reader.append("ple.com,");
    const auto request = reader.next();
    REQUIRE(request);
    REQUIRE(*request);
    CHECK((*request)->key == "example.com");
    CHECK_FALSE(reader.in_request());
}

TEST_CASE("replies are what socketmap_table(5) describes") {
    CHECK(reply_payload(SocketmapReply::ok("dane-only")) == "OK dane-only");
    CHECK(reply_payload(SocketmapReply::not_found()) == "NOTFOUND ");
    CHECK(reply_payload(SocketmapReply::temp("bogus MX")) == "TEMP bogus MX");
    CHECK(reply_payload(SocketmapReply::timeout("slow")) == "TIMEOUT slow");
    CHECK(reply_payload(SocketmapReply::perm("bad key")) == "PERM bad key");
    CHECK(reply_payload(SocketmapReply::temp("")) == "TEMP ");
    CHECK(encode_reply(SocketmapReply::not_found()) == "9:NOTFOUND ,");
    CHECK(encode_reply(SocketmapReply::ok("secure match=a.example:b.example servername=hostname")) ==
          "55:OK secure match=a.example:b.example servername=hostname,");
}

TEST_CASE("replies never exceed Postfix's limit nor carry control characters") {
    const std::string long_reason(200000, 'x');
    const auto temp = reply_payload(SocketmapReply::temp(long_reason));
    CHECK(temp.size() == kSocketmapMaxReply);
    CHECK(temp.starts_with("TEMP xxx"));
    CHECK(reply_payload(SocketmapReply::perm("a\r\nb\0c")) == "PERM a??b");
    CHECK(reply_payload(SocketmapReply::temp(std::string("a\0b", 3))) == "TEMP a?b");
    // OK data cannot be cut without changing the policy: defer instead.
    CHECK(reply_payload(SocketmapReply::ok(std::string(kSocketmapMaxReply, 'x'))) == "TEMP invalid reply data");
    CHECK(reply_payload(SocketmapReply::ok(std::string(kSocketmapMaxReply - 3, 'x'))).size() == kSocketmapMaxReply);
    CHECK(reply_payload(SocketmapReply::ok("dane\nencrypt")) == "TEMP invalid reply data");
    CHECK(reply_payload(SocketmapReply::ok("")) == "TEMP invalid reply data");
}
