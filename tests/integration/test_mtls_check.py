#!/usr/bin/python3
"""The mtls-check CLI against the rig's real, DNSSEC-signed zones.

Operators use mtls-check to ask "what would the milter say?", so its exit
status and header must agree with the milter's verdicts in
test_end_to_end.py. Only the DNS half of the rig is started (no Postfix).
"""

import hashlib
import re
import subprocess
import unittest

from cryptography import x509
from cryptography.hazmat.primitives import serialization

import rig as rigmod
from rig import AUTHSERV_ID, result_props

RIG = None

EXIT = {"pass": 0, "fail": 1, "none": 2, "temperror": 3, "permerror": 4, "usage": 64}


def setUpModule():
    global RIG
    RIG = rigmod.start_module_rig(with_postfix=False)


def tearDownModule():
    if RIG is not None:
        RIG.close()


class MtlsCheckTests(unittest.TestCase):
    def check(self, expected, *args, identity=None, ptype="smtp.mailfrom"):
        proc = RIG.mtls_check("--authserv-id", AUTHSERV_ID, *args)
        transcript = f"args={args}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        self.assertEqual(proc.returncode, EXIT[expected], transcript)
        if expected == "usage":
            return proc
        result_lines = [l for l in proc.stdout.splitlines() if l.startswith("result:")]
        self.assertEqual(len(result_lines), 1, transcript)
        self.assertEqual(result_lines[0].split()[1], expected, transcript)
        # The header is printed last and may be folded over several lines.
        self.assertIn("\nheader:", proc.stdout, transcript)
        folded = proc.stdout.split("\nheader:", 1)[1]
        value = folded.split("Authentication-Results:", 1)[1].replace("\n", "")
        parsed = rigmod.parse_auth_results(value)
        self.assertEqual(parsed.authserv_id.lower(), AUTHSERV_ID, transcript)
        mtls = [r for r in parsed.results if r.method == "mtls"]
        self.assertEqual(len(mtls), 1, transcript)
        self.assertEqual(mtls[0].result, expected, transcript)
        if identity:
            self.assertEqual(result_props(mtls[0]).get(ptype, "").lower(), identity, transcript)
        return proc

    def test_pass(self):
        proc = self.check(
            "pass",
            "--mail-from",
            "alice@secure.test",
            "--cert-name",
            "out1.secure.test",
            identity="secure.test",
        )
        self.assertIn("out1.secure.test", proc.stdout)  # the RRset is shown

    def test_pass_one_of_several_names(self):
        self.check(
            "pass",
            "--mail-from",
            "alice@secure.test",
            "--cert-name",
            "a.example",
            "--cert-name",
            "OUT1.secure.test",
        )

    def test_fail_wrong_name(self):
        self.check(
            "fail",
            "--mail-from",
            "alice@secure.test",
            "--cert-name",
            "rogue.secure.test",
            identity="secure.test",
        )

    def test_fail_unverified_certificate(self):
        self.check(
            "fail", "--mail-from", "alice@secure.test", "--cert-name", "out1.secure.test", "--verified", "no"
        )

    def test_fail_without_certificate(self):
        self.check("fail", "--mail-from", "alice@secure.test")

    def test_none_nodata(self):
        self.check(
            "none",
            "--mail-from",
            "alice@nomx.secure.test",
            "--cert-name",
            "out1.secure.test",
            identity="nomx.secure.test",
        )

    def test_none_nxdomain(self):
        self.check("none", "--mail-from", "alice@nosuch.secure.test", "--cert-name", "out1.secure.test")

    def test_temperror_bogus(self):
        self.check(
            "temperror",
            "--mail-from",
            "alice@bogus.test",
            "--cert-name",
            "out1.bogus.test",
            identity="bogus.test",
        )

    def test_insecure_pass_by_default(self):
        self.check("pass", "--mail-from", "alice@insecure.test", "--cert-name", "out1.insecure.test")

    def test_insecure_none_with_require_dnssec(self):
        self.check(
            "none",
            "--mail-from",
            "alice@insecure.test",
            "--cert-name",
            "out1.insecure.test",
            "--require-dnssec",
            "yes",
        )

    def test_null_sender_uses_helo(self):
        self.check(
            "pass",
            "--mail-from",
            "<>",
            "--helo",
            "out1.secure.test",
            "--cert-name",
            "out1.secure.test",
            identity="out1.secure.test",
            ptype="smtp.helo",
        )

    def test_other_client_mx_type_finds_nothing(self):
        self.check(
            "none",
            "--mail-from",
            "alice@secure.test",
            "--cert-name",
            "out1.secure.test",
            "--client-mx-type",
            "65300",
        )

    def test_usage_without_mail_from(self):
        self.check("usage", "--cert-name", "out1.secure.test")


def digests(cert_path):
    """(certificate, SPKI) SHA-256 in hex, computed independently of the
    tool: by the cryptography package from the PEM file."""
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return (
        hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest(),
        hashlib.sha256(spki).hexdigest(),
    )


def labelled(stdout, label):
    """The values of the output lines with this label ("chain:")."""
    return [line[len(label) :].strip() for line in stdout.splitlines() if line.startswith(label)]


TLSA_LINE = re.compile(
    r"^(?P<owner>\S+)\. IN TLSA (?P<usage>\d+) (?P<selector>\d+) (?P<mtype>\d+) " r"(?P<data>[0-9a-f]+)$"
)


def tlsa_records(stdout):
    """The zone-file records of --tlsa output; every other line must be a
    comment, so that the output can be pasted into a zone as it is."""
    records = []
    for line in stdout.splitlines():
        if line.startswith(";"):
            continue
        match = TLSA_LINE.match(line)
        if not match:
            raise AssertionError(f"neither a comment nor a TLSA record: {line!r}")
        records.append(
            (match["owner"], int(match["usage"]), int(match["selector"]), int(match["mtype"]), match["data"])
        )
    return records


class CertificateFileTests(unittest.TestCase):
    """mtls-check --cert: the chain is read and verified by the tool itself,
    so a serverAuth-only certificate with its name only in the SAN (what
    public CAs issue since 2026) can be checked although Postfix would show
    the milter nothing of it."""

    @classmethod
    def setUpClass(cls):
        ca = RIG.ca
        # serverAuth only, no CN: the name is in the SAN and nowhere else.
        cls.server_only = ca.issue(
            "check-server-only-san",
            "/O=mtls-milter tests mtls-check",
            eku="serverAuth",
            san="DNS:out1.secure.test",
        ).cert
        cls.rogue = ca.issue(
            "check-rogue-san",
            "/O=mtls-milter tests mtls-check",
            eku="serverAuth",
            san="DNS:rogue.secure.test",
        ).cert
        cls.email_only = ca.issue(
            "check-email-eku",
            "/O=mtls-milter tests mtls-check",
            eku="emailProtection",
            san="DNS:out1.secure.test",
        ).cert
        cls.ca_file = ca.ca.cert
        # A c_rehash'ed directory holding the rig's CA, for --ca-path.
        cls.ca_path = RIG.dir / "mtls-check-ca-path"
        cls.ca_path.mkdir(exist_ok=True)
        subject_hash = subprocess.run(
            ["openssl", "x509", "-hash", "-noout", "-in", str(cls.ca_file)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        (cls.ca_path / f"{subject_hash}.0").write_bytes(cls.ca_file.read_bytes())

    check = MtlsCheckTests.check

    def test_pass_server_auth_only_san_via_ca_file(self):
        proc = self.check(
            "pass",
            "--mail-from",
            "alice@secure.test",
            "--cert",
            self.server_only,
            "--ca-file",
            self.ca_file,
            identity="secure.test",
        )
        self.assertEqual(labelled(proc.stdout, "certificate:"), ["verified out1.secure.test"], proc.stdout)
        self.assertEqual(
            labelled(proc.stdout, "matched:"), ["out1.secure.test by certificate name"], proc.stdout
        )
        cert_digest, spki_digest = digests(self.server_only)
        self.assertEqual(labelled(proc.stdout, "cert sha256:"), [cert_digest], proc.stdout)
        self.assertEqual(labelled(proc.stdout, "spki sha256:"), [spki_digest], proc.stdout)

    def test_pass_via_ca_path(self):
        proc = self.check(
            "pass",
            "--mail-from",
            "alice@multi.secure.test",
            "--cert",
            self.server_only,
            "--ca-path",
            self.ca_path,
        )
        self.assertIn(f"verified against CA path {self.ca_path}", proc.stdout)

    def test_pass_for_the_null_sender(self):
        self.check(
            "pass",
            "--mail-from",
            "<>",
            "--helo",
            "out1.secure.test",
            "--cert",
            self.server_only,
            "--ca-file",
            self.ca_file,
            identity="out1.secure.test",
            ptype="smtp.helo",
        )

    def test_fail_when_the_system_store_does_not_know_the_ca(self):
        proc = self.check("fail", "--mail-from", "alice@secure.test", "--cert", self.server_only)
        self.assertIn('reason="client certificate not verified"', proc.stdout.replace("\n\t", " "))
        chain = labelled(proc.stdout, "chain:")
        self.assertEqual(len(chain), 1, proc.stdout)
        self.assertIn(
            "not verified against the system trust store: "
            "unable to get local issuer certificate (depth 0)",
            chain[0],
        )

    def test_fail_expired(self):
        proc = self.check(
            "fail",
            "--mail-from",
            "alice@secure.test",
            "--cert",
            RIG.cert("expired").cert,
            "--ca-file",
            self.ca_file,
        )
        self.assertIn("certificate has expired (depth 0)", proc.stdout)
        # CN-only certificate: the CN is its name.
        self.assertEqual(labelled(proc.stdout, "certificate:"), ["unverified out1.secure.test"])

    def test_fail_other_ca(self):
        proc = self.check(
            "fail",
            "--mail-from",
            "alice@secure.test",
            "--cert",
            RIG.cert("unknown-ca").cert,
            "--ca-file",
            self.ca_file,
        )
        self.assertIn("unable to get local issuer certificate", proc.stdout)

    def test_fail_email_protection_eku(self):
        proc = self.check(
            "fail", "--mail-from", "alice@secure.test", "--cert", self.email_only, "--ca-file", self.ca_file
        )
        self.assertIn("neither clientAuth nor serverAuth", proc.stdout)

    def test_fail_wrong_name(self):
        proc = self.check(
            "fail", "--mail-from", "alice@secure.test", "--cert", self.rogue, "--ca-file", self.ca_file
        )
        self.assertEqual(labelled(proc.stdout, "certificate:"), ["verified rogue.secure.test"])
        self.assertEqual(labelled(proc.stdout, "matched:"), [])

    def test_san_hides_cn(self):
        # CN out1.secure.test, SANs elsewhere: the CN does not count.
        self.check(
            "fail",
            "--mail-from",
            "alice@secure.test",
            "--cert",
            RIG.cert("cn-match-san-other").cert,
            "--ca-file",
            self.ca_file,
        )
        # CN rogue.secure.test, SAN out1.secure.test: the SAN does.
        self.check(
            "pass",
            "--mail-from",
            "alice@secure.test",
            "--cert",
            RIG.cert("san-match-cn-other").cert,
            "--ca-file",
            self.ca_file,
        )

    def test_cert_conflicts_with_stated_certificate(self):
        for extra in (["--cert-name", "out1.secure.test"], ["--verified", "yes"], ["--tls", "no"]):
            with self.subTest(extra=extra):
                proc = self.check(
                    "usage", "--mail-from", "alice@secure.test", "--cert", self.server_only, *extra
                )
                self.assertIn("--cert cannot be combined", proc.stderr)

    def test_ca_file_needs_cert(self):
        proc = self.check(
            "usage",
            "--mail-from",
            "alice@secure.test",
            "--cert-name",
            "out1.secure.test",
            "--ca-file",
            self.ca_file,
        )
        self.assertIn("--ca-file needs --cert", proc.stderr)

    def test_unreadable_cert_is_a_usage_error(self):
        proc = self.check("usage", "--mail-from", "alice@secure.test", "--cert", RIG.dir / "nonexistent.pem")
        self.assertIn("nonexistent.pem", proc.stderr)


class TlsaTests(unittest.TestCase):
    """mtls-check --tlsa: the DANE-EE records a sending host publishes."""

    @classmethod
    def setUpClass(cls):
        cls.cert = RIG.ca.issue(
            "tlsa-server-only",
            "/O=mtls-milter tests tlsa",
            eku="serverAuth",
            san="DNS:out1.secure.test,DNS:out2.secure.test,DNS:*.secure.test",
        ).cert
        cls.cert_digest, cls.spki_digest = digests(cls.cert)

    def tlsa(self, *args, expected=0):
        proc = RIG.mtls_check("--tlsa", *args)
        transcript = f"args={args}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        self.assertEqual(proc.returncode, expected, transcript)
        return proc, transcript

    def expect_records(self, stdout, hosts, templates=("_client.", "_25._tcp.")):
        expected = [(prefix + host, 3, 1, 1, self.spki_digest) for host in hosts for prefix in templates]
        self.assertEqual(tlsa_records(stdout), expected, stdout)

    def test_records_for_the_certificate_names(self):
        proc, transcript = self.tlsa("--cert", self.cert, "--ca-file", RIG.ca.ca.cert)
        # The wildcard has no owner name of its own and is left out.
        self.expect_records(proc.stdout, ["out1.secure.test", "out2.secure.test"])
        self.assertIn(f"; cert sha256: {self.cert_digest}", proc.stdout)
        self.assertIn(f"; spki sha256: {self.spki_digest}", proc.stdout)
        self.assertIn("; certificate: verified out1.secure.test out2.secure.test *.secure.test", proc.stdout)

    def test_records_for_given_hosts_and_templates(self):
        proc, _ = self.tlsa(
            "--cert",
            self.cert,
            "--host",
            "OUT7.example.test",
            "--host",
            "out8.example.test.",
            "--dane-tlsa-names",
            "_client.{host}, _smtp-client.{host}, {host}",
        )
        self.expect_records(
            proc.stdout,
            ["out7.example.test", "out8.example.test"],
            templates=("_client.", "_smtp-client.", ""),
        )

    def test_records_for_the_client_mx_hosts(self):
        proc, _ = self.tlsa("--cert", self.cert, "--mail-from", "alice@multi.secure.test")
        self.expect_records(proc.stdout, ["out9.secure.test", "out1.secure.test"])
        self.assertIn("; hosts:       the Client MX of multi.secure.test", proc.stdout)

    def test_domain_without_client_mx_hosts(self):
        proc, _ = self.tlsa(
            "--cert", self.cert, "--mail-from", "alice@nomx.secure.test", expected=EXIT["none"]
        )
        self.assertEqual(proc.stdout, "")
        self.assertIn("no Client MX host", proc.stderr)

    def test_unverified_certificate_still_gets_records(self):
        # DANE-EE does not need a CA: the records are what matters, and the
        # comment says the chain did not verify.
        proc, _ = self.tlsa("--cert", self.cert)
        self.expect_records(proc.stdout, ["out1.secure.test", "out2.secure.test"])
        self.assertIn("; certificate: unverified", proc.stdout)

    def test_unreadable_certificate(self):
        garbage = RIG.dir / "not-a-certificate.pem"
        garbage.write_text("-----BEGIN CERTIFICATE-----\nnonsense\n-----END CERTIFICATE-----\n")
        for path in (RIG.dir / "nonexistent.pem", garbage):
            with self.subTest(path=path):
                proc, _ = self.tlsa("--cert", path, expected=1)
                self.assertEqual(proc.stdout, "")
                self.assertIn(str(path), proc.stderr)

    def test_usage_errors(self):
        for args in (
            ["--host", "out1.secure.test"],  # no --cert
            ["--cert", self.cert, "--host", "not a host"],
            ["--cert", self.cert, "--host", "out1.secure.test", "--mail-from", "a@secure.test"],
            ["--cert", self.cert, "--cert-name", "out1.secure.test"],
        ):
            with self.subTest(args=args):
                self.tlsa(*args, expected=EXIT["usage"])


if __name__ == "__main__":
    unittest.main()
