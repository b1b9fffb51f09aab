#include "dns/resolver.h"

namespace mtls {

void AnswerSlot::fulfil(DnsAnswer answer) {
    {
        const std::lock_guard lock(mutex_);
        if (answer_) {
            return;  // first answer wins
        }
        answer_ = std::move(answer);
    }
    ready_.notify_all();
}

std::optional<DnsAnswer> AnswerSlot::wait_until(Clock::time_point deadline) {
    std::unique_lock lock(mutex_);
    if (!ready_.wait_until(lock, deadline, [this] { return answer_.has_value(); })) {
        return std::nullopt;
    }
    return answer_;
}

Lookup::Lookup(std::shared_ptr<AnswerSlot> slot, Clock::time_point started, Clock::time_point deadline,
               std::function<void()> cancel)
    : slot_(std::move(slot)), started_(started), deadline_(deadline), cancel_(std::move(cancel)) {}

Lookup::~Lookup() {
    cancel_if_pending();
}

Lookup::Lookup(Lookup&& other) noexcept
    : slot_(std::move(other.slot_)),
      started_(other.started_),
      deadline_(other.deadline_),
      cancel_(std::move(other.cancel_)),
      done_(other.done_) {
    other.done_ = true;
}

Lookup& Lookup::operator=(Lookup&& other) noexcept {
    if (this != &other) {
        cancel_if_pending();
        slot_ = std::move(other.slot_);
        started_ = other.started_;
        deadline_ = other.deadline_;
        cancel_ = std::move(other.cancel_);
        done_ = other.done_;
        other.done_ = true;
    }
    return *this;
}

void Lookup::cancel_if_pending() {
    if (!done_ && cancel_) {
        done_ = true;
        cancel_();
    }
}

DnsAnswer Lookup::wait() {
    auto answer = slot_ ? slot_->wait_until(deadline_) : std::nullopt;
    if (!answer) {
        cancel_if_pending();
        DnsAnswer timed_out;
        timed_out.status = AnswerStatus::timeout;
        timed_out.detail = "no answer within dns-timeout";
        timed_out.elapsed = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started_);
        return timed_out;
    }
    done_ = true;
    return std::move(*answer);
}

}  // namespace mtls
