#include "options/option.h"

#include <fmt/format.h>
#include <boost/program_options.hpp>
#include <charconv>
#include <cmath>
#include <fstream>

namespace po = boost::program_options;

namespace mtls {
namespace {

constexpr std::array<std::string_view, 4> kYes = {"yes", "true", "on", "1"};
constexpr std::array<std::string_view, 4> kNo = {"no", "false", "off", "0"};

po::typed_value<std::string>* text_value(const OptionSpec& option) {
    auto* value = po::value<std::string>()->value_name(std::string(option.placeholder));
    if (!option.default_value.empty()) {
        value->default_value(std::string(option.default_value));
    }
    if (option.type == ValueType::boolean) {
        value->implicit_value("yes");
    }
    return value;
}

const po::value_semantic* semantic_of(const OptionSpec& option) {
    switch (option.type) {
        case ValueType::command: return new po::untyped_value(true);  // NOLINT: Boost takes ownership
        case ValueType::list: return po::value<std::vector<std::string>>()->value_name(std::string(option.placeholder));
        default: return text_value(option);
    }
}

std::string choice_list(const OptionSpec& option) {
    std::string text;
    for (std::size_t i = 0; i < option.choices.size(); ++i) {
        if (i > 0) {
            text += i + 1 == option.choices.size() ? " or " : ", ";
        }
        text += option.choices[i];
    }
    return text;
}

}  // namespace

const OptionSpec* find_option(std::span<const OptionSpec> options, std::string_view name) {
    for (const auto& option : options) {
        if (option.name == name) {
            return &option;
        }
    }
    return nullptr;
}

void add_options(po::options_description& description, std::span<const OptionSpec> options) {
    for (const auto& option : options) {
        std::string name(option.name);
        if (option.short_name != 0) {
            name += ',';
            name += option.short_name;
        }
        description.add_options()(name.c_str(), semantic_of(option), std::string(option.help).c_str());
    }
}

std::vector<std::string> join_boolean_values(const std::vector<std::string>& arguments,
                                             std::span<const OptionSpec> options) {
    std::vector<std::string> joined;
    for (std::size_t i = 0; i < arguments.size(); ++i) {
        const auto& argument = arguments[i];
        const auto* option =
            argument.starts_with("--") ? find_option(options, std::string_view(argument).substr(2)) : nullptr;
        const bool has_value = i + 1 < arguments.size() && !arguments[i + 1].starts_with("-");
        if (option != nullptr && option->type == ValueType::boolean && has_value) {
            if (arguments[i + 1].empty()) {  // "--name=" would be Boost's error, not ours
                invalid_value(*option, "", "expected yes or no");
            }
            joined.push_back(argument + "=" + arguments[++i]);
        } else {
            joined.push_back(argument);
        }
    }
    return joined;
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

std::string option_text(const po::variables_map& variables, std::string_view name) {
    const auto it = variables.find(std::string(name));
    return it == variables.end() ? std::string() : it->second.as<std::string>();
}

bool option_given(const po::variables_map& variables, std::string_view name) {
    const auto it = variables.find(std::string(name));
    return it != variables.end() && !it->second.defaulted();
}

void invalid_value(const OptionSpec& option, std::string_view value, std::string_view expected) {
    throw SettingsError(fmt::format("option '{}': {} (got '{}')", option.name, expected, value));
}

bool parse_yes_no(std::string_view name, std::string_view value) {
    if (std::find(kYes.begin(), kYes.end(), value) != kYes.end()) {
        return true;
    }
    if (std::find(kNo.begin(), kNo.end(), value) != kNo.end()) {
        return false;
    }
    throw SettingsError(fmt::format("option '{}': expected yes or no (got '{}')", name, value));
}

bool parse_boolean(const OptionSpec& option, std::string_view value) {
    return parse_yes_no(option.name, value);
}

long long parse_integer(const OptionSpec& option, std::string_view value) {
    long long number = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number, option.base);
    if (value.empty() || ec != std::errc() || end != value.data() + value.size() || number < option.minimum ||
        number > option.maximum) {
        const auto range = option.base == 8 ? fmt::format("{:o} to {:o}", option.minimum, option.maximum)
                                            : fmt::format("{} to {}", option.minimum, option.maximum);
        invalid_value(option, value, "expected a number from " + range);
    }
    return number;
}

std::chrono::milliseconds parse_seconds(const OptionSpec& option, std::string_view value) {
    // from_chars for double is in GCC 12's libstdc++.
    double seconds = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    const auto milliseconds = seconds * 1000;
    if (value.empty() || ec != std::errc() || end != value.data() + value.size() || !std::isfinite(seconds) ||
        milliseconds < static_cast<double>(option.minimum) || milliseconds > static_cast<double>(option.maximum)) {
        invalid_value(option, value,
                      fmt::format("expected seconds from {:g} to {:g}", static_cast<double>(option.minimum) / 1000,
                                  static_cast<double>(option.maximum) / 1000));
    }
    return std::chrono::milliseconds(std::llround(milliseconds));
}

std::size_t parse_choice(const OptionSpec& option, std::string_view value) {
    for (std::size_t i = 0; i < option.choices.size(); ++i) {
        if (option.choices[i] == value) {
            return i;
        }
    }
    invalid_value(option, value, "expected " + choice_list(option));
}

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

std::vector<std::string> keep_start_options(std::span<const OptionSpec> specs, std::vector<std::string> next,
                                            const std::vector<std::string>& running,
                                            const std::function<void(std::string_view warning)>& warn) {
    for (std::size_t i = 0; i < specs.size() && i < next.size() && i < running.size(); ++i) {
        if (specs[i].stage == Stage::start && next[i] != running[i]) {
            warn(fmt::format("reload: {} changes only at restart; keeping the running value", specs[i].name));
            next[i] = running[i];
        }
    }
    return next;
}

}  // namespace mtls
