/* Built with -ffunction-sections -fdata-sections: one input section per function and object, and the script's
   hot/cold/startup groups (.text.hot.*, .text.unlikely.*, .text.startup.*). */
extern void kprint(const char *);
static long counter;
long table[16] = { 1, 2, 3 };
const long rotable[4] = { 9, 8, 7, 6 };
long zeroed[32];
__attribute__((cold, noinline)) void report_error(const char *m) { kprint(m); counter = -1; }
__attribute__((hot, noinline)) long hot_path(long x) { return x * 3 + table[x & 15]; }
__attribute__((noinline)) static long helper(long x) { return rotable[x & 3] + zeroed[x & 31]; }
__attribute__((noinline)) long plain(long x) { return helper(x) + counter; }
__attribute__((aligned(64))) long aligned_data[8] = { 5 };
__attribute__((noinline, aligned(64))) long aligned_fn(long x) { return x + aligned_data[0]; }
__attribute__((section(".text.custom_name"))) long custom(long x) { return x - 1; }
int main(void) { return (int)plain(2); }
long _start(void)
{
    long r = hot_path(1) + plain(2) + aligned_fn(3) + custom(4) + main();
    if (r < 0)
        report_error("negative");
    return r;
}
