/* What libstdc++/libgcc would provide: enough to link (never run) the C++ objects. */
char _ZTIi[16];                /* typeinfo for int */
void *__dso_handle;
int __cxa_atexit(void (*f)(void *), void *p, void *d) { (void)f; (void)p; (void)d; return 0; }
static char exception_buffer[256];
void *__cxa_allocate_exception(unsigned long n) { (void)n; return exception_buffer; }
void __cxa_throw(void *o, void *t, void (*d)(void *)) { (void)o; (void)t; (void)d; for (;;) ; }
void *__cxa_begin_catch(void *e) { return e; }
void __cxa_end_catch(void) { }
int __gxx_personality_v0(void) { return 0; }
void _Unwind_Resume(void *e) { (void)e; for (;;) ; }
long catcher(long);
long get_initialised(void);
long _start(void) { return catcher(3) + get_initialised(); }
