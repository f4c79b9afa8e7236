/*
 * bench/syscall/syscall.c: the system-call micro-benchmark of bench/syscall/run (docs/benchmarks.md).
 *
 * One object file, linked twice: as an ordinary static process (user mode, the `syscall` instruction) and by
 * `ukl-link link` into the kernel (ring 0, the rewritten sites). Both run in the same boot with the same arguments:
 *
 *   syscall-native N REPS [CALL...]      /UKL N REPS [CALL...]      (no CALL: all of them)
 *   syscall-native trace                 /UKL trace                 (getppid and read64 for the gdb trace, see run)
 *
 * For every call it runs a warm-up of N/8 iterations, then REPS repetitions of N iterations and prints one line per
 * repetition:
 *
 *   SYSBENCH <mode> <call> <n> <tsc-ticks> <clock-ns>
 *
 * mode is "ukl" when the code runs in ring 0 (the CPL of %cs), "native" otherwise: the program checks where it runs
 * instead of being told. tsc-ticks is the rdtsc difference around the N iterations: under QEMU -icount shift=0 the
 * TSC is the virtual clock, one tick per guest instruction, so it is the instruction count. clock-ns is the
 * CLOCK_MONOTONIC difference (one raw clock_gettime system call outside each end of the rdtsc pair): the wall time
 * under plain TCG. The "empty" call is the loop alone; the runner subtracts it. Every result is checked (getppid > 0,
 * the full byte count, epoll_wait reports the fd ready); a wrong one prints "SYSBENCH-ERROR ..." and exits 1.
 *
 * clock_gettime is the raw system call in both modes: neither mode has a vDSO here (the UKL exec gives none and the
 * native program does not look for one), so both pay the kernel entry. Buffers live in .bss (image addresses in the
 * UKL mode, which take the kernel's slower user-copy checks) except for the "-stack" variants (user-half addresses
 * in both modes).
 */
#include "../../samples/common/sample.h"

#define SYS_open 2
#define O_RDONLY 0
#define O_WRONLY 1
#define O_NONBLOCK 04000
#define CLOCK_MONOTONIC 1
#define EPOLLOUT 4
#define EPOLL_CTL_ADD 1

struct timespec_k {
    long sec, nsec;
};

struct epoll_event_k {
    unsigned events;
    unsigned long data;
} __attribute__((packed));

static char buf64[64];
static char buf4k[4096];
static int zero_fd, null_fd, pipe_fd[2], epoll_fd;
static const char *mode;

/* ---- output ---- */

/* " N": a number after a space. */
static void put_num(struct sample_line *l, long v)
{
    sample_put(l, " ");
    sample_put_num(l, v);
}

static void emit(struct sample_line *l)
{
    l->buf[l->len++] = '\n';
    sys(SYS_write, 1, (long)l->buf, l->len);
}

static __attribute__((noreturn)) void fail(const char *what, long got)
{
    struct sample_line l = {.len = 0};
    sample_put(&l, "SYSBENCH-ERROR ");
    sample_put(&l, mode);
    sample_put(&l, " ");
    sample_put(&l, what);
    put_num(&l, got);
    emit(&l);
    sys(SYS_exit_group, 1);
    __builtin_unreachable();
}

/* ---- clocks ---- */

static inline unsigned long rdtsc(void)
{
    unsigned lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi)::"memory");
    return ((unsigned long)hi << 32) | lo;
}

static long clock_ns(void)
{
    struct timespec_k ts;
    long r = sys(SYS_clock_gettime, CLOCK_MONOTONIC, (long)&ts);
    if (r != 0)
        fail("clock_gettime", r);
    return ts.sec * 1000000000L + ts.nsec;
}

/* ---- the measured loops: each returns 0 or the first bad result ---- */

/* The loop alone: what every other loop pays besides its system calls. */
static __attribute__((noinline)) long loop_empty(long n)
{
    for (long i = 0; i < n; i++)
        __asm__ volatile("" ::: "memory");
    return 0;
}

static __attribute__((noinline)) long loop_getppid(long n)
{
    for (long i = 0; i < n; i++) {
        long r = sys(SYS_getppid);
        if (r <= 0)
            return r ? r : -1;
    }
    return 0;
}

#define IO_LOOP(name, nr, fd, buffer, size)                   \
    static __attribute__((noinline)) long name(long n)        \
    {                                                         \
        for (long i = 0; i < n; i++) {                        \
            long r = sys(nr, fd, (long)(buffer), size);       \
            if (r != (size))                                  \
                return r < 0 ? r : -1000 - r;                 \
        }                                                     \
        return 0;                                             \
    }

IO_LOOP(loop_read64, SYS_read, zero_fd, buf64, 64)
IO_LOOP(loop_read4k, SYS_read, zero_fd, buf4k, 4096)
IO_LOOP(loop_write64, SYS_write, null_fd, buf64, 64)
IO_LOOP(loop_write4k, SYS_write, null_fd, buf4k, 4096)

static __attribute__((noinline)) long loop_read64_stack(long n)
{
    char local[64];
    for (long i = 0; i < n; i++) {
        long r = sys(SYS_read, zero_fd, (long)local, 64);
        if (r != 64)
            return r < 0 ? r : -1000 - r;
    }
    return 0;
}

static __attribute__((noinline)) long loop_write64_stack(long n)
{
    char local[64];
    for (int i = 0; i < 64; i++)
        ((volatile char *)local)[i] = (char)i;
    for (long i = 0; i < n; i++) {
        long r = sys(SYS_write, null_fd, (long)local, 64);
        if (r != 64)
            return r < 0 ? r : -1000 - r;
    }
    return 0;
}

/* One write into the pipe and one read back out: a pair per iteration. */
static long pipe_pair(long n, char *buffer, long size)
{
    for (long i = 0; i < n; i++) {
        long w = sys(SYS_write, pipe_fd[1], (long)buffer, size);
        if (w != size)
            return w < 0 ? w : -1000 - w;
        long r = sys(SYS_read, pipe_fd[0], (long)buffer, size);
        if (r != size)
            return r < 0 ? r : -1000 - r;
    }
    return 0;
}

static __attribute__((noinline)) long loop_pipe64(long n)
{
    return pipe_pair(n, buf64, 64);
}

static __attribute__((noinline)) long loop_pipe4k(long n)
{
    return pipe_pair(n, buf4k, 4096);
}

static __attribute__((noinline)) long loop_clock_gettime(long n)
{
    struct timespec_k ts;
    for (long i = 0; i < n; i++) {
        long r = sys(SYS_clock_gettime, CLOCK_MONOTONIC, (long)&ts);
        if (r != 0)
            return r;
    }
    return 0;
}

/* The pipe's write end is always writable (it is drained after every pair): EPOLLOUT is ready, timeout 0. */
static __attribute__((noinline)) long loop_epoll_wait(long n)
{
    struct epoll_event_k ev;
    for (long i = 0; i < n; i++) {
        long r = sys(SYS_epoll_wait, epoll_fd, (long)&ev, 1, 0);
        if (r != 1)
            return r <= 0 ? r - 1 : -1000 - r;
    }
    return 0;
}

struct bench {
    const char *name;
    long (*loop)(long n);
};

static const struct bench benches[] = {
    {"empty", loop_empty},
    {"getppid", loop_getppid},
    {"read64", loop_read64},
    {"read4k", loop_read4k},
    {"write64", loop_write64},
    {"write4k", loop_write4k},
    {"read64-stack", loop_read64_stack},
    {"write64-stack", loop_write64_stack},
    {"pipe64", loop_pipe64},
    {"pipe4k", loop_pipe4k},
    {"clock_gettime", loop_clock_gettime},
    {"epoll_wait", loop_epoll_wait},
};

#define NBENCH (sizeof benches / sizeof benches[0])

/* ---- the round trips that bench/syscall/trace-gdb.py single-steps (a breakpoint at each entry) ---- */

__attribute__((noinline, used)) long sysbench_trace_getppid(void)
{
    return sys(SYS_getppid);
}

__attribute__((noinline, used)) long sysbench_trace_read64(void)
{
    return sys(SYS_read, zero_fd, (long)buf64, 64);
}

/* ---- setup and main ---- */

static int streq(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

static long parse(const char *s)
{
    long v = 0;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s - '0');
    }
    return v;
}

static __attribute__((noreturn)) void usage(void)
{
    static const char text[] = "usage: syscall N REPS [CALL...] | syscall trace\n";
    sys(SYS_write, 2, (long)text, sizeof text - 1);
    sys(SYS_exit_group, 2);
    __builtin_unreachable();
}

static void setup(void)
{
    static const char dev_zero[] = "/dev/zero", dev_null[] = "/dev/null";
    long r;
    if ((r = sys(SYS_open, (long)dev_zero, O_RDONLY)) < 0)
        fail("open-/dev/zero", r);
    zero_fd = (int)r;
    if ((r = sys(SYS_open, (long)dev_null, O_WRONLY)) < 0)
        fail("open-/dev/null", r);
    null_fd = (int)r;
    int fds[2];
    if ((r = sys(SYS_pipe, (long)fds)) != 0)
        fail("pipe", r);
    pipe_fd[0] = fds[0];
    pipe_fd[1] = fds[1];
    if ((r = sys(SYS_epoll_create1, 0)) < 0)
        fail("epoll_create1", r);
    epoll_fd = (int)r;
    struct epoll_event_k ev = {.events = EPOLLOUT, .data = 1};
    if ((r = sys(SYS_epoll_ctl, epoll_fd, EPOLL_CTL_ADD, pipe_fd[1], (long)&ev)) != 0)
        fail("epoll_ctl", r);
    for (unsigned i = 0; i < sizeof buf4k; i++)
        buf4k[i] = (char)i;
}

static void measure(const struct bench *b, long n, long reps)
{
    long r = b->loop(n / 8 > 0 ? n / 8 : 1); /* warm-up: page faults, caches, first-use paths */
    if (r != 0)
        fail(b->name, r);
    for (long rep = 0; rep < reps; rep++) {
        long c0 = clock_ns();
        unsigned long t0 = rdtsc();
        r = b->loop(n);
        unsigned long t1 = rdtsc();
        long c1 = clock_ns();
        if (r != 0)
            fail(b->name, r);
        struct sample_line l = {.len = 0};
        sample_put(&l, "SYSBENCH ");
        sample_put(&l, mode);
        sample_put(&l, " ");
        sample_put(&l, b->name);
        put_num(&l, n);
        put_num(&l, (long)(t1 - t0));
        put_num(&l, c1 - c0);
        emit(&l);
    }
}

int main(int argc, char **argv)
{
    unsigned short cs;
    __asm__("mov %%cs, %0" : "=r"(cs));
    mode = (cs & 3) == 0 ? "ukl" : "native";

    if (argc == 2 && streq(argv[1], "trace")) {
        /* The first call faults in whatever it touches; gdb traces the second (its breakpoint ignores one hit). */
        setup();
        long r;
        for (int i = 0; i < 2; i++)
            if ((r = sysbench_trace_getppid()) <= 0)
                fail("getppid", r);
        for (int i = 0; i < 2; i++)
            if ((r = sysbench_trace_read64()) != 64)
                fail("read64", r);
        struct sample_line l = {.len = 0};
        sample_put(&l, "SYSBENCH-TRACED ");
        sample_put(&l, mode);
        emit(&l);
        return 0;
    }
    if (argc < 3)
        usage();
    long n = parse(argv[1]), reps = parse(argv[2]);
    if (n <= 0 || reps <= 0)
        usage();

    for (int a = 3; a < argc; a++) {
        int known = 0;
        for (unsigned i = 0; i < NBENCH; i++)
            known |= streq(argv[a], benches[i].name);
        if (!known)
            usage();
    }

    setup();
    struct sample_line l = {.len = 0};
    sample_put(&l, "SYSBENCH-RUN ");
    sample_put(&l, mode);
    put_num(&l, cs & 3);
    put_num(&l, n);
    put_num(&l, reps);
    emit(&l);
    for (unsigned i = 0; i < NBENCH; i++) {
        int wanted = argc == 3;
        for (int a = 3; a < argc && !wanted; a++)
            wanted = streq(argv[a], benches[i].name);
        if (wanted || i == 0) /* the empty loop always runs: the runner subtracts it */
            measure(&benches[i], n, reps);
    }
    l.len = 0;
    sample_put(&l, "SYSBENCH-END ");
    sample_put(&l, mode);
    emit(&l);
    return 0;
}
