/* Merged strings and constants (SHF_MERGE): duplicates across objects and tail merges in both directions. */
const char *a_hello(void) { return "hello world"; }
const char *a_shared(void) { return "a string both objects use"; }
const char *a_suffix(void) { return "suffix"; }       /* b has "a long suffix": merged into b's string */
const char *a_only(void) { return "only in a"; }
const unsigned short *a_wide(void) { return u"wide string"; }
const unsigned int *a_wide4(void) { return U"wider"; }
double a_scale(double x) { return x * 3.25 + 0.5; }
float a_scalef(float x) { return x * 1.75f; }
typedef int v4 __attribute__((vector_size(16)));
v4 a_vec(v4 x) { return x + (v4){ 1, 2, 3, 4 }; }
