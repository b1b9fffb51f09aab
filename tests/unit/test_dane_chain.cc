// DANE records only the certificate chain can match (core/mtls/dane_chain.h):
// DANE-EE with SHA-512 digests and DANE-TA, judged against chains made here
// (tests/support/test_pki.h) as certificate discovery would have fetched them.
#include <catch2/catch.hpp>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "dns/tlsa_record.h"
#include "fake_resolver.h"
#include "mtls/dane.h"
#include "mtls/dane_chain.h"
#include "test_pki.h"

using namespace mtls;
using namespace mtls::test;
using namespace mtls::testing;
using Bytes = std::vector<std::uint8_t>;

// Designated initializers name only what a certificate is about.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace {

const std::string kHost = "out1.example.org";
const std::string kOwner = "_25._tcp.out1.example.org";
constexpr std::array<std::uint8_t, 2> kSelectors = {0, 1};         // certificate, SubjectPublicKeyInfo
constexpr std::array<std::uint8_t, 3> kMatchingTypes = {0, 1, 2};  // in full, SHA-256, SHA-512

std::string der_of(const Issued& issued) {
    unsigned char* raw = nullptr;
    const int length = i2d_X509(issued.cert.get(), &raw);
    const OpenSslBytes owned(raw);
    REQUIRE(length > 0);
    return {reinterpret_cast<const char*>(owned.get()), static_cast<std::size_t>(length)};
}

// The bytes a TLSA selector names: 0 the certificate, 1 its SubjectPublicKeyInfo.
Bytes selected(const Issued& issued, std::uint8_t selector) {
    unsigned char* raw = nullptr;
    const int length = selector == 0 ? i2d_X509(issued.cert.get(), &raw)
                                     : i2d_X509_PUBKEY(X509_get_X509_PUBKEY(issued.cert.get()), &raw);
    const OpenSslBytes owned(raw);
    REQUIRE(length > 0);
    return {owned.get(), owned.get() + length};
}

// The RDATA of a TLSA record for the certificate, as a zone would publish it.
Bytes record_for(std::uint8_t usage, std::uint8_t selector, std::uint8_t matching, const Issued& issued) {
    Bytes data = selected(issued, selector);
    if (matching != 0) {
        Bytes digest(EVP_MAX_MD_SIZE);
        unsigned int size = 0;
        REQUIRE(EVP_Digest(data.data(), data.size(), digest.data(), &size, matching == 1 ? EVP_sha256() : EVP_sha512(),
                           nullptr) == 1);
        digest.resize(size);
        data = std::move(digest);
    }
    return tlsa_rdata(usage, selector, matching, data);
}

Verdict failed_for(const std::string& host) {
    Verdict verdict;
    verdict.result = Result::fail;
    verdict.reason = "no verified client certificate";
    verdict.dnssec = DnssecState::secure;
    verdict.client_mx = {ClientMx{10, host}};
    return verdict;
}

// A public-CA-like hierarchy and a 2026 leaf: serverAuth only, no CN.
struct Pki {
    Issued root = issue({.cn = "DANE Test Root", .ca = true, .not_after = 3650 * kDay}, nullptr);
    Issued intermediate = issue({.cn = "DANE Test Intermediate", .ca = true, .not_after = 365 * kDay}, &root);
    Issued leaf = issue({.san = "DNS:" + kHost, .eku = "serverAuth"}, &intermediate);
    Issued stranger = issue({.cn = "Stranger Root", .ca = true, .not_after = 3650 * kDay}, nullptr);
};

// A discovered chain and the names certificate_chain.cc would find in its leaf.
struct Chain {
    std::vector<std::string> der;
    std::vector<std::string> names;
    bool allow_wildcards = false;
    std::optional<std::chrono::system_clock::time_point> at;

    [[nodiscard]] DiscoveredChain view() const { return {der, names, allow_wildcards, at}; }
};

Chain chain_of(const std::vector<const Issued*>& certificates, std::vector<std::string> names) {
    Chain chain;
    for (const auto* certificate : certificates) {
        chain.der.push_back(der_of(*certificate));
    }
    chain.names = std::move(names);
    return chain;
}

std::optional<Verdict> judge(const Chain& chain, std::vector<Bytes> records, DnssecState dnssec = DnssecState::secure) {
    const std::vector<TlsaLookupResult> results = {{kHost, kOwner, tlsa_answer(std::move(records), dnssec)}};
    return dane_chain_pass(failed_for(kHost), results, chain.view());
}

}  // namespace

TEST_CASE("TLSA records usable for SMTP: DANE-TA or DANE-EE, selector 0 or 1, matching type 0, 1 or 2", "[dane]") {
    const Bytes sha256(32, 1);
    const Bytes sha512(64, 1);
    const auto usable = [](const Bytes& rdata) {
        const auto record = parse_tlsa_rdata(rdata);
        return record && tlsa_usable_for_smtp(record.value());
    };
    for (const std::uint8_t usage : {std::uint8_t{2}, std::uint8_t{3}}) {
        for (const std::uint8_t selector : {std::uint8_t{0}, std::uint8_t{1}}) {
            CHECK(usable(tlsa_rdata(usage, selector, 0, Bytes{1, 2, 3})));
            CHECK(usable(tlsa_rdata(usage, selector, 1, sha256)));
            CHECK(usable(tlsa_rdata(usage, selector, 2, sha512)));
        }
    }
    CHECK_FALSE(usable(tlsa_rdata(0, 0, 1, sha256)));        // PKIX-TA (RFC 7672, section 3.1.3)
    CHECK_FALSE(usable(tlsa_rdata(1, 1, 1, sha256)));        // PKIX-EE
    CHECK_FALSE(usable(tlsa_rdata(4, 1, 1, sha256)));        // no usage 4
    CHECK_FALSE(usable(tlsa_rdata(3, 7, 9, sha256)));        // no selector 7, no matching type 9
    CHECK_FALSE(usable(tlsa_rdata(2, 1, 200, sha256)));      // no matching type 200
    CHECK_FALSE(usable(tlsa_rdata(3, 2, 1, sha256)));        // no selector 2
    CHECK_FALSE(usable(tlsa_rdata(3, 1, 3, sha256)));        // no matching type 3
    CHECK_FALSE(usable(tlsa_rdata(3, 1, 1, Bytes(31, 1))));  // malformed: parse_tlsa_rdata refuses it
    CHECK_FALSE(usable(tlsa_rdata(3, 1, 2, sha256)));
    CHECK_FALSE(usable(tlsa_rdata(3, 1, 0, Bytes{})));
}

TEST_CASE("TLSA records that need the chain: SHA-512 and DANE-TA", "[dane]") {
    const Bytes sha256(32, 1);
    const Bytes sha512(64, 1);
    CHECK(tlsa_needs_chain(parse_tlsa_rdata(tlsa_rdata(3, 0, 2, sha512)).value()));
    CHECK(tlsa_needs_chain(parse_tlsa_rdata(tlsa_rdata(3, 1, 2, sha512)).value()));
    CHECK(tlsa_needs_chain(parse_tlsa_rdata(tlsa_rdata(2, 0, 1, sha256)).value()));
    CHECK(tlsa_needs_chain(parse_tlsa_rdata(tlsa_rdata(2, 1, 0, sha256)).value()));
    CHECK(tlsa_needs_chain(parse_tlsa_rdata(tlsa_rdata(2, 1, 2, sha512)).value()));
    CHECK_FALSE(tlsa_needs_chain(parse_tlsa_rdata(tlsa_rdata(3, 1, 1, sha256)).value()));
    CHECK_FALSE(tlsa_needs_chain(parse_tlsa_rdata(tlsa_rdata(3, 0, 0, sha256)).value()));
    CHECK_FALSE(tlsa_needs_chain(parse_tlsa_rdata(tlsa_rdata(1, 0, 1, sha256)).value()));  // PKIX-EE
    CHECK_FALSE(tlsa_needs_chain(parse_tlsa_rdata(tlsa_rdata(2, 2, 1, sha256)).value()));  // no selector 2
    CHECK_FALSE(tlsa_needs_chain(parse_tlsa_rdata(tlsa_rdata(2, 0, 3, sha256)).value()));  // no matching 3

    const std::vector<TlsaLookupResult> secure = {{kHost, kOwner, tlsa_answer({tlsa_rdata(2, 0, 1, sha256)})}};
    CHECK(dane_needs_chain(secure));
    const std::vector<TlsaLookupResult> insecure = {
        {kHost, kOwner, tlsa_answer({tlsa_rdata(2, 0, 1, sha256)}, DnssecState::insecure)}};
    CHECK_FALSE(dane_needs_chain(insecure));
    const std::vector<TlsaLookupResult> fingerprints_suffice = {
        {kHost, kOwner, tlsa_answer({tlsa_rdata(3, 1, 1, sha256), std::vector<std::uint8_t>{2, 0}})}};
    CHECK_FALSE(dane_needs_chain(fingerprints_suffice));
}

TEST_CASE("DANE-EE SHA-512 records match the discovered leaf", "[dane]") {
    const Pki pki;
    const auto chain = chain_of({&pki.leaf, &pki.intermediate}, {kHost});

    SECTION("the certificate (3 0 2) and its key (3 1 2)") {
        for (const std::uint8_t selector : kSelectors) {
            const auto verdict = judge(chain, {record_for(3, selector, 2, pki.leaf)});
            REQUIRE(verdict);
            CHECK(verdict->result == Result::pass);
            CHECK(verdict->method == PassMethod::dane);
            CHECK(verdict->reason == "dane");
            CHECK(verdict->matched_host == kHost);
            CHECK(verdict->tlsa_owner == kOwner);
            CHECK_FALSE(verdict->dane_trust_anchor);
        }
    }
    SECTION("names and dates do not matter to DANE-EE") {
        const Issued expired = issue({.san = "DNS:elsewhere.example.net", .not_before = -10 * kDay, .not_after = -kDay},
                                     &pki.intermediate);
        const auto other = chain_of({&expired}, {"elsewhere.example.net"});
        CHECK(judge(other, {record_for(3, 1, 2, expired)}));
    }
    SECTION("another certificate's digest, or the intermediate's, misses") {
        CHECK_FALSE(judge(chain, {record_for(3, 0, 2, pki.stranger), record_for(3, 1, 2, pki.intermediate)}));
    }
    SECTION("insecure records never count") {
        CHECK_FALSE(judge(chain, {record_for(3, 0, 2, pki.leaf)}, DnssecState::insecure));
    }
}

TEST_CASE("DANE-TA records match a chain certificate the leaf chains to", "[dane]") {
    const Pki pki;
    const auto chain = chain_of({&pki.leaf, &pki.intermediate, &pki.root}, {kHost});

    SECTION("the intermediate or the root, by certificate or key, each matching type") {
        for (const Issued* anchor : {&pki.intermediate, &pki.root}) {
            for (const std::uint8_t selector : kSelectors) {
                for (const std::uint8_t matching : kMatchingTypes) {
                    INFO("2 " << static_cast<int>(selector) << ' ' << static_cast<int>(matching));
                    const auto verdict = judge(chain, {record_for(2, selector, matching, *anchor)});
                    REQUIRE(verdict);
                    CHECK(verdict->result == Result::pass);
                    CHECK(verdict->reason == "dane");
                    CHECK(verdict->matched_host == kHost);
                    CHECK(verdict->dane_trust_anchor);
                }
            }
        }
    }
    SECTION("a partial chain: the intermediate alone is the anchor, the root not sent") {
        const auto short_chain = chain_of({&pki.leaf, &pki.intermediate}, {kHost});
        CHECK(judge(short_chain, {record_for(2, 1, 1, pki.intermediate)}));
    }
    SECTION("a record naming the leaf itself is no trust anchor") {
        CHECK_FALSE(judge(chain, {record_for(2, 0, 1, pki.leaf), record_for(2, 1, 2, pki.leaf)}));
        const auto repeated = chain_of({&pki.leaf, &pki.leaf, &pki.intermediate}, {kHost});
        CHECK_FALSE(judge(repeated, {record_for(2, 0, 1, pki.leaf)}));
    }
    SECTION("a record for a certificate not in the chain misses") {
        CHECK_FALSE(judge(chain, {record_for(2, 0, 1, pki.stranger)}));
    }
    SECTION("a chain that does not lead to the matching certificate") {
        // The peer sent the stranger root along; it matches the record, but
        // the leaf was not issued under it.
        const auto misleading = chain_of({&pki.leaf, &pki.intermediate, &pki.stranger}, {kHost});
        CHECK_FALSE(judge(misleading, {record_for(2, 0, 1, pki.stranger)}));
    }
    SECTION("the leaf's names must include the Client MX host") {
        const auto wrong = chain_of({&pki.leaf, &pki.intermediate}, {"out2.example.org"});
        CHECK_FALSE(judge(wrong, {record_for(2, 0, 1, pki.intermediate)}));
        const auto none = chain_of({&pki.leaf, &pki.intermediate}, {});
        CHECK_FALSE(judge(none, {record_for(2, 0, 1, pki.intermediate)}));
    }
    SECTION("a wildcard name only with allow-wildcards") {
        auto wildcard = chain_of({&pki.leaf, &pki.intermediate}, {"*.example.org"});
        CHECK_FALSE(judge(wildcard, {record_for(2, 0, 1, pki.intermediate)}));
        wildcard.allow_wildcards = true;
        CHECK(judge(wildcard, {record_for(2, 0, 1, pki.intermediate)}));
    }
    SECTION("an expired leaf, or one not yet valid, fails") {
        auto late = chain_of({&pki.leaf, &pki.intermediate}, {kHost});
        late.at = std::chrono::system_clock::now() + std::chrono::hours(24 * 60);
        CHECK_FALSE(judge(late, {record_for(2, 0, 1, pki.intermediate)}));
        auto early = late;
        early.at = std::chrono::system_clock::now() - std::chrono::hours(24 * 2);
        CHECK_FALSE(judge(early, {record_for(2, 0, 1, pki.intermediate)}));
    }
    SECTION("insecure records never count") {
        CHECK_FALSE(judge(chain, {record_for(2, 0, 1, pki.intermediate)}, DnssecState::insecure));
        CHECK_FALSE(judge(chain, {record_for(2, 0, 1, pki.intermediate)}, DnssecState::bogus));
    }
    SECTION("a record of another host's RRset passes only for a leaf named for that host") {
        const std::vector<TlsaLookupResult> results = {
            {"out2.example.org", "_25._tcp.out2.example.org", tlsa_answer({record_for(2, 0, 1, pki.intermediate)})}};
        auto verdict = failed_for(kHost);
        verdict.client_mx.push_back(ClientMx{20, "out2.example.org"});
        CHECK_FALSE(dane_chain_pass(verdict, results, chain.view()));
    }
    SECTION("bytes that are no certificate are not judged") {
        auto broken = chain;
        broken.der[1].pop_back();
        CHECK_FALSE(judge(broken, {record_for(2, 0, 1, pki.intermediate)}));
        CHECK_FALSE(judge(Chain{}, {record_for(2, 0, 1, pki.intermediate)}));
    }
}

TEST_CASE("without a discovered chain these records behave as before", "[dane]") {
    const Pki pki;
    Fingerprints fingerprints;
    fingerprints.certificate = fingerprint_of(pki.leaf);
    const std::vector<TlsaLookupResult> results = {
        {kHost, kOwner, tlsa_answer({record_for(3, 0, 2, pki.leaf), record_for(2, 0, 1, pki.intermediate)})}};
    const auto verdict = apply_dane(failed_for(kHost), results, fingerprints);
    CHECK(verdict.result == Result::fail);
    CHECK(verdict.reason == "no TLSA record matches the client key");
}
