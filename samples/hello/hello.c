/*
 * hello: the sample UKL application used by the quick start and the runtime tests.
 *
 * Started by exec of /UKL (samples/common/start.S calls main), it prints one line with its pid and arguments and
 * exits with the status given as its first argument (0 without one). It talks to the kernel only through `syscall`
 * instructions, which `ukl-link link` rewrites into calls to the alternate entry. Built with the UKL flags it is
 * clean; built with a distribution's default flags it shows the two classic UKL mistakes: absolute 32-bit addresses
 * (small code model) and red-zone use in a leaf function.
 */
#include "../common/sample.h"

static const char greeting[] = "hello from ring 0:";

/* Taking an object's address: `mov $greeting, %eax` (R_X86_64_32) in the small code model. */
const char *message(void)
{
    return greeting;
}

/* A leaf with a local buffer: without -mno-red-zone gcc keeps the buffer below %rsp. */
unsigned checksum(const char *s, unsigned n)
{
    volatile unsigned char copy[64];
    unsigned sum = 0;
    for (unsigned i = 0; i < n && i < sizeof copy; i++)
        copy[i] = (unsigned char)s[i];
    for (unsigned i = 0; i < n && i < sizeof copy; i++)
        sum = sum * 31 + copy[i];
    return sum;
}

static char line[512];
static unsigned len;

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

int main(int argc, char **argv)
{
    long pid = sys(SYS_getpid);
    int status = 0;

    put(message());
    put(" pid ");
    put_num(pid);
    put(" argc ");
    put_num(argc);
    put(" argv");
    for (int i = 0; i < argc; i++) {
        put(" [");
        put(argv[i]);
        put("]");
    }
    put(checksum(greeting, sizeof greeting - 1) ? "\n" : " (checksum 0)\n");
    sys(SYS_write, 1, (long)line, len);
    /* tcdrain (TCSBRK with a non-zero argument) when stdout is a terminal: as init, this process's exit panics
     * the kernel at once, and the panic does not wait for the serial port to send what is still queued. */
    sys(SYS_ioctl, 1, 0x5409, 1);

    if (argc > 1)
        for (const char *p = argv[1]; *p >= '0' && *p <= '9'; p++)
            status = status * 10 + (*p - '0');
    return status & 255;
}
