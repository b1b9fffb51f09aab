// unique_ptr for OpenSSL's C objects: each type has its own free function,
// named through the one deleter idiom of base/free_with.h.
#pragma once

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>

#include <memory>

#include "base/free_with.h"

namespace mtls {

// OPENSSL_free is a macro (it passes the caller's file and line), so it
// needs a function of its own to be named as a template argument.
inline void openssl_free(void* memory) noexcept {
    OPENSSL_free(memory);  // NOLINT(cppcoreguidelines-owning-memory)
}

using BioPtr = std::unique_ptr<BIO, FreeWith<&BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, FreeWith<&X509_free>>;
// For memory OpenSSL allocated for us (i2d_* output, say).
using OpenSslBytes = std::unique_ptr<unsigned char, FreeWith<&openssl_free>>;

}  // namespace mtls
