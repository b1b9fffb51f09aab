// The Authenticator (core/mtls/authenticator.cc) with DANE-TA and SHA-512
// TLSA records, which only the certificate chain can match: a real STARTTLS
// server on 127.0.0.1 (smtp_test_server.h) serves the chain that discovery
// fetches, the TLSA and Client MX answers are scripted. The trust store the
// discovery verifies against is a stranger's root, so a pass here is DANE's
// alone, never the discovered certificate's PKIX path.
#include <catch2/catch.hpp>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "discovery/certificate_discovery.h"
#include "fake_resolver.h"
#include "mtls/authenticator.h"
#include "options/settings.h"
#include "smtp_test_server.h"
#include "test_pki.h"

using namespace mtls;
using namespace mtls::discovery;
using namespace mtls::test;
using namespace mtls::testing;
using namespace std::chrono_literals;
using Bytes = std::vector<std::uint8_t>;

// Designated initializers name only what a certificate is about.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace {

const std::string kHost = "out1.example.test";

// SHA-256 or SHA-512 (matching types 1 and 2) of the certificate's DER
// (selector 0) or its SubjectPublicKeyInfo (selector 1).
Bytes tlsa_for(std::uint8_t usage, std::uint8_t selector, std::uint8_t matching, const Issued& issued) {
    unsigned char* raw = nullptr;
    const int length = selector == 0 ? i2d_X509(issued.cert.get(), &raw)
                                     : i2d_X509_PUBKEY(X509_get_X509_PUBKEY(issued.cert.get()), &raw);
    const OpenSslBytes owned(raw);
    REQUIRE(length > 0);
    Bytes digest(EVP_MAX_MD_SIZE);
    unsigned int size = 0;
    REQUIRE(EVP_Digest(owned.get(), static_cast<std::size_t>(length), digest.data(), &size,
                       matching == 1 ? EVP_sha256() : EVP_sha512(), nullptr) == 1);
    digest.resize(size);
    return tlsa_rdata(usage, selector, matching, digest);
}

// A 2026 leaf (serverAuth only, no CN) under an intermediate; the discovery's
// trust store holds only the stranger root.
struct Setup {
    Issued root = issue({.cn = "DANE Discovery Root", .ca = true, .not_after = 3650 * kDay}, nullptr);
    Issued intermediate = issue({.cn = "DANE Discovery Intermediate", .ca = true, .not_after = 365 * kDay}, &root);
    Issued leaf = issue({.san = "DNS:" + kHost, .eku = "serverAuth"}, &intermediate);
    Issued stranger = issue({.cn = "Stranger Root", .ca = true, .not_after = 3650 * kDay}, nullptr);
    SmtpTestServer server{Script::starttls, &leaf, {&intermediate}};
    std::string ca_file = write_ca_file();
    std::shared_ptr<FakeResolver> resolver = std::make_shared<FakeResolver>();
    std::shared_ptr<CertificateDiscovery> discovery = make_discovery();

    Setup() {
        resolver->script("example.org", records_answer({{10, kHost}}));
        resolver->script("_client." + kHost, status_answer(AnswerStatus::nxdomain, DnssecState::secure));
    }
    ~Setup() { std::remove(ca_file.c_str()); }
    Setup(const Setup&) = delete;
    Setup& operator=(const Setup&) = delete;

    void publish(std::vector<Bytes> records, DnssecState dnssec = DnssecState::secure) const {
        resolver->script("_25._tcp." + kHost, tlsa_answer(std::move(records), dnssec));
    }

    [[nodiscard]] Authenticator authenticator(bool with_discovery = true) const {
        AuthenticatorSettings settings = default_settings().authenticator;
        settings.dns_timeout = 60s;  // every name is scripted; this bounds only the probe
        return Authenticator(resolver, settings, with_discovery ? discovery : nullptr);
    }

    [[nodiscard]] TlsEvidence evidence(CertificateStatus status = CertificateStatus::absent_or_unverified) const {
        TlsEvidence evidence;
        evidence.status = status;
        evidence.fingerprints.certificate = fingerprint_of(leaf);
        return evidence;
    }

    // One message from the leaf's host at 127.0.0.1, as the milter runs it.
    [[nodiscard]] Evaluation evaluate(const Authenticator& authenticator, const TlsEvidence& evidence) const {
        auto check =
            authenticator.begin(identity_from_envelope("<a@example.org>", "x"), *IpAddress::parse("127.0.0.1"));
        static_cast<void>(authenticator.discover(check, evidence));
        return authenticator.finish(check, evidence);
    }

private:
    [[nodiscard]] std::string write_ca_file() const {
        std::string path = "/tmp/mtls-dane-chain-XXXXXX";
        const int fd = ::mkstemp(path.data());
        REQUIRE(fd >= 0);
        const auto pem = pem_of({&stranger});
        REQUIRE(::write(fd, pem.data(), pem.size()) == static_cast<ssize_t>(pem.size()));
        ::close(fd);
        return path;
    }

    [[nodiscard]] std::shared_ptr<CertificateDiscovery> make_discovery() const {
        DiscoverySettings settings;
        settings.helo_name = "receiver.example.test";
        settings.port = server.port();
        settings.networks = HostList::parse("127.0.0.0/8").value();
        settings.verification.ca_file = ca_file;
        auto made = CertificateDiscovery::create(std::move(settings));
        REQUIRE(made);
        return std::move(made).value();
    }
};

}  // namespace

TEST_CASE("dane: a DANE-TA record for the discovered chain's intermediate passes") {
    const Setup setup;
    setup.publish({tlsa_for(3, 1, 1, setup.stranger), tlsa_for(2, 1, 1, setup.intermediate)});
    const auto evaluation = setup.evaluate(setup.authenticator(), setup.evidence());
    CHECK(evaluation.verdict.result == Result::pass);
    CHECK(evaluation.verdict.method == PassMethod::dane);
    CHECK(evaluation.verdict.dane_trust_anchor);
    CHECK(evaluation.verdict.matched_host == kHost);
    CHECK(evaluation.verdict.tlsa_owner == "_25._tcp." + kHost);
    CHECK(evaluation.discovery.outcome == "matched");
    CHECK(setup.discovery->counters().probed == 1);
}

TEST_CASE("dane: a SHA-512 DANE-EE record for the discovered leaf passes") {
    const Setup setup;
    setup.publish({tlsa_for(3, 0, 2, setup.leaf)});
    const auto evaluation = setup.evaluate(setup.authenticator(), setup.evidence());
    CHECK(evaluation.verdict.result == Result::pass);
    CHECK(evaluation.verdict.method == PassMethod::dane);
    CHECK_FALSE(evaluation.verdict.dane_trust_anchor);
}

TEST_CASE("dane: chain records that all miss keep the fail; the PKIX verdict is not consulted") {
    const Setup setup;
    setup.publish({tlsa_for(2, 0, 1, setup.stranger), tlsa_for(3, 1, 2, setup.intermediate)});
    const auto evaluation = setup.evaluate(setup.authenticator(), setup.evidence());
    CHECK(evaluation.verdict.result == Result::fail);
    CHECK(evaluation.verdict.reason == "no TLSA record matches the client key");
    CHECK(setup.discovery->counters().probed == 1);
}

TEST_CASE("dane: insecure chain records never count") {
    const Setup setup;
    setup.publish({tlsa_for(2, 1, 1, setup.intermediate)}, DnssecState::insecure);
    const auto evaluation = setup.evaluate(setup.authenticator(), setup.evidence());
    CHECK(evaluation.verdict.result == Result::fail);  // and discovery's own chain is not trusted here
    CHECK(evaluation.verdict.method == PassMethod::none);
}

TEST_CASE("dane: without discovery chain records are unusable, as before") {
    const Setup setup;
    setup.publish({tlsa_for(2, 1, 1, setup.intermediate)});
    const auto evaluation = setup.evaluate(setup.authenticator(false), setup.evidence());
    CHECK(evaluation.verdict.result == Result::fail);
    CHECK(evaluation.verdict.reason == "no TLSA record matches the client key");
    CHECK(setup.server.connections() == 0);
}

TEST_CASE("dane: a verified certificate named for another host is probed only for chain records") {
    const Setup setup;
    TlsEvidence verified = setup.evidence(CertificateStatus::verified);
    verified.names = {"elsewhere.example.test"};

    SECTION("fingerprint records only: no probe") {
        setup.publish({tlsa_for(3, 1, 1, setup.stranger)});
        CHECK(setup.evaluate(setup.authenticator(), verified).verdict.result == Result::fail);
        CHECK(setup.discovery->counters().probed == 0);
    }
    SECTION("a DANE-TA record: probed, and it passes") {
        setup.publish({tlsa_for(2, 0, 2, setup.intermediate)});
        const auto evaluation = setup.evaluate(setup.authenticator(), verified);
        CHECK(evaluation.verdict.result == Result::pass);
        CHECK(evaluation.discovery.probe_started);
        CHECK(setup.discovery->counters().probed == 1);
    }
    SECTION("one probe serves the DANE records of one host and discovery for another") {
        setup.resolver->script("example.org", records_answer({{10, kHost}, {20, "out2.example.test"}}));
        setup.resolver->script("_client.out2.example.test", status_answer(AnswerStatus::nxdomain, DnssecState::secure));
        setup.resolver->script("_25._tcp.out2.example.test",
                               status_answer(AnswerStatus::nxdomain, DnssecState::secure));
        setup.publish({tlsa_for(2, 0, 1, setup.stranger)});
        const auto evaluation = setup.evaluate(setup.authenticator(), verified);
        // The chain does not verify against the configured CA (the stranger).
        CHECK(evaluation.verdict.result == Result::fail);
        CHECK(evaluation.verdict.reason == "discovered certificate chain not valid");
        CHECK(evaluation.discovery.outcome == "chain-invalid");
        CHECK(evaluation.discovery.probe_started);
        CHECK(setup.discovery->counters().probed == 1);
    }
}
