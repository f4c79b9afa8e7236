__attribute__((noinline)) inline long shared_inline(long x) { return x * 7 + 1; }
template <typename T> __attribute__((noinline)) T twice(T v) { return v + v; }

struct Init {
    Init();
};
static long initialised;
Init::Init() { initialised = twice<long>(3) + shared_inline(2); }
static Init early __attribute__((init_priority(200)));
static Init late;

extern "C" long get_initialised() { return initialised; }
