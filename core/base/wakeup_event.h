// An eventfd(2) that one thread polls and another (or a signal handler) sets
// to wake it: how the resolver's event loop, the stream servers and a
// daemon's main thread are told to stop or to look at a flag.
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include "base/unique_fd.h"

namespace mtls {

class WakeupEvent {
public:
    // flags: EFD_NONBLOCK for a poll(2) loop, 0 for a thread that sleeps in
    // wait(). Throws std::runtime_error when the kernel refuses one.
    explicit WakeupEvent(int flags = EFD_NONBLOCK) : fd_(eventfd(0, EFD_CLOEXEC | flags)) {
        if (!fd_.valid()) {
            throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
        }
    }

    // Async-signal-safe; never blocks (the counter cannot overflow from ones).
    void signal() const noexcept {
        const std::uint64_t one = 1;
        [[maybe_unused]] const auto written = write(fd_.get(), &one, sizeof one);
    }

    // Sleeps until signal() (or a signal interrupts it), then resets the
    // event; false when reading failed for another reason than EINTR.
    bool wait() const noexcept {
        std::uint64_t count = 0;
        return read(fd_.get(), &count, sizeof count) >= 0 || errno == EINTR;
    }

    // For poll(2): readable once signal() was called.
    [[nodiscard]] int fd() const { return fd_.get(); }

private:
    UniqueFd fd_;
};

}  // namespace mtls
