// The option table is the single source of truth: the man page, the README
// and the sample config must name every option with its default, so that
// none of them can drift when an option is added or a default changes.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>

#include "options/settings.h"

using namespace mtls;

namespace {

std::string read_source_file(const std::string& relative) {
    std::ifstream file(std::string(MTLS_SOURCE_DIR) + "/" + relative);
    REQUIRE(file.good());
    std::ostringstream text;
    text << file.rdbuf();
    return text.str();
}

bool contains(const std::string& text, const std::string& needle) {
    return text.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("mtls-milter.conf(5) documents every option with its default") {
    const auto page = read_source_file("man/mtls-milter.conf.5");
    for (const auto& option : setting_specs()) {
        const std::string name(option.name);
        INFO(name);
        CHECK(contains(page, ".BI \"" + name + " = \""));
        if (!option.default_value.empty()) {
            CHECK(contains(page, std::string(option.default_value)));
        }
    }
}

TEST_CASE("README's option table lists every option with its default") {
    const auto readme = read_source_file("README.md");
    for (const auto& option : setting_specs()) {
        const std::string name(option.name);
        INFO(name);
        const auto row = readme.find("| `" + name + "` |");
        REQUIRE(row != std::string::npos);
        const auto row_end = readme.find('\n', row);
        const auto line = readme.substr(row, row_end - row);
        if (!option.default_value.empty()) {
            CHECK(contains(line, "`" + std::string(option.default_value) + "`"));
        }
    }
}

TEST_CASE("the sample config shows every option") {
    const auto sample = read_source_file("conf/mtls-milter.conf");
    for (const auto& option : setting_specs()) {
        const std::string name(option.name);
        INFO(name);
        CHECK(contains(sample, "\n#" + name + " ="));
        if (!option.default_value.empty()) {
            CHECK(contains(sample, "\n#" + name + " = " + std::string(option.default_value) + "\n"));
        }
    }
}
