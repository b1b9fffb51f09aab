"""Turns bench.py's results into tables, target checks, a plot and (with
--docs) docs/PERFORMANCE.md. Ratios are computed per repetition between runs
made side by side, then the median over repetitions is shown."""

from __future__ import annotations

import shutil
import statistics
import subprocess
from pathlib import Path

POSTFIX_FILTERS = [
    "none",
    "null-unix",
    "null-inet",
    "null-nodelay-inet",
    "mtls-unix",
    "mtls-inet",
    "opendkim-unix",
    "opendkim-inet",
    "opendmarc-unix",
    "opendmarc-inet",
]
INET_EXPERIMENTS = [
    "null-unix",
    "null-inet",
    "null-nodelay-inet",
    "null-nodelay-nodata-inet",
    "null-nodelay-hdrreply-inet",
    "mtls-unix",
    "mtls-inet",
]
LABELS = {
    "none": "no milter",
    "null-unix": "null filter, unix",
    "null-inet": "null filter, inet",
    "null-nodelay-inet": "null filter + TCP_NODELAY, inet",
    "null-nodelay-nodata-inet": "null filter + TCP_NODELAY, skipping DATA, inet",
    "null-nodelay-hdrreply-inet": "null filter + TCP_NODELAY, header replies, inet",
    "mtls-unix": "**mtls-milter, unix**",
    "mtls-inet": "**mtls-milter, inet**",
    "opendkim-unix": "OpenDKIM verify, unix",
    "opendkim-inet": "OpenDKIM verify, inet",
    "opendmarc-unix": "OpenDMARC, unix",
    "opendmarc-inet": "OpenDMARC, inet",
    "mtls-noqmin-unix": "mtls-milter, qname-minimisation: no",
    "mtls-slowdns-unix": "mtls-milter, libunbound defaults",
    "mtls-slowdns-tuned-unix": "mtls-milter, outgoing-range 4096",
    "null-sleep-unix": "null filter blocking at end of message (no DNS)",
    "mtls-dmarc-slowdns-unix": "**mtls DMARC stage** (stage 2 alone), libunbound defaults",
    "chain-mtlsdmarc-unix": "**stage 1 + OpenDKIM + mtls DMARC stage**",
    "chain-opendmarc-unix": "stage 1 + OpenDKIM + OpenDMARC",
}
# The DMARC comparison: the same stage 1 and OpenDKIM in front of each.
OUR_CHAIN = "chain-mtlsdmarc-unix"
PEER_CHAIN = "chain-opendmarc-unix"
DMARC_SLOWDNS = "mtls-dmarc-slowdns-unix"


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value, digits=0, suffix=""):
    if value is None:
        return "–"
    return f"{value:,.{digits}f}{suffix}"


def ratio(a, b):
    return a / b if a is not None and b else None


def null_for(name):
    """The null filter on the same socket kind."""
    if name.endswith("-unix"):
        return "null-unix"
    if name.endswith("-inet"):
        return "null-inet"
    return None


class Data:
    def __init__(self, results):
        self.r = results
        self.pf = [x for x in results["postfix"] if not x.get("broken")]
        self.ml = [x for x in results["milter"] if not x.get("broken")]
        self.delay = [x for x in results["delay"] if not x.get("broken")]
        self.reps = sorted({x.get("rep", 0) for x in self.pf}) or [0]

    def pf_run(self, case, name, rep):
        for x in self.pf:
            if x["case"] == case and x["filter"] == name and x.get("rep", 0) == rep:
                return x
        return None

    def pf_value(self, case, name, key):
        return med([self.pf_get(self.pf_run(case, name, rep), key) for rep in self.reps])

    @staticmethod
    def pf_get(run, key):
        if run is None or (key in ("p50", "p99") and "lat_us" not in run):  # smtp-source: no latencies
            return None
        if key == "p50":
            return run["lat_us"]["p50"] / 1000
        if key == "p99":
            return run["lat_us"]["p99"] / 1000
        if key == "filter_cpu_per_k":
            return run["filter_cpu_s"] / run["messages"] * 1000
        if key == "smtpd_cleanup_per_k":
            return (run["smtpd_cpu_s"] + run["cleanup_cpu_s"]) / run["messages"] * 1000
        if key == "postfix_per_k":
            return run["postfix_cpu_s"] / run["messages"] * 1000
        if key == "total_per_k":  # Postfix and filter: the machine's CPU cost of a message
            return (run["postfix_cpu_s"] + run["filter_cpu_s"]) / run["messages"] * 1000
        if key == "inv_total":  # messages per CPU second: a throughput that other load cannot skew
            return run["messages"] / (run["postfix_cpu_s"] + run["filter_cpu_s"])
        return run.get(key)

    def pf_ratios(self, case, a, b, key="msgs_per_s"):
        """value(a)/value(b) for each repetition, from runs of the same repetition."""
        values = [
            ratio(self.pf_get(self.pf_run(case, a, rep), key), self.pf_get(self.pf_run(case, b, rep), key))
            for rep in self.reps
        ]
        return [v for v in values if v is not None]

    def pf_ratio(self, case, a, b, key="msgs_per_s"):
        """Median over repetitions of value(a)/value(b)."""
        return med(self.pf_ratios(case, a, b, key))

    def pf_spread(self, case, a, b, key="msgs_per_s"):
        """The lowest and highest per-repetition ratio, as text: how far one
        repetition alone could have misled."""
        values = self.pf_ratios(case, a, b, key)
        if len(values) < 2:
            return "–"
        return f"{min(values):.2f}–{max(values):.2f}"

    def ml_runs(self, case, name, sessions):
        return [x for x in self.ml if x["case"] == case and x["filter"] == name and x["sessions"] == sessions]

    def ml_value(self, case, name, sessions, key):
        runs = self.ml_runs(case, name, sessions)
        if key == "p50":
            return med([x["lat_us"]["p50"] / 1000 for x in runs])
        if key == "p99":
            return med([x["lat_us"]["p99"] / 1000 for x in runs])
        if key == "cpu_per_k":
            return med([x["filter_cpu_s"] / x["messages"] * 1000 for x in runs])
        if key == "hwm_mib":
            values = [x["filter_hwm_kib"] for x in runs if x.get("filter_hwm_kib")]
            return max(values) / 1024 if values else None
        return med([x.get(key) for x in runs])

    def ml_ratio(self, case, a, b, sessions):
        out = []
        for rep in sorted({x.get("rep", 0) for x in self.ml}):
            ra = [x for x in self.ml_runs(case, a, sessions) if x.get("rep", 0) == rep]
            rb = [x for x in self.ml_runs(case, b, sessions) if x.get("rep", 0) == rep]
            if ra and rb:
                out.append(ratio(ra[0]["msgs_per_s"], rb[0]["msgs_per_s"]))
        return med(out)


def postfix_tables(d: Data):
    out = []
    for case, title in (
        ("warm-tput", "Warm cache: throughput, 20 parallel sessions (smtp-source -s 20)"),
        (
            "cold-tput",
            "Cold cache: throughput, 20 parallel sessions, a new sender domain "
            "every message (smtp_load -s 20)",
        ),
    ):
        out.append(f"### {title}\n")
        out.append(
            "| filter | msg/s | × null filter (same socket) | × no milter | filter CPU s/1000 msg "
            "| smtpd+cleanup CPU s/1000 | all Postfix CPU s/1000 | Postfix+filter CPU s/1000 "
            "| msg per CPU s × null filter | filter peak RSS |"
        )
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for name in POSTFIX_FILTERS:
            if d.pf_value(case, name, "msgs_per_s") is None:
                continue
            null = null_for(name)
            rss = d.r["meta"].get("peak_rss_kib", {}).get(name)
            out.append(
                "| "
                + " | ".join(
                    [
                        LABELS.get(name, name),
                        fmt(d.pf_value(case, name, "msgs_per_s")),
                        fmt(d.pf_ratio(case, name, null), 2) if null and name != null else "–",
                        fmt(d.pf_ratio(case, name, "none"), 2) if name != "none" else "1.00",
                        fmt(d.pf_value(case, name, "filter_cpu_per_k"), 2) if name != "none" else "–",
                        fmt(d.pf_value(case, name, "smtpd_cleanup_per_k"), 2),
                        fmt(d.pf_value(case, name, "postfix_per_k"), 2),
                        fmt(d.pf_value(case, name, "total_per_k"), 2),
                        fmt(d.pf_ratio(case, name, null, "inv_total"), 2) if null and name != null else "–",
                        fmt(rss / 1024, 1, " MiB") if rss else "–",
                    ]
                )
                + " |"
            )
        out.append("")
    for case, title in (
        ("warm-lat", "Warm cache: latency per message, one session (smtp_load -s 1)"),
        ("cold-lat", "Cold cache: latency per message, one session, a new domain every message"),
    ):
        out.append(f"### {title}\n")
        out.append(
            'Latency is from connect() to the 250 reply after DATA. "Added" is the '
            "difference to no milter in the same repetition.\n"
        )
        out.append(
            "| filter | p50 ms | p99 ms | p50 × no milter | added p50 ms | added p99 ms "
            "| added p50 × null filter's |"
        )
        out.append("|---|---:|---:|---:|---:|---:|---:|")
        for name in POSTFIX_FILTERS:
            if d.pf_value(case, name, "p50") is None:
                continue
            added50 = med([_diff(d, case, name, rep, "p50") for rep in d.reps])
            added99 = med([_diff(d, case, name, rep, "p99") for rep in d.reps])
            null = null_for(name)
            added_ratio = None
            if null and name != null:
                added_ratio = med(
                    [
                        ratio(_diff(d, case, name, rep, "p50"), _diff(d, case, null, rep, "p50"))
                        for rep in d.reps
                    ]
                )
            out.append(
                "| "
                + " | ".join(
                    [
                        LABELS.get(name, name),
                        fmt(d.pf_value(case, name, "p50"), 1),
                        fmt(d.pf_value(case, name, "p99"), 1),
                        fmt(d.pf_ratio(case, name, "none", "p50"), 2) if name != "none" else "1.00",
                        fmt(added50, 1) if name != "none" else "–",
                        fmt(added99, 1) if name != "none" else "–",
                        fmt(added_ratio, 2) if added_ratio is not None else "–",
                    ]
                )
                + " |"
            )
        out.append("")
    return "\n".join(out)


def _diff(d, case, name, rep, key):
    a = d.pf_get(d.pf_run(case, name, rep), key)
    b = d.pf_get(d.pf_run(case, "none", rep), key)
    return a - b if a is not None and b is not None else None


def inet_table(d: Data):
    out = [
        "| filter | warm p50 ms, -s 1 | × same filter on unix | warm msg/s, -s 20 | × unix |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in INET_EXPERIMENTS:
        if d.pf_value("warm-lat", name, "p50") is None:
            continue
        unix = "mtls-unix" if name.startswith("mtls") else "null-unix"
        out.append(
            "| "
            + " | ".join(
                [
                    LABELS.get(name, name),
                    fmt(d.pf_value("warm-lat", name, "p50"), 1),
                    fmt(d.pf_ratio("warm-lat", name, unix, "p50"), 2) if name != unix else "1.00",
                    fmt(d.pf_value("warm-tput", name, "msgs_per_s")),
                    fmt(d.pf_ratio("warm-tput", name, unix), 2) if name != unix else "1.00",
                ]
            )
            + " |"
        )
    return "\n".join(out) + "\n"


def milter_table(d: Data):
    levels = sorted({x["sessions"] for x in d.ml if x["case"] == "warm"})
    names = ["null-unix", "mtls-unix", "null-inet", "mtls-inet", "null-nodelay-inet"]
    out = [
        "| sessions | filter | msg/s | × null (same socket) | p50 ms | p99 ms | CPU s/1000 msg "
        "| peak RSS so far | connect retries |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in levels:
        for name in names:
            if not d.ml_runs("warm", name, s):
                continue
            null = null_for(name)
            out.append(
                "| "
                + " | ".join(
                    [
                        str(s),
                        LABELS.get(name, name),
                        fmt(d.ml_value("warm", name, s, "msgs_per_s")),
                        fmt(d.ml_ratio("warm", name, null, s), 2) if name.startswith("mtls") else "–",
                        fmt(d.ml_value("warm", name, s, "p50"), 1),
                        fmt(d.ml_value("warm", name, s, "p99"), 1),
                        fmt(d.ml_value("warm", name, s, "cpu_per_k"), 2),
                        fmt(d.ml_value("warm", name, s, "hwm_mib"), 1, " MiB"),
                        fmt(d.ml_value("warm", name, s, "connect_retries")),
                    ]
                )
                + " |"
            )
    cold_levels = sorted({x["sessions"] for x in d.ml if x["case"] == "cold"})
    if cold_levels:
        out.append("")
        out.append("Cold cache (fresh process, a new sender domain every message):\n")
        out.append("| sessions | filter | msg/s | × null | p50 ms | p99 ms | CPU s/1000 msg | peak RSS |")
        out.append("|---:|---|---:|---:|---:|---:|---:|---:|")
        for s in cold_levels:
            for name in ("null-unix", "mtls-unix", "mtls-noqmin-unix"):
                if not d.ml_runs("cold", name, s):
                    continue
                out.append(
                    "| "
                    + " | ".join(
                        [
                            str(s),
                            LABELS.get(name, name),
                            fmt(d.ml_value("cold", name, s, "msgs_per_s")),
                            fmt(d.ml_ratio("cold", name, "null-unix", s), 2) if name != "null-unix" else "–",
                            fmt(d.ml_value("cold", name, s, "p50"), 1),
                            fmt(d.ml_value("cold", name, s, "p99"), 1),
                            fmt(d.ml_value("cold", name, s, "cpu_per_k"), 2),
                            fmt(d.ml_value("cold", name, s, "hwm_mib"), 1, " MiB"),
                        ]
                    )
                    + " |"
                )
    return "\n".join(out) + "\n"


def dmarc_table(d: Data):
    """The DMARC stage against OpenDMARC through Postfix; the filter's CPU is
    the DMARC filter's process alone (our stage's child, OpenDMARC)."""
    out = [
        "| case | chain | msg/s | × OpenDMARC chain | p50 ms | p99 ms | DMARC filter CPU s/1000 msg "
        "| × OpenDMARC's | msg per CPU s (Postfix + DMARC filter) × OpenDMARC chain's | DMARC filter peak RSS |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for case in ("warm-tput", "cold-tput", "warm-lat", "cold-lat"):
        for name in (OUR_CHAIN, PEER_CHAIN):
            if d.pf_value(case, name, "msgs_per_s") is None:
                continue
            rss = d.r["meta"].get("peak_rss_kib", {}).get(name)
            ours = name == OUR_CHAIN
            out.append(
                "| "
                + " | ".join(
                    [
                        case,
                        LABELS[name],
                        fmt(d.pf_value(case, name, "msgs_per_s")),
                        fmt(d.pf_ratio(case, name, PEER_CHAIN), 2) if ours else "1.00",
                        fmt(d.pf_value(case, name, "p50"), 1),
                        fmt(d.pf_value(case, name, "p99"), 1),
                        fmt(d.pf_value(case, name, "filter_cpu_per_k"), 2),
                        fmt(d.pf_ratio(case, name, PEER_CHAIN, "filter_cpu_per_k"), 2) if ours else "1.00",
                        fmt(d.pf_ratio(case, name, PEER_CHAIN, "inv_total"), 2) if ours else "1.00",
                        fmt(rss / 1024, 1, " MiB") if rss else "–",
                    ]
                )
                + " |"
            )
    return "\n".join(out) + "\n"


def dmarc_targets(d: Data, check_ratio):
    for case in ("warm-tput", "cold-tput"):
        check_ratio(
            f"DMARC: less CPU per message than OpenDMARC, DMARC filter alone ({case}, ours ÷ OpenDMARC's)",
            case,
            OUR_CHAIN,
            PEER_CHAIN,
            lambda v: v < 1.0,
            "filter_cpu_per_k",
        )
        check_ratio(
            f"DMARC: throughput through Postfix ≥ OpenDMARC's ({case}, chain ÷ chain, -s 20)",
            case,
            OUR_CHAIN,
            PEER_CHAIN,
            lambda v: v >= 1.0,
        )
        # Wall-clock rates swing with the other load on shared cores; this
        # one does not (stage 1 and OpenDKIM, the same in both, left out).
        check_ratio(
            f"DMARC, by CPU: messages per CPU second of Postfix + DMARC filter ≥ OpenDMARC chain's ({case})",
            case,
            OUR_CHAIN,
            PEER_CHAIN,
            lambda v: v >= 1.0,
            "inv_total",
        )


def delay_rows(d: Data):
    rows = []
    for name in ("mtls-slowdns-unix", "mtls-slowdns-tuned-unix", DMARC_SLOWDNS, "null-sleep-unix"):
        runs = sorted([x for x in d.delay if x["filter"] == name], key=lambda x: x["sessions"])
        if not runs:
            continue
        single = next((x for x in runs if x["sessions"] == 1), None)
        lookup_s = single["lat_us"]["p50"] / 1e6 if single else None
        for x in runs:
            rows.append(
                {
                    "name": name,
                    "sessions": x["sessions"],
                    "msgs_per_s": x["msgs_per_s"],
                    "p50": x["lat_us"]["p50"] / 1000,
                    "p99": x["lat_us"]["p99"] / 1000,
                    "serial": 1 / lookup_s if lookup_s else None,
                    "bound": x["sessions"] / lookup_s if lookup_s else None,
                    "threads": x.get("threads_peak"),
                    "delay_ms": x.get("delay_ms"),
                    "temperrors": x.get("temperrors", 0),
                    "messages": x["messages"],
                    "good_per_s": (x["messages"] - x.get("temperrors", 0)) / x["wall_s"]
                    if x["wall_s"]
                    else None,
                    "held": x.get("proxy", {}).get("max_held"),
                    "queries_per_msg": (x["proxy"]["queries"] / x["messages"]) if x.get("proxy") else None,
                }
            )
    return rows


def delay_table(d: Data):
    rows = delay_rows(d)
    out = [
        'msg/s counts only messages whose lookup was answered (verdict pass); "temperror" counts '
        "messages whose answer came after dns-timeout (5 s).\n",
        "| resolver settings | sessions | msg/s | temperror | p50 ms | p99 ms | serial bound msg/s (1 / one-session "
        "latency) | × serial bound | concurrency bound (sessions / one-session latency) | × concurrency bound "
        "| DNS queries per message | most answers in flight | most filter threads at once |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        out.append(
            "| "
            + " | ".join(
                [
                    LABELS.get(r["name"], r["name"]),
                    str(r["sessions"]),
                    fmt(r["good_per_s"], 1),
                    f"{r['temperrors']} of {r['messages']}",
                    fmt(r["p50"], 0),
                    fmt(r["p99"], 0),
                    fmt(r["serial"], 1),
                    fmt(ratio(r["good_per_s"], r["serial"]), 1),
                    fmt(r["bound"], 0),
                    fmt(ratio(r["good_per_s"], r["bound"]), 2),
                    fmt(r["queries_per_msg"], 1),
                    fmt(r["held"], 0),
                    fmt(r["threads"], 0),
                ]
            )
            + " |"
        )
    stats = d.r["meta"].get("dns_delay")
    if stats:
        out.append("")
        out.append(
            f"Proxy counters over all these runs: {stats['queries']} queries, {stats['answers']} answers, "
            f"{stats['truncated']} truncated, at most {stats['max_held']} answers held at once."
        )
    return "\n".join(out) + "\n"


def targets(d: Data):
    """(description, measured text, verdict) rows; never used for the exit status."""
    rows = []

    def check(desc, value, ok, shown=None, spread="–"):
        verdict = "–" if value is None else ("met" if ok(value) else "**missed**")
        rows.append((desc, shown if shown is not None else fmt(value, 2), spread, verdict))

    def check_ratio(desc, case, a, b, ok, key="msgs_per_s"):
        check(desc, d.pf_ratio(case, a, b, key), ok, spread=d.pf_spread(case, a, b, key))

    for sock in ("unix", "inet"):
        check_ratio(
            f"warm: mtls-milter ≥ 0.95 × null filter ({sock}, -s 20)",
            "warm-tput",
            f"mtls-{sock}",
            f"null-{sock}",
            lambda v: v >= 0.95,
        )
    for sock in ("unix", "inet"):
        check_ratio(
            f"cold: mtls-milter ≥ 0.85 × null filter ({sock}, -s 20)",
            "cold-tput",
            f"mtls-{sock}",
            f"null-{sock}",
            lambda v: v >= 0.85,
        )
    # The plain null filter on inet pays libmilter's own Nagle stall, which
    # mtls-milter avoids; against the null filter with TCP_NODELAY the inet
    # comparison is like for like.
    for case, floor in (("warm-tput", 0.95), ("cold-tput", 0.85)):
        check_ratio(
            f"{case.split('-')[0]}: mtls-milter ≥ {floor} × null filter + TCP_NODELAY (inet, -s 20)",
            case,
            "mtls-inet",
            "null-nodelay-inet",
            lambda v, f=floor: v >= f,
        )
    for case, floor in (("warm-tput", 0.95), ("cold-tput", 0.85)):
        for sock in ("unix", "inet"):
            check_ratio(
                f"{case.split('-')[0]}, by CPU: messages per CPU second (Postfix + filter), mtls-milter "
                f"≥ {floor} × null filter ({sock})",
                case,
                f"mtls-{sock}",
                f"null-{sock}",
                lambda v, f=floor: v >= f,
                "inv_total",
            )
    check_ratio(
        "inet within 10% of unix, mtls-milter (warm msg/s at -s 20, inet ÷ unix)",
        "warm-tput",
        "mtls-inet",
        "mtls-unix",
        lambda v: v >= 0.90,
    )
    check_ratio(
        "inet within 10% of unix, mtls-milter (warm p50 latency at -s 1, inet ÷ unix)",
        "warm-lat",
        "mtls-inet",
        "mtls-unix",
        lambda v: v <= 1.10,
        "p50",
    )
    for peer in ("opendkim", "opendmarc"):
        for case in ("warm-tput", "cold-tput"):
            for sock in ("unix", "inet"):
                check_ratio(
                    f"ahead of {peer}: mtls ÷ {peer} msg/s ({case}, {sock})",
                    case,
                    f"mtls-{sock}",
                    f"{peer}-{sock}",
                    lambda v: v >= 1.0,
                )
    dmarc_targets(d, check_ratio)
    ml1000 = d.ml_runs("warm", "mtls-unix", 1000)
    if ml1000 or any(x["sessions"] == 1000 for x in d.r["milter"]):
        errors = sum(
            1
            for x in d.r["milter"]
            if x["sessions"] == 1000 and x["filter"].startswith("mtls") and x.get("broken")
        )
        rows.append(
            (
                "1000 concurrent sessions: no errors (mtls-milter, unix and inet)",
                f"{errors} broken runs",
                "–",
                "met" if errors == 0 else "**missed**",
            )
        )
        rss = (
            max(
                [
                    x["filter_hwm_kib"] / 1024
                    for x in d.ml
                    if x["sessions"] == 1000 and x["filter"].startswith("mtls") and x.get("filter_hwm_kib")
                ]
                or [0]
            )
            or None
        )
        check("1000 concurrent sessions: peak RSS < 64 MiB", rss, lambda v: v < 64, fmt(rss, 1, " MiB"))
    for r in delay_rows(d):
        if r["name"].startswith("mtls") and r["sessions"] == max(x["sessions"] for x in delay_rows(d)):
            check(
                f"slow DNS, {r['sessions']} sessions ({LABELS.get(r['name'])}): answered msg/s ÷ serial bound "
                f"≥ 10, no temperror",
                ratio(r["good_per_s"], r["serial"]),
                lambda v, r=r: v >= 10 and not r["temperrors"],
                fmt(ratio(r["good_per_s"], r["serial"]), 1)
                + (f", {r['temperrors']} temperror" if r["temperrors"] else ""),
            )
    return rows


def all_targets(d: Data):
    import tlspolicy_report

    if d.r["meta"].get("only") == "tlspolicy":
        return tlspolicy_report.targets(d.r)
    return targets(d) + tlspolicy_report.targets(d.r)


def targets_table(rows):
    out = ["| target | measured (median ratio) | lowest–highest repetition | |", "|---|---:|---:|---|"]
    for desc, shown, spread, verdict in rows:
        out.append(f"| {desc} | {shown} | {spread} | {verdict} |")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------
# Plot (gnuplot)
# ---------------------------------------------------------------------------


def plot(d: Data, out_dir: Path):
    if shutil.which("gnuplot") is None:
        return None
    data = out_dir / "plot-postfix.dat"
    names = [n for n in POSTFIX_FILTERS if n != "none" and d.pf_value("warm-tput", n, "msgs_per_s")]
    with open(data, "w") as fh:
        fh.write("# filter warm_vs_none cold_vs_none warm_p50_vs_none\n")
        for n in names:
            fh.write(
                '"{}" {} {} {}\n'.format(
                    LABELS.get(n, n).replace("*", "").replace(", ", "\\n"),
                    fmt(d.pf_ratio("warm-tput", n, "none"), 3).replace(",", "").replace("–", "NaN"),
                    fmt(d.pf_ratio("cold-tput", n, "none"), 3).replace(",", "").replace("–", "NaN"),
                    fmt(d.pf_ratio("warm-lat", n, "none", "p50"), 3).replace(",", "").replace("–", "NaN"),
                )
            )
    mdata = out_dir / "plot-milter.dat"
    levels = sorted({x["sessions"] for x in d.ml if x["case"] == "warm"})
    with open(mdata, "w") as fh:
        fh.write("# sessions null-unix mtls-unix null-inet mtls-inet null-nodelay-inet\n")
        for s in levels:
            vals = [
                d.ml_value("warm", n, s, "msgs_per_s")
                for n in ("null-unix", "mtls-unix", "null-inet", "mtls-inet", "null-nodelay-inet")
            ]
            fh.write(f"{s} " + " ".join("NaN" if v is None else f"{v:.1f}" for v in vals) + "\n")
    ddata = out_dir / "plot-delay.dat"
    rows = delay_rows(d)
    with open(ddata, "w") as fh:
        fh.write("# sessions default tuned serial concurrency_bound null_sleep\n")
        for s in sorted({r["sessions"] for r in rows}):
            dv = next((r for r in rows if r["sessions"] == s and r["name"] == "mtls-slowdns-unix"), None)
            tv = next(
                (r for r in rows if r["sessions"] == s and r["name"] == "mtls-slowdns-tuned-unix"), None
            )
            nv = next((r for r in rows if r["sessions"] == s and r["name"] == "null-sleep-unix"), None)
            ref = tv or dv
            fh.write(
                f"{s} {dv['good_per_s'] if dv else 'NaN'} {tv['good_per_s'] if tv else 'NaN'} "
                f"{ref['serial'] if ref and ref['serial'] else 'NaN'} "
                f"{ref['bound'] if ref and ref['bound'] else 'NaN'} "
                f"{nv['good_per_s'] if nv else 'NaN'}\n"
            )
    png = out_dir / "performance.png"
    script = out_dir / "plot.gp"
    script.write_text(
        f"""
set terminal pngcairo size 1500,1000 font "DejaVu Sans,10" noenhanced
set output "{png}"
set multiplot layout 2,2 title "mtls-milter benchmark ({d.r['meta'].get('mode')}, {d.r['meta'].get('started', '')})"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set grid ytics
set key top left
set title "Through Postfix: throughput relative to no milter (-s 20)"
set ylabel "msg/s ÷ no milter"
set yrange [0:1.6]
set xtics rotate by -35 scale 0 font ",8"
plot "{data}" using 2:xtic(1) title "warm cache", "" using 3 title "cold cache", 1 with lines lc rgb "black" notitle
set title "Through Postfix: latency at -s 1 relative to no milter (warm)"
set ylabel "p50 ÷ no milter"
set yrange [0:*]
set key top center
plot "{data}" using 4:xtic(1) title "p50 latency" lc rgb "#cc6633"
unset style
set style data linespoints
set xtics rotate by 0 font ",9"
set logscale x
set logscale y
set xlabel "concurrent milter sessions"
set ylabel "msg/s"
set yrange [*:*]
set key bottom right
set title "Milter protocol only (milter_load), warm cache"
plot "{mdata}" using 1:2 title "null filter, unix" lw 2, "" using 1:3 title "mtls-milter, unix" lw 2, \
     "" using 1:4 title "null filter, inet" lw 2, "" using 1:5 title "mtls-milter, inet" lw 2, \
     "" using 1:6 title "null + TCP_NODELAY, inet" lw 2
set key top left
set title "Cold cache behind slow DNS ({rows[0]['delay_ms'] if rows else '?'} ms per answer): answered msg/s"
plot "{ddata}" using 1:2 title "mtls-milter, libunbound defaults" lw 2, \
     "" using 1:3 title "mtls-milter, outgoing-range 4096" lw 2, \
     "" using 1:4 title "serial bound (1 / lookup time)" dt 2 lc rgb "gray", \
     "" using 1:5 title "concurrency bound (sessions / lookup time)" dt 3 lc rgb "black", \
     "" using 1:6 title "null filter sleeping at end of message (libmilter alone)" lw 2 dt 4
unset multiplot
"""
    )
    proc = subprocess.run(["gnuplot", str(script)], capture_output=True, text=True, timeout=60)
    if proc.returncode != 0 or not png.exists():
        print(f"report: gnuplot failed: {proc.stderr[:500]}")
        return None
    return png


# ---------------------------------------------------------------------------
# The document
# ---------------------------------------------------------------------------


def meta_block(r):
    m = r["meta"]
    v = m.get("versions", {})
    return "\n".join(
        [
            f"- Date: {m.get('started')} (UTC); duration {m.get('duration_s')} s; mode: {m.get('mode')}",
            f"- Command: `{m.get('command')}`",
            f"- Machine: {m.get('cpu')}, {m.get('cores')} cores, {m.get('memory_gib')} GiB; {m.get('os')}, "
            f"kernel {m.get('kernel')}; load average at start {', '.join(f'{x:.2f}' for x in m.get('load_at_start', []))} "
            "(the cores are shared with other builds: read ratios, not absolute numbers)",
            f"- Software: Postfix {v.get('postfix')}, {v.get('opendkim')}, {v.get('opendmarc')}, {v.get('nsd')}, "
            f"libmilter {v.get('libmilter')}, libunbound {v.get('libunbound')}",
            f"- Parameters: {m.get('params')}",
        ]
    )


def render(results, out_dir: Path, docs: Path | None = None, quick=False):
    """report.md in out_dir, and with docs the document: the whole of
    docs/PERFORMANCE.md, or after a --only-tlspolicy run only its TLS
    policy section (perf_doc.splice_tlspolicy)."""
    import perf_doc  # the prose around the numbers
    import tlspolicy_report

    d = Data(results)
    only_tlspolicy = results["meta"].get("only") == "tlspolicy"
    broken = results["meta"].get("broken", [])
    total = (
        len(results["postfix"])
        + len(results["milter"])
        + len(results["delay"])
        + len(results.get("tlspolicy", {}).get("rows", []))
    )
    parts = []
    parts.append("## Run\n")
    parts.append(meta_block(results) + "\n")
    parts.append(
        f"Runs: {total}, broken: {len(broken)}. A broken run (any message rejected, tempfailed, "
        "not delivered, or delivered without the filter's result) is listed here and left out of "
        "every table.\n"
    )
    for b in broken:
        parts.append(f"- BROKEN: {b}")
    png = None
    if not only_tlspolicy:
        parts.append("\n## Targets\n")
        parts.append(targets_table(targets(d)))
        parts.append("\n## Through Postfix\n")
        parts.append(postfix_tables(d))
        parts.append("\n### Where inet sockets lose time\n")
        parts.append(inet_table(d))
        parts.append("\n## Milter protocol only (milter_load, no MTA)\n")
        parts.append(milter_table(d))
        parts.append("\n## Cold cache behind slow DNS (milter_load)\n")
        parts.append(delay_table(d))
        parts.append("\n## DMARC stage vs OpenDMARC (through Postfix, after stage 1 and OpenDKIM)\n")
        parts.append(dmarc_table(d))
        png = plot(d, out_dir)
    body = "\n".join(parts)
    tls_targets = "\n## TLS policy servers: targets\n\n" + targets_table(tlspolicy_report.targets(results))
    tls_tables = (
        "\n## TLS policy servers over socketmap (socketmap_load, no MTA)\n\n"
        + tlspolicy_report.tables(results)
    )
    (out_dir / "report.md").write_text(body + tls_targets + tls_tables)
    if docs is not None and not quick:
        docs.mkdir(parents=True, exist_ok=True)
        document = docs / "PERFORMANCE.md"
        if only_tlspolicy:
            document.write_text(perf_doc.splice_tlspolicy(document.read_text(), results))
        else:
            if png:
                shutil.copy(png, docs / "performance.png")
            document.write_text(perf_doc.document(results, d, body, png is not None))
    summary = ["", "=== targets (ratios; informational, never the exit status) ==="]
    for desc, shown, _, verdict in all_targets(d):
        summary.append(f"  {verdict.strip('*'):7} {shown:>10}  {desc}")
    summary.append(
        f"=== {total} runs, {len(broken)} broken; report: {out_dir / 'report.md'}"
        + (f", plot: {png}" if png else "")
    )
    return "\n".join(summary)
