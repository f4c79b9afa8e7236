# Relocation types the C corpus never produces, each with a value GNU ld computes independently:
# 8/16 (absolute, against small absolute symbols), PC8/PC16 (to a label a few bytes away in another object),
# GOTPC32/GOTPC64 (distance to _GLOBAL_OFFSET_TABLE_), GOTOFF64 (offset from it), TPOFF64, DTPOFF32/DTPOFF64 in data,
# and a REX_GOTPCRELX load of an absolute value too wide for an immediate, which keeps its GOT entry.
    .text
    .globl _start
    .type _start, @function
_start:
    movq    %fs:tls_b@tpoff, %rax
    movq    abs_wide@GOTPCREL(%rip), %rcx
    ret
    .size _start, .-_start
    .globl pc_fields
pc_fields:
    .byte   near_b - .
    .byte   near_b - . + 3
    .word   near_b - .
    .word   near_b - . - 100
    .byte   abs_b8
    .byte   abs_b8 + 2
    .word   abs_b16
    .word   abs_b16 - 7
    .long   abs_b32
    .long   abs_b32 + 9
1:  movabsq $_GLOBAL_OFFSET_TABLE_ - 1b, %r11
    leaq    _GLOBAL_OFFSET_TABLE_(%rip), %r10
    .data
    .balign 8
    .globl got_fields
got_fields:
    .quad   data_b@GOTOFF
    .quad   data_b@GOTOFF + 16
    .quad   _GLOBAL_OFFSET_TABLE_ - .
    .long   _GLOBAL_OFFSET_TABLE_ - .
    .balign 8
    .quad   tls_b@tpoff
    .quad   tls_b@dtpoff
    .quad   tls_b@dtpoff + 4
    .long   tls_b@dtpoff
    .section .note.GNU-stack,"",@progbits
