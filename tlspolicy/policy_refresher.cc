#include "policy_refresher.h"

namespace mtls::tlspolicy {

PolicyRefresher::PolicyRefresher(Refresh refresh, DueDomains due)
    : refresh_(std::move(refresh)), due_(std::move(due)) {
    thread_ = std::thread([this] { run(); });
}

PolicyRefresher::~PolicyRefresher() {
    {
        const std::scoped_lock lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
}

void PolicyRefresher::request(const std::string& domain) {
    {
        const std::scoped_lock lock(mutex_);
        if (queue_.size() >= kMaxQueued || !queued_.insert(domain).second) {
            return;
        }
        queue_.push_back(domain);
    }
    wake_.notify_one();
}

void PolicyRefresher::run() {
    auto next_sweep = std::chrono::steady_clock::now() + kSweepInterval;
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        wake_.wait_until(lock, next_sweep, [this] { return stopping_ || !queue_.empty(); });
        if (stopping_) {
            return;
        }
        if (queue_.empty() && std::chrono::steady_clock::now() >= next_sweep) {
            next_sweep = std::chrono::steady_clock::now() + kSweepInterval;
            lock.unlock();
            auto due = due_();
            lock.lock();
            for (auto& domain : due) {
                if (queue_.size() < kMaxQueued && queued_.insert(domain).second) {
                    queue_.push_back(std::move(domain));
                }
            }
            continue;
        }
        if (queue_.empty()) {
            continue;
        }
        const auto domain = std::move(queue_.front());
        queue_.pop_front();
        lock.unlock();
        try {
            refresh_(domain);
        } catch (...) {  // NOLINT(bugprone-empty-catch): the engine logs its own failures; the next sweep retries
        }
        lock.lock();
        queued_.erase(domain);
    }
}

}  // namespace mtls::tlspolicy
