// DANE for the sending host: fingerprints as MTAs write them, TLSA RDATA,
// owner-name templates, the pure verdict step and the Authenticator's TLSA
// stage with a scripted resolver.
#include <catch2/catch.hpp>

#include <memory>

#include "dns/tlsa_record.h"
#include "fake_resolver.h"
#include "mtls/authenticator.h"
#include "mtls/dane.h"
#include "options/settings.h"
#include "tls/fingerprint.h"

using namespace mtls;
using namespace mtls::testing;
using namespace std::chrono_literals;

namespace {

Sha256Digest digest_of(std::uint8_t fill) {
    Sha256Digest digest{};
    digest.fill(fill);
    return digest;
}

Fingerprints key_only(std::uint8_t fill) {
    Fingerprints fingerprints;
    fingerprints.public_key = digest_of(fill);
    return fingerprints;
}

// A fail from the certificate path with one secure Client MX host.
Verdict failed_for(std::string host) {
    Verdict verdict;
    verdict.result = Result::fail;
    verdict.reason = "no verified client certificate";
    verdict.dnssec = DnssecState::secure;
    verdict.client_mx = {ClientMx{10, std::move(host)}};
    return verdict;
}

}  // namespace

TEST_CASE("SHA-256 fingerprints are read as Postfix and Sendmail write them", "[dane]") {
    const std::string colons =
        "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff";
    const auto parsed = parse_sha256_fingerprint(colons);
    REQUIRE(parsed);
    CHECK((*parsed)[0] == 0x00);
    CHECK((*parsed)[10] == 0xaa);
    CHECK(to_hex(*parsed) == "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
    CHECK(parse_sha256_fingerprint(to_hex(*parsed)) == parsed);

    // MD5 and SHA-1 (other smtpd_tls_fingerprint_digest settings), typos, garbage.
    CHECK_FALSE(parse_sha256_fingerprint("00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF"));
    CHECK_FALSE(parse_sha256_fingerprint(colons.substr(0, colons.size() - 3)));
    CHECK_FALSE(parse_sha256_fingerprint(colons + ":00"));
    CHECK_FALSE(parse_sha256_fingerprint(colons + ":"));
    CHECK_FALSE(parse_sha256_fingerprint("00:1122" + colons.substr(7)));
    CHECK_FALSE(parse_sha256_fingerprint(std::string(64, 'g')));
    CHECK_FALSE(parse_sha256_fingerprint(""));
    CHECK_FALSE(parse_sha256_fingerprint(std::string(65, 'a')));
}

TEST_CASE("TLSA RDATA is parsed and only DANE-EE SHA-256 records match", "[dane]") {
    const auto key = digest_of(0x11);
    const auto cert = digest_of(0x22);
    Fingerprints both;
    both.public_key = key;
    both.certificate = cert;

    const auto spki = parse_tlsa_rdata(tlsa_rdata(3, 1, 1, key));
    REQUIRE(spki);
    CHECK(to_presentation(spki.value()) == "3 1 1 " + to_hex(key));
    CHECK(dane_ee_matches(spki.value(), both));
    CHECK_FALSE(dane_ee_matches(spki.value(), key_only(0x33)));

    const auto full = parse_tlsa_rdata(tlsa_rdata(3, 0, 1, cert));
    REQUIRE(full);
    CHECK(dane_ee_matches(full.value(), both));
    CHECK_FALSE(dane_ee_matches(full.value(), key_only(0x11)));  // selector 0 needs the certificate digest

    // DANE-TA, PKIX usages, unknown selectors and full data of other bytes never match here.
    for (const auto& rdata : {tlsa_rdata(2, 1, 1, key), tlsa_rdata(1, 1, 1, key), tlsa_rdata(0, 1, 1, key),
                              tlsa_rdata(3, 2, 1, key), tlsa_rdata(3, 1, 0, key)}) {
        const auto record = parse_tlsa_rdata(rdata);
        REQUIRE(record);
        CHECK_FALSE(dane_ee_matches(record.value(), both));
    }
    std::vector<std::uint8_t> sha512(64, 0x11);
    REQUIRE(parse_tlsa_rdata(tlsa_rdata(3, 1, 2, sha512)));

    // Malformed: too short, wrong digest lengths, no data.
    CHECK_FALSE(parse_tlsa_rdata(std::vector<std::uint8_t>{3, 1}));
    CHECK_FALSE(parse_tlsa_rdata(tlsa_rdata(3, 1, 1, std::vector<std::uint8_t>(31, 1))));
    CHECK_FALSE(parse_tlsa_rdata(tlsa_rdata(3, 1, 2, key)));
    CHECK_FALSE(parse_tlsa_rdata(std::vector<std::uint8_t>{3, 1, 0}));
}

TEST_CASE("full-data TLSA records (3 0 0, 3 1 0) match through the SHA-256 of their data", "[dane]") {
    // SHA-256("abc"), FIPS 180-2 appendix B.1.
    const auto abc = parse_sha256_fingerprint("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    REQUIRE(abc);
    const std::vector<std::uint8_t> data = {'a', 'b', 'c'};
    REQUIRE(sha256_of(data) == abc);

    Fingerprints certificate_only;
    certificate_only.certificate = abc;
    Fingerprints key_only_abc;
    key_only_abc.public_key = abc;

    const auto full_certificate = parse_tlsa_rdata(tlsa_rdata(3, 0, 0, data));
    REQUIRE(full_certificate);
    CHECK(to_presentation(full_certificate.value()) == "3 0 0 616263");
    CHECK(dane_ee_matches(full_certificate.value(), certificate_only));
    CHECK_FALSE(dane_ee_matches(full_certificate.value(), key_only_abc));  // selector 0 is the certificate

    const auto full_key = parse_tlsa_rdata(tlsa_rdata(3, 1, 0, data));
    REQUIRE(full_key);
    CHECK(dane_ee_matches(full_key.value(), key_only_abc));
    CHECK_FALSE(dane_ee_matches(full_key.value(), certificate_only));

    const auto other = parse_tlsa_rdata(tlsa_rdata(3, 0, 0, std::vector<std::uint8_t>{'a', 'b', 'd'}));
    REQUIRE(other);
    CHECK_FALSE(dane_ee_matches(other.value(), certificate_only));
    // DANE-TA in full cannot be checked from a fingerprint either.
    const auto trust_anchor = parse_tlsa_rdata(tlsa_rdata(2, 0, 0, data));
    REQUIRE(trust_anchor);
    CHECK_FALSE(dane_ee_matches(trust_anchor.value(), certificate_only));
}

TEST_CASE("TLSA owner-name templates", "[dane]") {
    const auto defaults = parse_tlsa_name_templates("_client.{host}, _25._tcp.{host}");
    REQUIRE(defaults);
    CHECK(defaults.value() == default_settings().authenticator.dane.tlsa_names);
    CHECK(parse_tlsa_name_templates("").value().empty());
    CHECK(parse_tlsa_name_templates("{host} {host}").value() == std::vector<std::string>{"{host}"});
    for (const auto* bad : {"_client", "{host}._client", "_client{host}", "_cl ient.{host}", "a..{host}", "-x.{host}",
                            "_client.{host}.example", "x.{host}{host}", "\xc3\xa9.{host}"}) {
        INFO(bad);
        CHECK_FALSE(parse_tlsa_name_templates(bad));
    }
    CHECK(tlsa_owner_name("_25._tcp.{host}", "out1.example.org") == "_25._tcp.out1.example.org");
    CHECK(tlsa_owner_name("{host}", "out1.example.org") == "out1.example.org");
    CHECK_FALSE(tlsa_owner_name("_client.{host}", ""));
    CHECK_FALSE(tlsa_owner_name("_client.{host}", std::string(250, 'a')));
}

TEST_CASE("DANE applies only to a secure fail with a known key", "[dane]") {
    const DaneSettings settings = default_settings().authenticator.dane;
    CHECK(dane_applicable(failed_for("out1.example.org"), key_only(1), settings));
    CHECK_FALSE(dane_applicable(failed_for("out1.example.org"), Fingerprints{}, settings));

    auto insecure = failed_for("out1.example.org");
    insecure.dnssec = DnssecState::insecure;
    CHECK_FALSE(dane_applicable(insecure, key_only(1), settings));

    auto null_mx = failed_for("");
    CHECK_FALSE(dane_applicable(null_mx, key_only(1), settings));

    auto passed = failed_for("out1.example.org");
    passed.result = Result::pass;
    CHECK_FALSE(dane_applicable(passed, key_only(1), settings));

    DaneSettings off = default_settings().authenticator.dane;
    off.enabled = false;
    CHECK_FALSE(dane_applicable(failed_for("out1.example.org"), key_only(1), off));
}

TEST_CASE("apply_dane: a secure matching record passes, nothing else does", "[dane]") {
    const auto key = key_only(0x11);
    const auto matching = tlsa_rdata(3, 1, 1, digest_of(0x11));
    const auto other = tlsa_rdata(3, 1, 1, digest_of(0x99));
    const std::string host = "out1.example.org";
    const std::string owner = "_25._tcp.out1.example.org";

    SECTION("secure match") {
        const std::vector<TlsaLookupResult> results = {
            {host, "_client.out1.example.org", status_answer(AnswerStatus::nxdomain, DnssecState::secure)},
            {host, owner, tlsa_answer({other, matching})}};
        const auto verdict = apply_dane(failed_for(host), results, key);
        CHECK(verdict.result == Result::pass);
        CHECK(verdict.method == PassMethod::dane);
        CHECK(verdict.reason == "dane");
        CHECK(verdict.matched_host == host);
        CHECK(verdict.tlsa_owner == owner);
    }
    SECTION("a malformed record beside a matching one does not spoil it") {
        const std::vector<TlsaLookupResult> results = {
            {host, owner, tlsa_answer({std::vector<std::uint8_t>{3, 1}, matching})}};
        CHECK(apply_dane(failed_for(host), results, key).result == Result::pass);
    }
    SECTION("insecure records never authenticate") {
        const std::vector<TlsaLookupResult> results = {{host, owner, tlsa_answer({matching}, DnssecState::insecure)}};
        const auto verdict = apply_dane(failed_for(host), results, key);
        CHECK(verdict.result == Result::fail);
        CHECK(verdict.reason == "no verified client certificate");
    }
    SECTION("bogus records never authenticate, and make temperror") {
        auto bogus = tlsa_answer({matching}, DnssecState::bogus);
        const std::vector<TlsaLookupResult> results = {{host, owner, bogus}};
        const auto verdict = apply_dane(failed_for(host), results, key);
        CHECK(verdict.result == Result::temperror);
        CHECK(verdict.reason == "TLSA DNSSEC validation failed");
        CHECK(verdict.matched_host.empty());
    }
    SECTION("a timed-out lookup with no match elsewhere is temperror") {
        const std::vector<TlsaLookupResult> results = {{host, owner, status_answer(AnswerStatus::timeout)},
                                                       {host, "_client.out1.example.org", tlsa_answer({other})}};
        CHECK(apply_dane(failed_for(host), results, key).result == Result::temperror);
    }
    SECTION("a match wins over a failed lookup of another name") {
        const std::vector<TlsaLookupResult> results = {
            {host, "_client.out1.example.org", status_answer(AnswerStatus::servfail)},
            {host, owner, tlsa_answer({matching})}};
        CHECK(apply_dane(failed_for(host), results, key).result == Result::pass);
    }
    SECTION("secure records for another key") {
        const std::vector<TlsaLookupResult> results = {{host, owner, tlsa_answer({other})}};
        const auto verdict = apply_dane(failed_for(host), results, key);
        CHECK(verdict.result == Result::fail);
        CHECK(verdict.reason == "no TLSA record matches the client key");
    }
    SECTION("DANE-TA records are unusable without the chain") {
        const std::vector<TlsaLookupResult> results = {
            {host, owner, tlsa_answer({tlsa_rdata(2, 1, 1, digest_of(0x11))})}};
        CHECK(apply_dane(failed_for(host), results, key).result == Result::fail);
    }
}

TEST_CASE("the Authenticator looks up TLSA only when DANE can still pass", "[dane][authenticator]") {
    auto resolver = std::make_shared<FakeResolver>();
    AuthenticatorSettings settings = default_settings().authenticator;
    settings.dns_timeout = 200ms;
    const Authenticator authenticator(resolver, settings);
    resolver->script("example.org", records_answer({{10, "out1.example.org"}, {20, "out2.example.org"}}));
    resolver->script("_25._tcp.out2.example.org", tlsa_answer({tlsa_rdata(3, 1, 1, digest_of(0x11))}));
    resolver->script("_client.out1.example.org", status_answer(AnswerStatus::nxdomain, DnssecState::secure));
    resolver->script("_25._tcp.out1.example.org", status_answer(AnswerStatus::nodata, DnssecState::secure));
    resolver->script("_client.out2.example.org", status_answer(AnswerStatus::nxdomain, DnssecState::secure));

    TlsEvidence unverified;
    unverified.status = CertificateStatus::absent_or_unverified;
    unverified.fingerprints = key_only(0x11);

    SECTION("a key published for the second host passes") {
        auto check = authenticator.begin(identity_from_envelope("<a@example.org>", "x"));
        const auto evaluation = authenticator.finish(check, unverified);
        CHECK(evaluation.verdict.result == Result::pass);
        CHECK(evaluation.verdict.matched_host == "out2.example.org");
        CHECK(evaluation.verdict.tlsa_owner == "_25._tcp.out2.example.org");
        CHECK(evaluation.tlsa.size() == 4);
        const auto started = resolver->started();
        REQUIRE(started.size() == 5);
        for (std::size_t i = 1; i < started.size(); ++i) {
            CHECK(started[i].type == kTlsaType);
        }
    }
    SECTION("no fingerprint, no TLSA lookups") {
        unverified.fingerprints = {};
        auto check = authenticator.begin(identity_from_envelope("<a@example.org>", "x"));
        CHECK(authenticator.finish(check, unverified).verdict.result == Result::fail);
        CHECK(resolver->start_count() == 1);
    }
    SECTION("a certificate-path pass needs no TLSA lookups") {
        TlsEvidence verified;
        verified.status = CertificateStatus::verified;
        verified.names = {"out1.example.org"};
        verified.fingerprints = key_only(0x77);
        auto check = authenticator.begin(identity_from_envelope("<a@example.org>", "x"));
        const auto evaluation = authenticator.finish(check, verified);
        CHECK(evaluation.verdict.result == Result::pass);
        CHECK(evaluation.verdict.method == PassMethod::certificate);
        CHECK(resolver->start_count() == 1);
    }
    SECTION("an unanswered TLSA lookup times out into temperror") {
        unverified.fingerprints = key_only(0x55);  // matches nothing published
        resolver->script("_25._tcp.out2.example.org", status_answer(AnswerStatus::nodata, DnssecState::secure));
        auto quiet = std::make_shared<FakeResolver>();
        quiet->script("example.org", records_answer({{10, "out1.example.org"}}));
        const Authenticator slow(quiet, settings);
        auto check = slow.begin(identity_from_envelope("<a@example.org>", "x"));
        const auto evaluation = slow.finish(check, unverified);
        CHECK(evaluation.verdict.result == Result::temperror);
        CHECK(evaluation.verdict.reason == "TLSA lookup failed");
    }
}

TEST_CASE("a hostile Client MX RRset cannot fan out into unbounded TLSA lookups", "[dane][authenticator]") {
    auto resolver = std::make_shared<FakeResolver>();
    AuthenticatorSettings settings = default_settings().authenticator;
    settings.dns_timeout = 50ms;
    const Authenticator authenticator(resolver, settings);
    std::vector<ClientMx> many;
    for (int i = 0; i < 100; ++i) {
        many.push_back(ClientMx{static_cast<std::uint16_t>(i), "h" + std::to_string(i) + ".example.org"});
    }
    resolver->script("example.org", records_answer(many));
    TlsEvidence evidence;
    evidence.status = CertificateStatus::absent_or_unverified;
    evidence.fingerprints = key_only(1);
    auto check = authenticator.begin(identity_from_envelope("<a@example.org>", "x"));
    static_cast<void>(authenticator.finish(check, evidence));
    CHECK(resolver->start_count() == 1 + kMaxDaneHosts * default_settings().authenticator.dane.tlsa_names.size());
}
