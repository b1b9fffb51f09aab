#include "check_options.h"

#include <array>

namespace mtls::check {
namespace {

constexpr std::array<OptionSpec, 8> kCheckOptions = {{
    {.name = "mail-from",
     .placeholder = "ADDR",
     .help = "MAIL FROM address (\"<>\" for the null sender).",
     .doc = R"roff(The envelope sender, as in MAIL FROM, with or without angle brackets;
.B \(dq<>\(dq
for the null sender.
Required, except with
.BR \-\-tlsa .)roff",
     .programs = kCheck,
     .in_config = false},
    {.name = "helo",
     .placeholder = "NAME",
     .help = "HELO/EHLO name.",
     .doc = R"roff(The HELO/EHLO name; only used for the null sender.)roff",
     .programs = kCheck,
     .in_config = false},
    {.name = "cert-name",
     .placeholder = "NAME",
     .type = ValueType::list,
     .help = "A DNS name of the client certificate (repeatable).",
     .doc = R"roff(A DNS name of the client certificate.
Repeat it for several names.
Without it, the client presented no certificate.)roff",
     .programs = kCheck,
     .in_config = false},
    {.name = "verified",
     .placeholder = "yes|no",
     .type = ValueType::boolean,
     .default_value = "yes",
     .help = "Whether the MTA verified the certificate chain.",
     .doc = R"roff(Whether the MTA verified the certificate chain.)roff",
     .programs = kCheck,
     .in_config = false},
    {.name = "tls",
     .placeholder = "yes|no",
     .type = ValueType::boolean,
     .default_value = "yes",
     .help = "Whether the session used TLS.",
     .doc = R"roff(Whether the session used TLS.)roff",
     .programs = kCheck,
     .in_config = false},
    {.name = "cert",
     .placeholder = "FILE",
     .help = "Read the client certificate from FILE (PEM: the certificate, then its intermediates) and verify it, "
             "instead of --cert-name and --verified.",
     .doc = R"roff(Read the client certificate from the PEM file
.IR FILE :
the end\-entity certificate first, then its intermediates, as the client
sends them (other PEM blocks, such as a private key, are skipped; at most
1 MiB and 16 certificates).
The chain is verified as RFC 5280 says, at the current time, against
.BR \-\-ca\-file / \-\-ca\-path
or else the system's trust store (on Debian
.IR /etc/ssl/certs ).
The certificate is
.B verified
only when the chain verifies and its extended key usage, if it has one,
includes
.B serverAuth
or
.BR clientAuth :
either will do, because public CAs issue only serverAuth certificates since
2026 and OpenSSL's own client purpose check would refuse those (see
.BR mtls-milter (8)).
An EKU with neither (for example only
.BR emailProtection ),
or a key usage without
.BR digitalSignature ,
makes it
.B unverified
with that reason.
Its names are the DNS names of its subjectAltName; the subject CN is used
only when the subjectAltName holds no DNS name, URI or SRV name (RFC 6125,
section 6.4.4).
Cannot be combined with
.BR \-\-cert\-name ,
.B \-\-verified
or
.BR \-\-tls ,
which describe the certificate instead.)roff",
     .programs = kCheck,
     .in_config = false},
    {.name = "tlsa",
     .placeholder = "yes|no",
     .type = ValueType::boolean,
     .default_value = "no",
     .help = "With --cert: print the certificate's SHA-256 digests and the DANE-EE TLSA records to publish for it.",
     .doc = R"roff(Print the TLSA records for the certificate of
.B \-\-cert
instead of checking a message; see
.BR "TLSA MODE" .)roff",
     .programs = kCheck,
     .in_config = false},
    {.name = "host",
     .placeholder = "NAME",
     .type = ValueType::list,
     .help = "With --tlsa: a host to print TLSA records for (repeatable); default: the Client MX hosts of "
             "--mail-from, else the certificate's names.",
     .doc = R"roff(With
.BR \-\-tlsa :
a host to print TLSA records for.
Repeat it for several hosts.)roff",
     .programs = kCheck,
     .in_config = false},
}};

}  // namespace

const OptionSpec kCheckHelpOption{.name = "help",
                                  .type = ValueType::command,
                                  .help = "Print this help and exit.",
                                  .doc = "Print the options with their defaults and the exit statuses, and exit.",
                                  .programs = kCheck,
                                  .in_config = false};

std::span<const OptionSpec> check_options() {
    return kCheckOptions;
}

}  // namespace mtls::check
