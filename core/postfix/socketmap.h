// Postfix's socketmap protocol (socketmap_table(5)), the server side: the
// request is one netstring "<length>:<name> <key>," and the reply one
// netstring "OK <data>", "NOTFOUND ", "TEMP <reason>", "TIMEOUT <reason>" or
// "PERM <reason>". Postfix keeps the connection open for further requests.
//
// The reader is what an untrusted peer on the socket talks to, so it is
// bounded in every dimension and fails on the first byte that no Postfix would
// send: the stream can then no longer be trusted to be in step, and the caller
// closes the connection. A netstring that is well framed but is not
// "name key" is answered (PERM) without closing: the next one is still in
// step.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "base/expected.h"

namespace mtls {

// Postfix reads at most socketmap_max_reply (default 100000) bytes of reply
// payload, the netstring's length prefix and comma not counted.
inline constexpr std::size_t kSocketmapMaxReply = 100000;

// "<length>:<data>," for any bytes.
std::string encode_netstring(std::string_view data);

struct SocketmapRequest {
    std::string name;  // the map name Postfix was configured with ("postfix")
    std::string key;   // everything after the first space, e.g. "example.com" or "[mx.example]:25"
    friend bool operator==(const SocketmapRequest&, const SocketmapRequest&) = default;
};

struct SocketmapReaderLimits {
    // Postfix's keys here are next hops: a domain of at most 253 characters,
    // with brackets and a port. 4096 leaves room for any map name.
    std::size_t max_request = 4096;
};

// Incremental: append() bytes as they arrive, then call next() until it
// returns std::nullopt. Framing errors (a non-digit or a leading zero in the
// length, a length above the limit, no ':' or no ',' where they belong) are
// final: failed() and error() say why.
class SocketmapReader {
public:
    explicit SocketmapReader(SocketmapReaderLimits limits = {});

    void append(std::string_view bytes);

    // std::nullopt: more bytes are needed, or the stream failed. An Error: a
    // complete netstring that is not "name key" with both parts non-empty and
    // free of control characters; the stream is still in step.
    std::optional<Expected<SocketmapRequest>> next();

    [[nodiscard]] bool failed() const { return !error_.empty(); }
    [[nodiscard]] const std::string& error() const { return error_; }
    // Part of a netstring is buffered (tells an idle connection from a stalled one).
    [[nodiscard]] bool in_request() const { return consumed_ < buffer_.size(); }

private:
    void fail(std::string reason);

    SocketmapReaderLimits limits_;
    std::string buffer_;
    std::size_t consumed_ = 0;
    std::string error_;
};

// Splits a netstring payload into name and key (exposed for the tests and
// for `--query`, which builds no netstring).
Expected<SocketmapRequest> parse_socketmap_request(std::string_view payload);

enum class SocketmapStatus { ok, not_found, temp, timeout, perm };

std::string_view to_string(SocketmapStatus status);

struct SocketmapReply {
    SocketmapStatus status = SocketmapStatus::not_found;
    std::string text;  // the data after "OK ", the reason after TEMP/TIMEOUT/PERM; empty for NOTFOUND

    static SocketmapReply ok(std::string data) { return {SocketmapStatus::ok, std::move(data)}; }
    static SocketmapReply not_found() { return {SocketmapStatus::not_found, {}}; }
    static SocketmapReply temp(std::string reason) { return {SocketmapStatus::temp, std::move(reason)}; }
    static SocketmapReply timeout(std::string reason) { return {SocketmapStatus::timeout, std::move(reason)}; }
    static SocketmapReply perm(std::string reason) { return {SocketmapStatus::perm, std::move(reason)}; }
    friend bool operator==(const SocketmapReply&, const SocketmapReply&) = default;
};

// The reply payload exactly as Postfix reads it: "OK dane-only", "NOTFOUND "
// (socketmap_table(5) writes the space), "TEMP reason". Never more than
// kSocketmapMaxReply bytes and never a control character: a reason is cut and
// its control characters become '?'; OK data that is too long or not
// printable cannot be cut without changing the policy, so it becomes
// "TEMP invalid reply data" (Postfix defers, which is safe).
std::string reply_payload(const SocketmapReply& reply);

// encode_netstring(reply_payload(reply)).
std::string encode_reply(const SocketmapReply& reply);

}  // namespace mtls
