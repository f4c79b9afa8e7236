/*
 * muslapp: an ordinary C program on stock musl libc (Debian's musl, built with the UKL flags by
 * toolchain/build-musl), linked by ukl-link with musl's crt1.o and libc.a and run as /UKL in ring 0.
 *
 * Every behaviour prints one line "musl: NAME ok ..." or "musl: NAME FAIL ..."; the exit status is the number
 * of failures. Things that live in the application's image on purpose (they exercise the kernel's handling of
 * image addresses): the mutex, the counter, the wait status and a read buffer are in .data/.bss; musl's own
 * thread-list lock (the CLONE_CHILD_CLEARTID word of every thread) and the main thread's TLS are in .bss too.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK_PREFIX "musl"
#include "../common/check.h"

/* A static constructor: musl's __libc_start_main runs .init_array before main. */
static int constructed;
__attribute__((constructor)) static void init_early(void) { constructed = 0x5eed; }

/* Thread-local: every thread starts from the template value. */
static __thread int tls_value = 7;
static __thread char tls_buf[64];

/* In .data/.bss: a contended mutex (private futex on an image address) and what it protects. */
static pthread_mutex_t counter_lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;
static int wait_status = -1;                 /* wait4 writes it with put_user */
static char image_buf[128];                  /* read() into the image */

enum { THREADS = 4, ROUNDS = 20000 };

struct targ { int index; int tls_seen; int deep_ok; };

static void *worker(void *p)
{
    struct targ *a = p;
    a->tls_seen = tls_value;                 /* 7: the template, not main's value */
    tls_value = 100 + a->index;
    snprintf(tls_buf, sizeof tls_buf, "thread %d", a->index);
    for (int i = 0; i < ROUNDS; i++) {
        pthread_mutex_lock(&counter_lock);
        counter++;
        if ((i & 1023) == 0)
            sched_yield();                   /* hand over while holding the lock: waiters sleep in futex_wait */
        pthread_mutex_unlock(&counter_lock);
    }
    a->deep_ok = tls_value == 100 + a->index && !strncmp(tls_buf, "thread ", 7) && tls_buf[7] == '0' + a->index;
    return (void *)(long)(a->index * 10);
}

/* A thread that runs deep into its own (mmap'ed) stack: each new page is first touched in ring 0. */
static void *deep(void *p)
{
    volatile char big[512 * 1024];
    for (size_t i = sizeof big; i > 0; i -= 4096)
        big[i - 1] = (char)i;
    long sum = 0;
    for (size_t i = sizeof big; i > 0; i -= 4096)
        sum += big[i - 1] == (char)i;
    return (void *)sum;
}

static void test_threads(void)
{
    pthread_t t[THREADS];
    struct targ a[THREADS];
    int created = 0, joined = 0, tls_ok = 1;
    long sum = 0;

    tls_value = 1;
    for (int i = 0; i < THREADS; i++) {
        a[i] = (struct targ){ .index = i };
        if (pthread_create(&t[i], NULL, worker, &a[i]) == 0)
            created++;
    }
    for (int i = 0; i < created; i++) {
        void *r;
        if (pthread_join(t[i], &r) == 0) {
            joined++;
            sum += (long)r;
        }
        tls_ok &= a[i].tls_seen == 7 && a[i].deep_ok;
    }
    check("pthread", created == THREADS && joined == THREADS && sum == 60,
          "created %d joined %d results %ld", created, joined, sum);
    check("tls", tls_ok && tls_value == 1, "template 7 in each thread, main keeps %d", tls_value);
    check("mutex", counter == (long)THREADS * ROUNDS, "counter %ld of %d", counter, THREADS * ROUNDS);

    pthread_attr_t attr;
    pthread_t d;
    void *r = 0;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 1 << 20);
    int e = pthread_create(&d, &attr, deep, NULL);
    if (!e)
        e = pthread_join(d, &r);
    check("thread-stack", !e && (long)r == 128, "1 MiB stack, 512 KiB used: %ld pages (err %d)", (long)r, e);
}

/*
 * Detached threads: musl's pthread_exit of a detached thread ends in __unmapself, munmap of the thread's own
 * stack mapping followed by exit, both through rewritten syscall sites whose `call *%rcx` pushes on that stack.
 * The kernel defers the part of the munmap that covers the caller's pinned stack to the thread's exit. Each
 * worker waits until main has detached it (so it takes the __unmapself path, not a join), works, reports through
 * a .bss counter and exits; main waits for the counter, then sleeps so the exits really happen.
 */
enum { DETACHED_MORE = 8 };
static int detached_go;                      /* .bss: set by main after pthread_detach */
static int detached_done;                    /* .bss: incremented by each worker when its work is done */
static long detached_sum;

static void *detached_worker(void *p)
{
    long n = (long)p;
    volatile char buf[16384];                /* a few pages of the stack that is about to be unmapped */
    while (!__atomic_load_n(&detached_go, __ATOMIC_ACQUIRE))
        sched_yield();
    long s = 0;
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (char)(i + n);
    for (size_t i = 0; i < sizeof buf; i += 512)
        s += buf[i];
    __atomic_fetch_add(&detached_sum, s, __ATOMIC_SEQ_CST);
    __atomic_fetch_add(&detached_done, 1, __ATOMIC_RELEASE);
    return NULL;                             /* pthread_exit: __unmapself(map_base, map_size) */
}

static int count_maps(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[256];
    int n = 0;
    while (f && fgets(line, sizeof line, f))
        n++;
    if (f)
        fclose(f);
    return f ? n : -1;
}

/* Wait until @want workers reported, at most ~5 s; then give their exits time to happen. */
static int detached_wait(int want)
{
    for (int i = 0; i < 5000 && __atomic_load_n(&detached_done, __ATOMIC_ACQUIRE) < want; i++)
        usleep(1000);
    usleep(200 * 1000);
    return __atomic_load_n(&detached_done, __ATOMIC_ACQUIRE);
}

static int detached_round(int count, long base)
{
    pthread_t t;
    int started = 0;
    __atomic_store_n(&detached_go, 0, __ATOMIC_RELEASE);
    for (int i = 0; i < count; i++) {
        if (pthread_create(&t, NULL, detached_worker, (void *)(base + i)) != 0)
            break;
        if (pthread_detach(t) != 0)
            break;
        started++;
    }
    __atomic_store_n(&detached_go, 1, __ATOMIC_RELEASE);
    return started;
}

static void test_detached(void)
{
    int maps_before = count_maps();
    int started = detached_round(1, 0);
    int done1 = detached_wait(1);
    started += detached_round(DETACHED_MORE, 1);
    int done = detached_wait(1 + DETACHED_MORE);
    int maps_after = count_maps();
    /* Every worker's stack mapping was unmapped at its exit: no mapping per thread is left behind. */
    check("detached", started == 1 + DETACHED_MORE && done1 == 1 && done == 1 + DETACHED_MORE &&
          maps_before > 0 && maps_after <= maps_before + 2,
          "%d started, %d finished and exited, sum %ld, mappings %d before %d after", started, done,
          detached_sum, maps_before, maps_after);
}

static void test_fork_wait(void)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(23);
    pid_t w = waitpid(pid, &wait_status, 0);     /* status pointer in .bss */
    check("wait-status", w == pid && WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 23,
          "child %d exit %d", (int)pid, WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1);
}

static void test_file(void)
{
    const char *path = "/tmp/muslapp.txt";
    const char text[] = "written by musl in ring 0\n";
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    ssize_t wr = fd >= 0 ? write(fd, text, sizeof text - 1) : -1;
    int closed = fd >= 0 ? close(fd) : -1;
    fd = open(path, O_RDONLY);
    ssize_t rd = fd >= 0 ? read(fd, image_buf, sizeof image_buf - 1) : -1;
    if (fd >= 0)
        close(fd);
    if (rd >= 0)
        image_buf[rd] = 0;
    FILE *f = fopen(path, "a");
    int fputs_ok = f && fputs("appended by stdio\n", f) >= 0 && fclose(f) == 0;
    f = fopen(path, "r");
    char line[64] = "";
    int lines = 0;
    while (f && fgets(line, sizeof line, f))
        lines++;
    if (f)
        fclose(f);
    check("file", wr == (ssize_t)sizeof text - 1 && closed == 0 && rd == wr && !strcmp(image_buf, text) &&
          fputs_ok && lines == 2 && unlink(path) == 0,
          "%s wrote %zd read %zd lines %d", path, wr, rd, lines);
}

static void test_sockets(void)
{
    int sv[2];
    char buf[32] = "";
    int ok = socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0 && write(sv[0], "ping", 4) == 4 &&
             read(sv[1], buf, sizeof buf) == 4 && write(sv[1], "pong", 4) == 4 &&
             read(sv[0], buf + 4, sizeof buf - 4) == 4;
    check("unix-socketpair", ok && !memcmp(buf, "pingpong", 8), "%.8s", buf);

    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), cs = -1, as = -1;
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof sa;
    int port = 0;
    memset(buf, 0, sizeof buf);
    ok = ls >= 0 && bind(ls, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(ls, 4) == 0 &&
         getsockname(ls, (struct sockaddr *)&sa, &len) == 0;
    const char *step = "listen";
    if (ok) {
        port = ntohs(sa.sin_port);
        cs = socket(AF_INET, SOCK_STREAM, 0);
        ok = cs >= 0 && (step = "connect", connect(cs, (struct sockaddr *)&sa, sizeof sa) == 0) &&
             (step = "accept", (as = accept(ls, NULL, NULL)) >= 0) &&
             (step = "send", send(cs, "hello tcp", 9, 0) == 9) &&
             (step = "recv", recv(as, buf, 9, MSG_WAITALL) == 9);
    }
    if (getenv("MUSLAPP_DEBUG"))
        fprintf(stderr, "tcp step %s ok %d errno %d\n", step, ok, errno);
    check("tcp-loopback", ok && !memcmp(buf, "hello tcp", 9), "127.0.0.1:%d '%.9s' (%s: errno %d)", port, buf,
          step, ok ? 0 : errno);
    close(as);
    close(cs);
    close(ls);
}

int main(int argc, char **argv)
{
    check("constructor", constructed == 0x5eed, "ran before main");
    check("printf", 1, "%d %s %.3f %x", 42, "str", 2.5, 0xbeefu);

    const char *env = getenv("MUSLAPP_GREETING");
    check("argv-env", argc == 3 && !strcmp(argv[1], "alpha") && !strcmp(argv[2], "beta") && env &&
          !strcmp(env, "hi-there"),
          "argc %d argv[1] %s env %s", argc, argc > 1 ? argv[1] : "-", env ? env : "(unset)");

    size_t total = 0;
    int malloc_ok = 1;
    for (int i = 0; i < 200; i++) {
        size_t n = 16 + (size_t)i * 997;
        unsigned char *p = malloc(n);
        if (!p) { malloc_ok = 0; break; }
        memset(p, i, n);
        malloc_ok &= p[n - 1] == (unsigned char)i;
        total += n;
        free(p);
    }
    char *big = malloc(8 << 20);                 /* mmap'ed by musl */
    malloc_ok &= big != NULL;
    if (big) { big[0] = 1; big[(8 << 20) - 1] = 2; free(big); }
    check("malloc", malloc_ok, "%zu bytes in 200 blocks and one 8 MiB block", total);

    test_threads();
    test_detached();
    test_fork_wait();
    test_file();
    test_sockets();

    printf("musl: done failures %d\n", failures);
    return failures;
}
