"""Postfix's socketmap protocol (socketmap_table(5)) as a client: one
netstring request ``NAME KEY``, one netstring reply (``OK ...``,
``NOTFOUND ``, ``TEMP ...``, ``PERM ...``)."""

from __future__ import annotations

import socket

from .base import RigError

# Postfix's own limit on a reply (socketmap_table(5): 100000 bytes).
MAX_REPLY = 100000


def netstring(data: bytes) -> bytes:
    return b"%d:%s," % (len(data), data)


def read_netstring(sock) -> bytes:
    """One netstring from ``sock``; RigError on anything malformed."""
    length = b""
    while True:
        ch = sock.recv(1)
        if not ch:
            raise RigError(f"socketmap: connection closed after {length!r}")
        if ch == b":":
            break
        if not ch.isdigit() or len(length) > 6:
            raise RigError(f"socketmap: bad netstring length {length + ch!r}")
        length += ch
    size = int(length)
    if size > MAX_REPLY:
        raise RigError(f"socketmap: reply of {size} bytes")
    body = b""
    while len(body) < size + 1:
        chunk = sock.recv(size + 1 - len(body))
        if not chunk:
            raise RigError("socketmap: connection closed inside a reply")
        body += chunk
    if body[-1:] != b",":
        raise RigError(f"socketmap: netstring not ended by a comma: {body!r}")
    return body[:-1]


def socketmap_query(path, key, name="postfix", timeout=30):
    """Ask the socketmap server on unix socket ``path`` for ``key`` in map
    ``name``; returns the reply text (e.g. "OK secure match=...")."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        sock.sendall(netstring(f"{name} {key}".encode()))
        return read_netstring(sock).decode(errors="replace")
