#!/usr/bin/python3
"""Generate the conformance table in docs/CONFORMANCE.md from the tests.

    /usr/bin/python3 scripts/conformance_table.py --write   # regenerate
    /usr/bin/python3 scripts/conformance_table.py --check   # exit 1 on drift
    /usr/bin/python3 scripts/conformance_table.py           # print the table

The rows come from the tests' ``@row(...)`` decorators
(tests/rig/conformance_table.py); test_conformance_doc.py runs the check as
part of the suite. No rig is started, no root is needed.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from rig.conformance_table import DOC, collect, drift, render, replace_generated  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="update docs/CONFORMANCE.md")
    mode.add_argument("--check", action="store_true", help="exit 1 if the document differs")
    args = parser.parse_args(argv)
    if args.check:
        diff = drift()
        if diff:
            sys.stdout.write(diff)
            print(
                "docs/CONFORMANCE.md is out of date: run " "scripts/conformance_table.py --write",
                file=sys.stderr,
            )
            return 1
        return 0
    table = render(collect())
    if args.write:
        DOC.write_text(replace_generated(DOC.read_text(), table))
        print(f"wrote {DOC}")
    else:
        sys.stdout.write(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
