"""A network + mount namespace of the rig's own, so that a sending Postfix,
its resolver and the servers it talks to use loopback addresses and an
/etc/resolv.conf that the host never sees.

The namespace is held open by one small process (``unshare ... cat``);
everything else enters it with ``nsenter``. Sockets the test process
itself needs inside (an HTTPS server, readiness probes) are created by a
short-lived thread that has joined the network namespace: a socket belongs
to the namespace it was created in, whichever thread uses it afterwards.
"""

from __future__ import annotations

import ctypes
import os
import socket
import subprocess
import threading
from pathlib import Path

from .base import RigError
from .process import die_with_parent, kill_process_group, run

_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


class NetNamespace:
    """``unshare --net --mount`` with loopback up and ``resolv_conf``
    bind-mounted over /etc/resolv.conf (private mount propagation: the
    host's file is untouched)."""

    def __init__(self, resolv_conf: Path):
        self.resolv_conf = resolv_conf
        self.holder = None

    def start(self, timeout=15):
        script = f'ip link set lo up && mount --bind "{self.resolv_conf}" /etc/resolv.conf && echo ready && exec cat'
        self.holder = subprocess.Popen(
            ["unshare", "--net", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", script],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=die_with_parent,
        )
        # One line, or EOF when the shell failed; a timer bounds the wait.
        timer = threading.Timer(timeout, lambda: kill_process_group(self.holder, graceful=False))
        timer.start()
        try:
            line = self.holder.stdout.readline()
        finally:
            timer.cancel()
        if line.strip() != "ready":
            stderr = self.holder.stderr.read() if self.holder.poll() is not None else ""
            self.stop()
            raise RigError(f"could not make a network namespace: {stderr.strip() or 'no answer'}")
        return self

    @property
    def pid(self):
        return self.holder.pid

    def prefix(self):
        """The command prefix that runs a program inside the namespace."""
        return ["nsenter", f"--target={self.pid}", "--net", "--mount", "--"]

    def add_address(self, address):
        """Give loopback one more address of 127.0.0.0/8: every one of them
        answers already, but Postfix's inet_interfaces wants an interface
        that carries the address itself."""
        self.run(["ip", "addr", "add", f"{address}/32", "dev", "lo"])

    def run(self, cmd, **kwargs):
        return run([*self.prefix(), *cmd], **kwargs)

    def popen(self, cmd, **kwargs):
        """Popen inside the namespace, in its own process group that dies
        with the test process (nsenter execs the command: same pid)."""
        kwargs.setdefault("preexec_fn", die_with_parent)
        return subprocess.Popen([*self.prefix(), *[str(c) for c in cmd]], **kwargs)

    def socket(self, family=socket.AF_INET, kind=socket.SOCK_STREAM):
        """A socket created inside the namespace's network stack."""
        made = {}

        def make():
            fd = os.open(f"/proc/{self.pid}/ns/net", os.O_RDONLY)
            try:
                if _libc.setns(fd, _CLONE_NEWNET) != 0:
                    made["error"] = OSError(ctypes.get_errno(), "setns")
                    return
                made["socket"] = socket.socket(family, kind)
            finally:
                os.close(fd)

        # A thread of its own: setns changes only the calling thread, and
        # this one ends right after.
        thread = threading.Thread(target=make, name="netns-socket")
        thread.start()
        thread.join()
        if "error" in made:
            raise made["error"]
        return made["socket"]

    def can_connect(self, address, timeout=0.5):
        """True when a TCP server inside the namespace accepts."""
        with self.socket() as sock:
            sock.settimeout(timeout)
            try:
                sock.connect(address)
            except OSError:
                return False
        return True

    def stop(self):
        if self.holder is None:
            return
        try:
            self.holder.stdin.close()
        except OSError:
            pass
        kill_process_group(self.holder, timeout=5)
        for stream in (self.holder.stdout, self.holder.stderr):
            stream.close()
        self.holder = None
