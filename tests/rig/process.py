"""Processes, ports and waits: every command the rig runs, every wait (all
bounded), and the clean-up that leaves nothing behind."""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from .base import RigError


def run(cmd, *, cwd=None, timeout=60, check=True):
    """Run a setup command; on failure raise with its output, which is the
    only place the reason shows up on a machine without syslog."""
    try:
        proc = subprocess.run(
            [str(c) for c in cmd],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        raise RigError(f"timed out after {timeout}s: {' '.join(map(str, cmd))}") from exc
    if check and proc.returncode != 0:
        raise RigError(
            f"command failed ({proc.returncode}): {' '.join(map(str, cmd))}\n"
            f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


def wait_until(predicate, timeout, what, interval=0.05):
    """Poll ``predicate`` until it returns a true value or ``timeout`` passes.

    Every wait in the rig goes through here so that nothing can hang a test
    run forever."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise RigError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def free_port(udp_too=False):
    """Ask the kernel for a free loopback port (TCP, and UDP for DNS).

    There is a window between closing the probe socket and the server binding
    the port; nothing else on a test machine competes for ports often enough
    to matter, and a clash shows up as a clear start-up error."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            if not udp_too:
                return port
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                    udp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RigError("no free loopback port found")


def tcp_port_bindable(port):
    """True when nothing listens on 127.0.0.1:port any more.

    SO_REUSEADDR mirrors what libmilter does, so TIME_WAIT leftovers do not
    count as busy; a process still holding the listening socket does."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def can_connect(address, timeout=0.5):
    """True when a stream socket (("host", port) or a unix path) accepts."""
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(address)
        except OSError:
            return False
    return True


def smtp_banner(port, host="127.0.0.1", netns=None):
    """True when an SMTP server on host:port greets with 220 (then QUIT);
    ``netns``: the server is inside that netns.NetNamespace."""
    try:
        with netns.socket() if netns else socket.socket() as s:
            s.settimeout(2)
            s.connect((host, port))
            s.settimeout(5)
            banner = s.recv(512)
            s.sendall(b"QUIT\r\n")
            return banner.startswith(b"220")
    except OSError:
        return False


_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def die_with_parent():
    """preexec_fn: have the kernel SIGTERM the child if the test process dies
    without running its cleanup (e.g. SIGKILL), and give it its own process
    group so that close() can signal the whole group by its id."""
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    os.setpgid(0, 0)


def kill_process_group(proc, timeout=10, graceful=True):
    """Stop a process we started (and its children, same group): SIGTERM,
    bounded wait, then SIGKILL (at once when not ``graceful``). Returns True
    when SIGKILL was needed."""
    if proc is None or proc.poll() is not None:
        return False
    if not graceful:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=timeout)
        return False
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=5)
        return True
    return False


def log_tail(path, lines=30):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:]) + "\n"
    except OSError:
        return ""
