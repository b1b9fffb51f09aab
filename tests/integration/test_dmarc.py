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
from rig.testcase import describe

GOOD_CERT = "out1.secure.test"


def dmarc_headers(msg):
    """Our A-R values that carry a dmarc= result, unfolded."""
    return [
        re.sub(r"\s+", " ", v)
        for v in msg.auth_results()
        if authserv_id_of(v) == AUTHSERV_ID.lower() and re.search(r"\bdmarc=", v)
    ]


class DmarcStageCase(unittest.TestCase):
    """Starts the shared rig's milter with a DMARC socket and points Postfix
    at both stages; puts Postfix back as it was afterwards."""

    milter_options: dict = {}
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.rig = shared_rig()
        cls.dmarc_port = free_port()
        wait_until(lambda: tcp_port_bindable(cls.dmarc_port), 20, "a free DMARC port", interval=0.2)
        cls.rig.start_milter(dmarc_socket=f"inet:{cls.dmarc_port}@127.0.0.1", **cls.milter_options)
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
    def tearDownClass(cls):
        postfix = cls.rig.postfix
        postfix.postconf(f"smtpd_milters={cls.saved_milters}")
        postfix.reload()
        # The next class starts its own milter (ensure_milter sees no options).
        cls.rig.stop_milter(graceful=False)

    def dmarc_log(self, queue_id):
        """The DMARC stage's JSON log line for one message."""
        return self.rig.wait_log_record(queue_id, timeout=20, stage="dmarc")

    def deliver_dmarc(self, result, from_domain, policy=None, comment=None, **send_kwargs):
        """Sends, waits for delivery, checks the one dmarc= header and
        returns (header text, log record)."""
        sent = self.rig.send(**send_kwargs)
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
        record = self.dmarc_log(sent.queue_id)
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

    def test_two_from_fields_are_permerror(self):
        # A second From (RFC 5322 allows one): no author domain, no policy,
        # even though each alone would be a domain with a record.
        _, record = self.deliver_dmarc(
            "permerror",
            None,
            None,
            mail_from="alice@secure.test",
            cert=GOOD_CERT,
            extra_headers=["From: <bob@insecure.test>"],
        )
        self.assertEqual(record["header_from"], "-", record)

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


class DmarcWithOpenDkimTests(DmarcStageCase):
    """Real OpenDKIM verifying between the stages (smtpd_milters = mtls,
    OpenDKIM, DMARC), with the rig's libunbound configuration and trust
    anchor, and AuthservID = our authserv-id, as the README advises."""

    opendkim = None

    @classmethod
    def middle_milters(cls):
        rig = cls.rig
        port = free_port()
        directory = rig.dir / "opendkim"
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
        cls.opendkim_log = directory / "opendkim.log"
        with open(cls.opendkim_log, "wb") as log:
            cls.opendkim = subprocess.Popen(
                ["opendkim", "-f", "-x", str(conf)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                preexec_fn=die_with_parent,
            )

        def ready():
            if cls.opendkim.poll() is not None:
                raise AssertionError(f"opendkim exited:\n{log_tail(cls.opendkim_log)}")
            return can_connect(("127.0.0.1", port))

        wait_until(ready, 20, "OpenDKIM's socket", interval=0.1)
        return [f"inet:127.0.0.1:{port}"]

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            kill_process_group(cls.opendkim)

    def signed(self, domain="secure.test"):
        return lambda text: self.rig.dns.dkim.sign_message(text, domain)

    def deliver_dkim_only(self):
        """No certificate and a MAIL FROM in another domain: only OpenDKIM's
        genuine dkim=pass header.d=secure.test aligns. The log record."""
        return self.deliver_dmarc(
            "pass",
            "secure.test",
            "reject",
            "aligned: dkim",
            mail_from="bounces@insecure.test",
            header_from="alice@secure.test",
            transform=self.signed(),
        )[1]

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
