// Proactive refresh of cached MTA-STS policies (RFC 8461, section 5.1:
// refresh before expiry, so that a policy in use never runs out while its
// domain is merely slow): one background thread that fetches again the
// policies a query found due (PolicyEngine's refresh request) and, every
// few minutes, the due ones among all policies in memory. Queries never
// wait for it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace mtls::tlspolicy {

class PolicyRefresher {
public:
    using Refresh = std::function<void(const std::string& domain)>;
    // The domains due now, for the periodic sweep.
    using DueDomains = std::function<std::vector<std::string>()>;

    static constexpr std::size_t kMaxQueued = 10000;
    static constexpr std::chrono::minutes kSweepInterval{5};

    PolicyRefresher(Refresh refresh, DueDomains due);
    ~PolicyRefresher();
    PolicyRefresher(const PolicyRefresher&) = delete;
    PolicyRefresher& operator=(const PolicyRefresher&) = delete;

    // From any thread; a domain already queued is not queued twice, and
    // beyond kMaxQueued the request is dropped (the sweep finds it later).
    void request(const std::string& domain);

private:
    void run();

    Refresh refresh_;
    DueDomains due_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::string> queue_;
    std::set<std::string> queued_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace mtls::tlspolicy
