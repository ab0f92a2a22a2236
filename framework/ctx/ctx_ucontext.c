/* SPDX-License-Identifier: MIT */
/*
 * Portable back-end on <ucontext.h>. Slower than the assembly ones:
 * swapcontext() saves and restores the signal mask, a system call per switch.
 * Kept for CPUs without an assembly back-end and as a cross-check in tests.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "ctx/ctx.h"

/* makecontext() passes int arguments only, so the context pointer travels
 * split in two 32-bit halves. */
static void trampoline(unsigned hi, unsigned lo)
{
    ax__ctx *c = (ax__ctx *)(((uintptr_t)hi << 32) | (uintptr_t)lo);
    c->entry(c->arg);
    abort(); /* entry must never return */
}

void ax__ctx_make(ax__ctx *c, void *lo, size_t size, void (*entry)(void *),
                  void *arg)
{
    uintptr_t p = (uintptr_t)c;

    getcontext(&c->uc);
    c->uc.uc_stack.ss_sp = lo;
    c->uc.uc_stack.ss_size = size;
    c->uc.uc_link = NULL;
    c->entry = entry;
    c->arg = arg;
    makecontext(&c->uc, (void (*)(void))trampoline, 2,
                (unsigned)(p >> 32), (unsigned)(p & 0xffffffffu));
}

void ax__ctx_switch(ax__ctx *from, ax__ctx *to)
{
    swapcontext(&from->uc, &to->uc);
}

void *ax__ctx_sp(const ax__ctx *c)
{
#if defined(__x86_64__) && defined(REG_RSP)
    return (void *)(uintptr_t)c->uc.uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
    return (void *)(uintptr_t)c->uc.uc_mcontext.sp;
#else
    (void)c;
    return NULL;
#endif
}
