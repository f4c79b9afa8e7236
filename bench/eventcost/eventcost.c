/*
 * eventcost: what it costs to deliver events, counted in instructions. Run under QEMU with -icount shift=0, where the
 * guest's clock advances one nanosecond per instruction the virtual CPU executes: a CLOCK_MONOTONIC difference is an
 * instruction count (kernel and interrupts included). bench/event-cost runs it as /UKL and as an ordinary static
 * process (eventcost-native, the same objects) in one boot, with the UKL event stack on and in a second boot off.
 *
 * Each line: "eventcost: NAME VALUE unit" (median of ROUNDS measurements).
 *   null-syscall     getppid(): entry and return (ring 0: ukl_entry_SYSCALL_64; native: syscall)
 *   user-fault       a first write to an anonymous page by the program (ring 0: an event of the application)
 *   kernel-fault     the same page fault taken by copy_to_user in kernel mode (read() from /dev/zero)
 *   tick-user        one timer interrupt while the program computes (an exact 2-instruction loop)
 *   kernel-busy      read() of 64 MiB from /dev/zero into present pages: kernel mode, the tick interrupts it
 *                    (printed with the number of interrupts meanwhile; compare boots for the per-interrupt cost)
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

enum { ROUNDS = 9, PAGES = 512 };

static long now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static long interrupts(void)
{
    static char buf[8192];
    int fd = open("/proc/stat", O_RDONLY);
    long n = -1;
    ssize_t len = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0)
        close(fd);
    if (len > 0) {
        buf[len] = 0;
        char *p = strstr(buf, "\nintr ");
        if (p)
            n = atol(p + 6);
    }
    return n;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, n, sizeof *v, cmp);
    return v[n / 2];
}

/* 2 instructions per iteration, exactly: dec; jnz */
static void spin(long n)
{
    __asm__ volatile("1: dec %0\n\tjnz 1b" : "+r"(n) : : "cc");
}

int main(void)
{
    int zero = open("/dev/zero", O_RDONLY);
    double v[ROUNDS];
    size_t len = (size_t)PAGES * 4096;

    /* the clock itself */
    for (int r = 0; r < ROUNDS; r++) {
        long t0 = now(), t1 = now();
        v[r] = (double)(t1 - t0);
    }
    double clock_cost = median(v, ROUNDS);
    printf("eventcost: clock %.0f instructions\n", clock_cost);

    for (int r = 0; r < ROUNDS; r++) {
        long t0 = now();
        for (int i = 0; i < 1000; i++)
            getppid();
        v[r] = (double)(now() - t0 - clock_cost) / 1000;
    }
    printf("eventcost: null-syscall %.0f instructions\n", median(v, ROUNDS));

    for (int r = 0; r < ROUNDS; r++) {
        volatile char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        long t0 = now();
        for (size_t i = 0; i < len; i += 4096)
            p[i] = 1;
        long t1 = now();
        for (size_t i = 0; i < len; i += 4096)
            p[i] = 2;
        long t2 = now();
        v[r] = (double)((t1 - t0) - (t2 - t1)) / PAGES;
        munmap((void *)p, len);
    }
    printf("eventcost: user-fault %.0f instructions\n", median(v, ROUNDS));

    for (int r = 0; r < ROUNDS; r++) {
        char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        long t0 = now();
        ssize_t a = read(zero, p, len);
        long t1 = now();
        ssize_t b = read(zero, p, len);
        long t2 = now();
        if (a != (ssize_t)len || b != (ssize_t)len)
            printf("eventcost: short read %zd %zd\n", a, b);
        v[r] = (double)((t1 - t0) - (t2 - t1)) / PAGES;
        munmap(p, len);
    }
    printf("eventcost: kernel-fault %.0f instructions\n", median(v, ROUNDS));

    /* The tick in user mode: an exact loop; what it took beyond 2 instructions per iteration went to interrupts. */
    const long iters = 100000000; /* 200 M instructions: about 50 ticks at HZ=250 with 1 instruction per ns */
    for (int r = 0; r < ROUNDS; r++) {
        long i0 = interrupts(), t0 = now();
        spin(iters);
        long t1 = now(), i1 = interrupts();
        long extra = (t1 - t0) - 2 * iters - (long)clock_cost;
        v[r] = i1 > i0 ? (double)extra / (double)(i1 - i0) : -1;
    }
    printf("eventcost: tick-user %.0f instructions\n", median(v, ROUNDS));

    /* Kernel mode under the tick: the same work in every boot, so boots differ only by what the events cost. */
    size_t big = 64u << 20;
    char *p = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    double n[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        long i0 = interrupts(), t0 = now();
        read(zero, p, big);
        long t1 = now(), i1 = interrupts();
        v[r] = (double)(t1 - t0);
        n[r] = (double)(i1 - i0);
    }
    printf("eventcost: kernel-busy %.0f instructions %.0f interrupts\n", median(v, ROUNDS), median(n, ROUNDS));
    return 0;
}
