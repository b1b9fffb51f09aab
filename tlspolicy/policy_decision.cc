#include "policy_decision.h"

#include <fmt/format.h>

#include <algorithm>

#include "dns/domain_name.h"

namespace mtls::tlspolicy {
namespace {

bool answered(AnswerStatus status) {
    return status == AnswerStatus::records || status == AnswerStatus::nodata;
}

// The lookup produced no answer at all: nothing is known, not even absence.
bool failed(AnswerStatus status) {
    return status == AnswerStatus::servfail || status == AnswerStatus::timeout || status == AnswerStatus::error;
}

std::string join(const std::vector<std::string>& names, std::string_view separator) {
    std::string out;
    for (const auto& name : names) {
        if (!out.empty()) {
            out += separator;
        }
        out += name;
    }
    return out;
}

// Canonical, each once, in preference order; names that are no host names
// (a hostile RRset) are left out.
std::vector<std::string> mx_host_names(const MxFacts& mx) {
    std::vector<std::string> names;
    for (const auto& host : mx.hosts) {
        auto name = canonical_host_name(host.name);
        if (name && std::find(names.begin(), names.end(), name.value()) == names.end()) {
            names.push_back(std::move(name).value());
        }
    }
    return names;
}

// Postfix 3.7's "secure" level checks the certificate against each name of
// match= (':'-separated) and sends the MX host name as SNI.
std::string secure_policy(const std::vector<std::string>& names) {
    return "secure match=" + join(names, ":") + " servername=hostname";
}

bool dane_ready(const MxHostFacts& host) {
    return host.address_dnssec == DnssecState::secure && host.tlsa == TlsaState::usable;
}

// A host RFC 7672 would look up TLSA for (secure addresses; dns_facts.cc
// records TLSA only under a secure MX RRset) whose TLSA lookup failed.
bool dane_unknown(const MxHostFacts& host) {
    return host.address_dnssec == DnssecState::secure && host.tlsa == TlsaState::failed;
}

// For replies and log lines: the canonical name when it is one (a hostile
// MX RRset may hold anything; SocketmapReply drops control characters).
std::string host_label(const MxHostFacts& host) {
    auto name = canonical_host_name(host.name);
    return name ? std::move(name).value() : host.name;
}

class DecisionBuilder {
public:
    void note(std::string line) { decision_.explanation.push_back(std::move(line)); }

    Decision answer(Basis basis, SocketmapReply reply) {
        decision_.basis = basis;
        decision_.reply = std::move(reply);
        return std::move(decision_);
    }

private:
    Decision decision_;
};

void note_facts(DecisionBuilder& out, const DomainFacts& facts) {
    const auto& mx = facts.mx;
    out.note(fmt::format("MX {}: {} ({}){}", facts.domain, to_string(mx.status), to_string(mx.dnssec),
                         mx.null_mx ? ", null MX" : ""));
    for (const auto& host : mx.hosts) {
        out.note(fmt::format("  host {}: addresses {}, TLSA {}", host.name, to_string(host.address_dnssec),
                             to_string(host.tlsa)));
    }
    const auto& sts = facts.sts;
    out.note(fmt::format("_mta-sts.{} TXT: {} ({}){}", facts.domain, to_string(sts.txt_status),
                         to_string(sts.txt_dnssec), sts.record ? ", id=" + sts.record->id : std::string()));
    if (!sts.record_problem.empty()) {
        out.note("  no MTA-STS record: " + sts.record_problem);
    }
    if (sts.policy) {
        std::vector<std::string> patterns;
        for (const auto& pattern : sts.policy->mx) {
            patterns.push_back(pattern.text());
        }
        out.note(fmt::format("  policy ({}, {} s old): mode {}, max_age {}{}{}, mx {}",
                             sts.policy_from_cache ? "cached" : "fetched", sts.policy_age.count(),
                             to_string(sts.policy->mode), sts.policy->max_age,
                             sts.policy->max_age_capped ? " (capped)" : "",
                             sts.policy->dnssec_expected ? ", dnssec: yes" : "", join(patterns, " ")));
    }
    if (!sts.fetch_error.empty()) {
        out.note("  policy fetch failed: " + sts.fetch_error);
    }
    if (sts.policy_host_bogus) {
        out.note("  the address of mta-sts." + facts.domain + " is bogus (DNSSEC validation failed)");
    }
    out.note(fmt::format("Client MX {}: {} ({})", facts.domain, to_string(facts.client_mx.status),
                         to_string(facts.client_mx.dnssec)));
    if (facts.dnssec_expectation_cached) {
        out.note("cached: this domain's policy said dnssec: yes");
    }
}

// Rule 2 in enforce mode: the allowed MX hosts, listed one by one.
Decision enforce_sts(DecisionBuilder& out, const DomainFacts& facts, const StsPolicy& policy) {
    if (!answered(facts.mx.status)) {
        out.note("MTA-STS enforce, but the MX lookup failed: defer until it answers");
        return out.answer(Basis::dns_failure,
                          SocketmapReply::temp("MX lookup failed for MTA-STS domain " + facts.domain));
    }
    const auto names = mx_host_names(facts.mx);
    const auto allowed = allowed_mx_hosts(policy, names);
    for (const auto& name : names) {
        if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
            out.note("MTA-STS: MX host " + name + " matches no mx pattern: not to be used");
        }
    }
    if (allowed.empty()) {
        out.note("MTA-STS enforce: no MX host matches the policy (RFC 8461, section 5.1: do not deliver)");
        return out.answer(Basis::mta_sts,
                          SocketmapReply::temp("no MX host of " + facts.domain + " matches its MTA-STS policy"));
    }
    out.note("MTA-STS enforce: certificates must be valid (WebPKI) and name one of " + join(allowed, ", "));
    return out.answer(Basis::mta_sts, SocketmapReply::ok(secure_policy(allowed)));
}

}  // namespace

std::string_view to_string(TlsaState state) {
    switch (state) {
        case TlsaState::not_looked_up: return "not looked up";
        case TlsaState::usable: return "usable";
        case TlsaState::unusable: return "unusable";
        case TlsaState::absent: return "absent";
        case TlsaState::insecure: return "insecure";
        case TlsaState::bogus: return "bogus";
        case TlsaState::failed: return "failed";
    }
    return "failed";
}

std::string_view to_string(Basis basis) {
    switch (basis) {
        case Basis::invalid_next_hop: return "invalid-next-hop";
        case Basis::not_mx_delivery: return "not-mx-delivery";
        case Basis::dane_only: return "dane-only";
        case Basis::dane: return "dane";
        case Basis::mta_sts: return "mta-sts";
        case Basis::dnssec_missing: return "dnssec-missing";
        case Basis::client_mx: return "client-mx";
        case Basis::bogus: return "bogus";
        case Basis::dns_failure: return "dns-failure";
        case Basis::no_policy: return "no-policy";
    }
    return "no-policy";
}

std::optional<Decision> decide_without_lookup(std::string_view key, const Expected<NextHop>& next_hop) {
    DecisionBuilder out;
    if (!next_hop) {
        out.note("not a next hop: " + next_hop.error());
        return out.answer(Basis::invalid_next_hop, SocketmapReply::perm("invalid next hop: " + next_hop.error()));
    }
    switch (next_hop->kind) {
        case NextHopKind::domain: return std::nullopt;
        case NextHopKind::bracketed:
            out.note(std::string(key) +
                     ": a bracketed next hop (no MX lookup): recipient-domain policies do not apply");
            return out.answer(Basis::not_mx_delivery, SocketmapReply::not_found());
        case NextHopKind::parent_domain:
            out.note(std::string(key) +
                     ": Postfix's parent-domain lookup; a domain's policies never apply to its subdomains");
            return out.answer(Basis::not_mx_delivery, SocketmapReply::not_found());
        case NextHopKind::other_port:
            out.note(std::string(key) + ": not port 25 MX delivery: recipient-domain policies do not apply");
            return out.answer(Basis::not_mx_delivery, SocketmapReply::not_found());
    }
    return std::nullopt;
}

Decision decide(const DomainFacts& facts, const DecisionSettings& settings) {
    DecisionBuilder out;
    note_facts(out, facts);
    const auto& mx = facts.mx;
    const auto& sts = facts.sts;
    const std::optional<StsPolicy>& policy = sts.policy;

    if (mx.status == AnswerStatus::bogus) {
        out.note("the MX answer is bogus (DNSSEC validation failed): defer, never downgrade");
        return out.answer(Basis::bogus, SocketmapReply::temp("bogus MX RRset for " + facts.domain));
    }

    // Rule 3's precondition: "dnssec: yes" from an enforce or testing policy,
    // now or cached.
    const bool policy_expects_dnssec = policy && policy->mode != StsMode::none && policy->dnssec_expected;
    const bool dnssec_expected = policy_expects_dnssec || facts.dnssec_expectation_cached;
    if (dnssec_expected && mx.dnssec != DnssecState::secure) {
        out.note(fmt::format("dnssec: yes, but the MX answer is {} ({}): defer (draft-frickl, section 3)",
                             to_string(mx.status), to_string(mx.dnssec)));
        return out.answer(Basis::dnssec_missing,
                          SocketmapReply::temp(fmt::format("dnssec: yes, but the MX RRset of {} is {}", facts.domain,
                                                           to_string(mx.dnssec))));
    }

    if (mx.null_mx) {
        out.note("null MX (RFC 7505): the domain accepts no mail");
        return out.answer(Basis::no_policy, SocketmapReply::not_found());
    }
    if (mx.status == AnswerStatus::nxdomain) {
        out.note("the domain does not exist");
        return out.answer(Basis::no_policy, SocketmapReply::not_found());
    }

    // Bogus answers for an MX host, before any rule can pass over them. A
    // forged TLSA RRset must not turn DANE into NOTFOUND: Postfix would
    // fall back to its default level and never look up TLSA itself (RFC
    // 7672, section 2.2 forbids that downgrade). TLSA counts only where RFC
    // 7672 looks for it, under a secure MX RRset and secure addresses
    // (dns_facts.cc); elsewhere Postfix ignores TLSA, bogus or not. A forged
    // address is an attack on delivery to that host, whatever else the
    // domain publishes.
    for (const auto& host : mx.hosts) {
        if (host.address_dnssec == DnssecState::bogus) {
            out.note(fmt::format("the A/AAAA answer for MX host {} is bogus (DNSSEC validation failed): defer",
                                 host_label(host)));
            return out.answer(Basis::bogus,
                              SocketmapReply::temp(fmt::format("bogus A/AAAA answer for {}, MX host of {}",
                                                               host_label(host), facts.domain)));
        }
        if (host.tlsa == TlsaState::bogus) {
            out.note(
                fmt::format("the TLSA answer for MX host {} is bogus (DNSSEC validation failed): defer, never "
                            "downgrade (RFC 7672, section 2.2)",
                            host_label(host)));
            return out.answer(Basis::bogus,
                              SocketmapReply::temp(fmt::format("bogus TLSA RRset for _25._tcp.{}, MX host of {}",
                                                               host_label(host), facts.domain)));
        }
    }

    // Rule 1, all hosts.
    const bool mx_secure = answered(mx.status) && mx.dnssec == DnssecState::secure && !mx.hosts.empty();
    const auto dane_hosts = static_cast<std::size_t>(std::count_if(mx.hosts.begin(), mx.hosts.end(), dane_ready));
    if (settings.dane && mx_secure && dane_hosts == mx.hosts.size()) {
        out.note("DANE: secure MX RRset, every MX host has secure addresses and usable TLSA records");
        return out.answer(Basis::dane_only, SocketmapReply::ok("dane-only"));
    }

    // Rule 3: DNSSEC data must be there for the hosts too.
    if (dnssec_expected) {
        for (const auto& host : mx.hosts) {
            if (host.address_dnssec != DnssecState::secure) {
                out.note(fmt::format("dnssec: yes, but the addresses of {} are {}: defer", host.name,
                                     to_string(host.address_dnssec)));
                return out.answer(Basis::dnssec_missing, SocketmapReply::temp(fmt::format(
                                                             "dnssec: yes, but the addresses of MX host {} are {}",
                                                             host.name, to_string(host.address_dnssec))));
            }
        }
        out.note("dnssec: yes: MX RRset and MX host addresses are secure, as expected");
        if (policy && policy->mode == StsMode::enforce) {
            // Not "dane": hosts without TLSA would fall back to opportunistic TLS.
            out.note("dnssec: yes forbids \"dane\" with hosts lacking TLSA; the enforce policy applies to all");
            return enforce_sts(out, facts, *policy);
        }
    }

    // Rule 1, some hosts: Postfix applies DANE per host.
    if (settings.dane && mx_secure && dane_hosts > 0) {
        out.note(fmt::format("DANE: {} of {} MX hosts have usable TLSA records; Postfix applies DANE per host",
                             dane_hosts, mx.hosts.size()));
        return out.answer(Basis::dane, SocketmapReply::ok("dane"));
    }

    // Rule 2.
    if (policy) {
        if (policy->mode == StsMode::enforce) {
            return enforce_sts(out, facts, *policy);
        }
        if (policy->mode == StsMode::testing) {
            const auto allowed =
                answered(mx.status) ? allowed_mx_hosts(*policy, mx_host_names(mx)) : std::vector<std::string>{};
            out.note("MTA-STS testing: not enforced; enforce would allow " +
                     (allowed.empty() ? std::string("no MX host") : join(allowed, ", ")));
        } else {
            out.note("MTA-STS mode none: no MTA-STS enforcement");
        }
    } else if (sts.txt_status == AnswerStatus::bogus) {
        out.note("the _mta-sts TXT answer is bogus (DNSSEC validation failed): defer");
        return out.answer(Basis::bogus, SocketmapReply::temp("bogus _mta-sts TXT RRset for " + facts.domain));
    } else if (sts.policy_host_bogus) {
        // Without this, the fetch would fail for want of an address and
        // the answer be NOTFOUND, as for a server that is merely down.
        out.note("the address of the MTA-STS policy host is bogus (DNSSEC validation failed): defer");
        return out.answer(Basis::bogus, SocketmapReply::temp(
                                            fmt::format("bogus A/AAAA answer for mta-sts.{}, MTA-STS policy host of {}",
                                                        facts.domain, facts.domain)));
    } else if (sts.record) {
        out.note("MTA-STS record but no policy in force (RFC 8461, section 5: deliver as without MTA-STS)");
    }

    // Rule 4.
    if (settings.client_mx_optin) {
        const auto& client_mx = facts.client_mx;
        if (client_mx.status == AnswerStatus::bogus) {
            out.note("the Client MX answer is bogus (DNSSEC validation failed): defer");
            return out.answer(Basis::bogus, SocketmapReply::temp("bogus Client MX RRset for " + facts.domain));
        }
        if (client_mx.status == AnswerStatus::records) {
            if (!answered(mx.status)) {
                out.note("Client MX opt-in, but the MX lookup failed: defer until it answers");
                return out.answer(Basis::dns_failure, SocketmapReply::temp("MX lookup failed for " + facts.domain));
            }
            const auto names = mx_host_names(mx);
            if (names.empty()) {
                out.note("Client MX opt-in, but no MX host has a valid name");
                return out.answer(Basis::client_mx, SocketmapReply::temp("no valid MX host name for " + facts.domain));
            }
            out.note(fmt::format("Client MX opt-in ({}): the certificate must name the MX host",
                                 to_string(client_mx.dnssec)));
            return out.answer(Basis::client_mx, SocketmapReply::ok(secure_policy(names)));
        }
    }

    // Still rule 1: a host whose TLSA lookup failed (server failure,
    // timeout) under a secure MX RRset. NOTFOUND would let Postfix use its
    // default level, which never looks up TLSA: an attacker who can make
    // the lookup fail would switch DANE off. TEMP would stop all mail to the
    // domain for one host's outage. "dane" makes Postfix look up TLSA
    // itself and, if that fails too, give up on the host with "4.7.5 TLSA
    // lookup error" and defer (RFC 7672, section 2.2; Postfix's
    // src/smtp/smtp_tls_policy.c), while hosts with secure proof of no TLSA
    // get opportunistic TLS, as under rule 1's "dane".
    // Here, after rules 2 and 4, because "dane" would lose their
    // authenticated TLS on the hosts without TLSA.
    const auto unknown_hosts = std::count_if(mx.hosts.begin(), mx.hosts.end(), dane_unknown);
    if (settings.dane && mx_secure && unknown_hosts > 0) {
        out.note(
            fmt::format("DANE: the TLSA lookup failed for {} of {} MX hosts; Postfix looks again and defers "
                        "those hosts if it fails",
                        unknown_hosts, mx.hosts.size()));
        return out.answer(Basis::dane, SocketmapReply::ok("dane"));
    }

    // Rule 5.
    if (failed(mx.status)) {
        out.note("the MX lookup failed and no policy applies: as without a policy (Postfix's own lookup decides)");
    }
    out.note("no TLS policy: Postfix's default applies");
    return out.answer(Basis::no_policy, SocketmapReply::not_found());
}

}  // namespace mtls::tlspolicy
