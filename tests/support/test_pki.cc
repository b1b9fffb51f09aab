#include "test_pki.h"

#include <catch2/catch.hpp>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

namespace mtls::test {
namespace {

using ExtensionPtr = std::unique_ptr<X509_EXTENSION, FreeWith<&X509_EXTENSION_free>>;

void add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
    X509V3_CTX context;
    X509V3_set_ctx_nodb(&context);
    X509V3_set_ctx(&context, issuer, cert, nullptr, nullptr, 0);
    const ExtensionPtr extension(X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str()));
    REQUIRE(extension);
    REQUIRE(X509_add_ext(cert, extension.get(), -1) == 1);
}

void add_name_entry(X509_NAME* name, const char* field, const std::string& value) {
    REQUIRE(X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                       reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1, 0) == 1);
}

}  // namespace

Issued issue(const CertificateSpec& spec, const Issued* issuer) {
    static long serial = 1;
    Issued out{X509Ptr(X509_new()), KeyPtr(EVP_EC_gen("P-256"))};
    REQUIRE(out.cert);
    REQUIRE(out.key);
    X509* cert = out.cert.get();
    REQUIRE(X509_set_version(cert, 2) == 1);
    REQUIRE(ASN1_INTEGER_set(X509_get_serialNumber(cert), serial++) == 1);
    X509_NAME* subject = X509_get_subject_name(cert);
    add_name_entry(subject, "O", "mtls-milter tests");
    if (!spec.cn.empty()) {
        add_name_entry(subject, "CN", spec.cn);
    }
    REQUIRE(X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer->cert.get()) : subject) == 1);
    REQUIRE(X509_gmtime_adj(X509_getm_notBefore(cert), spec.not_before) != nullptr);
    REQUIRE(X509_gmtime_adj(X509_getm_notAfter(cert), spec.not_after) != nullptr);
    REQUIRE(X509_set_pubkey(cert, out.key.get()) == 1);
    X509* issuer_cert = issuer ? issuer->cert.get() : cert;
    add_extension(cert, issuer_cert, NID_basic_constraints, spec.ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
    add_extension(cert, issuer_cert, NID_key_usage, spec.ca ? "critical,keyCertSign,cRLSign" : spec.key_usage);
    add_extension(cert, issuer_cert, NID_subject_key_identifier, "hash");
    if (issuer) {
        add_extension(cert, issuer_cert, NID_authority_key_identifier, "keyid");
    }
    if (!spec.eku.empty()) {
        add_extension(cert, issuer_cert, NID_ext_key_usage, spec.eku);
    }
    if (!spec.san.empty()) {
        add_extension(cert, issuer_cert, NID_subject_alt_name, spec.san);
    }
    REQUIRE(X509_sign(cert, issuer ? issuer->key.get() : out.key.get(), EVP_sha256()) > 0);
    return out;
}

Sha256Digest fingerprint_of(const Issued& issued) {
    unsigned char* raw = nullptr;
    const int length = i2d_X509(issued.cert.get(), &raw);
    const OpenSslBytes der(raw);
    REQUIRE(length > 0);
    Sha256Digest digest{};
    unsigned int size = 0;
    REQUIRE(EVP_Digest(der.get(), static_cast<std::size_t>(length), digest.data(), &size, EVP_sha256(), nullptr) == 1);
    return digest;
}

namespace {

std::string bio_text(BIO* bio) {
    char* data = nullptr;
    const long length = BIO_get_mem_data(bio, &data);
    return {data, static_cast<std::size_t>(length)};
}

}  // namespace

std::string pem_of(const std::vector<const Issued*>& certificates) {
    const BioPtr bio(BIO_new(BIO_s_mem()));
    for (const auto* issued : certificates) {
        REQUIRE(PEM_write_bio_X509(bio.get(), issued->cert.get()) == 1);
    }
    return bio_text(bio.get());
}

std::string key_pem_of(const Issued& issued) {
    const BioPtr bio(BIO_new(BIO_s_mem()));
    REQUIRE(PEM_write_bio_PrivateKey(bio.get(), issued.key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1);
    return bio_text(bio.get());
}

}  // namespace mtls::test
