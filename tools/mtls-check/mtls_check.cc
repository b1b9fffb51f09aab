// mtls-check: the milter's engine from the command line. Operators use it to
// see what a sender domain publishes and what verdict and header a message
// from a given certificate would get.
#include <fmt/format.h>
#include <algorithm>
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>

#include "check_options.h"
#include "dns/domain_name.h"
#include "dns/tlsa_record.h"
#include "dns/unbound_resolver.h"
#include "mail/authentication_results.h"
#include "mtls/authenticator.h"
#include "mtls/verdict_record.h"
#include "options/settings.h"
#include "tls/certificate_chain.h"

namespace po = boost::program_options;
using namespace mtls;

namespace {

constexpr int kExitUsage = 64;
constexpr int kExitUnreadableCertificate = 1;  // --tlsa: there is nothing to print

int exit_status(Result result) {
    switch (result) {
        case Result::pass: return 0;
        case Result::fail: return 1;
        case Result::none: return 2;
        case Result::temperror: return 3;
        case Result::permerror: return 4;
    }
    return 3;
}

struct Request {
    Settings settings;
    std::string mail_from;  // empty only in --tlsa mode
    std::string helo;
    std::vector<std::string> cert_names;
    bool verified = true;
    bool tls = true;
    std::string cert_file;  // --cert: the chain replaces cert_names/verified/tls
    ChainVerification chain;
    bool tlsa = false;
    std::vector<std::string> hosts;  // --host, canonical
};

void print_usage(const po::options_description& visible) {
    std::cout << "Usage: mtls-check [--config FILE] --mail-from ADDR [--helo NAME] [--cert-name NAME]... "
                 "[--verified yes|no] [--tls yes|no]\n"
                 "       mtls-check [--config FILE] --mail-from ADDR [--helo NAME] --cert FILE "
                 "[--ca-file FILE] [--ca-path DIR]\n"
                 "       mtls-check [--config FILE] --tlsa --cert FILE [--ca-file FILE] [--ca-path DIR] "
                 "[--host NAME... | --mail-from ADDR]\n\n"
              << visible << '\n'
              << "Exit status: 0 pass, 1 fail, 2 none, 3 temperror, 4 permerror, 64 usage.\n"
                 "With --tlsa: 0 records printed, 1 certificate unreadable, 64 usage.\n";
}

// The command line must describe one certificate one way: a chain read from
// a file brings its own names and verification, so stating them as well
// would leave it unclear which one the result is about.
void check_combinations(const po::variables_map& variables, bool tlsa) {
    const auto given = [&](const char* name) { return option_given(variables, name); };
    if (given("cert")) {
        for (const char* stated : {"cert-name", "verified", "tls"}) {
            if (given(stated)) {
                throw SettingsError(
                    fmt::format("--cert cannot be combined with --{}: the certificate file says "
                                "which names it holds and whether it verifies",
                                stated));
            }
        }
    } else {
        for (const char* needs_cert : {"tlsa"}) {
            if (given(needs_cert)) {
                throw SettingsError(fmt::format("--{} needs --cert FILE", needs_cert));
            }
        }
    }
    if (tlsa) {
        if (given("host") && given("mail-from")) {
            throw SettingsError("--host and --mail-from both say which hosts to print TLSA records for; give one");
        }
    } else {
        if (given("host")) {
            throw SettingsError("--host is only for --tlsa");
        }
        if (!given("mail-from")) {
            throw SettingsError("--mail-from is required");
        }
    }
}

// The hosts of --host, canonical and each once.
std::vector<std::string> canonical_hosts(const std::vector<std::string>& names) {
    std::vector<std::string> hosts;
    for (const auto& host : names) {
        auto canonical = canonical_host_name(host);
        if (!canonical) {
            throw SettingsError(fmt::format("--host '{}': {}", escape_for_log(host), canonical.error()));
        }
        if (std::find(hosts.begin(), hosts.end(), *canonical) == hosts.end()) {
            hosts.push_back(std::move(canonical).value());
        }
    }
    return hosts;
}

std::vector<std::string> list_of(const po::variables_map& variables, const char* name) {
    return variables.count(name) != 0U ? variables[name].as<std::vector<std::string>>() : std::vector<std::string>{};
}

Request request_from(const po::variables_map& variables) {
    Request request;
    const auto boolean = [&](const char* name) {
        return parse_boolean(*find_option(check::check_options(), name), option_text(variables, name));
    };
    request.tlsa = boolean("tlsa");
    check_combinations(variables, request.tlsa);
    request.settings = settings_from(variables, kCheck);
    request.mail_from = option_text(variables, "mail-from");
    request.helo = option_text(variables, "helo");
    request.cert_names = list_of(variables, "cert-name");
    request.verified = boolean("verified");
    request.tls = boolean("tls");
    request.cert_file = option_text(variables, "cert");
    request.chain = request.settings.trust_anchors;  // ca-file, ca-path: shared with the milter
    request.hosts = canonical_hosts(list_of(variables, "host"));
    return request;
}

std::optional<Request> parse(int argc, char** argv) {
    po::options_description visible("Options");
    add_options(visible, check::check_options());
    add_options(visible, std::array{check::kCheckHelpOption, kConfigOption});
    add_options(visible, setting_specs_for(kCheck));
    po::options_description file_options;  // the milter's options are accepted in a shared file, ignored here
    add_options(file_options, setting_specs());

    const std::vector<std::string> arguments(argv + 1, argv + argc);
    std::vector<OptionSpec> booleans(check::check_options().begin(), check::check_options().end());
    booleans.insert(booleans.end(), setting_specs().begin(), setting_specs().end());
    po::variables_map variables;
    po::store(po::command_line_parser(join_boolean_values(arguments, booleans)).options(visible).run(), variables);
    if (variables.count("help") != 0U) {
        print_usage(visible);
        return std::nullopt;
    }
    // ca-file and ca-path serve only --cert; from the milter's config file
    // (where they serve cert-discovery) they are fine without it.
    for (const char* needs_cert : {"ca-file", "ca-path"}) {
        if (option_given(variables, needs_cert) && !option_given(variables, "cert")) {
            throw SettingsError(fmt::format("--{} needs --cert FILE", needs_cert));
        }
    }
    if (variables.count("config") != 0U) {
        load_config_file(variables["config"].as<std::string>(), file_options, variables);
    }
    po::notify(variables);
    return request_from(variables);
}

TlsEvidence evidence_for(const Request& request) {
    TlsEvidence evidence;
    evidence.source = EvidenceSource::operator_input;
    if (!request.tls) {
        evidence.status = CertificateStatus::no_tls;
    } else if (request.cert_names.empty()) {
        evidence.status = CertificateStatus::no_certificate;
    } else {
        evidence.status = request.verified ? CertificateStatus::verified : CertificateStatus::unverified;
    }
    for (const auto& name : request.cert_names) {
        add_presented_name(evidence, name);
    }
    return evidence;
}

std::string trust_anchors(const ChainVerification& chain) {
    if (chain.ca_file.empty() && chain.ca_path.empty()) {
        return "the system trust store";
    }
    if (chain.ca_path.empty()) {
        return "CA file " + chain.ca_file;
    }
    return chain.ca_file.empty() ? "CA path " + chain.ca_path
                                 : "CA file " + chain.ca_file + " and CA path " + chain.ca_path;
}

std::string status_and_names(const TlsEvidence& evidence) {
    std::string text(to_string(evidence.status));
    for (const auto& name : evidence.names) {
        text += " " + name;
    }
    for (const auto& name : evidence.unusable_names) {
        text += " (unusable: " + escape_for_log(name) + ")";
    }
    return text;
}

std::string hex_or_none(const std::optional<Sha256Digest>& digest) {
    return digest ? to_hex(*digest) : std::string("(none)");
}

// What a certificate file showed, beyond the evidence line: where the chain
// came from, why it did not verify, and the digests DANE would compare.
void print_chain(const Request& request, const CertificateChainReport& certificate, std::string_view prefix) {
    std::printf("%schain:       %s, %zu certificate%s, %s against %s%s%s\n", std::string(prefix).c_str(),
                request.cert_file.c_str(), certificate.chain_length, certificate.chain_length == 1 ? "" : "s",
                certificate.problem.empty() ? "verified" : "not verified", trust_anchors(request.chain).c_str(),
                certificate.problem.empty() ? "" : ": ", escape_for_log(certificate.problem).c_str());
    std::printf("%ssubject:     %s\n", std::string(prefix).c_str(), escape_for_log(certificate.subject).c_str());
    std::printf("%scert sha256: %s\n", std::string(prefix).c_str(),
                hex_or_none(certificate.evidence.fingerprints.certificate).c_str());
    std::printf("%sspki sha256: %s\n", std::string(prefix).c_str(),
                hex_or_none(certificate.evidence.fingerprints.public_key).c_str());
}

void print_report(const Request& request, const Identity& identity, const TlsEvidence& evidence,
                  const CertificateChainReport* certificate, const Evaluation& evaluation) {
    const auto& verdict = evaluation.verdict;
    const auto& answer = evaluation.answer;
    if (identity.usable()) {
        std::printf("identity:    %s=%s\n", std::string(property_name(identity.kind)).c_str(), identity.domain.c_str());
        std::printf("client mx:   %s. TYPE%u: %s, DNSSEC %s, %.1f ms\n", identity.domain.c_str(),
                    request.settings.authenticator.client_mx_type, std::string(to_string(answer.status)).c_str(),
                    std::string(to_string(answer.dnssec)).c_str(), static_cast<double>(answer.elapsed.count()) / 1000);
        for (const auto& record : verdict.client_mx) {
            std::printf("             %s\n", to_presentation(record).c_str());
        }
        if (!answer.detail.empty()) {
            std::printf("resolver:    %s\n", escape_for_log(answer.detail).c_str());
        }
    } else {
        std::printf("identity:    unusable: %s\n", escape_for_log(identity.problem).c_str());
    }
    std::printf("certificate: %s\n", status_and_names(evidence).c_str());
    if (certificate != nullptr) {
        print_chain(request, *certificate, "");
    }
    for (const auto& lookup : evaluation.tlsa) {
        std::printf("tlsa:        %s. TYPE%u: %s, DNSSEC %s\n", lookup.owner.c_str(), kTlsaType,
                    std::string(to_string(lookup.answer.status)).c_str(),
                    std::string(to_string(lookup.answer.dnssec)).c_str());
        for (const auto& rdata : lookup.answer.rdata) {
            const auto record = parse_tlsa_rdata(rdata);
            std::printf("             %s\n",
                        record ? to_presentation(*record).c_str() : ("malformed: " + record.error()).c_str());
        }
    }
    std::printf("result:      %s%s%s\n", std::string(to_string(verdict.result)).c_str(),
                verdict.reason.empty() ? "" : " - ", verdict.reason.c_str());
    if (!verdict.matched_host.empty()) {
        // Which way the pass came: the certificate's name, or a TLSA record
        // publishing its key.
        const std::string how =
            verdict.method == PassMethod::dane
                ? (verdict.dane_trust_anchor ? "DANE-TA TLSA record " : "DANE-EE TLSA record ") + verdict.tlsa_owner
                : std::string("certificate name");
        std::printf("matched:     %s by %s\n", verdict.matched_host.c_str(), how.c_str());
    }
    const auto header = format_authentication_results(request.settings.authserv_id, identity, verdict);
    std::printf("header:      %s: %s\n", std::string(kAuthenticationResults).c_str(), header.c_str());
}

Authenticator make_authenticator(const Settings& settings) {
    return {UnboundResolver::create(settings.unbound), settings.authenticator};
}

// --tlsa: the records a sending host publishes so that the milter accepts
// its key by DANE, printed as a zone-file fragment (everything but the
// records is a comment). Only 3 1 1: the SPKI digest survives renewals with
// the same key, where 3 0 1 changes with every new certificate.
int print_tlsa(const Request& request, const CertificateChainReport& certificate) {
    std::vector<std::string> hosts = request.hosts;
    std::string hosts_from = "given with --host";
    if (hosts.empty() && !request.mail_from.empty()) {
        // The same lookup the milter makes, so that the hosts are those it
        // would try TLSA records for.
        const auto authenticator = make_authenticator(request.settings);
        auto check = authenticator.begin(identity_from_envelope(request.mail_from, request.helo));
        const auto evaluation = authenticator.finish(check, certificate.evidence);
        hosts = sending_hosts(evaluation.verdict);
        if (hosts.empty()) {
            const auto& verdict = evaluation.verdict;
            std::fprintf(stderr, "mtls-check: no Client MX host for %s: %s%s%s\n",
                         escape_for_log(request.mail_from).c_str(), std::string(to_string(verdict.result)).c_str(),
                         verdict.reason.empty() ? "" : " - ", verdict.reason.c_str());
            return exit_status(verdict.result == Result::pass ? Result::temperror : verdict.result);
        }
        hosts_from = "the Client MX of " + check.identity().domain;
    }
    if (hosts.empty()) {
        // A wildcard names no single host, and "_client.*.example.org" would
        // be a DNS wildcard, not a TLSA owner name.
        for (const auto& name : certificate.evidence.names) {
            if (!name.starts_with("*.")) {
                hosts.push_back(name);
            }
        }
        hosts_from = "the certificate's names";
        if (hosts.empty()) {
            std::fprintf(stderr, "mtls-check: the certificate names no host; give --host NAME or --mail-from ADDR\n");
            return kExitUsage;
        }
    }
    if (!certificate.evidence.fingerprints.public_key) {
        std::fprintf(stderr, "mtls-check: no public key digest\n");
        return kExitUnreadableCertificate;
    }
    if (request.settings.authenticator.dane.tlsa_names.empty()) {
        std::fprintf(stderr, "mtls-check: dane-tlsa-names is empty: no owner names to print\n");
        return kExitUsage;
    }
    std::printf("; certificate: %s\n", status_and_names(certificate.evidence).c_str());
    print_chain(request, certificate, "; ");
    std::printf("; hosts:       %s\n", hosts_from.c_str());
    if (!request.settings.authenticator.dane.enabled) {
        std::printf("; dane = no: the milter does not look these records up\n");
    }
    const auto& key = *certificate.evidence.fingerprints.public_key;
    const TlsaRecord record{3, 1, 1, {key.begin(), key.end()}};
    for (const auto& host : hosts) {
        for (const auto& name_template : request.settings.authenticator.dane.tlsa_names) {
            if (const auto owner = tlsa_owner_name(name_template, host)) {
                std::printf("%s. IN TLSA %s\n", owner->c_str(), to_presentation(record).c_str());
            } else {
                std::printf("; %s: the owner name for %s is too long\n", name_template.c_str(), host.c_str());
            }
        }
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::optional<Request> request;
    try {
        request = parse(argc, argv);
        if (!request) {
            return 0;
        }
    } catch (const po::error& error) {
        std::fprintf(stderr, "mtls-check: %s\n", describe_options_error(error).c_str());
        return kExitUsage;
    } catch (const std::exception& error) {
        std::fprintf(stderr, "mtls-check: %s\n", error.what());
        return kExitUsage;
    }
    // Read before any DNS: a certificate that cannot be judged is the
    // operator's mistake, like an unreadable --config.
    std::optional<CertificateChainReport> certificate;
    if (!request->cert_file.empty()) {
        auto report = check_certificate_chain_file(request->cert_file, request->chain);
        if (!report) {
            std::fprintf(stderr, "mtls-check: %s\n", escape_for_log(report.error()).c_str());
            return request->tlsa ? kExitUnreadableCertificate : kExitUsage;
        }
        certificate = std::move(report).value();
    }
    try {
        if (request->tlsa) {
            return print_tlsa(*request, *certificate);
        }
        const auto authenticator = make_authenticator(request->settings);
        auto check = authenticator.begin(identity_from_envelope(request->mail_from, request->helo));
        const auto evidence = certificate ? certificate->evidence : evidence_for(*request);
        const auto evaluation = authenticator.finish(check, evidence);
        print_report(*request, check.identity(), evidence, certificate ? &*certificate : nullptr, evaluation);
        return exit_status(evaluation.verdict.result);
    } catch (const std::exception& error) {
        std::fprintf(stderr, "mtls-check: %s\n", error.what());
        return exit_status(Result::temperror);
    }
}
