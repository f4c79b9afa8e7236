/*
 * hello: the sample UKL application used by the quick start.
 *
 * It talks to the kernel only through `syscall` instructions, which `ukl-link link` rewrites into calls to the
 * alternate entry. Built with the UKL flags it is clean; built with a distribution's default flags it shows the two
 * classic UKL mistakes: absolute 32-bit addresses (small code model) and red-zone use in a leaf function.
 */
static const char greeting[] = "hello from ring 0\n";

static long syscall3(long nr, long a, long b, long c)
{
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return ret;
}

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

int main(void)
{
    const char *m = message();
    syscall3(1 /* write */, 1, (long)m, sizeof greeting - 1);
    return checksum(m, sizeof greeting - 1) == 0;
}
