#include "runtime.h"

#include "mtls/unbound_resolver.h"

namespace mtls::milter {

LoggerSettings logger_settings_for(const Settings& settings) {
    return LoggerSettings{settings.syslog, settings.syslog_facility, settings.log_stderr};
}

std::shared_ptr<const Runtime> make_runtime(const Settings& settings, const Runtime* previous) {
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
    return std::make_shared<const Runtime>(settings, std::move(resolver), std::move(logger), std::move(metrics));
}

}  // namespace mtls::milter
