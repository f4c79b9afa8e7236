// C++ with exceptions (.gcc_except_table, personality in .eh_frame), static constructors and destructors
// (.init_array, __cxa_atexit), and COMDAT groups that cxx_b.cc duplicates (ld keeps the first copy).
struct Counter {
    long n;
    Counter() : n(41) {}
    ~Counter() { n = 0; }
};
Counter counter;
static Counter other;

__attribute__((noinline)) inline long shared_inline(long x) { return x * 7 + 1; }
template <typename T> __attribute__((noinline)) T twice(T v) { return v + v; }

__attribute__((noinline)) long may_throw(long x)
{
    if (x > 10)
        throw 42;
    return x;
}

extern "C" long catcher(long x)
{
    try {
        return may_throw(x) + shared_inline(x) + twice<long>(x) + other.n + counter.n;
    } catch (int e) {
        return e;
    } catch (...) {
        return -1;
    }
}
