/* SPDX-License-Identifier: MIT */
/*
 * AArch64 (AAPCS64) context switch.
 *
 * Callee-saved: x19-x28, the frame pointer x29, the link register x30, the
 * low halves d8-d15 of v8-v15, and FPCR (rounding mode and trap enables,
 * which the ABI treats as preserved across calls). They go on the stack
 * being left; ax__ctx holds only sp.
 *
 * Frame (176 bytes, keeps sp 16-byte aligned), from the saved sp upwards:
 *   +0 x19 x20, +16 x21 x22, +32 x23 x24, +48 x25 x26, +64 x27 x28,
 *   +80 x29 x30, +96 d8 d9, +112 d10 d11, +128 d12 d13, +144 d14 d15,
 *   +160 fpcr, +168 pad
 */
    .text
    .globl ax__ctx_switch
    .hidden ax__ctx_switch
    .type ax__ctx_switch, %function
    .p2align 4
ax__ctx_switch:                 /* x0 = from, x1 = to */
    .cfi_startproc
    sub sp, sp, #176
    stp x19, x20, [sp, #0]
    stp x21, x22, [sp, #16]
    stp x23, x24, [sp, #32]
    stp x25, x26, [sp, #48]
    stp x27, x28, [sp, #64]
    stp x29, x30, [sp, #80]
    stp d8, d9, [sp, #96]
    stp d10, d11, [sp, #112]
    stp d12, d13, [sp, #128]
    stp d14, d15, [sp, #144]
    mrs x9, fpcr
    str x9, [sp, #160]
    mov x9, sp
    str x9, [x0]
    ldr x9, [x1]
    mov sp, x9
    ldr x9, [sp, #160]
    msr fpcr, x9
    ldp x19, x20, [sp, #0]
    ldp x21, x22, [sp, #16]
    ldp x23, x24, [sp, #32]
    ldp x25, x26, [sp, #48]
    ldp x27, x28, [sp, #64]
    ldp x29, x30, [sp, #80]
    ldp d8, d9, [sp, #96]
    ldp d10, d11, [sp, #112]
    ldp d12, d13, [sp, #128]
    ldp d14, d15, [sp, #144]
    add sp, sp, #176
    ret
    .cfi_endproc
    .size ax__ctx_switch, .-ax__ctx_switch

    /* First code run on a new stack: x19 = entry, x20 = its argument. */
    .type ax__ctx_entry, %function
    .p2align 4
ax__ctx_entry:
    .cfi_startproc
    .cfi_undefined x30
    mov x0, x20
    blr x19
    brk #0                      /* entry must never return */
    .cfi_endproc
    .size ax__ctx_entry, .-ax__ctx_entry

    .globl ax__ctx_make
    .hidden ax__ctx_make
    .type ax__ctx_make, %function
    .p2align 4
ax__ctx_make:       /* x0 = ctx, x1 = lo, x2 = size, x3 = entry, x4 = arg */
    .cfi_startproc
    add x9, x1, x2
    and x9, x9, #~15
    sub x9, x9, #176
    stp x3, x4, [x9, #0]
    stp xzr, xzr, [x9, #16]
    stp xzr, xzr, [x9, #32]
    stp xzr, xzr, [x9, #48]
    stp xzr, xzr, [x9, #64]
    adr x10, ax__ctx_entry
    stp xzr, x10, [x9, #80]
    stp xzr, xzr, [x9, #96]
    stp xzr, xzr, [x9, #112]
    stp xzr, xzr, [x9, #128]
    stp xzr, xzr, [x9, #144]
    mrs x10, fpcr
    stp x10, xzr, [x9, #160]
    str x9, [x0]
    ret
    .cfi_endproc
    .size ax__ctx_make, .-ax__ctx_make

    .section .note.GNU-stack,"",%progbits
