// Streaming line input for mtls-report: plain or gzip-compressed files (zlib
// reads both, whatever the name, so "mail.log.2.gz" and "mail.log.1" need no
// flag), or standard input. Memory stays bounded by the longest line kept.
#pragma once

#include <zlib.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/free_with.h"
#include "report_log.h"
#include "report_time.h"

namespace mtls::report {

class LineReader {
public:
    // "-" is standard input. Throws std::system_error when the file cannot be
    // opened (missing, unreadable, a directory).
    explicit LineReader(const std::string& path, std::size_t max_line = kMaxLineLength);

    // The next line without its newline, valid until the next call; false at
    // the end. A line longer than max_line is consumed and reported with
    // too_long set and an empty line.
    bool next(std::string_view& line, bool& too_long);

    // The file's modification time (now for standard input and pipes): no
    // line in it was written later, which dates syslog's year-less stamps.
    [[nodiscard]] Timestamp reference() const { return reference_; }
    // A read error met on the way (e.g. a truncated .gz); lines read before
    // it were delivered.
    [[nodiscard]] const std::string& error() const { return error_; }

private:
    bool fill();

    std::unique_ptr<gzFile_s, FreeWith<&gzclose>> file_;
    std::size_t max_line_;
    Timestamp reference_;
    std::vector<char> buffer_;
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
    std::string pending_;  // a line split across reads
    bool clear_pending_ = false;
    bool overlong_ = false;  // discarding the rest of a too-long line
    bool eof_ = false;
    std::string error_;
};

}  // namespace mtls::report
