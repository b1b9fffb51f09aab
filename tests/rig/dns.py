"""DNS: zones signed at test time with ldns and served by NSD, Client MX and
TLSA records, and servers that never answer or answer SERVFAIL/REFUSED."""

from __future__ import annotations

import random
import re
import socket
import struct
import subprocess
import time
from pathlib import Path

from .base import DEFAULT_CLIENT_MX_TYPE, RigError
from .dkim import DkimSigner
from .process import die_with_parent, free_port, kill_process_group, log_tail, run, wait_until

# TLSA records (RR type 52) the DNS publishes for the DANE tests, by zone:
# (owner relative to the zone, "usage selector matching-type", handle of the
# certificate the association data names). Selector 1 is the DER
# SubjectPublicKeyInfo, selector 0 the DER certificate; matching type 1 is its
# SHA-256, matching type 0 the DER itself (TestCA.tlsa_data).
# Every owner's host has its own Client MX in secure.test (see
# DnsServer._secure_zone), so each test meets exactly one kind of record.
DANE_TLSA = {
    "secure.test.": [
        ("_25._tcp.dane25", "3 1 1", "dane-server-auth"),  # RFC 7672 name
        ("_client.daneclient", "3 1 1", "dane-server-auth"),  # dance client name
        ("_25._tcp.danecert", "3 0 1", "dane-server-auth"),  # full certificate
        ("_25._tcp.danefullcert", "3 0 0", "dane-server-auth"),  # the DER certificate itself
        ("_25._tcp.danefullkey", "3 1 0", "dane-server-auth"),  # the DER SPKI itself
        ("_25._tcp.danewrong", "3 1 1", "dane-other-key"),  # another key
        ("_25._tcp.daneta", "2 1 1", "dane-server-auth"),  # DANE-TA: not usable
        ("_25._tcp.danedual", "3 1 1", "dane-dual"),
        ("_25._tcp.daneself", "3 1 1", "dane-self-signed"),
        # Certificate discovery must not overrule it (test_discovery.py).
        ("_25._tcp.discdane", "3 1 1", "dane-other-key"),
        # DANE-TA naming the CA: usable only with the chain discovery
        # fetches (test_discovery.py).
        ("_25._tcp.discta", "2 0 1", "ca-trusted"),
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
    "danefullcert": ["danefullcert.secure.test."],
    "danefullkey": ["danefullkey.secure.test."],
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
    # Certificate discovery (test_discovery.py): no TLSA for disc, TLSA
    # naming another key for discdane, DANE-TA naming the CA for discta.
    "disc": ["disc.secure.test."],
    "discdane": ["discdane.secure.test."],
    "discta": ["discta.secure.test."],
}


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


def dns_probe(port, qname, qtype=6, timeout=1.0, netns=None):
    """Send one UDP query to 127.0.0.1:port; return (rcode, aa) or None.

    Used only to learn that NSD is up and has loaded a zone (authoritative
    answer, NOERROR), without needing dig or unbound-host. ``netns``: ask
    inside that namespace (netns.NetNamespace)."""
    qid = random.randrange(65536)
    packet = struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0)
    packet += encode_dns_name(qname) + struct.pack("!HH", qtype, 1)
    make = netns.socket if netns else socket.socket
    with make(socket.AF_INET, socket.SOCK_DGRAM) as sock:
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
        self._thread = threading.Thread(
            target=self._serve, args=(udp, tcp), name=f"dns-{self.mode}", daemon=True
        )
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
        question = query[12 : end + 5]
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

    def __init__(
        self,
        directory: Path,
        rrtype=DEFAULT_CLIENT_MX_TYPE,
        tlsa=None,
        tampered_tlsa=None,
        extra=None,
        netns=None,
    ):
        """``extra``: {zone: [zone-file lines]} added to secure.test. or
        insecure.test. (the policy daemon's tests publish MX, MTA-STS and
        TLSA records there). ``tlsa``: {zone: [(relative owner, "U S M", hex digest)]}, the
        TLSA records to publish (Rig passes DANE_TLSA with the digests of
        its certificates); None publishes none. ``tampered_tlsa``: (signed
        digest, served digest) for tampered.test's TLSA record, rewritten
        after signing. ``netns``: run NSD inside that namespace
        (netns.NetNamespace) instead of on the host's loopback."""
        self.dir = directory
        self.netns = netns
        self.dir.mkdir(parents=True, exist_ok=True)
        self.rrtype = rrtype
        self.tlsa = tlsa or {}
        self.tampered_tlsa = tampered_tlsa
        self.extra = extra or {}
        # The DKIM key of secure.test (sel._domainkey), for OpenDKIM in the
        # DMARC stage's tests.
        self.dkim = DkimSigner()
        self.port = free_port(udp_too=True)
        self.proc = None
        self.anchor_file = self.dir / "test.anchor"
        self.unbound_conf = self.dir / "unbound.conf"
        self.log_file = self.dir / "nsd.log"
        self.responders = {
            mode: StubResponder(mode, free_port(udp_too=True)) for mode in ("silent", "servfail", "refused")
        }

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
        return (
            self._header("secure.test.")
            + [
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
            ]
            + [generic_rr(owner, t, rdata) for owner, rdata in MALFORMED_CLIENT_MX.items()]
            + self._dmarc_lines()
            + self._dane_client_mx()
            + self._tlsa_lines("secure.test.")
            + list(self.extra.get("secure.test.", ()))
        )

    def _dmarc_lines(self):
        """DMARC policy records of the DMARC stage's tests (test_dmarc.py)
        and the Client MX and DKIM key they need. secure.test is the
        organizational domain of everything below it: sp applies to existing
        subdomains (nomx.secure.test has an A record), np to non-existent ones."""
        return [
            f"{self.dkim.selector}._domainkey\tIN\tTXT\t{self.dkim.txt_rdata()}",
            '_dmarc\tIN\tTXT\t"v=DMARC1; p=reject; sp=quarantine; np=reject"',
            # Strict SPF alignment; a.strict has a Client MX naming out1.
            '_dmarc.strict\tIN\tTXT\t"v=DMARC1; p=reject; aspf=s"',
            client_mx_rr("a.strict", "out1.secure.test.", self.rrtype),
            # t=y: reject applied one level lower (quarantine).
            '_dmarc.testing\tIN\tTXT\t"v=DMARC1; p=reject; t=y"',
            # Two records at one name: both discarded, the walk goes on.
            '_dmarc.twice\tIN\tTXT\t"v=DMARC1; p=none"',
            '_dmarc.twice\tIN\tTXT\t"v=DMARC1; p=quarantine"',
            "twice\tIN\tA\t127.0.0.1",
            # psd=n: psdn.secure.test is an organizational domain of its own;
            # without the flag the walk would go on to secure.test, the record
            # with the fewest labels, and its sp would apply to sub.psdn.
            '_dmarc.psdn\tIN\tTXT\t"v=DMARC1; p=reject; sp=none; psd=n"',
            "sub.psdn\tIN\tA\t127.0.0.1",
            # psd=y: psd.secure.test is a public suffix domain, so each name
            # one label below it (a.psd, b.psd) is an organizational domain;
            # its sp applies below it where they publish no record.
            '_dmarc.psd\tIN\tTXT\t"v=DMARC1; p=none; sp=reject; psd=y"',
            client_mx_rr("a.psd", "out1.secure.test.", self.rrtype),
            "b.psd\tIN\tA\t127.0.0.1",
            # Malformed records (section 4.7, 4.10.1), each at a name that
            # exists: one that is no record (v=DMARC1 not first) lets
            # secure.test's sp=quarantine apply; one that counts as p=none (a
            # valid rua) applies itself; one with no valid p (or sp, np) and
            # no rua applies too, and means no DMARC processing.
            '_dmarc.vlast\tIN\tTXT\t"p=reject; v=DMARC1"',  # v=DMARC1 not first
            '_dmarc.badp\tIN\tTXT\t"v=DMARC1; p=always"',  # invalid p, no rua
            '_dmarc.badsp\tIN\tTXT\t"v=DMARC1; p=reject; sp=always"',  # invalid sp, no rua
            '_dmarc.badnp\tIN\tTXT\t"v=DMARC1; p=reject; np=always; rua=mailto:d@secure.test"',
            '_dmarc.nop\tIN\tTXT\t"v=DMARC1; rua=mailto:d@secure.test"',  # no p, valid rua
            *(f"{name}\tIN\tA\t127.0.0.1" for name in ("vlast", "badp", "badsp", "badnp", "nop")),
            # psd=n and nothing else: the walk from sub.psdnop stops here
            # all the same (section 4.10 step 2), and DMARC does not apply.
            '_dmarc.psdnop\tIN\tTXT\t"v=DMARC1; psd=n"',
            "sub.psdnop\tIN\tA\t127.0.0.1",
        ]

    def _tlsa_lines(self, zone):
        return [f"{owner}\tIN\tTLSA\t{params} {digest}" for owner, params, digest in self.tlsa.get(zone, ())]

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
        return (
            self._header("insecure.test.")
            + [
                client_mx_rr("@", "out1.insecure.test.", t),
                "out1\tIN\tA\t127.0.0.1",
                client_mx_rr("out1", "out1.insecure.test.", t),
                # An insecure first link into the signed zone.
                "alias\tIN\tCNAME\tout1.secure.test.",
                "dane\tIN\tA\t127.0.0.1",
            ]
            + self._tlsa_lines("insecure.test.")
            + list(self.extra.get("insecure.test.", ()))
        )

    def _bogus_zone(self, origin, target="out1.secure.test."):
        return (
            self._header(origin)
            + [
                client_mx_rr("@", target, self.rrtype),
                "out1\tIN\tA\t127.0.0.1",
            ]
            + (["dane\tIN\tA\t127.0.0.1"] if origin in self.tlsa else [])
            + self._tlsa_lines(origin)
        )

    def _keygen(self, zone):
        """One ECDSAP256SHA256 key with the SEP flag, used as CSK."""
        proc = run(["ldns-keygen", "-a", "ECDSAP256SHA256", "-k", zone], cwd=self.dir)
        base = proc.stdout.strip().splitlines()[-1]
        return base, (self.dir / f"{base}.ds").read_text().strip()

    def _sign(self, zone, lines, base, inception, expiration):
        unsigned = self.dir / f"{zone}zone"
        unsigned.write_text("\n".join(lines) + "\n")
        signed = self.dir / f"{zone}zone.signed"
        run(
            ["ldns-signzone", "-i", str(inception), "-e", str(expiration), "-f", signed, unsigned, base],
            cwd=self.dir,
        )
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
            "secure.test.": self._sign("secure.test.", self._secure_zone(), keys["secure.test."][0], *valid),
            "bogus.test.": self._sign(
                "bogus.test.",
                self._bogus_zone("bogus.test.", "out1.bogus.test."),
                keys["bogus.test."][0],
                *expired,
            ),
        }
        for zone in ("tampered.test.", "stripped.test.", "wrongds.test."):
            target = "nobody.tampered.test." if zone == "tampered.test." else "out1.secure.test."
            self.zone_files[zone] = self._sign(zone, self._bogus_zone(zone, target), keys[zone][0], *valid)

        # tampered.test: the signed record named nobody.tampered.test; what
        # is served names out1.secure.test under the old signature.
        good, evil = client_mx_rdata("nobody.tampered.test."), client_mx_rdata("out1.secure.test.")
        self._edit_signed(
            self.zone_files["tampered.test."],
            lambda line: line.replace(f"\\# {len(good)} {good.hex()}", f"\\# {len(evil)} {evil.hex()}"),
        )
        # tampered.test: its TLSA record was signed over one key's digest;
        # what is served names the key of dane-server-auth (DANE_TLSA).
        if self.tampered_tlsa:
            signed_digest, served_digest = self.tampered_tlsa
            self._edit_signed(
                self.zone_files["tampered.test."],
                lambda line: re.sub(signed_digest, served_digest, line, flags=re.IGNORECASE)
                if re.search(r"\tTLSA\t", line)
                else line,
            )
        # stripped.test: the Client MX RRset is served without its RRSIG.
        self._edit_signed(
            self.zone_files["stripped.test."],
            lambda line: None if re.search(rf"\tRRSIG\tTYPE{t} ", line) else line,
        )

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

        self.write_server_configs(keys["test."][1])

    def write_server_configs(self, test_ds):
        """The trust anchor (``test_ds``: the DS line of test.), the
        libunbound configuration and nsd.conf for the zones in
        self.zone_files."""
        # The DS of test. is the trust anchor; libunbound and unbound-host
        # both accept a zone-file line for it.
        self.anchor_file.write_text(test_ds + "\n")
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
            # config-file line switches that off (docs/MTA-FACTS.md, "libunbound").
            '    local-zone: "test." nodefault\n'
            f'    trust-anchor-file: "{self.anchor_file}"\n'
            "    val-log-level: 2\n"
            + "".join(
                "stub-zone:\n" f'    name: "{name}"\n' f"    stub-addr: 127.0.0.1@{port}\n"
                for name, port in stubs.items()
            )
        )

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
        command = ["nsd", "-d", "-c", str(self.conf)]
        popen = self.netns.popen if self.netns else subprocess.Popen
        self.proc = popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )

        def all_zones_loaded():
            if self.proc.poll() is not None:
                raise RigError(
                    f"nsd exited ({self.proc.returncode}); see {self.log_file}:\n"
                    + log_tail(self.log_file)
                    + log_tail(self.dir / "nsd.stderr")
                )
            return all(dns_probe(self.port, z, netns=self.netns) == (0, True) for z in self.zone_files)

        wait_until(all_zones_loaded, timeout, f"nsd on port {self.port} to serve all zones")

    def stop(self):
        kill_process_group(self.proc)
        self.proc = None
        for responder in self.responders.values():
            responder.stop()
