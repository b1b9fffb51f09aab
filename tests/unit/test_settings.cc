// Settings: the option table (core/options/setting_options.cc) -> program_options -> validated Settings, from the
// command line and a config file.
#include <catch2/catch.hpp>

#include <syslog.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cstdlib>
#include <fstream>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "options/settings.h"

using namespace mtls;
namespace po = boost::program_options;
using namespace std::chrono_literals;

namespace {

po::options_description all_options() {
    po::options_description description;
    add_options(description, std::span(&kConfigOption, 1));
    add_options(description, setting_specs());
    return description;
}

// The milter's order: the command line first, then --config under it.
po::variables_map parse(const std::vector<std::string>& args) {
    const auto description = all_options();
    po::variables_map variables;
    po::store(po::command_line_parser(join_boolean_values(args, setting_specs())).options(description).run(),
              variables);
    if (variables.count("config") != 0U) {
        load_config_file(variables["config"].as<std::string>(), description, variables);
    }
    po::notify(variables);
    return variables;
}

Settings settings(const std::vector<std::string>& args, bool include_daemon = true) {
    return settings_from(parse(args), include_daemon ? kMilter : kCheck);
}

// The message of the SettingsError thrown, or a failed test.
std::string settings_error(const std::vector<std::string>& args, bool include_daemon = true) {
    try {
        (void)settings(args, include_daemon);
    } catch (const SettingsError& error) {
        return error.what();
    }
    std::string joined;
    for (const auto& arg : args) {
        joined += " '" + arg + "'";
    }
    FAIL("no SettingsError for" << joined);
    return {};
}

// "--name=value"; an empty value as a separate word, which program_options
// accepts where "--name=" is refused.
std::vector<std::string> option(const std::string& name, const std::string& value) {
    if (value.empty()) {
        return {"--" + name, ""};
    }
    return {"--" + name + "=" + value};
}

IpAddress ip(std::string_view text) {
    auto address = IpAddress::parse(text);
    REQUIRE(address);
    return *address;
}

// A config file that removes itself.
class TempFile {
public:
    explicit TempFile(const std::string& content) {
        std::string pattern = "/tmp/mtls-unit-XXXXXX";
        const int fd = mkstemp(pattern.data());
        REQUIRE(fd >= 0);
        close(fd);
        path_ = pattern;
        std::ofstream out(path_);
        out << content;
    }
    ~TempFile() { unlink(path_.c_str()); }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    [[nodiscard]] const std::string& path() const { return path_; }

private:
    std::string path_;
};

}  // namespace

TEST_CASE("every option is an option of its programs", "[settings]") {
    po::options_description engine;
    add_options(engine, setting_specs_for(kCheck));
    po::options_description daemon;
    add_options(daemon, setting_specs_for(kMilter));
    for (const auto& option : setting_specs()) {
        const std::string name(option.name);
        INFO("option " << name);
        CHECK((daemon.find_nothrow(name, false) != nullptr) == ((option.programs & kMilter) != 0U));
        CHECK((engine.find_nothrow(name, false) != nullptr) == ((option.programs & kCheck) != 0U));
        CHECK_FALSE(option.help.empty());
        CHECK_FALSE(option.placeholder.empty());
    }
    CHECK(kConfigOption.programs == (kMilter | kCheck | kTlsPolicy));
}

TEST_CASE("every option is accepted on the command line and in a config file", "[settings]") {
    for (const auto& option : setting_specs()) {
        const std::string name(option.name);
        INFO("option " << name);
        const std::string value = option.default_value.empty() ? "x" : std::string(option.default_value);
        CHECK_NOTHROW(parse({"--" + name + "=" + value}));
        const TempFile file(name + " = " + value + "\n");
        CHECK_NOTHROW(parse({"--config", file.path()}));
    }
}

TEST_CASE("the defaults", "[settings]") {
    const auto s = settings({});
    CHECK(s.authenticator.client_mx_type == 265);
    CHECK(s.authenticator.dns_timeout == 5000ms);
    CHECK(s.policy.on_fail == Action::tag);
    CHECK(s.policy.on_temperror == Action::tag);
    CHECK(s.ignore_hosts.contains(ip("127.0.0.1")));
    CHECK(s.ignore_hosts.contains(ip("127.255.0.1")));
    CHECK(s.ignore_hosts.contains(ip("::1")));
    CHECK_FALSE(s.ignore_hosts.contains(ip("192.0.2.1")));
    CHECK(s.skip_authenticated);
    CHECK_FALSE(s.authenticator.verdict.require_dnssec);
    CHECK_FALSE(s.authenticator.verdict.allow_wildcards);
    CHECK(s.authserv_id == local_host_name());
    CHECK_FALSE(s.authserv_id.empty());
    CHECK(to_milter_connection(s.socket) == "unix:/run/mtls-milter/mtls-milter.sock");
    CHECK(s.unbound.trust_anchor_file == kDefaultTrustAnchor);
    CHECK(s.unbound.config_file.empty());
    CHECK_FALSE(s.log_json);
    CHECK(s.syslog);
    CHECK(s.syslog_facility == LOG_MAIL);
    CHECK_FALSE(s.log_stderr);
    CHECK(s.umask == 007);
    CHECK_FALSE(s.foreground);
    CHECK(s.user.empty());
    CHECK(s.pidfile.empty());
}

TEST_CASE("values from the command line", "[settings]") {
    const auto s = settings(
        {"--authserv-id=mx.example.com", "--client-mx-type=65280", "--dns-timeout=2.5", "--require-dnssec=yes",
         "--allow-wildcards=true", "--on-fail=reject", "--on-temperror=tempfail", "--ignore-hosts=192.0.2.0/24",
         "--skip-authenticated=no", "--log-format=json", "--syslog-facility=local3", "--umask=077",
         "--socket=inet:8891@127.0.0.1", "--foreground=on", "--user=mtls", "--pidfile=/run/mtls.pid"});
    CHECK(s.authserv_id == "mx.example.com");
    CHECK(s.authenticator.client_mx_type == 65280);
    CHECK(s.authenticator.dns_timeout == 2500ms);
    CHECK(s.authenticator.verdict.require_dnssec);
    CHECK(s.authenticator.verdict.allow_wildcards);
    CHECK(s.policy.on_fail == Action::reject);
    CHECK(s.policy.on_temperror == Action::tempfail);
    CHECK(s.ignore_hosts.contains(ip("192.0.2.9")));
    CHECK_FALSE(s.ignore_hosts.contains(ip("127.0.0.1")));  // replaced, not added to
    CHECK_FALSE(s.skip_authenticated);
    CHECK(s.log_json);
    CHECK(s.syslog_facility == LOG_LOCAL3);
    CHECK(s.umask == 077);
    CHECK(to_milter_connection(s.socket) == "inet:8891@[127.0.0.1]");
    CHECK(s.foreground);
    CHECK(s.user == "mtls");
    CHECK(s.pidfile == "/run/mtls.pid");
}

TEST_CASE("an empty ignore-hosts exempts nobody", "[settings]") {
    const auto s = settings(option("ignore-hosts", ""));
    CHECK_FALSE(s.ignore_hosts.contains(ip("127.0.0.1")));
    CHECK_FALSE(s.ignore_hosts.contains(ip("::1")));
}

TEST_CASE("invalid values throw SettingsError naming the option", "[settings]") {
    const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
        {"dns-timeout", {"abc", "0", "61", "-1", "", "nan", "inf", "5s", "0.01"}},
        {"client-mx-type", {"0", "255", "41", "70000", "x", "", "-1", "128", "265 ", "0x109"}},
        {"on-fail", {"bounce", "", "rejected"}},
        {"on-temperror", {"reject", "quarantine", "bounce"}},
        {"log-format", {"xml", ""}},
        {"socket",
         {"tcp:1@x", "unix:relative", "inet:0@127.0.0.1", "inet:70000@127.0.0.1", "inet:x@127.0.0.1", "unix:", "",
          "/run/x.sock", "inet:@127.0.0.1"}},
        {"authserv-id", {"a b", "x;y", "a\"b", "(x)"}},
        {"umask", {"9", "1000", "-1", "x", ""}},
        {"require-dnssec", {"maybe", "", "2"}},
        {"allow-wildcards", {"sometimes"}},
        {"skip-authenticated", {"Y"}},
        {"syslog", {"enabled"}},
        {"log-stderr", {"nope"}},
        {"foreground", {"yes please"}},
        {"syslog-facility", {"kern", "local8", ""}},
        {"ignore-hosts", {"127.0.0.0/33", "localhost", "10.0.0.0/8;::1"}},
        {"metrics", {"9700", "localhost:9700", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", "[::1]9700", "::1:x"}},
    };
    for (const auto& [name, values] : cases) {
        for (const auto& value : values) {
            INFO("--" << name << "='" << value << "'");
            const auto message = settings_error(option(name, value));
            CHECK_THAT(message, Catch::Matchers::Contains(name));
        }
    }
}

TEST_CASE("valid edge values", "[settings]") {
    CHECK(settings({"--dns-timeout=60"}).authenticator.dns_timeout == 60000ms);
    CHECK(settings({"--dns-timeout=0.1"}).authenticator.dns_timeout == 100ms);
    CHECK(settings({"--dns-timeout=1"}).authenticator.dns_timeout == 1000ms);
    CHECK(settings({"--client-mx-type=1"}).authenticator.client_mx_type == 1);
    CHECK(settings({"--client-mx-type=65535"}).authenticator.client_mx_type == 65535);
    CHECK(settings({"--client-mx-type=256"}).authenticator.client_mx_type == 256);
    CHECK(settings({"--umask=0"}).umask == 0);
    CHECK(settings({"--umask=777"}).umask == 0777);
    CHECK(to_milter_connection(settings({"--socket=unix:/run/x.sock"}).socket) == "unix:/run/x.sock");
    CHECK(to_milter_connection(settings({"--socket=local:/run/x.sock"}).socket) == "unix:/run/x.sock");
    // libmilter reads the address with inet_pton: the brackets go.
    CHECK(to_milter_connection(settings({"--socket=inet6:25@[::1]"}).socket) == "inet6:25@[::1]");
    CHECK(to_milter_connection(settings({"--socket=inet:65535@127.0.0.1"}).socket) == "inet:65535@[127.0.0.1]");
    // One listen-address parser for every socket (core/server/listen_address.h):
    // a literal IP address, never a host name.
    CHECK_THAT(settings_error({"--socket=inet:65535@localhost"}), Catch::Matchers::Contains("not a host name"));
    CHECK_FALSE(settings({}).metrics.has_value());
    const auto v4 = settings({"--metrics=127.0.0.1:9700"}).metrics;
    REQUIRE(v4.has_value());
    CHECK(v4->address.to_string() == "127.0.0.1");
    CHECK(v4->port == 9700);
    const auto v6 = settings({"--metrics=[::1]:9701"}).metrics;
    REQUIRE(v6.has_value());
    CHECK(v6->address.to_string() == "::1");
    CHECK(v6->port == 9701);
}

TEST_CASE("the engine scope alone ignores daemon options", "[settings]") {
    po::options_description engine;
    add_options(engine, setting_specs_for(kCheck));
    po::variables_map variables;
    const std::vector<std::string> args = {"--authserv-id=mx.example.com", "--dns-timeout=3"};
    po::store(po::command_line_parser(args).options(engine).run(), variables);
    const auto s = settings_from(variables, kCheck);
    CHECK(s.authserv_id == "mx.example.com");
    CHECK(s.authenticator.dns_timeout == 3000ms);

    // Engine options are still validated.
    po::variables_map bad;
    const std::vector<std::string> bad_args = {"--dns-timeout=99"};
    po::store(po::command_line_parser(bad_args).options(engine).run(), bad);
    CHECK_THROWS_AS(settings_from(bad, kCheck), SettingsError);
}

TEST_CASE("a config file sets values, and the command line wins", "[settings]") {
    const TempFile file(
        "# comment\n"
        "authserv-id = mx.example.com\n"
        "dns-timeout = 2\n"
        "on-fail = reject\n"
        "client-mx-type = 65000\n"
        "ignore-hosts = 192.0.2.0/24, 2001:db8::/32\n");

    const auto from_file = settings({"--config", file.path()});
    CHECK(from_file.authserv_id == "mx.example.com");
    CHECK(from_file.authenticator.dns_timeout == 2000ms);
    CHECK(from_file.policy.on_fail == Action::reject);
    CHECK(from_file.authenticator.client_mx_type == 65000);
    CHECK(from_file.ignore_hosts.contains(ip("2001:db8::1")));
    CHECK_FALSE(from_file.ignore_hosts.contains(ip("127.0.0.1")));

    const auto overridden = settings({"--config", file.path(), "--dns-timeout=7", "--on-fail=tempfail"});
    CHECK(overridden.authenticator.dns_timeout == 7000ms);
    CHECK(overridden.policy.on_fail == Action::tempfail);
    CHECK(overridden.authserv_id == "mx.example.com");  // untouched by the command line

    const auto before = settings({"--on-fail=quarantine", "--config", file.path()});
    CHECK(before.policy.on_fail == Action::quarantine);
}

TEST_CASE("invalid values in a config file are reported too", "[settings]") {
    const TempFile file("dns-timeout = forever\n");
    const auto message = settings_error({"--config", file.path()});
    CHECK_THAT(message, Catch::Matchers::Contains("dns-timeout"));
}

TEST_CASE("an unknown option in a config file throws SettingsError", "[settings]") {
    const TempFile file("authserv-id = mx.example.com\nno-such-option = 1\n");
    try {
        (void)parse({"--config", file.path()});
        FAIL("no SettingsError");
    } catch (const SettingsError& error) {
        CHECK_THAT(std::string(error.what()), Catch::Matchers::Contains(file.path()));
    }
}

TEST_CASE("a missing config file throws SettingsError", "[settings]") {
    CHECK_THROWS_AS(parse({"--config", "/nonexistent/mtls-milter.conf"}), SettingsError);
}

TEST_CASE("local_host_name is a usable authserv-id", "[settings]") {
    const auto name = local_host_name();
    CHECK_FALSE(name.empty());
    CHECK(name.find('\0') == std::string::npos);
}

// Found by fuzz/fuzz_settings: Boost.Program_options' error::what() replaces
// placeholders such as "%canonical_option%" with the offending text until
// none is left, and looped forever (memory growing) when that text contained
// a placeholder itself. The parse runs on a thread of its own so that a
// regression fails here instead of hanging the suite.
TEST_CASE("config file text that looks like Boost's message placeholders is reported", "[settings]") {
    for (const std::string content : {"%invalid_line%\n", "x%canonical_option% = 1\n", "%original_token% = 1\n",
                                      "a,rgument ('%v%original_token%.rv-id =///////net\n",
                                      "authserv-id = a\nauthserv-id = %canonical_option%\n"}) {
        INFO("config file: " << content);
        const auto file = std::make_shared<TempFile>(content);
        const auto outcome = std::make_shared<std::promise<std::string>>();
        auto message = outcome->get_future();
        std::thread([file, outcome] {
            try {
                (void)settings({"--config", file->path()});
                outcome->set_value("no SettingsError");
            } catch (const SettingsError& error) {
                outcome->set_value(error.what());
            } catch (...) {
                outcome->set_value("another exception");
            }
        }).detach();
        REQUIRE(message.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
        const auto text = message.get();
        CHECK_THAT(text, Catch::Matchers::StartsWith("config file " + file->path() + ": "));
        CHECK(text.size() < 200);
    }
}

TEST_CASE("command-line errors are described without Boost's placeholder loop", "[settings]") {
    po::options_description description;
    add_options(description, setting_specs_for(kCheck));
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"--x%canonical_option%"}, std::vector<std::string>{"--dns-timeout"}}) {
        INFO(args.front());
        po::variables_map variables;
        try {
            po::store(po::command_line_parser(args).options(description).run(), variables);
            FAIL("no error");
        } catch (const po::error& error) {
            const auto text = describe_options_error(error);
            CHECK_THAT(text, Catch::Matchers::Contains(args.front()));
            CHECK(text.size() < 200);
        }
    }
}

TEST_CASE("a boolean option works bare, with a separate value, with = and in a config file", "[settings]") {
    CHECK(settings({"--foreground"}).foreground);
    CHECK(settings({"--foreground", "yes"}).foreground);
    CHECK_FALSE(settings({"--foreground", "no"}).foreground);
    CHECK_FALSE(settings({"--foreground=no"}).foreground);
    CHECK_FALSE(settings({"--foreground", "off", "--syslog", "no"}).syslog);
    // Bare, followed by another option: that option is not taken as the value.
    const auto bare = settings({"--require-dnssec", "--dns-timeout=3"});
    CHECK(bare.authenticator.verdict.require_dnssec);
    CHECK(bare.authenticator.dns_timeout == 3000ms);
    CHECK_FALSE(settings({"--skip-authenticated", "0"}).skip_authenticated);
    CHECK_THAT(settings_error({"--foreground", "maybe"}), Catch::Matchers::Contains("foreground"));
    const TempFile off("foreground = no\n");
    CHECK_FALSE(settings({"--config", off.path()}).foreground);
    const TempFile on("foreground = yes\n");
    CHECK(settings({"--config", on.path()}).foreground);
    CHECK_FALSE(settings({"--config", on.path(), "--foreground", "no"}).foreground);
}

TEST_CASE("every option has one stage, and the start-up options are those a reload keeps", "[settings]") {
    std::vector<std::string> start;
    for (const auto& option : setting_specs()) {
        if (option.stage == Stage::start) {
            start.emplace_back(option.name);
        }
    }
    CHECK(start == std::vector<std::string>{"socket", "cert-discovery", "cert-discovery-port", "cert-discovery-timeout",
                                            "cert-discovery-networks", "ca-file", "ca-path", "user", "umask", "pidfile",
                                            "foreground", "metrics", "policy-socket", "policy-lifetime",
                                            "policy-max-sessions", "dmarc-socket"});
}

TEST_CASE("a reload keeps the running text of each start-up option and says so", "[settings]") {
    const std::vector<OptionSpec> specs{{.name = "socket", .stage = Stage::start},
                                        {.name = "dns-timeout", .stage = Stage::reload},
                                        {.name = "user", .stage = Stage::start}};
    std::vector<std::string> warnings;
    const auto kept = keep_start_options(specs, {"unix:/new.sock", "3", "mail"}, {"unix:/old.sock", "5", "mail"},
                                         [&warnings](std::string_view warning) { warnings.emplace_back(warning); });
    CHECK(kept == std::vector<std::string>{"unix:/old.sock", "3", "mail"});
    CHECK(warnings == std::vector<std::string>{"reload: socket changes only at restart; keeping the running value"});
}

TEST_CASE("the DMARC stage's options", "[settings]") {
    const auto defaults = settings({});
    CHECK_FALSE(defaults.dmarc.socket.has_value());
    CHECK(defaults.dmarc.mtls == dmarc::MtlsMode::substitute);
    CHECK(defaults.dmarc.mtls_helo);
    CHECK_FALSE(defaults.dmarc.enforce);
    CHECK_FALSE(defaults.dmarc.tempfail_on_temperror);
    CHECK(trusted_authserv_ids(defaults) == std::vector<std::string>{defaults.authserv_id});

    const auto set =
        settings({"--authserv-id", "mx.example.net", "--trusted-authserv-ids",
                  "dkim.example.net, spf.example.net dkim.example.net", "--dmarc-socket", "inet:8896@127.0.0.1",
                  "--dmarc-mtls", "report-only", "--dmarc-on-temperror", "tempfail"});
    CHECK(trusted_authserv_ids(set) ==
          std::vector<std::string>{"mx.example.net", "dkim.example.net", "spf.example.net"});
    CHECK(set.dmarc.socket.has_value());
    CHECK(set.dmarc.mtls == dmarc::MtlsMode::report_only);
    CHECK(set.dmarc.tempfail_on_temperror);
    CHECK_THAT(settings_error({"--trusted-authserv-ids", "a;b"}), Catch::Matchers::Contains("trusted-authserv-ids"));
    CHECK_THAT(settings_error({"--dmarc-mtls", "always"}), Catch::Matchers::Contains("dmarc-mtls"));
}

TEST_CASE("on-internal-error: tempfail by default, accept on request, nothing else", "[settings]") {
    CHECK(settings({}).policy.on_internal_error == InternalErrorAction::tempfail);
    CHECK(settings(option("on-internal-error", "accept")).policy.on_internal_error == InternalErrorAction::accept);
    CHECK(settings(option("on-internal-error", "tempfail")).policy.on_internal_error == InternalErrorAction::tempfail);
    for (const auto* bad : {"", "tag", "continue", "reject"}) {
        INFO("on-internal-error '" << bad << "'");
        CHECK_THAT(settings_error(option("on-internal-error", bad)), Catch::Matchers::Contains("on-internal-error"));
    }
}

TEST_CASE("cert-discovery: off by default, connect-back on request, with its bounds", "[settings]") {
    const auto defaults = settings({});
    CHECK_FALSE(defaults.cert_discovery.enabled);
    CHECK(defaults.cert_discovery.port == 25);
    CHECK(defaults.cert_discovery.timeout == std::chrono::seconds(30));
    CHECK_FALSE(defaults.cert_discovery.networks.contains(*IpAddress::parse("10.0.0.1")));
    CHECK(defaults.trust_anchors.ca_file.empty());
    CHECK(defaults.trust_anchors.ca_path.empty());

    const auto on =
        settings({"--cert-discovery", "connect-back", "--cert-discovery-port", "2525", "--cert-discovery-networks",
                  "10.0.0.0/8, 192.168.1.1", "--ca-file", "/etc/roots.pem", "--ca-path", "/etc/roots"});
    CHECK(on.cert_discovery.enabled);
    CHECK(on.cert_discovery.port == 2525);
    CHECK(on.cert_discovery.networks.contains(*IpAddress::parse("10.1.2.3")));
    CHECK_FALSE(on.cert_discovery.networks.contains(*IpAddress::parse("192.168.1.2")));
    CHECK(on.trust_anchors.ca_file == "/etc/roots.pem");
    CHECK(on.trust_anchors.ca_path == "/etc/roots");

    CHECK_THROWS(settings({"--cert-discovery", "yes"}));
    CHECK_THROWS(settings({"--cert-discovery-port", "0"}));
    CHECK_THROWS(settings({"--cert-discovery-timeout", "0.5"}));
    CHECK_THROWS(settings({"--cert-discovery-networks", "not-a-network"}));
}
