// The policy delegation protocol reader: requests however the bytes are cut,
// every limit, every malformed line, and which fingerprints count.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "postfix/policy_delegation.h"

using namespace mtls;

namespace {

constexpr std::string_view kSha256 =
    "E3:B0:C4:42:98:FC:1C:14:9A:FB:F4:C8:99:6F:B9:24:27:AE:41:E4:64:9B:93:4C:A4:95:99:1B:78:52:B8:55";
constexpr std::string_view kSha256Key =
    "2C:26:B4:6B:68:FF:C6:8F:F9:9B:45:3C:1D:30:41:34:13:42:2D:70:64:83:BF:A0:F9:8A:5E:88:62:66:E7:AE";
constexpr std::string_view kMd5 = "C2:9D:F4:87:71:73:73:D9:18:E7:C2:F3:C1:DA:6E:04";

// A request as Postfix 3.7 writes it (abridged), with the fingerprints given.
std::string postfix_request(std::string_view fingerprint, std::string_view pubkey,
                            std::string_view address = "192.0.2.7", std::string_view port = "54321") {
    return "request=smtpd_access_policy\n"
           "protocol_state=RCPT\n"
           "protocol_name=ESMTP\n"
           "client_address=" +
           std::string(address) +
           "\n"
           "client_name=out1.example.test\n"
           "helo_name=out1.example.test\n"
           "sender=alice@example.test\n"
           "recipient=bob@example.org\n"
           "recipient_count=0\n"
           "queue_id=\n"
           "instance=1f2e.6634a1b2.8c1d2.0\n"
           "size=0\n"
           "sasl_method=\n"
           "ccert_subject=\n"
           "ccert_issuer=\n"
           "ccert_fingerprint=" +
           std::string(fingerprint) +
           "\n"
           "ccert_pubkey_fingerprint=" +
           std::string(pubkey) +
           "\n"
           "encryption_protocol=TLSv1.3\n"
           "encryption_cipher=TLS_AES_256_GCM_SHA384\n"
           "encryption_keysize=256\n"
           "client_port=" +
           std::string(port) +
           "\n"
           "policy_context=\n"
           "server_address=198.51.100.1\n"
           "server_port=25\n"
           "\n";
}

std::vector<PolicyRequest> drain(PolicyRequestReader& reader) {
    std::vector<PolicyRequest> requests;
    while (auto request = reader.next()) {
        requests.push_back(std::move(*request));
    }
    return requests;
}

std::vector<PolicyRequest> read_all(std::string_view bytes, PolicyReaderLimits limits = {}) {
    PolicyRequestReader reader(limits);
    reader.append(bytes);
    auto requests = drain(reader);
    REQUIRE_FALSE(reader.failed());
    return requests;
}

std::string error_of(std::string_view bytes, PolicyReaderLimits limits = {}) {
    PolicyRequestReader reader(limits);
    reader.append(bytes);
    drain(reader);
    REQUIRE(reader.failed());
    return reader.error();
}

Sha256Digest digest(std::string_view text) {
    const auto parsed = parse_sha256_fingerprint(text);
    REQUIRE(parsed);
    return *parsed;
}

}  // namespace

TEST_CASE("a Postfix request is read whole", "[policy_request]") {
    const auto requests = read_all(postfix_request(kSha256, kSha256Key));
    REQUIRE(requests.size() == 1);
    const auto& request = requests.front();
    CHECK(request.attributes.size() == 24);
    CHECK(request.attributes.front() == PolicyAttribute{"request", "smtpd_access_policy"});
    CHECK(request.get("protocol_state") == "RCPT");
    CHECK(request.get("queue_id") == "");  // present and empty is not absent
    CHECK_FALSE(request.get("stress"));
}

TEST_CASE("a request reads the same however the bytes are cut", "[policy_request]") {
    const std::string one = postfix_request(kSha256, kSha256Key);
    const std::string two = postfix_request("", "", "2001:db8::25", "1025");
    const std::string stream = one + two + one;
    const auto whole = read_all(stream);
    REQUIRE(whole.size() == 3);
    CHECK(whole[0] == whole[2]);
    CHECK(whole[1].get("client_address") == "2001:db8::25");

    for (std::size_t step :
         {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{7}, std::size_t{64}, std::size_t{511}}) {
        INFO("chunks of " << step);
        PolicyRequestReader reader;
        std::vector<PolicyRequest> pieces;
        for (std::size_t at = 0; at < stream.size(); at += step) {
            reader.append(std::string_view(stream).substr(at, step));
            for (auto& request : drain(reader)) {
                pieces.push_back(std::move(request));
            }
        }
        CHECK_FALSE(reader.failed());
        CHECK(pieces == whole);
        // Nothing of a request is left buffered: a lone empty line now is an
        // empty request of its own, not the end of a half-read one.
        reader.append("\n");
        const auto after = reader.next();
        REQUIRE(after);
        CHECK(after->attributes.empty());
    }
}

TEST_CASE("a request is not complete before its empty line", "[policy_request]") {
    PolicyRequestReader reader;
    reader.append("request=smtpd_access_policy\nclient_address=192.0.2.1\n");
    CHECK_FALSE(reader.next());
    CHECK_FALSE(reader.failed());
    reader.append("\n");
    const auto request = reader.next();
    REQUIRE(request);
    CHECK(request->attributes.size() == 2);
    // Nothing left over: the next empty line is an empty request.
    reader.append("\n");
    const auto empty = reader.next();
    REQUIRE(empty);
    CHECK(empty->attributes.empty());
}

TEST_CASE("policy lines: values may hold '=', CRLF is tolerated, an empty line is an empty request",
          "[policy_request]") {
    const auto requests = read_all("sasl_username=a=b==\r\nsender=\r\n\r\n\n");
    REQUIRE(requests.size() == 2);
    CHECK(requests[0].get("sasl_username") == "a=b==");
    CHECK(requests[0].get("sender") == "");
    CHECK(requests[1].attributes.empty());
}

TEST_CASE("the last of repeated attributes counts", "[policy_request]") {
    const auto requests = read_all("client_port=1\nclient_port=2\n\n");
    REQUIRE(requests.size() == 1);
    CHECK(requests[0].get("client_port") == "2");
}

TEST_CASE("malformed policy lines break the protocol", "[policy_request]") {
    CHECK(error_of("request smtpd_access_policy\n\n") == "a line without '='");
    CHECK(error_of("=value\n\n") == "an attribute without a name");
    CHECK(error_of(std::string("sender=a\0b\n\n", 12)) == "a NUL byte in a line");
}

TEST_CASE("policy reader limits", "[policy_request]") {
    const PolicyReaderLimits limits{100, 1000, 10};

    SECTION("a line at the limit is fine, one byte more is not") {
        const std::string at_limit = "n=" + std::string(98, 'x');
        CHECK(read_all(at_limit + "\n\n", limits).size() == 1);
        CHECK(read_all(at_limit + "\r\n\n", limits).size() == 1);
        CHECK(error_of(at_limit + "x\n\n", limits) == "a line longer than 100 bytes");
    }
    SECTION("a long line is refused before its end arrives") {
        PolicyRequestReader reader(limits);
        reader.append("n=" + std::string(99, 'x'));
        CHECK_FALSE(reader.next());
        CHECK_FALSE(reader.failed());  // 101 bytes may still end in CR LF
        reader.append("xx");
        CHECK_FALSE(reader.next());
        CHECK(reader.failed());
        CHECK(reader.error() == "a line longer than 100 bytes");
    }
    SECTION("too many attributes") {
        std::string request;
        for (int i = 0; i < 10; ++i) {
            request += "a=b\n";
        }
        CHECK(read_all(request + "\n", limits).size() == 1);
        CHECK(error_of(request + "a=b\n\n", limits) == "a request with more than 10 attributes");
    }
    SECTION("too many bytes in one request, even in unfinished lines") {
        std::string request;
        for (int i = 0; i < 13; ++i) {
            request += "n=" + std::string(80, 'x') + "\n";  // 83 bytes each
        }
        CHECK(read_all(request.substr(0, 83 * 10) + "\n", {100, 1000, 100}).size() == 1);
        CHECK(error_of(request + "\n", {100, 1000, 100}) == "a request longer than 1000 bytes");
        CHECK(error_of(request.substr(0, 83 * 11) + "n=" + std::string(90, 'x'), {100, 1000, 100}) ==
              "a request longer than 1000 bytes");
    }
    SECTION("the request limit is per request") {
        std::string stream;
        for (int i = 0; i < 50; ++i) {
            stream += "n=" + std::string(80, 'x') + "\n\n";
        }
        CHECK(read_all(stream, limits).size() == 50);
    }
}

TEST_CASE("a broken stream stays broken, requests before the break are kept", "[policy_request]") {
    PolicyRequestReader reader;
    reader.append("a=1\n\nbroken\na=2\n\n");
    const auto first = reader.next();
    REQUIRE(first);
    CHECK(first->get("a") == "1");
    CHECK_FALSE(reader.next());
    CHECK(reader.failed());
    reader.append("a=3\n\n");
    CHECK_FALSE(reader.next());
    CHECK(reader.error() == "a line without '='");
}

TEST_CASE("client TLS from a policy request", "[policy_request]") {
    SECTION("SHA-256 fingerprints and the client") {
        const auto request = read_all(postfix_request(kSha256, kSha256Key)).at(0);
        const auto tls = client_tls_from(request);
        REQUIRE(tls.client);
        CHECK(tls.client->address == "192.0.2.7");
        CHECK(tls.client->port == "54321");
        CHECK(tls.fingerprints.certificate == digest(kSha256));
        CHECK(tls.fingerprints.public_key == digest(kSha256Key));
        CHECK(tls.unusable.empty());
    }
    SECTION("no client certificate: nothing, and nothing to complain about") {
        const auto tls = client_tls_from(read_all(postfix_request("", "")).at(0));
        CHECK(tls.client);
        CHECK(tls.fingerprints.empty());
        CHECK(tls.unusable.empty());
    }
    SECTION("MD5 fingerprints are reported, never silently dropped") {
        const auto tls = client_tls_from(read_all(postfix_request(kMd5, kMd5)).at(0));
        CHECK(tls.fingerprints.empty());
        REQUIRE(tls.unusable.size() == 2);
        CHECK(tls.unusable[0].attribute == "ccert_fingerprint");
        CHECK(tls.unusable[0].value == kMd5);
        CHECK(tls.unusable[0].why == "a 16-byte digest (MD5?), not SHA-256");
        CHECK(tls.unusable[1].attribute == "ccert_pubkey_fingerprint");
    }
    SECTION("SHA-1, garbage and a malformed SHA-256 are each reported as such") {
        const std::string sha1 = "A9:99:3E:36:47:06:81:6A:BA:3E:25:71:78:50:C2:6C:9C:D0:D8:9D";
        std::string malformed(kSha256);
        malformed.erase(2, 1);  // "E3B0:C4:..."
        CHECK(client_tls_from(read_all(postfix_request(sha1, "zz")).at(0)).unusable.at(0).why ==
              "a 20-byte digest (SHA-1?), not SHA-256");
        CHECK(client_tls_from(read_all(postfix_request(sha1, "zz")).at(0)).unusable.at(1).why == "not a hex digest");
        CHECK(client_tls_from(read_all(postfix_request(malformed, "")).at(0)).unusable.at(0).why ==
              "a malformed 32-byte digest");
        CHECK(client_tls_from(read_all(postfix_request("ABC", "")).at(0)).unusable.at(0).why == "not a hex digest");
    }
    SECTION("one usable, one not") {
        const auto tls = client_tls_from(read_all(postfix_request(kMd5, kSha256Key)).at(0));
        CHECK_FALSE(tls.fingerprints.certificate);
        CHECK(tls.fingerprints.public_key == digest(kSha256Key));
        REQUIRE(tls.unusable.size() == 1);
        CHECK(tls.unusable[0].attribute == "ccert_fingerprint");
    }
    SECTION("no client_port (Postfix before 3.0) or an empty one: no client") {
        CHECK_FALSE(client_tls_from(
                        read_all("client_address=192.0.2.1\nccert_fingerprint=" + std::string(kSha256) + "\n\n").at(0))
                        .client);
        const auto tls = client_tls_from(read_all(postfix_request(kSha256, "", "192.0.2.1", "")).at(0));
        CHECK_FALSE(tls.client);
        CHECK(tls.fingerprints.certificate);
    }
}
