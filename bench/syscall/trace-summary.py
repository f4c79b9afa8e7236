#!/usr/bin/env python3
"""bench/syscall/trace-summary.py: symbolises the single-stepped system calls of `bench/syscall/run --trace`.

Usage: trace-summary.py --native EXE --linked VMLINUX --map MAP --out DIR

Reads DIR/trace-MODE-CALL.raw for MODE native and ukl, CALL getppid and read64 ("pc<TAB>instruction" per executed
instruction, from trace-gdb.py), names every pc after the nearest preceding text symbol of the native executable or
the linked vmlinux (ukl-link's trampolines, which have no symbol, from the link map), names the addresses in each
instruction (gdb's disassembly) the same way, and writes:
  DIR/trace-MODE-CALL.txt   the listing: step, pc, function+offset, phase, instruction
  DIR/trace-summary.md      per call: instructions per phase and per function, both modes side by side, and the
                            path as runs of consecutive instructions per function
and prints trace-summary.md. Phases: the application (the traced function), ukl-link's trampoline, the entry and
exit assembly (.entry.text), the dispatch (do_syscall_64 and x64_sys_call), the system call (from the first
instruction of __x64_sys_* to its return, callees included) and the entry/exit work (every other kernel function:
syscall_enter_from_user_mode, syscall_exit_to_user_mode, ...). Exit 1 if a trace is missing or empty.
"""
import argparse
import bisect
import os
import re
import subprocess
import sys

MODES = ("native", "ukl")
CALLS = ("getppid", "read64")  # the sysbench_trace_* functions of syscall.c
# (key for the listing, description for the summary), in path order.
PHASES = (("app", "application (the traced function)"),
          ("trampoline", "ukl-link trampoline"),
          ("entry-asm", "entry and exit assembly (.entry.text)"),
          ("dispatch", "dispatch (do_syscall_64, x64_sys_call)"),
          ("entry-work", "entry/exit work in C (syscall_enter_from_user_mode, syscall_exit_to_user_mode, ...)"),
          ("syscall", "the system call (__x64_sys_* and its callees)"))
DISPATCH = {"do_syscall_64", "x64_sys_call"}
HANDLER = re.compile(r"^__(x64|do|se)_sys_")
TRAMPOLINE = re.compile(r"^([0-9a-f]+)\s+([0-9a-f]+)\s+trampoline for (.*) at 0x([0-9a-f]+)(?:, .*)?\s*$")


def fail(message):
    print(f"bench/syscall/trace-summary.py: {message}", file=sys.stderr)
    sys.exit(1)


class Symbols:
    """Text symbols of one ELF file, sorted, plus the ranges ukl-link's map names trampolines."""

    def __init__(self, path):
        self.path = path
        self.names, self.addrs, self.values = [], [], {}
        self.all_names, self.all_addrs = [], []  # every symbol, data included: operands are named after these
        nm = subprocess.run(["nm", "-n", "--defined-only", path], capture_output=True, text=True, check=True).stdout
        for line in nm.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] in "tTwW":
                self.addrs.append(int(parts[0], 16))
                self.names.append(parts[2])
            if len(parts) == 3:
                self.values[parts[2]] = int(parts[0], 16)
                self.all_addrs.append(int(parts[0], 16))
                self.all_names.append(parts[2])
        self.trampolines = []  # (start, end, name)

    def operand(self, value):
        """'symbol+off' for an address an instruction names (data or code), or None far from any symbol."""
        for start, end, name in self.trampolines:
            if start <= value < end:
                return f"{name}+{value - start:#x}"
        i = bisect.bisect_right(self.all_addrs, value) - 1
        if i < 0 or value - self.all_addrs[i] >= 0x10000:
            return None
        return f"{self.all_names[i]}+{value - self.all_addrs[i]:#x}"

    def lookup(self, pc):
        """(name, start, end) of the function holding pc; end is the next symbol's address."""
        for start, end, name in self.trampolines:
            if start <= pc < end:
                return name, start, end
        i = bisect.bisect_right(self.addrs, pc) - 1
        if i < 0:
            return "?", pc, pc + 1
        j = i + 1
        while j < len(self.addrs) and self.addrs[j] == self.addrs[i]:
            j += 1
        end = self.addrs[j] if j < len(self.addrs) else pc + 16
        return self.names[i], self.addrs[i], end


def read_map(path, symbols):
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = TRAMPOLINE.match(line.strip())
            if m:
                start, size, site = int(m.group(1), 16), int(m.group(2), 16), int(m.group(4), 16)
                symbols.trampolines.append((start, start + size, f"trampoline[{symbols.lookup(site)[0]}]"))


def annotate(insn, native, kernel):
    """The instruction with every 64-bit address (branch targets, absolute operands) named: 0x...<function+off>."""
    def name(m):
        value = int(m.group(0), 16)
        named = (native if value < 1 << 47 else kernel).operand(value)
        return f"{m.group(0)} <{named}>" if named else m.group(0)
    return re.sub(r"0x[0-9a-f]{8,16}\b", name, insn)


def mnemonic(insn):
    words = insn.split()
    while words and words[0] in ("rep", "repz", "repnz", "lock", "notrack", "bnd", "cs", "ds"):
        words = words[1:]
    return words[0] if words else ""


def analyse(label, raw, native, kernel):
    steps = []
    with open(raw, encoding="utf-8") as f:
        for line in f:
            pc, _, insn = line.rstrip("\n").partition("\t")
            steps.append((int(pc, 16), insn))
    if not steps:
        fail(f"{raw}: empty trace")
    entry_text = (kernel.values["__entry_text_start"], kernel.values["__entry_text_end"])
    app_text = (kernel.values["__ukl_text_slot_start"], kernel.values["__ukl_text_slot_end"])
    rows = []
    depth, handler_depth = 0, None
    for pc, gdb_insn in steps:
        symbols = native if pc < 1 << 47 else kernel
        name, start, _ = symbols.lookup(pc)
        insn = annotate(gdb_insn, native, kernel)
        if name.startswith("trampoline["):
            phase = "trampoline"
        elif symbols is native or app_text[0] <= pc < app_text[1]:
            phase = "app"
        elif handler_depth is None and HANDLER.match(name):
            handler_depth = depth
            phase = "syscall"
        elif handler_depth is not None:
            phase = "syscall"
        elif entry_text[0] <= pc < entry_text[1]:
            phase = "entry-asm"
        elif name in DISPATCH:
            phase = "dispatch"
        else:
            phase = "entry-work"
        rows.append((pc, name, pc - start, phase, insn))
        op = mnemonic(insn)
        if op.startswith("call"):
            depth += 1
        elif op in ("ret", "retq"):
            depth -= 1
            if handler_depth is not None and depth < handler_depth:
                handler_depth = None
    mode, call = label.split("-", 1)
    with open(os.path.join(os.path.dirname(raw), f"trace-{label}.txt"), "w", encoding="utf-8") as f:
        f.write(f"# {call} round trip, {mode}: {len(rows)} instructions (bench/syscall/run --trace)\n")
        f.write("# step  pc                  function+offset                          phase      | instruction\n")
        for i, (pc, name, off, phase, insn) in enumerate(rows, 1):
            f.write(f"{i:5d}  {pc:#018x}  {name + '+' + hex(off):40s} {phase:10s} | {insn}\n")
    return rows


def summary(call, traces):
    """Markdown for one traced call: phases, functions and the path, native beside UKL."""
    lines = [f"**{call}**, one instruction at a time (gdb single-step, from the entry of sysbench_trace_{call} to its "
             f"return): native {len(traces['native'])} instructions, UKL {len(traces['ukl'])} "
             f"(listings trace-native-{call}.txt, trace-ukl-{call}.txt).", "",
             "| phase | native | UKL |", "|---|---|---|"]
    for key, description in PHASES:
        counts = [sum(1 for r in traces[m] if r[3] == key) for m in MODES]
        lines.append(f"| {description} | {counts[0]} | {counts[1]} |")
    lines.append(f"| **total** | **{len(traces['native'])}** | **{len(traces['ukl'])}** |")
    lines += ["", "| function (instructions executed in its own body) | native | UKL |", "|---|---|---|"]
    names = []
    for mode in MODES:
        for r in traces[mode]:
            if r[1] not in names:
                names.append(r[1])
    for name in names:
        counts = [sum(1 for r in traces[m] if r[1] == name) for m in MODES]
        lines.append(f"| {name} | {counts[0] or ''} | {counts[1] or ''} |")
    for mode in MODES:
        runs = []
        for r in traces[mode]:
            if runs and runs[-1][0] == r[1]:
                runs[-1][1] += 1
            else:
                runs.append([r[1], 1])
        lines += ["", f"Path, {mode}: " + " → ".join(f"{n} {c}" for n, c in runs)]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--native", required=True)
    ap.add_argument("--linked", required=True)
    ap.add_argument("--map", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    native, kernel = Symbols(args.native), Symbols(args.linked)
    read_map(args.map, kernel)
    parts = []
    for call in CALLS:
        traces = {}
        for mode in MODES:
            raw = os.path.join(args.out, f"trace-{mode}-{call}.raw")
            if not os.path.exists(raw):
                fail(f"{raw}: no trace (see {args.out}/gdb.log)")
            traces[mode] = analyse(f"{mode}-{call}", raw, native, kernel)
        parts.append(summary(call, traces))
    text = "\n".join(parts)
    with open(os.path.join(args.out, "trace-summary.md"), "w", encoding="utf-8") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
