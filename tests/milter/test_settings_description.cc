// The settings line of each process (milter/settings_description.h): the
// DMARC stage's process describes the DMARC stage, not stage 1, at start-up
// and in its "reloaded:" line.
#include <catch2/catch.hpp>

#include "settings_description.h"

using namespace mtls;
using namespace mtls::milter;

namespace {

Settings dmarc_settings() {
    Settings settings = default_settings();
    settings.authserv_id = "mx.example.net";
    settings.socket = parse_listen_address("inet:8891@127.0.0.1").value();
    settings.dmarc.socket = parse_listen_address("unix:/run/mtls/dmarc.sock").value();
    settings.dmarc.other_authserv_ids = {"dkim.example.net"};
    settings.dmarc.mtls = dmarc::MtlsMode::report_only;
    settings.dmarc.mtls_helo = false;
    settings.dmarc.enforce = true;
    settings.dmarc.tempfail_on_temperror = true;
    return settings;
}

}  // namespace

TEST_CASE("settings line: the DMARC stage's process names the DMARC stage's settings") {
    const auto text = describe_dmarc_stage(dmarc_settings());
    INFO(text);
    CHECK(text.starts_with("dmarc-socket=unix:/run/mtls/dmarc.sock authserv-id=mx.example.net "));
    CHECK(text.find("trusted-authserv-ids=[mx.example.net, dkim.example.net]") != std::string::npos);
    CHECK(text.find("dmarc-mtls=report-only dmarc-mtls-helo=no dmarc-enforce=yes dmarc-on-temperror=tempfail") !=
          std::string::npos);
    // Nothing of stage 1's own: its socket, on-fail, Client MX type.
    CHECK(text.find("inet:8891") == std::string::npos);
    CHECK(text.find("on-fail=") == std::string::npos);
    CHECK(text.find("client-mx-type=") == std::string::npos);
}

TEST_CASE("settings line: stage 1's process names its own, and where the DMARC stage listens") {
    const auto text = describe_milter(dmarc_settings());
    INFO(text);
    CHECK(text.starts_with("socket=inet:8891@[127.0.0.1] authserv-id=mx.example.net "));
    CHECK(text.find("on-fail=tag") != std::string::npos);
    CHECK(text.find("dmarc-socket=unix:/run/mtls/dmarc.sock") != std::string::npos);
    CHECK(text.find("dmarc-enforce=") == std::string::npos);
}

TEST_CASE("settings line: a DMARC stage with defaults") {
    Settings settings = default_settings();
    settings.authserv_id = "mx.example.net";
    settings.dmarc.socket = parse_listen_address("inet:8893@127.0.0.1").value();
    CHECK(describe_dmarc_stage(settings).find("dmarc-mtls=substitute dmarc-mtls-helo=yes dmarc-enforce=no "
                                              "dmarc-on-temperror=accept") != std::string::npos);
}
