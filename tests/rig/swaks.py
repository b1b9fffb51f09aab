"""Sending with swaks, and reading its transcript."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass
class SendResult:
    code: int | None  # reply to the end of DATA, else the last reply
    reply: str  # that reply's text
    queue_id: str | None
    subject: str
    output: str  # swaks transcript
    returncode: int

    def summary(self, brief=False):
        """The SMTP dialogue for humans; ``brief`` also drops the EHLO
        capability lists and connection chatter."""
        keep = []
        for line in self.output.splitlines():
            if not re.match(r"^\s*(<-|->|<~|~>|<\*\*|<~\*|\*\*|===)", line):
                continue
            if brief and (
                re.match(r"^\s*<[-~*]+\s+\d{3}-", line)
                or re.match(r"^=== (Trying|Connected|Connection closed)", line)
            ):
                continue
            keep.append(line)
        return "\n".join(keep)


_REPLY = re.compile(r"^\s*(?:<-|<~|<\*\*|<~\*)\s+(\d{3})([ -])(.*)$")
_COMMAND = re.compile(r"^\s*(?:->|~>|\*\*>|~\*>)\s+(.*)$")


def parse_swaks_output(output):
    """Return (code, text, queue_id) of the reply that decided the message:
    the reply to the end of DATA if swaks got that far, otherwise the last
    reply before QUIT (e.g. a rejection of MAIL FROM)."""
    last_cmd = None
    decisive = None
    data_reply = None
    sent_data = False
    for line in output.splitlines():
        m = _COMMAND.match(line)
        if m:
            last_cmd = m.group(1).strip()
            if re.match(r"^\d+ lines sent$", last_cmd) or last_cmd == ".":
                sent_data = True
            continue
        m = _REPLY.match(line)
        if not m or m.group(2) == "-":
            continue
        code, text = int(m.group(1)), m.group(3)
        if last_cmd and last_cmd.upper() == "QUIT":
            continue
        decisive = (code, text)
        if sent_data and data_reply is None:
            data_reply = (code, text)
    chosen = data_reply or decisive or (None, "")
    qid = None
    if chosen[0] == 250:
        m = re.search(r"queued as ([0-9A-Za-z]+)", chosen[1])
        qid = m.group(1) if m else None
    return chosen[0], chosen[1], qid
