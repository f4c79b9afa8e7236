/*
 * stress: checks of the UKL runtime, one line each ("stress: NAME ok ..." or "stress: NAME FAIL ..."), then
 * "stress: done failures N"; the exit status is N. Run as /UKL [CPU_SECONDS] (default 4).
 *
 *   fork-wait      a forked child's exit status (42) and a SIGKILLed child's signal reach the parent through wait4
 *   sigterm        a SIGTERM handler (SA_SIGINFO) runs for a signal the app sends itself and one a child sends it
 *                  (si_pid is the child's pid); the app continues afterwards
 *   nanosleep      a 250 ms nanosleep takes 250 ms .. 2 s of CLOCK_MONOTONIC time
 *   efault-user    bad user pointers give EFAULT: write from (void *)8 (copy_from_user), clock_gettime to (void *)8
 *                  (copy_to_user), wait4 status to (void *)8 (put_user); the process is not killed
 *   efault-kernel  a kernel address outside the application's slots (0xffffffff81000000, the kernel's _text) gives
 *                  EFAULT for write (read side) and clock_gettime (write side)
 *   efault-image   access_ok is exact at the edges of the application's image: write(2) to /dev/null (which checks
 *                  the buffer but never copies it) accepts the first and last byte of each range the kernel's
 *                  descriptor records (text, rodata; .data and .bss in whole pages) and refuses the byte before and
 *                  after each, a buffer straddling each end, and kernel data next to the slots (init_task right
 *                  after the data slot, the kernel's own .bss); the ranges are read from ukl_descriptor itself
 *   regs           100000 getppid calls (at least 2 s of them) from assembly that loads every general register with a
 *                  pattern, sets CF, SF, DF and keeps AC as it is, and writes 16 canary words below %rsp: after
 *                  each call rbx, rbp, rdi, rsi, rdx, r8-r10, r12-r15, rsp, those flags and the canaries are as they
 *                  were and rax is the parent's pid, while SIGALRM arrives every millisecond (its handler runs
 *                  on the way back from some of the calls, and rt_sigreturn restores DF=1 and the rest)
 *   regs-clock     the same with clock_gettime, whose UKL entry has a path of its own (patch 0020, no pt_regs): for
 *                  CLOCK_MONOTONIC into a stack buffer (that path returns 0, and the times never go backwards) and
 *                  for clock id 100 (that path gives up and the full system call returns EINVAL), 100000
 *                  calls (at least 1 s) each
 *   clock          clock_gettime's answers: CLOCK_MONOTONIC into .bss (an image address) works, 20000 successive
 *                  reads never go backwards, CLOCK_REALTIME agrees with gettimeofday to the second, CLOCK_BOOTTIME
 *                  is not behind CLOCK_MONOTONIC, the coarse clocks and CLOCK_MONOTONIC_RAW answer,
 *                  CLOCK_PROCESS_CPUTIME_ID (not on the fast path) answers a positive time and clock id 100 EINVAL
 *   tls            a __thread int with an initializer (1234) and a __thread long in .tbss (0) read and written through
 *                  %fs (local-exec), %fs:0 is the thread pointer, and a fork child's TLS is its own copy
 *   fork-data      a fork child's write to a .data int stays in the child (per-process .data, copy-on-write);
 *                  the parent keeps its value and the child sees its own write
 *   cpu            a loop without system calls for CPU_SECONDS (TSC, calibrated against CLOCK_MONOTONIC); "gaps"
 *                  counts the times the loop saw more than 1 ms pass between two iterations (of ~2 us), i.e. was
 *                  preempted and something else ran (the shell the test runs meanwhile); max_gap_us is the longest
 *
 * Memory the kernel writes with put_user (wait4 status, siginfo is on the signal stack anyway) lives on the stack,
 * not in .data/.bss (docs/kernel.md). "image-put_user" reports, without judging, what wait4 does with a status
 * word in .bss (EFAULT with the runtime of patches 0005/0006).
 */
#include "../common/sample.h"

#define SIGKILL 9
#define SIGTERM 15
#define SA_SIGINFO 4
#define SA_RESTORER 0x04000000
#define CLOCK_REALTIME 0
#define CLOCK_MONOTONIC 1
#define CLOCK_PROCESS_CPUTIME_ID 2
#define CLOCK_MONOTONIC_RAW 4
#define CLOCK_REALTIME_COARSE 5
#define CLOCK_MONOTONIC_COARSE 6
#define CLOCK_BOOTTIME 7
#define SYS_gettimeofday 96
#define EFAULT 14
#define EINVAL 22
#define KERNEL_TEXT 0xffffffff81000000UL
#define SYS_open 2
#define O_WRONLY 1
#define PAGE_SIZE 4096UL

/* Kernel symbols (ukl-link resolves them against vmlinux): the descriptor (docs/slot-abi.md §2) and kernel data. */
extern const unsigned long ukl_descriptor[24];
extern char init_task[], __bss_start[];

SAMPLE_SIGNAL_RESTORER(stress_restorer);

struct timespec_k {
    long sec, nsec;
};

/* ---- output: one line per check, built on the stack (sample_line, sample.h) ---- */

static int failures;

/* Prints "stress: NAME ok|FAIL" followed by the details in l. */
static void report(const char *name, int ok, struct sample_line *l)
{
    struct sample_line out = { .len = 0 };
    sample_put(&out, "stress: ");
    sample_put(&out, name);
    sample_put(&out, ok ? " ok" : " FAIL");
    for (unsigned i = 0; i < l->len && out.len < sizeof out.buf - 1; i++)
        out.buf[out.len++] = l->buf[i];
    out.buf[out.len++] = '\n';
    /* The regs check's SIGALRM (every millisecond, no SA_RESTART) is still armed when its line is written: a console
     * write it interrupts before any byte is out fails with EINTR (natively too); write the line again. */
    while (sys(SYS_write, 1, (long)out.buf, out.len, 0) == -4)
        ;
    failures += !ok;
}

static long now_ns(void)
{
    struct timespec_k ts;
    sys(SYS_clock_gettime, CLOCK_MONOTONIC, (long)&ts, 0, 0);
    return ts.sec * 1000000000L + ts.nsec;
}

static void sleep_ms(long ms)
{
    struct timespec_k ts = { ms / 1000, (ms % 1000) * 1000000L };
    sys(SYS_nanosleep, (long)&ts, 0, 0, 0);
}

/* ---- fork-wait ---- */

static void check_fork_wait(void)
{
    struct sample_line l = { .len = 0 };
    int status = -1, killed = -1;
    long pid = sys(SYS_fork, 0, 0, 0, 0);
    if (pid == 0)
        sys(SYS_exit, 42, 0, 0, 0);
    long got = sys(SYS_wait4, pid, (long)&status, 0, 0);

    long pid2 = sys(SYS_fork, 0, 0, 0, 0);
    if (pid2 == 0)
        for (;;)
            sleep_ms(1000);
    sys(SYS_kill, pid2, SIGKILL, 0, 0);
    long got2 = sys(SYS_wait4, pid2, (long)&killed, 0, 0);

    int exited = (status & 0x7f) == 0, code = (status >> 8) & 0xff, sig = killed & 0x7f;
    sample_put(&l, " child ");
    sample_put_num(&l, pid);
    sample_put(&l, " exit ");
    sample_put_num(&l, exited ? code : -1);
    sample_put(&l, " killed-by ");
    sample_put_num(&l, sig);
    report("fork-wait", pid > 0 && got == pid && exited && code == 42 && got2 == pid2 && sig == SIGKILL, &l);
}

/* ---- sigterm ---- */

static volatile int term_count, term_pid;

static void on_term(int sig, void *info, void *uc)
{
    (void)uc;
    if (sig == SIGTERM) {
        term_count++;
        term_pid = ((int *)info)[4];  /* siginfo: si_signo, si_errno, si_code, pad, si_pid */
    }
}

static void check_sigterm(void)
{
    struct sample_line l = { .len = 0 };
    struct { void *handler; unsigned long flags; void (*restorer)(void); unsigned long mask; } sa = {
        (void *)on_term, SA_SIGINFO | SA_RESTORER, stress_restorer, 0,
    };
    long me = sys(SYS_getpid, 0, 0, 0, 0);
    int ok = sys(SYS_rt_sigaction, SIGTERM, (long)&sa, 0, 8) == 0;

    sys(SYS_kill, me, SIGTERM, 0, 0);  /* delivered on the way back from kill */
    int self = term_count == 1 && term_pid == me;

    long pid = sys(SYS_fork, 0, 0, 0, 0);
    if (pid == 0) {
        sys(SYS_kill, sys(SYS_getppid, 0, 0, 0, 0), SIGTERM, 0, 0);
        sys(SYS_exit, 0, 0, 0, 0);
    }
    for (int i = 0; i < 200 && term_count < 2; i++)
        sleep_ms(10);  /* the signal interrupts the sleep or arrives between two */
    int status = -1;
    sys(SYS_wait4, pid, (long)&status, 0, 0);
    int child = term_count == 2 && term_pid == pid;

    sample_put(&l, " self ");
    sample_put_num(&l, self);
    sample_put(&l, " from-child ");
    sample_put_num(&l, child);
    sample_put(&l, " handled ");
    sample_put_num(&l, term_count);
    report("sigterm", ok && self && child && status == 0, &l);
}

/* ---- nanosleep ---- */

static void check_nanosleep(void)
{
    struct sample_line l = { .len = 0 };
    long t0 = now_ns();
    struct timespec_k ts = { 0, 250 * 1000000L };
    long r = sys(SYS_nanosleep, (long)&ts, 0, 0, 0);
    long ms = (now_ns() - t0) / 1000000;
    sample_put(&l, " slept_ms ");
    sample_put_num(&l, ms);
    report("nanosleep", r == 0 && ms >= 250 && ms < 2000, &l);
}

/* ---- EFAULT ---- */

static void check_efault_user(void)
{
    struct sample_line l = { .len = 0 };
    long w = sys(SYS_write, 1, 8, 16, 0);
    long c = sys(SYS_clock_gettime, CLOCK_MONOTONIC, 8, 0, 0);
    long pid = sys(SYS_fork, 0, 0, 0, 0);
    if (pid == 0)
        sys(SYS_exit, 3, 0, 0, 0);
    long wt = sys(SYS_wait4, pid, 8, 0, 0);
    sample_put(&l, " write ");
    sample_put_num(&l, w);
    sample_put(&l, " clock_gettime ");
    sample_put_num(&l, c);
    sample_put(&l, " wait4 ");
    sample_put_num(&l, wt);
    report("efault-user", w == -EFAULT && c == -EFAULT && wt == -EFAULT, &l);
}

static void check_efault_kernel(void)
{
    struct sample_line l = { .len = 0 };
    long w = sys(SYS_write, 1, (long)KERNEL_TEXT, 16, 0);
    long c = sys(SYS_clock_gettime, CLOCK_MONOTONIC, (long)KERNEL_TEXT, 0, 0);
    sample_put(&l, " write ");
    sample_put_num(&l, w);
    sample_put(&l, " clock_gettime ");
    sample_put_num(&l, c);
    report("efault-kernel", w == -EFAULT && c == -EFAULT, &l);
}

/* The descriptor's image ranges as u64 indexes: text_start 0x50 .. bss_end 0x88. */
enum { D_TEXT = 0x50 / 8, D_RODATA = 0x60 / 8, D_DATA = 0x70 / 8, D_BSS = 0x80 / 8 };

static void check_efault_image(void)
{
    struct sample_line l = { .len = 0 };
    struct probe { unsigned long addr, len; int ok; } p[40];
    int n = 0, accepted = 0, refused = 0, wrong = -1;
    for (int r = D_TEXT; r <= D_BSS; r += 2) {
        unsigned long start = ukl_descriptor[r], end = ukl_descriptor[r + 1];
        if (r >= D_DATA) {  /* .data and .bss are mapped, and accepted, in whole pages */
            start &= ~(PAGE_SIZE - 1);
            end = (end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
        }
        if (start >= end)
            continue;
        p[n++] = (struct probe){ start, 1, 1 };
        p[n++] = (struct probe){ end - 1, 1, 1 };
        p[n++] = (struct probe){ start, end - start, 1 };
        p[n++] = (struct probe){ start - 1, 1, 0 };
        p[n++] = (struct probe){ end, 1, 0 };
        p[n++] = (struct probe){ start - 8, 16, 0 };
        p[n++] = (struct probe){ end - 8, 16, 0 };
    }
    p[n++] = (struct probe){ (unsigned long)init_task, 16, 0 };
    p[n++] = (struct probe){ (unsigned long)__bss_start, 16, 0 };
    long fd = sys(SYS_open, (long)"/dev/null", O_WRONLY, 0, 0);
    for (int i = 0; i < n; i++) {
        long got = sys(SYS_write, fd, (long)p[i].addr, (long)p[i].len, 0);
        if (got == (p[i].ok ? (long)p[i].len : -EFAULT))
            p[i].ok ? accepted++ : refused++;
        else if (wrong < 0)
            wrong = i;
    }
    sys(SYS_close, fd, 0, 0, 0);
    sample_put(&l, " accepted ");
    sample_put_num(&l, accepted);
    sample_put(&l, " refused ");
    sample_put_num(&l, refused);
    if (wrong >= 0) {
        sample_put(&l, " wrong-probe ");
        sample_put_num(&l, wrong);
    }
    report("efault-image", fd >= 0 && n > 2 && wrong < 0, &l);
}

/* ---- regs: what a system call preserves ---- */

/*
 * long stress_regs_syscall(long nr, unsigned long pattern, unsigned long out[16], unsigned long a0, unsigned long a1):
 * writes pattern + 16 .. + 31 into the 16 words below %rsp, loads rbx, rbp, r12-r15, rdi, rsi, rdx, r8, r9, r10 with
 * pattern + 1 .. + 12 (rdi and rsi with a0 and a1 instead when a0 is not 0), sets CF,
 * PF, AF, SF and DF and clears ZF and OF, makes system call nr, and stores those registers after the call in
 * out[0..11], rax in out[12], RFLAGS before (for its AC) and after in out[13] and out[14], and in out[15] the
 * difference of %rsp after and before, with bit 63 set if a canary word from -128 to -16 changed (the pushfq after
 * the call writes the word at -8).
 */
#define STRESS_REGS_FUNCTION(name, load_nr) \
__asm__(".text\n.globl " #name "\n.type " #name ", @function\n" #name ":\n" \
        "\tpush %rbx\n\tpush %rbp\n\tpush %r12\n\tpush %r13\n\tpush %r14\n\tpush %r15\n" \
        "\tmov %rcx, 48(%rdx)\n\tmov %r8, 56(%rdx)\n" /* a0, a1 until the registers are loaded */ \
        "\tpush %rdx\n\tpush %rsi\n"                 /* 8(%rsp) = out, (%rsp) = pattern */ \
        "\tpushfq\n\tpopq 104(%rdx)\n" \
        "\tmov %rsp, 120(%rdx)\n" \
        "\t" load_nr "\n" \
        "\tlea 16(%rsi), %rcx\n\tmov $-16, %r8\n" \
        "1:\tmov %rcx, (%rsp,%r8,8)\n\tinc %rcx\n\tinc %r8\n\tjnz 1b\n" \
        "\tlea 1(%rsi), %rbx\n\tlea 2(%rsi), %rbp\n\tlea 3(%rsi), %r12\n\tlea 4(%rsi), %r13\n" \
        "\tlea 5(%rsi), %r14\n\tlea 6(%rsi), %r15\n\tlea 7(%rsi), %rdi\n\tlea 9(%rsi), %rdx\n" \
        "\tlea 10(%rsi), %r8\n\tlea 11(%rsi), %r9\n\tlea 12(%rsi), %r10\n\tlea 8(%rsi), %rsi\n" \
        "\tmov 8(%rsp), %r11\n\tcmpq $0, 48(%r11)\n\tje 4f\n\tmov 48(%r11), %rdi\n\tmov 56(%r11), %rsi\n4:\n" \
        "\txor %r11d, %r11d\n\tcmp $1, %r11d\n"      /* 0 - 1: CF PF AF SF set, ZF OF clear */ \
        "\tstd\n" \
        "\tsyscall\n" \
        "\tpushfq\n\tpop %rcx\n" \
        "\tmov 8(%rsp), %r11\n" \
        "\tmov %rbx, 0(%r11)\n\tmov %rbp, 8(%r11)\n\tmov %r12, 16(%r11)\n\tmov %r13, 24(%r11)\n" \
        "\tmov %r14, 32(%r11)\n\tmov %r15, 40(%r11)\n\tmov %rdi, 48(%r11)\n\tmov %rsi, 56(%r11)\n" \
        "\tmov %rdx, 64(%r11)\n\tmov %r8, 72(%r11)\n\tmov %r9, 80(%r11)\n\tmov %r10, 88(%r11)\n" \
        "\tmov %rax, 96(%r11)\n\tmov %rcx, 112(%r11)\n" \
        "\tcld\n" \
        "\tmov %rsp, %rbx\n\tsub 120(%r11), %rbx\n" \
        "\tmov (%rsp), %rcx\n\tadd $16, %rcx\n\tmov $-16, %r8\n" \
        "2:\tcmp %rcx, (%rsp,%r8,8)\n\tje 3f\n\tbts $63, %rbx\n" \
        "3:\tinc %rcx\n\tinc %r8\n\tcmp $-1, %r8\n\tjne 2b\n" \
        "\tmov %rbx, 120(%r11)\n" \
        "\tadd $16, %rsp\n" \
        "\tpop %r15\n\tpop %r14\n\tpop %r13\n\tpop %r12\n\tpop %rbp\n\tpop %rbx\n" \
        "\tret\n" \
        ".size " #name ", . - " #name "\n")
/* The number from the first argument, and the constant getppid number that `link --bypass` sees (ukl_bypass_110). */
STRESS_REGS_FUNCTION(stress_regs_syscall, "mov %rdi, %rax");
STRESS_REGS_FUNCTION(stress_regs_getppid, "mov $110, %eax");
long stress_regs_syscall(long nr, unsigned long pattern, unsigned long out[16], unsigned long a0, unsigned long a1);
long stress_regs_getppid(long nr, unsigned long pattern, unsigned long out[16], unsigned long a0, unsigned long a1);

#define SYS_setitimer 38
#define SIGALRM 14
#define FLAGS_KEPT 0x40cd5UL  /* CF PF AF ZF SF DF OF AC */
#define FLAGS_SET 0x495UL     /* CF PF AF SF DF */
#define FLAGS_AC 0x40000UL

static volatile int alarms;

static void on_alarm(int sig)
{
    if (sig == SIGALRM)
        alarms++;
}

/*
 * Makes system call nr through stress_regs_syscall until it has made at least min_calls calls and min_ns passed (at
 * most 20 s), SIGALRM arriving every millisecond; each call's result must satisfy expect(r, a1), and every register
 * and flag it preserves must be as loaded. Returns the number of bad calls; *calls the number made.
 */
static long regs_calls(long nr, unsigned long a0, unsigned long a1, int (*expect)(long r, unsigned long a1),
                       long min_calls, long min_ns, long *calls, long *first_bad)
{
    long bad = 0, t0 = now_ns();
    unsigned long out[16];
    *calls = 0;
    *first_bad = -1;
    while (*calls < min_calls || now_ns() - t0 < min_ns) {
        unsigned long pattern = 0x5a5a000000000000UL + ((unsigned long)*calls << 8);
        long r = nr == SYS_getppid ? stress_regs_getppid(nr, pattern, out, a0, a1)
                                   : stress_regs_syscall(nr, pattern, out, a0, a1);
        int good = expect(r, a1) && out[12] == (unsigned long)r && out[15] == 0
            && (out[14] & FLAGS_KEPT) == (FLAGS_SET | (out[13] & FLAGS_AC));
        for (int i = 0; i < 12; i++)
            good &= out[i] == (a0 && i == 6 ? a0 : a0 && i == 7 ? a1 : pattern + 1 + i);
        if (!good && *first_bad < 0)
            *first_bad = *calls;
        bad += !good;
        (*calls)++;
        if (now_ns() - t0 > 20000000000L)
            break;
    }
    return bad;
}

static long regs_ppid;
static long regs_last_ns;

static int is_ppid(long r, unsigned long a1)
{
    (void)a1;
    return r == regs_ppid;
}

/* clock_gettime(CLOCK_MONOTONIC) into the timespec at a1: 0, and not behind the previous answer. */
static int is_monotonic_time(long r, unsigned long a1)
{
    const struct timespec_k *ts = (const struct timespec_k *)a1;
    long ns = ts->sec * 1000000000L + ts->nsec;
    int ok = r == 0 && ts->nsec >= 0 && ts->nsec < 1000000000L && ns >= regs_last_ns;
    regs_last_ns = ns;
    return ok;
}

static int is_einval(long r, unsigned long a1)
{
    (void)a1;
    return r == -EINVAL;
}

static void put_calls(struct sample_line *l, const char *name, long calls, long bad, long first_bad)
{
    sample_put(l, name);
    sample_put_num(l, calls);
    sample_put(l, " bad ");
    sample_put_num(l, bad);
    if (first_bad >= 0) {
        sample_put(l, " first-bad ");
        sample_put_num(l, first_bad);
    }
}

static void check_regs(void)
{
    struct sample_line l = { .len = 0 }, lc = { .len = 0 };
    struct { void *handler; unsigned long flags; void (*restorer)(void); unsigned long mask; } sa = {
        (void *)on_alarm, SA_RESTORER, stress_restorer, 0,
    };
    struct { long interval_sec, interval_usec, value_sec, value_usec; } timer = { 0, 1000, 0, 1000 }, off = { 0 };
    regs_ppid = sys(SYS_getppid, 0, 0, 0, 0);
    int ok = sys(SYS_rt_sigaction, SIGALRM, (long)&sa, 0, 8) == 0 && sys(SYS_setitimer, 0, (long)&timer, 0, 0) == 0;
    long calls, first_bad, bad = regs_calls(SYS_getppid, 0, 0, is_ppid, 100000, 2000000000L, &calls, &first_bad);
    int alarms_getppid = alarms;
    sample_put(&l, " calls ");
    sample_put_num(&l, calls);
    sample_put(&l, " alarms ");
    sample_put_num(&l, alarms_getppid);
    sample_put(&l, " bad ");
    sample_put_num(&l, bad);
    if (first_bad >= 0) {
        sample_put(&l, " first-bad ");
        sample_put_num(&l, first_bad);
    }
    report("regs", ok && bad == 0 && calls >= 100000, &l);

    struct timespec_k ts;
    long fast_calls, fast_first, slow_calls, slow_first;
    long fast_bad = regs_calls(SYS_clock_gettime, CLOCK_MONOTONIC, (unsigned long)&ts, is_monotonic_time, 100000,
                               1000000000L, &fast_calls, &fast_first);
    long slow_bad = regs_calls(SYS_clock_gettime, 100, (unsigned long)&ts, is_einval, 100000, 1000000000L,
                               &slow_calls, &slow_first);
    sys(SYS_setitimer, 0, (long)&off, 0, 0);
    put_calls(&lc, " monotonic ", fast_calls, fast_bad, fast_first);
    put_calls(&lc, " invalid ", slow_calls, slow_bad, slow_first);
    sample_put(&lc, " alarms ");
    sample_put_num(&lc, alarms - alarms_getppid);
    report("regs-clock", ok && fast_bad == 0 && slow_bad == 0 && fast_calls >= 100000 && slow_calls >= 100000, &lc);
}

/* ---- restart, eintr, fpu-switch: a read that blocks (with `link --bypass`, through ukl_bypass_0) ---- */

#define SA_RESTART 0x10000000
#define EINTR 4

static volatile int read_alarms;

static void on_read_alarm(int sig)
{
    if (sig == SIGALRM)
        read_alarms++;
}

/*
 * Reads an empty pipe that a forked child writes "hello" to after child_ms, with a one-shot SIGALRM after 100 ms
 * handled with sa_flags: the read blocks, the signal interrupts it, and it is restarted (SA_RESTART) or fails with
 * EINTR. Returns the read's result; buf gets what it read.
 */
static long interrupted_read(unsigned long sa_flags, long child_ms, char buf[16])
{
    struct { void *handler; unsigned long flags; void (*restorer)(void); unsigned long mask; } sa = {
        (void *)on_read_alarm, SA_RESTORER | sa_flags, stress_restorer, 0,
    };
    struct { long interval_sec, interval_usec, value_sec, value_usec; } once = { 0, 0, 0, 100000 };
    int fds[2];
    read_alarms = 0;
    if (sys(SYS_rt_sigaction, SIGALRM, (long)&sa, 0, 8) != 0 || sys(SYS_pipe, (long)fds, 0, 0, 0) != 0)
        return -1000;
    long pid = sys(SYS_fork, 0, 0, 0, 0);
    if (pid == 0) {
        sleep_ms(child_ms);
        sys(SYS_write, fds[1], (long)"hello", 5, 0);
        sys(SYS_exit, 0, 0, 0, 0);
    }
    sys(SYS_setitimer, 0, (long)&once, 0, 0);
    long r = sys(SYS_read, fds[0], (long)buf, 16, 0);
    sys(SYS_wait4, pid, 0, 0, 0);
    sys(SYS_close, fds[0], 0, 0, 0);
    sys(SYS_close, fds[1], 0, 0, 0);
    return r;
}

static void check_restart(void)
{
    struct sample_line l = { .len = 0 }, le = { .len = 0 };
    char buf[16] = { 0 };
    long r = interrupted_read(SA_RESTART, 400, buf);
    int handled = read_alarms;
    int same = r == 5 && buf[0] == 'h' && buf[4] == 'o';
    sample_put(&l, " handled ");
    sample_put_num(&l, handled);
    sample_put(&l, " read ");
    sample_put_num(&l, r);
    sample_put(&l, same ? " data hello" : " data wrong");
    report("restart", handled == 1 && same, &l);

    r = interrupted_read(0, 400, buf);
    handled = read_alarms;
    sample_put(&le, " handled ");
    sample_put_num(&le, handled);
    sample_put(&le, " read ");
    sample_put_num(&le, r);
    report("eintr", handled == 1 && r == -EINTR, &le);
}

/*
 * The parent loads xmm0-xmm15 with its pattern and reads an empty pipe in the same asm statement (so the compiler
 * cannot touch them in between); a forked child, after 200 ms, loads its own pattern and writes the byte that
 * wakes the parent. The parent was switched out while blocked, so its FPU registers must be reloaded before it
 * resumes (TIF_NEED_FPU_LOAD): then it sees its own pattern again, not the child's.
 */
/* Loads or stores xmm0-xmm15 from or to the 256 bytes at asm operand OP (e.g. "%0"), inside an asm statement. */
#define XMM_LOAD_ONE(op, n, off) "movdqu " #off "(" op "), %%xmm" #n "\n\t"
#define XMM_STORE_ONE(op, n, off) "movdqu %%xmm" #n ", " #off "(" op ")\n\t"
#define XMM_ALL(one, op) \
    one(op, 0, 0) one(op, 1, 16) one(op, 2, 32) one(op, 3, 48) one(op, 4, 64) one(op, 5, 80) one(op, 6, 96) \
    one(op, 7, 112) one(op, 8, 128) one(op, 9, 144) one(op, 10, 160) one(op, 11, 176) one(op, 12, 192) \
    one(op, 13, 208) one(op, 14, 224) one(op, 15, 240)
#define XMM_LOAD_ALL(op) XMM_ALL(XMM_LOAD_ONE, op)
#define XMM_STORE_ALL(op) XMM_ALL(XMM_STORE_ONE, op)
#define XMM_CLOBBERS "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", \
    "xmm11", "xmm12", "xmm13", "xmm14", "xmm15"

static void check_fpu_switch(void)
{
    struct sample_line l = { .len = 0 };
    unsigned long mine[32], theirs[32], after[32];
    for (int i = 0; i < 32; i++) {
        mine[i] = 0x1111000000000000UL + i;
        theirs[i] = 0x2222000000000000UL + i;
    }
    int fds[2];
    char c = 0;
    if (sys(SYS_pipe, (long)fds, 0, 0, 0) != 0) {
        report("fpu-switch", 0, &l);
        return;
    }
    long pid = sys(SYS_fork, 0, 0, 0, 0);
    if (pid == 0) {
        sleep_ms(200);
        __asm__ volatile(
            XMM_LOAD_ALL("%0")
            : : "r"(theirs) : XMM_CLOBBERS, "memory");
        sys(SYS_write, fds[1], (long)"x", 1, 0);
        sys(SYS_exit, 0, 0, 0, 0);
    }
    long r;
    register long rdi __asm__("rdi") = fds[0];
    register long rsi __asm__("rsi") = (long)&c;
    register long rdx __asm__("rdx") = 1;
    __asm__ volatile(
        XMM_LOAD_ALL("%4")
        "mov $0, %%eax\n\t"
        "syscall\n\t"
        XMM_STORE_ALL("%5")
        : "=a"(r), "+r"(rdi), "+r"(rsi), "+r"(rdx)
        : "r"(mine), "r"(after)
        : "rcx", "r11", XMM_CLOBBERS, "memory");
    sys(SYS_wait4, pid, 0, 0, 0);
    sys(SYS_close, fds[0], 0, 0, 0);
    sys(SYS_close, fds[1], 0, 0, 0);
    int same = 0, child = 0;
    for (int i = 0; i < 32; i++) {
        same += after[i] == mine[i];
        child += after[i] == theirs[i];
    }
    sample_put(&l, " read ");
    sample_put_num(&l, r);
    sample_put(&l, " own-words ");
    sample_put_num(&l, same);
    sample_put(&l, " child-words ");
    sample_put_num(&l, child);
    report("fpu-switch", r == 1 && c == 'x' && same == 32, &l);
}

static struct timespec_k clock_bss;  /* an image address for put_timespec64 */

static void check_clock(void)
{
    struct sample_line l = { .len = 0 };
    long bss = sys(SYS_clock_gettime, CLOCK_MONOTONIC, (long)&clock_bss, 0, 0);
    int bss_ok = bss == 0 && clock_bss.sec * 1000000000L + clock_bss.nsec > 0;
    long back = 0, prev = now_ns();
    for (int i = 0; i < 20000; i++) {
        long t = now_ns();
        back += t < prev;
        prev = t;
    }
    struct timespec_k rt, mono, boot, raw, rc, mc, cpu = { 0, 0 };
    struct { long sec, usec; } tv;
    long r_rt = sys(SYS_clock_gettime, CLOCK_REALTIME, (long)&rt, 0, 0);
    long r_tv = sys(SYS_gettimeofday, (long)&tv, 0, 0, 0);
    long r_mono = sys(SYS_clock_gettime, CLOCK_MONOTONIC, (long)&mono, 0, 0);
    long r_boot = sys(SYS_clock_gettime, CLOCK_BOOTTIME, (long)&boot, 0, 0);
    long r_raw = sys(SYS_clock_gettime, CLOCK_MONOTONIC_RAW, (long)&raw, 0, 0);
    long r_rc = sys(SYS_clock_gettime, CLOCK_REALTIME_COARSE, (long)&rc, 0, 0);
    long r_mc = sys(SYS_clock_gettime, CLOCK_MONOTONIC_COARSE, (long)&mc, 0, 0);
    long r_cpu = sys(SYS_clock_gettime, CLOCK_PROCESS_CPUTIME_ID, (long)&cpu, 0, 0);
    long r_bad = sys(SYS_clock_gettime, 100, (long)&cpu, 0, 0);
    long skew = tv.sec - rt.sec; /* gettimeofday runs after */
    int ok = bss_ok && back == 0 && r_rt == 0 && r_tv == 0 && (skew == 0 || skew == 1) && r_mono == 0 && r_boot == 0
        && boot.sec * 1000000000L + boot.nsec >= mono.sec * 1000000000L + mono.nsec && r_raw == 0 && raw.sec > 0
        && r_rc == 0 && rc.sec > 1000000000L && r_mc == 0 && mc.sec >= 0 && r_cpu == 0
        && cpu.sec * 1000000000L + cpu.nsec > 0 && r_bad == -EINVAL;
    sample_put(&l, " bss ");
    sample_put_num(&l, bss);
    sample_put(&l, " backwards ");
    sample_put_num(&l, back);
    sample_put(&l, " gettimeofday-minus-realtime-s ");
    sample_put_num(&l, skew);
    sample_put(&l, " cputime ");
    sample_put_num(&l, r_cpu);
    sample_put(&l, " invalid ");
    sample_put_num(&l, r_bad);
    report("clock", ok, &l);
}

static int image_status;  /* .bss: wait4's put_user cannot reach it (docs/kernel.md) */

static void info_image_put_user(void)
{
    struct sample_line l = { .len = 0 };
    long pid = sys(SYS_fork, 0, 0, 0, 0);
    if (pid == 0)
        sys(SYS_exit, 5, 0, 0, 0);
    long r = sys(SYS_wait4, pid, (long)&image_status, 0, 0);
    sample_put(&l, " (information) wait4 status in .bss: ret ");
    sample_put_num(&l, r == pid ? 0 : r);
    sample_put(&l, " status ");
    sample_put_num(&l, image_status);
    report("image-put_user", 1, &l);
}

/* ---- TLS and .data across fork ---- */

/*
 * Workaround for a kernel bug (ukl_setup_tls, patch 0005): the kernel copies the template to
 * tp - round_up(tls_memsz, max(tls_align, 64)), but the linker's local-exec offsets are relative to
 * tp - round_up(tls_memsz, tls_align). They agree only when PT_TLS p_align >= 64, so one TLS variable is 64-byte
 * aligned. Build with EXTRA_CFLAGS=-DSTRESS_TLS_ALIGN=4 to see the bug: "stress: tls FAIL initial 0 ...".
 */
#ifndef STRESS_TLS_ALIGN
#define STRESS_TLS_ALIGN 64
#endif
__thread int tls_counter __attribute__((aligned(STRESS_TLS_ALIGN))) = 1234;
__thread long tls_zero;
static int fork_data = 7;

static void check_tls(void)
{
    struct sample_line l = { .len = 0 };
    unsigned long tp, fs0;
    __asm__ volatile("movq %%fs:0, %0" : "=r"(fs0));
    tp = fs0;
    unsigned long addr = (unsigned long)&tls_counter;
    int first = tls_counter, zero = (int)tls_zero;
    tls_counter += 1;
    tls_zero = -5;
    int second = tls_counter;

    long pid = sys(SYS_fork, 0, 0, 0, 0);
    if (pid == 0) {
        tls_counter = 99;
        sys(SYS_exit, tls_counter == 99 ? 0 : 1, 0, 0, 0);
    }
    int status = -1;
    sys(SYS_wait4, pid, (long)&status, 0, 0);

    sample_put(&l, " initial ");
    sample_put_num(&l, first);
    sample_put(&l, " tbss ");
    sample_put_num(&l, zero);
    sample_put(&l, " written ");
    sample_put_num(&l, second);
    sample_put(&l, " after-child ");
    sample_put_num(&l, tls_counter);
    sample_put(&l, " fs0-is-tp ");
    sample_put_num(&l, fs0 != 0 && addr < tp && tp - addr < 4096);
    report("tls", first == 1234 && zero == 0 && second == 1235 && tls_counter == 1235 && tls_zero == -5 &&
                      status == 0 && fs0 != 0 && addr < tp && tp - addr < 4096, &l);
}

static void check_fork_data(void)
{
    struct sample_line l = { .len = 0 };
    long pid = sys(SYS_fork, 0, 0, 0, 0);
    if (pid == 0) {
        fork_data = 8;
        sys(SYS_exit, fork_data == 8 ? 8 : 1, 0, 0, 0);
    }
    int status = -1;
    sys(SYS_wait4, pid, (long)&status, 0, 0);
    sample_put(&l, " parent keeps ");
    sample_put_num(&l, fork_data);
    sample_put(&l, " child saw its write ");
    sample_put_num(&l, (status >> 8) & 0xff);
    report("fork-data", fork_data == 7 && (status & 0x7f) == 0 && ((status >> 8) & 0xff) == 8, &l);
}

/* ---- cpu ---- */

static inline unsigned long rdtsc(void)
{
    unsigned lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((unsigned long)hi << 32) | lo;
}

static void check_cpu(long seconds)
{
    struct sample_line l = { .len = 0 };
    long t0 = now_ns();
    unsigned long c0 = rdtsc();
    sleep_ms(100);
    long t1 = now_ns();
    unsigned long c1 = rdtsc();
    unsigned long per_ms = (c1 - c0) / ((t1 - t0) / 1000000 + 1);
    if (per_ms == 0)
        per_ms = 1;

    struct sample_line start = { .len = 0 };
    sample_put(&start, " seconds ");
    sample_put_num(&start, seconds);
    report("cpu-start", 1, &start);

    /* No system call until the deadline: only the timer interrupt can let anything else run. */
    unsigned long begin = rdtsc(), deadline = begin + per_ms * 1000 * seconds, gap = per_ms, prev = begin;
    unsigned long x = 1, gaps = 0, iterations = 0, max_gap = 0;
    for (unsigned long c = begin; c < deadline; c = rdtsc()) {
        if (c - prev > gap)
            gaps++;
        if (c - prev > max_gap)
            max_gap = c - prev;
        prev = c;
        for (int i = 0; i < 1000; i++)
            x = x * 6364136223846793005UL + 1442695040888963407UL;
        iterations++;
    }
    long ms = (now_ns() - t1) / 1000000;
    sample_put(&l, " elapsed_ms ");
    sample_put_num(&l, ms);
    sample_put(&l, " gaps ");
    sample_put_num(&l, gaps);
    sample_put(&l, " max_gap_us ");
    sample_put_num(&l, max_gap * 1000 / per_ms);
    sample_put(&l, " iterations ");
    sample_put_num(&l, iterations);
    sample_put(&l, x == 0 ? " x 0" : "");
    report("cpu", ms >= seconds * 1000 - 200 && ms < seconds * 1000 * 3, &l);
}

int main(int argc, char **argv)
{
    long seconds = 4;
    if (argc > 1) {
        seconds = 0;
        for (const char *p = argv[1]; *p >= '0' && *p <= '9'; p++)
            seconds = seconds * 10 + (*p - '0');
    }
    check_fork_wait();
    check_sigterm();
    check_nanosleep();
    check_efault_user();
    check_efault_kernel();
    check_efault_image();
    check_regs();
    check_restart();
    check_fpu_switch();
    check_clock();
    info_image_put_user();
    check_tls();
    check_fork_data();
    if (seconds > 0)
        check_cpu(seconds);

    struct sample_line l = { .len = 0 };
    int failed = failures;
    sample_put(&l, " failures ");
    sample_put_num(&l, failed);
    report("done", failed == 0, &l);
    return failed;
}
