# bench/syscall/trace-gdb.py: gdb script (gdb -batch -x) for `bench/syscall/run --trace`.
#
# QEMU waits (-S) with its gdbstub on 127.0.0.1:$SYSBENCH_PORT. For each "label=address" in $SYSBENCH_STOPS (the
# addresses of the sysbench_trace_* functions in the native executable, then in the linked vmlinux, in the order
# the guest calls them), in order: a breakpoint
# there that ignores its first hit (the program calls the function twice; the first call faults in what it touches),
# continue, then stepi one instruction at a time, writing "pc<TAB>instruction" to $SYSBENCH_OUT/trace-LABEL.raw,
# until the function returns: pc is the return address it found on the stack and rsp is back above it (a step that
# did not move, which QEMU's gdbstub reports now and then, is repeated, not recorded twice). QEMU's
# single-step masks interrupts and timers (its default sstep flags), so the trace is the system call alone.
# Symbols are added afterwards (trace-summary.py), so no symbol file is loaded here. At the end the guest runs on.
import os
import time

import gdb

LIMIT = 20000  # instructions; a getppid round trip is a few hundred


def connect(port):
    deadline = time.time() + 30
    while True:
        try:
            gdb.execute(f"target remote 127.0.0.1:{port}", to_string=True)
            return
        except gdb.error:
            if time.time() > deadline:
                raise
            time.sleep(0.2)


def register(name):
    return int(gdb.parse_and_eval(f"${name}")) & 0xFFFFFFFFFFFFFFFF


def trace(label, address, out_dir):
    bp = gdb.Breakpoint(f"*{address:#x}", internal=True)
    bp.ignore_count = 1
    gdb.execute("continue", to_string=True)
    pc = register("pc")
    if pc != address:
        raise gdb.GdbError(f"{label}: stopped at {pc:#x}, not at the breakpoint {address:#x}")
    bp.delete()
    rsp = register("rsp")
    inferior = gdb.selected_inferior()
    ret = int.from_bytes(inferior.read_memory(rsp, 8).tobytes(), "little")
    arch = gdb.selected_frame().architecture()
    lines, spurious = [], 0
    while not (pc == ret and register("rsp") > rsp):
        if len(lines) >= LIMIT or spurious >= LIMIT:
            raise gdb.GdbError(f"{label}: no return to {ret:#x} within {LIMIT} instructions")
        insn = arch.disassemble(pc)[0]
        lines.append(f"{pc:#018x}\t{insn['asm']}")
        rcx = register("rcx")
        while True:
            gdb.execute("stepi", to_string=True)
            # QEMU sometimes reports a step without executing anything (pc and rcx unchanged; a rep-prefixed
            # string instruction, which stops once per iteration, changes rcx). Step again, record it once.
            if register("pc") != pc or register("rcx") != rcx:
                break
            spurious += 1
            if spurious >= LIMIT:
                break
        pc = register("pc")
    with open(os.path.join(out_dir, f"trace-{label}.raw"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print(f"trace {label}: {len(lines)} instructions from {address:#x} back to {ret:#x} "
          f"({spurious} steps that executed nothing repeated)")


def main():
    gdb.execute("set pagination off")
    gdb.execute("set confirm off")
    gdb.execute("set architecture i386:x86-64", to_string=True)
    connect(os.environ["SYSBENCH_PORT"])
    out_dir = os.environ["SYSBENCH_OUT"]
    for stop in os.environ["SYSBENCH_STOPS"].split():
        label, address = stop.split("=")
        trace(label, int(address, 16), out_dir)
    try:
        gdb.execute("continue", to_string=True)  # the guest finishes; QEMU exits and the connection closes
    except gdb.error:
        pass


main()
