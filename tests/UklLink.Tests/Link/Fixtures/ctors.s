# Constructor and destructor tables: priorities (.init_array.N, .ctors.N = priority 65535-N), old-style
# .ctors/.dtors (ld reverses their entries inside .init_array/.fini_array) and .preinit_array.
    .text
    .globl _start
_start:
    ret
    .section .preinit_array,"aw"
    .quad 0x9001
    .section .init_array,"aw"
    .quad 0x1111
    .section .init_array.00200,"aw"
    .quad 0x200
    .section .ctors,"aw"
    .quad 0xc1
    .quad 0xc2
    .section .ctors.00100,"aw"
    .quad 0xc100
    .section .init_array.00100,"aw"
    .quad 0x100
    .section .fini_array,"aw"
    .quad 0xf1
    .section .fini_array.00300,"aw"
    .quad 0xf300
    .section .dtors,"aw"
    .quad 0xd1
    .quad 0xd2
    .section .data,"aw"
    .quad __init_array_start, __init_array_end, __fini_array_start, __fini_array_end
    .quad __preinit_array_start, __preinit_array_end, __rela_iplt_start, __rela_iplt_end
    .section .note.GNU-stack,"",@progbits
