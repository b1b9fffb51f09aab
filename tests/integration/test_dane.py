#!/usr/bin/python3
"""DANE for the sending host, end to end: Postfix hands the milter's policy
server (``policy-socket``, called by check_policy_service at RCPT) the
client certificate's SHA-256 fingerprints, which it sends even for a
certificate that did not verify; the milter looks up TLSA records at
``_client.H`` and ``_25._tcp.H`` for each Client MX host H and passes a
client whose key a DNSSEC-secure DANE-EE record names.

The certificate at the centre is what a public CA issues a mail server in
2026: serverAuth only, its name only in a SAN dNSName, no CN. Postfix calls
it "(not verified)" and gives a milter no name at all, so without DANE it
can never pass (DaneWithoutPolicyChannelTests documents that).

The rig publishes the TLSA records (rig.DANE_TLSA) with digests of its own
certificates and the Client MX records that lead to them
(rig.DANE_CLIENT_MX), in the signed zone, the unsigned one and the bogus
ones. Sendmail's ``{cert_fp}`` path is driven with milter_client.py.

Run through run_tests.py, or directly:
    MTLS_BUILD_DIR=build /usr/bin/python3 -m unittest -v test_dane
"""

import hashlib
import re
import threading
import unittest

from rig import milter_protocol as mc
import rig as rigmod
from rig.conformance import DANE, row
from rig.testcase import RigTestCase, describe, postfix_client_cn
from rig import AUTHSERV_ID, result_props

KEY = "dane-server-auth"  # serverAuth only, SAN only, no CN
OTHER_KEY = "dane-other-key"
POLICY_RIG = {"policy_socket": True}


def owner_comment(owner):
    return f"DANE-EE TLSA {owner}; DNSSEC secure"


class DaneCase(RigTestCase):
    """Postfix with check_policy_service pointing at the milter's
    policy-socket (the rig's ``policy_socket=True``)."""

    rig_options = POLICY_RIG
    milter_options: dict = {}
    expect_fingerprints = True  # Postfix tells the policy channel the key

    def dane(self, domain, expected, reason, cert=KEY, comment=None, tls_verdict="not verified", **kwargs):
        """One message from sender@DOMAIN with ``cert``; asserts the verdict
        and that Postfix itself neither verified the certificate nor read a
        CN from it (the premise of every DANE case)."""
        sent, msg, result = self.check(
            expected,
            domain,
            reason=reason,
            comment=comment,
            tls_verdict=tls_verdict,
            cert=cert,
            mail_from=f"sender@{domain}",
            **kwargs,
        )
        if tls_verdict == "not verified":
            self.assertFalse(
                postfix_client_cn(msg), f"test premise broken: Postfix printed a CN:\n{describe(msg)}"
            )
            if self.expect_fingerprints:
                # The premise of every DANE outcome: the key was known.
                record = self.rig.wait_log_record(sent.queue_id)
                self.assertEqual(record.get("policy_channel"), "matched", record)
                self.assertEqual(record.get("key_sha256"), self.digest(cert, 1), record)
        return sent, msg, result

    def digest(self, handle, selector):
        return self.rig.ca.tlsa_digest(handle, selector)


class DanePolicyChannelTests(DaneCase):
    # -- passes ----------------------------------------------------------------
    @row(
        DANE,
        "DANE-EE 3 1 1 at _25._tcp.H, certificate Postfix does not verify",
        "serverAuth-only certificate, SAN only, no CN; Client MX dane25.secure.test; "
        "_25._tcp.dane25.secure.test TLSA 3 1 1 SHA-256(SPKI); policy channel on",
        'pass, reason="dane", smtp.mailfrom=dane25.secure.test, '
        'comment "(DANE-EE TLSA _25._tcp.dane25.secure.test; DNSSEC secure)"',
    )
    def test_pass_tlsa_25_tcp_spki(self):
        self.dane("dane25.secure.test", "pass", "dane", comment=owner_comment("_25._tcp.dane25.secure.test"))

    @row(
        DANE,
        "DANE-EE 3 1 1 at _client.H",
        "same certificate; _client.daneclient.secure.test TLSA 3 1 1 SHA-256(SPKI), " "nothing at _25._tcp",
        'pass, reason="dane", comment names _client.daneclient.secure.test',
    )
    def test_pass_tlsa_client_name(self):
        self.dane(
            "daneclient.secure.test", "pass", "dane", comment=owner_comment("_client.daneclient.secure.test")
        )

    @row(
        DANE,
        "DANE-EE 3 0 1 (digest of the whole certificate)",
        "_25._tcp.danecert.secure.test TLSA 3 0 1 SHA-256(DER certificate)",
        'pass, reason="dane"',
    )
    def test_pass_tlsa_full_certificate(self):
        self.dane(
            "danecert.secure.test", "pass", "dane", comment=owner_comment("_25._tcp.danecert.secure.test")
        )

    @row(
        DANE,
        "DANE-EE 3 0 0 (the whole certificate in full)",
        "_25._tcp.danefullcert.secure.test TLSA 3 0 0 DER certificate",
        'pass, reason="dane" (SHA-256 of the data equals the certificate fingerprint)',
    )
    def test_pass_tlsa_full_data_certificate(self):
        self.dane(
            "danefullcert.secure.test",
            "pass",
            "dane",
            comment=owner_comment("_25._tcp.danefullcert.secure.test"),
        )

    @row(
        DANE,
        "DANE-EE 3 1 0 (the public key in full)",
        "_25._tcp.danefullkey.secure.test TLSA 3 1 0 DER SubjectPublicKeyInfo",
        'pass, reason="dane" (SHA-256 of the data equals the public-key fingerprint)',
    )
    def test_pass_tlsa_full_data_public_key(self):
        self.dane(
            "danefullkey.secure.test",
            "pass",
            "dane",
            comment=owner_comment("_25._tcp.danefullkey.secure.test"),
        )

    @row(
        DANE,
        "DANE-EE with a self-signed certificate",
        "self-signed, serverAuth only, no CN; _25._tcp.daneself.secure.test TLSA 3 1 1",
        'pass, reason="dane" (DANE-EE needs no CA)',
    )
    def test_pass_self_signed(self):
        self.dane(
            "daneself.secure.test",
            "pass",
            "dane",
            cert="dane-self-signed",
            comment=owner_comment("_25._tcp.daneself.secure.test"),
        )

    @row(
        DANE,
        "TLSA at the second Client MX host",
        "Client MX 10 out9.secure.test (no TLSA: secure NXDOMAIN), 20 dane25.secure.test (3 1 1)",
        'pass, reason="dane", comment names _25._tcp.dane25.secure.test',
    )
    def test_pass_second_host(self):
        self.dane(
            "danemulti.secure.test", "pass", "dane", comment=owner_comment("_25._tcp.dane25.secure.test")
        )

    @row(
        DANE,
        "JSON log line of a DANE pass",
        "dane25.secure.test with the serverAuth-only certificate",
        'via "dane", tlsa "_25._tcp.dane25.secure.test", key_sha256 and cert_sha256 = the '
        'digests of the presented certificate, policy_channel "matched"',
    )
    def test_json_log_of_dane_pass(self):
        sent, _, _ = self.dane("dane25.secure.test", "pass", "dane")
        record = self.rig.wait_log_record(sent.queue_id)
        self.assertEqual(record.get("result"), "pass", record)
        self.assertEqual(record.get("reason"), "dane", record)
        self.assertEqual(record.get("via"), "dane", record)
        self.assertEqual(str(record.get("tlsa", "")).rstrip("."), "_25._tcp.dane25.secure.test", record)
        self.assertEqual(record.get("key_sha256"), self.digest(KEY, 1), record)
        try:  # the rig's digest (openssl CLI), cross-checked independently
            from cryptography import x509
            from cryptography.hazmat.primitives import serialization
        except ImportError:
            pass
        else:
            cert = x509.load_pem_x509_certificate(self.rig.cert(KEY).cert.read_bytes())
            spki = cert.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            self.assertEqual(hashlib.sha256(spki).hexdigest(), self.digest(KEY, 1))
            self.assertIsNone(
                cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME) or None,
                "the DANE certificate must have no CN",
            )
        self.assertEqual(record.get("cert_sha256"), self.digest(KEY, 0), record)
        self.assertEqual(record.get("policy_channel"), "matched", record)
        self.assertEqual(record.get("dnssec"), "secure", record)
        self.assertEqual(record.get("cert_names"), [], record)

    @row(
        DANE,
        "Two messages on one connection",
        "one TLS session with the serverAuth-only certificate, two transactions from " "dane25.secure.test",
        'both pass, reason="dane" (the fingerprints belong to the connection)',
    )
    def test_two_messages_one_connection(self):
        results = self.rig.send_session(
            [{"mail_from": "a@dane25.secure.test"}, {"mail_from": "b@dane25.secure.test"}], cert=KEY
        )
        for sent in results:
            self.assertEqual(sent.code, 250, sent.output)
            msg = self.rig.wait_delivered(sent.subject)
            self.assert_verdict(msg, "pass", "dane25.secure.test", reason="dane")

    # -- the certificate path still decides first ----------------------------
    @row(
        DANE,
        "Verified certificate whose host also publishes TLSA",
        "clientAuth certificate CN=danedual.secure.test (Postfix: verified); "
        "_25._tcp.danedual.secure.test TLSA 3 1 1 for the same key",
        'pass by name, no reason="dane", comment "certificate name ..."; log via "certificate"',
    )
    def test_verified_certificate_passes_by_name(self):
        sent, _, _ = self.dane(
            "danedual.secure.test",
            "pass",
            "",
            cert="dane-dual",
            tls_verdict="verified",
            comment="certificate name danedual.secure.test",
        )
        record = self.rig.wait_log_record(sent.queue_id)
        self.assertEqual(record.get("via"), "certificate", record)
        self.assertEqual(record.get("tlsa"), "", record)

    @row(
        DANE,
        "Verified certificate for the ordinary host, policy channel on",
        "out1.secure.test certificate, MAIL FROM alice@secure.test",
        "pass as before, no reason",
    )
    def test_ordinary_pass_unchanged(self):
        self.dane(
            "secure.test",
            "pass",
            "",
            cert="out1.secure.test",
            tls_verdict="verified",
            comment="certificate name out1.secure.test",
        )

    @row(
        DANE,
        "No client certificate, policy channel on",
        "STARTTLS without a certificate, MAIL FROM sender@dane25.secure.test",
        'fail, reason="no verified client certificate"; log policy_channel "none"',
    )
    def test_no_certificate_unchanged(self):
        sent, _, _ = self.dane(
            "dane25.secure.test",
            "fail",
            "no verified client certificate",
            cert=None,
            tls=True,
            tls_verdict="no certificate",
        )
        record = self.rig.wait_log_record(sent.queue_id)
        self.assertEqual(record.get("policy_channel"), "none", record)
        self.assertEqual(record.get("key_sha256"), "", record)

    @row(
        DANE,
        "No TLS at all, policy channel on",
        "plain SMTP, MAIL FROM sender@dane25.secure.test",
        'fail, reason="TLS not used"',
    )
    def test_no_tls_unchanged(self):
        self.dane("dane25.secure.test", "fail", "TLS not used", cert=None, tls=False, tls_verdict="no tls")

    # -- fails and temperrors -----------------------------------------------------
    @row(
        DANE,
        "Secure TLSA for another key",
        "_25._tcp.danewrong.secure.test TLSA 3 1 1 of another certificate's key",
        'fail, reason="no TLSA record matches the client key"',
    )
    def test_fail_tlsa_other_key(self):
        self.dane("danewrong.secure.test", "fail", "no TLSA record matches the client key")

    @row(
        DANE,
        "DANE-TA record (usage 2) naming the key",
        "_25._tcp.daneta.secure.test TLSA 2 1 1 SHA-256(SPKI of the presented key)",
        'fail, reason="no TLSA record matches the client key" (a DANE-TA record must name a chain certificate other than the leaf, and needs certificate discovery)',
    )
    def test_fail_dane_ta_ignored(self):
        self.dane("daneta.secure.test", "fail", "no TLSA record matches the client key")

    @row(
        DANE,
        "TLSA in an unsigned zone",
        "secure Client MX -> dane.insecure.test; _25._tcp.dane.insecure.test TLSA 3 1 1 "
        "matching the key, insecure",
        'fail, reason="no verified client certificate" (insecure TLSA never authenticates)',
    )
    def test_fail_insecure_tlsa(self):
        self.dane("daneinsecure.secure.test", "fail", "no verified client certificate")

    @row(
        DANE,
        "Bogus TLSA (expired signatures)",
        "secure Client MX -> dane.bogus.test; TLSA 3 1 1 matching the key, RRSIGs expired",
        'temperror, reason="TLSA DNSSEC validation failed", never pass',
    )
    def test_temperror_bogus_tlsa(self):
        self.dane("danebogus.secure.test", "temperror", "TLSA DNSSEC validation failed")

    @row(
        DANE,
        "TLSA changed after signing",
        "secure Client MX -> dane.tampered.test; TLSA signed for another key, served with "
        "the presented key's digest",
        'temperror, reason="TLSA DNSSEC validation failed", never pass',
    )
    def test_temperror_tampered_tlsa(self):
        self.dane("danetampered.secure.test", "temperror", "TLSA DNSSEC validation failed")

    @row(
        DANE,
        "TLSA server answers SERVFAIL",
        "secure Client MX -> dane.servfail.test (server answers SERVFAIL)",
        'temperror, reason="TLSA lookup failed"',
    )
    def test_temperror_tlsa_servfail(self):
        self.dane("daneservfail.secure.test", "temperror", "TLSA lookup failed")

    @row(
        DANE,
        "TLSA server never answers",
        "secure Client MX -> dane.silent.test (server silent); dns-timeout 5 s",
        'temperror, reason="TLSA lookup failed", within 15 s',
    )
    def test_temperror_tlsa_timeout(self):
        self.timed_check(
            15,
            "temperror",
            "danesilent.secure.test",
            reason="TLSA lookup failed",
            tls_verdict="not verified",
            cert=KEY,
            mail_from="sender@danesilent.secure.test",
        )

    # -- the policy channel from the outside ----------------------------------------
    @row(
        DANE,
        "Concurrent connection from the same address",
        "connection A presents the certificate and reaches RCPT; meanwhile connection B from "
        "127.0.0.1 (another port), STARTTLS without certificate, sends for dane25; then A "
        "sends; then connection C, after A closed, without certificate",
        'B fail "no verified client certificate" (policy_channel "none"), A pass "dane", '
        "C fail: fingerprints never cross connections",
    )
    def test_fingerprints_do_not_cross_connections(self):
        cert = self.rig.cert(KEY)
        a = self.rig.smtp_client()
        self.addCleanup(a.close)
        self.assertEqual(a.command("EHLO out1.secure.test")[0], 250, a.transcript)
        a.starttls(cert)
        self.assertEqual(a.command("EHLO out1.secure.test")[0], 250, a.transcript)
        self.assertEqual(a.command("MAIL FROM:<a@dane25.secure.test>")[0], 250, a.transcript)
        # RCPT: Postfix asks the policy server, which records A's fingerprints.
        self.assertEqual(a.command(f"RCPT TO:<{rigmod.RECIPIENT}>")[0], 250, a.transcript)

        def without_certificate(name):
            with self.rig.smtp_client() as b:
                self.assertEqual(b.command("EHLO out1.secure.test")[0], 250, b.transcript)
                b.starttls(None)
                self.assertEqual(b.command("EHLO out1.secure.test")[0], 250, b.transcript)
                sent = b.transaction(f"{name}@dane25.secure.test")
            self.assertEqual(sent.code, 250, sent.output)
            msg = self.rig.wait_delivered(sent.subject)
            self.assert_verdict(msg, "fail", "dane25.secure.test", reason="no verified client certificate")
            record = self.rig.wait_log_record(sent.queue_id)
            self.assertEqual(record.get("policy_channel"), "none", record)
            self.assertEqual(record.get("key_sha256"), "", record)

        without_certificate("b")

        subject = rigmod.new_subject()
        code, _ = a.data(rigmod.message_text(subject, "a@dane25.secure.test", rigmod.RECIPIENT).encode())
        self.assertEqual(code, 250, a.transcript)
        self.assert_verdict(self.rig.wait_delivered(subject), "pass", "dane25.secure.test", reason="dane")
        a.close()

        without_certificate("c")

    @row(
        DANE,
        "Parallel connections with different keys",
        "two connections at once from 127.0.0.1: one with the matching key, one with "
        "another key, both for dane25.secure.test",
        'pass "dane" and fail "no TLSA record matches the client key" respectively',
    )
    def test_parallel_keys(self):
        outcomes = {}

        def send(cert):
            try:
                outcomes[cert] = self.rig.send(cert=cert, mail_from="sender@dane25.secure.test")
            except BaseException as exc:  # reported below, in the test thread
                outcomes[cert] = exc

        threads = [threading.Thread(target=send, args=(c,)) for c in (KEY, OTHER_KEY)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=90)
        expected = {KEY: ("pass", "dane"), OTHER_KEY: ("fail", "no TLSA record matches the client key")}
        for cert, (result, reason) in expected.items():
            sent = outcomes.get(cert)
            if isinstance(sent, BaseException) or sent is None:
                self.fail(f"{cert}: {sent!r}")
            self.assert_verdict(
                self.rig.wait_delivered(sent.subject), result, "dane25.secure.test", reason=reason
            )


class DaneDisabledTests(DaneCase):
    milter_options = {"dane": False}

    @row(
        DANE,
        "dane = no",
        "serverAuth-only certificate, matching secure TLSA 3 1 1, policy channel on",
        'fail, reason="no verified client certificate"',
    )
    def test_dane_off(self):
        self.dane("dane25.secure.test", "fail", "no verified client certificate")


class DaneTextLogTests(DaneCase):
    milter_options = {"log_format": "text"}
    expect_fingerprints = False  # no JSON to read; the test reads the text line

    @row(
        DANE,
        "Text log line of a DANE pass",
        "log-format text; dane25.secure.test with the serverAuth-only certificate",
        "via=dane tlsa=_25._tcp.dane25.secure.test key_sha256=<SPKI digest> policy_channel=matched "
        "reason=dane",
    )
    def test_text_log_of_dane_pass(self):
        sent, _, _ = self.dane("dane25.secure.test", "pass", "dane")
        line = rigmod.wait_until(
            lambda: next(
                (
                    l
                    for l in self.rig.milter_log_text().splitlines()
                    if f"queue_id={sent.queue_id} " in l and " result=" in l
                ),
                None,
            ),
            10,
            f"text log line for {sent.queue_id}",
        )
        fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
        self.assertEqual(fields.get("result"), "pass", line)
        self.assertEqual(fields.get("via"), "dane", line)
        self.assertEqual(fields.get("tlsa", "").rstrip("."), "_25._tcp.dane25.secure.test", line)
        self.assertEqual(fields.get("key_sha256"), self.digest(KEY, 1), line)
        self.assertEqual(fields.get("policy_channel"), "matched", line)
        self.assertEqual(fields.get("reason"), "dane", line)


class DaneWithoutPolicyChannelTests(DaneCase):
    """The rig without check_policy_service: Postfix tells a milter nothing
    about a certificate it did not verify."""

    rig_options: dict = {}
    expect_fingerprints = False

    @row(
        DANE,
        "No policy channel (Postfix without check_policy_service)",
        "serverAuth-only certificate, matching secure TLSA 3 1 1 at _25._tcp.dane25.secure.test",
        'fail, reason="no verified client certificate" (the milter never learns the key)',
    )
    def test_fail_without_policy_channel(self):
        sent, _, _ = self.dane("dane25.secure.test", "fail", "no verified client certificate")
        record = self.rig.wait_log_record(sent.queue_id)
        self.assertEqual(record.get("key_sha256"), "", record)
        self.assertNotEqual(record.get("via"), "dane", record)


# --------------------------------------------------------------------------
# Sendmail: {cert_fp}
# --------------------------------------------------------------------------


def colon_hex(data):
    return ":".join(f"{b:02X}" for b in data)


def sendmail_macros(cert_fp, verify="FAIL", queue_id="QDANE01", subject="/O=mtls-milter tests DANE"):
    """Sendmail 8.17 for a client whose certificate did not verify (no CN):
    {verify}=FAIL, {cert_subject} the DN, {cert_fp} as CertFingerprintAlgorithm
    says (None: undefined)."""
    tls = {
        "{tls_version}": "TLSv1.3",
        "{cipher}": "TLS_AES_256_GCM_SHA384",
        "{cipher_bits}": "256",
        "{verify}": verify,
        "{cert_subject}": subject,
        "{cert_issuer}": "/O=mtls-milter+20tests/CN=mtls-milter+20Test+20CA",
    }
    if cert_fp is not None:
        tls["{cert_fp}"] = cert_fp
    return {
        "C": {"j": "mx.inbox.test", "{daemon_name}": "MTA", "{if_addr}": "127.0.0.1"},
        "H": dict(tls),
        "M": {"i": queue_id, "{mail_mailer}": "esmtp", **tls},
        "E": {"i": queue_id},
    }


class DaneSendmailTests(DaneCase):
    """The same milter, driven by milter_client.py as Sendmail: the
    certificate fingerprint arrives as {cert_fp}, no policy channel."""

    def send(self, domain, cert_fp, queue_id):
        with mc.MilterClient(self.rig.milter_address, timeout=15) as milter:
            milter.negotiate()
            result = milter.send_message(
                f"<alice@{domain}>",
                headers=[
                    ("From", f" <alice@{domain}>"),
                    ("To", " <user@inbox.test>"),
                    ("Subject", " dane over the milter protocol"),
                ],
                body=b"Body.\r\n",
                connect=("client.example", "127.0.0.1"),
                helo="out1.secure.test",
                macros=sendmail_macros(cert_fp, queue_id=queue_id),
            )
        info = result.describe()
        self.assertEqual(result.final, mc.Reply(mc.SMFIR_CONTINUE), info)
        inserts = [
            m
            for m in result.modifications
            if isinstance(m, mc.InsertHeader) and m.name == "Authentication-Results"
        ]
        self.assertEqual(len(inserts), 1, info)
        value = inserts[0].value.replace("\n", "")
        parsed = rigmod.parse_auth_results(value)
        self.assertEqual(parsed.authserv_id.lower(), AUTHSERV_ID, info)
        self.assertEqual([r.method for r in parsed.results], ["mtls"], info)
        return parsed.results[0], value

    def cert_sha256(self):
        return hashlib.sha256(self.rig.ca.cert_der(KEY)).digest()

    @row(
        DANE,
        "Sendmail {cert_fp} (SHA-256) and TLSA 3 0 1",
        "{verify}=FAIL, no {cn_subject}, {cert_fp}=SHA-256 of the certificate (colon hex); "
        "_25._tcp.danecert.secure.test TLSA 3 0 1",
        'pass, reason="dane"; log cert_sha256 = the digest, key_sha256 empty',
    )
    def test_sendmail_cert_fp_passes(self):
        for form, fp in (
            ("colon upper", colon_hex(self.cert_sha256())),
            ("plain lower", self.cert_sha256().hex()),
        ):
            with self.subTest(form=form):
                qid = "QDANE" + ("1" if form == "colon upper" else "2")
                result, value = self.send("danecert.secure.test", fp, qid)
                self.assertEqual((result.result, result.reason), ("pass", "dane"), value)
                self.assertEqual(result_props(result).get("smtp.mailfrom"), "danecert.secure.test", value)
                self.assertIn(owner_comment("_25._tcp.danecert.secure.test"), re.sub(r"\s+", " ", value))
                record = self.rig.wait_log_record(qid)
                self.assertEqual(record.get("via"), "dane", record)
                self.assertEqual(record.get("cert_sha256"), self.cert_sha256().hex(), record)
                self.assertEqual(record.get("key_sha256"), "", record)

    @row(
        DANE,
        "Sendmail {cert_fp} against a 3 1 1 record",
        "{cert_fp}=SHA-256 of the certificate; only _25._tcp.dane25.secure.test TLSA 3 1 1",
        'fail, reason="no TLSA record matches the client key" (a certificate digest cannot '
        "match an SPKI digest)",
    )
    def test_sendmail_cert_fp_cannot_match_spki(self):
        result, value = self.send("dane25.secure.test", colon_hex(self.cert_sha256()), "QDANE3")
        self.assertEqual(
            (result.result, result.reason), ("fail", "no TLSA record matches the client key"), value
        )

    @row(
        DANE,
        "Sendmail {cert_fp} with MD5 (the default algorithm)",
        "{cert_fp}=16-byte MD5 of the certificate; TLSA 3 0 1 at danecert.secure.test",
        'fail, reason="client certificate not verified" (no DANE)',
    )
    def test_sendmail_md5_fingerprint_ignored(self):
        md5 = hashlib.md5(self.rig.ca.cert_der(KEY)).digest()
        result, value = self.send("danecert.secure.test", colon_hex(md5), "QDANE4")
        self.assertEqual((result.result, result.reason), ("fail", "client certificate not verified"), value)
        record = self.rig.wait_log_record("QDANE4")
        self.assertEqual(record.get("cert_sha256"), "", record)
        self.assertNotEqual(record.get("via"), "dane", record)


if __name__ == "__main__":
    unittest.main()
