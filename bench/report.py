#!/usr/bin/env python3
"""Turns bench/run.sh's results (key=value lines) into docs/BENCHMARKS.md.

Medians over the runs; ratios against the ceilings measured in the same run
(nginx for HTTP, bench-loader for producing, and the two combined); each figure
next to its target from issue 15, "met", "not met" or "not measured" (a figure
the run did not record). Rows are generic (row(): benchmark, result, target,
condition), so a new measurement is one record line in bench/run.sh and one
row here. Measures, asserts nothing.
"""
import datetime
import math
import os
import platform
import statistics
import subprocess
import sys


def parse(path):
    rows = []
    with open(path) as f:
        for line in f:
            kv = dict(p.split("=", 1) for p in line.split() if "=" in p)
            if "bench" in kv:
                rows.append(kv)
    return rows


def med(rows, bench, key):
    vals = [float(r[key]) for r in rows if r["bench"] == bench and key in r]
    return statistics.median(vals) if vals else float("nan"), vals


def first_med(rows, benches, key):
    """The median of the first of benches that has rows (a ceiling may be named either way)."""
    for b in benches:
        m, vals = med(rows, b, key)
        if vals:
            return m, vals
    return float("nan"), []


def target_row(w, name, result, target, met):
    """One generic target row: met is True, False, None (not measured in this run) or "reported"."""
    verdict = met if isinstance(met, str) else "not measured" if met is None else ("met" if met else "**not met**")
    w(f"| {name} | {result} | {target} | {verdict} |")


def known(*xs):
    return all(x == x for x in xs)  # NaN is the only value unequal to itself


def order_service_targets(rows, w, events):
    """Issue 15, order-service side: reads over the stored orders, catch-up, memory."""
    n = f"{int(events):,}"
    http_ceiling, _ = med(rows, "nginx", "rps")
    # the harness's produce ceiling; else the loader's preload of this run (the same loader and events)
    produce_ceiling, _ = first_med(rows, ("produce_ceiling", "produce", "produce_preload"), "eps")
    w("## Issue 15 targets: order-service")
    w("")
    w("| target | result | goal | |")
    w("|---|---|---|---|")
    od = {}
    for label, bench in (("SQLite", "order_details"), ("PostgreSQL", "order_details_pg")):
        rps, vals = med(rows, bench, "rps")
        p99, _ = med(rows, bench, "p99_ms")
        od[label] = rps
        ratio = rps / http_ceiling if known(rps, http_ceiling) and http_ceiling else float("nan")
        met = None if not vals or not known(ratio) else (ratio >= 0.7 and p99 <= 2)
        target_row(w, f"order-details over {n} orders, {label}",
                   f"{rps:,.0f} req/s = {ratio:.2f}x the HTTP ceiling ({http_ceiling:,.0f}), p99 {p99:.2f} ms",
                   "≥ 0.7x the HTTP ceiling, p99 ≤ 2 ms", met)
    if known(od["SQLite"], od["PostgreSQL"]) and od["SQLite"]:
        w(f"| order-details, PostgreSQL vs SQLite | {100 * (1 - od['PostgreSQL'] / od['SQLite']):.0f} % lower "
          "(per read ~10 us of the server's CPU and ~2.5 us on the reader thread, batched ~21 reads a statement, "
          "against SQLite's ~5 us in-process read on the HTTP thread: bench/profile-notes.md) | reported | |")
    eps, vals = med(rows, "catchup", "eps")
    ratio = eps / produce_ceiling if known(eps, produce_ceiling) and produce_ceiling else float("nan")
    target_row(w, f"catch-up of {n} events into SQLite",
               f"{eps:,.0f} events/s = {ratio:.2f}x the produce ceiling ({produce_ceiling:,.0f}/s)",
               "≥ 0.35x the produce ceiling, durability unchanged",
               None if not vals or not known(ratio) else ratio >= 0.35)
    for service, label in (("order-service", "SQLite"), ("order-service-pg", "PostgreSQL")):
        mem = [r for r in rows if r["bench"] == "mem" and r.get("service") == service]
        if not mem:
            target_row(w, f"order-service RssAnon, {label}", "—", "≤ 150 MB with the orders stored, scans included", None)
            continue
        anon = max(int(r["rssanon_peak_kb"]) for r in mem)
        vm = max(int(r["vmrss_peak_kb"]) for r in mem)
        phases = ", ".join(f"{r['phase']} {int(r['rssanon_peak_kb']) / 1024:.0f}/{int(r['vmrss_peak_kb']) / 1024:.0f}"
                           for r in mem)
        target_row(w, f"order-service RssAnon peak, {label} ({n} orders)",
                   f"{anon / 1024:.1f} MB (VmRSS {vm / 1024:.1f} MB; RssAnon/VmRSS MB by phase: {phases})",
                   "RssAnon ≤ 150 MB, scans included" if label == "SQLite" else "reported",
                   anon <= 150 * 1024 if label == "SQLite" else "reported")
    w("")


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=10).stdout.strip()
    except Exception:  # a missing tool only leaves a blank in the report
        return ""


def verdict(cond):
    """met / not met, or "not measured" when a figure the target needs is missing (None)."""
    if cond == "info":  # a measured figure without a target of its own
        return ""
    if cond is None:
        return "not measured"
    return "met" if cond else "**not met**"


def known(*vals):
    return all(v is not None and not math.isnan(v) for v in vals)


def runs_txt(vals, fmt="{:,.0f}"):
    return ", ".join(fmt.format(v) for v in vals)


def errors_of(r):
    """Failed answers of one wrk run: socket errors, statuses >= 400, and a
    create's answers other than 201 (create_order.lua counts those)."""
    sock = sum(int(r.get(k, 0)) for k in ("errors_connect", "errors_read", "errors_write",
                                          "errors_timeout"))
    # not201 counts every status but 201, errors_status those >= 400: not both
    return sock + int(r.get("not201", r.get("errors_status", 0)))


def at_conns(rows, bench, conns, default_conns):
    return [r for r in rows if r["bench"] == bench and int(r.get("conns", default_conns)) == conns]


def wrk_summary(rows, bench, conns, default_conns):
    """Median req/s, p50, p99, max over the runs at conns; errors summed; None when absent."""
    rs = at_conns(rows, bench, conns, default_conns)
    if not rs:
        return None
    m = lambda k: statistics.median(float(r[k]) for r in rs)  # noqa: E731
    return {"rps": m("rps"), "p50": m("p50_ms"), "p99": m("p99_ms"), "max": m("max_ms"),
            "errors": sum(errors_of(r) for r in rs), "requests": sum(int(r["requests"]) for r in rs),
            "runs": [float(r["rps"]) for r in rs]}


def plot_sweep(sweep, png):
    """create-order req/s and p99 against connections; returns a note when not drawn."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "plot not drawn: matplotlib is not installed (scripts/deps.sh bench installs it into .venv)"
    xs = sorted(sweep)
    if not xs:
        return "plot not drawn: no create-order runs"
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    ax.plot(xs, [sweep[c]["rps"] for c in xs], "o-", color="tab:blue", label="req/s (median)")
    ax.set_xscale("log")
    ax.set_xticks(xs)
    ax.set_xticklabels([str(c) for c in xs])
    ax.set_xlabel("concurrent connections (wrk -t2)")
    ax.set_ylabel("create-order req/s", color="tab:blue")
    ax.set_ylim(bottom=0)
    ax2 = ax.twinx()
    ax2.plot(xs, [sweep[c]["p99"] for c in xs], "s--", color="tab:red", label="p99 ms")
    ax2.set_ylabel("p99 latency (ms)", color="tab:red")
    ax2.set_ylim(bottom=0)
    ax.set_title("create-order: throughput and p99 against connections")
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)
    return None


def topic_reads_section(rows, w):
    """bench/topic_reads.sh's rows (reads over the store's topic indexes), if it ran."""
    reads = [r for r in rows if r["bench"] == "topic_reads"]
    if not reads:
        return
    w("## Topic reads over the store's topic indexes (bench/topic_reads.sh)")
    w("")
    w("| records on the topic | read | first call (builds the index) | second call (index + tail) | peak RSS |")
    w("|---|---|---|---|---|")
    for n in sorted({int(r["events"]) for r in reads}):
        for ep, name in (("ids", "getAllOrderIdsFromTopic"), ("dlq_stats", "/dlq/stats")):
            got = {r["call"]: r for r in reads if int(r["events"]) == n and r["endpoint"] == ep}
            if "first" not in got or "second" not in got:
                continue
            f, s = got["first"], got["second"]
            w(f"| {n:,} | {name} | {float(f['seconds']):.2f} s, {int(f['scanned']):,} records scanned "
              f"| {float(s['seconds']):.2f} s, {int(s['scanned']):,} scanned "
              f"| {int(s['hwm_kb']) / 1024:.0f} MB |")
    w("")
    details = [r for r in rows if r["bench"] == "topic_reads_details"]
    if details:
        w("| records on the topic | /order-details | req/s | p50 | p99 |")
        w("|---|---|---|---|---|")
        for r in details:
            mode = "alone" if r["mode"] == "alone" else "while four getAllOrderIdsFromTopic loops run"
            w(f"| {int(r['events']):,} | {mode} | {float(r['rps']):,.0f} | {float(r['p50_ms']):.2f} ms "
              f"| {float(r['p99_ms']):.2f} ms |")
        w("")
    w("Each size is a fresh topic served as order-service's DLQ topic (so both endpoints read it), "
      "loaded by `bench-loader`; a fresh SQLite store; `curl -w %{time_total}`; records scanned from "
      "`order_topic_read_records_scanned_total`; peak RSS is VmHWM after the calls.")
    w("")


def main():
    (res, out, runs, duration, conns, events, e2e_rate, e2e_secs, kafka_v, apicurio_v) = sys.argv[1:11]
    conns_i = int(conns)
    rows = parse(res)
    nan = float("nan")

    ng_rps, ng_all = med(rows, "nginx", "rps")
    ng_p99, _ = med(rows, "nginx", "p99_ms")
    pc_eps, pc_all = med(rows, "produce_ceiling", "eps")
    pc_bytes, _ = med(rows, "produce_ceiling", "event_bytes")
    combined = 1 / (1 / ng_rps + 1 / pc_eps) if known(ng_rps, pc_eps) and ng_rps and pc_eps else nan
    sweep = {}
    for c in sorted({int(r.get("conns", conns_i)) for r in rows if r["bench"] == "create_order"}):
        sweep[c] = wrk_summary(rows, "create_order", c, conns_i)
    co, co1k = sweep.get(conns_i), sweep.get(1000)
    up = wrk_summary(rows, "update_order", conns_i, conns_i)
    up1k = wrk_summary(rows, "update_order", 1000, conns_i)
    e2e_p50, _ = med(rows, "e2e", "p50_ms")
    e2e_p99, e2e_all = med(rows, "e2e", "p99_ms")
    e2e_max, _ = med(rows, "e2e", "max_ms")
    e2e_rows = [r for r in rows if r["bench"] == "e2e" and "sent" in r]
    e2e_lost = sum(int(r["sent"]) - int(r.get("visible", 0)) for r in e2e_rows)
    e2e_err = sum(int(r.get("create_errors", 0)) + int(r.get("poll_errors", 0)) for r in e2e_rows)
    cu_eps, cu_all = med(rows, "catchup", "eps")
    cu_s, _ = med(rows, "catchup", "seconds")
    od_rps, od_all = med(rows, "order_details", "rps")
    od_p99, _ = med(rows, "order_details", "p99_ms")
    od_p50, _ = med(rows, "order_details", "p50_ms")
    ts_s, ts_all = med(rows, "topic_scan", "seconds")
    ts_hwm = max([int(r["hwm_kb"]) for r in rows if r["bench"] == "topic_scan"] or [0])
    rss = {r["service"]: r for r in rows if r["bench"] == "rss"}
    rss_kb = lambda svc, key="hwm_kb": int(rss[svc][key]) if svc in rss and key in rss[svc] else None  # noqa: E731
    cu_hwm = max([int(r["hwm_kb"]) for r in rows if r["bench"] == "catchup"] or [0])
    os_hwm = max(cu_hwm, ts_hwm, rss_kb("order-service") or 0)
    # order-service anonymous memory: any record that carries rss_anon_kb (peak sampled)
    anon = [int(r["rss_anon_kb"]) for r in rows if "rss_anon_kb" in r
            and (r["bench"] in ("catchup", "topic_scan") or r.get("service", "").startswith("order-service"))
            and not r.get("service", "").endswith("-pg")]
    # and the per-phase peaks run.sh's mem_watch samples (bench=mem), SQLite runs only
    anon += [int(r["rssanon_peak_kb"]) for r in rows if r["bench"] == "mem"
             and r.get("service") == "order-service"]
    os_anon = max(anon) if anon else None
    cart_1k = rss_kb("cart-service-1000", "rss_max_kb")
    cart_1k_hwm = rss_kb("cart-service-1000")
    stored = [r for r in rows if r["bench"] == "create_order_check"]
    co_req = sum(int(r.get("requests", 0)) for r in rows if r["bench"] == "create_order")
    # PostgreSQL (issue 16): catch-up with 1 and 3 instances, reads
    pg_eps = {}
    for inst in ("1", "3"):
        vals = [float(r["eps"]) for r in rows if r["bench"] == "catchup_pg" and r.get("instances") == inst]
        pg_eps[inst] = (statistics.median(vals) if vals else nan, vals)
    pg_rps, pg_all = med(rows, "order_details_pg", "rps")
    pg_p99, _ = med(rows, "order_details_pg", "p99_ms")
    pg_p50, _ = med(rows, "order_details_pg", "p50_ms")

    cpu = sh("lscpu | sed -n 's/^Model name: *//p'") or platform.processor()
    mem = sh("free -g | awk '/Mem:/ {print $2}'")
    lines = []
    w = lines.append
    w("# Benchmarks")
    w("")
    w(f"Written by `make bench` (bench/run.sh, bench/report.py) on {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC. "
      "It measures and asserts nothing; it is not part of `make test`.")
    w("")
    w("## Machine and versions")
    w("")
    w(f"- CPU: {cpu}, {os.cpu_count()} cores; memory {mem} GiB; kernel {platform.release()}")
    w(f"- Kafka {kafka_v} (single KRaft node) and Apicurio Registry {apicurio_v} on the same machine, "
      "as are the load generators: every figure shares 2 cores with the broker, the registry and wrk.")
    w(f"- gcc {sh('gcc -dumpversion')}, librdkafka {sh('pkg-config --modversion rdkafka')}, "
      f"avro-c {sh('pkg-config --modversion avro-c')}, libevent {sh('pkg-config --modversion libevent')}, "
      f"SQLite {sh('pkg-config --modversion sqlite3')}, {sh('wrk -v 2>&1 | head -1')}, "
      f"{sh('/usr/sbin/nginx -v 2>&1')}")
    w(f"- Release build (RelWithDebInfo, -O2), services at their default settings, LOG_LEVEL=warn.")
    w("")
    w("## Targets of issue 15 (medians of %s runs, all measured in this run)" % runs)
    w("")
    w("| benchmark | result | target | |")
    w("|---|---|---|---|")

    def row(bench, result, target, cond):
        w(f"| {bench} | {result} | {target} | {verdict(cond)} |")

    def fmt_wrk(s):
        if not s:
            return "not run"
        return (f"{s['rps']:,.0f} req/s (runs: {runs_txt(s['runs'])}), p50 {s['p50']:.2f} ms, "
                f"p99 {s['p99']:.2f} ms, {s['errors']} errors of {s['requests']:,}")

    row(f"HTTP ceiling: nginx, constant JSON, {conns} connections",
        f"{ng_rps:,.0f} req/s (runs: {runs_txt(ng_all)}), p99 {ng_p99:.2f} ms", "measured", "info" if ng_all else None)
    row("produce ceiling: bench-loader, acks=all" + (f", {pc_bytes:.0f} B/event" if known(pc_bytes) else ""),
        f"{pc_eps:,.0f} events/s (runs: {runs_txt(pc_all)})", "measured", "info" if pc_all else None)
    row("combined limit 1 / (1/HTTP + 1/produce)", f"{combined:,.0f} creates/s", "measured",
        "info" if known(combined) else None)
    for name, s, s1k in (("create-order", co, co1k), ("update-order", up, up1k)):
        ratio = s["rps"] / combined if s and known(combined) else nan
        row(f"{name} at {conns} connections", fmt_wrk(s), "—", "info" if s else None)
        row(f"{name} / combined limit", f"{ratio:.2f}x", "≥ 0.5x",
            ratio >= 0.5 if known(ratio) else None)
        row(f"{name} p99 and answers at {conns} connections",
            f"p99 {s['p99']:.2f} ms, {s['errors']} failed" if s else "not run",
            "p99 ≤ 10 ms, every answer a 2xx from Kafka's acknowledgement",
            (s["p99"] <= 10 and s["errors"] == 0) if s else None)
        row(f"{name} at 1,000 connections", fmt_wrk(s1k), "no errors, p99 ≤ 50 ms",
            (s1k["p99"] <= 50 and s1k["errors"] == 0) if s1k else None)
    od_ok = (od_rps / ng_rps >= 0.7 and od_p99 <= 2) if known(od_rps, ng_rps) and int(events) >= 1000000 else None
    row(f"order-details over {int(events):,} orders, SQLite",
        "not run" if not od_all else f"{od_rps:,.0f} req/s = {od_rps / ng_rps:.2f}x ceiling, p50 {od_p50:.2f} ms, p99 {od_p99:.2f} ms",
        "≥ 0.7x HTTP ceiling, p99 ≤ 2 ms (over 1M)", od_ok)
    pg_ok = (pg_rps / ng_rps >= 0.7 and pg_p99 <= 2) if known(pg_rps, ng_rps) and int(events) >= 1000000 else None
    row(f"order-details over {int(events):,} orders, PostgreSQL",
        "not run" if not pg_all else f"{pg_rps:,.0f} req/s = {pg_rps / ng_rps:.2f}x ceiling, p50 {pg_p50:.2f} ms, p99 {pg_p99:.2f} ms",
        "≥ 0.7x HTTP ceiling, p99 ≤ 2 ms (may be lower: say why)", pg_ok)
    cu_ratio = cu_eps / pc_eps if known(cu_eps, pc_eps) else nan
    row(f"consumer catch-up of {int(events):,} events into SQLite",
        "not run" if not cu_all else f"{cu_eps:,.0f} events/s = {cu_ratio:.2f}x produce ceiling ({cu_s:.1f} s; runs: {runs_txt(cu_all)})",
        "≥ 0.35x produce ceiling", cu_ratio >= 0.35 if known(cu_ratio) else None)
    row(f"end-to-end, 201 → visible in order-details, {e2e_rate}/s for {e2e_secs} s",
        f"p50 {e2e_p50:.2f} ms, p99 {e2e_p99:.2f} ms, max {e2e_max:.2f} ms (p99 runs: {runs_txt(e2e_all, '{:.2f}')}); "
        f"{e2e_lost} not visible, {e2e_err} errors",
        "p99 ≤ 10 ms", (e2e_p99 <= 10 and e2e_lost == 0 and e2e_err == 0) if e2e_rows and int(e2e_rate) >= 5000 else None)
    row("cart-service memory under the 1,000-connection runs",
        f"VmRSS max {cart_1k / 1024:.1f} MB (VmHWM {cart_1k_hwm / 1024:.1f} MB)" if cart_1k else "not measured",
        "≤ 32 MB", cart_1k_hwm <= 32 * 1024 if cart_1k_hwm else None)
    row(f"order-service memory with {int(events):,} orders, scans included",
        (f"RssAnon {os_anon / 1024:.1f} MB, " if os_anon else "RssAnon not measured, ") + f"VmHWM {os_hwm / 1024:.1f} MB",
        "≤ 150 MB RssAnon", os_anon <= 150 * 1024 if os_anon else None)
    w("")
    w("## create-order against connections")
    w("")
    w("| connections | req/s (median) | p50 ms | p99 ms | max ms | failed answers | runs |")
    w("|---|---|---|---|---|---|---|")
    for c, s in sweep.items():
        w(f"| {c:,} | {s['rps']:,.0f} | {s['p50']:.2f} | {s['p99']:.2f} | {s['max']:.2f} | {s['errors']} of {s['requests']:,} | {runs_txt(s['runs'])} |")
    w("")
    png = os.path.join(os.path.dirname(os.path.abspath(out)), "bench-create-order.png")
    note = plot_sweep({c: s for c, s in sweep.items()}, png)
    w(f"_{note}_" if note else f"![create-order throughput and p99 against connections]({os.path.basename(png)})")
    w("")
    threads = sorted({int(r["threads"]) for r in rows if r["bench"] == "create_order_threads"})
    if threads:
        w("## create-order against cart-service's HTTP threads")
        w("")
        w(f"One run each at {conns} connections, `HTTP_THREADS=N`; the same box runs wrk, the broker "
          "and order-service, so another loop only helps if a core is idle.")
        w("")
        w("| HTTP_THREADS | req/s | p50 ms | p99 ms | failed answers |")
        w("|---|---|---|---|---|")
        for t in threads:
            sub = [r for r in rows if r["bench"] == "create_order_threads" and int(r["threads"]) == t]
            s = wrk_summary(sub, "create_order_threads", conns_i, conns_i)
            w(f"| {t} | {s['rps']:,.0f} | {s['p50']:.2f} | {s['p99']:.2f} | {s['errors']} of {s['requests']:,} |")
        w("")
    order_service_targets(rows, w, events)
    w("## SQLite and PostgreSQL side by side (same run, same preloaded topic)")
    w("")
    w("| benchmark | SQLite (embedded, 1 instance) | PostgreSQL 15 (loopback) | target |")
    w("|---|---|---|---|")
    runs_of = lambda vals: ", ".join(f"{v:,.0f}" for v in vals)  # noqa: E731
    w(f"| catch-up of {int(events):,} events, 1 instance | {cu_eps:,.0f} events/s | {pg_eps['1'][0]:,.0f} events/s (runs: {runs_of(pg_eps['1'][1])}) | PostgreSQL ≥ 50,000/s: {verdict(pg_eps['1'][0] >= 50000 if pg_eps['1'][1] else None)} |")
    w(f"| catch-up of {int(events):,} events, 3 instances in one group | — (one instance per SQLite file) | {pg_eps['3'][0]:,.0f} events/s (runs: {runs_of(pg_eps['3'][1])}) | reported |")
    w(f"| order-details over {int(events):,} orders | {od_rps:,.0f} req/s, p50 {od_p50:.2f} ms, p99 {od_p99:.2f} ms | {pg_rps:,.0f} req/s, p50 {pg_p50:.2f} ms, p99 {pg_p99:.2f} ms | reported |")
    w(f"| peak RSS order-service | {os_hwm / 1024:.1f} MB | {(rss_kb('order-service-pg') or 0) / 1024:.1f} MB | |")
    w("")
    if stored:
        w(f"Acknowledgement check: after the create-order runs order-service held {stored[0]['orders_stored']} orders "
          f"for {co_req:,} 201 answers counted by wrk (wrk does not count requests still in flight when it stops, "
          "so the store may hold slightly more).")
        w("")
    topic_reads_section(rows, w)
    w("## How it was measured")
    w("")
    w(f"1. create-order: `wrk -t2 -cN -d{duration}s --latency -s bench/create_order.lua http://127.0.0.1:17000` "
      f"for N in 16, 64, 256 and 1,000 ({runs} runs at {conns} and 1,000, one elsewhere; `ulimit -n` raised to the hard limit): "
      "a unique orderId per request, itemsCount 3; an answer other than 201 (each is sent from Kafka's delivery "
      "report) or a socket error counts as failed. cart-service's VmRSS is sampled every 0.2 s during the 1,000-connection runs.")
    w(f"2. HTTP ceiling: `wrk -t2 -c{conns}` with `bench/get_path.lua` against nginx (`bench/nginx.conf.in`, worker_processes auto) "
      "answering a constant `{\"status\":\"ok\"}`. Produce ceiling: `bench-loader` writes 1,000,000 CREATE events "
      "of a create's size (idempotent, acks=all, the loader's own batching) into a new 3-partition topic per run; "
      "events/s from first produce to the last acknowledgement. Combined limit: 1 / (1/HTTP + 1/produce), both "
      "sharing the cores as a create does.")
    w(f"3. update-order: `bench-loader` preloads 100,000 orders U<run>-<n> into order-events, order-service applies them, then "
      f"`wrk -t2 -c{conns}` ({runs} runs) and `-c1000` (one) with `bench/update_order.lua` (a random stored order, the next "
      "status of a cycle; 200 from the delivery report). End-to-end: "
      f"`bench-e2e_latency 127.0.0.1 17000 127.0.0.1 17001 {e2e_rate} {e2e_secs} PREFIX`: open loop at a fixed rate; "
      "for each 201, one `/order-details?orderId=..&after=P:O&waitMs=10000` (the 201's partition and offset: "
      "order-service answers once its consumer has committed the event); latency = that 200 − the 201.")
    w(f"4. catch-up: `bench-loader` writes {int(events):,} CREATE events (the project's own codec) into a 3-partition topic; "
      "order-service then starts on an empty store with a new group; time from process start until /health reports every order stored.")
    w(f"5. reads: `wrk -t2 -c{conns} -d{duration}s -s bench/get_path.lua` on `/order-details?orderId=L<random>` over the {int(events):,} stored orders.")
    w("6. topic scan: `curl -w %{time_total} /getAllOrderIdsFromTopic?topic=bench-catchup`; memory from /proc/PID/status.")
    w("7. peak RSS: VmHWM of each service process.")
    w("8. PostgreSQL: `scripts/postgres.sh` (Debian's PostgreSQL 15, `shared_buffers` 512MB, otherwise its default settings, fsync on) on 127.0.0.1:17432; "
      "each catch-up run on a new, empty database (STORE_URL), with 1 instance or 3 instances of one consumer group "
      "(ports 17001-17003); time from the first process start until /health reports every order stored. Reads as 5.")
    w("")
    w("Raw results of this run: `var/bench/results.txt`; service logs under `var/bench/`.")
    notes = os.path.join(os.path.dirname(os.path.abspath(__file__)), "profile-notes.md")
    if os.path.exists(notes):
        w("")
        w(open(notes).read().rstrip())
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
