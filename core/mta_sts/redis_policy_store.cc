#include "mta_sts/redis_policy_store.h"

#include <fmt/format.h>
#include <sys/time.h>

#include <ctime>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <vector>

namespace mtls {
namespace {

constexpr timeval kRedisTimeout{2, 0};  // connect and each command: Postfix waits for our answer
constexpr std::string_view kKeyPrefix = "mtls-tlspolicy:sts:";

std::string key_of(std::string_view domain) {
    return std::string(kKeyPrefix) + std::string(domain);
}

}  // namespace

RedisPolicyStore::RedisPolicyStore(std::string host, std::uint16_t port, int database)
    : host_(std::move(host)), port_(port), database_(database) {
    const std::scoped_lock lock(mutex_);
    connection();  // fail at start-up, not at the first query
}

std::string RedisPolicyStore::describe() const {
    return fmt::format("redis://{}:{}/{}", host_.find(':') == std::string::npos ? host_ : "[" + host_ + "]", port_,
                       database_);
}

redisContext* RedisPolicyStore::connection() {
    if (context_) {
        return context_.get();
    }
    std::unique_ptr<redisContext, FreeWith<&redisFree>> context(
        redisConnectWithTimeout(host_.c_str(), port_, kRedisTimeout));
    if (!context || context->err != 0) {
        throw std::runtime_error(fmt::format("cannot connect to Redis at {}: {}", describe(),
                                             context ? context->errstr : "out of memory"));
    }
    redisSetTimeout(context.get(), kRedisTimeout);
    if (database_ != 0) {
        const Reply selected(static_cast<redisReply*>(redisCommand(context.get(), "SELECT %d", database_)));
        if (!selected || selected->type == REDIS_REPLY_ERROR) {
            throw std::runtime_error(fmt::format("Redis at {}: cannot select database {}", describe(), database_));
        }
    }
    context_ = std::move(context);
    return context_.get();
}

RedisPolicyStore::Reply RedisPolicyStore::command(const std::vector<std::string>& arguments) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lengths;
    for (const auto& argument : arguments) {
        argv.push_back(argument.data());
        lengths.push_back(argument.size());
    }
    auto* context = connection();
    Reply reply(static_cast<redisReply*>(
        redisCommandArgv(context, static_cast<int>(argv.size()), argv.data(), lengths.data())));
    if (!reply) {
        const std::string why = context->errstr;
        context_.reset();
        throw std::runtime_error(fmt::format("Redis at {}: {}", describe(), why));
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        throw std::runtime_error(
            fmt::format("Redis at {}: {}", describe(), std::string_view(reply->str, reply->len)));
    }
    return reply;
}

std::optional<StoredPolicy> RedisPolicyStore::load(std::string_view domain) {
    const std::scoped_lock lock(mutex_);
    const auto reply = command({"GET", key_of(domain)});
    if (reply->type != REDIS_REPLY_STRING) {
        return std::nullopt;
    }
    // Another daemon (or version) wrote it: what does not parse is no entry.
    const auto json = nlohmann::json::parse(std::string_view(reply->str, reply->len), nullptr, false);
    if (!json.is_object()) {
        return std::nullopt;
    }
    try {
        return StoredPolicy{std::string(domain), json.at("id").get<std::string>(),
                            json.at("policy").get<std::string>(), json.at("fetched_at").get<std::int64_t>(),
                            json.at("expires_at").get<std::int64_t>()};
    } catch (const nlohmann::json::exception&) {
        return std::nullopt;
    }
}

void RedisPolicyStore::save(const StoredPolicy& policy) {
    const auto ttl = policy.expires_at - static_cast<std::int64_t>(std::time(nullptr));
    if (ttl <= 0) {
        return;
    }
    const nlohmann::json json = {{"id", policy.id},
                                 {"policy", policy.text},
                                 {"fetched_at", policy.fetched_at},
                                 {"expires_at", policy.expires_at}};
    const std::scoped_lock lock(mutex_);
    command({"SET", key_of(policy.domain), json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "EX", std::to_string(ttl)});
}

}  // namespace mtls
