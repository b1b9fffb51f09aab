#!/usr/bin/python3
"""The Client MX record type is configurable (IANA has not assigned 265):
a second rig whose zones publish every Client MX record as TYPE65300 (a
private-use type), and the milter run with --client-mx-type 65300, must
give the same core verdicts as type 265 does. A milter still asking for
265 finds nothing there, which shows the option is what decides.

Run through run_tests.py, or directly:
    MTLS_BUILD_DIR=build /usr/bin/python3 -m unittest -v test_client_mx_type
"""

import unittest

from rig.conformance import TYPE, row
from rig.testcase import RigTestCase

PRIVATE_TYPE = 65300


class PrivateTypeTests(RigTestCase):
    rig_options = {"client_mx_type": PRIVATE_TYPE}
    milter_options = {"client_mx_type": PRIVATE_TYPE}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Premise: this rig's zones really use the other type.
        zone = cls.rig.dns.zone_files["secure.test."].read_text()
        assert f"TYPE{PRIVATE_TYPE}" in zone and "TYPE265" not in zone, "wrong rig"

    @row(
        TYPE, "Type 65300: pass", "zones publish TYPE65300; --client-mx-type 65300; " "matching cert", "pass"
    )
    def test_pass(self):
        self.check(
            "pass",
            "secure.test",
            comment="DNSSEC secure",
            mail_from="alice@secure.test",
            cert="out1.secure.test",
        )

    @row(TYPE, "Type 65300: fail", "wrong certificate name", "fail")
    def test_fail(self):
        self.check("fail", "secure.test", mail_from="alice@secure.test", cert="rogue.secure.test")

    @row(TYPE, "Type 65300: none", "nomx.secure.test (no TYPE65300)", "none")
    def test_none(self):
        self.check("none", "nomx.secure.test", mail_from="alice@nomx.secure.test", cert="out1.secure.test")

    @row(TYPE, "Type 65300: bogus", "bogus.test and tampered.test (TYPE65300)", "temperror (DNSSEC bogus)")
    def test_bogus(self):
        for domain, cert in (("bogus.test", "out1.bogus.test"), ("tampered.test", "out1.secure.test")):
            with self.subTest(domain=domain):
                self.check(
                    "temperror", domain, comment="DNSSEC bogus", mail_from=f"alice@{domain}", cert=cert
                )

    @row(TYPE, "Type 65300: insecure", "insecure.test", 'pass, comment "DNSSEC insecure"')
    def test_insecure(self):
        self.check(
            "pass",
            "insecure.test",
            comment="DNSSEC insecure",
            mail_from="alice@insecure.test",
            cert="out1.insecure.test",
        )

    @row(
        TYPE,
        "Type 65300: malformed RDATA and null Client MX",
        "trunc.secure.test, nullmx.secure.test (TYPE65300)",
        "permerror; fail (null Client MX)",
    )
    def test_malformed_and_null(self):
        self.check(
            "permerror",
            "trunc.secure.test",
            reason="malformed Client MX record",
            mail_from="alice@trunc.secure.test",
            cert="out1.secure.test",
        )
        self.check(
            "fail",
            "nullmx.secure.test",
            reason="null Client MX: domain sends no mail",
            mail_from="alice@nullmx.secure.test",
            cert="out1.secure.test",
        )

    @row(
        TYPE,
        "Type 65300: null sender",
        "MAIL FROM:<>; EHLO out1.secure.test",
        "pass, smtp.helo=out1.secure.test",
    )
    def test_null_sender(self):
        self.check(
            "pass",
            "out1.secure.test",
            ptype="smtp.helo",
            mail_from="<>",
            helo="out1.secure.test",
            cert="out1.secure.test",
        )


class DefaultTypeOnPrivateZonesTests(RigTestCase):
    rig_options = {"client_mx_type": PRIVATE_TYPE}
    # The rig passes its own type to the milter unless told otherwise.
    milter_options = {"client_mx_type": 265}

    @row(
        TYPE,
        "Default type 265 against TYPE65300 zones",
        "zones publish TYPE65300 only; milter default --client-mx-type 265",
        "none",
    )
    def test_default_type_finds_nothing(self):
        self.check("none", "secure.test", mail_from="alice@secure.test", cert="out1.secure.test")


if __name__ == "__main__":
    unittest.main()
