"""Names every part of the rig shares: the receiving host's identity, the
SMTP-AUTH account, the default Client MX type, and RigError."""

from __future__ import annotations

import os
import uuid

try:
    import authres
except ImportError:  # run_tests.py reports this with the package to install
    authres = None

# postfix, postconf and nsd live in /usr/sbin, which a non-login PATH may lack.
for _sbin in ("/usr/sbin", "/sbin"):
    if _sbin not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = os.environ.get("PATH", "") + os.pathsep + _sbin

AUTHSERV_ID = "mx.inbox.test"
RECIPIENT = "user@inbox.test"
# SMTP-AUTH account of the rig's Postfix (Cyrus SASL, sasldb).
SASL_USER = "submitter@inbox.test"
SASL_PASSWORD = "rig-" + uuid.uuid4().hex[:12]
DEFAULT_CLIENT_MX_TYPE = 265


class RigError(RuntimeError):
    """A rig component could not be set up or did not answer in time."""


def keep_requested():
    """Whether MTLS_IT_KEEP (run_tests.py --keep) asks the rigs to keep
    their temporary directories for inspection."""
    return os.environ.get("MTLS_IT_KEEP", "").lower() not in ("", "0", "no", "false")
