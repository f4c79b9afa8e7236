# GOT uses ld cannot relax away: a GOT entry (push), GOT-relative offsets and _GLOBAL_OFFSET_TABLE_
# (which makes ld create .got.plt with its three reserved entries), next to relaxable ones.
    .text
    .globl got_user
    .type got_user, @function
got_user:
    pushq   app_int@GOTPCREL(%rip)
    popq    %rax
    pushq   kernel_counter@GOTPCREL(%rip)
    popq    %rax
    movq    app_int@GOTPCREL(%rip), %rcx
    testq   %rcx, kernel_counter@GOTPCREL(%rip)
    addq    kernel_banner@GOTPCREL(%rip), %rax
    call    *kprint@GOTPCREL(%rip)
    leaq    _GLOBAL_OFFSET_TABLE_(%rip), %rax
    movabsq $app_int@GOTOFF, %rdx
    movabsq $app_int@GOT, %rdx
    movabsq $kernel_counter@GOT, %rdx
    jmp     *kprint@GOTPCREL(%rip)
    .size got_user, .-got_user
    .section .note.GNU-stack,"",@progbits
