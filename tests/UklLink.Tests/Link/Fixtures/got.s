# GOT uses ld cannot relax away: a GOT entry (push) and _GLOBAL_OFFSET_TABLE_ (which makes ld create .got.plt with
# its three reserved entries), next to relaxable ones. One unrelaxable target only: ld orders GOT entries by its
# symbol hash table, which ukl-link does not reproduce. Large-model GOT offsets (GOTOFF64, GOT64) are rejected
# (LinkBehaviourTests).
    .text
    .globl got_user
    .type got_user, @function
got_user:
    pushq   app_int@GOTPCREL(%rip)
    popq    %rax
    pushq   app_int@GOTPCREL(%rip)
    popq    %rax
    movq    app_int@GOTPCREL(%rip), %rcx
    testq   %rcx, kernel_counter@GOTPCREL(%rip)
    addq    kernel_banner@GOTPCREL(%rip), %rax
    call    *kprint@GOTPCREL(%rip)
    leaq    _GLOBAL_OFFSET_TABLE_(%rip), %rax
    jmp     *kprint@GOTPCREL(%rip)
    .size got_user, .-got_user
    .section .note.GNU-stack,"",@progbits
