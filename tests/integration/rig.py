#!/usr/bin/python3
"""End-to-end test rig for mtls-milter.

The rig builds, inside one fresh temporary directory, everything a real
deployment has around the milter, and nothing from outside the machine:

* a test CA (``openssl`` CLI) with the client certificates in CERT_SPECS
  (good, wrong-name, SAN-only, expired, self-signed, unknown CA, IDN,
  wildcard ...) and Postfix's server certificate;
* DNS: NSD on 127.0.0.1 serving zones signed at test time with ldns
  (``test.`` is the trust anchor; ``secure.test.`` is validly signed,
  ``insecure.test.`` is an unsigned delegation, ``bogus.test.``,
  ``tampered.test.``, ``stripped.test.`` and ``wrongds.test.`` fail
  validation in different ways) and Client MX records, good and malformed,
  in RFC 3597 generic form; plus DNS servers that never answer or answer
  SERVFAIL/REFUSED (StubResponder);
* an unbound.conf for libunbound with stub zones and a trust anchor;
* a private Postfix instance (``postfix -c DIR``) whose smtpd uses the milter
  (with SMTPUTF8 and Cyrus SASL) and which hands every accepted message,
  byte for byte as the milter left it, to a pipe that writes it into
  ``inbox/new``;
* the real milter binary, started and restarted with any options.

Everything listens on loopback ports picked at run time, every wait is
bounded, and ``close()`` (also run at interpreter exit) stops every process
the rig started, so a failing or interrupted run leaves nothing behind.

Only the Python standard library and Debian's ``python3-authres`` are used:
run it with /usr/bin/python3.
"""

from __future__ import annotations

import atexit
import ctypes
import fcntl
import grp
import json
import os
import pwd
import random
import re
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

try:
    import authres
except ImportError:  # run_tests.py reports this with the package to install
    authres = None

# postfix, postconf and nsd live in /usr/sbin, which a non-login PATH may lack.
for _sbin in ("/usr/sbin", "/sbin"):
    if _sbin not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = os.environ.get("PATH", "") + os.pathsep + _sbin

AUTHSERV_ID = "mx.inbox.test"
RECIPIENT = "user@inbox.test"
# SMTP-AUTH account of the rig's Postfix (Cyrus SASL, sasldb).
SASL_USER = "submitter@inbox.test"
SASL_PASSWORD = "rig-" + uuid.uuid4().hex[:12]
DEFAULT_CLIENT_MX_TYPE = 265

# Debian package that provides each external tool the rig needs.
REQUIRED_TOOLS = {
    "openssl": "openssl",
    "nsd": "nsd",
    "nsd-checkconf": "nsd",
    "ldns-keygen": "ldnsutils",
    "ldns-signzone": "ldnsutils",
    "postfix": "postfix",
    "postconf": "postfix",
    "swaks": "swaks",
    "saslpasswd2": "sasl2-bin",
}

@dataclass(frozen=True)
class CertSpec:
    """One client certificate the rig issues.

    ``issuer``: "ca" (trusted by Postfix), "unknown-ca" (never told to
    Postfix) or "self" (self-signed leaf). ``validity``: "valid", "expired"
    (ended ten days ago) or "future" (starts in ten days). ``utf8``: the
    subject holds UTF-8 text (an IDN U-label)."""
    subject: str
    issuer: str = "ca"
    eku: str = "clientAuth,serverAuth"
    san: str | None = None
    validity: str = "valid"
    utf8: bool = False


# Certificates the rig issues, by handle. Postfix hands a milter the subject
# CN of a *verified* certificate and nothing else (FIELD-NOTES); the specs
# below are chosen so that tests can show exactly that.
CERT_SPECS = {
    # CN only, no SAN: the ordinary sending host.
    "out1.secure.test": CertSpec("/CN=out1.secure.test"),
    "mixedcase.secure.test": CertSpec("/CN=OUT1.Secure.TEST"),
    "rogue.secure.test": CertSpec("/CN=rogue.secure.test"),
    "out1.insecure.test": CertSpec("/CN=out1.insecure.test"),
    "out1.bogus.test": CertSpec("/CN=out1.bogus.test"),
    # Same CN as the good one, but from a CA Postfix does not trust.
    "unknown-ca": CertSpec("/CN=out1.secure.test", issuer="unknown-ca"),
    # What public CAs issue since 2026: serverAuth only. OpenSSL's sslclient
    # purpose check fails, so Postfix reports "(not verified)".
    "server-auth-only": CertSpec("/CN=out1.secure.test", eku="serverAuth"),
    # A wildcard name, which matches out1.secure.test only when the milter
    # runs with --allow-wildcards yes.
    "wildcard.secure.test": CertSpec("/CN=*.secure.test"),
    # Trusted, but the name is only in the SAN: Postfix sends an empty
    # {cert_subject}, and a milter never sees SANs.
    "san-only": CertSpec("/O=mtls-milter tests SAN only", san="DNS:out1.secure.test"),
    # Several SANs, one of them the Client MX host, but the CN is another
    # name: Postfix shows the milter the CN only, so this cannot pass.
    "san-match-cn-other": CertSpec("/CN=rogue.secure.test",
                                   san="DNS:rogue.secure.test,DNS:out1.secure.test"),
    # The reverse: the CN is the Client MX host, the SANs are unrelated.
    "cn-match-san-other": CertSpec("/CN=out1.secure.test",
                                   san="DNS:a.example.test,DNS:b.example.test"),
    # Absolute form of the name in the CN.
    "cn-trailing-dot": CertSpec("/CN=out1.secure.test."),
    # IDN host "bücher.secure.test", as A-label and as U-label (UTF8String).
    "idn-a-label": CertSpec("/CN=xn--bcher-kva.secure.test"),
    "idn-u-label": CertSpec("/CN=b\u00fccher.secure.test", utf8=True),
    # Right name, but Postfix's verification fails for other reasons.
    "expired": CertSpec("/CN=out1.secure.test", validity="expired"),
    "not-yet-valid": CertSpec("/CN=out1.secure.test", validity="future"),
    "self-signed": CertSpec("/CN=out1.secure.test", issuer="self"),
    # Wildcard forms RFC 9525 does not allow to match anything.
    "partial-wildcard": CertSpec("/CN=out*.secure.test"),
    "tld-wildcard": CertSpec("/CN=*.test"),
    # Two CN attributes: which one would a milter be told about?
    "two-cns": CertSpec("/CN=rogue.secure.test/CN=out1.secure.test"),
    # DANE (TLSA) tests. What a public CA issues a mail server in 2026:
    # serverAuth only, the name in a SAN dNSName, no CN at all. Postfix
    # reports "(not verified)" and gives a milter no name; only its key,
    # through the policy channel's fingerprints, can identify it.
    "dane-server-auth": CertSpec("/O=mtls-milter tests DANE", eku="serverAuth",
                                 san="DNS:dane25.secure.test"),
    # The same shape with another key: what TLSA records of danewrong name.
    "dane-other-key": CertSpec("/O=mtls-milter tests DANE other key", eku="serverAuth",
                               san="DNS:danewrong.secure.test"),
    # Self-signed, no CN: DANE-EE needs no CA at all.
    "dane-self-signed": CertSpec("/O=mtls-milter tests DANE self-signed", issuer="self",
                                 eku="serverAuth", san="DNS:daneself.secure.test"),
    # Verifies for clientAuth and its CN is the Client MX host, which also
    # publishes TLSA for its key: the certificate path decides, not DANE.
    "dane-dual": CertSpec("/CN=danedual.secure.test"),
}

# TLSA records (RR type 52) the DNS publishes for the DANE tests, by zone:
# (owner relative to the zone, "usage selector matching-type", handle of the
# certificate whose digest is the association data). Selector 1 is the
# SHA-256 of the DER SubjectPublicKeyInfo, selector 0 of the DER certificate.
# Every owner's host has its own Client MX in secure.test (see
# DnsServer._secure_zone), so each test meets exactly one kind of record.
DANE_TLSA = {
    "secure.test.": [
        ("_25._tcp.dane25", "3 1 1", "dane-server-auth"),      # RFC 7672 name
        ("_client.daneclient", "3 1 1", "dane-server-auth"),   # dance client name
        ("_25._tcp.danecert", "3 0 1", "dane-server-auth"),    # full certificate
        ("_25._tcp.danewrong", "3 1 1", "dane-other-key"),     # another key
        ("_25._tcp.daneta", "2 1 1", "dane-server-auth"),      # DANE-TA: not usable
        ("_25._tcp.danedual", "3 1 1", "dane-dual"),
        ("_25._tcp.daneself", "3 1 1", "dane-self-signed"),
    ],
    # Unsigned: matches the key, must never authenticate.
    "insecure.test.": [("_25._tcp.dane", "3 1 1", "dane-server-auth")],
    # Expired signatures: bogus.
    "bogus.test.": [("_25._tcp.dane", "3 1 1", "dane-server-auth")],
    # Signed over dane-other-key's digest, then rewritten to dane-server-auth's
    # (DnsServer.build): a record changed in flight.
    "tampered.test.": [("_25._tcp.dane", "3 1 1", "dane-other-key")],
}
# Client MX owners in secure.test for the DANE tests and their hosts.
DANE_CLIENT_MX = {
    "dane25": ["dane25.secure.test."],
    "daneclient": ["daneclient.secure.test."],
    "danecert": ["danecert.secure.test."],
    "danewrong": ["danewrong.secure.test."],
    "daneta": ["daneta.secure.test."],
    "danedual": ["danedual.secure.test."],
    "daneself": ["daneself.secure.test."],
    # The first host has no TLSA at all (secure NXDOMAIN), the second matches.
    "danemulti": ["out9.secure.test.", "dane25.secure.test."],
    # Secure Client MX, host in a zone whose TLSA cannot be trusted or read.
    "daneinsecure": ["dane.insecure.test."],
    "danebogus": ["dane.bogus.test."],
    "danetampered": ["dane.tampered.test."],
    "daneservfail": ["dane.servfail.test."],
    "danesilent": ["dane.silent.test."],
}


class RigError(RuntimeError):
    """A rig component could not be set up or did not answer in time."""


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------

def run(cmd, *, cwd=None, timeout=60, check=True):
    """Run a setup command; on failure raise with its output, which is the
    only place the reason shows up on a machine without syslog."""
    try:
        proc = subprocess.run(
            [str(c) for c in cmd], cwd=cwd, stdin=subprocess.DEVNULL,
            capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise RigError(f"timed out after {timeout}s: {' '.join(map(str, cmd))}") from exc
    if check and proc.returncode != 0:
        raise RigError(
            f"command failed ({proc.returncode}): {' '.join(map(str, cmd))}\n"
            f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def wait_until(predicate, timeout, what, interval=0.05):
    """Poll ``predicate`` until it returns a true value or ``timeout`` passes.

    Every wait in the rig goes through here so that nothing can hang a test
    run forever."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise RigError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def free_port(udp_too=False):
    """Ask the kernel for a free loopback port (TCP, and UDP for DNS).

    There is a window between closing the probe socket and the server binding
    the port; nothing else on a test machine competes for ports often enough
    to matter, and a clash shows up as a clear start-up error."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            if not udp_too:
                return port
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                    udp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RigError("no free loopback port found")


def tcp_port_bindable(port):
    """True when nothing listens on 127.0.0.1:port any more.

    SO_REUSEADDR mirrors what libmilter does, so TIME_WAIT leftovers do not
    count as busy; a process still holding the listening socket does."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def can_connect(address, timeout=0.5):
    """True when a stream socket (("host", port) or a unix path) accepts."""
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(address)
        except OSError:
            return False
    return True


_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    """preexec_fn: have the kernel SIGTERM the child if the test process dies
    without running its cleanup (e.g. SIGKILL), and give it its own process
    group so that close() can signal the whole group by its id."""
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    os.setpgid(0, 0)


def kill_process_group(proc, timeout=10, graceful=True):
    """Stop a process we started (and its children, same group): SIGTERM,
    bounded wait, then SIGKILL (at once when not ``graceful``). Returns True
    when SIGKILL was needed."""
    if proc is None or proc.poll() is not None:
        return False
    if not graceful:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=timeout)
        return False
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=5)
        return True
    return False


def encode_dns_name(name):
    """Uncompressed wire-format domain name (RFC 1035 section 3.1)."""
    labels = [l for l in name.rstrip(".").split(".") if l]
    out = b""
    for label in labels:
        raw = label.encode("ascii")
        if not 0 < len(raw) < 64:
            raise ValueError(f"bad DNS label in {name!r}")
        out += bytes([len(raw)]) + raw
    return out + b"\x00"


def client_mx_rdata(host, preference=10):
    """Client MX RDATA: same layout as MX (16-bit preference + uncompressed
    name); the name keeps the case it was written in."""
    return struct.pack("!H", preference) + encode_dns_name(host)


def client_mx_rr(owner, host, rrtype, preference=10):
    """Zone-file line in RFC 3597 generic form, which every signer and server
    accepts for a type they do not know."""
    rdata = client_mx_rdata(host, preference)
    return f"{owner}\tIN\tTYPE{rrtype}\t\\# {len(rdata)} {rdata.hex()}"


def dns_probe(port, qname, qtype=6, timeout=1.0):
    """Send one UDP query to 127.0.0.1:port; return (rcode, aa) or None.

    Used only to learn that NSD is up and has loaded a zone (authoritative
    answer, NOERROR), without needing dig or unbound-host."""
    qid = random.randrange(65536)
    packet = struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0)
    packet += encode_dns_name(qname) + struct.pack("!HH", qtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.sendto(packet, ("127.0.0.1", port))
            data, _ = sock.recvfrom(4096)
        except OSError:
            return None
    if len(data) < 12 or struct.unpack("!H", data[:2])[0] != qid:
        return None
    flags = struct.unpack("!H", data[2:4])[0]
    return flags & 0x000F, bool(flags & 0x0400)


# --------------------------------------------------------------------------
# Test CA
# --------------------------------------------------------------------------

@dataclass
class CertPair:
    cert: Path
    key: Path


class TestCA:
    """Certificates made at test time, so nothing secret or expiring is
    committed and the EKU/CN combinations are exactly what a test needs."""

    _REQ_CONFIG = """\
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
"""

    def __init__(self, directory: Path):
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.req_config = self.dir / "req.cnf"
        self.req_config.write_text(self._REQ_CONFIG)
        self._serial = int(time.time())
        self.ca = self._make_ca("ca-trusted", "/O=mtls-milter tests/CN=mtls-milter Test CA")
        # A second CA that Postfix is never told about.
        self.unknown_ca = self._make_ca("ca-unknown", "/O=Elsewhere/CN=Unknown Test CA")
        self.certs: dict[str, CertPair] = {}

    def _new_key_and_csr(self, name, subject, utf8=False):
        key = self.dir / f"{name}.key"
        csr = self.dir / f"{name}.csr"
        run(["openssl", "req", "-new", "-config", self.req_config,
             "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", key, "-out", csr, "-subj", subject,
             *(["-utf8"] if utf8 else [])])
        return key, csr

    def _sign(self, name, csr, issuer: CertPair | None, extensions, validity="valid"):
        """Sign ``csr`` with ``issuer`` (None: with its own key). A validity
        other than "valid" needs explicit dates, which only ``openssl ca``
        can set in OpenSSL 3.0."""
        ext = self.dir / f"{name}.ext"
        ext.write_text("\n".join(extensions) + "\n")
        cert = self.dir / f"{name}.crt"
        self._serial += 1
        if validity != "valid":
            return self._sign_dated(name, csr, issuer, ext, cert, validity)
        if issuer is None:  # self-signed
            key = self.dir / f"{name}.key"
            run(["openssl", "x509", "-req", "-in", csr, "-signkey", key,
                 "-days", "3", "-set_serial", self._serial, "-extfile", ext,
                 "-out", cert])
        else:
            run(["openssl", "x509", "-req", "-in", csr, "-CA", issuer.cert,
                 "-CAkey", issuer.key, "-days", "3", "-set_serial", self._serial,
                 "-extfile", ext, "-out", cert])
        return cert

    def _sign_dated(self, name, csr, issuer, ext, cert, validity):
        day = 86400
        now = time.time()
        start, end = {"expired": (now - 30 * day, now - 10 * day),
                      "future": (now + 10 * day, now + 30 * day)}[validity]
        stamp = lambda t: time.strftime("%Y%m%d%H%M%SZ", time.gmtime(t))  # noqa: E731
        db = self.dir / f"{name}.db"
        db.mkdir(exist_ok=True)
        (db / "index.txt").write_text("")
        (db / "serial").write_text(f"{self._serial:x}".rjust(16, "0") + "\n")
        config = db / "ca.cnf"
        config.write_text(f"""\
[ ca ]
default_ca = rig
[ rig ]
database = {db}/index.txt
new_certs_dir = {db}
serial = {db}/serial
default_md = sha256
policy = anything
unique_subject = no
[ anything ]
commonName = optional
organizationName = optional
""")
        run(["openssl", "ca", "-batch", "-notext", "-config", config, "-preserveDN",
             "-in", csr, "-cert", issuer.cert, "-keyfile", issuer.key,
             "-startdate", stamp(start), "-enddate", stamp(end),
             "-extfile", ext, "-out", cert])
        return cert

    def _make_ca(self, name, subject):
        key, csr = self._new_key_and_csr(name, subject)
        cert = self._sign(name, csr, None, [
            "basicConstraints=critical,CA:TRUE",
            "keyUsage=critical,keyCertSign,cRLSign",
            "subjectKeyIdentifier=hash",
        ])
        return CertPair(cert, key)

    def issue(self, name, subject, issuer="ca", eku="clientAuth,serverAuth", san=None,
              validity="valid", utf8=False):
        """Issue a leaf certificate; ``name`` is only the rig's handle.
        ``issuer`` is "ca", "unknown-ca" or "self" (see CertSpec)."""
        key, csr = self._new_key_and_csr(name, subject, utf8)
        extensions = [
            "basicConstraints=critical,CA:FALSE",
            "keyUsage=critical,digitalSignature",
            f"extendedKeyUsage={eku}",
            "subjectKeyIdentifier=hash",
        ]
        if issuer != "self":
            extensions.append("authorityKeyIdentifier=keyid")
        if san:
            extensions.append(f"subjectAltName={san}")
        ca = {"ca": self.ca, "unknown-ca": self.unknown_ca, "self": None}[issuer]
        pair = CertPair(self._sign(name, csr, ca, extensions, validity), key)
        self.certs[name] = pair
        return pair

    def issue_spec(self, name, spec: CertSpec):
        return self.issue(name, spec.subject, issuer=spec.issuer, eku=spec.eku, san=spec.san,
                          validity=spec.validity, utf8=spec.utf8)

    # -- digests for TLSA (DANE) ---------------------------------------------
    def cert_der(self, name) -> bytes:
        import ssl
        return ssl.PEM_cert_to_DER_cert(self.certs[name].cert.read_text())

    def spki_der(self, name) -> bytes:
        """The DER SubjectPublicKeyInfo of a certificate (TLSA selector 1)."""
        pem = run(["openssl", "x509", "-in", self.certs[name].cert, "-noout", "-pubkey"]).stdout
        body = "".join(l for l in pem.splitlines() if l and not l.startswith("-----"))
        import base64
        return base64.b64decode(body)

    def tlsa_digest(self, name, selector) -> str:
        """SHA-256 (TLSA matching type 1) of the certificate (selector 0) or of
        its SubjectPublicKeyInfo (selector 1), lower-case hex."""
        import hashlib
        der = self.spki_der(name) if int(selector) == 1 else self.cert_der(name)
        return hashlib.sha256(der).hexdigest()


# --------------------------------------------------------------------------
# DNS: signed zones served by NSD
# --------------------------------------------------------------------------

def generic_rr(owner, rrtype, rdata: bytes):
    """Any RDATA, well-formed or not, in RFC 3597 generic form."""
    return f"{owner}\tIN\tTYPE{rrtype}\t\\# {len(rdata)} {rdata.hex()}"


# Client MX RDATA that no parser may accept, by owner name in secure.test.
# Each is served and signed as opaque bytes (NSD and ldns-signzone accept
# any RDATA for a type they do not know), so validation succeeds and only
# the milter's own parser stands between these bytes and a verdict.
MALFORMED_CLIENT_MX = {
    # Label length 5, but only "abc" follows.
    "trunc": bytes.fromhex("000a") + b"\x05abc",
    # A compression pointer to offset 12, where a message's question is.
    "compress": bytes.fromhex("000a") + b"\x03out\xc0\x0c",
    # A complete name, then two bytes that belong to nothing.
    "trailing": client_mx_rdata("out1.secure.test") + b"\x00\x01",
    # Preference only, no name at all.
    "short": bytes.fromhex("000a"),
    # One label "out1.secure" (a dot inside a label) then "test".
    "dotlabel": bytes.fromhex("000a") + b"\x0bout1.secure\x04test\x00",
}


class StubResponder:
    """A misbehaving authoritative server on loopback, UDP and TCP on one
    port: ``silent`` reads every query and never answers; ``servfail`` and
    ``refused`` answer every query with RCODE 2 or 5. libunbound reaches it through a
    stub-zone, so the milter meets a broken server exactly as it would on
    the Internet. Runs in a daemon thread with bounded waits; stop() ends it."""

    def __init__(self, mode, port):
        assert mode in ("silent", "servfail", "refused")
        self.mode = mode
        self.port = port
        self.queries = 0
        self._stop = None
        self._thread = None

    def start(self):
        import threading
        self._stop = threading.Event()
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        for sock in (udp, tcp):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", self.port))
        tcp.listen(16)
        self._thread = threading.Thread(target=self._serve, args=(udp, tcp),
                                        name=f"dns-{self.mode}", daemon=True)
        self._thread.start()

    def _answer(self, query):
        if self.mode == "silent" or len(query) < 12:
            return None
        qid, flags = struct.unpack("!HH", query[:4])
        # QR=1, opcode and RD copied, the RCODE; the question echoed.
        flags = 0x8000 | (flags & 0x7900) | (2 if self.mode == "servfail" else 5)
        end = 12
        while end < len(query) and query[end] != 0:
            end += query[end] + 1
        question = query[12:end + 5]
        return struct.pack("!HHHHHH", qid, flags, 1, 0, 0, 0) + question

    def _serve(self, udp, tcp):
        import select
        clients = []
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select([udp, tcp, *clients], [], [], 0.2)
                for sock in ready:
                    if sock is udp:
                        data, peer = udp.recvfrom(4096)
                        self.queries += 1
                        reply = self._answer(data)
                        if reply:
                            udp.sendto(reply, peer)
                    elif sock is tcp:
                        conn, _ = tcp.accept()
                        clients.append(conn)
                    else:
                        data = sock.recv(4096)
                        if not data:
                            clients.remove(sock)
                            sock.close()
                            continue
                        self.queries += 1
                        reply = self._answer(data[2:])
                        if reply:
                            sock.sendall(struct.pack("!H", len(reply)) + reply)
        finally:
            for sock in (udp, tcp, *clients):
                sock.close()

    def stop(self):
        if self._thread is not None:
            self._stop.set()
            self._thread.join(timeout=5)
            self._thread = None


class DnsServer:
    """NSD serving ``test.`` and its child zones, signed at test time, plus
    misbehaving servers (StubResponder) for silent.test, servfail.test and
    refused.test.

    All NSD zones live on one NSD, so libunbound, stubbed to it for
    ``test.``, never follows a referral anywhere else. ``test.`` is signed
    and is the trust anchor. Its children:

    * secure.test: validly signed (DS in test.); most Client MX records.
    * insecure.test: unsigned delegation (NS, no DS).
    * bogus.test: signatures that expired long ago.
    * tampered.test: valid signatures, but the Client MX RDATA was changed
      after signing (an attacker rewriting a record in flight).
    * stripped.test: signed, but the Client MX RRSIG removed.
    * wrongds.test: validly signed with a key that the DS in test. does
      not match.
    * silent.test, servfail.test, refused.test: unsigned delegations whose
      server (a StubResponder) never answers, or answers SERVFAIL or
      REFUSED to everything.

    The bogus variants all name out1.secure.test as Client MX, so a test
    can present that valid certificate and show that nothing but temperror
    comes out."""

    BOGUS_ZONES = ("bogus.test.", "tampered.test.", "stripped.test.", "wrongds.test.")

    def __init__(self, directory: Path, rrtype=DEFAULT_CLIENT_MX_TYPE, tlsa=None,
                 tampered_tlsa=None):
        """``tlsa``: {zone: [(relative owner, "U S M", hex digest)]}, the
        TLSA records to publish (Rig passes DANE_TLSA with the digests of
        its certificates); None publishes none. ``tampered_tlsa``: (signed
        digest, served digest) for tampered.test's TLSA record, rewritten
        after signing."""
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.rrtype = rrtype
        self.tlsa = tlsa or {}
        self.tampered_tlsa = tampered_tlsa
        self.port = free_port(udp_too=True)
        self.proc = None
        self.anchor_file = self.dir / "test.anchor"
        self.unbound_conf = self.dir / "unbound.conf"
        self.log_file = self.dir / "nsd.log"
        self.responders = {mode: StubResponder(mode, free_port(udp_too=True))
                           for mode in ("silent", "servfail", "refused")}

    # -- zone contents ----------------------------------------------------
    @staticmethod
    def _header(origin):
        return [
            f"$ORIGIN {origin}",
            "$TTL 300",
            f"@\tIN\tSOA\tns.test. hostmaster.test. {int(time.time())} 3600 600 86400 300",
            "@\tIN\tNS\tns.test.",
        ]

    def _secure_zone(self):
        t = self.rrtype
        return self._header("secure.test.") + [
            client_mx_rr("@", "out1.secure.test.", t),
            "out1\tIN\tA\t127.0.0.1",
            # The null sender is checked by HELO name: out1 publishes itself.
            client_mx_rr("out1", "out1.secure.test.", t),
            # Exists, but has no Client MX: NODATA.
            "nomx\tIN\tA\t127.0.0.1",
            'nomx\tIN\tTXT\t"no client mx here"',
            # Name in the RDATA in mixed case: compared case-insensitively.
            client_mx_rr("mixed", "OUT1.Secure.Test.", t),
            # Two Client MX hosts; the certificate matches the second.
            client_mx_rr("multi", "out9.secure.test.", t, 10),
            client_mx_rr("multi", "out1.secure.test.", t, 20),
            # Three preferences; the certificate matches the least preferred.
            client_mx_rr("prefs", "out8.secure.test.", t, 10),
            client_mx_rr("prefs", "out9.secure.test.", t, 20),
            client_mx_rr("prefs", "out1.secure.test.", t, 30),
            # Null Client MX (target "."): this domain sends no mail.
            client_mx_rr("nullmx", ".", t, 0),
            # IDN host bücher.secure.test, as DNS stores it (A-label).
            "xn--bcher-kva\tIN\tA\t127.0.0.1",
            client_mx_rr("xn--bcher-kva", "xn--bcher-kva.secure.test.", t),
            # Client MX at a CNAME owner: the chain is followed and its
            # weakest DNSSEC link decides.
            "alias\tIN\tCNAME\tout1.secure.test.",
            "alias-insecure\tIN\tCNAME\tout1.insecure.test.",
            "alias-bogus\tIN\tCNAME\tbogus.test.",
            "alias-dangling\tIN\tCNAME\tnosuch.secure.test.",
            # Targets a wildcard certificate *.secure.test must not cover
            # (two labels, the parent itself) and one *.test must not cover.
            client_mx_rr("deep", "a.out1.secure.test.", t),
            client_mx_rr("apex", "secure.test.", t),
            client_mx_rr("tld", "ns.test.", t),
            # Wildcard-synthesised Client MX, for --allow-wildcards tests.
            client_mx_rr("*.wild", "out1.secure.test.", t),
            # One good record next to a malformed one.
            client_mx_rr("halfbad", "out1.secure.test.", t),
            generic_rr("halfbad", t, MALFORMED_CLIENT_MX["trunc"]),
        ] + [generic_rr(owner, t, rdata) for owner, rdata in MALFORMED_CLIENT_MX.items()] \
          + self._dane_client_mx() + self._tlsa_lines("secure.test.")

    def _tlsa_lines(self, zone):
        return [f"{owner}\tIN\tTLSA\t{params} {digest}"
                for owner, params, digest in self.tlsa.get(zone, ())]

    def _dane_client_mx(self):
        """Client MX records of the DANE tests (DANE_CLIENT_MX), and an
        address for every host in this zone that has TLSA records."""
        lines = []
        for owner, hosts in DANE_CLIENT_MX.items():
            for preference, host in enumerate(hosts, start=1):
                lines.append(client_mx_rr(owner, host, self.rrtype, 10 * preference))
            if hosts == [f"{owner}.secure.test."]:
                lines.append(f"{owner}\tIN\tA\t127.0.0.1")
        return lines

    def _insecure_zone(self):
        t = self.rrtype
        return self._header("insecure.test.") + [
            client_mx_rr("@", "out1.insecure.test.", t),
            "out1\tIN\tA\t127.0.0.1",
            client_mx_rr("out1", "out1.insecure.test.", t),
            # An insecure first link into the signed zone.
            "alias\tIN\tCNAME\tout1.secure.test.",
            "dane\tIN\tA\t127.0.0.1",
        ] + self._tlsa_lines("insecure.test.")

    def _bogus_zone(self, origin, target="out1.secure.test."):
        return self._header(origin) + [
            client_mx_rr("@", target, self.rrtype),
            "out1\tIN\tA\t127.0.0.1",
        ] + (["dane\tIN\tA\t127.0.0.1"] if origin in self.tlsa else []) \
          + self._tlsa_lines(origin)

    def _keygen(self, zone):
        """One ECDSAP256SHA256 key with the SEP flag, used as CSK."""
        proc = run(["ldns-keygen", "-a", "ECDSAP256SHA256", "-k", zone], cwd=self.dir)
        base = proc.stdout.strip().splitlines()[-1]
        return base, (self.dir / f"{base}.ds").read_text().strip()

    def _sign(self, zone, lines, base, inception, expiration):
        unsigned = self.dir / f"{zone}zone"
        unsigned.write_text("\n".join(lines) + "\n")
        signed = self.dir / f"{zone}zone.signed"
        run(["ldns-signzone", "-i", str(inception), "-e", str(expiration),
             "-f", signed, unsigned, base], cwd=self.dir)
        return signed

    def _edit_signed(self, path, edit):
        """Rewrite a signed zone file line by line (after signing, so the
        signatures no longer match what is served)."""
        lines = path.read_text().splitlines()
        out = [new for line in lines if (new := edit(line)) is not None]
        if out == lines:
            raise RigError(f"editing {path} changed nothing")
        path.write_text("\n".join(out) + "\n")

    def build(self):
        now = int(time.time())
        valid = (now - 3600, now + 7 * 86400)
        expired = (now - 30 * 86400, now - 10 * 86400)
        t = self.rrtype

        keys = {zone: self._keygen(zone) for zone in ("test.", "secure.test.", *self.BOGUS_ZONES)}
        # A key that signs nothing: its DS is what test. says wrongds.test has.
        _, unrelated_ds = self._keygen("wrongds.test.")

        self.zone_files = {
            "secure.test.": self._sign("secure.test.", self._secure_zone(),
                                       keys["secure.test."][0], *valid),
            "bogus.test.": self._sign("bogus.test.", self._bogus_zone("bogus.test.",
                                                                      "out1.bogus.test."),
                                      keys["bogus.test."][0], *expired),
        }
        for zone in ("tampered.test.", "stripped.test.", "wrongds.test."):
            target = "nobody.tampered.test." if zone == "tampered.test." else "out1.secure.test."
            self.zone_files[zone] = self._sign(zone, self._bogus_zone(zone, target),
                                               keys[zone][0], *valid)

        # tampered.test: the signed record named nobody.tampered.test; what
        # is served names out1.secure.test under the old signature.
        good, evil = client_mx_rdata("nobody.tampered.test."), client_mx_rdata("out1.secure.test.")
        self._edit_signed(self.zone_files["tampered.test."], lambda line: line.replace(
            f"\\# {len(good)} {good.hex()}", f"\\# {len(evil)} {evil.hex()}"))
        # tampered.test: its TLSA record was signed over one key's digest;
        # what is served names the key of dane-server-auth (DANE_TLSA).
        if self.tampered_tlsa:
            signed_digest, served_digest = self.tampered_tlsa
            self._edit_signed(self.zone_files["tampered.test."], lambda line: re.sub(
                signed_digest, served_digest, line, flags=re.IGNORECASE)
                if re.search(r"\tTLSA\t", line) else line)
        # stripped.test: the Client MX RRset is served without its RRSIG.
        self._edit_signed(self.zone_files["stripped.test."], lambda line: None if re.search(
            rf"\tRRSIG\tTYPE{t} ", line) else line)

        insecure = self.dir / "insecure.test.zone"
        insecure.write_text("\n".join(self._insecure_zone()) + "\n")
        self.zone_files["insecure.test."] = insecure

        parent = self._header("test.") + [
            "ns\tIN\tA\t127.0.0.1",
            "secure\tIN\tNS\tns.test.",
            keys["secure.test."][1],
            "insecure\tIN\tNS\tns.test.",
        ]
        for zone in self.BOGUS_ZONES:
            label = zone.split(".")[0]
            ds = unrelated_ds if zone == "wrongds.test." else keys[zone][1]
            parent += [f"{label}\tIN\tNS\tns.test.", ds]
        for label in ("silent", "servfail", "refused"):
            parent.append(f"{label}\tIN\tNS\tns.test.")
        self.zone_files["test."] = self._sign("test.", parent, keys["test."][0], *valid)

        # The DS of test. is the trust anchor; libunbound and unbound-host
        # both accept a zone-file line for it.
        self.anchor_file.write_text(keys["test."][1] + "\n")
        stubs = {"test.": self.port}
        stubs.update({f"{mode}.test.": r.port for mode, r in self.responders.items()})
        self.unbound_conf.write_text(
            "# libunbound configuration for the mtls-milter integration rig\n"
            "server:\n"
            "    verbosity: 0\n"
            "    use-syslog: no\n"
            "    do-ip6: no\n"
            "    do-not-query-localhost: no\n"
            # test. is a built-in local zone answering NXDOMAIN; only a
            # config-file line switches that off (FIELD-NOTES).
            '    local-zone: "test." nodefault\n'
            f'    trust-anchor-file: "{self.anchor_file}"\n'
            "    val-log-level: 2\n"
            + "".join("stub-zone:\n"
                      f'    name: "{name}"\n'
                      f"    stub-addr: 127.0.0.1@{port}\n" for name, port in stubs.items()))

        conf = [
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
            f'    logfile: "{self.log_file}"',
            "    server-count: 1",
            "    verbosity: 1",
            "remote-control:",
            "    control-enable: no",
        ]
        for name, path in self.zone_files.items():
            conf += ["zone:", f'    name: "{name}"', f'    zonefile: "{path}"']
        self.conf = self.dir / "nsd.conf"
        self.conf.write_text("\n".join(conf) + "\n")
        run(["nsd-checkconf", self.conf])

    def start(self, timeout=15):
        for responder in self.responders.values():
            responder.start()
        self.proc = subprocess.Popen(
            ["nsd", "-d", "-c", str(self.conf)],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent)

        def all_zones_loaded():
            if self.proc.poll() is not None:
                raise RigError(f"nsd exited ({self.proc.returncode}); see {self.log_file}:\n"
                               + _tail(self.log_file) + _tail(self.dir / "nsd.stderr"))
            return all(dns_probe(self.port, z) == (0, True) for z in self.zone_files)

        wait_until(all_zones_loaded, timeout, f"nsd on port {self.port} to serve all zones")

    def stop(self):
        kill_process_group(self.proc)
        self.proc = None
        for responder in self.responders.values():
            responder.stop()


def _tail(path, lines=30):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:]) + "\n"
    except OSError:
        return ""


# --------------------------------------------------------------------------
# Postfix
# --------------------------------------------------------------------------

DEFAULT_MAIN_CF = Path("/etc/postfix/main.cf")


class PostfixInstance:
    """A private Postfix (``postfix -c DIR``) that runs the milter on smtpd
    and delivers every message unchanged into a Maildir-like ``new/`` folder.

    Delivery is through pipe(8) without flags, so Postfix adds neither
    Return-Path: nor Delivered-To:, and the first header of a delivered file
    is the first header of the message after the milter ran."""

    def __init__(self, directory: Path, inbox: Path, ca: TestCA, milter_socket: str,
                 test_features=False, policy_service=None):
        """``test_features``: SMTPUTF8 and SMTP-AUTH (Cyrus SASL, sasldb),
        which the test rig needs and other users (bench/) may not want.
        ``policy_service``: a policy server (Postfix syntax, inet:host:port
        or unix:/path) that smtpd calls at RCPT with check_policy_service,
        with SHA-256 certificate fingerprints (the milter's policy-socket)."""
        self.policy_service = policy_service
        self.dir = directory
        self.test_features = test_features
        self.config_dir = directory / "etc"
        self.queue_dir = directory / "queue"
        self.data_dir = directory / "data"
        self.maillog = directory / "maillog"
        self.inbox = inbox
        self.ca = ca
        self.milter_socket = milter_socket  # Postfix syntax: inet:host:port / unix:path
        self.smtp_port = free_port()
        self._registered_alternate = False

    def write_config(self):
        for d in (self.config_dir, self.queue_dir, self.data_dir):
            d.mkdir(parents=True, exist_ok=True)
        nobody = pwd.getpwnam("nobody")
        for sub in ("tmp", "new"):
            (self.inbox / sub).mkdir(parents=True, exist_ok=True)
            os.chown(self.inbox / sub, nobody.pw_uid, nobody.pw_gid)
        os.chown(self.data_dir, pwd.getpwnam("postfix").pw_uid, -1)

        deliver = self.dir / "deliver.sh"
        deliver.write_text(
            "#!/bin/sh\n"
            "# Called by pipe(8) as nobody with the queue id; the message is\n"
            "# written to tmp/ first so that readers never see half a file.\n"
            "umask 022\n"
            f'tmp="{self.inbox}/tmp/$1.$$"\n'
            f'cat > "$tmp" && mv "$tmp" "{self.inbox}/new/$1.eml"\n')
        deliver.chmod(0o755)

        server = self.ca.certs["server"]
        main_cf = {
            "compatibility_level": "3.6",
            "queue_directory": self.queue_dir,
            "data_directory": self.data_dir,
            "maillog_file": self.maillog,
            "maillog_file_prefixes": self.dir,
            "myhostname": "mx.inbox.test",
            "mydomain": "inbox.test",
            "myorigin": "$myhostname",
            "mydestination": "",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "relay_domains": "inbox.test",
            "relay_recipient_maps": "",
            "relay_transport": "capture:",
            "default_transport": "error:the test rig delivers only to inbox.test",
            "smtpd_relay_restrictions": "permit_mynetworks, reject_unauth_destination",
            "local_recipient_maps": "",
            "alias_maps": "",
            "alias_database": "",
            "biff": "no",
            "append_dot_mydomain": "no",
            "smtputf8_enable": "no",
            "smtpd_peername_lookup": "no",
            "in_flow_delay": "0",
            "smtpd_banner": "$myhostname ESMTP mtls-milter test rig",
            "capture_destination_recipient_limit": "1",
            "smtpd_tls_security_level": "may",
            "smtpd_tls_cert_file": server.cert,
            "smtpd_tls_key_file": server.key,
            "smtpd_tls_ask_ccert": "yes",
            "smtpd_tls_CAfile": self.ca.ca.cert,
            "smtpd_tls_received_header": "yes",
            "smtpd_tls_loglevel": "1",
            "smtpd_milters": self.milter_socket,
            "milter_default_action": "tempfail",
            "milter_connect_timeout": "5s",
            "milter_command_timeout": "30s",
            "milter_content_timeout": "60s",
        }
        if self.policy_service:
            main_cf.update({
                # Before permit_mynetworks: the rig's clients are all in
                # mynetworks, and the policy server must see every RCPT.
                # The per-service default_action is what the README
                # recommends, so the tests show Postfix 3.7 accepts it.
                "smtpd_recipient_restrictions": f"check_policy_service {{ {self.policy_service}, "
                                                "default_action=DUNNO }, "
                                                "permit_mynetworks, reject_unauth_destination",
                # ccert_fingerprint / ccert_pubkey_fingerprint as SHA-256
                # (already the default at compatibility level 3.6).
                "smtpd_tls_fingerprint_digest": "sha256",
            })
        if self.test_features:
            self._write_sasl_config()
            main_cf.update({
                # SMTPUTF8 on, so that tests can send UTF-8 envelopes.
                "smtputf8_enable": "yes",
                # SMTP-AUTH through Cyrus SASL with a private sasldb (the
                # only SASL back end that needs no daemon), so that tests
                # can show that authenticated submissions get no verdict.
                "smtpd_sasl_auth_enable": "yes",
                "smtpd_sasl_type": "cyrus",
                "smtpd_sasl_path": "smtpd",
                "smtpd_sasl_security_options": "noanonymous",
            })
        (self.config_dir / "main.cf").write_text(
            "# Private Postfix for the mtls-milter integration rig\n"
            + "".join(f"{k} = {v}\n" for k, v in main_cf.items()))
        # chroot n everywhere: Debian's chroot needs files copied into the
        # queue directory, which this throwaway instance does not bother with.
        (self.config_dir / "master.cf").write_text(f"""\
# service type  private unpriv  chroot  wakeup  maxproc command
127.0.0.1:{self.smtp_port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
capture   unix  -       n       n       -       -       pipe
  user=nobody argv={deliver} ${{queue_id}}
""")

    def _write_sasl_config(self):
        """smtpd.conf for Cyrus SASL and a sasldb with SASL_USER, readable by
        the postfix user smtpd runs as. Debian's Postfix reads smtpd.conf from
        $config_directory/sasl/ and ignores cyrus_sasl_config_path (seen with
        strace), so that is where it goes."""
        sasl_dir = self.config_dir / "sasl"
        sasl_dir.mkdir(exist_ok=True)
        sasldb = sasl_dir / "sasldb2"
        (sasl_dir / "smtpd.conf").write_text(
            "pwcheck_method: auxprop\n"
            "auxprop_plugin: sasldb\n"
            "mech_list: PLAIN LOGIN\n"
            f"sasldb_path: {sasldb}\n")
        user, realm = SASL_USER.split("@")
        proc = subprocess.run(["saslpasswd2", "-f", str(sasldb), "-p", "-c", "-u", realm, user],
                              input=SASL_PASSWORD, capture_output=True, text=True, timeout=30)
        if proc.returncode != 0 or not sasldb.exists():
            raise RigError(f"saslpasswd2 failed ({proc.returncode}): {proc.stderr}")
        postfix = pwd.getpwnam("postfix")
        os.chown(sasldb, postfix.pw_uid, postfix.pw_gid)
        sasldb.chmod(0o600)

    # -- /etc/postfix/main.cf: alternate_config_directories -----------------
    def _edit_alternates(self, add):
        """Register (or unregister) our config dir in the default main.cf,
        under a lock so that two rigs on one machine do not lose an entry."""
        if not DEFAULT_MAIN_CF.exists():
            if not add:
                return
            shutil.copy("/usr/share/postfix/main.cf.debian", DEFAULT_MAIN_CF)
        with open(DEFAULT_MAIN_CF, "r+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            current = run(["postconf", "-h", "alternate_config_directories"]).stdout
            entries = [e for e in re.split(r"[\s,]+", current.strip()) if e]
            mine = str(self.config_dir)
            if add and mine not in entries:
                entries.append(mine)
            elif not add:
                entries = [e for e in entries if e != mine]
            run(["postconf", "-e", f"alternate_config_directories = {' '.join(entries)}"])

    def _postfix(self, command, timeout=60):
        """Run ``postfix -c DIR command`` so that its complaints are seen.

        Postfix writes errors to stderr only when stderr is a terminal, else
        to syslog, which these machines lack (FIELD-NOTES): run it under
        script(1) for a pseudo-terminal when available."""
        cmd = ["postfix", "-c", str(self.config_dir), command]
        if shutil.which("script"):
            cmd = ["script", "-qec", shlex.join(cmd), "/dev/null"]
        return run(cmd, check=False, timeout=timeout)

    def start(self, timeout=30):
        self._edit_alternates(add=True)
        self._registered_alternate = True
        for command in ("check", "start"):
            proc = self._postfix(command, timeout)
            if proc.returncode != 0:
                raise RigError(f"postfix -c {self.config_dir} {command} failed "
                               f"({proc.returncode}):\n{proc.stdout}{proc.stderr}"
                               f"--- maillog ---\n{_tail(self.maillog)}")
        wait_until(self._banner, timeout,
                   f"Postfix smtpd banner on 127.0.0.1:{self.smtp_port} "
                   f"(maillog: {self.maillog})", interval=0.2)

    def _banner(self):
        try:
            with socket.create_connection(("127.0.0.1", self.smtp_port), timeout=2) as s:
                s.settimeout(5)
                banner = s.recv(512)
                s.sendall(b"QUIT\r\n")
                return banner.startswith(b"220")
        except OSError:
            return False

    def master_pid(self):
        try:
            return int((self.queue_dir / "pid" / "master.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def reload(self):
        proc = self._postfix("reload")
        if proc.returncode != 0:
            raise RigError(f"postfix reload failed:\n{proc.stdout}{_tail(self.maillog)}")

    def postconf(self, *settings):
        run(["postconf", "-c", self.config_dir, "-e", *settings])

    def stop(self, timeout=15):
        """``postfix stop``, then make sure the master and every process in
        its session (master calls setsid) is gone."""
        pid = self.master_pid()
        if pid and self.queue_dir.exists():
            self._postfix("stop", timeout)
        if pid:
            try:
                wait_until(lambda: not _pid_alive(pid), timeout, "Postfix master to exit",
                           interval=0.1)
            except RigError:
                pass
            _kill_session(pid)
        if self._registered_alternate:
            self._edit_alternates(add=False)
            self._registered_alternate = False


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is as good as dead for us.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return False


def _kill_session(sid):
    """SIGKILL the processes whose session id is ``sid`` (the Postfix
    master's pid): only processes this rig's Postfix started."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 3 and int(fields[3]) == sid:
            try:
                os.kill(int(entry.name), signal.SIGKILL)
            except ProcessLookupError:
                pass


# --------------------------------------------------------------------------
# Delivered messages and Authentication-Results
# --------------------------------------------------------------------------

def authserv_id_of(value):
    """The authserv-id of an A-R header value, tolerant of what authres does
    not parse (a quoted authserv-id, comments before it), so that any
    forged header that survived can still be counted."""
    text = value.strip()
    while text.startswith("("):
        depth = 0
        for i, ch in enumerate(text):
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
                if depth == 0:
                    text = text[i + 1:].lstrip()
                    break
        else:
            return ""
    if text.startswith('"'):
        end = text.find('"', 1)
        return text[1:end].lower() if end > 0 else ""
    match = re.match(r"[^\s;()]+", text)
    return match.group(0).lower() if match else ""


@dataclass
class Header:
    name: str
    raw: str  # value as folded on the wire (lines joined with "\n")

    @property
    def value(self):
        """Unfolded value (RFC 5322: remove the line breaks, keep the WSP)."""
        return self.raw.replace("\n", "").strip()


@dataclass
class DeliveredMessage:
    path: Path
    raw: bytes
    headers: list[Header] = field(default_factory=list)

    @classmethod
    def load(cls, path):
        raw = Path(path).read_bytes()
        head = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].decode("utf-8", "replace")
        headers: list[Header] = []
        for line in head.split("\n"):
            if line[:1] in (" ", "\t") and headers:
                headers[-1].raw += "\n" + line
            elif ":" in line:
                name, _, value = line.partition(":")
                headers.append(Header(name.strip(), value))
        return cls(Path(path), raw, headers)

    def get_all(self, name):
        return [h.value for h in self.headers if h.name.lower() == name.lower()]

    def get(self, name):
        values = self.get_all(name)
        return values[0] if values else None

    @property
    def first_header(self) -> Header:
        return self.headers[0]

    def auth_results(self):
        """All Authentication-Results values, top first."""
        return self.get_all("Authentication-Results")

    def our_auth_results(self, authserv_id=AUTHSERV_ID):
        return [v for v in self.auth_results() if authserv_id_of(v) == authserv_id.lower()]

    def parsed_auth_results(self):
        """authres objects for every A-R header authres can parse, top first."""
        return [parse_auth_results(v) for v in self.auth_results()]

    def mtls_results(self, authserv_id=AUTHSERV_ID):
        """Every ``mtls`` result (authres.AuthenticationResult) in A-R headers
        that carry our authserv-id."""
        out = []
        for value in self.our_auth_results(authserv_id):
            out += [r for r in parse_auth_results(value).results if r.method == "mtls"]
        return out


def parse_auth_results(value):
    if authres is None:
        raise RigError("python3-authres is not installed")
    return authres.AuthenticationResultsHeader.parse_value(value)


def result_props(result):
    """{"smtp.mailfrom": "secure.test", ...} for one authres result."""
    return {f"{p.type}.{p.name}": p.value for p in result.properties}


# --------------------------------------------------------------------------
# SMTP client (swaks)
# --------------------------------------------------------------------------

@dataclass
class SendResult:
    code: int | None          # reply to the end of DATA, else the last reply
    reply: str                # that reply's text
    queue_id: str | None
    subject: str
    output: str               # swaks transcript
    returncode: int

    def summary(self, brief=False):
        """The SMTP dialogue for humans; ``brief`` also drops the EHLO
        capability lists and connection chatter."""
        keep = []
        for line in self.output.splitlines():
            if not re.match(r"^\s*(<-|->|<~|~>|<\*\*|<~\*|\*\*|===)", line):
                continue
            if brief and (re.match(r"^\s*<[-~*]+\s+\d{3}-", line)
                          or re.match(r"^=== (Trying|Connected|Connection closed)", line)):
                continue
            keep.append(line)
        return "\n".join(keep)


_REPLY = re.compile(r"^\s*(?:<-|<~|<\*\*|<~\*)\s+(\d{3})([ -])(.*)$")
_COMMAND = re.compile(r"^\s*(?:->|~>|\*\*>|~\*>)\s+(.*)$")


def parse_swaks_output(output):
    """Return (code, text, queue_id) of the reply that decided the message:
    the reply to the end of DATA if swaks got that far, otherwise the last
    reply before QUIT (e.g. a rejection of MAIL FROM)."""
    last_cmd = None
    decisive = None
    data_reply = None
    sent_data = False
    for line in output.splitlines():
        m = _COMMAND.match(line)
        if m:
            last_cmd = m.group(1).strip()
            if re.match(r"^\d+ lines sent$", last_cmd) or last_cmd == ".":
                sent_data = True
            continue
        m = _REPLY.match(line)
        if not m or m.group(2) == "-":
            continue
        code, text = int(m.group(1)), m.group(3)
        if last_cmd and last_cmd.upper() == "QUIT":
            continue
        decisive = (code, text)
        if sent_data and data_reply is None:
            data_reply = (code, text)
    chosen = data_reply or decisive or (None, "")
    qid = None
    if chosen[0] == 250:
        m = re.search(r"queued as ([0-9A-Za-z]+)", chosen[1])
        qid = m.group(1) if m else None
    return chosen[0], chosen[1], qid


# --------------------------------------------------------------------------
# The rig
# --------------------------------------------------------------------------

_live_rigs: set = set()


def close_all_rigs():
    """Tear down every rig still running (at exit, or after Ctrl-C)."""
    for rig in list(_live_rigs):
        rig.close()


atexit.register(close_all_rigs)


def start_module_rig(**options):
    """The rig a test module shares: built from MTLS_BUILD_DIR and started.
    A missing binary is an error, not a skip: a suite that skips what it
    cannot run would report a broken build as green."""
    rig = Rig(os.environ.get("MTLS_BUILD_DIR", "build"), **options)
    binary = rig.milter_bin if rig.with_postfix else rig.check_bin
    if not binary.exists():
        raise RigError(f"not built: {binary}")
    return rig.start()


_shared_rigs: dict = {}


def shared_rig(**options):
    """One started rig per set of Rig options for the whole test run, so
    that modules needing the same rig do not each pay for CA, DNS and
    Postfix start-up. Closed at exit (close_all_rigs); modules must leave it
    as they found it (DNS running; any milter options are fine, as test
    classes call ensure_milter)."""
    key = tuple(sorted(options.items()))
    rig = _shared_rigs.get(key)
    if rig is None or rig not in _live_rigs:
        rig = _shared_rigs[key] = start_module_rig(**options)
    return rig


class Rig:
    """Everything for one test module; see the module docstring.

    Use as a context manager, or call start() and close() (close is also
    registered with atexit, so Ctrl-C still stops NSD, Postfix and the
    milter)."""

    def __init__(self, build_dir=None, *, client_mx_type=DEFAULT_CLIENT_MX_TYPE,
                 milter_socket="inet", authserv_id=AUTHSERV_ID, with_postfix=True,
                 keep=None, policy_socket=None):
        """``policy_socket``: None/False for no policy channel; True or
        "inet" for the milter's policy server on a free loopback port,
        "unix" for a unix socket in the rig directory. Either way Postfix
        calls it (check_policy_service) and the milter gets
        ``--policy-socket`` by default (``policy_socket=None`` in
        start_milter drops it, and Postfix then answers RCPT with 451)."""
        self.build_dir = Path(build_dir or os.environ.get("MTLS_BUILD_DIR", "build")).resolve()
        self.milter_bin = self.build_dir / "milter" / "mtls-milter"
        self.check_bin = self.build_dir / "tools" / "mtls-check" / "mtls-check"
        self.client_mx_type = client_mx_type
        self.authserv_id = authserv_id
        if keep is None:
            keep = os.environ.get("MTLS_IT_KEEP", "").lower() not in ("", "0", "no", "false")
        self.keep = keep
        self.dir = None
        self.dns = None
        self.ca = None
        self.postfix = None
        self.milter_proc = None
        self.milter_log = None
        self._milter_runs = 0
        self._milter_socket_kind = milter_socket
        self._policy_socket_kind = "inet" if policy_socket is True else (policy_socket or None)
        if self._policy_socket_kind not in (None, "inet", "unix"):
            raise ValueError(f"policy_socket: {policy_socket!r}")
        self.policy_socket_arg = None   # milter syntax, None when off
        self.policy_address = None      # ("127.0.0.1", port) or a unix path
        self.tlsa_records = {}          # zone -> [(owner, "U S M", hex digest)]
        self.with_postfix = with_postfix
        self.milter_options = None  # options of the running milter
        self.milter_needed_sigkill = False
        self._message_cache: dict[str, DeliveredMessage] = {}

    # -- life cycle --------------------------------------------------------
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    def start(self):
        _live_rigs.add(self)
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def _start(self):
        self.dir = Path(tempfile.mkdtemp(prefix="mtls-it-"))
        # Postfix daemons and the delivery pipe run as postfix/nobody and
        # must be able to walk into the tree.
        self.dir.chmod(0o755)
        # Postfix's smtpd runs as user postfix and must be able to connect to
        # a unix socket the milter creates as root with its own umask (007
        # by default): a setgid directory of group postfix gives the socket
        # that group, as a packaged install does with its socket directory.
        milter_dir = self.dir / "milter"
        milter_dir.mkdir()
        os.chown(milter_dir, 0, grp.getgrnam("postfix").gr_gid)
        milter_dir.chmod(0o2770)
        (self.dir / "messages").mkdir()

        self.ca = TestCA(self.dir / "ca")
        self.ca.certs["server"] = self.ca.issue(
            "server", "/CN=mx.inbox.test", eku="serverAuth", san="DNS:mx.inbox.test")
        for name, spec in CERT_SPECS.items():
            self.ca.issue_spec(name, spec)

        self.tlsa_records = {
            zone: [(owner, params, self.ca.tlsa_digest(handle, params.split()[1]))
                   for owner, params, handle in records]
            for zone, records in DANE_TLSA.items()}
        tampered = (self.ca.tlsa_digest("dane-other-key", 1),
                    self.ca.tlsa_digest("dane-server-auth", 1))
        self.dns = DnsServer(self.dir / "dns", self.client_mx_type, tlsa=self.tlsa_records,
                             tampered_tlsa=tampered)
        self.dns.build()
        self.dns.start()

        if self._milter_socket_kind == "unix":
            self.milter_address = str(self.dir / "milter" / "milter.sock")
            self.milter_socket_arg = f"unix:{self.milter_address}"
            postfix_socket = f"unix:{self.milter_address}"
        else:
            self.milter_port = free_port()
            self.milter_address = ("127.0.0.1", self.milter_port)
            self.milter_socket_arg = f"inet:{self.milter_port}@127.0.0.1"
            postfix_socket = f"inet:127.0.0.1:{self.milter_port}"

        policy_service = None
        if self._policy_socket_kind == "unix":
            self.policy_address = str(self.dir / "milter" / "policy.sock")
            self.policy_socket_arg = policy_service = f"unix:{self.policy_address}"
        elif self._policy_socket_kind == "inet":
            policy_port = free_port()
            self.policy_address = ("127.0.0.1", policy_port)
            self.policy_socket_arg = f"inet:{policy_port}@127.0.0.1"
            policy_service = f"inet:127.0.0.1:{policy_port}"

        self.inbox = self.dir / "inbox"
        if not self.with_postfix:  # DNS-only rig, e.g. for mtls-check
            return
        self.postfix = PostfixInstance(self.dir / "postfix", self.inbox, self.ca, postfix_socket,
                                       test_features=True, policy_service=policy_service)
        self.postfix.write_config()
        self.postfix.start()

    def close(self):
        """Stop everything; safe to call twice and after a failed start."""
        try:
            self.stop_milter(graceful=False)
        finally:
            try:
                if self.postfix:
                    self.postfix.stop()
            finally:
                if self.dns:
                    self.dns.stop()
                _live_rigs.discard(self)
                if self.dir and self.dir.exists() and not self.keep:
                    shutil.rmtree(self.dir, ignore_errors=True)

    # -- paths other code needs ---------------------------------------------
    @property
    def unbound_conf(self):
        return self.dns.unbound_conf

    @property
    def trust_anchor_file(self):
        return self.dns.anchor_file

    @property
    def smtp_port(self):
        return self.postfix.smtp_port

    def cert(self, name) -> CertPair:
        return self.ca.certs[name]

    # -- milter --------------------------------------------------------------
    def milter_command(self, **options):
        """Command line for the milter: rig defaults, then ``options``
        (``on_fail="reject"`` -> ``--on-fail reject``; True/False -> yes/no;
        None drops a default)."""
        defaults = {
            "socket": self.milter_socket_arg,
            "authserv_id": self.authserv_id,
            "unbound_config": self.unbound_conf,
            "trust_anchor_file": self.trust_anchor_file,
            "client_mx_type": self.client_mx_type,
            "dns_timeout": 5,
            # The test client connects from 127.0.0.1, which the milter
            # skips by default.
            "ignore_hosts": "",
            "foreground": "yes",
            "log_stderr": "yes",
            "syslog": "no",
            "log_format": "json",
        }
        if self.policy_socket_arg:
            defaults["policy_socket"] = self.policy_socket_arg
        defaults.update(options)
        cmd = [str(self.milter_bin)]
        for key, value in defaults.items():
            if value is None:
                continue
            if isinstance(value, bool):
                value = "yes" if value else "no"
            cmd += ["--" + key.replace("_", "-"), str(value)]
        return cmd

    def start_milter(self, timeout=15, **options):
        """(Re)start the milter and wait until its socket accepts connections.

        A stopped libmilter filter can keep its inet port for a few seconds,
        so a restart first waits for the port to be free."""
        self.stop_milter(graceful=False)
        if not self.milter_bin.exists():
            raise RigError(f"milter binary not found: {self.milter_bin} (build it first)")
        if isinstance(self.milter_address, tuple):
            wait_until(lambda: tcp_port_bindable(self.milter_port), 20,
                       f"milter port {self.milter_port} to be free", interval=0.2)
        with_policy = self.policy_socket_arg is not None \
            and options.get("policy_socket", self.policy_socket_arg) == self.policy_socket_arg
        if with_policy and isinstance(self.policy_address, tuple):
            wait_until(lambda: tcp_port_bindable(self.policy_address[1]), 20,
                       f"policy port {self.policy_address[1]} to be free", interval=0.2)
        # A unix socket file left by the previous run is deliberately not
        # removed: after a crash it is left too, and the milter must cope.
        self._milter_runs += 1
        self.milter_log = self.dir / "milter" / f"milter-{self._milter_runs}.log"
        self.milter_cmdline = self.milter_command(**options)
        with open(self.milter_log, "wb") as log:
            self.milter_proc = subprocess.Popen(
                self.milter_cmdline, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                preexec_fn=_die_with_parent)

        def ready():
            if self.milter_proc.poll() is not None:
                raise RigError(f"milter exited with {self.milter_proc.returncode}:\n"
                               f"{' '.join(self.milter_cmdline)}\n{_tail(self.milter_log)}")
            return can_connect(self.milter_address) and (
                not with_policy or can_connect(self.policy_address))

        wait_until(ready, timeout, f"milter socket {self.milter_socket_arg}"
                   + (f" and policy socket {self.policy_socket_arg}" if with_policy else ""),
                   interval=0.1)
        self.milter_options = dict(options)
        return self.milter_proc

    def ensure_milter(self, **options):
        """Start the milter with these options unless it already runs with
        exactly them: test classes share one milter when they can."""
        if self.milter_running() and self.milter_options == options:
            return self.milter_proc
        return self.start_milter(**options)

    def stop_milter(self, timeout=10, graceful=True):
        """SIGTERM the milter; returns its exit status (None if it was not
        running). ``self.milter_needed_sigkill`` tells whether it ignored
        SIGTERM for ``timeout`` seconds. ``graceful=False`` sends SIGKILL at
        once: libmilter can take up to five seconds to wind down after SIGTERM
        (measured: 0 or 5.0 s), which restarts between test classes
        need not wait for (LifecycleTests checks the SIGTERM path itself)."""
        proc, self.milter_proc = self.milter_proc, None
        self.milter_options = None
        self.milter_needed_sigkill = kill_process_group(proc, timeout, graceful)
        return None if proc is None else proc.returncode

    def milter_running(self):
        return self.milter_proc is not None and self.milter_proc.poll() is None

    def milter_log_text(self):
        return self.milter_log.read_text(errors="replace") if self.milter_log else ""

    def milter_log_records(self):
        """Every JSON object the milter wrote on stderr, in order."""
        records = []
        for line in self.milter_log_text().splitlines():
            line = line.strip()
            if line.startswith("{"):
                try:
                    records.append(json.loads(line))
                except ValueError:
                    pass
        return records

    def wait_log_record(self, queue_id, timeout=10):
        """The JSON log object for one message (matched by Postfix queue id)."""
        def find():
            for rec in self.milter_log_records():
                if rec.get("queue_id") == queue_id:
                    return rec
            return None
        return wait_until(find, timeout, f"milter JSON log line for queue id {queue_id}",
                          interval=0.1)

    # -- mail ------------------------------------------------------------------
    def send(self, mail_from="sender@secure.test", helo="out1.secure.test", cert=None,
             tls=None, subject=None, extra_headers=(), expect_code=250, rcpt=RECIPIENT,
             timeout=60, local_interface=None, auth=False):
        """Send one message with swaks and return a SendResult.

        ``cert`` is the handle of a rig certificate (see CERT_SPECS), which
        implies STARTTLS; ``tls=True`` without a cert does STARTTLS without a
        client certificate. ``mail_from="<>"`` is the null sender.
        ``local_interface`` is the source address (any 127.0.0.0/8 address
        works on Linux loopback); ``auth=True`` authenticates as SASL_USER.
        ``expect_code`` (None to skip) is checked here so a failing test
        shows the transcript."""
        if tls is None:
            tls = cert is not None
        subject = subject or new_subject()
        data = self.dir / "messages" / f"{uuid.uuid4().hex}.eml"
        data.write_text(message_text(subject, mail_from, rcpt, extra_headers))
        cmd = ["swaks", "--server", "127.0.0.1", "--port", str(self.smtp_port),
               "--from", mail_from or "<>", "--to", rcpt, "--helo", helo,
               "--data", f"@{data}", "--timeout", "30", "--suppress-data"]
        if local_interface:
            cmd += ["--local-interface", local_interface]
        if auth:
            cmd += ["--auth", "PLAIN", "--auth-user", SASL_USER, "--auth-password", SASL_PASSWORD]
        if tls:
            cmd.append("--tls")
            if cert is not None:
                pair = self.cert(cert)
                cmd += ["--tls-cert", str(pair.cert), "--tls-key", str(pair.key)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            raise RigError(f"swaks timed out after {timeout}s") from exc
        output = proc.stdout + proc.stderr
        code, reply, qid = parse_swaks_output(output)
        result = SendResult(code, reply, qid, subject, output, proc.returncode)
        if expect_code is not None and code != expect_code:
            raise AssertionError(
                f"expected SMTP {expect_code}, got {code} {reply}\n--- swaks ---\n{output}"
                f"--- milter log (tail) ---\n{_tail(self.milter_log) if self.milter_log else ''}"
                f"--- maillog (tail) ---\n{_tail(self.postfix.maillog)}")
        return result

    def send_session(self, transactions, cert=None, tls=None, helo="out1.secure.test",
                     rcpt=RECIPIENT, timeout=60):
        """Several transactions over ONE SMTP connection (smtplib; swaks
        sends one message per connection), to catch per-message state that
        leaks into the next message.

        ``transactions`` is a list of dicts with ``mail_from``, optional
        ``extra_headers`` and ``rset_first`` (start a transaction, RSET it,
        then send: the aborted one must leave no trace). Returns one
        SendResult per transaction (output holds a short transcript)."""
        import smtplib
        import ssl
        if tls is None:
            tls = cert is not None
        results = []
        with smtplib.SMTP("127.0.0.1", self.smtp_port, local_hostname=helo,
                          timeout=timeout) as smtp:
            smtp.ehlo(helo)
            if tls:
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                if cert is not None:
                    pair = self.cert(cert)
                    ctx.load_cert_chain(str(pair.cert), str(pair.key))
                smtp.starttls(context=ctx)
                smtp.ehlo(helo)
            for tx in transactions:
                mail_from = tx.get("mail_from", "sender@secure.test")
                envelope = "" if mail_from == "<>" else mail_from
                log = []
                if tx.get("rset_first"):
                    log.append(f"MAIL FROM:<{tx['rset_first']}> -> {smtp.mail(tx['rset_first'])}")
                    log.append(f"RSET -> {smtp.rset()}")
                subject = tx.get("subject") or new_subject()
                code, reply = smtp.mail(envelope)
                log.append(f"MAIL FROM:<{envelope}> -> {code}")
                if code == 250:
                    code, reply = smtp.rcpt(rcpt)
                    log.append(f"RCPT TO:<{rcpt}> -> {code}")
                if code == 250:
                    text = message_text(subject, mail_from, rcpt, tx.get("extra_headers", ()))
                    code, reply = smtp.data(text.encode())
                    log.append(f"DATA -> {code}")
                else:
                    smtp.rset()
                reply = reply.decode(errors="replace") if isinstance(reply, bytes) else reply
                m = re.search(r"queued as ([0-9A-Za-z]+)", reply) if code == 250 else None
                results.append(SendResult(code, reply, m.group(1) if m else None, subject,
                                          "\n".join(log), 0))
        return results

    def smtp_client(self, timeout=30, source=None) -> "SmtpClient":
        """A raw SMTP connection to the rig's Postfix (banner already read),
        for dialogues swaks and smtplib will not produce."""
        return SmtpClient(self.smtp_port, timeout=timeout, source=source)

    def wait_delivered(self, subject, timeout=20) -> DeliveredMessage:
        """The delivered message with this Subject (bounded wait)."""
        def find():
            for path in sorted((self.inbox / "new").glob("*.eml")):
                msg = self._message_cache.get(path.name)
                if msg is None:
                    msg = self._message_cache[path.name] = DeliveredMessage.load(path)
                if msg.get("Subject") == subject:
                    return msg
            return None
        try:
            return wait_until(find, timeout, f"delivery of {subject!r}", interval=0.1)
        except RigError as exc:
            raise RigError(f"{exc}\n--- maillog (tail) ---\n{_tail(self.postfix.maillog)}") from None

    def mtls_check(self, *args, timeout=60):
        """Run the mtls-check CLI against the rig's DNS."""
        cmd = [str(self.check_bin), "--unbound-config", str(self.unbound_conf),
               "--trust-anchor-file", str(self.trust_anchor_file), *map(str, args)]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)


class SmtpClient:
    """SMTP at the byte level: every command is sent exactly as given (8-bit
    text, parameters, no automatic EHLO after STARTTLS), every reply is kept
    in ``transcript``. Socket timeouts bound every read."""

    def __init__(self, port, host="127.0.0.1", timeout=30, source=None):
        self.sock = socket.create_connection(
            (host, port), timeout=timeout,
            source_address=(source, 0) if source else None)
        self.file = self.sock.makefile("rb")
        self.transcript: list[str] = []
        self.banner = self.reply()

    def reply(self):
        """(code, text) of the next reply; continuation lines joined by \\n."""
        lines = []
        for _ in range(100):  # no reply has more lines than this
            raw = self.file.readline(4096)
            if not raw:
                raise RigError("SMTP server closed the connection\n" + "\n".join(self.transcript))
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            self.transcript.append("<- " + line)
            lines.append(line[4:])
            if len(line) < 4 or line[3] != "-":
                return int(line[:3]), "\n".join(lines)
        raise RigError("SMTP reply with too many lines")

    def command(self, line):
        """Send one command line (str is UTF-8 encoded) and read its reply."""
        raw = line.encode() if isinstance(line, str) else line
        self.transcript.append("-> " + raw.decode("utf-8", "replace"))
        self.sock.sendall(raw + b"\r\n")
        return self.reply()

    def starttls(self, cert: CertPair | None = None):
        """STARTTLS with an optional client certificate; the server's
        certificate is not checked (it is the rig's own)."""
        import ssl
        code, text = self.command("STARTTLS")
        if code != 220:
            raise RigError(f"STARTTLS refused: {code} {text}")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        if cert is not None:
            ctx.load_cert_chain(str(cert.cert), str(cert.key))
        self.file.close()
        self.sock = ctx.wrap_socket(self.sock)
        self.file = self.sock.makefile("rb")
        self.transcript.append("== TLS " + str(self.sock.version()))

    def data(self, message: bytes):
        """DATA, the message (dot-stuffed here), and the final reply."""
        code, text = self.command("DATA")
        if code != 354:
            return code, text
        body = re.sub(rb"(?m)^\.", b"..", message.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        self.sock.sendall(body + b".\r\n")
        self.transcript.append(f"-> ({len(body)} bytes of message) .")
        return self.reply()

    def transaction(self, mail_from, rcpt=RECIPIENT, subject=None, extra_headers=(),
                    mail_params=""):
        """MAIL FROM:<mail_from> [params], RCPT, DATA; returns a SendResult.
        ``mail_from`` may be str (sent as UTF-8) or bytes (sent as is)."""
        subject = subject or new_subject()
        raw_from = mail_from if isinstance(mail_from, bytes) else mail_from.encode()
        line = b"MAIL FROM:<" + raw_from + b">"
        if mail_params:
            line += b" " + mail_params.encode()
        code, text = self.command(line)
        if code == 250:
            code, text = self.command(f"RCPT TO:<{rcpt}>")
        if code == 250:
            header_from = raw_from.decode("utf-8", "replace") or "postmaster@secure.test"
            code, text = self.data(message_text(subject, header_from, rcpt,
                                                extra_headers).encode())
        else:
            self.command("RSET")
        m = re.search(r"queued as ([0-9A-Za-z]+)", text) if code == 250 else None
        return SendResult(code, text, m.group(1) if m else None, subject,
                          "\n".join(self.transcript), 0)

    def close(self):
        try:
            self.sock.settimeout(5)
            self.command("QUIT")
        except (OSError, RigError):
            pass
        finally:
            self.file.close()
            self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def new_subject():
    """Unique Subject: how a test finds its own message in the inbox."""
    return f"mtls-it {uuid.uuid4().hex[:16]}"


def message_text(subject, mail_from, rcpt, extra_headers=()):
    """A small RFC 5322 message with CRLF line ends. ``extra_headers`` are
    complete header fields (may contain CRLF + WSP to fold), placed after
    the standard ones."""
    header_from = "postmaster@secure.test" if mail_from in ("", "<>") else mail_from
    lines = [
        f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime())}",
        f"From: <{header_from}>",
        f"To: <{rcpt}>",
        f"Subject: {subject}",
        f"Message-ID: <{uuid.uuid4().hex}@mtls-it.test>",
        *extra_headers,
        "",
        "Test message from the mtls-milter integration rig.",
        "",
    ]
    return "\r\n".join(lines)


def use_debian_python():
    """Re-run the calling script under /usr/bin/python3 when started by
    another interpreter (e.g. pyenv's python3 first on PATH) that lacks
    Debian's authres module. Returns only if no re-exec was needed."""
    debian = "/usr/bin/python3"
    if authres is None and os.path.exists(debian) \
            and os.path.realpath(sys.executable) != os.path.realpath(debian) \
            and not os.environ.get("MTLS_IT_REEXEC"):
        os.environ["MTLS_IT_REEXEC"] = "1"
        os.execv(debian, [debian, *sys.argv])


def missing_requirements():
    """Human-readable list of what is missing to run the rig (empty if ok)."""
    missing = []
    for tool, package in REQUIRED_TOOLS.items():
        if shutil.which(tool) is None:
            missing.append(f"{tool} (apt-get install {package})")
    if authres is None:
        missing.append("Python module authres (apt-get install python3-authres; "
                       "run with /usr/bin/python3)")
    if not Path("/usr/share/postfix/main.cf.debian").exists() and not DEFAULT_MAIN_CF.exists():
        missing.append("/usr/share/postfix/main.cf.debian (apt-get install postfix)")
    return missing
