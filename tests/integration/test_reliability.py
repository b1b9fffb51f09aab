#!/usr/bin/python3
"""Reliability: DNS faults injected while the milter runs (and its recovery
when DNS comes back), bounded load through Postfix and over the milter
protocol with RSS/fd figures between rounds, kill -9 and SIGHUP under load,
hostile milter clients, and the privileges the daemon keeps.

Sizes here are kept small enough for scripts/test (about two minutes in
all); scripts/reliability runs the same drivers (faults.py) bigger, adds
valgrind, and writes docs/RELIABILITY.md. Environment overrides:
MTLS_REL_SESSIONS (SMTP sessions per round, default 200),
MTLS_REL_ROUNDS (default 4), MTLS_REL_MILTER_SESSIONS (default 200).

SERVFAIL and silent authoritative servers for a whole zone are in
test_conformance.DnsFailureTests (StubResponder); this module switches
faults on and off in front of the rig's NSD to show recovery as well.
"""

import os
import pwd
import shutil
import signal
import stat
import subprocess
import time
import unittest
import uuid
from pathlib import Path

from rig import faults
from rig import milter_protocol as mc
import rig as rigmod
from rig.testcase import RigTestCase, describe

DNS_TIMEOUT = 2
# The SMTP transaction (TLS handshake, milter, DNS) may take this much
# longer than --dns-timeout.
MARGIN = 3.0
RECOVERY_LIMIT = 30  # seconds for the first pass after the fault is removed


# Under scripts/sanitize the milter is an ASan build: its quarantine and
# shadow memory make RSS meaningless as a leak signal (ASan reports leaks
# itself), so only fds are compared there.
SANITIZED = any(os.environ.get(v) for v in ("ASAN_OPTIONS", "TSAN_OPTIONS"))


def env_int(name, default):
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


class DnsFaultTests(RigTestCase):
    """Faults between libunbound and the authoritative server, switched on
    and off while the milter runs. Each test starts a fresh milter (empty
    cache) whose ``test.`` stub is the fault proxy, sends one message with
    the fault on, then removes the fault and sends until a message passes."""

    @classmethod
    def setUpClass(cls):
        cls.rig = rigmod.shared_rig(**cls.rig_options)
        cls.workdir = cls.rig.dir / f"faults-{uuid.uuid4().hex[:6]}"
        cls.workdir.mkdir()
        cls.proxy = faults.DnsFaultProxy(cls.rig.dns.port, delay=DNS_TIMEOUT + 2).start()
        cls.expiring = faults.ExpiringZone(cls.workdir / "expiring", cls.rig.client_mx_type).build()
        cls.expiring.sign(3600)
        cls.conf = faults.fault_unbound_conf(
            cls.rig, cls.workdir / "unbound.conf", cls.proxy, cls.expiring, bogus_ttl=2
        )

    @classmethod
    def tearDownClass(cls):
        cls.rig.stop_milter(graceful=False)  # nothing learnt here stays cached
        cls.proxy.stop()
        cls.expiring.stop()

    def setUp(self):
        self.proxy.set_mode("pass")
        self.rig.start_milter(unbound_config=self.conf, dns_timeout=DNS_TIMEOUT)

    def send_timed(self, mail_from="alice@secure.test"):
        started = time.monotonic()
        sent = self.rig.send(mail_from=mail_from, cert="out1.secure.test")
        elapsed = time.monotonic() - started
        msg = self.rig.wait_delivered(sent.subject)
        return elapsed, msg

    def recover(self, mail_from="alice@secure.test", domain="secure.test"):
        """Send until a message passes (bounded); returns seconds taken."""
        started = time.monotonic()
        results = []
        while time.monotonic() - started < RECOVERY_LIMIT:
            _, msg = self.send_timed(mail_from)
            result = msg.mtls_results()[0]
            results.append(f"{result.result} ({result.reason})")
            if result.result == "pass":
                self.assert_verdict(msg, "pass", domain)
                return time.monotonic() - started
            time.sleep(0.5)
        self.fail(
            f"no pass within {RECOVERY_LIMIT}s after the fault was removed: {results}\n"
            f"{rigmod.log_tail(self.rig.milter_log)}"
        )

    def fault(self, mode, reasons):
        self.proxy.set_mode(mode)
        elapsed, msg = self.send_timed()
        self.assertLess(elapsed, DNS_TIMEOUT + MARGIN, f"{mode}: the SMTP transaction took {elapsed:.1f}s")
        result = self.assert_verdict(msg, "temperror", "secure.test")
        self.assertIn(result.reason, reasons, describe(msg))
        self.proxy.set_mode("pass")
        self.recover()
        return result

    def test_server_stopped(self):
        self.fault("stopped", ("DNS server failure", "DNS lookup timed out"))

    def test_server_silent(self):
        before = self.proxy.dropped
        self.fault("silent", ("DNS lookup timed out", "DNS server failure"))
        self.assertGreater(self.proxy.dropped, before)

    def test_server_slower_than_dns_timeout(self):
        before = self.proxy.delayed
        self.fault("slow", ("DNS lookup timed out",))
        self.assertGreater(self.proxy.delayed, before)

    def test_servfail(self):
        self.fault("servfail", ("DNS server failure",))

    def test_truncated_udp_falls_back_to_tcp(self):
        """Every UDP answer comes back empty with TC=1: libunbound asks
        again over TCP, which is answered in full, so the result is pass."""
        self.proxy.set_mode("truncate")
        tcp_before, truncated_before = self.proxy.tcp_queries, self.proxy.truncated
        elapsed, msg = self.send_timed()
        self.assert_verdict(msg, "pass", "secure.test")
        self.assertGreater(self.proxy.truncated, truncated_before)
        self.assertGreater(self.proxy.tcp_queries, tcp_before, "no query came over TCP")
        self.assertLess(elapsed, DNS_TIMEOUT + MARGIN)

    def test_signatures_expire_during_the_test(self):
        """expiring.rel is signed to expire in a few seconds: pass before,
        temperror (bogus) after, pass again once it is re-signed."""
        self.expiring.sign(6)
        elapsed, msg = self.send_timed("alice@expiring.rel")
        self.assert_verdict(msg, "pass", "expiring.rel", comment="DNSSEC secure")
        wait = self.expiring.expiration + 1.5 - time.time()
        self.assertGreater(wait, 0, "signing and the first message took too long")
        time.sleep(wait)
        elapsed, msg = self.send_timed("alice@expiring.rel")
        self.assertLess(elapsed, DNS_TIMEOUT + MARGIN)
        self.assert_verdict(
            msg, "temperror", "expiring.rel", reason="DNSSEC validation failed", comment="DNSSEC bogus"
        )
        # Re-signed. libunbound blacks the zone's keys out for 60 s after a
        # failed validation (BOGUS_KEY_TTL, not configurable), so recovery
        # by itself takes up to a minute (scripts/reliability measures it);
        # a reload (SIGHUP: a new resolver, an empty cache) is immediate.
        self.expiring.sign(3600)
        log_size = len(self.rig.milter_log_text())
        self.rig.milter_proc.send_signal(signal.SIGHUP)
        rigmod.wait_until(
            lambda: "reloaded" in self.rig.milter_log_text()[log_size:], 10, "the milter to reload"
        )
        self.recover("alice@expiring.rel", "expiring.rel")


class LoadTests(RigTestCase):
    """Rounds of concurrent sessions; after each, the milter's RSS and open
    fds. Round 1 is the warm-up; later rounds must not grow."""

    SESSIONS = env_int("MTLS_REL_SESSIONS", 200)
    ROUNDS = env_int("MTLS_REL_ROUNDS", 4)
    MILTER_SESSIONS = env_int("MTLS_REL_MILTER_SESSIONS", 200)

    def setUp(self):
        self.rig.ensure_milter(**self.milter_options)
        self.pid = self.rig.milter_proc.pid
        self.baseline_threads = faults.thread_count(self.pid)

    def after_round(self):
        faults.wait_threads_at_most(self.pid, self.baseline_threads + 2)
        return faults.settle(self.pid, 0.5)

    def assert_no_growth(self, samples, what):
        warm = samples[1:]  # round 1 warms up allocator arenas and caches
        rss = [s["rss_kib"] for s in warm]
        fds = [s["fds"] for s in samples]
        # RSS: the last round within 10% (or 4 MiB) of the first warm round.
        if not SANITIZED:
            self.assertLessEqual(
                rss[-1], max(rss[0] * 1.10, rss[0] + 4096), f"{what}: RSS grows across rounds: {samples}"
            )
        self.assertLessEqual(max(fds) - min(fds), 2, f"{what}: fd count changes: {samples}")

    def test_concurrent_smtp_sessions(self):
        samples = []
        for n in range(self.ROUNDS):
            tag = f"load{n}-{uuid.uuid4().hex[:6]}"
            subjects, stats, seconds = faults.smtp_load(self.rig, self.SESSIONS, 1, tag)
            self.assertEqual(stats["failed"], [], f"round {n}")
            acct = faults.account(self.rig, subjects, tag)
            for key in ("lost", "duplicated", "unexpected", "bad_header", "other_result"):
                self.assertEqual(acct[key], 0, f"round {n}: {key}: {acct}")
            self.assertEqual(acct["delivered"], len(subjects))
            samples.append(self.after_round())
        self.assert_no_growth(samples, "SMTP load")

    def test_concurrent_milter_protocol_sessions(self):
        samples = []
        for n in range(self.ROUNDS):
            result = faults.milter_load(self.rig.milter_address, self.MILTER_SESSIONS, 3, tag=f"R{n}")
            self.assertEqual(result["bad"], 0, result)
            self.assertEqual(result["ok"], result["messages"], result)
            samples.append(self.after_round())
        self.assert_no_growth(samples, "milter-protocol load")


class CrashTests(RigTestCase):
    """kill -9 with milter_default_action = tempfail (the rig's Postfix):
    every message is delivered exactly once with our header, the ones
    caught by the crash after the client's retry. SIGHUP under load: no
    message tempfailed, lost or duplicated."""

    def setUp(self):
        self.assertEqual(
            rigmod.run(
                ["postconf", "-c", str(self.rig.postfix.config_dir), "-h", "milter_default_action"]
            ).stdout.strip(),
            "tempfail",
        )
        self.rig.ensure_milter(**self.milter_options)

    def test_kill_9_loses_nothing(self):
        queued_before = faults.postfix_queue_count(self.rig)  # e.g. held by quarantine tests
        subjects, stats, seconds, info, tag = faults.kill9_under_load(
            self.rig,
            sessions=8,
            per_session=10,
            kill_after=25,
            down_for=1.0,
            milter_options=self.milter_options,
        )
        self.assertIn("killed_pid", info, "the milter was never killed")
        self.assertNotEqual(info["killed_pid"], info["new_pid"])
        self.assertEqual(stats["failed"], [], stats)
        self.assertGreater(stats["tempfailed"], 0, "no message met the dead milter: the test proved nothing")
        faults.flush_postfix(self.rig)
        acct = faults.account(self.rig, subjects, tag)
        for key in ("lost", "duplicated", "unexpected", "bad_header", "other_result"):
            self.assertEqual(acct[key], 0, f"{key}: {acct} {info}")
        self.assertEqual(
            faults.postfix_queue_count(self.rig), queued_before, "messages left in Postfix's queue"
        )
        self.check("pass", "secure.test", mail_from="alice@secure.test", cert="out1.secure.test")

    def test_sighup_under_load_drops_nothing(self):
        subjects, stats, seconds, info, tag = faults.sighup_under_load(
            self.rig, sessions=8, per_session=10, sighups=10, interval=0.1
        )
        self.assertEqual(info["sighups"], 10, f"not every SIGHUP was sent under load: {info}")
        self.assertTrue(info["pid_same"], "the milter did not survive SIGHUP")
        self.assertEqual(stats["tempfailed"], 0, stats)
        self.assertEqual(stats["failed"], [], stats)
        acct = faults.account(self.rig, subjects, tag)
        for key in ("lost", "duplicated", "unexpected", "bad_header", "other_result"):
            self.assertEqual(acct[key], 0, f"{key}: {acct}")
        self.assertIn("reloaded", self.rig.milter_log_text())


class HostileClientTests(RigTestCase):
    """Malformed, oversized and abandoned milter conversations next to a
    well-behaved one: no crash, no effect on the other session, RSS and fds
    back near where they were."""

    def test_hostile_clients(self):
        self.rig.ensure_milter(**self.milter_options)
        pid = self.rig.milter_proc.pid
        threads = faults.thread_count(pid)
        # One warm-up pass (allocator arenas, libunbound cache), then measure.
        faults.run_hostile(self.rig.milter_address)
        faults.wait_threads_at_most(pid, threads + 2)
        before = faults.settle(pid, 0.5)
        result = faults.run_hostile(self.rig.milter_address, rounds=2)
        self.assertEqual(result["failures"], [])
        self.assertTrue(self.rig.milter_running(), self.rig.milter_log_text()[-3000:])
        self.assertEqual(self.rig.milter_proc.pid, pid)
        self.assertGreater(result["good_ok"], 0)
        self.assertEqual(result["good_bad"], 0, result["good_errors"])
        self.assertEqual(result["good_errors"], [])
        faults.wait_threads_at_most(pid, threads + 2)
        after = faults.settle(pid, 0.5)
        self.assertLessEqual(after["fds"], before["fds"] + 2, f"{before} -> {after}")
        if not SANITIZED:
            self.assertLessEqual(
                after["rss_kib"],
                max(before["rss_kib"] * 1.15, before["rss_kib"] + 8192),
                f"{before} -> {after}",
            )
        self.check("pass", "secure.test", mail_from="alice@secure.test", cert="out1.secure.test")


UNPRIVILEGED_USER = "nobody"


class PrivilegeTests(unittest.TestCase):
    """--user: the daemon runs as that user (every thread, real, effective,
    saved and filesystem ids, no root group), and its unix socket belongs
    to that user with the mode --umask gives."""

    @classmethod
    def setUpClass(cls):
        cls.rig = rigmod.shared_rig()
        cls.user = pwd.getpwnam(UNPRIVILEGED_USER)
        cls.dir = cls.rig.dir / f"priv-{uuid.uuid4().hex[:6]}"
        cls.dir.mkdir()
        os.chown(cls.dir, cls.user.pw_uid, cls.user.pw_gid)
        cls.socket = str(cls.dir / "milter.sock")
        cls.log = cls.dir / "milter.log"
        cmd = cls.rig.milter_command(socket=f"unix:{cls.socket}", user=UNPRIVILEGED_USER, umask="027")
        with open(cls.log, "wb") as log:
            cls.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, preexec_fn=rigmod.die_with_parent
            )
        try:
            rigmod.wait_until(
                lambda: cls.proc.poll() is None and rigmod.can_connect(cls.socket),
                15,
                "milter on its unix socket",
            )
        except rigmod.RigError:
            rigmod.kill_process_group(cls.proc, graceful=False)
            raise rigmod.RigError(f"milter did not start: {cls.log.read_text()[-2000:]}")

    @classmethod
    def tearDownClass(cls):
        rigmod.kill_process_group(cls.proc)
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_every_thread_runs_as_the_user(self):
        # A message first, so that the resolver's and a connection's threads exist.
        with mc.MilterClient(self.socket, timeout=30) as client:
            client.negotiate()
            result = client.send_message(
                "<alice@secure.test>",
                headers=faults.HEADERS,
                body=b"x\r\n",
                connect=("out1.secure.test", "127.0.0.1"),
                helo="out1.secure.test",
                macros=faults.postfix_style_macros("PRIV1"),
            )
            self.assertTrue(faults.milter_verdict_ok(result), result.describe())
            creds = faults.task_credentials(self.proc.pid)
        self.assertGreater(len(creds), 1)
        for tid, c in creds.items():
            self.assertEqual(c["Uid"], [self.user.pw_uid] * 4, f"thread {tid}: {c}")
            self.assertEqual(c["Gid"], [self.user.pw_gid] * 4, f"thread {tid}: {c}")
            self.assertNotIn(0, c["Groups"], f"thread {tid}: {c}")

    def test_socket_owner_and_mode(self):
        st = os.stat(self.socket)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(st.st_uid, self.user.pw_uid)
        self.assertEqual(st.st_gid, self.user.pw_gid)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o750, oct(st.st_mode))

    def test_cannot_regain_root(self):
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        cap_eff = next(line for line in status.splitlines() if line.startswith("CapEff:"))
        self.assertEqual(int(cap_eff.split()[1], 16), 0, cap_eff)


if __name__ == "__main__":
    unittest.main()
