#include "dmarc/dmarc_metrics.h"

#include <sys/mman.h>

#include <fmt/format.h>

#include <cerrno>
#include <new>
#include <system_error>

namespace mtls::dmarc {
namespace {

constexpr std::array kResultValues = {Result::none, Result::pass, Result::fail, Result::temperror, Result::permerror};
constexpr std::array<std::string_view, 3> kIdentifierNames = {"spf", "dkim", "mtls"};

std::size_t index_of(Result result) {
    for (std::size_t i = 0; i < kResultValues.size(); ++i) {
        if (kResultValues.at(i) == result) {
            return i;
        }
    }
    return 0;
}

template <std::size_t N>
void render_by_result(std::string& out, std::string_view name, std::string_view help,
                      const std::array<std::atomic<std::uint64_t>, N>& counters) {
    out += fmt::format("# HELP {} {}\n# TYPE {} counter\n", name, help, name);
    for (std::size_t i = 0; i < N; ++i) {
        out += fmt::format("{}{{result=\"{}\"}} {}\n", name, to_string(kResultValues.at(i)),
                           counters.at(i).load(std::memory_order_relaxed));
    }
}

}  // namespace

DmarcMetrics::DmarcMetrics() {
    void* memory = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) {
        throw std::system_error(errno, std::generic_category(), "mmap of the DMARC counters");
    }
    shared_ = new (memory) Shared{};  // NOLINT(cppcoreguidelines-owning-memory): placement in the mapping
}

DmarcMetrics::~DmarcMetrics() {
    shared_->~Shared();
    munmap(shared_, sizeof(Shared));
}

void DmarcMetrics::count_message(const Evaluation& evaluation) {
    shared_->results.at(index_of(evaluation.result)).fetch_add(1, std::memory_order_relaxed);
    shared_->results_rfc9989.at(index_of(evaluation.result_rfc9989)).fetch_add(1, std::memory_order_relaxed);
    const std::array<bool, kIdentifiers> aligned = {evaluation.aligned.spf, evaluation.aligned.dkim,
                                                    evaluation.aligned.mtls};
    for (std::size_t i = 0; i < kIdentifiers; ++i) {
        if (aligned.at(i)) {
            shared_->aligned.at(i).fetch_add(1, std::memory_order_relaxed);
        }
    }
    if (evaluation.result == Result::pass && evaluation.result_rfc9989 != Result::pass) {
        shared_->mtls_only_passes.fetch_add(1, std::memory_order_relaxed);
    }
}

void DmarcMetrics::count_skipped() {
    shared_->skipped.fetch_add(1, std::memory_order_relaxed);
}

std::string DmarcMetrics::render() const {
    std::string out;
    render_by_result(out, "mtls_dmarc_messages_total", "Messages evaluated by the DMARC stage, by result.",
                     shared_->results);
    render_by_result(out, "mtls_dmarc_rfc9989_messages_total", "The same messages by the RFC 9989 result without mtls.",
                     shared_->results_rfc9989);
    out +=
        "# HELP mtls_dmarc_aligned_total Messages by identifier that aligned with the From domain.\n"
        "# TYPE mtls_dmarc_aligned_total counter\n";
    for (std::size_t i = 0; i < kIdentifiers; ++i) {
        out += fmt::format("mtls_dmarc_aligned_total{{identifier=\"{}\"}} {}\n", kIdentifierNames.at(i),
                           shared_->aligned.at(i).load(std::memory_order_relaxed));
    }
    out += fmt::format(
        "# HELP mtls_dmarc_mtls_only_passes_total DMARC passes that only the mtls identifier produced.\n"
        "# TYPE mtls_dmarc_mtls_only_passes_total counter\n"
        "mtls_dmarc_mtls_only_passes_total {}\n"
        "# HELP mtls_dmarc_skipped_total Messages the DMARC stage did not evaluate (SMTP-AUTH clients).\n"
        "# TYPE mtls_dmarc_skipped_total counter\n"
        "mtls_dmarc_skipped_total {}\n",
        shared_->mtls_only_passes.load(std::memory_order_relaxed), shared_->skipped.load(std::memory_order_relaxed));
    return out;
}

}  // namespace mtls::dmarc
