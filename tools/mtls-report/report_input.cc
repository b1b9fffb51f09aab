#include "report_input.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>

#include "base/unique_fd.h"

namespace mtls::report {
namespace {

constexpr std::size_t kReadSize = std::size_t{64} * 1024;

[[noreturn]] void fail(const std::string& path, int error) {
    throw std::system_error(error, std::generic_category(), path);
}

}  // namespace

LineReader::LineReader(const std::string& path, std::size_t max_line)
    : max_line_(max_line), reference_(now()), buffer_(kReadSize) {
    // Standard input is duplicated so that gzclose does not close fd 0.
    UniqueFd fd(path == "-" ? ::dup(STDIN_FILENO) : ::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) {
        fail(path, errno);
    }
    struct stat info {};
    if (::fstat(fd.get(), &info) != 0) {
        fail(path, errno);
    }
    if (S_ISDIR(info.st_mode)) {
        fail(path, EISDIR);
    }
    if (S_ISREG(info.st_mode)) {
        reference_ = Timestamp{std::chrono::seconds{info.st_mtim.tv_sec}};
    }
    file_.reset(gzdopen(fd.get(), "rb"));
    if (!file_) {
        fail(path, errno != 0 ? errno : ENOMEM);
    }
    fd.release();  // gzclose closes it from now on
    gzbuffer(file_.get(), static_cast<unsigned>(kReadSize));
}

bool LineReader::fill() {
    if (eof_) {
        return false;
    }
    const int n = gzread(file_.get(), buffer_.data(), static_cast<unsigned>(buffer_.size()));
    if (n <= 0) {
        eof_ = true;
        int code = Z_OK;
        const char* message = gzerror(file_.get(), &code);
        if (n < 0 || (code != Z_OK && code != Z_STREAM_END)) {
            error_ = code == Z_ERRNO ? std::strerror(errno) : message;
        }
        return false;
    }
    begin_ = 0;
    end_ = static_cast<std::size_t>(n);
    return true;
}

bool LineReader::next(std::string_view& line, bool& too_long) {
    too_long = false;
    if (clear_pending_) {
        pending_.clear();
        clear_pending_ = false;
    }
    while (true) {
        const std::string_view chunk(buffer_.data() + begin_, end_ - begin_);
        const auto newline = chunk.find('\n');
        if (newline != std::string_view::npos) {
            begin_ += newline + 1;
            const auto piece = chunk.substr(0, newline);
            if (overlong_ || pending_.size() + piece.size() > max_line_) {
                overlong_ = false;
                pending_.clear();
                too_long = true;
                line = {};
                return true;
            }
            if (pending_.empty()) {
                line = piece;  // straight from the buffer, no copy
                return true;
            }
            pending_.append(piece);
            line = pending_;
            clear_pending_ = true;
            return true;
        }
        // No newline in what is left: keep it, unless the line is already
        // too long, in which case the rest is skipped up to the next newline.
        if (!overlong_) {
            if (pending_.size() + chunk.size() > max_line_) {
                overlong_ = true;
                pending_.clear();
            } else {
                pending_.append(chunk);
            }
        }
        begin_ = end_ = 0;
        if (!fill()) {
            if (overlong_) {
                overlong_ = false;
                too_long = true;
                line = {};
                return true;
            }
            if (!pending_.empty()) {  // a last line without its newline
                line = pending_;
                clear_pending_ = true;
                return true;
            }
            return false;
        }
    }
}

}  // namespace mtls::report
