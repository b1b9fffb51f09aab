"""The prose of docs/PERFORMANCE.md around the generated tables.

Every number in the text is taken from the results being rendered, so a new
``bench/run --docs`` rewrites the whole document consistently."""

from report import delay_rows, fmt, med, ratio


def _n(value, digits=1, suffix=""):
    return fmt(value, digits, suffix) if value is not None else "(not measured)"


def document(results, d, body, have_png):
    m = results["meta"]
    pf = d.pf_value
    null_unix_p50 = pf("warm-lat", "null-unix", "p50")
    null_inet_p50 = pf("warm-lat", "null-inet", "p50")
    nodelay_p50 = pf("warm-lat", "null-nodelay-inet", "p50")
    hdr_p50 = pf("warm-lat", "null-nodelay-hdrreply-inet", "p50")
    nodata_p50 = pf("warm-lat", "null-nodelay-nodata-inet", "p50")
    nodelay_tput = d.pf_ratio("warm-tput", "null-nodelay-inet", "null-unix")
    nodata_tput = d.pf_ratio("warm-tput", "null-nodelay-nodata-inet", "null-unix")
    hdr_tput = d.pf_ratio("warm-tput", "null-nodelay-hdrreply-inet", "null-unix")
    cold_levels = sorted({x["sessions"] for x in d.ml if x["case"] == "cold"})
    cold_s = 20 if 20 in cold_levels else (cold_levels[0] if cold_levels else None)
    noqmin_ratio = d.ml_ratio("cold", "mtls-noqmin-unix", "mtls-unix", cold_s) if cold_s else None
    cold_cpu = d.ml_value("cold", "mtls-unix", cold_s, "cpu_per_k") if cold_s else None
    noqmin_cpu = d.ml_value("cold", "mtls-noqmin-unix", cold_s, "cpu_per_k") if cold_s else None
    mtls_unix_p50 = pf("warm-lat", "mtls-unix", "p50")
    mtls_inet_p50 = pf("warm-lat", "mtls-inet", "p50")
    ml_null_inet_1 = d.ml_value("warm", "null-inet", 1, "p50")
    ml_nodelay_1 = d.ml_value("warm", "null-nodelay-inet", 1, "p50")
    ml_mtls_inet_1 = d.ml_value("warm", "mtls-inet", 1, "p50")
    ml_null_unix_1 = d.ml_value("warm", "null-unix", 1, "p50")
    levels = sorted({x["sessions"] for x in d.ml if x["case"] == "warm"})
    top = levels[-1] if levels else None
    rss_top = d.ml_value("warm", "mtls-unix", top, "hwm_mib") if top else None
    ceiling_null = max([d.ml_value("warm", "null-unix", s, "msgs_per_s") or 0 for s in levels] or [0]) or None
    ceiling_mtls = max([d.ml_value("warm", "mtls-unix", s, "msgs_per_s") or 0 for s in levels] or [0]) or None
    pf_none = pf("warm-tput", "none", "msgs_per_s")
    drows = delay_rows(d)
    dmax = max([r["sessions"] for r in drows] or [0])
    d_default = next((r for r in drows if r["name"] == "mtls-slowdns-unix" and r["sessions"] == dmax), None)
    d_tuned = next(
        (r for r in drows if r["name"] == "mtls-slowdns-tuned-unix" and r["sessions"] == dmax), None
    )
    d_single = next((r for r in drows if r["sessions"] == 1 and r["name"].startswith("mtls")), None)
    n_top = next((r for r in drows if r["name"] == "null-sleep-unix" and r["sessions"] == dmax), None)
    n_single = next((r for r in drows if r["name"] == "null-sleep-unix" and r["sessions"] == 1), None)
    sleep_ms = m.get("params", {}).get("sleep_ms")
    delay_ms = drows[0]["delay_ms"] if drows else None
    proxy = m.get("dns_delay", {})
    cold_queries = med([r["queries_per_msg"] for r in drows])
    if cold_queries is None and proxy.get("queries"):  # older results: one total
        msgs = sum(x["messages"] + 1 for x in results["delay"])
        cold_queries = proxy["queries"] / msgs if msgs else None

    out = ["# Performance of mtls-milter\n"]
    out.append(
        "This page is written by `bench/run --docs` (bench/bench.py, bench/report.py, bench/perf_doc.py) "
        "from one run of the benchmark: the numbers, the tables and the plot all come from that run. "
        "The run this page shows:\n"
    )
    out.append(
        "- " + f"{m.get('started')} UTC, `{m.get('command')}`, {m.get('duration_s')} s, "
        f"{m.get('cpu')} ({m.get('cores')} cores shared with other builds), {m.get('os')}.\n"
    )
    if have_png:
        out.append(
            "![Benchmark summary: throughput and latency through Postfix relative to no milter; "
            "milter-protocol ceiling by concurrency; cold cache behind slow DNS](performance.png)\n"
        )

    out.append("## In short\n")
    from report import targets

    trows = targets(d)

    def verdicts(prefix):
        rows = [t for t in trows if t[0].startswith(prefix)]
        met = sum(1 for t in rows if t[3] == "met")
        return f"{met} of {len(rows)} met" if rows else "not measured"

    out.append(
        f"- **Through Postfix** (20 parallel sessions), mtls-milter's throughput relative to the null "
        f"libmilter filter: warm cache {_n(d.pf_ratio('warm-tput', 'mtls-unix', 'null-unix'), 2)}× (unix) and "
        f"{_n(d.pf_ratio('warm-tput', 'mtls-inet', 'null-inet'), 2)}× (inet; "
        f"{_n(d.pf_ratio('warm-tput', 'mtls-inet', 'null-nodelay-inet'), 2)}× the null filter with "
        f"TCP_NODELAY), target ≥ 0.95: "
        f"{verdicts('warm: mtls')}; cold cache (a new sender domain every message) "
        f"{_n(d.pf_ratio('cold-tput', 'mtls-unix', 'null-unix'), 2)}× and "
        f"{_n(d.pf_ratio('cold-tput', 'mtls-inet', 'null-inet'), 2)}×, target ≥ 0.85: "
        f"{verdicts('cold: mtls')}. Postfix alone (no milter) took {_n(pf_none, 0)} msg/s on this machine; "
        f"the null filter on a unix socket {_n(d.pf_ratio('warm-tput', 'null-unix', 'none'), 2)}× that. "
        f"Wall-clock rates swing with the other load on these 2 cores; CPU time does not: counted as "
        f"messages per CPU second of Postfix plus filter, mtls-milter does "
        f"{_n(d.pf_ratio('warm-tput', 'mtls-unix', 'null-unix', 'inv_total'), 2)}× (unix) and "
        f"{_n(d.pf_ratio('warm-tput', 'mtls-inet', 'null-inet', 'inv_total'), 2)}× (inet) the null filter's, "
        f"warm; {_n(d.pf_ratio('cold-tput', 'mtls-unix', 'null-unix', 'inv_total'), 2)}× and "
        f"{_n(d.pf_ratio('cold-tput', 'mtls-inet', 'null-inet', 'inv_total'), 2)}× cold. mtls-milter itself used "
        f"{_n(d.pf_value('warm-tput', 'mtls-unix', 'filter_cpu_per_k'), 2)} CPU s per 1000 messages warm and "
        f"{_n(d.pf_value('cold-tput', 'mtls-unix', 'filter_cpu_per_k'), 2)} cold, against the null filter's "
        f"{_n(d.pf_value('warm-tput', 'null-unix', 'filter_cpu_per_k'), 2)}; the difference between cold and "
        f"warm is the validated lookup of a new name, most of it in libunbound (signature checks) and "
        f"the kernel (finding 2). The lowest–highest column of the targets table shows how far single "
        f"repetitions swing on these shared cores: read the medians."
    )
    out.append(
        f"- **inet sockets: a plain libmilter filter loses two delayed ACKs per message; mtls-milter "
        f"avoids both** (target: mtls-milter on inet within 10% of unix: {verdicts('inet within')}). "
        f"One message at a time the null filter needs {_n(null_unix_p50)} ms on unix and "
        f"{_n(null_inet_p50)} ms on inet (p50); mtls-milter {_n(mtls_unix_p50)} ms and "
        f"{_n(mtls_inet_p50)} ms. The two stalls of about 40 ms each (finding 1): libmilter's reply "
        f"packets wait for Postfix's ACK (TCP_NODELAY on the listening socket: null filter "
        f"{_n(nodelay_p50)} ms), and Postfix's first write from cleanup waits for the filter's ACK of "
        f"the DATA macros, which Postfix sends even when the filter skips DATA (the null filter with "
        f"TCP_NODELAY but skipping DATA: {_n(nodata_p50)} ms). mtls-milter sets TCP_NODELAY and "
        f"answers DATA."
    )
    out.append(
        f"- **DNS waits do not serialise the milter; libunbound's library defaults would cap a cold cache at "
        f"16 queries in flight, so mtls-milter raises them** (finding 2). Behind a DNS server {_n(delay_ms, 0)} ms away, one session "
        f"got {_n(d_single['msgs_per_s'] if d_single else None)} msg/s; {_n(dmax, 0)} sessions got "
        f"{_n(d_default['good_per_s'] if d_default else None)} answered msg/s with the defaults "
        f"({d_default['temperrors'] if d_default else '?'} of {d_default['messages'] if d_default else '?'} "
        f"messages waited past the 5 s dns-timeout and were tagged temperror) and "
        f"{_n(d_tuned['good_per_s'] if d_tuned else None)} msg/s with `outgoing-range: 4096` "
        f"({d_tuned['temperrors'] if d_tuned else '?'} temperror)."
    )
    out.append(
        f"- **Milter protocol only** (no MTA, TLS macros, verdict pass): mtls-milter reached "
        f"{_n(d.ml_ratio('warm', 'mtls-unix', 'null-unix', 20), 2)}× the null filter's rate at 20 "
        f"sessions and {_n(d.ml_ratio('warm', 'mtls-unix', 'null-unix', top), 2) if top else '–'}× at "
        f"{_n(top, 0)}; the highest rates seen were {_n(ceiling_null, 0)} msg/s (null filter) and "
        f"{_n(ceiling_mtls, 0)} msg/s (mtls-milter), with the load generator on the same 2 cores. At "
        f"{_n(top, 0)} concurrent sessions mtls-milter's peak RSS was {_n(rss_top, 1, ' MiB')} "
        f"(target < 64 MiB: {verdicts('1000 concurrent sessions: peak')})."
    )
    out.append(
        f"- **Against OpenDKIM (verify) and OpenDMARC**, both doing one DNS lookup per message: mtls-milter "
        f"ahead on throughput: {verdicts('ahead of')} (warm and cold, unix and inet). CPU "
        f"seconds per 1000 messages, warm, unix: mtls-milter "
        f"{_n(d.pf_value('warm-tput', 'mtls-unix', 'filter_cpu_per_k'), 2)}, null filter "
        f"{_n(d.pf_value('warm-tput', 'null-unix', 'filter_cpu_per_k'), 2)}, OpenDKIM "
        f"{_n(d.pf_value('warm-tput', 'opendkim-unix', 'filter_cpu_per_k'), 2)} (it also checks an RSA "
        f"signature), OpenDMARC {_n(d.pf_value('warm-tput', 'opendmarc-unix', 'filter_cpu_per_k'), 2)}.\n"
    )
    out.append(dmarc_summary(d, trows) + "\n")
    out.append(
        "- **TLS policy servers** (mtls-tlspolicy, the sending side): their own section, "
        "[below](#tls-policy-servers-mtls-tlspolicy).\n"
    )

    out.append("## How to run\n")
    out.append(
        """```sh
scripts/build                      # or any build dir: bench/run --build-dir DIR
sudo bench/run --quick             # CI: every configuration once, ~2 min, no timing assertions
sudo bench/run                     # full run, ~36 min on 2 cores; results in /tmp/mtls-bench-results-*/
sudo bench/run --docs              # full run, then rewrite docs/PERFORMANCE.md and docs/performance.png
sudo bench/run --only-tlspolicy --docs   # only the TLS policy servers, ~4 min; rewrites only their section
bench/bench.py --render DIR/results.json --docs   # redo the report from a saved run
```

`bench/run` builds the bench programs (a separate CMake project in bench/, not part of the top-level
build) into `<build-dir>/bench-tools`, then runs bench/bench.py as root. Exit status: 0 when every
run accounted for every message, 1 when a run was broken, 2 when the harness itself failed. Targets
are reported, never enforced: timings on shared machines are noise for a pass/fail gate.

Debian packages it needs beyond the project's build and test dependencies: **opendkim, opendmarc,
gnuplot-nox** (the plot; without it the run still works), **python3-cryptography** (DKIM signing),
and, already among the test dependencies, postfix (smtp-source, smtp-sink), nsd, ldnsutils,
openssl, util-linux (unshare, nsenter) and mount; for the TLS policy servers **unbound** (the
resolver postfix-mta-sts-resolver asks) and **postfix-mta-sts-resolver** (the peer).
"""
    )

    out.append("## What is measured\n")
    out.append(
        """Everything runs on loopback in one temporary directory, built from the integration rig's pieces
(tests/rig/: test CA, NSD with zones signed at run time, private Postfix):

```
smtp-source / smtp_load ──SMTP──> Postfix: one smtpd listener per filter ──milter──> filter under test
                                     │                                                  │
                                     └── smtp ──> smtp-sink (-d: one file per message)  └──> NSD (signed zones)
```

- **Filters**: no milter; the null filter (bench/null_milter.c: libmilter, the same callbacks,
  negotiated skips and macro lists as mtls-milter, inserts one header at index 0, nothing else);
  mtls-milter; OpenDKIM 2.11 in verify mode; OpenDMARC 1.4. Each on a unix and an inet socket.
  Extra null-filter variants (TCP_NODELAY on the listening socket; DATA skipped, as mtls-milter
  did before; replies to every header instead of SMFIP_NR_HDR) show where inet sockets lose time.
- **DNS work**: mtls-milter looks up Client MX (type 265) of the MAIL FROM domain through libunbound
  with DNSSEC validation. OpenDKIM verifies a DKIM-Signature (rsa-sha256, 2048-bit key) whose key
  record it fetches through libunbound with DNSSEC validation (`dkim=pass (... secure)` is checked in
  every delivered message). OpenDMARC looks up `_dmarc.<From domain>` through the C library's stub
  resolver, which cannot validate or cache; it runs in a private mount namespace whose
  /etc/resolv.conf names the rig's NSD on port 53 of a spare loopback address.
- **Warm cache**: every message from sender@secure.test. **Cold cache**: every message from a
  different domain dNNNNN.secure.test (5000 of them, each with Client MX, DKIM key and DMARC
  records, signed with ldns-signzone); each repetition uses domains no filter has seen. The zone
  keys (test., secure.test.) are cached by a warm-up message first, as on a busy MX.
- **Throughput**: 20 parallel SMTP sessions, one message per connection: `smtp-source -s 20 -F
  message` for the warm cache, bench/smtp_load (same pattern, a different sender and DKIM-signed
  message each time) for the cold cache. **Latency**: smtp_load with one session; per message from
  connect() to the 250 reply after DATA; p50 and p99, and the difference to no milter ("added").
- **CPU**: utime+stime from /proc/PID/stat of the filter process (all threads), and of every Postfix
  process (smtpd and cleanup separately; exited ones through the master's reaped-children time),
  per 1000 messages. **Memory**: VmHWM (peak RSS) of the filter process.
- **Accounting**: every run counts what smtp-sink received and checks, in every delivered message,
  the filter's result (X-Bench-Null, `mtls=fail` or `pass`, `dkim=pass (... secure)`, `dmarc=`),
  and scans Postfix's log for rejects, deferrals and milter errors. A run with any message rejected,
  tempfailed, undelivered or unmarked is BROKEN and left out of the tables. mtls-milter's verdict is
  `fail` here because smtp-source and smtp_load speak plain SMTP (no client certificate); the lookup
  is made all the same and a `temperror` (no DNS answer) would break the run.
- **Side by side**: all filters run at once, each behind its own smtpd; for every case the filters
  take turns (order rotated each repetition), and ratios are taken between runs of the same
  repetition, then the median over repetitions is shown.
- **Milter protocol only**: bench/milter_load speaks milter version 6 to the socket itself (no MTA),
  with the TLS macros of a verified client certificate (so mtls-milter's verdict is `pass`), N
  sessions at once, one message per connection, and checks every reply. **Slow DNS**:
  bench/dns_delay, a UDP proxy between libunbound and NSD, holds every answer back for a fixed time.
- **DMARC stage vs OpenDMARC**: two more Postfix listeners with `smtpd_milters = <stage 1>,
  <OpenDKIM>, <DMARC filter>`, as the README attaches the stage. Both chains share one stage 1 (the
  mtls-milter daemon whose child serves `dmarc-socket`) and the OpenDKIM above, so they differ only
  in the DMARC filter; in the cold cases each chain gets sender domains of its own, so that neither
  finds stage 1's or OpenDKIM's cache warmed by the other. Their messages have the same envelope
  (MAIL FROM in secure.test, for stage 1) but are From their DKIM d= domain (`dNNNNN.bench.example`,
  each with a `_dmarc` record `p=none`), so that DKIM aligns, as in most mail that passes DMARC.
  **Our stage** is asked to do what it does by default: trust the A-R headers of `mx.inbox.test`
  (OpenDKIM's AuthservID and ours), read stage 1's mtls verdict and OpenDKIM's `dkim=pass`, walk
  the From domain's `_dmarc` names (RFC 9989 tree walk: `_dmarc.dNNNNN.bench.example`,
  `_dmarc.bench.example`, `_dmarc.example` at once, through libunbound with DNSSEC and the answer
  cache; its configuration reaches bench.example and answers NXDOMAIN for the rest of example.,
  as a real TLD would), evaluate with `dmarc-mtls = substitute`, tag without enforcing.
  **OpenDMARC** 1.4 is
  asked the same as far as it can: `TrustedAuthservIDs mx.inbox.test`, SPF off
  (`SPFSelfValidate false`, `SPFIgnoreResults true`; our stage gets no `spf=` result either, as
  no SPF filter runs), no rejecting, no reports, no PSL; it looks up `_dmarc.<From domain>`
  through the stub resolver (no cache, no validation). The correct verdict is the same for
  both: `dmarc=pass` by DKIM alone (SPF is off, mtls fails on plain SMTP); every delivered
  message is checked for exactly one DMARC result, `pass`, for its own `header.from`, written by
  the filter under test (ours writes `policy.dmarc` and `aligned: dkim`, OpenDMARC does not),
  beside stage 1's verdict and OpenDKIM's `dkim=pass (... secure)`. **CPU** is the DMARC filter's process alone: our stage's
  child of the daemon, and OpenDMARC. **Slow DNS**: milter_load straight to `dmarc-socket`
  (From: a new cold domain every message, no A-R headers, so one walk per message) behind
  dns_delay.
"""
    )

    out.append("## Results\n")
    out.append(
        ("\n" + body)
        .replace("\n## ", "\n### ")
        .replace("\n### Warm", "\n#### Warm")
        .replace("\n### Cold cache: throughput", "\n#### Cold cache: throughput")
        .replace("\n### Cold cache: latency", "\n#### Cold cache: latency")
        .replace("\n### Where inet", "\n#### Where inet")
    )

    share = ratio(n_top["good_per_s"], n_top["bound"]) if n_top else None
    if share is None:
        pool_text = "(The null filter's blocking variant was not run.)"
    else:
        pool_text = (
            f"The null filter sleeping {_n(sleep_ms, 0)} ms at end of message (no DNS at all) reached "
            f"{_n(n_top['good_per_s'])} msg/s at {_n(dmax, 0)} sessions, {_n(share, 2)} of the concurrency "
            f"bound of {_n(n_top['bound'], 0)} msg/s (p50 {_n(n_top['p50'], 0)} ms against "
            f"{_n(n_single['p50'] if n_single else None, 0)} ms alone)"
            + (
                "; in this run sessions queued behind blocked workers. "
                if share < 0.6
                else "; in this run the pool kept up. "
            )
            + "It varies from run to run, because it depends on how the burst meets the idle workers: "
            "three tries of `null_milter -s 300` with 200 sessions (400 messages, after one priming "
            "message) gave 433, 147 and 120 msg/s against a bound of 666 during development. It is a "
            "ceiling of libmilter, not of mtls-milter; mtls-milter can only keep the wait at end of "
            "message short (its lookup already starts at MAIL FROM)."
        )

    out.append("\n## Findings and recommendations\n")
    out.append(
        f"""### 1. inet sockets: two delayed-ACK stalls, both avoidable by the filter

**The filter's replies.** libmilter writes each reply packet separately: at end of message the
inserted header (`i`) and then `c`. Without TCP_NODELAY, Nagle's algorithm holds the second small
packet until the first is acknowledged, and the MTA delays that acknowledgement (Linux: 40 ms
minimum). At the milter protocol level, one session, the null filter's p50 is
{_n(ml_null_inet_1, 2)} ms on inet against {_n(ml_null_unix_1, 2)} ms on unix, and
{_n(ml_nodelay_1, 2)} ms with TCP_NODELAY set on the listening socket after smfi_opensocket()
(accepted sockets inherit it on Linux). **Done in milter/daemon.cc** (mtls-milter at that level:
{_n(ml_mtls_inet_1, 2)} ms).

**Postfix's DATA macros.** Through Postfix one stall remained with TCP_NODELAY on the filter. Postfix
(src/milter/milter8.c) buffers what it sends in a VSTREAM and flushes it only when it reads a reply,
so a command and its macros leave together and the reply carries the acknowledgement; but it sends
each stage's macros even for a step the filter asked to skip. A filter that negotiates
SMFIP_NODATA therefore receives the DATA macros (`D` packet for `T`) with nothing to answer, smtpd
hands the connection to cleanup, and cleanup's first write (headers and end of message) is held by
Nagle's algorithm in Postfix's TCP stack, which does not set TCP_NODELAY on milter connections,
until the filter's kernel sends its delayed ACK. **Done in milter/libmilter_glue.cc**: mtls-milter
registers a DATA callback that answers `continue`; one more round trip removes the stall. In this
run, warm, one session, through Postfix on inet: null filter + TCP_NODELAY skipping DATA
{_n(nodata_p50)} ms, answering DATA {_n(nodelay_p50)} ms, on a unix socket {_n(null_unix_p50)} ms;
at 20 sessions {_n(nodata_tput, 2)}×, {_n(nodelay_tput, 2)}× and 1.00× the null filter's unix rate.
Answering every header as well (no SMFIP_NR_HDR) only adds round trips: {_n(hdr_p50)} ms and
{_n(hdr_tput, 2)}×.

With both stalls gone, what remains between inet and unix under load is the TCP stack's CPU on
two saturated cores, not waiting: at 20 sessions mtls-milter on inet made
{_n(d.pf_ratio('warm-tput', 'mtls-inet', 'mtls-unix'), 2)}× its unix rate, and Postfix plus filter
used {_n(d.pf_value('warm-tput', 'mtls-inet', 'total_per_k'), 2)} CPU s per 1000 messages on inet
against {_n(d.pf_value('warm-tput', 'mtls-unix', 'total_per_k'), 2)} on unix (the null filter with
TCP_NODELAY: {_n(nodelay_tput, 2)}× the null filter's unix rate); one message at a time the two
are within {_n(abs((d.pf_ratio('warm-lat', 'mtls-inet', 'mtls-unix', 'p50') or 1) - 1) * 100, 0)} %.

Other filters can do the same; for those that cannot, an operator can use a unix socket
(recommended when MTA and milter share a host), and across hosts the route option `quickack 1`
(ip-route(8)) is the usual remedy (not measured here).

### 2. libunbound in library mode allows 16 outstanding queries

libunbound's library defaults (config_create_forlib in unbound's util/config_file.c) set
`outgoing-range: 16` (and 1 MB message and RRset caches), unlike the unbound daemon. With a cold
cache and a DNS server {_n(delay_ms, 0)} ms away, the proxy had at most {_n(d_default['held'] if d_default else None, 0)} answers in flight at
{_n(dmax, 0)} sessions with the defaults, {_n(d_tuned['held'] if d_tuned else None, 0)} with the larger setting. At {_n(dmax, 0)}
sessions the defaults gave {_n(d_default['good_per_s'] if d_default else None)} answered msg/s, and
{d_default['temperrors'] if d_default else '?'} of {d_default['messages'] if d_default else '?'} lookups
queued inside libunbound past the 5 s dns-timeout, so those messages were tagged `mtls=temperror`:
{"**a cold burst behind a slow resolver path turned into temperror verdicts.**" if d_default and d_default["temperrors"] else "none did in this run."} With
`outgoing-range: 4096` and `num-queries-per-thread: 1024` in the unbound configuration file:
{_n(d_tuned['good_per_s'] if d_tuned else None)} msg/s and {d_tuned['temperrors'] if d_tuned else '?'}
temperror (serial bound: {_n(d_single['serial'] if d_single else None)} msg/s).
The lookup is started at MAIL FROM and collected at end of message; waiting for it holds a libmilter
worker thread for the rest of the lookup. libmilter 8.17's pool (worker.c) has no upper limit and
starts a thread when a session becomes readable and no worker is idle, so usually a waiting
callback does not stop other sessions. But, judging from worker.c, a worker it has signalled still counts as idle until it wakes up:
when a burst of new connections arrives, the listener hands all of them to the few idle workers
("ready to run") and starts no new ones, and those sessions then queue behind workers that block.
{pool_text}
**Done in core/dns/unbound_resolver.cc**: it sets `outgoing-range: 1024` and
`num-queries-per-thread: 1024` with ub_ctx_set_option before ub_ctx_config, so that an operator's
file can still override them (the "libunbound defaults" rows above therefore run with those values,
not with the library's 16); larger `msg-cache-size`/`rrset-cache-size` are worth considering too.
Each cold name also cost about {_n(cold_queries, 1)} queries here: libunbound minimises the query
name (QNAME minimisation), asking for the name before asking for its Client MX. In the
milter-protocol cold runs ({_n(cold_s, 0)} sessions) `qname-minimisation: no` gave
{_n(noqmin_ratio, 2)}× the rate, at {_n(noqmin_cpu, 2)} against {_n(cold_cpu, 2)} CPU s per 1000
messages. That is a privacy trade (RFC 9156: the servers of the parent zones see the whole name),
so mtls-milter keeps libunbound's default and leaves the choice to the unbound-config file. The rest
of a cold lookup is mostly signature checking: Debian's libunbound verifies with Nettle, and in a
`perf record` of a cold run during development (milter_load, 20 sessions) libhogweed and libgmp,
i.e. ECDSA P-256 verification (the zones here are signed with algorithm 13), took 27 % of the
filter's CPU and the kernel 54 %.

### 3. Per-message CPU: libunbound's thread hand-off, even on a cache hit

Measured while fixing it, with `perf record`, `strace -c -f` and `perf stat` on the filter process
under milter_load (20 sessions, warm cache): about 85 % of mtls-milter's CPU is in the kernel
(scheduling, poll, socket I/O: mostly libmilter's, the same for the null filter), and its own code
and libfmt together are under 2 %. What mtls-milter added over the null filter was the round trip
through libunbound for every lookup, although libunbound answered each from its cache: the query
goes to libunbound's worker thread over a pipe and the answer comes back over another, each write
wrapped in fcntl() calls that switch the pipe between blocking and non-blocking, and two threads
(libunbound's worker, then the event thread that runs ub_process) wake up. Per message that was
about 8 fcntl, 5 write, 4 read, 3 epoll calls and 2 to 3 more context switches (18.0 against the
null filter's 14.6); libunbound, libevent and those system calls were 20 to 25 % of the filter's
CPU. **Done in core/dns/unbound_resolver.cc**: an answer cache in front of libunbound
(core/dns/answer_cache.cc), keyed by name and type, keeping only records, nodata and nxdomain
answers whose DNSSEC state is secure or insecure, for the answer's TTL capped at 300 s (TTL 0 is not
cached), at most 4096 entries (least recently used goes), one cache per resolver so that a reload
starts empty. A hit never leaves the calling thread: its system calls per message are those of the
null filter plus the log line's one write(), and its context switches 16.4 per message. In this
run the milter protocol ceiling is {_n(d.ml_ratio('warm', 'mtls-unix', 'null-unix', 20), 2)}× the
null filter's at 20 sessions and {_n(d.ml_ratio('warm', 'mtls-unix', 'null-unix', 200), 2)}× at 200
(filter CPU per 1000 messages at 20 sessions: mtls-milter
{_n(d.ml_value('warm', 'mtls-unix', 20, 'cpu_per_k'), 2)} s, null filter
{_n(d.ml_value('warm', 'null-unix', 20, 'cpu_per_k'), 2)} s). What remains per message is the log
line (formatting it and one write) and the header: small next to the kernel time that every
libmilter filter pays. A cold name still takes the full path through libunbound.

### 4. Peers

- OpenDKIM 2.11.0~beta2 (Debian 12) crashes under concurrent load when given a libunbound
  configuration file (`ResolverConfiguration`): "fatal flex scanner internal error--end of buffer
  missed", preceded by nonsense syntax errors about the file, i.e. the file is parsed again by several
  threads at once (upstream later serialised that call). The benchmark therefore points OpenDKIM
  at NSD with `Nameservers 127.0.0.1@PORT` plus `TrustAnchorFile`, and signs with d= in a zone of
  its own (bench.example.), because `test.` cannot be reached without a configuration file
  (libunbound answers it locally with NXDOMAIN). `bench/run --opendkim-resolver-config` reproduces
  the crash.
- OpenDMARC resolves through the C library's stub resolver straight at the authoritative server:
  no cache, no validation. That makes its warm case slower and its cold case cheaper than a real
  deployment behind a caching, validating resolver.
- OpenDKIM and OpenDMARC log through syslog(3), which goes nowhere on this machine (no /dev/log);
  mtls-milter writes its per-message line to a file. That favours the peers slightly.

### 5. For other tests on this machine

- NSD's response rate limiting (`rrl-ratelimit`, 200 answers/s per /24 by default) drops and
  truncates answers under benchmark load from 127.0.0.1; the bench switches it off
  (`rrl-ratelimit: 0`). tests/rig/dns.py does not, which is fine at its rates.
- A libmilter filter stopped with SIGTERM only exits at its listener's next poll timeout (seconds);
  the bench stops filters with SIGTERM and SIGKILL after one second.

{dmarc_finding(d, results)}
## Caveats

- Two cores shared with other engineers' builds: absolute numbers move from run to run (compare
  the load average above); ratios between runs made side by side are what to read, and even those
  are noisy for short runs (the `--quick` numbers mean nothing).
- The load generators run on the same two cores as Postfix and the filters.
- Plain SMTP: no STARTTLS, so Postfix's TLS costs are not in these numbers, and mtls-milter's
  verdict through Postfix is `fail` (with the full lookup); the milter-protocol runs use the TLS
  macros and get `pass`.
"""
    )
    out.append(tlspolicy_section(results))
    return "\n".join(out)


TLSPOLICY_BEGIN = (
    "<!-- tlspolicy section: written by bench/run --docs, or alone by bench/run --only-tlspolicy --docs -->"
)
TLSPOLICY_END = "<!-- end of the tlspolicy section -->"


def splice_tlspolicy(document, results):
    """document with its TLS policy section replaced by this run's (or,
    when it has none yet, with the section appended): a --only-tlspolicy
    run leaves the milter's numbers as the full run wrote them."""
    section = tlspolicy_section(results)
    if TLSPOLICY_BEGIN in document and TLSPOLICY_END in document:
        head, rest = document.split(TLSPOLICY_BEGIN, 1)
        tail = rest.split(TLSPOLICY_END, 1)[1]
        return head + section.rstrip("\n") + tail
    return document.rstrip("\n") + "\n\n" + section


def tlspolicy_section(results):
    """The TLS policy servers' part of PERFORMANCE.md, between markers, with
    its own run line: it may come from a run of its own."""
    import report
    import tlspolicy_report as t

    m = results["meta"]
    sec = t.section(results)
    p = sec.get("params", {})
    out = [TLSPOLICY_BEGIN, "## TLS policy servers (mtls-tlspolicy)\n"]
    out.append(
        f"""The sending side (issue 15): what Postfix's `smtp_tls_policy_maps` asks over socketmap before
each delivery, answered by mtls-tlspolicy, by postfix-mta-sts-resolver 1.1.2 as Debian ships it
(SQLite cache) and with its in-memory cache, and by bench/null_socketmap.c, a socketmap server that
answers at once and looks nothing up (the ceiling). bench/tlspolicy_bench.py:

- They run in a network namespace of the benchmark's own (the outbound test rig,
  tests/rig/outbound.py) with NSD serving every recipient domain's MX, `_mta-sts` TXT and
  `mta-sts` address, a validating unbound behind the namespace's resolv.conf (which the peer asks;
  mtls-tlspolicy has its own libunbound, stubbed to NSD), and a Python HTTPS server whose
  certificate for each `mta-sts.<domain>` the test CA makes on first use. Every domain publishes
  an enforce policy, so every answer must be `OK secure ...`, or the run is broken.
- bench/socketmap_load plays Postfix's smtp(8) processes: N clients, one connection each, one
  request at a time, every reply checked. **Cached lookups**: {_n(p.get('warm_domains'), 0)} domains
  fetched once before, then {_n(p.get('duration'), 0)} s per server at each of 1, 20 and 200 clients,
  the servers taking turns. **Cold lookups**: {_n(p.get('cold'), 0)} domains never asked before, one client
  (DNS, HTTPS fetch, parse). mtls-tlspolicy's answer to a cached domain still asks DNS for the MX,
  `_mta-sts` TXT and Client MX records and the MX host's addresses and TLSA (from its answer
  cache, core/dns/answer_cache.cc), and writes one log line.
- **Memory**: mtls-tlspolicy's VmRSS with {_n(p.get('rss_domains'), 0)} more domains cached, its
  `cache-size` at the default {_n(p.get('cache_size'), 0)}: one lookup of each, 20 clients. Fetching
  that many policies from the Python HTTPS server (a TLS handshake in Python each) would make this
  the longest part of the benchmark by far, so they are
  written into the daemon's SQLite store first, through the daemon's own cache code
  (tests/tlspolicy/sts_store_fill.cc: make_cached_policy and StsPolicyCache::put, as after a
  fetch), under the id the zone publishes; each lookup then reads the store once and keeps the
  policy in memory, with its DNS done for real. The peer with its in-memory cache is given
  {_n(p.get('rss_peer_domains'), 0)} domains, fetched over HTTPS.

The run of this section: {m.get('started')} UTC, `{m.get('command')}`, {m.get('duration_s')} s in all,
{m.get('cpu')}, {m.get('cores')} cores **shared with other engineers' builds and tests** (load
average at start {', '.join(f'{x:.2f}' for x in m.get('load_at_start', []))}): absolute numbers move
from run to run; the ratios between servers measured side by side are what to read.
"""
    )
    out.append("### In short\n")
    out.append(tlspolicy_summary(results) + "\n")
    out.append("### Targets\n")
    out.append(report.targets_table(t.targets(results)))
    out.append("### Results\n")
    out.append(t.tables(results))
    out.append("### Findings\n")
    out.append(tlspolicy_findings(results))
    out.append(TLSPOLICY_END + "\n")
    return "\n".join(out)


def tlspolicy_findings(results):
    """What was found while measuring: the cached path, memory, the peer."""
    import tlspolicy_report as t

    def warm(server, clients, key):
        return t.value(results, "warm", server, key, clients)

    def cpu_per_k(server, clients):
        row = t.find(results, "warm", server, clients)
        if not row or row.get("server_cpu_s") is None or not row["answered"]:
            return None
        return row["server_cpu_s"] * 1e6 / row["answered"]

    rss = t.find(results, "rss", t.OURS)
    cold = t.find(results, "cold", t.OURS)
    before_kib = cold.get("rss_kib") if cold else None
    held = rss["answered"] if rss else None
    per_entry = (
        (rss["rss_kib"] - before_kib) * 1024 / held
        if rss and rss.get("rss_kib") and before_kib and held
        else None
    )
    rss_mib = rss["rss_kib"] / 1024 if rss and rss.get("rss_kib") else None
    prefill = (
        f"the {_n(rss.get('prefilled'), 0)} policies were written to the store in "
        f"{_n(rss.get('prefill_s'), 1)} s, and the run fetched {_n(rss.get('fetched'), 0)} over HTTPS; "
        f"its lookups, each a new domain with its DNS asked through libunbound and its policy read from "
        f"the store, went at {_n(rss.get('per_s'), 0)}/s with p50 {_n(t.ms(rss.get('p50_us')), 1, ' ms')}"
        if rss and rss.get("prefilled")
        else "the policies were fetched over HTTPS (the store filler was not built)"
    )
    return f"""#### 1. A cached answer's time went into two thread hand-offs

Measured with `strace -f -T` and `perf record -g` on the daemon under
bench/tlspolicy_bench.py's warm run (mtls-tlspolicy alone, one client, 200 cached domains). A cached
answer sends no DNS query: the MX, TXT and Client MX answers and the MX host's A, AAAA and TLSA come
from the resolver's answer cache (core/dns/answer_cache.cc), the policy from memory, and the log line
is one write(2) to the log (no fsync; the socket is a unix socket, so there is no Nagle delay). Its
system calls were: the socket thread's poll and recvfrom, a futex to wake a worker, the worker's
write of the log line and write to the eventfd that wakes the socket thread, which then polls,
reads the eventfd and sends the reply. Two cross-thread wake-ups per answer, and the condition
variable wakes the longest-idle of the 32 workers, so each answer ran on a different thread. In the
profile 65 % of the daemon's CPU was the kernel, nearly all of it switching tasks; mtls-tlspolicy's
own code was 11 %. On a busy machine each wake-up also waits for a CPU, which is where the p99 of
several milliseconds with one client came from (3.19 ms in an earlier quick run).

**Done in tlspolicy/**: an answer that needs nothing but memory is given on the socket thread
itself (SocketmapService's MemoryAnswerer, PolicyEngine::answer_from_memory): the DNS facts are
gathered from the resolver's cached answers only (Resolver::cached, gather_cached_dns_facts, which
reuses gather_dns_facts so that one place knows which records an answer needs), and the policy from
the cache's memory only (StsPolicyCache::find_in_memory). Whatever would need a lookup, a store read
or a fetch goes to a worker as before; the answers, the log line and the metrics are the same. During
development, on the same shared machine, mtls-tlspolicy alone, 4 s per level: one client
2,400–3,200 answers/s with p50 85 µs and p99 4.6–7.1 ms before, 23,000–27,000/s with p50 32 µs and
p99 77–98 µs after; 20 clients 11,500/s before, 30,000/s after. In this run, one client:
{_n(warm(t.OURS, 1, 'per_s'), 0)}/s, p50 {_n(t.ms(warm(t.OURS, 1, 'p50_us')), 3, ' ms')}, p99
{_n(t.ms(warm(t.OURS, 1, 'p99_us')), 3, ' ms')}; the do-nothing server
{_n(warm('null-socketmap', 1, 'per_s'), 0)}/s, p99 {_n(t.ms(warm('null-socketmap', 1, 'p99_us')), 3, ' ms')}.
How much a single run says on these shared cores: the four full runs of this section made while
writing it (one stopped before its memory run) gave 8.7×, 18.5×, 10.0×, 15.3× and 20.0× the peer
at 20 clients and a one-client p99 of 0.145, 0.067, 2.58, 0.082 and 0.071 ms, each time with the
other servers moving too. By the servers' own CPU time, which the other load on the machine moves less than their rates: at
20 clients mtls-tlspolicy used {_n(cpu_per_k(t.OURS, 20), 1)} ms per 1000 cached answers, the peer
{_n(cpu_per_k(t.PEER, 20), 1)} ms with SQLite ({_n(ratio(cpu_per_k(t.PEER, 20), cpu_per_k(t.OURS, 20)), 1)}×)
and {_n(cpu_per_k('mta-sts-internal', 20), 1)} ms in memory. At 20 and 200 clients the socket thread now answers every cached query by itself, so one core bounds
the rate: in this run {_n(warm(t.OURS, 20, 'per_s'), 0)}/s and {_n(warm(t.OURS, 200, 'per_s'), 0)}/s
against the do-nothing server's {_n(warm('null-socketmap', 20, 'per_s'), 0)}/s and
{_n(warm('null-socketmap', 200, 'per_s'), 0)}/s, with the load generator and the other servers on
the same two cores. The socket thread also writes those answers' log lines: a log that blocks (a stalled syslog)
would hold up every connection rather than one worker. The answer cache keeps 4,096 answers for at
most 300 s, three or more per domain, so a domain that has not been asked for some minutes takes
the worker path again.

#### 2. Memory is bounded by `cache-size`

The policies in memory are an LRU of at most `cache-size` entries (default 100,000; the SQLite file
is trimmed to about the same), the resolver's answer cache 4,096 answers, libunbound's own caches
its configured sizes (library defaults unless the unbound-config file says otherwise). With
{_n(held, 0)} domains asked for once (the memory run: {prefill}), the LRU held every one of them
(an answer is `OK secure` only with the policy in hand: the MX zone is unsigned and publishes no
Client MX). RSS was {_n(rss_mib, 1, ' MiB')}
(peak {_n(rss['hwm_kib'] / 1024 if rss and rss.get('hwm_kib') else None, 1, ' MiB')}), against
{_n(before_kib / 1024 if before_kib else None, 1, ' MiB')} before the run: about
{_n(per_entry, 0)} bytes per cached domain{" (**the 64 MiB target is missed**)" if rss_mib and rss_mib >= 64 else ", within the 64 MiB target"}.
Memory stays bounded: a larger `cache-size` grows RSS by about that much per domain, and more domains
than `cache-size` evict the least recently used, which the store (SQLite) still answers without a
fetch until it is trimmed. The full runs before the change below measured 74.0 to 74.6 MiB, about 485 bytes per
domain. What one entry cost, from the structures in tlspolicy/sts_policy_cache.h and glibc's chunk
sizes (an estimate, not measured one by one): the list node holding the StoredPolicy and the parsed
StsPolicy about 176 bytes, the policy text as fetched 80, the domain 32 in the entry and again 32 as
the index's key, the index node 64, the parsed mx list 48, the hash buckets about 16. **Done in
tlspolicy/sts_policy_cache.cc**: an entry in memory keeps no policy text (only the store needs it,
and put() has it at hand), and the index is keyed by a view of the entry's own domain (list nodes
do not move); about 128 bytes less per entry, which is what the figure above shows.

While filling the store it showed that SqlitePolicyStore's trim, every 64 saves, sorted the whole
table even when it was below its bound: 100,000 saves took 67 s, most of it in those sorts, and the
daemon pays the same under the store's lock after its fetches. **Done in
core/mta_sts/sqlite_policy_store.cc**: count the rows first and sort only above the bound (100,000
saves into an empty file: 14 s).

#### 3. The peer

postfix-mta-sts-resolver answers every query in one Python process (asyncio), its cache in SQLite
as Debian configures it or in memory. With its in-memory cache it reached
{_n(warm('mta-sts-internal', 20, 'per_s'), 0)}/s at 20 clients against
{_n(warm(t.PEER, 20, 'per_s'), 0)}/s with SQLite. It looks up only MTA-STS (no DANE, no Client MX),
so mtls-tlspolicy does more work per answer than it does.

#### 4. The benchmark's own DNS throttled every server's new domains

The TLS policy zone's NSD ran with response rate limiting on (NSD's default, 200 answers/s per /24,
as tests/rig/dns.py leaves it), and every server's queries come from 127.0.0.1: beyond that rate NSD
dropped and truncated answers, and the resolvers retried. In an earlier full run of this section,
on a more loaded machine, that held the memory run at 109 new domains/s (p50 114 ms at 20 clients)
and gave cold lookups a p99 of 160 to 230 ms for every server. bench/tlspolicy_bench.py now switches
it off, as bench.py does for the milter's zones: the memory run above went at
{_n(rss.get('per_s') if rss else None, 0)}/s, the cold p99 was
{_n(t.ms(cold.get('p99_us')) if cold else None, 1, ' ms')} for mtls-tlspolicy.
"""


def tlspolicy_summary(results):
    """The "In short" line of the TLS policy servers."""
    import tlspolicy_report as t

    if not t.section(results).get("rows"):
        return "- **TLS policy servers**: not measured in this run."

    def per_s(server, clients):
        return t.value(results, "warm", server, "per_s", clients)

    rows = t.targets(results)
    met = sum(1 for r in rows if r[3] == "met")
    rss = t.find(results, "rss", t.OURS)
    return (
        f"- **TLS policy servers (socketmap)**: cached lookups per second at 20 and 200 clients, "
        f"mtls-tlspolicy {_n(per_s(t.OURS, 20), 0)} and {_n(per_s(t.OURS, 200), 0)}, "
        f"{_n(ratio(per_s(t.OURS, 20), per_s(t.PEER, 20)), 1)}× and "
        f"{_n(ratio(per_s(t.OURS, 200), per_s(t.PEER, 200)), 1)}× postfix-mta-sts-resolver with Debian's "
        f"SQLite cache, {_n(ratio(per_s(t.OURS, 20), per_s('mta-sts-internal', 20)), 1)}× and "
        f"{_n(ratio(per_s(t.OURS, 200), per_s('mta-sts-internal', 200)), 1)}× it with its in-memory cache; "
        f"the do-nothing server's ceiling was {_n(per_s('null-socketmap', 20), 0)} and "
        f"{_n(per_s('null-socketmap', 200), 0)}. One client: p99 "
        f"{_n(t.ms(t.value(results, 'warm', t.OURS, 'p99_us', 1)), 3, ' ms')} cached; a cold lookup "
        f"(DNS and the HTTPS fetch) p50 {_n(t.ms(t.value(results, 'cold', t.OURS, 'p50_us')), 1, ' ms')} against "
        f"{_n(t.ms(t.value(results, 'cold', t.PEER, 'p50_us')), 1, ' ms')} for the peer. RSS with "
        f"{_n(rss['answered'] if rss else None, 0)} more domains cached: "
        f"{_n(rss['rss_kib'] / 1024 if rss and rss.get('rss_kib') else None, 1, ' MiB')}. Targets: {met} of "
        f"{len(rows)} met."
    )


def dmarc_summary(d, trows):
    """The "In short" line of the DMARC stage against OpenDMARC."""
    from report import OUR_CHAIN, PEER_CHAIN

    rows = [t for t in trows if t[0].startswith("DMARC") or DMARC_SLOWDNS_TARGET in t[0]]
    met = sum(1 for t in rows if t[3] == "met")
    if d.pf_value("warm-tput", OUR_CHAIN, "msgs_per_s") is None:
        return "- **DMARC stage vs OpenDMARC**: not measured in this run."
    return (
        f"- **DMARC stage vs OpenDMARC**, each after the same stage 1 and OpenDKIM through Postfix: "
        f"CPU per message of the DMARC filter alone, ours ÷ OpenDMARC's, "
        f"{_n(d.pf_ratio('warm-tput', OUR_CHAIN, PEER_CHAIN, 'filter_cpu_per_k'), 2)} warm and "
        f"{_n(d.pf_ratio('cold-tput', OUR_CHAIN, PEER_CHAIN, 'filter_cpu_per_k'), 2)} cold (target < 1); "
        f"throughput of the chain, ours ÷ OpenDMARC's, "
        f"{_n(d.pf_ratio('warm-tput', OUR_CHAIN, PEER_CHAIN), 2)} warm and "
        f"{_n(d.pf_ratio('cold-tput', OUR_CHAIN, PEER_CHAIN), 2)} cold (target ≥ 1), and counted as messages "
        f"per CPU second of Postfix and the DMARC filter, which the other load on these cores cannot skew, "
        f"{_n(d.pf_ratio('warm-tput', OUR_CHAIN, PEER_CHAIN, 'inv_total'), 2)} and "
        f"{_n(d.pf_ratio('cold-tput', OUR_CHAIN, PEER_CHAIN, 'inv_total'), 2)}; with DNS slow, "
        f"see finding 6. Targets: {met} of {len(rows)} met."
    )


DMARC_SLOWDNS_TARGET = "mtls DMARC stage"


def dmarc_finding(d, results):
    """Finding 6: what the DMARC comparison and its slow-DNS runs showed."""
    from report import DMARC_SLOWDNS, OUR_CHAIN, PEER_CHAIN

    rows = [r for r in delay_rows(d) if r["name"] == DMARC_SLOWDNS]
    top = max(rows, key=lambda r: r["sessions"]) if rows else None
    single = next((r for r in rows if r["sessions"] == 1), None)
    cpu = {
        case: (
            d.pf_value(case, OUR_CHAIN, "filter_cpu_per_k"),
            d.pf_value(case, PEER_CHAIN, "filter_cpu_per_k"),
        )
        for case in ("warm-tput", "cold-tput")
    }
    text = f"""### 6. The DMARC stage against OpenDMARC

CPU seconds per 1000 messages of the DMARC filter's process, through Postfix at 20 sessions: our
stage {_n(cpu['warm-tput'][0], 2)} warm and {_n(cpu['cold-tput'][0], 2)} cold, OpenDMARC
{_n(cpu['warm-tput'][1], 2)} and {_n(cpu['cold-tput'][1], 2)} (ratios per repetition, median:
{_n(d.pf_ratio('warm-tput', OUR_CHAIN, PEER_CHAIN, 'filter_cpu_per_k'), 2)} and
{_n(d.pf_ratio('cold-tput', OUR_CHAIN, PEER_CHAIN, 'filter_cpu_per_k'), 2)}). The work is not the
same: our stage asks the walk's three names with DNSSEC validation (cold, one of them is new
per message), OpenDMARC asks one unvalidated name per message and has no cache, so warm it
repeats the query that our stage answers from its answer cache. When the DKIM d= domain differs
from the From domain, our stage walks it too (relaxed alignment needs its organizational
domain); the messages here do not ask for that. Chain
throughput, ours ÷ OpenDMARC's: {_n(d.pf_ratio('warm-tput', OUR_CHAIN, PEER_CHAIN), 2)} warm,
{_n(d.pf_ratio('cold-tput', OUR_CHAIN, PEER_CHAIN), 2)} cold; one session, p50
{_n(d.pf_value('warm-lat', OUR_CHAIN, 'p50'))} against {_n(d.pf_value('warm-lat', PEER_CHAIN, 'p50'))} ms
warm and {_n(d.pf_value('cold-lat', OUR_CHAIN, 'p50'))} against
{_n(d.pf_value('cold-lat', PEER_CHAIN, 'p50'))} ms cold.

**Does the walk hold a libmilter thread?** Yes, for what remains of it at end of message. The
walk of the From domain starts in the header callback that sees From, which returns at once;
end of message collects the answers and waits for those still out, in its libmilter worker,
since libmilter has no way to finish a message later. Postfix (and milter_load) send the headers
and end of message back to back after the whole message has arrived, so here that wait is
nearly the whole walk: each message waiting on DNS holds one worker. libmilter starts another
worker when a session is readable and none is idle, so the waits overlap instead of queueing:
behind DNS {_n(top['delay_ms'] if top else None, 0)} ms away, one session made
{_n(single['msgs_per_s'] if single else None)} msg/s (p50 {_n(single['p50'] if single else None, 0)} ms,
{_n(ratio(single['p50'], single['delay_ms']) if single else None, 1)} answer delays: the walk's names
are asked at once, but libunbound resolves a cold name with
{_n(single['queries_per_msg'] if single else None, 1)} queries, not all at once, see finding 2), and
{_n(top['sessions'] if top else None, 0)}
sessions made {_n(top['good_per_s'] if top else None)} answered msg/s,
{_n(ratio(top['good_per_s'], top['serial']) if top else None, 1)}× the serial bound (one walk at a
time, which is what holding a single thread would allow) and
{_n(ratio(top['good_per_s'], top['bound']) if top else None, 2)} of the concurrency bound, with
{top['temperrors'] if top else '?'} temperror; the DNS proxy held up to
{_n(top['held'] if top else None, 0)} answers at once, and the stage's process had up to
{_n(top['threads'] if top else None, 0)} threads at once (sampled every 10 ms; alone
{_n(single['threads'] if single else None, 0)}): libmilter's workers, most of them blocked in those
waits. The cost of a waiting message is a thread, not a place in a queue. It
could be shortened, not removed: starting the walk of the MAIL FROM domain at MAIL FROM (the From
domain usually is the same, and relaxed SPF or mtls alignment walks it anyway) would overlap it
with the message's transfer, at the price of its queries for messages whose identifiers do not
pass.
"""
    return text
