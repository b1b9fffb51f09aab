#!/usr/bin/python3
"""Measure mtls-milter's reliability and write docs/RELIABILITY.md.

    scripts/reliability [--quick] [--no-valgrind] [--output FILE]

Runs, on one rig (tests/rig/: NSD, libunbound, Postfix, the
real milter), the drivers of tests/rig/faults.py at a larger size than
test_reliability.py: rounds of concurrent SMTP sessions through Postfix and
of milter-protocol sessions with RSS/fd figures after each round, DNS faults
switched on and off (with recovery times), kill -9 and SIGHUP under load,
hostile milter clients, the privilege check, and a short run under
valgrind. Every figure in the document comes from this run. The exit status
is non-zero when any check fails (mail lost or duplicated, a missing or
extra header, growth across rounds, a fault not giving temperror in time,
valgrind errors or definite leaks).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import pwd
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import rig as rigmod  # noqa: E402

rigmod.use_debian_python()

from rig import faults  # noqa: E402

SUPPRESSIONS = ROOT / "tests" / "integration" / "valgrind.supp"
DNS_TIMEOUT = 2

SIZES = {
    # name: (smtp rounds, smtp sessions, msgs/session, milter rounds, milter sessions,
    #        msgs/session, crash sessions, at least msgs/session, SIGHUPs, hostile rounds)
    "quick": dict(
        smtp_rounds=3,
        smtp_sessions=100,
        smtp_per=1,
        milter_rounds=3,
        milter_sessions=200,
        milter_per=3,
        crash_sessions=8,
        crash_per=10,
        sighups=10,
        kills=1,
        hostile_rounds=1,
        natural_recovery=False,
    ),
    "full": dict(
        smtp_rounds=6,
        smtp_sessions=200,
        smtp_per=3,
        milter_rounds=6,
        milter_sessions=200,
        milter_per=20,
        crash_sessions=16,
        crash_per=25,
        sighups=30,
        kills=3,
        hostile_rounds=3,
        natural_recovery=True,
    ),
}


class Report:
    def __init__(self):
        self.checks = []  # (what, ok, detail)
        self.sections = {}

    def check(self, what, ok, detail=""):
        self.checks.append((what, bool(ok), detail))
        print(f"  [{'ok' if ok else 'FAIL'}] {what} {detail}", flush=True)
        return ok

    @property
    def failed(self):
        return [c for c in self.checks if not c[1]]


def mib(kib):
    return f"{kib / 1024:.1f} MiB" if kib is not None else "?"


def sample(rig):
    pid = rig.milter_proc.pid
    return faults.settle(pid, 0.5)


# --------------------------------------------------------------------------


def run_smtp_load(rig, size, report):
    rig.start_milter()
    pid = rig.milter_proc.pid
    threads = faults.thread_count(pid)
    start = faults.settle(pid, 0.2)
    rows, totals = [], {
        "sent": 0,
        "delivered": 0,
        "lost": 0,
        "duplicated": 0,
        "bad_header": 0,
        "other_result": 0,
        "failed": 0,
    }
    peak = start["rss_kib"]
    for n in range(size["smtp_rounds"]):
        tag = f"rel-smtp{n}-{uuid.uuid4().hex[:6]}"
        subjects, stats, seconds = faults.smtp_load(rig, size["smtp_sessions"], size["smtp_per"], tag)
        acct = faults.account(rig, subjects, tag, timeout=120)
        faults.wait_threads_at_most(pid, threads + 2)
        s = faults.settle(pid, 0.5)
        peak = max(peak, s["rss_kib"])
        rows.append({"round": n + 1, "seconds": seconds, **acct, **s, "failed": len(stats["failed"])})
        for k in totals:
            totals[k] += acct.get(k, 0) if k != "failed" else len(stats["failed"])
        print(
            f"  smtp round {n + 1}: {acct['delivered']}/{acct['sent']} in {seconds:.1f}s, "
            f"RSS {mib(s['rss_kib'])}, fds {s['fds']}",
            flush=True,
        )
    report.check(
        "SMTP load: every message delivered once with one mtls header",
        totals["lost"]
        == totals["duplicated"]
        == totals["bad_header"]
        == totals["other_result"]
        == totals["failed"]
        == 0
        and totals["delivered"] == totals["sent"],
        str(totals),
    )
    growth_ok = _no_growth(rows)
    report.check(
        "SMTP load: no RSS/fd growth after the warm-up round",
        growth_ok,
        f"RSS {[mib(r['rss_kib']) for r in rows]}, fds {[r['fds'] for r in rows]}",
    )
    return {"rows": rows, "totals": totals, "start": start, "peak_rss_kib": peak}


def run_milter_load(rig, size, report):
    pid = rig.milter_proc.pid
    threads = faults.thread_count(pid)
    start = faults.settle(pid, 0.2)
    rows, peak = [], start["rss_kib"]
    for n in range(size["milter_rounds"]):
        result = faults.milter_load(
            rig.milter_address, size["milter_sessions"], size["milter_per"], tag=f"P{n}"
        )
        faults.wait_threads_at_most(pid, threads + 2)
        s = faults.settle(pid, 0.5)
        peak = max(peak, s["rss_kib"])
        rows.append({"round": n + 1, **result, **s})
        print(
            f"  milter round {n + 1}: {result['ok']}/{result['messages']} in "
            f"{result['seconds']:.1f}s, RSS {mib(s['rss_kib'])}, fds {s['fds']}",
            flush=True,
        )
    ok = all(r["ok"] == r["messages"] and r["bad"] == 0 and not r["errors"] for r in rows)
    report.check(
        "milter-protocol load: every message one correct header",
        ok,
        str([r["errors"] for r in rows if r["errors"]])[:500],
    )
    report.check(
        "milter-protocol load: no RSS/fd growth after the warm-up round",
        _no_growth(rows),
        f"RSS {[mib(r['rss_kib']) for r in rows]}, fds {[r['fds'] for r in rows]}",
    )
    return {"rows": rows, "start": start, "peak_rss_kib": peak}


def _no_growth(rows):
    if len(rows) < 3:
        return True
    rss = [r["rss_kib"] for r in rows[1:]]
    fds = [r["fds"] for r in rows]
    return rss[-1] <= max(rss[0] * 1.10, rss[0] + 4096) and max(fds) - min(fds) <= 2


# --------------------------------------------------------------------------


def run_dns_faults(rig, size, report):
    work = rig.dir / "faults"
    work.mkdir(exist_ok=True)
    proxy = faults.DnsFaultProxy(rig.dns.port, delay=DNS_TIMEOUT + 2).start()
    expiring = faults.ExpiringZone(work / "expiring", rig.client_mx_type).build()
    expiring.sign(3600)
    conf = faults.fault_unbound_conf(rig, work / "unbound.conf", proxy, expiring)
    rows = []
    try:
        for mode, expected in (
            ("stopped", "temperror"),
            ("silent", "temperror"),
            ("slow", "temperror"),
            ("servfail", "temperror"),
            ("truncate", "pass"),
        ):
            rig.start_milter(unbound_config=conf, dns_timeout=DNS_TIMEOUT)
            proxy.set_mode(mode)
            before = proxy.counters()
            elapsed, result, reason = _timed_send(rig, "alice@secure.test")
            after = proxy.counters()
            proxy.set_mode("pass")
            recovery = _recover(rig, "alice@secure.test", 60)
            row = {
                "fault": mode,
                "result": result,
                "reason": reason,
                "seconds": elapsed,
                "recovery": recovery,
                "queries": {k: after[k] - before[k] for k in after if after[k] != before[k]},
            }
            rows.append(row)
            report.check(
                f"DNS fault {mode}: {expected} within {DNS_TIMEOUT}+3 s, then recovery",
                result == expected and elapsed < DNS_TIMEOUT + 3 and recovery is not None,
                f"{result} ({reason}) in {elapsed:.2f}s, recovered in {recovery}",
            )

        # Signatures expiring while the milter runs.
        rig.start_milter(unbound_config=conf, dns_timeout=DNS_TIMEOUT)
        expiring.sign(6)
        _, before_result, _ = _timed_send(rig, "alice@expiring.rel")
        time.sleep(max(0.0, expiring.expiration + 1.5 - time.time()))
        elapsed, result, reason = _timed_send(rig, "alice@expiring.rel")
        expiring.sign(3600)
        resigned = time.monotonic()
        if size["natural_recovery"]:
            recovery = _recover(rig, "alice@expiring.rel", 120)
            how = "waiting (libunbound's 60 s bogus-key blackout)"
        else:
            rig.milter_proc.send_signal(signal.SIGHUP)
            recovery = _recover(rig, "alice@expiring.rel", 30)
            how = "SIGHUP (new resolver)"
        if recovery is not None:
            recovery = round(time.monotonic() - resigned, 1)
        rows.append(
            {
                "fault": "signatures expire",
                "result": result,
                "reason": reason,
                "seconds": elapsed,
                "recovery": recovery,
                "recovery_how": how,
                "before": before_result,
            }
        )
        report.check(
            "DNS fault expiring signatures: pass before, temperror after, recovery",
            before_result == "pass"
            and result == "temperror"
            and reason == "DNSSEC validation failed"
            and elapsed < DNS_TIMEOUT + 3
            and recovery is not None,
            f"{before_result} -> {result} ({reason}) in {elapsed:.2f}s; "
            f"re-signed, pass after {recovery} s by {how}",
        )
    finally:
        proxy.stop()
        expiring.stop()
        rig.stop_milter(graceful=False)
    return rows


def _timed_send(rig, mail_from):
    started = time.monotonic()
    sent = rig.send(mail_from=mail_from, cert="out1.secure.test")
    elapsed = time.monotonic() - started
    msg = rig.wait_delivered(sent.subject)
    results = msg.mtls_results()
    if len(results) != 1:
        return elapsed, f"{len(results)} results", ""
    return elapsed, results[0].result, results[0].reason


def _recover(rig, mail_from, limit):
    started = time.monotonic()
    while time.monotonic() - started < limit:
        _, result, _ = _timed_send(rig, mail_from)
        if result == "pass":
            return round(time.monotonic() - started, 1)
        time.sleep(1)
    return None


# --------------------------------------------------------------------------


def run_crashes(rig, size, report):
    rows = []
    rig.start_milter()
    queued_before = faults.postfix_queue_count(rig)
    for n in range(size["kills"]):
        subjects, stats, seconds, info, tag = faults.kill9_under_load(
            rig,
            size["crash_sessions"],
            size["crash_per"],
            kill_after=size["crash_sessions"] * size["crash_per"] // 3,
            down_for=1.0,
        )
        faults.flush_postfix(rig)
        acct = faults.account(rig, subjects, tag, timeout=120)
        queued = faults.postfix_queue_count(rig) - queued_before
        rows.append(
            {
                "what": "kill -9",
                **acct,
                "tempfailed": stats["tempfailed"],
                "failed": len(stats["failed"]),
                "seconds": seconds,
                "queued": queued,
                "restart": info.get("restart_seconds"),
            }
        )
        report.check(
            f"kill -9 #{n + 1}: nothing lost or duplicated, every message one header",
            "killed_pid" in info
            and stats["tempfailed"] > 0
            and not stats["failed"]
            and acct["lost"] == acct["duplicated"] == acct["bad_header"] == 0
            and acct["delivered"] == acct["sent"]
            and queued == 0,
            f"{acct['delivered']}/{acct['sent']}, {stats['tempfailed']} tempfailed "
            f"and retried, restart {info.get('restart_seconds', 0):.2f}s",
        )
    subjects, stats, seconds, info, tag = faults.sighup_under_load(
        rig, size["crash_sessions"], size["crash_per"], sighups=size["sighups"], interval=0.1
    )
    acct = faults.account(rig, subjects, tag, timeout=120)
    rows.append(
        {
            "what": f"SIGHUP x{info['sighups']}",
            **acct,
            "tempfailed": stats["tempfailed"],
            "failed": len(stats["failed"]),
            "seconds": seconds,
            "queued": 0,
            "restart": None,
        }
    )
    report.check(
        "SIGHUP under load: nothing tempfailed, lost or duplicated",
        info["pid_same"]
        and info["sighups"] == info["sighups_planned"]
        and stats["tempfailed"] == 0
        and not stats["failed"]
        and acct["lost"] == acct["duplicated"] == acct["bad_header"] == 0
        and acct["delivered"] == acct["sent"],
        f"{info['sighups']} SIGHUPs, {acct['delivered']}/{acct['sent']}",
    )
    return rows


def run_hostile(rig, size, report):
    rig.start_milter()
    pid = rig.milter_proc.pid
    threads = faults.thread_count(pid)
    faults.run_hostile(rig.milter_address)  # warm-up
    faults.wait_threads_at_most(pid, threads + 2)
    before = faults.settle(pid, 0.5)
    result = faults.run_hostile(rig.milter_address, rounds=size["hostile_rounds"])
    faults.wait_threads_at_most(pid, threads + 2)
    after = faults.settle(pid, 0.5)
    ok = (
        not result["failures"]
        and rig.milter_running()
        and rig.milter_proc.pid == pid
        and result["good_bad"] == 0
        and not result["good_errors"]
        and result["good_ok"] > 0
        and after["fds"] <= before["fds"] + 2
        and after["rss_kib"] <= max(before["rss_kib"] * 1.15, before["rss_kib"] + 8192)
    )
    report.check(
        "hostile clients: no crash, other sessions unaffected, RSS/fds back",
        ok,
        f"{result['failures']} good {result['good_ok']}/{result['good_bad']} " f"{before} -> {after}",
    )
    return {**result, "before": before, "after": after, "rounds": size["hostile_rounds"]}


def run_privileges(rig, report):
    user = pwd.getpwnam("nobody")
    d = rig.dir / "priv"
    d.mkdir(exist_ok=True)
    os.chown(d, user.pw_uid, user.pw_gid)
    sock = str(d / "milter.sock")
    cmd = rig.milter_command(socket=f"unix:{sock}", user="nobody", umask="027")
    with open(d / "milter.log", "wb") as log:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, preexec_fn=rigmod.die_with_parent
        )
    try:
        rigmod.wait_until(
            lambda: proc.poll() is None and rigmod.can_connect(sock), 15, "milter on its unix socket"
        )
        ok, bad, errors = faults.milter_session(sock, 2, "PRIV")
        creds = faults.task_credentials(proc.pid)
        st = os.stat(sock)
        all_user = all(
            c["Uid"] == [user.pw_uid] * 4 and c["Gid"] == [user.pw_gid] * 4 and 0 not in c["Groups"]
            for c in creds.values()
        )
        result = {
            "threads": len(creds),
            "uids": sorted({tuple(c["Uid"]) for c in creds.values()}),
            "socket_uid": st.st_uid,
            "socket_mode": oct(st.st_mode & 0o777),
            "verdicts_ok": ok,
        }
        report.check(
            "privileges: every thread runs as nobody, socket nobody 0750",
            all_user and st.st_uid == user.pw_uid and st.st_mode & 0o777 == 0o750 and ok == 2,
            str(result),
        )
        return result
    finally:
        rigmod.kill_process_group(proc)


# --------------------------------------------------------------------------


def run_valgrind(rig, report, quick):
    if shutil.which("valgrind") is None:
        report.check("valgrind run", False, "valgrind not installed (apt-get install valgrind)")
        return None
    log = rig.dir / "milter" / "valgrind.log"
    wrapper = [
        "valgrind",
        "--leak-check=full",
        "--show-leak-kinds=definite",
        "--errors-for-leak-kinds=definite",
        "--error-exitcode=99",
        "--num-callers=30",
        f"--log-file={log}",
    ]
    if SUPPRESSIONS.exists():
        wrapper.append(f"--suppressions={SUPPRESSIONS}")
    started = time.monotonic()
    faults.start_milter_wrapped(rig, wrapper, timeout=120, dns_timeout=10)
    proc = rig.milter_proc
    tag = f"rel-vg-{uuid.uuid4().hex[:6]}"
    subjects, stats, _ = faults.smtp_load(rig, 5, 4, tag)
    acct = faults.account(rig, subjects, tag, timeout=120)
    proto = faults.milter_load(rig.milter_address, 20, 3, tag="VG")
    hostile = faults.run_hostile(rig.milter_address)
    rig.milter_proc = None  # stopped here, by SIGTERM
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        status = proc.wait(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        status = proc.wait(timeout=10)
    text = log.read_text(errors="replace") if log.exists() else ""
    m = re.search(r"ERROR SUMMARY: (\d+) errors", text)
    errors = int(m.group(1)) if m else None
    leaks = {}
    for kind in ("definitely lost", "indirectly lost", "possibly lost", "still reachable"):
        m = re.search(rf"{kind}: ([\d,]+) bytes in ([\d,]+) blocks", text)
        leaks[kind] = m.group(1) + " bytes" if m else "0 bytes"
    messages = acct["delivered"] + proto["ok"] + hostile["good_ok"]
    result = {
        "status": status,
        "errors": errors,
        "leaks": leaks,
        "messages": messages,
        "hostile_failures": hostile["failures"],
        "seconds": time.monotonic() - started,
        "smtp": acct,
        "log": str(log),
    }
    ok = status == 0 and errors == 0 and acct["lost"] == 0 and not hostile["failures"]
    report.check(
        "valgrind: no memory errors, no definite leaks, exit 0",
        ok,
        f"exit {status}, {errors} errors, {leaks}, {messages} messages",
    )
    if not ok:
        print(text[-6000:])
        if hostile["failures"]:
            print(hostile["failures"])
    return result


# --------------------------------------------------------------------------


def machine():
    cpu = ""
    try:
        cpu = next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            "",
        )
    except OSError:
        pass
    versions = {}
    for pkg in ("postfix", "nsd", "libunbound8", "libmilter1.0.1", "valgrind"):
        proc = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True)
        versions[pkg] = proc.stdout.strip() or "?"
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "kernel": platform.release(),
        "load_before": os.getloadavg(),
        "versions": versions,
    }


def render(results, report, args, started_at, seconds):
    """docs/RELIABILITY.md, one section after the other."""
    lines = _render_header(results, report, args, started_at, seconds)
    lines += _render_summary(results)
    lines += _render_load_rounds(results)
    lines += _render_dns_faults(results)
    lines += _render_crashes(results)
    lines += _render_hostile(results)
    lines += _render_privileges_and_valgrind(results)
    lines += _render_checks_and_limits(report)
    return "\n".join(lines)


def _render_header(results, report, args, started_at, seconds):
    m = results["machine"]
    lines = [
        "# Reliability figures",
        "",
        "<!-- Generated by scripts/reliability"
        f"{' --quick' if args.quick else ''}"
        " (scripts/reliability_report.py); do not edit by hand. -->",
        "",
        f"Generated by `scripts/reliability{' --quick' if args.quick else ''}` on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started_at))}; every figure below "
        "comes from that run. The same drivers (`tests/rig/faults.py`) run at a "
        "smaller size in `scripts/test` (`tests/integration/test_reliability.py`).",
        "",
        f"Machine: {m['nproc']} CPUs ({m['cpu']}), Linux {m['kernel']}, load average "
        f"{m['load_before'][0]:.2f} before / {results['load_after'][0]:.2f} after; "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items())
        + ".  ",
        f"Duration: {seconds / 60:.1f} min. Checks: {len(report.checks) - len(report.failed)} of "
        f"{len(report.checks)} passed.",
        "",
        "## Summary",
        "",
        "| Figure | Value |",
        "| --- | --- |",
    ]
    return lines


def _render_summary(results):
    size = results["size"]
    smtp, milter = results["smtp"], results["milter"]
    smtp_sessions = size["smtp_rounds"] * size["smtp_sessions"]
    milter_sessions = size["milter_rounds"] * size["milter_sessions"]
    crash = results["crashes"]
    crash_sent = sum(r["sent"] for r in crash)
    crash_lost = sum(r["lost"] for r in crash)
    crash_dup = sum(r["duplicated"] for r in crash)
    total_sent = smtp["totals"]["sent"] + crash_sent
    total_lost = smtp["totals"]["lost"] + crash_lost
    peak = max(smtp["peak_rss_kib"], milter["peak_rss_kib"])
    faults_injected = (
        len(results["dns"])
        + size["kills"]
        + 1
        + len(results["hostile"]["cases"]) * (size["hostile_rounds"] + 1)
    )
    vg = results.get("valgrind")
    return [
        f"| SMTP sessions through Postfix (TLS, client certificate) | {smtp_sessions} "
        f"({size['smtp_rounds']} rounds of {size['smtp_sessions']} concurrent) "
        f"+ at least {size['crash_sessions'] * size['crash_per'] * (size['kills'] + 1)} "
        "in the crash runs (they keep sending until the kill or the SIGHUPs are done) |",
        f"| milter-protocol sessions (no MTA) | {milter_sessions} "
        f"({size['milter_rounds']} rounds of {size['milter_sessions']} concurrent, "
        f"{size['milter_per']} messages each) |",
        f"| Messages sent through Postfix | {total_sent} |",
        f"| Messages delivered | {smtp['totals']['delivered'] + sum(r['delivered'] for r in crash)} |",
        f"| **Mail lost** | **{total_lost}** |",
        f"| Mail duplicated | {smtp['totals']['duplicated'] + crash_dup} |",
        f"| Delivered without exactly one mtls header | "
        f"{smtp['totals']['bad_header'] + sum(r['bad_header'] for r in crash)} |",
        f"| milter-protocol messages judged | {sum(r['ok'] for r in milter['rows'])} of "
        f"{sum(r['messages'] for r in milter['rows'])} |",
        f"| Faults injected | {faults_injected} ({len(results['dns'])} DNS, {size['kills']} "
        f"kill -9, 1 SIGHUP storm, {len(results['hostile']['cases'])} hostile-client cases x "
        f"{size['hostile_rounds'] + 1}) |",
        f"| Peak milter RSS (between rounds) | {mib(peak)} |",
        f"| Milter fds: started, no mail yet / after the first round / after the last | "
        f"{smtp['start']['fds']} / {smtp['rows'][0]['fds']} / {milter['rows'][-1]['fds']} |",
        f"| Milter RSS: started / after the first round / after the last | "
        f"{mib(smtp['start']['rss_kib'])} / {mib(smtp['rows'][0]['rss_kib'])} / "
        f"{mib(milter['rows'][-1]['rss_kib'])} |",
        "| valgrind | "
        + (
            f"{vg['errors']} errors, definitely lost {vg['leaks']['definitely lost']}"
            f" ({vg['messages']} messages, hostile clients included)"
            if vg
            else "not run"
        )
        + " |",
    ]


def _render_load_rounds(results):
    size = results["size"]
    smtp, milter = results["smtp"], results["milter"]
    lines = [
        "",
        "## Load rounds",
        "",
        "After each round the milter's threads are allowed to wind down, then VmRSS and the "
        "number of open fds are read from /proc. Round 1 is the warm-up (allocator arenas, "
        "libunbound's cache); the check is that the last round's RSS is within 10 % "
        "(or 4 MiB) of round 2's and the fd count moves by at most 2.",
        "",
        "| Load | Round | Sessions | Messages | Delivered / judged | Lost | Dup. | Seconds | "
        "RSS | fds | threads |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in smtp["rows"]:
        lines.append(
            f"| SMTP | {r['round']} | {size['smtp_sessions']} | {r['sent']} | "
            f"{r['delivered']} | {r['lost']} | {r['duplicated']} | {r['seconds']:.1f} | "
            f"{mib(r['rss_kib'])} | {r['fds']} | {r['threads']} |"
        )
    for r in milter["rows"]:
        lines.append(
            f"| milter protocol | {r['round']} | {r['sessions']} | {r['messages']} | "
            f"{r['ok']} | - | - | {r['seconds']:.1f} | {mib(r['rss_kib'])} | {r['fds']} | "
            f"{r['threads']} |"
        )
    return lines


def _render_dns_faults(results):
    lines = [
        "",
        "## DNS faults",
        "",
        f"A proxy in front of the rig's NSD (`faults.DnsFaultProxy`) is switched into the fault, "
        f"one message is sent with a fresh milter (`--dns-timeout {DNS_TIMEOUT}`, empty cache), "
        "the fault is removed and messages are sent until one passes. The expiring zone is "
        "signed to expire six seconds ahead, with libunbound's clock-skew allowance off.",
        "",
        "| Fault | Result | Reason | SMTP transaction | Back to pass after | Queries seen |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in results["dns"]:
        how = f" ({r['recovery_how']})" if r.get("recovery_how") else ""
        queries = r.get("queries")
        queries = (
            ", ".join(f"{k} {v}" for k, v in queries.items())
            if queries
            else ("none (port closed)" if r["fault"] == "stopped" else "-")
        )
        recovery = f"{r['recovery']} s" if r["recovery"] is not None else "**never**"
        lines.append(
            f"| {r['fault']} | {r['result']} | {r['reason'] or ''} | "
            f"{r['seconds']:.2f} s | {recovery}{how} | {queries} |"
        )
    return lines


def _render_crashes(results):
    lines = [
        "",
        "## kill -9 and SIGHUP under load",
        "",
        "Postfix runs with `milter_default_action = tempfail`. Clients send one message per "
        "connection and retry a 4xx or a dropped connection (as an MTA would) after 0.5 s. "
        "The milter is killed with SIGKILL once a third of the messages are in, left down "
        "for a second, and restarted by the harness. SIGHUP is sent a fixed number of times, "
        "0.1 s apart, and the load runs until the last one has been sent.",
        "",
        "| Event | Sent | Delivered | Lost | Dup. | Tempfailed and retried | Left in queue | " "Restart |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results["crashes"]:
        restart = f"{r['restart']:.2f} s" if r["restart"] is not None else "-"
        lines.append(
            f"| {r['what']} | {r['sent']} | {r['delivered']} | {r['lost']} | "
            f"{r['duplicated']} | {r['tempfailed']} | {r['queued']} | {restart} |"
        )
    return lines


def _render_hostile(results):
    h = results["hostile"]
    lines = [
        "",
        "## Hostile milter clients",
        "",
        f"Every case ran {h['rounds']} times after a warm-up pass, while a well-behaved client "
        f"sent messages on its own connections: {h['good_ok']} of them got their verdict, "
        f"{h['good_bad']} did not. RSS {mib(h['before']['rss_kib'])} -> "
        f"{mib(h['after']['rss_kib'])}, fds {h['before']['fds']} -> {h['after']['fds']}, "
        f"threads {h['before']['threads']} -> {h['after']['threads']}.",
        "",
        "| Case | What the milter did |",
        "| --- | --- |",
    ]
    for name, outcome in h["cases"].items():
        lines.append(f"| {name} | {outcome} |")
    for failure in h["failures"]:
        lines.append(f"| FAILED | {failure} |")
    return lines


def _render_privileges_and_valgrind(results):
    vg = results.get("valgrind")
    p = results["privileges"]
    lines = [
        "",
        "## Privileges",
        "",
        f"Started as root with `--user nobody --umask 027` on a unix socket: {p['threads']} "
        f"threads, uids (real, effective, saved, fs) {p['uids']}, socket owner uid "
        f"{p['socket_uid']}, mode {p['socket_mode']}, {p['verdicts_ok']} messages judged.",
        "",
        "## valgrind",
        "",
    ]
    if vg:
        lines += [
            f"`valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99`"
            f"{' --suppressions=tests/integration/valgrind.supp' if SUPPRESSIONS.exists() else ''}"
            f", {vg['messages']} messages (SMTP, milter protocol, and the hostile "
            f"clients), stopped with SIGTERM: exit status {vg['status']}, {vg['errors']} errors; "
            + ", ".join(f"{k} {v}" for k, v in vg["leaks"].items())
            + f". Duration {vg['seconds']:.0f} s.",
        ]
    else:
        lines.append("Not run (`--no-valgrind`).")
    return lines


def _render_checks_and_limits(report):
    lines = ["", "## Checks", "", "| Check | Result | Detail |", "| --- | --- | --- |"]
    for what, ok, detail in report.checks:
        detail = detail.replace("|", "/").replace("\n", " ")[:300]
        lines.append(f"| {what} | {'pass' if ok else '**FAIL**'} | {detail} |")
    lines += [
        "",
        "## Known limits seen here",
        "",
        "- After a DNSSEC validation failure libunbound blacks out the zone's keys for 60 s "
        "(`BOGUS_KEY_TTL`, compiled in): a re-signed zone passes again only after that, or at "
        "once after a reload (SIGHUP builds a new resolver with an empty cache).",
        "- A client that stops mid-packet keeps its connection (and a libmilter thread) until "
        "libmilter's own timeout, 7210 s by default; the milter does not call "
        "`smfi_settimeout()`. Postfix's `milter_*_timeout` bound this from the MTA side.",
        "",
    ]
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--quick", action="store_true", help="small sizes (CI)")
    parser.add_argument("--no-valgrind", action="store_true")
    parser.add_argument(
        "--output", help="default: docs/RELIABILITY.md, or " "<build-dir>/RELIABILITY-quick.md with --quick"
    )
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("reliability: must run as root")
    missing = rigmod.missing_requirements()
    if missing:
        sys.exit("reliability: missing " + ", ".join(missing))
    build_dir = Path(args.build_dir).resolve()
    output = (
        Path(args.output)
        if args.output
        else (build_dir / "RELIABILITY-quick.md" if args.quick else ROOT / "docs" / "RELIABILITY.md")
    )
    size = SIZES["quick" if args.quick else "full"]

    def on_signal(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)

    started_at, started = time.time(), time.monotonic()
    results = {"machine": machine(), "size": size}
    report = Report()
    with rigmod.Rig(build_dir) as rig:
        print("== SMTP load", flush=True)
        results["smtp"] = run_smtp_load(rig, size, report)
        print("== milter-protocol load", flush=True)
        results["milter"] = run_milter_load(rig, size, report)
        print("== DNS faults", flush=True)
        results["dns"] = run_dns_faults(rig, size, report)
        print("== kill -9 and SIGHUP", flush=True)
        results["crashes"] = run_crashes(rig, size, report)
        print("== hostile clients", flush=True)
        results["hostile"] = run_hostile(rig, size, report)
        print("== privileges", flush=True)
        results["privileges"] = run_privileges(rig, report)
        if not args.no_valgrind:
            print("== valgrind", flush=True)
            results["valgrind"] = run_valgrind(rig, report, args.quick)
    results["load_after"] = os.getloadavg()
    seconds = time.monotonic() - started
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render(results, report, args, started_at, seconds) + "\n")
    (build_dir / "reliability-results.json").write_text(
        json.dumps(
            {"results": results, "checks": report.checks, "started_at": started_at, "seconds": seconds},
            indent=1,
            default=str,
        )
    )
    print(f"reliability: wrote {output} ({seconds / 60:.1f} min)")
    if report.failed:
        print(f"reliability: {len(report.failed)} check(s) failed:")
        for what, _, detail in report.failed:
            print(f"  {what}: {detail}")
        return 1
    print(f"reliability: all {len(report.checks)} checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
