const char *b_world(void) { return "world"; }         /* a tail of a's "hello world" */
const char *b_shared(void) { return "a string both objects use"; }
const char *b_long(void) { return "a long suffix"; }
const char *b_only(void) { return "only in b"; }
const unsigned short *b_wide(void) { return u"string"; }
double b_scale(double x) { return x * 3.25 - 7.0; }
float b_scalef(float x) { return x * 1.75f + 2.5f; }
typedef int v4 __attribute__((vector_size(16)));
v4 b_vec(v4 x) { return x * (v4){ 1, 2, 3, 4 }; }
extern const char *a_hello(void), *a_shared(void), *a_suffix(void), *a_only(void);
long _start(void)
{
    return a_hello()[0] + a_shared()[1] + a_suffix()[2] + a_only()[3] + b_world()[0] + b_shared()[1] + b_long()[2] + b_only()[3];
}
