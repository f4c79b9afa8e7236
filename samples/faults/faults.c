/*
 * faults: a musl program that misbehaves on purpose, for the fault-injection tests (FaultInjectionTests): run as
 * /UKL in ring 0 and, for comparison, as an ordinary static binary in the same guest. One mode per run:
 *
 *   ok            malloc, a thread and stdio work; exit 0 (run after every fault: a new /UKL starts and works)
 *   block-read    blocks in read() on an empty pipe                      (the test SIGKILLs it)
 *   block-accept  blocks in accept() on 127.0.0.1:7100                  (the test SIGKILLs it)
 *   busy-syscall  getppid() in a loop, never sleeping                   (the test SIGKILLs it)
 *   busy-threads  four threads in syscall loops, main in pthread_join  (the test SIGKILLs it)
 *   oom-limit     RLIMIT_AS of 96 MiB, malloc+touch 1 MiB blocks until malloc fails; frees, allocates again; exit 0
 *   oom-kill      malloc+touch 1 MiB blocks with no limit until the kernel's OOM killer ends it (SIGKILL)
 *   segv-thread   three threads in syscalls, a fourth writes through NULL: the whole process dies of SIGSEGV
 *   signal-storm  moves checked messages through a pipe (SA_RESTART) until SIGTERM while two threads tgkill each
 *                 other 20000 times (SIGRTMIN) and the init script runs two `send-storm` senders at it; exit 0 if
 *                 no message was corrupted, every kind of signal arrived and raise() still delivers at once
 *   send-storm PID N   sends N SIGUSR1 and N SIGUSR2 to PID (run as the native binary, a separate process)
 *   raise-after-fork   forks a child that exits, then raise() must deliver to the parent (see the function)
 *
 * Each mode prints "faults: MODE ..." lines; a mode that waits to be killed prints "faults: MODE ready" first.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("faults: ", stdout);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    fflush(stdout);
    va_end(ap);
}

static void *touch_thread(void *p)
{
    char *b = malloc(4096);
    memset(b, 0x5a, 4096);
    *(long *)p = b[4095];
    free(b);
    return NULL;
}

static int mode_ok(void)
{
    long seen = 0;
    pthread_t t;
    if (pthread_create(&t, NULL, touch_thread, &seen) != 0 || pthread_join(t, NULL) != 0 || seen != 0x5a) {
        say("ok FAIL thread %ld", seen);
        return 1;
    }
    say("ok pid %d", (int)getpid());
    return 0;
}

static int mode_block_read(void)
{
    int p[2];
    char c;
    if (pipe(p) != 0)
        return 1;
    say("block-read ready");
    ssize_t n = read(p[0], &c, 1);
    say("block-read FAIL read returned %zd", n);
    return 1;
}

static int mode_block_accept(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(7100), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 4) != 0) {
        say("block-accept FAIL socket: %s", strerror(errno));
        return 1;
    }
    say("block-accept ready");
    int c = accept(s, NULL, NULL);
    say("block-accept FAIL accept returned %d", c);
    return 1;
}

static int mode_busy_syscall(void)
{
    unsigned long calls = 0;
    say("busy-syscall ready");
    for (;;) {
        calls += getppid() > 0;
        if ((calls & 0xfffff) == 0)
            say("busy-syscall %lu calls", calls);
    }
    return 1;
}

static void *spin_syscalls(void *p)
{
    (void)p;
    for (;;)
        syscall(SYS_getpid);
    return NULL;
}

static int mode_busy_threads(void)
{
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        if (pthread_create(&t[i], NULL, spin_syscalls, NULL) != 0)
            return 1;
    say("busy-threads ready");
    pthread_join(t[0], NULL);
    return 1;
}

/* Allocates and touches 1 MiB blocks until malloc fails (or at most `max` blocks); returns how many it got. */
static int grab(char **blocks, int max)
{
    int n = 0;
    while (n < max) {
        char *b = malloc(1 << 20);
        if (!b)
            break;
        memset(b, n, 1 << 20);
        blocks[n++] = b;
    }
    return n;
}

static int mode_oom_limit(void)
{
    static char *blocks[256];
    struct rlimit r = { 96 << 20, 96 << 20 };
    if (setrlimit(RLIMIT_AS, &r) != 0) {
        say("oom-limit FAIL setrlimit: %s", strerror(errno));
        return 1;
    }
    int n = grab(blocks, 256);
    int err = errno;
    int intact = 1;
    for (int i = 0; i < n; i++)
        intact &= blocks[i][i % (1 << 20)] == (char)i && blocks[i][(1 << 20) - 1] == (char)i;
    for (int i = 0; i < n; i++)
        free(blocks[i]);
    /* After the failure the heap works again. */
    int again = grab(blocks, 16);
    for (int i = 0; i < again; i++)
        free(blocks[i]);
    int ok = n >= 16 && n <= 96 && err == ENOMEM && intact && again == 16;
    say("oom-limit %s malloc failed after %d MiB (%s), blocks %s, 16 MiB again: %d", ok ? "ok" : "FAIL", n,
        strerror(err), intact ? "intact" : "CORRUPT", again);
    return ok ? 0 : 1;
}

static int mode_oom_kill(void)
{
    static char *blocks[4096];
    say("oom-kill ready");
    int n = grab(blocks, 4096);
    say("oom-kill malloc failed after %d MiB without being killed (%s)", n, strerror(errno));
    return 3;
}

static void *sleeper(void *p)
{
    (void)p;
    for (;;) {
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void *crasher(void *p)
{
    (void)p;
    struct timespec ts = { 0, 100000000 };
    nanosleep(&ts, NULL);
    say("segv-thread crashing");
    *(volatile int *)0 = 1;
    return NULL;
}

static int mode_segv_thread(void)
{
    pthread_t t[4];
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, sleeper, NULL);
    pthread_create(&t[3], NULL, crasher, NULL);
    pthread_join(t[0], NULL);
    say("segv-thread FAIL survived");
    return 1;
}

static atomic_long usr1, usr2, thread_hits;
static volatile sig_atomic_t stop;

static void on_usr1(int s) { (void)s; atomic_fetch_add(&usr1, 1); }
static void on_usr2(int s) { (void)s; atomic_fetch_add(&usr2, 1); }
static void on_rt(int s) { (void)s; atomic_fetch_add(&thread_hits, 1); }
static void on_term(int s) { (void)s; stop = 1; }

struct peer { pid_t tid; pthread_t self; atomic_int *ready; pid_t *other; long sent, errors; };

static void *storm_thread(void *p)
{
    struct peer *me = p;
    me->tid = (pid_t)syscall(SYS_gettid);
    atomic_fetch_add(me->ready, 1);
    while (atomic_load(me->ready) < 2)
        sched_yield();
    for (int i = 0; i < 20000; i++)
        if (syscall(SYS_tgkill, getpid(), *me->other, SIGRTMIN) == 0)
            me->sent++;
        else if (errno != EAGAIN) /* EAGAIN: the queue of real-time signals is full (RLIMIT_SIGPENDING) */
            me->errors++;
    /* Stay alive until the other thread is done too: a tgkill to an exited thread is ESRCH. */
    atomic_fetch_add(me->ready, 1);
    while (atomic_load(me->ready) < 4)
        sched_yield();
    return NULL;
}

/* True when raise() delivers the signal before it returns, `times` times in a row. */
static int raise_delivers(int times)
{
    for (int i = 0; i < times; i++) {
        long before = atomic_load(&usr1);
        raise(SIGUSR1);
        if (atomic_load(&usr1) != before + 1)
            return 0;
    }
    return 1;
}

static void handle(int sig, void (*fn)(int))
{
    struct sigaction sa = { 0 };
    sa.sa_flags = SA_RESTART;
    sa.sa_handler = fn;
    sigaction(sig, &sa, NULL);
}

/*
 * The storm comes from outside (the init script runs two `faults send-storm PID N`) and from inside (two threads
 * tgkill each other); main moves checked messages through a pipe until SIGTERM, then checks that nothing was
 * corrupted, every kind of signal arrived and raise() still delivers at once.
 */
static int mode_signal_storm(void)
{
    handle(SIGUSR1, on_usr1);
    handle(SIGUSR2, on_usr2);
    handle(SIGRTMIN, on_rt);
    handle(SIGTERM, on_term);

    atomic_int ready = 0;
    struct peer peers[2];
    memset(peers, 0, sizeof peers);
    for (int i = 0; i < 2; i++) {
        peers[i].ready = &ready;
        peers[i].other = &peers[1 - i].tid;
    }
    for (int i = 0; i < 2; i++)
        pthread_create(&peers[i].self, NULL, storm_thread, &peers[i]);

    int p[2], corrupt = 0;
    long messages = 0;
    if (pipe(p) != 0)
        return 1;
    say("signal-storm ready");
    while (!stop && messages < 100000000) {
        unsigned char out[64], in[64];
        for (int j = 0; j < 64; j++)
            out[j] = (unsigned char)(messages * 31 + j);
        if (write(p[1], out, sizeof out) != sizeof out)
            corrupt++;
        size_t got = 0;
        while (got < sizeof in) {
            ssize_t n = read(p[0], in + got, sizeof in - got);
            if (n <= 0) {
                if (n < 0 && errno == EINTR)
                    continue;
                corrupt++;
                break;
            }
            got += (size_t)n;
        }
        corrupt += memcmp(in, out, sizeof in) != 0;
        messages++;
    }
    for (int i = 0; i < 2; i++)
        pthread_join(peers[i].self, NULL);
    int after_ok = raise_delivers(100);
    long sent = peers[0].sent + peers[1].sent, errors = peers[0].errors + peers[1].errors;
    int ok = stop && corrupt == 0 && after_ok && atomic_load(&usr1) > 0 && atomic_load(&usr2) > 0 &&
             atomic_load(&thread_hits) > 0 && sent > 0 && errors == 0;
    say("signal-storm %s messages %ld usr1 %ld usr2 %ld tgkill %ld/%ld (errors %ld) pipe errors %d raise afterwards %s",
        ok ? "ok" : "FAIL", messages, atomic_load(&usr1), atomic_load(&usr2), atomic_load(&thread_hits), sent, errors,
        corrupt, after_ok ? "ok" : "FAIL");
    return ok ? 0 : 1;
}

/* send-storm PID N: N SIGUSR1 and N SIGUSR2 to PID, alternating; exit 0 if every kill() succeeded. */
static int mode_send_storm(int argc, char **argv)
{
    if (argc < 4)
        return 2;
    pid_t pid = (pid_t)atoi(argv[2]);
    long n = atol(argv[3]), failed = 0;
    for (long i = 0; i < n; i++)
        failed += (kill(pid, SIGUSR1) != 0) + (kill(pid, SIGUSR2) != 0);
    say("send-storm %ld signals to %d, %ld failed", 2 * n, (int)pid, failed);
    return failed != 0;
}

/*
 * raise-after-fork: a fork child that exits at once, then raise() must still deliver to the parent. In ring 0 the
 * image's .data/.bss are shared by fork children (docs/kernel.md), so the child's musl rewrites the main thread's
 * descriptor (its tid) in .bss, and the parent's raise() goes to the child's tid: the signal is lost. Only a kernel
 * with per-process data (slot ABI v2 feature) passes this natively and in ring 0.
 */
static int mode_raise_after_fork(void)
{
    handle(SIGUSR1, on_usr1);
    pid_t k = fork();
    if (k == 0)
        _exit(0);
    waitpid(k, NULL, 0);
    int ok = raise_delivers(100);
    say("raise-after-fork %s", ok ? "ok" : "FAIL signal not delivered");
    return ok ? 0 : 1;
}

static const struct { const char *name; int (*run)(void); } modes[] = {
    { "ok", mode_ok },
    { "block-read", mode_block_read },
    { "block-accept", mode_block_accept },
    { "busy-syscall", mode_busy_syscall },
    { "busy-threads", mode_busy_threads },
    { "oom-limit", mode_oom_limit },
    { "oom-kill", mode_oom_kill },
    { "segv-thread", mode_segv_thread },
    { "signal-storm", mode_signal_storm },
    { "raise-after-fork", mode_raise_after_fork },
};

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "send-storm") == 0)
        return mode_send_storm(argc, argv);
    for (size_t i = 0; argc > 1 && i < sizeof modes / sizeof modes[0]; i++)
        if (strcmp(argv[1], modes[i].name) == 0)
            return modes[i].run();
    say("usage: faults MODE (ok, block-read, block-accept, busy-syscall, busy-threads, oom-limit, oom-kill, segv-thread, signal-storm, send-storm PID N, raise-after-fork)");
    return 2;
}
