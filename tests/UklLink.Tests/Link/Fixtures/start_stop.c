/* Sections named like C identifiers get __start_NAME/__stop_NAME from the linker (glibc's __libc_atexit and
   __libc_IO_vtables use it); the entries come from two objects. */
typedef void hook(void);
static void one(void) {}
static void two(void) {}
__attribute__((used, section("__libc_atexit"))) static hook *const first = one;
__attribute__((used, section("__libc_IO_vtables"))) static const long table[4] = { 1, 2, 3, 4 };
extern hook *const __start___libc_atexit[], *const __stop___libc_atexit[];
extern const long __start___libc_IO_vtables[], __stop___libc_IO_vtables[];
extern const long __start_not_placed[] __attribute__((weak));
long count(void) { return (__stop___libc_atexit - __start___libc_atexit) + (__stop___libc_IO_vtables - __start___libc_IO_vtables); }
long weak_missing(void) { return (long)__start_not_placed; }
__attribute__((used, section("__libc_atexit"))) static hook *const second = two;
long _start(void) { return count(); }
