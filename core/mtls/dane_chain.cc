#include "mtls/dane_chain.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "base/openssl_ptr.h"
#include "dns/tlsa_record.h"
#include "tls/name_match.h"

namespace mtls {
namespace {

constexpr std::uint8_t kUsageDaneTa = 2;
constexpr std::uint8_t kUsageDaneEe = 3;

bool secure_records(const TlsaLookupResult& result) {
    return result.answer.status == AnswerStatus::records && result.answer.dnssec == DnssecState::secure;
}

std::vector<TlsaRecord> chain_records(const TlsaLookupResult& result) {
    std::vector<TlsaRecord> records;
    if (!secure_records(result)) {
        return records;
    }
    for (const auto& rdata : result.answer.rdata) {
        // Malformed records are skipped (RFC 7671, section 4), as in apply_dane().
        if (auto record = parse_tlsa_rdata(rdata); record && tlsa_needs_chain(record.value())) {
            records.push_back(std::move(record).value());
        }
    }
    return records;
}

std::vector<X509Ptr> parse_chain(std::span<const std::string> der) {
    std::vector<X509Ptr> chain;
    for (const auto& bytes : der) {
        const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
        X509Ptr certificate(d2i_X509(nullptr, &data, static_cast<long>(bytes.size())));
        if (!certificate || data != reinterpret_cast<const unsigned char*>(bytes.data()) + bytes.size()) {
            ERR_clear_error();
            return {};  // the probe kept only whole certificates; anything else is not judged
        }
        chain.push_back(std::move(certificate));
    }
    return chain;
}

// The DER a selector names (RFC 6698, section 2.1.2): the certificate, or
// its SubjectPublicKeyInfo.
std::vector<std::uint8_t> selected_der(X509* certificate, std::uint8_t selector) {
    unsigned char* raw = nullptr;
    const int length =
        selector == 0 ? i2d_X509(certificate, &raw) : i2d_X509_PUBKEY(X509_get_X509_PUBKEY(certificate), &raw);
    const OpenSslBytes owned(raw);
    if (length <= 0) {
        ERR_clear_error();
        return {};
    }
    return {owned.get(), owned.get() + length};
}

bool record_matches(const TlsaRecord& record, X509* certificate) {
    const auto der = selected_der(certificate, record.selector);
    if (der.empty()) {
        return false;
    }
    if (record.matching_type == 0) {
        return der == record.data;
    }
    const EVP_MD* digest = record.matching_type == 1 ? EVP_sha256() : EVP_sha512();
    std::vector<std::uint8_t> hash(EVP_MAX_MD_SIZE);
    unsigned int size = 0;
    if (EVP_Digest(der.data(), der.size(), hash.data(), &size, digest, nullptr) != 1) {
        ERR_clear_error();
        return false;
    }
    hash.resize(size);
    return hash == record.data;
}

// Whether the leaf chains to anchor (chain[anchor_index]) with it as the
// only trust anchor. The other certificates of the chain may serve as
// intermediates; X509_V_FLAG_PARTIAL_CHAIN lets a non-self-signed anchor end
// the path. No purpose: the EKU is local policy (draft section 1.2.2), and
// DANE-TA asks only that the path reach the anchor (RFC 7671, section 5.2).
bool chains_to(const std::vector<X509Ptr>& chain, std::size_t anchor_index,
               const std::optional<std::chrono::system_clock::time_point>& at) {
    const X509StorePtr store(X509_STORE_new());
    const BorrowedX509StackPtr untrusted(sk_X509_new_null());
    const X509StoreCtxPtr context(X509_STORE_CTX_new());
    if (!store || !untrusted || !context || X509_STORE_add_cert(store.get(), chain[anchor_index].get()) != 1) {
        ERR_clear_error();
        return false;
    }
    for (std::size_t i = 1; i < chain.size(); ++i) {
        if (i != anchor_index && sk_X509_push(untrusted.get(), chain[i].get()) <= 0) {
            return false;
        }
    }
    if (X509_STORE_CTX_init(context.get(), store.get(), chain.front().get(), untrusted.get()) != 1) {
        ERR_clear_error();
        return false;
    }
    X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(context.get());
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
    if (at) {
        X509_VERIFY_PARAM_set_time(param, std::chrono::system_clock::to_time_t(*at));
    }
    const bool verified = X509_verify_cert(context.get()) == 1;
    ERR_clear_error();
    return verified;
}

bool host_named(const DiscoveredChain& chain, const std::string& host) {
    return std::any_of(chain.leaf_names.begin(), chain.leaf_names.end(), [&](const std::string& name) {
        return certificate_name_matches(name, host, chain.allow_wildcards);
    });
}

bool passes(const TlsaRecord& record, const std::vector<X509Ptr>& chain, const DiscoveredChain& discovered,
            const std::string& host) {
    if (record.usage == kUsageDaneEe) {
        return record_matches(record, chain.front().get());
    }
    if (record.usage != kUsageDaneTa || !host_named(discovered, host)) {
        return false;
    }
    for (std::size_t i = 1; i < chain.size(); ++i) {
        // A peer repeating its leaf must not make it its own trust anchor.
        const bool leaf_again = X509_cmp(chain[i].get(), chain.front().get()) == 0;
        if (!leaf_again && record_matches(record, chain[i].get()) && chains_to(chain, i, discovered.at)) {
            return true;
        }
    }
    return false;
}

}  // namespace

bool dane_needs_chain(std::span<const TlsaLookupResult> results) {
    return std::any_of(results.begin(), results.end(),
                       [](const TlsaLookupResult& result) { return !chain_records(result).empty(); });
}

std::optional<Verdict> dane_chain_pass(const Verdict& verdict, std::span<const TlsaLookupResult> results,
                                       const DiscoveredChain& chain) {
    const auto certificates = parse_chain(chain.der);
    if (certificates.empty()) {
        return std::nullopt;
    }
    for (const auto& result : results) {
        for (const auto& record : chain_records(result)) {
            if (passes(record, certificates, chain, result.host)) {
                Verdict pass = verdict;
                pass.result = Result::pass;
                pass.method = PassMethod::dane;
                pass.reason = "dane";
                pass.matched_host = result.host;
                pass.tlsa_owner = result.owner;
                pass.dane_trust_anchor = record.usage == kUsageDaneTa;
                return pass;
            }
        }
    }
    return std::nullopt;
}

}  // namespace mtls
