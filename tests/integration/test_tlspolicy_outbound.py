#!/usr/bin/python3
"""The sending side end to end (issue 15): a sending Postfix whose
``smtp_tls_policy_maps`` asks mtls-tlspolicy over socketmap delivers to
receiving Postfix instances, all in a network namespace of the rig's own
with NSD, a validating unbound, and MTA-STS policies over HTTPS
(rig/outbound.py: OUTBOUND_DOMAINS says what each recipient domain
publishes, RECEIVERS which certificate each receiver shows).

Each case asserts the daemon's socketmap answer and what the sending
Postfix then did: deferred, or delivered with the TLS verdict Postfix
logged ("Verified" = the certificate matched the policy's names or a TLSA
record; "Trusted" = a CA-signed certificate whose name nobody asked for).

MtaStsReferenceTests runs the MTA-STS cases against Debian's
postfix-mta-sts-resolver, so that a deferral here is the policy's doing and
not the rig's.

Run through run_tests.py, or directly:
    MTLS_BUILD_DIR=build /usr/bin/python3 -m unittest -v test_tlspolicy_outbound
"""

import unittest

from rig.outbound import OutboundRig


class OutboundTestCase(unittest.TestCase):
    """One rig (namespace, DNS, receivers, policy server, sending Postfix)
    per class."""

    policy_server = "mtls-tlspolicy"
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.rig = OutboundRig(policy_server=cls.policy_server).start()

    @classmethod
    def tearDownClass(cls):
        cls.rig.close()

    def explain(self, outcome):
        return (
            "\n--- sender's log for that smtp(8) process ---\n"
            + "\n".join(outcome.log[-20:])
            + f"\n--- {self.rig.policy.name} log ---\n"
            + "\n".join(self.rig.policy.log_text().splitlines()[-20:])
        )

    def assert_answer(self, domain, prefix):
        answer = self.rig.policy.query(domain)
        self.assertTrue(answer.startswith(prefix), f"socketmap answer for {domain}: {answer!r}")
        return answer

    def assert_delivered(self, domain, tls_verdict, relay):
        outcome = self.rig.deliver(domain)
        self.assertEqual(outcome.status, "sent", self.explain(outcome))
        self.assertTrue(outcome.relay.startswith(relay + "["), self.explain(outcome))
        self.assertTrue(
            outcome.tls.startswith(f"{tls_verdict} TLS connection established to {relay}["),
            self.explain(outcome),
        )
        return outcome

    def assert_deferred(self, domain, reason=""):
        outcome = self.rig.deliver(domain)
        self.assertEqual(outcome.status, "deferred", self.explain(outcome))
        self.assertIn(reason, outcome.detail, self.explain(outcome))
        return outcome


class MtaStsCases:
    """The MTA-STS cases any MTA-STS policy server must pass."""

    def test_enforce_with_matching_certificate_delivers_verified(self):
        self.assert_answer("sts.plain.test", "OK secure match=mx1.plain.test")
        self.assert_delivered("sts.plain.test", "Verified", "mx1.plain.test")

    def test_enforce_with_wrong_name_is_deferred(self):
        self.assert_answer("stswrong.plain.test", "OK secure")
        self.assert_deferred("stswrong.plain.test", "Server certificate not verified")

    def test_enforce_with_expired_certificate_is_deferred(self):
        self.assert_answer("stsexpired.plain.test", "OK secure")
        self.assert_deferred("stsexpired.plain.test", "Server certificate not verified")

    def test_no_policy_delivers_opportunistically_even_to_the_wrong_name(self):
        # The control for the deferrals: the same receiver takes mail when
        # nothing asks for more than opportunistic TLS.
        self.assert_answer("nopolicy.plain.test", "NOTFOUND")
        self.assert_delivered("nopolicy.plain.test", "Trusted", "mx2.plain.test")

    def test_next_hop_in_brackets_is_not_a_domain(self):
        self.assert_answer("[mx1.plain.test]", "NOTFOUND")
        self.assert_answer("[mx1.plain.test]:25", "NOTFOUND")


class TlsPolicyOutboundTests(MtaStsCases, OutboundTestCase):
    """mtls-tlspolicy: MTA-STS, dnssec: yes, Client MX opt-in and DANE."""

    def test_wildcard_pattern_covers_one_label(self):
        self.assert_answer("stswild.plain.test", "OK secure match=mx1.plain.test")
        self.assert_delivered("stswild.plain.test", "Verified", "mx1.plain.test")

    def test_enforce_policy_that_allows_no_mx_host_is_never_delivered(self):
        outcome = self.rig.deliver("stsnomatch.plain.test")
        self.assertEqual(outcome.status, "deferred", self.explain(outcome))

    def test_testing_mode_is_not_enforced(self):
        self.assert_answer("ststesting.plain.test", "NOTFOUND")
        self.assert_delivered("ststesting.plain.test", "Trusted", "mx2.plain.test")

    def test_dnssec_yes_with_unsigned_mx_is_deferred(self):
        self.assert_answer("dnssec.plain.test", "TEMP")
        self.assert_deferred("dnssec.plain.test")

    def test_dnssec_yes_with_signed_mx_delivers_verified(self):
        self.assert_answer("dnssec.signed.test", "OK secure match=mx1.signed.test")
        self.assert_delivered("dnssec.signed.test", "Verified", "mx1.signed.test")

    def test_client_mx_opt_in_with_matching_certificate_delivers_verified(self):
        self.assert_answer("clientmx.signed.test", "OK secure match=mx1.signed.test")
        self.assert_delivered("clientmx.signed.test", "Verified", "mx1.signed.test")

    def test_client_mx_opt_in_with_wrong_name_is_deferred(self):
        for domain in ("clientmxwrong.signed.test", "clientmxwrong.plain.test"):
            with self.subTest(domain=domain):
                self.assert_answer(domain, "OK secure match=mx2.")
                self.assert_deferred(domain, "Server certificate not verified")

    def test_dane_only_delivers_with_dane(self):
        # The receiver's certificate is also CA-signed: the sender's log says
        # "Verified" for it only under a policy that checks a name or a
        # TLSA record, and dane-only checks the TLSA record alone.
        self.assert_answer("dane.signed.test", "OK dane-only")
        self.assert_delivered("dane.signed.test", "Verified", "mxdane.signed.test")


class MtaStsReferenceTests(MtaStsCases, OutboundTestCase):
    """The MTA-STS cases against Debian's postfix-mta-sts-resolver (SQLite
    cache, as Debian ships it): the rig proven against a policy server that
    is not ours."""

    policy_server = "mta-sts-resolver"


if __name__ == "__main__":
    unittest.main()
