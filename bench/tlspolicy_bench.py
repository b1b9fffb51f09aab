"""The TLS policy server benchmark (issue 15): mtls-tlspolicy side by side
with Debian's postfix-mta-sts-resolver (with its SQLite cache, as Debian
ships it, and with its in-memory cache) and a do-nothing socketmap server
(bench/null_socketmap.c, the ceiling), all answering the same socketmap
queries from bench/socketmap_load.cc.

Everything the servers look up is served inside a network namespace of the
benchmark's own, built from the outbound end-to-end rig
(tests/rig/outbound.py): NSD with N recipient domains, each with an MX,
an ``_mta-sts`` TXT record and an ``mta-sts`` address; a validating unbound
that postfix-mta-sts-resolver reaches through the namespace's resolv.conf
(mtls-tlspolicy has its own libunbound, stubbed to NSD); an HTTPS server
with a certificate from the test CA for every ``mta-sts.<domain>``, minted
when a client first asks for that name (SNI).

Measured, per server:

* warm: cached lookups per second and p50/p99 latency at 1, 20 and 200
  concurrent clients, each client one connection as Postfix holds it, for
  the same wall-clock time per server (interleaved by level);
* cold: latency of the first lookup of a domain (DNS, HTTPS fetch, policy
  parse), one client, a slice of fresh domains per server;
* memory: VmRSS and VmHWM of mtls-tlspolicy after caching ``rss_domains``
  distinct domains (100,000 in the full run), and of the others after their
  runs.

A run with a reply other than the expected kind (every domain has an
enforce policy: "OK secure ...") or with I/O errors is broken."""

from __future__ import annotations

import datetime
import json
import re
import ssl
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from rig import TestCA
from rig.dns import DnsServer
from rig.netns import NetNamespace
from rig.mta_sts_web import NOT_FOUND, POLICY_PATH, MtaStsWebServer, Response
from rig.outbound import MtaStsResolver, PolicyServer, Resolver, TlsPolicy, WEB_ADDRESS

ZONE = "sts.test."
MX_HOST = "mx.sts.test"
POLICY = f"version: STSv1\r\nmode: enforce\r\nmx: {MX_HOST}\r\nmax_age: 604800\r\n"
POLICY_RESPONSE = Response(200, "text/plain", POLICY.encode())
NULL_REPLY = f"OK secure match={MX_HOST} servername=hostname"

QUICK = {
    "levels": (1, 20, 200),
    "duration": 1.0,
    "warm_domains": 50,
    "cold": 10,
    "rss_domains": 1000,
    "rss_peer_domains": 1000,
    "cache_size": 100000,  # mtls-tlspolicy's default cache-size
}
FULL = {
    "levels": (1, 20, 200),
    "duration": 8.0,
    "warm_domains": 200,
    "cold": 100,
    "rss_domains": 100000,
    "rss_peer_domains": 10000,
    "cache_size": 100000,
}


class PolicyDns(DnsServer):
    """test. (signed, the trust anchor) and sts.test. (unsigned), holding
    the warm, cold and memory domains."""

    def __init__(self, directory, netns, domains):
        super().__init__(directory, netns=netns)
        self.responders = {}
        self.domains = domains

    def build(self):
        now = int(time.time())
        valid = (now - 3600, now + 7 * 86400)
        base, ds = self._keygen("test.")
        zone = self.dir / "sts.test.zone"
        with open(zone, "w") as out:
            out.write("\n".join(self._header(ZONE)) + "\n")
            out.write("mx\tIN\tA\t127.0.0.2\n")
            for domain in self.domains:
                label = domain[: -len(ZONE)]
                out.write(
                    f"{label}\tIN\tMX\t10 {MX_HOST}.\n"
                    f'_mta-sts.{label}\tIN\tTXT\t"v=STSv1; id=1"\n'
                    f"mta-sts.{label}\tIN\tA\t{WEB_ADDRESS}\n"
                )
        parent = self._header("test.") + ["ns\tIN\tA\t127.0.0.1", "sts\tIN\tNS\tns.test."]
        self.zone_files = {ZONE: zone, "test.": self._sign("test.", parent, base, *valid)}
        self.write_server_configs(ds)
        # As bench.py's BenchDns: NSD's response rate limiting (on by
        # default, 200 answers/s per /24) dropped and truncated the servers'
        # queries, all from 127.0.0.1, so that new domains crawled at about
        # 100 lookups/s with retries of hundreds of milliseconds: off.
        conf = self.conf.read_text()
        line = "    ip-address: 127.0.0.1\n"
        assert line in conf, "nsd.conf changed shape"
        self.conf.write_text(
            conf.replace(line, line + "    rrl-ratelimit: 0\n    rrl-whitelist-ratelimit: 0\n", 1)
        )


BATCH = 100  # mta-sts names per minted certificate


class MintingWebServer(MtaStsWebServer):
    """Serves POLICY to every mta-sts.* name, with a certificate made by the
    test CA when a client first names it (SNI). One certificate covers the
    BATCH names of neighbouring domains (``<kind><server>-<i>``, i // BATCH
    alike), so that 100,000 domains cost 1000 certificates, not 100,000:
    minting in Python would otherwise be what the memory run measures."""

    def __init__(self, netns, ca: TestCA):
        ca.issue("web-default", f"/CN=mta-sts.{ZONE[:-1]}", eku="serverAuth", san=f"DNS:mta-sts.{ZONE[:-1]}")
        super().__init__(
            ca.certs["web-default"].cert, ca.certs["web-default"].key, address=WEB_ADDRESS, netns=netns
        )
        self.ca = ca
        self.contexts: dict[str, ssl.SSLContext] = {}
        self.lock = threading.Lock()
        self.context.sni_callback = self._sni

    def _sni(self, sock, name, _context):
        if not name or not name.startswith("mta-sts."):
            return None
        match = re.fullmatch(r"mta-sts\.([a-z]+\d+)-(\d+)\." + re.escape(ZONE[:-1]), name)
        if match:
            first = int(match.group(2)) // BATCH * BATCH
            key = f"{match.group(1)}-{first}"
            names = [f"mta-sts.{match.group(1)}-{i}.{ZONE[:-1]}" for i in range(first, first + BATCH)]
        else:
            key, names = name, [name]
        with self.lock:
            context = self.contexts.get(key)
            if context is None:
                context = self.contexts[key] = self._mint(names)
        sock.context = context
        return None

    def _mint(self, names):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        if not hasattr(self, "_issuer"):
            self._issuer_cert = x509.load_pem_x509_certificate(self.ca.ca.cert.read_bytes())
            self._issuer_key = serialization.load_pem_private_key(self.ca.ca.key.read_bytes(), None)
            self._leaf_key = ec.generate_private_key(ec.SECP256R1())
            self._leaf_key_file = self.ca.dir / "minted.key"
            self._leaf_key_file.write_bytes(
                self._leaf_key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
            self._issuer = True
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(self._issuer_cert.subject)
            .public_key(self._leaf_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=3))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(self._issuer_key, hashes.SHA256())
        )
        # load_cert_chain reads files only.
        with tempfile.NamedTemporaryFile(dir=self.ca.dir, suffix=".crt") as pem:
            pem.write(cert.public_bytes(serialization.Encoding.PEM))
            pem.flush()
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(pem.name, str(self._leaf_key_file))
        return context

    def response_for(self, host, path):
        if path == POLICY_PATH and host.startswith("mta-sts.") and host.endswith("." + ZONE[:-1]):
            return POLICY_RESPONSE
        return NOT_FOUND


class NullPolicyServer(PolicyServer):
    """bench/null_socketmap.c: answers every query at once, looks up nothing."""

    name = "null-socketmap"

    def __init__(self, netns, directory, binary):
        super().__init__(netns, directory)
        self.binary = binary

    def command(self):
        return [self.binary, self.socket_path, NULL_REPLY]


def proc_memory_kib(pid):
    """(VmRSS, VmHWM) in KiB, or (None, None) once the process is gone."""
    values = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
    except OSError:
        pass
    return values.get("VmRSS"), values.get("VmHWM")


def proc_cpu_s(pid):
    """utime + stime of a process, in seconds."""
    import os

    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class TlsPolicyBench:
    """Set up, run, and close the benchmark; ``run()`` returns the rows
    that results.json keeps under "tlspolicy"."""

    def __init__(self, build_dir: Path, tools: Path, quick: bool, log, params=None):
        self.build_dir = build_dir
        self.tools = tools
        self.p = dict(QUICK if quick else FULL)
        self.p.update(params or {})
        self.log = log
        self.dir = None
        self.netns = None
        self.dns = None
        self.resolver = None
        self.web = None
        self.servers: list[PolicyServer] = []
        self.broken: list[str] = []
        self.notes: list[str] = []

    # -- setup -----------------------------------------------------------------
    def domains(self, kind, count, server_index=0):
        return [f"{kind}{server_index}-{i}.{ZONE[:-1]}" for i in range(count)]

    def setup(self):
        t0 = time.monotonic()
        self.dir = Path(tempfile.mkdtemp(prefix="mtls-bench-tlspolicy-"))
        self.dir.chmod(0o755)
        resolv = self.dir / "resolv.conf"
        resolv.write_text("nameserver 127.0.0.1\noptions trust-ad\n")
        resolv.chmod(0o644)
        self.netns = NetNamespace(resolv).start()
        self.ca = TestCA(self.dir / "ca")

        self.servers = [NullPolicyServer(self.netns, self.dir / "null", self.tools / "null_socketmap")]
        policy_bin = self.build_dir / "tlspolicy" / "mtls-tlspolicy"
        self.with_ours = policy_bin.exists()
        # The daemons are made below, once DNS exists; reserve their places.
        kinds = (["mtls-tlspolicy"] if self.with_ours else []) + ["mta-sts-sqlite", "mta-sts-internal"]
        if not self.with_ours:
            self.notes.append(f"mtls-tlspolicy not built ({policy_bin}): not measured")

        every = self.domains("w", self.p["warm_domains"])
        for index in range(len(kinds) + 1):
            every += self.domains("c", self.p["cold"], index)
        every += self.domains("r", self.p["rss_domains"])
        self.dns = PolicyDns(self.dir / "dns", self.netns, every)
        self.dns.build()
        self.dns.start(timeout=120)
        self.resolver = Resolver(self.dir / "unbound", self.dns, self.netns)
        self.resolver.start()
        self.web = MintingWebServer(self.netns, self.ca)
        self.web.start()

        ca_file = self.ca.ca.cert
        for kind in kinds:
            if kind == "mtls-tlspolicy":
                server = TlsPolicy(self.netns, self.dir / kind, policy_bin, self.dns, ca_file)
            else:
                cache = "sqlite" if kind == "mta-sts-sqlite" else "internal"
                server = MtaStsResolver(self.netns, self.dir / kind, ca_file, cache=cache)
            server.name = kind
            self.servers.append(server)
        for server in self.servers:
            server.start()
        self.log(
            f"tlspolicy: {len(every)} domains served, servers up: "
            f"{', '.join(s.name for s in self.servers)} ({time.monotonic() - t0:.1f}s)"
        )

    def close(self):
        for part in [*self.servers, self.web, self.resolver, self.dns, self.netns]:
            if part is None:
                continue
            try:
                part.stop()
            except Exception:  # noqa: BLE001 (keep stopping the rest)
                pass
        self.servers = []
        if self.dir and self.dir.exists():
            import shutil

            shutil.rmtree(self.dir, ignore_errors=True)

    # -- one run -------------------------------------------------------------------
    def load(self, server, keys, clients, duration=None, case="warm"):
        keys_file = self.dir / f"keys-{case}-{server.name}.txt"
        keys_file.write_text("\n".join(keys) + "\n")
        cmd = [
            str(self.tools / "socketmap_load"),
            "--socket",
            f"unix:{server.socket_path}",
            "--clients",
            str(clients),
            "--keys",
            str(keys_file),
            "--expect",
            "OK secure",
            "--timeout",
            "30",
            "--max-time",
            "1800",
        ]
        cmd += (
            ["--requests", "1000000000", "--duration", str(duration)]
            if duration
            else ["--requests", str(len(keys))]
        )
        cpu_before = proc_cpu_s(server.proc.pid)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=2000)
        cpu_after = proc_cpu_s(server.proc.pid)
        try:
            res = json.loads(proc.stdout)
        except json.JSONDecodeError:
            raise RuntimeError(f"socketmap_load failed ({proc.returncode}): {proc.stdout}{proc.stderr}")
        rss, hwm = proc_memory_kib(server.proc.pid)
        res.update(
            {
                "server": server.name,
                "case": case,
                "rss_kib": rss,
                "hwm_kib": hwm,
                "server_cpu_s": round(cpu_after - cpu_before, 3)
                if None not in (cpu_before, cpu_after)
                else None,
            }
        )
        bad = res["unexpected"] + res["io_errors"] + res["protocol_errors"] + res["timeouts"]
        if bad or res["answered"] == 0:
            self.broken.append(
                f"tlspolicy {case} {server.name} {clients} clients: {bad} bad of {res['answered']}: "
                f"{res['errors'][:3]}"
            )
        self.log(
            f"tlspolicy {case:5} {server.name:17} {clients:3} clients: {res['per_s']:9.0f}/s "
            f"p50 {res['p50_us']} us p99 {res['p99_us']} us ({res['answered']} answers)"
        )
        return res

    def run(self):
        rows = []
        p = self.p
        warm = self.domains("w", p["warm_domains"])
        # Prime: every server fetches the warm domains once.
        for server in self.servers:
            self.load(server, warm, 1, case="prime")
        for clients in p["levels"]:
            for server in self.servers:
                rows.append(self.load(server, warm, clients, p["duration"]))
        # Cold: fresh domains, one at a time.
        for index, server in enumerate(self.servers):
            rows.append(self.load(server, self.domains("c", p["cold"], index), 1, case="cold"))
        # Memory: mtls-tlspolicy with rss_domains cached; the peer's
        # in-memory cache with as many, where that takes reasonable time.
        for server in self.servers:
            count = p["rss_domains"] if server.name == "mtls-tlspolicy" else p.get("rss_peer_domains", 0)
            if server.name == "mtls-tlspolicy" and count:
                rows.append(self.memory_run(server, self.domains("r", count)))
            elif server.name == "mta-sts-internal" and count:
                rows.append(self.load(server, self.domains("r", count), 20, case="rss"))
        return rows

    def fetches_logged(self, server):
        return server.log_text().count(" fetched: id=")

    def memory_run(self, server, domains):
        """mtls-tlspolicy asked for every domain once, 20 clients, so that
        its in-memory cache (cache-size, default 100,000) holds them all.

        Fetching 100,000 policies from the Python HTTPS server (a TLS
        handshake in Python each) would make this the longest part of the
        benchmark by far, so the policies are first written into the daemon's
        SQLite store by tests/tlspolicy/sts_store_fill.cc through the
        daemon's own cache code, as if fetched a moment ago, under the id
        the zone publishes. Each lookup then misses the memory, reads the
        store, and keeps the policy in memory; its DNS (MX, TXT, Client MX)
        is real. Every answer must still be "OK secure", which without a
        policy it would not be (the MX zone is unsigned, no Client MX)."""
        fill = self.build_dir / "tests" / "tlspolicy" / "mtls-sts-store-fill"
        row_notes = {}
        if fill.exists():
            policy = self.dir / "policy.txt"
            policy.write_text(POLICY)
            t0 = time.monotonic()
            proc = subprocess.run(
                [
                    str(fill),
                    str(server.daemon.dir / "cache.sqlite"),
                    str(self.p["cache_size"]),
                    "1",
                    str(policy),
                ],
                input="\n".join(domains) + "\n",
                capture_output=True,
                text=True,
                timeout=1800,
            )
            if proc.returncode != 0 or proc.stdout.strip() != str(len(domains)):
                self.broken.append(f"tlspolicy rss: filling the policy store failed: {proc.stderr[-500:]}")
            row_notes["prefilled"] = len(domains)
            row_notes["prefill_s"] = round(time.monotonic() - t0, 1)
            self.log(
                f"tlspolicy rss: {len(domains)} policies written to the store in {row_notes['prefill_s']} s"
            )
        else:
            self.notes.append(f"{fill} not built: the memory run fetched every policy over HTTPS")
        fetched_before = self.fetches_logged(server)
        row = self.load(server, domains, 20, case="rss")
        row.update(row_notes)
        row["fetched"] = self.fetches_logged(server) - fetched_before
        return row

    def measure(self):
        """setup, run, close: {"rows": [...], "params": ..., "broken": [...], "notes": [...]}"""
        try:
            self.setup()
            rows = self.run()
        finally:
            self.close()
        return {
            "rows": rows,
            "params": {k: list(v) if isinstance(v, tuple) else v for k, v in self.p.items()},
            "broken": self.broken,
            "notes": self.notes,
        }
