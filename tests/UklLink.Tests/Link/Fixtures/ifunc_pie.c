/* Position-independent code taking IFUNC addresses through the GOT (R_X86_64_REX_GOTPCRELX, which ld never relaxes
   for an IFUNC): got_only has no PLT entry, so its .got entry gets an IRELATIVE; taken has one and needs pointer
   equality, so its .got entry holds the PLT entry's address; called uses its .igot.plt slot. */
typedef long fn(long);
extern long got_only(long), taken(long), called(long);
fn *get_got_only(void) { return got_only; }
fn *get_taken(void) { return taken; }
long call_through_got(long x) { return called(x); }
