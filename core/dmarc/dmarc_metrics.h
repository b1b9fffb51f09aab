// The DMARC stage's Prometheus counters. The stage runs in a child process
// of its own (milter/dmarc_stage.h), while /metrics is served by the parent:
// the counters live in one anonymous MAP_SHARED mapping made before the
// fork, so that both processes see the same memory. They are lock-free
// atomics of fixed size (no pointers, no heap), which work across processes
// in shared memory.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "dmarc/evaluation.h"

namespace mtls::dmarc {

class DmarcMetrics {
public:
    // Maps the shared counters; throws std::system_error when mmap fails.
    DmarcMetrics();
    ~DmarcMetrics();
    DmarcMetrics(const DmarcMetrics&) = delete;
    DmarcMetrics& operator=(const DmarcMetrics&) = delete;
    DmarcMetrics(DmarcMetrics&&) = delete;
    DmarcMetrics& operator=(DmarcMetrics&&) = delete;

    // One message evaluated: by result (with mtls, as dmarc-mtls says), by
    // each identifier that aligned, and whether mtls alone made the pass.
    void count_message(const Evaluation& evaluation);
    void count_skipped();

    // The families in the text exposition format 0.0.4, after stage 1's.
    [[nodiscard]] std::string render() const;

private:
    static constexpr std::size_t kResults = 5;      // Result's values
    static constexpr std::size_t kIdentifiers = 3;  // spf, dkim, mtls
    struct Shared {
        std::array<std::atomic<std::uint64_t>, kResults> results;
        std::array<std::atomic<std::uint64_t>, kResults> results_rfc9989;
        std::array<std::atomic<std::uint64_t>, kIdentifiers> aligned;
        std::atomic<std::uint64_t> mtls_only_passes;
        std::atomic<std::uint64_t> skipped;
    };
    static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
                  "counters in shared memory must not need a process-local lock");
    Shared* shared_;
};

}  // namespace mtls::dmarc
