#!/usr/bin/python3
"""Run the mtls-milter end-to-end tests.

    /usr/bin/python3 tests/integration/run_tests.py --build-dir build [PATTERN...]

PATTERNs select tests like ``unittest -k`` (substring or fnmatch pattern of
``module.Class.test``). The last line printed is ``N passed, N failed`` (plus
``, N skipped``), which CI reads; the exit status is non-zero on any failure
or error, and also when no test ran, so a broken selection is not a green run.

The tests start NSD, a private Postfix and the milter, so they need root and
a handful of Debian packages; this script checks both up front and says what
to install rather than failing half-way through.
"""

import argparse
import os
import signal
import sys
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The rig package (tests/rig) that every test module imports.
sys.path.insert(0, str(HERE.parent))


class CountingResult(unittest.TextTestResult):
    """Counts tests, not events: a test with three failing subtests is one
    failure, and an error in setUpClass/setUpModule is one failure too."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.outcomes = {}

    def _mark(self, test, outcome):
        key = test.id()
        if self.outcomes.get(key) != "failed":
            self.outcomes[key] = outcome

    def addSuccess(self, test):
        super().addSuccess(test)
        self._mark(test, "passed")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._mark(test, "failed")

    def addError(self, test, err):
        super().addError(test, err)
        self._mark(test, "failed")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._mark(test, "failed")

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._mark(test, "skipped")

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._mark(test, "passed")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._mark(test, "failed")

    def counts(self):
        values = list(self.outcomes.values())
        return values.count("passed"), values.count("failed"), values.count("skipped")


class Runner(unittest.TextTestRunner):
    """Keeps its result object, so an interrupted run can still report
    what it had counted."""

    result = None

    def _makeResult(self):
        self.result = super()._makeResult()
        return self.result


def summary_line(passed, failed, skipped):
    line = f"{passed} passed, {failed} failed"
    return line + (f", {skipped} skipped" if skipped else "")


def refuse(message):
    print(f"run_tests.py: {message}", file=sys.stderr)
    return 1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", required=True, help="CMake build directory holding milter/mtls-milter")
    parser.add_argument(
        "--keep", action="store_true", help="keep the rig's temporary directories for inspection"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="one character per test")
    parser.add_argument("patterns", nargs="*", help="test name patterns (like unittest -k)")
    args = parser.parse_args(argv)

    if os.geteuid() != 0:
        return refuse("must run as root (it starts a private Postfix, NSD and the milter)")

    import rig

    rig.use_debian_python()
    missing = rig.missing_requirements()
    if missing:
        return refuse("missing requirements:\n  " + "\n  ".join(missing))

    build_dir = Path(args.build_dir).resolve()
    milter = build_dir / "milter" / "mtls-milter"
    if not os.access(milter, os.X_OK):
        return refuse(f"milter binary not found or not executable: {milter} " "(build the project first)")

    os.environ["MTLS_BUILD_DIR"] = str(build_dir)
    if args.keep:
        os.environ["MTLS_IT_KEEP"] = "1"

    # SIGTERM (e.g. a CI timeout) and SIGINT must still run the rig's
    # cleanup, which happens on the way out of a Python exception, not on a
    # bare signal. SIGINT is set explicitly because a shell starting us in
    # the background without job control leaves it ignored.
    def on_signal(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    loader = unittest.TestLoader()
    if args.patterns:
        loader.testNamePatterns = [p if "*" in p else f"*{p}*" for p in args.patterns]
    suite = loader.discover(str(HERE), pattern="test_*.py", top_level_dir=str(HERE))

    runner = Runner(stream=sys.stdout, verbosity=1 if args.quiet else 2, resultclass=CountingResult)
    try:
        try:
            result = runner.run(suite)
        finally:
            # Modules share rigs (rig.shared_rig), so no module closes them.
            rig.close_all_rigs()
    except KeyboardInterrupt:
        rig.close_all_rigs()
        print("\ninterrupted; the rig has been torn down", file=sys.stderr)
        passed, failed, skipped = runner.result.counts() if runner.result else (0, 0, 0)
        print(summary_line(passed, failed + 1, skipped))  # the interrupted test
        return 130

    passed, failed, skipped = result.counts()
    if passed + failed + skipped == 0:
        print("run_tests.py: no test matched", file=sys.stderr)
        failed = 1
    print(summary_line(passed, failed, skipped))
    return 0 if failed == 0 and result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
