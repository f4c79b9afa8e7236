#!/usr/bin/env python3
"""bench/redis/table.py RESULTS.tsv SMP REQUESTS LINKARGS: the side-by-side table of bench/redis/run (Markdown)."""
import statistics
import sys

path, smp, requests, link_args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
rows = {}
with open(path) as f:
    next(f)
    for line in f:
        _, mode, test, pipeline, rps = line.rstrip("\n").split("\t")
        rows.setdefault((test, int(pipeline)), {}).setdefault(mode, []).append(float(rps))


def cell(values):
    if not values:
        return "missing"
    return "%.0f (%.0f-%.0f)" % (statistics.median(values), min(values), max(values))


print("Requests per second, median (range) of %d runs each; %s requests per test, 50 connections, guest CPUs: %s%s."
      % (max((len(v) for d in rows.values() for v in d.values()), default=0), requests, smp,
         "; ukl-link link " + link_args if link_args else ""))
print()
print("| test | native process | UKL app | UKL / native (medians) |")
print("|---|---|---|---|")
for (test, pipeline) in sorted(rows, key=lambda k: (k[1], k[0] != "SET")):
    d = rows[(test, pipeline)]
    n, u = d.get("native", []), d.get("ukl", [])
    ratio = "%.2f" % (statistics.median(u) / statistics.median(n)) if n and u else "-"
    label = test + (" (pipelined %d)" % pipeline if pipeline > 1 else "")
    print("| %s | %s | %s | %s |" % (label, cell(n), cell(u), ratio))
