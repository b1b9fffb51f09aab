#include "tlspolicy_options.h"

#include <array>
#include <boost/program_options.hpp>
#include <sstream>

namespace po = boost::program_options;

namespace mtls::tlspolicy {
namespace {

template <typename T>
T checked(const OptionSpec& option, std::string_view value, Expected<T> parsed) {
    if (!parsed) {
        invalid_value(option, value, parsed.error());
    }
    return std::move(parsed).value();
}

constexpr std::array kOptions = {
    TlsPolicyOption{{.name = "socket",
                     .placeholder = "unix:PATH|inet:PORT@ADDRESS|inet6:PORT@ADDRESS",
                     .type = ValueType::listen_address,
                     .default_value = "unix:/run/mtls-tlspolicy/socketmap.sock",
                     .help = "Where the socketmap server listens for Postfix.",
                     .doc = R"roff(Where the socketmap server listens for Postfix's
.BR smtp_tls_policy_maps .
.B unix:
takes an absolute path;
.B inet:
and
.B inet6:
take a port and an IP address.
Postfix names the same place as
.B socketmap:unix:/run/mtls\-tlspolicy/socketmap.sock:postfix
or
.BR socketmap:inet:127.0.0.1:8461:postfix .
A stale unix socket left by a previous run is replaced.
Changing it takes a restart.)roff",
                     .programs = kTlsPolicy,
                     .stage = Stage::start},
                    [](TlsPolicySettings& settings, const OptionSpec& option, const std::string& value) {
                        settings.socket = checked(option, value, parse_listen_address(value));
                    }},
    TlsPolicyOption{{.name = "dns-timeout",
                     .placeholder = "SECONDS",
                     .type = ValueType::seconds,
                     .default_value = "5",
                     .help = "Longest wait for all DNS answers of one query together.",
                     .doc = R"roff(The longest wait for all DNS lookups of one query together (MX, the MX
hosts' addresses and TLSA records, the
.B _mta\-sts
TXT record, Client MX and the address of
.BI mta\-sts. domain
for a policy fetch), from 0.1 to 60 seconds.
Keep the sum of
.B dns\-timeout
and
.B https\-timeout
under Postfix's
.B smtp_tls_policy_maps
socketmap timeout
.RB ( socketmap_timeout ,
100 seconds by default).)roff",
                     .programs = kTlsPolicy,
                     .stage = Stage::reload,
                     .minimum = 100,
                     .maximum = 60000},
                    [](TlsPolicySettings& settings, const OptionSpec& option, const std::string& value) {
                        settings.engine.dns.timeout = parse_seconds(option, value);
                    }},
    TlsPolicyOption{{.name = "https-timeout",
                     .placeholder = "SECONDS",
                     .type = ValueType::seconds,
                     .default_value = "10",
                     .help = "Longest wait for an MTA-STS policy fetch (connect, TLS, transfer).",
                     .doc = R"roff(The longest wait for one MTA\-STS policy fetch, connection, TLS handshake
and transfer together, from 0.1 to 60 seconds.
The first query for a domain with an MTA\-STS record waits for it.)roff",
                     .programs = kTlsPolicy,
                     .stage = Stage::reload,
                     .minimum = 100,
                     .maximum = 60000},
                    [](TlsPolicySettings& settings, const OptionSpec& option, const std::string& value) {
                        settings.engine.fetch.timeout = parse_seconds(option, value);
                    }},
    TlsPolicyOption{{.name = "ca-file",
                     .placeholder = "FILE",
                     .help = "Trust anchors (PEM) for MTA-STS policy servers instead of the system store.",
                     .doc = R"roff(Trust anchors for the MTA\-STS policy servers' certificates, PEM;
replaces the system's trust store.)roff",
                     .default_note = R"roff(empty, meaning the system's trust store.)roff",
                     .programs = kTlsPolicy,
                     .stage = Stage::reload},
                    [](TlsPolicySettings& settings, [[maybe_unused]] const OptionSpec& option,
                       const std::string& value) { settings.engine.fetch.ca_file = value; }},
    TlsPolicyOption{{.name = "ca-path",
                     .placeholder = "DIR",
                     .help = "Directory of hashed trust anchors for MTA-STS policy servers.",
                     .doc = R"roff(A directory of trust anchors named by subject hash (as
.B openssl rehash
makes it) for the MTA\-STS policy servers' certificates; replaces the
system's trust store.
With
.B ca\-file
as well, both are used.)roff",
                     .default_note = R"roff(empty, meaning the system's trust store.)roff",
                     .programs = kTlsPolicy,
                     .stage = Stage::reload},
                    [](TlsPolicySettings& settings, [[maybe_unused]] const OptionSpec& option,
                       const std::string& value) { settings.engine.fetch.ca_path = value; }},
    TlsPolicyOption{{.name = "dane",
                     .placeholder = "yes|no",
                     .type = ValueType::boolean,
                     .default_value = "yes",
                     .help = "Answer dane-only/dane for domains whose MX hosts publish secure TLSA records.",
                     .doc = R"roff(Answer
.B dane\-only
when the MX RRset is DNSSEC\-secure and every MX host has secure
addresses and usable TLSA records, and
.B dane
when only some have.
DANE then takes precedence over MTA\-STS (RFC 8461, section 2).
With
.BR no ,
such domains get their MTA\-STS or Client MX answer instead.)roff",
                     .programs = kTlsPolicy,
                     .stage = Stage::reload},
                    [](TlsPolicySettings& settings, const OptionSpec& option, const std::string& value) {
                        settings.engine.decision.dane = parse_boolean(option, value);
                    }},
    TlsPolicyOption{{.name = "client-mx-optin",
                     .placeholder = "yes|no",
                     .type = ValueType::boolean,
                     .default_value = "yes",
                     .help = "Require a certificate naming the MX host for domains that publish Client MX records.",
                     .doc = R"roff(For a domain that publishes Client MX records (type
.BR client\-mx\-type ),
answer
.BR "secure match=" <its\ MX\ hosts>
so that Postfix delivers only to a server whose certificate names the MX
host, as draft\-chuang\-mutual\-tls\-email\-authentication asks of a sender.)roff",
                     .programs = kTlsPolicy,
                     .stage = Stage::reload},
                    [](TlsPolicySettings& settings, const OptionSpec& option, const std::string& value) {
                        settings.engine.decision.client_mx_optin = parse_boolean(option, value);
                    }},
    TlsPolicyOption{{.name = "cache",
                     .placeholder = "FILE|redis://HOST:PORT/DB",
                     .default_value = "/var/lib/mtls-tlspolicy/cache.sqlite",
                     .help = "Where MTA-STS policies are kept across restarts: an SQLite file, or a Redis database "
                             "shared by several daemons.",
                     .doc = R"roff(Where fetched MTA\-STS policies are kept, so that they survive restarts
(RFC 8461, section 5.1): an SQLite database file, created when missing
(its directory must be writable by
.BR user ),
or
.BI redis:// HOST [: PORT ][/ DB ]
for a Redis database that several daemons share, so that a fleet of MTAs
fetches each policy once.
Redis entries expire with their policy; bound Redis's own memory with its
.BR maxmemory .
Changing it takes a restart.)roff",
                     .programs = kTlsPolicy,
                     .stage = Stage::start},
                    [](TlsPolicySettings& settings, const OptionSpec& option, const std::string& value) {
                        settings.cache = checked(option, value, parse_store_location(value));
                    }},
    TlsPolicyOption{{.name = "cache-size",
                     .placeholder = "NUMBER",
                     .type = ValueType::integer,
                     .default_value = "100000",
                     .help = "Most MTA-STS policies kept in memory and in the SQLite file.",
                     .doc = R"roff(The most MTA\-STS policies kept in memory (the least recently used go
first) and, roughly, in the SQLite file (the expired, then the least
recently fetched go first).
Changing it takes a restart.)roff",
                     .programs = kTlsPolicy,
                     .stage = Stage::start,
                     .minimum = 1,
                     .maximum = 10000000},
                    [](TlsPolicySettings& settings, const OptionSpec& option, const std::string& value) {
                        settings.cache_size = static_cast<std::size_t>(parse_integer(option, value));
                    }},
    TlsPolicyOption{{.name = "workers",
                     .placeholder = "NUMBER",
                     .type = ValueType::integer,
                     .default_value = "32",
                     .help = "Queries answered at once (each may wait for DNS and HTTPS).",
                     .doc = R"roff(How many queries are answered at once; each may wait for DNS and for a
policy fetch, while cached answers take microseconds.
Changing it takes a restart.)roff",
                     .programs = kTlsPolicy,
                     .stage = Stage::start,
                     .minimum = 1,
                     .maximum = 1024},
                    [](TlsPolicySettings& settings, const OptionSpec& option, const std::string& value) {
                        settings.workers = static_cast<std::size_t>(parse_integer(option, value));
                    }},
    TlsPolicyOption{{.name = "metrics",
                     .placeholder = "ADDRESS:PORT",
                     .type = ValueType::endpoint,
                     .default_value = "",
                     .help = "Serve Prometheus metrics over HTTP here, e.g. 127.0.0.1:9701; empty for off.",
                     .doc = R"roff(Serve Prometheus metrics over HTTP at this address, for example
.BR 127.0.0.1:9701 :
.B GET /metrics
returns answers by kind
.RB ( mtls_tlspolicy_answers_total )
and by the rule that decided them, policy fetches by outcome, policy cache
hits and misses and a histogram of answer times.
There is no authentication: keep it on loopback.
Changing it takes a restart.)roff",
                     .default_note = R"roff(empty, meaning off.)roff",
                     .programs = kTlsPolicy,
                     .stage = Stage::start},
                    [](TlsPolicySettings& settings, const OptionSpec& option, const std::string& value) {
                        if (!value.empty()) {
                            settings.metrics = checked(option, value, parse_endpoint(value));
                        }
                    }},
};

constexpr std::array<OptionSpec, 4> kCommands = {{
    {.name = "query",
     .placeholder = "DOMAIN",
     .help = "Print the socketmap reply for DOMAIN (first line), then why, and exit.",
     .doc = R"roff(Answer one query as the socketmap would, using the same resolver, policy
cache and fetch, and exit: the first line is the exact reply
.RB ( "OK secure match=..." ,
.BR "NOTFOUND " ,
.BR "TEMP ..." ),
the lines after it say why: each DNS answer with its DNSSEC state, the
MTA\-STS policy and its age.
.I DOMAIN
is a next hop as Postfix writes it, so
.B [mx.example.com]:25
works too.)roff",
     .programs = kTlsPolicy,
     .in_config = false},
    {.name = "check-config",
     .type = ValueType::command,
     .help = "Validate every option, the resolver setup and the cache, then exit.",
     .doc = R"roff(Check every option, load the
.B unbound\-config
file and the trust anchor, open the
.BR cache ,
check
.BR user ,
the socket's and the pid file's directories, print
.RB \(dq "mtls-tlspolicy: configuration OK" \(dq
and exit 0; otherwise print each problem and exit 1.)roff",
     .programs = kTlsPolicy,
     .in_config = false},
    {.name = "version",
     .type = ValueType::command,
     .help = "Print the version and exit.",
     .doc = "Print the version and exit.",
     .programs = kTlsPolicy,
     .in_config = false},
    {.name = "help",
     .type = ValueType::command,
     .help = "Print this help and exit.",
     .doc = "Print every option with its default and exit.",
     .programs = kTlsPolicy,
     .in_config = false},
}};

std::vector<OptionSpec> own_specs() {
    std::vector<OptionSpec> specs;
    specs.reserve(kOptions.size());
    for (const auto& option : kOptions) {
        specs.push_back(option.spec);
    }
    return specs;
}

}  // namespace

std::span<const TlsPolicyOption> tlspolicy_options() {
    return kOptions;
}

std::vector<OptionSpec> tlspolicy_specs() {
    auto specs = own_specs();
    for (const auto& spec : setting_specs_for(kTlsPolicy)) {
        specs.push_back(spec);
    }
    return specs;
}

std::span<const OptionSpec> tlspolicy_commands() {
    return kCommands;
}

CommandLine parse_command_line(const std::vector<std::string>& arguments) {
    po::options_description settings_options("Options");
    add_options(settings_options, std::span(&kConfigOption, 1));
    const auto specs = tlspolicy_specs();
    add_options(settings_options, specs);
    po::options_description commands("Commands");
    add_options(commands, kCommands);
    po::options_description all;
    all.add(settings_options).add(commands);

    auto every = specs;
    every.insert(every.end(), kCommands.begin(), kCommands.end());
    po::variables_map variables;
    po::store(po::command_line_parser(join_boolean_values(arguments, every)).options(all).run(), variables);
    if (variables.count("config") != 0U) {
        load_config_file(variables["config"].as<std::string>(), settings_options, variables);
    }
    po::notify(variables);

    CommandLine command;
    command.help = variables.count("help") != 0U;
    command.version = variables.count("version") != 0U;
    command.check_config = variables.count("check-config") != 0U;
    command.query = option_text(variables, "query");
    if (command.help) {
        std::ostringstream text;
        text << "Usage: mtls-tlspolicy [--config FILE] [--name value]... [--query DOMAIN]\n\n" << all << '\n';
        command.help_text = text.str();
        return command;
    }
    if (command.version) {
        return command;
    }
    command.settings.shared = settings_from(variables, kTlsPolicy);
    command.settings.engine.dns.client_mx_type = command.settings.shared.authenticator.client_mx_type;
    for (const auto& option : kOptions) {
        auto text = option_text(variables, option.spec.name);
        option.apply(command.settings, option.spec, text);
        command.option_texts.push_back(std::move(text));
    }
    for (auto& text : option_texts(variables, kTlsPolicy)) {
        command.option_texts.push_back(std::move(text));
    }
    return command;
}

}  // namespace mtls::tlspolicy
