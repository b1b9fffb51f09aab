// The mtls verdict: the draft's pass/fail, RFC 8601's none/temperror/permerror,
// and the reason an operator reads in the header and the log.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "dns/client_mx.h"
#include "dns/dns_answer.h"
#include "mail/identity.h"
#include "tls/tls_evidence.h"

namespace mtls {

enum class Result { pass, fail, none, temperror, permerror };

std::string_view to_string(Result result);

struct VerdictSettings {
    bool require_dnssec = false;
    bool allow_wildcards = false;
};

// How a pass came about: the MTA verified the chain and a certificate name is
// a Client MX host, or a DNSSEC-secure DANE-EE TLSA record of a Client MX
// host names the client's key.
// host names a verified certificate the milter discovered itself
// (core/mtls/discovery_verdict.h).
enum class PassMethod { none, certificate, dane, discovered };

std::string_view to_string(PassMethod method);

struct Verdict {
    Result result = Result::temperror;
    std::string reason;        // fixed text from this module, safe for headers
    std::string matched_host;  // the Client MX host that passed
    PassMethod method = PassMethod::none;
    std::string tlsa_owner;           // the TLSA owner name that matched (method dane)
    bool dane_trust_anchor = false;   // method dane by a DANE-TA record (core/mtls/dane_chain.h)
    std::vector<ClientMx> client_mx;  // parsed records, sorted by preference
    DnssecState dnssec = DnssecState::unknown;
};

// The distinct Client MX hosts of a verdict, most preferred first; the null
// Client MX contributes none.
std::vector<std::string> sending_hosts(const Verdict& verdict);

// The verdict for an identity that could not be used at all.
Verdict verdict_for_unusable_identity(const Identity& identity);

// The verdict for an usable identity, from its Client MX answer and the TLS
// evidence. Pure: no I/O, no clock.
Verdict decide(const DnsAnswer& answer, const TlsEvidence& evidence, const VerdictSettings& policy);

}  // namespace mtls
