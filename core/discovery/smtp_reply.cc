#include "discovery/smtp_reply.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include <fmt/format.h>

namespace mtls::discovery {
namespace {

constexpr std::size_t kSummaryLength = 80;

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// Text after the code: printable ASCII and HTAB (RFC 5321's textstring);
// UTF-8 is tolerated (SMTPUTF8 servers), other control characters are not.
bool acceptable_text(std::string_view text) {
    return std::none_of(text.begin(), text.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return (u < 0x20 && c != '\t') || u == 0x7f;
    });
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

}  // namespace

std::string SmtpReply::summary() const {
    std::string text = fmt::format("{}", code);
    if (!lines.empty() && !lines.front().empty()) {
        text += ' ';
        for (const char c : std::string_view(lines.front()).substr(0, kSummaryLength)) {
            const auto u = static_cast<unsigned char>(c);
            text += u >= 0x20 && u < 0x7f ? c : '?';
        }
        if (lines.front().size() > kSummaryLength) {
            text += "...";
        }
    }
    return text;
}

bool offers_starttls(const SmtpReply& ehlo_reply) {
    for (std::size_t i = 1; i < ehlo_reply.lines.size(); ++i) {
        std::string_view line = ehlo_reply.lines[i];
        const auto space = line.find(' ');
        if (equals_ignoring_case(line.substr(0, space), "STARTTLS")) {
            return true;
        }
    }
    return false;
}

void SmtpReplyReader::feed(std::string_view bytes) {
    if (error_) {
        return;
    }
    // next() refuses an overlong line as soon as it looks; this bounds what
    // may pile up between two calls.
    if (bytes.size() > kMaxReplyBytes - std::min(buffer_.size(), kMaxReplyBytes)) {
        error_ = fmt::format("reply longer than {} octets", kMaxReplyBytes);
        buffer_.clear();
        return;
    }
    buffer_.append(bytes);
}

Expected<bool> SmtpReplyReader::take_line(std::string_view line) {
    if (line.find('\0') != std::string_view::npos) {
        return Error{"NUL byte in the reply"};
    }
    if (line.find('\n') != std::string_view::npos) {
        return Error{"bare LF in the reply"};
    }
    if (line.size() < 3 || !is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2]) || line[0] < '2' ||
        line[0] > '5') {
        return Error{"reply line without a reply code"};
    }
    const int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    if (!partial_.lines.empty() && code != partial_.code) {
        return Error{fmt::format("reply code changes from {} to {} within one reply", partial_.code, code)};
    }
    bool last = true;
    std::string_view text;
    if (line.size() > 3) {
        if (line[3] != ' ' && line[3] != '-') {
            return Error{"reply code not followed by a space or hyphen"};
        }
        last = line[3] == ' ';
        text = line.substr(4);
    }
    if (!acceptable_text(text)) {
        return Error{"control character in the reply"};
    }
    if (partial_.lines.size() == kMaxReplyLines) {
        return Error{fmt::format("reply longer than {} lines", kMaxReplyLines)};
    }
    partial_.code = code;
    partial_.lines.emplace_back(text);
    return last;
}

Expected<std::optional<SmtpReply>> SmtpReplyReader::next() {
    while (!error_) {
        const auto crlf = buffer_.find("\r\n");
        // Without CRLF yet, a CR at the end may be the start of it: a line of
        // exactly the limit can arrive in a read that ends between CR and LF.
        const std::size_t line_end = crlf != std::string::npos ? crlf
                                     : buffer_.ends_with('\r') ? buffer_.size() - 1
                                                               : buffer_.size();
        if (line_end + 2 > kMaxReplyLineLength) {
            error_ = fmt::format("reply line longer than {} octets", kMaxReplyLineLength);
            break;
        }
        if (crlf == std::string::npos) {
            // A bare LF or a NUL can be refused before the CR that may never come.
            if (buffer_.find('\n') != std::string::npos) {
                error_ = "bare LF in the reply";
            } else if (buffer_.find('\0') != std::string::npos) {
                error_ = "NUL byte in the reply";
            } else {
                return std::optional<SmtpReply>();
            }
            break;
        }
        auto last = take_line(std::string_view(buffer_).substr(0, crlf));
        buffer_.erase(0, crlf + 2);
        if (!last) {
            error_ = last.error();
            break;
        }
        if (*last) {
            return std::optional<SmtpReply>(std::exchange(partial_, SmtpReply{}));
        }
    }
    return Error{*error_};
}

}  // namespace mtls::discovery
