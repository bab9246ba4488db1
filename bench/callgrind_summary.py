#!/usr/bin/env python3
"""Per-request figures from one callgrind output file (bench/profile.sh).

usage: callgrind_summary.py CALLGRIND_OUT REQUESTS

Prints instructions (Ir) per request, in total and by object file (self
cost), and calls per request of the allocator (malloc, calloc, realloc,
free and friends), summed over every caller. Reads the format written by
valgrind 3.x (name compression, relative positions).
"""
import collections
import re
import sys

ALLOC = {"malloc", "calloc", "realloc", "free", "posix_memalign", "aligned_alloc", "memalign"}


def parse(path):
    names = {"fn": {}, "ob": {}}
    self_ir = collections.Counter()
    self_fn = collections.Counter()
    calls = collections.Counter()
    total = 0
    ob = fn = ""
    cfn = None
    after_calls = False
    pending_calls = 0

    def name(kind, text):
        m = re.match(r"\((\d+)\)(?:\s+(.*))?$", text)
        if not m:
            return text
        if m.group(2) is not None:
            names[kind][m.group(1)] = m.group(2)
        return names[kind].get(m.group(1), text)

    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            if line.startswith("ob="):
                ob = name("ob", line[3:])
            elif line.startswith("fn="):
                fn = name("fn", line[3:])
            elif line.startswith("cfn="):
                cfn = name("fn", line[4:])
            elif line.startswith(("cob=", "cfi=", "cfl=")):
                if line.startswith("cob="):
                    name("ob", line[4:])
            elif line.startswith(("fl=", "fi=", "fe=")):
                pass
            elif line.startswith("calls="):
                pending_calls = int(line[6:].split()[0])
                after_calls = True
            elif line.startswith("totals:") or line.startswith("summary:"):
                total = max(total, int(line.split()[1]))
            elif line[0] in "0123456789+-*":
                parts = line.split()
                cost = int(parts[1]) if len(parts) > 1 and parts[1].lstrip("-").isdigit() else 0
                if after_calls:
                    base = (cfn or "").split("'")[0]
                    if base in ALLOC:
                        calls[base] += pending_calls
                    after_calls = False
                else:
                    self_ir[ob.rsplit("/", 1)[-1]] += cost
                    self_fn[fn] += cost
    return total, self_ir, self_fn, calls


def main():
    path, n = sys.argv[1], float(sys.argv[2])
    total, self_ir, self_fn, calls = parse(path)
    if n <= 0:
        print("[profile] callgrind: no request acknowledged in the window")
        return
    print(f"[profile] callgrind: {total / n:,.0f} instructions/request over {n:.0f} requests")
    for ob, ir in self_ir.most_common(8):
        print(f"  {ob:<32} {ir / n:10,.0f} Ir/req ({100 * ir / max(total, 1):4.1f} %)")
    print("  top functions (self):")
    for fn, ir in self_fn.most_common(25):
        print(f"    {fn[:60]:<60} {ir / n:9,.0f} Ir/req")
    allocs = sum(v for k, v in calls.items() if k != "free")
    print(f"[profile] allocations: {allocs / n:.1f}/request "
          + ", ".join(f"{k} {v / n:.1f}" for k, v in sorted(calls.items())))


if __name__ == "__main__":
    main()
