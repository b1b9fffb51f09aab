"""The private Postfix instance (``postfix -c DIR``) whose smtpd runs the
milter and whose pipe delivers every accepted message to ``inbox/new``."""

from __future__ import annotations

import fcntl
import os
import pwd
import re
import shlex
import shutil
import signal
import subprocess
from pathlib import Path

from .base import RigError, SASL_PASSWORD, SASL_USER
from .ca import TestCA
from .process import free_port, log_tail, run, smtp_banner, wait_until

DEFAULT_MAIN_CF = Path("/etc/postfix/main.cf")


class PostfixInstance:
    """A private Postfix (``postfix -c DIR``) that runs the milter on smtpd
    and delivers every message unchanged into a Maildir-like ``new/`` folder.

    Delivery is through pipe(8) without flags, so Postfix adds neither
    Return-Path: nor Delivered-To:, and the first header of a delivered file
    is the first header of the message after the milter ran."""

    def __init__(
        self,
        directory: Path,
        inbox: Path,
        ca: TestCA,
        milter_socket: str | None,
        test_features=False,
        policy_service=None,
        *,
        address="127.0.0.1",
        smtp_port=None,
        hostname="mx.inbox.test",
        server_cert=None,
        netns=None,
        settings=None,
    ):
        """``milter_socket``: Postfix syntax (inet:host:port / unix:path),
        None for an smtpd without milter. ``test_features``: SMTPUTF8 and
        SMTP-AUTH (Cyrus SASL, sasldb), which the test rig needs and other
        users (bench/) may not want. ``policy_service``: a policy server
        (Postfix syntax, inet:host:port or unix:/path) that smtpd calls at
        RCPT with check_policy_service, with SHA-256 certificate fingerprints
        (the milter's policy-socket).

        The outbound rig (rig/outbound.py) runs several instances in a
        network namespace: ``address``/``smtp_port`` (default: a free port
        on 127.0.0.1) is where smtpd listens, ``hostname`` its name,
        ``server_cert`` its certificate (default: the CA's "server"),
        ``netns`` the netns.NetNamespace every command runs in, and
        ``settings`` main.cf parameters on top of (or replacing) the
        defaults."""
        self.policy_service = policy_service
        self.address = address
        self.hostname = hostname
        self.server_cert = server_cert
        self.netns = netns
        self.settings = dict(settings or {})
        self.dir = directory
        self.test_features = test_features
        self.config_dir = directory / "etc"
        self.queue_dir = directory / "queue"
        self.data_dir = directory / "data"
        self.maillog = directory / "maillog"
        self.inbox = inbox
        self.ca = ca
        self.milter_socket = milter_socket  # Postfix syntax: inet:host:port / unix:path
        self.smtp_port = smtp_port or free_port()
        self._registered_alternate = False

    def write_config(self):
        """Directories, the delivery script, main.cf and master.cf."""
        self._make_directories()
        deliver = self._write_delivery_script()
        main_cf = self._main_cf()
        (self.config_dir / "main.cf").write_text(
            "# Private Postfix for the mtls-milter integration rig\n"
            + "".join(f"{k} = {v}\n" for k, v in main_cf.items())
        )
        self._write_master_cf(deliver)

    def _make_directories(self):
        for d in (self.config_dir, self.queue_dir, self.data_dir):
            d.mkdir(parents=True, exist_ok=True)
        nobody = pwd.getpwnam("nobody")
        for sub in ("tmp", "new"):
            (self.inbox / sub).mkdir(parents=True, exist_ok=True)
            os.chown(self.inbox / sub, nobody.pw_uid, nobody.pw_gid)
        os.chown(self.data_dir, pwd.getpwnam("postfix").pw_uid, -1)

    def _write_delivery_script(self):
        """The pipe(8) command that writes each message into inbox/new."""
        deliver = self.dir / "deliver.sh"
        deliver.write_text(
            "#!/bin/sh\n"
            "# Called by pipe(8) as nobody with the queue id; the message is\n"
            "# written to tmp/ first so that readers never see half a file.\n"
            "umask 022\n"
            f'tmp="{self.inbox}/tmp/$1.$$"\n'
            f'cat > "$tmp" && mv "$tmp" "{self.inbox}/new/$1.eml"\n'
        )
        deliver.chmod(0o755)
        return deliver

    def _main_cf(self):
        """main.cf as {parameter: value}; the policy channel and the test
        features (SMTPUTF8, SMTP-AUTH) only when asked for."""
        server = self.server_cert or self.ca.certs["server"]
        main_cf = {
            "compatibility_level": "3.6",
            "queue_directory": self.queue_dir,
            "data_directory": self.data_dir,
            "maillog_file": self.maillog,
            "maillog_file_prefixes": self.dir,
            "myhostname": self.hostname,
            "mydomain": "inbox.test",
            "myorigin": "$myhostname",
            "mydestination": "",
            "inet_interfaces": self.address,
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "relay_domains": "inbox.test",
            "relay_recipient_maps": "",
            "relay_transport": "capture:",
            "default_transport": "error:the test rig delivers only to inbox.test",
            "smtpd_relay_restrictions": "permit_mynetworks, reject_unauth_destination",
            "local_recipient_maps": "",
            "alias_maps": "",
            "alias_database": "",
            "biff": "no",
            "append_dot_mydomain": "no",
            "smtputf8_enable": "no",
            "smtpd_peername_lookup": "no",
            "in_flow_delay": "0",
            "smtpd_banner": "$myhostname ESMTP mtls-milter test rig",
            "capture_destination_recipient_limit": "1",
            "smtpd_tls_security_level": "may",
            "smtpd_tls_cert_file": server.cert,
            "smtpd_tls_key_file": server.key,
            "smtpd_tls_ask_ccert": "yes",
            "smtpd_tls_CAfile": self.ca.ca.cert,
            "smtpd_tls_received_header": "yes",
            "smtpd_tls_loglevel": "1",
            "smtpd_milters": self.milter_socket or "",
            "milter_default_action": "tempfail",
            "milter_connect_timeout": "5s",
            "milter_command_timeout": "30s",
            "milter_content_timeout": "60s",
        }
        if self.policy_service:
            main_cf.update(
                {
                    # Before permit_mynetworks: the rig's clients are all in
                    # mynetworks, and the policy server must see every RCPT.
                    # The per-service default_action is what the README
                    # recommends, so the tests show Postfix 3.7 accepts it.
                    "smtpd_recipient_restrictions": f"check_policy_service {{ {self.policy_service}, "
                    "default_action=DUNNO }, "
                    "permit_mynetworks, reject_unauth_destination",
                    # ccert_fingerprint / ccert_pubkey_fingerprint as SHA-256
                    # (already the default at compatibility level 3.6).
                    "smtpd_tls_fingerprint_digest": "sha256",
                }
            )
        if self.test_features:
            self._write_sasl_config()
            main_cf.update(
                {
                    # SMTPUTF8 on, so that tests can send UTF-8 envelopes.
                    "smtputf8_enable": "yes",
                    # SMTP-AUTH through Cyrus SASL with a private sasldb (the
                    # only SASL back end that needs no daemon), so that tests
                    # can show that authenticated submissions get no verdict.
                    "smtpd_sasl_auth_enable": "yes",
                    "smtpd_sasl_type": "cyrus",
                    "smtpd_sasl_path": "smtpd",
                    "smtpd_sasl_security_options": "noanonymous",
                }
            )
        main_cf.update(self.settings)
        return main_cf

    def _write_master_cf(self, deliver):
        # chroot n everywhere: Debian's chroot needs files copied into the
        # queue directory, which this throwaway instance does not bother with.
        (self.config_dir / "master.cf").write_text(
            f"""\
# service type  private unpriv  chroot  wakeup  maxproc command
{self.address}:{self.smtp_port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
capture   unix  -       n       n       -       -       pipe
  user=nobody argv={deliver} ${{queue_id}}
"""
        )

    def _write_sasl_config(self):
        """smtpd.conf for Cyrus SASL and a sasldb with SASL_USER, readable by
        the postfix user smtpd runs as. Debian's Postfix reads smtpd.conf from
        $config_directory/sasl/ and ignores cyrus_sasl_config_path (seen with
        strace), so that is where it goes."""
        sasl_dir = self.config_dir / "sasl"
        sasl_dir.mkdir(exist_ok=True)
        sasldb = sasl_dir / "sasldb2"
        (sasl_dir / "smtpd.conf").write_text(
            "pwcheck_method: auxprop\n"
            "auxprop_plugin: sasldb\n"
            "mech_list: PLAIN LOGIN\n"
            f"sasldb_path: {sasldb}\n"
        )
        user, realm = SASL_USER.split("@")
        proc = subprocess.run(
            ["saslpasswd2", "-f", str(sasldb), "-p", "-c", "-u", realm, user],
            input=SASL_PASSWORD,
            capture_output=True,
            text=True,
            timeout=30,
        )
        if proc.returncode != 0 or not sasldb.exists():
            raise RigError(f"saslpasswd2 failed ({proc.returncode}): {proc.stderr}")
        postfix = pwd.getpwnam("postfix")
        os.chown(sasldb, postfix.pw_uid, postfix.pw_gid)
        sasldb.chmod(0o600)

    # -- /etc/postfix/main.cf: alternate_config_directories -----------------
    def _edit_alternates(self, add):
        """Register (or unregister) our config dir in the default main.cf,
        under a lock so that two rigs on one machine do not lose an entry."""
        if not DEFAULT_MAIN_CF.exists():
            if not add:
                return
            shutil.copy("/usr/share/postfix/main.cf.debian", DEFAULT_MAIN_CF)
        with open(DEFAULT_MAIN_CF, "r+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            current = run(["postconf", "-h", "alternate_config_directories"]).stdout
            entries = [e for e in re.split(r"[\s,]+", current.strip()) if e]
            mine = str(self.config_dir)
            if add and mine not in entries:
                entries.append(mine)
            elif not add:
                entries = [e for e in entries if e != mine]
            run(["postconf", "-e", f"alternate_config_directories = {' '.join(entries)}"])

    def _postfix(self, command, timeout=60):
        """Run ``postfix -c DIR command`` so that its complaints are seen.

        Postfix writes errors to stderr only when stderr is a terminal, else
        to syslog, which these machines lack (docs/MTA-FACTS.md, "Postfix"): run it under
        script(1) for a pseudo-terminal when available."""
        cmd = ["postfix", "-c", str(self.config_dir), command]
        if self.netns:
            cmd = [*self.netns.prefix(), *cmd]
        if shutil.which("script"):
            cmd = ["script", "-qec", shlex.join(cmd), "/dev/null"]
        return run(cmd, check=False, timeout=timeout)

    def start(self, timeout=30):
        self._edit_alternates(add=True)
        self._registered_alternate = True
        for command in ("check", "start"):
            proc = self._postfix(command, timeout)
            if proc.returncode != 0:
                raise RigError(
                    f"postfix -c {self.config_dir} {command} failed "
                    f"({proc.returncode}):\n{proc.stdout}{proc.stderr}"
                    f"--- maillog ---\n{log_tail(self.maillog)}"
                )
        wait_until(
            self._banner,
            timeout,
            f"Postfix smtpd banner on {self.address}:{self.smtp_port} " f"(maillog: {self.maillog})",
            interval=0.2,
        )

    def _banner(self):
        return smtp_banner(self.smtp_port, self.address, self.netns)

    def master_pid(self):
        try:
            return int((self.queue_dir / "pid" / "master.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def reload(self):
        proc = self._postfix("reload")
        if proc.returncode != 0:
            raise RigError(f"postfix reload failed:\n{proc.stdout}{log_tail(self.maillog)}")

    def postconf(self, *settings):
        run(["postconf", "-c", self.config_dir, "-e", *settings])

    def stop(self, timeout=15):
        """``postfix stop``, then make sure the master and every process in
        its session (master calls setsid) is gone."""
        pid = self.master_pid()
        if pid and self.queue_dir.exists():
            self._postfix("stop", timeout)
        if pid:
            try:
                wait_until(lambda: not _pid_alive(pid), timeout, "Postfix master to exit", interval=0.1)
            except RigError:
                pass
            _kill_session(pid)
        if self._registered_alternate:
            self._edit_alternates(add=False)
            self._registered_alternate = False


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is as good as dead for us.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return False


def _kill_session(sid):
    """SIGKILL the processes whose session id is ``sid`` (the Postfix
    master's pid): only processes this rig's Postfix started."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 3 and int(fields[3]) == sid:
            try:
                os.kill(int(entry.name), signal.SIGKILL)
            except ProcessLookupError:
                pass
