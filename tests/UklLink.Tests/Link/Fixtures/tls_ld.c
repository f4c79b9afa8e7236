/* local-dynamic (-fpic): one __tls_get_addr for the module base, then DTPOFF32 offsets. */
static __thread long ld_a = 4;
static __thread long ld_b;
static __thread int ld_c[8] = { 1, 2, 3 };
void ld_set(long v) { ld_a += v; ld_b = v; ld_c[2] = (int)v; }
long ld_get(void) { return ld_a + ld_b + ld_c[2]; }
