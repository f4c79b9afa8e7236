#!/usr/bin/env python3
"""bench/syscall/table.py: turns the SYSBENCH lines of one boot's console into a Markdown table and a TSV.

Usage: table.py icount|wall CONSOLE RESULTS.tsv        (the table goes to stdout)

Each line `SYSBENCH <mode> <call> <n> <tsc-ticks> <clock-ns>` is one repetition of n calls (bench/syscall/syscall.c).
The cost of one call in one repetition is (value - the empty loop's value) / n, where value is tsc-ticks for icount
(one tick per guest instruction under -icount shift=0) and clock-ns for wall, and the empty loop's value is its
minimum over all its repetitions in that mode: the loop is fixed work, and what varies only adds to it (a timer
interrupt; under plain TCG also the translation of the loop's code in the first repetition and host load, which
made the median of a short run larger than a whole getppid).
icount reports the minimum over the repetitions (a timer interrupt inside a repetition only adds) and the maximum;
wall reports the median and the range over every repetition of every round.

The TSV has one row per call: kind call native native_lo native_hi ukl ukl_lo ukl_hi ratio, plus a row
"empty-per-iteration" with the empty loop's ticks or ns per iteration in each mode. Exit 1 when a mode, a call or
a number is missing or not positive, or a program reported an error.
"""
import re
import statistics
import sys

LINE = re.compile(r"^SYSBENCH (native|ukl) (\S+) (\d+) (\d+) (\d+)\s*$")
RUN = re.compile(r"^SYSBENCH-RUN (native|ukl) (\d) (\d+) (\d+)\s*$")
MODES = ("native", "ukl")
# Issue 15's numbers from an earlier session (instructions per call under -icount, native / UKL) and the UKL
# prototype's bare-metal figures (ns per call: Linux / UKL / UKL_BYP), shown beside ours.
REFERENCE = {
    "getppid": ("237 / 225", "342.6 / 325.3 / 56.6"),
    "write64": ("319 / 366", "660.2 / 647.5 / 391.0"),
    "read64": ("369 / 477", "614.5 / 599.8 / 311.7"),
}
DESCRIPTION = {
    "getppid": "getppid",
    "read64": "read 64 B from /dev/zero (.bss buffer)",
    "read4k": "read 4 KiB from /dev/zero (.bss buffer)",
    "write64": "write 64 B to /dev/null (.bss buffer)",
    "write4k": "write 4 KiB to /dev/null (.bss buffer)",
    "read64-stack": "read 64 B from /dev/zero (stack buffer)",
    "write64-stack": "write 64 B to /dev/null (stack buffer)",
    "pipe64": "pipe: write 64 B + read 64 B (a pair)",
    "pipe4k": "pipe: write 4 KiB + read 4 KiB (a pair)",
    "clock_gettime": "clock_gettime(CLOCK_MONOTONIC), raw syscall",
    "epoll_wait": "epoll_wait, 1 ready fd, timeout 0",
}


def fail(message):
    print(f"bench/syscall/table.py: {message}", file=sys.stderr)
    sys.exit(1)


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("icount", "wall"):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        sys.exit(2)
    kind, console, tsv = sys.argv[1:]
    column = 3 if kind == "icount" else 4
    samples = {}  # (mode, call) -> [(n, value)]
    order = []
    with open(console, encoding="utf-8", errors="replace") as f:
        for raw in f:
            line = raw.replace("\r", "").rstrip("\n")
            if line.startswith("SYSBENCH-ERROR"):
                fail(f"{console}: {line}")
            m = RUN.match(line)
            if m and (m.group(1) == "ukl") != (m.group(2) == "0"):
                fail(f"{console}: {line}: the mode does not match the privilege level")
            m = LINE.match(line)
            if not m:
                continue
            mode, call = m.group(1), m.group(2)
            fields = m.groups()
            samples.setdefault((mode, call), []).append((int(fields[2]), int(fields[column])))
            if call not in order:
                order.append(call)
    if "empty" not in order:
        fail(f"{console}: no SYSBENCH lines for the empty loop")

    def per_call(mode, call):
        rows = samples.get((mode, call))
        if not rows:
            fail(f"{console}: no {mode} results for {call}")
        empty = [v / n for n, v in samples[(mode, "empty")]]
        base = min(empty)
        costs = [v / n - base for n, v in rows]
        if call == "empty":
            costs = empty
        if any(c <= 0 for c in costs):
            fail(f"{console}: {mode} {call}: a cost is not positive: {costs}")
        mid = min(costs) if kind == "icount" else statistics.median(costs)
        return mid, min(costs), max(costs)

    results = {(mode, call): per_call(mode, call) for call in order for mode in MODES}
    with open(tsv, "w", encoding="utf-8") as out:
        out.write("kind\tcall\tnative\tnative_lo\tnative_hi\tukl\tukl_lo\tukl_hi\tratio\n")
        for call in order:
            nat, ukl = results[("native", call)], results[("ukl", call)]
            name = "empty-per-iteration" if call == "empty" else call
            out.write(f"{kind}\t{name}\t" + "\t".join(f"{v:.2f}" for v in nat + ukl) + f"\t{ukl[0] / nat[0]:.3f}\n")

    counts = [len(samples[(mode, c)]) for c in order for mode in MODES]
    reps = str(min(counts)) if min(counts) == max(counts) else f"{min(counts)}-{max(counts)}"
    n = samples[("native", order[-1])][0][0]
    if kind == "icount":
        print(f"Instructions per call (QEMU `-icount shift=0`: TSC ticks = guest instructions; minimum over "
              f"{reps} repetitions of {n} calls, the largest in brackets; the empty loop subtracted):\n")
        print("| call | native | UKL | UKL / native | issue 15 (native / UKL) "
              "| prototype, bare metal ns (Linux / UKL / UKL_BYP) |")
        print("|---|---|---|---|---|---|")
    else:
        print(f"Wall time per call under plain TCG (ns; median over {reps} repetitions of {n} calls in all "
              f"rounds, range in brackets; the empty loop subtracted; the ratio of the medians and of the minima, "
              f"which a loaded host disturbs least):\n")
        print("| call | native ns | UKL ns | UKL / native (medians) | UKL / native (minima) |")
        print("|---|---|---|---|---|")
    for call in order:
        if call == "empty":
            continue
        nat, ukl = results[("native", call)], results[("ukl", call)]

        def cell(v):
            if kind == "icount":
                return f"{v[0]:.0f}" + ("" if round(v[2]) == round(v[0]) else f" ({v[2]:.0f})")
            return f"{v[0]:.0f} ({v[1]:.0f}-{v[2]:.0f})"

        row = [DESCRIPTION.get(call, call), cell(nat), cell(ukl), f"{ukl[0] / nat[0]:.2f}"]
        if kind == "icount":
            row += list(REFERENCE.get(call, ("", "")))
        else:
            row.append(f"{ukl[1] / nat[1]:.2f}")
        print("| " + " | ".join(row) + " |")
    nat, ukl = results[("native", "empty")], results[("ukl", "empty")]
    unit = "ticks" if kind == "icount" else "ns"
    print(f"\nEmpty loop (subtracted): {nat[0]:.3f} {unit} per iteration native, {ukl[0]:.3f} UKL"
          + (" (the loop is 3 instructions: add, cmp, jne)." if kind == "icount" else "."))
    print()


if __name__ == "__main__":
    main()
