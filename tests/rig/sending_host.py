"""The sending host's own SMTP server, for certificate discovery: the milter
connects back to the client's address on port 25, says EHLO and STARTTLS,
and reads the certificate this server presents (core/discovery/). Each
SendingHost listens on one loopback address of its own (the test sends from
the same address with swaks ``--local-interface``).

Only the standard library (socket, ssl, threading). Every loop is bounded:
the accept loop polls a stop flag, each session has a socket timeout and a
command limit, and ``hold()`` makes the banner wait for ``release()`` (at
most HOLD_LIMIT seconds), so that a test can make a probe outlast the
milter's wait by an event rather than by timing.
"""

from __future__ import annotations

import socket
import ssl
import threading

from .process import wait_until

SESSION_TIMEOUT = 30  # seconds a session may wait for the peer
HOLD_LIMIT = 60  # seconds a held banner waits for release()
MAX_COMMANDS = 10
MAX_LINE = 1024


class SendingHost:
    """An SMTP server with STARTTLS on ``address``:``port`` presenting
    ``cert_pair`` (a rig.ca.CertPair). ``sessions`` counts connections
    accepted, ``handshakes`` TLS handshakes completed and ``closed``
    sessions ended."""

    def __init__(self, address, cert_pair, port=25, name="sender.test"):
        self.address = address
        self.port = port
        self.name = name
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(str(cert_pair.cert), str(cert_pair.key))
        self.sessions = 0
        self.handshakes = 0
        self.closed = 0
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._released.set()
        self._stop = threading.Event()
        self._listener = None
        self._threads = []

    def start(self):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.address, self.port))
        listener.listen(8)
        listener.settimeout(0.2)
        self._listener = listener
        thread = threading.Thread(target=self._accept_loop, name=f"sending-host {self.address}", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def stop(self):
        self._stop.set()
        self._released.set()
        for thread in self._threads:
            thread.join(timeout=SESSION_TIMEOUT + 5)
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def hold(self):
        """Later sessions wait before their banner until release()."""
        self._released.clear()

    def release(self):
        self._released.set()

    def counts(self):
        with self._lock:
            return self.sessions, self.handshakes, self.closed

    def wait_closed(self, count, timeout=60):
        """Until ``count`` sessions have ended (the prober hung up)."""
        return wait_until(lambda: self.counts()[2] >= count, timeout, f"{count} sessions on {self.address}")

    # -- serving -------------------------------------------------------------
    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self.sessions += 1
            thread = threading.Thread(target=self._session, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _session(self, conn):
        try:
            conn.settimeout(SESSION_TIMEOUT)
            if not self._released.wait(HOLD_LIMIT) or self._stop.is_set():
                return
            conn.sendall(f"220 {self.name} ESMTP test\r\n".encode())
            reader = conn.makefile("rb")
            for _ in range(MAX_COMMANDS):
                line = reader.readline(MAX_LINE)
                if not line:
                    return
                verb = line.split(b" ", 1)[0].strip().upper()
                if verb in (b"EHLO", b"HELO"):
                    conn.sendall(f"250-{self.name}\r\n250-PIPELINING\r\n250 STARTTLS\r\n".encode())
                elif verb == b"STARTTLS":
                    conn.sendall(b"220 2.0.0 ready to start TLS\r\n")
                    self._tls(conn)
                    return
                elif verb == b"QUIT":
                    conn.sendall(b"221 2.0.0 bye\r\n")
                    return
                else:
                    conn.sendall(b"502 5.5.2 not here\r\n")
        except OSError:
            pass
        finally:
            conn.close()
            with self._lock:
                self.closed += 1

    def _tls(self, conn):
        with self.context.wrap_socket(conn, server_side=True) as tls:
            with self._lock:
                self.handshakes += 1
            reader = tls.makefile("rb")
            for _ in range(MAX_COMMANDS):
                line = reader.readline(MAX_LINE)
                if not line:
                    return
                if line.strip().upper() == b"QUIT":
                    tls.sendall(b"221 2.0.0 bye\r\n")
                    return
                tls.sendall(b"502 5.5.2 not here\r\n")
