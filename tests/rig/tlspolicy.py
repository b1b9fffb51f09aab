"""The sending side's policy daemon, mtls-tlspolicy, and what it talks to:
an HTTPS server on a loopback address of its own serving MTA-STS policies
with a certificate from the test CA, a socketmap client as Postfix's
smtp_tls_policy_maps speaks it, and a private redis-server."""

from __future__ import annotations

import random
import socket
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .base import RigError
from .process import can_connect, die_with_parent, free_port, kill_process_group, log_tail, wait_until

HTTPS_PORT = 443  # RFC 8461 names no other port


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


class _PolicyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        host = (self.headers.get("Host") or "").split(":")[0].lower()
        self.server.requests.append((host, self.path))
        entry = self.server.responses.get(host)
        if entry is None or self.path != "/.well-known/mta-sts.txt":
            entry = (404, "text/plain", b"not found\n", {})
        status, content_type, body, headers = entry
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass  # the client gave up (the 2 MiB policy)


class PolicyWebServer:
    """HTTPS on (a random 127/8 address, 443), answering by Host header.
    ``responses``: {"mta-sts.<domain>": (status, content type, body bytes,
    {extra headers})}; anything else is 404."""

    def __init__(self, cert, key):
        self.address = None
        for _ in range(50):
            candidate = f"127.{random.randint(64, 250)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
            try:
                self.httpd = ThreadingHTTPServer((candidate, HTTPS_PORT), _PolicyHandler)
            except OSError:
                continue
            self.address = candidate
            break
        if self.address is None:
            raise RigError("no free loopback address for port 443")
        self.httpd.daemon_threads = True
        self.httpd.responses = {}
        self.httpd.requests = []
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert), str(key))
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.httpd.timeout = 10
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
        self.thread.start()

    @property
    def responses(self):
        return self.httpd.responses

    @property
    def requests(self):
        return self.httpd.requests

    def serve_policy(self, domain, text, status=200, content_type="text/plain", headers=None):
        body = text.encode() if isinstance(text, str) else text
        self.httpd.responses[f"mta-sts.{domain}"] = (status, content_type, body, headers or {})

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


class RedisServer:
    def __init__(self, directory: Path):
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir), "--logfile", str(self.dir / "redis.log")],
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

    def __init__(self, binary: Path, directory: Path, *, unbound_conf, trust_anchor, ca_file, cache=None, extra=()):
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

    def run_query(self, domain):
        return subprocess.run(
            self.command("--query", domain), capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
        )

    def log_text(self):
        return self.log.read_text(errors="replace")
