/*
 * perproc: per-process .data/.bss, an ordinary C program on musl (toolchain/build-musl). Linked by
 * ukl-link it runs as /UKL in ring 0; the same source built as a normal static executable (perproc-native) is the
 * native reference the tests compare it with, in the same boot.
 *
 * The globals below live in the application's data slot (.data), bss slot (.bss) and TLS (the template in the data
 * slot; musl keeps the main thread's block in .bss). Every check prints one line "perproc: NAME ok|FAIL detail";
 * the exit status is the number of failures.
 *
 *   perproc fork                     fork, threads and futexes on the globals (the scenario)
 *   perproc instance NAME MS         set the globals from NAME, keep checking them for MS ms (concurrent instances)
 *   perproc smp CPU MS VALUE         on CPU, MS ms of writing and reading the globals without system calls
 *   perproc children N               N idle forked children; prints memory figures (bench/perproc-memory)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int g_data = 5;                 /* .data */
long g_bss;                     /* .bss */
__thread int t_var = 11;        /* TLS, initialised from the template */
char g_str[64];                 /* .bss */
int g_fword;                    /* .bss: a futex word */
int g_fword2 = 1;               /* .data: a futex word */

/* <linux/futex.h> is not part of musl's headers */
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_WAKE_PRIVATE (FUTEX_WAKE | 128)

#define CHECK_PREFIX "perproc"
#include "../common/check.h"

static long futex(int *word, int op, int val, const struct timespec *timeout)
{
    return syscall(SYS_futex, word, op, val, timeout, NULL, 0);
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* Every exec starts from the linked .data and a zeroed .bss. */
static void pristine(void)
{
    check("pristine", g_data == 5 && g_bss == 0 && t_var == 11 && g_str[0] == 0 && g_fword == 0 && g_fword2 == 1,
          "data %d bss %ld tls %d str '%s'", g_data, g_bss, t_var, g_str);
}

static void report(const char *who, char *buf, size_t len)
{
    snprintf(buf, len, "%s data %d bss %ld tls %d str '%s'", who, g_data, g_bss, t_var, g_str);
}

/*
 * The scenario: after fork the child changes every global; the parent keeps 5, 0, 11 and an empty string.
 * Then the parent changes them while the child still runs; the child keeps its own.
 */
static void fork_globals(void)
{
    int c2p[2], p2c[2];
    char c, parent_view[160], child_view[160];
    if (pipe(c2p) || pipe(p2c)) {
        check("fork", 0, "pipe: %s", strerror(errno));
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        g_data = 6;
        g_bss = 77;
        t_var = 12;
        strcpy(g_str, "child");
        report("child", child_view, sizeof child_view);
        if (write(c2p[1], "w", 1) != 1 || read(p2c[0], &c, 1) != 1)
            _exit(100);
        /* the parent has written its own values by now */
        int ok = g_data == 6 && g_bss == 77 && t_var == 12 && !strcmp(g_str, "child");
        char after[160];
        report("child-after-parent-write", after, sizeof after);
        printf("perproc: fork-child %s %s; %s\n", ok ? "ok" : "FAIL", child_view, after);
        fflush(stdout);
        _exit(ok ? 0 : 1);
    }
    if (pid < 0 || read(c2p[0], &c, 1) != 1) {
        check("fork", 0, "fork/read: %s", strerror(errno));
        return;
    }
    /* The child has changed its globals. */
    report("parent", parent_view, sizeof parent_view);
    int parent_ok = g_data == 5 && g_bss == 0 && t_var == 11 && g_str[0] == 0;
    g_data = 50;
    g_bss = 500;
    t_var = 110;
    strcpy(g_str, "parent");
    int status = -1;
    if (write(p2c[1], "p", 1) != 1 || waitpid(pid, &status, 0) != pid)
        status = -1;
    check("fork", parent_ok && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "%s; child exit %d", parent_view, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    close(c2p[0]); close(c2p[1]); close(p2c[0]); close(p2c[1]);
}

/* A second fork sees the parent's values at the time of the fork (copy-on-write copy, not the linked .data). */
static void fork_sees_parent(void)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(g_data == 50 && g_bss == 500 && t_var == 110 && !strcmp(g_str, "parent") ? 0 : 1);
    int status = -1;
    waitpid(pid, &status, 0);
    check("fork-copy", WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "child saw the parent's values at fork: exit %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

static void *thread_writes(void *arg)
{
    (void)arg;
    g_data = 7;
    g_bss = 88;
    strcpy(g_str, "thread");
    t_var = 13;
    return (void *)(long)t_var;
}

/* Threads share the process's .data/.bss; each has its own TLS. */
static void threads_share(void)
{
    pthread_t t;
    void *ret = NULL;
    int err = pthread_create(&t, NULL, thread_writes, NULL);
    if (!err)
        err = pthread_join(t, &ret);
    check("threads", !err && g_data == 7 && g_bss == 88 && !strcmp(g_str, "thread") && t_var == 110 && (long)ret == 13,
          "data %d bss %ld str '%s' main-tls %d thread-tls %ld", g_data, g_bss, g_str, t_var, (long)ret);
}

static void *thread_waits(void *arg)
{
    (void)arg;
    struct timespec to = { 2, 0 };
    long r = futex(&g_fword2, FUTEX_WAIT, 1, &to);     /* shared (no FUTEX_PRIVATE_FLAG) */
    return (void *)(r == 0 ? 0L : (long)errno);
}

/*
 * Futexes on the globals: a shared FUTEX_WAKE by the parent does not wake a forked child waiting on its own copy
 * of the word (different memory), and a thread of the same process is woken (same memory).
 */
static void futexes(void)
{
    int c2p[2];
    char c;
    if (pipe(c2p)) {
        check("futex", 0, "pipe: %s", strerror(errno));
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        struct timespec to = { 1, 0 };
        if (write(c2p[1], "w", 1) != 1)
            _exit(100);
        long r = futex(&g_fword, FUTEX_WAIT, 0, &to);
        _exit(r == -1 && errno == ETIMEDOUT ? 0 : 1);
    }
    if (pid < 0 || read(c2p[0], &c, 1) != 1) {
        check("futex", 0, "fork: %s", strerror(errno));
        return;
    }
    usleep(300 * 1000);
    long woken_shared = futex(&g_fword, FUTEX_WAKE, 1, NULL);
    long woken_private = futex(&g_fword, FUTEX_WAKE_PRIVATE, 1, NULL);
    int status = -1;
    waitpid(pid, &status, 0);

    pthread_t t;
    void *tret = (void *)-1L;
    long woken_thread = -1;
    if (!pthread_create(&t, NULL, thread_waits, NULL)) {
        for (int i = 0; i < 100 && woken_thread <= 0; i++) {
            usleep(20 * 1000);
            woken_thread = futex(&g_fword2, FUTEX_WAKE, 1, NULL);
        }
        pthread_join(t, &tret);
    }
    check("futex", woken_shared == 0 && woken_private == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
                   woken_thread == 1 && tret == NULL,
          "cross-process shared-wake %ld private-wake %ld child-timed-out %d; thread shared-wake %ld thread-woken %d",
          woken_shared, woken_private, WIFEXITED(status) && WEXITSTATUS(status) == 0, woken_thread, tret == NULL);
    close(c2p[0]); close(c2p[1]);
}

/* The page-table dump of this process's own kernel half (debugfs): the line that maps @addr. */
static void ptdump_line(const char *what, const void *addr)
{
    FILE *f = fopen("/sys/kernel/debug/page_tables/current_kernel", "r");
    char line[256], found[256] = "";
    if (!f) {
        printf("perproc: ptdump %s none (%s)\n", what, strerror(errno));
        return;
    }
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "0x%lx-0x%lx", &lo, &hi) == 2 && (uintptr_t)addr >= lo && (uintptr_t)addr < hi) {
            line[strcspn(line, "\n")] = 0;
            snprintf(found, sizeof found, "%s", line);
        }
    }
    fclose(f);
    printf("perproc: ptdump %s %p %s\n", what, addr, found[0] ? found : "unmapped");
}

static int mode_fork(void)
{
    pristine();
    fork_globals();
    fork_sees_parent();
    threads_share();
    futexes();
    if (access("/sys/kernel/debug/page_tables/current_kernel", R_OK) == 0) {
        ptdump_line("data", &g_data);
        ptdump_line("bss", &g_bss);
    }
    printf("perproc: done failures %d\n", failures);
    return failures;
}

static int mode_instance(const char *name, long ms)
{
    pristine();
    long value = 0;
    for (const char *p = name; *p; p++)
        value = value * 31 + (unsigned char)*p;
    g_data = (int)(value & 0x7fffffff);
    g_bss = getpid();
    t_var = (int)strlen(name);
    snprintf(g_str, sizeof g_str, "%s", name);
    long start = now_ms(), checks = 0, bad = 0;
    do {
        usleep(20 * 1000);
        checks++;
        if (g_data != (int)(value & 0x7fffffff) || g_bss != getpid() || t_var != (int)strlen(name) || strcmp(g_str, name))
            bad++;
    } while (now_ms() - start < ms);
    check("instance", bad == 0, "%s data %d bss %ld tls %d str '%s' checks %ld bad %ld",
          name, g_data, g_bss, t_var, g_str, checks, bad);
    return failures;
}

static int mode_smp(int cpu, long ms, int value)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set))
        check("smp", 0, "sched_setaffinity(%d): %s", cpu, strerror(errno));
    pristine();
    int on = sched_getcpu();
    g_data = value;
    long start = now_ms(), end, iterations = 0, mismatches = 0;
    volatile int *d = &g_data;
    volatile long *b = &g_bss;
    do {
        /* 2^20 rounds between clock reads: no system call while the other process does the same */
        for (long i = 0; i < (1L << 20); i++) {
            *b = (long)value * 1000 + (i & 0xff);
            if (*d != value || *b != (long)value * 1000 + (i & 0xff))
                mismatches++;
        }
        iterations += 1L << 20;
        end = now_ms();
    } while (end - start < ms);
    int on_end = sched_getcpu();
    check("smp", mismatches == 0 && on == cpu && on_end == cpu && g_data == value,
          "value %d cpu %d-%d start_ms %ld end_ms %ld iterations %ld mismatches %ld", value, on, on_end, start, end,
          iterations, mismatches);
    return failures;
}

static long status_kb(const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
    char line[256];
    long v = -1;
    size_t n = strlen(key);
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, key, n) && line[n] == ':') {
            v = strtol(line + n + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}

/*
 * Rss, Pss and Anonymous (KiB) of the mappings of process @pid that hold the globals (&g_data, &g_bss: the
 * application's .data/.bss VMAs; natively the executable's data segment and bss), from /proc/PID/smaps.
 */
static void globals_kb(int pid, long *rss, long *pss, long *anon)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/smaps", pid);
    FILE *f = fopen(path, "r");
    int in = 0;
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        long v;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {     /* a mapping's header line ("Anonymous:" gives 1) */
            in = ((uintptr_t)&g_data >= lo && (uintptr_t)&g_data < hi) || ((uintptr_t)&g_bss >= lo && (uintptr_t)&g_bss < hi);
            continue;
        }
        if (!in)
            continue;
        if (sscanf(line, "Rss: %ld", &v) == 1)
            *rss += v;
        else if (sscanf(line, "Pss: %ld", &v) == 1)
            *pss += v;
        else if (sscanf(line, "Anonymous: %ld", &v) == 1)
            *anon += v;
    }
    fclose(f);
}

/* N idle children (they only wait for SIGTERM): what does each cost? */
static int mode_children(int n)
{
    pid_t pids[64];
    int p[2];
    char c;
    if (n < 1 || n > 64 || pipe(p))
        return 1;
    /* Touch every global once, as a running program would have. */
    g_data = 9;
    g_bss = 9;
    t_var = 9;
    strcpy(g_str, "parent");
    long free_before = status_kb("/proc/meminfo", "MemFree");
    for (int i = 0; i < n; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            close(p[0]);
            if (write(p[1], "r", 1) != 1)
                _exit(1);
            for (;;)
                pause();
        }
        if (pids[i] < 0 || read(p[0], &c, 1) != 1)
            return 1;
    }
    usleep(500 * 1000);
    long free_after = status_kb("/proc/meminfo", "MemFree");
    long rss = 0, anon = 0, file = 0, shmem = 0, pte = 0, pss = 0, pss_n = 0;
    char path[64];
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "/proc/%d/status", pids[i]);
        rss += status_kb(path, "VmRSS");
        anon += status_kb(path, "RssAnon");
        file += status_kb(path, "RssFile");
        shmem += status_kb(path, "RssShmem");
        pte += status_kb(path, "VmPTE");
        snprintf(path, sizeof path, "/proc/%d/smaps_rollup", pids[i]);
        long v = status_kb(path, "Pss");
        if (v >= 0) {
            pss += v;
            pss_n++;
        }
    }
    long grss = 0, gpss = 0, ganon = 0, prss = 0, ppss = 0, panon = 0;
    for (int i = 0; i < n; i++)
        globals_kb(pids[i], &grss, &gpss, &ganon);
    globals_kb(getpid(), &prss, &ppss, &panon);
    printf("perproc: globals parent-rss-kb %ld parent-pss-kb %ld parent-anon-kb %ld "
           "child-rss-kb-avg %ld child-pss-kb-avg %ld child-anon-kb-avg %ld\n",
           prss, ppss, panon, grss / n, gpss / n, ganon / n);
    printf("perproc: children %d parent-rss-kb %ld parent-anon-kb %ld parent-pss-kb %ld "
           "child-rss-kb-avg %ld child-anon-kb-avg %ld child-file-kb-avg %ld child-shmem-kb-avg %ld child-pss-kb-avg %ld "
           "child-pte-kb-avg %ld "
           "memfree-drop-kb-per-child %ld\n",
           n, status_kb("/proc/self/status", "VmRSS"), status_kb("/proc/self/status", "RssAnon"),
           status_kb("/proc/self/smaps_rollup", "Pss"), rss / n, anon / n, file / n, shmem / n,
           pss_n ? pss / pss_n : -1, pte / n, (free_before - free_after) / n);
    fflush(stdout);
    for (int i = 0; i < n; i++)
        kill(pids[i], SIGTERM);
    for (int i = 0; i < n; i++)
        waitpid(pids[i], NULL, 0);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 2 && !strcmp(argv[1], "fork"))
        return mode_fork();
    if (argc >= 4 && !strcmp(argv[1], "instance"))
        return mode_instance(argv[2], atol(argv[3]));
    if (argc >= 5 && !strcmp(argv[1], "smp"))
        return mode_smp(atoi(argv[2]), atol(argv[3]), atoi(argv[4]));
    if (argc >= 3 && !strcmp(argv[1], "children"))
        return mode_children(atoi(argv[2]));
    fprintf(stderr, "usage: perproc fork | instance NAME MS | smp CPU MS VALUE | children N\n");
    return 2;
}
