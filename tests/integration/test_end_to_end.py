#!/usr/bin/python3
"""End-to-end tests: swaks -> private Postfix -> the real mtls-milter ->
libunbound -> NSD with zones signed at test time, and back out of Postfix
into a file we read.

One rig (CA, DNS, Postfix) serves the whole module; test classes only
restart the milter when they need other options. Every verdict test checks
the same four things, because each was a bug in some milter at some time:
the exact mtls result, the ptype/identity, that our header is the very first
one (above Postfix's Received:), and that exactly one mtls result from our
authserv-id is left in the message.

Run through run_tests.py, or directly:
    MTLS_BUILD_DIR=build /usr/bin/python3 -m unittest -v test_end_to_end
"""

import json
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import rig as rigmod  # noqa: E402
from rig import AUTHSERV_ID, authserv_id_of, result_props  # noqa: E402

RIG = None


def setUpModule():
    global RIG
    RIG = rigmod.start_module_rig()


def tearDownModule():
    if RIG is not None:
        RIG.close()


def describe(msg):
    """The delivered header block, for assertion messages."""
    return "\n".join(f"{h.name}:{h.raw}" for h in msg.headers)


def postfix_tls_verdict(msg):
    """What Postfix itself concluded about the client certificate, from its
    Received: header (smtpd_tls_received_header = yes). Tests assert it so
    that a wrong premise (say, an "unknown CA" certificate that Postfix does
    trust after all) cannot make a test pass for the wrong reason."""
    received = msg.get("Received") or ""
    if "(verified OK)" in received:
        return "verified"
    if "(not verified)" in received:
        return "not verified"
    if "did not present a certificate" in received:
        return "no certificate"
    if "using TLS" in received:
        return "tls"
    return "no tls"


class RigTestCase(unittest.TestCase):
    """Shared helpers; subclasses set ``milter_options``."""

    milter_options: dict = {}
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.rig = RIG
        RIG.ensure_milter(**cls.milter_options)

    def deliver(self, **send_kwargs):
        sent = self.rig.send(**send_kwargs)
        return sent, self.rig.wait_delivered(sent.subject)

    def assert_verdict(self, msg, expected, identity, ptype="smtp.mailfrom"):
        """The four checks every verdict test makes; returns the authres
        result so a test can look further."""
        headers = describe(msg)
        first = msg.first_header
        self.assertEqual(first.name.lower(), "authentication-results",
                         f"our A-R is not the first header:\n{headers}")
        self.assertEqual(authserv_id_of(first.value), AUTHSERV_ID.lower(),
                         f"first header is not our A-R:\n{headers}")
        names = [h.name.lower() for h in msg.headers]
        self.assertIn("received", names)
        self.assertLess(0, names.index("received"),
                        f"Postfix's Received: is above our A-R:\n{headers}")

        ours = msg.our_auth_results()
        self.assertEqual(len(ours), 1,
                         f"expected exactly one A-R from {AUTHSERV_ID}:\n{headers}")
        results = msg.mtls_results()
        self.assertEqual(len(results), 1,
                         f"expected exactly one mtls result from {AUTHSERV_ID}:\n{headers}")
        result = results[0]
        self.assertEqual(result.result, expected, f"wrong mtls result:\n{headers}")
        props = result_props(result)
        self.assertEqual(props.get(ptype, "").lower(), identity.lower(),
                         f"wrong or missing {ptype}:\n{headers}")
        other = "smtp.helo" if ptype == "smtp.mailfrom" else "smtp.mailfrom"
        self.assertNotIn(other, props, f"unexpected {other}:\n{headers}")
        return result

    def check(self, expected, identity, ptype="smtp.mailfrom", tls_verdict=None,
              **send_kwargs):
        """Send, wait for delivery, assert the verdict (and, when given,
        Postfix's own view of the client certificate)."""
        sent, msg = self.deliver(**send_kwargs)
        if tls_verdict is not None:
            self.assertEqual(postfix_tls_verdict(msg), tls_verdict,
                             "test premise broken: Postfix saw the client "
                             f"certificate differently:\n{describe(msg)}")
        result = self.assert_verdict(msg, expected, identity, ptype)
        return sent, msg, result


class MtlsVerdictTests(RigTestCase):
    """Default options: every result the milter can give, tagged only."""

    def test_pass_matching_certificate(self):
        self.check("pass", "secure.test", tls_verdict="verified",
                   mail_from="alice@secure.test", cert="out1.secure.test")

    def test_pass_certificate_cn_in_other_case(self):
        # Certificate CN "OUT1.Secure.TEST" against Client MX out1.secure.test.
        self.check("pass", "secure.test", tls_verdict="verified",
                   mail_from="alice@secure.test", cert="mixedcase.secure.test")

    def test_pass_client_mx_name_in_other_case(self):
        # RDATA names of unknown types are not lowercased for DNSSEC: the
        # record says OUT1.Secure.Test.
        self.check("pass", "mixed.secure.test", tls_verdict="verified",
                   mail_from="alice@mixed.secure.test", cert="out1.secure.test")

    def test_pass_second_of_two_client_mx_hosts(self):
        self.check("pass", "multi.secure.test", tls_verdict="verified",
                   mail_from="alice@multi.secure.test", cert="out1.secure.test")

    def test_pass_mail_from_domain_in_upper_case(self):
        sent, msg = self.deliver(mail_from="alice@SECURE.Test", cert="out1.secure.test")
        self.assert_verdict(msg, "pass", "secure.test")

    def test_fail_wrong_certificate_name(self):
        self.check("fail", "secure.test", tls_verdict="verified",
                   mail_from="alice@secure.test", cert="rogue.secure.test")

    def test_fail_tls_without_client_certificate(self):
        self.check("fail", "secure.test", tls_verdict="no certificate",
                   mail_from="alice@secure.test", tls=True)

    def test_fail_without_tls(self):
        self.check("fail", "secure.test", tls_verdict="no tls",
                   mail_from="alice@secure.test", tls=False)

    def test_fail_certificate_from_unknown_ca(self):
        # Right CN, but Postfix cannot verify it, so {cert_subject} is absent.
        self.check("fail", "secure.test", tls_verdict="not verified",
                   mail_from="alice@secure.test", cert="unknown-ca")

    def test_fail_server_auth_only_certificate(self):
        # What public CAs issue since 2026: fails OpenSSL's sslclient purpose.
        self.check("fail", "secure.test", tls_verdict="not verified",
                   mail_from="alice@secure.test", cert="server-auth-only")

    def test_fail_verified_certificate_without_cn(self):
        # Postfix sends an empty {cert_subject}; the SAN never reaches a milter.
        self.check("fail", "secure.test", tls_verdict="verified",
                   mail_from="alice@secure.test", cert="san-only")

    def test_none_nodata(self):
        self.check("none", "nomx.secure.test",
                   mail_from="alice@nomx.secure.test", cert="out1.secure.test")

    def test_none_nxdomain(self):
        self.check("none", "nosuch.secure.test",
                   mail_from="alice@nosuch.secure.test", cert="out1.secure.test")

    def test_none_nxdomain_below_test(self):
        self.check("none", "nosuchzone.test",
                   mail_from="alice@nosuchzone.test", cert="out1.secure.test")

    def test_temperror_bogus_dnssec(self):
        self.check("temperror", "bogus.test",
                   mail_from="alice@bogus.test", cert="out1.bogus.test")

    def test_insecure_zone_passes_by_default(self):
        self.check("pass", "insecure.test", tls_verdict="verified",
                   mail_from="alice@insecure.test", cert="out1.insecure.test")

    def test_insecure_zone_wrong_name_fails(self):
        self.check("fail", "insecure.test",
                   mail_from="alice@insecure.test", cert="out1.secure.test")

    def test_null_sender_uses_helo(self):
        self.check("pass", "out1.secure.test", ptype="smtp.helo", tls_verdict="verified",
                   mail_from="<>", helo="out1.secure.test", cert="out1.secure.test")

    def test_null_sender_helo_without_client_mx(self):
        self.check("none", "nomx.secure.test", ptype="smtp.helo",
                   mail_from="<>", helo="nomx.secure.test", cert="out1.secure.test")

    def test_header_is_valid_rfc8601(self):
        """authres parses our header as a whole, and the header has nothing
        a strict consumer (OpenDMARC) would choke on: only registered
        ptypes."""
        sent, msg = self.deliver(mail_from="alice@secure.test", cert="out1.secure.test")
        parsed = rigmod.parse_auth_results(msg.our_auth_results()[0])
        self.assertEqual(parsed.authserv_id.lower(), AUTHSERV_ID)
        for result in parsed.results:
            for prop in result.properties:
                self.assertIn(prop.type, ("smtp", "header", "body", "policy"),
                              f"unregistered ptype {prop.type}: {describe(msg)}")

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

    def test_wildcard_certificate_not_accepted_by_default(self):
        self.check("fail", "secure.test", tls_verdict="verified",
                   mail_from="alice@secure.test", cert="wildcard.secure.test")


class SessionTests(RigTestCase):
    """Several messages over one TLS connection: each must get its own
    verdict and its own header clean-up, nothing carried over."""

    def test_several_messages_in_one_session(self):
        transactions = [
            dict(mail_from="alice@secure.test", extra_headers=[FORGED["plain"], KEPT]),
            dict(mail_from="bob@nomx.secure.test"),
            dict(mail_from="carol@bogus.test"),
            dict(mail_from="<>"),
            dict(mail_from="dave@secure.test"),
        ]
        expected = [("pass", "secure.test", "smtp.mailfrom"),
                    ("none", "nomx.secure.test", "smtp.mailfrom"),
                    ("temperror", "bogus.test", "smtp.mailfrom"),
                    ("pass", "out1.secure.test", "smtp.helo"),
                    ("pass", "secure.test", "smtp.mailfrom")]
        sent = self.rig.send_session(transactions, cert="out1.secure.test",
                                     helo="out1.secure.test")
        for result, (verdict, identity, ptype) in zip(sent, expected):
            with self.subTest(identity=identity, ptype=ptype):
                self.assertEqual(result.code, 250, result.output)
                msg = self.rig.wait_delivered(result.subject)
                self.assert_verdict(msg, verdict, identity, ptype)
                self.assertNotIn("evil.test", msg.raw.decode("utf-8", "replace"))

    def test_rset_leaves_no_trace(self):
        """A transaction aborted with RSET (MAIL FROM of a domain without
        Client MX) must not decide the next message's verdict."""
        sent = self.rig.send_session(
            [dict(rset_first="eve@nomx.secure.test", mail_from="alice@secure.test")],
            cert="out1.secure.test")
        self.assertEqual(sent[0].code, 250, sent[0].output)
        msg = self.rig.wait_delivered(sent[0].subject)
        self.assert_verdict(msg, "pass", "secure.test")


# Headers that claim our authserv-id in different spellings (RFC 8601:
# authserv-id is case-insensitive, may be quoted, preceded by comments, and
# followed by a version). All must be removed.
FORGED = {
    "plain": f"Authentication-Results: {AUTHSERV_ID}; mtls=pass smtp.mailfrom=evil.test",
    "upper case id": f"Authentication-Results: {AUTHSERV_ID.upper()}; mtls=pass "
                     "smtp.mailfrom=evil.test",
    "leading comment": f"Authentication-Results: (x) {AUTHSERV_ID}; mtls=pass "
                       "smtp.mailfrom=evil.test",
    "quoted id": f'Authentication-Results: "{AUTHSERV_ID}"; mtls=pass smtp.mailfrom=evil.test',
    "with version": f"Authentication-Results: {AUTHSERV_ID} 1; mtls=pass "
                    "smtp.mailfrom=evil.test",
    "no whitespace": f"Authentication-Results:{AUTHSERV_ID};mtls=pass smtp.mailfrom=evil.test",
    "folded": f"Authentication-Results: {AUTHSERV_ID};\r\n\tmtls=pass\r\n\t"
              "smtp.mailfrom=evil.test",
    "lower-case field name": f"authentication-results: {AUTHSERV_ID}; mtls=pass "
                             "smtp.mailfrom=evil.test",
    "other method": f"Authentication-Results: {AUTHSERV_ID}; spf=pass smtp.mailfrom=evil.test",
}
KEPT = "Authentication-Results: other.example; spf=pass smtp.mailfrom=x"


class ForgedHeaderTests(RigTestCase):
    """RFC 8601 section 5: incoming A-R headers with our authserv-id go,
    everybody else's stay."""

    def assert_clean(self, msg):
        headers = describe(msg)
        self.assert_verdict(msg, "pass", "secure.test")
        self.assertNotIn("evil.test", msg.raw.decode("utf-8", "replace"),
                         f"a forged header survived:\n{headers}")
        others = [v for v in msg.auth_results() if authserv_id_of(v) == "other.example"]
        self.assertEqual(others, ["other.example; spf=pass smtp.mailfrom=x"],
                         f"the other authserv-id's header was not kept as is:\n{headers}")

    def test_each_spelling_removed(self):
        for label, forged in FORGED.items():
            with self.subTest(spelling=label):
                sent, msg = self.deliver(mail_from="alice@secure.test", cert="out1.secure.test",
                                         extra_headers=[forged, KEPT])
                self.assert_clean(msg)

    def test_all_spellings_in_one_message(self):
        """Several deletions in one message, with a header to keep in the
        middle: catches deleting by stale indexes (which removes the wrong
        header and leaves a forged one)."""
        forged = list(FORGED.values())
        half = len(forged) // 2
        sent, msg = self.deliver(mail_from="alice@secure.test", cert="out1.secure.test",
                                 extra_headers=forged[:half] + [KEPT] + forged[half:])
        self.assert_clean(msg)

    def test_forged_header_removed_on_fail(self):
        sent, msg = self.deliver(mail_from="alice@secure.test", cert="rogue.secure.test",
                                 extra_headers=[FORGED["plain"], KEPT])
        self.assert_verdict(msg, "fail", "secure.test")
        self.assertNotIn("evil.test", msg.raw.decode("utf-8", "replace"), describe(msg))

    def test_other_authserv_id_only_is_kept(self):
        sent, msg = self.deliver(mail_from="alice@secure.test", cert="out1.secure.test",
                                 extra_headers=[KEPT])
        self.assert_clean(msg)


# --------------------------------------------------------------------------
# Policy: the milter restarted with other options
# --------------------------------------------------------------------------

class OnFailRejectTests(RigTestCase):
    milter_options = {"on_fail": "reject"}

    def test_fail_is_rejected(self):
        sent = self.rig.send(mail_from="alice@secure.test", cert="rogue.secure.test",
                             expect_code=550)
        self.assertIsNone(sent.queue_id)

    def test_fail_without_tls_is_rejected(self):
        self.rig.send(mail_from="alice@secure.test", tls=False, expect_code=550)

    def test_pass_is_accepted(self):
        self.check("pass", "secure.test", mail_from="alice@secure.test", cert="out1.secure.test")

    def test_none_is_accepted(self):
        self.check("none", "nomx.secure.test", mail_from="alice@nomx.secure.test", tls=False)

    def test_temperror_is_only_tagged(self):
        self.check("temperror", "bogus.test", mail_from="alice@bogus.test",
                   cert="out1.bogus.test")


class OnFailTempfailTests(RigTestCase):
    milter_options = {"on_fail": "tempfail"}

    def test_fail_is_tempfailed(self):
        self.rig.send(mail_from="alice@secure.test", cert="rogue.secure.test", expect_code=451)

    def test_pass_is_accepted(self):
        self.check("pass", "secure.test", mail_from="alice@secure.test", cert="out1.secure.test")


class OnFailQuarantineTests(RigTestCase):
    milter_options = {"on_fail": "quarantine"}

    def hold_queue_ids(self):
        proc = subprocess.run(["postqueue", "-c", str(self.rig.postfix.config_dir), "-j"],
                              capture_output=True, text=True, timeout=30)
        ids = set()
        for line in proc.stdout.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("queue_name") == "hold":
                ids.add(entry.get("queue_id"))
        return ids

    def test_fail_is_held(self):
        sent = self.rig.send(mail_from="alice@secure.test", cert="rogue.secure.test",
                             expect_code=250)
        rigmod.wait_until(lambda: sent.queue_id in self.hold_queue_ids(), 15,
                          f"{sent.queue_id} in Postfix's hold queue", interval=0.2)

    def test_pass_is_delivered(self):
        self.check("pass", "secure.test", mail_from="alice@secure.test", cert="out1.secure.test")


class OnTemperrorTempfailTests(RigTestCase):
    milter_options = {"on_temperror": "tempfail"}

    def test_bogus_is_tempfailed(self):
        self.rig.send(mail_from="alice@bogus.test", cert="out1.bogus.test", expect_code=451)

    def test_fail_is_only_tagged(self):
        self.check("fail", "secure.test", mail_from="alice@secure.test",
                   cert="rogue.secure.test")


class RequireDnssecTests(RigTestCase):
    milter_options = {"require_dnssec": "yes"}

    def test_insecure_zone_gives_none(self):
        self.check("none", "insecure.test", mail_from="alice@insecure.test",
                   cert="out1.insecure.test")

    def test_secure_zone_still_passes(self):
        self.check("pass", "secure.test", mail_from="alice@secure.test", cert="out1.secure.test")


class ClientMxTypeTests(RigTestCase):
    """The zones publish type 265 only: looking for another type must find
    nothing, which shows --client-mx-type is what the milter queries."""

    milter_options = {"client_mx_type": 65300}

    def test_other_type_finds_nothing(self):
        self.check("none", "secure.test", mail_from="alice@secure.test", cert="out1.secure.test")


class AllowWildcardsTests(RigTestCase):
    milter_options = {"allow_wildcards": "yes"}

    def test_wildcard_certificate_matches(self):
        self.check("pass", "secure.test", tls_verdict="verified",
                   mail_from="alice@secure.test", cert="wildcard.secure.test")

    def test_wildcard_does_not_match_other_zone(self):
        # *.secure.test must not cover out1.insecure.test.
        self.check("fail", "insecure.test", mail_from="alice@insecure.test",
                   cert="wildcard.secure.test")


class LifecycleTests(RigTestCase):
    """The milter must stop promptly on SIGTERM (service managers and this
    rig rely on it) and come back on the same port."""

    def test_sigterm_stops_promptly_and_restart_works(self):
        self.rig.ensure_milter()
        started = time.monotonic()
        status = self.rig.stop_milter(timeout=10)
        elapsed = time.monotonic() - started
        self.assertFalse(self.rig.milter_needed_sigkill,
                         f"milter ignored SIGTERM for 10s\n{self.rig.milter_log_text()}")
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
        RIG.dns.stop()
        RIG.stop_milter()
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        RIG.stop_milter()
        RIG.dns.start()

    def test_unreachable_dns_gives_temperror(self):
        started = time.monotonic()
        sent, msg, result = self.check("temperror", "secure.test", mail_from="alice@secure.test",
                                       cert="out1.secure.test")
        # --dns-timeout 2 bounds the wait; allow for the SMTP round trips.
        self.assertLess(time.monotonic() - started, 15)


class IgnoreHostsDefaultTests(RigTestCase):
    """With the default --ignore-hosts (127.0.0.0/8, ::1) our loopback
    client is exempt: no verdict at all."""

    milter_options = {"ignore_hosts": None}

    def test_loopback_client_gets_no_verdict(self):
        sent, msg = self.deliver(mail_from="alice@secure.test", cert="out1.secure.test")
        self.assertEqual(msg.mtls_results(), [], describe(msg))


if __name__ == "__main__":
    unittest.main()
