#!/usr/bin/env python3
"""bench/echo/table.py RESULTS.tsv SMP CONNECTIONS SECONDS ICOUNT LINKARGS: the side-by-side table of bench/echo/run
(one row per client placement and message size)."""
import statistics
import sys

path, smp, connections, seconds, icount, link_args = sys.argv[1:7]
icount = icount == "1"
rows = {}
with open(path) as f:
    next(f)
    for line in f:
        client, _, mode, size, rate, _mib = line.rstrip("\n").split("\t")
        rows.setdefault((client, int(size)), {}).setdefault(mode, []).append(float(rate))


def cell(values):
    if not values:
        return "missing"
    return "%.0f (%.0f-%.0f)" % (statistics.median(values), min(values), max(values))


runs = max((len(v) for d in rows.values() for v in d.values()), default=0)
if icount:
    print("Guest instructions per round trip (client, server and kernel; QEMU `-icount shift=0,sleep=off`: 10^9 / round "
          "trips per virtual second), median (range) of %d runs of %s virtual s each; %s connections with one message "
          "in flight each; client in the guest%s." % (runs, seconds, connections,
                                                      "; ukl-link link " + link_args if link_args else ""))
    rows = {k: {m: [1e9 / v for v in vs] for m, vs in d.items()} for k, d in rows.items()}
else:
    print("Round trips per second, median (range) of %d runs of %s s each; %s connections with one message in flight "
          "each; guest CPUs: %s%s." % (runs, seconds, connections, smp,
                                       "; ukl-link link " + link_args if link_args else ""))
print()
print("| client | message | native process | UKL app | UKL / native (medians) |")
print("|---|---|---|---|---|")
for client, size in sorted(rows, key=lambda k: (k[0] != "host", k[1])):
    d = rows[(client, size)]
    n, u = d.get("native", []), d.get("ukl", [])
    ratio = "%.2f" % (statistics.median(u) / statistics.median(n)) if n and u else "-"
    label = "%d B" % size if size < 1024 else "%d KiB" % (size // 1024)
    where = "host, through QEMU's NIC" if client == "host" else "in the guest, loopback"
    print("| %s | %s | %s | %s | %s |" % (where, label, cell(n), cell(u), ratio))
