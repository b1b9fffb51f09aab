// mtls-tlspolicy's options: its own declarations (tlspolicy_options.cc) and
// the ones it shares with mtls-milter, declared once in
// core/options/setting_options.cc with kTlsPolicy among their programs
// (resolver, logging, user, umask, pid file, foreground, config).
#pragma once

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "mta_sts/policy_store.h"
#include "options/settings.h"
#include "policy_engine.h"

namespace mtls::tlspolicy {

inline constexpr const char* kProgramName = "mtls-tlspolicy";

struct TlsPolicySettings {
    Settings shared;  // the options shared with mtls-milter; the rest of it unused
    ListenAddress socket;
    EngineSettings engine;
    StoreLocation cache;
    std::size_t cache_size = 0;
    std::optional<Endpoint> metrics;
    std::size_t workers = 0;
};

// An option of mtls-tlspolicy's own: its declaration and how its checked
// value is stored.
struct TlsPolicyOption {
    OptionSpec spec;
    void (*apply)(TlsPolicySettings& settings, const OptionSpec& option, const std::string& value);
};

std::span<const TlsPolicyOption> tlspolicy_options();
// Every option mtls-tlspolicy takes from a config file or command line,
// shared ones included, in the order of the documentation; and the commands.
std::vector<OptionSpec> tlspolicy_specs();
std::span<const OptionSpec> tlspolicy_commands();

struct CommandLine {
    bool help = false;
    bool version = false;
    bool check_config = false;
    std::string query;  // --query DOMAIN
    std::string help_text;
    TlsPolicySettings settings;
    std::vector<std::string> option_texts;  // for a reload: what changed
};

// Throws boost::program_options::error or SettingsError.
CommandLine parse_command_line(const std::vector<std::string>& arguments);

}  // namespace mtls::tlspolicy
