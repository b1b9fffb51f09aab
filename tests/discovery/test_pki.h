// Certificates made at test time for the discovery tests: a root, an
// intermediate and serverAuth-only leaves as public CAs issue them since
// 2026. Nothing secret or expiring is committed. (tests/unit/
// test_certificate_chain.cc makes its own the same way, with more knobs.)
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <vector>

#include "base/openssl_ptr.h"
#include "tls/fingerprint.h"

namespace mtls::test {

using KeyPtr = std::unique_ptr<EVP_PKEY, FreeWith<&EVP_PKEY_free>>;

inline constexpr long kDay = 86400;

struct CertificateSpec {
    std::string cn;   // empty: no CN
    std::string san;  // OpenSSL config syntax, e.g. "DNS:a.test"; empty: none
    bool ca = false;
    long not_after = 30 * kDay;  // seconds from now
};

struct Issued {
    X509Ptr cert;
    KeyPtr key;
};

// issuer == nullptr: self-signed. Leaves get EKU serverAuth only.
Issued issue(const CertificateSpec& spec, const Issued* issuer);

// SHA-256 of the DER certificate: what Postfix's ccert_fingerprint names.
Sha256Digest fingerprint_of(const Issued& issued);

// PEM text of the certificates, in order.
std::string pem_of(const std::vector<const Issued*>& certificates);

}  // namespace mtls::test
