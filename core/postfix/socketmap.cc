#include "postfix/socketmap.h"

#include <algorithm>
#include <string>

namespace mtls {
namespace {

bool is_control(char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
}

bool has_control(std::string_view text) {
    return std::any_of(text.begin(), text.end(), is_control);
}

std::size_t decimal_digits(std::size_t value) {
    std::size_t digits = 1;
    while (value >= 10) {
        value /= 10;
        ++digits;
    }
    return digits;
}

}  // namespace

std::string encode_netstring(std::string_view data) {
    std::string out = std::to_string(data.size());
    out.reserve(out.size() + data.size() + 2);
    out.push_back(':');
    out.append(data);
    out.push_back(',');
    return out;
}

Expected<SocketmapRequest> parse_socketmap_request(std::string_view payload) {
    if (payload.find('\0') != std::string_view::npos || has_control(payload)) {
        return Error{"request contains control characters"};
    }
    const auto space = payload.find(' ');
    if (space == std::string_view::npos) {
        return Error{"request is not \"name key\" (no space)"};
    }
    if (space == 0) {
        return Error{"request has an empty map name"};
    }
    if (space + 1 == payload.size()) {
        return Error{"request has an empty key"};
    }
    return SocketmapRequest{std::string(payload.substr(0, space)), std::string(payload.substr(space + 1))};
}

SocketmapReader::SocketmapReader(SocketmapReaderLimits limits) : limits_(limits) {}

void SocketmapReader::append(std::string_view bytes) {
    if (failed()) {
        return;
    }
    // Drop what was parsed before growing, so the buffer stays near one request.
    if (consumed_ > 0) {
        buffer_.erase(0, consumed_);
        consumed_ = 0;
    }
    buffer_.append(bytes);
}

void SocketmapReader::fail(std::string reason) {
    error_ = std::move(reason);
    buffer_.clear();
    consumed_ = 0;
}

std::optional<Expected<SocketmapRequest>> SocketmapReader::next() {
    if (failed() || consumed_ == buffer_.size()) {
        return std::nullopt;
    }
    const std::string_view rest = std::string_view(buffer_).substr(consumed_);
    // Postfix writes the length with "%ld": no sign, no spaces, no leading
    // zero (netstring.c). Every byte is judged as soon as it arrives, so an
    // absurd length fails before its payload is ever buffered.
    const std::size_t max_digits = decimal_digits(limits_.max_request);
    std::size_t length = 0;
    std::size_t at = 0;
    for (; at < rest.size() && rest[at] != ':'; ++at) {
        const char c = rest[at];
        if (c < '0' || c > '9') {
            fail(at == 0 ? "netstring does not start with a digit" : "netstring length has a non-digit");
            return std::nullopt;
        }
        if (at == 1 && rest[0] == '0') {
            fail("netstring length has a leading zero");
            return std::nullopt;
        }
        if (at + 1 > max_digits) {
            fail("netstring length above the limit of " + std::to_string(limits_.max_request) + " bytes");
            return std::nullopt;
        }
        length = length * 10 + static_cast<std::size_t>(c - '0');
    }
    if (at < rest.size() && length > limits_.max_request) {
        fail("netstring length " + std::to_string(length) + " above the limit of " +
             std::to_string(limits_.max_request) + " bytes");
        return std::nullopt;
    }
    if (at == rest.size()) {
        return std::nullopt;  // the length is not complete yet
    }
    if (at == 0) {
        fail("netstring has no length before ':'");
        return std::nullopt;
    }
    const std::size_t payload_start = at + 1;
    if (rest.size() < payload_start + length + 1) {
        return std::nullopt;
    }
    if (rest[payload_start + length] != ',') {
        fail("netstring does not end with ','");
        return std::nullopt;
    }
    const std::string_view payload = rest.substr(payload_start, length);
    consumed_ += payload_start + length + 1;
    return parse_socketmap_request(payload);
}

std::string_view to_string(SocketmapStatus status) {
    switch (status) {
        case SocketmapStatus::ok: return "OK";
        case SocketmapStatus::not_found: return "NOTFOUND";
        case SocketmapStatus::temp: return "TEMP";
        case SocketmapStatus::timeout: return "TIMEOUT";
        case SocketmapStatus::perm: return "PERM";
    }
    return "TEMP";
}

std::string reply_payload(const SocketmapReply& reply) {
    const std::string_view word = to_string(reply.status);
    if (reply.status == SocketmapStatus::not_found) {
        return "NOTFOUND ";
    }
    const std::size_t room = kSocketmapMaxReply - word.size() - 1;
    if (reply.status == SocketmapStatus::ok) {
        if (reply.text.empty() || reply.text.size() > room || has_control(reply.text)) {
            return "TEMP invalid reply data";
        }
        return "OK " + reply.text;
    }
    std::string out(word);
    out.push_back(' ');
    const std::string_view reason = std::string_view(reply.text).substr(0, std::min(reply.text.size(), room));
    for (const char c : reason) {
        out.push_back(is_control(c) ? '?' : c);
    }
    return out;
}

std::string encode_reply(const SocketmapReply& reply) {
    return encode_netstring(reply_payload(reply));
}

}  // namespace mtls
