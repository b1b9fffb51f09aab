// The decision table: one row per case of issue 15's numbered "Decisions",
// from DomainFacts to the exact socketmap reply; then the way from DNS
// answers (a scripted resolver) through gather_dns_facts to the reply.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "dns_facts.h"
#include "fake_resolver.h"
#include "policy_decision.h"

using namespace mtls;
using namespace mtls::tlspolicy;

namespace {

constexpr auto kSecure = DnssecState::secure;
constexpr auto kInsecure = DnssecState::insecure;
constexpr auto kBogus = DnssecState::bogus;

MxHostFacts host(std::string name, DnssecState addresses, TlsaState tlsa) {
    return MxHostFacts{std::move(name), addresses, tlsa};
}

// example.com with two MX hosts, both with secure addresses, no TLSA.
DomainFacts base(DnssecState mx_dnssec = kInsecure) {
    DomainFacts facts;
    facts.domain = "example.com";
    facts.mx.status = AnswerStatus::records;
    facts.mx.dnssec = mx_dnssec;
    const auto tlsa = mx_dnssec == kSecure ? TlsaState::absent : TlsaState::not_looked_up;
    facts.mx.hosts = {host("mail.example.com.", mx_dnssec, tlsa), host("mx1.example.net", mx_dnssec, tlsa)};
    facts.sts.txt_status = AnswerStatus::nxdomain;
    facts.sts.txt_dnssec = mx_dnssec;
    facts.client_mx.status = AnswerStatus::nxdomain;
    facts.client_mx.dnssec = mx_dnssec;
    return facts;
}

DomainFacts with_tlsa(DomainFacts facts, std::size_t usable_hosts) {
    for (std::size_t i = 0; i < facts.mx.hosts.size(); ++i) {
        facts.mx.hosts[i].tlsa = i < usable_hosts ? TlsaState::usable : TlsaState::absent;
    }
    return facts;
}

DomainFacts with_policy(DomainFacts facts, std::string_view mode, bool dnssec = false,
                        std::string_view mx = "mx: mail.example.com\nmx: *.example.net\n") {
    auto policy = parse_sts_policy("version: STSv1\nmode: " + std::string(mode) + "\n" + std::string(mx) +
                                   "max_age: 604800\n" + (dnssec ? "dnssec: yes\n" : ""));
    REQUIRE(policy);
    facts.sts.txt_status = AnswerStatus::records;
    facts.sts.record = StsRecord{"20240101", {}};
    facts.sts.policy = policy.value();
    return facts;
}

DomainFacts with_client_mx(DomainFacts facts, DnssecState dnssec = kInsecure,
                           AnswerStatus status = AnswerStatus::records) {
    facts.client_mx.status = status;
    facts.client_mx.dnssec = dnssec;
    return facts;
}

DomainFacts with_mx_status(DomainFacts facts, AnswerStatus status, DnssecState dnssec) {
    facts.mx.status = status;
    facts.mx.dnssec = dnssec;
    if (status != AnswerStatus::records && status != AnswerStatus::nodata) {
        facts.mx.hosts.clear();
    }
    return facts;
}

struct Row {
    std::string name;
    DomainFacts facts;
    std::string reply;  // the exact socketmap payload
    Basis basis;
    DecisionSettings settings = {};
};

const std::string kBothMatch = "OK secure match=mail.example.com:mx1.example.net servername=hostname";

std::vector<Row> rows() {
    std::vector<Row> table;
    const auto add = [&table](std::string name, DomainFacts facts, std::string reply, Basis basis,
                              DecisionSettings settings = {}) {
        table.push_back(Row{std::move(name), std::move(facts), std::move(reply), basis, settings});
    };

    // 1. DANE.
    add("1: every MX host with usable TLSA", with_tlsa(base(kSecure), 2), "OK dane-only", Basis::dane_only);
    add("1: some MX hosts with usable TLSA", with_tlsa(base(kSecure), 1), "OK dane", Basis::dane);
    add("1: dane disabled", with_tlsa(base(kSecure), 2), "NOTFOUND ", Basis::no_policy, {false, true});
    {
        auto insecure_mx = with_tlsa(base(kSecure), 2);
        insecure_mx.mx.dnssec = kInsecure;
        add("1: TLSA behind an insecure MX RRset count for nothing", insecure_mx, "NOTFOUND ", Basis::no_policy);
        auto insecure_address = with_tlsa(base(kSecure), 2);
        insecure_address.mx.hosts[1].address_dnssec = kInsecure;
        add("1: TLSA of a host with insecure addresses count for nothing", insecure_address, "OK dane", Basis::dane);
        auto unusable = with_tlsa(base(kSecure), 1);
        unusable.mx.hosts[1].tlsa = TlsaState::unusable;
        add("1: PKIX-only TLSA records are not usable", unusable, "OK dane", Basis::dane);
        auto failed = with_tlsa(base(kSecure), 0);
        failed.mx.hosts[0].tlsa = TlsaState::failed;
        add("1: a failed TLSA lookup leaves DANE to Postfix's own lookup", failed, "OK dane", Basis::dane);
        add("1: a failed TLSA lookup, dane disabled", failed, "NOTFOUND ", Basis::no_policy, {false, true});
        add("2 before a failed TLSA lookup: MTA-STS enforce keeps every host authenticated",
            with_policy(failed, "enforce"), kBothMatch, Basis::mta_sts);
        add("4 before a failed TLSA lookup: Client MX keeps every host authenticated", with_client_mx(failed, kSecure),
            kBothMatch, Basis::client_mx);
        auto failed_insecure_mx = failed;
        failed_insecure_mx.mx.dnssec = kInsecure;
        add("1: a failed TLSA lookup behind an insecure MX RRset counts for nothing", failed_insecure_mx, "NOTFOUND ",
            Basis::no_policy);

        auto bogus_tlsa = with_tlsa(base(kSecure), 1);
        bogus_tlsa.mx.hosts[1].tlsa = TlsaState::bogus;
        add("1: a bogus TLSA RRset defers, even next to a host with usable TLSA", bogus_tlsa,
            "TEMP bogus TLSA RRset for _25._tcp.mx1.example.net, MX host of example.com", Basis::bogus);
        add("1 before 2: a bogus TLSA RRset defers despite MTA-STS enforce", with_policy(bogus_tlsa, "enforce"),
            "TEMP bogus TLSA RRset for _25._tcp.mx1.example.net, MX host of example.com", Basis::bogus);
        auto bogus_address = base(kInsecure);
        bogus_address.mx.hosts[0].address_dnssec = kBogus;
        add("1: a bogus address of an MX host defers, even behind an insecure MX RRset", bogus_address,
            "TEMP bogus A/AAAA answer for mail.example.com, MX host of example.com", Basis::bogus);
    }
    add("1 before 2: DANE on every host wins over MTA-STS enforce", with_policy(with_tlsa(base(kSecure), 2), "enforce"),
        "OK dane-only", Basis::dane_only);
    add("1 before 2: partial DANE wins over MTA-STS enforce", with_policy(with_tlsa(base(kSecure), 1), "enforce"),
        "OK dane", Basis::dane);
    add("1 before 4: DANE wins over Client MX", with_client_mx(with_tlsa(base(kSecure), 2), kSecure), "OK dane-only",
        Basis::dane_only);

    // 2. MTA-STS.
    add("2: enforce lists every allowed MX host", with_policy(base(), "enforce"), kBothMatch, Basis::mta_sts);
    {
        auto facts = with_policy(base(), "enforce");
        facts.mx.hosts.push_back(host("a.b.example.net", kInsecure, TlsaState::not_looked_up));
        facts.mx.hosts.push_back(host("evil.example.org", kInsecure, TlsaState::not_looked_up));
        facts.mx.hosts.push_back(host("MAIL.example.com", kInsecure, TlsaState::not_looked_up));
        add("2: a wildcard covers one label; unlisted and duplicate hosts are left out", facts, kBothMatch,
            Basis::mta_sts);
    }
    add("2: enforce with no MX host allowed defers", with_policy(base(), "enforce", false, "mx: other.example.org\n"),
        "TEMP no MX host of example.com matches its MTA-STS policy", Basis::mta_sts);
    add("2: enforce but the MX lookup failed defers",
        with_mx_status(with_policy(base(), "enforce"), AnswerStatus::servfail, DnssecState::unknown),
        "TEMP MX lookup failed for MTA-STS domain example.com", Basis::dns_failure);
    add("2: testing enforces nothing", with_policy(base(), "testing"), "NOTFOUND ", Basis::no_policy);
    add("2: mode none enforces nothing", with_policy(base(), "none", false, ""), "NOTFOUND ", Basis::no_policy);
    {
        auto cached = with_policy(base(), "enforce");
        cached.sts.policy_from_cache = true;
        cached.sts.fetch_error = "connection refused";
        cached.sts.txt_status = AnswerStatus::servfail;
        cached.sts.record.reset();
        add("2: an unexpired cached policy applies when DNS and the refresh fail", cached, kBothMatch, Basis::mta_sts);

        auto unfetched = base();
        unfetched.sts.txt_status = AnswerStatus::records;
        unfetched.sts.record = StsRecord{"1", {}};
        unfetched.sts.fetch_error = "HTTP 404";
        add("2: a record whose policy cannot be fetched, nothing cached: NOTFOUND", unfetched, "NOTFOUND ",
            Basis::no_policy);

        auto two_records = base();
        two_records.sts.txt_status = AnswerStatus::records;
        two_records.sts.record_problem = "2 TXT records start with v=STSv1";
        add("2: two STS records are none", two_records, "NOTFOUND ", Basis::no_policy);

        auto bogus_txt = base();
        bogus_txt.sts.txt_status = AnswerStatus::bogus;
        bogus_txt.sts.txt_dnssec = kBogus;
        add("2/5: a bogus _mta-sts TXT answer defers", bogus_txt, "TEMP bogus _mta-sts TXT RRset for example.com",
            Basis::bogus);

        auto bogus_txt_cached = with_policy(base(), "enforce");
        bogus_txt_cached.sts.txt_status = AnswerStatus::bogus;
        add("2: a cached policy outlives a bogus TXT answer", bogus_txt_cached, kBothMatch, Basis::mta_sts);

        auto bogus_policy_host = base();
        bogus_policy_host.sts.txt_status = AnswerStatus::records;
        bogus_policy_host.sts.record = StsRecord{"1", {}};
        bogus_policy_host.sts.fetch_error = "the A/AAAA answer for mta-sts.example.com is bogus";
        bogus_policy_host.sts.policy_host_bogus = true;
        add("2/5: a bogus address of mta-sts.<domain>, nothing cached, defers", bogus_policy_host,
            "TEMP bogus A/AAAA answer for mta-sts.example.com, MTA-STS policy host of example.com", Basis::bogus);

        auto bogus_policy_host_cached = with_policy(base(), "enforce");
        bogus_policy_host_cached.sts.policy_from_cache = true;
        bogus_policy_host_cached.sts.policy_host_bogus = true;
        add("2: a cached policy outlives a bogus address of mta-sts.<domain>", bogus_policy_host_cached, kBothMatch,
            Basis::mta_sts);
    }

    // 3. dnssec: yes.
    add("3: insecure MX RRset defers", with_policy(base(kInsecure), "enforce", true),
        "TEMP dnssec: yes, but the MX RRset of example.com is insecure", Basis::dnssec_missing);
    add("3: in testing mode too", with_policy(base(kInsecure), "testing", true),
        "TEMP dnssec: yes, but the MX RRset of example.com is insecure", Basis::dnssec_missing);
    add("3: not in mode none", with_policy(base(kInsecure), "none", true, ""), "NOTFOUND ", Basis::no_policy);
    add("3: a failed MX lookup defers",
        with_mx_status(with_policy(base(kSecure), "enforce", true), AnswerStatus::timeout, DnssecState::unknown),
        "TEMP dnssec: yes, but the MX RRset of example.com is unknown", Basis::dnssec_missing);
    add("3: an insecure NXDOMAIN defers",
        with_mx_status(with_policy(base(kSecure), "enforce", true), AnswerStatus::nxdomain, kInsecure),
        "TEMP dnssec: yes, but the MX RRset of example.com is insecure", Basis::dnssec_missing);
    {
        auto host_insecure = with_policy(base(kSecure), "enforce", true);
        host_insecure.mx.hosts[1].address_dnssec = kInsecure;
        add("3: an MX host with insecure addresses defers", host_insecure,
            "TEMP dnssec: yes, but the addresses of MX host mx1.example.net are insecure", Basis::dnssec_missing);
        auto host_bogus = with_policy(base(kSecure), "testing", true);
        host_bogus.mx.hosts[0].address_dnssec = kBogus;
        add("3: an MX host with bogus addresses defers, as bogus with or without dnssec: yes", host_bogus,
            "TEMP bogus A/AAAA answer for mail.example.com, MX host of example.com", Basis::bogus);
    }
    add("3: secure with usable TLSA everywhere", with_policy(with_tlsa(base(kSecure), 2), "enforce", true),
        "OK dane-only", Basis::dane_only);
    add("3: secure, TLSA on some hosts: the enforce policy, not dane",
        with_policy(with_tlsa(base(kSecure), 1), "enforce", true), kBothMatch, Basis::mta_sts);
    add("3: secure without TLSA: the enforce policy", with_policy(base(kSecure), "enforce", true), kBothMatch,
        Basis::mta_sts);
    add("3: testing, secure, TLSA on some hosts: dane", with_policy(with_tlsa(base(kSecure), 1), "testing", true),
        "OK dane", Basis::dane);
    {
        auto cached = base(kInsecure);
        cached.dnssec_expectation_cached = true;
        cached.sts.fetch_error = "timeout";
        add("3: a cached expectation survives a lost policy: insecure MX defers", cached,
            "TEMP dnssec: yes, but the MX RRset of example.com is insecure", Basis::dnssec_missing);
        auto cached_secure = base(kSecure);
        cached_secure.dnssec_expectation_cached = true;
        add("3: a cached expectation with secure DNS and no policy: nothing more to enforce", cached_secure,
            "NOTFOUND ", Basis::no_policy);
    }
    add("3/5: a bogus MX RRset defers",
        with_mx_status(with_policy(base(kSecure), "enforce", true), AnswerStatus::bogus, kBogus),
        "TEMP bogus MX RRset for example.com", Basis::bogus);

    // 4. Client MX opt-in.
    add("4: insecure Client MX records opt in", with_client_mx(base()), kBothMatch, Basis::client_mx);
    add("4: secure Client MX records opt in", with_client_mx(base(kSecure), kSecure), kBothMatch, Basis::client_mx);
    add("4: bogus Client MX defers", with_client_mx(base(), kBogus, AnswerStatus::bogus),
        "TEMP bogus Client MX RRset for example.com", Basis::bogus);
    add("4: opt-in disabled", with_client_mx(base()), "NOTFOUND ", Basis::no_policy, {true, false});
    add("4: opt-in but the MX lookup failed defers",
        with_mx_status(with_client_mx(base()), AnswerStatus::servfail, DnssecState::unknown),
        "TEMP MX lookup failed for example.com", Basis::dns_failure);
    add("4: a failed Client MX lookup is no opt-in",
        with_client_mx(base(), DnssecState::unknown, AnswerStatus::timeout), "NOTFOUND ", Basis::no_policy);
    add("2 before 4: MTA-STS enforce wins over Client MX",
        with_client_mx(with_policy(base(), "enforce", false, "mx: mail.example.com\n")),
        "OK secure match=mail.example.com servername=hostname", Basis::mta_sts);
    add("2 then 4: MTA-STS testing leaves Client MX to apply", with_client_mx(with_policy(base(), "testing")),
        kBothMatch, Basis::client_mx);
    add("2 then 4: a failed fetch leaves Client MX to apply", with_client_mx([] {
            auto facts = base();
            facts.sts.txt_status = AnswerStatus::records;
            facts.sts.record = StsRecord{"1", {}};
            facts.sts.fetch_error = "certificate verify failed";
            return facts;
        }()),
        kBothMatch, Basis::client_mx);
    {
        auto implicit = with_client_mx(base());
        implicit.mx.status = AnswerStatus::nodata;
        implicit.mx.hosts = {host("example.com", kInsecure, TlsaState::not_looked_up)};
        add("4: without MX records the domain itself is the MX", implicit,
            "OK secure match=example.com servername=hostname", Basis::client_mx);
        auto invalid_names = with_client_mx(base());
        invalid_names.mx.hosts = {host("bad name.example", kInsecure, TlsaState::not_looked_up)};
        add("4: no valid MX host name defers", invalid_names, "TEMP no valid MX host name for example.com",
            Basis::client_mx);
    }

    // 5. Nothing.
    add("5: no policy of any kind", base(), "NOTFOUND ", Basis::no_policy);
    add("5: a failed MX lookup with nothing cached",
        with_mx_status(base(), AnswerStatus::servfail, DnssecState::unknown), "NOTFOUND ", Basis::no_policy);
    add("5: a domain that does not exist", with_mx_status(base(), AnswerStatus::nxdomain, kInsecure), "NOTFOUND ",
        Basis::no_policy);
    {
        auto null_mx = with_client_mx(base(kSecure), kSecure);
        null_mx.mx.null_mx = true;
        null_mx.mx.hosts.clear();
        add("5: a null MX accepts no mail", null_mx, "NOTFOUND ", Basis::no_policy);
    }
    return table;
}

}  // namespace

TEST_CASE("the decision table of issue 15") {
    for (const auto& row : rows()) {
        SECTION(row.name) {
            const auto decision = decide(row.facts, row.settings);
            std::string why;
            for (const auto& line : decision.explanation) {
                why += line + "\n";
            }
            INFO(why);
            CHECK(reply_payload(decision.reply) == row.reply);
            CHECK(to_string(decision.basis) == to_string(row.basis));
            CHECK_FALSE(decision.explanation.empty());
        }
    }
}

TEST_CASE("the explanation shows each step's DNS answers and the policy") {
    auto facts = with_policy(with_tlsa(base(kSecure), 1), "enforce", true);
    facts.sts.policy_from_cache = true;
    facts.sts.policy_age = std::chrono::seconds(3600);
    const auto decision = decide(facts, {});
    std::string text;
    for (const auto& line : decision.explanation) {
        text += line + "\n";
    }
    CHECK_THAT(text, Catch::Contains("MX example.com: records (secure)"));
    CHECK_THAT(text, Catch::Contains("host mx1.example.net: addresses secure, TLSA absent"));
    CHECK_THAT(text, Catch::Contains("id=20240101"));
    CHECK_THAT(text, Catch::Contains("policy (cached, 3600 s old): mode enforce, max_age 604800, dnssec: yes"));
    CHECK_THAT(text, Catch::Contains("forbids \"dane\""));
}

// From the resolver's answers to the reply: gather_dns_facts (dns_facts.h)
// over a scripted resolver, then decide(). The fake answers a name the same
// whatever the type, so example.com's MX answer is its Client MX answer
// too: these run with client-mx-optin off.
namespace {

using mtls::testing::address_answer;
using mtls::testing::FakeResolver;
using mtls::testing::records_answer;
using mtls::testing::status_answer;

// example.com: a secure MX RRset naming mx.example.com, whose addresses are
// secure and which has no TLSA records (secure denial); no MTA-STS.
void script_secure_domain(FakeResolver& dns, DnssecState mx_dnssec = kSecure) {
    dns.script("example.com", records_answer({{10, "mx.example.com"}}, mx_dnssec));
    dns.script("mx.example.com", address_answer(kSecure));
    dns.script("_25._tcp.mx.example.com", status_answer(AnswerStatus::nxdomain, kSecure));
    dns.script("_mta-sts.example.com", status_answer(AnswerStatus::nxdomain, kSecure));
}

Decision decide_from_dns(FakeResolver& dns) {
    DnsQuerySettings settings;
    settings.timeout = std::chrono::seconds(5);  // every name is scripted: nothing waits for it
    return decide(gather_dns_facts(dns, "example.com", settings), DecisionSettings{true, false});
}

}  // namespace

TEST_CASE("a secure domain without TLSA, MTA-STS or Client MX is NOTFOUND") {
    FakeResolver dns;
    script_secure_domain(dns);
    const auto decision = decide_from_dns(dns);
    CHECK(reply_payload(decision.reply) == "NOTFOUND ");
}

TEST_CASE("a bogus TLSA answer for an MX host defers: NOTFOUND would be a downgrade from DANE") {
    FakeResolver dns;
    script_secure_domain(dns);
    dns.script("_25._tcp.mx.example.com", status_answer(AnswerStatus::bogus, kBogus));
    const auto decision = decide_from_dns(dns);
    CHECK(reply_payload(decision.reply) == "TEMP bogus TLSA RRset for _25._tcp.mx.example.com, MX host of example.com");
    CHECK(to_string(decision.basis) == "bogus");
}

TEST_CASE("a bogus address answer for an MX host defers, with or without dnssec: yes") {
    FakeResolver dns;
    SECTION("secure MX RRset") {
        script_secure_domain(dns);
    }
    SECTION("insecure MX RRset") {
        script_secure_domain(dns, kInsecure);
    }
    dns.script("mx.example.com", status_answer(AnswerStatus::bogus, kBogus));
    const auto decision = decide_from_dns(dns);
    CHECK(reply_payload(decision.reply) == "TEMP bogus A/AAAA answer for mx.example.com, MX host of example.com");
    CHECK(to_string(decision.basis) == "bogus");
}

TEST_CASE("a failed TLSA lookup under a secure MX RRset answers dane, so that Postfix looks again itself") {
    FakeResolver dns;
    script_secure_domain(dns);
    const auto failure = GENERATE(AnswerStatus::servfail, AnswerStatus::timeout, AnswerStatus::error);
    dns.script("_25._tcp.mx.example.com", status_answer(failure));
    const auto decision = decide_from_dns(dns);
    INFO(to_string(failure));
    CHECK(reply_payload(decision.reply) == "OK dane");
    CHECK(to_string(decision.basis) == "dane");
}

// RFC 7672, sections 2.2 and 3.1: a TLSA record is usable for SMTP only with
// usage DANE-TA(2) or DANE-EE(3), selector 0 or 1, matching type 0, 1 or 2
// and well-formed data (dns/tlsa_record.h, tlsa_usable_for_smtp). A secure
// RRset with none such counts as no TLSA: answering dane-only would have
// Postfix find nothing usable and defer the mail.
namespace {

struct TlsaCase {
    const char* what;
    std::vector<std::uint8_t> rdata;
};

std::vector<TlsaCase> unusable_tlsa_records() {
    const std::vector<std::uint8_t> sha256(32, 0x5a);
    const std::vector<std::uint8_t> sha512(64, 0x5a);
    using mtls::testing::tlsa_rdata;
    return {
        {"3 7 9: unknown selector and matching type", tlsa_rdata(3, 7, 9, sha256)},
        {"2 1 200: unknown matching type", tlsa_rdata(2, 1, 200, sha256)},
        {"3 2 1: unknown selector", tlsa_rdata(3, 2, 1, sha256)},
        {"3 1 3: unknown matching type", tlsa_rdata(3, 1, 3, sha256)},
        {"0 0 1: PKIX-TA", tlsa_rdata(0, 0, 1, sha256)},
        {"1 1 1: PKIX-EE", tlsa_rdata(1, 1, 1, sha256)},
        {"4 1 1: unknown usage", tlsa_rdata(4, 1, 1, sha256)},
        {"3 1 1 with a 31-octet digest", tlsa_rdata(3, 1, 1, std::vector<std::uint8_t>(31, 0x5a))},
        {"3 1 2 with a 32-octet digest", tlsa_rdata(3, 1, 2, sha256)},
        {"2 0 2 with a 65-octet digest", tlsa_rdata(2, 0, 2, std::vector<std::uint8_t>(65, 0x5a))},
        {"3 1 0 without data", tlsa_rdata(3, 1, 0, {})},
        {"shorter than the fixed fields", {3, 1}},
    };
}

}  // namespace

TEST_CASE("a secure TLSA RRset without a usable record counts as no TLSA, for each kind of unusable record") {
    for (const auto& [what, rdata] : unusable_tlsa_records()) {
        INFO(what);
        FakeResolver dns;
        script_secure_domain(dns);
        dns.script("_25._tcp.mx.example.com", mtls::testing::tlsa_answer({rdata}));
        const auto decision = decide_from_dns(dns);
        CHECK(reply_payload(decision.reply) == "NOTFOUND ");
        CHECK(to_string(decision.basis) == "no-policy");
    }
}

TEST_CASE("a TLSA RRset of only unusable records counts as no TLSA") {
    FakeResolver dns;
    script_secure_domain(dns);
    std::vector<std::vector<std::uint8_t>> all;
    for (auto& record : unusable_tlsa_records()) {
        all.push_back(std::move(record.rdata));
    }
    dns.script("_25._tcp.mx.example.com", mtls::testing::tlsa_answer(all));
    const auto decision = decide_from_dns(dns);
    CHECK(reply_payload(decision.reply) == "NOTFOUND ");
}

TEST_CASE("one usable TLSA record among unusable ones makes the host's RRset usable") {
    const std::vector<std::uint8_t> sha256(32, 0x11);
    const std::vector<std::uint8_t> sha512(64, 0x11);
    using mtls::testing::tlsa_rdata;
    const auto usable =
        GENERATE_COPY(tlsa_rdata(3, 1, 1, sha256), tlsa_rdata(3, 0, 2, sha512), tlsa_rdata(2, 0, 1, sha256),
                      tlsa_rdata(2, 1, 0, std::vector<std::uint8_t>{1, 2, 3}));
    INFO(static_cast<int>(usable[0]) << " " << static_cast<int>(usable[1]) << " " << static_cast<int>(usable[2]));
    FakeResolver dns;
    script_secure_domain(dns);
    std::vector<std::vector<std::uint8_t>> mixed;
    for (auto& record : unusable_tlsa_records()) {
        mixed.push_back(std::move(record.rdata));
    }
    mixed.insert(mixed.begin() + 3, usable);
    dns.script("_25._tcp.mx.example.com", mtls::testing::tlsa_answer(mixed));
    const auto decision = decide_from_dns(dns);
    CHECK(reply_payload(decision.reply) == "OK dane-only");
    CHECK(to_string(decision.basis) == "dane-only");
}
