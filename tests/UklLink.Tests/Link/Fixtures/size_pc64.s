# Relocation types the C corpus rarely produces: SIZE32/SIZE64 (symbol sizes), PC64 and PC32 in data, and 32S data.
    .text
    .globl _start, size_user
    .type size_user, @function
_start:
size_user:
    movl    $table@SIZE, %eax
    movabsq $table@SIZE + 8, %rdx
    addq    %rdx, %rax
    ret
    .size size_user, .-size_user

    .data
    .globl table
    .type table, @object
table:
    .quad 1, 2, 3, 4
    .size table, 32
    .globl offsets
offsets:
    .quad size_user - .
    .long table - .
    .reloc ., R_X86_64_32S, table
    .long 0
    .section .note.GNU-stack,"",@progbits
