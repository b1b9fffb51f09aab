// What every connection needs and shares: settings, the engine and the log.
// Connections hold a shared_ptr to the Runtime they started with, so a reload
// can install a new one without disturbing messages in flight.
#pragma once

#include <functional>
#include <memory>
#include <string_view>

#include "base/logger.h"
#include "fingerprint_store.h"
#include "mtls/authenticator.h"
#include "mtls/metrics.h"
#include "options/settings.h"

namespace mtls::milter {

// In syslog lines, the metrics endpoint and messages to the operator.
inline constexpr const char* kProgramName = "mtls-milter";

struct Runtime {
    Settings settings;
    std::shared_ptr<Resolver> resolver;
    Authenticator authenticator;
    std::shared_ptr<Logger> logger;
    std::shared_ptr<Metrics> metrics;  // lives across reloads
    // Fingerprints from the policy channel; null when policy-socket is off.
    // Lives across reloads, like the policy socket itself.
    std::shared_ptr<FingerprintStore> sessions;
    // Certificate discovery; null when cert-discovery is off. Lives across
    // reloads with its caches (its options take a restart).
    std::shared_ptr<discovery::CertificateDiscovery> discovery;

    Runtime(Settings settings_in, std::shared_ptr<Resolver> resolver_in, std::shared_ptr<Logger> logger_in,
            std::shared_ptr<Metrics> metrics_in = std::make_shared<Metrics>(),
            std::shared_ptr<FingerprintStore> sessions_in = nullptr,
            std::shared_ptr<discovery::CertificateDiscovery> discovery_in = nullptr)
        : settings(std::move(settings_in)),
          resolver(resolver_in),
          authenticator(std::move(resolver_in), settings.authenticator, discovery_in),
          logger(std::move(logger_in)),
          metrics(std::move(metrics_in)),
          sessions(std::move(sessions_in)),
          discovery(std::move(discovery_in)) {}
};

LoggerSettings logger_settings_for(const Settings& settings);

// Logs through whichever Runtime is current when it is called.
using CurrentLog = std::function<void(Severity, std::string_view)>;

// A Runtime for settings, with a new resolver (re-reading its files). The
// previous Runtime's metrics and session store are kept, and its logger when
// the log settings did not change. The first Runtime gets a session store
// when policy-socket is set, and the discovery service when cert-discovery
// is on; the store outlives that Runtime, so it reports
// unclaimed entries through current_log, which follows reloads.
// Throws ResolverSetupError when the resolver cannot be set up, and
// std::runtime_error when certificate discovery cannot.
std::shared_ptr<const Runtime> make_runtime(const Settings& settings, const Runtime* previous,
                                            const CurrentLog& current_log);

}  // namespace mtls::milter
