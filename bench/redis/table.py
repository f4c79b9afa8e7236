#!/usr/bin/env python3
"""bench/redis/table.py RESULTS.tsv SMP REQUESTS ICOUNT LINKARGS [APPEND]: the side-by-side table of bench/redis/run (Markdown;
one row per client placement, test and pipeline depth)."""
import statistics
import sys

path, smp, requests, icount, link_args = sys.argv[1:6]
icount = icount == "1"
rows = {}
with open(path) as f:
    next(f)
    for line in f:
        client, _, mode, test, pipeline, rps = line.rstrip("\n").split("\t")
        rows.setdefault((client, test, int(pipeline)), {}).setdefault(mode, []).append(float(rps))


def cell(values):
    if not values:
        return "missing"
    return "%.0f (%.0f-%.0f)" % (statistics.median(values), min(values), max(values))


runs = max((len(v) for d in rows.values() for v in d.values()), default=0)
extra = "; ukl-link link " + link_args if link_args else ""
if len(sys.argv) > 6 and sys.argv[6]:
    extra += "; kernel command line + " + sys.argv[6]
if icount:
    print("Guest instructions per request (client, server and kernel; QEMU `-icount shift=0,sleep=off`: 10^9 / "
          "requests per virtual second), median (range) of %d runs each; %s requests per test, 50 connections, client "
          "in the guest%s." % (runs, requests, extra))
    rows = {k: {m: [1e9 / v for v in vs] for m, vs in d.items()} for k, d in rows.items()}
else:
    print("Requests per second, median (range) of %d runs each; %s requests per test, 50 connections, guest CPUs: %s%s."
          % (runs, requests, smp, extra))
print()
print("| client | test | native process | UKL app | UKL / native (medians) |")
print("|---|---|---|---|---|")
for (client, test, pipeline) in sorted(rows, key=lambda k: (k[0] != "host", k[2], k[1] != "SET")):
    d = rows[(client, test, pipeline)]
    n, u = d.get("native", []), d.get("ukl", [])
    ratio = "%.2f" % (statistics.median(u) / statistics.median(n)) if n and u else "-"
    label = test + (" (pipelined %d)" % pipeline if pipeline > 1 else "")
    where = "host, through QEMU's NIC" if client == "host" else "in the guest, loopback"
    print("| %s | %s | %s | %s | %s |" % (where, label, cell(n), cell(u), ratio))
