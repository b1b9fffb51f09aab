#include "dns/unbound_resolver.h"

#include <poll.h>
#include <unbound.h>
#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

namespace mtls {
namespace {

constexpr int kClassIn = 1;

void check(int rc, std::string_view what) {
    if (rc != 0) {
        throw ResolverSetupError(fmt::format("{}: {}", what, ub_strerror(rc)));
    }
}

RawAnswer raw_from_unbound(int err, const ub_result* result) {
    RawAnswer raw;
    raw.resolver_error = err;
    if (err != 0 || result == nullptr) {
        raw.resolver_error = err != 0 ? err : -1;
        raw.detail = err != 0 ? ub_strerror(err) : "resolver returned no result";
        return raw;
    }
    raw.rcode = result->rcode;
    raw.havedata = result->havedata != 0;
    raw.nxdomain = result->nxdomain != 0;
    raw.secure = result->secure != 0;
    raw.bogus = result->bogus != 0;
    if (result->canonname != nullptr) {
        raw.canonical_name = result->canonname;
    }
    if (result->why_bogus != nullptr) {
        raw.detail = result->why_bogus;
    }
    if (raw.havedata && result->data != nullptr && result->len != nullptr) {
        for (std::size_t i = 0; result->data[i] != nullptr; ++i) {
            const auto* bytes = reinterpret_cast<const std::uint8_t*>(result->data[i]);
            raw.rdata.emplace_back(bytes, bytes + result->len[i]);
        }
    }
    return raw;
}

}  // namespace

std::shared_ptr<UnboundResolver> UnboundResolver::create(const UnboundSettings& settings) {
    // Not make_shared: the constructor is private.
    return std::shared_ptr<UnboundResolver>(new UnboundResolver(settings));  // NOLINT(cppcoreguidelines-owning-memory)
}

UnboundResolver::UnboundResolver(const UnboundSettings& settings) : ctx_(ub_ctx_create()) {
    if (!ctx_) {
        throw ResolverSetupError("cannot create a libunbound context");
    }
    // Threads, not the fork()ed helper process libunbound uses by default.
    check(ub_ctx_async(ctx_.get(), 1), "ub_ctx_async");
    // Operators want to know why an answer was bogus; the config file may
    // still override this.
    check(ub_ctx_set_option(ctx_.get(), "val-log-level:", "2"), "val-log-level");
    // libunbound's defaults allow 16 queries in flight: behind a resolver a
    // few hundred milliseconds away, 200 sessions on a cold cache then queue
    // past dns-timeout (measured in bench/: 565 of 1000 messages temperror,
    // none with these). The config file may still lower them.
    check(ub_ctx_set_option(ctx_.get(), "outgoing-range:", "1024"), "outgoing-range");
    check(ub_ctx_set_option(ctx_.get(), "num-queries-per-thread:", "1024"), "num-queries-per-thread");
    if (!settings.config_file.empty()) {
        check(ub_ctx_config(ctx_.get(), settings.config_file.c_str()),
              fmt::format("unbound-config {}", settings.config_file));
    }
    if (!settings.trust_anchor_file.empty()) {
        if (access(settings.trust_anchor_file.c_str(), R_OK) != 0) {
            throw ResolverSetupError(
                fmt::format("trust-anchor-file {}: {}", settings.trust_anchor_file, std::strerror(errno)));
        }
        check(ub_ctx_add_ta_file(ctx_.get(), settings.trust_anchor_file.c_str()),
              fmt::format("trust-anchor-file {}", settings.trust_anchor_file));
    }
    event_thread_ = std::thread([this] { run_event_loop(); });
}

UnboundResolver::~UnboundResolver() {
    stopping_ = true;
    wakeup_.signal();
    if (event_thread_.joinable()) {
        event_thread_.join();
    }
    ctx_.reset();  // no callback can run after this
    const std::lock_guard lock(mutex_);
    for (auto& [id, request] : requests_) {
        DnsAnswer answer;
        answer.status = AnswerStatus::error;
        answer.detail = "resolver shut down";
        request->slot->fulfil(std::move(answer));
    }
    requests_.clear();
}

void UnboundResolver::run_event_loop() {
    const int unbound_fd = ub_fd(ctx_.get());
    std::array<pollfd, 2> fds{{{unbound_fd, POLLIN, 0}, {wakeup_.fd(), POLLIN, 0}}};
    while (!stopping_) {
        const int ready = poll(fds.data(), fds.size(), 1000);
        if (ready < 0 && errno != EINTR) {
            break;
        }
        if (stopping_) {
            break;
        }
        if (ready > 0 && (fds[0].revents & (POLLIN | POLLERR | POLLHUP)) != 0) {
            ub_process(ctx_.get());
        }
    }
}

std::optional<DnsAnswer> UnboundResolver::cached(std::string_view name, std::uint16_t type) {
    const auto started = Clock::now();
    auto answer = cache_.find(name, type, started);
    if (answer) {
        // At least 1 us: an elapsed time of zero means "no lookup was made"
        // to the metrics and the log, and this was a lookup.
        answer->elapsed = std::max(std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started),
                                   std::chrono::microseconds{1});
    }
    return answer;
}

Lookup UnboundResolver::start(std::string_view name, std::uint16_t type, std::chrono::milliseconds timeout) {
    const auto started = Clock::now();
    auto slot = std::make_shared<AnswerSlot>();
    if (auto answer = cached(name, type)) {
        slot->fulfil(std::move(*answer));
        return Lookup(std::move(slot), started, started + timeout, {});  // nothing to cancel
    }
    const std::string qname(name);
    Request* request = nullptr;
    std::uint64_t id = 0;
    {
        const std::lock_guard lock(mutex_);
        id = next_id_++;
        auto owned = std::make_unique<Request>();
        owned->owner = this;
        owned->id = id;
        owned->name = qname;
        owned->type = type;
        owned->started = started;
        owned->slot = slot;
        request = owned.get();
        requests_.emplace(id, std::move(owned));
    }
    int async_id = 0;
    // The callback may run on the event thread before ub_resolve_async
    // returns, so the request is registered first and async_id set after.
    const int rc =
        ub_resolve_async(ctx_.get(), qname.c_str(), type, kClassIn, request, &UnboundResolver::on_answer, &async_id);
    if (rc != 0) {
        {
            const std::lock_guard lock(mutex_);
            requests_.erase(id);
        }
        RawAnswer raw;
        raw.resolver_error = rc;
        raw.detail = ub_strerror(rc);
        slot->fulfil(classify_answer(std::move(raw)));
    } else {
        const std::lock_guard lock(mutex_);
        if (auto it = requests_.find(id); it != requests_.end()) {
            it->second->async_id = async_id;
            it->second->submitted = true;
        }
    }
    std::weak_ptr<UnboundResolver> owner = weak_from_this();
    return Lookup(std::move(slot), started, started + timeout, [owner, id] {
        if (auto resolver = owner.lock()) {
            resolver->cancel(id);
        }
    });
}

void UnboundResolver::cancel(std::uint64_t id) {
    const std::lock_guard lock(mutex_);
    auto it = requests_.find(id);
    if (it == requests_.end() || !it->second->submitted) {
        return;  // already answered, or still being submitted (the answer will be dropped)
    }
    // Success means libunbound will never call back with this request;
    // failure means the callback is running or about to, and frees it.
    if (ub_cancel(ctx_.get(), it->second->async_id) == 0) {
        requests_.erase(it);
    }
}

void UnboundResolver::on_answer(void* arg, int err, ub_result* result) noexcept {
    auto* request = static_cast<Request*>(arg);
    request->owner->complete(request, err, result);
}

void UnboundResolver::complete(Request* request, int err, ub_result* result) noexcept {
    const std::unique_ptr<ub_result, FreeWith<&ub_resolve_free>> owned_result(result);
    std::unique_ptr<Request> owned;
    try {
        {
            const std::lock_guard lock(mutex_);
            auto it = requests_.find(request->id);
            if (it == requests_.end()) {
                return;
            }
            owned = std::move(it->second);
            requests_.erase(it);
        }
        DnsAnswer answer = classify_answer(raw_from_unbound(err, result));
        const auto now = Clock::now();
        answer.elapsed = std::chrono::duration_cast<std::chrono::microseconds>(now - owned->started);
        // ub_result's TTL is what is left of the answer's time in
        // libunbound's cache; the cache keeps only what classify_answer
        // called safe to repeat (AnswerCache::cacheable).
        if (err == 0 && result != nullptr) {
            cache_.store(owned->name, owned->type, answer, std::chrono::seconds{result->ttl}, now);
        }
        owned->slot->fulfil(std::move(answer));
    } catch (...) {
        // Out of memory while copying RDATA, say. The lookup fails now as a
        // resolver error (temperror "DNS resolver error") instead of leaving
        // its waiter to sit out dns-timeout; a default DnsAnswer allocates
        // nothing. If even that fails (or the lock above did), the waiter's
        // deadline still ends it as a timeout, also temperror.
        if (owned) {
            try {
                owned->slot->fulfil(DnsAnswer{});
            } catch (...) {  // see above
            }
        }
    }
}

}  // namespace mtls
