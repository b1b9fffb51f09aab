// The one deleter for C objects owned by std::unique_ptr: FreeWith<&F> calls
// F(object). Every C library here (OpenSSL, libunbound, libidn2, zlib, stdio)
// frees through a plain function, so no hand-written functor is needed:
//
//     std::unique_ptr<ub_result, FreeWith<&ub_resolve_free>> result(raw);
//
// Unlike a function-pointer deleter (decltype(&F)), it costs no storage and
// cannot be null. The return value of F (fclose's, gzclose's) is dropped:
// a destructor has nobody to report it to.
#pragma once

namespace mtls {

template <auto Free>
struct FreeWith {
    template <typename T>
    void operator()(T* object) const noexcept {
        static_cast<void>(Free(object));  // NOLINT(cppcoreguidelines-owning-memory): this is the owner
    }
};

}  // namespace mtls
