// Certificates made at test time, for the tests of certificate chains
// (tests/unit/test_certificate_chain.cc) and of certificate discovery
// (tests/discovery/): roots, intermediates and leaves with the names,
// extensions and dates a test asks for. Nothing secret or expiring is
// committed.
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
    std::string cn;                             // empty: no CN
    std::string san;                            // OpenSSL config syntax, e.g. "DNS:a.test,DNS:b.test"; empty: none
    std::string eku = "clientAuth,serverAuth";  // empty: no EKU extension; public CAs' 2026 leaves: "serverAuth"
    std::string key_usage = "critical,digitalSignature";  // of a leaf; CAs get keyCertSign, cRLSign
    bool ca = false;
    long not_before = -kDay;  // seconds from now
    long not_after = 30 * kDay;
};

struct Issued {
    X509Ptr cert;
    KeyPtr key;
};

// issuer == nullptr: self-signed.
Issued issue(const CertificateSpec& spec, const Issued* issuer);

// SHA-256 of the DER certificate: what Postfix's ccert_fingerprint names.
Sha256Digest fingerprint_of(const Issued& issued);

// PEM text of the certificates, in order.
std::string pem_of(const std::vector<const Issued*>& certificates);

// PEM text of the private key.
std::string key_pem_of(const Issued& issued);

}  // namespace mtls::test
