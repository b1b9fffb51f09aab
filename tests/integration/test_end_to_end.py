#!/usr/bin/python3
"""End-to-end tests: swaks -> private Postfix -> the real mtls-milter ->
libunbound -> NSD with zones signed at test time, and back out of Postfix
into a file we read.

One rig (CA, DNS, Postfix; rig.shared_rig) serves this and the other
end-to-end modules; test classes only restart the milter when they need
other options. Every verdict test checks
the same four things, because each was a bug in some milter at some time:
the exact mtls result, the ptype/identity, that our header is the very first
one (above Postfix's Received:), and that exactly one mtls result from our
authserv-id is left in the message.

Run through run_tests.py, or directly:
    MTLS_BUILD_DIR=build /usr/bin/python3 -m unittest -v test_end_to_end
"""

import json
import subprocess
import time
import unittest

import rig as rigmod
from rig.conformance import CERTS, DNS, HEADERS, POLICY, SMTP, row
from rig.testcase import RigTestCase, describe
from rig import AUTHSERV_ID, authserv_id_of


class MtlsVerdictTests(RigTestCase):
    """Default options: every result the milter can give, tagged only."""

    @row(
        CERTS,
        "CN-only certificate naming the Client MX host",
        "MAIL FROM alice@secure.test; cert CN out1.secure.test, no SAN; " "Client MX 10 out1.secure.test",
        "pass, smtp.mailfrom=secure.test, comment names out1.secure.test",
    )
    def test_pass_matching_certificate(self):
        self.check(
            "pass",
            "secure.test",
            tls_verdict="verified",
            reason="",
            comment="certificate name out1.secure.test",
            mail_from="alice@secure.test",
            cert="out1.secure.test",
        )

    @row(
        CERTS,
        "Certificate name in other letter case",
        "cert CN OUT1.Secure.TEST; Client MX out1.secure.test",
        "pass (names compare case-insensitively)",
    )
    def test_pass_certificate_cn_in_other_case(self):
        # Certificate CN "OUT1.Secure.TEST" against Client MX out1.secure.test.
        self.check(
            "pass",
            "secure.test",
            tls_verdict="verified",
            mail_from="alice@secure.test",
            cert="mixedcase.secure.test",
        )

    @row(
        CERTS,
        "Client MX target in other letter case",
        "Client MX OUT1.Secure.Test. (RDATA case kept by DNSSEC); cert CN out1.secure.test",
        "pass",
    )
    def test_pass_client_mx_name_in_other_case(self):
        # RDATA names of unknown types are not lowercased for DNSSEC: the
        # record says OUT1.Secure.Test.
        self.check(
            "pass",
            "mixed.secure.test",
            tls_verdict="verified",
            mail_from="alice@mixed.secure.test",
            cert="out1.secure.test",
        )

    @row(
        DNS,
        "Two Client MX hosts, certificate matches the second",
        "multi.secure.test: 10 out9.secure.test, 20 out1.secure.test",
        "pass",
    )
    def test_pass_second_of_two_client_mx_hosts(self):
        self.check(
            "pass",
            "multi.secure.test",
            tls_verdict="verified",
            mail_from="alice@multi.secure.test",
            cert="out1.secure.test",
        )

    @row(
        SMTP,
        "MAIL FROM domain in upper case",
        "MAIL FROM alice@SECURE.Test",
        "pass, smtp.mailfrom=secure.test (canonical lower case)",
    )
    def test_pass_mail_from_domain_in_upper_case(self):
        sent, msg = self.deliver(mail_from="alice@SECURE.Test", cert="out1.secure.test")
        self.assert_verdict(msg, "pass", "secure.test")

    @row(
        CERTS,
        "Verified certificate with another host name",
        "cert CN rogue.secure.test (trusted CA); Client MX out1.secure.test",
        "fail",
    )
    def test_fail_wrong_certificate_name(self):
        self.check(
            "fail",
            "secure.test",
            tls_verdict="verified",
            mail_from="alice@secure.test",
            cert="rogue.secure.test",
        )

    @row(CERTS, "STARTTLS without a client certificate", "TLS, no certificate; Client MX exists", "fail")
    def test_fail_tls_without_client_certificate(self):
        self.check(
            "fail", "secure.test", tls_verdict="no certificate", mail_from="alice@secure.test", tls=True
        )

    @row(CERTS, "No TLS at all", "plain SMTP; Client MX exists", "fail")
    def test_fail_without_tls(self):
        self.check("fail", "secure.test", tls_verdict="no tls", mail_from="alice@secure.test", tls=False)

    @row(
        CERTS,
        "Certificate from an unknown CA",
        "right CN, issuer not in smtpd_tls_CAfile; Postfix: (not verified)",
        "fail",
    )
    def test_fail_certificate_from_unknown_ca(self):
        # Right CN, but Postfix cannot verify it, so {cert_subject} is absent.
        self.check(
            "fail",
            "secure.test",
            tls_verdict="not verified",
            mail_from="alice@secure.test",
            cert="unknown-ca",
        )

    @row(
        CERTS,
        "serverAuth-only EKU (public CAs since 2026)",
        "right CN, EKU serverAuth only; Postfix 3.7: (not verified), no {cert_subject}",
        'fail, reason="no verified client certificate"',
    )
    def test_fail_server_auth_only_certificate(self):
        # What public CAs issue since 2026: fails OpenSSL's sslclient purpose.
        self.check(
            "fail",
            "secure.test",
            tls_verdict="not verified",
            reason="no verified client certificate",
            mail_from="alice@secure.test",
            cert="server-auth-only",
        )

    @row(
        CERTS,
        "SAN-only certificate (no CN)",
        'subject without CN, SAN DNS:out1.secure.test; Postfix: Client CN "", verified, '
        "empty {cert_subject}",
        'fail, reason="client certificate has no usable host name"',
    )
    def test_fail_verified_certificate_without_cn(self):
        # Postfix sends an empty {cert_subject}; the SAN never reaches a milter.
        self.check(
            "fail",
            "secure.test",
            tls_verdict="verified",
            reason="client certificate has no usable host name",
            mail_from="alice@secure.test",
            cert="san-only",
        )

    @row(DNS, "Domain without Client MX (NODATA)", "nomx.secure.test has A and TXT only", "none")
    def test_none_nodata(self):
        self.check("none", "nomx.secure.test", mail_from="alice@nomx.secure.test", cert="out1.secure.test")

    @row(DNS, "Domain does not exist (NXDOMAIN)", "MAIL FROM alice@nosuch.secure.test", "none")
    def test_none_nxdomain(self):
        self.check(
            "none", "nosuch.secure.test", mail_from="alice@nosuch.secure.test", cert="out1.secure.test"
        )

    @row(DNS, "Domain does not exist, proven by the parent zone", "MAIL FROM alice@nosuchzone.test", "none")
    def test_none_nxdomain_below_test(self):
        self.check("none", "nosuchzone.test", mail_from="alice@nosuchzone.test", cert="out1.secure.test")

    @row(
        DNS,
        "Bogus zone: expired RRSIG",
        "bogus.test signed with signatures that ended 10 days ago",
        "temperror (DNSSEC bogus), never pass",
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
        DNS,
        "Insecure (unsigned) zone, require-dnssec=no",
        "insecure.test: NS without DS in test.; matching cert",
        'pass, comment "DNSSEC insecure"',
    )
    def test_insecure_zone_passes_by_default(self):
        self.check(
            "pass",
            "insecure.test",
            tls_verdict="verified",
            comment="DNSSEC insecure",
            mail_from="alice@insecure.test",
            cert="out1.insecure.test",
        )

    @row(DNS, "Insecure zone, wrong certificate", "insecure.test; cert CN out1.secure.test", "fail")
    def test_insecure_zone_wrong_name_fails(self):
        self.check("fail", "insecure.test", mail_from="alice@insecure.test", cert="out1.secure.test")

    @row(
        SMTP,
        "Null sender: HELO name is the identity",
        "MAIL FROM:<>; EHLO out1.secure.test (has Client MX)",
        "pass, smtp.helo=out1.secure.test",
    )
    def test_null_sender_uses_helo(self):
        self.check(
            "pass",
            "out1.secure.test",
            ptype="smtp.helo",
            tls_verdict="verified",
            mail_from="<>",
            helo="out1.secure.test",
            cert="out1.secure.test",
        )

    @row(
        SMTP,
        "Null sender, HELO name without Client MX",
        "MAIL FROM:<>; EHLO nomx.secure.test",
        "none, smtp.helo=nomx.secure.test",
    )
    def test_null_sender_helo_without_client_mx(self):
        self.check(
            "none",
            "nomx.secure.test",
            ptype="smtp.helo",
            mail_from="<>",
            helo="nomx.secure.test",
            cert="out1.secure.test",
        )

    @row(
        HEADERS,
        "Our header is strict RFC 8601",
        "any pass message",
        "authres parses it; only registered ptypes (smtp, header, body, policy)",
    )
    def test_header_is_valid_rfc8601(self):
        """authres parses our header as a whole, and the header has nothing
        a strict consumer (OpenDMARC) would choke on: only registered
        ptypes."""
        sent, msg = self.deliver(mail_from="alice@secure.test", cert="out1.secure.test")
        parsed = rigmod.parse_auth_results(msg.our_auth_results()[0])
        self.assertEqual(parsed.authserv_id.lower(), AUTHSERV_ID)
        for result in parsed.results:
            for prop in result.properties:
                self.assertIn(
                    prop.type,
                    ("smtp", "header", "body", "policy"),
                    f"unregistered ptype {prop.type}: {describe(msg)}",
                )

    def test_json_log_line(self):
        sent, msg = self.deliver(mail_from="alice@secure.test", cert="out1.secure.test")
        self.assertTrue(sent.queue_id, sent.output)
        record = self.rig.wait_log_record(sent.queue_id)
        for key in ("result", "reason", "identity", "queue_id", "client_addr", "dnssec"):
            self.assertIn(key, record, record)
        self.assertEqual(record["result"], "pass", record)
        self.assertEqual(str(record["identity"]).lower(), "secure.test", record)
        self.assertEqual(record["client_addr"], "127.0.0.1", record)
        self.assertEqual(record["dnssec"], "secure", record)

    def test_json_log_line_for_temperror(self):
        sent, msg = self.deliver(mail_from="alice@bogus.test", cert="out1.bogus.test")
        record = self.rig.wait_log_record(sent.queue_id)
        self.assertEqual(record["result"], "temperror", record)
        self.assertEqual(str(record["identity"]).lower(), "bogus.test", record)
        self.assertEqual(record["dnssec"], "bogus", record)

    @row(
        DNS,
        "DNSSEC state in the log",
        "insecure.test, matching cert",
        'JSON log: result pass, dnssec "insecure"',
    )
    def test_json_log_line_for_insecure_zone(self):
        sent, msg = self.deliver(mail_from="alice@insecure.test", cert="out1.insecure.test")
        record = self.rig.wait_log_record(sent.queue_id)
        self.assertEqual(record["result"], "pass", record)
        self.assertEqual(record["dnssec"], "insecure", record)

    def test_json_log_line_for_null_sender(self):
        sent, msg = self.deliver(mail_from="<>", helo="out1.secure.test", cert="out1.secure.test")
        record = self.rig.wait_log_record(sent.queue_id)
        self.assertEqual(record["result"], "pass", record)
        self.assertEqual(str(record["identity"]).lower(), "out1.secure.test", record)

    @row(
        CERTS,
        "Wildcard certificate, allow-wildcards=no",
        "cert CN *.secure.test; Client MX out1.secure.test",
        "fail (exact match only, as the draft asks)",
    )
    def test_wildcard_certificate_not_accepted_by_default(self):
        self.check(
            "fail",
            "secure.test",
            tls_verdict="verified",
            mail_from="alice@secure.test",
            cert="wildcard.secure.test",
        )


class SessionTests(RigTestCase):
    """Several messages over one TLS connection: each must get its own
    verdict and its own header clean-up, nothing carried over."""

    @row(
        SMTP,
        "Several messages on one TLS connection",
        "pass, none, temperror, null sender, pass domains in turn, forged A-R in the first",
        "each message its own verdict and clean-up",
    )
    def test_several_messages_in_one_session(self):
        transactions = [
            dict(mail_from="alice@secure.test", extra_headers=[FORGED["plain"], KEPT]),
            dict(mail_from="bob@nomx.secure.test"),
            dict(mail_from="carol@bogus.test"),
            dict(mail_from="<>"),
            dict(mail_from="dave@secure.test"),
        ]
        expected = [
            ("pass", "secure.test", "smtp.mailfrom"),
            ("none", "nomx.secure.test", "smtp.mailfrom"),
            ("temperror", "bogus.test", "smtp.mailfrom"),
            ("pass", "out1.secure.test", "smtp.helo"),
            ("pass", "secure.test", "smtp.mailfrom"),
        ]
        sent = self.rig.send_session(transactions, cert="out1.secure.test", helo="out1.secure.test")
        for result, (verdict, identity, ptype) in zip(sent, expected):
            with self.subTest(identity=identity, ptype=ptype):
                self.assertEqual(result.code, 250, result.output)
                msg = self.rig.wait_delivered(result.subject)
                self.assert_verdict(msg, verdict, identity, ptype)
                self.assertNotIn("evil.test", msg.raw.decode("utf-8", "replace"))

    @row(
        SMTP,
        "RSET before the real transaction",
        "MAIL FROM eve@nomx.secure.test, RSET, MAIL FROM alice@secure.test",
        "pass (the aborted transaction leaves nothing)",
    )
    def test_rset_leaves_no_trace(self):
        """A transaction aborted with RSET (MAIL FROM of a domain without
        Client MX) must not decide the next message's verdict."""
        sent = self.rig.send_session(
            [dict(rset_first="eve@nomx.secure.test", mail_from="alice@secure.test")], cert="out1.secure.test"
        )
        self.assertEqual(sent[0].code, 250, sent[0].output)
        msg = self.rig.wait_delivered(sent[0].subject)
        self.assert_verdict(msg, "pass", "secure.test")


# Headers that claim our authserv-id in different spellings (RFC 8601:
# authserv-id is case-insensitive, may be quoted, preceded by comments, and
# followed by a version). All must be removed.
FORGED = {
    "plain": f"Authentication-Results: {AUTHSERV_ID}; mtls=pass smtp.mailfrom=evil.test",
    "upper case id": f"Authentication-Results: {AUTHSERV_ID.upper()}; mtls=pass " "smtp.mailfrom=evil.test",
    "leading comment": f"Authentication-Results: (x) {AUTHSERV_ID}; mtls=pass " "smtp.mailfrom=evil.test",
    "quoted id": f'Authentication-Results: "{AUTHSERV_ID}"; mtls=pass smtp.mailfrom=evil.test',
    "with version": f"Authentication-Results: {AUTHSERV_ID} 1; mtls=pass " "smtp.mailfrom=evil.test",
    "no whitespace": f"Authentication-Results:{AUTHSERV_ID};mtls=pass smtp.mailfrom=evil.test",
    "folded": f"Authentication-Results: {AUTHSERV_ID};\r\n\tmtls=pass\r\n\t" "smtp.mailfrom=evil.test",
    "lower-case field name": f"authentication-results: {AUTHSERV_ID}; mtls=pass " "smtp.mailfrom=evil.test",
    "other method": f"Authentication-Results: {AUTHSERV_ID}; spf=pass smtp.mailfrom=evil.test",
    "upper-case field name": f"AUTHENTICATION-RESULTS: {AUTHSERV_ID}; mtls=pass " "smtp.mailfrom=evil.test",
    "nested comments first": f"Authentication-Results: (a (b) \\) c) {AUTHSERV_ID}; mtls=pass "
    "smtp.mailfrom=evil.test",
    "comment after id": f"Authentication-Results: {AUTHSERV_ID}(x); mtls=pass " "smtp.mailfrom=evil.test",
    "version and comment": f"Authentication-Results: {AUTHSERV_ID} (v) 1 (w); mtls=pass "
    "smtp.mailfrom=evil.test",
    "quoted-pair in quoted id": 'Authentication-Results: "mx\\.inbox.test"; mtls=pass '
    "smtp.mailfrom=evil.test",
    "trailing dot": f"Authentication-Results: {AUTHSERV_ID}.; mtls=pass smtp.mailfrom=evil.test",
    "tabs": f"Authentication-Results:\t{AUTHSERV_ID}\t;\tmtls=pass\tsmtp.mailfrom=evil.test",
    "folded before semicolon": f"Authentication-Results: {AUTHSERV_ID}\r\n ; mtls=pass "
    "smtp.mailfrom=evil.test",
    "folded after field name": f"Authentication-Results:\r\n\t{AUTHSERV_ID}; mtls=pass "
    "smtp.mailfrom=evil.test",
    "no-result form": f"Authentication-Results: {AUTHSERV_ID}; none (evil.test)",
    "garbage after id": f"Authentication-Results: {AUTHSERV_ID} garbage!! mtls=pass evil.test",
    "unterminated comment": f"Authentication-Results: {AUTHSERV_ID}; mtls=pass (evil.test",
    "8-bit text": f"Authentication-Results: {AUTHSERV_ID}; mtls=pass smtp.mailfrom=evil.test " "(\u00e9vil)",
}
KEPT = "Authentication-Results: other.example; spf=pass smtp.mailfrom=x"
# Other authserv-ids that contain or resemble ours: RFC 8601 says remove
# only our own, so each must arrive verbatim and in its place.
KEPT_LOOKALIKES = [
    KEPT,
    f"Authentication-Results: {AUTHSERV_ID}.other; spf=pass smtp.mailfrom=x",
    "Authentication-Results: inbox.test; spf=pass smtp.mailfrom=x",
    f"Authentication-Results: x{AUTHSERV_ID}; spf=pass smtp.mailfrom=x",
    f"Authentication-Results: ({AUTHSERV_ID}) other.example; dkim=pass header.d=x",
    f"Authentication-Results: other.example; mtls=pass ({AUTHSERV_ID}) smtp.mailfrom=x",
]


class ForgedHeaderTests(RigTestCase):
    """RFC 8601 section 5: incoming A-R headers with our authserv-id go,
    everybody else's stay."""

    def assert_clean(self, msg, kept=(KEPT,)):
        headers = describe(msg)
        self.assert_verdict(msg, "pass", "secure.test")
        self.assertNotIn(
            "evil.test", msg.raw.decode("utf-8", "replace"), f"a forged header survived:\n{headers}"
        )
        others = [v for v in msg.auth_results() if authserv_id_of(v) != AUTHSERV_ID]
        self.assertEqual(
            others,
            [k.split(":", 1)[1].strip() for k in kept],
            f"other authserv-ids' headers were not kept as they were:\n{headers}",
        )

    @row(
        HEADERS,
        "Forged A-R with our authserv-id, every spelling",
        "one message per spelling in FORGED (case, comments, quoted, folded, version, "
        "no-result, garbage, 8-bit ...)",
        "each removed; other authserv-ids kept verbatim; ours first",
    )
    def test_each_spelling_removed(self):
        for label, forged in FORGED.items():
            with self.subTest(spelling=label):
                sent, msg = self.deliver(
                    mail_from="alice@secure.test", cert="out1.secure.test", extra_headers=[forged, KEPT]
                )
                self.assert_clean(msg)

    @row(
        HEADERS,
        "All forged spellings in one message",
        "every FORGED header, one kept header in the middle",
        "all removed (deleted highest index first), kept one intact",
    )
    def test_all_spellings_in_one_message(self):
        """Several deletions in one message, with a header to keep in the
        middle: catches deleting by stale indexes (which removes the wrong
        header and leaves a forged one)."""
        forged = list(FORGED.values())
        half = len(forged) // 2
        sent, msg = self.deliver(
            mail_from="alice@secure.test",
            cert="out1.secure.test",
            extra_headers=forged[:half] + [KEPT] + forged[half:],
        )
        self.assert_clean(msg)

    @row(
        HEADERS,
        "Forged A-R on a failing message",
        "forged mtls=pass, wrong certificate",
        "forged header removed, fail added",
    )
    def test_forged_header_removed_on_fail(self):
        sent, msg = self.deliver(
            mail_from="alice@secure.test", cert="rogue.secure.test", extra_headers=[FORGED["plain"], KEPT]
        )
        self.assert_verdict(msg, "fail", "secure.test")
        self.assertNotIn("evil.test", msg.raw.decode("utf-8", "replace"), describe(msg))

    @row(
        HEADERS,
        "Other authserv-ids that resemble ours",
        "A-R from other.example and look-alikes (KEPT)",
        "all kept verbatim and in order",
    )
    def test_other_authserv_id_only_is_kept(self):
        sent, msg = self.deliver(
            mail_from="alice@secure.test", cert="out1.secure.test", extra_headers=KEPT_LOOKALIKES
        )
        self.assert_clean(msg, kept=KEPT_LOOKALIKES)

    @row(
        HEADERS,
        "Forged and look-alike headers interleaved",
        "every FORGED spelling alternating with every KEPT_LOOKALIKES header",
        "exactly the forged ones removed, look-alikes kept in order, ours first",
    )
    def test_forged_and_lookalikes_interleaved(self):
        forged = list(FORGED.values())
        mixed = []
        for i in range(max(len(forged), len(KEPT_LOOKALIKES))):
            mixed += forged[i : i + 1] + KEPT_LOOKALIKES[i : i + 1]
        sent, msg = self.deliver(mail_from="alice@secure.test", cert="out1.secure.test", extra_headers=mixed)
        self.assert_clean(msg, kept=KEPT_LOOKALIKES)


# --------------------------------------------------------------------------
# Policy: the milter restarted with other options
# --------------------------------------------------------------------------


class OnFailRejectTests(RigTestCase):
    milter_options = {"on_fail": "reject"}

    @row(POLICY, "on-fail=reject", "wrong certificate", "550 at end of DATA, nothing queued")
    def test_fail_is_rejected(self):
        sent = self.rig.send(mail_from="alice@secure.test", cert="rogue.secure.test", expect_code=550)
        self.assertIsNone(sent.queue_id)

    @row(POLICY, "on-fail=reject without TLS", "plain SMTP, Client MX exists", "550")
    def test_fail_without_tls_is_rejected(self):
        self.rig.send(mail_from="alice@secure.test", tls=False, expect_code=550)

    def test_pass_is_accepted(self):
        self.check("pass", "secure.test", mail_from="alice@secure.test", cert="out1.secure.test")

    def test_none_is_accepted(self):
        self.check("none", "nomx.secure.test", mail_from="alice@nomx.secure.test", tls=False)

    @row(POLICY, "on-fail=reject does not touch temperror", "bogus.test", "250, temperror tagged")
    def test_temperror_is_only_tagged(self):
        self.check("temperror", "bogus.test", mail_from="alice@bogus.test", cert="out1.bogus.test")


class OnFailTempfailTests(RigTestCase):
    milter_options = {"on_fail": "tempfail"}

    @row(POLICY, "on-fail=tempfail", "wrong certificate", "451")
    def test_fail_is_tempfailed(self):
        self.rig.send(mail_from="alice@secure.test", cert="rogue.secure.test", expect_code=451)

    def test_pass_is_accepted(self):
        self.check("pass", "secure.test", mail_from="alice@secure.test", cert="out1.secure.test")


class OnFailQuarantineTests(RigTestCase):
    milter_options = {"on_fail": "quarantine"}

    def hold_queue_ids(self):
        proc = subprocess.run(
            ["postqueue", "-c", str(self.rig.postfix.config_dir), "-j"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        ids = set()
        for line in proc.stdout.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("queue_name") == "hold":
                ids.add(entry.get("queue_id"))
        return ids

    @row(POLICY, "on-fail=quarantine", "wrong certificate", "250, message in Postfix's hold queue")
    def test_fail_is_held(self):
        sent = self.rig.send(mail_from="alice@secure.test", cert="rogue.secure.test", expect_code=250)
        rigmod.wait_until(
            lambda: sent.queue_id in self.hold_queue_ids(),
            15,
            f"{sent.queue_id} in Postfix's hold queue",
            interval=0.2,
        )

    def test_pass_is_delivered(self):
        self.check("pass", "secure.test", mail_from="alice@secure.test", cert="out1.secure.test")


class OnTemperrorTempfailTests(RigTestCase):
    milter_options = {"on_temperror": "tempfail"}

    @row(POLICY, "on-temperror=tempfail", "bogus.test", "451")
    def test_bogus_is_tempfailed(self):
        self.rig.send(mail_from="alice@bogus.test", cert="out1.bogus.test", expect_code=451)

    def test_fail_is_only_tagged(self):
        self.check("fail", "secure.test", mail_from="alice@secure.test", cert="rogue.secure.test")


class RequireDnssecTests(RigTestCase):
    milter_options = {"require_dnssec": "yes"}

    @row(
        DNS,
        "Insecure zone, require-dnssec=yes",
        "insecure.test, matching cert",
        'none, reason="Client MX records not DNSSEC-signed"',
    )
    def test_insecure_zone_gives_none(self):
        self.check(
            "none",
            "insecure.test",
            reason="Client MX records not DNSSEC-signed",
            mail_from="alice@insecure.test",
            cert="out1.insecure.test",
        )

    def test_secure_zone_still_passes(self):
        self.check("pass", "secure.test", mail_from="alice@secure.test", cert="out1.secure.test")


class ClientMxTypeTests(RigTestCase):
    """The zones publish type 265 only: looking for another type must find
    nothing, which shows --client-mx-type is what the milter queries."""

    milter_options = {"client_mx_type": 65300}

    @row(
        "Client MX record type",
        "Milter asks for another type than published",
        "zones publish TYPE265; milter --client-mx-type 65300",
        "none",
    )
    def test_other_type_finds_nothing(self):
        self.check("none", "secure.test", mail_from="alice@secure.test", cert="out1.secure.test")


class AllowWildcardsTests(RigTestCase):
    milter_options = {"allow_wildcards": "yes"}

    @row(
        CERTS,
        "Wildcard certificate, allow-wildcards=yes",
        "cert CN *.secure.test; Client MX out1.secure.test",
        "pass",
    )
    def test_wildcard_certificate_matches(self):
        self.check(
            "pass",
            "secure.test",
            tls_verdict="verified",
            mail_from="alice@secure.test",
            cert="wildcard.secure.test",
        )

    @row(
        CERTS,
        "Wildcard certificate for another zone",
        "cert CN *.secure.test; Client MX out1.insecure.test; allow-wildcards=yes",
        "fail",
    )
    def test_wildcard_does_not_match_other_zone(self):
        # *.secure.test must not cover out1.insecure.test.
        self.check("fail", "insecure.test", mail_from="alice@insecure.test", cert="wildcard.secure.test")


class LifecycleTests(RigTestCase):
    """The milter must stop promptly on SIGTERM (service managers and this
    rig rely on it) and come back on the same port."""

    def test_sigterm_stops_promptly_and_restart_works(self):
        self.rig.ensure_milter()
        started = time.monotonic()
        status = self.rig.stop_milter(timeout=10)
        elapsed = time.monotonic() - started
        self.assertFalse(
            self.rig.milter_needed_sigkill, f"milter ignored SIGTERM for 10s\n{self.rig.milter_log_text()}"
        )
        self.assertIn(status, (0, -15), f"exit status {status} after SIGTERM")
        self.assertLess(elapsed, 10)
        self.rig.start_milter()
        self.check("pass", "secure.test", mail_from="alice@secure.test", cert="out1.secure.test")


class DnsOutageTests(RigTestCase):
    """NSD stopped: libunbound gets no answer at all (SERVFAIL or the
    milter's own timeout), which must be temperror, never none. The milter
    is started fresh so that nothing is answered from its cache (aggressive
    NSEC could otherwise prove NXDOMAIN without asking)."""

    milter_options = {"dns_timeout": 2}

    @classmethod
    def setUpClass(cls):
        rig = rigmod.shared_rig(**cls.rig_options)
        rig.dns.stop()
        rig.stop_milter(graceful=False)
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        # The shared rig goes on to other classes: DNS back, and a fresh
        # milter so that nothing learnt during the outage is cached.
        cls.rig.stop_milter(graceful=False)
        cls.rig.dns.start()

    @row(DNS, "Authoritative server down", "NSD stopped; --dns-timeout 2", "temperror within 15 s")
    def test_unreachable_dns_gives_temperror(self):
        started = time.monotonic()
        sent, msg, result = self.check(
            "temperror", "secure.test", mail_from="alice@secure.test", cert="out1.secure.test"
        )
        # --dns-timeout 2 bounds the wait; allow for the SMTP round trips.
        self.assertLess(time.monotonic() - started, 15)


class IgnoreHostsDefaultTests(RigTestCase):
    """With the default --ignore-hosts (127.0.0.0/8, ::1) our loopback
    client is exempt: no verdict at all."""

    milter_options = {"ignore_hosts": None}

    @row(
        POLICY,
        "Default ignore-hosts (127.0.0.0/8, ::1)",
        "client 127.0.0.1, default options",
        "no mtls result at all",
    )
    def test_loopback_client_gets_no_verdict(self):
        sent, msg = self.deliver(mail_from="alice@secure.test", cert="out1.secure.test")
        self.assertEqual(msg.mtls_results(), [], describe(msg))


if __name__ == "__main__":
    unittest.main()
