// The raw SPF and DKIM results the DMARC stage read, uninterpreted with
// respect to DMARC: what an RFC 9990 aggregate report lists under
// auth_results (section 3.x "Contents of the auth_results element"). The
// stage logs them (core/dmarc/dmarc_record.cc) and mtls-report reads them
// back (tools/mtls-report/report_dmarc_log.cc) through the one spelling
// below, so that the log and the report cannot drift apart.
//
// Every value is validated where it is read from Authentication-Results:
// domains are canonical host names, selectors LDH labels, results one of
// RFC 8601's words. The header fields come from trusted verifiers, but the
// d= and s= they repeat are the sender's, so attacker text.
#pragma once

#include <compare>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.h"

namespace mtls {
struct MethodResult;
}

namespace mtls::dmarc {

struct DkimAuthResult {
    std::string domain;    // the signature's d= (else the domain of i=), canonical
    std::string selector;  // s=, lower case; "" when the verifier did not name a valid one
    std::string result;    // RFC 8601 section 2.7.1

    // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy misreads the defaulted <=> (its 0 comparisons)
    auto operator<=>(const DkimAuthResult&) const = default;
};

// How many DKIM results one message keeps while its Authentication-Results
// are read: RFC 9990 asks for no more than 100 signatures per report row.
// Past that a pass still takes the place of a result that is not one, so
// that signatures an attacker adds cannot push the genuine pass out.
inline constexpr std::size_t kMaxDkimResultsRead = 100;

// How many the log line carries: a message has one to three signatures in
// practice (the author's, an ESP's, a mailing list's); eight leave room for
// more while keeping the field within the line's 512 characters a value
// (kMaxAuthResultsText) for usual names. They are the first by RFC 9990's
// priority (reported_dkim_results).
inline constexpr std::size_t kMaxDkimResultsLogged = 8;
// The longest text dkim_results_text writes: a log value's limit. Results
// that do not fit whole are left out, never cut, so a reader cannot take a
// clipped domain for a real one.
inline constexpr std::size_t kMaxAuthResultsText = 512;

// RFC 8601 section 2.7.1 (DKIM) and 2.7.2 (SPF); the words RFC 9990's
// schema allows.
bool is_dkim_result(std::string_view word);
bool is_spf_result(std::string_view word);

// A DKIM selector (RFC 6376 section 3.1: labels of letters, digits and
// hyphens; '_' is accepted too, as DNS allows it), lower-cased.
Expected<std::string> canonical_selector(std::string_view text);

// One dkim= resinfo of a trusted Authentication-Results as a result to
// report; std::nullopt when its result word is unknown or it names no
// valid domain.
std::optional<DkimAuthResult> dkim_auth_result(const MethodResult& resinfo);

// Adds a result read (once; bounded by kMaxDkimResultsRead as said there).
void add_dkim_result(std::vector<DkimAuthResult>& results, DkimAuthResult result);

// RFC 9990 section 3.x "DKIM Signatures in Aggregate Reports": passes of the
// author domain itself first, then passes at or below its organizational
// domain (what relaxed alignment can accept), other passes, and last what
// did not pass; in each, the order read. At most kMaxDkimResultsLogged.
std::vector<DkimAuthResult> reported_dkim_results(std::vector<DkimAuthResult> results, std::string_view author_domain,
                                                  std::string_view organizational_domain);

// "domain:selector:result,..." ("-" for none), whole entries within
// kMaxAuthResultsText; and back, refusing anything the writer would not
// write.
std::string dkim_results_text(const std::vector<DkimAuthResult>& results);
Expected<std::vector<DkimAuthResult>> dkim_results_from_text(std::string_view text);

}  // namespace mtls::dmarc
