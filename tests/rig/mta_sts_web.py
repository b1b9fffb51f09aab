"""The HTTPS server that MTA-STS policies are fetched from (RFC 8461
section 3.3): GET /.well-known/mta-sts.txt on port 443, answered by the Host
header, with a certificate from the test CA.

One server for every user: the policy daemon's own tests bind it to a free
loopback address of the host (tests/integration/test_tlspolicy.py), the
outbound rig to WEB_ADDRESS inside its network namespace (rig/outbound.py),
and the TLS policy benchmark subclasses it to serve 100,000 domains
(bench/tlspolicy_bench.py)."""

from __future__ import annotations

import random
import socket
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .base import RigError

HTTPS_PORT = 443  # RFC 8461 names no other port
POLICY_PATH = "/.well-known/mta-sts.txt"


@dataclass(frozen=True)
class Response:
    status: int
    content_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


NOT_FOUND = Response(404, "text/plain", b"not found\n")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        web = self.server.web
        host = (self.headers.get("Host") or "").split(":")[0].lower()
        web.requests.append((host, self.path))
        response = web.response_for(host, self.path)
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        # One fetch per connection, as policy fetchers make them: no idle
        # keep-alive threads pile up under the benchmark's load.
        self.send_header("Connection", "close")
        self.end_headers()
        try:
            self.wfile.write(response.body)
        except OSError:
            pass  # the client stopped reading (the 2 MiB policy)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, sock: socket.socket, web: MtaStsWebServer):
        super().__init__(sock.getsockname()[:2], _Handler, bind_and_activate=False)
        self.socket.close()
        self.socket = sock
        self.server_activate()
        self.web = web

    def get_request(self):
        # The TLS handshake happens in the request's own thread (at its
        # first read), so a slow or silent client cannot stall accept().
        conn, peer = self.socket.accept()
        conn.settimeout(30)
        return self.web.context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False), peer


class MtaStsWebServer:
    """Serves ``responses`` ({"mta-sts.<domain>": Response}, changeable while
    it runs; anything else is 404) and records every request's (host, path)
    in ``requests``. ``address`` None: a free address in 127.64/10-127.250/8,
    known once started; ``netns``: bind inside that namespace."""

    def __init__(self, cert, key, address: str | None = None, netns=None):
        self.address = address
        self.netns = netns
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(str(cert), str(key))
        self.responses: dict[str, Response] = {}
        self.requests: list[tuple[str, str]] = []
        self.server: _Server | None = None
        self.thread: threading.Thread | None = None

    def serve_policy(self, domain, text, status=200, content_type="text/plain", headers=None):
        """What https://mta-sts.<domain>/.well-known/mta-sts.txt answers."""
        body = text.encode() if isinstance(text, str) else text
        self.responses[f"mta-sts.{domain}"] = Response(status, content_type, body, headers or {})

    def response_for(self, host: str, path: str) -> Response:
        if path != POLICY_PATH:
            return NOT_FOUND
        return self.responses.get(host, NOT_FOUND)

    def fetches(self, domain) -> int:
        """How many requests named mta-sts.<domain>."""
        return sum(1 for host, _ in self.requests if host == f"mta-sts.{domain}")

    def start(self) -> MtaStsWebServer:
        self.server = _Server(self._bound_socket(), self)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.2}, name="mta-sts-web", daemon=True
        )
        self.thread.start()
        return self

    def _bound_socket(self) -> socket.socket:
        candidates = (
            [self.address]
            if self.address
            else [
                f"127.{random.randint(64, 250)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
                for _ in range(50)
            ]
        )
        for candidate in candidates:
            sock = self.netns.socket() if self.netns else socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((candidate, HTTPS_PORT))
            except OSError:
                sock.close()
                continue
            self.address = candidate
            return sock
        raise RigError(f"no free address for port {HTTPS_PORT} among {candidates[0]} and the rest")

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(timeout=10)
            self.server = None
