"""Helpers shared by the end-to-end test modules: the base TestCase that
sends mail through the shared rig and the checks every verdict test makes.

Not a test module itself (no ``test_`` prefix), so unittest does not
collect it; its classes hold no test methods.
"""

from __future__ import annotations

import re
import time
import unittest

from .base import AUTHSERV_ID
from .messages import authserv_id_of, result_props
from .rig import shared_rig


def describe(msg):
    """The delivered header block, for assertion messages."""
    return "\n".join(f"{h.name}:{h.raw}" for h in msg.headers)


def postfix_tls_verdict(msg):
    """What Postfix itself concluded about the client certificate, from its
    Received: header (smtpd_tls_received_header = yes). Tests assert it so
    that a wrong premise (say, an "unknown CA" certificate that Postfix does
    trust after all) cannot make a test pass for the wrong reason."""
    received = msg.get("Received") or ""
    if "(verified OK)" in received:
        return "verified"
    if "(not verified)" in received:
        return "not verified"
    if "did not present a certificate" in received:
        return "no certificate"
    if "using TLS" in received:
        return "tls"
    return "no tls"


def postfix_client_cn(msg):
    """The client CN as Postfix printed it in Received: (the same text it
    hands a milter as {cert_subject}, but with non-ASCII shown as '?');
    None when Postfix printed none."""
    m = re.search(r'\(Client CN "([^"]*)"', msg.get("Received") or "")
    return m.group(1) if m else None


class RigTestCase(unittest.TestCase):
    """Sends mail through the run's shared rig (rig.shared_rig) with the
    milter options of the subclass (``milter_options``); ``rig_options``
    picks another shared rig (e.g. another Client MX type)."""

    milter_options: dict = {}
    rig_options: dict = {}
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.rig = shared_rig(**cls.rig_options)
        cls.rig.ensure_milter(**cls.milter_options)

    def deliver(self, **send_kwargs):
        sent = self.rig.send(**send_kwargs)
        return sent, self.rig.wait_delivered(sent.subject)

    def assert_verdict(self, msg, expected, identity, ptype="smtp.mailfrom", reason=None, comment=None):
        """The checks every verdict test makes; returns the authres result.

        Our header must be the very first one (above Postfix's Received:),
        there must be exactly one A-R with our authserv-id holding exactly
        one mtls result, with the expected result and identity (``identity``
        None: no smtp.* property at all, as for an unusable identity).
        ``reason``: the exact reason= text (None: not checked; "" : absent).
        ``comment``: text that must appear in the header's comments."""
        headers = describe(msg)
        first = msg.first_header
        self.assertEqual(
            first.name.lower(), "authentication-results", f"our A-R is not the first header:\n{headers}"
        )
        self.assertEqual(
            authserv_id_of(first.value), AUTHSERV_ID.lower(), f"first header is not our A-R:\n{headers}"
        )
        names = [h.name.lower() for h in msg.headers]
        self.assertIn("received", names)
        self.assertLess(0, names.index("received"), f"Postfix's Received: is above our A-R:\n{headers}")

        ours = msg.our_auth_results()
        self.assertEqual(len(ours), 1, f"expected exactly one A-R from {AUTHSERV_ID}:\n{headers}")
        results = msg.mtls_results()
        self.assertEqual(len(results), 1, f"expected exactly one mtls result from {AUTHSERV_ID}:\n{headers}")
        result = results[0]
        self.assertEqual(result.result, expected, f"wrong mtls result:\n{headers}")
        props = result_props(result)
        if identity is None:
            self.assertFalse(
                [p for p in props if p.startswith("smtp.")], f"unexpected identity property:\n{headers}"
            )
        else:
            self.assertEqual(
                props.get(ptype, "").lower(), identity.lower(), f"wrong or missing {ptype}:\n{headers}"
            )
            other = "smtp.helo" if ptype == "smtp.mailfrom" else "smtp.mailfrom"
            self.assertNotIn(other, props, f"unexpected {other}:\n{headers}")
        if reason is not None:
            self.assertEqual(result.reason or "", reason, f"wrong reason:\n{headers}")
        if comment is not None:
            self.assertIn(
                comment, re.sub(r"\s+", " ", ours[0]), f"header comment lacks {comment!r}:\n{headers}"
            )
        return result

    def check(
        self,
        expected,
        identity,
        ptype="smtp.mailfrom",
        tls_verdict=None,
        reason=None,
        comment=None,
        client_cn=None,
        **send_kwargs,
    ):
        """Send, wait for delivery, assert the verdict (and, when given,
        Postfix's own view of the client certificate: ``tls_verdict`` and
        the ``client_cn`` it printed)."""
        sent, msg = self.deliver(**send_kwargs)
        if tls_verdict is not None:
            self.assertEqual(
                postfix_tls_verdict(msg),
                tls_verdict,
                "test premise broken: Postfix saw the client " f"certificate differently:\n{describe(msg)}",
            )
        if client_cn is not None:
            self.assertEqual(
                postfix_client_cn(msg),
                client_cn,
                f"test premise broken: Postfix read another CN:\n{describe(msg)}",
            )
        result = self.assert_verdict(msg, expected, identity, ptype, reason, comment)
        return sent, msg, result

    def timed_check(self, limit, *args, **kwargs):
        """check(), also asserting the whole SMTP transaction and delivery
        took less than ``limit`` seconds; returns (elapsed, sent, msg, result)."""
        started = time.monotonic()
        sent, msg, result = self.check(*args, **kwargs)
        elapsed = time.monotonic() - started
        self.assertLess(elapsed, limit, f"took {elapsed:.1f}s")
        return elapsed, sent, msg, result
