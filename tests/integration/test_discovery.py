#!/usr/bin/python3
"""Certificate discovery end to end (``cert-discovery = connect-back``):
a sending host with the 2026 certificate of a public CA (serverAuth only,
its name only in a SAN, no CN), which Postfix calls "(not verified)" and
names to a milter only by its fingerprint on the policy channel. The sending
host serves the same certificate on port 25 of its own address; the milter
connects back there, reads the chain, validates it against ``ca-file`` (the
rig's CA plays the public CA) and matches its names to the Client MX hosts.

Each sending host is a loopback address of its own in 127.0.13.0/24 (swaks
``--local-interface``), listed in ``cert-discovery-networks`` because
loopback is not a global address; 127.0.14.1 is outside the list. Its SMTP
server is rig/sending_host.py. One rig (the DANE tests' one, with the policy
channel) and one milter for the whole class.

Run through run_tests.py, or directly:
    MTLS_BUILD_DIR=build /usr/bin/python3 -m unittest -v test_discovery
"""

import re
import unittest
import urllib.request

from rig import free_port, shared_rig
from rig.conformance import DANE, row
from rig.sending_host import SendingHost
from rig.testcase import RigTestCase, describe, postfix_client_cn

DOMAIN = "disc.secure.test"
PASS_HOST = "127.0.13.1"
OTHER_CERT_HOST = "127.0.13.2"
SILENT_HOST = "127.0.13.3"  # nothing listens on its port 25
SAN_LIST_HOST = "127.0.13.4"
EXPIRED_HOST = "127.0.13.5"
SLOW_HOST = "127.0.13.6"
DANE_TA_HOST = "127.0.13.7"  # serves its certificate with the CA's after it
UNLISTED_HOST = "127.0.14.1"  # loopback, but not in cert-discovery-networks


class DiscoveryTests(RigTestCase):
    rig_options = {"policy_socket": True}

    @classmethod
    def setUpClass(cls):
        cls.hosts = []
        rig = shared_rig(**cls.rig_options)  # the one setUpClass uses: the milter starts once
        cls.metrics_port = free_port()
        cls.milter_options = {
            "cert_discovery": "connect-back",
            "cert_discovery_networks": "127.0.13.0/24",
            # Long enough that the held server below is only ever released
            # by the test; dns-timeout (5 s in the rig) bounds the wait.
            "cert_discovery_timeout": 120,
            "ca_file": str(rig.ca.ca.cert),
            "metrics": f"127.0.0.1:{cls.metrics_port}",
        }
        super().setUpClass()
        try:
            for address, handle in (
                (PASS_HOST, "disc-server-auth"),
                (OTHER_CERT_HOST, "disc-server-auth"),
                (SAN_LIST_HOST, "disc-san-list"),
                (EXPIRED_HOST, "disc-expired"),
                (SLOW_HOST, "disc-slow"),
                (UNLISTED_HOST, "disc-server-auth"),
            ):
                cls.hosts.append(SendingHost(address, cls.rig.cert(handle)).start())
            cls.hosts.append(SendingHost(DANE_TA_HOST, cls.rig.ca.with_ca_chain("disc-dane-ta")).start())
        except BaseException:
            cls.tearDownClass()
            raise
        cls.server = {host.address: host for host in cls.hosts}

    @classmethod
    def tearDownClass(cls):
        for host in cls.hosts:
            host.stop()
        cls.hosts = []

    def metric(self, name):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10) as reply:
            text = reply.read().decode()
        match = re.search(rf"^{re.escape(name)} (\d+)$", text, re.M)
        self.assertIsNotNone(match, f"{name} not in the metrics:\n{text}")
        return int(match.group(1))

    def discover(self, address, cert, expected, reason, domain=DOMAIN, comment=None, client_cn=None):
        """One message from ``address`` with ``cert``; asserts the verdict,
        that Postfix itself did not verify the certificate and printed
        ``client_cn`` (None: no CN), and that the milter knew its
        fingerprint. Returns the log record."""
        sent, msg, _ = self.check(
            expected,
            domain,
            reason=reason,
            comment=comment,
            tls_verdict="not verified",
            cert=cert,
            mail_from=f"sender@{domain}",
            local_interface=address,
        )
        self.assertEqual(
            postfix_client_cn(msg) or None,
            client_cn,
            f"test premise broken: Postfix read another CN:\n{describe(msg)}",
        )
        record = self.rig.wait_log_record(sent.queue_id)
        self.assertEqual(record.get("policy_channel"), "matched", record)
        self.assertEqual(record.get("client_addr"), address, record)
        return record

    # -- passes ------------------------------------------------------------------
    def test_pass_by_discovery(self):
        record = self.discover(
            PASS_HOST,
            "disc-server-auth",
            "pass",
            "discovered",
            comment="(discovered certificate name disc.secure.test; DNSSEC secure)",
        )
        self.assertEqual(record.get("via"), "discovered", record)
        self.assertEqual(record.get("matched"), DOMAIN, record)
        self.assertEqual(record.get("discovery"), "pass", record)

    def test_pass_by_a_san_that_is_not_the_cn(self):
        record = self.discover(
            SAN_LIST_HOST, "disc-san-list", "pass", "discovered", client_cn="rogue.secure.test"
        )
        self.assertEqual(record.get("cert_names"), [], "Postfix gave the milter a name after all")
        self.assertEqual(record.get("via"), "discovered", record)
        self.assertEqual(self.server[SAN_LIST_HOST].counts()[1], 1, "one TLS handshake with the sending host")

    @row(
        DANE,
        "DANE-TA record (usage 2) naming the CA, with certificate discovery",
        "_25._tcp.discta.secure.test TLSA 2 0 1 SHA-256(the CA certificate); "
        "cert-discovery = connect-back; the client's port 25 serves its certificate and the CA's",
        'pass, reason="dane" (the fetched chain\'s leaf is the presented certificate, '
        "it chains to the CA the record names, and its SAN is the host); log via=dane discovery=matched",
    )
    def test_pass_by_dane_ta_on_the_discovered_chain(self):
        # discta.secure.test's only TLSA record is DANE-TA naming the CA
        # (2 0 1): the fingerprints Postfix reports cannot meet it, the
        # chain the probe fetches (the leaf, then the CA) can.
        series = 'mtls_discovery_results_total{outcome="matched"}'
        before = self.metric(series)
        record = self.discover(
            DANE_TA_HOST,
            "disc-dane-ta",
            "pass",
            "dane",
            domain="discta.secure.test",
            comment="(DANE-TA TLSA _25._tcp.discta.secure.test; DNSSEC secure)",
        )
        self.assertEqual(record.get("via"), "dane", record)
        self.assertEqual(record.get("discovery"), "matched", record)
        self.assertEqual(self.metric(series), before + 1)

    # -- fails -------------------------------------------------------------------
    def test_fail_when_port_25_serves_another_certificate(self):
        record = self.discover(
            OTHER_CERT_HOST, "disc-unserved", "fail", "certificate discovery found another certificate"
        )
        self.assertEqual(record.get("discovery"), "other-certificate", record)

    def test_fail_when_nothing_listens(self):
        record = self.discover(
            SILENT_HOST, "disc-unserved", "fail", "certificate discovery: connection refused"
        )
        self.assertEqual(record.get("discovery"), "no-listener", record)

    def test_fail_expired_certificate(self):
        record = self.discover(EXPIRED_HOST, "disc-expired", "fail", "discovered certificate chain not valid")
        self.assertEqual(record.get("discovery"), "chain-invalid", record)
        self.assertIn("expired", record.get("discovery_detail", ""), record)

    def test_dane_is_never_overruled(self):
        # discdane.secure.test publishes secure TLSA records naming another
        # key; the certificate's SAN names the host all the same.
        record = self.discover(
            PASS_HOST,
            "disc-server-auth",
            "fail",
            "no TLSA record matches the client key",
            domain="discdane.secure.test",
        )
        self.assertNotIn("discovery", record)

    # -- not probed --------------------------------------------------------------
    def test_unlisted_private_address_is_not_probed(self):
        record = self.discover(UNLISTED_HOST, "disc-server-auth", "fail", "no verified client certificate")
        self.assertEqual(record.get("discovery"), "not-allowed", record)
        self.assertEqual(
            self.server[UNLISTED_HOST].counts()[0], 0, "the milter connected to an unlisted address"
        )

    # -- timing --------------------------------------------------------------------
    def test_slow_server_temperror_then_pass_from_cache(self):
        host = self.server[SLOW_HOST]
        probes = self.metric("mtls_discovery_probes_total")
        host.hold()
        try:
            record = self.discover(SLOW_HOST, "disc-slow", "temperror", "certificate discovery timed out")
            self.assertEqual(record.get("discovery"), "pending", record)
        finally:
            host.release()
        # The probe runs on past the message and ends when the host answers.
        host.wait_closed(1)
        record = self.discover(SLOW_HOST, "disc-slow", "pass", "discovered")
        self.assertTrue(record.get("discovery_detail", "").startswith("(cached)"), record)
        self.assertEqual(self.metric("mtls_discovery_probes_total"), probes + 1)
        self.assertEqual(host.counts()[0], 1, "the sending host was probed more than once")


if __name__ == "__main__":
    unittest.main()
