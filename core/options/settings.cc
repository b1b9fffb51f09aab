#include "options/settings.h"

#include <syslog.h>
#include <unistd.h>

#include <fmt/format.h>
#include <boost/program_options.hpp>
#include <charconv>
#include <cmath>
#include <fstream>

#include "mail/authentication_results.h"

namespace po = boost::program_options;

namespace mtls {
namespace {

std::string value_of(const po::variables_map& variables, std::string_view name) {
    const auto it = variables.find(std::string(name));
    return it == variables.end() ? std::string() : it->second.as<std::string>();
}

[[noreturn]] void invalid(std::string_view name, std::string_view value, std::string_view expected) {
    throw SettingsError(fmt::format("option '{}': {} (got '{}')", name, expected, value));
}

}  // namespace

bool parse_yes_no(std::string_view name, std::string_view value) {
    for (const auto* yes : {"yes", "true", "on", "1"}) {
        if (value == yes) {
            return true;
        }
    }
    for (const auto* no : {"no", "false", "off", "0"}) {
        if (value == no) {
            return false;
        }
    }
    invalid(name, value, "expected yes or no");
}

namespace {

template <typename Int>
Int parse_int(std::string_view name, std::string_view value, Int low, Int high, int base = 10) {
    Int number{};
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number, base);
    if (value.empty() || ec != std::errc() || end != value.data() + value.size() || number < low || number > high) {
        invalid(name, value, fmt::format("expected a number from {} to {}", low, high));
    }
    return number;
}

std::chrono::milliseconds parse_seconds(std::string_view name, std::string_view value) {
    // from_chars for double is in GCC 12's libstdc++.
    double seconds = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (value.empty() || ec != std::errc() || end != value.data() + value.size() || !std::isfinite(seconds) ||
        seconds < 0.1 || seconds > 60) {
        invalid(name, value, "expected seconds from 0.1 to 60");
    }
    return std::chrono::milliseconds(static_cast<long long>(std::llround(seconds * 1000)));
}

std::uint16_t parse_rr_type(std::string_view name, std::string_view value) {
    const auto type = parse_int<unsigned>(name, value, 1, 65535);
    // OPT and the query-only meta types cannot name an RRset.
    if (type == 41 || (type >= 128 && type <= 255)) {
        invalid(name, value, "expected a data RR type, not OPT or a meta/query type");
    }
    return static_cast<std::uint16_t>(type);
}

int parse_facility(std::string_view name, std::string_view value) {
    static constexpr std::array<std::pair<std::string_view, int>, 11> kFacilities = {{
        {"mail", LOG_MAIL},
        {"daemon", LOG_DAEMON},
        {"user", LOG_USER},
        {"local0", LOG_LOCAL0},
        {"local1", LOG_LOCAL1},
        {"local2", LOG_LOCAL2},
        {"local3", LOG_LOCAL3},
        {"local4", LOG_LOCAL4},
        {"local5", LOG_LOCAL5},
        {"local6", LOG_LOCAL6},
        {"local7", LOG_LOCAL7},
    }};
    for (const auto& [label, facility] : kFacilities) {
        if (value == label) {
            return facility;
        }
    }
    invalid(name, value, "expected mail, daemon, user or local0 to local7");
}

void check_socket(std::string_view value) {
    constexpr std::string_view name = "socket";
    if (value.starts_with("unix:") || value.starts_with("local:")) {
        const auto path = value.substr(value.find(':') + 1);
        if (path.empty() || path.front() != '/') {
            invalid(name, value, "expected an absolute path after unix:");
        }
        return;
    }
    if (value.starts_with("inet:") || value.starts_with("inet6:")) {
        const auto rest = value.substr(value.find(':') + 1);
        const auto at = rest.find('@');
        // Without "@HOST" libmilter listens on every address: never by accident.
        if (at == std::string_view::npos || at + 1 == rest.size()) {
            invalid(name, value, "expected inet:PORT@HOST (e.g. inet:8894@127.0.0.1)");
        }
        parse_int<unsigned>(name, rest.substr(0, at), 1, 65535);
        return;
    }
    invalid(name, value, "expected unix:PATH, inet:PORT@HOST or inet6:PORT@HOST");
}

Endpoint parse_endpoint(std::string_view name, std::string_view value) {
    // "192.0.2.1:9700" or "[2001:db8::1]:9700"
    std::string_view host;
    std::string_view port;
    if (value.starts_with('[')) {
        const auto close = value.find("]:");
        if (close == std::string_view::npos) {
            invalid(name, value, "expected [IPv6]:PORT");
        }
        host = value.substr(1, close - 1);
        port = value.substr(close + 2);
    } else {
        const auto colon = value.rfind(':');
        if (colon == std::string_view::npos) {
            invalid(name, value, "expected ADDRESS:PORT");
        }
        host = value.substr(0, colon);
        port = value.substr(colon + 1);
    }
    const auto address = IpAddress::parse(host);
    if (!address) {
        invalid(name, value, "expected an IP address (not a host name) and a port");
    }
    return Endpoint{*address, parse_int<std::uint16_t>(name, port, 1, 65535)};
}

// "unix:/path", "inet:PORT@ADDRESS" or "inet6:PORT@ADDRESS" for a socket we
// bind ourselves, so the address must be a literal: no name lookups at start.
ListenAddress parse_listen_address(std::string_view name, std::string_view value) {
    ListenAddress listen;
    if (value.starts_with("unix:")) {
        listen.unix_path = value.substr(5);
        if (listen.unix_path.empty() || listen.unix_path.front() != '/') {
            invalid(name, value, "expected an absolute path after unix:");
        }
        return listen;
    }
    if (value.starts_with("inet:") || value.starts_with("inet6:")) {
        const auto rest = value.substr(value.find(':') + 1);
        const auto at = rest.find('@');
        if (at == std::string_view::npos) {
            invalid(name, value, "expected inet:PORT@ADDRESS (e.g. inet:8895@127.0.0.1)");
        }
        auto host = rest.substr(at + 1);
        if (host.starts_with('[') && host.ends_with(']')) {
            host = host.substr(1, host.size() - 2);
        }
        const auto address = IpAddress::parse(host);
        if (!address) {
            invalid(name, value, "expected an IP address (not a host name) after @");
        }
        listen.inet = Endpoint{*address, parse_int<std::uint16_t>(name, rest.substr(0, at), 1, 65535)};
        return listen;
    }
    invalid(name, value, "expected unix:PATH, inet:PORT@ADDRESS or inet6:PORT@ADDRESS");
}

}  // namespace

// An options error in words, without calling error::what() where it would
// not return: Boost replaces placeholders such as "%canonical_option%" with
// the offending text until none is left, so text that contains a placeholder
// itself loops forever, the message growing (found by fuzz/fuzz_settings).
// Same wording as Boost's.
std::string describe_options_error(const po::error& error) {
    if (const auto* syntax = dynamic_cast<const po::invalid_config_file_syntax*>(&error)) {
        return fmt::format("the options configuration file contains an invalid line '{}'", syntax->tokens());
    }
    if (const auto* unknown = dynamic_cast<const po::unknown_option*>(&error)) {
        return fmt::format("unrecognised option '{}'", unknown->get_option_name());
    }
    if (const auto* repeated = dynamic_cast<const po::multiple_occurrences*>(&error)) {
        return fmt::format("option '{}' cannot be specified more than once", repeated->get_option_name());
    }
    if (const auto* syntax = dynamic_cast<const po::invalid_syntax*>(&error);
        syntax != nullptr && syntax->kind() == po::invalid_syntax::missing_parameter) {
        return fmt::format("option '{}' needs a value", syntax->get_option_name());
    }
    if (const auto* named = dynamic_cast<const po::error_with_option_name*>(&error)) {
        return fmt::format("option '{}' is not valid", named->get_option_name());
    }
    return error.what();  // the other errors carry no placeholders
}

std::string local_host_name() {
    std::array<char, 256> buffer{};
    if (gethostname(buffer.data(), buffer.size() - 1) != 0) {
        return "localhost";
    }
    return buffer.data();
}

void add_setting_options(po::options_description& description, OptionScope scope) {
    if (scope == OptionScope::engine) {
        description.add_options()("config", po::value<std::string>()->value_name("FILE"),
                                  "Read options from FILE (name = value); the command line wins.");
    }
    for (const auto& option : kOptions) {
        if (option.scope != scope) {
            continue;
        }
        auto* value = po::value<std::string>()->value_name(std::string(option.value));
        if (!option.default_value.empty()) {
            value->default_value(std::string(option.default_value));
        }
        description.add_options()(std::string(option.name).c_str(), value, std::string(option.help).c_str());
    }
}

void load_config_file(const std::string& path, const po::options_description& description,
                      po::variables_map& variables) {
    std::ifstream file(path);
    if (!file) {
        throw SettingsError(fmt::format("config file {}: cannot be read", path));
    }
    try {
        const auto parsed = po::parse_config_file(file, description);
        for (const auto& option : parsed.options) {
            if (option.string_key == "config") {
                throw SettingsError(fmt::format("config file {}: 'config' cannot be set in a config file", path));
            }
        }
        po::store(parsed, variables);
    } catch (const po::error& error) {
        throw SettingsError(fmt::format("config file {}: {}", path, describe_options_error(error)));
    }
}

Settings settings_from(const po::variables_map& variables, bool include_daemon) {
    Settings settings;
    const auto get = [&](std::string_view name) { return value_of(variables, name); };

    settings.authserv_id = get("authserv-id");
    if (settings.authserv_id.empty()) {
        settings.authserv_id = local_host_name();
    }
    if (!is_token(settings.authserv_id)) {
        invalid("authserv-id", settings.authserv_id, "expected a host name or other RFC 2045 token");
    }
    settings.unbound.config_file = get("unbound-config");
    settings.unbound.trust_anchor_file = get("trust-anchor-file");
    settings.client_mx_type = parse_rr_type("client-mx-type", get("client-mx-type"));
    settings.dns_timeout = parse_seconds("dns-timeout", get("dns-timeout"));
    settings.verdict.require_dnssec = parse_yes_no("require-dnssec", get("require-dnssec"));
    settings.verdict.allow_wildcards = parse_yes_no("allow-wildcards", get("allow-wildcards"));
    settings.dane.enabled = parse_yes_no("dane", get("dane"));
    if (auto names = parse_tlsa_name_templates(get("dane-tlsa-names"))) {
        settings.dane.tlsa_names = std::move(names).value();
    } else {
        invalid("dane-tlsa-names", get("dane-tlsa-names"), names.error());
    }
    if (!include_daemon) {
        return settings;
    }

    settings.socket = get("socket");
    check_socket(settings.socket);
    if (auto on_fail = parse_on_fail(get("on-fail"))) {
        settings.policy.on_fail = on_fail.value();
    } else {
        invalid("on-fail", get("on-fail"), on_fail.error());
    }
    if (auto on_temperror = parse_on_temperror(get("on-temperror"))) {
        settings.policy.on_temperror = on_temperror.value();
    } else {
        invalid("on-temperror", get("on-temperror"), on_temperror.error());
    }
    if (auto on_internal_error = parse_on_internal_error(get("on-internal-error"))) {
        settings.policy.on_internal_error = on_internal_error.value();
    } else {
        invalid("on-internal-error", get("on-internal-error"), on_internal_error.error());
    }
    if (auto hosts = HostList::parse(get("ignore-hosts"))) {
        settings.ignore_hosts = std::move(hosts).value();
    } else {
        invalid("ignore-hosts", get("ignore-hosts"), hosts.error());
    }
    settings.skip_authenticated = parse_yes_no("skip-authenticated", get("skip-authenticated"));
    const auto format = get("log-format");
    if (format != "text" && format != "json") {
        invalid("log-format", format, "expected text or json");
    }
    settings.log_json = format == "json";
    settings.syslog = parse_yes_no("syslog", get("syslog"));
    settings.syslog_facility = parse_facility("syslog-facility", get("syslog-facility"));
    settings.log_stderr = parse_yes_no("log-stderr", get("log-stderr"));
    settings.user = get("user");
    settings.umask = parse_int<mode_t>("umask", get("umask"), 0, 0777, 8);
    settings.pidfile = get("pidfile");
    settings.foreground = parse_yes_no("foreground", get("foreground"));
    if (const auto metrics = get("metrics"); !metrics.empty()) {
        settings.metrics = parse_endpoint("metrics", metrics);
    }
    if (const auto policy = get("policy-socket"); !policy.empty()) {
        settings.policy_channel.socket = parse_listen_address("policy-socket", policy);
    }
    settings.policy_channel.lifetime =
        std::chrono::seconds(parse_int<unsigned>("policy-lifetime", get("policy-lifetime"), 1, 86400));
    settings.policy_channel.max_sessions =
        parse_int<std::size_t>("policy-max-sessions", get("policy-max-sessions"), 1, 10000000);
    return settings;
}

}  // namespace mtls
