"""Messages: the ones tests send, and the delivered ones with their
Authentication-Results."""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .base import authres, AUTHSERV_ID, RigError


def authserv_id_of(value):
    """The authserv-id of an A-R header value, tolerant of what authres does
    not parse (a quoted authserv-id, comments before it), so that any
    forged header that survived can still be counted."""
    text = value.strip()
    while text.startswith("("):
        depth = 0
        for i, ch in enumerate(text):
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
                if depth == 0:
                    text = text[i + 1 :].lstrip()
                    break
        else:
            return ""
    if text.startswith('"'):
        end = text.find('"', 1)
        return text[1:end].lower() if end > 0 else ""
    match = re.match(r"[^\s;()]+", text)
    return match.group(0).lower() if match else ""


@dataclass
class Header:
    name: str
    raw: str  # value as folded on the wire (lines joined with "\n")

    @property
    def value(self):
        """Unfolded value (RFC 5322: remove the line breaks, keep the WSP)."""
        return self.raw.replace("\n", "").strip()


@dataclass
class DeliveredMessage:
    path: Path
    raw: bytes
    headers: list[Header] = field(default_factory=list)

    @classmethod
    def load(cls, path):
        raw = Path(path).read_bytes()
        head = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].decode("utf-8", "replace")
        headers: list[Header] = []
        for line in head.split("\n"):
            if line[:1] in (" ", "\t") and headers:
                headers[-1].raw += "\n" + line
            elif ":" in line:
                name, _, value = line.partition(":")
                headers.append(Header(name.strip(), value))
        return cls(Path(path), raw, headers)

    def get_all(self, name):
        return [h.value for h in self.headers if h.name.lower() == name.lower()]

    def get(self, name):
        values = self.get_all(name)
        return values[0] if values else None

    @property
    def first_header(self) -> Header:
        return self.headers[0]

    def auth_results(self):
        """All Authentication-Results values, top first."""
        return self.get_all("Authentication-Results")

    def our_auth_results(self, authserv_id=AUTHSERV_ID):
        return [v for v in self.auth_results() if authserv_id_of(v) == authserv_id.lower()]

    def parsed_auth_results(self):
        """authres objects for every A-R header authres can parse, top first."""
        return [parse_auth_results(v) for v in self.auth_results()]

    def mtls_results(self, authserv_id=AUTHSERV_ID):
        """Every ``mtls`` result (authres.AuthenticationResult) in A-R headers
        that carry our authserv-id."""
        out = []
        for value in self.our_auth_results(authserv_id):
            out += [r for r in parse_auth_results(value).results if r.method == "mtls"]
        return out


def parse_auth_results(value):
    if authres is None:
        raise RigError("python3-authres is not installed")
    return authres.AuthenticationResultsHeader.parse_value(value)


def result_props(result):
    """{"smtp.mailfrom": "secure.test", ...} for one authres result."""
    return {f"{p.type}.{p.name}": p.value for p in result.properties}


def new_subject():
    """Unique Subject: how a test finds its own message in the inbox."""
    return f"mtls-it {uuid.uuid4().hex[:16]}"


def message_text(subject, mail_from, rcpt, extra_headers=(), header_from=None):
    """A small RFC 5322 message with CRLF line ends. ``extra_headers`` are
    complete header fields (may contain CRLF + WSP to fold), placed after
    the standard ones. ``header_from``: the From address, by default the
    MAIL FROM address (postmaster@secure.test for the null sender)."""
    if header_from is None:
        header_from = "postmaster@secure.test" if mail_from in ("", "<>") else mail_from
    lines = [
        f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime())}",
        f"From: <{header_from}>",
        f"To: <{rcpt}>",
        f"Subject: {subject}",
        f"Message-ID: <{uuid.uuid4().hex}@mtls-it.test>",
        *extra_headers,
        "",
        "Test message from the mtls-milter integration rig.",
        "",
    ]
    return "\r\n".join(lines)
