// unique_ptr for OpenSSL's C objects: each type has its own free function.
#pragma once

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>

#include <memory>

namespace mtls {

template <auto Free>
struct FreeWith {
    template <typename T>
    void operator()(T* object) const noexcept {
        Free(object);
    }
};

// For memory OpenSSL allocated for us (i2d_* output, say).
struct OpenSslFree {
    void operator()(void* memory) const noexcept { OPENSSL_free(memory); }
};

using BioPtr = std::unique_ptr<BIO, FreeWith<&BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, FreeWith<&X509_free>>;
using OpenSslBytes = std::unique_ptr<unsigned char, OpenSslFree>;

}  // namespace mtls
