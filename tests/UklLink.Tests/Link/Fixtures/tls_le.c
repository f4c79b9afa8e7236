/* local-exec: %fs:x@tpoff. Also defines the variables the other models use. */
__thread long tls_counter = 100;
__thread char tls_name[24] = "thread";
__thread long tls_zeroed;
__thread long tls_big_zeroed[40];
long le_get(void) { return tls_counter + tls_name[1] + tls_zeroed + tls_big_zeroed[3]; }
void le_set(long v) { tls_counter = v; tls_big_zeroed[5] = v; }
long *le_address(void) { return &tls_zeroed; }
