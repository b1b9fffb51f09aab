#include "server/worker_pool.h"

namespace mtls::server {

WorkerPool::WorkerPool(std::size_t threads, std::size_t max_queued) : max_queued_(max_queued) {
    threads_.reserve(threads);
    for (std::size_t i = 0; i < threads; ++i) {
        threads_.emplace_back([this] { run(); });
    }
}

WorkerPool::~WorkerPool() {
    stop();
}

void WorkerPool::stop() {
    const std::scoped_lock joining(join_mutex_);
    {
        const std::scoped_lock lock(mutex_);
        stopping_ = true;
    }
    available_.notify_all();
    for (auto& thread : threads_) {
        if (thread.joinable()) {
            thread.join();
        }
    }
}

bool WorkerPool::submit(Job job) {
    {
        const std::scoped_lock lock(mutex_);
        if (stopping_ || queue_.size() >= max_queued_) {
            return false;
        }
        queue_.push_back(std::move(job));
    }
    available_.notify_one();
    return true;
}

std::size_t WorkerPool::pending() const {
    const std::scoped_lock lock(mutex_);
    return queue_.size() + running_;
}

void WorkerPool::run() {
    for (;;) {
        Job job;
        {
            std::unique_lock lock(mutex_);
            available_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) {
                return;  // stopping, and nothing left to do
            }
            job = std::move(queue_.front());
            queue_.pop_front();
            ++running_;
        }
        try {
            job();
        } catch (...) {  // NOLINT(bugprone-empty-catch): documented: a throwing job is dropped
        }
        const std::scoped_lock lock(mutex_);
        --running_;
    }
}

}  // namespace mtls::server
