/* initial-exec against variables of another object: x@gottpoff(%rip), relaxed by ld to local-exec. */
extern __thread long tls_counter;
extern __thread long tls_zeroed;
extern __thread char tls_name[24];
long ie_get(void) { return tls_counter + tls_zeroed + tls_name[0]; }
long *ie_address(void) { return &tls_counter; }
