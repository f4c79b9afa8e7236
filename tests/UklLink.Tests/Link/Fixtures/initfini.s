# .init and .fini pieces between crti.o's prologue and crtn.o's epilogue (the old start-up hooks), with old-style
# .ctors/.dtors and .init_array entries next to crtbeginS.o's.
    .text
    .globl _start
_start:
    call _init
    call _fini
    ret
    .section .init,"ax",@progbits
    call init_hook
    .section .fini,"ax",@progbits
    call fini_hook
    .text
init_hook:
    ret
fini_hook:
    ret
    .section .ctors,"aw"
    .quad init_hook
    .section .dtors,"aw"
    .quad fini_hook
    .section .init_array,"aw"
    .quad init_hook
    .section .preinit_array,"aw"
    .quad init_hook
    .section .note.GNU-stack,"",@progbits
