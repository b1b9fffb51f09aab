// core/server/listen_address: the one parser of the addresses the programs
// listen on (socket, policy-socket, metrics), and the form libmilter's
// smfi_setconn() is given.
#include <catch2/catch.hpp>

#include "server/listen_address.h"

using namespace mtls;

namespace {

std::string milter_form(std::string_view text) {
    const auto parsed = parse_listen_address(text);
    INFO(text);
    REQUIRE(parsed);
    return to_milter_connection(*parsed);
}

}  // namespace

TEST_CASE("listen address: unix and local take an absolute path") {
    const auto unix_socket = parse_listen_address("unix:/run/mtls-milter/mtls-milter.sock");
    REQUIRE(unix_socket);
    CHECK(unix_socket->unix_path == "/run/mtls-milter/mtls-milter.sock");
    CHECK(milter_form("unix:/run/x.sock") == "unix:/run/x.sock");
    CHECK(milter_form("local:/run/x.sock") == "unix:/run/x.sock");
    CHECK(milter_form("unix:/var/spool/postfix/mtls/a b.sock") == "unix:/var/spool/postfix/mtls/a b.sock");
    for (const auto* bad : {"unix:", "local:", "unix:run/x.sock", "local:x", "unix:./x", "UNIX:/run/x.sock"}) {
        INFO(bad);
        CHECK_FALSE(parse_listen_address(bad));
    }
}

TEST_CASE("listen address: inet and inet6 take a port and a literal address") {
    const auto v4 = parse_listen_address("inet:8894@127.0.0.1");
    REQUIRE(v4);
    CHECK(v4->unix_path.empty());
    CHECK(v4->inet.port == 8894);
    CHECK(v4->inet.address.family() == IpAddress::Family::v4);
    CHECK(v4->inet.address.to_string() == "127.0.0.1");

    const auto v6 = parse_listen_address("inet6:8894@[2001:DB8::1]");
    REQUIRE(v6);
    CHECK(v6->inet.port == 8894);
    CHECK(v6->inet.address.family() == IpAddress::Family::v6);
    CHECK(v6->inet.address.to_string() == "2001:db8::1");

    // Brackets are optional on input; the family follows the address.
    CHECK(milter_form("inet:8894@127.0.0.1") == "inet:8894@[127.0.0.1]");
    CHECK(milter_form("inet:8894@[127.0.0.1]") == "inet:8894@[127.0.0.1]");
    CHECK(milter_form("inet6:8894@::1") == "inet6:8894@[::1]");
    CHECK(milter_form("inet6:8894@[::1]") == "inet6:8894@[::1]");
    CHECK(milter_form("inet:8894@::1") == "inet6:8894@[::1]");
    CHECK(milter_form("inet6:8894@192.0.2.1") == "inet:8894@[192.0.2.1]");
    CHECK(milter_form("inet:1@0.0.0.0") == "inet:1@[0.0.0.0]");
    CHECK(milter_form("inet:65535@127.0.0.1") == "inet:65535@[127.0.0.1]");
    CHECK(milter_form("inet6:25@2001:db8:0:0:0:0:0:1") == "inet6:25@[2001:db8::1]");
}

TEST_CASE("listen address: written back as the option is written") {
    CHECK(to_string(parse_listen_address("local:/run/x.sock").value()) == "unix:/run/x.sock");
    CHECK(to_string(parse_listen_address("inet:8894@[127.0.0.1]").value()) == "inet:8894@127.0.0.1");
    CHECK(to_string(parse_listen_address("inet6:8894@[2001:DB8::1]").value()) == "inet6:8894@2001:db8::1");
}

TEST_CASE("listen address: what is refused") {
    for (const auto* bad : {
             "",
             "8894",
             "tcp:8894@127.0.0.1",
             "INET:8894@127.0.0.1",
             "inet:8894",  // libmilter would listen on every address
             "inet:8894@",
             "inet:@127.0.0.1",
             "inet:0@127.0.0.1",
             "inet:65536@127.0.0.1",
             "inet:123456@127.0.0.1",
             "inet:-1@127.0.0.1",
             "inet:+25@127.0.0.1",
             "inet: 25@127.0.0.1",
             "inet:0x19@127.0.0.1",
             "inet:smtp@127.0.0.1",
             "inet:8894@localhost",  // host names: libmilter would resolve them
             "inet:8894@mx.example.org",
             "inet:8894@127.0.0.1:25",
             "inet:8894@127.0.0.1 ",
             "inet:8894@127.1",
             "inet6:8894@[::1",
             "inet6:8894@::1]",
             "inet6:8894@[[::1]]",
             "inet6:8894@[::1]x",
             "inet6:8894@fe80::1%eth0",
             "inet:8894@1.2.3.4@5.6.7.8",
         }) {
        INFO(bad);
        CHECK_FALSE(parse_listen_address(bad));
    }
}

TEST_CASE("endpoint: IPv4:PORT and [IPv6]:PORT") {
    const auto v4 = parse_endpoint("127.0.0.1:9700");
    REQUIRE(v4);
    CHECK(v4->port == 9700);
    CHECK(to_string(*v4) == "127.0.0.1:9700");
    const auto v6 = parse_endpoint("[::1]:9701");
    REQUIRE(v6);
    CHECK(v6->port == 9701);
    CHECK(to_string(*v6) == "[::1]:9701");
    CHECK(to_string(parse_endpoint("[2001:DB8::1]:1").value()) == "[2001:db8::1]:1");
    for (const auto* bad : {"", "9700", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "localhost:9700",
                            ":9700", "[::1]9700", "[::1]:", "[::1", "::1:9700", "2001:db8::1:9700", "[127.0.0.1]x:1",
                            "127.0.0.1:97 00", "[localhost]:9700"}) {
        INFO(bad);
        CHECK_FALSE(parse_endpoint(bad));
    }
}

TEST_CASE("endpoint: as Postfix names a client") {
    const auto plain = Endpoint::parse("192.0.2.1", "54321");
    REQUIRE(plain);
    CHECK(plain->port == 54321);
    CHECK(Endpoint::parse("IPv6:2001:db8::1", "25") == Endpoint::parse("2001:db8::1", "25"));
    CHECK(Endpoint::parse("ipv6:2001:DB8::1", "25") == Endpoint::parse("2001:db8::1", "25"));
    CHECK_FALSE(Endpoint::parse("IPv6:192.0.2.1", "25"));
    CHECK_FALSE(Endpoint::parse("192.0.2.1", "0"));
    CHECK_FALSE(Endpoint::parse("192.0.2.1", "65536"));
    CHECK_FALSE(Endpoint::parse("host.example", "25"));
    CHECK_FALSE(Endpoint::parse("192.0.2.1", ""));
}
