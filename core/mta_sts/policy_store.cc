#include "mta_sts/policy_store.h"

#include <fmt/format.h>

#include <charconv>

#include "mta_sts/redis_policy_store.h"
#include "mta_sts/sqlite_policy_store.h"

namespace mtls {
namespace {

template <typename T>
bool parse_number(std::string_view text, T& value) {
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    return ec == std::errc() && ptr == end && !text.empty();
}

}  // namespace

Expected<StoreLocation> parse_store_location(std::string_view text) {
    StoreLocation location;
    constexpr std::string_view kRedis = "redis://";
    if (!text.starts_with(kRedis)) {
        if (text.empty()) {
            return Error{"expected a file path or redis://HOST[:PORT][/DB]"};
        }
        location.sqlite_path = std::string(text);
        return location;
    }
    auto rest = text.substr(kRedis.size());
    if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
        if (!parse_number(rest.substr(slash + 1), location.redis_database) || location.redis_database < 0) {
            return Error{"the Redis database must be a number"};
        }
        rest = rest.substr(0, slash);
    }
    std::string_view port;
    if (rest.starts_with('[')) {
        const auto close = rest.find(']');
        if (close == std::string_view::npos) {
            return Error{"unterminated [IPv6 address]"};
        }
        location.redis_host = std::string(rest.substr(1, close - 1));
        const auto after = rest.substr(close + 1);
        if (!after.empty()) {
            if (!after.starts_with(':')) {
                return Error{"expected :PORT after ]"};
            }
            port = after.substr(1);
        }
    } else if (const auto colon = rest.rfind(':'); colon != std::string_view::npos) {
        location.redis_host = std::string(rest.substr(0, colon));
        port = rest.substr(colon + 1);
    } else {
        location.redis_host = std::string(rest);
    }
    if (!port.empty() && (!parse_number(port, location.redis_port) || location.redis_port == 0)) {
        return Error{"the Redis port must be a number from 1 to 65535"};
    }
    if (location.redis_host.empty()) {
        return Error{"redis:// needs a host"};
    }
    return location;
}

std::unique_ptr<PolicyStore> open_policy_store(const StoreLocation& location, std::size_t max_entries) {
    if (!location.sqlite_path.empty()) {
        return std::make_unique<SqlitePolicyStore>(location.sqlite_path, max_entries);
    }
    return std::make_unique<RedisPolicyStore>(location.redis_host, location.redis_port, location.redis_database);
}

}  // namespace mtls
