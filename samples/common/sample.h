/*
 * samples/common/sample.h: what the freestanding UKL samples share. They talk to the kernel only through raw
 * `syscall` instructions (which `ukl-link link` rewrites into calls to ukl_entry_SYSCALL_64), so each needs the
 * system call numbers, one wrapper and a small decimal formatter; no C library is involved.
 */
#ifndef UKL_SAMPLE_H
#define UKL_SAMPLE_H

#define SYS_read 0
#define SYS_write 1
#define SYS_close 3
#define SYS_mmap 9
#define SYS_rt_sigaction 13
#define SYS_rt_sigreturn 15
#define SYS_ioctl 16
#define SYS_pipe 22
#define SYS_nanosleep 35
#define SYS_getpid 39
#define SYS_socket 41
#define SYS_bind 49
#define SYS_listen 50
#define SYS_setsockopt 54
#define SYS_fork 57
#define SYS_exit 60
#define SYS_wait4 61
#define SYS_kill 62
#define SYS_getppid 110
#define SYS_clock_gettime 228
#define SYS_exit_group 231
#define SYS_epoll_wait 232
#define SYS_epoll_ctl 233
#define SYS_accept4 288
#define SYS_epoll_create1 291

/* The system call ABI: number in rax, arguments in rdi, rsi, rdx, r10, r8, r9; rcx and r11 are clobbered. */
static inline long sample_syscall(long n, long a, long b, long c, long d, long e, long f)
{
    long r;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9) : "rcx", "r11", "memory");
    return r;
}

/* sys(n, args...) with up to six arguments; the missing ones are 0. */
#define SAMPLE_SYSCALL7(n, a, b, c, d, e, f, ...) sample_syscall(n, a, b, c, d, e, f)
#define sys(...) SAMPLE_SYSCALL7(__VA_ARGS__, 0, 0, 0, 0, 0, 0, 0)

/* The sa_restorer every signal handler needs: rt_sigreturn. NAME becomes a global function. */
#define SAMPLE_SIGNAL_RESTORER(name) \
    void name(void); \
    __asm__(".text\n.globl " #name "\n" #name ":\n\tmovl $15, %eax\n\tsyscall\n\tud2\n")

/* Writes v in decimal into buf (at least 24 bytes) and returns where the digits start. */
static inline char *sample_decimal(char *buf, unsigned size, long v)
{
    unsigned i = size;
    unsigned long u = v < 0 ? -(unsigned long)v : (unsigned long)v;
    buf[--i] = 0;
    do
        buf[--i] = (char)('0' + u % 10);
    while ((u /= 10) && i > 1);
    if (v < 0)
        buf[--i] = '-';
    return buf + i;
}

/* One line of output built on the stack and written with a single write: sample_put text, sample_put_num numbers. */
struct sample_line {
    char buf[256];
    unsigned len;
};

static inline void sample_put(struct sample_line *l, const char *s)
{
    while (*s && l->len < sizeof l->buf - 1)
        l->buf[l->len++] = *s++;
}

static inline void sample_put_num(struct sample_line *l, long v)
{
    char digits[24];
    sample_put(l, sample_decimal(digits, sizeof digits, v));
}

#endif
