// The policy delegation server on real sockets: answers, what reaches the
// session store, what is logged, and how misbehaving clients are cut off
// without disturbing the others.
#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>
#include <array>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/unique_fd.h"
#include "fingerprint_listener.h"
#include "test_sockets.h"

using namespace mtls;
using namespace mtls::milter;
using namespace mtls::test;
using namespace std::chrono_literals;

namespace {

constexpr std::string_view kDunno = "action=DUNNO\n\n";
constexpr std::string_view kSha256 =
    "E3:B0:C4:42:98:FC:1C:14:9A:FB:F4:C8:99:6F:B9:24:27:AE:41:E4:64:9B:93:4C:A4:95:99:1B:78:52:B8:55";
constexpr std::string_view kSha256Key =
    "2C:26:B4:6B:68:FF:C6:8F:F9:9B:45:3C:1D:30:41:34:13:42:2D:70:64:83:BF:A0:F9:8A:5E:88:62:66:E7:AE";
constexpr std::string_view kMd5 = "C2:9D:F4:87:71:73:73:D9:18:E7:C2:F3:C1:DA:6E:04";

std::string request(std::string_view address, std::string_view port, std::string_view fingerprint,
                    std::string_view pubkey, std::string_view state = "RCPT") {
    return "request=smtpd_access_policy\nprotocol_state=" + std::string(state) +
           "\nprotocol_name=ESMTP\nclient_address=" + std::string(address) +
           "\nclient_name=out1.example.test\nsender=alice@example.test\nrecipient=bob@example.org\n"
           "ccert_subject=\nccert_issuer=\nccert_fingerprint=" +
           std::string(fingerprint) + "\nccert_pubkey_fingerprint=" + std::string(pubkey) +
           "\nencryption_protocol=TLSv1.3\nclient_port=" + std::string(port) + "\nserver_port=25\n\n";
}

std::shared_ptr<FingerprintStore> new_store() {
    return std::make_shared<FingerprintStore>(FingerprintStore::Limits{100, std::chrono::seconds(3600)});
}

Fingerprints expected_fingerprints() {
    return Fingerprints{parse_sha256_fingerprint(kSha256), parse_sha256_fingerprint(kSha256Key)};
}

// The server counts clients on its own thread: wait for it to catch up.
bool wait_for_clients(const FingerprintListener& server, std::size_t wanted) {
    for (int i = 0; i < 500; ++i) {
        if (server.clients() == wanted) {
            return true;
        }
        std::this_thread::sleep_for(10ms);
    }
    return false;
}

}  // namespace

TEST_CASE("policy server: many requests on one unix connection, all DUNNO, fingerprints recorded", "[policy_server]") {
    const TempDir dir;
    const auto path = dir.file("policy.sock");
    auto store = new_store();
    LogCapture log;
    const auto since = StoreClock::now();
    {
        const FingerprintListener server(unix_address(path), store, log.sink());
        CHECK(server.port() == 0);
        const auto client = connect_unix(path);

        send_all(client, request("192.0.2.7", "54321", kSha256, kSha256Key));
        CHECK(receive(client, kDunno.size()) == kDunno);
        // Recorded before the answer was sent.
        CHECK(store->find(*Endpoint::parse("192.0.2.7", "54321"), since, StoreClock::now()) == expected_fingerprints());

        // Two more in one write, one of them for an IPv6 client, and one in
        // pieces: one answer each, in order.
        send_all(client, request("2001:db8::25", "1025", "", kSha256Key, "MAIL") + "request=smtpd_access_policy\n\n");
        CHECK(receive(client, 2 * kDunno.size()) == std::string(kDunno) + std::string(kDunno));
        const std::string split = request("192.0.2.8", "2000", kSha256, "");
        send_all(client, split.substr(0, 100));
        CHECK(receive(client, 1, 200).empty());
        send_all(client, split.substr(100));
        CHECK(receive(client, kDunno.size()) == kDunno);

        const auto v6 = store->find(*Endpoint::parse("IPv6:2001:db8::25", "1025"), since, StoreClock::now());
        REQUIRE(v6);
        CHECK_FALSE(v6->certificate);
        CHECK(v6->public_key == parse_sha256_fingerprint(kSha256Key));
        CHECK(store->size() == 3);
        CHECK(log.all().empty());  // nothing unusual happened

        // A second connection at the same time, as Postfix opens them.
        const auto other = connect_unix(path);
        send_all(other, request("192.0.2.9", "3000", "", ""));
        CHECK(receive(other, kDunno.size()) == kDunno);
        CHECK(store->size() == 3);  // no certificate, nothing recorded
        struct stat info {};
        CHECK(lstat(path.c_str(), &info) == 0);
    }
    struct stat info {};
    CHECK(lstat(path.c_str(), &info) != 0);  // removed at shutdown
}

TEST_CASE("policy server: MD5 fingerprints are answered and logged once per connection", "[policy_server]") {
    auto store = new_store();
    LogCapture log;
    const FingerprintListener server(loopback_any_port(), store, log.sink());
    REQUIRE(server.port() != 0);
    const auto client = connect_loopback(server.port());
    for (int i = 0; i < 3; ++i) {
        send_all(client, request("192.0.2.7", std::to_string(1000 + i), kMd5, kMd5));
        CHECK(receive(client, kDunno.size()) == kDunno);
    }
    CHECK(store->size() == 0);
    CHECK(log.count("set smtpd_tls_fingerprint_digest = sha256") == 1);
    CHECK(log.count("MD5") == 1);

    const auto second = connect_loopback(server.port());
    send_all(second, request("192.0.2.7", "1003", kMd5, kSha256Key));
    CHECK(receive(second, kDunno.size()) == kDunno);
    CHECK(log.count("set smtpd_tls_fingerprint_digest = sha256") == 2);
    CHECK(store->size() == 1);  // the SHA-256 one is still used
}

TEST_CASE("policy server: attacker text in logged values is escaped", "[policy_server]") {
    auto store = new_store();
    LogCapture log;
    const FingerprintListener server(loopback_any_port(), store, log.sink());
    const auto client = connect_loopback(server.port());
    send_all(client, request("192.0.2.7\x1b[31m", "1\r2", "zz\x7f", ""));
    CHECK(receive(client, kDunno.size()) == kDunno);
    send_all(client, request("not-an-address", "1", kSha256, ""));
    CHECK(receive(client, kDunno.size()) == kDunno);
    const auto lines = log.all();
    REQUIRE(lines.size() == 2);
    for (const auto& line : lines) {
        INFO(line);
        CHECK(line.find_first_of("\x1b\r\n\x7f") == std::string::npos);
    }
    CHECK(log.count("unusable client address or port") == 1);
    CHECK(store->size() == 0);
}

TEST_CASE("policy server: fingerprints without client_port are logged, not recorded", "[policy_server]") {
    auto store = new_store();
    LogCapture log;
    const FingerprintListener server(loopback_any_port(), store, log.sink());
    const auto client = connect_loopback(server.port());
    for (int i = 0; i < 2; ++i) {
        send_all(client, "client_address=192.0.2.1\nccert_fingerprint=" + std::string(kSha256) + "\n\n");
        CHECK(receive(client, kDunno.size()) == kDunno);
    }
    CHECK(store->size() == 0);
    CHECK(log.count("no client_address or client_port") == 1);
}

TEST_CASE("policy server: a protocol error closes that client only", "[policy_server]") {
    auto store = new_store();
    LogCapture log;
    FingerprintListener::Limits limits;
    limits.reader.max_line = 1000;
    const FingerprintListener server(loopback_any_port(), store, log.sink(), limits);
    const auto good = connect_loopback(server.port());
    const auto bad = connect_loopback(server.port());
    REQUIRE(wait_for_clients(server, 2));

    SECTION("a line too long") {
        send_all(bad, "sender=" + std::string(5000, 'a'));
        CHECK(closed_by_server(bad));
        CHECK(log.count("a line longer than 1000 bytes") == 1);
    }
    SECTION("a line without '=', after a good request that still gets its answer") {
        send_all(bad, request("192.0.2.1", "1", kSha256, "") + "garbage\n\n");
        CHECK(receive(bad, kDunno.size()) == kDunno);
        CHECK(closed_by_server(bad));
        CHECK(log.count("broke the protocol (a line without '=')") == 1);
    }
    CHECK(wait_for_clients(server, 1));
    send_all(good, request("192.0.2.2", "2", kSha256, kSha256Key));
    CHECK(receive(good, kDunno.size()) == kDunno);
    CHECK(store->find(*Endpoint::parse("192.0.2.2", "2"), {}, StoreClock::now()) == expected_fingerprints());
}

TEST_CASE("policy server: connections beyond max_clients are closed at once", "[policy_server]") {
    auto store = new_store();
    LogCapture log;
    FingerprintListener::Limits limits;
    limits.max_clients = 2;
    const FingerprintListener server(loopback_any_port(), store, log.sink(), limits);
    const auto first = connect_loopback(server.port());
    const auto second = connect_loopback(server.port());
    REQUIRE(wait_for_clients(server, 2));
    const auto third = connect_loopback(server.port());
    CHECK(closed_by_server(third));
    CHECK(log.count("2 connections open, refusing more") == 1);
    for (const UniqueFd* client : {&first, &second}) {
        send_all(*client, request("192.0.2.1", "1", "", ""));
        CHECK(receive(*client, kDunno.size()) == kDunno);
    }
}

TEST_CASE("policy server: idle connections are closed", "[policy_server]") {
    auto store = new_store();
    LogCapture log;
    FingerprintListener::Limits limits;
    limits.idle_timeout = 300ms;
    const FingerprintListener server(loopback_any_port(), store, log.sink(), limits);
    const auto idle = connect_loopback(server.port());
    const auto busy = connect_loopback(server.port());
    const auto start = std::chrono::steady_clock::now();
    CHECK_FALSE(closed_by_server(idle, 100));  // not before its time
    // Activity keeps a connection open past the idle timeout.
    for (int i = 0; i < 4; ++i) {
        std::this_thread::sleep_for(100ms);
        send_all(busy, request("192.0.2.1", "1", "", ""));
        CHECK(receive(busy, kDunno.size()) == kDunno);
    }
    CHECK(closed_by_server(idle, 2000));
    CHECK(std::chrono::steady_clock::now() - start >= 300ms);
    send_all(busy, request("192.0.2.1", "1", "", ""));
    CHECK(receive(busy, kDunno.size()) == kDunno);
    CHECK(closed_by_server(busy, 2000));
}

TEST_CASE("policy server: a client that never reads its answers is dropped", "[policy_server]") {
    const TempDir dir;
    const auto path = dir.file("policy.sock");
    auto store = new_store();
    LogCapture log;
    FingerprintListener::Limits limits;
    limits.max_unsent = 10 * kDunno.size();
    const FingerprintListener server(unix_address(path), store, log.sink(), limits);

    // A burst of requests is fine while the answers fit in the socket.
    const auto reader = connect_unix(path);
    send_all(reader, std::string(1000, '\n'));
    CHECK(receive(reader, 1000 * kDunno.size()).size() == 1000 * kDunno.size());
    CHECK(log.all().empty());

    // Empty requests, each answered: far more answers (14 MB) than a unix
    // socket buffers, and the client reads none of them.
    const auto client = connect_unix(path);
    send_all(client, std::string(1000000, '\n'));
    CHECK(closed_by_server(client));
    CHECK(log.count("does not read its answers") == 1);
}

TEST_CASE("policy server: the unix socket path", "[policy_server]") {
    const TempDir dir;
    auto store = new_store();
    LogCapture log;

    SECTION("a stale socket is replaced") {
        const auto path = dir.file("stale.sock");
        { const FingerprintListener first(unix_address(path), store, log.sink()); }
        // Leave a socket file nobody listens on, as a crash would.
        UniqueFd leftover(socket(AF_UNIX, SOCK_STREAM, 0));
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
        REQUIRE(bind(leftover.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
        const FingerprintListener server(unix_address(path), store, log.sink());
        const auto client = connect_unix(path);
        send_all(client, request("192.0.2.1", "1", "", ""));
        CHECK(receive(client, kDunno.size()) == kDunno);
    }
    SECTION("a live socket is not taken over") {
        const auto path = dir.file("live.sock");
        const FingerprintListener server(unix_address(path), store, log.sink());
        CHECK_THROWS_WITH(FingerprintListener(unix_address(path), store, log.sink()),
                          Catch::Contains("another process listens on it"));
        const auto client = connect_unix(path);  // the first one still serves
        send_all(client, request("192.0.2.1", "1", "", ""));
        CHECK(receive(client, kDunno.size()) == kDunno);
    }
    SECTION("a file that is no socket is left alone") {
        const auto path = dir.file("config.txt");
        std::ofstream(path) << "keep me\n";
        CHECK_THROWS_WITH(FingerprintListener(unix_address(path), store, log.sink()),
                          Catch::Contains("exists and is not a socket"));
        CHECK(policy_socket_problems(unix_address(path)).size() == 1);
        std::ifstream file(path);
        std::string line;
        CHECK((std::getline(file, line) && line == "keep me"));
    }
    SECTION("a missing directory is a clear start-up error") {
        const auto path = dir.file("missing/policy.sock");
        CHECK_THROWS_WITH(FingerprintListener(unix_address(path), store, log.sink()),
                          Catch::Contains("policy-socket unix:" + path) && Catch::Contains("No such file"));
        const auto problems = policy_socket_problems(unix_address(path));
        REQUIRE(problems.size() == 1);
        CHECK(problems[0] == "policy-socket unix:" + path + ": the directory does not exist");
    }
    SECTION("a path too long for a unix socket") {
        const auto path = dir.file(std::string(120, 'p'));
        CHECK_THROWS_WITH(FingerprintListener(unix_address(path), store, log.sink()), Catch::Contains("path too long"));
        CHECK_FALSE(policy_socket_problems(unix_address(path)).empty());
    }
    CHECK(policy_socket_problems(unix_address(dir.file("fine.sock"))).empty());
}

TEST_CASE("policy server: an address in use is a clear start-up error", "[policy_server]") {
    auto store = new_store();
    LogCapture log;
    const FingerprintListener first(loopback_any_port(), store, log.sink());
    ListenAddress same;
    same.inet = Endpoint{*IpAddress::parse("127.0.0.1"), first.port()};
    CHECK_THROWS_WITH(
        FingerprintListener(same, store, log.sink()),
        Catch::Contains(fmt::format("policy-socket inet:{}@127.0.0.1", first.port())) && Catch::Contains("in use"));
    CHECK(to_string(same) == fmt::format("inet:{}@127.0.0.1", first.port()));
}

TEST_CASE("policy server: stops promptly with clients connected", "[policy_server]") {
    auto store = new_store();
    LogCapture log;
    auto server = std::make_unique<FingerprintListener>(loopback_any_port(), store, log.sink());
    const auto client = connect_loopback(server->port());
    send_all(client, "request=smtpd_access_policy\n");  // in mid-request
    REQUIRE(wait_for_clients(*server, 1));
    const auto start = std::chrono::steady_clock::now();
    server.reset();
    CHECK(std::chrono::steady_clock::now() - start < 1s);
    CHECK(closed_by_server(client, 1000));
}
