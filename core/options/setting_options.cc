// The option table of mtls-milter (and of mtls-check's engine): the one
// place where an option's name, type, default and documentation are written.
// man/mtls-milter.conf.5, man/mtls-milter.8, man/mtls-check.1 and README.md
// are generated from it by scripts/gen-docs.
#include <syslog.h>
#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <array>
#include <boost/program_options.hpp>

#include "mail/authentication_results.h"
#include "mtls/dane.h"
#include "options/settings.h"

namespace mtls {
namespace {

constexpr std::array<std::string_view, 4> kOnFailChoices = {"tag", "reject", "tempfail", "quarantine"};
constexpr std::array<std::string_view, 2> kOnTemperrorChoices = {"tag", "tempfail"};
constexpr std::array<std::string_view, 2> kOnInternalErrorChoices = {"tempfail", "accept"};
constexpr std::array<std::string_view, 2> kCertDiscoveryChoices = {"off", "connect-back"};
constexpr std::array<std::string_view, 2> kDmarcMtlsChoices = {"substitute", "report-only"};
constexpr std::array<std::string_view, 2> kDmarcOnTemperrorChoices = {"accept", "tempfail"};
constexpr std::array<std::string_view, 2> kLogFormatChoices = {"text", "json"};
constexpr std::array<std::string_view, 11> kFacilityChoices = {
    "mail", "daemon", "user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"};
constexpr std::array<int, 11> kFacilities = {LOG_MAIL,   LOG_DAEMON, LOG_USER,   LOG_LOCAL0, LOG_LOCAL1, LOG_LOCAL2,
                                             LOG_LOCAL3, LOG_LOCAL4, LOG_LOCAL5, LOG_LOCAL6, LOG_LOCAL7};

template <typename T>
T checked(const OptionSpec& option, std::string_view value, Expected<T> parsed) {
    if (!parsed) {
        invalid_value(option, value, parsed.error());
    }
    return std::move(parsed).value();
}

ListenAddress listen_address_value(const OptionSpec& option, std::string_view value) {
    return checked(option, value, parse_listen_address(value));
}

std::optional<ListenAddress> optional_listen_address_value(const OptionSpec& option, std::string_view value) {
    if (value.empty()) {
        return std::nullopt;
    }
    return listen_address_value(option, value);
}

std::optional<Endpoint> endpoint_value(const OptionSpec& option, std::string_view value) {
    if (value.empty()) {
        return std::nullopt;
    }
    return checked(option, value, parse_endpoint(value));
}

std::string authserv_id_value(const OptionSpec& option, const std::string& value) {
    auto id = value.empty() ? local_host_name() : value;
    if (!is_token(id)) {
        invalid_value(option, id, "expected a host name or other RFC 2045 token");
    }
    return id;
}

std::uint16_t rr_type_value(const OptionSpec& option, std::string_view value) {
    const auto type = parse_integer(option, value);
    // OPT and the query-only meta types cannot name an RRset.
    if (type == 41 || (type >= 128 && type <= 255)) {
        invalid_value(option, value, "expected a data RR type, not OPT or a meta/query type");
    }
    return static_cast<std::uint16_t>(type);
}

std::vector<std::string> tlsa_names_value(const OptionSpec& option, std::string_view value) {
    auto names = parse_tlsa_name_templates(value);
    if (!names) {
        invalid_value(option, value, names.error());
    }
    return std::move(names).value();
}

HostList host_list_value(const OptionSpec& option, std::string_view value) {
    auto hosts = HostList::parse(value);
    if (!hosts) {
        invalid_value(option, value, hosts.error());
    }
    return std::move(hosts).value();
}

// Each listed token once.
std::vector<std::string> trusted_ids_value(const OptionSpec& option, const std::string& value) {
    std::vector<std::string> ids;
    std::size_t start = 0;
    while (start <= value.size()) {
        auto end = value.find_first_of(", \t", start);
        if (end == std::string::npos) {
            end = value.size();
        }
        const auto id = value.substr(start, end - start);
        if (!id.empty()) {
            if (!is_token(id)) {
                invalid_value(option, id, "expected host names or other RFC 2045 tokens, separated by commas");
            }
            if (std::find(ids.begin(), ids.end(), id) == ids.end()) {
                ids.push_back(id);
            }
        }
        start = end + 1;
    }
    return ids;
}

// The choices are spellings parse_on_fail() reads (core/mtls/action.h).
Action action_value(const OptionSpec& option, std::string_view value) {
    const auto index = parse_choice(option, value);
    return checked(option, value, parse_on_fail(option.choices[index]));
}

constexpr std::array kSettingOptions = {
    SettingOption{{.name = "socket",
                   .placeholder = "unix:PATH|inet:PORT@ADDRESS|inet6:PORT@ADDRESS",
                   .type = ValueType::listen_address,
                   .default_value = "unix:/run/mtls-milter/mtls-milter.sock",
                   .help = "Where the milter listens for the MTA.",
                   .doc = R"roff(Where the milter listens for the MTA.
.B unix:
(or
.BR local: )
takes an absolute path;
.B inet:
and
.B inet6:
take a port and the address to listen on
(without
.BI @ ADDRESS
libmilter listens on every address).
The address must be an IP address, not a host name;
an IPv6 address may be written in brackets.
The MTA's setting names the same place in its own syntax:
Postfix writes
.B inet:127.0.0.1:8894
for
.BR inet:8894@127.0.0.1 ,
Sendmail writes
.B S=inet:8894@127.0.0.1
or
.BR S=local:PATH .
A stale unix socket left by a previous run is replaced.
A chrooted Postfix smtpd sees unix socket paths relative to its chroot
(see
.BR mtls-milter (8)).)roff",
                   .programs = kMilter,
                   .stage = Stage::start},
                  [](Settings& settings, [[maybe_unused]] const OptionSpec& option, const std::string& value) {
                      settings.socket = listen_address_value(option, value);
                  }},
    SettingOption{
        {.name = "authserv-id",
         .placeholder = "TOKEN",
         .type = ValueType::string,
         .default_value = "",
         .help =
             "Authentication-Results authserv-id; incoming headers claiming it are removed. Default: the host name.",
         .doc = R"roff(The authserv\-id written at the start of the Authentication\-Results
header.
Incoming Authentication\-Results headers that claim this id are deleted
from every message the milter sees, as RFC 8601 section 5 asks, so the id
must belong to this site alone.
Compared case\-insensitively, ignoring a trailing dot.
It must be an RFC 2045 token: no spaces and none of
.BR "()<>@,;:\e\(dq/[]?=" .)roff",
         .default_note = R"roff(empty, meaning the host name.)roff",
         .programs = kMilter | kCheck,
         .stage = Stage::reload},
        [](Settings& settings, [[maybe_unused]] const OptionSpec& option, const std::string& value) {
            settings.authserv_id = authserv_id_value(option, value);
        }},
    SettingOption{{.name = "unbound-config",
                   .placeholder = "FILE",
                   .type = ValueType::string,
                   .default_value = "",
                   .help = "unbound.conf-style file handed to libunbound (forwarders, stub zones, trust anchors).",
                   .doc = R"roff(An
.BR unbound.conf (5)
style file handed to libunbound: forwarders
.RB ( forward\-zone: ),
stub zones, extra trust anchors, and
.B server:
options such as
.BR do\-ip6 .
To forward to a resolver on 127.0.0.1 or ::1 it must also say
.BR "do\-not\-query\-localhost: no" .
A forwarder must pass on DNSSEC records
(RRSIG, DNSKEY, DS), since libunbound validates every answer itself.)roff",
                   .default_note = R"roff(empty; libunbound then resolves from the root servers itself and
does not read
.IR /etc/resolv.conf .)roff",
                   .programs = kMilter | kCheck | kTlsPolicy,
                   .stage = Stage::reload},
                  [](Settings& settings, [[maybe_unused]] const OptionSpec& option, const std::string& value) {
                      settings.unbound.config_file = value;
                  }},
    SettingOption{{.name = "trust-anchor-file",
                   .placeholder = "FILE",
                   .type = ValueType::string,
                   .default_value = kDefaultTrustAnchor,
                   .help = "DNSSEC trust anchor (DS or DNSKEY records); empty to rely on unbound-config alone.",
                   .doc = R"roff(The DNSSEC trust anchor, as DS or DNSKEY records in zone\-file form.
Empty leaves trust anchors to
.BR unbound\-config ;
with no trust anchor at all nothing is validated and every answer counts as
insecure.
The file is only read; it is not updated as RFC 5011 describes.)roff",
                   .default_note = R"roff((Debian package dns\-root\-data))roff",
                   .programs = kMilter | kCheck | kTlsPolicy,
                   .stage = Stage::reload},
                  [](Settings& settings, [[maybe_unused]] const OptionSpec& option, const std::string& value) {
                      settings.unbound.trust_anchor_file = value;
                  }},
    SettingOption{{.name = "client-mx-type",
                   .placeholder = "NUMBER",
                   .type = ValueType::integer,
                   .default_value = "265",
                   .help = "DNS RR type number of Client MX records.",
                   .doc = R"roff(The DNS RR type number of Client MX records, 1 to 65535, except 41 (OPT)
and 128 to 255 (query types).
The draft proposes 265, which IANA has not assigned.)roff",
                   .programs = kMilter | kCheck | kTlsPolicy,
                   .stage = Stage::reload,
                   .minimum = 1,
                   .maximum = 65535},
                  [](Settings& settings, [[maybe_unused]] const OptionSpec& option, const std::string& value) {
                      settings.authenticator.client_mx_type = rr_type_value(option, value);
                  }},
    SettingOption{{.name = "dns-timeout",
                   .placeholder = "SECONDS",
                   .type = ValueType::seconds,
                   .default_value = "5",
                   .help = "Longest wait for the Client MX answer; keep it well under the MTA's milter timeout.",
                   .doc = R"roff(The longest wait for the Client MX answer, from 0.1 to 60 seconds;
fractions are allowed.
The lookup starts at MAIL FROM and is collected at the end of the message,
so the time the client spends sending the message counts towards it.
No answer in time gives
.BR mtls=temperror .
Keep it well under the MTA's milter timeouts.)roff",
                   .programs = kMilter | kCheck,
                   .stage = Stage::reload,
                   .minimum = 100,
                   .maximum = 60000},
                  [](Settings& settings, [[maybe_unused]] const OptionSpec& option, const std::string& value) {
                      settings.authenticator.dns_timeout = parse_seconds(option, value);
                  }},
    SettingOption{{.name = "require-dnssec",
                   .placeholder = "yes|no",
                   .type = ValueType::boolean,
                   .default_value = "no",
                   .help = "Treat Client MX records that are not DNSSEC-secure as absent.",
                   .doc = R"roff(With
.BR yes ,
Client MX records that are not DNSSEC\-secure (that is, from an unsigned
zone) count as absent:
.B mtls=none
with reason \(dqClient MX records not DNSSEC\-signed\(dq.
With
.BR no ,
they are used, and the header says
.BR "(DNSSEC insecure)" .
Bogus answers are never used either way.)roff",
                   .programs = kMilter | kCheck,
                   .stage = Stage::reload},
                  [](Settings& settings, [[maybe_unused]] const OptionSpec& option, const std::string& value) {
                      settings.authenticator.verdict.require_dnssec = parse_boolean(option, value);
                  }},
    SettingOption{{.name = "allow-wildcards",
                   .placeholder = "yes|no",
                   .type = ValueType::boolean,
                   .default_value = "no",
                   .help = "Let a wildcard certificate name (*.example.org, RFC 9525) match a Client MX host.",
                   .doc = R"roff(Let a wildcard certificate name
.RB ( *.example.org )
match a Client MX host one label below it, as RFC 9525 section 6.3
describes.
A wildcard directly below a top\-level domain never matches.
The draft asks for an exact match.)roff",
                   .programs = kMilter | kCheck,
                   .stage = Stage::reload},
                  [](Settings& settings, [[maybe_unused]] const OptionSpec& option, const std::string& value) {
                      settings.authenticator.verdict.allow_wildcards = parse_boolean(option, value);
                  }},
    SettingOption{{.name = "dane",
                   .placeholder = "yes|no",
                   .type = ValueType::boolean,
                   .default_value = "yes",
                   .help = "Also accept a client key that a DNSSEC-secure DANE-EE TLSA record publishes for a Client "
                           "MX host (needs certificate fingerprints: policy-socket on Postfix, {cert_fp} on Sendmail).",
                   .doc = R"roff(Also accept the client when a DNSSEC\-secure DANE\-EE TLSA record of a
Client MX host names the client's key:
.B 3 1 1
(SHA\-256 of the SubjectPublicKeyInfo),
.B 3 0 1
(SHA\-256 of the certificate), or
.B 3 1 0
and
.B 3 0 0
(the key or the certificate in full, whose SHA\-256 must equal the
fingerprint).
No CA and no name check is made: the TLSA owner name binds the key to the
host.
It is tried only when the certificate path did not pass, the Client MX
records are DNSSEC\-secure and the client's fingerprints are known:
from
.B policy\-socket
on Postfix, from
.B {cert_fp}
on Sendmail (with
.BR CertFingerprintAlgorithm=sha256 ).
Insecure TLSA records never authenticate; bogus ones, or a TLSA lookup that
fails, give
.BR temperror .
DANE\-TA records (usage 2) and SHA\-512 digests (matching type 2) cannot be
checked from a fingerprint; with
.B cert\-discovery
they are checked against the chain discovery fetches (a DANE\-TA record
also needs a leaf name that is the Client MX host), and without it they are
ignored, as are usages 0 and 1 (RFC 7672).
A pass this way carries
.BR reason="dane" .
The TLSA lookups take at most another
.BR dns\-timeout .)roff",
                   .programs = kMilter | kCheck,
                   .stage = Stage::reload},
                  [](Settings& settings, [[maybe_unused]] const OptionSpec& option, const std::string& value) {
                      settings.authenticator.dane.enabled = parse_boolean(option, value);
                  }},
    SettingOption{{.name = "dane-tlsa-names",
                   .placeholder = "TEMPLATE[, TEMPLATE...]",
                   .type = ValueType::string,
                   .default_value = "_client.{host}, _25._tcp.{host}",
                   .help = "Owner names of the TLSA records tried for each Client MX host; {host} is the host name.",
                   .doc = R"roff(The owner names at which TLSA records are looked up for each Client MX host
(at most 8 hosts);
.B {host}
stands for the host name and must end each template.
.B _client.{host}
follows draft\-ietf\-dance\-client\-auth,
.B _25._tcp.{host}
is RFC 7672's name for the same host as a mail server, which many senders
already publish.)roff",
                   .programs = kMilter | kCheck,
                   .stage = Stage::reload},
                  [](Settings& settings, [[maybe_unused]] const OptionSpec& option, const std::string& value) {
                      settings.authenticator.dane.tlsa_names = tlsa_names_value(option, value);
                  }},
    SettingOption{{.name = "cert-discovery",
                   .placeholder = "off|connect-back",
                   .type = ValueType::choice,
                   .default_value = "off",
                   .help = "connect-back: fetch an unverified client certificate from port 25 of the client's own "
                           "address, by its fingerprint (needs policy-socket on Postfix, {cert_fp} on Sendmail).",
                   .doc = R"roff(With
.BR connect\-back ,
when the MTA did not verify the client certificate (or verified one whose
name is no Client MX host), the milter connects back to the client's own
address on
.BR cert\-discovery\-port ,
says EHLO and STARTTLS, and reads the certificate chain the client serves
there as a server.
Bytes whose SHA\-256 is the fingerprint the MTA reported are the client's
certificate: the MTA's handshake proved the client holds its key.
The chain is then validated against
.B ca\-file
and
.B ca\-path
(serverAuth accepted, as the draft allows in section 1.2.2) and its names
matched against the Client MX hosts as for a verified certificate.
A pass this way carries
.B reason="discovered"
and names the matched host in a comment; the log line says
.BR via=discovered .
It never probes an address taken from DNS, never for a certificate the MTA
verified with a matching name, and never overrules DANE: a Client MX host
with secure TLSA records that do not match the key stays a fail.
A probe starts as soon as the fingerprint is known (at MAIL FROM with
Sendmail's
.BR {cert_fp} ,
at the first header with Postfix's policy channel) and is collected at the
end of the message, waiting no longer than what is left of
.B dns\-timeout
since it started; a probe still running then gives
.B temperror
\(dqcertificate discovery timed out\(dq and runs on, so that its result
serves the next message.
Refused connections, no STARTTLS, another certificate, an invalid chain or
names that match no Client MX host are
.B fail
with a reason saying which.
Certificates are remembered until they expire and failures for an hour, so
a sender costs one probe per certificate.)roff",
                   .programs = kMilter,
                   .stage = Stage::start,
                   .choices = kCertDiscoveryChoices},
                  [](Settings& settings, [[maybe_unused]] const OptionSpec& option, const std::string& value) {
                      settings.cert_discovery.enabled = parse_choice(option, value) == 1;
                  }},
    SettingOption{{.name = "cert-discovery-port",
                   .placeholder = "PORT",
                   .type = ValueType::integer,
                   .default_value = "25",
                   .help = "The port certificate discovery connects back to.",
                   .doc = R"roff(The TCP port on the client's address that
.B cert\-discovery
connects to.
Changing it takes a restart.)roff",
                   .programs = kMilter,
                   .stage = Stage::start,
                   .minimum = 1,
                   .maximum = 65535},
                  [](Settings& settings, [[maybe_unused]] const OptionSpec& option, const std::string& value) {
                      settings.cert_discovery.port = static_cast<std::uint16_t>(parse_integer(option, value));
                  }},
    SettingOption{{.name = "cert-discovery-timeout",
                   .placeholder = "SECONDS",
                   .type = ValueType::seconds,
                   .default_value = "30",
                   .help = "The longest a certificate discovery probe may take (it runs on after the message).",
                   .doc = R"roff(The longest one probe of
.B cert\-discovery
may take, from 1 to 300 seconds; connecting, each reply and the TLS
handshake also take at most a third of it each.
A probe that runs out of time is remembered as a failure for an hour.
Changing it takes a restart.)roff",
                   .programs = kMilter,
                   .stage = Stage::start,
                   .minimum = 1000,
                   .maximum = 300000},
                  [](Settings& settings, [[maybe_unused]] const OptionSpec& option, const std::string& value) {
                      settings.cert_discovery.timeout = parse_seconds(option, value);
                  }},
    SettingOption{{.name = "cert-discovery-networks",
                   .placeholder = "CIDR[, CIDR...]",
                   .type = ValueType::cidr_list,
                   .default_value = "",
                   .help = "Non-global client addresses (private, loopback...) certificate discovery may connect to.",
                   .doc = R"roff(Client addresses or networks, written as for
.BR ignore\-hosts ,
that
.B cert\-discovery
may connect to although they are not global: private, loopback,
link\-local, shared (100.64.0.0/10), documentation and unique local
addresses, and the rest of the IANA special\-purpose registries (RFC 6890).
Global addresses need no listing.
Changing it takes a restart.)roff",
                   .default_note = R"roff(empty, meaning global addresses only.)roff",
                   .programs = kMilter,
                   .stage = Stage::start},
                  [](Settings& settings, [[maybe_unused]] const OptionSpec& option, const std::string& value) {
                      settings.cert_discovery.networks = host_list_value(option, value);
                  }},
    SettingOption{{.name = "ca-file",
                   .placeholder = "FILE",
                   .type = ValueType::string,
                   .default_value = "",
                   .help = "Trust anchors (PEM) for certificate chains the milter validates itself (cert-discovery, "
                           "mtls-check --cert) instead of the system store.",
                   .doc = R"roff(Trust anchors, PEM, for the certificate chains the daemon validates
itself: those of
.B cert\-discovery
and of
.BR "mtls\-check \-\-cert" .
When given (or
.B ca\-path
is), it replaces the system's trust store.
Changing it takes a restart of mtls\-milter.)roff",
                   .default_note = R"roff(empty, meaning the system's trust store
.RI ( /etc/ssl/certs ).)roff",
                   .programs = kMilter | kCheck,
                   .stage = Stage::start},
                  [](Settings& settings, [[maybe_unused]] const OptionSpec& option, const std::string& value) {
                      settings.trust_anchors.ca_file = value;
                  }},
    SettingOption{{.name = "ca-path",
                   .placeholder = "DIR",
                   .type = ValueType::string,
                   .default_value = "",
                   .help = "A directory of hashed trust anchors, like ca-file; with ca-file both are used.",
                   .doc = R"roff(A directory of trust anchors named by subject hash (as
.B openssl rehash
makes it), for the same chains as
.BR ca\-file ;
when given it replaces the system's trust store, and with
.B ca\-file
as well both are used.
Changing it takes a restart of mtls\-milter.)roff",
                   .default_note = R"roff(empty, meaning the system's trust store.)roff",
                   .programs = kMilter | kCheck,
                   .stage = Stage::start},
                  [](Settings& settings, [[maybe_unused]] const OptionSpec& option, const std::string& value) {
                      settings.trust_anchors.ca_path = value;
                  }},
    SettingOption{{.name = "on-fail",
                   .placeholder = "tag|reject|tempfail|quarantine",
                   .type = ValueType::choice,
                   .default_value = "tag",
                   .help = "What to do with a message whose result is fail.",
                   .doc = R"roff(What to do with a message whose result is
.BR fail .
.B tag
adds the header and nothing else.
.B reject
answers the end of DATA with
.RB \(dq "550 5.7.1" " Sending server not authorized by the sender domain's Client MX (mtls=fail)\(dq."
.B tempfail
answers
.RB \(dq "451 4.7.1" " Sending server not authorized by the sender domain's Client MX (mtls=fail)\(dq."
.B quarantine
adds the header and asks the MTA to quarantine the message (Postfix: the
hold queue) with the reason \(dqmtls=fail:
.IR reason \(dq.
A rejected or deferred message gets no header.)roff",
                   .programs = kMilter,
                   .stage = Stage::reload,
                   .choices = kOnFailChoices},
                  [](Settings& settings, [[maybe_unused]] const OptionSpec& option, const std::string& value) {
                      settings.policy.on_fail = action_value(option, value);
                  }},
    SettingOption{{.name = "on-temperror",
                   .placeholder = "tag|tempfail",
                   .type = ValueType::choice,
                   .default_value = "tag",
                   .help = "What to do with a message whose result is temperror.",
                   .doc = R"roff(What to do with a message whose result is
.BR temperror .
.B tempfail
answers
.RB \(dq "451 4.4.3" " Temporary DNS failure checking the sender's Client MX (mtls=temperror)\(dq.")roff",
                   .programs = kMilter,
                   .stage = Stage::reload,
                   .choices = kOnTemperrorChoices},
                  [](Settings& settings, [[maybe_unused]] const OptionSpec& option, const std::string& value) {
                      settings.policy.on_temperror = action_value(option, value);
                  }},
    SettingOption{{.name = "on-internal-error",
                   .placeholder = "tempfail|accept",
                   .type = ValueType::choice,
                   .default_value = "tempfail",
                   .help = "What to do with a message when the milter fails inside (forged headers are removed either "
                           "way).",
                   .doc = R"roff(What to do when the milter fails inside a callback (out of memory, a
resolver or MTA call that throws): the message cannot be judged.
.B tempfail
answers the failed stage with a temporary failure; the client retries
later and nothing is lost.
A failure at connect or HELO defers the whole connection.
.B accept
lets the message go on: forged Authentication-Results headers claiming
.B authserv\-id
are still removed at the end of DATA, and the message gets
.RB \(dq mtls=temperror \(dq
with reason
.BR \(dqinternal\ error\(dq ;
.B on\-temperror
does not apply.
After a failure at connect or HELO every message on that connection is
treated so, without a lookup.
In both modes a message is deferred when its forged headers cannot be
removed: the removal failed, or a header callback failed so that a forged
header may have gone unseen.
A failure inside the Client MX check itself is a
.B temperror
result with the same reason, for which
.B on\-temperror
decides.)roff",
                   .programs = kMilter,
                   .stage = Stage::reload,
                   .choices = kOnInternalErrorChoices},
                  [](Settings& settings, [[maybe_unused]] const OptionSpec& option, const std::string& value) {
                      settings.policy.on_internal_error = checked(option, value, parse_on_internal_error(value));
                  }},
    SettingOption{{.name = "ignore-hosts",
                   .placeholder = "CIDR[, CIDR...]",
                   .type = ValueType::cidr_list,
                   .default_value = "127.0.0.0/8, ::1",
                   .help = "Clients that are neither checked nor tagged (content filters re-injecting mail).",
                   .doc = R"roff(Client addresses or networks, separated by commas and/or spaces, whose
connections the milter accepts at once: no check, no header, and forged
headers are not removed either.
Meant for content filters re\-injecting mail that was checked on its way
in.
A bare address is a single host; IPv4\-mapped IPv6 addresses match IPv4
entries.
A prefix written in IPv6 notation counts its length in 128 bits, also for
an IPv4\-mapped address:
.B ::ffff:10.0.0.0/104
is
.BR 10.0.0.0/8 ,
.B ::ffff:0:0/96
is all of IPv4, and a shorter IPv6 prefix that includes it (such as
.BR ::/0 )
covers all of IPv4 as well as its IPv6 addresses.
An empty value exempts no one.)roff",
                   .programs = kMilter,
                   .stage = Stage::reload},
                  [](Settings& settings, [[maybe_unused]] const OptionSpec& option, const std::string& value) {
                      settings.ignore_hosts = host_list_value(option, value);
                  }},
    SettingOption{{.name = "skip-authenticated",
                   .placeholder = "yes|no",
                   .type = ValueType::boolean,
                   .default_value = "yes",
                   .help = "Do not check SMTP-AUTH clients (forged headers are still removed).",
                   .doc = R"roff(With
.BR yes ,
messages from clients that logged in with SMTP AUTH get no check and no
header (the log records \(dqskipped: SMTP\-AUTH client\(dq); forged headers
are still removed.)roff",
                   .programs = kMilter,
                   .stage = Stage::reload},
                  [](Settings& settings, [[maybe_unused]] const OptionSpec& option, const std::string& value) {
                      settings.skip_authenticated = parse_boolean(option, value);
                  }},
    SettingOption{{.name = "log-format",
                   .placeholder = "text|json",
                   .type = ValueType::choice,
                   .default_value = "text",
                   .help = "Format of the per-message (mtls-milter) or per-answer (mtls-tlspolicy) log line.",
                   .doc = R"roff(Format of the one log line written per message (mtls\-milter) or per
socketmap answer (mtls\-tlspolicy).)roff",
                   .programs = kMilter | kTlsPolicy,
                   .stage = Stage::reload,
                   .choices = kLogFormatChoices},
                  [](Settings& settings, [[maybe_unused]] const OptionSpec& option, const std::string& value) {
                      settings.log_json = parse_choice(option, value) == 1;
                  }},
    SettingOption{{.name = "syslog",
                   .placeholder = "yes|no",
                   .type = ValueType::boolean,
                   .default_value = "yes",
                   .help = "Log to syslog.",
                   .doc = R"roff(Log to syslog, with the program's name
.RB ( mtls\-milter ,
.BR mtls\-tlspolicy )
as ident.)roff",
                   .programs = kMilter | kTlsPolicy,
                   .stage = Stage::reload},
                  [](Settings& settings, [[maybe_unused]] const OptionSpec& option, const std::string& value) {
                      settings.syslog = parse_boolean(option, value);
                  }},
    SettingOption{{.name = "syslog-facility",
                   .placeholder = "NAME",
                   .type = ValueType::choice,
                   .default_value = "mail",
                   .help = "Syslog facility (mail, daemon, user, local0 ... local7).",
                   .doc = R"roff(The syslog facility:
.BR mail ,
.BR daemon ,
.BR user ,
or
.B local0
to
.BR local7 .)roff",
                   .programs = kMilter | kTlsPolicy,
                   .stage = Stage::reload,
                   .choices = kFacilityChoices},
                  [](Settings& settings, [[maybe_unused]] const OptionSpec& option, const std::string& value) {
                      settings.syslog_facility = kFacilities.at(parse_choice(option, value));
                  }},
    SettingOption{{.name = "log-stderr",
                   .placeholder = "yes|no",
                   .type = ValueType::boolean,
                   .default_value = "no",
                   .help = "Also log to standard error (for systemd or a terminal).",
                   .doc = R"roff(Also write every log line to standard error, for systemd's journal or a
terminal.)roff",
                   .programs = kMilter | kTlsPolicy,
                   .stage = Stage::reload},
                  [](Settings& settings, [[maybe_unused]] const OptionSpec& option, const std::string& value) {
                      settings.log_stderr = parse_boolean(option, value);
                  }},
    SettingOption{
        {.name = "user",
         .placeholder = "NAME",
         .type = ValueType::string,
         .default_value = "",
         .help = "Drop root privileges to this user at start-up; the socket and pid file are created as this user.",
         .doc = R"roff(Switch to this user (and its groups) at start\-up.
This happens before the socket is created, so a unix socket belongs to
this user and its directory must be writable by it.
Started by any user other than root, the daemon can only continue when
it already runs as this user; otherwise start\-up fails.)roff",
         .default_note = R"roff(empty, meaning no switch.)roff",
         .programs = kMilter | kTlsPolicy,
         .stage = Stage::start},
        [](Settings& settings, [[maybe_unused]] const OptionSpec& option, const std::string& value) {
            settings.user = value;
        }},
    SettingOption{{.name = "umask",
                   .placeholder = "OCTAL",
                   .type = ValueType::integer,
                   .default_value = "007",
                   .help = "umask applied when creating a unix socket.",
                   .doc = R"roff(The umask, in octal, in force when the socket (and the pid file) is
created.
The default
.B 007
gives the socket mode 0770: the MTA can connect when it runs as, or in the
group of, the daemon's user.)roff",
                   .programs = kMilter | kTlsPolicy,
                   .stage = Stage::start,
                   .minimum = 0,
                   .maximum = 0777,
                   .base = 8},
                  [](Settings& settings, [[maybe_unused]] const OptionSpec& option, const std::string& value) {
                      settings.umask = static_cast<mode_t>(parse_integer(option, value));
                  }},
    SettingOption{{.name = "pidfile",
                   .placeholder = "FILE",
                   .type = ValueType::string,
                   .default_value = "",
                   .help = "Write the daemon's process id here.",
                   .doc = R"roff(Write the daemon's process id here; the file is removed when the daemon
exits normally.)roff",
                   .default_note = R"roff(empty, meaning no pid file.)roff",
                   .programs = kMilter | kTlsPolicy,
                   .stage = Stage::start},
                  [](Settings& settings, [[maybe_unused]] const OptionSpec& option, const std::string& value) {
                      settings.pidfile = value;
                  }},
    SettingOption{{.name = "foreground",
                   .placeholder = "yes|no",
                   .type = ValueType::boolean,
                   .default_value = "no",
                   .help = "Stay in the foreground instead of detaching.",
                   .doc = R"roff(Stay in the foreground instead of detaching from the terminal.
Use
.B yes
under systemd.)roff",
                   .programs = kMilter | kTlsPolicy,
                   .stage = Stage::start},
                  [](Settings& settings, [[maybe_unused]] const OptionSpec& option, const std::string& value) {
                      settings.foreground = parse_boolean(option, value);
                  }},
    SettingOption{{.name = "metrics",
                   .placeholder = "ADDRESS:PORT",
                   .type = ValueType::endpoint,
                   .default_value = "",
                   .help = "Serve Prometheus metrics over HTTP here, e.g. 127.0.0.1:9700 or [::1]:9700; empty for off.",
                   .doc = R"roff(Serve Prometheus metrics over HTTP at this address, for example
.B 127.0.0.1:9700
or
.BR [::1]:9700 :
.B GET /metrics
returns message counts per result and per action, skipped messages,
forged headers removed, a histogram of Client MX lookup times
.RB ( mtls_dns_lookup_seconds )
and the number of open MTA connections.
The address must be an IP address, not a host name.
There is no authentication: keep it on loopback or behind a firewall.
Changing it takes a restart.)roff",
                   .default_note = R"roff(empty, meaning off.)roff",
                   .programs = kMilter,
                   .stage = Stage::start},
                  [](Settings& settings, [[maybe_unused]] const OptionSpec& option, const std::string& value) {
                      settings.metrics = endpoint_value(option, value);
                  }},
    SettingOption{{.name = "policy-socket",
                   .placeholder = "unix:PATH|inet:PORT@ADDRESS",
                   .type = ValueType::listen_address,
                   .default_value = "",
                   .help = "Also serve Postfix's policy delegation protocol here (check_policy_service; always DUNNO) "
                           "to learn client certificate fingerprints; empty for off.",
                   .doc = R"roff(Also serve Postfix's policy delegation protocol here, for
.B check_policy_service
in
.BR smtpd_recipient_restrictions .
Postfix sends a policy service the client certificate's fingerprints
.RB ( ccert_fingerprint ,
.BR ccert_pubkey_fingerprint ),
even when the certificate did not verify, which its milter macros never
carry; the daemon keeps them for the SMTP connection (named by the client's
address and port) and uses them for
.BR dane .
It always answers
.BR DUNNO :
it never decides anything on this channel.
Postfix must use
.B smtpd_tls_fingerprint_digest = sha256
(the default only with
.B compatibility_level
3.6 or later), and should call it with
.B default_action=DUNNO
so that mail flows on when it cannot be reached.
The address of
.B inet:
must be an IP address.
Changing it takes a restart.)roff",
                   .default_note = R"roff(empty, meaning off.)roff",
                   .programs = kMilter,
                   .stage = Stage::start},
                  [](Settings& settings, [[maybe_unused]] const OptionSpec& option, const std::string& value) {
                      settings.policy_channel.socket = optional_listen_address_value(option, value);
                  }},
    SettingOption{{.name = "policy-lifetime",
                   .placeholder = "SECONDS",
                   .type = ValueType::integer,
                   .default_value = "3600",
                   .help = "How long fingerprints learnt on the policy socket wait for their milter connection.",
                   .doc = R"roff(How long fingerprints from the policy channel wait for the milter side of
their connection; an entry is dropped when the connection closes, when it
is older than this, or when it was recorded before the milter connection
began (an address and port reused by a later connection).
Changing it takes a restart.)roff",
                   .programs = kMilter,
                   .stage = Stage::start,
                   .minimum = 1,
                   .maximum = 86400},
                  [](Settings& settings, [[maybe_unused]] const OptionSpec& option, const std::string& value) {
                      settings.policy_channel.lifetime = std::chrono::seconds(parse_integer(option, value));
                  }},
    SettingOption{{.name = "policy-max-sessions",
                   .placeholder = "NUMBER",
                   .type = ValueType::integer,
                   .default_value = "10000",
                   .help = "Most SMTP connections whose fingerprints are kept at once (the oldest go first).",
                   .doc = R"roff(The most SMTP connections whose fingerprints are kept at once; beyond it
the oldest entry goes.
Changing it takes a restart.)roff",
                   .programs = kMilter,
                   .stage = Stage::start,
                   .minimum = 1,
                   .maximum = 10000000},
                  [](Settings& settings, [[maybe_unused]] const OptionSpec& option, const std::string& value) {
                      settings.policy_channel.max_sessions = static_cast<std::size_t>(parse_integer(option, value));
                  }},
    SettingOption{{.name = "dmarc-socket",
                   .placeholder = "unix:PATH|inet:PORT@ADDRESS",
                   .type = ValueType::listen_address,
                   .default_value = "",
                   .help = "Also serve the DMARC stage, a second milter placed after the DKIM verifier; empty for off.",
                   .doc = R"roff(Also serve the DMARC stage (stage 2) as a second milter here, in the
same syntax as
.BR socket .
Place it after the DKIM verifier (and any SPF filter), for example
.BR "smtpd_milters = unix:/run/mtls-milter/mtls-milter.sock, unix:/run/opendkim/opendkim.sock, unix:/run/mtls-milter/dmarc.sock" .
It reads the RFC 5322 From domain, the SPF and DKIM results of
Authentication\-Results headers with a trusted authserv\-id
.RB ( trusted\-authserv\-ids )
and stage 1's mtls result, evaluates DMARC (RFC 9989) with an aligned mtls
pass counted like SPF, and adds one Authentication\-Results header with
.BR dmarc= .
libmilter serves one socket per process, so the daemon runs this stage in
a child process of its own (see
.BR mtls-milter (8)).
Changing it takes a restart.)roff",
                   .default_note = R"roff(empty, meaning off.)roff",
                   .programs = kMilter,
                   .stage = Stage::start},
                  [](Settings& settings, [[maybe_unused]] const OptionSpec& option, const std::string& value) {
                      settings.dmarc.socket = optional_listen_address_value(option, value);
                  }},
    SettingOption{{.name = "trusted-authserv-ids",
                   .placeholder = "TOKEN[, TOKEN...]",
                   .type = ValueType::string,
                   .default_value = "",
                   .help = "Further authserv-ids (besides authserv-id) whose incoming Authentication-Results stage 1 "
                           "removes and the DMARC stage believes.",
                   .doc = R"roff(Authserv\-ids of this site besides
.BR authserv\-id ,
separated by commas and/or spaces, such as the
.B AuthservID
of an OpenDKIM that does not use the same one.
Stage 1 deletes every incoming Authentication\-Results header that claims
one of them (or
.BR authserv\-id ),
so that the DMARC stage can believe the headers with these ids that the
milters between the two stages add.
Every id must belong to this site alone.)roff",
                   .default_note = R"roff(empty, meaning authserv\-id alone.)roff",
                   .programs = kMilter,
                   .stage = Stage::reload},
                  [](Settings& settings, [[maybe_unused]] const OptionSpec& option, const std::string& value) {
                      settings.dmarc.other_authserv_ids = trusted_ids_value(option, value);
                  }},
    SettingOption{{.name = "dmarc-mtls",
                   .placeholder = "substitute|report-only",
                   .type = ValueType::choice,
                   .default_value = "substitute",
                   .help = "Whether an aligned mtls pass counts for DMARC like an aligned SPF pass.",
                   .doc = R"roff(With
.BR substitute ,
an mtls pass whose domain aligns with the From domain (as
.B aspf
says) counts for DMARC like an aligned SPF pass, as
draft\-chuang\-mutual\-tls\-email\-authentication section 1.2.4 allows.
With
.BR report\-only ,
it is computed and logged but the result is RFC 9989's alone.
An mtls fail never undoes an aligned SPF or DKIM pass.)roff",
                   .programs = kMilter,
                   .stage = Stage::reload,
                   .choices = kDmarcMtlsChoices},
                  [](Settings& settings, [[maybe_unused]] const OptionSpec& option, const std::string& value) {
                      settings.dmarc.mtls =
                          parse_choice(option, value) == 0 ? dmarc::MtlsMode::substitute : dmarc::MtlsMode::report_only;
                  }},
    SettingOption{{.name = "dmarc-mtls-helo",
                   .placeholder = "yes|no",
                   .type = ValueType::boolean,
                   .default_value = "yes",
                   .help = "For the null sender, let an mtls pass of the HELO name count for DMARC.",
                   .doc = R"roff(For the null sender (bounces), whose mtls identity is the HELO name,
let that pass count for DMARC as SPF's HELO identity would.)roff",
                   .programs = kMilter,
                   .stage = Stage::reload},
                  [](Settings& settings, [[maybe_unused]] const OptionSpec& option, const std::string& value) {
                      settings.dmarc.mtls_helo = parse_boolean(option, value);
                  }},
    SettingOption{{.name = "dmarc-enforce",
                   .placeholder = "yes|no",
                   .type = ValueType::boolean,
                   .default_value = "no",
                   .help = "Apply the DMARC policy of failing mail (reject: 550 5.7.1; quarantine: hold).",
                   .doc = R"roff(With
.BR yes ,
the DMARC stage applies the effective policy of a message that fails:
.B reject
answers
.RB \(dq "550 5.7.1" \(dq,
.B quarantine
quarantines it (Postfix: the hold queue),
.B none
never acts.
With
.BR no ,
it only adds its header.
RFC 9989 (section 5.4) advises receivers not to reject a message solely
because its domain publishes
.BR p=reject :
mailing lists and forwarders break DMARC routinely.)roff",
                   .programs = kMilter,
                   .stage = Stage::reload},
                  [](Settings& settings, [[maybe_unused]] const OptionSpec& option, const std::string& value) {
                      settings.dmarc.enforce = parse_boolean(option, value);
                  }},
    SettingOption{{.name = "dmarc-on-temperror",
                   .placeholder = "accept|tempfail",
                   .type = ValueType::choice,
                   .default_value = "accept",
                   .help = "What the DMARC stage does with a message whose result is temperror.",
                   .doc = R"roff(What the DMARC stage does with a message whose DMARC result is
.B temperror
(a bogus, SERVFAIL or timed\-out answer on the walk).
.B tempfail
answers
.RB \(dq "451 4.7.1" \(dq,
whether or not
.B dmarc\-enforce
is on.)roff",
                   .programs = kMilter,
                   .stage = Stage::reload,
                   .choices = kDmarcOnTemperrorChoices},
                  [](Settings& settings, [[maybe_unused]] const OptionSpec& option, const std::string& value) {
                      settings.dmarc.tempfail_on_temperror = parse_choice(option, value) == 1;
                  }},
};

constexpr auto kSettingSpecs = [] {
    std::array<OptionSpec, kSettingOptions.size()> specs{};
    for (std::size_t i = 0; i < specs.size(); ++i) {
        specs[i] = kSettingOptions[i].spec;
    }
    return specs;
}();

}  // namespace

const OptionSpec kConfigOption{.name = "config",
                               .placeholder = "FILE",
                               .help = "Read options from FILE (name = value); the command line wins.",
                               .doc = R"roff(Read options from
.I FILE
in the format of
.BR mtls-milter.conf (5);
the command line wins over the file.)roff",
                               .programs = kMilter | kCheck | kTlsPolicy,
                               .in_config = false};

std::span<const SettingOption> setting_options() {
    return kSettingOptions;
}

std::span<const OptionSpec> setting_specs() {
    return kSettingSpecs;
}

std::vector<OptionSpec> setting_specs_for(Program program) {
    std::vector<OptionSpec> specs;
    for (const auto& spec : kSettingSpecs) {
        if ((spec.programs & program) != 0U) {
            specs.push_back(spec);
        }
    }
    return specs;
}

std::vector<std::string> option_texts(const boost::program_options::variables_map& variables, Program program) {
    std::vector<std::string> texts;
    for (const auto& spec : kSettingSpecs) {
        if ((spec.programs & program) != 0U) {
            texts.push_back(option_text(variables, spec.name));
        }
    }
    return texts;
}

Settings settings_from_texts(Program program, const std::vector<std::string>& texts) {
    Settings settings;
    std::size_t next = 0;
    for (const auto& option : kSettingOptions) {
        if ((option.spec.programs & program) != 0U && next < texts.size()) {
            option.apply(settings, option.spec, texts[next++]);
        }
    }
    return settings;
}

Settings settings_from(const boost::program_options::variables_map& variables, Program program) {
    return settings_from_texts(program, option_texts(variables, program));
}

std::vector<std::string> trusted_authserv_ids(const Settings& settings) {
    std::vector<std::string> ids{settings.authserv_id};
    ids.insert(ids.end(), settings.dmarc.other_authserv_ids.begin(), settings.dmarc.other_authserv_ids.end());
    return ids;
}

Settings default_settings() {
    std::vector<std::string> texts;
    for (const auto& spec : setting_specs_for(kMilter)) {
        texts.emplace_back(spec.default_value);
    }
    return settings_from_texts(kMilter, texts);
}

std::string local_host_name() {
    std::array<char, 256> buffer{};
    if (gethostname(buffer.data(), buffer.size() - 1) != 0) {
        return "localhost";
    }
    return buffer.data();
}

}  // namespace mtls
