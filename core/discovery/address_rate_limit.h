// At most N probes to one address within a sliding window, so that no
// sender can make us knock on one host again and again by varying its
// fingerprint. Remembers a bounded number of addresses; when full, the one
// probed least recently is forgotten (it is the one least likely to be
// limited). Not thread-safe: CertificateDiscovery holds its lock around it.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <string>

#include "base/ip_address.h"

namespace mtls::discovery {

class AddressRateLimit {
public:
    using TimePoint = std::chrono::steady_clock::time_point;

    AddressRateLimit(std::size_t per_window, std::chrono::seconds window, std::size_t max_addresses)
        : per_window_(per_window), window_(window), max_addresses_(max_addresses) {}

    // True, and the probe is counted, when one more is allowed now.
    bool allow(const IpAddress& address, TimePoint now);

private:
    std::size_t per_window_;
    std::chrono::seconds window_;
    std::size_t max_addresses_;
    std::map<std::string, std::deque<TimePoint>> starts_;  // by address text; oldest first
};

}  // namespace mtls::discovery
