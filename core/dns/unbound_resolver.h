// The production Resolver: one libunbound context shared by every milter
// thread, driven asynchronously by a single event thread, so that a lookup
// costs a worker thread nothing while the answer is on its way. Answers that
// may be repeated are kept in an AnswerCache, which a hit never leaves.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include <unbound.h>

#include "base/free_with.h"
#include "base/wakeup_event.h"
#include "dns/answer_cache.h"
#include "dns/resolver.h"

namespace mtls {

struct UnboundSettings {
    std::string config_file;        // unbound.conf-style file; empty for none
    std::string trust_anchor_file;  // DS/DNSKEY file (e.g. /usr/share/dns/root.key); empty for none

    bool operator==(const UnboundSettings&) const = default;
};

class ResolverSetupError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class UnboundResolver final : public Resolver, public std::enable_shared_from_this<UnboundResolver> {
public:
    // Throws ResolverSetupError with libunbound's reason when the
    // configuration or trust anchor cannot be loaded.
    static std::shared_ptr<UnboundResolver> create(const UnboundSettings& settings);
    ~UnboundResolver() override;
    UnboundResolver(const UnboundResolver&) = delete;
    UnboundResolver& operator=(const UnboundResolver&) = delete;

    Lookup start(std::string_view name, std::uint16_t type, std::chrono::milliseconds timeout) override;
    std::optional<DnsAnswer> cached(std::string_view name, std::uint16_t type) override;

private:
    // The callback argument handed to libunbound. It is freed by the callback,
    // or by a successful ub_cancel (after which libunbound never calls back).
    struct Request {
        UnboundResolver* owner = nullptr;
        std::uint64_t id = 0;
        std::string name;  // with type: where the answer goes in the cache
        std::uint16_t type = 0;
        int async_id = 0;
        bool submitted = false;  // async_id is valid
        Clock::time_point started;
        std::shared_ptr<AnswerSlot> slot;
    };

    explicit UnboundResolver(const UnboundSettings& settings);
    // libunbound's callback (ub_resolve_async): nothing may unwind into its C frames.
    static void on_answer(void* arg, int err, ub_result* result) noexcept;
    void complete(Request* request, int err, ub_result* result) noexcept;
    void cancel(std::uint64_t id);
    void run_event_loop();

    std::unique_ptr<ub_ctx, FreeWith<&ub_ctx_delete>> ctx_;
    AnswerCache cache_;
    std::mutex mutex_;  // guards requests_ and next_id_
    std::unordered_map<std::uint64_t, std::unique_ptr<Request>> requests_;
    std::uint64_t next_id_ = 1;
    WakeupEvent wakeup_;  // ends the event loop
    std::atomic<bool> stopping_{false};
    std::thread event_thread_;
};

}  // namespace mtls
