"""A minimal SMTP client for sessions swaks cannot script (several
transactions on one connection, exact commands)."""

from __future__ import annotations

import re
import socket

from .base import RECIPIENT, RigError
from .ca import CertPair
from .messages import message_text, new_subject
from .swaks import SendResult


class SmtpClient:
    """SMTP at the byte level: every command is sent exactly as given (8-bit
    text, parameters, no automatic EHLO after STARTTLS), every reply is kept
    in ``transcript``. Socket timeouts bound every read."""

    def __init__(self, port, host="127.0.0.1", timeout=30, source=None):
        self.sock = socket.create_connection(
            (host, port), timeout=timeout, source_address=(source, 0) if source else None
        )
        self.file = self.sock.makefile("rb")
        self.transcript: list[str] = []
        self.banner = self.reply()

    def reply(self):
        """(code, text) of the next reply; continuation lines joined by \\n."""
        lines = []
        for _ in range(100):  # no reply has more lines than this
            raw = self.file.readline(4096)
            if not raw:
                raise RigError("SMTP server closed the connection\n" + "\n".join(self.transcript))
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            self.transcript.append("<- " + line)
            lines.append(line[4:])
            if len(line) < 4 or line[3] != "-":
                return int(line[:3]), "\n".join(lines)
        raise RigError("SMTP reply with too many lines")

    def command(self, line):
        """Send one command line (str is UTF-8 encoded) and read its reply."""
        raw = line.encode() if isinstance(line, str) else line
        self.transcript.append("-> " + raw.decode("utf-8", "replace"))
        self.sock.sendall(raw + b"\r\n")
        return self.reply()

    def starttls(self, cert: CertPair | None = None):
        """STARTTLS with an optional client certificate; the server's
        certificate is not checked (it is the rig's own)."""
        import ssl

        code, text = self.command("STARTTLS")
        if code != 220:
            raise RigError(f"STARTTLS refused: {code} {text}")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        if cert is not None:
            ctx.load_cert_chain(str(cert.cert), str(cert.key))
        self.file.close()
        self.sock = ctx.wrap_socket(self.sock)
        self.file = self.sock.makefile("rb")
        self.transcript.append("== TLS " + str(self.sock.version()))

    def data(self, message: bytes):
        """DATA, the message (dot-stuffed here), and the final reply."""
        code, text = self.command("DATA")
        if code != 354:
            return code, text
        body = re.sub(rb"(?m)^\.", b"..", message.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        self.sock.sendall(body + b".\r\n")
        self.transcript.append(f"-> ({len(body)} bytes of message) .")
        return self.reply()

    def transaction(self, mail_from, rcpt=RECIPIENT, subject=None, extra_headers=(), mail_params=""):
        """MAIL FROM:<mail_from> [params], RCPT, DATA; returns a SendResult.
        ``mail_from`` may be str (sent as UTF-8) or bytes (sent as is)."""
        subject = subject or new_subject()
        raw_from = mail_from if isinstance(mail_from, bytes) else mail_from.encode()
        line = b"MAIL FROM:<" + raw_from + b">"
        if mail_params:
            line += b" " + mail_params.encode()
        code, text = self.command(line)
        if code == 250:
            code, text = self.command(f"RCPT TO:<{rcpt}>")
        if code == 250:
            header_from = raw_from.decode("utf-8", "replace") or "postmaster@secure.test"
            code, text = self.data(message_text(subject, header_from, rcpt, extra_headers).encode())
        else:
            self.command("RSET")
        m = re.search(r"queued as ([0-9A-Za-z]+)", text) if code == 250 else None
        return SendResult(code, text, m.group(1) if m else None, subject, "\n".join(self.transcript), 0)

    def close(self):
        try:
            self.sock.settimeout(5)
            self.command("QUIT")
        except (OSError, RigError):
            pass
        finally:
            self.file.close()
            self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
