// Whether an address is "global": outside the IANA special-purpose address
// registries (RFC 6890 and its updates), the test certificate discovery
// (core/discovery/) applies before it connects anywhere. Private, loopback,
// link-local, shared, documentation, benchmarking, multicast and reserved
// space is not global, nor is anything outside IPv6 global unicast
// (2000::/3). Where the registry marks a block globally reachable (AS112,
// AMT, ORCHIDv2, Drone DETs...) the address counts as global.
#pragma once

#include "base/ip_address.h"

namespace mtls {

// IPv4-mapped IPv6 addresses are IPv4 already (IpAddress::parse); the
// translation prefix 64:ff9b::/96 (RFC 6052) and 6to4's 2002::/16 (RFC 3056)
// carry an IPv4 address, which is judged in their place.
[[nodiscard]] bool is_global_address(const IpAddress& address);

}  // namespace mtls
