// Postfix socketmap requests (SocketmapReader) and replies (reply_payload).
// Input: one byte choosing how the rest is cut into chunks, then the byte
// stream as a socketmap client would send it.
// Properties: how the bytes are cut changes nothing (the same requests, the
// same rejections, the same error); every request read is "name key" without
// control characters and re-encodes to the netstring it came from; a reply
// built from any text stays within Postfix's limit and is one clean line.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_support.h"
#include "postfix/socketmap.h"

using namespace mtls;

namespace {

struct Outcome {
    std::vector<SocketmapRequest> requests;
    std::vector<std::string> rejected;
    std::string error;
};

Outcome read(std::string_view stream, std::size_t chunk, const SocketmapReaderLimits& limits) {
    SocketmapReader reader(limits);
    Outcome outcome;
    for (std::size_t at = 0; at < stream.size(); at += chunk) {
        reader.append(stream.substr(at, chunk));
        while (auto request = reader.next()) {
            if (*request) {
                outcome.requests.push_back(request->value());
            } else {
                outcome.rejected.push_back(request->error());
            }
        }
    }
    outcome.error = reader.error();
    return outcome;
}

bool clean(std::string_view text) {
    return std::none_of(text.begin(), text.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u < 0x20 || u == 0x7f;
    });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) {
        return 0;
    }
    const std::size_t chunk = data[0] % 64 + 1;
    const auto stream = fuzz::as_text(data + 1, size - 1);
    // A small limit too, so that short inputs reach it.
    for (const SocketmapReaderLimits& limits : {SocketmapReaderLimits{}, SocketmapReaderLimits{12}}) {
        const auto whole = read(stream, std::max<std::size_t>(stream.size(), 1), limits);
        const auto cut = read(stream, chunk, limits);
        FUZZ_CHECK(whole.requests == cut.requests, stream);
        FUZZ_CHECK(whole.rejected == cut.rejected, stream);
        FUZZ_CHECK(whole.error == cut.error, stream);
        for (const auto& request : whole.requests) {
            FUZZ_CHECK(!request.name.empty() && !request.key.empty(), stream);
            FUZZ_CHECK(request.name.find(' ') == std::string::npos, stream);
            FUZZ_CHECK(clean(request.name) && clean(request.key), stream);
            const std::string payload = request.name + " " + request.key;
            FUZZ_CHECK(payload.size() <= limits.max_request, stream);
            FUZZ_CHECK(stream.find(encode_netstring(payload)) != std::string_view::npos, stream);
            SocketmapReader again(limits);
            again.append(encode_netstring(payload));
            const auto reread = again.next();
            FUZZ_CHECK(reread && reread->has_value() && reread->value() == request, stream);
        }
    }
    for (const auto status : {SocketmapStatus::ok, SocketmapStatus::not_found, SocketmapStatus::temp,
                              SocketmapStatus::timeout, SocketmapStatus::perm}) {
        const auto payload = reply_payload(SocketmapReply{status, std::string(stream)});
        FUZZ_CHECK(payload.size() <= kSocketmapMaxReply, stream);
        FUZZ_CHECK(clean(payload), stream);
        FUZZ_CHECK(payload.starts_with(to_string(status)) || payload.starts_with("TEMP "), stream);
    }
    return 0;
}
