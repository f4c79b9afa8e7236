/* Weak and hidden symbols. weak_b.c overrides overridden_by_b; kept_weak stays a's; maybe_missing stays undefined (0). */
__attribute__((weak)) long overridden_by_b(void) { return 1; }
__attribute__((weak)) long kept_weak(void) { return 2; }
__attribute__((weak)) long weak_data = 10;
extern long maybe_missing(void) __attribute__((weak));
extern long maybe_missing_data __attribute__((weak));
__attribute__((visibility("hidden"))) long hidden_fn(void) { return 3; }
__attribute__((visibility("hidden"))) long hidden_data = 4;
__attribute__((visibility("protected"))) long protected_data = 5;
static long local_fn(void) { return 6; }
long (*const weak_refs[])(void) = { overridden_by_b, kept_weak, maybe_missing, hidden_fn, local_fn };
long *const weak_data_refs[] = { &weak_data, &maybe_missing_data, &hidden_data, &protected_data };
long _start(void)
{
    long r = overridden_by_b() + kept_weak() + weak_data + hidden_fn() + hidden_data + protected_data + local_fn();
    if (maybe_missing)
        r += maybe_missing();
    if (&maybe_missing_data)
        r += maybe_missing_data;
    return r;
}
