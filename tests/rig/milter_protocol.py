#!/usr/bin/python3
"""A small, strict milter protocol client (protocol version 6, as spoken by
Sendmail 8.14+ and Postfix 2.6+), for driving a real milter from tests.

The client plays the MTA: it negotiates, sends macros and SMTP events, and
parses every reply. It is strict where a lenient client would hide a bug:

* it honours what the filter negotiated: steps the filter asked to skip
  (SMFIP_NOCONNECT ... SMFIP_NOEOH, SMFIP_NOBODY, SMFIP_NORCPT, ...) are
  not sent, replies the filter said it will not send (SMFIP_NR_*) are not
  awaited, and macros go only as the filter's symbol lists (SMFIR_SETSYMLIST
  in the negotiation reply) allow, as Sendmail does;
* a reply that is not valid at that point (a header change outside end of
  message, an action the filter did not negotiate, an unknown code, an
  oversized or truncated packet) raises ProtocolError;
* every read has a socket timeout, and the number of progress replies
  ('p') accepted while waiting is bounded.

Typical use::

    with MilterClient(("127.0.0.1", port)) as milter:
        milter.negotiate()
        result = milter.send_message(
            connect=("mail.example.org", "127.0.0.1"), helo="mail.example.org",
            mail_from="<alice@example.org>", rcpts=["<bob@example.net>"],
            headers=[("Subject", "hi")], body=b"text\\r\\n",
            macros={"H": {"{verify}": "OK"}, "M": {"i": "QID1"}})
        result.final            # Reply('c') / 'a' / 'r' / 't' / 'y' / 'd'
        result.modifications    # [InsertHeader(0, name, value), ...] in order

Only the standard library is used.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass, field

PROTOCOL_VERSION = 6

# -- commands, MTA -> filter ------------------------------------------------
SMFIC_ABORT = b"A"
SMFIC_BODY = b"B"
SMFIC_CONNECT = b"C"
SMFIC_MACRO = b"D"
SMFIC_BODYEOB = b"E"
SMFIC_HELO = b"H"
SMFIC_QUIT_NC = b"K"
SMFIC_HEADER = b"L"
SMFIC_MAIL = b"M"
SMFIC_EOH = b"N"
SMFIC_OPTNEG = b"O"
SMFIC_QUIT = b"Q"
SMFIC_RCPT = b"R"
SMFIC_DATA = b"T"
SMFIC_UNKNOWN = b"U"

# -- replies, filter -> MTA ---------------------------------------------------
SMFIR_ADDRCPT = b"+"
SMFIR_DELRCPT = b"-"
SMFIR_ADDRCPT_PAR = b"2"
SMFIR_SHUTDOWN = b"4"
SMFIR_ACCEPT = b"a"
SMFIR_REPLBODY = b"b"
SMFIR_CONTINUE = b"c"
SMFIR_DISCARD = b"d"
SMFIR_CHGFROM = b"e"
SMFIR_CONN_FAIL = b"f"
SMFIR_ADDHEADER = b"h"
SMFIR_INSHEADER = b"i"
SMFIR_SETSYMLIST = b"l"
SMFIR_CHGHEADER = b"m"
SMFIR_PROGRESS = b"p"
SMFIR_QUARANTINE = b"q"
SMFIR_REJECT = b"r"
SMFIR_SKIP = b"s"
SMFIR_TEMPFAIL = b"t"
SMFIR_REPLYCODE = b"y"

# -- actions the filter may take (SMFIF_*) -------------------------------------
SMFIF_ADDHDRS = 0x001
SMFIF_CHGBODY = 0x002
SMFIF_ADDRCPT = 0x004
SMFIF_DELRCPT = 0x008
SMFIF_CHGHDRS = 0x010
SMFIF_QUARANTINE = 0x020
SMFIF_CHGFROM = 0x040
SMFIF_ADDRCPT_PAR = 0x080
SMFIF_SETSYMLIST = 0x100
ALL_ACTIONS = 0x1FF

# -- protocol steps (SMFIP_*) ----------------------------------------------------
SMFIP_NOCONNECT = 0x000001
SMFIP_NOHELO = 0x000002
SMFIP_NOMAIL = 0x000004
SMFIP_NORCPT = 0x000008
SMFIP_NOBODY = 0x000010
SMFIP_NOHDRS = 0x000020
SMFIP_NOEOH = 0x000040
SMFIP_NR_HDR = 0x000080
SMFIP_NOUNKNOWN = 0x000100
SMFIP_NODATA = 0x000200
SMFIP_SKIP = 0x000400
SMFIP_RCPT_REJ = 0x000800
SMFIP_NR_CONN = 0x001000
SMFIP_NR_HELO = 0x002000
SMFIP_NR_MAIL = 0x004000
SMFIP_NR_RCPT = 0x008000
SMFIP_NR_DATA = 0x010000
SMFIP_NR_UNKN = 0x020000
SMFIP_NR_EOH = 0x040000
SMFIP_NR_BODY = 0x080000
SMFIP_HDR_LEADSPC = 0x100000
ALL_STEPS = 0x1FFFFF  # what Sendmail 8.14+ offers (SMFI_CURR_PROT)

# Symbol-list stages (SMFIM_*) and the command whose macros each governs.
STAGE_COMMANDS = {0: "C", 1: "H", 2: "M", 3: "R", 4: "T", 5: "E", 6: "N"}

# For each command: the step flag that skips it and the flag that says the
# filter will not reply to it.
_STEP_FLAGS = {
    SMFIC_CONNECT: (SMFIP_NOCONNECT, SMFIP_NR_CONN),
    SMFIC_HELO: (SMFIP_NOHELO, SMFIP_NR_HELO),
    SMFIC_MAIL: (SMFIP_NOMAIL, SMFIP_NR_MAIL),
    SMFIC_RCPT: (SMFIP_NORCPT, SMFIP_NR_RCPT),
    SMFIC_DATA: (SMFIP_NODATA, SMFIP_NR_DATA),
    SMFIC_HEADER: (SMFIP_NOHDRS, SMFIP_NR_HDR),
    SMFIC_EOH: (SMFIP_NOEOH, SMFIP_NR_EOH),
    SMFIC_BODY: (SMFIP_NOBODY, SMFIP_NR_BODY),
    SMFIC_UNKNOWN: (SMFIP_NOUNKNOWN, SMFIP_NR_UNKN),
}

# Modifications a filter may send only at end of message, and the action
# flag it must have negotiated for each.
_MODIFICATIONS = {
    SMFIR_ADDHEADER: SMFIF_ADDHDRS,
    SMFIR_INSHEADER: SMFIF_ADDHDRS,
    SMFIR_CHGHEADER: SMFIF_CHGHDRS,
    SMFIR_QUARANTINE: SMFIF_QUARANTINE,
    SMFIR_ADDRCPT: SMFIF_ADDRCPT,
    SMFIR_ADDRCPT_PAR: SMFIF_ADDRCPT_PAR,
    SMFIR_DELRCPT: SMFIF_DELRCPT,
    SMFIR_REPLBODY: SMFIF_CHGBODY,
    SMFIR_CHGFROM: SMFIF_CHGFROM,
}
# Replies that answer a command (as opposed to modifications).
_VERDICTS = {
    SMFIR_ACCEPT,
    SMFIR_CONTINUE,
    SMFIR_DISCARD,
    SMFIR_REJECT,
    SMFIR_TEMPFAIL,
    SMFIR_REPLYCODE,
    SMFIR_SKIP,
    SMFIR_CONN_FAIL,
    SMFIR_SHUTDOWN,
}

MAX_PACKET = 1 << 20  # libmilter's largest negotiable data size is 1 MiB
MAX_PROGRESS = 1000  # 'p' replies accepted while waiting for one answer
MAX_MODIFICATIONS = 1000000  # modifications accepted at one end of message


class ProtocolError(RuntimeError):
    """The filter said something the protocol does not allow here."""


@dataclass(frozen=True)
class Reply:
    """One packet from the filter: its code letter and raw payload."""

    code: bytes
    data: bytes = b""

    @property
    def name(self):
        return _REPLY_NAMES.get(self.code, repr(self.code))

    @property
    def text(self):
        """For 'y' (REPLYCODE) and 'q' (QUARANTINE): the NUL-terminated text."""
        return self.data.rstrip(b"\0").decode("utf-8", "replace")

    @property
    def smtp_code(self):
        """For 'y': the three-digit SMTP code as an int."""
        return int(self.text[:3]) if self.code == SMFIR_REPLYCODE else None

    def __str__(self):
        return (
            f"{self.name}({self.text!r})" if self.code in (SMFIR_REPLYCODE, SMFIR_QUARANTINE) else self.name
        )


_REPLY_NAMES = {
    SMFIR_ADDRCPT: "ADDRCPT",
    SMFIR_DELRCPT: "DELRCPT",
    SMFIR_ADDRCPT_PAR: "ADDRCPT_PAR",
    SMFIR_SHUTDOWN: "SHUTDOWN",
    SMFIR_ACCEPT: "ACCEPT",
    SMFIR_REPLBODY: "REPLBODY",
    SMFIR_CONTINUE: "CONTINUE",
    SMFIR_DISCARD: "DISCARD",
    SMFIR_CHGFROM: "CHGFROM",
    SMFIR_CONN_FAIL: "CONN_FAIL",
    SMFIR_ADDHEADER: "ADDHEADER",
    SMFIR_INSHEADER: "INSHEADER",
    SMFIR_SETSYMLIST: "SETSYMLIST",
    SMFIR_CHGHEADER: "CHGHEADER",
    SMFIR_PROGRESS: "PROGRESS",
    SMFIR_QUARANTINE: "QUARANTINE",
    SMFIR_REJECT: "REJECT",
    SMFIR_SKIP: "SKIP",
    SMFIR_TEMPFAIL: "TEMPFAIL",
    SMFIR_REPLYCODE: "REPLYCODE",
}


# -- decoded modifications ------------------------------------------------------


@dataclass(frozen=True)
class InsertHeader:
    """SMFIR_INSHEADER: insert at ``index`` (0 = above every header)."""

    index: int
    name: str
    value: str


@dataclass(frozen=True)
class ChangeHeader:
    """SMFIR_CHGHEADER: the ``index``-th (1-based) header called ``name``
    gets ``value``; an empty value deletes it."""

    index: int
    name: str
    value: str

    @property
    def is_delete(self):
        return self.value == ""


@dataclass(frozen=True)
class AddHeader:
    """SMFIR_ADDHEADER: append a header at the end of the header block."""

    name: str
    value: str


@dataclass(frozen=True)
class Quarantine:
    reason: str


@dataclass(frozen=True)
class OtherModification:
    """Recipient, sender and body changes: kept raw."""

    reply: Reply


def _split_nul(data, count, what):
    """``count`` NUL-terminated strings from ``data``; exactly, no slack."""
    parts = data.split(b"\0")
    if len(parts) != count + 1 or parts[-1] != b"":
        raise ProtocolError(f"{what}: expected {count} NUL-terminated strings, got {data!r}")
    return [p.decode("utf-8", "surrogateescape") for p in parts[:-1]]


def decode_modification(reply: Reply):
    data = reply.data
    if reply.code in (SMFIR_INSHEADER, SMFIR_CHGHEADER):
        if len(data) < 4:
            raise ProtocolError(f"{reply.name} without an index: {data!r}")
        index = struct.unpack("!I", data[:4])[0]
        name, value = _split_nul(data[4:], 2, reply.name)
        cls = InsertHeader if reply.code == SMFIR_INSHEADER else ChangeHeader
        return cls(index, name, value)
    if reply.code == SMFIR_ADDHEADER:
        return AddHeader(*_split_nul(data, 2, reply.name))
    if reply.code == SMFIR_QUARANTINE:
        return Quarantine(_split_nul(data, 1, reply.name)[0])
    return OtherModification(reply)


# -- results -------------------------------------------------------------------------


@dataclass
class Negotiated:
    version: int
    actions: int
    protocol: int
    # Stage command letter ("C", "H", "M", ...) -> macro names the filter
    # asked for, when it set a symbol list for that stage.
    symlists: dict[str, list[str]] = field(default_factory=dict)

    def skips(self, command):
        return bool(self.protocol & _STEP_FLAGS[command][0])

    def no_reply(self, command):
        return bool(self.protocol & _STEP_FLAGS[command][1])


@dataclass
class MessageResult:
    """What the filter answered over one message (or connection)."""

    replies: dict[str, Reply | None] = field(default_factory=dict)  # stage -> reply
    modifications: list = field(default_factory=list)  # decoded, in order
    final: Reply | None = None  # the reply that decided the message
    decided_at: str | None = None  # the stage it came from
    sent: list[str] = field(default_factory=list)  # commands sent, in order
    macros_sent: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def header_changes(self):
        return [m for m in self.modifications if isinstance(m, (InsertHeader, ChangeHeader, AddHeader))]

    def describe(self):
        lines = [f"sent: {' '.join(self.sent)}"]
        lines += [f"  {stage}: {reply}" for stage, reply in self.replies.items()]
        lines += [f"  mod: {m}" for m in self.modifications]
        lines.append(f"final: {self.final} at {self.decided_at}")
        return "\n".join(lines)


# -- the client ----------------------------------------------------------------------


def _cstr(value):
    """A NUL-terminated protocol string. str is sent as UTF-8 (lone
    surrogates from surrogateescape become the original bytes); a NUL inside
    would end the string early on the filter side, so it is refused."""
    raw = value if isinstance(value, bytes) else value.encode("utf-8", "surrogateescape")
    if b"\0" in raw:
        raise ValueError(f"NUL inside a milter string: {raw!r}")
    return raw + b"\0"


def _macro_key(name):
    """Sendmail treats "{i}" and "i" as the same macro."""
    return name[1:-1] if name.startswith("{") and name.endswith("}") else name


class MilterClient:
    """One milter connection (one SMTP connection as the filter sees it)."""

    def __init__(
        self, address, timeout=10.0, actions=ALL_ACTIONS, protocol=ALL_STEPS, version=PROTOCOL_VERSION
    ):
        family = socket.AF_UNIX if isinstance(address, (str, bytes)) else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(address)
        except OSError:
            self.sock.close()
            raise
        self.offer = (version, actions, protocol)
        self.negotiated: Negotiated | None = None
        self.connection_accepted = False  # the filter accepted the whole connection
        self.log: list[str] = []  # every packet, for assertion messages

    # -- context manager -------------------------------------------------------
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            if self.negotiated is not None:
                self._send(SMFIC_QUIT)
        except OSError:
            pass
        finally:
            self.sock.close()

    # -- framing -----------------------------------------------------------------
    def _send(self, command, payload=b""):
        if len(payload) + 1 > MAX_PACKET:
            raise ValueError("packet too large")
        self.log.append(f"-> {command.decode()} {payload[:200]!r}")
        self.sock.sendall(struct.pack("!I", len(payload) + 1) + command + payload)

    def _recv_exact(self, count):
        chunks = []
        while count:
            chunk = self.sock.recv(count)
            if not chunk:
                raise ProtocolError("filter closed the connection\n" + "\n".join(self.log[-20:]))
            chunks.append(chunk)
            count -= len(chunk)
        return b"".join(chunks)

    def read_reply(self, negotiation=False) -> Reply:
        (length,) = struct.unpack("!I", self._recv_exact(4))
        if length < 1 or length > MAX_PACKET:
            raise ProtocolError(f"bad packet length {length}")
        body = self._recv_exact(length)
        reply = Reply(body[:1], body[1:])
        self.log.append(f"<- {reply.name} {reply.data[:200]!r}")
        if negotiation and reply.code == SMFIC_OPTNEG:
            return reply  # the only reply that reuses a command letter
        if reply.code not in _REPLY_NAMES:
            raise ProtocolError(f"unknown reply code {reply.code!r}")
        return reply

    def _await(self, command, allow_modifications=False, modifications=None):
        """The filter's answer to ``command``: progress replies are skipped
        (bounded), modifications collected when allowed."""
        progress = 0
        while True:  # each turn returns, raises or counts against a bound
            reply = self.read_reply()
            if reply.code == SMFIR_PROGRESS:
                progress += 1
                if progress > MAX_PROGRESS:
                    raise ProtocolError(f"more than {MAX_PROGRESS} progress replies")
                continue
            if reply.code in _MODIFICATIONS:
                if not allow_modifications:
                    raise ProtocolError(
                        f"{reply.name} in reply to {command!r}: only allowed " "at end of message"
                    )
                if len(modifications) >= MAX_MODIFICATIONS:
                    raise ProtocolError(f"more than {MAX_MODIFICATIONS} modifications")
                needed = _MODIFICATIONS[reply.code]
                if not self.negotiated.actions & needed:
                    raise ProtocolError(f"{reply.name} without having negotiated action " f"0x{needed:x}")
                modifications.append(decode_modification(reply))
                continue
            if reply.code == SMFIR_SKIP and not (
                command == SMFIC_BODY and self.negotiated.protocol & SMFIP_SKIP
            ):
                raise ProtocolError(
                    "SKIP is only allowed in reply to a body chunk " "after negotiating SMFIP_SKIP"
                )
            if reply.code not in _VERDICTS:
                raise ProtocolError(f"{reply.name} is not an answer to {command!r}")
            return reply

    # -- negotiation ----------------------------------------------------------------
    def negotiate(self) -> Negotiated:
        self._send(SMFIC_OPTNEG, struct.pack("!III", *self.offer))
        reply = self.read_reply(negotiation=True)
        if reply.code != SMFIC_OPTNEG:
            raise ProtocolError(f"negotiation answered with {reply.name}")
        if len(reply.data) < 12:
            raise ProtocolError(f"short negotiation reply {reply.data!r}")
        version, actions, protocol = struct.unpack("!III", reply.data[:12])
        offered_version, offered_actions, offered_protocol = self.offer
        if version < 2 or version > offered_version:
            raise ProtocolError(f"filter wants protocol version {version}")
        if actions & ~offered_actions:
            raise ProtocolError(f"filter wants actions 0x{actions:x} beyond offer " f"0x{offered_actions:x}")
        if protocol & ~offered_protocol:
            raise ProtocolError(f"filter wants steps 0x{protocol:x} beyond offer " f"0x{offered_protocol:x}")
        symlists = {}
        rest = reply.data[12:]
        while rest:
            if len(rest) < 5 or b"\0" not in rest[4:]:
                raise ProtocolError(f"malformed symbol list in negotiation: {rest!r}")
            (stage,) = struct.unpack("!I", rest[:4])
            names, _, rest = rest[4:].partition(b"\0")
            if stage not in STAGE_COMMANDS:
                raise ProtocolError(f"symbol list for unknown stage {stage}")
            if not actions & SMFIF_SETSYMLIST:
                raise ProtocolError("symbol list without SMFIF_SETSYMLIST")
            symlists[STAGE_COMMANDS[stage]] = names.decode().split()
        self.negotiated = Negotiated(version, actions, protocol, symlists)
        return self.negotiated

    # -- macros ------------------------------------------------------------------------
    def macros_for(self, command_letter, available):
        """The subset of ``available`` that an MTA honouring the filter's
        symbol list sends before this command (all of it without a list)."""
        wanted = self.negotiated.symlists.get(command_letter)
        if wanted is None:
            return dict(available)
        keys = {_macro_key(n) for n in wanted}
        return {k: v for k, v in available.items() if _macro_key(k) in keys}

    def send_macros(self, command: bytes, available):
        chosen = self.macros_for(command.decode(), available or {})
        if chosen:
            payload = command + b"".join(_cstr(k) + _cstr(v) for k, v in chosen.items())
            self._send(SMFIC_MACRO, payload)
        return chosen

    # -- single steps -----------------------------------------------------------------
    def command(self, command, payload=b"", macros=None, result: MessageResult | None = None):
        """Send one SMTP-event command (with its macros first) unless the
        filter asked to skip it; return its reply, or None when the filter
        negotiated not to reply or the step was skipped."""
        if self.negotiated is None:
            raise ProtocolError("negotiate() first")
        if command in _STEP_FLAGS and self.negotiated.skips(command):
            return None
        sent = self.send_macros(command, macros)
        if result is not None:
            result.sent.append(command.decode())
            if sent:
                result.macros_sent[command.decode()] = sent
        self._send(command, payload)
        if command in _STEP_FLAGS and self.negotiated.no_reply(command):
            return None
        return self._await(command)

    def connect(self, hostname, address="127.0.0.1", port=25, family=None, macros=None, result=None):
        family = family or ("6" if ":" in address else "4")
        payload = _cstr(hostname) + family.encode() + struct.pack("!H", port) + _cstr(address)
        return self.command(SMFIC_CONNECT, payload, macros, result)

    def helo(self, name, macros=None, result=None):
        return self.command(SMFIC_HELO, _cstr(name), macros, result)

    def mail(self, args, macros=None, result=None):
        args = [args] if isinstance(args, (str, bytes)) else args
        return self.command(SMFIC_MAIL, b"".join(_cstr(a) for a in args), macros, result)

    def rcpt(self, args, macros=None, result=None):
        args = [args] if isinstance(args, (str, bytes)) else args
        return self.command(SMFIC_RCPT, b"".join(_cstr(a) for a in args), macros, result)

    def data(self, macros=None, result=None):
        return self.command(SMFIC_DATA, b"", macros, result)

    def header(self, name, value, result=None):
        """``value`` as it follows the colon, folded lines joined with "\\n".
        Without SMFIP_HDR_LEADSPC the MTA drops the one space after the
        colon, as Sendmail does."""
        if not self.negotiated.protocol & SMFIP_HDR_LEADSPC and value.startswith(" "):
            value = value[1:]
        return self.command(SMFIC_HEADER, _cstr(name) + _cstr(value), None, result)

    def eoh(self, macros=None, result=None):
        return self.command(SMFIC_EOH, b"", macros, result)

    def body(self, chunk, result=None):
        return self.command(SMFIC_BODY, chunk, None, result)

    def end_of_message(self, macros=None, result: MessageResult | None = None):
        """SMFIC_BODYEOB; returns (final reply, [decoded modifications])."""
        result = result if result is not None else MessageResult()
        sent = self.send_macros(SMFIC_BODYEOB, macros)
        result.sent.append("E")
        if sent:
            result.macros_sent["E"] = sent
        self._send(SMFIC_BODYEOB)
        final = self._await(SMFIC_BODYEOB, allow_modifications=True, modifications=result.modifications)
        return final, result.modifications

    def abort(self):
        """SMFIC_ABORT: the MTA dropped the transaction (RSET); no reply."""
        self._send(SMFIC_ABORT)

    # -- a whole message --------------------------------------------------------------
    def send_message(
        self,
        mail_from,
        rcpts=("<user@inbox.test>",),
        headers=(),
        body=b"",
        connect=None,
        helo=None,
        macros=None,
        chunk_size=65535,
    ) -> MessageResult:
        """One transaction the way Sendmail drives a filter, stopping where
        the filter decides (ACCEPT, REJECT, TEMPFAIL, DISCARD, REPLYCODE).

        ``connect`` (hostname, address[, port]) and ``helo`` are sent first
        when given (i.e. on the connection's first message). ``macros`` maps a
        command letter ("C", "H", "M", "R", "T", "N", "E") to the macros the
        MTA has for that stage; the symbol lists decide which are sent.
        ``headers`` are (name, value) pairs, value as after the colon."""
        if not rcpts:
            raise ValueError("a message needs at least one recipient")
        macros = macros or {}
        result = MessageResult()
        if self.connection_accepted:
            result.final, result.decided_at = Reply(SMFIR_ACCEPT), "connection"
            return result

        def step(stage, reply):
            result.replies[stage] = reply
            if reply is None or reply.code == SMFIR_CONTINUE:
                return False
            result.final, result.decided_at = reply, stage
            if stage in ("connect", "helo") and reply.code == SMFIR_ACCEPT:
                self.connection_accepted = True
            return True

        if connect is not None:
            if step("connect", self.connect(*connect, macros=macros.get("C"), result=result)):
                return result
        if helo is not None:
            if step("helo", self.helo(helo, macros=macros.get("H"), result=result)):
                return result
        if step("mail", self.mail(mail_from, macros=macros.get("M"), result=result)):
            return result
        accepted = 0
        for i, rcpt in enumerate(rcpts):
            reply = self.rcpt(rcpt, macros=macros.get("R"), result=result)
            result.replies[f"rcpt{i}"] = reply
            if reply is None or reply.code in (SMFIR_CONTINUE, SMFIR_ACCEPT):
                accepted += 1
        if not accepted:
            result.final, result.decided_at = result.replies[f"rcpt{len(rcpts) - 1}"], "rcpt"
            return result
        if step("data", self.data(macros=macros.get("T"), result=result)):
            return result
        for i, (name, value) in enumerate(headers):
            if step(f"header{i}", self.header(name, value, result=result)):
                return result
        if step("eoh", self.eoh(macros=macros.get("N"), result=result)):
            return result
        for start in range(0, len(body), chunk_size):
            reply = self.body(body[start : start + chunk_size], result=result)
            if reply is not None and reply.code == SMFIR_SKIP:
                break
            if step("body", reply):
                return result
        final, _ = self.end_of_message(macros=macros.get("E"), result=result)
        result.replies["eom"] = final
        result.final, result.decided_at = final, "eom"
        return result
