/* global-dynamic (-fpic): __tls_get_addr calls that ld relaxes to local-exec in a static link. */
extern __thread long tls_counter;
__thread long gd_own = 7;
long gd_get(void) { return tls_counter + gd_own; }
long *gd_address(void) { return &gd_own; }
