#!/usr/bin/python3
"""mtls-tlspolicy, the sending side's TLS policy daemon (issue 15), against
real parts: NSD serving signed and unsigned zones with MX, TLSA, Client MX
and _mta-sts records, libunbound validating them inside the daemon, an
HTTPS server on loopback serving MTA-STS policies with a certificate of the
test CA, a real redis-server, and the daemon's socketmap spoken as Postfix
speaks it. No Postfix: the outbound end-to-end rig exercises the answers
with a sending Postfix.
"""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import unittest
import urllib.request
from pathlib import Path

from rig.base import DEFAULT_CLIENT_MX_TYPE
from rig.ca import TestCA
from rig.dns import DnsServer, client_mx_rr
from rig.process import free_port, wait_until
from rig.mta_sts_web import MtaStsWebServer
from rig.tlspolicy import RedisServer, SocketmapClient, TlsPolicyDaemon, netstring

BUILD_DIR = Path(os.environ.get("MTLS_BUILD_DIR", "build")).resolve()
BINARY = BUILD_DIR / "tlspolicy" / "mtls-tlspolicy"

SECURE = "secure.test"
INSECURE = "insecure.test"
TLSA_DIGEST = "ab" * 32
# tampered.test's TLSA record at _25._tcp.dane is signed over this digest and
# served with TLSA_DIGEST (rig/dns.py, DnsServer.build): it validates bogus.
SIGNED_TLSA_DIGEST = "cd" * 32


def sts_domain(label, zone, mx_hosts, txt='"v=STSv1; id=20261207"', web=None):
    """Zone lines for <label>.<zone>: its MX hosts (relative to the zone,
    each with an address), the _mta-sts TXT record and mta-sts.<label>."""
    lines = []
    for preference, host in enumerate(mx_hosts, start=1):
        lines += [f"{label}\tIN\tMX\t{10 * preference} {host}", f"{host}\tIN\tA\t127.0.0.1"]
    if txt:
        lines.append(f"_mta-sts.{label}\tIN\tTXT\t{txt}")
    if web:
        lines.append(f"mta-sts.{label}\tIN\tA\t{web}")
    return lines


def policy(mode, *mx, max_age=86400, extra=""):
    return "version: STSv1\r\nmode: {}\r\n{}max_age: {}\r\n{}".format(
        mode, "".join(f"mx: {pattern}\r\n" for pattern in mx), max_age, extra
    )


# The domains of secure.test whose policy host mta-sts.<label>.secure.test
# the HTTPS server's certificate names.
WEB_DOMAINS = ["sts", "testing", "dsecok", "redir", "big", "persist", "shared", "twoid", "html"]


class TlsPolicyTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not BINARY.exists():
            raise RuntimeError(f"not built: {BINARY}")
        cls.dir = Path(tempfile.mkdtemp(prefix="mtls-tlspolicy-"))
        cls.dir.chmod(0o755)
        cls.ca = TestCA(cls.dir / "ca")
        hosts = [f"mta-sts.{label}.{SECURE}" for label in WEB_DOMAINS] + [f"mta-sts.dsec.{INSECURE}"]
        web_cert = cls.ca.issue(
            "web", "/CN=mta-sts web", eku="serverAuth", san=",".join(f"DNS:{h}" for h in hosts)
        )
        cls.web = MtaStsWebServer(web_cert.cert, web_cert.key).start()
        web = cls.web.address
        secure = (
            sts_domain("sts", SECURE, ["mx1.sts", "mx2.sts", "deep.mx3.sts"], web=web)
            + sts_domain("testing", SECURE, ["mx1.testing"], web=web)
            + sts_domain("dsecok", SECURE, ["mx1.dsecok"], web=web)
            + sts_domain("redir", SECURE, ["mx1.redir"], web=web)
            + sts_domain("big", SECURE, ["mx1.big"], web=web)
            + sts_domain("html", SECURE, ["mx1.html"], web=web)
            + sts_domain("persist", SECURE, ["mx1.persist"], web=web)
            + sts_domain("shared", SECURE, ["mx1.shared"], web=web)
            + sts_domain("twoid", SECURE, ["mx1.twoid"], txt='"v=STSv1; id=1; id=2"', web=web)
            # Client MX opt-in, no MTA-STS.
            + sts_domain("cmx", SECURE, ["mx1.cmx"], txt=None)
            + [client_mx_rr("cmx", "out1.secure.test.", DEFAULT_CLIENT_MX_TYPE)]
            # DANE: every MX host with TLSA, and one of two.
            + sts_domain("dall", SECURE, ["mx1.dall"], txt=None)
            + [f"_25._tcp.mx1.dall\tIN\tTLSA\t3 1 1 {TLSA_DIGEST}"]
            + ["dpart\tIN\tMX\t10 mx1.dall", "dpart\tIN\tMX\t20 mx1.dpart", "mx1.dpart\tIN\tA\t127.0.0.1"]
            # Nothing at all.
            + sts_domain("plain", SECURE, ["mx1.plain"], txt=None)
            # Bogus answers behind a secure MX RRset: the MX host's TLSA
            # record (secure address, forged TLSA), the MX host's address
            # (expired signatures), the MTA-STS policy host's address.
            + ["tlsabogus\tIN\tMX\t10 dane.tampered.test."]
            + ["addrbogus\tIN\tMX\t10 out1.bogus.test."]
            + sts_domain("stsbogus", SECURE, ["mx1.stsbogus"])
            + ["mta-sts.stsbogus\tIN\tCNAME\tout1.bogus.test."]
        )
        insecure = sts_domain("dsec", INSECURE, ["mx1.dsec"], web=web)
        cls.dns = DnsServer(
            cls.dir / "dns",
            extra={f"{SECURE}.": secure, f"{INSECURE}.": insecure},
            tlsa={"tampered.test.": [("_25._tcp.dane", "3 1 1", SIGNED_TLSA_DIGEST)]},
            tampered_tlsa=(SIGNED_TLSA_DIGEST, TLSA_DIGEST),
        )
        cls.dns.build()
        cls.dns.start()

        serve = cls.web.serve_policy
        serve(f"sts.{SECURE}", policy("enforce", f"*.sts.{SECURE}"))
        serve(f"testing.{SECURE}", policy("testing", f"mx1.testing.{SECURE}"))
        serve(f"dsecok.{SECURE}", policy("enforce", f"mx1.dsecok.{SECURE}", extra="dnssec: yes\r\n"))
        serve(f"dsec.{INSECURE}", policy("enforce", f"mx1.dsec.{INSECURE}", extra="dnssec: yes\r\n"))
        serve(
            f"redir.{SECURE}",
            "",
            status=302,
            headers={"Location": f"https://mta-sts.sts.{SECURE}/.well-known/mta-sts.txt"},
        )
        serve(
            f"big.{SECURE}",
            policy("enforce", f"mx1.big.{SECURE}") + "x-padding: " + "x" * (2 * 1024 * 1024) + "\r\n",
        )
        serve(f"html.{SECURE}", policy("enforce", f"mx1.html.{SECURE}"), content_type="text/html")
        serve(f"persist.{SECURE}", policy("enforce", f"mx1.persist.{SECURE}"))
        serve(f"shared.{SECURE}", policy("enforce", f"mx1.shared.{SECURE}"))
        serve(f"twoid.{SECURE}", policy("enforce", f"mx1.twoid.{SECURE}"))

        cls.daemon = cls.new_daemon("main")

    @classmethod
    def new_daemon(cls, name, **kwargs):
        return TlsPolicyDaemon(
            BINARY,
            cls.dir / name,
            unbound_conf=cls.dns.unbound_conf,
            trust_anchor=cls.dns.anchor_file,
            ca_file=cls.ca.ca.cert,
            **kwargs,
        ).start()

    @classmethod
    def tearDownClass(cls):
        for part in ("daemon", "dns"):
            if getattr(cls, part, None):
                getattr(cls, part).stop()
        if getattr(cls, "web", None):
            cls.web.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def answer(self, key, daemon=None):
        daemon = daemon or self.daemon
        reply = daemon.query(key)
        self.assertIsNotNone(reply, f"no answer for {key}\n{daemon.log_text()[-3000:]}")
        return reply

    def assert_logged(self, pattern, daemon=None):
        daemon = daemon or self.daemon
        text = daemon.log_text()
        self.assertRegex(text, pattern, text[-3000:])

    # -- the rules ---------------------------------------------------------
    def test_enforce_lists_allowed_mx_hosts_one_by_one(self):
        # *.sts.secure.test covers mx1 and mx2 but not deep.mx3 (two labels).
        self.assertEqual(
            self.answer(f"sts.{SECURE}"),
            f"OK secure match=mx1.sts.{SECURE}:mx2.sts.{SECURE} servername=hostname",
        )
        self.assert_logged(rf'answer key=sts\.{SECURE} reply="OK secure match=')

    def test_testing_mode_is_notfound(self):
        self.assertEqual(self.answer(f"testing.{SECURE}"), "NOTFOUND ")

    def test_dnssec_yes_with_unsigned_mx_defers(self):
        reply = self.answer(f"dsec.{INSECURE}")
        self.assertTrue(reply.startswith("TEMP "), reply)
        self.assertIn("dnssec: yes", reply)

    def test_dnssec_yes_with_signed_mx_enforces(self):
        self.assertEqual(
            self.answer(f"dsecok.{SECURE}"), f"OK secure match=mx1.dsecok.{SECURE} servername=hostname"
        )

    def test_client_mx_optin(self):
        self.assertEqual(
            self.answer(f"cmx.{SECURE}"), f"OK secure match=mx1.cmx.{SECURE} servername=hostname"
        )

    def test_dane(self):
        self.assertEqual(self.answer(f"dall.{SECURE}"), "OK dane-only")
        self.assertEqual(self.answer(f"dpart.{SECURE}"), "OK dane")

    def test_no_policy(self):
        self.assertEqual(self.answer(f"plain.{SECURE}"), "NOTFOUND ")
        self.assertEqual(self.answer(f"[mx1.sts.{SECURE}]:25"), "NOTFOUND ")

    # -- bogus answers: TEMP, never a downgrade to NOTFOUND ----------------
    def test_bogus_tlsa_of_an_mx_host_defers(self):
        # NOTFOUND would let Postfix fall back to its default level, which
        # never looks up TLSA (RFC 7672, section 2.2).
        self.assertEqual(
            self.answer(f"tlsabogus.{SECURE}"),
            "TEMP bogus TLSA RRset for _25._tcp.dane.tampered.test, MX host of tlsabogus.secure.test",
        )
        self.assert_logged(rf'answer key=tlsabogus\.{SECURE} reply="TEMP bogus TLSA RRset')

    def test_bogus_address_of_an_mx_host_defers(self):
        self.assertEqual(
            self.answer(f"addrbogus.{SECURE}"),
            "TEMP bogus A/AAAA answer for out1.bogus.test, MX host of addrbogus.secure.test",
        )

    def test_bogus_address_of_the_policy_host_defers(self):
        self.assertEqual(
            self.answer(f"stsbogus.{SECURE}"),
            "TEMP bogus A/AAAA answer for mta-sts.stsbogus.secure.test, MTA-STS policy host of "
            "stsbogus.secure.test",
        )
        self.assert_logged(rf"policy of stsbogus\.{SECURE}: not fetched: .*bogus")

    # -- hostile policies --------------------------------------------------
    def test_redirect_is_not_followed(self):
        self.assertEqual(self.answer(f"redir.{SECURE}"), "NOTFOUND ")
        self.assert_logged(rf"policy of redir\.{SECURE}: fetch failed: .*HTTP status 302")

    def test_two_megabyte_policy_is_refused(self):
        self.assertEqual(self.answer(f"big.{SECURE}"), "NOTFOUND ")
        self.assert_logged(rf"policy of big\.{SECURE}: fetch failed: .*larger than 65536 bytes")

    def test_html_policy_is_refused(self):
        self.assertEqual(self.answer(f"html.{SECURE}"), "NOTFOUND ")
        self.assert_logged(rf"policy of html\.{SECURE}: fetch failed: .*not text/plain")

    def test_txt_with_two_ids_is_no_record(self):
        proc = self.daemon.run_query(f"twoid.{SECURE}")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        lines = proc.stdout.splitlines()
        self.assertEqual(lines[0], "NOTFOUND ", proc.stdout)
        self.assertRegex(proc.stdout, r"no MTA-STS record: .*id", proc.stdout)
        # The daemon logs why, next to its NOTFOUND.
        self.assertEqual(self.answer(f"twoid.{SECURE}"), "NOTFOUND ")
        self.assert_logged(rf"_mta-sts\.twoid\.{SECURE} TXT: no MTA-STS record: .*more than one id")

    def test_garbage_requests(self):
        with SocketmapClient(self.daemon.socket) as client:
            client.send_raw(netstring(b"no-space-here"))
            self.assertTrue(client.read_reply().startswith("PERM "))
            self.assertTrue(client.query("..example").startswith("PERM "))
            # Postfix's parent-domain lookup after a NOTFOUND: never PERM.
            self.assertEqual(client.query(f".{SECURE}"), "NOTFOUND ")
            # The connection stays in step after answered errors.
            self.assertEqual(client.query(f"plain.{SECURE}"), "NOTFOUND ")
            # Not a netstring at all: the connection is closed.
            client.send_raw(b"GET / HTTP/1.0\r\n\r\n")
            self.assertIsNone(client.read_reply())
        self.assert_logged(r"socketmap: connection #\d+ broke the protocol")
        self.assert_logged(r"socketmap: connection #\d+: invalid request")

    def test_query_first_line(self):
        proc = self.daemon.run_query(f"sts.{SECURE}")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        lines = proc.stdout.splitlines()
        self.assertEqual(lines[0], f"OK secure match=mx1.sts.{SECURE}:mx2.sts.{SECURE} servername=hostname")
        self.assertIn(f"MX sts.{SECURE}: records (secure)", proc.stdout)
        self.assertRegex(proc.stdout, r"policy \((cached|fetched), \d+ s old\): mode enforce")

    # -- operating it ------------------------------------------------------
    def test_metrics_reload_and_stop(self):
        port = free_port()
        daemon = self.new_daemon("ops", extra=["--metrics", f"127.0.0.1:{port}"])
        try:
            self.assertEqual(
                self.answer(f"cmx.{SECURE}", daemon), f"OK secure match=mx1.cmx.{SECURE} servername=hostname"
            )
            self.assertEqual(self.answer(f"plain.{SECURE}", daemon), "NOTFOUND ")
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
                metrics = response.read().decode()
            self.assertIn('mtls_tlspolicy_answers_total{kind="ok"} 1\n', metrics)
            self.assertIn('mtls_tlspolicy_answers_total{kind="notfound"} 1\n', metrics)
            self.assertIn('mtls_tlspolicy_answers_by_rule_total{rule="client-mx"} 1\n', metrics)
            daemon.proc.send_signal(signal.SIGHUP)
            wait_until(lambda: "reloaded: " in daemon.log_text(), 30, "the reload's log line")
            self.assertEqual(self.answer(f"plain.{SECURE}", daemon), "NOTFOUND ")
            daemon.proc.send_signal(signal.SIGTERM)
            self.assertEqual(daemon.proc.wait(timeout=60), 0)
            self.assert_logged(r"mtls-tlspolicy stopped", daemon)
        finally:
            daemon.stop()

    def test_cached_answer_is_the_same_logged_and_counted(self):
        # The second answer comes from memory on the socket thread
        # (PolicyEngine::answer_from_memory): same reply, its own log line,
        # counted as an answer and a cache hit, as a worker's answer is.
        port = free_port()
        daemon = self.new_daemon("cached", extra=["--metrics", f"127.0.0.1:{port}"])
        try:
            first = self.answer(f"sts.{SECURE}", daemon)
            self.assertTrue(first.startswith("OK secure match="), first)
            self.assertEqual(self.answer(f"sts.{SECURE}", daemon), first)
            self.assertEqual(self.answer(f"sts.{SECURE}", daemon), first)
            lines = re.findall(rf"answer key=sts\.{re.escape(SECURE)} reply=", daemon.log_text())
            self.assertEqual(len(lines), 3, daemon.log_text()[-3000:])
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
                metrics = response.read().decode()
            self.assertIn('mtls_tlspolicy_answers_total{kind="ok"} 3\n', metrics)
            self.assertIn("mtls_tlspolicy_policy_cache_hits_total 2\n", metrics)
            self.assertIn("mtls_tlspolicy_policy_cache_misses_total 1\n", metrics)
        finally:
            daemon.stop()

    def test_check_config(self):
        socket = f"unix:{self.daemon.dir}/check.sock"
        proc = self.daemon.run_command("--check-config", "--socket", socket)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout, "mtls-tlspolicy: configuration OK\n")
        proc = subprocess.run(
            [str(BINARY), "--check-config", "--cache", "/nonexistent/cache.sqlite", "--trust-anchor-file",
             str(self.dns.anchor_file)],
            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("/nonexistent/cache.sqlite", proc.stderr)
        self.assertIn(
            "socket unix:/run/mtls-tlspolicy/socketmap.sock: the directory does not exist", proc.stderr
        )

    # -- the cache ---------------------------------------------------------
    def test_restart_keeps_cached_policy(self):
        domain = f"persist.{SECURE}"
        daemon = self.new_daemon("persist")
        try:
            expected = f"OK secure match=mx1.persist.{SECURE} servername=hostname"
            self.assertEqual(self.answer(domain, daemon), expected)
            self.web.serve_policy(domain, "gone", status=404)
            daemon.stop()
            daemon.start()
            self.assertEqual(self.answer(domain, daemon), expected)
        finally:
            daemon.stop()

    def test_redis_cache_shared_by_two_daemons(self):
        redis = RedisServer(self.dir / "redis")
        redis.start()
        first = second = None
        try:
            first = self.new_daemon("redis-a", cache=redis.url)
            domain = f"shared.{SECURE}"
            expected = f"OK secure match=mx1.shared.{SECURE} servername=hostname"
            self.assertEqual(self.answer(domain, first), expected)
            self.assertEqual(self.web.fetches(domain), 1)
            self.web.serve_policy(domain, "gone", status=404)
            second = self.new_daemon("redis-b", cache=redis.url)
            self.assertEqual(self.answer(domain, second), expected)
            self.assertEqual(
                self.web.fetches(domain), 1, "the second daemon fetched instead of reading Redis"
            )
        finally:
            for daemon in (first, second):
                if daemon:
                    daemon.stop()
            redis.stop()


if __name__ == "__main__":
    unittest.main()
