// Client MX RDATA straight from DNS (attacker-controlled when the zone is):
// parse_client_mx_rdata, then the verdict over several such records.
// Input: the whole input as one RDATA; then, for decide(), the input read as
// records each prefixed with a one-byte length.
// Properties: a parsed target is the root or a canonical host name, and
// writing it back to wire form parses to the same record; decide() never
// passes without a matching host, and never uses a bogus answer.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "dns/client_mx.h"
#include "dns/domain_name.h"
#include "fake_resolver.h"  // client_mx_rdata: the same wire encoder the unit tests use
#include "fuzz_support.h"
#include "mtls/verdict.h"

using namespace mtls;

namespace {

void check_record(std::span<const std::uint8_t> rdata) {
    const auto context = fuzz::as_text(rdata.data(), rdata.size());
    const auto record = parse_client_mx_rdata(rdata);
    if (!record) {
        FUZZ_CHECK(!record.error().empty(), context);
        return;
    }
    FUZZ_CHECK(record->is_null() || fuzz::looks_canonical_host(record->host), context);
    const auto wire = testing::client_mx_rdata(record->preference, record->host);
    const auto again = parse_client_mx_rdata(wire);
    FUZZ_CHECK(again && again.value() == record.value(), context);
    const auto presentation = to_presentation(*record);
    FUZZ_CHECK(presentation.ends_with(record->host + "."), context);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> input(data, size);
    check_record(input);

    // The same bytes as an RRset: [length][rdata]... under a DNSSEC state.
    if (size < 2) {
        return 0;
    }
    DnsAnswer answer;
    answer.status = AnswerStatus::records;
    answer.dnssec = static_cast<DnssecState>(data[0] % 4);
    VerdictSettings policy;
    policy.require_dnssec = (data[1] & 1) != 0;
    policy.allow_wildcards = (data[1] & 2) != 0;
    std::size_t pos = 2;
    while (pos < size && answer.rdata.size() < 16) {
        const std::size_t length = std::min<std::size_t>(data[pos], size - pos - 1);
        answer.rdata.emplace_back(data + pos + 1, data + pos + 1 + length);
        check_record(answer.rdata.back());
        pos += 1 + length;
    }

    TlsEvidence evidence;
    evidence.status = CertificateStatus::verified;
    for (const auto* name : {"out1.example.org", "*.example.org"}) {
        add_presented_name(evidence, name);
    }
    const Verdict verdict = decide(answer, evidence, policy);
    const auto context = fuzz::as_text(data, size);
    FUZZ_CHECK(verdict.result != Result::pass || !verdict.matched_host.empty(), context);
    FUZZ_CHECK(verdict.result == Result::pass || verdict.matched_host.empty(), context);
    FUZZ_CHECK(verdict.result == Result::pass || !verdict.reason.empty(), context);
    if (answer.dnssec == DnssecState::bogus) {
        FUZZ_CHECK(verdict.result == Result::temperror, context);
    }
    if (verdict.result == Result::pass) {
        FUZZ_CHECK(!policy.require_dnssec || answer.dnssec == DnssecState::secure, context);
        const bool listed = std::any_of(verdict.client_mx.begin(), verdict.client_mx.end(),
                                        [&](const ClientMx& mx) { return mx.host == verdict.matched_host; });
        FUZZ_CHECK(listed, context);
        // Exact, or with allow-wildcards one label in place of "*".
        constexpr std::string_view kParent = ".example.org";
        const std::string_view matched = verdict.matched_host;
        const bool one_label_under =
            matched.ends_with(kParent) && matched.size() > kParent.size() &&
            matched.substr(0, matched.size() - kParent.size()).find('.') == std::string_view::npos;
        FUZZ_CHECK(matched == "out1.example.org" || (policy.allow_wildcards && one_label_under), context);
    }
    FUZZ_CHECK(std::is_sorted(verdict.client_mx.begin(), verdict.client_mx.end(),
                              [](const ClientMx& a, const ClientMx& b) { return a.preference < b.preference; }),
               context);
    return 0;
}
