/* SPDX-License-Identifier: MIT */
/*
 * x86-64 System V context switch.
 *
 * Callee-saved: rbx, rbp, r12-r15, plus the MXCSR control bits and the x87
 * control word (the ABI makes both callee-saved). They are pushed on the
 * stack being left; ax__ctx holds only the stack pointer.
 *
 * Frame, from the saved sp upwards:
 *   +0 mxcsr (4) | x87 cw (4), +8 r15, +16 r14, +24 r13, +32 r12,
 *   +40 rbx, +48 rbp, +56 return address
 */
    .text
    .globl ax__ctx_switch
    .hidden ax__ctx_switch
    .type ax__ctx_switch, @function
    .p2align 4
ax__ctx_switch:                 /* rdi = from, rsi = to */
    .cfi_startproc
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq (%rsi), %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .cfi_endproc
    .size ax__ctx_switch, .-ax__ctx_switch

    /* First code run on a new stack: r13 = entry, r12 = its argument.
     * rsp is 16-byte aligned here, as a call expects. */
    .type ax__ctx_entry, @function
    .p2align 4
ax__ctx_entry:
    .cfi_startproc
    .cfi_undefined rip          /* tells debuggers the stack ends here */
    movq %r12, %rdi
    callq *%r13
    ud2                         /* entry must never return */
    .cfi_endproc
    .size ax__ctx_entry, .-ax__ctx_entry

    .globl ax__ctx_make
    .hidden ax__ctx_make
    .type ax__ctx_make, @function
    .p2align 4
ax__ctx_make:       /* rdi = ctx, rsi = lo, rdx = size, rcx = entry, r8 = arg */
    .cfi_startproc
    leaq (%rsi,%rdx), %rax
    andq $-16, %rax
    subq $80, %rax              /* 16 bytes of zeros on top, then the frame */
    movq $0, 72(%rax)
    movq $0, 64(%rax)
    leaq ax__ctx_entry(%rip), %r9
    movq %r9, 56(%rax)
    movq $0, 48(%rax)
    movq $0, 40(%rax)
    movq %r8, 32(%rax)
    movq %rcx, 24(%rax)
    movq $0, 16(%rax)
    movq $0, 8(%rax)
    stmxcsr (%rax)              /* the new context inherits the creator's */
    movl $0, 4(%rax)            /* FP control state, as on AArch64 and */
    fnstcw 4(%rax)              /* with ucontext */
    movq %rax, (%rdi)
    ret
    .cfi_endproc
    .size ax__ctx_make, .-ax__ctx_make

    .section .note.GNU-stack,"",@progbits
