"""End-to-end test rig for mtls-milter.

The rig builds, inside one fresh temporary directory, everything a real
deployment has around the milter, and nothing from outside the machine:

* a test CA (``openssl`` CLI) with the client certificates in CERT_SPECS
  (good, wrong-name, SAN-only, expired, self-signed, unknown CA, IDN,
  wildcard ...) and Postfix's server certificate;
* DNS: NSD on 127.0.0.1 serving zones signed at test time with ldns
  (``test.`` is the trust anchor; ``secure.test.`` is validly signed,
  ``insecure.test.`` is an unsigned delegation, ``bogus.test.``,
  ``tampered.test.``, ``stripped.test.`` and ``wrongds.test.`` fail
  validation in different ways) and Client MX records, good and malformed,
  in RFC 3597 generic form; plus DNS servers that never answer or answer
  SERVFAIL/REFUSED (StubResponder);
* an unbound.conf for libunbound with stub zones and a trust anchor;
* a private Postfix instance (``postfix -c DIR``) whose smtpd uses the milter
  (with SMTPUTF8 and Cyrus SASL) and which hands every accepted message,
  byte for byte as the milter left it, to a pipe that writes it into
  ``inbox/new``;
* the real milter binary, started and restarted with any options.

Everything listens on loopback ports picked at run time, every wait is
bounded, and ``close()`` (also run at interpreter exit) stops every process
the rig started, so a failing or interrupted run leaves nothing behind.

Only the Python standard library and Debian's ``python3-authres`` are used:
run it with /usr/bin/python3.

Where things live (one module per part of the deployment, so that a new part
gets a module of its own beside them):

* ``base``: names every part shares (AUTHSERV_ID, RECIPIENT ...) and RigError;
* ``process``: running commands, bounded waits, ports, stopping processes;
* ``ca``: the test CA and CERT_SPECS;
* ``dns``: NSD, signed zones, Client MX and TLSA records, StubResponder;
* ``postfix``: a private Postfix instance (the receiving one, and the
  outbound rig's sender and receivers);
* ``netns``: a network + mount namespace of a rig's own;
* ``outbound``: the sending side's rig (sending Postfix, TLS policy server,
  receivers, NSD, unbound, MTA-STS over HTTPS, in a namespace);
* ``messages``: messages sent and delivered, Authentication-Results;
* ``swaks`` and ``smtp``: the two SMTP clients;
* ``milter_protocol``: a milter-protocol client that plays Sendmail's part;
* ``sendmail``: a real Sendmail from Debian's packages (imported by name;
  OpenDKIM or an MTA-STS server would each get a module too);
* ``sending_host``: a sending host's own SMTP server with STARTTLS, for
  certificate discovery (imported by name);
* ``rig``: the Rig that starts all of the above for a test module;
* ``requirements``: what the machine must provide;
* ``faults``: load, fault and hostile-client drivers (tests and
  scripts/reliability);
* ``conformance``: the rows of docs/CONFORMANCE.md; ``testcase``: the base
  class of the end-to-end tests.

The names below are the package's public API (``import rig``); ``sending_host``
and the last four modules are imported by name (``from rig import faults``).
"""

from .base import authres, AUTHSERV_ID, DEFAULT_CLIENT_MX_TYPE, RECIPIENT, RigError, SASL_PASSWORD, SASL_USER
from .process import (
    can_connect,
    die_with_parent,
    free_port,
    kill_process_group,
    log_tail,
    run,
    tcp_port_bindable,
    wait_until,
)
from .ca import CERT_SPECS, CertPair, CertSpec, TestCA
from .dns import (
    client_mx_rdata,
    client_mx_rr,
    DANE_CLIENT_MX,
    DANE_TLSA,
    dns_probe,
    DnsServer,
    encode_dns_name,
    generic_rr,
    MALFORMED_CLIENT_MX,
    StubResponder,
)
from .postfix import DEFAULT_MAIN_CF, PostfixInstance
from .messages import (
    authserv_id_of,
    DeliveredMessage,
    Header,
    message_text,
    new_subject,
    parse_auth_results,
    result_props,
)
from .swaks import parse_swaks_output, SendResult
from .smtp import SmtpClient
from .rig import close_all_rigs, Rig, shared_rig, start_module_rig
from .requirements import missing_requirements, REQUIRED_TOOLS, use_debian_python

__all__ = [
    "authres",
    "AUTHSERV_ID",
    "DEFAULT_CLIENT_MX_TYPE",
    "RECIPIENT",
    "RigError",
    "SASL_PASSWORD",
    "SASL_USER",
    "can_connect",
    "die_with_parent",
    "free_port",
    "kill_process_group",
    "log_tail",
    "run",
    "tcp_port_bindable",
    "wait_until",
    "CERT_SPECS",
    "CertPair",
    "CertSpec",
    "TestCA",
    "client_mx_rdata",
    "client_mx_rr",
    "DANE_CLIENT_MX",
    "DANE_TLSA",
    "dns_probe",
    "DnsServer",
    "encode_dns_name",
    "generic_rr",
    "MALFORMED_CLIENT_MX",
    "StubResponder",
    "DEFAULT_MAIN_CF",
    "PostfixInstance",
    "authserv_id_of",
    "DeliveredMessage",
    "Header",
    "message_text",
    "new_subject",
    "parse_auth_results",
    "result_props",
    "parse_swaks_output",
    "SendResult",
    "SmtpClient",
    "close_all_rigs",
    "Rig",
    "shared_rig",
    "start_module_rig",
    "missing_requirements",
    "REQUIRED_TOOLS",
    "use_debian_python",
]
