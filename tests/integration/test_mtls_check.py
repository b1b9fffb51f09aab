#!/usr/bin/python3
"""The mtls-check CLI against the rig's real, DNSSEC-signed zones.

Operators use mtls-check to ask "what would the milter say?", so its exit
status and header must agree with the milter's verdicts in
test_end_to_end.py. Only the DNS half of the rig is started (no Postfix).
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import rig as rigmod  # noqa: E402
from rig import AUTHSERV_ID, result_props  # noqa: E402

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
        proc = self.check("pass", "--mail-from", "alice@secure.test",
                          "--cert-name", "out1.secure.test", identity="secure.test")
        self.assertIn("out1.secure.test", proc.stdout)  # the RRset is shown

    def test_pass_one_of_several_names(self):
        self.check("pass", "--mail-from", "alice@secure.test", "--cert-name", "a.example",
                   "--cert-name", "OUT1.secure.test")

    def test_fail_wrong_name(self):
        self.check("fail", "--mail-from", "alice@secure.test",
                   "--cert-name", "rogue.secure.test", identity="secure.test")

    def test_fail_unverified_certificate(self):
        self.check("fail", "--mail-from", "alice@secure.test",
                   "--cert-name", "out1.secure.test", "--verified", "no")

    def test_fail_without_certificate(self):
        self.check("fail", "--mail-from", "alice@secure.test")

    def test_none_nodata(self):
        self.check("none", "--mail-from", "alice@nomx.secure.test",
                   "--cert-name", "out1.secure.test", identity="nomx.secure.test")

    def test_none_nxdomain(self):
        self.check("none", "--mail-from", "alice@nosuch.secure.test",
                   "--cert-name", "out1.secure.test")

    def test_temperror_bogus(self):
        self.check("temperror", "--mail-from", "alice@bogus.test",
                   "--cert-name", "out1.bogus.test", identity="bogus.test")

    def test_insecure_pass_by_default(self):
        self.check("pass", "--mail-from", "alice@insecure.test",
                   "--cert-name", "out1.insecure.test")

    def test_insecure_none_with_require_dnssec(self):
        self.check("none", "--mail-from", "alice@insecure.test",
                   "--cert-name", "out1.insecure.test", "--require-dnssec", "yes")

    def test_null_sender_uses_helo(self):
        self.check("pass", "--mail-from", "<>", "--helo", "out1.secure.test",
                   "--cert-name", "out1.secure.test", identity="out1.secure.test",
                   ptype="smtp.helo")

    def test_other_client_mx_type_finds_nothing(self):
        self.check("none", "--mail-from", "alice@secure.test",
                   "--cert-name", "out1.secure.test", "--client-mx-type", "65300")

    def test_usage_without_mail_from(self):
        self.check("usage", "--cert-name", "out1.secure.test")


if __name__ == "__main__":
    unittest.main()
