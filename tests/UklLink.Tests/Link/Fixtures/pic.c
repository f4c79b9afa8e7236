/* Built -fPIE and -fPIC: GOTPCRELX and PLT32 references to kernel and application symbols, relaxed by ld. */
extern int kprint(const char *);
extern long kernel_counter;
extern char kernel_banner[];
extern int app_int;
int pic_data = 7;
static int (*printer)(const char *) = kprint;
long pic_use(void)
{
    kprint("pic");
    return kernel_counter + kernel_banner[1] + pic_data + app_int + (long)&kprint + (long)printer;
}
long *pic_kernel_address(void) { return &kernel_counter; }
int *pic_app_address(void) { return &app_int; }
long (*pic_fn_address(void))(void) { return pic_use; }
