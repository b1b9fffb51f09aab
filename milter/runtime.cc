#include "runtime.h"

#include <fmt/format.h>

#include "dns/unbound_resolver.h"

namespace mtls::milter {

namespace {

std::shared_ptr<discovery::CertificateDiscovery> make_discovery(const Settings& settings) {
    const auto& options = settings.cert_discovery;
    discovery::DiscoverySettings wanted;
    wanted.helo_name = local_host_name();
    wanted.port = options.port;
    wanted.timeout = options.timeout;
    wanted.step_timeout = options.timeout / 3;  // connect, each reply, the handshake
    wanted.networks = options.networks;
    wanted.verification = settings.trust_anchors;
    auto created = discovery::CertificateDiscovery::create(std::move(wanted));
    if (!created) {
        throw std::runtime_error(fmt::format("cert-discovery: {}", created.error()));
    }
    return std::move(created).value();
}

}  // namespace

LoggerSettings logger_settings_for(const Settings& settings) {
    return LoggerSettings{settings.syslog, settings.syslog_facility, settings.log_stderr, kProgramName};
}

std::shared_ptr<const Runtime> make_runtime(const Settings& settings, const Runtime* previous,
                                            const CurrentLog& current_log) {
    // Always a new resolver: a reload must re-read the unbound config and the
    // trust anchor files, whose names may be unchanged but contents not.
    std::shared_ptr<Resolver> resolver = UnboundResolver::create(settings.unbound);
    std::shared_ptr<Logger> logger;
    const auto wanted = logger_settings_for(settings);
    if (previous != nullptr && previous->logger->settings() == wanted) {
        logger = previous->logger;
    } else {
        logger = std::make_shared<Logger>(wanted);
    }
    auto metrics = previous != nullptr ? previous->metrics : std::make_shared<Metrics>();
    std::shared_ptr<FingerprintStore> sessions;
    if (previous != nullptr) {
        sessions = previous->sessions;
    } else if (settings.policy_channel.socket) {
        const FingerprintStore::Limits limits{settings.policy_channel.max_sessions, settings.policy_channel.lifetime};
        sessions =
            std::make_shared<FingerprintStore>(limits, [current_log](const Endpoint& client, std::string_view why) {
                current_log(Severity::info, fmt::format("policy channel: fingerprints for client={} port={} "
                                                        "never reached a milter connection ({})",
                                                        client.address.to_string(), client.port, why));
            });
    }
    std::shared_ptr<discovery::CertificateDiscovery> discovery;
    if (previous != nullptr) {
        discovery = previous->discovery;
    } else if (settings.cert_discovery.enabled) {
        discovery = make_discovery(settings);
    }
    return std::make_shared<const Runtime>(settings, std::move(resolver), std::move(logger), std::move(metrics),
                                           std::move(sessions), std::move(discovery));
}

}  // namespace mtls::milter
