#!/usr/bin/python3
"""A guided tour of mtls-milter for newcomers.

    /usr/bin/python3 scripts/demo.py --build-dir build

Starts the integration rig (a test CA, NSD with DNSSEC-signed zones, a private
Postfix) and the real milter, sends three messages, and shows for each what
the SMTP client saw, what Postfix concluded about the client certificate,
and the Authentication-Results header the milter added. Then it tears
everything down again. Needs root, like the tests.
"""

import argparse
import json
import os
import shlex
import signal
import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import rig as rigmod  # noqa: E402

SCENARIOS = [
    (
        "1. A message that passes",
        "alice@secure.test sends from out1.secure.test, presenting a certificate "
        "for out1.secure.test issued by a CA Postfix trusts. secure.test publishes "
        "a DNSSEC-signed Client MX record naming out1.secure.test.",
        dict(mail_from="alice@secure.test", helo="out1.secure.test", cert="out1.secure.test"),
    ),
    (
        "2. A message that fails",
        "Same domain, but the client presents a (valid, trusted) certificate for "
        "rogue.secure.test, which is not one of secure.test's Client MX hosts.",
        dict(mail_from="alice@secure.test", helo="rogue.secure.test", cert="rogue.secure.test"),
    ),
    (
        "3. A domain without Client MX",
        "nomx.secure.test exists but publishes no Client MX record: the domain has "
        "not opted in, so the result is none whatever the certificate says.",
        dict(mail_from="bob@nomx.secure.test", helo="out1.secure.test", cert="out1.secure.test"),
    ),
]


def section(title):
    print()
    print("=" * 78)
    print(title)
    print("=" * 78)


def indent(text, prefix="    "):
    return textwrap.indent(text, prefix)


def show(rig, title, story, kwargs):
    section(title)
    print(textwrap.fill(story, 78))
    sent = rig.send(expect_code=None, **kwargs)
    print("\nSMTP dialogue (swaks; '~>' and '<~' are inside TLS):")
    print(indent(sent.summary(brief=True)))
    print(f"\nFinal reply: {sent.code} {sent.reply}")
    if sent.code != 250:
        return
    msg = rig.wait_delivered(sent.subject)
    print("\nTop of the delivered message (the milter's header comes first):")
    for header in msg.headers[:2]:
        print(indent(f"{header.name}:{header.raw}"))
    for value in msg.our_auth_results():
        parsed = rigmod.parse_auth_results(value)
        for result in parsed.results:
            props = ", ".join(f"{k}={v}" for k, v in rigmod.result_props(result).items())
            print(
                f"\nParsed: method={result.method} result={result.result} {props}"
                + (f"\n        reason: {result.reason}" if result.reason else "")
            )
    try:
        record = rig.wait_log_record(sent.queue_id, timeout=5)
        print("\nThe milter's JSON log line for it:")
        print(indent(json.dumps(record, indent=2)))
    except rigmod.RigError:
        print("\n(no JSON log line found for this message)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("demo.py: must run as root (it starts Postfix, NSD and the milter)", file=sys.stderr)
        return 1
    rigmod.use_debian_python()
    missing = rigmod.missing_requirements()
    if missing:
        print("demo.py: missing requirements:\n  " + "\n  ".join(missing), file=sys.stderr)
        return 1

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    print("Starting the rig: test CA, NSD with signed zones, private Postfix, milter...")
    with rigmod.Rig(args.build_dir, keep=args.keep) as rig:
        rig.start_milter()
        print(f"  work directory : {rig.dir}")
        print(f"  Postfix smtpd  : 127.0.0.1:{rig.smtp_port}")
        print(f"  NSD (DNS)      : 127.0.0.1:{rig.dns.port}")
        print(f"  milter         : {shlex.join(rig.milter_cmdline)}")
        for title, story, kwargs in SCENARIOS:
            show(rig, title, story, kwargs)
        section("Done")
        print(
            "Everything is being stopped and the temporary directory removed"
            + (" (kept: --keep)." if args.keep else ".")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
