/*
 * glibcapp: an ordinary C program for Debian's glibc, compiled with the distribution's flags only (gcc -O2 -c:
 * PIE code, -fstack-protector-strong, -fcf-protection) and no UKL flag. samples/glibc/Makefile links it twice:
 * with ukl-link into the kernel (crt1.o crti.o crtbeginS.o glibcapp.o libgcc.a libgcc_eh.a libc.a crtendS.o crtn.o)
 * and with gcc -static as an ordinary program. GlibcTests runs both in one boot and requires the same output.
 *
 * One line per check, "glibc: NAME ok DETAILS" or "glibc: NAME FAIL DETAILS"; everything printed must be the same
 * in ring 0 and natively (no pids, addresses or times). The exit status is the number of failures.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <math.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>
#include <wctype.h>
#include <ctype.h>

static int failures;

static void report(const char *name, int ok, const char *details)
{
    printf("glibc: %s %s %s\n", name, ok ? "ok" : "FAIL", details);
    if (!ok)
        failures++;
}

/* A constructor runs before main (.init_array from crtbeginS.o's frame_dummy on). */
static int constructed;
__attribute__((constructor)) static void construct(void) { constructed = 42; }

static void check_constructor(void)
{
    char d[32];
    snprintf(d, sizeof d, "value=%d", constructed);
    report("constructor", constructed == 42, d);
}

static void check_stdio(void)
{
    char buf[256];
    int n = snprintf(buf, sizeof buf, "%d|%5.2f|%e|%g|%x|%o|%s|%c|%lld|%zu|%-4s|%+d", -17, 3.14159, 12345.678, 0.0001,
                     255u, 8u, "str", 'q', -9000000000LL, (size_t)77, "ab", 5);
    const char *want = "-17| 3.14|1.234568e+04|0.0001|ff|10|str|q|-9000000000|77|ab  |+5";
    report("stdio", n == (int)strlen(want) && strcmp(buf, want) == 0, buf);

    double d = strtod("2.5e3", NULL);
    long l = strtol("-0x7f", NULL, 16);
    unsigned long u = strtoul("18446744073709551615", NULL, 10);
    snprintf(buf, sizeof buf, "%.1f %ld %lu", d, l, u);
    report("strto", d == 2500.0 && l == -127 && u == UINT64_MAX, buf);

    FILE *f = fmemopen(buf, sizeof buf, "w+");
    fprintf(f, "line %d\n", 1);
    fputs("line 2\n", f);
    rewind(f);
    char line[32];
    int lines = 0;
    while (fgets(line, sizeof line, f))
        lines++;
    fclose(f);
    snprintf(line, sizeof line, "lines=%d", lines);
    report("fmemopen", lines == 2, line);
}

/* memcpy, memset, strlen, strchr, memcmp, ... are IFUNCs in libc.a: every call went through .iplt and a slot that
   glibc's start-up filled from .rela.iplt. Compare them on unaligned, long and short buffers against loops. */
static void check_string(void)
{
    static char a[4096 + 64], b[4096 + 64];
    unsigned sum = 0;
    int ok = 1;
    for (int i = 0; i < (int)sizeof a; i++)
        a[i] = (char)(i * 7 + 3);
    for (int off = 0; off < 17; off++)
        for (int len = 0; len < 4000; len += 97)
        {
            memset(b, 0, sizeof b);
            memcpy(b + off, a + 1, (size_t)len);
            for (int i = 0; i < len; i++)
                ok &= b[off + i] == a[1 + i];
            ok &= memcmp(b + off, a + 1, (size_t)len) == 0;
            memmove(b + off + 3, b + off, (size_t)len);
            ok &= len == 0 || b[off + 3] == a[1];
            sum += (unsigned)len;
        }
    char s[300];
    memset(s, 'x', sizeof s - 1);
    s[sizeof s - 1] = 0;
    s[123] = 'y';
    ok &= strlen(s) == sizeof s - 1 && strchr(s, 'y') == s + 123 && strrchr(s, 'x') == s + sizeof s - 2;
    ok &= strcmp("abc", "abd") < 0 && strncmp("abcdef", "abcxyz", 3) == 0 && strstr(s, "xy") == s + 122;
    ok &= strcasecmp("HeLLo", "hello") == 0 && strnlen(s, 50) == 50 && strspn("aaab", "a") == 3 && strcspn("abc", "c") == 2;
    wchar_t w[40];
    wmemset(w, L'z', 39);
    w[39] = 0;
    ok &= wcslen(w) == 39 && wmemchr(w, L'z', 39) == w;
    char d[48];
    snprintf(d, sizeof d, "bytes=%u", sum);
    report("string-ifunc", ok, d);
}

static void check_malloc(void)
{
    unsigned long sum = 0;
    int ok = 1;
    void *blocks[200];
    for (int i = 0; i < 200; i++)
    {
        size_t size = (size_t)(i * 37 % 5000) + 1;
        blocks[i] = malloc(size);
        ok &= blocks[i] != NULL;
        memset(blocks[i], i, size);
        sum += size;
    }
    for (int i = 0; i < 200; i += 2)
        free(blocks[i]);
    for (int i = 1; i < 200; i += 2)
    {
        blocks[i] = realloc(blocks[i], 8000);
        ok &= ((unsigned char *)blocks[i])[0] == (unsigned char)i;
        free(blocks[i]);
    }
    char *big = malloc(64 << 20); /* mmap'd */
    ok &= big != NULL;
    if (big)
    {
        for (size_t i = 0; i < (64u << 20); i += 4096)
            big[i] = (char)i;
        ok &= big[4096 * 5] == (char)(4096 * 5);
        free(big);
    }
    int *zero = calloc(1000, sizeof *zero);
    for (int i = 0; i < 1000; i++)
        ok &= zero[i] == 0;
    free(zero);
    char d[48];
    snprintf(d, sizeof d, "sum=%lu", sum);
    report("malloc", ok, d);
}

/* Thread-local storage: the main thread's block comes from glibc's own start-up (__libc_setup_tls), each thread's
   from pthread_create. */
static __thread int tls_counter = 7;
static __thread char tls_name[16];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static long shared;
static int started;
static pthread_key_t key;
static int key_destroyed;
static void destroy_key(void *p) { __atomic_add_fetch(&key_destroyed, (int)(long)p, __ATOMIC_SEQ_CST); }

static void *worker(void *arg)
{
    long id = (long)arg;
    snprintf(tls_name, sizeof tls_name, "worker%ld", id);
    tls_counter += (int)id;
    pthread_setspecific(key, (void *)1);
    pthread_mutex_lock(&lock);
    started++;
    pthread_cond_broadcast(&cond);
    while (started < 4)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < 20000; i++)
    {
        pthread_mutex_lock(&lock);
        shared++;
        pthread_mutex_unlock(&lock);
    }
    return (void *)(long)(tls_counter * 100 + (tls_name[6] - '0'));
}

static void check_threads(void)
{
    pthread_t t[4];
    long results = 0;
    int ok = pthread_key_create(&key, destroy_key) == 0;
    for (long i = 0; i < 4; i++)
        ok &= pthread_create(&t[i], NULL, worker, (void *)i) == 0;
    for (int i = 0; i < 4; i++)
    {
        void *r;
        ok &= pthread_join(t[i], &r) == 0;
        results += (long)r;
    }
    char d[96];
    snprintf(d, sizeof d, "shared=%ld results=%ld main-tls=%d destructors=%d", shared, results, tls_counter, key_destroyed);
    report("threads", ok && shared == 80000 && results == 4 * 700 + 6 * 100 + 6 && tls_counter == 7 && key_destroyed == 4, d);
}

static void check_locale(void)
{
    char d[128];
    const char *c = setlocale(LC_ALL, "C");
    int ok = c != NULL && strcmp(c, "C") == 0 && toupper('a') == 'A' && MB_CUR_MAX == 1;
    snprintf(d, sizeof d, "C=%s", c ? c : "(null)");
    report("locale-c", ok, d);

    const char *u = setlocale(LC_ALL, "C.UTF-8");
    const char *text = "gr\xc3\xbc\xc3\x9f \xe2\x82\xac"; /* "grüß €" */
    wchar_t w[16];
    size_t n = u ? mbstowcs(w, text, 16) : (size_t)-1;
    char back[32];
    size_t m = n != (size_t)-1 ? wcstombs(back, w, sizeof back) : (size_t)-1;
    ok = u != NULL && n == 6 && w[2] == 0xfc && w[5] == 0x20ac && m == strlen(text) && strcmp(back, text) == 0
         && MB_CUR_MAX == 6 && iswalpha(0xfc) && towupper(0xfc) == 0xdc;
    snprintf(d, sizeof d, "locale=%s chars=%zu euro=%#x", u ? u : "(null)", n, n == 6 ? (unsigned)w[5] : 0u);
    report("locale-utf8", ok, d);
    setlocale(LC_ALL, "C");
}

static void check_getaddrinfo(void)
{
    struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV, .ai_socktype = SOCK_STREAM }, *res = NULL;
    char d[160], host[64];
    int e4 = getaddrinfo("10.1.2.3", "8080", &hints, &res);
    int ok = e4 == 0 && res && res->ai_family == AF_INET;
    if (ok)
    {
        struct sockaddr_in *sin = (struct sockaddr_in *)res->ai_addr;
        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof host);
        ok = ntohs(sin->sin_port) == 8080 && strcmp(host, "10.1.2.3") == 0;
        snprintf(d, sizeof d, "v4=%s:%d", host, ntohs(sin->sin_port));
    }
    else
        snprintf(d, sizeof d, "v4 error %d", e4);
    freeaddrinfo(res);
    res = NULL;
    int e6 = getaddrinfo("fe80::1:2", "443", &hints, &res);
    if (e6 == 0 && res && res->ai_family == AF_INET6)
    {
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)res->ai_addr)->sin6_addr, host, sizeof host);
        ok &= strcmp(host, "fe80::1:2") == 0;
        snprintf(d + strlen(d), sizeof d - strlen(d), " v6=%s", host);
    }
    else
    {
        ok = 0;
        snprintf(d + strlen(d), sizeof d - strlen(d), " v6 error %d", e6);
    }
    freeaddrinfo(res);
    res = NULL;
    ok &= getaddrinfo("not-a-number", "1", &hints, &res) == EAI_NONAME;
    report("getaddrinfo", ok, d);
}

static volatile sig_atomic_t usr1, alarms;
static void on_usr1(int sig, siginfo_t *info, void *ctx) { (void)ctx; usr1 += sig == SIGUSR1 && info->si_pid == getpid(); }
static void on_alarm(int sig) { alarms += sig == SIGALRM; }

static void check_signals(void)
{
    struct sigaction sa = { .sa_sigaction = on_usr1, .sa_flags = SA_SIGINFO };
    sigemptyset(&sa.sa_mask);
    int ok = sigaction(SIGUSR1, &sa, NULL) == 0;
    raise(SIGUSR1);
    kill(getpid(), SIGUSR1);
    /* Blocked, then delivered by sigsuspend. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigprocmask(SIG_BLOCK, &block, &old);
    kill(getpid(), SIGUSR1);
    ok &= usr1 == 2;
    sigsuspend(&old);
    sigprocmask(SIG_SETMASK, &old, NULL);
    signal(SIGALRM, on_alarm);
    struct itimerspec spec = { .it_value = { .tv_nsec = 20 * 1000 * 1000 } };
    timer_t timer;
    struct sigevent ev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGALRM };
    ok &= timer_create(CLOCK_MONOTONIC, &ev, &timer) == 0 && timer_settime(timer, 0, &spec, NULL) == 0;
    while (!alarms)
        pause();
    timer_delete(timer);
    /* A child's exit status through wait. */
    pid_t child = fork();
    if (child == 0)
        _exit(23);
    int status = 0;
    ok &= child > 0 && waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 23;
    char d[64];
    snprintf(d, sizeof d, "usr1=%d alarm=%d child=%d", (int)usr1, (int)alarms, WEXITSTATUS(status));
    report("signals", ok && usr1 == 3 && alarms == 1, d);
}

/* -fstack-protector-strong puts a canary (from AT_RANDOM, at %fs:0x28) in this frame. */
static __attribute__((noinline)) int fill(char *out, const char *in)
{
    char local[64];
    strncpy(local, in, sizeof local - 1);
    local[sizeof local - 1] = 0;
    return snprintf(out, 80, "%s/%zu", local, strlen(local));
}

static void check_misc(void)
{
    char d[160], out[80];
    fill(out, "canary");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct timespec nap = { 0, 5 * 1000 * 1000 };
    nanosleep(&nap, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long elapsed = (t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec);
    double r = sqrt(2.0) * cos(0.0) + pow(2.0, 10.0);
    char path[] = "/tmp/glibcapp.XXXXXX";
    int fd = mkstemp(path);
    int ok = fd >= 0 && write(fd, "data", 4) == 4 && lseek(fd, 0, SEEK_SET) == 0;
    char back[8] = { 0 };
    ok &= read(fd, back, 4) == 4 && strcmp(back, "data") == 0;
    close(fd);
    unlink(path);
    snprintf(d, sizeof d, "%s math=%.6f file=%s", out, r, back);
    report("misc", ok && elapsed >= 5000000 && strcmp(out, "canary/6") == 0 && fabs(r - 1025.414214) < 1e-6, d);
}

static int compare(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

static void check_qsort(void)
{
    int v[100];
    for (int i = 0; i < 100; i++)
        v[i] = (i * 37) % 101;
    qsort(v, 100, sizeof *v, compare);
    int ok = 1;
    for (int i = 1; i < 100; i++)
        ok &= v[i - 1] <= v[i];
    int key = 37;
    ok &= bsearch(&key, v, 100, sizeof *v, compare) != NULL;
    char d[32];
    snprintf(d, sizeof d, "first=%d last=%d", v[0], v[99]);
    report("qsort", ok, d);
}

static void at_exit(void) { printf("glibc: atexit ran\n"); }

int main(int argc, char **argv)
{
    atexit(at_exit);
    char d[64];
    snprintf(d, sizeof d, "argc=%d argv1=%s", argc, argc > 1 ? argv[1] : "-");
    report("args", argc == 2 && strcmp(argv[1], "alpha") == 0, d);
    check_constructor();
    check_stdio();
    check_string();
    check_malloc();
    check_qsort();
    check_threads();
    check_locale();
    check_getaddrinfo();
    check_signals();
    check_misc();
    printf("glibc: done failures %d\n", failures);
    return failures;
}
