/* IFUNCs (STT_GNU_IFUNC) of every kind a static link meets, as glibc defines memcpy and friends: each resolver returns
   the implementation's address; ld gives a called one a PLT entry in .iplt, a slot in .igot.plt and an
   R_X86_64_IRELATIVE relocation in .rela.iplt, a GOT-only one a .got entry with its IRELATIVE, and a static pointer
   to one without a PLT entry an IRELATIVE of its own. Forty called ones make ld's symbol-table order visible. */
typedef long fn(long);

static long add_one(long x) { return x + 1; }
static long twice(long x) { return x * 2; }
static fn *pick(void) { return add_one; }
static fn *pick_other(void) { return twice; }

#define IFUNC(name) long name(long) __attribute__((ifunc("pick")));
#define MANY(X) X(f00) X(f01) X(f02) X(f03) X(f04) X(f05) X(f06) X(f07) X(f08) X(f09) \
                X(f10) X(f11) X(f12) X(f13) X(f14) X(f15) X(f16) X(f17) X(f18) X(f19) \
                X(memcpy_like) X(strlen_like) X(strchr_like) X(index_like) X(wmemset_like) \
                X(g_a) X(g_b) X(g_c) X(g_d) X(g_e) X(g_f) X(g_g) X(g_h) X(g_i) X(g_j) X(g_k) X(g_l) X(g_m) X(g_n) X(g_o)
MANY(IFUNC)

long called(long) __attribute__((ifunc("pick")));
long taken(long) __attribute__((ifunc("pick_other")));
long pointer_only(long) __attribute__((ifunc("pick")));
long got_only(long) __attribute__((ifunc("pick_other")));
__attribute__((visibility("hidden"))) long hidden_one(long) __attribute__((ifunc("pick")));
static long local_one(long) __attribute__((ifunc("pick_other")));

#define CALL(name) + name(x)
long call_all(long x) { return 0 MANY(CALL) + local_one(x) + hidden_one(x); }

/* A static pointer to a function without a PLT entry (IRELATIVE on the pointer) and one to a called function (the
   PLT entry's address). */
fn *pointers[] = { pointer_only, called };

/* The address of a called IFUNC taken in code (pointer equality: through the PLT entry). */
fn *address_of_taken(void) { return taken; }

long _start(void) { return call_all(1) + called(2) + pointers[0](3) + address_of_taken()(4); }
