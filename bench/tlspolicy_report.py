"""Tables and targets of the TLS policy server benchmark
(bench/tlspolicy_bench.py), from results.json's "tlspolicy" section."""

from report import fmt, ratio

OURS = "mtls-tlspolicy"
PEER = "mta-sts-sqlite"  # postfix-mta-sts-resolver as Debian ships it
LABELS = {
    "null-socketmap": "do-nothing socketmap server (ceiling)",
    "mtls-tlspolicy": "mtls-tlspolicy",
    "mta-sts-sqlite": "postfix-mta-sts-resolver, SQLite cache (Debian's default)",
    "mta-sts-internal": "postfix-mta-sts-resolver, in-memory cache",
}
ORDER = list(LABELS)


def section(results):
    return results.get("tlspolicy") or {}


def find(results, case, server, clients=None):
    for row in section(results).get("rows", []):
        if row["case"] == case and row["server"] == server and (clients is None or row["clients"] == clients):
            return row
    return None


def value(results, case, server, key, clients=None):
    row = find(results, case, server, clients)
    return None if row is None else row.get(key)


def servers(results):
    present = {row["server"] for row in section(results).get("rows", [])}
    return [s for s in ORDER if s in present]


def levels(results):
    return sorted({row["clients"] for row in section(results).get("rows", []) if row["case"] == "warm"})


def ms(us):
    return None if us is None else us / 1000


def tables(results):
    """The Markdown tables (warm, cold, memory), or a line saying why none."""
    sec = section(results)
    if not sec.get("rows"):
        return "Not run.\n" + "".join(f"\n- {n}" for n in sec.get("notes", []))
    out = [
        "Cached lookups (every domain fetched once before): lookups per second and latency per "
        "number of concurrent socketmap clients, one connection each; ratios to "
        f"{LABELS[PEER]}.\n",
        "| server | clients | lookups/s | × peer (SQLite) | p50 ms | p99 ms | server CPU ms per 1000 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for clients in levels(results):
        for server in servers(results):
            row = find(results, "warm", server, clients)
            if row is None:
                continue
            cpu = row.get("server_cpu_s")
            per_k = cpu * 1e6 / row["answered"] if cpu is not None and row["answered"] else None
            out.append(
                f"| {LABELS[server]} | {clients} | {fmt(row['per_s'])} | "
                f"{fmt(ratio(row['per_s'], value(results, 'warm', PEER, 'per_s', clients)), 1)} | "
                f"{fmt(ms(row['p50_us']), 3)} | {fmt(ms(row['p99_us']), 3)} | {fmt(per_k, 1)} |"
            )
    out += [
        "",
        "Cold lookups (a domain never asked before: DNS, HTTPS fetch, parse), one client:\n",
        "| server | lookups | p50 ms | p99 ms |",
        "|---|---:|---:|---:|",
    ]
    for server in servers(results):
        row = find(results, "cold", server)
        if row:
            out.append(
                f"| {LABELS[server]} | {row['answered']} | {fmt(ms(row['p50_us']), 1)} | {fmt(ms(row['p99_us']), 1)} |"
            )
    out += [
        "",
        "Memory: resident set after the runs (mtls-tlspolicy and the peer's in-memory cache after the "
        "memory run's domains too):\n",
        "| server | after | RSS MiB | peak RSS MiB |",
        "|---|---|---:|---:|",
    ]
    for server in servers(results):
        rows = [r for r in section(results)["rows"] if r["server"] == server and r.get("rss_kib")]
        if not rows:
            continue
        last = rows[-1]
        after = (
            f"{fmt(last['answered'])} more domains asked once" if last["case"] == "rss" else "the cold run"
        )
        out.append(
            f"| {LABELS[server]} | {after} | {fmt(last['rss_kib'] / 1024, 1)} | "
            f"{fmt((last.get('hwm_kib') or 0) / 1024, 1)} |"
        )
    for note in sec.get("notes", []):
        out.append(f"\n- {note}")
    return "\n".join(out) + "\n"


def targets(results):
    """(description, measured text, spread, verdict) rows like report.targets."""
    if not section(results).get("rows"):
        return []
    rows = []

    def check(desc, v, ok, shown=None):
        verdict = "–" if v is None else ("met" if ok(v) else "**missed**")
        rows.append((desc, shown if shown is not None else fmt(v, 2), "–", verdict))

    for clients in (20, 200):
        check(
            f"mtls-tlspolicy ≥ 10 × postfix-mta-sts-resolver (SQLite) cached lookups/s, {clients} clients",
            ratio(
                value(results, "warm", OURS, "per_s", clients), value(results, "warm", PEER, "per_s", clients)
            ),
            lambda v: v >= 10,
            None,
        )
    p99 = ms(value(results, "warm", OURS, "p99_us", 1))
    check("mtls-tlspolicy p99 < 1 ms, cached, 1 client", p99, lambda v: v < 1, fmt(p99, 3, " ms"))
    row = find(results, "rss", OURS)
    if row:
        rss = row["rss_kib"] / 1024 if row.get("rss_kib") else None
        check(
            f"mtls-tlspolicy RSS < 64 MiB with {row['answered']} cached domains (target: 100,000)",
            rss,
            lambda v: v < 64,
            fmt(rss, 1, " MiB"),
        )
    return rows
