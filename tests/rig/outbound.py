"""The outbound rig: a SENDING Postfix whose ``smtp_tls_policy_maps`` asks a
TLS policy server (mtls-tlspolicy, or Debian's postfix-mta-sts-resolver as
the reference), delivering to receiving Postfix instances, all inside a
network + mount namespace of the rig's own (netns.NetNamespace).

Inside the namespace:

* NSD with ``test.`` (signed, the trust anchor), ``signed.test.`` (signed)
  and ``plain.test.`` (an unsigned delegation), holding the recipient
  domains of OUTBOUND_DOMAINS: their MX, MTA-STS TXT, Client MX and TLSA
  records;
* unbound on 127.0.0.1:53, validating with the trust anchor of ``test.``,
  named by the namespace's /etc/resolv.conf (``options trust-ad``, or glibc
  drops the AD bit Postfix needs for DANE);
* an HTTPS server on 127.0.0.10:443 serving every domain's MTA-STS policy
  with a certificate from the test CA (mta_sts_web.MtaStsWebServer);
* receiving Postfix instances on 127.0.0.2-4 port 25 (RECEIVERS): one whose
  certificate names its MX hosts, one whose certificate names another host,
  one whose certificate has expired;
* the policy server, and the sending Postfix, whose trust store (like the
  policy server's) is the test CA.

Mail is submitted to the sending Postfix with swaks and its fate read from
the sending Postfix's log (OutboundRig.wait_outcome)."""

from __future__ import annotations

import concurrent.futures
import grp
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .base import DEFAULT_CLIENT_MX_TYPE, RigError, keep_requested
from .ca import TestCA
from .dns import client_mx_rr, dns_probe, DnsServer
from .messages import message_text, new_subject
from .mta_sts_web import MtaStsWebServer
from .netns import NetNamespace
from .postfix import PostfixInstance
from .rig import track_rig, untrack_rig
from .process import can_connect, kill_process_group, log_tail, wait_until
from .tlspolicy import SocketmapClient, TlsPolicyDaemon
from .swaks import parse_swaks_output

WEB_ADDRESS = "127.0.0.10"
SENDER_HOSTNAME = "sender.test"


@dataclass(frozen=True)
class Receiver:
    """A receiving Postfix: where it listens and the certificate it shows
    (``names``: its SAN dNSNames, the first also the CN)."""

    address: str
    names: tuple
    validity: str = "valid"


RECEIVERS = {
    # Names every MX host that points at it.
    "good": Receiver("127.0.0.2", ("mx1.signed.test", "mx1.plain.test", "mxdane.signed.test")),
    # Trusted CA, but another name than the MX hosts pointing at it.
    "wrong-name": Receiver("127.0.0.3", ("elsewhere.example.test",)),
    # The right name, expired ten days ago.
    "expired": Receiver("127.0.0.4", ("mx3.plain.test", "mx3.signed.test"), validity="expired"),
}

# MX host -> receiver handle; each host is in the zone its name ends with.
MX_HOSTS = {
    "mx1.signed.test": "good",
    "mx1.plain.test": "good",
    "mxdane.signed.test": "good",
    "mx2.signed.test": "wrong-name",
    "mx2.plain.test": "wrong-name",
    "mx3.signed.test": "expired",
    "mx3.plain.test": "expired",
}
# TLSA records (DANE-EE, SPKI, SHA-256) for these hosts name the key of
# the receiver they point at.
TLSA_HOSTS = ("mxdane.signed.test",)


@dataclass(frozen=True)
class StsPolicy:
    mode: str  # enforce, testing, none
    mx: tuple  # mx patterns
    dnssec: bool = False  # the "dnssec: yes" field (draft-frickl)
    max_age: int = 86400

    def text(self):
        lines = ["version: STSv1", f"mode: {self.mode}"]
        lines += [f"mx: {pattern}" for pattern in self.mx]
        if self.dnssec:
            lines.append("dnssec: yes")
        lines.append(f"max_age: {self.max_age}")
        return "\r\n".join(lines) + "\r\n"


@dataclass(frozen=True)
class OutboundDomain:
    """A recipient domain: its one MX host and what it publishes."""

    mx: str
    sts: StsPolicy | None = None
    client_mx: bool = False  # publishes Client MX (opt-in, seed 004)


OUTBOUND_DOMAINS = {
    # Nothing published: opportunistic TLS, even to the wrong name.
    "nopolicy.plain.test": OutboundDomain("mx2.plain.test"),
    # MTA-STS enforce.
    "sts.plain.test": OutboundDomain("mx1.plain.test", StsPolicy("enforce", ("mx1.plain.test",))),
    "stswild.plain.test": OutboundDomain("mx1.plain.test", StsPolicy("enforce", ("*.plain.test",))),
    "stswrong.plain.test": OutboundDomain("mx2.plain.test", StsPolicy("enforce", ("mx2.plain.test",))),
    "stsexpired.plain.test": OutboundDomain("mx3.plain.test", StsPolicy("enforce", ("mx3.plain.test",))),
    # The policy's patterns do not cover the MX host.
    "stsnomatch.plain.test": OutboundDomain("mx1.plain.test", StsPolicy("enforce", ("mx.elsewhere.test",))),
    # testing: reported, never enforced.
    "ststesting.plain.test": OutboundDomain("mx2.plain.test", StsPolicy("testing", ("mx2.plain.test",))),
    # dnssec: yes (draft-frickl-mta-sts-dnssec-policy).
    "dnssec.plain.test": OutboundDomain(
        "mx1.plain.test", StsPolicy("enforce", ("mx1.plain.test",), dnssec=True)
    ),
    "dnssec.signed.test": OutboundDomain(
        "mx1.signed.test", StsPolicy("enforce", ("mx1.signed.test",), dnssec=True)
    ),
    # Client MX opt-in (draft-chuang, section 1.2.3).
    "clientmx.signed.test": OutboundDomain("mx1.signed.test", client_mx=True),
    "clientmxwrong.signed.test": OutboundDomain("mx2.signed.test", client_mx=True),
    "clientmxwrong.plain.test": OutboundDomain("mx2.plain.test", client_mx=True),
    # DANE: TLSA for the MX host in a signed zone.
    "dane.signed.test": OutboundDomain("mxdane.signed.test"),
}

ZONES = ("signed.test.", "plain.test.")


def _zone_of(name):
    for zone in ZONES:
        if (name + ".").endswith("." + zone):
            return zone
    raise ValueError(f"{name} is in none of {ZONES}")


def _relative(name, zone):
    return (name + ".")[: -len(zone) - 1]


class OutboundDns(DnsServer):
    """NSD with test. (signed), signed.test. and plain.test. (unsigned)
    holding OUTBOUND_DOMAINS, inside the rig's namespace."""

    def __init__(self, directory, tlsa, netns, rrtype=DEFAULT_CLIENT_MX_TYPE, sts_ids=None):
        """``tlsa``: {host: "3 1 1 <hex>"}; ``sts_ids``: {domain: the id of
        its _mta-sts TXT record}."""
        super().__init__(directory, rrtype=rrtype, netns=netns)
        self.responders = {}  # no misbehaving servers here
        self.host_tlsa = tlsa
        self.sts_ids = sts_ids or {}

    def zone_lines(self, zone):
        lines = self._header(zone)
        for host, receiver in MX_HOSTS.items():
            if _zone_of(host) == zone:
                lines.append(f"{_relative(host, zone)}\tIN\tA\t{RECEIVERS[receiver].address}")
        for host, record in self.host_tlsa.items():
            if _zone_of(host) == zone:
                lines.append(f"_25._tcp.{_relative(host, zone)}\tIN\tTLSA\t{record}")
        for domain, spec in OUTBOUND_DOMAINS.items():
            if _zone_of(domain) != zone:
                continue
            owner = _relative(domain, zone)
            lines.append(f"{owner}\tIN\tMX\t10 {spec.mx}.")
            if spec.sts:
                sts_id = self.sts_ids.get(domain, "1")
                lines.append(f'_mta-sts.{owner}\tIN\tTXT\t"v=STSv1; id={sts_id}"')
                lines.append(f"mta-sts.{owner}\tIN\tA\t{WEB_ADDRESS}")
            if spec.client_mx:
                lines.append(client_mx_rr(owner, f"out.{domain}.", self.rrtype))
        return lines

    def build(self):
        import time

        now = int(time.time())
        valid = (now - 3600, now + 7 * 86400)
        keys = {zone: self._keygen(zone) for zone in ("test.", "signed.test.")}
        self.zone_files = {
            "signed.test.": self._sign(
                "signed.test.", self.zone_lines("signed.test."), keys["signed.test."][0], *valid
            )
        }
        plain = self.dir / "plain.test.zone"
        plain.write_text("\n".join(self.zone_lines("plain.test.")) + "\n")
        self.zone_files["plain.test."] = plain
        parent = self._header("test.") + [
            "ns\tIN\tA\t127.0.0.1",
            "signed\tIN\tNS\tns.test.",
            keys["signed.test."][1],
            "plain\tIN\tNS\tns.test.",
        ]
        self.zone_files["test."] = self._sign("test.", parent, keys["test."][0], *valid)
        self.write_server_configs(keys["test."][1])


class Resolver:
    """unbound on 127.0.0.1:53 inside the namespace: the validating resolver
    the sending Postfix reaches through /etc/resolv.conf."""

    def __init__(self, directory: Path, dns: DnsServer, netns: NetNamespace):
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dns = dns
        self.netns = netns
        self.conf = self.dir / "unbound.conf"
        self.log = self.dir / "unbound.log"
        self.proc = None

    def write_config(self):
        self.conf.write_text(
            "server:\n"
            "    interface: 127.0.0.1\n"
            "    port: 53\n"
            "    do-ip6: no\n"
            "    do-daemonize: no\n"
            '    username: ""\n'
            '    chroot: ""\n'
            f'    directory: "{self.dir}"\n'
            f'    pidfile: "{self.dir / "unbound.pid"}"\n'
            "    use-syslog: no\n"
            f'    logfile: "{self.log}"\n'
            "    verbosity: 1\n"
            "    val-log-level: 2\n"
            "    access-control: 127.0.0.0/8 allow\n"
            "    do-not-query-localhost: no\n"
            # docs/MTA-FACTS.md, "libunbound": test. is a built-in local zone.
            '    local-zone: "test." nodefault\n'
            f'    trust-anchor-file: "{self.dns.anchor_file}"\n'
            "remote-control:\n"
            "    control-enable: no\n"
            "stub-zone:\n"
            '    name: "test."\n'
            f"    stub-addr: 127.0.0.1@{self.dns.port}\n"
        )

    def start(self, timeout=30):
        self.write_config()
        self.proc = self.netns.popen(
            ["unbound", "-d", "-c", self.conf], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )

        def answers():
            if self.proc.poll() is not None:
                raise RigError(f"unbound exited ({self.proc.returncode}):\n{log_tail(self.log)}")
            return dns_probe(53, "test.", netns=self.netns) is not None

        wait_until(answers, timeout, "unbound on 127.0.0.1:53 in the namespace")

    def stop(self):
        kill_process_group(self.proc)
        self.proc = None


class PolicyServer:
    """A socketmap TLS policy server run inside the namespace, answering on
    a unix socket in ``directory`` (reachable from the host too: unix
    sockets live in the file system, not the network namespace)."""

    name = "policy server"

    def __init__(self, netns: NetNamespace, directory: Path):
        self.netns = netns
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        # Postfix's smtp(8) runs as postfix and connects to a socket made
        # with the daemon's umask (mtls-tlspolicy: 007): a setgid directory
        # of group postfix gives the socket that group, as the packaged
        # socket directory does.
        os.chown(self.dir, 0, grp.getgrnam("postfix").gr_gid)
        self.dir.chmod(0o2750)
        self.socket_path = self.dir / "socketmap.sock"
        self.log = self.dir / "daemon.log"
        self.proc = None

    def command(self):
        raise NotImplementedError

    def environment(self):
        return dict(os.environ)

    def start(self, timeout=30):
        self.socket_path.unlink(missing_ok=True)
        with open(self.log, "ab") as log:
            self.proc = self.netns.popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, env=self.environment()
            )

        def listening():
            if self.proc.poll() is not None:
                raise RigError(f"{self.name} exited ({self.proc.returncode}):\n{log_tail(self.log)}")
            return can_connect(str(self.socket_path))

        wait_until(listening, timeout, f"{self.name} on {self.socket_path}")

    def query(self, domain):
        with SocketmapClient(self.socket_path) as client:
            return client.query(domain)

    def log_text(self):
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self):
        kill_process_group(self.proc)
        self.proc = None


class MtaStsResolver(PolicyServer):
    """Debian's postfix-mta-sts-resolver (mta-sts-daemon): MTA-STS only.
    ``cache``: "sqlite" (as Debian ships it) or "internal" (in memory)."""

    name = "mta-sts-daemon"

    def __init__(self, netns, directory, ca_file, cache="sqlite"):
        super().__init__(netns, directory)
        self.ca_file = ca_file
        self.cache = cache
        self.conf = self.dir / "mta-sts-daemon.yml"

    def command(self):
        if self.cache == "sqlite":
            cache = f'  type: sqlite\n  options:\n    filename: "{self.dir / "cache.db"}"\n'
        else:
            cache = "  type: internal\n  options:\n    cache_size: 200000\n"
        self.conf.write_text(
            f'path: "{self.socket_path}"\n'
            "mode: 0666\n"
            "shutdown_timeout: 5\n"
            f"cache:\n{cache}"
            "default_zone:\n  strict_testing: false\n  timeout: 10\n"
        )
        return ["mta-sts-daemon", "-v", "info", "-c", self.conf, "--disable-uvloop"]

    def environment(self):
        # aiohttp verifies with Python's default context: OpenSSL's store,
        # which SSL_CERT_FILE replaces.
        return {**os.environ, "SSL_CERT_FILE": str(self.ca_file)}


class TlsPolicy(PolicyServer):
    """mtls-tlspolicy, with its own libunbound stubbed to the rig's NSD."""

    name = "mtls-tlspolicy"

    def __init__(self, netns, directory, binary, dns: DnsServer, ca_file, extra=()):
        """``extra``: more command-line arguments."""
        super().__init__(netns, directory)
        # Its options as test_tlspolicy.py runs it (rig/tlspolicy.py).
        self.daemon = TlsPolicyDaemon(
            binary,
            directory,
            unbound_conf=dns.unbound_conf,
            trust_anchor=dns.anchor_file,
            ca_file=ca_file,
            extra=extra,
        )

    def command(self):
        return self.daemon.command(
            "--socket", f"unix:{self.socket_path}", "--foreground", "--syslog", "no", "--log-stderr"
        )


@dataclass
class Outcome:
    """What the sending Postfix did with one recipient: ``status`` (sent,
    deferred, bounced), its explanation, the relay, and the TLS line its
    smtp(8) process logged for the connection, if any."""

    status: str
    detail: str
    relay: str
    tls: str = ""
    log: list = field(default_factory=list)


_STATUS = re.compile(
    r"postfix/smtp\[(\d+)\]: ([0-9A-F]+): to=<([^>]*)>, relay=([^,]*), .*status=(\w+) \((.*)\)$"
)
_TLS = re.compile(r"postfix/smtp\[(\d+)\]: (\w+ TLS connection established to .*)$")


class OutboundRig:
    """Everything above for one test class; close() stops it all."""

    def __init__(self, build_dir=None, policy_server="mtls-tlspolicy", keep=None, policy_options=None):
        """``policy_server``: "mtls-tlspolicy" or "mta-sts-resolver";
        ``policy_options``: keyword arguments of TlsPolicy or
        MtaStsResolver."""
        self.build_dir = Path(build_dir or os.environ.get("MTLS_BUILD_DIR", "build")).resolve()
        self.policy_bin = self.build_dir / "tlspolicy" / "mtls-tlspolicy"
        self.policy_kind = policy_server
        self.policy_options = policy_options or {}
        if keep is None:
            keep = keep_requested()
        self.keep = keep
        self.dir = None
        self.netns = None
        self.dns = None
        self.resolver = None
        self.web = None
        self.receivers: dict[str, PostfixInstance] = {}
        self.policy = None
        self.sender = None

    def start(self):
        track_rig(self)
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def _start(self):
        if self.policy_kind == "mtls-tlspolicy" and not self.policy_bin.exists():
            raise RigError(f"not built: {self.policy_bin}")
        self.dir = Path(tempfile.mkdtemp(prefix="mtls-out-"))
        self.dir.chmod(0o755)
        resolv = self.dir / "resolv.conf"
        resolv.write_text("nameserver 127.0.0.1\noptions trust-ad\n")
        resolv.chmod(0o644)
        self.netns = NetNamespace(resolv).start()

        self.ca = TestCA(self.dir / "ca")
        for handle, receiver in RECEIVERS.items():
            sans = ",".join(f"DNS:{n}" for n in receiver.names)
            self.ca.issue(
                handle, f"/CN={receiver.names[0]}", eku="serverAuth", san=sans, validity=receiver.validity
            )
        web_names = [f"mta-sts.{d}" for d, spec in OUTBOUND_DOMAINS.items() if spec.sts]
        self.ca.issue(
            "web", f"/CN={web_names[0]}", eku="serverAuth", san=",".join(f"DNS:{n}" for n in web_names)
        )
        self.ca.issue("sender", f"/CN={SENDER_HOSTNAME}", eku="serverAuth", san=f"DNS:{SENDER_HOSTNAME}")
        tlsa = {host: "3 1 1 " + self.ca.tlsa_digest(MX_HOSTS[host], 1) for host in TLSA_HOSTS}

        self.dns = OutboundDns(self.dir / "dns", tlsa, self.netns)
        self.dns.build()
        self.dns.start()
        self.resolver = Resolver(self.dir / "unbound", self.dns, self.netns)
        self.resolver.start()

        self.web = MtaStsWebServer(
            self.ca.certs["web"].cert, self.ca.certs["web"].key, address=WEB_ADDRESS, netns=self.netns
        )
        for domain, spec in OUTBOUND_DOMAINS.items():
            if spec.sts:
                self.web.serve_policy(domain, spec.sts.text())
        self.web.start()

        domains = " ".join(OUTBOUND_DOMAINS)
        for handle, receiver in RECEIVERS.items():
            self.netns.add_address(receiver.address)
            instance = PostfixInstance(
                self.dir / f"receiver-{handle}",
                self.dir / f"receiver-{handle}" / "inbox",
                self.ca,
                None,
                address=receiver.address,
                smtp_port=25,
                hostname=receiver.names[0],
                server_cert=self.ca.certs[handle],
                netns=self.netns,
                settings={"relay_domains": domains},
            )
            instance.write_config()
            self.receivers[handle] = instance

        self.policy = self._policy_server()
        self.policy.start()

        self.sender = PostfixInstance(
            self.dir / "sender",
            self.dir / "sender" / "inbox",
            self.ca,
            None,
            hostname=SENDER_HOSTNAME,
            server_cert=self.ca.certs["sender"],
            netns=self.netns,
            settings={
                "mydomain": SENDER_HOSTNAME,
                "relay_domains": "",
                "default_transport": "smtp",
                "smtp_dns_support_level": "dnssec",
                "smtp_host_lookup": "dns",
                "smtp_address_preference": "ipv4",
                "smtp_tls_security_level": "may",
                "smtp_tls_CAfile": self.ca.ca.cert,
                "smtp_tls_loglevel": "1",
                "smtp_tls_policy_maps": f"socketmap:unix:{self.policy.socket_path}:postfix",
                # One connection per message, so each status line follows
                # the TLS line of its own connection.
                "smtp_connection_cache_on_demand": "no",
                "smtp_tls_connection_reuse": "no",
                "smtp_connect_timeout": "10s",
                # A deferred message stays deferred for the whole test.
                "minimal_backoff_time": "3600s",
                "maximal_backoff_time": "3600s",
                "queue_run_delay": "3600s",
            },
        )
        self.sender.write_config()
        # "postfix check" takes seconds: start the four instances at once.
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            for started in [pool.submit(p.start) for p in (*self.receivers.values(), self.sender)]:
                started.result()

    def _policy_server(self):
        if self.policy_kind == "mtls-tlspolicy":
            return TlsPolicy(
                self.netns,
                self.dir / "policy",
                self.policy_bin,
                self.dns,
                self.ca.ca.cert,
                **self.policy_options,
            )
        if self.policy_kind == "mta-sts-resolver":
            return MtaStsResolver(self.netns, self.dir / "policy", self.ca.ca.cert, **self.policy_options)
        raise ValueError(f"policy_server: {self.policy_kind!r}")

    def close(self):
        """Stop everything, in reverse order; safe after a failed start."""
        parts = [
            self.sender,
            self.policy,
            *self.receivers.values(),
            self.web,
            self.resolver,
            self.dns,
            self.netns,
        ]
        errors = []
        for part in parts:
            if part is None:
                continue
            try:
                part.stop()
            except Exception as exc:  # keep stopping the rest
                errors.append(exc)
        self.sender = self.policy = self.web = self.resolver = self.dns = self.netns = None
        self.receivers = {}
        untrack_rig(self)
        if self.dir and self.dir.exists() and not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)
        if errors:
            raise errors[0]

    # -- mail -----------------------------------------------------------------
    def send(self, domain, timeout=60):
        """Submit one message for user@domain to the sending Postfix; returns
        its queue id."""
        subject = new_subject()
        rcpt = f"user@{domain}"
        data = self.dir / f"{uuid.uuid4().hex}.eml"
        data.write_text(message_text(subject, f"sender@{SENDER_HOSTNAME}", rcpt, ()))
        cmd = [
            *self.netns.prefix(),
            "swaks",
            "--server",
            "127.0.0.1",
            "--port",
            str(self.sender.smtp_port),
            "--from",
            f"sender@{SENDER_HOSTNAME}",
            "--to",
            rcpt,
            "--helo",
            SENDER_HOSTNAME,
            "--data",
            f"@{data}",
            "--timeout",
            "30",
            "--suppress-data",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        code, reply, qid = parse_swaks_output(proc.stdout + proc.stderr)
        if code != 250 or not qid:
            raise RigError(
                f"the sending Postfix did not queue mail for {rcpt}: {code} {reply}\n{proc.stdout}"
            )
        return qid

    def outcome(self, queue_id):
        """The first delivery attempt's Outcome for ``queue_id``, or None."""
        try:
            lines = self.sender.maillog.read_text(errors="replace").splitlines()
        except OSError:
            return None
        last_tls = {}
        for line in lines:
            m = _TLS.search(line)
            if m:
                last_tls[m.group(1)] = m.group(2)
                continue
            m = _STATUS.search(line)
            if m and m.group(2) == queue_id:
                pid = m.group(1)
                mine = [l for l in lines if f"[{pid}]:" in l]
                return Outcome(m.group(5), m.group(6), m.group(4), last_tls.get(pid, ""), mine)
        return None

    def deliver(self, domain, timeout=90):
        """Send to user@domain and wait for the first attempt's Outcome."""
        qid = self.send(domain)
        try:
            return wait_until(
                lambda: self.outcome(qid), timeout, f"a delivery attempt of {qid} to {domain}", 0.2
            )
        except RigError as exc:
            raise RigError(
                f"{exc}\n--- sender maillog ---\n{log_tail(self.sender.maillog)}"
                f"--- {self.policy.name} log ---\n{log_tail(self.policy.log)}"
            ) from exc
