long le_get(void), ie_get(void), gd_get(void), ld_get(void);
void le_set(long), ld_set(long);
long *le_address(void), *ie_address(void), *gd_address(void);
extern char __tls_data_start[], __tls_data_end[], __tls_bss_start[], __tls_bss_end[];
long plain_data = 1; /* .data: starts where .tbss starts */
const void *const tls_bounds[] = { __tls_data_start, __tls_data_end, __tls_bss_start, __tls_bss_end };
long _start(void)
{
    le_set(3);
    ld_set(4);
    return le_get() + ie_get() + gd_get() + ld_get() + (long)le_address() + (long)ie_address() + (long)gd_address() + plain_data;
}
