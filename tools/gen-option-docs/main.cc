// gen-option-docs [--check] SOURCE_DIR: rewrites the generated sections of
// the man pages, README.md and conf/mtls-milter.conf from the option tables
// (tools/gen-option-docs/option_docs.h), or with --check only says which
// files differ. Run through scripts/gen-docs.
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "option_docs.h"

namespace {

constexpr int kExitDiffers = 1;
constexpr int kExitUsage = 64;

bool read_file(const std::string& path, std::string& text) {
    std::ifstream file(path, std::ios::binary);
    std::ostringstream content;
    content << file.rdbuf();
    text = content.str();
    return static_cast<bool>(file);
}

bool write_file(const std::string& path, const std::string& text) {
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file << text;
    file.flush();
    return static_cast<bool>(file);
}

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> arguments(argv + 1, argv + argc);
    const bool check = !arguments.empty() && arguments.front() == "--check";
    if (arguments.size() != (check ? 2U : 1U)) {
        std::fprintf(stderr, "usage: gen-option-docs [--check] SOURCE_DIR\n");
        return kExitUsage;
    }
    const auto& source_dir = arguments.back();
    int status = 0;
    for (const auto file : mtls::docs::generated_files()) {
        const auto path = source_dir + "/" + std::string(file);
        std::string committed;
        if (!read_file(path, committed)) {
            std::fprintf(stderr, "gen-option-docs: cannot read %s\n", path.c_str());
            return kExitDiffers;
        }
        const auto generated = mtls::docs::regenerate(file, committed);
        if (!generated) {
            std::fprintf(stderr, "gen-option-docs: %s\n", generated.error().c_str());
            return kExitDiffers;
        }
        const auto difference = mtls::docs::first_difference(committed, *generated);
        if (difference.empty()) {
            continue;
        }
        if (check) {
            std::fprintf(stderr, "gen-option-docs: %s differs from the option tables, %s\n", path.c_str(),
                         difference.c_str());
            status = kExitDiffers;
        } else if (!write_file(path, *generated)) {
            std::fprintf(stderr, "gen-option-docs: cannot write %s\n", path.c_str());
            return kExitDiffers;
        } else {
            std::printf("gen-option-docs: updated %s\n", path.c_str());
        }
    }
    return status;
}
