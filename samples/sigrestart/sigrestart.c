/*
 * sigrestart: a UKL sample for the syscall-restart contract (slot ABI section 4).
 *
 * The parent blocks in read() on a pipe. A forked child sends it SIGUSR1, whose handler is installed with
 * SA_RESTART, and then writes one byte. The read is interrupted, the handler runs, the kernel restarts the read by
 * moving the instruction pointer back 2 bytes (onto the trampoline's `call *%rcx`), and the read returns the byte.
 * Also checks that a kernel address outside the application image is refused (write -> EFAULT).
 * Prints "sigrestart: handler 1 read 1 byte 'x' efault 1 child status 0" and exits 0 on success.
 * With an argument it faults instead, to show that application faults are user faults (SIGSEGV, no oops):
 * "null" writes to address 8, "rodata" writes to its own read-only data (a kernel-half address).
 */
#include "../common/sample.h"

#define SIGUSR1 10
#define SA_RESTORER 0x04000000
#define SA_RESTART 0x10000000

SAMPLE_SIGNAL_RESTORER(sigrestart_restorer);

static volatile int handled;
static int fds[2];
static char line[128];
static unsigned len;

static void handler(int sig)
{
    handled = sig == SIGUSR1;
}

static void put(const char *s)
{
    while (*s && len < sizeof line - 1)
        line[len++] = *s++;
}

static void put_num(long v)
{
    char buf[24];
    put(sample_decimal(buf, sizeof buf, v));
}

static const char ro[16] = "read-only";

int main(int argc, char **argv)
{
    struct { void (*handler)(int); unsigned long flags; void (*restorer)(void); unsigned long mask; } sa = {
        handler, SA_RESTART | SA_RESTORER, sigrestart_restorer, 0,
    };
    static const long delay[2] = { 0, 300 * 1000 * 1000 };
    char c = 0;
    int status = 0;

    if (argc > 1 && argv[1][0] == 'n')
        *(volatile int *)8 = 1;
    if (argc > 1 && argv[1][0] == 'r')
        *(volatile char *)ro = 'R';
    if (argc > 1)
        return 20;

    if (sys(SYS_rt_sigaction, SIGUSR1, (long)&sa, 0, 8) != 0 || sys(SYS_pipe, (long)fds, 0, 0, 0) != 0)
        return 10;
    long pid = sys(SYS_fork, 0, 0, 0, 0);
    if (pid < 0)
        return 11;
    if (pid == 0) {
        sys(SYS_nanosleep, (long)delay, 0, 0, 0);
        sys(SYS_kill, sys(SYS_getppid, 0, 0, 0, 0), SIGUSR1, 0, 0);
        sys(SYS_nanosleep, (long)delay, 0, 0, 0);
        sys(SYS_write, fds[1], (long)"x", 1, 0);
        sys(SYS_exit, 0, 0, 0, 0);
    }
    long n = sys(SYS_read, fds[0], (long)&c, 1, 0);
    sys(SYS_wait4, pid, (long)&status, 0, 0);
    /* A kernel address outside the application's image: not user memory for the application. */
    long ef = sys(SYS_write, 1, (long)0xffffffff81000000UL, 16, 0);

    put("sigrestart: handler ");
    put_num(handled);
    put(" read ");
    put_num(n);
    put(" byte '");
    line[len++] = c ? c : '?';
    put("' efault ");
    put_num(ef == -14);
    put(" child status ");
    put_num(status);
    put("\n");
    sys(SYS_write, 1, (long)line, len, 0);
    return handled && n == 1 && c == 'x' && ef == -14 && status == 0 ? 0 : 1;
}
