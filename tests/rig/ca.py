"""The test CA (``openssl`` CLI) and the client certificates it issues."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from .process import run


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
# CN of a *verified* certificate and nothing else (docs/MTA-FACTS.md, "Postfix"); the specs
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
    "san-match-cn-other": CertSpec("/CN=rogue.secure.test", san="DNS:rogue.secure.test,DNS:out1.secure.test"),
    # The reverse: the CN is the Client MX host, the SANs are unrelated.
    "cn-match-san-other": CertSpec("/CN=out1.secure.test", san="DNS:a.example.test,DNS:b.example.test"),
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
    "dane-server-auth": CertSpec("/O=mtls-milter tests DANE", eku="serverAuth", san="DNS:dane25.secure.test"),
    # The same shape with another key: what TLSA records of danewrong name.
    "dane-other-key": CertSpec(
        "/O=mtls-milter tests DANE other key", eku="serverAuth", san="DNS:danewrong.secure.test"
    ),
    # Self-signed, no CN: DANE-EE needs no CA at all.
    "dane-self-signed": CertSpec(
        "/O=mtls-milter tests DANE self-signed",
        issuer="self",
        eku="serverAuth",
        san="DNS:daneself.secure.test",
    ),
    # Certificate discovery tests (tests/integration/test_discovery.py): the
    # same 2026 shape, each key its own, because the milter remembers a
    # discovered certificate by its fingerprint whatever address served it.
    # Served on port 25 of the sending address: passes by discovery; for
    # discdane.secure.test, whose TLSA records name another key, DANE wins.
    "disc-server-auth": CertSpec(
        "/O=mtls-milter tests discovery",
        eku="serverAuth",
        san="DNS:disc.secure.test,DNS:discdane.secure.test",
    ),
    # Presented by a client whose port 25 serves another certificate, or nothing.
    "disc-unserved": CertSpec(
        "/O=mtls-milter tests discovery unserved", eku="serverAuth", san="DNS:disc.secure.test"
    ),
    # The CN is not the Client MX host, a SAN is: names come from the SANs.
    "disc-san-list": CertSpec(
        "/CN=rogue.secure.test", eku="serverAuth", san="DNS:rogue.secure.test,DNS:disc.secure.test"
    ),
    "disc-expired": CertSpec(
        "/O=mtls-milter tests discovery expired",
        eku="serverAuth",
        san="DNS:disc.secure.test",
        validity="expired",
    ),
    # Served with the CA's certificate after it, for discta.secure.test, whose
    # only TLSA record is DANE-TA naming that CA ("ca-trusted" in DANE_TLSA).
    "disc-dane-ta": CertSpec(
        "/O=mtls-milter tests discovery DANE-TA", eku="serverAuth", san="DNS:discta.secure.test"
    ),
    # Served by a host that answers only when the test says so.
    "disc-slow": CertSpec(
        "/O=mtls-milter tests discovery slow", eku="serverAuth", san="DNS:disc.secure.test"
    ),
    # Verifies for clientAuth and its CN is the Client MX host, which also
    # publishes TLSA for its key: the certificate path decides, not DANE.
    "dane-dual": CertSpec("/CN=danedual.secure.test"),
}


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
        run(
            [
                "openssl",
                "req",
                "-new",
                "-config",
                self.req_config,
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                key,
                "-out",
                csr,
                "-subj",
                subject,
                *(["-utf8"] if utf8 else []),
            ]
        )
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
            run(
                [
                    "openssl",
                    "x509",
                    "-req",
                    "-in",
                    csr,
                    "-signkey",
                    key,
                    "-days",
                    "3",
                    "-set_serial",
                    self._serial,
                    "-extfile",
                    ext,
                    "-out",
                    cert,
                ]
            )
        else:
            run(
                [
                    "openssl",
                    "x509",
                    "-req",
                    "-in",
                    csr,
                    "-CA",
                    issuer.cert,
                    "-CAkey",
                    issuer.key,
                    "-days",
                    "3",
                    "-set_serial",
                    self._serial,
                    "-extfile",
                    ext,
                    "-out",
                    cert,
                ]
            )
        return cert

    def _sign_dated(self, name, csr, issuer, ext, cert, validity):
        day = 86400
        now = time.time()
        start, end = {
            "expired": (now - 30 * day, now - 10 * day),
            "future": (now + 10 * day, now + 30 * day),
        }[validity]
        stamp = lambda t: time.strftime("%Y%m%d%H%M%SZ", time.gmtime(t))  # noqa: E731
        db = self.dir / f"{name}.db"
        db.mkdir(exist_ok=True)
        (db / "index.txt").write_text("")
        (db / "serial").write_text(f"{self._serial:x}".rjust(16, "0") + "\n")
        config = db / "ca.cnf"
        config.write_text(
            f"""\
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
"""
        )
        run(
            [
                "openssl",
                "ca",
                "-batch",
                "-notext",
                "-config",
                config,
                "-preserveDN",
                "-in",
                csr,
                "-cert",
                issuer.cert,
                "-keyfile",
                issuer.key,
                "-startdate",
                stamp(start),
                "-enddate",
                stamp(end),
                "-extfile",
                ext,
                "-out",
                cert,
            ]
        )
        return cert

    def _make_ca(self, name, subject):
        key, csr = self._new_key_and_csr(name, subject)
        cert = self._sign(
            name,
            csr,
            None,
            [
                "basicConstraints=critical,CA:TRUE",
                "keyUsage=critical,keyCertSign,cRLSign",
                "subjectKeyIdentifier=hash",
            ],
        )
        return CertPair(cert, key)

    def issue(
        self, name, subject, issuer="ca", eku="clientAuth,serverAuth", san=None, validity="valid", utf8=False
    ):
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
        return self.issue(
            name,
            spec.subject,
            issuer=spec.issuer,
            eku=spec.eku,
            san=spec.san,
            validity=spec.validity,
            utf8=spec.utf8,
        )

    # -- digests for TLSA (DANE) ---------------------------------------------
    def _pair(self, name) -> CertPair:
        """A certificate by handle; "ca-trusted" is the CA itself (for the
        DANE-TA records of DANE_TLSA)."""
        return self.ca if name == "ca-trusted" else self.certs[name]

    def with_ca_chain(self, name) -> CertPair:
        """The certificate followed by the CA's, as a server that sends its
        whole chain presents them (RFC 8446 section 4.4.2)."""
        pair = self.certs[name]
        chain = self.dir / f"{name}-chain.pem"
        chain.write_text(pair.cert.read_text() + self.ca.cert.read_text())
        return CertPair(chain, pair.key)

    def cert_der(self, name) -> bytes:
        import ssl

        return ssl.PEM_cert_to_DER_cert(self._pair(name).cert.read_text())

    def spki_der(self, name) -> bytes:
        """The DER SubjectPublicKeyInfo of a certificate (TLSA selector 1)."""
        pem = run(["openssl", "x509", "-in", self._pair(name).cert, "-noout", "-pubkey"]).stdout
        body = "".join(l for l in pem.splitlines() if l and not l.startswith("-----"))
        import base64

        return base64.b64decode(body)

    def tlsa_digest(self, name, selector) -> str:
        """SHA-256 (TLSA matching type 1) of the certificate (selector 0) or of
        its SubjectPublicKeyInfo (selector 1), lower-case hex."""
        import hashlib

        return hashlib.sha256(self._tlsa_selected(name, selector)).hexdigest()

    def tlsa_data(self, name, selector, matching_type) -> str:
        """The association data of a TLSA record for a certificate: the
        selected DER in full (matching type 0) or its SHA-256 (1), hex."""
        if int(matching_type) == 0:
            return self._tlsa_selected(name, selector).hex()
        if int(matching_type) == 1:
            return self.tlsa_digest(name, selector)
        raise ValueError(f"TLSA matching type {matching_type} is not made by the rig")

    def _tlsa_selected(self, name, selector) -> bytes:
        return self.spki_der(name) if int(selector) == 1 else self.cert_der(name)
