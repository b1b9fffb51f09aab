#include "dns_facts.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <optional>

#include "dns/client_mx.h"
#include "dns/tlsa_record.h"

namespace mtls::tlspolicy {
namespace {

constexpr std::uint16_t kA = 1;
constexpr std::uint16_t kMx = 15;
constexpr std::uint16_t kTxt = 16;
constexpr std::uint16_t kAaaa = 28;

std::chrono::milliseconds remaining(Clock::time_point deadline) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    return std::max(left, std::chrono::milliseconds(1));
}

// The weaker of two DNSSEC states, for a host whose A and AAAA answers
// together make its address: bogus beats unknown beats insecure beats secure.
DnssecState weaker(DnssecState a, DnssecState b) {
    const auto rank = [](DnssecState state) {
        switch (state) {
            case DnssecState::secure: return 0;
            case DnssecState::insecure: return 1;
            case DnssecState::unknown: return 2;
            case DnssecState::bogus: return 3;
        }
        return 3;
    };
    return rank(a) >= rank(b) ? a : b;
}

// The DNSSEC state an answer stands for: failures know nothing.
DnssecState state_of(const DnsAnswer& answer) {
    switch (answer.status) {
        case AnswerStatus::records:
        case AnswerStatus::nodata:
        case AnswerStatus::nxdomain: return answer.dnssec;
        case AnswerStatus::bogus: return DnssecState::bogus;
        default: return DnssecState::unknown;
    }
}

// Bogus stays apart from the other failures: policy_decision.cc defers on a
// bogus TLSA RRset, where a server failure or timeout leaves DANE to
// Postfix's own lookup.
TlsaState tlsa_state(const DnsAnswer& answer) {
    switch (answer.status) {
        case AnswerStatus::records:
            if (answer.dnssec != DnssecState::secure) {
                switch (answer.dnssec) {
                    case DnssecState::insecure: return TlsaState::insecure;
                    case DnssecState::bogus: return TlsaState::bogus;
                    default: return TlsaState::failed;
                }
            }
            // One usable record makes the RRset usable; malformed records
            // and ones of unusable usage, selector or matching type
            // (dns/tlsa_record.h) are skipped as Postfix skips them.
            for (const auto& rdata : answer.rdata) {
                const auto record = parse_tlsa_rdata(rdata);
                if (record && tlsa_usable_for_smtp(*record)) {
                    return TlsaState::usable;
                }
            }
            return TlsaState::unusable;
        case AnswerStatus::nodata:
        case AnswerStatus::nxdomain:
            return answer.dnssec == DnssecState::secure ? TlsaState::absent : TlsaState::insecure;
        case AnswerStatus::bogus: return TlsaState::bogus;
        default: return TlsaState::failed;
    }
}

MxFacts mx_facts(const DnsAnswer& answer, const std::string& domain) {
    MxFacts mx;
    mx.status = answer.status;
    mx.dnssec = answer.dnssec;
    if (answer.status == AnswerStatus::nodata) {
        mx.hosts.push_back({domain});  // the implicit MX (RFC 5321, section 5.1)
        return mx;
    }
    if (answer.status != AnswerStatus::records) {
        return mx;
    }
    std::vector<ClientMx> records;  // same RDATA as MX
    for (const auto& rdata : answer.rdata) {
        if (auto record = parse_client_mx_rdata(rdata)) {
            records.push_back(std::move(record).value());
        }
    }
    if (records.size() == 1 && records.front().is_null()) {
        mx.null_mx = true;
        return mx;
    }
    std::stable_sort(records.begin(), records.end(),
                     [](const ClientMx& a, const ClientMx& b) { return a.preference < b.preference; });
    for (const auto& record : records) {
        const bool seen = std::any_of(mx.hosts.begin(), mx.hosts.end(),
                                      [&](const MxHostFacts& host) { return host.name == record.host; });
        if (!record.is_null() && !seen && mx.hosts.size() < kMaxMxHosts) {
            mx.hosts.push_back({record.host});
        }
    }
    return mx;
}

void note_sts_record(StsFacts& sts, const DnsAnswer& answer) {
    sts.txt_status = answer.status;
    sts.txt_dnssec = answer.dnssec;
    if (answer.status != AnswerStatus::records) {
        return;
    }
    std::vector<std::string> texts;
    for (const auto& rdata : answer.rdata) {
        if (auto text = join_txt_strings(rdata)) {
            texts.push_back(std::move(text).value());
        }
    }
    auto selected = select_sts_record(texts);
    if (!selected) {
        sts.record_problem = selected.error();
    } else if (selected->has_value()) {
        sts.record = **selected;
    }
}

std::optional<std::string> address_text(const std::vector<std::uint8_t>& rdata) {
    std::array<char, INET6_ADDRSTRLEN> text{};
    const int family = rdata.size() == 4 ? AF_INET : rdata.size() == 16 ? AF_INET6 : 0;
    if (family == 0 || inet_ntop(family, rdata.data(), text.data(), text.size()) == nullptr) {
        return std::nullopt;
    }
    return std::string(text.data());
}

}  // namespace

DomainFacts gather_dns_facts(Resolver& resolver, const std::string& domain, const DnsQuerySettings& settings,
                             Clock::time_point deadline) {
    DomainFacts facts;
    facts.domain = domain;
    auto mx_lookup = resolver.start(domain, kMx, remaining(deadline));
    auto txt_lookup = resolver.start("_mta-sts." + domain, kTxt, remaining(deadline));
    auto client_mx_lookup = resolver.start(domain, settings.client_mx_type, remaining(deadline));

    facts.mx = mx_facts(mx_lookup.wait(), domain);
    // Per host: A, AAAA and TLSA at once. TLSA is asked before the addresses
    // are known to be secure; RFC 7672 uses it only when they are.
    struct HostLookups {
        Lookup a;
        Lookup aaaa;
        Lookup tlsa;
    };
    std::vector<HostLookups> hosts;
    hosts.reserve(facts.mx.hosts.size());
    for (const auto& host : facts.mx.hosts) {
        hosts.push_back({resolver.start(host.name, kA, remaining(deadline)),
                         resolver.start(host.name, kAaaa, remaining(deadline)),
                         resolver.start("_25._tcp." + host.name, kTlsaType, remaining(deadline))});
    }
    for (std::size_t i = 0; i < hosts.size(); ++i) {
        auto& host = facts.mx.hosts[i];
        const auto a = hosts[i].a.wait();
        const auto aaaa = hosts[i].aaaa.wait();
        const auto tlsa = hosts[i].tlsa.wait();
        host.address_dnssec = weaker(state_of(a), state_of(aaaa));
        if (a.status != AnswerStatus::records && aaaa.status != AnswerStatus::records &&
            host.address_dnssec == DnssecState::secure) {
            host.address_dnssec = DnssecState::unknown;  // no address at all: nothing to connect to
        }
        if (host.address_dnssec == DnssecState::secure && facts.mx.dnssec == DnssecState::secure) {
            host.tlsa = tlsa_state(tlsa);
        }
    }
    note_sts_record(facts.sts, txt_lookup.wait());
    const auto client_mx = client_mx_lookup.wait();
    facts.client_mx.status = client_mx.status;
    facts.client_mx.dnssec = client_mx.dnssec;
    return facts;
}

DomainFacts gather_dns_facts(Resolver& resolver, const std::string& domain, const DnsQuerySettings& settings) {
    return gather_dns_facts(resolver, domain, settings, Clock::now() + settings.timeout);
}

namespace {

// A Resolver over another one's cached answers: each lookup is answered at
// once, from the cache or, when the cache does not hold it, as a timeout
// that marks the whole gathering as wanting a real lookup. Reusing
// gather_dns_facts keeps one place that knows which records a query needs.
class CachedAnswers final : public Resolver {
public:
    explicit CachedAnswers(Resolver& inner) : inner_(inner) {}

    Lookup start(std::string_view name, std::uint16_t type, std::chrono::milliseconds timeout) override {
        const auto now = Clock::now();
        auto slot = std::make_shared<AnswerSlot>();
        auto answer = inner_.cached(name, type);
        if (!answer) {
            complete_ = false;
            answer = DnsAnswer{};
            answer->status = AnswerStatus::timeout;
        }
        slot->fulfil(std::move(*answer));
        return Lookup(std::move(slot), now, now + timeout, {});
    }

    [[nodiscard]] bool complete() const { return complete_; }

private:
    Resolver& inner_;
    bool complete_ = true;
};

}  // namespace

std::optional<DomainFacts> gather_cached_dns_facts(Resolver& resolver, const std::string& domain,
                                                   const DnsQuerySettings& settings) {
    CachedAnswers cached(resolver);
    auto facts = gather_dns_facts(cached, domain, settings);
    if (!cached.complete()) {
        return std::nullopt;
    }
    return facts;
}

HostAddresses resolve_addresses(Resolver& resolver, const std::string& host, Clock::time_point deadline) {
    auto a = resolver.start(host, kA, remaining(deadline));
    auto aaaa = resolver.start(host, kAaaa, remaining(deadline));
    HostAddresses out;
    for (auto* lookup : {&a, &aaaa}) {
        const auto answer = lookup->wait();
        if (state_of(answer) == DnssecState::bogus) {
            out.bogus = true;
        }
        if (answer.status != AnswerStatus::records) {
            continue;
        }
        for (const auto& rdata : answer.rdata) {
            if (auto text = address_text(rdata)) {
                out.addresses.push_back(std::move(text).value());
            }
        }
    }
    if (out.bogus) {
        out.addresses.clear();  // not even the other family's: one forged answer taints the host
    }
    return out;
}

}  // namespace mtls::tlspolicy
