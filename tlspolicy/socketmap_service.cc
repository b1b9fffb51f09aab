#include "socketmap_service.h"

#include <fmt/format.h>

#include <deque>
#include <memory>
#include <mutex>

#include "mtls/verdict_record.h"
#include "postfix/socketmap.h"
#include "server/listener.h"

namespace mtls::tlspolicy {
namespace {

constexpr int kBacklog = 128;
constexpr std::string_view kLogName = "socketmap";

// The replies of one connection in request order; a slot is filled by the
// worker that computed it, possibly after the connection is gone (hence
// shared).
struct Outbox {
    std::mutex mutex;
    std::deque<std::optional<std::string>> slots;
};

}  // namespace

class SocketmapService::Connection final : public server::ConnectionHandler {
public:
    Connection(SocketmapService& owner, std::uint64_t serial) : owner_(owner), serial_(serial) {}

    void received(std::string_view bytes) override { reader_.append(bytes); }

    std::optional<std::string> next_reply() override {
        take_requests();
        const std::scoped_lock lock(outbox_->mutex);
        if (outbox_->slots.empty() || !outbox_->slots.front()) {
            return std::nullopt;
        }
        auto reply = std::move(*outbox_->slots.front());
        outbox_->slots.pop_front();
        return reply;
    }

    [[nodiscard]] std::string protocol_error() const override {
        return overflow_
                   ? fmt::format("more than {} requests without reading the answers", owner_.limits_.max_in_flight)
                   : reader_.error();
    }

private:
    void take_requests() {
        while (!overflow_) {
            auto request = reader_.next();
            if (!request) {
                return;
            }
            auto from_memory = *request ? owner_.reply_from_memory((*request)->key) : std::nullopt;
            const std::scoped_lock lock(outbox_->mutex);
            if (outbox_->slots.size() >= owner_.limits_.max_in_flight) {
                overflow_ = true;
                return;
            }
            if (!*request) {
                owner_.log_(Severity::warning, fmt::format("{}: connection #{}: invalid request: {}", kLogName, serial_,
                                                           escape_for_log(request->error())));
                outbox_->slots.emplace_back(encode_reply(SocketmapReply::perm("invalid request: " + request->error())));
                continue;
            }
            if (from_memory) {
                outbox_->slots.emplace_back(std::move(from_memory));
                continue;
            }
            outbox_->slots.emplace_back();
            auto& slot = outbox_->slots.back();
            const auto submitted =
                owner_.pool_->submit([&owner = owner_, outbox = outbox_, slot = &slot, key = (*request)->key] {
                    std::string reply;
                    try {
                        reply = encode_reply(owner.answer_(key).reply);
                    } catch (const std::exception& error) {
                        owner.log_(Severity::error, fmt::format("{}: {}: {}", kLogName, escape_for_log(key),
                                                                escape_for_log(error.what())));
                        reply = encode_reply(SocketmapReply::temp("internal error"));
                    }
                    {
                        const std::scoped_lock done(outbox->mutex);
                        *slot = std::move(reply);
                    }
                    owner.server_->replies_ready();
                });
            if (!submitted) {
                owner_.log_(Severity::warning,
                            fmt::format("{}: {} answers waiting, answering TEMP", kLogName, owner_.limits_.max_queued));
                slot = encode_reply(SocketmapReply::temp("overloaded, try again later"));
            }
        }
    }

    SocketmapService& owner_;
    std::uint64_t serial_;
    SocketmapReader reader_;
    std::shared_ptr<Outbox> outbox_ = std::make_shared<Outbox>();
    bool overflow_ = false;
};

SocketmapService::SocketmapService(const ListenAddress& address, Answerer answer, Log log,
                                   SocketmapServiceLimits limits, MemoryAnswerer answer_from_memory)
    : answer_(std::move(answer)),
      answer_from_memory_(std::move(answer_from_memory)),
      log_(std::move(log)),
      limits_(limits) {
    pool_.emplace(limits_.workers, limits_.max_queued);
    server_.emplace(
        server::Listener(address, "socket " + to_string(address), kBacklog), std::string(kLogName),
        [this](std::uint64_t serial) { return std::make_unique<Connection>(*this, serial); }, log_, limits_.stream);
}

std::optional<std::string> SocketmapService::reply_from_memory(const std::string& key) const noexcept {
    if (!answer_from_memory_) {
        return std::nullopt;
    }
    try {
        if (auto decision = answer_from_memory_(key)) {
            return encode_reply(decision->reply);
        }
    } catch (...) {  // NOLINT(bugprone-empty-catch): a worker answers it, and reports
    }
    return std::nullopt;
}

SocketmapService::~SocketmapService() {
    pool_->stop();    // the answers in progress finish and wake the server; later requests get TEMP
    server_.reset();  // then the replies go out as far as they can, and the sockets close
    pool_.reset();
}

}  // namespace mtls::tlspolicy
