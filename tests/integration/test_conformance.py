#!/usr/bin/python3
"""The conformance matrix, end to end: every case of
draft-chuang-mutual-tls-email-authentication and every trick an attacker
tries, through the real chain (SMTP client -> Postfix -> mtls-milter ->
libunbound -> NSD with zones signed at test time, or a misbehaving DNS
server), each test one row of docs/CONFORMANCE.md (see conformance.py).

Tests that state what Postfix itself concluded (its Received: header) do
so to pin the premise: a test of "expired certificate" must not pass
because Postfix happened to see something else.

Run through run_tests.py, or directly:
    MTLS_BUILD_DIR=build /usr/bin/python3 -m unittest -v test_conformance
"""

import unittest

import rig as rigmod
from rig.conformance import CERTS, DNS, HEADERS, POLICY, SMTP, row
from rig.testcase import RigTestCase, describe, postfix_tls_verdict
from rig import AUTHSERV_ID, authserv_id_of, result_props


FORGED = f"Authentication-Results: {AUTHSERV_ID}; mtls=pass smtp.mailfrom=evil.test"


# --------------------------------------------------------------------------
# Certificates and names
# --------------------------------------------------------------------------


class CertificateTests(RigTestCase):
    """What Postfix lets a milter see of a client certificate: the subject
    CN of a verified chain ({cert_subject}), nothing of the SAN, nothing at
    all of an unverified one."""

    @row(
        CERTS,
        "Several SANs, CN is not the matching one",
        "cert CN rogue.secure.test, SAN rogue.secure.test + out1.secure.test; " "Client MX out1.secure.test",
        "fail: Postfix gives the milter the CN only, never the SAN",
    )
    def test_san_matches_but_cn_does_not(self):
        self.check(
            "fail",
            "secure.test",
            tls_verdict="verified",
            client_cn="rogue.secure.test",
            reason="certificate name matches no Client MX host",
            mail_from="alice@secure.test",
            cert="san-match-cn-other",
        )

    @row(
        CERTS,
        "CN matches, SANs are other names",
        "cert CN out1.secure.test, SAN a.example.test + b.example.test",
        "pass (the CN is what the milter sees)",
    )
    def test_cn_matches_sans_do_not(self):
        self.check(
            "pass",
            "secure.test",
            tls_verdict="verified",
            client_cn="out1.secure.test",
            comment="certificate name out1.secure.test",
            mail_from="alice@secure.test",
            cert="cn-match-san-other",
        )

    @row(
        CERTS,
        "SAN-only certificate: what the milter is told",
        "subject O=... without CN, SAN DNS:out1.secure.test",
        'Postfix: Client CN "" (verified OK); JSON log tls=verified, cert_names=[]; '
        'fail, reason="client certificate has no usable host name"',
    )
    def test_san_only_certificate_is_verified_but_nameless(self):
        sent, msg, _ = self.check(
            "fail",
            "secure.test",
            tls_verdict="verified",
            client_cn="",
            reason="client certificate has no usable host name",
            mail_from="alice@secure.test",
            cert="san-only",
        )
        record = self.rig.wait_log_record(sent.queue_id)
        self.assertEqual((record["tls"], record["cert_names"]), ("verified", []), record)

    @row(
        CERTS,
        "Two CN attributes in the subject",
        "subject CN=rogue.secure.test, CN=out1.secure.test",
        "fail: Postfix passes the first CN only",
    )
    def test_two_cns_first_one_counts(self):
        self.check(
            "fail",
            "secure.test",
            tls_verdict="verified",
            client_cn="rogue.secure.test",
            mail_from="alice@secure.test",
            cert="two-cns",
        )

    @row(CERTS, "Certificate name with a trailing dot", 'cert CN "out1.secure.test." (absolute form)', "pass")
    def test_cn_with_trailing_dot(self):
        self.check(
            "pass",
            "secure.test",
            tls_verdict="verified",
            client_cn="out1.secure.test.",
            comment="certificate name out1.secure.test",
            mail_from="alice@secure.test",
            cert="cn-trailing-dot",
        )

    @row(
        CERTS,
        "IDN Client MX target, A-label certificate",
        "Client MX xn--bcher-kva.secure.test.; cert CN xn--bcher-kva.secure.test",
        "pass, smtp.mailfrom=xn--bcher-kva.secure.test",
    )
    def test_idn_a_label(self):
        self.check(
            "pass",
            "xn--bcher-kva.secure.test",
            tls_verdict="verified",
            comment="certificate name xn--bcher-kva.secure.test",
            mail_from="alice@xn--bcher-kva.secure.test",
            cert="idn-a-label",
        )

    @row(
        CERTS,
        "IDN certificate written as U-label",
        "cert CN bücher.secure.test (UTF8String); Client MX xn--bcher-kva.secure.test.",
        "pass: Postfix passes the UTF-8 CN, the milter converts it to the A-label",
    )
    def test_idn_u_label_certificate(self):
        # Postfix prints the CN as "b??cher..." in Received:, but the macro
        # carries UTF-8.
        self.check(
            "pass",
            "xn--bcher-kva.secure.test",
            tls_verdict="verified",
            client_cn="b??cher.secure.test",
            comment="certificate name xn--bcher-kva.secure.test",
            mail_from="alice@xn--bcher-kva.secure.test",
            cert="idn-u-label",
        )

    @row(
        CERTS,
        "Expired certificate",
        "right CN, trusted CA, notAfter 10 days ago",
        "Postfix: not verified; fail",
    )
    def test_expired_certificate(self):
        self.check(
            "fail",
            "secure.test",
            tls_verdict="not verified",
            reason="no verified client certificate",
            mail_from="alice@secure.test",
            cert="expired",
        )

    @row(
        CERTS,
        "Certificate not yet valid",
        "right CN, trusted CA, notBefore in 10 days",
        "Postfix: not verified; fail",
    )
    def test_not_yet_valid_certificate(self):
        self.check(
            "fail",
            "secure.test",
            tls_verdict="not verified",
            reason="no verified client certificate",
            mail_from="alice@secure.test",
            cert="not-yet-valid",
        )

    @row(CERTS, "Self-signed certificate", "self-signed, CN out1.secure.test", "Postfix: not verified; fail")
    def test_self_signed_certificate(self):
        self.check(
            "fail",
            "secure.test",
            tls_verdict="not verified",
            reason="no verified client certificate",
            mail_from="alice@secure.test",
            cert="self-signed",
        )

    @row(
        CERTS,
        "serverAuth-only EKU: the milter's report",
        "right CN, EKU serverAuth only (Postfix 3.7 verifies with purpose sslclient)",
        'Postfix: (not verified); JSON log tls="absent-or-unverified"; '
        'fail, reason="no verified client certificate"',
    )
    def test_server_auth_only_reported(self):
        sent, msg, _ = self.check(
            "fail",
            "secure.test",
            tls_verdict="not verified",
            client_cn="out1.secure.test",
            reason="no verified client certificate",
            mail_from="alice@secure.test",
            cert="server-auth-only",
        )
        record = self.rig.wait_log_record(sent.queue_id)
        self.assertEqual(record["tls"], "absent-or-unverified", record)

    @row(
        CERTS,
        "Client MX target with a trailing dot vs. certificate without",
        "Client MX out1.secure.test. (every RDATA name is absolute); cert CN out1.secure.test",
        "pass",
    )
    def test_client_mx_target_absolute(self):
        # multi.secure.test is published as "... out1.secure.test." and the
        # comment shows the name the milter matched, without the dot.
        self.check(
            "pass",
            "multi.secure.test",
            comment="certificate name out1.secure.test",
            mail_from="alice@multi.secure.test",
            cert="out1.secure.test",
        )

    @row(CERTS, "Partial-label wildcard certificate", "cert CN out*.secure.test", "fail (not a usable name)")
    def test_partial_wildcard_certificate(self):
        self.check(
            "fail",
            "secure.test",
            tls_verdict="verified",
            reason="client certificate has no usable host name",
            mail_from="alice@secure.test",
            cert="partial-wildcard",
        )


class WildcardCertificateTests(RigTestCase):
    """--allow-wildcards yes: "*" stands for exactly one whole left-most
    label (RFC 9525 section 6.3), never for the parent, two labels, or a
    whole TLD."""

    milter_options = {"allow_wildcards": "yes"}

    @row(
        CERTS,
        "Wildcard certificate vs. a two-label-deep target",
        "allow-wildcards=yes; cert *.secure.test; Client MX a.out1.secure.test",
        "fail",
    )
    def test_wildcard_covers_one_label_only(self):
        self.check(
            "fail", "deep.secure.test", mail_from="alice@deep.secure.test", cert="wildcard.secure.test"
        )

    @row(
        CERTS,
        "Wildcard certificate vs. its own parent",
        "allow-wildcards=yes; cert *.secure.test; Client MX secure.test",
        "fail",
    )
    def test_wildcard_does_not_cover_parent(self):
        self.check(
            "fail", "apex.secure.test", mail_from="alice@apex.secure.test", cert="wildcard.secure.test"
        )

    @row(
        CERTS, "Wildcard directly under a TLD", "allow-wildcards=yes; cert *.test; Client MX ns.test", "fail"
    )
    def test_tld_wildcard_never_matches(self):
        self.check(
            "fail",
            "tld.secure.test",
            tls_verdict="verified",
            mail_from="alice@tld.secure.test",
            cert="tld-wildcard",
        )

    @row(
        CERTS,
        "Partial-label wildcard, allow-wildcards=yes",
        "allow-wildcards=yes; cert CN out*.secure.test",
        "fail (not a usable name)",
    )
    def test_partial_wildcard_still_unusable(self):
        self.check(
            "fail",
            "secure.test",
            reason="client certificate has no usable host name",
            mail_from="alice@secure.test",
            cert="partial-wildcard",
        )


# --------------------------------------------------------------------------
# DNS and DNSSEC
# --------------------------------------------------------------------------


class DnsTests(RigTestCase):
    @row(
        DNS,
        "Three preferences, match on the least preferred",
        "prefs.secure.test: 10 out8, 20 out9, 30 out1.secure.test",
        "pass (any one host passes)",
    )
    def test_match_on_least_preferred(self):
        _, msg, _ = self.check(
            "pass",
            "prefs.secure.test",
            comment="certificate name out1.secure.test",
            mail_from="alice@prefs.secure.test",
            cert="out1.secure.test",
        )

    @row(DNS, "Three preferences, no match", "prefs.secure.test; cert rogue.secure.test", "fail")
    def test_no_match_among_several(self):
        self.check("fail", "prefs.secure.test", mail_from="alice@prefs.secure.test", cert="rogue.secure.test")

    @row(
        DNS,
        "Null Client MX (root target only)",
        'nullmx.secure.test: 0 "." ; valid matching-looking cert, and no TLS',
        'fail for every sender, reason="null Client MX: domain sends no mail"',
    )
    def test_null_client_mx(self):
        for kwargs in (dict(cert="out1.secure.test"), dict(tls=False)):
            with self.subTest(**kwargs):
                self.check(
                    "fail",
                    "nullmx.secure.test",
                    reason="null Client MX: domain sends no mail",
                    mail_from="alice@nullmx.secure.test",
                    **kwargs,
                )

    @row(
        DNS,
        "Wildcard Client MX owner",
        "*.wild.secure.test Client MX out1.secure.test; MAIL FROM a@x.wild.secure.test",
        "pass (synthesised answer, DNSSEC secure)",
    )
    def test_wildcard_owner(self):
        self.check(
            "pass",
            "x.wild.secure.test",
            comment="DNSSEC secure",
            mail_from="alice@x.wild.secure.test",
            cert="out1.secure.test",
        )

    @row(
        DNS,
        "CNAME at the Client MX owner, secure chain",
        "alias.secure.test CNAME out1.secure.test (signed)",
        'pass, smtp.mailfrom=alias.secure.test, comment "DNSSEC secure"',
    )
    def test_cname_secure_chain(self):
        self.check(
            "pass",
            "alias.secure.test",
            comment="DNSSEC secure",
            mail_from="alice@alias.secure.test",
            cert="out1.secure.test",
        )

    @row(
        DNS,
        "CNAME from a signed zone into an unsigned one",
        "alias-insecure.secure.test CNAME out1.insecure.test; require-dnssec=no",
        'pass, comment "DNSSEC insecure"; log dnssec=insecure',
    )
    def test_cname_to_insecure(self):
        sent, _, _ = self.check(
            "pass",
            "alias-insecure.secure.test",
            comment="DNSSEC insecure",
            mail_from="alice@alias-insecure.secure.test",
            cert="out1.insecure.test",
        )
        self.assertEqual(self.rig.wait_log_record(sent.queue_id)["dnssec"], "insecure")

    @row(
        DNS,
        "CNAME from an unsigned zone into a signed one",
        "alias.insecure.test CNAME out1.secure.test",
        'pass, comment "DNSSEC insecure"',
    )
    def test_cname_from_insecure(self):
        self.check(
            "pass",
            "alias.insecure.test",
            comment="DNSSEC insecure",
            mail_from="alice@alias.insecure.test",
            cert="out1.secure.test",
        )

    @row(
        DNS, "CNAME into a bogus zone", "alias-bogus.secure.test CNAME bogus.test", "temperror (DNSSEC bogus)"
    )
    def test_cname_to_bogus(self):
        self.check(
            "temperror",
            "alias-bogus.secure.test",
            reason="DNSSEC validation failed",
            comment="DNSSEC bogus",
            mail_from="alice@alias-bogus.secure.test",
            cert="out1.bogus.test",
        )

    @row(
        DNS,
        "Dangling CNAME",
        "alias-dangling.secure.test CNAME nosuch.secure.test",
        "none (NXDOMAIN at the end of the chain)",
    )
    def test_cname_dangling(self):
        self.check(
            "none",
            "alias-dangling.secure.test",
            mail_from="alice@alias-dangling.secure.test",
            cert="out1.secure.test",
        )

    @row(
        DNS,
        "Insecure zone: state visible in header and log",
        "insecure.test, matching certificate, require-dnssec=no",
        'pass; header comment "DNSSEC insecure"; JSON log dnssec=insecure',
    )
    def test_insecure_zone_visible(self):
        sent, _, _ = self.check(
            "pass",
            "insecure.test",
            comment="DNSSEC insecure",
            mail_from="alice@insecure.test",
            cert="out1.insecure.test",
        )
        self.assertEqual(self.rig.wait_log_record(sent.queue_id)["dnssec"], "insecure")

    def bogus(self, domain, why):
        sent, _, _ = self.check(
            "temperror",
            domain,
            reason="DNSSEC validation failed",
            comment="DNSSEC bogus",
            mail_from=f"alice@{domain}",
            cert="out1.secure.test",
        )
        record = self.rig.wait_log_record(sent.queue_id)
        self.assertEqual(record["dnssec"], "bogus", record)
        # libunbound's why_bogus pins which kind of breakage this was.
        self.assertIn(why, record["dns_detail"], record)

    @row(
        DNS,
        "Bogus zone: record changed after signing",
        "tampered.test: signed RRset named nobody.tampered.test, served one names "
        "out1.secure.test; that host's valid cert presented",
        "temperror (signature verification failed), never pass",
    )
    def test_bogus_tampered_record(self):
        self.bogus("tampered.test", "signature verification failed")

    @row(
        DNS,
        "Bogus zone: RRSIG stripped",
        "stripped.test: signed zone, Client MX served without RRSIG; matching cert",
        "temperror (no signatures), never pass",
    )
    def test_bogus_missing_signature(self):
        self.bogus("stripped.test", "no signatures")

    @row(
        DNS,
        "Bogus zone: wrong DS in the parent",
        "wrongds.test signed with a key the DS in test. does not match; matching cert",
        "temperror (no DNSKEY matches the DS), never pass",
    )
    def test_bogus_wrong_ds(self):
        self.bogus("wrongds.test", "DS")

    @row(
        DNS,
        "Bogus zone: expired RRSIG, what the log says",
        "bogus.test (signatures ended 10 days ago)",
        "temperror; JSON log dnssec=bogus, dns_detail names the expired signature",
    )
    def test_bogus_expired_detail(self):
        sent, _, _ = self.check(
            "temperror",
            "bogus.test",
            comment="DNSSEC bogus",
            mail_from="alice@bogus.test",
            cert="out1.bogus.test",
        )
        self.assertIn("signature expired", self.rig.wait_log_record(sent.queue_id)["dns_detail"])

    def malformed(self, owner):
        self.check(
            "permerror",
            f"{owner}.secure.test",
            reason="malformed Client MX record",
            comment="DNSSEC secure",
            mail_from=f"alice@{owner}.secure.test",
            cert="out1.secure.test",
        )

    @row(
        DNS,
        "Malformed RDATA: truncated name",
        r"TYPE265 \# 6 000a05616263 (label length 5, 3 bytes follow)",
        "permerror",
    )
    def test_malformed_truncated(self):
        self.malformed("trunc")

    @row(DNS, "Malformed RDATA: compression pointer", r"TYPE265 \# 8 000a036f7574c00c", "permerror")
    def test_malformed_compression_pointer(self):
        self.malformed("compress")

    @row(DNS, "Malformed RDATA: trailing bytes", "valid name out1.secure.test followed by 00 01", "permerror")
    def test_malformed_trailing_bytes(self):
        self.malformed("trailing")

    @row(DNS, "Malformed RDATA: preference only", r"TYPE265 \# 2 000a", "permerror")
    def test_malformed_no_name(self):
        self.malformed("short")

    @row(
        DNS,
        "Malformed RDATA: dot inside a label",
        'one label "out1.secure" then "test"',
        "permerror (not read as out1.secure.test)",
    )
    def test_malformed_dot_in_label(self):
        self.malformed("dotlabel")

    @row(
        DNS,
        "One good and one malformed record",
        "halfbad.secure.test: out1.secure.test and a truncated record; matching cert",
        "permerror (the RRset as a whole is broken)",
    )
    def test_malformed_next_to_good(self):
        self.malformed("halfbad")


class DnsFailureTests(RigTestCase):
    """Broken authoritative servers, reached through stub zones: the answer
    must be temperror, and within --dns-timeout, not the MTA's milter
    timeout. The limit allows for SMTP, TLS and delivery around it."""

    DNS_TIMEOUT = 2
    LIMIT = DNS_TIMEOUT + 3
    milter_options = {"dns_timeout": DNS_TIMEOUT}

    @row(
        DNS,
        "Authoritative server silent",
        "silent.test served by a socket that reads and never answers (UDP and TCP); " "--dns-timeout 2",
        'temperror, reason="DNS lookup timed out", SMTP transaction done in < 5 s',
    )
    def test_silent_server(self):
        responder = self.rig.dns.responders["silent"]
        asked = responder.queries
        elapsed, *_ = self.timed_check(
            self.LIMIT,
            "temperror",
            "silent.test",
            reason="DNS lookup timed out",
            mail_from="alice@silent.test",
            cert="out1.secure.test",
        )
        self.assertGreater(responder.queries, asked, "the silent server was never asked")
        self.assertGreater(elapsed, self.DNS_TIMEOUT - 0.5, "answered before the timeout?")

    @row(
        DNS,
        "Authoritative server answers SERVFAIL",
        "servfail.test served by a responder returning RCODE 2 to everything",
        'temperror, reason="DNS server failure", < 5 s',
    )
    def test_servfail_server(self):
        responder = self.rig.dns.responders["servfail"]
        asked = responder.queries
        self.timed_check(
            self.LIMIT,
            "temperror",
            "servfail.test",
            reason="DNS server failure",
            mail_from="alice@servfail.test",
            cert="out1.secure.test",
        )
        self.assertGreater(responder.queries, asked, "the SERVFAIL server was never asked")

    @row(
        DNS,
        "Authoritative server answers REFUSED",
        "refused.test served by a responder returning RCODE 5 to everything",
        'temperror, reason="DNS server failure", < 5 s',
    )
    def test_refused_server(self):
        self.timed_check(
            self.LIMIT,
            "temperror",
            "refused.test",
            reason="DNS server failure",
            mail_from="alice@refused.test",
            cert="out1.secure.test",
        )


class RequireDnssecConformanceTests(RigTestCase):
    milter_options = {"require_dnssec": "yes"}

    @row(
        DNS,
        "CNAME into an unsigned zone, require-dnssec=yes",
        "alias-insecure.secure.test CNAME out1.insecure.test",
        'none, comment "DNSSEC insecure"',
    )
    def test_cname_to_insecure_is_none(self):
        self.check(
            "none",
            "alias-insecure.secure.test",
            reason="Client MX records not DNSSEC-signed",
            comment="DNSSEC insecure",
            mail_from="alice@alias-insecure.secure.test",
            cert="out1.insecure.test",
        )

    @row(
        DNS,
        "Insecure zone, require-dnssec=yes: state in header and log",
        "insecure.test, matching certificate",
        'none; comment "DNSSEC insecure"; JSON log dnssec=insecure',
    )
    def test_insecure_none_visible(self):
        sent, _, _ = self.check(
            "none",
            "insecure.test",
            comment="DNSSEC insecure",
            mail_from="alice@insecure.test",
            cert="out1.insecure.test",
        )
        self.assertEqual(self.rig.wait_log_record(sent.queue_id)["dnssec"], "insecure")


# --------------------------------------------------------------------------
# SMTP sessions and identities
# --------------------------------------------------------------------------


class SmtpTests(RigTestCase):
    @row(
        SMTP,
        "Null sender, HELO is an address literal",
        "MAIL FROM:<>; EHLO [127.0.0.1]",
        'permerror, reason="invalid HELO name for null sender", no smtp.helo',
    )
    def test_null_sender_helo_address_literal(self):
        self.check(
            "permerror",
            None,
            reason="invalid HELO name for null sender",
            mail_from="<>",
            helo="[127.0.0.1]",
            cert="out1.secure.test",
        )

    @row(
        SMTP,
        "Null sender, HELO with a trailing dot",
        "MAIL FROM:<>; EHLO out1.secure.test.",
        "pass, smtp.helo=out1.secure.test",
    )
    def test_null_sender_helo_trailing_dot(self):
        self.check(
            "pass",
            "out1.secure.test",
            ptype="smtp.helo",
            mail_from="<>",
            helo="out1.secure.test.",
            cert="out1.secure.test",
        )

    @row(
        SMTP,
        "Several transactions with RSET in between",
        "one TLS connection: alice@secure.test, RSET, bob@nomx.secure.test, RSET, "
        "carol@apex.secure.test, RSET, dave@secure.test",
        "pass, none, fail, pass: each its own verdict, TLS evidence kept after RSET",
    )
    def test_transactions_with_rset(self):
        plan = [
            ("alice@secure.test", "pass", "secure.test"),
            ("bob@nomx.secure.test", "none", "nomx.secure.test"),
            ("carol@apex.secure.test", "fail", "apex.secure.test"),
            ("dave@secure.test", "pass", "secure.test"),
        ]
        results = []
        with self.rig.smtp_client() as smtp:
            smtp.command("EHLO out1.secure.test")
            smtp.starttls(self.rig.cert("out1.secure.test"))
            smtp.command("EHLO out1.secure.test")
            for mail_from, _, _ in plan:
                results.append(smtp.transaction(mail_from))
                self.assertEqual(smtp.command("RSET")[0], 250)
        for sent, (mail_from, verdict, identity) in zip(results, plan):
            with self.subTest(mail_from=mail_from):
                self.assertEqual(sent.code, 250, sent.output)
                self.assert_verdict(self.rig.wait_delivered(sent.subject), verdict, identity)

    @row(
        SMTP,
        "STARTTLS, then MAIL without a second EHLO",
        "EHLO, STARTTLS with cert out1.secure.test, MAIL FROM alice@secure.test at once",
        "pass (TLS macros are requested at MAIL, not only at HELO)",
    )
    def test_starttls_without_second_ehlo(self):
        with self.rig.smtp_client() as smtp:
            smtp.command("EHLO out1.secure.test")
            smtp.starttls(self.rig.cert("out1.secure.test"))
            sent = smtp.transaction("alice@secure.test")
        self.assertEqual(sent.code, 250, sent.output)
        msg = self.rig.wait_delivered(sent.subject)
        self.assertEqual(postfix_tls_verdict(msg), "verified", describe(msg))
        self.assert_verdict(msg, "pass", "secure.test")

    @row(
        SMTP,
        "Null sender after STARTTLS without a second EHLO",
        "EHLO nomx.secure.test in clear, STARTTLS, MAIL FROM:<> with no EHLO after TLS",
        "RFC 3207 4.2: the pre-TLS EHLO is forgotten (Postfix: from unknown), so "
        "permerror with no smtp.helo property",
    )
    def test_null_sender_pre_tls_helo_forgotten(self):
        with self.rig.smtp_client() as smtp:
            smtp.command("EHLO nomx.secure.test")
            smtp.starttls(self.rig.cert("out1.secure.test"))
            sent = smtp.transaction("")
        self.assertEqual(sent.code, 250, sent.output)
        msg = self.rig.wait_delivered(sent.subject)
        # Premise: Postfix itself has forgotten the HELO name.
        self.assertIn("from unknown", msg.get("Received"), describe(msg))
        results = msg.mtls_results()
        self.assertEqual(len(results), 1, describe(msg))
        self.assertNotIn("nomx.secure.test", result_props(results[0]).values(), describe(msg))
        self.assertEqual(results[0].result, "permerror", describe(msg))

    @row(
        SMTP,
        "SMTPUTF8 MAIL FROM with a U-label domain",
        "MAIL FROM:<alice@bücher.secure.test> SMTPUTF8; cert CN xn--bcher-kva.secure.test",
        "pass, smtp.mailfrom=xn--bcher-kva.secure.test; header pure ASCII",
    )
    def test_smtputf8_u_label_domain(self):
        sent = self.raw_send("alice@b\u00fccher.secure.test", "SMTPUTF8", cert="idn-a-label")
        msg = self.rig.wait_delivered(sent.subject)
        self.assert_verdict(msg, "pass", "xn--bcher-kva.secure.test")
        self.assert_ascii_header(msg)

    @row(
        SMTP,
        "SMTPUTF8 MAIL FROM with a UTF-8 local part",
        "MAIL FROM:<ålice@secure.test> SMTPUTF8",
        "pass, smtp.mailfrom=secure.test",
    )
    def test_smtputf8_local_part(self):
        sent = self.raw_send("\u00e5lice@secure.test", "SMTPUTF8", cert="out1.secure.test")
        msg = self.rig.wait_delivered(sent.subject)
        self.assert_verdict(msg, "pass", "secure.test")
        self.assert_ascii_header(msg)

    @row(
        SMTP,
        "Null sender, U-label HELO",
        "MAIL FROM:<>; EHLO bücher.secure.test; cert CN xn--bcher-kva.secure.test",
        "pass, smtp.helo=xn--bcher-kva.secure.test",
    )
    def test_u_label_helo(self):
        sent = self.raw_send("", helo="b\u00fccher.secure.test", cert="idn-a-label")
        msg = self.rig.wait_delivered(sent.subject)
        self.assert_verdict(msg, "pass", "xn--bcher-kva.secure.test", ptype="smtp.helo")
        self.assert_ascii_header(msg)

    def raw_send(self, mail_from, params="", helo="out1.secure.test", cert=None):
        with self.rig.smtp_client() as smtp:
            smtp.command(f"EHLO {helo}")
            smtp.starttls(self.rig.cert(cert))
            smtp.command(f"EHLO {helo}")
            sent = smtp.transaction(mail_from, mail_params=params)
        self.assertEqual(sent.code, 250, sent.output)
        return sent

    def assert_ascii_header(self, msg):
        value = msg.our_auth_results()[0]
        self.assertTrue(value.isascii(), f"non-ASCII in our header: {value!r}")


# --------------------------------------------------------------------------
# Header hygiene and injection
# --------------------------------------------------------------------------


class InjectionTests(RigTestCase):
    """Envelope text built to break out of the header: whatever Postfix lets
    through, our header stays one RFC 8601 field that authres parses back,
    with exactly one mtls result."""

    def assert_one_field(self, msg, expected, identity, ptype="smtp.mailfrom", reason=None):
        result = self.assert_verdict(msg, expected, identity, ptype, reason)
        ours = [
            h
            for h in msg.headers
            if h.name.lower() == "authentication-results" and authserv_id_of(h.value) == AUTHSERV_ID
        ]
        self.assertEqual(len(ours), 1, describe(msg))
        raw = ours[0].raw
        self.assertTrue(raw.isascii(), f"non-ASCII in our header: {raw!r}")
        # Every line after the first is a continuation (folding only).
        for line in raw.split("\n")[1:]:
            self.assertIn(line[:1], (" ", "\t"), f"header broken into fields: {raw!r}")
        parsed = rigmod.parse_auth_results(ours[0].value)
        self.assertEqual([r.method for r in parsed.results], ["mtls"], raw)
        return result

    def send_raw(self, mail_from, helo="out1.secure.test"):
        with self.rig.smtp_client() as smtp:
            smtp.command(f"EHLO {helo}")
            smtp.starttls(self.rig.cert("out1.secure.test"))
            smtp.command(f"EHLO {helo}")
            return smtp.transaction(mail_from)

    @row(
        HEADERS,
        "MAIL FROM local part full of specials",
        'MAIL FROM:<"a;b\\"c(d)mtls=pass"@secure.test>',
        "pass, smtp.mailfrom=secure.test; one field, one mtls result",
    )
    def test_quoted_local_part_specials(self):
        sent = self.send_raw('"a;b\\"c(d)mtls=pass"@secure.test')
        self.assertEqual(sent.code, 250, sent.output)
        self.assert_one_field(self.rig.wait_delivered(sent.subject), "pass", "secure.test")

    @row(
        HEADERS,
        "MAIL FROM with a comment or address literal in the domain",
        "<alice@secure.test (mtls=pass)>, <alice@(x)secure.test>, <alice@[127.0.0.1]>",
        'permerror, reason="invalid MAIL FROM address", no smtp.mailfrom; one field',
    )
    def test_mail_from_domain_tricks(self):
        for mail_from in ("alice@secure.test (mtls=pass)", "alice@(x)secure.test", "alice@[127.0.0.1]"):
            with self.subTest(mail_from=mail_from):
                sent = self.send_raw(mail_from)
                self.assertEqual(sent.code, 250, sent.output)
                self.assert_one_field(
                    self.rig.wait_delivered(sent.subject),
                    "permerror",
                    None,
                    reason="invalid MAIL FROM address",
                )

    @row(
        HEADERS,
        "HELO built to inject (null sender)",
        'EHLO "out1.secure.test;mtls=pass", "... (mtls=pass)", quoted, 300 characters, ' "trailing backslash",
        'permerror, reason="invalid HELO name for null sender", no smtp.helo; one field',
    )
    def test_helo_injection(self):
        for helo in (
            "out1.secure.test;mtls=pass",
            "out1.secure.test (mtls=pass)",
            '"out1.secure.test"',
            "x" * 300,
            "out1.secure.test\\",
        ):
            with self.subTest(helo=helo[:40]):
                sent = self.send_raw("", helo=helo)
                self.assertEqual(sent.code, 250, sent.output)
                self.assert_one_field(
                    self.rig.wait_delivered(sent.subject),
                    "permerror",
                    None,
                    ptype="smtp.helo",
                    reason="invalid HELO name for null sender",
                )

    @row(
        HEADERS,
        "What Postfix refuses before the milter sees it",
        "MAIL FROM with ';' after the domain, a 64-character label, a 300-character domain, "
        "a quoted domain, UTF-8 without SMTPUTF8, Latin-1 bytes",
        "5xx from Postfix, nothing queued (the milter protocol tests cover these texts)",
    )
    def test_postfix_refuses(self):
        cases = [
            "alice@secure.test;mtls=pass",
            "alice@" + "a" * 64 + ".secure.test",
            "alice@" + ("a" * 60 + ".") * 5 + "secure.test",
            'alice@"mtls=pass"',
            "alice@b\u00fccher.secure.test".encode(),
            "alice@b\u00fccher.secure.test".encode("latin-1"),
        ]
        with self.rig.smtp_client() as smtp:
            smtp.command("EHLO out1.secure.test")
            for mail_from in cases:
                with self.subTest(mail_from=mail_from):
                    sent = smtp.transaction(mail_from)
                    self.assertTrue(500 <= sent.code < 600, sent.output)
                    self.assertIsNone(sent.queue_id)


# --------------------------------------------------------------------------
# Policy and exemptions
# --------------------------------------------------------------------------


class IgnoreHostsTests(RigTestCase):
    milter_options = {"ignore_hosts": "127.0.0.2"}

    @row(
        POLICY,
        "Client in ignore-hosts",
        "--ignore-hosts 127.0.0.2; swaks --local-interface 127.0.0.2; a forged A-R",
        "no verdict, no header change at all (the forged header stays: the whole "
        "connection is left alone)",
    )
    def test_ignored_host(self):
        sent, msg = self.deliver(
            mail_from="alice@secure.test",
            cert="out1.secure.test",
            local_interface="127.0.0.2",
            extra_headers=[FORGED],
        )
        self.assertIn("[127.0.0.2]", msg.get("Received"), describe(msg))
        self.assertEqual(msg.our_auth_results(), [FORGED.split(":", 1)[1].strip()], describe(msg))

    @row(
        POLICY,
        "Client outside ignore-hosts",
        "--ignore-hosts 127.0.0.2; client 127.0.0.1",
        "pass (checked as usual)",
    )
    def test_other_host_checked(self):
        self.check("pass", "secure.test", mail_from="alice@secure.test", cert="out1.secure.test")


class SmtpAuthTests(RigTestCase):
    @row(
        POLICY,
        "SMTP-AUTH client (skip-authenticated=yes, the default)",
        "AUTH PLAIN through Cyrus SASL (sasldb) in the private Postfix; forged A-R",
        "no verdict; forged A-R still removed; log: skipped: SMTP-AUTH client",
    )
    def test_authenticated_client_skipped(self):
        sent, msg = self.deliver(
            mail_from="alice@secure.test", cert="out1.secure.test", auth=True, extra_headers=[FORGED]
        )
        self.assertIn("ESMTPSA", msg.get("Received"), "premise: not authenticated")
        self.assertEqual(msg.our_auth_results(), [], describe(msg))
        self.assertNotIn("evil.test", msg.raw.decode("utf-8", "replace"), describe(msg))
        rigmod.wait_until(
            lambda: any(
                f"queue_id={sent.queue_id} " in line and "skipped: SMTP-AUTH client" in line
                for line in self.rig.milter_log_text().splitlines()
            ),
            10,
            f"the milter's skip log line for {sent.queue_id}",
        )


class SmtpAuthCheckedTests(RigTestCase):
    milter_options = {"skip_authenticated": "no"}

    @row(
        POLICY,
        "SMTP-AUTH client, skip-authenticated=no",
        "AUTH PLAIN; matching certificate",
        "pass (checked like anyone else)",
    )
    def test_authenticated_client_checked(self):
        self.check("pass", "secure.test", mail_from="alice@secure.test", cert="out1.secure.test", auth=True)


if __name__ == "__main__":
    unittest.main()
