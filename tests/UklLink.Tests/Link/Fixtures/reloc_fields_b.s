# The definitions reloc_fields_a.s refers to: a function right after its code, small absolute symbols, data, TLS.
    .text
    .globl near_b
    .type near_b, @function
near_b:
    nop
    ret
    .size near_b, .-near_b
    .globl abs_b8, abs_b16, abs_b32, abs_wide
    abs_b8 = 0x5a
    abs_b16 = 0x1234
    abs_b32 = 0x7654321
    abs_wide = 0x123456789
    .data
    .globl data_b
data_b:
    .quad 7, 8, 9
    .section .tbss,"awT",@nobits
    .globl tls_b
    .balign 8
    .zero 24
tls_b:
    .zero 8
    .section .note.GNU-stack,"",@progbits
