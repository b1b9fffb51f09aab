#include "next_hop.h"

#include <algorithm>

#include "dns/domain_name.h"

namespace mtls::tlspolicy {
namespace {

bool valid_port(std::string_view port) {
    return !port.empty() && port.size() <= 5 &&
           std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
           std::stoul(std::string(port)) <= 65535;
}

}  // namespace

Expected<NextHop> parse_next_hop(std::string_view key) {
    if (key.starts_with('[')) {
        const auto close = key.find(']');
        if (close == std::string_view::npos || close == 1) {
            return Error{"bracketed next hop without a host or ']'"};
        }
        const std::string_view after = key.substr(close + 1);
        if (!after.empty() && !(after.starts_with(':') && valid_port(after.substr(1)))) {
            return Error{"bracketed next hop followed by something other than :port"};
        }
        return NextHop{NextHopKind::bracketed, std::string(key)};
    }
    if (key.starts_with('.')) {
        auto parent = canonical_host_name(key.substr(1));
        if (!parent) {
            return Error{"parent-domain key is not a domain name: " + parent.error()};
        }
        return NextHop{NextHopKind::parent, std::string(key)};
    }
    std::string_view host = key;
    std::string_view port;
    if (const auto colon = key.rfind(':'); colon != std::string_view::npos) {
        host = key.substr(0, colon);
        port = key.substr(colon + 1);
        if (!valid_port(port)) {
            return Error{"next hop port is not a number from 0 to 65535"};
        }
    }
    auto domain = canonical_host_name(host);
    if (!domain) {
        return Error{"next hop is not a domain name: " + domain.error()};
    }
    if (!port.empty() && std::stoul(std::string(port)) != 25) {
        return NextHop{NextHopKind::other_port, std::string(key)};
    }
    return NextHop{NextHopKind::domain, std::move(domain).value()};
}

}  // namespace mtls::tlspolicy
