#!/usr/bin/python3
"""docs/CONFORMANCE.md must be exactly what conformance_table.py generates
from the tests' @row decorators, and the matrix modules must not hold
undocumented tests. Needs no rig.

Run through run_tests.py (``run_tests.py --build-dir build conformance_doc``),
or as ``/usr/bin/python3 scripts/conformance_table.py --check``.
"""

import unittest

from rig import conformance_table
from rig.conformance import row_of

# Every test in these modules is a row of the matrix.
MATRIX_MODULES = ("test_conformance", "test_milter_protocol", "test_client_mx_type", "test_dane")


class ConformanceDocTests(unittest.TestCase):
    maxDiff = None

    def test_document_matches_tests(self):
        diff = conformance_table.drift()
        self.assertEqual(
            diff,
            "",
            "docs/CONFORMANCE.md differs from the tests; run "
            "scripts/conformance_table.py --write\n" + diff,
        )

    def test_every_matrix_test_is_a_row(self):
        loader = unittest.TestLoader()
        missing = []
        for name in MATRIX_MODULES:
            suite = loader.loadTestsFromName(name)
            for test in conformance_table._iter_tests(suite):
                if row_of(getattr(type(test), test._testMethodName)) is None:
                    missing.append(test.id())
        self.assertEqual(missing, [], "tests without a @row decorator")

    def test_cases_are_unique(self):
        rows = conformance_table.collect()
        seen = {}
        for entry, test_id, _, _ in rows:
            key = (entry.section, entry.case)
            self.assertNotIn(key, seen, f"{test_id} repeats the case of {seen.get(key)}")
            seen[key] = test_id
        self.assertGreater(len(rows), 100, "suspiciously few rows: did discovery break?")


if __name__ == "__main__":
    unittest.main()
