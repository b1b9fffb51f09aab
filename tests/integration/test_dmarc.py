#!/usr/bin/python3
"""End-to-end tests of the DMARC stage (stage 2, --dmarc-socket): swaks ->
private Postfix with ``smtpd_milters = <mtls socket>, <dmarc socket>`` ->
the real mtls-milter (stage 1 in the main process, stage 2 in its child) ->
libunbound -> NSD with zones signed at test time, whose _dmarc records are
in DnsServer._dmarc_lines (tests/rig/dns.py).

Each test checks the delivered message's one dmarc= Authentication-Results
(exact result, header.from, policy.dmarc, the comment's p=/dis=/aligned:)
and the stage's JSON log line (the field names of
core/dmarc/dmarc_record_fields.h), or the SMTP reply when it enforces.

Run through run_tests.py, or directly:
    MTLS_BUILD_DIR=build /usr/bin/python3 -m unittest -v test_dmarc
"""

import json
import os
import re
import signal
import subprocess
import unittest
import urllib.request
from pathlib import Path

from rig import AUTHSERV_ID, authserv_id_of
from rig.process import (
    can_connect,
    die_with_parent,
    free_port,
    kill_process_group,
    log_tail,
    tcp_port_bindable,
    wait_until,
)
from rig.rig import shared_rig
from rig.sendmail import dmarc_snippet_lines, queue_id_of, SNIPPET, start_sendmail
from rig.testcase import describe

GOOD_CERT = "out1.secure.test"
README = SNIPPET.parents[1] / "README.md"
MAN_PAGE = SNIPPET.parents[1] / "man" / "mtls-milter.8"
# A client address outside local_header_rewrite_clients (Postfix's default,
# permit_inet_interfaces, covers the rig's 127.0.0.1): Postfix passes its
# header fields to the milters as sent, without adding a missing From.
NOT_REWRITTEN = "127.0.0.2"


def dmarc_headers(msg):
    """Our A-R values that carry a dmarc= result, unfolded."""
    return [
        re.sub(r"\s+", " ", v)
        for v in msg.auth_results()
        if authserv_id_of(v) == AUTHSERV_ID.lower() and re.search(r"\bdmarc=", v)
    ]


def with_from(*fields):
    """A transform putting these complete header fields (none: no From at
    all) where the message's own From field was."""

    def transform(text):
        head, _, body = text.partition("\r\n\r\n")
        lines = head.split("\r\n")
        index = next(i for i, line in enumerate(lines) if line.startswith("From:"))
        lines[index : index + 1] = fields
        return "\r\n".join(lines) + "\r\n\r\n" + body

    return transform


class DmarcStageCase(unittest.TestCase):
    """Starts the shared rig's milter with a DMARC socket and points Postfix
    at both stages; puts Postfix back as it was afterwards."""

    milter_options: dict = {}
    saved_milters = None  # Postfix's smtpd_milters before attach_mta()
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.rig = shared_rig()
        cls.dmarc_port = free_port()
        wait_until(lambda: tcp_port_bindable(cls.dmarc_port), 20, "a free DMARC port", interval=0.2)
        cls.rig.start_milter(dmarc_socket=f"inet:{cls.dmarc_port}@127.0.0.1", **cls.milter_options)
        try:
            cls.attach_mta()
        except BaseException:
            cls.tearDownClass()  # unittest does not when setUpClass fails
            raise

    @classmethod
    def attach_mta(cls):
        """Points Postfix at stage 1, middle_milters() and stage 2."""
        postfix = cls.rig.postfix
        cls.saved_milters = postfix.milter_socket
        between = "".join(f", {socket}" for socket in cls.middle_milters())
        postfix.postconf(f"smtpd_milters={cls.saved_milters}{between}, inet:127.0.0.1:{cls.dmarc_port}")
        postfix.reload()

    @classmethod
    def middle_milters(cls):
        """Milters between the two stages, in Postfix's syntax."""
        return []

    @classmethod
    def detach_mta(cls):
        if cls.saved_milters is None:
            return
        postfix = cls.rig.postfix
        postfix.postconf(f"smtpd_milters={cls.saved_milters}")
        postfix.reload()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.detach_mta()
        finally:
            # The next class starts its own milter (ensure_milter sees no options).
            cls.rig.stop_milter(graceful=False)

    def send(self, **send_kwargs):
        """Sends one message through the MTA under test."""
        return self.rig.send(**send_kwargs)

    def queue_id(self, sent):
        """The MTA's queue id of an accepted message, as the milter logs it."""
        return sent.queue_id

    def signed(self, domain="secure.test"):
        """A transform DKIM-signing the message for domain (OpenDKIM
        verifies it where a class runs one)."""
        return lambda text: self.rig.dns.dkim.sign_message(text, domain)

    def deliver_dkim_only(self):
        """No certificate and a MAIL FROM in another domain: only OpenDKIM's
        genuine dkim=pass header.d=secure.test aligns, where a class runs
        OpenDKIM. The log record."""
        return self.deliver_dmarc(
            "pass",
            "secure.test",
            "reject",
            "aligned: dkim",
            mail_from="bounces@insecure.test",
            header_from="alice@secure.test",
            transform=self.signed(),
        )[1]

    def dmarc_log(self, queue_id):
        """The DMARC stage's JSON log line for one message."""
        return self.rig.wait_log_record(queue_id, timeout=20, stage="dmarc")

    def deliver_dmarc(self, result, from_domain, policy=None, comment=None, **send_kwargs):
        """Sends, waits for delivery, checks the one dmarc= header and
        returns (header text, log record)."""
        sent = self.send(**send_kwargs)
        msg = self.rig.wait_delivered(sent.subject)
        headers = dmarc_headers(msg)
        self.assertEqual(len(headers), 1, f"expected one dmarc= header:\n{describe(msg)}")
        header = headers[0]
        names = [h.name.lower() for h in msg.headers]
        self.assertEqual(names[0], "authentication-results", describe(msg))
        self.assertIn("dmarc=", msg.first_header.value, f"the DMARC header is not on top:\n{describe(msg)}")
        self.assertRegex(header, rf"\bdmarc={result}\b", describe(msg))
        if from_domain is None:
            self.assertNotIn("header.from=", header)
        else:
            self.assertIn(f"header.from={from_domain}", header)
        if policy is None:
            self.assertNotIn("policy.dmarc=", header)
        else:
            self.assertIn(f"policy.dmarc={policy}", header)
        if comment is not None:
            self.assertIn(comment, header)
        record = self.dmarc_log(self.queue_id(sent))
        self.assertEqual(record["dmarc"], result, record)
        return header, record


class DmarcTaggingTests(DmarcStageCase):
    """Default options: dmarc-mtls=substitute, tagging only."""

    def test_mtls_pass_substitutes_for_spf(self):
        # p=reject, no SPF result at all (no SPF filter), no DKIM: the
        # aligned mtls pass alone makes DMARC pass.
        _, record = self.deliver_dmarc(
            "pass",
            "secure.test",
            "reject",
            "(p=reject dis=none; aligned: mtls; DNSSEC secure)",
            mail_from="alice@secure.test",
            cert=GOOD_CERT,
        )
        self.assertEqual(record["dmarc_rfc9989"], "fail", record)
        self.assertEqual(record["aligned_by"], "mtls", record)
        self.assertEqual(record["policy_domain"], "secure.test", record)
        self.assertEqual(record["org_domain"], "secure.test", record)
        self.assertEqual(record["p"], "reject", record)
        self.assertEqual(record["disposition"], "none", record)
        self.assertEqual(record["dnssec"], "secure", record)

    def test_without_certificate_fails_but_is_only_tagged(self):
        _, record = self.deliver_dmarc(
            "fail", "secure.test", "reject", "(p=reject dis=none;", mail_from="alice@secure.test"
        )
        self.assertEqual(record["aligned_by"], "-", record)

    def test_relaxed_alignment_of_a_subdomain_mail_from(self):
        # MAIL FROM multi.secure.test passes mtls; From secure.test: the
        # same organizational domain.
        self.deliver_dmarc(
            "pass",
            "secure.test",
            "reject",
            "aligned: mtls",
            mail_from="alice@multi.secure.test",
            header_from="alice@secure.test",
            cert=GOOD_CERT,
        )

    def test_strict_spf_alignment_refuses_a_subdomain(self):
        # aspf=s at strict.secure.test: a.strict.secure.test's mtls pass
        # is the same organizational domain but not the same domain.
        _, record = self.deliver_dmarc(
            "fail",
            "strict.secure.test",
            "reject",
            mail_from="alice@a.strict.secure.test",
            header_from="alice@strict.secure.test",
            cert=GOOD_CERT,
        )
        self.assertEqual(record["aspf"], "s", record)

    def test_no_record_anywhere_is_none(self):
        _, record = self.deliver_dmarc("none", "insecure.test", None, header_from="bob@insecure.test")
        self.assertEqual(record["policy_domain"], "-", record)

    def test_twelve_labels_make_exactly_eight_queries(self):
        domain = "a.b.c.d.e.f.g.h.i.j.insecure.test"
        _, record = self.deliver_dmarc("none", domain, None, header_from=f"bob@{domain}")
        self.assertEqual(record["queries"], 8, record)

    def test_testing_flag_lowers_the_policy(self):
        _, record = self.deliver_dmarc(
            "fail", "testing.secure.test", "quarantine", "p=reject", header_from="bob@testing.secure.test"
        )
        self.assertEqual(record["t"], "y", record)

    def test_sp_for_an_existing_subdomain(self):
        self.deliver_dmarc(
            "fail", "nomx.secure.test", "quarantine", "p=quarantine", header_from="b@nomx.secure.test"
        )

    def test_np_for_a_nonexistent_subdomain(self):
        self.deliver_dmarc(
            "fail", "nosuch.secure.test", "reject", "p=reject", header_from="b@nosuch.secure.test"
        )

    def test_duplicate_records_are_discarded(self):
        # twice.secure.test has two records: neither applies, the
        # organizational domain's sp does.
        _, record = self.deliver_dmarc(
            "fail", "twice.secure.test", "quarantine", header_from="b@twice.secure.test"
        )
        self.assertEqual(record["policy_domain"], "secure.test", record)

    def test_bogus_record_is_temperror(self):
        _, record = self.deliver_dmarc("temperror", "bogus.test", None, header_from="b@bogus.test")
        self.assertEqual(record["disposition"], "none", record)

    def test_timeout_is_temperror(self):
        # silent.test's server never answers: the walk waits out dns-timeout.
        _, record = self.deliver_dmarc("temperror", "silent.test", None, header_from="b@silent.test")
        self.assertNotEqual(record["reason"], "-", record)

    def test_servfail_is_temperror(self):
        self.deliver_dmarc("temperror", "servfail.test", None, header_from="b@servfail.test")

    def test_forged_upstream_pass_is_removed_by_stage_one(self):
        # A client's own "dkim=pass" with our authserv-id must not count:
        # stage 1 deletes it before stage 2 reads anything.
        forged = f"Authentication-Results: {AUTHSERV_ID}; dkim=pass header.d=secure.test; spf=pass smtp.mailfrom=secure.test"
        header, record = self.deliver_dmarc(
            "fail", "secure.test", "reject", mail_from="alice@secure.test", extra_headers=[forged]
        )
        self.assertEqual(record["aligned_by"], "-", record)

    def test_null_sender_by_helo(self):
        # MAIL FROM:<>: stage 1 checks the HELO name (smtp.helo); From
        # postmaster@secure.test aligns with out1.secure.test (relaxed).
        self.deliver_dmarc(
            "pass",
            "secure.test",
            "reject",
            "aligned: mtls",
            mail_from="<>",
            helo="out1.secure.test",
            cert=GOOD_CERT,
        )

    # -- psd=n and psd=y (RFC 9989 section 4.10.2) ---------------------------

    def check_mtls_for_from(self, result, mail_from_domain, from_domain, policy, org_domain, policy_domain):
        """MAIL FROM in mail_from_domain, passing mtls; From in from_domain:
        aligned (pass) or not (fail) as their organizational domains say,
        under the policy of policy_domain's record."""
        comment = "aligned: mtls" if result == "pass" else f"(p={policy} dis=none; DNSSEC secure)"
        _, record = self.deliver_dmarc(
            result,
            from_domain,
            policy,
            comment,
            mail_from=f"alice@{mail_from_domain}",
            header_from=f"bob@{from_domain}",
            cert=GOOD_CERT,
        )
        self.assertEqual(record["org_domain"], org_domain, record)
        self.assertEqual(record["policy_domain"], policy_domain, record)
        self.assertEqual(record["aligned_by"], "mtls" if result == "pass" else "-", record)

    def check_policy_of(self, name, policy, policy_domain):
        """From b@<name>.secure.test, no certificate: dmarc=fail under the
        published policy of policy_domain's record. Returns the log record."""
        domain = f"{name}.secure.test"
        _, record = self.deliver_dmarc(
            "fail", domain, policy, f"(p={policy} dis=none;", header_from=f"b@{domain}"
        )
        self.assertEqual(record["policy_domain"], policy_domain, record)
        return record

    def test_psd_n_makes_its_domain_the_organizational_domain(self):
        # psdn.secure.test has psd=n: it is its own organizational domain,
        # so secure.test's mtls pass is no longer aligned with it (without
        # the flag the walk would go on and pick secure.test: pass).
        self.check_mtls_for_from(
            "fail", "secure.test", "psdn.secure.test", "reject", "psdn.secure.test", "psdn.secure.test"
        )

    def test_psd_n_record_applies_to_its_subdomains(self):
        # sub.psdn.secure.test has no record: its organizational domain's
        # (psdn, sp=none) applies, not secure.test's sp=quarantine.
        record = self.check_policy_of("sub.psdn", "none", "psdn.secure.test")
        self.assertEqual(record["org_domain"], "psdn.secure.test", record)

    def test_psd_y_separates_the_organizations_below_it(self):
        # psd.secure.test has psd=y: a.psd and b.psd are organizational
        # domains of their own, so a.psd's mtls pass does not align with a
        # From in b.psd; the public suffix domain's sp=reject applies.
        self.check_mtls_for_from(
            "fail", "a.psd.secure.test", "b.psd.secure.test", "reject", "b.psd.secure.test", "psd.secure.test"
        )

    def test_psd_y_organization_aligns_its_own_subdomains(self):
        # x.a.psd.secure.test and a.psd.secure.test share the organizational
        # domain a.psd.secure.test (one label below the psd=y record).
        self.check_mtls_for_from(
            "pass",
            "a.psd.secure.test",
            "x.a.psd.secure.test",
            "reject",
            "a.psd.secure.test",
            "psd.secure.test",
        )

    # -- malformed records (sections 4.7 and 4.10.1) ---------------------------

    def test_record_not_starting_with_v_is_no_record(self):
        # "p=reject; v=DMARC1" at vlast: not a DMARC record, so secure.test's
        # record applies (sp=quarantine), not p=reject.
        self.check_policy_of("vlast", "quarantine", "secure.test")

    def check_no_dmarc_processing(self, from_domain, why):
        """From b@<from_domain>, no certificate: the record that applies has
        no usable policy (section 4.10.1, "no DMARC processing"): dmarc=none,
        saying why, and no parent's policy in its place."""
        _, record = self.deliver_dmarc("none", from_domain, None, f"({why};", header_from=f"b@{from_domain}")
        self.assertEqual(record["policy_domain"], "-", record)
        self.assertEqual(record["policy.dmarc"], "-", record)
        return record

    def test_invalid_p_without_rua_is_no_dmarc_processing(self):
        # "p=always", no rua, at the author domain: that record applies and
        # has no policy; secure.test's sp=quarantine does not stand in.
        self.check_no_dmarc_processing(
            "badp.secure.test", "invalid p and no valid rua at _dmarc.badp.secure.test"
        )

    def test_invalid_sp_without_rua_is_no_dmarc_processing(self):
        # "p=reject; sp=always": the invalid sp spoils the record as a
        # missing p would, and without a rua that means no DMARC processing.
        self.check_no_dmarc_processing(
            "badsp.secure.test", "invalid sp and no valid rua at _dmarc.badsp.secure.test"
        )

    def test_psd_n_record_without_p_stops_the_walk(self):
        # "v=DMARC1; psd=n" at psdnop: the walk from sub.psdnop stops there
        # (section 4.10 step 2 asks for no p), so psdnop is the organizational
        # domain and its record, with no policy, applies: not secure.test's.
        record = self.check_no_dmarc_processing(
            "sub.psdnop.secure.test", "no p and no valid rua at _dmarc.psdnop.secure.test"
        )
        self.assertEqual(record["org_domain"], "psdnop.secure.test", record)

    def test_invalid_np_with_rua_counts_as_p_none(self):
        # "p=reject; np=always; rua=...": like a missing p with a valid rua,
        # the record is "v=DMARC1; p=none", so its p=reject is not applied.
        record = self.check_policy_of("badnp", "none", "badnp.secure.test")
        self.assertEqual(record["p"], "none", record)

    def test_record_without_p_but_with_rua_counts_as_p_none(self):
        record = self.check_policy_of("nop", "none", "nop.secure.test")
        self.assertEqual(record["p"], "none", record)

    # -- the From field (RFC 9989 section 5.3.1) -------------------------------

    def check_permerror(self, reason, **send_kwargs):
        """MAIL FROM alice@secure.test with its good certificate, but a From
        that yields no author domain: dmarc=permerror, no policy."""
        _, record = self.deliver_dmarc(
            "permerror",
            None,
            None,
            f"({reason})",
            mail_from="alice@secure.test",
            cert=GOOD_CERT,
            **send_kwargs,
        )
        self.assertEqual(record["header_from"], "-", record)

    def test_two_from_fields_are_permerror(self):
        # A second From (RFC 5322 allows one): no author domain, no policy,
        # even though each alone would be a domain with a record.
        self.check_permerror("several From fields", extra_headers=["From: <bob@insecure.test>"])

    def test_no_from_field_is_permerror(self):
        # From a client Postfix does not rewrite headers for (127.0.0.1 is
        # in local_header_rewrite_clients: Postfix would add a From).
        self.check_permerror("no From field", transform=with_from(), local_interface=NOT_REWRITTEN)

    def test_mailboxes_in_two_domains_are_permerror(self):
        self.check_permerror(
            "mailboxes in several domains in From",
            transform=with_from("From: <alice@secure.test>, <bob@insecure.test>"),
        )

    def test_group_without_mailbox_is_permerror(self):
        self.check_permerror("no mailbox in From", transform=with_from("From: undisclosed:;"))

    def test_unparseable_from_is_permerror(self):
        # Not from 127.0.0.1 either: Postfix would close the quote and
        # append @mx.inbox.test (docs/MTA-FACTS.md, Postfix).
        self.check_permerror(
            "unterminated quoted string",
            transform=with_from('From: "Alice <alice@secure.test>'),
            local_interface=NOT_REWRITTEN,
        )

    def check_author_secure_test(self, from_field):
        """MAIL FROM alice@secure.test with its good certificate and this
        From field: the author domain is secure.test (aligned, pass)."""
        self.deliver_dmarc(
            "pass",
            "secure.test",
            "reject",
            "aligned: mtls",
            mail_from="alice@secure.test",
            cert=GOOD_CERT,
            transform=with_from(from_field),
        )

    def test_display_name_and_comments_are_not_the_address(self):
        # The quoted display name and the comment name insecure.test; the
        # mailbox is in secure.test.
        self.check_author_secure_test(
            'From: "Mallory <m@insecure.test>" (via insecure.test) <alice@secure.test>'
        )

    def test_group_of_mailboxes_in_one_domain_parses(self):
        self.check_author_secure_test('From: Senders: alice@secure.test, "Bob" <bob@secure.test>;')

    def test_u_label_from_domain_is_looked_up_as_a_label(self):
        # bücher.secure.test exists as xn--bcher-kva (A record): sp applies.
        # Looked up as UTF-8 it would not exist (np=reject).
        _, record = self.deliver_dmarc(
            "pass",
            "xn--bcher-kva.secure.test",
            "quarantine",
            "p=quarantine",
            mail_from="alice@secure.test",
            header_from="alice@bücher.secure.test",
            cert=GOOD_CERT,
        )
        self.assertEqual(record["header_from"], "xn--bcher-kva.secure.test", record)

    def test_two_messages_with_different_from_on_one_connection(self):
        results = self.rig.send_session(
            [
                {"mail_from": "alice@secure.test"},
                {"mail_from": "alice@secure.test", "header_from": "bob@insecure.test"},
            ],
            cert=GOOD_CERT,
        )
        expected = [("pass", "secure.test"), ("none", "insecure.test")]
        for sent, (result, domain) in zip(results, expected):
            self.assertEqual(sent.code, 250, sent.output)
            msg = self.rig.wait_delivered(sent.subject)
            headers = dmarc_headers(msg)
            self.assertEqual(len(headers), 1, describe(msg))
            self.assertIn(f"dmarc={result}", headers[0])
            self.assertIn(f"header.from={domain}", headers[0])


def start_opendkim(rig, name="opendkim"):
    """A real OpenDKIM verifying, with the rig's libunbound configuration
    and trust anchor and AuthservID = our authserv-id, as the README
    advises. Returns (process, port of its inet socket)."""
    port = free_port()
    directory = rig.dir / name
    directory.mkdir(exist_ok=True)
    internal = directory / "internal-hosts"
    internal.write_text("192.0.2.254\n")  # not the test client: verify everything
    conf = directory / "opendkim.conf"
    conf.write_text(
        "\n".join(
            [
                "Mode v",
                f"Socket inet:{port}@127.0.0.1",
                f"PidFile {directory / 'opendkim.pid'}",
                "Syslog no",
                f"AuthservID {AUTHSERV_ID}",
                "AlwaysAddARHeader yes",
                f"InternalHosts {internal}",
                # One message at a time here: OpenDKIM 2.11's crash when it
                # parses this file from several threads (bench/bench.py,
                # OpenDkimFilter) needs load.
                f"ResolverConfiguration {rig.unbound_conf}",
                f"TrustAnchorFile {rig.trust_anchor_file}",
                "DNSTimeout 5",
                "",
            ]
        )
    )
    log_file = directory / "opendkim.log"
    with open(log_file, "wb") as log:
        proc = subprocess.Popen(
            ["opendkim", "-f", "-x", str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            preexec_fn=die_with_parent,
        )

    def ready():
        if proc.poll() is not None:
            raise AssertionError(f"opendkim exited:\n{log_tail(log_file)}")
        return can_connect(("127.0.0.1", port))

    try:
        wait_until(ready, 20, "OpenDKIM's socket", interval=0.1)
    except BaseException:
        kill_process_group(proc)
        raise
    return proc, port


class DmarcWithOpenDkimTests(DmarcStageCase):
    """Real OpenDKIM verifying between the stages (smtpd_milters = mtls,
    OpenDKIM, DMARC)."""

    opendkim = None

    @classmethod
    def middle_milters(cls):
        cls.opendkim, port = start_opendkim(cls.rig)
        return [f"inet:127.0.0.1:{port}"]

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            kill_process_group(cls.opendkim)

    def test_dkim_only_pass(self):
        record = self.deliver_dkim_only()
        self.assertEqual(record["dmarc_rfc9989"], "pass", record)
        self.assertEqual(record["aligned_by"], "dkim", record)

    def test_forged_pass_removed_while_opendkims_genuine_header_survives(self):
        forged = f"Authentication-Results: {AUTHSERV_ID}; dkim=pass header.d=insecure.test"
        sent = self.rig.send(
            mail_from="bounces@insecure.test",
            header_from="alice@secure.test",
            extra_headers=[forged],
            transform=self.signed(),
        )
        msg = self.rig.wait_delivered(sent.subject)
        values = [re.sub(r"\s+", " ", v) for v in msg.auth_results()]
        self.assertFalse([v for v in values if "header.d=insecure.test" in v], describe(msg))
        self.assertTrue(
            [v for v in values if re.search(r"dkim=pass .*header.d=secure.test", v)], describe(msg)
        )
        self.assertIn("dmarc=pass", dmarc_headers(msg)[0])

    def test_relaxed_dkim_alignment_of_a_subdomain_from(self):
        # Signed by secure.test, From testing.secure.test: the same
        # organizational domain (relaxed adkim); its own record has t=y.
        self.deliver_dmarc(
            "pass",
            "testing.secure.test",
            "quarantine",
            "aligned: dkim",
            mail_from="bounces@insecure.test",
            header_from="alice@testing.secure.test",
            transform=self.signed(),
        )

    def test_raw_results_reach_the_log_and_the_aggregate_report(self):
        # OpenDKIM's result with its selector and the MAIL FROM domain go
        # into the stage's log line, and mtls-report makes RFC 9990
        # identifiers and auth_results of that very line, which the RFC's
        # schema accepts.
        selector = self.rig.dns.dkim.selector
        record = self.deliver_dkim_only()
        self.assertEqual(record["envelope_from"], "insecure.test", record)
        self.assertIn(f"secure.test:{selector}:pass", record["dkim_results"].split(","), record)
        self.assertEqual(record["spf_result"], "-", record)  # no SPF filter in this rig
        work = self.rig.dir / f"dmarc-report-{record['queue_id']}"
        (work / "out").mkdir(parents=True)
        (work / "mail.log").write_text(json.dumps(record) + "\n")
        report = self.rig.build_dir / "tools" / "mtls-report" / "mtls-report"
        subprocess.run(
            [report, "--format", "dmarc-xml", "--org-name", "Test", "--report-email", "dmarc@mx.inbox.test"]
            + ["--output-dir", work / "out", work / "mail.log"],
            check=True,
            capture_output=True,
        )
        (written,) = (work / "out").iterdir()
        xml = written.read_text()
        self.assertIn("<envelope_from>insecure.test</envelope_from>", xml)
        self.assertIn(f"<domain>secure.test</domain>\n        <selector>{selector}</selector>", xml)
        schema = Path(__file__).resolve().parents[1] / "report" / "dmarc-xml-0.2.xsd"
        lint = subprocess.run(
            ["xmllint", "--noout", "--schema", schema, written], capture_output=True, text=True
        )
        self.assertEqual(lint.returncode, 0, lint.stderr + xml)


class DmarcEnforcingTests(DmarcStageCase):
    """dmarc-enforce=yes, dmarc-on-temperror=tempfail."""

    milter_options = {"dmarc_enforce": True, "dmarc_on_temperror": "tempfail"}

    def test_mtls_fail_is_rejected(self):
        sent = self.rig.send(mail_from="alice@secure.test", cert="rogue.secure.test", expect_code=550)
        self.assertIn("5.7.1", sent.reply)
        # Rejected at end of data: swaks learns no queue id, the log has it.
        wait_until(
            lambda: [
                r
                for r in self.rig.milter_log_records()
                if r.get("stage") == "dmarc" and r.get("disposition") == "reject" and r.get("dmarc") == "fail"
            ],
            20,
            "a DMARC log line with disposition reject",
            interval=0.1,
        )

    def test_mtls_pass_is_delivered(self):
        self.deliver_dmarc(
            "pass", "secure.test", "reject", "dis=none", mail_from="alice@secure.test", cert=GOOD_CERT
        )

    def test_temperror_is_deferred(self):
        sent = self.rig.send(mail_from="alice@secure.test", header_from="b@bogus.test", expect_code=451)
        self.assertIn("4.7.1", sent.reply)

    def test_quarantine_holds_the_message(self):
        # testing.secure.test: p=reject with t=y, so quarantine (Postfix: hold).
        sent = self.rig.send(mail_from="alice@secure.test", header_from="b@testing.secure.test")
        record = self.dmarc_log(sent.queue_id)
        self.assertEqual(record["disposition"], "quarantine", record)
        self.assertEqual(record["policy.dmarc"], "quarantine", record)
        postfix = self.rig.postfix
        queue = subprocess.run(
            ["postqueue", "-c", str(postfix.config_dir), "-j"], capture_output=True, text=True, timeout=30
        ).stdout
        self.assertRegex(queue, rf'"queue_name": "hold", "queue_id": "{sent.queue_id}"')
        # Leave the shared rig's queue as it was.
        removed = subprocess.run(
            ["postsuper", "-c", str(postfix.config_dir), "-d", sent.queue_id, "hold"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        self.assertEqual(removed.returncode, 0, removed.stderr)

    def test_no_policy_is_never_enforced(self):
        self.deliver_dmarc("none", "insecure.test", None, header_from="b@insecure.test")


class DmarcReportOnlyTests(DmarcStageCase):
    """dmarc-mtls=report-only, dmarc-mtls-helo=no."""

    milter_options = {"dmarc_mtls": "report-only", "dmarc_mtls_helo": False}

    def test_aligned_mtls_pass_does_not_count(self):
        _, record = self.deliver_dmarc(
            "fail",
            "secure.test",
            "reject",
            "aligned: mtls-report-only",
            mail_from="alice@secure.test",
            cert=GOOD_CERT,
        )
        self.assertEqual(record["aligned_by"], "mtls", record)

    def test_null_sender_helo_pass_not_counted_without_dmarc_mtls_helo(self):
        self.deliver_dmarc(
            "fail", "secure.test", "reject", mail_from="<>", helo="out1.secure.test", cert=GOOD_CERT
        )


class DmarcThroughSendmailTests(DmarcStageCase):
    """The DMARC stage under Debian's Sendmail 8.17 (rig/sendmail.py), with
    conf/sendmail.mc's lines, the DMARC stage's included: stage 1, OpenDKIM
    and stage 2 as three INPUT_MAIL_FILTERs in that order. Sendmail shows
    each filter the headers the filters before it added (it sends them at
    the end of the message, one filter after the other)."""

    opendkim = None
    sendmail = None

    @classmethod
    def attach_mta(cls):
        cls.opendkim, opendkim_port = start_opendkim(cls.rig, "opendkim-sendmail")
        cls.sendmail = start_sendmail(
            cls.rig,
            cls.rig.dir / f"sendmail-{cls.__name__}",
            dmarc_ports={"opendkim": opendkim_port, "mtls-dmarc": cls.dmarc_port},
        )

    @classmethod
    def detach_mta(cls):
        try:
            if cls.sendmail is not None:
                cls.sendmail.stop()
        finally:
            kill_process_group(cls.opendkim)

    def send(self, **send_kwargs):
        return self.rig.send(port=self.sendmail.smtp_port, **send_kwargs)

    def queue_id(self, sent):
        queue_id = queue_id_of(sent.reply)
        self.assertTrue(queue_id, f"no queue id in Sendmail's reply: {sent.reply}")
        return queue_id

    def test_filters_in_the_documented_order(self):
        # The premise of the other tests, from the generated sendmail.cf.
        filters = re.findall(r"(?m)^O InputMailFilters=(.*)$", self.sendmail.cf.read_text())
        self.assertEqual(filters, ["mtls-milter,opendkim,mtls-dmarc"])

    # The same messages and checks as behind Postfix: the aligned mtls pass
    # alone makes DMARC pass; OpenDKIM's header, added by the filter before,
    # alone makes it pass.
    test_mtls_pass_substitutes_for_spf = DmarcTaggingTests.test_mtls_pass_substitutes_for_spf
    test_dkim_only_pass = DmarcWithOpenDkimTests.test_dkim_only_pass

    def test_wrong_certificate_fails(self):
        # mtls=fail (the certificate names no Client MX host): nothing aligns.
        _, record = self.deliver_dmarc(
            "fail",
            "secure.test",
            "reject",
            "(p=reject dis=none; DNSSEC secure)",
            mail_from="alice@secure.test",
            cert="rogue.secure.test",
        )
        self.assertEqual(record["aligned_by"], "-", record)

    def test_snippet_in_readme_and_man_page(self):
        """README.md and mtls-milter(8) show the DMARC stage's lines of
        conf/sendmail.mc, which this class's Sendmail runs with."""
        lines = dmarc_snippet_lines()
        self.assertEqual(len(lines), 3, lines)
        block = "```\n" + "\n".join(lines) + "\n```"
        self.assertTrue(block in README.read_text(), f"README.md lacks\n{block}")
        roff = [line.replace("-", "\\-").replace("`", "\\(ga").replace("'", "\\(aq") for line in lines]
        block = ".nf\n" + "\n".join(roff) + "\n.fi"
        self.assertTrue(block in MAN_PAGE.read_text(), f"mtls-milter.8 lacks\n{block}")


METRICS_PORT = free_port()


class DmarcProcessTests(DmarcStageCase):
    """The DMARC stage's process: its counters on the daemon's /metrics,
    SIGHUP forwarded to it, and the daemon failing closed when it dies."""

    milter_options = {"metrics": f"127.0.0.1:{METRICS_PORT}"}

    def child_pids(self):
        pid = self.rig.milter_proc.pid
        children = []
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                children += [int(c) for c in f.read().split()]
        return children

    def test_1_counters_on_the_daemons_metrics(self):
        self.deliver_dmarc("pass", "secure.test", "reject", mail_from="alice@secure.test", cert=GOOD_CERT)
        with urllib.request.urlopen(f"http://127.0.0.1:{METRICS_PORT}/metrics", timeout=10) as reply:
            text = reply.read().decode()
        self.assertRegex(text, r'mtls_dmarc_messages_total\{result="pass"\} [1-9]')
        self.assertRegex(text, r'mtls_dmarc_aligned_total\{identifier="mtls"\} [1-9]')
        self.assertRegex(text, r"mtls_dmarc_mtls_only_passes_total [1-9]")
        self.assertRegex(text, r'mtls_messages_total\{result="pass"\} [1-9]')

    def test_2_sighup_reloads_both_stages(self):
        self.assertEqual(len(self.child_pids()), 1)
        os.kill(self.rig.milter_proc.pid, signal.SIGHUP)
        # Each process describes its own stage: the DMARC stage's line
        # starts with its socket, stage 1's with its own.
        wait_until(
            lambda: "reloaded: dmarc-socket=" in self.rig.milter_log_text()
            and "reloaded: socket=" in self.rig.milter_log_text(),
            20,
            "both processes to log their reload",
            interval=0.1,
        )
        self.deliver_dmarc("pass", "secure.test", "reject", mail_from="alice@secure.test", cert=GOOD_CERT)

    def test_3_daemon_stops_when_the_dmarc_process_dies(self):
        (child,) = self.child_pids()
        os.kill(child, signal.SIGKILL)
        proc = self.rig.milter_proc
        wait_until(lambda: proc.poll() is not None, 60, "the daemon to stop after its DMARC process died")
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("the DMARC stage's process", self.rig.milter_log_text())


if __name__ == "__main__":
    unittest.main()
