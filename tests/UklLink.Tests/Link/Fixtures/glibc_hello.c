/* An ordinary C program for Debian's glibc, compiled with the distribution's defaults (PIE code, stack protector,
   CET markers) and linked the way gcc -static links it: crt1.o crti.o crtbeginS.o ... libc.a crtendS.o crtn.o.
   printf, strlen and memcpy reach glibc's IFUNCs; the thread variable and the constructor/destructor pairs use
   TLS and .init_array/.fini_array; atexit and stdio flushing use __libc_atexit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static __thread int calls;
static char buffer[64];

__attribute__((constructor)) static void early(void) { calls = 1; }
__attribute__((destructor)) static void late(void) { fputs("bye\n", stdout); }

static void at_exit(void) { puts("at exit"); }

int main(int argc, char **argv)
{
    atexit(at_exit);
    size_t n = strlen(argc > 0 ? argv[0] : "?");
    memcpy(buffer, "hello from glibc", 17);
    calls++;
    printf("%s %zu %d\n", buffer, n, calls);
    char *copy = strdup(buffer);
    int r = strcmp(copy, buffer);
    free(copy);
    return r;
}
