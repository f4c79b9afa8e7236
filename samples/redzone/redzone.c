/*
 * redzone: code that keeps live data in the red zone (the 128 bytes below %rsp that the x86-64 ABI lets a leaf
 * function use without moving %rsp), run many times while the machine takes interrupts at a high rate. Built with
 * gcc's default red zone (no -mno-red-zone, see the Makefile), on the UKL musl, linked by ukl-link and run as /UKL
 * in ring 0; the test runs the same objects as an ordinary static process in the same boot and compares the
 * checksums. An interrupt or exception delivered on the application's stack would push its frame over the red
 * zone and change the result; a kernel with the UKL event stack delivers it elsewhere.
 *
 * Usage: redzone [--single] [--port N] ROUNDS
 *   ROUNDS    calls of each leaf function (fixed seeds: the checksum depends on ROUNDS only)
 *   --port N  a forked child accepts TCP connections on port N and reads everything (the host floods it: NIC
 *             interrupts), until the computation is done
 *   --single  no second thread (without it a thread maps, touches and unmaps memory in a loop: page faults and
 *             TLB-shootdown IPIs on the other CPUs)
 * Always: SIGALRM from setitimer every millisecond (the tick rate bounds it) with a handler that counts.
 * Prints "redzone: rounds R checksum C" and "redzone: events ..." (interrupts and signals seen meanwhile).
 */
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * The leaf functions. `volatile` keeps every element in memory; with no call inside, gcc -O2 does not move %rsp and
 * puts the array below it (the test checks the disassembly: negative offsets from %rsp, no sub from %rsp).
 */
__attribute__((noinline)) uint64_t mix_words(uint64_t seed, unsigned rounds)
{
    volatile uint64_t v[12];
    uint64_t s = 0;
    for (int i = 0; i < 12; i++)
        v[i] = seed * (uint64_t)(i + 1) + (uint64_t)i;
    for (unsigned r = 0; r < rounds; r++)
        for (int i = 0; i < 12; i++)
            v[i] = v[i] * 6364136223846793005ULL + v[(i + 5) % 12] + r;
    for (int i = 0; i < 12; i++)
        s ^= v[i] + (uint64_t)i;
    return s;
}

__attribute__((noinline)) uint32_t mix_bytes(uint32_t seed, unsigned rounds)
{
    volatile unsigned char b[112];
    uint32_t h = 2166136261u;
    for (unsigned i = 0; i < sizeof b; i++)
        b[i] = (unsigned char)(seed >> (i % 24)) ^ (unsigned char)i;
    for (unsigned r = 0; r < rounds; r++)
        for (unsigned i = 0; i < sizeof b; i++)
            b[i] = (unsigned char)(b[i] * 33u + b[(i + 7) % sizeof b] + r);
    for (unsigned i = 0; i < sizeof b; i++)
        h = (h ^ b[i]) * 16777619u;
    return h;
}

static volatile sig_atomic_t alarms;
static volatile int done;

static void on_alarm(int sig)
{
    (void)sig;
    alarms++;
}

/* Page faults and unmaps (TLB shootdowns on the other CPUs) until the computation is done. */
static void *faulter(void *arg)
{
    long *count = arg;
    while (!__atomic_load_n(&done, __ATOMIC_ACQUIRE)) {
        size_t len = 64 * 4096;
        unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            break;
        for (size_t i = 0; i < len; i += 4096)
            p[i] = (unsigned char)i;
        munmap(p, len);
        *count += 64;
    }
    return NULL;
}

/* A TCP sink: accept connections and read everything until killed. */
static void sink(int port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr = { htonl(INADDR_ANY) } };
    static char buf[65536];
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 8)) {
        perror("redzone: sink");
        _exit(1);
    }
    printf("redzone: sink listening on %d\n", port);
    fflush(stdout);
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0)
            continue;
        while (read(c, buf, sizeof buf) > 0)
            ;
        close(c);
    }
}

static long interrupts(void)
{
    /* /proc/stat "intr TOTAL ...": every interrupt of every CPU since boot */
    FILE *f = fopen("/proc/stat", "r");
    char line[256];
    long n = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "intr %ld", &n) == 1)
            break;
    if (f)
        fclose(f);
    return n;
}

int main(int argc, char **argv)
{
    int single = 0, port = 0;
    unsigned rounds = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--single"))
            single = 1;
        else if (!strcmp(argv[i], "--port") && i + 1 < argc)
            port = atoi(argv[++i]);
        else
            rounds = (unsigned)strtoul(argv[i], NULL, 0);
    }
    if (!rounds) {
        fprintf(stderr, "usage: redzone [--single] [--port N] ROUNDS\n");
        return 2;
    }

    pid_t sink_pid = -1;
    if (port) {
        sink_pid = fork();
        if (sink_pid == 0)
            sink(port);
    }
    struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = { .it_interval = { 0, 1000 }, .it_value = { 0, 1000 } };
    setitimer(ITIMER_REAL, &it, NULL);
    pthread_t t;
    long faults = 0;
    if (!single && pthread_create(&t, NULL, faulter, &faults) != 0) {
        fprintf(stderr, "redzone: pthread_create failed\n");
        return 1;
    }

    long intr0 = interrupts();
    uint64_t sum = 0;
    for (unsigned r = 0; r < rounds; r++) {
        sum = sum * 31 + mix_words(0x9e3779b97f4a7c15ULL ^ r, 200);
        sum = sum * 31 + mix_bytes(0x85ebca6bu + r, 40);
    }
    long intr1 = interrupts();

    __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
    struct itimerval off = { 0 };
    setitimer(ITIMER_REAL, &off, NULL);
    if (!single)
        pthread_join(t, NULL);
    if (sink_pid > 0) {
        kill(sink_pid, SIGKILL);
        waitpid(sink_pid, NULL, 0);
    }
    printf("redzone: rounds %u checksum %016llx\n", rounds, (unsigned long long)sum);
    printf("redzone: events interrupts %ld alarms %d faults %ld\n", intr1 - intr0, (int)alarms, faults);
    return 0;
}
