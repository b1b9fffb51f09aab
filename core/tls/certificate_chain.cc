#include "tls/certificate_chain.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <span>
#include <vector>

#include <fmt/format.h>

#include "base/openssl_ptr.h"
#include "tls/fingerprint.h"

namespace mtls {
namespace {

// The standard library's functions may not be named by address
// ([namespace.std]). Read-only: nothing is lost when closing fails.
void close_read_only_file(std::FILE* file) noexcept {
    std::fclose(file);  // NOLINT(cppcoreguidelines-owning-memory)
}

using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, FreeWith<&GENERAL_NAMES_free>>;
using FilePtr = std::unique_ptr<std::FILE, FreeWith<&close_read_only_file>>;

// The reason of the most recent OpenSSL error, and an empty queue after it,
// so that one failure cannot show up as the reason of the next.
std::string openssl_reason() {
    const unsigned long code = ERR_peek_last_error();
    const char* text = code == 0 ? nullptr : ERR_reason_error_string(code);
    std::string reason = text != nullptr ? text
                         : code == 0     ? "unknown error"
                                         : fmt::format("OpenSSL error {:#x}", code);
    ERR_clear_error();
    return reason;
}

// Certificates are never encrypted; the callback only keeps OpenSSL from
// prompting on the terminal should it meet an encrypted block.
int no_password(char* /*buffer*/, int /*size*/, int /*rwflag*/, void* /*userdata*/) {
    return 0;
}

Expected<std::vector<X509Ptr>> read_pem_chain(std::string_view pem) {
    if (pem.size() > kMaxChainFileSize) {
        return Error{fmt::format("more than {} bytes: not a certificate chain", kMaxChainFileSize)};
    }
    const BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    if (!bio) {
        return Error{"out of memory"};
    }
    std::vector<X509Ptr> chain;
    ERR_clear_error();
    while (true) {
        X509Ptr certificate(PEM_read_bio_X509(bio.get(), nullptr, &no_password, nullptr));
        if (!certificate) {
            break;
        }
        if (chain.size() == kMaxChainCertificates) {
            return Error{fmt::format("more than {} certificates", kMaxChainCertificates)};
        }
        chain.push_back(std::move(certificate));
    }
    // The loop ends when no further PEM block is found; anything else means a
    // block that is there but broken, and half a chain would mislead.
    const unsigned long last = ERR_peek_last_error();
    if (ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE) {
        ERR_clear_error();
    } else if (last != 0) {
        return Error{fmt::format("certificate {} is malformed: {}", chain.size() + 1, openssl_reason())};
    }
    if (chain.empty()) {
        return Error{"no PEM certificate (-----BEGIN CERTIFICATE-----) found"};
    }
    return chain;
}

// sha256_of() (core/tls/fingerprint.h) with OpenSSL's reason on failure.
Expected<Sha256Digest> sha256(std::span<const unsigned char> data) {
    if (auto digest = sha256_of(data)) {
        return *digest;
    }
    return Error{fmt::format("SHA-256 failed: {}", openssl_reason())};
}

// Digests of the DER encodings, as TLSA selectors 0 and 1 define them
// (RFC 6698, section 2.1.2). Not X509_pubkey_digest(): that hashes only the
// key's BIT STRING, without the algorithm, which is not what "3 1 1" names.
Expected<Fingerprints> fingerprints_of(X509* certificate) {
    Fingerprints fingerprints;
    unsigned char* raw = nullptr;
    int length = i2d_X509(certificate, &raw);
    const OpenSslBytes certificate_der(raw);
    if (length <= 0) {
        return Error{fmt::format("cannot encode the certificate: {}", openssl_reason())};
    }
    auto certificate_digest = sha256({certificate_der.get(), static_cast<std::size_t>(length)});
    if (!certificate_digest) {
        return Error{certificate_digest.error()};
    }
    fingerprints.certificate = *certificate_digest;

    raw = nullptr;
    length = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(certificate), &raw);
    const OpenSslBytes key_der(raw);
    if (length <= 0) {
        return Error{fmt::format("cannot encode the public key: {}", openssl_reason())};
    }
    auto key_digest = sha256({key_der.get(), static_cast<std::size_t>(length)});
    if (!key_digest) {
        return Error{key_digest.error()};
    }
    fingerprints.public_key = *key_digest;
    return fingerprints;
}

std::string_view ia5_text(const ASN1_STRING* text) {
    return {reinterpret_cast<const char*>(ASN1_STRING_get0_data(text)),
            static_cast<std::size_t>(ASN1_STRING_length(text))};
}

// The first subject CN as UTF-8 (add_presented_name turns U-labels into
// A-labels or refuses them). The first, not the last, because that is the
// one Postfix reports for the same certificate.
std::optional<std::string> first_common_name(X509* certificate) {
    const X509_NAME* subject = X509_get_subject_name(certificate);
    const int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    if (index < 0) {
        return std::nullopt;
    }
    const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
    unsigned char* raw = nullptr;
    const int length = ASN1_STRING_to_UTF8(&raw, data);
    const OpenSslBytes utf8(raw);
    if (length < 0) {
        ERR_clear_error();
        return std::string("(CN not convertible to UTF-8)");
    }
    return std::string(reinterpret_cast<const char*>(utf8.get()), static_cast<std::size_t>(length));
}

// Reference identifiers as RFC 6125, section 6.4.4 has them: the SAN's
// dNSNames; the subject CN only when the certificate has no SAN identifier
// that names a service (DNS-ID, SRV-ID, URI-ID). RFC 9525 drops the CN
// fallback altogether, but Postfix reports exactly the CN and private CAs
// still issue CN-only certificates, so the milter matches CNs and so must
// this. A SAN extension that cannot be decoded also suppresses the CN:
// the CA meant the SAN to speak, so the CN may be anything.
void add_names(TlsEvidence& evidence, X509* certificate) {
    int critical = -1;
    const GeneralNamesPtr names(
        static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(certificate, NID_subject_alt_name, &critical, nullptr)));
    // critical is -1 without the extension; with one that did not decode,
    // names is null.
    bool service_identifier = critical != -1 && !names;
    for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
        const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
        if (name->type == GEN_DNS) {
            add_presented_name(evidence, ia5_text(name->d.dNSName));
            service_identifier = true;
        } else if (name->type == GEN_URI ||
                   (name->type == GEN_OTHERNAME && OBJ_obj2nid(name->d.otherName->type_id) == NID_SRVName)) {
            service_identifier = true;
        }
    }
    ERR_clear_error();
    if (!service_identifier) {
        if (auto common_name = first_common_name(certificate)) {
            add_presented_name(evidence, *common_name);
        }
    }
}

std::string subject_of(X509* certificate) {
    const BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio || X509_NAME_print_ex(bio.get(), X509_get_subject_name(certificate), 0, XN_FLAG_RFC2253) < 0) {
        ERR_clear_error();
        return {};
    }
    char* data = nullptr;
    const long length = BIO_get_mem_data(bio.get(), &data);
    return length > 0 ? std::string(data, static_cast<std::size_t>(length)) : std::string();
}

Expected<X509StorePtr> trust_store(const ChainVerification& how) {
    X509StorePtr store(X509_STORE_new());
    if (!store) {
        return Error{"out of memory"};
    }
    if (how.ca_file.empty() && how.ca_path.empty()) {
        if (X509_STORE_set_default_paths(store.get()) != 1) {
            return Error{fmt::format("cannot use the default trust store: {}", openssl_reason())};
        }
        return store;
    }
    if (!how.ca_file.empty() && X509_STORE_load_file(store.get(), how.ca_file.c_str()) != 1) {
        return Error{fmt::format("cannot read CA file {}: {}", how.ca_file, openssl_reason())};
    }
    if (!how.ca_path.empty()) {
        // The directory is searched lazily, certificate by certificate, so a
        // typo would only show as "unable to get local issuer certificate".
        std::error_code error;
        if (!std::filesystem::is_directory(how.ca_path, error)) {
            return Error{fmt::format("CA path {} is not a directory", how.ca_path)};
        }
        if (X509_STORE_load_path(store.get(), how.ca_path.c_str()) != 1) {
            return Error{fmt::format("cannot use CA path {}: {}", how.ca_path, openssl_reason())};
        }
    }
    return store;
}

// RFC 5280 path validation; an empty string when the chain verifies.
Expected<std::string> verify_path(const std::vector<X509Ptr>& chain, const ChainVerification& how) {
    auto store = trust_store(how);
    if (!store) {
        return Error{store.error()};
    }
    const BorrowedX509StackPtr untrusted(sk_X509_new_null());
    const X509StoreCtxPtr context(X509_STORE_CTX_new());
    if (!untrusted || !context) {
        return Error{"out of memory"};
    }
    for (std::size_t i = 1; i < chain.size(); ++i) {
        if (sk_X509_push(untrusted.get(), chain[i].get()) <= 0) {
            return Error{"out of memory"};
        }
    }
    if (X509_STORE_CTX_init(context.get(), store->get(), chain.front().get(), untrusted.get()) != 1) {
        return Error{fmt::format("cannot set up verification: {}", openssl_reason())};
    }
    // Any purpose: OpenSSL's "sslclient" purpose, which MTAs verify client
    // certificates with, insists on clientAuth in an EKU, and public CAs
    // issue serverAuth-only certificates since 2026. usage_problem() checks
    // the EKU instead, accepting either.
    X509_STORE_CTX_set_purpose(context.get(), X509_PURPOSE_ANY);
    if (how.at) {
        X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(context.get()),
                                   std::chrono::system_clock::to_time_t(*how.at));
    }
    const int verified = X509_verify_cert(context.get());
    if (verified == 1) {
        return std::string();
    }
    const int error = X509_STORE_CTX_get_error(context.get());
    ERR_clear_error();
    if (verified < 0 || error == X509_V_OK) {
        return std::string("verification could not be completed");
    }
    return fmt::format("{} (depth {})", X509_verify_cert_error_string(error),
                       X509_STORE_CTX_get_error_depth(context.get()));
}

// What the verifier's purpose check would have done, minus the insistence on
// clientAuth. RFC 5280, section 4.2.1.12 lets an application refuse a
// certificate whose EKU lacks the purpose it needs; here either TLS purpose
// will do, and anyExtendedKeyUsage alone is not enough (no public CA issues
// it to a TLS host).
std::string usage_problem(X509* certificate) {
    const std::uint32_t extensions = X509_get_extension_flags(certificate);
    if ((extensions & EXFLAG_XKUSAGE) != 0U &&
        (X509_get_extended_key_usage(certificate) & (XKU_SSL_CLIENT | XKU_SSL_SERVER)) == 0U) {
        return "extended key usage allows neither clientAuth nor serverAuth (depth 0)";
    }
    // The client signs the handshake (TLS 1.3 CertificateVerify).
    if ((extensions & EXFLAG_KUSAGE) != 0U &&
        (X509_get_key_usage(certificate) & (KU_DIGITAL_SIGNATURE | KU_KEY_AGREEMENT)) == 0U) {
        return "key usage allows no digitalSignature: the key cannot sign a TLS handshake (depth 0)";
    }
    return {};
}

}  // namespace

Expected<CertificateChainReport> check_certificate_chain(std::string_view pem, const ChainVerification& how) {
    auto chain = read_pem_chain(pem);
    if (!chain) {
        return Error{chain.error()};
    }
    X509* leaf = chain->front().get();
    CertificateChainReport report;
    report.chain_length = chain->size();
    report.subject = subject_of(leaf);
    report.evidence.source = EvidenceSource::certificate_chain;
    auto fingerprints = fingerprints_of(leaf);
    if (!fingerprints) {
        return Error{fingerprints.error()};
    }
    report.evidence.fingerprints = *fingerprints;
    add_names(report.evidence, leaf);

    auto problem = verify_path(*chain, how);
    if (!problem) {
        return Error{problem.error()};
    }
    report.problem = std::move(problem).value();
    if (report.problem.empty()) {
        report.problem = usage_problem(leaf);
    }
    report.evidence.status = report.problem.empty() ? CertificateStatus::verified : CertificateStatus::unverified;
    report.evidence.verify_detail = report.problem;
    return report;
}

Expected<CertificateChainReport> check_certificate_chain_file(const std::string& path, const ChainVerification& how) {
    const FilePtr file(std::fopen(path.c_str(), "rb"));  // NOLINT(cppcoreguidelines-owning-memory)
    if (!file) {
        return Error{fmt::format("cannot open {}: {}", path, std::strerror(errno))};
    }
    // One byte more than allowed tells "exactly at the limit" from "over".
    std::string text(kMaxChainFileSize + 1, '\0');
    const std::size_t size = std::fread(text.data(), 1, text.size(), file.get());
    if (std::ferror(file.get()) != 0) {
        return Error{fmt::format("cannot read {}: {}", path, std::strerror(errno))};
    }
    if (size > kMaxChainFileSize) {
        return Error{fmt::format("{} is larger than {} bytes: not a certificate chain", path, kMaxChainFileSize)};
    }
    text.resize(size);
    auto report = check_certificate_chain(text, how);
    if (!report) {
        return Error{fmt::format("{}: {}", path, report.error())};
    }
    return report;
}

}  // namespace mtls
