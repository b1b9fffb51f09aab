#!/usr/bin/python3
"""End-to-end tests through a real Sendmail: swaks -> Debian's Sendmail
8.17 (downloaded and extracted by rig/sendmail.py, attached to the milter
with the lines of conf/sendmail.mc) -> the real mtls-milter -> libunbound ->
NSD, and out of Sendmail's capture mailer into a file we read.

The milter_protocol tests play Sendmail's part with the macros Sendmail is
documented to send; these show what it really sends. One Sendmail per test
class, beside the shared rig's Postfix; the milter is the shared rig's.

If Sendmail's packages cannot be downloaded, the tests fail (setUpClass
raises): a suite that skipped them would report Sendmail support as tested.

Run through run_tests.py:
    /usr/bin/python3 tests/integration/run_tests.py --build-dir build test_sendmail
"""

import re

from rig import AUTHSERV_ID, authserv_id_of, shared_rig, wait_until
from rig.conformance import SENDMAIL, row
from rig.sending_host import SendingHost
from rig.sendmail import HOSTNAME, queue_id_of, snippet_lines, SNIPPET, start_sendmail
from rig.testcase import describe, RigTestCase

README = SNIPPET.parents[1] / "README.md"
MAN_PAGE = SNIPPET.parents[1] / "man" / "mtls-milter.8"


def sendmail_tls_verdict(msg):
    """Sendmail's own view of the client certificate, from its Received:
    header: the ``verify=`` value (OK, NO, FAIL ...), or "no tls" when the
    session was not encrypted. Tests assert it so that a wrong premise
    cannot make a test pass for the wrong reason."""
    for value in msg.get_all("Received"):
        if f"by {HOSTNAME}" not in value:
            continue
        m = re.search(r"\bverify=([A-Z]+)", value)
        return m.group(1) if m else "no tls"
    return None


class SendmailTestCase(RigTestCase):
    """Sends through a Sendmail of the class's own, attached to the shared
    rig's milter."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sendmail = start_sendmail(cls.rig, cls.rig.dir / f"sendmail-{cls.__name__}")

    @classmethod
    def tearDownClass(cls):
        cls.sendmail.stop()
        super().tearDownClass()

    def deliver(self, **send_kwargs):
        sent = self.rig.send(port=self.sendmail.smtp_port, **send_kwargs)
        return sent, self.rig.wait_delivered(sent.subject)

    def check(self, expected, identity, verify=None, **kwargs):
        """RigTestCase.check through Sendmail; ``verify``: what Sendmail's
        Received: must say about the certificate (the test's premise)."""
        sent, msg, result = super().check(expected, identity, **kwargs)
        if verify is not None:
            self.assertEqual(
                sendmail_tls_verdict(msg),
                verify,
                f"test premise broken: Sendmail saw the client certificate differently:\n{describe(msg)}",
            )
        return sent, msg, result

    def log_record(self, sent):
        queue_id = queue_id_of(sent.reply)
        self.assertTrue(queue_id, f"no queue id in Sendmail's reply: {sent.reply}")
        return self.rig.wait_log_record(queue_id)


class SendmailVerdictTests(SendmailTestCase):
    """The core verdicts, with Sendmail's {verify} deciding what was verified."""

    @row(
        SENDMAIL,
        "Debian's Sendmail 8.17: verified certificate, CN = Client MX host",
        "swaks -> Sendmail, STARTTLS, cert CN out1.secure.test from the CA in confCACERT; {verify}=OK",
        "pass, smtp.mailfrom=secure.test, evidence=sendmail-macros",
    )
    def test_pass_matching_certificate(self):
        sent, msg, result = self.check(
            "pass",
            "secure.test",
            verify="OK",
            reason="",
            comment="certificate name out1.secure.test",
            mail_from="alice@secure.test",
            cert="out1.secure.test",
        )
        record = self.log_record(sent)
        self.assertEqual(record["evidence"], "sendmail-macros", record)
        self.assertEqual(record["tls"], "verified", record)
        self.assertEqual(record["cert_names"], ["out1.secure.test"], record)

    @row(
        SENDMAIL,
        "Debian's Sendmail 8.17: verified certificate with another name",
        "cert CN rogue.secure.test; {verify}=OK",
        'fail, reason="certificate name matches no Client MX host"',
    )
    def test_fail_wrong_certificate_name(self):
        self.check(
            "fail",
            "secure.test",
            verify="OK",
            reason="certificate name matches no Client MX host",
            mail_from="alice@secure.test",
            cert="rogue.secure.test",
        )

    @row(
        SENDMAIL,
        "Debian's Sendmail 8.17: no STARTTLS",
        "plain SMTP: Sendmail defines no {verify} at all; its v macro is 8.17.1.9",
        'fail, reason="TLS not used", log evidence=sendmail-macros',
    )
    def test_fail_without_tls(self):
        sent, msg, result = self.check(
            "fail",
            "secure.test",
            verify="no tls",
            reason="TLS not used",
            mail_from="alice@secure.test",
            tls=False,
        )
        record = self.log_record(sent)
        self.assertEqual(record["tls"], "no-tls", record)
        self.assertEqual(record["evidence"], "sendmail-macros", record)

    @row(
        SENDMAIL,
        "Debian's Sendmail 8.17: STARTTLS without a client certificate",
        "TLS, no certificate; {verify}=NO",
        'fail, reason="no client certificate"',
    )
    def test_fail_tls_without_client_certificate(self):
        self.check(
            "fail",
            "secure.test",
            verify="NO",
            reason="no client certificate",
            mail_from="alice@secure.test",
            tls=True,
        )

    @row(
        SENDMAIL,
        "Debian's Sendmail 8.17: certificate without CN",
        "cert with SAN DNS:out1.secure.test only; {verify}=OK, {cn_subject}=BadCertificateUnknown",
        'fail, reason="client certificate has no usable host name"; the placeholder is no name',
    )
    def test_fail_certificate_without_cn(self):
        sent, msg, result = self.check(
            "fail",
            "secure.test",
            verify="OK",
            reason="client certificate has no usable host name",
            mail_from="alice@secure.test",
            cert="san-only",
        )
        record = self.log_record(sent)
        self.assertEqual(record["cert_names"], [], record)
        self.assertEqual(len(record["unusable_cert_names"]), 1, record)
        self.assertTrue(
            record["unusable_cert_names"][0].startswith("BadCertificateUnknown (Sendmail's placeholder"),
            record,
        )

    @row(
        SENDMAIL,
        "Debian's Sendmail 8.17: serverAuth-only certificate (public CAs since 2026)",
        "right CN, EKU serverAuth only; Sendmail checks purpose sslclient: {verify}=FAIL",
        'fail, reason="client certificate not verified" (what the MTA says; certificate discovery is to make '
        "it pass)",
    )
    def test_fail_server_auth_only_certificate(self):
        self.check(
            "fail",
            "secure.test",
            verify="FAIL",
            reason="client certificate not verified",
            mail_from="alice@secure.test",
            cert="server-auth-only",
        )

    @row(
        SENDMAIL,
        "Debian's Sendmail 8.17: domain without Client MX",
        "MAIL FROM alice@nomx.secure.test; cert out1.secure.test",
        "none",
    )
    def test_none_without_client_mx(self):
        self.check("none", "nomx.secure.test", mail_from="alice@nomx.secure.test", cert="out1.secure.test")

    @row(
        SENDMAIL,
        "Debian's Sendmail 8.17: bogus zone",
        "MAIL FROM alice@bogus.test (expired RRSIGs); cert out1.bogus.test",
        "temperror (DNSSEC bogus)",
    )
    def test_temperror_bogus_dnssec(self):
        self.check(
            "temperror",
            "bogus.test",
            comment="DNSSEC bogus",
            mail_from="alice@bogus.test",
            cert="out1.bogus.test",
        )

    @row(
        SENDMAIL,
        "Debian's Sendmail 8.17: null sender",
        "MAIL FROM:<>; EHLO out1.secure.test; cert out1.secure.test",
        "pass, smtp.helo=out1.secure.test",
    )
    def test_null_sender_uses_helo(self):
        self.check(
            "pass",
            "out1.secure.test",
            ptype="smtp.helo",
            verify="OK",
            mail_from="<>",
            helo="out1.secure.test",
            cert="out1.secure.test",
        )


class SendmailHeaderTests(SendmailTestCase):
    """Where the header goes and what happens to forged ones, as Sendmail
    applies the milter's header actions."""

    @row(
        SENDMAIL,
        "Debian's Sendmail 8.17: header placement",
        "any pass message",
        "our A-R is the first header, directly above Sendmail's own Received:",
    )
    def test_header_above_sendmails_received(self):
        sent, msg = self.deliver(mail_from="alice@secure.test", cert="out1.secure.test")
        self.assert_verdict(msg, "pass", "secure.test")
        headers = describe(msg)
        self.assertEqual(msg.headers[1].name.lower(), "received", headers)
        self.assertIn(f"by {HOSTNAME}", msg.headers[1].value, headers)

    @row(
        SENDMAIL,
        "Debian's Sendmail 8.17: forged A-R with our authserv-id",
        "two forged A-R headers (ours, upper-case and folded) around one of another authserv-id",
        "both removed; the other kept verbatim; ours first",
    )
    def test_forged_headers_removed(self):
        forged = [
            f"Authentication-Results: {AUTHSERV_ID.upper()}; mtls=pass smtp.mailfrom=evil.test",
            f"Authentication-Results: {AUTHSERV_ID};\r\n\tmtls=pass\r\n\tsmtp.mailfrom=evil.test",
        ]
        kept = "Authentication-Results: other.example; spf=pass smtp.mailfrom=x"
        sent, msg = self.deliver(
            mail_from="alice@secure.test", cert="out1.secure.test", extra_headers=[forged[0], kept, forged[1]]
        )
        headers = describe(msg)
        self.assert_verdict(msg, "pass", "secure.test")
        self.assertNotIn(
            "evil.test", msg.raw.decode("utf-8", "replace"), f"a forged header survived:\n{headers}"
        )
        others = [v for v in msg.auth_results() if authserv_id_of(v) != AUTHSERV_ID]
        self.assertEqual(others, [kept.split(":", 1)[1].strip()], headers)


class SendmailMacroTests(SendmailTestCase):
    """What Sendmail really sends the milter (traced with -d64.10), and that
    the documentation shows the snippet the rig attaches it with."""

    def mail_stage_macros(self, **send_kwargs):
        """{macro: value} Sendmail sent at MAIL for one message."""
        already = len(self.sendmail.macros_sent())
        self.deliver(**send_kwargs)

        def traced():  # the end of message's macros come last
            new = self.sendmail.macros_sent()[already:]
            return new if any(stage == "E" for stage, _, _ in new) else None

        new = wait_until(traced, 10, "Sendmail's -d64.10 trace of the message")
        return {name: value for stage, name, value in new if stage == "M"}

    def test_macros_without_starttls(self):
        """No {verify} at all without STARTTLS (not NONE or CLEAR, which are
        Sendmail's outbound values), and v, which tells it from Postfix."""
        macros = self.mail_stage_macros(mail_from="alice@secure.test", tls=False)
        self.assertNotIn("{verify}", macros)
        self.assertNotIn("{tls_version}", macros)
        self.assertEqual(macros.get("v"), "8.17.1.9", macros)

    def test_macros_of_a_certificate_without_cn(self):
        """Sendmail's placeholder for a missing CN, and {cert_fp} as SHA-256
        with conf/sendmail.mc's confCERT_FINGERPRINT_ALGORITHM."""
        macros = self.mail_stage_macros(mail_from="alice@secure.test", cert="san-only")
        self.assertEqual(macros.get("{verify}"), "OK", macros)
        self.assertEqual(macros.get("{cn_subject}"), "BadCertificateUnknown", macros)
        self.assertEqual(macros.get("{tls_version}"), "TLSv1.3", macros)
        self.assertEqual(
            macros.get("{cert_fp}", "").replace(":", "").lower(),
            self.rig.ca.tlsa_digest("san-only", 0),
            macros,
        )

    def test_snippet_in_readme_and_man_page(self):
        """README.md and mtls-milter(8) show conf/sendmail.mc's lines, in
        order; the rig attaches the milter with exactly those."""
        lines = snippet_lines()
        readme = README.read_text()
        self.assertIn("```\n" + "\n".join(lines) + "\n```", readme)
        man = MAN_PAGE.read_text()
        roff = [line.replace("-", "\\-").replace("`", "\\(ga").replace("'", "\\(aq") for line in lines]
        self.assertIn(".nf\n" + "\n".join(roff) + "\n.fi", man)


class SendmailDiscoveryTests(SendmailTestCase):
    """Certificate discovery with Sendmail's {cert_fp}: the serverAuth-only
    certificate Sendmail calls {verify}=FAIL passes when the sending host
    serves it on port 25 of its own address (rig/sending_host.py)."""

    SENDING_ADDRESS = "127.0.13.7"  # test_discovery.py uses the rest of 127.0.13.0/24

    @classmethod
    def setUpClass(cls):
        cls.host = None
        rig = shared_rig(**cls.rig_options)  # the one setUpClass uses: the milter starts once
        cls.milter_options = {
            "cert_discovery": "connect-back",
            "cert_discovery_networks": f"{cls.SENDING_ADDRESS}/32",
            "ca_file": str(rig.ca.ca.cert),
        }
        super().setUpClass()
        try:
            cls.host = SendingHost(cls.SENDING_ADDRESS, cls.rig.cert("server-auth-only")).start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.host is not None:
            cls.host.stop()
        super().tearDownClass()

    @row(
        SENDMAIL,
        "Debian's Sendmail 8.17: serverAuth-only certificate, cert-discovery on",
        "right CN, EKU serverAuth only ({verify}=FAIL); the sending host serves the same certificate on port 25",
        'pass, reason="discovered" (the fingerprint from {cert_fp}; the chain validated against ca-file)',
    )
    def test_pass_server_auth_only_certificate_by_discovery(self):
        sent, _, _ = self.check(
            "pass",
            "secure.test",
            verify="FAIL",
            reason="discovered",
            comment="discovered certificate name out1.secure.test",
            mail_from="alice@secure.test",
            cert="server-auth-only",
            local_interface=self.SENDING_ADDRESS,
        )
        record = self.log_record(sent)
        self.assertEqual(record.get("via"), "discovered", record)
        self.assertEqual(self.host.counts()[1], 1, "one TLS handshake with the sending host")
