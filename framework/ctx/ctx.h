/* SPDX-License-Identifier: MIT */
/*
 * Context switching: the one place that knows how a CPU saves and restores a
 * coroutine. Three back-ends implement this header, chosen by configure
 * (--with-context): ctx_x86_64.S, ctx_aarch64.S and ctx_ucontext.c.
 *
 * The assembly back-ends save exactly what the ABI says a callee must
 * preserve (plus the FP control words), on the stack being left, and keep
 * only the stack pointer in ax__ctx, so a switch is a handful of loads and
 * stores and never a system call. The ucontext back-end is portable but
 * swapcontext() saves the signal mask with a system call on every switch.
 */
#ifndef AX_CTX_H
#define AX_CTX_H

#include <stddef.h>

#if defined(AX_CTX_UCONTEXT) && AX_CTX_UCONTEXT
#include <ucontext.h>
typedef struct ax__ctx {
    ucontext_t uc;
    void (*entry)(void *);
    void *arg;
} ax__ctx;
#else
typedef struct ax__ctx {
    void *sp;
} ax__ctx;
#endif

/*
 * Prepare @c so that the first switch to it calls entry(arg) on the stack
 * [lo, lo + size). entry must never return: a finished coroutine switches
 * away for good instead. The new context starts with the creator's
 * floating-point control state (rounding mode, exception masks).
 */
void ax__ctx_make(ax__ctx *c, void *lo, size_t size, void (*entry)(void *),
                  void *arg);

/* Save the running context into @from and resume @to. */
void ax__ctx_switch(ax__ctx *from, ax__ctx *to);

/*
 * The stack pointer a switched-out context @c resumes with: the bytes it
 * still needs on its stack are those from here up (a shared-stack task
 * parks only them, task.c). NULL if the back-end cannot tell (then the
 * whole stack is kept).
 */
#if defined(AX_CTX_UCONTEXT) && AX_CTX_UCONTEXT
void *ax__ctx_sp(const ax__ctx *c);
#else
static inline void *ax__ctx_sp(const ax__ctx *c) { return c->sp; }
#endif

#endif
