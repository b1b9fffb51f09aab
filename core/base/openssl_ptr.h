// unique_ptr for OpenSSL's C objects: each type has its own free function,
// named through the one deleter idiom of base/free_with.h.
#pragma once

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

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

// sk_X509_free is a macro too. The stack only borrows its certificates
// (the untrusted ones handed to X509_STORE_CTX_init), which their X509Ptr
// owners free.
inline void free_borrowing_x509_stack(STACK_OF(X509) * stack) noexcept {
    sk_X509_free(stack);
}

using X509StorePtr = std::unique_ptr<X509_STORE, FreeWith<&X509_STORE_free>>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, FreeWith<&X509_STORE_CTX_free>>;
using BorrowedX509StackPtr = std::unique_ptr<STACK_OF(X509), FreeWith<&free_borrowing_x509_stack>>;

}  // namespace mtls
