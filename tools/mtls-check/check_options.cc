#include "check_options.h"

#include <array>

namespace mtls::check {
namespace {

constexpr std::array<OptionSpec, 10> kCheckOptions = {{
    {.name = "mail-from",
     .placeholder = "ADDR",
     .help = "MAIL FROM address (\"<>\" for the null sender).",
     .programs = kCheck,
     .in_config = false},
    {.name = "helo", .placeholder = "NAME", .help = "HELO/EHLO name.", .programs = kCheck, .in_config = false},
    {.name = "cert-name",
     .placeholder = "NAME",
     .type = ValueType::list,
     .help = "A DNS name of the client certificate (repeatable).",
     .programs = kCheck,
     .in_config = false},
    {.name = "verified",
     .placeholder = "yes|no",
     .type = ValueType::boolean,
     .default_value = "yes",
     .help = "Whether the MTA verified the certificate chain.",
     .programs = kCheck,
     .in_config = false},
    {.name = "tls",
     .placeholder = "yes|no",
     .type = ValueType::boolean,
     .default_value = "yes",
     .help = "Whether the session used TLS.",
     .programs = kCheck,
     .in_config = false},
    {.name = "cert",
     .placeholder = "FILE",
     .help = "Read the client certificate from FILE (PEM: the certificate, then its intermediates) and verify it, "
             "instead of --cert-name and --verified.",
     .programs = kCheck,
     .in_config = false},
    {.name = "ca-file",
     .placeholder = "FILE",
     .help = "Trust anchors for --cert (PEM) instead of the system store.",
     .programs = kCheck,
     .in_config = false},
    {.name = "ca-path",
     .placeholder = "DIR",
     .help = "Directory of hashed trust anchors for --cert instead of the system store.",
     .programs = kCheck,
     .in_config = false},
    {.name = "tlsa",
     .placeholder = "yes|no",
     .type = ValueType::boolean,
     .default_value = "no",
     .help = "With --cert: print the certificate's SHA-256 digests and the DANE-EE TLSA records to publish for it.",
     .programs = kCheck,
     .in_config = false},
    {.name = "host",
     .placeholder = "NAME",
     .type = ValueType::list,
     .help = "With --tlsa: a host to print TLSA records for (repeatable); default: the Client MX hosts of "
             "--mail-from, else the certificate's names.",
     .programs = kCheck,
     .in_config = false},
}};

}  // namespace

std::span<const OptionSpec> check_options() {
    return kCheckOptions;
}

}  // namespace mtls::check
