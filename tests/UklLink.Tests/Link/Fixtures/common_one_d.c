int defined_over_common;
long read_d(void) { return defined_over_common; }
