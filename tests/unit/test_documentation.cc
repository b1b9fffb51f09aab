// The option sections of the man pages, the README and the sample config are
// generated from the option tables (tools/gen-option-docs, scripts/gen-docs):
// a committed file that differs from the generator's output, by one byte,
// fails here. Run scripts/gen-docs after changing an option.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>

#include "option_docs.h"
#include "options/settings.h"

using namespace mtls;

namespace {

std::string read_source_file(std::string_view relative) {
    std::ifstream file(std::string(MTLS_SOURCE_DIR) + "/" + std::string(relative), std::ios::binary);
    REQUIRE(file.good());
    std::ostringstream text;
    text << file.rdbuf();
    return text.str();
}

}  // namespace

TEST_CASE("the committed option sections are the generator's output") {
    for (const auto file : docs::generated_files()) {
        INFO(file);
        const auto committed = read_source_file(file);
        const auto generated = docs::regenerate(file, committed);
        INFO((generated ? std::string() : generated.error()));
        REQUIRE(generated);
        INFO("run scripts/gen-docs");
        CHECK(docs::first_difference(committed, *generated).empty());
    }
}

TEST_CASE("a changed default is caught") {
    const auto committed = read_source_file("man/mtls-milter.conf.5");
    auto edited = committed;
    const auto at = edited.find(".B 265\n");
    REQUIRE(at != std::string::npos);
    edited.replace(at, 7, ".B 266\n");
    const auto generated = docs::regenerate("man/mtls-milter.conf.5", edited);
    REQUIRE(generated);
    CHECK(*generated == committed);
    CHECK_FALSE(docs::first_difference(edited, *generated).empty());
}

TEST_CASE("every option has its man page paragraph") {
    for (const auto& option : setting_specs()) {
        INFO(option.name);
        CHECK_FALSE(option.doc.empty());
    }
}

TEST_CASE("the sample config needs each option line exactly once") {
    // Both daemons' samples show client-mx-type.
    const auto* file = GENERATE("conf/mtls-milter.conf", "conf/mtls-tlspolicy.conf");
    CAPTURE(file);
    const auto committed = read_source_file(file);
    auto missing = committed;
    missing.erase(missing.find("#client-mx-type = 265\n"), 22);
    CHECK_FALSE(docs::regenerate(file, missing));
    auto repeated = committed;
    repeated.insert(repeated.find("#client-mx-type = 265\n"), "#client-mx-type = 1\n");
    CHECK_FALSE(docs::regenerate(file, repeated));
    auto stale = committed;
    stale.replace(stale.find("#client-mx-type = 265\n"), 22, "#client-mx-type = 1\n");
    const auto fixed = docs::regenerate(file, stale);
    REQUIRE(fixed);
    CHECK(*fixed == committed);
}

TEST_CASE("a sample config shows only its own program's options") {
    // mtls-milter's dmarc-socket is no option of mtls-tlspolicy: in its
    // sample the line is a comment like any other, and the daemon's own
    // options are still all required.
    auto text = read_source_file("conf/mtls-tlspolicy.conf");
    text.insert(text.find("#client-mx-type = 265\n"), "#dmarc-socket = wrong\n");
    const auto kept = docs::regenerate("conf/mtls-tlspolicy.conf", text);
    REQUIRE(kept);
    CHECK(kept->find("#dmarc-socket = wrong\n") != std::string::npos);
}

TEST_CASE("a missing marker is an error, not a silent pass") {
    auto page = read_source_file("man/mtls-report.1");
    page.erase(page.find(".\\\" END GENERATED OPTIONS"), 2);
    CHECK_FALSE(docs::regenerate("man/mtls-report.1", page));
}
