"""The Rig: CA, DNS, Postfix and the milter for one test module, started and
closed together, and shared between modules of one run."""

from __future__ import annotations

import atexit
import grp
import json
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from .base import (
    AUTHSERV_ID,
    DEFAULT_CLIENT_MX_TYPE,
    RECIPIENT,
    RigError,
    SASL_PASSWORD,
    SASL_USER,
    keep_requested,
)
from .ca import CERT_SPECS, CertPair, TestCA
from .dns import DANE_TLSA, DnsServer
from .messages import DeliveredMessage, message_text, new_subject
from .postfix import PostfixInstance
from .process import (
    can_connect,
    die_with_parent,
    free_port,
    kill_process_group,
    log_tail,
    tcp_port_bindable,
    wait_until,
)
from .smtp import SmtpClient
from .swaks import parse_swaks_output, SendResult

_live_rigs: set = set()


def close_all_rigs():
    """Tear down every rig still running (at exit, or after Ctrl-C)."""
    for rig in list(_live_rigs):
        rig.close()


atexit.register(close_all_rigs)


def track_rig(rig):
    """Have close_all_rigs() close ``rig`` (anything with close()), e.g. an
    outbound.OutboundRig, at exit or after Ctrl-C."""
    _live_rigs.add(rig)


def untrack_rig(rig):
    _live_rigs.discard(rig)


def start_module_rig(**options):
    """The rig a test module shares: built from MTLS_BUILD_DIR and started.
    A missing binary is an error, not a skip: a suite that skips what it
    cannot run would report a broken build as green."""
    rig = Rig(os.environ.get("MTLS_BUILD_DIR", "build"), **options)
    binary = rig.milter_bin if rig.with_postfix else rig.check_bin
    if not binary.exists():
        raise RigError(f"not built: {binary}")
    return rig.start()


_shared_rigs: dict = {}


def shared_rig(**options):
    """One started rig per set of Rig options for the whole test run, so
    that modules needing the same rig do not each pay for CA, DNS and
    Postfix start-up. Closed at exit (close_all_rigs); modules must leave it
    as they found it (DNS running; any milter options are fine, as test
    classes call ensure_milter)."""
    key = tuple(sorted(options.items()))
    rig = _shared_rigs.get(key)
    if rig is None or rig not in _live_rigs:
        rig = _shared_rigs[key] = start_module_rig(**options)
    return rig


class Rig:
    """Everything for one test module; see the module docstring.

    Use as a context manager, or call start() and close() (close is also
    registered with atexit, so Ctrl-C still stops NSD, Postfix and the
    milter)."""

    def __init__(
        self,
        build_dir=None,
        *,
        client_mx_type=DEFAULT_CLIENT_MX_TYPE,
        milter_socket="inet",
        authserv_id=AUTHSERV_ID,
        with_postfix=True,
        keep=None,
        policy_socket=None,
    ):
        """``policy_socket``: None/False for no policy channel; True or
        "inet" for the milter's policy server on a free loopback port,
        "unix" for a unix socket in the rig directory. Either way Postfix
        calls it (check_policy_service) and the milter gets
        ``--policy-socket`` by default (``policy_socket=None`` in
        start_milter drops it, and Postfix then answers RCPT with 451)."""
        self.build_dir = Path(build_dir or os.environ.get("MTLS_BUILD_DIR", "build")).resolve()
        self.milter_bin = self.build_dir / "milter" / "mtls-milter"
        self.check_bin = self.build_dir / "tools" / "mtls-check" / "mtls-check"
        self.client_mx_type = client_mx_type
        self.authserv_id = authserv_id
        if keep is None:
            keep = keep_requested()
        self.keep = keep
        self.dir = None
        self.dns = None
        self.ca = None
        self.postfix = None
        self.milter_proc = None
        self.milter_log = None
        self._milter_runs = 0
        self._milter_socket_kind = milter_socket
        self._policy_socket_kind = "inet" if policy_socket is True else (policy_socket or None)
        if self._policy_socket_kind not in (None, "inet", "unix"):
            raise ValueError(f"policy_socket: {policy_socket!r}")
        self.policy_socket_arg = None  # milter syntax, None when off
        self.policy_address = None  # ("127.0.0.1", port) or a unix path
        self.tlsa_records = {}  # zone -> [(owner, "U S M", hex digest)]
        self.with_postfix = with_postfix
        self.milter_options = None  # options of the running milter
        self.milter_needed_sigkill = False
        self._message_cache: dict[str, DeliveredMessage] = {}

    # -- life cycle --------------------------------------------------------
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    def start(self):
        _live_rigs.add(self)
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def _start(self):
        self.dir = Path(tempfile.mkdtemp(prefix="mtls-it-"))
        # Postfix daemons and the delivery pipe run as postfix/nobody and
        # must be able to walk into the tree.
        self.dir.chmod(0o755)
        # Postfix's smtpd runs as user postfix and must be able to connect to
        # a unix socket the milter creates as root with its own umask (007
        # by default): a setgid directory of group postfix gives the socket
        # that group, as a packaged install does with its socket directory.
        milter_dir = self.dir / "milter"
        milter_dir.mkdir()
        os.chown(milter_dir, 0, grp.getgrnam("postfix").gr_gid)
        milter_dir.chmod(0o2770)
        (self.dir / "messages").mkdir()

        self.ca = TestCA(self.dir / "ca")
        self.ca.certs["server"] = self.ca.issue(
            "server", "/CN=mx.inbox.test", eku="serverAuth", san="DNS:mx.inbox.test"
        )
        for name, spec in CERT_SPECS.items():
            self.ca.issue_spec(name, spec)

        self.tlsa_records = {
            zone: [
                (owner, params, self.ca.tlsa_data(handle, *params.split()[1:]))
                for owner, params, handle in records
            ]
            for zone, records in DANE_TLSA.items()
        }
        tampered = (self.ca.tlsa_digest("dane-other-key", 1), self.ca.tlsa_digest("dane-server-auth", 1))
        self.dns = DnsServer(
            self.dir / "dns", self.client_mx_type, tlsa=self.tlsa_records, tampered_tlsa=tampered
        )
        self.dns.build()
        self.dns.start()

        if self._milter_socket_kind == "unix":
            self.milter_address = str(self.dir / "milter" / "milter.sock")
            self.milter_socket_arg = f"unix:{self.milter_address}"
            postfix_socket = f"unix:{self.milter_address}"
        else:
            self.milter_port = free_port()
            self.milter_address = ("127.0.0.1", self.milter_port)
            self.milter_socket_arg = f"inet:{self.milter_port}@127.0.0.1"
            postfix_socket = f"inet:127.0.0.1:{self.milter_port}"

        policy_service = None
        if self._policy_socket_kind == "unix":
            self.policy_address = str(self.dir / "milter" / "policy.sock")
            self.policy_socket_arg = policy_service = f"unix:{self.policy_address}"
        elif self._policy_socket_kind == "inet":
            policy_port = free_port()
            self.policy_address = ("127.0.0.1", policy_port)
            self.policy_socket_arg = f"inet:{policy_port}@127.0.0.1"
            policy_service = f"inet:127.0.0.1:{policy_port}"

        self.inbox = self.dir / "inbox"
        if not self.with_postfix:  # DNS-only rig, e.g. for mtls-check
            return
        self.postfix = PostfixInstance(
            self.dir / "postfix",
            self.inbox,
            self.ca,
            postfix_socket,
            test_features=True,
            policy_service=policy_service,
        )
        self.postfix.write_config()
        self.postfix.start()

    def close(self):
        """Stop everything; safe to call twice and after a failed start."""
        try:
            self.stop_milter(graceful=False)
        finally:
            try:
                if self.postfix:
                    self.postfix.stop()
            finally:
                if self.dns:
                    self.dns.stop()
                _live_rigs.discard(self)
                if self.dir and self.dir.exists() and not self.keep:
                    shutil.rmtree(self.dir, ignore_errors=True)

    # -- paths other code needs ---------------------------------------------
    @property
    def unbound_conf(self):
        return self.dns.unbound_conf

    @property
    def trust_anchor_file(self):
        return self.dns.anchor_file

    @property
    def smtp_port(self):
        return self.postfix.smtp_port

    def cert(self, name) -> CertPair:
        return self.ca.certs[name]

    # -- milter --------------------------------------------------------------
    def milter_command(self, **options):
        """Command line for the milter: rig defaults, then ``options``
        (``on_fail="reject"`` -> ``--on-fail reject``; True/False -> yes/no;
        None drops a default)."""
        defaults = {
            "socket": self.milter_socket_arg,
            "authserv_id": self.authserv_id,
            "unbound_config": self.unbound_conf,
            "trust_anchor_file": self.trust_anchor_file,
            "client_mx_type": self.client_mx_type,
            "dns_timeout": 5,
            # The test client connects from 127.0.0.1, which the milter
            # skips by default.
            "ignore_hosts": "",
            "foreground": "yes",
            "log_stderr": "yes",
            "syslog": "no",
            "log_format": "json",
        }
        if self.policy_socket_arg:
            defaults["policy_socket"] = self.policy_socket_arg
        defaults.update(options)
        cmd = [str(self.milter_bin)]
        for key, value in defaults.items():
            if value is None:
                continue
            if isinstance(value, bool):
                value = "yes" if value else "no"
            cmd += ["--" + key.replace("_", "-"), str(value)]
        return cmd

    def start_milter(self, timeout=15, **options):
        """(Re)start the milter and wait until its socket accepts connections.

        A stopped libmilter filter can keep its inet port for a few seconds,
        so a restart first waits for the port to be free."""
        self.stop_milter(graceful=False)
        if not self.milter_bin.exists():
            raise RigError(f"milter binary not found: {self.milter_bin} (build it first)")
        if isinstance(self.milter_address, tuple):
            wait_until(
                lambda: tcp_port_bindable(self.milter_port),
                20,
                f"milter port {self.milter_port} to be free",
                interval=0.2,
            )
        with_policy = (
            self.policy_socket_arg is not None
            and options.get("policy_socket", self.policy_socket_arg) == self.policy_socket_arg
        )
        if with_policy and isinstance(self.policy_address, tuple):
            wait_until(
                lambda: tcp_port_bindable(self.policy_address[1]),
                20,
                f"policy port {self.policy_address[1]} to be free",
                interval=0.2,
            )
        # A unix socket file left by the previous run is deliberately not
        # removed: after a crash it is left too, and the milter must cope.
        self._milter_runs += 1
        self.milter_log = self.dir / "milter" / f"milter-{self._milter_runs}.log"
        self.milter_cmdline = self.milter_command(**options)
        with open(self.milter_log, "wb") as log:
            self.milter_proc = subprocess.Popen(
                self.milter_cmdline,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                preexec_fn=die_with_parent,
            )

        def ready():
            if self.milter_proc.poll() is not None:
                raise RigError(
                    f"milter exited with {self.milter_proc.returncode}:\n"
                    f"{' '.join(self.milter_cmdline)}\n{log_tail(self.milter_log)}"
                )
            return can_connect(self.milter_address) and (not with_policy or can_connect(self.policy_address))

        wait_until(
            ready,
            timeout,
            f"milter socket {self.milter_socket_arg}"
            + (f" and policy socket {self.policy_socket_arg}" if with_policy else ""),
            interval=0.1,
        )
        self.milter_options = dict(options)
        return self.milter_proc

    def ensure_milter(self, **options):
        """Start the milter with these options unless it already runs with
        exactly them: test classes share one milter when they can."""
        if self.milter_running() and self.milter_options == options:
            return self.milter_proc
        return self.start_milter(**options)

    def stop_milter(self, timeout=10, graceful=True):
        """SIGTERM the milter; returns its exit status (None if it was not
        running). ``self.milter_needed_sigkill`` tells whether it ignored
        SIGTERM for ``timeout`` seconds. ``graceful=False`` sends SIGKILL at
        once: libmilter can take up to five seconds to wind down after SIGTERM
        (measured: 0 or 5.0 s), which restarts between test classes
        need not wait for (LifecycleTests checks the SIGTERM path itself)."""
        proc, self.milter_proc = self.milter_proc, None
        self.milter_options = None
        self.milter_needed_sigkill = kill_process_group(proc, timeout, graceful)
        return None if proc is None else proc.returncode

    def milter_running(self):
        return self.milter_proc is not None and self.milter_proc.poll() is None

    def milter_log_text(self):
        return self.milter_log.read_text(errors="replace") if self.milter_log else ""

    def milter_log_records(self):
        """Every JSON object the milter wrote on stderr, in order."""
        records = []
        for line in self.milter_log_text().splitlines():
            line = line.strip()
            if line.startswith("{"):
                try:
                    records.append(json.loads(line))
                except ValueError:
                    pass
        return records

    def wait_log_record(self, queue_id, timeout=10, stage=None):
        """The JSON log object for one message (matched by Postfix queue id):
        stage 1's, or with ``stage="dmarc"`` the DMARC stage's."""

        def find():
            for rec in self.milter_log_records():
                if rec.get("queue_id") == queue_id and rec.get("stage") == stage:
                    return rec
            return None

        return wait_until(find, timeout, f"milter JSON log line for queue id {queue_id}", interval=0.1)

    # -- mail ------------------------------------------------------------------
    def send(
        self,
        mail_from="sender@secure.test",
        helo="out1.secure.test",
        cert=None,
        tls=None,
        subject=None,
        extra_headers=(),
        expect_code=250,
        rcpt=RECIPIENT,
        timeout=60,
        local_interface=None,
        auth=False,
        port=None,
        header_from=None,
        transform=None,
    ):
        """Send one message with swaks and return a SendResult.

        ``cert`` is the handle of a rig certificate (see CERT_SPECS), which
        implies STARTTLS; ``tls=True`` without a cert does STARTTLS without a
        client certificate. ``mail_from="<>"`` is the null sender.
        ``local_interface`` is the source address (any 127.0.0.0/8 address
        works on Linux loopback); ``auth=True`` authenticates as SASL_USER.
        ``port``: another MTA's port than Postfix's (rig/sendmail.py).
        ``header_from``: the From address when not the MAIL FROM's.
        ``transform``: applied to the message text before sending (say, to
        DKIM-sign it: rig.dkim.DkimSigner.sign_message).
        ``expect_code`` (None to skip) is checked here so a failing test
        shows the transcript."""
        if tls is None:
            tls = cert is not None
        subject = subject or new_subject()
        data = self.dir / "messages" / f"{uuid.uuid4().hex}.eml"
        text = message_text(subject, mail_from, rcpt, extra_headers, header_from)
        data.write_text(transform(text) if transform else text, encoding="utf-8")
        cmd = [
            "swaks",
            "--server",
            "127.0.0.1",
            "--port",
            str(port or self.smtp_port),
            "--from",
            mail_from or "<>",
            "--to",
            rcpt,
            "--helo",
            helo,
            "--data",
            f"@{data}",
            "--timeout",
            "30",
            "--suppress-data",
        ]
        if local_interface:
            cmd += ["--local-interface", local_interface]
        if auth:
            cmd += ["--auth", "PLAIN", "--auth-user", SASL_USER, "--auth-password", SASL_PASSWORD]
        if tls:
            cmd.append("--tls")
            if cert is not None:
                pair = self.cert(cert)
                cmd += ["--tls-cert", str(pair.cert), "--tls-key", str(pair.key)]
        try:
            proc = subprocess.run(
                cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
            )
        except subprocess.TimeoutExpired as exc:
            raise RigError(f"swaks timed out after {timeout}s") from exc
        output = proc.stdout + proc.stderr
        code, reply, qid = parse_swaks_output(output)
        result = SendResult(code, reply, qid, subject, output, proc.returncode)
        if expect_code is not None and code != expect_code:
            raise AssertionError(
                f"expected SMTP {expect_code}, got {code} {reply}\n--- swaks ---\n{output}"
                f"--- milter log (tail) ---\n{log_tail(self.milter_log) if self.milter_log else ''}"
                f"--- maillog (tail) ---\n{log_tail(self.postfix.maillog)}"
            )
        return result

    def send_session(
        self, transactions, cert=None, tls=None, helo="out1.secure.test", rcpt=RECIPIENT, timeout=60
    ):
        """Several transactions over ONE SMTP connection (smtplib; swaks
        sends one message per connection), to catch per-message state that
        leaks into the next message.

        ``transactions`` is a list of dicts with ``mail_from``, optional
        ``extra_headers`` and ``rset_first`` (start a transaction, RSET it,
        then send: the aborted one must leave no trace). Returns one
        SendResult per transaction (output holds a short transcript)."""
        import smtplib
        import ssl

        if tls is None:
            tls = cert is not None
        results = []
        with smtplib.SMTP("127.0.0.1", self.smtp_port, local_hostname=helo, timeout=timeout) as smtp:
            smtp.ehlo(helo)
            if tls:
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                if cert is not None:
                    pair = self.cert(cert)
                    ctx.load_cert_chain(str(pair.cert), str(pair.key))
                smtp.starttls(context=ctx)
                smtp.ehlo(helo)
            for tx in transactions:
                mail_from = tx.get("mail_from", "sender@secure.test")
                envelope = "" if mail_from == "<>" else mail_from
                log = []
                if tx.get("rset_first"):
                    log.append(f"MAIL FROM:<{tx['rset_first']}> -> {smtp.mail(tx['rset_first'])}")
                    log.append(f"RSET -> {smtp.rset()}")
                subject = tx.get("subject") or new_subject()
                code, reply = smtp.mail(envelope)
                log.append(f"MAIL FROM:<{envelope}> -> {code}")
                if code == 250:
                    code, reply = smtp.rcpt(rcpt)
                    log.append(f"RCPT TO:<{rcpt}> -> {code}")
                if code == 250:
                    text = message_text(
                        subject, mail_from, rcpt, tx.get("extra_headers", ()), tx.get("header_from")
                    )
                    code, reply = smtp.data(text.encode())
                    log.append(f"DATA -> {code}")
                else:
                    smtp.rset()
                reply = reply.decode(errors="replace") if isinstance(reply, bytes) else reply
                m = re.search(r"queued as ([0-9A-Za-z]+)", reply) if code == 250 else None
                results.append(SendResult(code, reply, m.group(1) if m else None, subject, "\n".join(log), 0))
        return results

    def smtp_client(self, timeout=30, source=None) -> "SmtpClient":
        """A raw SMTP connection to the rig's Postfix (banner already read),
        for dialogues swaks and smtplib will not produce."""
        return SmtpClient(self.smtp_port, timeout=timeout, source=source)

    def wait_delivered(self, subject, timeout=20) -> DeliveredMessage:
        """The delivered message with this Subject (bounded wait)."""

        def find():
            for path in sorted((self.inbox / "new").glob("*.eml")):
                msg = self._message_cache.get(path.name)
                if msg is None:
                    msg = self._message_cache[path.name] = DeliveredMessage.load(path)
                if msg.get("Subject") == subject:
                    return msg
            return None

        try:
            return wait_until(find, timeout, f"delivery of {subject!r}", interval=0.1)
        except RigError as exc:
            raise RigError(f"{exc}\n--- maillog (tail) ---\n{log_tail(self.postfix.maillog)}") from None

    def mtls_check(self, *args, timeout=60):
        """Run the mtls-check CLI against the rig's DNS."""
        cmd = [
            str(self.check_bin),
            "--unbound-config",
            str(self.unbound_conf),
            "--trust-anchor-file",
            str(self.trust_anchor_file),
            *map(str, args),
        ]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
