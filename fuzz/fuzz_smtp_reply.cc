// The SMTP replies a certificate-discovery probe reads from the host it
// connects back to (discovery/smtp_reply.h): hostile bytes by design.
// Input: one control byte (the size of the chunks the rest arrives in, as
// reads would split it), then the byte stream.
// Properties: every reply has a code of 200-599, 1 to kMaxReplyLines lines
// within the length limit and without CR, LF or NUL; an error is final; the
// buffer stays bounded; how the stream is split never changes the replies
// read or whether it fails; offers_starttls and summary never misbehave.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "discovery/smtp_reply.h"
#include "fuzz_support.h"

using namespace mtls;
using namespace mtls::discovery;

namespace {

struct Transcript {
    std::vector<SmtpReply> replies;
    std::string error;  // empty: no error (yet)
};

void check_reply(const SmtpReply& reply, std::string_view input) {
    FUZZ_CHECK(reply.code >= 200 && reply.code <= 599, input);
    FUZZ_CHECK(!reply.lines.empty() && reply.lines.size() <= kMaxReplyLines, input);
    for (const auto& line : reply.lines) {
        FUZZ_CHECK(line.size() + 6 <= kMaxReplyLineLength, input);  // "250 " + text + CRLF
        FUZZ_CHECK(line.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos, input);
    }
    const std::string summary = reply.summary();
    FUZZ_CHECK(summary.size() <= 100, input);
    for (const char c : summary) {
        FUZZ_CHECK(c >= 0x20 && c < 0x7f, input);
    }
    static_cast<void>(offers_starttls(reply));
}

Transcript read_all(std::string_view stream, std::size_t chunk, std::string_view input) {
    Transcript transcript;
    SmtpReplyReader reader;
    while (true) {
        auto reply = reader.next();
        if (!reply) {
            transcript.error = reply.error();
            FUZZ_CHECK(!transcript.error.empty(), input);
            reader.feed("250 ok\r\n");
            const auto again = reader.next();
            FUZZ_CHECK(!again && again.error() == transcript.error, input);
            return transcript;
        }
        if (reply->has_value()) {
            check_reply(**reply, input);
            transcript.replies.push_back(**reply);
            continue;
        }
        if (stream.empty()) {
            return transcript;
        }
        reader.feed(stream.substr(0, chunk));
        stream.remove_prefix(std::min(chunk, stream.size()));
        FUZZ_CHECK(reader.buffered() <= kMaxReplyBytes, input);
    }
}

bool same(const Transcript& a, const Transcript& b) {
    if (a.error.empty() != b.error.empty() || a.replies.size() != b.replies.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.replies.size(); ++i) {
        if (a.replies[i].code != b.replies[i].code || a.replies[i].lines != b.replies[i].lines) {
            return false;
        }
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto input = fuzz::as_text(data, size);
    if (input.empty()) {
        return 0;
    }
    const std::size_t chunk = static_cast<std::uint8_t>(input.front()) % 64 + 1;
    const auto stream = input.substr(1);
    const Transcript split = read_all(stream, chunk, input);
    // Feeding all at once may fail earlier on the byte bound; below it, the
    // split must not matter.
    if (stream.size() <= kMaxReplyBytes) {
        FUZZ_CHECK(same(split, read_all(stream, stream.size() + 1, input)), input);
    }
    return 0;
}
