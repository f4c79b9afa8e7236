/*
 * ring0: what running in ring 0 must not change for a program, on the UKL musl (toolchain/build-musl),
 * linked by ukl-link and run as /UKL. Each check prints one line "ring0: NAME ok ..." or "ring0: NAME FAIL ...";
 * the exit status is the number of failures. The same objects also link into an ordinary static executable
 * (ring0-native), which must behave the same as a user process.
 *
 * Usage: ring0 CHECK... (or "all" for every check that needs nothing from outside)
 *   stack-grow      recursion that touches 4 MiB below the initial stack: it grows by page faults
 *   stack-protect   a thread mprotects a page of its own stack and touches it: SIGSEGV (handled on a sigaltstack)
 *   stack-unmap     a thread munmaps a page of its own stack and touches it: SIGSEGV with SEGV_MAPERR
 *   sigaltstack     SIGALRM every millisecond, handled on a fresh (untouched) alternate stack, while the program
 *                   computes; every handler checks where it runs and what it computes (run it under load)
 *   fork50          50 children alive at once, each with its own copy-on-write memory, exit statuses 1..50
 *   cpus SECONDS    one CPU-bound thread pinned to each online CPU; each checks it stays there
 *   migrate         threads that move themselves from CPU to CPU while computing
 *   atomics         8 threads: an atomic counter, a counter under a mutex (futex) and a checksum
 *   smap            with EFLAGS.AC cleared an access to the program's memory is SIGSEGV under SMAP (child)
 *   bad-iret        a signal handler that sets a non-canonical return address: SIGSEGV, not a kernel crash (child)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#define CHECK_PREFIX "ring0"
#include "../common/check.h"

static long status_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, field, n) && line[n] == ':')
            kb = atol(line + n + 1);
    if (f)
        fclose(f);
    return kb;
}

/* ---- stack-grow ---------------------------------------------------------------------------------------------- */

/* Each level puts 4000 bytes on the stack and checks them on the way back. */
__attribute__((noinline)) static long deep(int level, uintptr_t *lowest)
{
    volatile unsigned char frame[4000];
    for (unsigned i = 0; i < sizeof frame; i += 64)
        frame[i] = (unsigned char)(level + i);
    if ((uintptr_t)frame < *lowest)
        *lowest = (uintptr_t)frame;
    long below = level > 0 ? deep(level - 1, lowest) : 0;
    long sum = 0;
    for (unsigned i = 0; i < sizeof frame; i += 64)
        sum += frame[i] == (unsigned char)(level + i);
    return below + sum;
}

static void check_stack_grow(void)
{
    const int levels = 1100; /* about 4.3 MiB */
    long before = status_kb("VmStk");
    uintptr_t top = (uintptr_t)&before, lowest = top;
    long good = deep(levels - 1, &lowest);
    long after = status_kb("VmStk");
    long want = (long)levels * (4000 / 64 + (4000 % 64 != 0));
    check("stack-grow", good == want && top - lowest >= (4u << 20) && after >= before + 4096,
          "%ld of %ld bytes written and read back over %lu KiB of stack; VmStk %ld kB -> %ld kB", good, want,
          (unsigned long)((top - lowest) >> 10), before, after);
}

/* ---- stack-protect / stack-unmap ----------------------------------------------------------------------------- */

static __thread sigjmp_buf fault_jmp;
static __thread volatile void *fault_addr;
static __thread volatile int fault_code;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    fault_addr = si->si_addr;
    fault_code = si->si_code;
    siglongjmp(fault_jmp, 1);
}

struct stack_test { int unmap; int ok; char detail[200]; };

static void *stack_thread(void *arg)
{
    struct stack_test *t = arg;
    /* SIGSEGV from the thread's own stack: the handler needs a stack of its own. */
    size_t alt_size = 64 * 1024;
    void *alt = mmap(NULL, alt_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    stack_t ss = { .ss_sp = alt, .ss_size = alt_size };
    sigaltstack(&ss, NULL);

    /* A page 64 KiB below the current stack pointer, inside the thread's stack mapping. */
    volatile char here;
    uintptr_t page = (((uintptr_t)&here) & ~4095ul) - 16 * 4096;
    volatile char *p = (volatile char *)page;
    *p = 1; /* present and writable before */
    int r = t->unmap ? munmap((void *)page, 4096) : mprotect((void *)page, 4096, PROT_NONE);
    int faulted = 0;
    if (sigsetjmp(fault_jmp, 1) == 0)
        *p = 2;
    else
        faulted = 1;
    int want_code = t->unmap ? SEGV_MAPERR : SEGV_ACCERR;
    int restored = -1;
    if (!t->unmap && mprotect((void *)page, 4096, PROT_READ | PROT_WRITE) == 0) {
        *p = 3;
        restored = *p == 3;
    }
    t->ok = r == 0 && faulted && fault_addr == (void *)page && fault_code == want_code && (t->unmap || restored == 1);
    snprintf(t->detail, sizeof t->detail, "%s %#lx: %d, touch %s at %p code %d (want %d)%s",
             t->unmap ? "munmap" : "mprotect", (unsigned long)page, r, faulted ? "faulted" : "did not fault",
             fault_addr, fault_code, want_code, t->unmap ? "" : restored == 1 ? ", writable again after mprotect" : ", NOT writable again");
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, NULL);
    munmap(alt, alt_size);
    return NULL;
}

static void check_own_stack(int unmap)
{
    struct sigaction sa = { .sa_sigaction = on_segv, .sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER };
    sigaction(SIGSEGV, &sa, NULL);
    struct stack_test t = { .unmap = unmap };
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 1 << 20);
    pthread_t th;
    int r = pthread_create(&th, &attr, stack_thread, &t);
    if (r == 0)
        pthread_join(th, NULL);
    signal(SIGSEGV, SIG_DFL);
    check(unmap ? "stack-unmap" : "stack-protect", r == 0 && t.ok, "%s", r ? "pthread_create failed" : t.detail);
}

/* ---- sigaltstack --------------------------------------------------------------------------------------------- */

static char *alt_lo, *alt_hi;
static uint32_t handler_crc; /* what every handler must compute, set before the storm */
static volatile long handled, handler_errors;
static volatile uintptr_t worst_sp = UINTPTR_MAX;

static uint32_t crc32(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    while (n--) {
        c ^= *p++;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & -(c & 1));
    }
    return ~c;
}

static void on_alarm_alt(int sig)
{
    (void)sig;
    unsigned char buf[1024]; /* on the alternate stack, with the crc's frames below */
    for (unsigned i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)(i * 7 + 3);
    uintptr_t sp = (uintptr_t)buf;
    if (sp < (uintptr_t)alt_lo || sp >= (uintptr_t)alt_hi || crc32(buf, sizeof buf) != handler_crc)
        handler_errors++;
    if (sp < worst_sp)
        worst_sp = sp;
    handled++;
}

static double now(void);

static uint64_t compute(void)
{
    uint64_t s = 0;
    for (uint64_t i = 0; i < 5000000; i++)
        s = (s ^ (i * 0x9e3779b97f4a7c15ULL)) * 31 + (s >> 17);
    return s;
}

static void check_sigaltstack(void)
{
    /* The CRC the handler expects, computed here without signals. */
    unsigned char ref[1024];
    for (unsigned i = 0; i < sizeof ref; i++)
        ref[i] = (unsigned char)(i * 7 + 3);
    handler_crc = crc32(ref, sizeof ref);

    size_t size = 256 * 1024; /* mapped, never touched: the handlers fault it in */
    alt_lo = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    alt_hi = alt_lo + size;
    stack_t ss = { .ss_sp = alt_lo, .ss_size = size };
    int r = sigaltstack(&ss, NULL);
    struct sigaction sa = { .sa_handler = on_alarm_alt, .sa_flags = SA_ONSTACK | SA_RESTART };
    sigaction(SIGALRM, &sa, NULL);

    /* The main computation, first with SIGALRM blocked, then again and again under the storm (until 100 handlers
       ran, at most 8 s); every result must be the first one. */
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGALRM);
    sigprocmask(SIG_BLOCK, &block, NULL);
    uint64_t expect = compute(), got = expect;
    int passes = 0, wrong = 0;
    sigprocmask(SIG_UNBLOCK, &block, NULL);
    struct itimerval it = { .it_interval = { 0, 1000 }, .it_value = { 0, 1000 } };
    setitimer(ITIMER_REAL, &it, NULL);
    double end = now() + 8;
    while (passes < 2 || (handled < 100 && now() < end)) {
        got = compute();
        wrong += got != expect;
        passes++;
    }
    struct itimerval off = { 0 };
    setitimer(ITIMER_REAL, &off, NULL);
    signal(SIGALRM, SIG_IGN);
    check("sigaltstack", r == 0 && handled >= 50 && handler_errors == 0 && wrong == 0,
          "%ld handlers on the alternate stack (deepest %lu bytes into it), %ld wrong; %d of %d interrupted computations changed",
          handled, (unsigned long)(alt_hi - (char *)worst_sp), handler_errors, wrong, passes);
}

/* ---- fork50 -------------------------------------------------------------------------------------------------- */

static void check_fork50(void)
{
    enum { N = 50, TOUCH = 512 * 1024 };
    int ready[2], go[2];
    pipe(ready);
    pipe(go);
    /* Memory the children inherit copy-on-write and then write: each gets its own copy. */
    unsigned char *shared = malloc(TOUCH);
    memset(shared, 0x5a, TOUCH);
    int started = 0;
    for (int i = 0; i < N; i++) {
        pid_t pid = fork();
        if (pid < 0)
            break;
        if (pid == 0) {
            close(ready[0]);
            close(go[1]);
            int bad = 0;
            for (size_t k = 0; k < TOUCH; k += 4096) {
                bad |= shared[k] != 0x5a;
                shared[k] = (unsigned char)i;
            }
            write(ready[1], "r", 1);
            char c;
            read(go[0], &c, 1); /* until the parent saw all 50 alive */
            for (size_t k = 0; k < TOUCH; k += 4096)
                bad |= shared[k] != (unsigned char)i;
            _exit(bad ? 100 : i + 1);
        }
        started++;
    }
    close(ready[1]);
    close(go[0]);
    int alive = 0;
    char c;
    while (alive < started && read(ready[0], &c, 1) == 1)
        alive++;
    long mem_free = -1;
    {
        FILE *f = fopen("/proc/meminfo", "r");
        char line[128];
        while (f && fgets(line, sizeof line, f))
            if (sscanf(line, "MemAvailable: %ld", &mem_free) == 1)
                break;
        if (f)
            fclose(f);
    }
    close(go[1]); /* all children see EOF and finish */
    unsigned char seen[N + 1] = { 0 };
    int reaped = 0, bad = 0;
    for (int i = 0; i < started; i++) {
        int st;
        if (wait(&st) < 0)
            break;
        reaped++;
        if (WIFEXITED(st) && WEXITSTATUS(st) >= 1 && WEXITSTATUS(st) <= N && !seen[WEXITSTATUS(st)])
            seen[WEXITSTATUS(st)] = 1;
        else
            bad++;
    }
    int parent_ok = 1;
    for (size_t k = 0; k < TOUCH; k += 4096)
        parent_ok &= shared[k] == 0x5a;
    free(shared);
    check("fork50", started == N && alive == N && reaped == N && bad == 0 && parent_ok,
          "%d forked, %d alive at once (MemAvailable %ld kB then), %d reaped with distinct statuses 1..%d, %d wrong; parent's copy %s",
          started, alive, mem_free, reaped - bad, N, bad, parent_ok ? "intact" : "CHANGED");
}

/* ---- cpus / migrate / atomics -------------------------------------------------------------------------------- */

struct cpu_arg { int cpu; double seconds; long work; int moved; int set; };

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *cpu_thread(void *p)
{
    struct cpu_arg *a = p;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(a->cpu, &set);
    a->set = sched_setaffinity(0, sizeof set, &set);
    double end = now() + a->seconds;
    volatile uint64_t x = 1;
    while (now() < end) {
        for (int i = 0; i < 200000; i++)
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        a->work++;
        if (sched_getcpu() != a->cpu)
            a->moved++;
    }
    return NULL;
}

static void check_cpus(double seconds)
{
    int n = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1 || n > 64)
        n = 1;
    pthread_t t[64];
    struct cpu_arg a[64];
    printf("ring0: cpus-start %d CPUs online\n", n);
    fflush(stdout);
    int ok = 1;
    for (int i = 0; i < n; i++) {
        a[i] = (struct cpu_arg){ .cpu = i, .seconds = seconds };
        ok &= pthread_create(&t[i], NULL, cpu_thread, &a[i]) == 0;
    }
    char detail[200] = "";
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
        ok &= a[i].set == 0 && a[i].moved == 0 && a[i].work > 0;
        len += snprintf(detail + len, sizeof detail - len, " cpu%d:%ld", i, a[i].work);
    }
    check("cpus", ok, "%d threads, one pinned to each CPU, work units%s", n, detail);
}

struct mig_arg { int index, ncpu; long visits[64]; uint64_t sum; int errors; };

static void *mig_thread(void *p)
{
    struct mig_arg *a = p;
    uint64_t s = (uint64_t)a->index;
    for (int round = 0; round < 40; round++) {
        int cpu = (a->index + round) % a->ncpu;
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        if (sched_setaffinity(0, sizeof set, &set)) {
            a->errors++;
            continue;
        }
        if (sched_getcpu() != cpu)
            a->errors++;
        else
            a->visits[cpu]++;
        for (int i = 0; i < 50000; i++)
            s = s * 2862933555777941757ULL + 3037000493ULL + (uint64_t)round;
    }
    a->sum = s;
    return NULL;
}

static uint64_t mig_expected(int index)
{
    uint64_t s = (uint64_t)index;
    for (int round = 0; round < 40; round++)
        for (int i = 0; i < 50000; i++)
            s = s * 2862933555777941757ULL + 3037000493ULL + (uint64_t)round;
    return s;
}

static void check_migrate(void)
{
    int n = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1 || n > 64)
        n = 1;
    enum { T = 4 };
    pthread_t t[T];
    static struct mig_arg a[T];
    int ok = 1, cpus_visited = 0;
    for (int i = 0; i < T; i++) {
        a[i] = (struct mig_arg){ .index = i, .ncpu = n };
        ok &= pthread_create(&t[i], NULL, mig_thread, &a[i]) == 0;
    }
    for (int i = 0; i < T; i++) {
        pthread_join(t[i], NULL);
        ok &= a[i].errors == 0 && a[i].sum == mig_expected(i);
    }
    for (int c = 0; c < n; c++) {
        long v = 0;
        for (int i = 0; i < T; i++)
            v += a[i].visits[c];
        cpus_visited += v > 0;
    }
    check("migrate", ok && cpus_visited == n, "%d threads moved themselves over %d of %d CPUs 40 times each; results %s",
          T, cpus_visited, n, ok ? "correct" : "WRONG");
}

enum { ATHREADS = 8, AROUNDS = 100000 };
static long atomic_counter, locked_counter;
static uint64_t locked_sum;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void *atomics_thread(void *p)
{
    uint64_t id = (uint64_t)(uintptr_t)p;
    for (int i = 0; i < AROUNDS; i++) {
        __atomic_fetch_add(&atomic_counter, 1, __ATOMIC_RELAXED);
        if (i % 4 == 0) {
            pthread_mutex_lock(&lock);
            locked_counter++;
            locked_sum += id * 1000003u + (uint64_t)i;
            pthread_mutex_unlock(&lock);
        }
    }
    return NULL;
}

static void check_atomics(void)
{
    pthread_t t[ATHREADS];
    int ok = 1;
    for (uintptr_t i = 0; i < ATHREADS; i++)
        ok &= pthread_create(&t[i], NULL, atomics_thread, (void *)i) == 0;
    for (int i = 0; i < ATHREADS; i++)
        pthread_join(t[i], NULL);
    uint64_t want = 0;
    for (uint64_t id = 0; id < ATHREADS; id++)
        for (int i = 0; i < AROUNDS; i += 4)
            want += id * 1000003u + (uint64_t)i;
    check("atomics", ok && atomic_counter == (long)ATHREADS * AROUNDS && locked_counter == (long)ATHREADS * AROUNDS / 4 &&
          locked_sum == want, "atomic %ld mutex %ld sum %llx (want %ld %ld %llx)", atomic_counter, locked_counter,
          (unsigned long long)locked_sum, (long)ATHREADS * AROUNDS, (long)ATHREADS * AROUNDS / 4, (unsigned long long)want);
}

/* ---- smap / bad-iret: in children, which may die ------------------------------------------------------------- */

static int cpu_has(const char *flag)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[4096];
    int found = 0;
    size_t n = strlen(flag);
    while (f && !found && fgets(line, sizeof line, f)) {
        if (strncmp(line, "flags", 5))
            continue;
        for (char *p = strstr(line, flag); p && !found; p = strstr(p + 1, flag))
            found = p[-1] == ' ' && (p[n] == ' ' || p[n] == '\n');
    }
    if (f)
        fclose(f);
    return found;
}

/* Reads *p with EFLAGS.AC cleared (pushf/popf work on any CPU, unlike clac), then sets it again. */
static int read_without_ac(volatile int *p)
{
    int v;
    __asm__ volatile("pushfq\n\tandq $~0x40000, (%%rsp)\n\tpopfq\n\t"
                     "movl (%1), %0\n\t"
                     "pushfq\n\torq $0x40000, (%%rsp)\n\tpopfq"
                     : "=r"(v) : "r"(p) : "memory", "cc");
    return v;
}

static int child_status(void (*fn)(void))
{
    pid_t pid = fork();
    if (pid == 0) {
        fn();
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return st;
}

static volatile int *smap_target;

static void smap_child(void)
{
    int v = read_without_ac(smap_target);
    _exit(v == 42 ? 7 : 8);
}

static void check_smap(void)
{
    int smap = cpu_has("smap");
    smap_target = malloc(sizeof(int));
    *smap_target = 42;
    int st = child_status(smap_child);
    /* In ring 0 with SMAP the program's own memory is a user page: AC=0 makes the access a SMAP violation. A user
       process is at CPL 3, where SMAP does not apply. */
    unsigned short cs;
    __asm__("mov %%cs, %0" : "=r"(cs));
    int ring0 = (cs & 3) == 0;
    int want_segv = smap && ring0;
    int ok = want_segv ? WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV : WIFEXITED(st) && WEXITSTATUS(st) == 7;
    check("smap", ok, "SMAP %s, %s: the access with AC=0 %s", smap ? "on" : "off", ring0 ? "ring 0" : "user mode",
          WIFSIGNALED(st) ? (WTERMSIG(st) == SIGSEGV ? "got SIGSEGV" : "died otherwise")
          : WEXITSTATUS(st) == 7 ? "read the value" : "read garbage");
}

static void on_usr1_bad(int sig, siginfo_t *si, void *ucp)
{
    (void)sig;
    (void)si;
    ucontext_t *uc = ucp;
    uc->uc_mcontext.gregs[REG_RIP] = (greg_t)0x8000000000001000ull; /* non-canonical */
}

static void bad_iret_child(void)
{
    struct sigaction sa = { .sa_sigaction = on_usr1_bad, .sa_flags = SA_SIGINFO };
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    _exit(9); /* not reached: sigreturn goes to a non-canonical address */
}

static void check_bad_iret(void)
{
    int st = child_status(bad_iret_child);
    check("bad-iret", WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "sigreturn to a non-canonical address: %s %d",
          WIFSIGNALED(st) ? "signal" : "exit", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 1; i < argc; i++) {
        const char *c = argv[i];
        int all = !strcmp(c, "all");
        if (all || !strcmp(c, "stack-grow"))
            check_stack_grow();
        if (all || !strcmp(c, "stack-protect"))
            check_own_stack(0);
        if (all || !strcmp(c, "stack-unmap"))
            check_own_stack(1);
        if (all || !strcmp(c, "sigaltstack"))
            check_sigaltstack();
        if (all || !strcmp(c, "fork50"))
            check_fork50();
        if (!strcmp(c, "cpus"))
            check_cpus(i + 1 < argc ? atof(argv[++i]) : 3.0);
        if (all || !strcmp(c, "migrate"))
            check_migrate();
        if (all || !strcmp(c, "atomics"))
            check_atomics();
        if (all || !strcmp(c, "smap"))
            check_smap();
        if (all || !strcmp(c, "bad-iret"))
            check_bad_iret();
    }
    printf("ring0: done failures %d\n", failures);
    return failures;
}
