/* -fcommon with at most one common symbol per object, so the layout does not depend on ld's hash-table order. */
int shared_common;            /* also common (and larger) in common_one_b.c: the larger size wins */
static long local_bss;
long _start(void) { return shared_common + local_bss; }
