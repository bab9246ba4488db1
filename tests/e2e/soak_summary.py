"""Summarises a `make soak` run: the figures each fault test appended to
results.jsonl and, per test and service, the resident memory curve sampled
into rss.csv (start, peak, end, samples). Usage: soak_summary.py DIR"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path


def main(d: Path) -> int:
    results = d / "results.jsonl"
    if results.exists():
        print("== figures per test")
        for line in results.read_text().splitlines():
            print("  " + line)
    rss = d / "rss.csv"
    if not rss.exists():
        print("no rss.csv")
        return 1
    curves: dict[tuple[str, str], list[tuple[float, int, int]]] = {}
    with open(rss) as f:
        for row in csv.DictReader(f):
            key = (row["test"], row["service"])
            curves.setdefault(key, []).append(
                (float(row["time_s"]), int(row["pid"]), int(row["vmrss_kb"])))
    print("== VmRSS per test and service (MiB): start / peak / end over samples, seconds")
    for (test, svc), pts in curves.items():
        pts.sort()
        mib = [kb / 1024 for _, _, kb in pts]
        pids = len({pid for _, pid, _ in pts})
        print(f"  {test:55s} {svc:5s} {mib[0]:7.1f} / {max(mib):7.1f} / {mib[-1]:7.1f}"
              f"  {len(pts):4d} samples  {pts[-1][0] - pts[0][0]:5.0f} s  {pids} process(es)")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "var/soak")))
