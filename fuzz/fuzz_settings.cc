// The config file (name = value lines, read by Boost.Program_options), as
// mtls-milter reads it: defaults from an empty command line, then
// load_config_file, notify, and settings_from with the daemon options.
// The input is the file's content, served from a memfd through
// /proc/self/fd so that the real load_config_file(path) runs unchanged.
// Properties: a bad file ends in SettingsError or a program_options error
// (what mtls-milter reports as a usage error), never in another exception
// or a crash; accepted settings are within their documented ranges.
#include <sys/mman.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "fuzz_support.h"
#include "mail/authentication_results.h"
#include "options/settings.h"

using namespace mtls;
namespace po = boost::program_options;

namespace {

struct ConfigFile {
    int fd = memfd_create("mtls-fuzz-config", MFD_CLOEXEC);
    std::string path = "/proc/self/fd/" + std::to_string(fd);

    ConfigFile() {
        if (fd < 0) {
            std::perror("memfd_create");
            std::abort();
        }
    }
    void write(std::string_view content) const {
        if (ftruncate(fd, 0) != 0 ||
            pwrite(fd, content.data(), content.size(), 0) != static_cast<ssize_t>(content.size())) {
            std::perror("memfd write");
            std::abort();
        }
    }
};

const po::options_description& file_options() {
    static const po::options_description description = [] {
        po::options_description options;
        add_options(options, setting_specs());
        return options;
    }();
    return description;
}

// takes_socket: mtls-milter reads the socket option; mtls-check has none,
// and its Settings keep an empty ListenAddress there.
void check_settings(const Settings& settings, std::string_view input, bool takes_socket) {
    FUZZ_CHECK(is_token(settings.authserv_id), input);
    FUZZ_CHECK(settings.authenticator.client_mx_type != 0 && settings.authenticator.client_mx_type != 41, input);
    FUZZ_CHECK(settings.authenticator.client_mx_type < 128 || settings.authenticator.client_mx_type > 255, input);
    FUZZ_CHECK(settings.authenticator.dns_timeout.count() >= 100 && settings.authenticator.dns_timeout.count() <= 60000,
               input);
    FUZZ_CHECK(settings.umask <= 0777, input);
    // The socket round-trips through libmilter's form and the one parser.
    if (takes_socket) {
        const auto socket = to_milter_connection(settings.socket);
        const auto again = parse_listen_address(socket);
        FUZZ_CHECK(again && to_milter_connection(*again) == socket, input);
        // Certificate discovery: a real port, a bounded probe.
        FUZZ_CHECK(settings.cert_discovery.port >= 1, input);
        FUZZ_CHECK(settings.cert_discovery.timeout.count() >= 1000 && settings.cert_discovery.timeout.count() <= 300000,
                   input);
        if (settings.dmarc.socket) {
            const auto dmarc = to_milter_connection(*settings.dmarc.socket);
            const auto dmarc_again = parse_listen_address(dmarc);
            FUZZ_CHECK(dmarc_again && to_milter_connection(*dmarc_again) == dmarc, input);
        }
    }
    // Every trusted authserv-id is a token, listed once, ours first.
    const auto trusted = trusted_authserv_ids(settings);
    FUZZ_CHECK(!trusted.empty() && trusted.front() == settings.authserv_id, input);
    for (std::size_t i = 0; i < trusted.size(); ++i) {
        FUZZ_CHECK(is_token(trusted[i]), input);
        for (std::size_t j = i + 1; j < trusted.size(); ++j) {
            FUZZ_CHECK(i == 0 || trusted[i] != trusted[j], input);
        }
    }
    // Round trip of the ignore-hosts list through its own text form.
    const auto hosts = HostList::parse(settings.ignore_hosts.to_string());
    FUZZ_CHECK(hosts && hosts->to_string() == settings.ignore_hosts.to_string(), input);
    const auto networks = HostList::parse(settings.cert_discovery.networks.to_string());
    FUZZ_CHECK(networks && networks->to_string() == settings.cert_discovery.networks.to_string(), input);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const ConfigFile file;
    const auto input = fuzz::as_text(data, size);
    file.write(input);

    po::variables_map variables;
    po::store(po::command_line_parser(std::vector<std::string>{}).options(file_options()).run(), variables);
    try {
        load_config_file(file.path, file_options(), variables);
        po::notify(variables);
        check_settings(settings_from(variables, kCheck), input, false);  // as mtls-check reads it
        check_settings(settings_from(variables, kMilter), input, true);  // as mtls-milter does
    } catch (const SettingsError& error) {
        FUZZ_CHECK(std::string_view(error.what()).size() > 0, input);
    } catch (const po::error& error) {
        FUZZ_CHECK(std::string_view(error.what()).size() > 0, input);
    }
    return 0;
}
