// The DMARC verdict for one message (RFC 9989 sections 4.4 and 5.3), with the
// authenticated identity mtls provides counted "in the same way as SPF"
// (draft-chuang-mutual-tls-email-authentication section 1.2.4): mtls only
// adds passes. The RFC 9989 result without mtls is computed beside it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.h"
#include "dmarc/authenticated_identifiers.h"
#include "dmarc/policy_discovery.h"
#include "dmarc/record.h"
#include "dmarc/tree_walk.h"

namespace mtls::dmarc {

enum class Result { none, pass, fail, temperror, permerror };
std::string_view to_string(Result result);

// dmarc-mtls: substitute counts an aligned mtls pass; report_only computes
// and logs it but the result stays RFC 9989's.
enum class MtlsMode { substitute, report_only };

struct AlignedBy {
    bool spf = false;
    bool dkim = false;
    bool mtls = false;  // aligned, whether or not the mode counts it
};

struct EvaluationInput {
    // The author domain, or why there is none (author_domain.h): permerror.
    Expected<std::string> author_domain = Error{"no From field"};
    AuthenticatedIdentifiers identifiers;
    MtlsMode mode = MtlsMode::substitute;
    // Existence of the author domain; needed only when needs_existence(),
    // and then unknown or error makes the result temperror.
    Existence author_exists = Existence::unknown;
};

struct Evaluation {
    Result result = Result::none;          // with mtls as the mode says
    Result result_rfc9989 = Result::none;  // SPF and DKIM only
    std::string header_from;               // the author domain, when one was found
    std::string policy_domain;             // where the record applying was found
    std::string organizational_domain;     // of the author domain, when determined
    std::optional<Record> record;          // the record applying
    std::optional<AppliedPolicy> policy;   // set for pass and fail
    AlignedBy aligned;
    bool mtls_from_helo = false;
    bool mtls_counted = false;                  // mode substitute
    DnssecState dnssec = DnssecState::unknown;  // of the record used (or the failed answer)
    std::string reason;                         // none, temperror, permerror: why
};

Evaluation evaluate(const EvaluationInput& input, const WalkAnswers& answers);

// What the policy asks for this message: the effective policy on fail,
// nothing otherwise (a receiver may still decide to do less).
Policy requested_disposition(const Evaluation& evaluation);

}  // namespace mtls::dmarc
