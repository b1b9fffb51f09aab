"""What the rig needs from the machine, and the interpreter that has it."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

from .base import authres
from .postfix import DEFAULT_MAIN_CF

# Debian package that provides each external tool the rig needs.
REQUIRED_TOOLS = {
    "openssl": "openssl",
    "nsd": "nsd",
    "nsd-checkconf": "nsd",
    "ldns-keygen": "ldnsutils",
    "ldns-signzone": "ldnsutils",
    "postfix": "postfix",
    "postconf": "postfix",
    "swaks": "swaks",
    "saslpasswd2": "sasl2-bin",
    # The outbound rig (rig/outbound.py).
    "unbound": "unbound",
    "unshare": "util-linux",
    "nsenter": "util-linux",
    "mta-sts-daemon": "postfix-mta-sts-resolver",
    # The DKIM verifier between the two stages of tests/integration/test_dmarc.py.
    "opendkim": "opendkim",
}


def use_debian_python():
    """Re-run the calling script under /usr/bin/python3 when started by
    another interpreter (e.g. pyenv's python3 first on PATH) that lacks
    Debian's authres module. Returns only if no re-exec was needed."""
    debian = "/usr/bin/python3"
    if (
        authres is None
        and os.path.exists(debian)
        and os.path.realpath(sys.executable) != os.path.realpath(debian)
        and not os.environ.get("MTLS_IT_REEXEC")
    ):
        os.environ["MTLS_IT_REEXEC"] = "1"
        os.execv(debian, [debian, *sys.argv])


def missing_requirements():
    """Human-readable list of what is missing to run the rig (empty if ok)."""
    missing = []
    for tool, package in REQUIRED_TOOLS.items():
        if shutil.which(tool) is None:
            missing.append(f"{tool} (apt-get install {package})")
    if authres is None:
        missing.append(
            "Python module authres (apt-get install python3-authres; " "run with /usr/bin/python3)"
        )
    if importlib.util.find_spec("cryptography") is None:
        missing.append("Python module cryptography, for DKIM keys (apt-get install python3-cryptography)")
    if not Path("/usr/share/postfix/main.cf.debian").exists() and not DEFAULT_MAIN_CF.exists():
        missing.append("/usr/share/postfix/main.cf.debian (apt-get install postfix)")
    return missing
