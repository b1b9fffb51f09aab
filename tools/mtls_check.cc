// mtls-check: the milter's engine from the command line. Operators use it to
// see what a sender domain publishes and what verdict and header a message
// from a given certificate would get.
#include <fmt/format.h>
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>

#include "mtls/authentication_results.h"
#include "mtls/authenticator.h"
#include "mtls/message_log.h"
#include "mtls/settings.h"
#include "mtls/unbound_resolver.h"

namespace po = boost::program_options;
using namespace mtls;

namespace {

constexpr int kExitUsage = 64;

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
    std::string mail_from;
    std::string helo;
    std::vector<std::string> cert_names;
    bool verified = true;
    bool tls = true;
};

std::optional<Request> parse(int argc, char** argv) {
    po::options_description visible("Options");
    visible.add_options()("mail-from", po::value<std::string>()->value_name("ADDR"),
                          "MAIL FROM address (\"<>\" for the null sender).")(
        "helo", po::value<std::string>()->value_name("NAME")->default_value(""), "HELO/EHLO name.")(
        "cert-name", po::value<std::vector<std::string>>()->value_name("NAME"),
        "A DNS name of the client certificate (repeatable).")(
        "verified", po::value<std::string>()->value_name("yes|no")->default_value("yes"),
        "Whether the MTA verified the certificate chain.")(
        "tls", po::value<std::string>()->value_name("yes|no")->default_value("yes"), "Whether the session used TLS.")(
        "help", "Print this help and exit.");
    add_setting_options(visible, OptionScope::engine);
    po::options_description daemon_only;  // accepted in a shared config file, ignored here
    add_setting_options(daemon_only, OptionScope::daemon);
    po::options_description file_options;
    file_options.add(visible).add(daemon_only);

    po::variables_map variables;
    po::store(po::parse_command_line(argc, argv, visible), variables);
    if (variables.count("help") != 0U) {
        std::cout << "Usage: mtls-check [--config FILE] --mail-from ADDR [--helo NAME] [--cert-name NAME]... "
                     "[--verified yes|no]\n\n"
                  << visible << '\n'
                  << "Exit status: 0 pass, 1 fail, 2 none, 3 temperror, 4 permerror, 64 usage.\n";
        return std::nullopt;
    }
    if (variables.count("config") != 0U) {
        load_config_file(variables["config"].as<std::string>(), file_options, variables);
    }
    po::notify(variables);
    if (variables.count("mail-from") == 0U) {
        throw SettingsError("--mail-from is required");
    }
    Request request;
    request.settings = settings_from(variables, false);
    request.mail_from = variables["mail-from"].as<std::string>();
    request.helo = variables["helo"].as<std::string>();
    if (variables.count("cert-name") != 0U) {
        request.cert_names = variables["cert-name"].as<std::vector<std::string>>();
    }
    const auto yes_no = [&](const char* name) { return parse_yes_no(name, variables[name].as<std::string>()); };
    request.verified = yes_no("verified");
    request.tls = yes_no("tls");
    return request;
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

void print_report(const Request& request, const Identity& identity, const TlsEvidence& evidence,
                  const Evaluation& evaluation) {
    const auto& verdict = evaluation.verdict;
    const auto& answer = evaluation.answer;
    if (identity.usable()) {
        std::printf("identity:    %s=%s\n", std::string(property_name(identity.kind)).c_str(), identity.domain.c_str());
        std::printf("client mx:   %s. TYPE%u: %s, DNSSEC %s, %.1f ms\n", identity.domain.c_str(),
                    request.settings.client_mx_type, std::string(to_string(answer.status)).c_str(),
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
    std::printf("certificate: %s", std::string(to_string(evidence.status)).c_str());
    for (const auto& name : evidence.names) {
        std::printf(" %s", name.c_str());
    }
    for (const auto& name : evidence.unusable_names) {
        std::printf(" (unusable: %s)", escape_for_log(name).c_str());
    }
    std::printf("\nresult:      %s%s%s\n", std::string(to_string(verdict.result)).c_str(),
                verdict.reason.empty() ? "" : " - ", verdict.reason.c_str());
    const auto header = format_authentication_results(request.settings.authserv_id, identity, verdict);
    std::printf("header:      %s: %s\n", std::string(kAuthenticationResults).c_str(), header.c_str());
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
    try {
        auto resolver = UnboundResolver::create(request->settings.unbound);
        const Authenticator authenticator(
            resolver, {request->settings.client_mx_type, request->settings.dns_timeout, request->settings.verdict});
        auto check = authenticator.begin(identity_from_envelope(request->mail_from, request->helo));
        const auto evidence = evidence_for(*request);
        const auto evaluation = authenticator.finish(check, evidence);
        print_report(*request, check.identity(), evidence, evaluation);
        return exit_status(evaluation.verdict.result);
    } catch (const std::exception& error) {
        std::fprintf(stderr, "mtls-check: %s\n", error.what());
        return exit_status(Result::temperror);
    }
}
