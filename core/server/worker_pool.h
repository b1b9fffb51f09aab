// A fixed set of threads that run jobs from a bounded queue: for services
// whose answers wait on the network (DNS, HTTPS) while the StreamServer
// thread (stream_server.h) keeps serving the other clients. A full queue
// refuses the job at once, so overload turns into quick "try later" answers
// rather than a backlog that grows without bound.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace mtls::server {

class WorkerPool {
public:
    using Job = std::function<void()>;

    WorkerPool(std::size_t threads, std::size_t max_queued);
    // stop().
    ~WorkerPool();
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    // False when the queue is full (the job is not run). A job must not
    // throw; one that does is dropped with its exception.
    bool submit(Job job);

    // Refuses new jobs, runs the jobs already queued and joins every
    // thread. Idempotent; submit() stays safe to call (and refuses) after.
    void stop();

    // Jobs queued or running, for diagnostics.
    [[nodiscard]] std::size_t pending() const;

private:
    void run();

    std::size_t max_queued_;
    mutable std::mutex mutex_;
    std::condition_variable available_;
    std::deque<Job> queue_;
    std::size_t running_ = 0;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
    std::mutex join_mutex_;  // one stop() joins
};

}  // namespace mtls::server
