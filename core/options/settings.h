// Every option of mtls-milter in one table: the command line, the config
// file, --help and the man page's option list all come from kOptions, so
// they cannot drift apart (as PowerDNS and OpenDKIM do it).
#pragma once

#include <sys/types.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

#include "base/ip_address.h"
#include "dns/unbound_resolver.h"
#include "mtls/action.h"
#include "mtls/dane.h"
#include "mtls/verdict.h"

namespace boost::program_options {
class error;
class options_description;
class variables_map;
}  // namespace boost::program_options

namespace mtls {

enum class OptionScope {
    engine,  // shared by mtls-milter and mtls-check
    daemon,  // mtls-milter only
};

struct OptionSpec {
    std::string_view name;
    std::string_view value;          // what the value looks like, for help and man page
    std::string_view default_value;  // as written in a config file; "" means unset
    std::string_view help;
    OptionScope scope;
};

inline constexpr std::string_view kDefaultTrustAnchor = "/usr/share/dns/root.key";

inline constexpr std::array kOptions = {
    OptionSpec{"socket", "unix:PATH|inet:PORT@HOST|inet6:PORT@HOST", "unix:/run/mtls-milter/mtls-milter.sock",
               "Where the milter listens for the MTA.", OptionScope::daemon},
    OptionSpec{"authserv-id", "TOKEN", "",
               "Authentication-Results authserv-id; incoming headers claiming it are removed. Default: the host "
               "name.",
               OptionScope::engine},
    OptionSpec{"unbound-config", "FILE", "",
               "unbound.conf-style file handed to libunbound (forwarders, stub zones, trust anchors).",
               OptionScope::engine},
    OptionSpec{"trust-anchor-file", "FILE", kDefaultTrustAnchor,
               "DNSSEC trust anchor (DS or DNSKEY records); empty to rely on unbound-config alone.",
               OptionScope::engine},
    OptionSpec{"client-mx-type", "NUMBER", "265", "DNS RR type number of Client MX records.", OptionScope::engine},
    OptionSpec{"dns-timeout", "SECONDS", "5",
               "Longest wait for the Client MX answer; keep it well under the MTA's milter timeout.",
               OptionScope::engine},
    OptionSpec{"require-dnssec", "yes|no", "no", "Treat Client MX records that are not DNSSEC-secure as absent.",
               OptionScope::engine},
    OptionSpec{"allow-wildcards", "yes|no", "no",
               "Let a wildcard certificate name (*.example.org, RFC 9525) match a Client MX host.",
               OptionScope::engine},
    OptionSpec{"dane", "yes|no", "yes",
               "Also accept a client key that a DNSSEC-secure DANE-EE TLSA record publishes for a Client MX host "
               "(needs certificate fingerprints: policy-socket on Postfix, {cert_fp} on Sendmail).",
               OptionScope::engine},
    OptionSpec{"dane-tlsa-names", "TEMPLATE[, TEMPLATE...]", "_client.{host}, _25._tcp.{host}",
               "Owner names of the TLSA records tried for each Client MX host; {host} is the host name.",
               OptionScope::engine},
    OptionSpec{"on-fail", "tag|reject|tempfail|quarantine", "tag", "What to do with a message whose result is fail.",
               OptionScope::daemon},
    OptionSpec{"on-temperror", "tag|tempfail", "tag", "What to do with a message whose result is temperror.",
               OptionScope::daemon},
    OptionSpec{"on-internal-error", "tempfail|accept", "tempfail",
               "What to do with a message when the milter fails inside (forged headers are removed either way).",
               OptionScope::daemon},
    OptionSpec{"ignore-hosts", "CIDR[, CIDR...]", "127.0.0.0/8, ::1",
               "Clients that are neither checked nor tagged (content filters re-injecting mail).", OptionScope::daemon},
    OptionSpec{"skip-authenticated", "yes|no", "yes",
               "Do not check SMTP-AUTH clients (forged headers are still removed).", OptionScope::daemon},
    OptionSpec{"log-format", "text|json", "text", "Format of the per-message log line.", OptionScope::daemon},
    OptionSpec{"syslog", "yes|no", "yes", "Log to syslog.", OptionScope::daemon},
    OptionSpec{"syslog-facility", "NAME", "mail", "Syslog facility (mail, daemon, user, local0 ... local7).",
               OptionScope::daemon},
    OptionSpec{"log-stderr", "yes|no", "no", "Also log to standard error (for systemd or a terminal).",
               OptionScope::daemon},
    OptionSpec{"user", "NAME", "",
               "Drop root privileges to this user at start-up; the socket and pid file are created as this user.",
               OptionScope::daemon},
    OptionSpec{"umask", "OCTAL", "007", "umask applied when creating a unix socket.", OptionScope::daemon},
    OptionSpec{"pidfile", "FILE", "", "Write the daemon's process id here.", OptionScope::daemon},
    OptionSpec{"foreground", "yes|no", "no", "Stay in the foreground instead of detaching.", OptionScope::daemon},
    OptionSpec{"metrics", "ADDRESS:PORT", "",
               "Serve Prometheus metrics over HTTP here, e.g. 127.0.0.1:9700 or [::1]:9700; empty for off.",
               OptionScope::daemon},
    OptionSpec{"policy-socket", "unix:PATH|inet:PORT@ADDRESS", "",
               "Also serve Postfix's policy delegation protocol here (check_policy_service; always DUNNO) to learn "
               "client certificate fingerprints; empty for off.",
               OptionScope::daemon},
    OptionSpec{"policy-lifetime", "SECONDS", "3600",
               "How long fingerprints learnt on the policy socket wait for their milter connection.",
               OptionScope::daemon},
    OptionSpec{"policy-max-sessions", "NUMBER", "10000",
               "Most SMTP connections whose fingerprints are kept at once (the oldest go first).", OptionScope::daemon},
};

struct Endpoint {
    IpAddress address;
    std::uint16_t port = 0;
};

// Where a socket we bind ourselves listens: a unix path or an IP address.
struct ListenAddress {
    std::string unix_path;  // non-empty for unix:PATH
    Endpoint inet;          // otherwise
};

struct PolicyChannelSettings {
    std::optional<ListenAddress> socket;
    std::chrono::seconds lifetime{3600};
    std::size_t max_sessions = 10000;
};

class SettingsError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct Settings {
    std::string socket;
    std::string authserv_id;
    UnboundSettings unbound;
    std::uint16_t client_mx_type = 265;
    std::chrono::milliseconds dns_timeout{5000};
    VerdictSettings verdict;
    DaneSettings dane;
    ActionSettings policy;
    HostList ignore_hosts;
    bool skip_authenticated = true;
    bool log_json = false;
    bool syslog = true;
    int syslog_facility = 0;
    bool log_stderr = false;
    std::string user;
    mode_t umask = 007;
    std::string pidfile;
    bool foreground = false;
    std::optional<Endpoint> metrics;
    PolicyChannelSettings policy_channel;
};

// Adds the options of one scope with their defaults; the engine scope also
// brings --config.
void add_setting_options(boost::program_options::options_description& description, OptionScope scope);

// Reads a config file into variables (command-line values stored earlier win).
void load_config_file(const std::string& path, const boost::program_options::options_description& description,
                      boost::program_options::variables_map& variables);

// Converts and validates; throws SettingsError naming the option and value.
Settings settings_from(const boost::program_options::variables_map& variables, bool include_daemon);

// A Boost.Program_options error in words. Never call error::what() on text
// from a user: Boost substitutes placeholders such as "%canonical_option%"
// until none is left, and loops forever when the text contains one.
std::string describe_options_error(const boost::program_options::error& error);

// yes/no (also true/false, on/off, 1/0); throws SettingsError naming option.
bool parse_yes_no(std::string_view option, std::string_view value);

// The host name, the default authserv-id.
std::string local_host_name();

}  // namespace mtls
