// Reading and verifying a client certificate chain (mtls-check --cert). The
// CAs and certificates are made here, at test time, with OpenSSL's C API:
// nothing secret or expiring is committed, and each test gets exactly the
// EKU/SAN/CN combination it is about.
#include <catch2/catch.hpp>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "base/openssl_ptr.h"
#include "test_pki.h"
#include "tls/certificate_chain.h"

// Designated initializers name only what a certificate is about; the rest
// keep their defaults on purpose.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

using namespace mtls;
using namespace mtls::test;
namespace fs = std::filesystem;

namespace {

Sha256Digest digest(const unsigned char* data, std::size_t size) {
    Sha256Digest out{};
    unsigned int length = 0;
    REQUIRE(EVP_Digest(data, size, out.data(), &length, EVP_sha256(), nullptr) == 1);
    REQUIRE(length == out.size());
    return out;
}

class TempDir {
public:
    TempDir() {
        std::string pattern = (fs::temp_directory_path() / "mtls-chain-XXXXXX").string();
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ignored;
        fs::remove_all(path_, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    [[nodiscard]] std::string write(const std::string& name, const std::string& text) const {
        const auto file = path_ / name;
        std::ofstream(file, std::ios::binary) << text;
        return file.string();
    }
    [[nodiscard]] const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

// A root, an intermediate under it, and a root nobody trusts.
struct Pki {
    Issued root = issue({.cn = "Unit Test Root", .ca = true, .not_after = 3650 * kDay}, nullptr);
    Issued intermediate = issue({.cn = "Unit Test Intermediate", .ca = true, .not_after = 365 * kDay}, &root);
    Issued stranger = issue({.cn = "Unit Test Stranger Root", .ca = true, .not_after = 3650 * kDay}, nullptr);
    TempDir dir;
    std::string root_file = dir.write("root.pem", pem_of({&root}));

    [[nodiscard]] ChainVerification trusting_root() const { return {.ca_file = root_file}; }

    [[nodiscard]] CertificateChainReport check(const Issued& leaf, const ChainVerification& how) const {
        auto report = check_certificate_chain(pem_of({&leaf, &intermediate}), how);
        INFO((report.has_value() ? std::string() : report.error()));
        REQUIRE(report.has_value());
        return std::move(report).value();
    }
    [[nodiscard]] CertificateChainReport check(const Issued& leaf) const { return check(leaf, trusting_root()); }
};

using Names = std::vector<std::string>;

}  // namespace

TEST_CASE("a serverAuth-only certificate without CN verifies and yields its SAN") {
    const Pki pki;
    const auto leaf = issue({.san = "DNS:out1.example.test", .eku = "serverAuth"}, &pki.intermediate);
    const auto report = pki.check(leaf);
    INFO(report.problem);
    CHECK(report.evidence.source == EvidenceSource::certificate_chain);
    CHECK(report.evidence.status == CertificateStatus::verified);
    CHECK(report.problem.empty());
    CHECK(report.evidence.names == Names{"out1.example.test"});
    CHECK(report.evidence.unusable_names.empty());
    CHECK(report.chain_length == 2);
    CHECK(report.subject == "O=mtls-milter tests");
}

TEST_CASE("any EKU with a TLS purpose is accepted, and so is none") {
    const Pki pki;
    const auto eku = GENERATE(as<std::string>{}, "clientAuth", "serverAuth", "clientAuth,serverAuth",
                              "emailProtection,clientAuth", "");
    INFO("EKU: " << eku);
    const auto leaf = issue({.san = "DNS:out1.example.test", .eku = eku}, &pki.intermediate);
    const auto report = pki.check(leaf);
    INFO(report.problem);
    CHECK(report.evidence.status == CertificateStatus::verified);
}

TEST_CASE("an EKU without clientAuth or serverAuth is rejected with a reason") {
    const Pki pki;
    const auto eku = GENERATE(as<std::string>{}, "emailProtection", "codeSigning,anyExtendedKeyUsage");
    INFO("EKU: " << eku);
    const auto leaf = issue({.san = "DNS:out1.example.test", .eku = eku}, &pki.intermediate);
    const auto report = pki.check(leaf);
    CHECK(report.evidence.status == CertificateStatus::unverified);
    CHECK_THAT(report.problem, Catch::Contains("neither clientAuth nor serverAuth"));
    CHECK(report.evidence.verify_detail == report.problem);
    // The names are still reported: the verdict, not the reader, ignores them.
    CHECK(report.evidence.names == Names{"out1.example.test"});
}

TEST_CASE("a key usage that cannot sign a handshake is rejected") {
    const Pki pki;
    const auto leaf =
        issue({.san = "DNS:out1.example.test", .key_usage = "critical,keyEncipherment"}, &pki.intermediate);
    const auto report = pki.check(leaf);
    CHECK(report.evidence.status == CertificateStatus::unverified);
    CHECK_THAT(report.problem, Catch::Contains("digitalSignature"));
}

TEST_CASE("the subject CN counts only without a SAN service identifier") {
    const Pki pki;
    SECTION("CN only") {
        const auto report = pki.check(issue({.cn = "Out2.Example.Test"}, &pki.intermediate));
        CHECK(report.evidence.status == CertificateStatus::verified);
        CHECK(report.evidence.names == Names{"out2.example.test"});
    }
    SECTION("a SAN dNSName hides the CN") {
        const auto report = pki.check(issue(
            {.cn = "rogue.example.test", .san = "DNS:out1.example.test,DNS:OUT3.example.test"}, &pki.intermediate));
        CHECK(report.evidence.names == Names{"out1.example.test", "out3.example.test"});
    }
    SECTION("so does a URI") {
        const auto report =
            pki.check(issue({.cn = "rogue.example.test", .san = "URI:https://example.test/"}, &pki.intermediate));
        CHECK(report.evidence.names.empty());
    }
    SECTION("an e-mail address or IP address in the SAN does not") {
        const auto report = pki.check(
            issue({.cn = "out2.example.test", .san = "email:postmaster@example.test,IP:192.0.2.1"}, &pki.intermediate));
        CHECK(report.evidence.names == Names{"out2.example.test"});
    }
    SECTION("a name that is no host name is set aside") {
        const auto report = pki.check(issue({.san = "DNS:not a host,DNS:*.example.test"}, &pki.intermediate));
        CHECK(report.evidence.names == Names{"*.example.test"});
        CHECK(report.evidence.unusable_names == Names{"not a host"});
    }
}

TEST_CASE("an expired certificate is unverified, with OpenSSL's reason and depth") {
    const Pki pki;
    const auto leaf =
        issue({.san = "DNS:out1.example.test", .not_before = -30 * kDay, .not_after = -10 * kDay}, &pki.intermediate);
    const auto report = pki.check(leaf);
    CHECK(report.evidence.status == CertificateStatus::unverified);
    CHECK(report.problem == "certificate has expired (depth 0)");
    CHECK(report.evidence.names == Names{"out1.example.test"});
}

TEST_CASE("the verification time can be given") {
    const Pki pki;
    const auto leaf = issue({.san = "DNS:out1.example.test", .not_before = 0}, &pki.intermediate);
    auto how = pki.trusting_root();
    const auto now = std::chrono::system_clock::now();
    how.at = now;
    CHECK(pki.check(leaf, how).evidence.status == CertificateStatus::verified);
    how.at = now + std::chrono::hours(24 * 60);
    CHECK(pki.check(leaf, how).problem == "certificate has expired (depth 0)");
    how.at = now - std::chrono::hours(12);  // the CAs were valid a day ago, the leaf was not
    CHECK(pki.check(leaf, how).problem == "certificate is not yet valid (depth 0)");
    how.at = now + std::chrono::hours(24 * 400);  // past the intermediate, too
    CHECK(pki.check(leaf, how).problem == "certificate has expired (depth 1)");
}

TEST_CASE("a chain to a CA that is not trusted is unverified") {
    const Pki pki;
    const auto leaf = issue({.san = "DNS:out1.example.test"}, &pki.intermediate);
    SECTION("another CA file") {
        const auto other = pki.dir.write("other.pem", pem_of({&pki.stranger}));
        const auto report = pki.check(leaf, {.ca_file = other});
        CHECK(report.evidence.status == CertificateStatus::unverified);
        CHECK(report.problem == "unable to get local issuer certificate (depth 1)");
    }
    SECTION("the system store, which does not hold the test root") {
        const auto report = pki.check(leaf, {});
        CHECK(report.evidence.status == CertificateStatus::unverified);
        CHECK(report.problem == "unable to get local issuer certificate (depth 1)");
    }
}

TEST_CASE("a chain without its intermediate is unverified") {
    const Pki pki;
    const auto leaf = issue({.san = "DNS:out1.example.test"}, &pki.intermediate);
    const auto report = check_certificate_chain(pem_of({&leaf}), pki.trusting_root());
    REQUIRE(report.has_value());
    CHECK(report->evidence.status == CertificateStatus::unverified);
    CHECK(report->problem == "unable to get local issuer certificate (depth 0)");
    CHECK(report->chain_length == 1);
}

TEST_CASE("a leaf signed by an intermediate's key but not under it fails its signature") {
    const Pki pki;
    // Same issuer name as the intermediate, other key: an impostor chain.
    const auto impostor = issue({.cn = "Unit Test Intermediate", .ca = true}, &pki.stranger);
    const auto leaf = issue({.san = "DNS:out1.example.test"}, &impostor);
    const auto report = check_certificate_chain(pem_of({&leaf, &pki.intermediate}), pki.trusting_root());
    REQUIRE(report.has_value());
    CHECK(report->evidence.status == CertificateStatus::unverified);
}

TEST_CASE("trust anchors can come from a hashed CA directory") {
    const Pki pki;
    const auto leaf = issue({.san = "DNS:out1.example.test"}, &pki.intermediate);
    TempDir hashed;
    (void)hashed.write(fmt::format("{:08x}.0", X509_subject_name_hash(pki.root.cert.get())), pem_of({&pki.root}));
    CHECK(pki.check(leaf, {.ca_path = hashed.path().string()}).evidence.status == CertificateStatus::verified);

    TempDir empty;
    CHECK(pki.check(leaf, {.ca_path = empty.path().string()}).evidence.status == CertificateStatus::unverified);

    const auto missing = check_certificate_chain(pem_of({&leaf, &pki.intermediate}), {.ca_path = "/nonexistent/certs"});
    REQUIRE_FALSE(missing.has_value());
    CHECK_THAT(missing.error(), Catch::Contains("not a directory"));
}

TEST_CASE("fingerprints are SHA-256 over the DER certificate and the DER SubjectPublicKeyInfo") {
    const Pki pki;
    const auto leaf = issue({.san = "DNS:out1.example.test", .eku = "serverAuth"}, &pki.intermediate);
    const auto report = pki.check(leaf);
    REQUIRE(report.evidence.fingerprints.certificate);
    REQUIRE(report.evidence.fingerprints.public_key);

    // A second way to each: X509_digest for the certificate, and the key
    // encoded from the EVP_PKEY (i2d_PUBKEY) rather than from the X509_PUBKEY.
    Sha256Digest certificate{};
    unsigned int length = 0;
    REQUIRE(X509_digest(leaf.cert.get(), EVP_sha256(), certificate.data(), &length) == 1);
    CHECK(*report.evidence.fingerprints.certificate == certificate);

    unsigned char* raw = nullptr;
    const int size = i2d_PUBKEY(X509_get0_pubkey(leaf.cert.get()), &raw);
    const OpenSslBytes spki(raw);
    REQUIRE(size > 0);
    CHECK(*report.evidence.fingerprints.public_key == digest(spki.get(), static_cast<std::size_t>(size)));

    // Not the digest of the bare key bits, which X509_pubkey_digest computes.
    Sha256Digest key_bits{};
    REQUIRE(X509_pubkey_digest(leaf.cert.get(), EVP_sha256(), key_bits.data(), &length) == 1);
    CHECK(*report.evidence.fingerprints.public_key != key_bits);

    // The leaf's, not the intermediate's.
    REQUIRE(X509_digest(pki.intermediate.cert.get(), EVP_sha256(), certificate.data(), &length) == 1);
    CHECK(*report.evidence.fingerprints.certificate != certificate);

    // Unverified certificates have fingerprints too: DANE-EE does not need a CA.
    const auto untrusted = pki.check(leaf, {.ca_file = pki.dir.write("s.pem", pem_of({&pki.stranger}))});
    CHECK(untrusted.evidence.fingerprints == report.evidence.fingerprints);
}

TEST_CASE("other PEM blocks in the file are skipped") {
    const Pki pki;
    const auto leaf = issue({.san = "DNS:out1.example.test"}, &pki.intermediate);
    const auto text =
        key_pem_of(leaf) + pem_of({&leaf}) + "some comment\n" + pem_of({&pki.intermediate}) + key_pem_of(leaf);
    const auto report = check_certificate_chain(text, pki.trusting_root());
    REQUIRE(report.has_value());
    CHECK(report->evidence.status == CertificateStatus::verified);
    CHECK(report->chain_length == 2);
}

TEST_CASE("unusable input is an error, not a crash") {
    const Pki pki;
    const auto leaf = issue({.san = "DNS:out1.example.test"}, &pki.intermediate);
    const auto good = pem_of({&leaf, &pki.intermediate});
    const auto how = pki.trusting_root();

    SECTION("no file") {
        const auto report = check_certificate_chain_file("/nonexistent/chain.pem", how);
        REQUIRE_FALSE(report.has_value());
        CHECK_THAT(report.error(), Catch::Contains("No such file"));
    }
    SECTION("a directory") {
        CHECK_FALSE(check_certificate_chain_file(pki.dir.path().string(), how).has_value());
    }
    SECTION("empty, or no PEM at all") {
        const auto text = GENERATE(as<std::string>{}, "", "hello\n", "\x30\x82\x01\x00");
        const auto report = check_certificate_chain(text, how);
        REQUIRE_FALSE(report.has_value());
        CHECK_THAT(report.error(), Catch::Contains("no PEM certificate"));
    }
    SECTION("a broken certificate block") {
        auto broken = good;
        broken.replace(broken.find("-----BEGIN CERTIFICATE-----\n") + 40, 8, "!!!!!!!!");
        const auto report = check_certificate_chain(broken, how);
        REQUIRE_FALSE(report.has_value());
        CHECK_THAT(report.error(), Catch::Contains("certificate 1 is malformed"));
    }
    SECTION("a truncated second certificate") {
        const auto truncated = good.substr(0, good.size() - 100);
        const auto report = check_certificate_chain(truncated, how);
        REQUIRE_FALSE(report.has_value());
        CHECK_THAT(report.error(), Catch::Contains("certificate 2 is malformed"));
    }
    SECTION("valid base64 that is no certificate") {
        const auto report =
            check_certificate_chain("-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n", how);
        REQUIRE_FALSE(report.has_value());
        CHECK_THAT(report.error(), Catch::Contains("certificate 1 is malformed"));
    }
    SECTION("too many certificates") {
        std::string many;
        for (std::size_t i = 0; i <= kMaxChainCertificates; ++i) {
            many += pem_of({&pki.intermediate});
        }
        const auto report = check_certificate_chain(many, how);
        REQUIRE_FALSE(report.has_value());
        CHECK_THAT(report.error(), Catch::Contains("more than"));
        CHECK(check_certificate_chain(many.substr(0, many.size() / (kMaxChainCertificates + 1) * kMaxChainCertificates),
                                      how)
                  .has_value());
    }
    SECTION("too large a file") {
        const auto big = pki.dir.write("big.pem", good + std::string(kMaxChainFileSize, '\n'));
        const auto report = check_certificate_chain_file(big, how);
        REQUIRE_FALSE(report.has_value());
        CHECK_THAT(report.error(), Catch::Contains("larger than"));
    }
    SECTION("an unreadable CA file") {
        const auto report = check_certificate_chain(good, {.ca_file = "/nonexistent/ca.pem"});
        REQUIRE_FALSE(report.has_value());
        CHECK_THAT(report.error(), Catch::Contains("cannot read CA file /nonexistent/ca.pem"));
    }
    SECTION("the file reader gives what the text reader gives") {
        const auto report = check_certificate_chain_file(pki.dir.write("chain.pem", good), how);
        REQUIRE(report.has_value());
        CHECK(report->evidence.status == CertificateStatus::verified);
    }
}
