/*
 * _start for freestanding UKL samples.
 *
 * The kernel starts the application like any ELF program: %rsp points at
 * argc, then argv[], NULL, envp[], NULL, auxv. The only difference is that
 * this runs in ring 0. The `syscall` below is rewritten by ukl-link into a
 * jump to a trampoline that calls ukl_entry_SYSCALL_64.
 */
	.text
	.globl	_start
	.type	_start, @function
_start:
	xorl	%ebp, %ebp
	movq	(%rsp), %rdi			/* argc */
	leaq	8(%rsp), %rsi			/* argv */
	leaq	16(%rsp,%rdi,8), %rdx		/* envp */
	andq	$-16, %rsp
	call	main
	movl	%eax, %edi			/* status */
	movl	$231, %eax			/* exit_group */
	syscall
1:	ud2
	jmp	1b
	.size	_start, . - _start
	.section .note.GNU-stack, "", @progbits
