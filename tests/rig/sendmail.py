"""A real Sendmail 8.17 from Debian's packages, receiving mail for the rig.

Sendmail's packages conflict with Postfix's, so they are not installed:
``apt-get download`` fetches them once into a cache directory, ``dpkg-deb
-x`` extracts them into the instance's own directory, and m4 builds the .cf
from an .mc with the extracted cf macros. The milter is attached with the
lines of ``conf/sendmail.mc`` (the snippet README.md documents), changed
only where a test machine must differ: the milter's port and the CA.

Verified quirks of Debian's 8.17.1.9 this module works around
(docs/MTA-FACTS.md, "Sendmail"):

* the binary is setgid, so the loader ignores LD_LIBRARY_PATH (which must
  name the extracted libwrap0) until the bit is cleared;
* with an unqualified host name it sleeps 60 s before reading its .cf: it
  runs in a UTS namespace (``unshare -u``) with a dotted host name;
* it silently offers no STARTTLS when it distrusts a certificate or key
  file, and files under /tmp (sticky, world-writable) are distrusted unless
  DontBlameSendmail=TrustStickyBit; the key must be mode 0600;
* ``-d`` output of a daemon's children goes into the SMTP session, so
  macro tracing (``-d64.10``) is written to a file with ``-D``.

Accepted mail is delivered by a prog mailer (``capture``) into the rig's
inbox, byte for byte as the milter left it. Everything listens on a loopback
port picked at run time; every wait is bounded; stop() kills what start()
started.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import pwd
import re
import shutil
import subprocess
from pathlib import Path

from .base import RigError
from .ca import TestCA
from .process import die_with_parent, free_port, kill_process_group, log_tail, run, smtp_banner, wait_until

# Debian 12's Sendmail and the one library it needs that Postfix machines lack.
PACKAGES = ("sendmail-bin", "sendmail-base", "sendmail-cf", "libwrap0")
# Where the downloaded packages are kept between runs (MTLS_SENDMAIL_DEBS
# overrides it); CI may cache this directory.
DEFAULT_DEB_CACHE = Path("/var/cache/mtls-milter-tests/sendmail")
# The snippet README.md documents, which the rig attaches the milter with.
SNIPPET = Path(__file__).resolve().parents[2] / "conf" / "sendmail.mc"
# Its milter socket, and the CA lines a test machine replaces.
SNIPPET_SOCKET = "S=inet:8894@127.0.0.1"
SNIPPET_CA_DEFINES = ("confCACERT_PATH", "confCACERT")

# The DMARC stage's lines in it are commented out (an optional second stage);
# their paragraph starts with this comment and ends at a bare "dnl".
SNIPPET_DMARC_START = "dnl The DMARC stage"
# Their sockets, by filter name: what a test machine replaces.
SNIPPET_DMARC_SOCKETS = {"opendkim": "S=inet:8891@127.0.0.1", "mtls-dmarc": "S=inet:8896@127.0.0.1"}

HOSTNAME = "mx.sendmail.test"


def _without_dnl(line):
    return line[: -len("dnl")] if line.endswith("dnl") else line


def snippet_lines(path=SNIPPET, dmarc=False):
    """The lines of conf/sendmail.mc that are not comments, without their
    trailing ``dnl``: what README.md and mtls-milter(8) must show. With
    ``dmarc``, also the DMARC stage's commented-out lines, uncommented, in
    their place."""
    lines = []
    in_dmarc = False
    for line in Path(path).read_text().splitlines():
        if line.startswith(SNIPPET_DMARC_START):
            in_dmarc = True
        elif in_dmarc and line.strip() == "dnl":
            in_dmarc = False
        elif in_dmarc and dmarc and re.match(r"dnl (INPUT_MAIL_FILTER|define)\(", line):
            lines.append(_without_dnl(line[len("dnl ") :]))
        if not line.strip() or line.startswith("dnl"):
            continue
        lines.append(_without_dnl(line))
    return lines


def dmarc_snippet_lines(path=SNIPPET):
    """Only the DMARC stage's lines of conf/sendmail.mc, uncommented: what
    README.md and mtls-milter(8) must show for it."""
    everything = snippet_lines(path, dmarc=True)
    plain = set(snippet_lines(path))
    return [line for line in everything if line not in plain]


def download_packages(cache_dir=None, timeout=300):
    """The .deb files of PACKAGES, downloaded with ``apt-get download`` into
    ``cache_dir`` unless already there. Raises RigError when that is
    impossible: Sendmail tests must fail, not skip, without Sendmail."""
    cache = Path(cache_dir or os.environ.get("MTLS_SENDMAIL_DEBS") or DEFAULT_DEB_CACHE)
    cache.mkdir(parents=True, exist_ok=True)
    # Two test runs at once must not download into each other's files.
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        debs = _cached_debs(cache)
        missing = [p for p in PACKAGES if p not in debs]
        if missing:
            # apt's sandbox user cannot write into a root-owned cache: ask it
            # not to try (it would fall back with a warning anyway).
            proc = run(
                ["apt-get", "download", "-o", "APT::Sandbox::User=root", *missing],
                cwd=cache,
                timeout=timeout,
                check=False,
            )
            debs = _cached_debs(cache)
            still = [p for p in PACKAGES if p not in debs]
            if still:
                raise RigError(
                    f"cannot download Sendmail's packages {' '.join(still)} into {cache} "
                    f"(apt-get download exited {proc.returncode}):\n{proc.stdout}{proc.stderr}"
                )
    return [debs[p] for p in PACKAGES]


def _cached_debs(cache):
    """{package: newest .deb of it in cache}."""
    found = {}
    for deb in sorted(cache.glob("*.deb")):
        name = deb.name.split("_", 1)[0]
        if name in PACKAGES:
            found[name] = deb
    return found


class SendmailInstance:
    """Debian's Sendmail, extracted into ``directory``, listening on a free
    loopback port with STARTTLS (the rig's CA, asking for client
    certificates) and the milter on ``milter_port`` attached as
    conf/sendmail.mc says. Accepted mail for ``inbox.test`` goes into
    ``inbox/new`` (the rig's inbox: subjects are unique)."""

    def __init__(
        self,
        directory: Path,
        inbox: Path,
        ca: TestCA,
        milter_port: int,
        server_cert="server",
        dmarc_ports=None,
    ):
        """``dmarc_ports``: {"opendkim": port, "mtls-dmarc": port} to attach
        the DMARC stage as well, with conf/sendmail.mc's commented-out lines
        for it (OpenDKIM between the two stages)."""
        self.dir = Path(directory)
        self.dmarc_ports = dmarc_ports
        self.root = self.dir / "root"  # the extracted packages
        self.inbox = inbox
        self.ca = ca
        self.milter_port = milter_port
        self.server_cert = server_cert
        self.smtp_port = free_port()
        self.cf = self.dir / "sendmail.cf"
        self.log = self.dir / "sendmail.log"  # stdout and stderr of the daemon
        self.debug_log = self.dir / "debug.log"  # -d64.10: the macros sent to the milter
        self.proc = None

    @property
    def binary(self):
        return self.root / "usr" / "libexec" / "sendmail" / "sendmail"

    # -- set-up ----------------------------------------------------------------
    def extract(self, debs):
        self.root.mkdir(parents=True, exist_ok=True)
        for deb in debs:
            run(["dpkg-deb", "-x", deb, self.root])
        if not self.binary.exists():
            raise RigError(f"no Sendmail binary in the extracted packages: {self.binary}")
        # setgid smmsp: the loader would ignore LD_LIBRARY_PATH.
        self.binary.chmod(self.binary.stat().st_mode & 0o777 & ~0o2000)

    def write_config(self):
        """Queue, TLS files, the delivery script and sendmail.cf."""
        queue = self.dir / "queue"
        queue.mkdir(mode=0o700, parents=True, exist_ok=True)
        tls = self.dir / "tls"
        tls.mkdir(mode=0o755, exist_ok=True)
        server = self.ca.certs[self.server_cert]
        shutil.copy(self.ca.ca.cert, tls / "ca.crt")
        shutil.copy(server.cert, tls / "server.crt")
        shutil.copy(server.key, tls / "server.key")
        (tls / "server.key").chmod(0o600)
        for sub in ("tmp", "new"):
            (self.inbox / sub).mkdir(parents=True, exist_ok=True)
        nobody = pwd.getpwnam("nobody")
        for sub in ("tmp", "new"):
            os.chown(self.inbox / sub, nobody.pw_uid, nobody.pw_gid)
        deliver = self.dir / "deliver.sh"
        deliver.write_text(
            "#!/bin/sh\n"
            "# Sendmail's capture mailer, as nobody: tmp/ first, so that\n"
            "# readers never see half a message.\n"
            "umask 022\n"
            f'tmp="{self.inbox}/tmp/sendmail.$$"\n'
            f'cat > "$tmp" && mv "$tmp" "{self.inbox}/new/sendmail.$$.$(date +%s%N).eml"\n'
        )
        deliver.chmod(0o755)
        (self.dir / "service.switch").write_text("hosts files\naliases files\n")
        (self.dir / "hosts").write_text("127.0.0.1 localhost\n")
        mc = self.dir / "sendmail.mc"
        mc.write_text(self.mc_text(queue, tls, deliver))
        cf_dir = self.root / "usr" / "share" / "sendmail" / "cf"
        proc = run(["m4", f"-D_CF_DIR_={cf_dir}/", cf_dir / "m4" / "cf.m4", mc])
        self.cf.write_text(proc.stdout)

    def mc_text(self, queue, tls, deliver):
        """sendmail.mc: a minimal receiving MTA on loopback, then the lines of
        conf/sendmail.mc with the rig's milter port and CA."""
        d = self.dir
        lines = [
            "divert(0)dnl",
            "OSTYPE(`linux')dnl",
            f"define(`confDOMAIN_NAME', `{HOSTNAME}')dnl",
            f"define(`QUEUE_DIR', `{queue}')dnl",
            f"define(`confPID_FILE', `{d}/sendmail.pid')dnl",
            f"define(`STATUS_FILE', `{d}/statistics')dnl",
            "define(`ALIAS_FILE', `')dnl",
            # No DNS: the test zones are NSD's, which Sendmail's resolver
            # cannot see; /etc/hosts-style lookups answer at once.
            f"define(`confSERVICE_SWITCH_FILE', `{d}/service.switch')dnl",
            f"define(`confHOSTS_FILE', `{d}/hosts')dnl",
            "define(`confDONT_PROBE_INTERFACES', `true')dnl",
            "define(`confTO_IDENT', `0s')dnl",
            # Deliver before answering the end of DATA: the file exists when
            # the client has its 250.
            "define(`confDELIVERY_MODE', `interactive')dnl",
            "define(`confDONT_BLAME_SENDMAIL', `TrustStickyBit')dnl",
            # Sendmail only queues mail above a load average of 8 per CPU
            # and refuses connections above 12 per CPU (QueueLA, RefuseLA):
            # a busy 2-core CI machine must not turn into missing mail or a
            # missing banner.
            "define(`confQUEUE_LA', `1000')dnl",
            "define(`confREFUSE_LA', `1000')dnl",
            f"define(`confSERVER_CERT', `{tls}/server.crt')dnl",
            f"define(`confSERVER_KEY', `{tls}/server.key')dnl",
            "FEATURE(`no_default_msa')dnl",
            "FEATURE(`accept_unresolvable_domains')dnl",
            "FEATURE(`nocanonify')dnl",
            "RELAY_DOMAIN(`inbox.test')dnl",
            f"DAEMON_OPTIONS(`Port={self.smtp_port}, Addr=127.0.0.1, Name=MTA')dnl",
            *self.snippet_for_rig(tls),
            "MAILER(`smtp')dnl",
            # Mail for inbox.test goes to the capture mailer: no From_ line
            # (n), domains kept in envelope and headers (the SMTP rulesets).
            "MAILER_DEFINITIONS",
            f"Mcapture, P={deliver}, F=lsn, S=EnvFromSMTP/HdrFromSMTP, R=EnvToSMTP, "
            "U=nobody:nogroup, T=DNS/RFC822/SMTP, A=deliver.sh $u",
            "LOCAL_RULE_0",
            "R$+ < @ inbox.test $* > $*\t$#capture $: $1 < @ inbox.test >",
            "",
        ]
        return "\n".join(lines)

    def snippet_for_rig(self, tls):
        """conf/sendmail.mc's lines with the rig's milter port and CA (and
        with dmarc_ports, the DMARC stage's lines with those ports); every
        substitution must happen, so a changed snippet fails loudly here."""
        out = []
        replaced = set()
        sockets = {"socket": (SNIPPET_SOCKET, self.milter_port)}
        for name, port in (self.dmarc_ports or {}).items():
            sockets[name] = (SNIPPET_DMARC_SOCKETS[name], port)
        for line in snippet_lines(dmarc=self.dmarc_ports is not None):
            for name, (socket, port) in sockets.items():
                if socket in line:
                    line = line.replace(socket, f"S=inet:{port}@127.0.0.1")
                    replaced.add(name)
            for name in SNIPPET_CA_DEFINES:
                if line.startswith(f"define(`{name}',"):
                    value = tls if name == "confCACERT_PATH" else tls / "ca.crt"
                    line = f"define(`{name}', `{value}')"
                    replaced.add(name)
            out.append(line + "dnl")
        expected = {*sockets, *SNIPPET_CA_DEFINES}
        if replaced != expected:
            raise RigError(f"{SNIPPET} lacks {sorted(expected - replaced)}: the rig cannot attach the milter")
        return out

    # -- running -----------------------------------------------------------------
    def start(self, timeout=30):
        """Start the daemon in the foreground (-bD) in its own UTS namespace
        and wait for its banner."""
        env = dict(os.environ)
        env["LD_LIBRARY_PATH"] = ":".join(sorted({str(p.parent) for p in self.root.rglob("libwrap.so.0")}))
        command = (
            f"hostname {HOSTNAME} && exec {self.binary} -bD -C {self.cf} " f"-D {self.debug_log} -d64.10"
        )
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                ["unshare", "-u", "sh", "-c", command],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=env,
                preexec_fn=die_with_parent,
            )

        def ready():
            if self.proc.poll() is not None:
                raise RigError(f"Sendmail exited with {self.proc.returncode}:\n{log_tail(self.log)}")
            return self._banner()

        # Also stopped at exit, should the test class never get to stop() it
        # (Ctrl-C, SIGTERM from CI); stop() twice is harmless.
        atexit.register(self.stop)
        wait_until(ready, timeout, f"Sendmail's banner on 127.0.0.1:{self.smtp_port}", interval=0.1)
        return self

    def _banner(self):
        return smtp_banner(self.smtp_port)

    def stop(self):
        kill_process_group(self.proc, timeout=10)
        self.proc = None

    def macros_sent(self):
        """What -d64.10 traced, in the order sent to the milter: [(stage,
        macro, value)], the stage as the milter protocol's command letter
        (C connect, H HELO, M MAIL ...), e.g. ("M", "{verify}", "OK").
        Trace lines look like
        ``milter_send_macros(mtls-milter, M): {verify}=OK``."""
        text = self.debug_log.read_text(errors="replace") if self.debug_log.exists() else ""
        return re.findall(r"^milter_send_macros\(mtls-milter, (\w)\): ([^=\n]+)=(.*)$", text, re.MULTILINE)


def queue_id_of(reply):
    """Sendmail's queue id from its answer to the end of DATA
    ("2.0.0 6B6LO2BR025624 Message accepted for delivery")."""
    m = re.search(r"([0-9A-Za-z]{8,}) Message accepted for delivery", reply or "")
    return m.group(1) if m else None


def start_sendmail(rig, directory=None, dmarc_ports=None):
    """A started SendmailInstance in the rig's directory, attached to the
    rig's milter (which must listen on inet); ``dmarc_ports``: see
    SendmailInstance."""
    if not isinstance(rig.milter_address, tuple):
        raise RigError("the Sendmail instance needs the rig's milter on an inet socket")
    instance = SendmailInstance(
        directory or rig.dir / "sendmail", rig.inbox, rig.ca, rig.milter_port, dmarc_ports=dmarc_ports
    )
    instance.extract(download_packages())
    instance.write_config()
    try:
        return instance.start()
    except BaseException:
        instance.stop()
        raise
