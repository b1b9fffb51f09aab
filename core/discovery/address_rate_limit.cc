#include "discovery/address_rate_limit.h"

#include <algorithm>

namespace mtls::discovery {

bool AddressRateLimit::allow(const IpAddress& address, TimePoint now) {
    const std::string key = address.to_string();
    auto it = starts_.find(key);
    if (it == starts_.end()) {
        if (per_window_ == 0) {
            return false;
        }
        if (starts_.size() >= max_addresses_ && !starts_.empty()) {
            // Forget the address whose latest probe is oldest.
            starts_.erase(std::min_element(starts_.begin(), starts_.end(), [](const auto& a, const auto& b) {
                return a.second.back() < b.second.back();
            }));
        }
        it = starts_.emplace(key, std::deque<TimePoint>()).first;
    }
    auto& starts = it->second;
    while (!starts.empty() && starts.front() + window_ <= now) {
        starts.pop_front();
    }
    if (starts.size() >= per_window_) {
        return false;
    }
    starts.push_back(now);
    return true;
}

}  // namespace mtls::discovery
