// One typed declaration per option: its name, the form and type of its
// value, default, help line, man page paragraph, the programs that take it
// and whether SIGHUP re-reads it. The command-line and config-file parser,
// --help, the conversion into settings and the documentation
// (scripts/gen-docs) all come from these declarations, so they cannot drift.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace boost::program_options {
class error;
class options_description;
class variables_map;
}  // namespace boost::program_options

namespace mtls {

enum class ValueType {
    boolean,         // yes/no (also true/false, on/off, 1/0); bare on the command line means yes
    integer,         // minimum..maximum, in base `base`
    seconds,         // decimal seconds; minimum..maximum in milliseconds
    string,          // any text
    choice,          // one of `choices`
    cidr_list,       // CIDR[, CIDR...]
    listen_address,  // unix:PATH, inet:PORT@ADDRESS, inet6:PORT@ADDRESS (server/listen_address.h)
    endpoint,        // ADDRESS:PORT, [IPv6]:PORT
    list,            // repeatable on the command line
    command,         // takes no value: --help, --version
};

// Which programs take an option; a program declares its own table and may
// share entries of another (mtls-check reads the engine options of the
// milter's config file).
enum Program : unsigned {
    kMilter = 1U << 0U,
    kCheck = 1U << 1U,
    kReport = 1U << 2U,
    kTlsPolicy = 1U << 3U,
};

enum class Stage {
    start,   // read at start-up only; a change on SIGHUP is reported and ignored
    reload,  // SIGHUP applies the new value
};

struct OptionSpec {
    std::string_view name = {};
    std::string_view placeholder = {};  // what the value looks like, for --help and the man page
    ValueType type = ValueType::string;
    std::string_view default_value = {};  // as written in a config file; "" means empty
    std::string_view help = {};           // one line: --help and the README
    std::string_view doc = {};            // roff paragraph for the man page's OPTIONS section
    std::string_view default_note = {};   // roff after the default in the man page ("empty, meaning off.")
    unsigned programs = kMilter;
    Stage stage = Stage::start;
    long long minimum = 0;  // integer: the range; seconds: in milliseconds
    long long maximum = 0;
    int base = 10;
    std::span<const std::string_view> choices = {};
    char short_name = 0;      // -o for --output
    bool in_config = true;    // also a config-file name
    bool positional = false;  // the bare words of the command line (mtls-report's files)
};

class SettingsError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Boost.Program_options descriptions of the options. Booleans take an
// implicit "yes"; defaults are set so that a missing option reads as its
// default.
void add_options(boost::program_options::options_description& description, std::span<const OptionSpec> options);

// "--flag" followed by a word that is not an option becomes "--flag=word":
// Boost's implicit_value would leave the word behind as a stray argument, so
// "--foreground no" must be joined here to keep meaning no.
std::vector<std::string> join_boolean_values(const std::vector<std::string>& arguments,
                                             std::span<const OptionSpec> options);

// Reads a config file into variables (command-line values stored earlier win).
void load_config_file(const std::string& path, const boost::program_options::options_description& description,
                      boost::program_options::variables_map& variables);

// The text given for an option (its default if not given; "" for none).
std::string option_text(const boost::program_options::variables_map& variables, std::string_view name);
// Whether the option was given (not just defaulted).
bool option_given(const boost::program_options::variables_map& variables, std::string_view name);

// Typed conversions; each throws SettingsError naming the option and value.
[[noreturn]] void invalid_value(const OptionSpec& option, std::string_view value, std::string_view expected);
bool parse_boolean(const OptionSpec& option, std::string_view value);
long long parse_integer(const OptionSpec& option, std::string_view value);
std::chrono::milliseconds parse_seconds(const OptionSpec& option, std::string_view value);
std::size_t parse_choice(const OptionSpec& option, std::string_view value);  // index in choices

// yes/no (also true/false, on/off, 1/0); throws SettingsError naming option.
bool parse_yes_no(std::string_view option, std::string_view value);

// A Boost.Program_options error in words. Never call error::what() on text
// from a user: Boost substitutes placeholders such as "%canonical_option%"
// until none is left, and loops forever when the text contains one.
std::string describe_options_error(const boost::program_options::error& error);

// The option of that name, or nullptr.
const OptionSpec* find_option(std::span<const OptionSpec> options, std::string_view name);

// For a reload: the option texts of next with the running text put back for
// each option read at start-up only (Stage::start), so that a daemon reports
// such a change instead of half-applying or silently dropping it. warn gets
// one line for each option whose text changed. specs, next and running are
// in the same order (the order of the daemon's option table).
std::vector<std::string> keep_start_options(std::span<const OptionSpec> specs, std::vector<std::string> next,
                                            const std::vector<std::string>& running,
                                            const std::function<void(std::string_view warning)>& warn);

}  // namespace mtls
