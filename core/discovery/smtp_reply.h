// The SMTP replies a certificate-discovery probe reads from the host it
// connects back to (RFC 5321, section 4.2): the banner, the EHLO reply and
// the reply to STARTTLS. That host is whoever just sent us mail, so its bytes
// are hostile: lines and replies are bounded, CRLF is required, NUL and
// other control characters are refused, every line of a reply must carry the
// same code, and bytes that arrive after a complete reply (which we never
// pipeline for) are an error. The last rule is what keeps STARTTLS command
// injection (RFC 3207; CVE-2011-0411 and kin) out of the TLS session.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.h"

namespace mtls::discovery {

// RFC 5321, section 4.5.3.1.5: a reply line is at most 512 octets with CRLF.
inline constexpr std::size_t kMaxReplyLineLength = 512;
// An EHLO reply lists extensions one per line; real ones have 5-20.
inline constexpr std::size_t kMaxReplyLines = 64;
// What a reader holds at most: a whole reply of the longest lines.
inline constexpr std::size_t kMaxReplyBytes = kMaxReplyLines * kMaxReplyLineLength;

struct SmtpReply {
    int code = 0;  // 200-599
    // The text of each line after the code and its separator; untrusted.
    std::vector<std::string> lines;

    [[nodiscard]] bool positive() const { return code >= 200 && code < 400; }
    // The first line, shortened and with anything unprintable replaced, for
    // a reason text.
    [[nodiscard]] std::string summary() const;
};

// True when an EHLO reply lists the STARTTLS keyword (RFC 3207, section 4):
// any line but the first (the greeting), compared case-insensitively.
[[nodiscard]] bool offers_starttls(const SmtpReply& ehlo_reply);

class SmtpReplyReader {
public:
    // Appends bytes as they arrive; they may split a line anywhere.
    void feed(std::string_view bytes);

    // The next complete reply, std::nullopt while more bytes are needed, or
    // an error once the input can no longer be a reply (then every later
    // call returns the same error).
    Expected<std::optional<SmtpReply>> next();

    // Bytes received but not yet part of a returned reply.
    [[nodiscard]] std::size_t buffered() const { return buffer_.size(); }

private:
    // Checks one complete line (without CRLF) and adds it to partial_;
    // true when it was the reply's last line.
    Expected<bool> take_line(std::string_view line);

    std::string buffer_;
    SmtpReply partial_;
    std::optional<std::string> error_;
};

}  // namespace mtls::discovery
