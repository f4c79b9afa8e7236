/*
 * intfallback: a syscall site ukl-link cannot give a 5-byte window, so it is rewritten in place to
 * `int $0x81` (slot ABI section 4). The syscall is itself a branch target and so is the instruction after
 * it: nothing may move into a trampoline on either side. The kernel's DPL0 gate for vector 0x81 must enter the
 * same path as ukl_entry_SYSCALL_64. The second site (exit_group) has the usual `mov $nr, %eax` neighbour
 * and gets a trampoline, so both entries are exercised.
 */
    .text
    .globl _start
    .type _start, @function
_start:
    mov     $1, %edi                /* fd 1 */
    lea     message(%rip), %rsi
    mov     $message_len, %edx
    mov     $1, %eax                /* write */
    jmp     1f
    ud2
1:  syscall                         /* a branch target: no instruction before it may move */
2:  mov     %eax, %ebx              /* also a branch target (the jz below): none after it may move either */
    test    %rsp, %rsp
    jz      2b                      /* never taken: it only makes 2: a branch target */
    mov     $33, %edi               /* exit status 33 when write returned the whole message */
    cmp     $message_len, %ebx
    je      3f
    mov     $1, %edi
3:  mov     $231, %eax              /* exit_group */
    syscall
    ud2
    .size _start, .-_start

    .section .rodata
message:
    .ascii  "intfallback: write through int $0x81 returned\n"
    .set    message_len, . - message

    .section .note.GNU-stack,"",@progbits
