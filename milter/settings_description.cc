#include "settings_description.h"

#include <fmt/format.h>

#include "dmarc/evaluation.h"
#include "mtls/verdict_record.h"

namespace mtls::milter {
namespace {

std::string_view yes_no(bool value) {
    return value ? "yes" : "no";
}

}  // namespace

std::string describe_milter(const Settings& settings) {
    const auto& engine = settings.authenticator;
    const auto& policy_socket = settings.policy_channel.socket;
    return fmt::format(
        "socket={} authserv-id={} client-mx-type={} dns-timeout={}ms require-dnssec={} allow-wildcards={} "
        "on-fail={} on-temperror={} on-internal-error={} ignore-hosts=[{}] skip-authenticated={} metrics={} "
        "policy-socket={} cert-discovery={} dmarc-socket={}",
        escape_for_log(to_milter_connection(settings.socket)), settings.authserv_id, engine.client_mx_type,
        engine.dns_timeout.count(), yes_no(engine.verdict.require_dnssec), yes_no(engine.verdict.allow_wildcards),
        to_string(settings.policy.on_fail), to_string(settings.policy.on_temperror),
        to_string(settings.policy.on_internal_error), settings.ignore_hosts.to_string(),
        yes_no(settings.skip_authenticated), settings.metrics ? to_string(*settings.metrics) : "off",
        escape_for_log(policy_socket ? to_milter_connection(*policy_socket) : "off"),
        settings.cert_discovery.enabled ? "connect-back" : "off",
        escape_for_log(settings.dmarc.socket ? to_milter_connection(*settings.dmarc.socket) : "off"));
}

std::string describe_dmarc_stage(const Settings& settings) {
    const auto& dmarc = settings.dmarc;
    return fmt::format(
        "dmarc-socket={} authserv-id={} trusted-authserv-ids=[{}] dmarc-mtls={} dmarc-mtls-helo={} "
        "dmarc-enforce={} dmarc-on-temperror={} dns-timeout={}ms on-internal-error={} ignore-hosts=[{}] "
        "skip-authenticated={}",
        escape_for_log(dmarc.socket ? to_milter_connection(*dmarc.socket) : "off"), settings.authserv_id,
        escape_for_log(fmt::format("{}", fmt::join(trusted_authserv_ids(settings), ", "))),
        dmarc.mtls == dmarc::MtlsMode::substitute ? "substitute" : "report-only", yes_no(dmarc.mtls_helo),
        yes_no(dmarc.enforce), dmarc.tempfail_on_temperror ? "tempfail" : "accept",
        settings.authenticator.dns_timeout.count(), to_string(settings.policy.on_internal_error),
        settings.ignore_hosts.to_string(), yes_no(settings.skip_authenticated));
}

}  // namespace mtls::milter
