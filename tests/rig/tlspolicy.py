"""The sending side's policy daemon, mtls-tlspolicy, and what it talks to:
a socketmap client as Postfix's smtp_tls_policy_maps speaks it and a
private redis-server (the MTA-STS policies' HTTPS server is
rig/mta_sts_web.py)."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

from .base import RigError
from .process import can_connect, die_with_parent, free_port, kill_process_group, log_tail, wait_until


def netstring(data: bytes) -> bytes:
    return str(len(data)).encode() + b":" + data + b","


def read_netstring(sock) -> bytes | None:
    """One netstring from sock; None when the peer closed the connection."""
    length = b""
    while True:
        byte = sock.recv(1)
        if not byte:
            return None
        if byte == b":":
            break
        if not byte.isdigit() or len(length) > 6:
            raise RigError(f"not a netstring length: {length + byte!r}")
        length += byte
    want = int(length) + 1
    data = b""
    while len(data) < want:
        chunk = sock.recv(want - len(data))
        if not chunk:
            raise RigError("netstring cut short")
        data += chunk
    if not data.endswith(b","):
        raise RigError(f"netstring without its comma: {data!r}")
    return data[:-1]


class SocketmapClient:
    """One connection, as a Postfix smtp(8) process keeps it."""

    def __init__(self, path, timeout=60):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))

    def send_raw(self, data: bytes):
        self.sock.sendall(data)

    def read_reply(self) -> str | None:
        reply = read_netstring(self.sock)
        return None if reply is None else reply.decode()

    def query(self, key, name="postfix") -> str | None:
        self.send_raw(netstring(f"{name} {key}".encode()))
        return self.read_reply()

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class RedisServer:
    def __init__(self, directory: Path):
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
                "--logfile",
                str(self.dir / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
        wait_until(lambda: can_connect(("127.0.0.1", self.port)), 30, f"redis-server on port {self.port}")

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/3"

    def stop(self):
        kill_process_group(self.proc)
        self.proc = None


class TlsPolicyDaemon:
    """mtls-tlspolicy in the foreground, logging to a file, on a unix socket
    in its directory."""

    def __init__(
        self, binary: Path, directory: Path, *, unbound_conf, trust_anchor, ca_file, cache=None, extra=()
    ):
        self.binary = binary
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.socket = self.dir / "socketmap.sock"
        self.log = self.dir / "daemon.log"
        self.options = [
            "--unbound-config", str(unbound_conf),
            "--trust-anchor-file", str(trust_anchor),
            "--ca-file", str(ca_file),
            "--cache", str(cache or self.dir / "cache.sqlite"),
            "--dns-timeout", "10",
            "--https-timeout", "10",
            *map(str, extra),
        ]  # fmt: skip
        self.proc = None

    def command(self, *more):
        return [str(self.binary), *self.options, *map(str, more)]

    def start(self):
        log = open(self.log, "a")
        self.proc = subprocess.Popen(
            self.command("--socket", f"unix:{self.socket}", "--foreground", "--syslog", "no", "--log-stderr"),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )
        log.close()

        def ready():
            if self.proc.poll() is not None:
                raise RigError(f"mtls-tlspolicy exited ({self.proc.returncode}):\n{log_tail(self.log)}")
            return self.socket.exists() and can_connect(str(self.socket))

        wait_until(ready, 30, "mtls-tlspolicy's socket")
        return self

    def stop(self):
        kill_process_group(self.proc, timeout=30)
        self.proc = None

    def query(self, key):
        with SocketmapClient(self.socket) as client:
            return client.query(key)

    def run_command(self, *args):
        """The binary with this daemon's options and ``args``, to completion."""
        return subprocess.run(
            self.command(*args), capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
        )

    def run_query(self, domain):
        return self.run_command("--query", domain)

    def log_text(self):
        return self.log.read_text(errors="replace")
