"""Fault injection and measurement for the reliability tests
(test_reliability.py) and the figures in docs/RELIABILITY.md
(reliability_report.py, run by scripts/reliability).

* DnsFaultProxy: a DNS proxy on loopback (UDP and TCP on one port) in front
  of the rig's NSD whose behaviour can be switched while the milter runs:
  ``pass``, ``stopped`` (sockets closed: ICMP port unreachable / RST),
  ``silent`` (queries read, never answered), ``slow`` (answers held back),
  ``servfail`` (answer built by rig.StubResponder), ``truncate`` (every UDP
  answer replaced by an empty one with TC=1, so the resolver must retry over
  TCP, which is forwarded unchanged).
* ExpiringZone: a DNSSEC-signed zone on an NSD of its own, with its own
  trust anchor, whose signatures can be made to expire a few seconds ahead
  and be re-signed later.
* fault_unbound_conf(): a copy of the rig's unbound.conf that sends
  ``test.`` through a proxy (and adds the expiring zone).
* Process figures (RSS, fds, uids of every thread) from /proc.
* Load and abuse drivers shared by the tests and the report: concurrent
  SMTP sessions through the rig's Postfix, concurrent milter-protocol
  sessions, hostile milter clients, kill -9 and SIGHUP under load.

Every server listens on 127.0.0.1 only, every wait and loop is bounded.
"""

from __future__ import annotations

import os
import re
import select
import signal
import smtplib
import socket
import ssl
import struct
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import milter_protocol as mc
from .base import AUTHSERV_ID, RECIPIENT, DEFAULT_CLIENT_MX_TYPE, RigError
from .dns import StubResponder, client_mx_rr, dns_probe
from .messages import DeliveredMessage, authserv_id_of, message_text
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

# --------------------------------------------------------------------------
# DNS fault proxy
# --------------------------------------------------------------------------

PROXY_MODES = ("pass", "stopped", "silent", "slow", "servfail", "truncate")


class DnsFaultProxy:
    """UDP+TCP DNS proxy on 127.0.0.1:port forwarding to 127.0.0.1:upstream.

    ``mode`` may be changed at any time (``set_mode``); ``stopped`` closes
    the listening sockets so that the port is really dead, any other mode
    reopens them on the same port. Counters: ``udp_queries``,
    ``tcp_queries``, ``truncated``, ``dropped``, ``delayed``."""

    def __init__(self, upstream_port, port=None, delay=3.0):
        self.upstream = ("127.0.0.1", upstream_port)
        self.port = port or free_port(udp_too=True)
        self.delay = delay
        self.mode = "pass"
        self.udp_queries = self.tcp_queries = 0
        self.truncated = self.dropped = self.delayed = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        self._sockets = None
        self._servfail = StubResponder("servfail", 0)  # only builds answers

    # -- control -------------------------------------------------------------
    def start(self):
        self._open()
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, name="dns-fault-proxy", daemon=True)
        self._thread.start()
        return self

    def _open(self):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        for sock in (udp, tcp):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", self.port))
        tcp.listen(64)
        with self._lock:
            self._sockets = (udp, tcp)

    def _close(self):
        with self._lock:
            sockets, self._sockets = self._sockets, None
        for sock in sockets or ():
            sock.close()

    def set_mode(self, mode):
        assert mode in PROXY_MODES, mode
        previous, self.mode = self.mode, mode
        if mode == "stopped" and previous != "stopped":
            self._close()
        elif mode != "stopped" and previous == "stopped":
            self._open()

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._close()

    def counters(self):
        return {
            "udp": self.udp_queries,
            "tcp": self.tcp_queries,
            "truncated": self.truncated,
            "dropped": self.dropped,
            "delayed": self.delayed,
        }

    # -- serving ---------------------------------------------------------------
    def _forward_udp(self, query):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as up:
            up.settimeout(2)
            up.sendto(query, self.upstream)
            try:
                return up.recvfrom(65535)[0]
            except OSError:
                return None

    def _forward_tcp(self, query):
        try:
            with socket.create_connection(self.upstream, timeout=2) as up:
                up.sendall(struct.pack("!H", len(query)) + query)
                head = _recv_exact(up, 2)
                return _recv_exact(up, struct.unpack("!H", head)[0])
        except (OSError, RigError):
            return None

    @staticmethod
    def _truncated(answer):
        """Header and question of ``answer``, TC=1, no records."""
        qid, flags, qd = struct.unpack("!HHH", answer[:6])
        end = 12
        for _ in range(qd):
            while end < len(answer) and answer[end] != 0:
                end += answer[end] + 1
            end += 5
        return struct.pack("!HHHHHH", qid, flags | 0x0200, qd, 0, 0, 0) + answer[12:end]

    def _answer(self, query, transport):
        """The reply to send now (None: none), after the mode's effect."""
        mode = self.mode
        if mode == "silent":
            self.dropped += 1
            return None
        if mode == "servfail":
            return self._servfail._answer(query)
        if mode == "slow":
            self.delayed += 1
            time.sleep(self.delay)
        reply = self._forward_udp(query) if transport == "udp" else self._forward_tcp(query)
        if reply and mode == "truncate" and transport == "udp":
            self.truncated += 1
            return self._truncated(reply)
        return reply

    def _handle_udp(self, udp, query, peer):
        reply = self._answer(query, "udp")
        if reply:
            try:
                udp.sendto(reply, peer)
            except OSError:
                pass

    def _handle_tcp(self, conn):
        try:
            conn.settimeout(10)
            for _ in range(100):  # queries on one connection
                head = conn.recv(2)
                if len(head) < 2:
                    return
                query = _recv_exact(conn, struct.unpack("!H", head)[0])
                self.tcp_queries += 1
                reply = self._answer(query, "tcp")
                if reply:
                    conn.sendall(struct.pack("!H", len(reply)) + reply)
        except (OSError, RigError):
            pass
        finally:
            conn.close()

    def _serve(self):
        while not self._stop.is_set():
            with self._lock:
                sockets = self._sockets
            if sockets is None:
                time.sleep(0.05)
                continue
            udp, tcp = sockets
            try:
                ready, _, _ = select.select([udp, tcp], [], [], 0.1)
            except (OSError, ValueError):
                continue  # closed by set_mode("stopped")
            for sock in ready:
                try:
                    if sock is udp:
                        query, peer = udp.recvfrom(65535)
                        self.udp_queries += 1
                        threading.Thread(
                            target=self._handle_udp, args=(udp, query, peer), daemon=True
                        ).start()
                    else:
                        conn, _ = tcp.accept()
                        threading.Thread(target=self._handle_tcp, args=(conn,), daemon=True).start()
                except OSError:
                    pass


def _recv_exact(sock, count):
    chunks = []
    while count:
        chunk = sock.recv(count)
        if not chunk:
            raise RigError("connection closed")
        chunks.append(chunk)
        count -= len(chunk)
    return b"".join(chunks)


# --------------------------------------------------------------------------
# A zone whose signatures expire during the test
# --------------------------------------------------------------------------


class ExpiringZone:
    """``expiring.rel.``: signed with its own key, served by an NSD of its
    own, and a trust anchor of its own (so the rig's ``test.`` chain is left
    alone). Its Client MX names out1.secure.test. ``sign(expires_in)``
    re-signs it with RRSIGs expiring that many seconds from now and makes
    NSD load it (a restart on the same port: loopback, well under a
    second)."""

    ZONE = "expiring.rel."

    def __init__(self, directory: Path, rrtype=DEFAULT_CLIENT_MX_TYPE):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port(udp_too=True)
        self.rrtype = rrtype
        self.proc = None
        self.anchor_file = self.dir / "expiring.anchor"
        self.zone_file = self.dir / "expiring.rel.zone"
        self.signed_file = self.dir / "expiring.rel.zone.signed"
        self.expiration = None

    def build(self):
        proc = run(["ldns-keygen", "-a", "ECDSAP256SHA256", "-k", self.ZONE], cwd=self.dir)
        self.key = proc.stdout.strip().splitlines()[-1]
        self.anchor_file.write_text((self.dir / f"{self.key}.ds").read_text())
        self.zone_file.write_text(
            "\n".join(
                [
                    f"$ORIGIN {self.ZONE}",
                    "$TTL 2",
                    f"@\tIN\tSOA\tns.{self.ZONE} hostmaster.{self.ZONE} 1 3600 600 86400 2",
                    f"@\tIN\tNS\tns.{self.ZONE}",
                    "ns\tIN\tA\t127.0.0.1",
                    client_mx_rr("@", "out1.secure.test.", self.rrtype),
                ]
            )
            + "\n"
        )
        (self.dir / "nsd.conf").write_text(
            "\n".join(
                [
                    "server:",
                    "    ip-address: 127.0.0.1",
                    f"    port: {self.port}",
                    "    do-ip6: no",
                    '    username: ""',
                    '    chroot: ""',
                    '    database: ""',
                    f'    zonesdir: "{self.dir}"',
                    f'    zonelistfile: "{self.dir / "zone.list"}"',
                    f'    xfrdfile: "{self.dir / "xfrd.state"}"',
                    f'    xfrdir: "{self.dir}"',
                    f'    pidfile: "{self.dir / "nsd.pid"}"',
                    f'    logfile: "{self.dir / "nsd.log"}"',
                    "    server-count: 1",
                    "    verbosity: 1",
                    "remote-control:",
                    "    control-enable: no",
                    "zone:",
                    f'    name: "{self.ZONE}"',
                    f'    zonefile: "{self.signed_file}"',
                ]
            )
            + "\n"
        )
        return self

    def sign(self, expires_in):
        now = int(time.time())
        self.expiration = now + int(expires_in)
        run(
            [
                "ldns-signzone",
                "-i",
                str(now - 60),
                "-e",
                str(self.expiration),
                "-f",
                self.signed_file,
                self.zone_file,
                self.key,
            ],
            cwd=self.dir,
        )
        self.restart()

    def restart(self, timeout=15):
        self.stop()
        self.proc = subprocess.Popen(
            ["nsd", "-d", "-c", str(self.dir / "nsd.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
        wait_until(
            lambda: dns_probe(self.port, self.ZONE) == (0, True),
            timeout,
            f"nsd for {self.ZONE} on port {self.port}",
        )

    def stop(self):
        kill_process_group(self.proc)
        self.proc = None


def fault_unbound_conf(
    rig, path: Path, proxy: DnsFaultProxy | None = None, expiring: ExpiringZone | None = None, bogus_ttl=None
):
    """A copy of the rig's unbound.conf with ``test.`` sent through ``proxy``
    and ``expiring.rel.`` (stub + trust anchor) added. ``bogus_ttl`` lowers
    val-bogus-ttl (default 60 s: how long a bogus answer is cached)."""
    text = Path(rig.unbound_conf).read_text()
    if proxy is not None:
        stub = f"stub-addr: 127.0.0.1@{rig.dns.port}\n"
        if stub not in text:
            raise RigError(f"no stub for test. at port {rig.dns.port} in {rig.unbound_conf}")
        text = text.replace(stub, f"stub-addr: 127.0.0.1@{proxy.port}\n")
    server_lines = []
    if expiring is not None:
        # Exact expiry: no clock-skew allowance (default 10% of the
        # signature's validity, at least an hour).
        server_lines += [
            f'    trust-anchor-file: "{expiring.anchor_file}"',
            "    val-sig-skew-min: 0",
            "    val-sig-skew-max: 0",
        ]
        text += f'stub-zone:\n    name: "{expiring.ZONE}"\n    stub-addr: 127.0.0.1@{expiring.port}\n'
    if bogus_ttl is not None:
        server_lines.append(f"    val-bogus-ttl: {int(bogus_ttl)}")
    if server_lines:
        text = text.replace("server:\n", "server:\n" + "\n".join(server_lines) + "\n", 1)
    Path(path).write_text(text)
    return Path(path)


# --------------------------------------------------------------------------
# Process figures
# --------------------------------------------------------------------------


def rss_kib(pid):
    """VmRSS of ``pid`` in KiB (None when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def thread_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return None


def task_credentials(pid):
    """{tid: {"Uid": [r, e, s, fs], "Gid": [...], "Groups": [...]}} for
    every thread of ``pid``."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        creds = {}
        try:
            for line in (task / "status").read_text().splitlines():
                key, _, value = line.partition(":")
                if key in ("Uid", "Gid", "Groups"):
                    creds[key] = [int(v) for v in value.split()]
        except OSError:
            continue
        out[int(task.name)] = creds
    return out


def settle(pid, seconds=1.0):
    """Give the milter's threads time to finish after a burst."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.1)
    return {"rss_kib": rss_kib(pid), "fds": fd_count(pid), "threads": thread_count(pid)}


def wait_threads_at_most(pid, limit, timeout=15):
    """Connection threads end when their client has gone: wait (bounded)
    until the milter has at most ``limit`` threads; returns the count."""
    try:
        wait_until(
            lambda: (thread_count(pid) or 0) <= limit, timeout, f"milter threads <= {limit}", interval=0.1
        )
    except RigError:
        pass
    return thread_count(pid)


def start_milter_wrapped(rig, wrapper, timeout=60, **options):
    """rig.start_milter() with the command prefixed by ``wrapper`` (e.g.
    valgrind); the rig then owns the process as usual (stop_milter)."""
    rig.stop_milter(graceful=False)
    if isinstance(rig.milter_address, tuple):
        wait_until(lambda: tcp_port_bindable(rig.milter_port), 20, "milter port free", interval=0.2)
    rig._milter_runs += 1
    rig.milter_log = rig.dir / "milter" / f"milter-{rig._milter_runs}.log"
    rig.milter_cmdline = [*wrapper, *rig.milter_command(**options)]
    with open(rig.milter_log, "wb") as log:
        rig.milter_proc = subprocess.Popen(
            rig.milter_cmdline, stdin=subprocess.DEVNULL, stdout=log, stderr=log, preexec_fn=die_with_parent
        )

    def ready():
        if rig.milter_proc.poll() is not None:
            raise RigError(
                f"milter exited with {rig.milter_proc.returncode}:\n" f"{log_tail(rig.milter_log)}"
            )
        return can_connect(rig.milter_address)

    wait_until(ready, timeout, "wrapped milter socket", interval=0.2)
    rig.milter_options = {"_wrapped": tuple(wrapper), **options}
    return rig.milter_proc


# --------------------------------------------------------------------------
# Delivered mail accounting
# --------------------------------------------------------------------------


def inbox_by_subject(rig, prefix):
    """{subject: [DeliveredMessage, ...]} for delivered messages whose
    Subject starts with ``prefix``."""
    found = {}
    for path in sorted((rig.inbox / "new").glob("*.eml")):
        msg = rig._message_cache.get(path.name)
        if msg is None:
            try:
                msg = rig._message_cache[path.name] = DeliveredMessage.load(path)
            except OSError:
                continue
        subject = msg.get("Subject") or ""
        if subject.startswith(prefix):
            found.setdefault(subject, []).append(msg)
    return found


def account(rig, subjects, prefix, timeout=60, expected_result="pass"):
    """Wait (bounded) until every subject in ``subjects`` is delivered, then
    count: delivered, lost, duplicated, messages without exactly one of our
    A-R with exactly one mtls result, and results other than expected."""
    wanted = set(subjects)

    def all_there():
        return wanted <= set(inbox_by_subject(rig, prefix))

    try:
        wait_until(all_there, timeout, "every message delivered", interval=0.25)
    except RigError:
        pass
    time.sleep(0.5)  # anything delivered twice shows up by now
    found = inbox_by_subject(rig, prefix)
    bad_header, other_result = [], []
    for subject, msgs in found.items():
        for msg in msgs:
            ours = msg.our_auth_results()
            results = msg.mtls_results()
            if (
                len(ours) != 1
                or len(results) != 1
                or authserv_id_of(msg.first_header.value) != AUTHSERV_ID.lower()
            ):
                bad_header.append(subject)
            elif expected_result and results[0].result != expected_result:
                other_result.append(f"{subject}: {results[0].result}")
    return {
        "sent": len(wanted),
        "delivered": sum(len(v) for k, v in found.items() if k in wanted),
        "lost": len(wanted - set(found)),
        "duplicated": sum(len(v) - 1 for k, v in found.items() if len(v) > 1),
        "unexpected": len(set(found) - wanted),
        "bad_header": len(bad_header),
        "other_result": len(other_result),
        "examples": (bad_header + other_result)[:5],
    }


# --------------------------------------------------------------------------
# SMTP load through the rig's Postfix
# --------------------------------------------------------------------------


def _tls_context(rig, cert):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    pair = rig.cert(cert)
    ctx.load_cert_chain(str(pair.cert), str(pair.key))
    return ctx


def smtp_session(
    rig,
    subjects,
    cert="out1.secure.test",
    mail_from="alice@secure.test",
    timeout=120,
    retries=0,
    retry_delay=0.5,
):
    """TLS SMTP (client certificate ``cert``) sending one message per
    subject, on one connection while all goes well. A 4xx reply or a
    dropped connection is retried as an MTA would, on a new connection, up
    to ``retries`` times per message. Returns {"accepted": n,
    "tempfailed": n (4xx replies and dropped connections), "failed": [...]}."""
    pending = list(subjects)
    attempts = dict.fromkeys(pending, 0)
    stats = {"accepted": 0, "tempfailed": 0, "failed": []}
    smtp = None
    last_error = ""

    def drop():
        nonlocal smtp
        if smtp is not None:
            try:
                smtp.close()
            except OSError:
                pass
        smtp = None

    try:
        for _ in range(len(pending) * (retries + 2) + 2):  # each turn uses up an attempt
            if not pending:
                break
            subject = pending[0]
            if attempts[subject] > retries:
                stats["failed"].append(f"{subject}: {last_error}")
                pending.pop(0)
                continue
            attempts[subject] += 1
            try:
                if smtp is None:
                    smtp = smtplib.SMTP(
                        "127.0.0.1", rig.smtp_port, local_hostname="out1.secure.test", timeout=timeout
                    )
                    smtp.ehlo("out1.secure.test")
                    smtp.starttls(context=_tls_context(rig, cert))
                    smtp.ehlo("out1.secure.test")
                text = message_text(subject, mail_from, RECIPIENT)
                smtp.sendmail(mail_from, [RECIPIENT], text.encode())
                stats["accepted"] += 1
                pending.pop(0)
            except smtplib.SMTPResponseException as exc:
                last_error = f"{exc.smtp_code} {exc.smtp_error!r}"
                drop()
                if 400 <= exc.smtp_code < 500:
                    stats["tempfailed"] += 1
                    time.sleep(retry_delay)
                else:
                    stats["failed"].append(f"{subject}: {last_error}")
                    pending.pop(0)
            except smtplib.SMTPRecipientsRefused as exc:
                code = next(iter(exc.recipients.values()))[0]
                last_error = f"RCPT {code}"
                drop()
                if 400 <= code < 500:
                    stats["tempfailed"] += 1
                    time.sleep(retry_delay)
                else:
                    stats["failed"].append(f"{subject}: {last_error}")
                    pending.pop(0)
            except (OSError, smtplib.SMTPException) as exc:
                last_error = repr(exc)
                drop()
                stats["tempfailed"] += 1
                time.sleep(retry_delay)
    finally:
        if smtp is not None:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                pass
            drop()
    stats["failed"] += [f"{s}: gave up" for s in pending]
    return stats


def all_at_once(work, items, timeout):
    """``work(item)`` for every item, each on its own thread, all released
    together by a barrier so that the load arrives as one burst. Returns
    (results in item order, seconds from release to the last result)."""
    items = list(items)
    barrier = threading.Barrier(len(items), timeout=60)

    def one(item):
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            pass
        return work(item)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        results = list(pool.map(one, items, timeout=timeout))
    return results, time.monotonic() - started


def smtp_load(rig, sessions, per_session, tag, retries=0):
    """``sessions`` concurrent TLS sessions of ``per_session`` messages each
    (unique subjects ``<tag>-<session>-<n>``), all started at once.
    Returns (subjects, summed stats, seconds)."""
    subjects = [[f"{tag}-{s:04d}-{n:03d}" for n in range(per_session)] for s in range(sessions)]
    results, seconds = all_at_once(
        lambda batch: smtp_session(rig, batch, retries=retries), subjects, timeout=900
    )
    total = {
        "accepted": sum(r["accepted"] for r in results),
        "tempfailed": sum(r["tempfailed"] for r in results),
        "failed": [x for r in results for x in r["failed"]],
    }
    return [s for batch in subjects for s in batch], total, seconds


# --------------------------------------------------------------------------
# milter-protocol load (no MTA)
# --------------------------------------------------------------------------


def postfix_style_macros(queue_id, cn="out1.secure.test"):
    tls = {
        "{tls_version}": "TLSv1.3",
        "{cipher}": "TLS_AES_256_GCM_SHA384",
        "{cipher_bits}": "256",
        "{cert_subject}": cn,
        "{cert_issuer}": "mtls-milter Test CA",
    }
    return {
        "C": {"j": "mx.inbox.test", "{daemon_name}": "smtpd"},
        "H": dict(tls),
        "M": {"i": queue_id, **tls},
        "E": {"i": queue_id},
    }


HEADERS = [("From", " <alice@secure.test>"), ("To", " <user@inbox.test>"), ("Subject", " milter load")]


def milter_verdict_ok(result, expected="pass"):
    """Exactly one header change: our A-R inserted at 0 with one mtls
    result ``expected``; the final reply CONTINUE/ACCEPT."""
    changes = result.header_changes
    if result.final is None or result.final.code not in (mc.SMFIR_CONTINUE, mc.SMFIR_ACCEPT):
        return False
    if len(changes) != 1 or not isinstance(changes[0], mc.InsertHeader) or changes[0].index != 0:
        return False
    value = changes[0].value
    return (
        authserv_id_of(value) == AUTHSERV_ID.lower()
        and len(re.findall(r"\bmtls=", value)) == 1
        and f"mtls={expected}" in value
    )


def milter_session(address, messages, tag, timeout=60):
    """One milter connection, ``messages`` messages; returns (ok, bad, errors)."""
    ok = bad = 0
    errors = []
    try:
        with mc.MilterClient(address, timeout=timeout) as client:
            client.negotiate()
            for n in range(messages):
                first = n == 0
                result = client.send_message(
                    "<alice@secure.test>",
                    headers=HEADERS,
                    body=b"Body.\r\n",
                    connect=("out1.secure.test", "127.0.0.1") if first else None,
                    helo="out1.secure.test" if first else None,
                    macros=postfix_style_macros(f"{tag}{n}"),
                )
                if milter_verdict_ok(result):
                    ok += 1
                else:
                    bad += 1
                    errors.append(result.describe())
    except (OSError, mc.ProtocolError) as exc:
        errors.append(repr(exc))
    return ok, bad, errors


def milter_load(address, sessions, per_session, tag="L"):
    """``sessions`` concurrent milter connections (threads), all started
    together. Returns {"sessions", "messages", "ok", "bad", "errors", "seconds"}."""
    results, seconds = all_at_once(
        lambda i: milter_session(address, per_session, f"{tag}{i:04d}x"), range(sessions), timeout=600
    )
    return {
        "sessions": sessions,
        "messages": sessions * per_session,
        "ok": sum(r[0] for r in results),
        "bad": sum(r[1] for r in results),
        "errors": [e for r in results for e in r[2]][:5],
        "failed_sessions": sum(1 for r in results if r[2]),
        "seconds": seconds,
    }


# --------------------------------------------------------------------------
# Hostile milter clients
# --------------------------------------------------------------------------


def _packet(command, payload=b""):
    return struct.pack("!I", len(payload) + 1) + command + payload


def _raw(address, timeout=10):
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.connect(address)
    return sock


def _closed_by_peer(sock, timeout=10):
    """True when the filter closes the connection (EOF or reset) within
    ``timeout``, reading and discarding whatever it sends first."""
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not sock.recv(65536):
                return True
    except ConnectionResetError:
        return True
    except OSError:
        return False
    return False


def _negotiated_client(address, timeout=30):
    client = mc.MilterClient(address, timeout=timeout)
    client.negotiate()
    return client


def _started_message(client, macros=None, headers=True):
    macros = macros or postfix_style_macros("HOSTILE")
    client.connect("out1.secure.test", "127.0.0.1", macros=macros["C"])
    client.helo("out1.secure.test", macros=macros["H"])
    client.mail("<alice@secure.test>", macros=macros["M"])
    client.rcpt("<user@inbox.test>")
    client.data()
    if headers:
        for name, value in HEADERS:
            client.header(name, value)


# Hostile milter clients: each case plays a broken or malicious MTA on its
# own connection (hostile_cases lists them, run_hostile runs them).

_BIG_CN = "a" * (1 << 20)


def _hostile_truncated_packet(addr):
    with _raw(addr) as sock:
        sock.sendall(struct.pack("!I", 1000) + b"O" + b"\0" * 10)
    return "sent 11 of 1000 announced bytes, then closed"


def _hostile_zero_length(addr):
    with _raw(addr) as sock:
        sock.sendall(b"\0\0\0\0O")
        assert _closed_by_peer(sock), "zero-length packet: connection not closed"
    return "connection closed by the milter"


def _hostile_stalled_prefix(addr):
    # Four bytes of a length and nothing more: libmilter waits (its
    # default timeout is 7210 s); the client gives up after a second.
    with _raw(addr) as sock:
        sock.sendall(b"\0\0\0\0")
        closed = _closed_by_peer(sock, timeout=1)
    return "closed by the milter" if closed else "held open until the client left"


def _hostile_huge_length(addr):
    with _raw(addr) as sock:
        sock.sendall(struct.pack("!I", 0x7FFFFFFF) + b"O")
        assert _closed_by_peer(sock), "2 GiB length prefix: connection not closed"
    return "connection closed by the milter"


def _hostile_oversized_macro(addr):
    client = _negotiated_client(addr)
    try:
        payload = b"H" + b"{cert_subject}\0" + _BIG_CN.encode() + b"\0"
        try:
            client.sock.sendall(_packet(mc.SMFIC_MACRO, payload))
            client.sock.sendall(_packet(mc.SMFIC_HELO, b"out1.secure.test\0"))
        except (ConnectionResetError, BrokenPipeError):
            return "1 MiB {cert_subject}: connection closed while it was being sent"
        assert _closed_by_peer(client.sock), "1 MiB macro packet: connection not closed"
    finally:
        client.sock.close()
    return "1 MiB {cert_subject}: connection closed"


def _hostile_large_macro_accepted(addr):
    # Just under libmilter's 64 KiB packet limit: accepted and judged.
    macros = postfix_style_macros("BIGCN", cn="b" * 60000)
    with _negotiated_client(addr) as client:
        result = client.send_message(
            "<alice@secure.test>",
            headers=HEADERS,
            body=b"x\r\n",
            connect=("h", "127.0.0.1"),
            helo="out1.secure.test",
            macros=macros,
        )
    assert milter_verdict_ok(result, "fail"), result.describe()
    return "60 000-byte {cert_subject}: mtls=fail, one header"


def _hostile_header_64k(addr):
    with _negotiated_client(addr) as client:
        _started_message(client)
        try:
            client.sock.sendall(_packet(mc.SMFIC_HEADER, b"X-Big\0" + b"v" * 65536 + b"\0"))
        except (ConnectionResetError, BrokenPipeError):
            return "64 KiB header value: connection closed while it was being sent"
        assert _closed_by_peer(client.sock), "64 KiB header packet: connection not closed"
    return "64 KiB header value: connection closed"


def _hostile_header_60k(addr):
    with _negotiated_client(addr) as client:
        result = client.send_message(
            "<alice@secure.test>",
            headers=[*HEADERS, ("X-Big", " " + "v" * 60000)],
            body=b"x\r\n",
            connect=("h", "127.0.0.1"),
            helo="out1.secure.test",
            macros=postfix_style_macros("BIGHDR"),
        )
    assert milter_verdict_ok(result), result.describe()
    return "60 000-byte header value: mtls=pass"


def _hostile_many_headers(addr):
    headers = [*HEADERS, *[(f"X-H{i}", f" value {i}") for i in range(10000)]]
    with _negotiated_client(addr, timeout=120) as client:
        result = client.send_message(
            "<alice@secure.test>",
            headers=headers,
            body=b"x\r\n",
            connect=("h", "127.0.0.1"),
            helo="out1.secure.test",
            macros=postfix_style_macros("MANYHDR"),
        )
    assert milter_verdict_ok(result), result.describe()[:2000]
    return "10 000 headers: mtls=pass, one header"


def _hostile_many_forged(addr):
    forged = [
        ("Authentication-Results", f" {AUTHSERV_ID}; mtls=pass smtp.mailfrom=f{i}.test") for i in range(10000)
    ]
    with _negotiated_client(addr, timeout=120) as client:
        result = client.send_message(
            "<alice@secure.test>",
            headers=[*HEADERS, *forged],
            body=b"x\r\n",
            connect=("h", "127.0.0.1"),
            helo="out1.secure.test",
            macros=postfix_style_macros("FORGED"),
        )
    deletes = [m for m in result.modifications if isinstance(m, mc.ChangeHeader) and m.is_delete]
    inserts = [m for m in result.modifications if isinstance(m, mc.InsertHeader)]
    assert len(deletes) == 10000, f"{len(deletes)} deletions"
    assert sorted(d.index for d in deletes) == list(range(1, 10001))
    assert len(inserts) == 1 and "mtls=pass" in inserts[0].value
    return "10 000 forged A-R: 10 000 deletions + our header"


def _hostile_disconnect_mid_headers(addr):
    client = _negotiated_client(addr)
    _started_message(client)
    client.sock.close()
    return "closed after the headers"


def _hostile_disconnect_mid_body(addr):
    client = _negotiated_client(addr)
    _started_message(client)
    client.eoh()
    client.sock.sendall(_packet(mc.SMFIC_BODY, b"half a body"))
    client.sock.close()
    return "closed in the body"


def _hostile_disconnect_mid_packet(addr):
    client = _negotiated_client(addr)
    _started_message(client, headers=False)
    client.sock.sendall(_packet(mc.SMFIC_HEADER, b"Subject\0" + b"x" * 1000 + b"\0")[:300])
    client.sock.close()
    return "closed half-way through a header packet"


def _hostile_garbage_command(addr):
    with _negotiated_client(addr) as client:
        client.sock.sendall(_packet(b"Z", b"\xff" * 100))
        client.sock.sendall(_packet(mc.SMFIC_CONNECT, b"no-nul-terminator"))
        _closed_by_peer(client.sock, timeout=3)
    return "unknown command and malformed CONNECT sent"


def hostile_cases(address):
    """Each case: (name, function(address) -> outcome text). A case raises
    AssertionError when the milter's behaviour is wrong (e.g. it answered
    an over-long packet), not when it closes the connection."""
    return [
        ("truncated packet", _hostile_truncated_packet),
        ("zero length prefix", _hostile_zero_length),
        ("stalled length prefix", _hostile_stalled_prefix),
        ("2 GiB length prefix", _hostile_huge_length),
        ("1 MiB macro value", _hostile_oversized_macro),
        ("60 000-byte macro value", _hostile_large_macro_accepted),
        ("64 KiB header value", _hostile_header_64k),
        ("60 000-byte header value", _hostile_header_60k),
        ("10 000 headers", _hostile_many_headers),
        ("10 000 forged A-R headers", _hostile_many_forged),
        ("disconnect after headers", _hostile_disconnect_mid_headers),
        ("disconnect in body", _hostile_disconnect_mid_body),
        ("disconnect mid-packet", _hostile_disconnect_mid_packet),
        ("garbage commands", _hostile_garbage_command),
    ]


def run_hostile(address, rounds=1):
    """Run every hostile case ``rounds`` times while a well-behaved client
    keeps sending messages on its own connections. Returns
    {"cases": {name: outcome}, "failures": [...], "good_ok", "good_bad",
     "good_errors"}."""
    stop = threading.Event()
    good = {"ok": 0, "bad": 0, "errors": []}

    def well_behaved():
        n = 0
        # At least one session, however quickly the hostile cases finish.
        while n == 0 or (not stop.is_set() and n < 10000):
            ok, bad, errors = milter_session(address, 3, f"GOOD{n}x", timeout=30)
            good["ok"] += ok
            good["bad"] += bad
            good["errors"] += errors[:2]
            n += 1

    thread = threading.Thread(target=well_behaved, daemon=True)
    thread.start()
    outcomes, failures = {}, []
    try:
        for _ in range(rounds):
            for name, case in hostile_cases(address):
                try:
                    outcomes[name] = case(address)
                except (AssertionError, mc.ProtocolError, OSError) as exc:
                    failures.append(f"{name}: {exc!r}"[:3000])
    finally:
        time.sleep(0.5)
        stop.set()
        thread.join(timeout=120)
    return {
        "cases": outcomes,
        "failures": failures,
        "good_ok": good["ok"],
        "good_bad": good["bad"],
        "good_errors": good["errors"][:3],
    }


# --------------------------------------------------------------------------
# kill -9 and SIGHUP under load
# --------------------------------------------------------------------------


def kill9_under_load(
    rig, sessions=8, per_session=10, tag=None, kill_after=20, down_for=1.0, milter_options=None
):
    """Load with retries; after ``kill_after`` accepted messages SIGKILL the
    milter, leave it down ``down_for`` seconds, restart it. Returns the
    load stats, the accounting and the restart details."""
    tag = tag or f"kill9-{uuid.uuid4().hex[:6]}"
    info = {}

    def killer(progress):
        try:
            wait_until(lambda: progress() >= kill_after or None, 120, "load to get going", interval=0.02)
        except RigError:
            return
        pid = rig.milter_proc.pid
        os.kill(pid, signal.SIGKILL)
        rig.milter_proc.wait(timeout=10)
        info["killed_pid"] = pid
        info["killed_at_accepted"] = progress()
        time.sleep(down_for)
        started = time.monotonic()
        rig.start_milter(**(milter_options or {}))
        info["restart_seconds"] = time.monotonic() - started
        info["new_pid"] = rig.milter_proc.pid

    subjects, stats, seconds = _load_with_hook(rig, sessions, per_session, tag, killer)
    return subjects, stats, seconds, info, tag


def _load_with_hook(rig, sessions, per_session, tag, hook, retries=20):
    """``sessions`` concurrent senders, one connection per message, while
    ``hook(progress)`` runs in this thread (``progress()``: messages accepted
    so far). Each sender sends at least ``per_session`` messages and keeps
    sending until the hook has returned, so whatever the hook does happens
    under load however fast the machine is; the hook bounds the run's time.
    Returns (subjects, stats, seconds)."""
    subjects = [[] for _ in range(sessions)]
    accepted = [0]
    lock = threading.Lock()
    hook_done = threading.Event()

    def one(session):
        out = {"accepted": 0, "tempfailed": 0, "failed": []}
        n = 0
        while n < per_session or not hook_done.is_set():
            subject = f"{tag}-{session:04d}-{n:03d}"
            subjects[session].append(subject)
            r = smtp_session(rig, [subject], retries=retries, retry_delay=0.5)
            for k in ("accepted", "tempfailed"):
                out[k] += r[k]
            out["failed"] += r["failed"]
            with lock:
                accepted[0] += r["accepted"]
            n += 1
        return out

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=sessions) as pool:
        futures = [pool.submit(one, session) for session in range(sessions)]
        # The hook runs in this thread: a milter it starts gets
        # PR_SET_PDEATHSIG from the rig, which fires when the *thread* that
        # started it ends, so it must not be a pool thread.
        try:
            hook(lambda: accepted[0])
        finally:
            hook_done.set()
        results = [f.result(timeout=900) for f in futures]
    stats = {
        "accepted": sum(r["accepted"] for r in results),
        "tempfailed": sum(r["tempfailed"] for r in results),
        "failed": [x for r in results for x in r["failed"]],
    }
    return [s for batch in subjects for s in batch], stats, time.monotonic() - started


def sighup_under_load(rig, sessions=8, per_session=10, tag=None, sighups=10, interval=0.1):
    """Load during which ``sighups`` SIGHUPs are sent ``interval`` seconds
    apart, the first once a message has been accepted; the load lasts until
    the last one has been sent (at least ``per_session`` messages per
    session). A fixed number of signals, not as many as fit into the load,
    so the outcome does not depend on the machine's speed. Returns (subjects,
    stats, seconds, {"sighups": sent, "sighups_planned": n, "pid_same":
    bool}, tag); fewer sent than planned means the milter died or the load
    never got going."""
    tag = tag or f"hup-{uuid.uuid4().hex[:6]}"
    info = {"sighups": 0, "sighups_planned": sighups}
    pid = rig.milter_proc.pid

    def hupper(progress):
        try:
            wait_until(lambda: progress() > 0 or None, 120, "load to get going", interval=0.02)
        except RigError:
            return
        for _ in range(sighups):
            if not rig.milter_running():
                return
            os.kill(pid, signal.SIGHUP)
            info["sighups"] += 1
            time.sleep(interval)

    subjects, stats, seconds = _load_with_hook(rig, sessions, per_session, tag, hupper, retries=0)
    info["pid_same"] = rig.milter_running() and rig.milter_proc.pid == pid
    return subjects, stats, seconds, info, tag


def postfix_queue_count(rig):
    """Messages in the rig's Postfix queue (deferred, active, incoming, hold)."""
    count = 0
    for sub in ("deferred", "active", "incoming", "hold", "maildrop"):
        d = rig.postfix.queue_dir / sub
        if d.exists():
            count += sum(1 for p in d.rglob("*") if p.is_file())
    return count


def flush_postfix(rig):
    run(["postqueue", "-c", str(rig.postfix.config_dir), "-f"], check=False)
