#!/usr/bin/env python3
"""Turns bench/run.sh's results (key=value lines) into docs/BENCHMARKS.md.

Medians over the runs; ratios against the nginx ceiling measured in the same
session; each figure next to its target from issue 6. Measures, asserts nothing.
"""
import datetime
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
          "(one loopback round trip per request on the HTTP thread, against an in-process B-tree lookup) | reported | |")
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


def main():
    (res, out, runs, duration, conns, events, e2e_rate, e2e_secs, kafka_v, apicurio_v) = sys.argv[1:11]
    rows = parse(res)
    ok = lambda cond: "met" if cond else "**not met**"  # noqa: E731

    co_rps, co_all = med(rows, "create_order", "rps")
    co_p99, _ = med(rows, "create_order", "p99_ms")
    co_p50, _ = med(rows, "create_order", "p50_ms")
    co_err = sum(int(r.get("errors_status", 0)) + int(r.get("errors_connect", 0)) + int(r.get("errors_read", 0))
                 + int(r.get("errors_timeout", 0)) for r in rows if r["bench"] == "create_order")
    co_req = sum(int(r.get("requests", 0)) for r in rows if r["bench"] == "create_order")
    ng_rps, ng_all = med(rows, "nginx", "rps")
    ng_p99, _ = med(rows, "nginx", "p99_ms")
    e2e_p50, _ = med(rows, "e2e", "p50_ms")
    e2e_p99, e2e_all = med(rows, "e2e", "p99_ms")
    e2e_max, _ = med(rows, "e2e", "max_ms")
    cu_eps, cu_all = med(rows, "catchup", "eps")
    cu_s, _ = med(rows, "catchup", "seconds")
    od_rps, od_all = med(rows, "order_details", "rps")
    od_p99, _ = med(rows, "order_details", "p99_ms")
    od_p50, _ = med(rows, "order_details", "p50_ms")
    ts_s, ts_all = med(rows, "topic_scan", "seconds")
    ts_hwm = max([int(r["hwm_kb"]) for r in rows if r["bench"] == "topic_scan"] or [0])
    rss = {r["service"]: int(r["hwm_kb"]) for r in rows if r["bench"] == "rss"}
    cu_hwm = max([int(r["hwm_kb"]) for r in rows if r["bench"] == "catchup"] or [0])
    stored = [r for r in rows if r["bench"] == "create_order_check"]
    # PostgreSQL (issue 16): catch-up with 1 and 3 instances, reads
    pg_eps = {}
    for inst in ("1", "3"):
        vals = [float(r["eps"]) for r in rows if r["bench"] == "catchup_pg" and r.get("instances") == inst]
        pg_eps[inst] = (statistics.median(vals) if vals else float("nan"), vals)
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
    w("## Results (median of %s runs)" % runs)
    w("")
    w("| benchmark | result | target | |")
    w("|---|---|---|---|")
    w(f"| create-order throughput | {co_rps:,.0f} req/s (runs: {', '.join(f'{v:,.0f}' for v in co_all)}) | ≥ 15,000 req/s | {ok(co_rps >= 15000)} |")
    w(f"| create-order latency | p50 {co_p50:.2f} ms, p99 {co_p99:.2f} ms | p99 ≤ 50 ms | {ok(co_p99 <= 50)} |")
    w(f"| create-order errors | {co_err} of {co_req:,} requests | 0 | {ok(co_err == 0)} |")
    w(f"| nginx ceiling (constant JSON) | {ng_rps:,.0f} req/s, p99 {ng_p99:.2f} ms | — | |")
    w(f"| create-order / ceiling | {co_rps / ng_rps:.2f}x | ≥ 0.3x | {ok(co_rps / ng_rps >= 0.3)} |")
    w(f"| end-to-end latency at {e2e_rate}/s for {e2e_secs} s | p50 {e2e_p50:.2f} ms, p99 {e2e_p99:.2f} ms, max {e2e_max:.2f} ms (p99 runs: {', '.join(f'{v:.2f}' for v in e2e_all)}) | p99 ≤ 25 ms | {ok(e2e_p99 <= 25)} |")
    w(f"| consumer catch-up ({int(events):,} events, empty store) | {cu_eps:,.0f} events/s ({cu_s:.1f} s; runs: {', '.join(f'{v:,.0f}' for v in cu_all)}) | ≥ 100,000 events/s | {ok(cu_eps >= 100000)} |")
    w(f"| order-details reads ({int(events):,} orders stored) | {od_rps:,.0f} req/s, p50 {od_p50:.2f} ms, p99 {od_p99:.2f} ms | ≥ 0.6x ceiling, p99 ≤ 5 ms | {ok(od_rps / ng_rps >= 0.6 and od_p99 <= 5)} |")
    w(f"| order-details / ceiling | {od_rps / ng_rps:.2f}x | ≥ 0.6x | {ok(od_rps / ng_rps >= 0.6)} |")
    w(f"| getAllOrderIdsFromTopic ({int(events):,} events) | {ts_s:.2f} s (runs: {', '.join(f'{v:.2f}' for v in ts_all)}) | ≤ 3 s | {ok(ts_s <= 3)} |")
    w(f"| peak RSS cart-service (benchmarks 1-3) | {rss.get('cart-service', 0) / 1024:.1f} MB | ≤ 64 MB | {ok(rss.get('cart-service', 0) <= 64 * 1024)} |")
    w(f"| peak RSS order-service ({int(events):,} orders, scans included) | {max(cu_hwm, ts_hwm, rss.get('order-service', 0)) / 1024:.1f} MB | ≤ 200 MB | {ok(max(cu_hwm, ts_hwm, rss.get('order-service', 0)) <= 200 * 1024)} |")
    w("")
    order_service_targets(rows, w, events)
    w("## SQLite and PostgreSQL side by side (same run, same preloaded topic)")
    w("")
    w("| benchmark | SQLite (embedded, 1 instance) | PostgreSQL 15 (loopback) | target |")
    w("|---|---|---|---|")
    runs_of = lambda vals: ", ".join(f"{v:,.0f}" for v in vals)  # noqa: E731
    w(f"| catch-up of {int(events):,} events, 1 instance | {cu_eps:,.0f} events/s | {pg_eps['1'][0]:,.0f} events/s (runs: {runs_of(pg_eps['1'][1])}) | PostgreSQL ≥ 50,000/s: {ok(pg_eps['1'][0] >= 50000)} |")
    w(f"| catch-up of {int(events):,} events, 3 instances in one group | — (one instance per SQLite file) | {pg_eps['3'][0]:,.0f} events/s (runs: {runs_of(pg_eps['3'][1])}) | reported |")
    w(f"| order-details over {int(events):,} orders | {od_rps:,.0f} req/s, p50 {od_p50:.2f} ms, p99 {od_p99:.2f} ms | {pg_rps:,.0f} req/s, p50 {pg_p50:.2f} ms, p99 {pg_p99:.2f} ms | reported |")
    w(f"| peak RSS order-service | {max(cu_hwm, ts_hwm, rss.get('order-service', 0)) / 1024:.1f} MB | {rss.get('order-service-pg', 0) / 1024:.1f} MB | |")
    w("")
    if stored:
        w(f"Acknowledgement check: after the create-order runs order-service held {stored[0]['orders_stored']} orders "
          f"for {co_req:,} 201 answers counted by wrk (wrk does not count requests still in flight when it stops, "
          "so the store may hold slightly more).")
        w("")
    w("## How it was measured")
    w("")
    w(f"1. create-order: `wrk -t2 -c{conns} -d{duration}s --latency -s bench/create_order.lua http://127.0.0.1:17000` "
      "(a unique orderId per request, itemsCount 3; every answer must be 201, sent from Kafka's delivery report).")
    w(f"2. ceiling: the same wrk settings with `bench/get_path.lua` against nginx (`bench/nginx.conf.in`, worker_processes auto) "
      "answering a constant `{\"status\":\"ok\"}`.")
    w(f"3. end-to-end: `bench-e2e_latency 127.0.0.1 17000 127.0.0.1 17001 {e2e_rate} {e2e_secs} PREFIX`: open loop at a fixed rate; "
      "for each 201, polls `/order-details` every 1 ms until 200; latency = visible − 201.")
    w(f"4. catch-up: `bench-loader` writes {int(events):,} CREATE events (the project's own codec) into a 3-partition topic; "
      "order-service then starts on an empty store with a new group; time from process start until /health reports every order stored.")
    w(f"5. reads: `wrk -t2 -c{conns} -d{duration}s -s bench/get_path.lua` on `/order-details?orderId=L<random>` over the {int(events):,} stored orders.")
    w("6. topic scan: `curl -w %{time_total} /getAllOrderIdsFromTopic?topic=bench-catchup`; memory from /proc/PID/status.")
    w("7. peak RSS: VmHWM of each service process.")
    w("8. PostgreSQL: `scripts/postgres.sh` (Debian's PostgreSQL 15, default settings, fsync on) on 127.0.0.1:17432; "
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
