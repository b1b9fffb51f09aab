#!/usr/bin/python3
"""Side-by-side performance benchmark for mtls-milter (issue #7).

Started by ``bench/run`` (which builds the bench programs first). Everything
runs on loopback inside one temporary directory, built from the pieces of the
integration rig (tests/rig/): a test CA, NSD serving zones
signed at run time, a private Postfix. On top of them:

* a cold-cache zone: N sender domains under secure.test, each with a Client
  MX record, a DKIM key record and a DMARC record, signed with ldns;
* DKIM-signed messages (one per sender domain; rsa-sha256, relaxed);
* one Postfix with one smtpd listener per filter under test, relaying every
  accepted message to smtp-sink, which writes each one to a file: every run
  counts delivered messages and checks the filter's header in each of them;
* the filters: no milter, a null libmilter filter (bench/null_milter.c),
  mtls-milter, OpenDKIM in verify mode and OpenDMARC, each on a unix and an
  inet socket. OpenDKIM and mtls-milter resolve through libunbound with
  DNSSEC against the rig's NSD; OpenDMARC uses the system stub resolver, so
  it runs in a private mount namespace whose /etc/resolv.conf names NSD;
* two chains for the DMARC stage against OpenDMARC: [mtls-milter stage 1,
  OpenDKIM, DMARC filter], where the DMARC filter is mtls-milter's
  dmarc-socket (its child process) or OpenDMARC, with the same stage 1 and
  OpenDKIM in front of both.

Measurements are interleaved (all filters for one case, then the next case,
then the next repetition) and reported as ratios to the null filter and to
no milter. A run with any rejected, tempfailed, undelivered or untagged
message is BROKEN and never reported as throughput.

Exit status: 0 when every run accounted for all its messages, 1 when a run
was broken, 2 when the harness itself failed.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import grp
import random
import re
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))  # the rig package: tests/rig

import rig  # noqa: E402  (CA, NSD, Postfix helpers)
from rig.dkim import DkimSigner  # noqa: E402
from rig import (
    RigError,
    TestCA,
    DnsServer,
    PostfixInstance,
    client_mx_rr,
    free_port,
    kill_process_group,
    wait_until,
    can_connect,
    tcp_port_bindable,
    run,
)

AUTHSERV_ID = rig.AUTHSERV_ID
RCPT = "user@inbox.test"
WARM_DOMAIN = "secure.test"
WARM_SENDER = f"sender@{WARM_DOMAIN}"
HELO = "out1.secure.test"
SELECTOR = rig.dkim.SELECTOR
DKIM_ZONE = "bench.example"
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Debian package of every external program the benchmark runs.
REQUIRED = {
    "nsd": "nsd",
    "ldns-signzone": "ldnsutils",
    "ldns-keygen": "ldnsutils",
    "postfix": "postfix",
    "postconf": "postfix",
    "smtp-source": "postfix",
    "smtp-sink": "postfix",
    "opendkim": "opendkim",
    "opendmarc": "opendmarc",
    "openssl": "openssl",
    "unshare": "util-linux",
    "mount": "mount",
    "nsenter": "util-linux",
    "unbound": "unbound",
    "mta-sts-daemon": "postfix-mta-sts-resolver",
}


class Broken(Exception):
    """A run whose messages are not all accounted for."""


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---------------------------------------------------------------------------
# /proc accounting
# ---------------------------------------------------------------------------


def proc_stat(pid):
    """(comm, utime+stime seconds, cutime+cstime seconds, session id) or None."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = raw[raw.index("(") + 1 : raw.rindex(")")]
    f = raw[raw.rindex(")") + 2 :].split()
    return comm, (int(f[11]) + int(f[12])) / CLK_TCK, (int(f[13]) + int(f[14])) / CLK_TCK, int(f[3])


def proc_hwm_kib(pid):
    """Peak resident set size (VmHWM) of a process, KiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def proc_threads(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Threads:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


class ThreadPeak:
    """Samples the thread count of a filter's processes every 10 ms while
    it runs (a context manager); ``peak`` is the most seen at once. The
    count at the end would not do: libmilter lets idle workers go."""

    def __init__(self, filter_):
        self.filter = filter_
        self.peak = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        while True:
            counts = [proc_threads(pid) or 0 for pid in self.filter.pids()]
            if counts:
                self.peak = max(self.peak or 0, max(counts))
            if self._stop.wait(0.01):
                return

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def postfix_cpu_snapshot(master_pid):
    """{pid: (comm, cpu)} of every process in the Postfix master's session,
    plus the master's reaped-children time under the key 'reaped'."""
    snap = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        st = proc_stat(int(entry.name))
        if st and st[3] == master_pid:
            snap[int(entry.name)] = (st[0], st[1])
    st = proc_stat(master_pid)
    snap["reaped"] = ("exited", st[2] if st else 0.0)
    return snap


def postfix_cpu_delta(before, after):
    """CPU seconds per process name between two snapshots; processes that
    started during the run count whole, those that exited show up in the
    master's reaped-children time ('exited')."""
    out = {}
    for pid, (comm, cpu) in after.items():
        base = before.get(pid, (comm, 0.0))[1]
        out[comm] = out.get(comm, 0.0) + max(0.0, cpu - base)
    return out


def children_cpu():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


# ---------------------------------------------------------------------------
# DKIM signing: rig.dkim.DkimSigner (RFC 6376, rsa-sha256, relaxed/relaxed)
# ---------------------------------------------------------------------------

BODY_LINES = [
    f"Line {i:02d} of the benchmark message: the quick brown fox jumps over the lazy dog." for i in range(20)
]


def write_message(path, signer, sender, tag, dkim_domain):
    """sender: the From address."""
    domain = sender.split("@", 1)[1]
    headers = [
        ("From", f"<{sender}>"),
        ("To", f"<{RCPT}>"),
        ("Subject", f"bench {tag}"),
        ("Date", time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())),
        ("Message-ID", f"<{tag}.{random.getrandbits(48):x}@{domain}>"),
    ]
    lines = [signer.sign(headers, BODY_LINES, dkim_domain)]
    lines += [f"{n}: {v}" for n, v in headers]
    lines += [""] + BODY_LINES
    path.write_text("\n".join(lines) + "\n")


# ---------------------------------------------------------------------------
# DNS: the rig's zones plus the cold-cache sender domains
# ---------------------------------------------------------------------------


class BenchDns(DnsServer):
    """The rig's NSD with, in secure.test, a DKIM key and a DMARC record for
    the warm domain and ``count`` cold sender domains; it also answers on
    ``stub_ip``:53 for OpenDMARC's stub resolver."""

    def __init__(self, directory, count, dkim_txt, stub_ip):
        super().__init__(directory)
        self.count = count
        self.dkim_txt = dkim_txt
        self.stub_ip = stub_ip

    @staticmethod
    def label(i):
        return f"d{i:05d}"

    def cold_domain(self, i):
        return f"{self.label(i)}.{WARM_DOMAIN}"

    def _dmarc_lines(self):
        # Not the DMARC tests' records: the benchmark publishes its own p=none
        # (two records at one name would both be discarded).
        return []

    def _secure_zone(self):
        lines = super()._secure_zone()
        lines += ['_dmarc\tIN\tTXT\t"v=DMARC1; p=none"']
        for i in range(self.count):
            lab = self.label(i)
            lines.append(client_mx_rr(lab, "out1.secure.test.", self.rrtype))
            lines.append(f'_dmarc.{lab}\tIN\tTXT\t"v=DMARC1; p=none"')
        return lines

    def dkim_domain(self, i=None):
        """DKIM signing domain (d=) of the warm message (i=None) or of cold
        message i: in their own signed zone, bench.example., that OpenDKIM
        reaches without a libunbound configuration file (see OpenDkimFilter)."""
        return DKIM_ZONE if i is None else f"{self.label(i)}.{DKIM_ZONE}"

    def _dkim_zone(self):
        # DMARC records too: the DMARC chains' messages come From the
        # DKIM domain, so that DKIM aligns.
        dmarc = '\tIN\tTXT\t"v=DMARC1; p=none"'
        lines = self._header(DKIM_ZONE + ".") + [
            f"{SELECTOR}._domainkey\tIN\tTXT\t{self.dkim_txt}",
            "_dmarc" + dmarc,
        ]
        for i in range(self.count):
            lines.append(f"{SELECTOR}._domainkey.{self.label(i)}\tIN\tTXT\t{self.dkim_txt}")
            lines.append(f"_dmarc.{self.label(i)}" + dmarc)
        return lines

    def build(self):
        super().build()
        now = int(time.time())
        key, ds = self._keygen(DKIM_ZONE + ".")
        self.zone_files[DKIM_ZONE + "."] = self._sign(
            DKIM_ZONE + ".", self._dkim_zone(), key, now - 3600, now + 7 * 86400
        )
        self.dkim_anchor_file = self.dir / "dkim.anchor"
        self.dkim_anchor_file.write_text(ds + "\n")
        with open(self.conf, "a") as conf:
            conf.write(
                f'zone:\n    name: "{DKIM_ZONE}."\n    zonefile: "{self.zone_files[DKIM_ZONE + "."]}"\n'
            )
        # NSD's response rate limiting (on by default: 200 answers/s per
        # /24) would drop or truncate a benchmark's queries, all from
        # 127.0.0.1: switch it off.
        text = self.conf.read_text().replace(
            "    ip-address: 127.0.0.1\n",
            f"    ip-address: 127.0.0.1\n    ip-address: {self.stub_ip}@53\n"
            "    rrl-ratelimit: 0\n    rrl-whitelist-ratelimit: 0\n",
            1,
        )
        self.conf.write_text(text)
        run(["nsd-checkconf", self.conf])

    def write_unbound_conf(self, path, port, extra=(), dkim_zone=False):
        """libunbound configuration: the rig's stub zone and trust anchor, and
        every name outside test. refused, so nothing can leave the machine.
        ``extra``: more server: lines; ``dkim_zone``: bench.example. too."""
        zones = ["test."] + ([DKIM_ZONE + "."] if dkim_zone else [])
        anchors = [self.anchor_file] + ([self.dkim_anchor_file] if dkim_zone else [])
        # A DMARC walk from bench.example reaches _dmarc.example: NXDOMAIN,
        # as for a real TLD (refused, it would leave the org domain unknown).
        above = [DKIM_ZONE.split(".", 1)[1] + "."] if dkim_zone else []
        path.write_text(
            "server:\n" + "".join(f"    {line}\n" for line in extra) + "    verbosity: 0\n"
            "    use-syslog: no\n"
            "    do-ip6: no\n"
            "    do-not-query-localhost: no\n"
            + "".join(f'    local-zone: "{zone}" transparent\n' for zone in zones)
            + "".join(f'    local-zone: "{zone}" static\n' for zone in above)
            + '    local-zone: "." refuse\n'
            + "".join(f'    trust-anchor-file: "{anchor}"\n' for anchor in anchors)
            + "".join(f'stub-zone:\n    name: "{zone}"\n    stub-addr: 127.0.0.1@{port}\n' for zone in zones)
        )
        return path


def pick_stub_ip():
    """A loopback address whose port 53 is free (UDP and TCP)."""
    for _ in range(50):
        ip = f"127.53.{random.randrange(1, 255)}.{random.randrange(1, 255)}"
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u, socket.socket(
                socket.AF_INET, socket.SOCK_STREAM
            ) as t:
                u.bind((ip, 53))
                t.bind((ip, 53))
            return ip
        except OSError:
            continue
    raise RigError("no free loopback address for port 53")


# ---------------------------------------------------------------------------
# Postfix: one smtpd listener per filter, delivering to smtp-sink
# ---------------------------------------------------------------------------


class BenchPostfix(PostfixInstance):
    def __init__(self, directory, ca, services, sink_port):
        """services: {name: postfix milter spec or ''}; each gets a port."""
        super().__init__(directory, directory / "unused-inbox", ca, "")
        self.services = {name: (spec, free_port()) for name, spec in services.items()}
        self.sink_port = sink_port
        # The rig's banner check uses smtp_port: the no-milter listener.
        self.smtp_port = next(iter(self.services.values()))[1]

    def port(self, name):
        return self.services[name][1]

    def write_config(self):
        super().write_config()
        lines = []
        for name, (spec, port) in self.services.items():
            lines.append(
                f"127.0.0.1:{port} inet n - n - - smtpd\n"
                f"  -o syslog_name=postfix/{name}\n"
                f"  -o smtpd_milters={spec}\n"
            )
        master = (self.config_dir / "master.cf").read_text().splitlines(keepends=True)
        master = [l for l in master if not re.match(r"^127\.0\.0\.1:\d+\s+inet", l)]
        master.insert(1, "".join(lines))
        (self.config_dir / "master.cf").write_text("".join(master))
        run(
            [
                "postconf",
                "-c",
                self.config_dir,
                "-e",
                f"relay_transport = smtp:[127.0.0.1]:{self.sink_port}",
                "smtpd_milters =",
                # Long-lived daemons, so per-process CPU deltas cover whole runs.
                "max_use = 1000000",
                "max_idle = 3600",
                "default_process_limit = 300",
                "smtp_dns_support_level = disabled",
                "smtpd_tls_security_level = none",
                "smtpd_tls_received_header = no",
            ]
        )

    def queue_empty(self):
        for sub in ("maildrop", "incoming", "active", "deferred", "hold"):
            d = self.queue_dir / sub
            if d.exists():
                for _, _, files in os.walk(d):
                    if files:
                        return False
        return True


# ---------------------------------------------------------------------------
# Filters
# ---------------------------------------------------------------------------

MTLS_RE = re.compile(r"^Authentication-Results: mx\.inbox\.test;\s*mtls=(\w+)", re.M)


def check_none(text):
    return None


def check_null(text):
    return None if "\nX-Bench-Null: yes" in "\n" + text else "no X-Bench-Null header"


def check_mtls(text):
    m = MTLS_RE.search(text)
    if not m:
        return "no mtls Authentication-Results"
    # Plain SMTP from the load generators: no client certificate, so the
    # verdict is fail (the domain publishes Client MX) after a real lookup.
    # temperror means the DNS answer did not come: not a valid measurement.
    return None if m.group(1) in ("fail", "pass") else f"mtls={m.group(1)}"


def check_dkim(text):
    # "secure": OpenDKIM validated the key record with DNSSEC, as
    # mtls-milter validates Client MX.
    if not re.search(r"dkim=pass", text):
        return "no dkim=pass"
    return (
        None if re.search(r"dkim=pass \([^)]*secure\)", text) else "dkim=pass without DNSSEC (not 'secure')"
    )


def check_dmarc(text):
    m = re.search(r"dmarc=(\w+)", text)
    if not m:
        return "no dmarc result"
    return None if m.group(1) in ("pass", "fail", "none") else f"dmarc={m.group(1)}"


def _header_block(text):
    """The message's header fields, each unfolded onto one line."""
    head = text.split("\n\n", 1)[0]
    return re.sub(r"\n[ \t]+", " ", head).splitlines()


FROM_DOMAIN_RE = re.compile(r"^From:.*@([A-Za-z0-9.-]+)>", re.I)
DMARC_AR_RE = re.compile(r"^Authentication-Results: mx\.inbox\.test;\s*dmarc=(\w+)(.*)$", re.I)


def check_dmarc_chain(text, ours):
    """A message through [stage 1, OpenDKIM, DMARC filter]: OpenDKIM's
    dkim=pass, stage 1's verdict, and exactly one DMARC result, from the
    filter under test (ours writes policy.dmarc, OpenDMARC 1.4 does not),
    with the right verdict for the From domain. SPF is off and mtls fails
    (plain SMTP), but the message is From its DKIM d= domain: the correct
    verdict is pass, by DKIM alone."""
    lines = _header_block(text)
    from_domain = next((m.group(1).lower() for m in map(FROM_DOMAIN_RE.match, lines) if m), None)
    results = [m for m in map(DMARC_AR_RE.match, lines) if m]
    if len(results) != 1:
        return f"{len(results)} dmarc results"
    verdict, rest = results[0].group(1), results[0].group(2)
    if verdict != "pass":
        return f"dmarc={verdict}"
    if f"header.from={from_domain}" not in rest:
        return f"dmarc result not for header.from={from_domain}: {rest[:120]}"
    if ("policy.dmarc=none" in rest) != ours:
        return "dmarc result from the wrong filter"
    if ours and "aligned: dkim" not in rest:
        return f"dmarc=pass not by DKIM: {rest[:120]}"
    if not any(re.match(r"^Authentication-Results: mx\.inbox\.test;\s*mtls=(fail|pass)", l) for l in lines):
        return "no mtls verdict from stage 1"
    return check_dkim(text)


class Filter:
    """One filter process (or none) on one socket kind."""

    kind = "none"
    label = "no milter"
    check = staticmethod(check_none)
    header = None  # header name the milter_load client expects at eom

    def __init__(self, bench, socket_kind=None):
        self.bench = bench
        self.socket_kind = socket_kind
        self.proc = None
        self.name = self.kind if socket_kind is None else f"{self.kind}-{socket_kind}"
        self.dir = bench.dir / "filters" / self.name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log = self.dir / "stderr.log"
        if socket_kind == "unix":
            self.path = bench.milter_dir / f"{self.name}.sock"
            self.lib_spec = f"unix:{self.path}"  # libmilter syntax
            self.postfix_spec = f"unix:{self.path}"
            self.address = str(self.path)
        elif socket_kind == "inet":
            self.port = free_port()
            self.lib_spec = f"inet:{self.port}@127.0.0.1"
            self.postfix_spec = f"inet:127.0.0.1:{self.port}"
            self.address = ("127.0.0.1", self.port)
        else:
            self.postfix_spec = ""

    def command(self):
        raise NotImplementedError

    def preexec(self):
        os.umask(0o007)
        rig.die_with_parent()

    def start(self, timeout=20):
        if self.kind == "none":
            return
        self.stop()
        if self.socket_kind == "inet":
            wait_until(lambda: tcp_port_bindable(self.port), 30, f"port {self.port} free", interval=0.2)
        elif self.path.exists():
            self.path.unlink()
        with open(self.log, "ab") as log_file:
            self.proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
                preexec_fn=self.preexec,
            )

        def ready():
            if self.proc.poll() is not None:
                raise RigError(
                    f"{self.name} exited with {self.proc.returncode}: "
                    f"{' '.join(map(str, self.command()))}\n{rig.log_tail(self.log)}"
                )
            return can_connect(self.address)

        wait_until(ready, timeout, f"{self.name} socket", interval=0.05)

    def stop(self):
        """SIGTERM, then SIGKILL after a second: libmilter only notices
        SIGTERM at its next poll timeout (seconds), and nothing here needs a
        graceful exit."""
        if self.proc is not None:
            kill_process_group(self.proc, timeout=1)
            self.proc = None

    def pids(self):
        return [self.proc.pid] if self.proc is not None and self.proc.poll() is None else []

    def cpu(self):
        total = 0.0
        for pid in self.pids():
            st = proc_stat(pid)
            if st:
                total += st[1]
        return total

    def hwm_kib(self):
        values = [proc_hwm_kib(p) for p in self.pids()]
        values = [v for v in values if v is not None]
        return max(values) if values else None


class NoFilter(Filter):
    pass


class NullFilter(Filter):
    kind = "null"
    label = "null filter"
    check = staticmethod(check_null)
    header = "X-Bench-Null"

    def __init__(
        self, bench, socket_kind, nodelay=False, header_replies=False, skip_data=False, eom_sleep_ms=0
    ):
        self.nodelay = nodelay
        self.header_replies = header_replies
        self.skip_data = skip_data
        self.eom_sleep_ms = eom_sleep_ms
        parts = (
            ["null"]
            + (["nodelay"] if nodelay else [])
            + (["hdrreply"] if header_replies else [])
            + (["nodata"] if skip_data else [])
            + (["sleep"] if eom_sleep_ms else [])
        )
        self.kind = "-".join(parts)
        self.label = (
            "null filter"
            + (" +TCP_NODELAY" if nodelay else "")
            + (" +header replies" if header_replies else "")
            + (" skipping DATA" if skip_data else "")
            + (f" sleeping {eom_sleep_ms} ms at end of message" if eom_sleep_ms else "")
        )
        super().__init__(bench, socket_kind)

    def command(self):
        cmd = [str(self.bench.tools / "null_milter"), "-p", self.lib_spec]
        cmd += ["-s", str(self.eom_sleep_ms)] if self.eom_sleep_ms else []
        return (
            cmd
            + (["-n"] if self.nodelay else [])
            + (["-r"] if self.header_replies else [])
            + (["-D"] if self.skip_data else [])
        )


class MtlsFilter(Filter):
    kind = "mtls"
    label = "mtls-milter"
    check = staticmethod(check_mtls)
    header = "Authentication-Results"

    def __init__(self, bench, socket_kind, unbound_conf=None, kind_suffix=""):
        self.unbound_conf = unbound_conf or bench.unbound_conf
        if kind_suffix:
            self.kind = f"mtls{kind_suffix}"
        super().__init__(bench, socket_kind)

    def command(self):
        return [
            str(self.bench.milter_bin),
            "--socket",
            self.lib_spec,
            "--authserv-id",
            AUTHSERV_ID,
            "--unbound-config",
            str(self.unbound_conf),
            "--trust-anchor-file",
            str(self.bench.dns.anchor_file),
            "--client-mx-type",
            "265",
            "--dns-timeout",
            "5",
            "--ignore-hosts",
            "",
            "--foreground",
            "yes",
            "--log-stderr",
            "yes",
            "--syslog",
            "no",
            "--log-format",
            "text",
        ]


def _socket_line(f):
    return f"local:{f.path}" if f.socket_kind == "unix" else f"inet:{f.port}@127.0.0.1"


class OpenDkimFilter(Filter):
    """OpenDKIM in verify mode, validating with libunbound against NSD.

    Debian 12's OpenDKIM (2.11.0~beta2) parses a ResolverConfiguration file
    again from several threads at once and then crashes under concurrent
    load ("fatal flex scanner internal error--end of buffer missed"; the
    file gets reported with nonsense syntax errors first). So by default it
    gets no configuration file: Nameservers forwards every query to NSD and
    TrustAnchorFile anchors the DKIM zone, bench.example. (test. cannot be
    used without a file: libunbound answers it locally with NXDOMAIN).
    --opendkim-resolver-config restores the file, to see the crash."""

    kind = "opendkim"
    label = "OpenDKIM verify"
    check = staticmethod(check_dkim)

    def resolver_lines(self):
        if self.bench.args.opendkim_resolver_config:
            return [
                f"ResolverConfiguration {self.bench.unbound_conf}",
                f"TrustAnchorFile {self.bench.dns.anchor_file}",
            ]
        return [
            f"Nameservers 127.0.0.1@{self.bench.dns.port}",
            f"TrustAnchorFile {self.bench.dns.dkim_anchor_file}",
        ]

    def command(self):
        internal = self.dir / "internal-hosts"
        internal.write_text("192.0.2.254\n")  # not the test client: verify everything
        conf = self.dir / "opendkim.conf"
        conf.write_text(
            "\n".join(
                [
                    "Mode v",
                    f"Socket {_socket_line(self)}",
                    f"PidFile {self.dir / 'opendkim.pid'}",
                    "UMask 007",
                    "Syslog yes",
                    f"AuthservID {AUTHSERV_ID}",
                    "AlwaysAddARHeader yes",
                    f"InternalHosts {internal}",
                    *self.resolver_lines(),
                    "DNSTimeout 5",
                    "",
                ]
            )
        )
        return ["opendkim", "-f", "-x", str(conf)]


class OpenDmarcFilter(Filter):
    kind = "opendmarc"
    label = "OpenDMARC"
    check = staticmethod(check_dmarc)

    def command(self):
        ignore = self.dir / "ignore-hosts"
        ignore.write_text("192.0.2.254\n")  # not the test client
        conf = self.dir / "opendmarc.conf"
        conf.write_text(
            "\n".join(
                [
                    f"Socket {_socket_line(self)}",
                    f"PidFile {self.dir / 'opendmarc.pid'}",
                    "UMask 007",
                    "Syslog yes",
                    f"AuthservID {AUTHSERV_ID}",
                    f"TrustedAuthservIDs {AUTHSERV_ID}",
                    f"IgnoreHosts {ignore}",
                    "SPFSelfValidate false",
                    "SPFIgnoreResults true",
                    "RejectFailures false",
                    "FailureReports false",
                    "RequiredHeaders false",
                    "DNSTimeout 5",
                    "",
                ]
            )
        )
        # OpenDMARC resolves with the C library's stub resolver: give it, in
        # its own mount namespace, a resolv.conf that names the rig's NSD.
        inner = (
            f"mount --bind {shlex.quote(str(self.bench.resolv_conf))} /etc/resolv.conf && "
            f"exec opendmarc -f -c {shlex.quote(str(conf))}"
        )
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c", inner]


def child_pids(pid):
    """The children of a process, from every process's parent pid in /proc
    (/proc/PID/task/*/children needs CONFIG_PROC_CHILDREN)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                raw = (entry / "stat").read_text()
            except OSError:
                continue
            if int(raw[raw.rindex(")") + 2 :].split()[1]) == pid:
                out.append(int(entry.name))
    return out


class MtlsDmarcDaemon(MtlsFilter):
    """mtls-milter with its DMARC stage (dmarc-socket): stage 1 on one unix
    socket, the DMARC stage's child process on another. Its pids(), so its
    CPU, memory and threads, are the DMARC child's alone; lib_spec and
    address are the DMARC socket's (milter_load talks to stage 2)."""

    def __init__(self, bench, unbound_conf=None, kind_suffix=""):
        self.kind = f"mtls-dmarc{kind_suffix}"
        super().__init__(bench, "unix", unbound_conf=unbound_conf)
        self.stage1_path = self.path
        self.stage1_spec = self.lib_spec
        self.stage1_postfix_spec = self.postfix_spec
        self.path = bench.milter_dir / f"{self.name}-stage2.sock"
        self.lib_spec = self.postfix_spec = f"unix:{self.path}"
        self.address = str(self.path)

    def command(self):
        cmd = super().command()
        cmd[cmd.index("--socket") + 1] = self.stage1_spec
        return cmd + ["--dmarc-socket", self.lib_spec]

    def start(self, timeout=20):
        if self.stage1_path.exists():
            self.stage1_path.unlink()
        super().start(timeout)
        wait_until(
            lambda: can_connect(str(self.stage1_path)), timeout, f"{self.name} stage 1 socket", interval=0.05
        )

    def pids(self):
        if self.proc is None or self.proc.poll() is not None:
            return []
        # The child is forked once, at start; look for it once per process.
        if getattr(self, "_child_of", None) != self.proc.pid or not self._children:
            self._child_of, self._children = self.proc.pid, child_pids(self.proc.pid)
        return [pid for pid in self._children if Path(f"/proc/{pid}").exists()]


class DmarcChain(Filter):
    """Postfix's smtpd_milters = [stage 1, OpenDKIM, DMARC filter], as the
    README's DMARC section attaches the stage. The chains share one stage 1
    (the daemon's) and one OpenDKIM, so they differ only in the DMARC
    filter, whose process alone is measured (cpu, hwm). Its parts are
    started and stopped as filters of their own."""

    def __init__(self, bench, kind, label, stage1, dkim, dmarc_spec, dmarc_filter, ours):
        self.kind = kind
        self.label = label
        self.dmarc_filter = dmarc_filter
        self.check = lambda text: check_dmarc_chain(text, ours)
        super().__init__(bench, "unix")
        self.postfix_spec = ",".join([stage1.stage1_postfix_spec, dkim.postfix_spec, dmarc_spec])

    def start(self, timeout=20):
        pass  # the parts are filters of their own

    def stop(self):
        pass

    def pids(self):
        return self.dmarc_filter.pids()


# ---------------------------------------------------------------------------
# The benchmark
# ---------------------------------------------------------------------------

# libunbound's library defaults allow 16 outgoing UDP queries at once
# (config_create_forlib: outgoing-range 16); a daemon can afford more.
TUNED_UNBOUND = ("outgoing-range: 4096", "num-queries-per-thread: 1024")

QUICK = dict(
    domains=400,
    warm_tput=60,
    cold_tput=60,
    lat=8,
    reps=1,
    ml_levels=[(1, 20), (20, 200), (200, 400), (1000, 1000)],
    ml_cold_levels=[(200, 400)],
    delay_ms=50,
    delay_levels=[(1, 4), (200, 200)],
    sleep_ms=0,
    ml_reps=1,
)
FULL = dict(
    domains=5000,
    warm_tput=2000,
    cold_tput=1500,
    lat=100,
    reps=5,
    ml_levels=[(1, 100), (20, 4000), (200, 5000), (1000, 5000)],
    ml_cold_levels=[(20, 2000), (200, 4000)],
    delay_ms=200,
    delay_levels=[(1, 15), (20, 300), (200, 1000)],
    sleep_ms=600,
    ml_reps=2,
)


class Bench:
    def __init__(self, args):
        self.args = args
        self.p = dict(QUICK if args.quick else FULL)
        for key in ("reps", "domains", "warm_tput", "cold_tput", "lat"):
            value = getattr(args, key, None)
            if value is not None:
                self.p[key] = value
        self.build_dir = Path(args.build_dir).resolve()
        self.milter_bin = self.build_dir / "milter" / "mtls-milter"
        self.tools = Path(args.tools or self.build_dir / "bench-tools").resolve()
        self.out = Path(args.out).resolve()
        self.out.mkdir(parents=True, exist_ok=True)
        self.dir = None
        self.dns = None
        self.postfix = None
        self.sink = None
        self.filters = {}
        self.components = []
        self.results = {"postfix": [], "milter": [], "delay": [], "tlspolicy": {}, "meta": {}}
        self.broken = []
        self.next_cold = 0

    # -- setup -------------------------------------------------------------
    def setup(self):
        self.dir = Path(tempfile.mkdtemp(prefix="mtls-bench-"))
        self.dir.chmod(0o755)
        log(f"work directory {self.dir}")
        self.milter_dir = self.dir / "milter"
        self.milter_dir.mkdir()
        os.chown(self.milter_dir, 0, grp.getgrnam("postfix").gr_gid)
        self.milter_dir.chmod(0o2770)

        t0 = time.monotonic()
        self.ca = TestCA(self.dir / "ca")
        self.ca.certs["server"] = self.ca.issue(
            "server", "/CN=mx.inbox.test", eku="serverAuth", san="DNS:mx.inbox.test"
        )
        self.signer = DkimSigner()
        stub_ip = pick_stub_ip()
        self.dns = BenchDns(self.dir / "dns", self.p["domains"], self.signer.txt_rdata(), stub_ip)
        self.dns.build()
        self.dns.start(timeout=60)
        self.unbound_conf = self.dns.write_unbound_conf(
            self.dir / "dns" / "bench-unbound.conf", self.dns.port
        )
        # What QNAME minimisation costs a cold cache (milter protocol section).
        self.unbound_conf_noqmin = self.dns.write_unbound_conf(
            self.dir / "dns" / "bench-unbound-noqmin.conf", self.dns.port, extra=["qname-minimisation: no"]
        )
        # The DMARC stage also walks the DKIM d= domains, in bench.example.
        self.unbound_conf_dmarc = self.dns.write_unbound_conf(
            self.dir / "dns" / "bench-unbound-dmarc.conf", self.dns.port, dkim_zone=True
        )
        self.resolv_conf = self.dir / "dns" / "resolv.conf"
        self.resolv_conf.write_text(f"nameserver {stub_ip}\noptions timeout:2 attempts:2\n")
        log(
            f"zone with {self.p['domains']} cold sender domains signed and served "
            f"({time.monotonic() - t0:.1f}s); NSD also on {stub_ip}:53 for OpenDMARC"
        )

        t0 = time.monotonic()
        msgs = self.dir / "messages"
        msgs.mkdir()
        self.warm_message = msgs / "warm.eml"
        write_message(self.warm_message, self.signer, WARM_SENDER, "warm", self.dns.dkim_domain())
        self.cold_manifest = msgs / "cold.manifest"
        self.cold_senders = msgs / "cold.senders"
        # The DMARC chains' messages: the same envelope, but From the DKIM
        # signing domain (DKIM aligns: dmarc=pass, the usual case).
        self.dmarc_warm_message = msgs / "dmarc-warm.eml"
        write_message(
            self.dmarc_warm_message,
            self.signer,
            f"sender@{self.dns.dkim_domain()}",
            "dwarm",
            self.dns.dkim_domain(),
        )
        self.dmarc_cold_manifest = msgs / "dmarc-cold.manifest"
        with open(self.cold_manifest, "w") as manifest, open(self.cold_senders, "w") as senders, open(
            self.dmarc_cold_manifest, "w"
        ) as dmarc_manifest:
            for i in range(self.p["domains"]):
                sender = f"bench@{self.dns.cold_domain(i)}"
                path = msgs / f"cold-{i:05d}.eml"
                write_message(path, self.signer, sender, f"cold{i}", self.dns.dkim_domain(i))
                manifest.write(f"{sender}\t{path}\n")
                senders.write(sender + "\n")
                path = msgs / f"dmarc-cold-{i:05d}.eml"
                write_message(
                    path,
                    self.signer,
                    f"bench@{self.dns.dkim_domain(i)}",
                    f"dcold{i}",
                    self.dns.dkim_domain(i),
                )
                dmarc_manifest.write(f"{sender}\t{path}\n")
        log(f"{2 * (self.p['domains'] + 1)} DKIM-signed messages written ({time.monotonic() - t0:.1f}s)")

        self.check_dns()

        # Filters for the Postfix section.
        order = [NoFilter(self)]
        for kind in ("unix", "inet"):
            order.append(NullFilter(self, kind))
        order.append(NullFilter(self, "inet", nodelay=True))
        for cls in (MtlsFilter, OpenDkimFilter, OpenDmarcFilter):
            for kind in ("unix", "inet"):
                order.append(cls(self, kind))
        # Where do inet sockets lose time? Only in the warm cases.
        experiments = [
            NullFilter(self, "inet", nodelay=True, skip_data=True),
            NullFilter(self, "inet", nodelay=True, header_replies=True),
        ]
        # The DMARC stage against OpenDMARC, each after stage 1 and OpenDKIM.
        self.dmarc_daemon = MtlsDmarcDaemon(self, unbound_conf=self.unbound_conf_dmarc)
        self.components = [self.dmarc_daemon]
        by_name = {f.name: f for f in order}
        dkim, opendmarc = by_name["opendkim-unix"], by_name["opendmarc-unix"]
        order += [
            DmarcChain(
                self,
                "chain-mtlsdmarc",
                "stage 1 + OpenDKIM + mtls DMARC stage",
                self.dmarc_daemon,
                dkim,
                self.dmarc_daemon.postfix_spec,
                self.dmarc_daemon,
                ours=True,
            ),
            DmarcChain(
                self,
                "chain-opendmarc",
                "stage 1 + OpenDKIM + OpenDMARC",
                self.dmarc_daemon,
                dkim,
                opendmarc.postfix_spec,
                opendmarc,
                ours=False,
            ),
        ]
        self.filters = {f.name: f for f in order}
        self.experiments = {f.name: f for f in experiments}
        order += experiments

        self.sink_port = free_port()
        self.sink_dir = self.dir / "sink"
        self.sink_dir.mkdir()
        shutil.chown(self.sink_dir, "postfix")
        self.sink = subprocess.Popen(
            [
                "smtp-sink",
                "-u",
                "postfix",
                "-d",
                f"{self.sink_dir}/%H%M%S.",
                f"127.0.0.1:{self.sink_port}",
                "256",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=open(self.dir / "smtp-sink.log", "wb"),
            preexec_fn=rig.die_with_parent,
        )
        wait_until(lambda: can_connect(("127.0.0.1", self.sink_port)), 10, "smtp-sink")

        self.postfix = BenchPostfix(
            self.dir / "postfix", self.ca, {f.name: f.postfix_spec for f in order}, self.sink_port
        )
        self.postfix.write_config()
        self.postfix.start()
        log(f"Postfix up with {len(order)} smtpd listeners; smtp-sink on {self.sink_port}")

    def check_dns(self):
        """libunbound through the bench configuration: a cold domain is
        DNSSEC-secure, and a name outside test. is refused locally."""
        check = self.build_dir / "tools" / "mtls-check" / "mtls-check"
        if not check.exists():
            return
        base = [
            str(check),
            "--unbound-config",
            str(self.unbound_conf),
            "--trust-anchor-file",
            str(self.dns.anchor_file),
            "--cert-name",
            "out1.secure.test",
        ]
        proc = subprocess.run(
            base + ["--mail-from", f"x@{self.dns.cold_domain(0)}"], capture_output=True, text=True, timeout=30
        )
        if "pass" not in proc.stdout:
            raise RigError(f"DNS check failed: mtls-check says:\n{proc.stdout}{proc.stderr}")

    # -- teardown ------------------------------------------------------------
    def close(self):
        for f in list(self.filters.values()) + self.components:
            try:
                f.stop()
            except Exception:  # noqa: BLE001 (keep stopping the rest)
                pass
        if self.postfix:
            try:
                self.postfix.stop()
            except Exception:  # noqa: BLE001
                pass
        if self.sink:
            kill_process_group(self.sink)
        if self.dns:
            self.dns.stop()
        if self.dir and self.dir.exists() and not self.args.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- one Postfix-level run ----------------------------------------------
    def sink_files(self):
        return [p for p in self.sink_dir.iterdir() if p.is_file()]

    def client(self, cmd, timeout):
        try:
            proc = subprocess.run(
                [str(c) for c in cmd],
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            raise Broken(f"client timed out after {timeout}s: {' '.join(map(str, cmd))}") from exc
        return proc

    def smtp_run(self, f, case, count, sessions, cold_start=None, tool="smtp_load"):
        """Send ``count`` messages through filter ``f``; wait until all are
        delivered and checked. Returns a result dict (with 'broken' set when
        anything is missing)."""
        port = self.postfix.port(f.name)
        chain = isinstance(f, DmarcChain)
        warm_message = self.dmarc_warm_message if chain else self.warm_message
        cold_manifest = self.dmarc_cold_manifest if chain else self.cold_manifest
        if tool == "smtp-source":
            cmd = [
                "smtp-source",
                "-s",
                sessions,
                "-m",
                count,
                "-f",
                WARM_SENDER,
                "-t",
                RCPT,
                "-M",
                HELO,
                "-F",
                warm_message,
                f"127.0.0.1:{port}",
            ]
        elif cold_start is None:
            cmd = [
                self.tools / "smtp_load",
                "--server",
                f"127.0.0.1:{port}",
                "--sessions",
                sessions,
                "--messages",
                count,
                "--sender",
                WARM_SENDER,
                "--message-file",
                warm_message,
                "--helo",
                HELO,
                "--timeout",
                60,
                "--max-time",
                600,
            ]
        else:
            cmd = [
                self.tools / "smtp_load",
                "--server",
                f"127.0.0.1:{port}",
                "--sessions",
                sessions,
                "--messages",
                count,
                "--corpus",
                cold_manifest,
                "--start",
                cold_start,
                "--helo",
                HELO,
                "--timeout",
                60,
                "--max-time",
                600,
            ]
        maillog_offset = self.postfix.maillog.stat().st_size if self.postfix.maillog.exists() else 0
        before_files = len(self.sink_files())
        pf_before = postfix_cpu_snapshot(self.postfix.master_pid())
        f_before = f.cpu()
        c_before = children_cpu()
        t0 = time.monotonic()
        proc = self.client(cmd, timeout=900)
        wall = time.monotonic() - t0
        client_cpu = children_cpu() - c_before
        f_after = f.cpu()

        res = {
            "filter": f.name,
            "label": f.label,
            "socket": f.socket_kind,
            "case": case,
            "tool": tool,
            "sessions": sessions,
            "messages": count,
            "wall_s": wall,
            "client_cpu_s": client_cpu,
            "broken": None,
        }
        problems = []
        if tool == "smtp-source":
            res["msgs_per_s"] = count / wall
            if proc.returncode != 0 or proc.stderr.strip():
                problems.append(f"smtp-source exit {proc.returncode}: {proc.stderr.strip()[:300]}")
            sent = count  # smtp-source does not say; the delivery count tells
        else:
            try:
                out = json.loads(proc.stdout)
            except ValueError:
                raise Broken(f"smtp_load printed no result: {proc.stdout[:300]} {proc.stderr[:300]}")
            res.update(
                {
                    "msgs_per_s": out["msgs_per_s"],
                    "lat_us": out["lat_us"],
                    "eod_us": out["eod_us"],
                    "wall_s": out["wall_s"],
                }
            )
            sent = out["accepted"]
            if out["failed"] or out["accepted"] != count:
                problems.append(
                    f"smtp_load: accepted {out['accepted']}/{count}, tempfailed "
                    f"{out['tempfailed']}, rejected {out['rejected']}, errors "
                    f"{out['io_errors'] + out['timeouts']}: {out['error_samples'][:3]}"
                )

        # Every accepted message must arrive at the sink, with the filter's mark.
        expected = before_files + sent
        # Done when everything arrived; or, when fewer messages were
        # accepted than asked for, when the queue is empty and nothing new
        # has arrived for two seconds.
        last = {"n": -1, "since": time.monotonic()}

        def settled():
            n = len(self.sink_files())
            if n >= expected and self.postfix.queue_empty():
                return True
            if n != last["n"]:
                last["n"], last["since"] = n, time.monotonic()
                return False
            return problems and self.postfix.queue_empty() and time.monotonic() - last["since"] > 2

        try:
            wait_until(settled, 120, f"delivery of {sent} messages", interval=0.05)
        except RigError:
            pass
        files = self.sink_files()
        delivered = len(files) - before_files
        pf_after = postfix_cpu_snapshot(self.postfix.master_pid())
        unmarked = 0
        why = None
        for path in files:
            try:
                text = path.read_text(errors="replace")
            except OSError:
                continue
            reason = f.check(text)
            if reason:
                unmarked += 1
                why = why or reason
            path.unlink()
        if delivered != count:
            problems.append(f"delivered {delivered} of {count}")
        if unmarked:
            problems.append(f"{unmarked} delivered messages lack the filter's result ({why})")
        new_log = ""
        try:
            with open(self.postfix.maillog, "rb") as fh:
                fh.seek(maillog_offset)
                new_log = fh.read().decode(errors="replace")
        except OSError:
            pass
        bad = [
            l
            for l in new_log.splitlines()
            if re.search(r"milter-reject|reject:|status=(deferred|bounced)|warning: milter", l)
        ]
        if bad:
            problems.append(f"maillog: {len(bad)} problem lines, e.g. {bad[0][-200:]}")

        pf = postfix_cpu_delta(pf_before, pf_after)
        res.update(
            {
                "delivered": delivered,
                "filter_cpu_s": f_after - f_before,
                "postfix_cpu_s": sum(pf.values()),
                "smtpd_cpu_s": pf.get("smtpd", 0.0),
                "cleanup_cpu_s": pf.get("cleanup", 0.0),
                "postfix_cpu_by_process": {k: round(v, 3) for k, v in pf.items() if v > 0},
                "filter_hwm_kib": f.hwm_kib(),
            }
        )
        if problems:
            res["broken"] = "; ".join(problems)
        return res

    def warm_up(self, f):
        # One message alone first: OpenDKIM 2.11.0~beta2 sets up libunbound
        # (and parses its configuration with a non-reentrant flex scanner) on
        # its first lookup; two first lookups at once can crash it
        # ("fatal flex scanner internal error--end of buffer missed").
        for count, sessions in ((1, 1), (20, 4)):
            res = self.smtp_run(f, "warm-up", count, sessions)
            if res["broken"]:
                raise Broken(f"warm-up through {f.name}: {res['broken']}")

    def cold_slice(self, n):
        start = self.next_cold
        self.next_cold += n
        if self.next_cold > self.p["domains"]:
            start, self.next_cold = 0, n  # wrapped: the filters restart before reuse (see run_postfix)
        return start

    def record(self, section, res):
        self.results[section].append(res)
        tag = f"{section}:{res.get('case')}:{res['filter']}"
        if res.get("broken"):
            self.broken.append(f"{tag}: {res['broken']}")
            log(f"BROKEN {tag}: {res['broken']}")
        else:
            extra = ""
            if "lat_us" in res:
                extra = f" p50 {res['lat_us']['p50'] / 1000:.1f} ms p99 {res['lat_us']['p99'] / 1000:.1f} ms"
            log(f"{tag}: {res['msgs_per_s']:.0f} msg/s{extra}")

    def run_postfix(self):
        p = self.p
        everything = {**self.filters, **self.experiments}
        # The chains share stage 1 and OpenDKIM, whose caches would make the
        # second chain's run warm: each chain gets cold domains of its own.
        chains = sum(1 for f in everything.values() if isinstance(f, DmarcChain))
        cold_per_rep = (p["cold_tput"] + p["lat"]) * (1 + chains)
        log("starting filters for the Postfix section")
        self.start_postfix_filters(everything)
        cases = [
            ("warm-tput", dict(count=p["warm_tput"], sessions=20, tool="smtp-source")),
            ("cold-tput", dict(count=p["cold_tput"], sessions=20, cold=True)),
            ("warm-lat", dict(count=p["lat"], sessions=1)),
            ("cold-lat", dict(count=p["lat"], sessions=1, cold=True)),
        ]
        for rep in range(p["reps"]):
            if rep > 0 and self.next_cold + cold_per_rep > p["domains"]:
                # Not enough unused cold domains left: restart the filters so
                # that their caches are empty again.
                log("restarting filters to empty their DNS caches")
                self.start_postfix_filters(everything)
                self.next_cold = 0
            for case, spec in cases:
                start = self.cold_slice(spec["count"]) if spec.get("cold") else None
                names = list(self.filters) + (list(self.experiments) if case.startswith("warm") else [])
                # Rotate the order each repetition so no filter always goes first.
                rotated = names[rep % len(names) :] + names[: rep % len(names)]
                for name in rotated:
                    f = everything[name]
                    own = isinstance(f, DmarcChain) and spec.get("cold")
                    res = self.smtp_run(
                        f,
                        case,
                        spec["count"],
                        spec["sessions"],
                        cold_start=self.cold_slice(spec["count"]) if own else start,
                        tool=spec.get("tool", "smtp_load"),
                    )
                    res["rep"] = rep
                    self.record("postfix", res)
        for f in everything.values():
            self.results["meta"].setdefault("peak_rss_kib", {})[f.name] = f.hwm_kib()
        for f in list(everything.values()) + self.components:
            f.stop()

    def start_postfix_filters(self, everything):
        """(Re)starts every filter of the Postfix section and the chains'
        parts, then sends each listener its warm-up messages."""
        for f in self.components + list(everything.values()):
            f.start()
        for f in everything.values():
            self.warm_up(f)

    # -- milter protocol only -------------------------------------------------
    def prime(self, f):
        """One message from the warm domain: the resolver learns the keys of
        test. and secure.test, so a cold run measures one new name per
        message, as on a busy MX where the zones' keys are cached."""
        proc = self.client(
            [
                self.tools / "milter_load",
                "--socket",
                f.lib_spec,
                "--sessions",
                1,
                "--messages",
                1,
                "--timeout",
                30,
            ],
            timeout=60,
        )
        if proc.returncode != 0:
            raise Broken(f"priming {f.name} failed: {proc.stdout[:300]}")

    def milter_run(self, f, sessions, count, section, case, senders=None, start=0, temperror_ok=False):
        """One milter_load run against a running filter."""
        cmd = [
            self.tools / "milter_load",
            "--socket",
            f.lib_spec,
            "--sessions",
            sessions,
            "--messages",
            count,
            "--timeout",
            30,
            "--max-time",
            600,
        ]
        if f.header:
            cmd += ["--expect-header", f.header]
        if senders:
            cmd += ["--senders", senders, "--start", start]
        # Stage 1 logs result=, the DMARC stage dmarc= (and dmarc_rfc9989=).
        temperror = " dmarc=temperror" if isinstance(f, MtlsDmarcDaemon) else "result=temperror"
        log_before = f.log.read_text(errors="replace").count(temperror) if f.log.exists() else 0
        cpu0 = f.cpu()
        with ThreadPeak(f) as threads:
            proc = self.client(cmd, timeout=900)
        cpu1 = f.cpu()
        try:
            out = json.loads(proc.stdout)
        except ValueError:
            raise Broken(f"milter_load printed no result: {proc.stdout[:300]} {proc.stderr[:300]}")
        res = {
            "filter": f.name,
            "label": f.label,
            "socket": f.socket_kind,
            "case": case,
            "sessions": sessions,
            "messages": count,
            "msgs_per_s": out["msgs_per_s"],
            "wall_s": out["wall_s"],
            "lat_us": out["lat_us"],
            "filter_cpu_s": cpu1 - cpu0,
            "filter_hwm_kib": f.hwm_kib(),
            "threads_at_end": max([proc_threads(pid) or 0 for pid in f.pids()] or [0]) or None,
            "threads_peak": threads.peak,
            "connect_retries": out["connect_retries"],
            "broken": None,
            "client": out,
        }
        problems = []
        if out["failed"] or out["completed"] != count:
            problems.append(f"completed {out['completed']}/{count}: {out['error_samples'][:3]}")
        if f.kind.startswith("mtls"):
            log_after = f.log.read_text(errors="replace").count(temperror)
            res["temperrors"] = log_after - log_before
            # The slow-DNS runs measure exactly this (answers later than
            # dns-timeout): there a temperror is a result, elsewhere a fault.
            if res["temperrors"] and not temperror_ok:
                problems.append(f"{res['temperrors']} temperror verdicts (DNS did not answer in time)")
        if problems:
            res["broken"] = "; ".join(problems)
        return res

    def run_milter(self):
        p = self.p
        log("milter protocol only: ceiling and concurrency (warm cache)")
        flist = [
            NullFilter(self, "unix"),
            MtlsFilter(self, "unix"),
            NullFilter(self, "inet"),
            MtlsFilter(self, "inet"),
            NullFilter(self, "inet", nodelay=True),
        ]
        for rep in range(p["ml_reps"]):
            # One process per filter for the whole ladder, levels rising, so
            # that VmHWM after a level is the peak RSS up to that level.
            for f in flist:
                f.start()
            for sessions, count in p["ml_levels"]:
                for f in flist:
                    res = self.milter_run(f, sessions, count, "milter", "warm")
                    res["rep"] = rep
                    self.record("milter", res)
            for f in flist:
                f.stop()
            # Cold cache: fresh processes, thousands of distinct domains.
            noqmin = MtlsFilter(self, "unix", unbound_conf=self.unbound_conf_noqmin, kind_suffix="-noqmin")
            for sessions, count in p["ml_cold_levels"]:
                for f in flist[:2] + [noqmin]:
                    f.start()
                    self.prime(f)
                    res = self.milter_run(
                        f, sessions, count, "milter", "cold", senders=self.cold_senders, start=0
                    )
                    f.stop()
                    res["rep"] = rep
                    self.record("milter", res)

    def run_delay(self):
        """Cold cache behind a DNS proxy that holds every answer back:
        throughput must grow with concurrency (sessions / lookup time), not
        stay at the serial bound (1 / lookup time). Run with libunbound's
        library defaults and with more outgoing queries allowed."""
        p = self.p
        delay = p["delay_ms"]
        proxy_port = free_port(udp_too=True)
        default_conf = self.dns.write_unbound_conf(self.dir / "dns" / "delayed-unbound.conf", proxy_port)
        tuned_conf = self.dns.write_unbound_conf(
            self.dir / "dns" / "delayed-tuned-unbound.conf", proxy_port, extra=TUNED_UNBOUND
        )
        counters = self.dir / "dns_delay.out"
        proxy = subprocess.Popen(
            [str(self.tools / "dns_delay"), str(proxy_port), str(self.dns.port), str(delay)],
            stdin=subprocess.DEVNULL,
            stdout=open(counters, "wb"),
            stderr=open(self.dir / "dns_delay.log", "wb"),
            preexec_fn=rig.die_with_parent,
        )

        def proxy_counters():
            """The proxy's counters since the last call (SIGUSR1 makes it
            print them as a JSON line and start afresh)."""
            lines = len(counters.read_text().splitlines())
            proxy.send_signal(signal.SIGUSR1)
            wait_until(
                lambda: len(counters.read_text().splitlines()) > lines, 5, "dns_delay counters", interval=0.02
            )
            return json.loads(counters.read_text().splitlines()[-1])

        try:
            time.sleep(0.2)
            log(f"slow DNS: every answer held {delay} ms; cold senders")
            variants = [
                MtlsFilter(self, "unix", unbound_conf=default_conf, kind_suffix="-slowdns"),
                MtlsFilter(self, "unix", unbound_conf=tuned_conf, kind_suffix="-slowdns-tuned"),
                # The DMARC stage alone (milter_load to dmarc-socket): the
                # walk of every message's From domain behind the same delay.
                MtlsDmarcDaemon(self, unbound_conf=default_conf, kind_suffix="-slowdns"),
            ]
            if p.get("sleep_ms"):
                # libmilter alone: end of message blocks its worker as long as
                # a cold lookup takes here, no DNS at all.
                variants.append(NullFilter(self, "unix", eom_sleep_ms=p["sleep_ms"]))
            start = 0
            for sessions, count in p["delay_levels"]:
                for f in variants:
                    f.start()
                    self.prime(f)
                    proxy_counters()
                    res = self.milter_run(
                        f,
                        sessions,
                        count,
                        "delay",
                        "cold-slow-dns",
                        senders=self.cold_senders,
                        start=start,
                        temperror_ok=True,
                    )
                    res["proxy"] = proxy_counters()
                    f.stop()
                    res["delay_ms"] = delay
                    self.record("delay", res)
                start += count
        finally:
            kill_process_group(proxy, timeout=5)
        for res in self.results["delay"]:
            stats = res.get("proxy", {})
            if stats.get("truncated"):
                self.broken.append(
                    f"delay {res['filter']} {res['sessions']}: {stats['truncated']} truncated "
                    "answers (the proxy has no TCP)"
                )
            # Lookups abandoned at dns-timeout can still be on their way
            # when the counters are read: only a real loss counts.
            if stats.get("queries", 0) > 1.05 * stats.get("answers", 0) + 5:
                self.broken.append(
                    f"delay {res['filter']} {res['sessions']}: "
                    f"{stats['queries'] - stats['answers']} queries not answered by NSD"
                )

    # -- everything ----------------------------------------------------------
    def run_tlspolicy(self):
        """The sending side's policy servers over socketmap
        (bench/tlspolicy_bench.py): its own namespace, DNS and HTTPS."""
        import tlspolicy_bench

        log("TLS policy servers over socketmap (mtls-tlspolicy, postfix-mta-sts-resolver, ceiling)")
        section = tlspolicy_bench.TlsPolicyBench(self.build_dir, self.tools, self.args.quick, log).measure()
        self.results["tlspolicy"] = section
        self.broken += section["broken"]

    def run_all(self):
        started = time.time()
        self.results["meta"].update(machine_info())
        self.results["meta"]["command"] = " ".join(["bench/run"] + sys.argv[1:])
        self.results["meta"]["mode"] = "quick" if self.args.quick else "full"
        self.results["meta"]["params"] = self.p
        self.results["meta"]["started"] = datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        )
        if self.args.only_tlspolicy:
            self.results["meta"]["only"] = "tlspolicy"
        if not (self.args.skip_postfix or self.args.only_tlspolicy):
            self.run_postfix()
        if not (self.args.skip_milter or self.args.only_tlspolicy):
            self.run_milter()
            self.run_delay()
        if not self.args.skip_tlspolicy:
            self.run_tlspolicy()
        self.results["meta"]["duration_s"] = round(time.time() - started, 1)
        self.results["meta"]["broken"] = self.broken


def machine_info():
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    versions = {}
    for name, cmd in {
        "postfix": ["postconf", "-h", "mail_version"],
        "opendkim": ["opendkim", "-V"],
        "opendmarc": ["opendmarc", "-V"],
        "nsd": ["nsd", "-v"],
    }.items():
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            versions[name] = (out.stdout + out.stderr).strip().splitlines()[0]
        except Exception:  # noqa: BLE001
            versions[name] = "?"
    try:
        libmilter = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", "libmilter1.0.1"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout
        versions["libmilter"] = libmilter
        libunbound = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", "libunbound8"], capture_output=True, text=True, timeout=10
        ).stdout
        versions["libunbound"] = libunbound
    except Exception:  # noqa: BLE001
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem, 1),
        "kernel": platform.release(),
        "os": _os_release(),
        "versions": versions,
        "load_at_start": os.getloadavg(),
    }


def _os_release():
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.platform()


def missing_requirements():
    missing = [
        f"{tool} (apt-get install {pkg})" for tool, pkg in REQUIRED.items() if shutil.which(tool) is None
    ]
    if importlib.util.find_spec("cryptography") is None:
        missing.append("Python module cryptography (apt-get install python3-cryptography)")
    return missing


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="CI mode: every configuration once, small counts")
    ap.add_argument("--build-dir", default=str(ROOT / "build"))
    ap.add_argument(
        "--tools", default=None, help="directory with null_milter, milter_load, smtp_load, dns_delay"
    )
    ap.add_argument(
        "--out", default=None, help="results directory (default: a new /tmp/mtls-bench-results-*)"
    )
    ap.add_argument(
        "--docs", action="store_true", help="also write docs/PERFORMANCE.md and docs/performance.png"
    )
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--reps", type=int)
    ap.add_argument("--domains", type=int)
    ap.add_argument("--warm-tput", type=int, dest="warm_tput")
    ap.add_argument("--cold-tput", type=int, dest="cold_tput")
    ap.add_argument("--lat", type=int)
    ap.add_argument("--skip-postfix", action="store_true")
    ap.add_argument(
        "--opendkim-resolver-config",
        action="store_true",
        help="give OpenDKIM the libunbound configuration file (crashes it under load)",
    )
    ap.add_argument("--skip-milter", action="store_true")
    ap.add_argument("--skip-tlspolicy", action="store_true", help="leave out the TLS policy servers")
    ap.add_argument(
        "--only-tlspolicy",
        action="store_true",
        help="run only the TLS policy servers (no Postfix, no milters); with --docs, rewrite only "
        "their section of docs/PERFORMANCE.md",
    )
    ap.add_argument(
        "--render", metavar="RESULTS_JSON", help="only turn an earlier results.json into the report"
    )
    args = ap.parse_args()
    if args.render:
        import report

        results = json.loads(Path(args.render).read_text())
        out = Path(args.out or Path(args.render).parent)
        print(report.render(results, out, docs=ROOT / "docs" if args.docs else None, quick=False))
        return 0
    if args.out is None:
        args.out = tempfile.mkdtemp(prefix="mtls-bench-results-")

    if os.geteuid() != 0:
        print("bench: must run as root (private Postfix, NSD on port 53, mount namespace)", file=sys.stderr)
        return 2
    missing = missing_requirements()
    if missing:
        print("bench: missing: " + "; ".join(missing), file=sys.stderr)
        return 2

    # 1000 concurrent milter sessions need more than 1024 descriptors in the
    # filter; the filters inherit this limit (see docs/PERFORMANCE.md).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < min(hard, 65536):
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    bench = Bench(args)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        if not args.only_tlspolicy:  # the milter rig (DNS, Postfix, filters)
            bench.setup()
        bench.run_all()
    except Broken as exc:
        bench.broken.append(str(exc))
        log(f"BROKEN: {exc}")
    except (RigError, OSError, KeyboardInterrupt) as exc:
        log(f"harness failure: {type(exc).__name__}: {exc}")
        bench.close()
        return 2
    finally:
        pass
    bench.close()

    import report  # bench/report.py: tables, targets, plot, PERFORMANCE.md

    results_file = Path(args.out) / "results.json"
    results_file.write_text(json.dumps(bench.results, indent=1))
    summary = report.render(
        bench.results, Path(args.out), docs=ROOT / "docs" if args.docs else None, quick=args.quick
    )
    print(summary)
    log(f"results in {args.out}")
    if bench.broken:
        log(f"{len(bench.broken)} broken run(s):")
        for b in bench.broken:
            print("  " + b)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
