// The settings of mtls-milter and of mtls-check's engine, and the option
// table they come from (core/options/setting_options.cc): every option is
// declared there once, with its type, default and documentation.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/ip_address.h"
#include "dmarc/evaluation.h"
#include "dns/unbound_resolver.h"
#include "mtls/action.h"
#include "mtls/authenticator.h"
#include "options/option.h"
#include "server/listen_address.h"
#include "tls/certificate_chain.h"

namespace mtls {

inline constexpr std::string_view kDefaultTrustAnchor = "/usr/share/dns/root.key";

// cert-discovery and its options (core/discovery/certificate_discovery.h).
struct CertDiscoveryOptions {
    bool enabled = false;
    std::uint16_t port = 0;
    std::chrono::milliseconds timeout{};
    HostList networks;
};

struct PolicyChannelSettings {
    std::optional<ListenAddress> socket;
    std::chrono::seconds lifetime{};
    std::size_t max_sessions = 0;
};

// The DMARC stage (stage 2, milter/dmarc_stage.h): off without a socket.
struct DmarcSettings {
    std::optional<ListenAddress> socket;
    // trusted-authserv-ids: the site's ids besides authserv-id (see
    // trusted_authserv_ids()).
    std::vector<std::string> other_authserv_ids;
    dmarc::MtlsMode mtls = dmarc::MtlsMode::substitute;
    bool mtls_helo = false;
    bool enforce = false;
    bool tempfail_on_temperror = false;
};

// No field repeats a default of the option table: the programs take every
// value from it, and code that builds Settings by hand (tests) starts from
// default_settings().
struct Settings {
    ListenAddress socket;
    std::string authserv_id;
    UnboundSettings unbound;
    AuthenticatorSettings authenticator;
    ActionSettings policy;
    HostList ignore_hosts;
    bool skip_authenticated = false;
    bool log_json = false;
    bool syslog = false;
    int syslog_facility = 0;
    bool log_stderr = false;
    std::string user;
    mode_t umask = 0;
    std::string pidfile;
    bool foreground = false;
    std::optional<Endpoint> metrics;
    PolicyChannelSettings policy_channel;
    CertDiscoveryOptions cert_discovery;
    // ca-file, ca-path: for chains validated here (discovery, mtls-check --cert).
    ChainVerification trust_anchors;
    DmarcSettings dmarc;
};

// An option of Settings: its declaration and how its checked value is stored.
struct SettingOption {
    OptionSpec spec;
    void (*apply)(Settings& settings, const OptionSpec& option, const std::string& value);
};

// Every option that ends up in Settings, in the order of the documentation.
std::span<const SettingOption> setting_options();
// Their declarations, for add_options() and the documentation.
std::span<const OptionSpec> setting_specs();
// The declarations a program takes (mtls-milter: all; mtls-check: the engine's).
std::vector<OptionSpec> setting_specs_for(Program program);

// --config FILE, taken by every program that reads the config file.
extern const OptionSpec kConfigOption;

// Converts and validates the options `program` takes; the others keep their
// field defaults. Throws SettingsError naming the option and value.
Settings settings_from(const boost::program_options::variables_map& variables, Program program);

// The same from the text of each option of setting_specs_for(program), in
// that order (what option_text() gives, defaults included).
Settings settings_from_texts(Program program, const std::vector<std::string>& texts);
// The text of each option of setting_specs_for(program), in that order.
std::vector<std::string> option_texts(const boost::program_options::variables_map& variables, Program program);

// Whose Authentication-Results stage 1 removes from incoming mail and the
// DMARC stage believes: authserv-id, then trusted-authserv-ids.
std::vector<std::string> trusted_authserv_ids(const Settings& settings);

// Every option of mtls-milter at its default, as if none were given.
Settings default_settings();

// The host name, the default authserv-id.
std::string local_host_name();

}  // namespace mtls
