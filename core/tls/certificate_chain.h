// A client certificate chain read from a PEM file and judged as a receiving
// MTA would judge it, for mtls-check --cert: RFC 5280 path validation, the
// host names a verifier may use (RFC 6125 rules) and the DANE-EE digests.
// The result is ordinary TlsEvidence, so the verdict is reached by exactly
// the code the milter uses.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "base/expected.h"
#include "tls/tls_evidence.h"

namespace mtls {

// A certificate chain is a few KiB; anything near this is not one, and
// reading it whole must not be a way to exhaust memory.
inline constexpr std::size_t kMaxChainFileSize = std::size_t{1} << 20;
// The end-entity certificate plus intermediates; real chains have 2-4.
inline constexpr std::size_t kMaxChainCertificates = 16;

struct ChainVerification {
    // Trust anchors. With neither set, OpenSSL's default store (on Debian
    // /etc/ssl/certs); with either set, only what they hold.
    std::string ca_file;
    std::string ca_path;  // a c_rehash'ed directory
    // The time to verify at; now when unset. Tests fix it.
    std::optional<std::chrono::system_clock::time_point> at;
};

struct CertificateChainReport {
    // source certificate_chain; status verified or unverified; the names of
    // the end-entity certificate and its fingerprints, whatever the status.
    // verify_detail repeats problem.
    TlsEvidence evidence;
    // Why the status is unverified, e.g. "certificate has expired (depth 0)";
    // empty when verified. Untrusted text may follow the reason: escape it
    // before logging.
    std::string problem;
    std::string subject;           // of the end-entity certificate, RFC 2253 form; untrusted
    std::size_t chain_length = 0;  // certificates read, the end-entity one included
};

// Judges PEM text holding the end-entity certificate first and then its
// intermediates (other PEM blocks, such as a private key, are skipped).
// An error only for what prevents a judgement: no certificate, a malformed
// one, too many, an unreadable trust store.
Expected<CertificateChainReport> check_certificate_chain(std::string_view pem, const ChainVerification& how);

// The same for a file of at most kMaxChainFileSize bytes.
Expected<CertificateChainReport> check_certificate_chain_file(const std::string& path, const ChainVerification& how);

}  // namespace mtls
