#include "option_docs.h"

#include <fmt/format.h>
#include <array>
#include <vector>

#include "check_options.h"
#include "options.h"
#include "options/settings.h"
#include "report_options.h"
#include "tlspolicy_options.h"

namespace mtls::docs {
namespace {

enum class Style { roff, markdown, sample_config };

struct Section {
    std::string_view file;
    std::string_view name;  // in the markers
    Style style;
    std::string (*render)();                         // roff and markdown
    std::vector<OptionSpec> (*options)() = nullptr;  // sample_config: the options the file shows
};

// `special` preceded by a backslash.
std::string backslash_escaped(std::string_view text, char special) {
    std::string escaped;
    for (const char c : text) {
        if (c == special) {
            escaped += '\\';
        }
        escaped += c;
    }
    return escaped;
}

// roff reads a plain "-" as a hyphen; option names need the minus sign.
std::string roff_escape(std::string_view text) {
    return backslash_escaped(text, '-');
}

// A cell of a GitHub table: "|" would end it, even inside backticks.
std::string markdown_escape(std::string_view text) {
    return backslash_escaped(text, '|');
}

bool takes_value(const OptionSpec& option) {
    return option.type != ValueType::command;
}

bool shows_default(const OptionSpec& option) {
    return takes_value(option) && option.type != ValueType::list && !option.default_value.empty();
}

std::string roff_doc(const OptionSpec& option) {
    return option.doc.empty() ? roff_escape(option.help) : std::string(option.doc);
}

std::string roff_flag_line(const OptionSpec& option) {
    const auto name = "\\-\\-" + roff_escape(option.name);
    const auto placeholder = roff_escape(option.placeholder);
    if (!takes_value(option)) {
        return option.short_name != 0 ? fmt::format(".BR \\-{} \", \" {}", option.short_name, name) : ".B " + name;
    }
    if (option.type == ValueType::boolean) {
        return fmt::format(".BR {} \" \" yes | no", name);
    }
    const auto* macro = option.type == ValueType::choice ? ".BR" : ".BI";
    if (option.short_name != 0) {
        return fmt::format("{} \\-{} \" {}\\fR, \" {} \" {}\"", macro, option.short_name, placeholder, name,
                           placeholder);
    }
    return fmt::format("{} {} \" {}\"", macro, name, placeholder);
}

// ".BR a ,", ..., ".B y", "and", ".BR z ." with `prefix` before each name.
std::string roff_name_list(std::span<const OptionSpec> options, std::string_view prefix) {
    std::string text;
    for (std::size_t i = 0; i < options.size(); ++i) {
        const auto name = std::string(prefix) + roff_escape(options[i].name);
        if (i + 1 == options.size()) {
            text += ".BR " + name + " .\n";
        } else if (i + 2 == options.size()) {
            text += ".B " + name + "\nand\n";
        } else {
            text += ".BR " + name + " ,\n";
        }
    }
    return text;
}

std::string markdown_flag(const OptionSpec& option) {
    const auto value = option.type == ValueType::boolean ? std::string(" yes\\|no")
                       : takes_value(option)             ? " " + markdown_escape(option.placeholder)
                                                         : std::string();
    const auto long_form = fmt::format("`--{}{}`", option.name, value);
    return option.short_name != 0 ? fmt::format("`-{}{}`, {}", option.short_name, value, long_form) : long_form;
}

std::vector<OptionSpec> concat(std::initializer_list<std::span<const OptionSpec>> parts) {
    std::vector<OptionSpec> all;
    for (const auto part : parts) {
        all.insert(all.end(), part.begin(), part.end());
    }
    return all;
}

std::vector<OptionSpec> documented(std::span<const OptionSpec> options) {
    std::vector<OptionSpec> shown;
    for (const auto& option : options) {
        if (!option.positional) {
            shown.push_back(option);
        }
    }
    return shown;
}

std::vector<OptionSpec> milter_commands() {
    return concat({std::span(&kConfigOption, 1), milter::command_options()});
}

std::vector<OptionSpec> check_flags() {
    return concat({check::check_options(), std::span(&kConfigOption, 1), std::span(&check::kCheckHelpOption, 1)});
}

std::string milter_page() {
    return roff_flag_entries(milter_commands()) + ".PP\nThe options, described in\n.BR mtls-milter.conf (5):\n" +
           roff_name_list(setting_specs_for(kMilter), "");
}

std::string check_page() {
    return roff_flag_entries(check_flags()) +
           ".PP\nThe engine options of\n.BR mtls-milter.conf (5)\nwork as they do for the milter:\n" +
           roff_name_list(setting_specs_for(kCheck), "\\-\\-") +
           "Daemon options such as\n.B \\-\\-socket\nare not accepted on the command line; in a\n.B \\-\\-config\n"
           "file they are accepted and ignored.\n";
}

// mtls-tlspolicy takes every option on the command line and in --config.
std::vector<OptionSpec> tlspolicy_flags() {
    const auto specs = tlspolicy::tlspolicy_specs();
    return concat({std::span(&kConfigOption, 1), specs, tlspolicy::tlspolicy_commands()});
}

std::string tlspolicy_page() {
    return roff_flag_entries(tlspolicy_flags()) +
           ".PP\nIn a\n.B \\-\\-config\nfile each option is written as\n.IB name \" = \" value\n"
           "without the leading dashes, one per line, as\n.BR mtls-tlspolicy.conf (5)\ndescribes.\n";
}

std::vector<OptionSpec> milter_settings() {
    return setting_specs_for(kMilter);
}

constexpr std::array kSections = {
    Section{"man/mtls-milter.conf.5", "mtls-milter", Style::roff,
            [] { return roff_config_entries(setting_specs_for(kMilter)); }},
    Section{"man/mtls-milter.8", "mtls-milter", Style::roff, milter_page},
    Section{"man/mtls-check.1", "mtls-check", Style::roff, check_page},
    Section{"man/mtls-report.1", "mtls-report", Style::roff,
            [] { return roff_flag_entries(documented(report::report_options())); }},
    Section{"README.md", "mtls-milter", Style::markdown,
            [] { return markdown_setting_table(setting_specs_for(kMilter)); }},
    Section{"README.md", "mtls-milter commands", Style::markdown,
            [] { return markdown_flag_table(milter_commands()); }},
    Section{"README.md", "mtls-check", Style::markdown, [] { return markdown_flag_table(check_flags()); }},
    Section{"README.md", "mtls-report", Style::markdown,
            [] { return markdown_flag_table(documented(report::report_options())); }},
    Section{"README.md", "mtls-tlspolicy", Style::markdown, [] { return markdown_flag_table(tlspolicy_flags()); }},
    Section{"man/mtls-tlspolicy.8", "mtls-tlspolicy", Style::roff, tlspolicy_page},
    Section{"man/mtls-tlspolicy.conf.5", "mtls-tlspolicy", Style::roff,
            [] { return roff_config_entries(tlspolicy::tlspolicy_specs(), ConfigKind::unmarked); }},
    Section{"conf/mtls-milter.conf", "mtls-milter", Style::sample_config, nullptr, milter_settings},
    Section{"conf/mtls-tlspolicy.conf", "mtls-tlspolicy", Style::sample_config, nullptr, tlspolicy::tlspolicy_specs},
};

constexpr std::array<std::string_view, 9> kFiles = {
    "man/mtls-milter.conf.5",  "man/mtls-milter.8",         "man/mtls-check.1", "man/mtls-report.1",
    "man/mtls-tlspolicy.8",    "man/mtls-tlspolicy.conf.5", "README.md",        "conf/mtls-milter.conf",
    "conf/mtls-tlspolicy.conf"};

std::string begin_marker(const Section& section) {
    switch (section.style) {
        case Style::roff: return fmt::format(".\\\" BEGIN GENERATED OPTIONS {} (scripts/gen-docs)\n", section.name);
        case Style::markdown:
            return fmt::format("<!-- BEGIN GENERATED OPTIONS {} (scripts/gen-docs) -->\n", section.name);
        case Style::sample_config:
            return fmt::format("# BEGIN GENERATED OPTIONS {} (scripts/gen-docs)\n", section.name);
    }
    return {};
}

std::string end_marker(const Section& section) {
    switch (section.style) {
        case Style::roff: return fmt::format(".\\\" END GENERATED OPTIONS {}\n", section.name);
        case Style::markdown: return fmt::format("<!-- END GENERATED OPTIONS {} -->\n", section.name);
        case Style::sample_config: return fmt::format("# END GENERATED OPTIONS {}\n", section.name);
    }
    return {};
}

// The option of `options` named by a "#name =" or "#name = value" line, or
// nullptr.
const OptionSpec* sample_option(std::span<const OptionSpec> options, std::string_view line) {
    if (!line.starts_with('#')) {
        return nullptr;
    }
    const auto name = line.substr(1, line.find(" =") == std::string_view::npos ? 0 : line.find(" =") - 1);
    const auto* option = find_option(options, name);
    return option != nullptr && (line.size() == name.size() + 3 || line[name.size() + 3] == ' ') ? option : nullptr;
}

// The hand-written comments stay; each option's line is rewritten from the
// table, and each of `options` must have exactly one.
Expected<std::string> sample_config_lines(std::string_view text, std::span<const OptionSpec> options) {
    std::string result;
    std::vector<std::string_view> seen;
    while (!text.empty()) {
        const auto end = text.find('\n');
        const auto line = text.substr(0, end);
        text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
        if (const auto* option = sample_option(options, line)) {
            if (std::find(seen.begin(), seen.end(), option->name) != seen.end()) {
                return Error{fmt::format("option line '{}' is repeated", option->name)};
            }
            seen.push_back(option->name);
            result += sample_config_line(*option);
        } else {
            result += line;
        }
        result += '\n';
    }
    for (const auto& option : options) {
        if (std::find(seen.begin(), seen.end(), option.name) == seen.end()) {
            return Error{fmt::format("no '#{} =' line", option.name)};
        }
    }
    return result;
}

}  // namespace

std::span<const std::string_view> generated_files() {
    return kFiles;
}

std::string roff_config_entries(std::span<const OptionSpec> options, ConfigKind kind) {
    std::string text;
    for (const auto& option : options) {
        const auto placeholder = option.placeholder.find(' ') == std::string_view::npos
                                     ? std::string(option.placeholder)
                                     : fmt::format("\"{}\"", option.placeholder);
        text += fmt::format(".TP\n.BI \"{} = \" {}\n{}\n", option.name, placeholder, roff_doc(option));
        if (kind == ConfigKind::engine_or_daemon) {
            text += fmt::format("({})\n", (option.programs & kCheck) != 0U ? "engine" : "daemon");
        }
        text += ".br\n";
        if (option.default_value.empty()) {
            text += fmt::format("Default: {}\n", option.default_note.empty() ? "empty." : option.default_note);
        } else {
            text += fmt::format("Default:\n.B {}\n", option.default_value);
            if (!option.default_note.empty()) {
                text += fmt::format("{}\n", option.default_note);
            }
        }
    }
    return text;
}

std::string roff_flag_entries(std::span<const OptionSpec> options) {
    std::string text;
    for (const auto& option : options) {
        text += fmt::format(".TP\n{}\n{}\n", roff_flag_line(option), roff_doc(option));
        if (shows_default(option)) {
            text += fmt::format("Default:\n.BR {} .\n", option.default_value);
        }
    }
    return text;
}

std::string markdown_setting_table(std::span<const OptionSpec> options) {
    std::string text = "| Option | Value | Default | Meaning |\n| --- | --- | --- | --- |\n";
    for (const auto& option : options) {
        const auto default_value =
            option.default_value.empty() ? std::string("(empty)") : fmt::format("`{}`", option.default_value);
        text += fmt::format("| `{}` | `{}` | {} | {}{} |\n", option.name, markdown_escape(option.placeholder),
                            default_value, markdown_escape(option.help),
                            (option.programs & kCheck) != 0U ? " *engine*" : "");
    }
    return text;
}

std::string markdown_flag_table(std::span<const OptionSpec> options) {
    std::string text = "| Option | Meaning |\n| --- | --- |\n";
    for (const auto& option : options) {
        const auto default_value =
            shows_default(option) ? fmt::format(" Default: `{}`.", option.default_value) : std::string();
        text += fmt::format("| {} | {}{} |\n", markdown_flag(option), markdown_escape(option.help), default_value);
    }
    return text;
}

std::string sample_config_line(const OptionSpec& option) {
    return option.default_value.empty() ? fmt::format("#{} =", option.name)
                                        : fmt::format("#{} = {}", option.name, option.default_value);
}

Expected<std::string> regenerate(std::string_view file, std::string_view text) {
    std::string result(text);
    for (const auto& section : kSections) {
        if (section.file != file) {
            continue;
        }
        const auto begin = begin_marker(section);
        const auto end = end_marker(section);
        const auto first = result.find(begin);
        if (first == std::string::npos || (first != 0 && result[first - 1] != '\n')) {
            return Error{fmt::format("{}: no line '{}'", file, begin.substr(0, begin.size() - 1))};
        }
        const auto start = first + begin.size();
        const auto stop = result.find(end, start);
        if (stop == std::string::npos || result[stop - 1] != '\n') {
            return Error{fmt::format("{}: no line '{}' after the first", file, end.substr(0, end.size() - 1))};
        }
        std::string generated;
        if (section.style == Style::sample_config) {
            auto lines = sample_config_lines(std::string_view(result).substr(start, stop - start), section.options());
            if (!lines) {
                return Error{fmt::format("{}: {}", file, lines.error())};
            }
            generated = std::move(lines).value();
        } else {
            generated = section.render();
        }
        result.replace(start, stop - start, generated);
    }
    return result;
}

std::string first_difference(std::string_view committed, std::string_view generated) {
    std::size_t line = 1;
    while (!committed.empty() || !generated.empty()) {
        const auto committed_end = committed.find('\n');
        const auto generated_end = generated.find('\n');
        const auto committed_line = committed.substr(0, committed_end);
        const auto generated_line = generated.substr(0, generated_end);
        if (committed_line != generated_line ||
            (committed_end == std::string_view::npos) != (generated_end == std::string_view::npos)) {
            return fmt::format("line {}: committed '{}', generated '{}'", line, committed_line, generated_line);
        }
        committed = committed_end == std::string_view::npos ? std::string_view() : committed.substr(committed_end + 1);
        generated = generated_end == std::string_view::npos ? std::string_view() : generated.substr(generated_end + 1);
        ++line;
    }
    return {};
}

}  // namespace mtls::docs
