long overridden_by_b(void) { return 100; }
long weak_data = 200;                 /* strong data overrides a's weak definition */
__attribute__((weak)) long kept_weak(void) { return 300; } /* the first weak definition (a's) stays */
__attribute__((noinline)) static long local_fn(void) { return 400; } /* same local name as in weak_a.c */
long (*b_local_pointer)(void) = local_fn;
