#!/usr/bin/python3
"""The real mtls-milter driven over the milter protocol by milter_client.py
playing Sendmail: {verify} OK/FAIL/NO/..., {cn_subject} xtext-encoded,
{cert_subject} a full DN; the exact header actions (deletions highest index
first, our header inserted at index 0); SMTP-AUTH and ignore-hosts; policy
replies; and envelope text no MTA would let through (CR, LF, 8-bit), which
must still give one well-formed header.

The milter is the one the shared rig runs (it talks to the rig's NSD), so
the DNS side is as real as in the end-to-end tests.

Run through run_tests.py, or directly:
    MTLS_BUILD_DIR=build /usr/bin/python3 -m unittest -v test_milter_protocol
"""

import unittest

from rig import milter_protocol as mc
import rig as rigmod
from rig.conformance import HEADERS, POLICY, SENDMAIL, row
from rig.testcase import RigTestCase
from rig import AUTHSERV_ID, result_props

AR = "Authentication-Results"


def sendmail_macros(
    verify="OK",
    cn="out1.secure.test",
    cert_subject=None,
    tls=True,
    auth=None,
    queue_id="QID0001",
    mail_addr="alice@secure.test",
):
    """The macros Sendmail 8.17 has at each stage for a client that did
    STARTTLS (``tls``) and presented a certificate whose CN is ``cn``
    (xtext-encoded, as Sendmail sends it). None leaves a macro undefined."""
    tls_macros = {}
    if tls:
        tls_macros.update(
            {"{tls_version}": "TLSv1.3", "{cipher}": "TLS_AES_256_GCM_SHA384", "{cipher_bits}": "256"}
        )
    if verify is not None:
        tls_macros["{verify}"] = verify
    if cn is not None:
        tls_macros["{cn_subject}"] = cn
        tls_macros["{cert_subject}"] = cert_subject or f"/C=ZZ/O=Sender/CN={cn}"
        tls_macros["{cn_issuer}"] = "mtls-milter+20Test+20CA"
        tls_macros["{cert_issuer}"] = "/O=mtls-milter+20tests/CN=mtls-milter+20Test+20CA"
    elif cert_subject is not None:
        tls_macros["{cert_subject}"] = cert_subject
    mail = {"i": queue_id, "{mail_addr}": mail_addr, "{mail_mailer}": "esmtp", **tls_macros}
    if auth:
        mail.update({"{auth_type}": "PLAIN", "{auth_authen}": auth})
    return {
        "C": {"j": "mx.inbox.test", "{daemon_name}": "MTA", "{if_addr}": "127.0.0.1"},
        "H": dict(tls_macros),
        "M": mail,
        "E": {"i": queue_id},
    }


def postfix_macros(cert_subject, queue_id="QID0002"):
    """Postfix's view: no {verify}; {cert_subject} is the CN, defined only
    for a verified chain (None: undefined)."""
    tls = {"{tls_version}": "TLSv1.3", "{cipher}": "TLS_AES_256_GCM_SHA384", "{cipher_bits}": "256"}
    if cert_subject is not None:
        tls.update({"{cert_subject}": cert_subject, "{cert_issuer}": "mtls-milter Test CA"})
    return {"H": dict(tls), "M": {"i": queue_id, **tls}, "E": {"i": queue_id}}


BASE_HEADERS = [
    ("From", " <alice@secure.test>"),
    ("To", " <user@inbox.test>"),
    ("Subject", " milter protocol test"),
]


class MilterProtocolCase(RigTestCase):
    """Talks to the shared rig's milter directly, one connection per test."""

    def setUp(self):
        self.milter = mc.MilterClient(self.rig.milter_address, timeout=15)
        self.addCleanup(lambda: self.milter.close())
        self.negotiated = self.milter.negotiate()

    def message(
        self,
        mail_from="<alice@secure.test>",
        helo="out1.secure.test",
        macros=None,
        headers=(),
        first=True,
        client=("out1.secure.test", "127.0.0.1"),
    ):
        """One message; the connection's first also sends CONNECT and HELO."""
        return self.milter.send_message(
            mail_from,
            headers=[*BASE_HEADERS, *headers],
            body=b"Body.\r\n",
            connect=client if first else None,
            helo=helo if first else None,
            macros=macros if macros is not None else sendmail_macros(),
        )

    def verdict(self, result, expected, identity, ptype="smtp.mailfrom", reason=None):
        """Exactly one header action adding our A-R, at index 0; it parses
        (authres) into exactly one mtls result with this result, identity
        (None: no smtp.* property) and reason (None: not checked)."""
        info = result.describe()
        self.assertEqual(result.final, mc.Reply(mc.SMFIR_CONTINUE), info)
        inserts = [m for m in result.modifications if isinstance(m, (mc.InsertHeader, mc.AddHeader))]
        self.assertEqual(len(inserts), 1, info)
        insert = inserts[0]
        self.assertIsInstance(insert, mc.InsertHeader, info)
        self.assertEqual((insert.index, insert.name), (0, AR), info)
        value = insert.value
        self.assertTrue(value.isascii() and "\r" not in value and "\0" not in value, info)
        for line in value.split("\n")[1:]:
            self.assertIn(line[:1], (" ", "\t"), f"not a folded continuation: {value!r}")
        parsed = rigmod.parse_auth_results(value.replace("\n", ""))
        self.assertEqual(parsed.authserv_id.lower(), AUTHSERV_ID, info)
        self.assertEqual([r.method for r in parsed.results], ["mtls"], info)
        got = parsed.results[0]
        self.assertEqual(got.result, expected, info)
        props = result_props(got)
        if identity is None:
            self.assertFalse([p for p in props if p.startswith("smtp.")], info)
        else:
            self.assertEqual(props.get(ptype), identity, info)
        if reason is not None:
            self.assertEqual(got.reason or "", reason, info)
        return got


# --------------------------------------------------------------------------
# Sendmail's TLS macros
# --------------------------------------------------------------------------


class SendmailMacroTests(MilterProtocolCase):
    @row(
        SENDMAIL,
        "{verify}=OK, {cn_subject} names the Client MX host",
        "{verify}=OK, {cn_subject}=out1.secure.test, {cert_subject}=/C=ZZ/O=Sender/CN=...",
        "pass; exactly one action: INSHEADER index 0; CONTINUE",
    )
    def test_verify_ok_passes(self):
        result = self.message()
        self.assertEqual(len(result.modifications), 1, result.describe())
        self.verdict(result, "pass", "secure.test")

    @row(
        SENDMAIL,
        "{verify}=FAIL",
        "certificate presented, chain did not verify; CN matches",
        'fail, reason="client certificate not verified"',
    )
    def test_verify_fail(self):
        self.verdict(
            self.message(macros=sendmail_macros(verify="FAIL")),
            "fail",
            "secure.test",
            reason="client certificate not verified",
        )

    @row(
        SENDMAIL, "{verify}=NO", "STARTTLS, no certificate presented", 'fail, reason="no client certificate"'
    )
    def test_verify_no(self):
        self.verdict(
            self.message(macros=sendmail_macros(verify="NO", cn=None)),
            "fail",
            "secure.test",
            reason="no client certificate",
        )

    @row(
        SENDMAIL,
        "{verify}=NOT",
        "STARTTLS, certificate not requested",
        'fail, reason="no client certificate"',
    )
    def test_verify_not(self):
        self.verdict(
            self.message(macros=sendmail_macros(verify="NOT", cn=None)),
            "fail",
            "secure.test",
            reason="no client certificate",
        )

    @row(SENDMAIL, "{verify}=NONE, no TLS macros", "no STARTTLS", 'fail, reason="TLS not used"')
    def test_verify_none(self):
        self.verdict(
            self.message(macros=sendmail_macros(verify="NONE", cn=None, tls=False)),
            "fail",
            "secure.test",
            reason="TLS not used",
        )

    @row(
        SENDMAIL,
        "{verify}=OK but no TLS macros",
        "{verify}=OK, {cn_subject} set, no {tls_version}/{cipher}",
        'fail, reason="TLS not used" (OK without a TLS session is not believed)',
    )
    def test_verify_ok_without_tls(self):
        self.verdict(
            self.message(macros=sendmail_macros(tls=False)), "fail", "secure.test", reason="TLS not used"
        )

    @row(
        SENDMAIL,
        "{verify}=TEMP / PROTOCOL / SOFTWARE",
        "verification could not be completed; CN matches",
        'fail, reason="client certificate not verified"',
    )
    def test_verify_other_failures(self):
        for verify in ("TEMP", "PROTOCOL", "SOFTWARE"):
            with self.subTest(verify=verify):
                result = self.message(macros=sendmail_macros(verify=verify), first=verify == "TEMP")
                self.verdict(result, "fail", "secure.test", reason="client certificate not verified")

    @row(
        SENDMAIL,
        "{cn_subject} xtext-encoded",
        "{cn_subject}=out1+2Esecure+2Etest",
        "pass (decoded to out1.secure.test)",
    )
    def test_xtext_decoded(self):
        self.verdict(self.message(macros=sendmail_macros(cn="out1+2Esecure+2Etest")), "pass", "secure.test")

    @row(
        SENDMAIL,
        "{cn_subject} xtext-encoded UTF-8 (IDN)",
        "{cn_subject}=b+C3+BCcher.secure.test; MAIL FROM alice@xn--bcher-kva.secure.test",
        "pass, smtp.mailfrom=xn--bcher-kva.secure.test (decoded, then A-label)",
    )
    def test_xtext_idn(self):
        result = self.message(
            mail_from="<alice@xn--bcher-kva.secure.test>",
            macros=sendmail_macros(cn="b+C3+BCcher.secure.test"),
        )
        self.verdict(result, "pass", "xn--bcher-kva.secure.test")

    @row(
        SENDMAIL,
        "{cn_subject} not valid xtext",
        "{cn_subject}=out1+zzsecure.test",
        'fail, reason="client certificate has no usable host name"',
    )
    def test_xtext_invalid(self):
        self.verdict(
            self.message(macros=sendmail_macros(cn="out1+zzsecure.test")),
            "fail",
            "secure.test",
            reason="client certificate has no usable host name",
        )

    @row(
        SENDMAIL,
        "Only the full DN, no {cn_subject}",
        "{verify}=OK, {cert_subject}=/CN=out1.secure.test, {cn_subject} undefined",
        'fail, reason="client certificate has no usable host name" (a DN is never read as a name)',
    )
    def test_full_dn_is_not_a_name(self):
        macros = sendmail_macros(cn=None, cert_subject="/CN=out1.secure.test")
        self.verdict(
            self.message(macros=macros),
            "fail",
            "secure.test",
            reason="client certificate has no usable host name",
        )

    @row(
        SENDMAIL,
        "{cn_subject} carrying injection text",
        "{cn_subject}=out1.secure.test;+0D+0AX-Evil:+201 (xtext for CR LF and space)",
        "fail, no usable name; one well-formed header",
    )
    def test_cn_injection(self):
        result = self.message(macros=sendmail_macros(cn="out1.secure.test;+0D+0AX-Evil:+201"))
        self.verdict(result, "fail", "secure.test", reason="client certificate has no usable host name")

    @row(
        SENDMAIL,
        "Postfix macros over the protocol",
        "no {verify}; {cert_subject}=out1.secure.test / undefined / empty",
        'pass / fail "no verified client certificate" / ' 'fail "client certificate has no usable host name"',
    )
    def test_postfix_semantics(self):
        cases = [
            ("out1.secure.test", "pass", None),
            (None, "fail", "no verified client certificate"),
            ("", "fail", "client certificate has no usable host name"),
        ]
        for subject, expected, reason in cases:
            with self.subTest(cert_subject=subject):
                # A connection per case: libmilter keeps HELO-stage macros
                # for the whole connection, as TLS state is per connection.
                self.milter.close()
                self.milter = mc.MilterClient(self.rig.milter_address, timeout=15)
                self.milter.negotiate()
                result = self.message(macros=postfix_macros(subject))
                self.verdict(result, expected, "secure.test", reason=reason)

    @row(
        SENDMAIL,
        "Macros sent as the filter's symbol lists say",
        "negotiation reply",
        "the milter asks for {verify} and {cn_subject} at HELO and MAIL "
        "(not in Sendmail's defaults) and for {auth_authen} at MAIL",
    )
    def test_symbol_lists(self):
        lists = self.negotiated.symlists
        for stage in ("H", "M"):
            for name in ("{verify}", "{cn_subject}", "{cert_subject}", "{tls_version}"):
                self.assertIn(name, lists.get(stage, []), lists)
        self.assertIn("{auth_authen}", lists["M"], lists)
        self.assertIn("i", lists["E"], lists)

    @row(
        SENDMAIL,
        "DATA is negotiated and answered",
        "negotiation reply; one message with the DATA stage's macros",
        "neither SMFIP_NODATA nor SMFIP_NR_DATA; DATA gets CONTINUE: Postfix sends the DATA macros "
        "even for a skipped step, and only a reply acknowledges them at once (on an inet socket "
        "the headers would otherwise wait about 40 ms for a delayed ACK; docs/PERFORMANCE.md)",
    )
    def test_data_answered(self):
        self.assertFalse(
            self.negotiated.protocol & (mc.SMFIP_NODATA | mc.SMFIP_NR_DATA), hex(self.negotiated.protocol)
        )
        macros = sendmail_macros()
        macros["T"] = {"i": "DATA1"}
        result = self.message(macros=macros)
        self.assertIn("T", result.sent, result.describe())
        self.assertEqual(result.replies.get("data"), mc.Reply(mc.SMFIR_CONTINUE), result.describe())
        self.verdict(result, "pass", "secure.test")


class HeaderActionTests(MilterProtocolCase):
    @row(
        HEADERS,
        "Exact header actions for forged headers",
        "A-R headers #1 ours, #2 other.example, #3 OURS in upper case with lower-case "
        "field name, #4 ours quoted",
        "CHGHEADER delete #4, #3, #1 (highest first), then INSHEADER index 0; nothing else",
    )
    def test_exact_actions(self):
        headers = [
            (AR, f" {AUTHSERV_ID}; mtls=pass smtp.mailfrom=evil.test"),
            (AR, " other.example; spf=pass smtp.mailfrom=x"),
            ("authentication-results", f" {AUTHSERV_ID.upper()}; mtls=pass"),
            ("Received", " from x by y"),
            (AR, f' "{AUTHSERV_ID}"; dkim=pass'),
        ]
        result = self.message(headers=headers)
        mods = result.modifications
        self.assertEqual(
            mods[:-1],
            [mc.ChangeHeader(4, AR, ""), mc.ChangeHeader(3, AR, ""), mc.ChangeHeader(1, AR, "")],
            result.describe(),
        )
        self.verdict(result, "pass", "secure.test")
        self.assertIsInstance(mods[-1], mc.InsertHeader)

    @row(
        HEADERS,
        "No forged headers: no deletions",
        "only other.example's A-R",
        "exactly one action, INSHEADER index 0",
    )
    def test_nothing_to_delete(self):
        result = self.message(headers=[(AR, " other.example; spf=pass")])
        self.assertEqual(len(result.modifications), 1, result.describe())
        self.verdict(result, "pass", "secure.test")

    @row(
        HEADERS,
        "Folded forged header as the MTA passes it",
        'value "mx.inbox.test;\\n\\tmtls=pass" (line break inside the value)',
        "deleted",
    )
    def test_folded_value(self):
        result = self.message(headers=[(AR, f" {AUTHSERV_ID};\n\tmtls=pass\n\tsmtp.mailfrom=x")])
        self.assertEqual(result.modifications[0], mc.ChangeHeader(1, AR, ""), result.describe())
        self.verdict(result, "pass", "secure.test")

    @row(
        SENDMAIL,
        "Several messages on one milter connection with ABORT",
        "message 1 (nomx) aborted after MAIL; message 2 alice@secure.test; message 3 " "bob@nomx.secure.test",
        "no action for the aborted one; pass, then none, each with its own single header",
    )
    def test_abort_between_messages(self):
        self.assertEqual(
            self.milter.connect("out1.secure.test", "127.0.0.1", macros=sendmail_macros()["C"]).code,
            mc.SMFIR_CONTINUE,
        )
        self.milter.helo("out1.secure.test", macros=sendmail_macros()["H"])
        self.milter.mail("<eve@nomx.secure.test>", macros=sendmail_macros()["M"])
        self.milter.abort()
        second = self.message(first=False)
        self.verdict(second, "pass", "secure.test")
        third = self.message(
            mail_from="<bob@nomx.secure.test>", first=False, macros=sendmail_macros(queue_id="QID0003")
        )
        self.verdict(third, "none", "nomx.secure.test")


class EnvelopeInjectionTests(MilterProtocolCase):
    """Text an MTA should never pass, sent anyway: the milter's header must
    stay one field with one mtls result."""

    @row(
        HEADERS,
        "MAIL FROM with CR LF and a header after it",
        "MAIL <alice@secure.test>\\r\\nAuthentication-Results: mx.inbox.test; mtls=pass",
        'permerror, reason="invalid MAIL FROM address", no smtp.mailfrom; one field',
    )
    def test_crlf_in_mail_from(self):
        result = self.message(mail_from=f"<alice@secure.test>\r\n{AR}: {AUTHSERV_ID}; mtls=pass")
        self.verdict(result, "permerror", None, reason="invalid MAIL FROM address")

    @row(
        HEADERS,
        "MAIL FROM texts Postfix refuses, given to the milter anyway",
        "<alice@secure.test;mtls=pass>, 64-character label, 5000-character address, "
        "Latin-1 byte, quoted domain",
        "permerror, no smtp.mailfrom; one field",
    )
    def test_refused_texts(self):
        texts = [
            "<alice@secure.test;mtls=pass>",
            f"<alice@{'a' * 64}.secure.test>",
            "<alice@" + "a." * 2500 + "test>",
            b"<alice@b\xfccher.secure.test>".decode("utf-8", "surrogateescape"),
            '<alice@"mtls=pass">',
        ]
        for i, text in enumerate(texts):
            with self.subTest(mail_from=text[:40]):
                self.verdict(
                    self.message(mail_from=text, first=i == 0),
                    "permerror",
                    None,
                    reason="invalid MAIL FROM address",
                )

    @row(
        HEADERS,
        "HELO with CR LF (null sender)",
        "HELO out1.secure.test\\r\\nX: y; MAIL FROM:<>",
        'permerror, reason="invalid HELO name for null sender"; one field',
    )
    def test_crlf_in_helo(self):
        result = self.message(mail_from="<>", helo="out1.secure.test\r\nX: y")
        self.verdict(result, "permerror", None, ptype="smtp.helo", reason="invalid HELO name for null sender")


class MtaCapabilityTests(RigTestCase):
    """Negotiation with MTAs that offer less than Sendmail 8.14+."""

    @row(
        SENDMAIL,
        "MTA without SMFIF_SETSYMLIST and SMFIP_NR_HDR",
        "offer: every action but SETSYMLIST, every step but NR_HDR",
        "no symbol lists; a CONTINUE per header; pass",
    )
    def test_older_mta(self):
        actions = mc.ALL_ACTIONS & ~mc.SMFIF_SETSYMLIST
        protocol = mc.ALL_STEPS & ~mc.SMFIP_NR_HDR
        with mc.MilterClient(self.rig.milter_address, actions=actions, protocol=protocol) as milter:
            negotiated = milter.negotiate()
            self.assertEqual(negotiated.symlists, {})
            result = milter.send_message(
                "<alice@secure.test>",
                headers=BASE_HEADERS,
                connect=("out1.secure.test", "127.0.0.1"),
                helo="out1.secure.test",
                macros=sendmail_macros(),
            )
        header_replies = [r for k, r in result.replies.items() if k.startswith("header")]
        self.assertEqual(header_replies, [mc.Reply(mc.SMFIR_CONTINUE)] * len(BASE_HEADERS), result.describe())
        inserts = [m for m in result.modifications if isinstance(m, mc.InsertHeader)]
        self.assertEqual(len(inserts), 1, result.describe())
        self.assertIn("mtls=pass", inserts[0].value)

    @row(
        SENDMAIL,
        "MTA that may not change headers",
        "offer: SMFIF_ADDHDRS only (no CHGHDRS)",
        "the milter declines the connection at negotiation and logs why",
    )
    def test_mta_without_header_rights(self):
        with mc.MilterClient(self.rig.milter_address, actions=mc.SMFIF_ADDHDRS) as milter:
            with self.assertRaises(mc.ProtocolError):
                milter.negotiate()
        rigmod.wait_until(
            lambda: "does not allow adding and changing headers" in self.rig.milter_log_text(),
            10,
            "the milter's log line",
        )


# --------------------------------------------------------------------------
# Exemptions and policy, as the milter tells the MTA
# --------------------------------------------------------------------------


class AuthSkipProtocolTests(MilterProtocolCase):
    @row(
        POLICY,
        "{auth_authen} set (Sendmail SMTP-AUTH)",
        "{auth_authen}=submitter at MAIL; forged A-R",
        "no INSHEADER; the forged A-R still deleted",
    )
    def test_auth_skip(self):
        result = self.message(
            macros=sendmail_macros(auth="submitter"), headers=[(AR, f" {AUTHSERV_ID}; mtls=pass")]
        )
        self.assertEqual(result.modifications, [mc.ChangeHeader(1, AR, "")], result.describe())
        self.assertEqual(result.final, mc.Reply(mc.SMFIR_CONTINUE))


class IgnoreHostsProtocolTests(MilterProtocolCase):
    milter_options = {"ignore_hosts": "127.0.0.2"}

    @row(
        POLICY,
        "CONNECT from an ignored host",
        "--ignore-hosts 127.0.0.2; CONNECT 127.0.0.2, then 127.0.0.1 on another connection",
        "ACCEPT at CONNECT (nothing more for that connection); CONTINUE for 127.0.0.1",
    )
    def test_connect_accept(self):
        result = self.message(client=("other.example", "127.0.0.2"))
        self.assertEqual(
            (result.decided_at, result.final), ("connect", mc.Reply(mc.SMFIR_ACCEPT)), result.describe()
        )
        self.assertEqual(result.modifications, [])
        with mc.MilterClient(self.rig.milter_address) as milter:
            milter.negotiate()
            reply = milter.connect("out1.secure.test", "127.0.0.1")
        self.assertEqual(reply, mc.Reply(mc.SMFIR_CONTINUE))


class PolicyProtocolCase(MilterProtocolCase):
    def rogue(self):
        return self.message(macros=sendmail_macros(cn="rogue.secure.test"))


class OnFailRejectProtocolTests(PolicyProtocolCase):
    milter_options = {"on_fail": "reject"}

    @row(
        POLICY,
        "on-fail=reject, as the MTA is told",
        "fail (CN rogue.secure.test)",
        "REPLYCODE 550 5.7.1 ..., no INSHEADER",
    )
    def test_reject(self):
        result = self.rogue()
        self.assertEqual(result.final.code, mc.SMFIR_REPLYCODE, result.describe())
        self.assertTrue(result.final.text.startswith("550 5.7.1 "), result.describe())
        self.assertEqual(result.header_changes, [], result.describe())


class OnFailTempfailProtocolTests(PolicyProtocolCase):
    milter_options = {"on_fail": "tempfail"}

    @row(POLICY, "on-fail=tempfail, as the MTA is told", "fail", "REPLYCODE 451 4.7.1 ...")
    def test_tempfail(self):
        result = self.rogue()
        self.assertEqual(result.final.code, mc.SMFIR_REPLYCODE, result.describe())
        self.assertTrue(result.final.text.startswith("451 4.7.1 "), result.describe())


class OnFailQuarantineProtocolTests(PolicyProtocolCase):
    milter_options = {"on_fail": "quarantine"}

    @row(
        POLICY,
        "on-fail=quarantine, as the MTA is told",
        "fail",
        'INSHEADER index 0 (mtls=fail), QUARANTINE "mtls=fail: ...", CONTINUE',
    )
    def test_quarantine(self):
        result = self.rogue()
        self.verdict(result, "fail", "secure.test")
        quarantines = [m for m in result.modifications if isinstance(m, mc.Quarantine)]
        self.assertEqual(len(quarantines), 1, result.describe())
        self.assertTrue(quarantines[0].reason.startswith("mtls=fail: "), result.describe())


class OnTemperrorProtocolTests(PolicyProtocolCase):
    milter_options = {"on_temperror": "tempfail"}

    @row(POLICY, "on-temperror=tempfail, as the MTA is told", "bogus.test", "REPLYCODE 451 4.4.3 ...")
    def test_temperror_tempfail(self):
        result = self.message(mail_from="<alice@bogus.test>")
        self.assertEqual(result.final.code, mc.SMFIR_REPLYCODE, result.describe())
        self.assertTrue(result.final.text.startswith("451 4.4.3 "), result.describe())


if __name__ == "__main__":
    unittest.main()
