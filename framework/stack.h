/* SPDX-License-Identifier: MIT */
/*
 * Task stacks (stack.c): mmap'd with a guard region, cached per loop, and
 * what a context switch needs to know about each side. Never installed.
 */
#ifndef AX_STACK_H
#define AX_STACK_H

#include "platform.h"
#include "ctx/ctx.h"
#include "axon/common.h"

/* What a switch needs to know about each side: the context, and for the
 * sanitizers the stack bounds and their per-fiber state. */
typedef struct ax__coro {
    ax__ctx ctx;
    void *stack_lo;
    size_t stack_size;
    /* Only in the builds that use them: every byte here is in every
     * parked task (bench/parked). */
#ifdef AX_ASAN
    void *asan_fake;
#endif
#ifdef AX_TSAN
    void *tsan_fiber;
#endif
} ax__coro;

typedef struct ax__slab ax__slab;
typedef struct ax__stkcls ax__stkcls;

/*
 * The PROT_NONE region below each task stack. A frame that moves the stack
 * pointer further than this in one step, and then writes at its far end,
 * lands in whatever lies below: in a slab, another task's stack. Code
 * built with -fstack-clash-protection (the library, its tests and
 * examples, see configure) touches every page on the way down, so one
 * page would do for it; the rest is for code built without it, frames up
 * to this size. It costs address space only (no memory, and the same one
 * mprotect and one map as a single page). Not 64 KiB: with the default
 * 64 KiB stack the stride would be 128 KiB, a power of two, and every
 * stack's top would fall in the same cache sets (bench/ctxswitch: +6%).
 */
#define AX__GUARD_SIZE ((size_t)60 * 1024)

typedef struct ax__shsave ax__shsave;

typedef struct ax__stack {
    void *map;      /* base: guard region first, then the stack */
    union {
        ax__slab *slab;     /* the mapping it was carved from */
        /* A shared-stack task (map is the loop's shared stack): its live
         * bytes while another task occupies that stack, else NULL. */
        ax__shsave *saved;
    };
    unsigned vg_id; /* valgrind's stack id */
    bool guarded;
} ax__stack;


/* A loop's stacks, owned by stack.c. */
typedef struct ax__stacks {
    size_t default_size;
    size_t page;
    ax__stkcls *cls;  /* free stacks and slab, per stack size */
    size_t ncls;
    ax__slab *slabs;  /* every slab, unmapped when the loop ends */
    size_t guard;     /* bytes of PROT_NONE below each stack */
    bool warned_maps;
    void *altstack;   /* for the guard-page SIGSEGV handler */
    /* The shared stack (ax_task_opts.shared_stack), made on first use,
     * and the task whose bytes are on it (NULL: none). */
    ax__stack shared;
    ax_task *sh_owner;
    /* Parked tasks' save buffers, freed ones kept per 32-byte class for
     * the next park (sh_cached bytes in all), and a spare of the whole
     * stack's size: a park that finds no memory uses it, so a copy-out
     * never fails; a shared task about to switch out makes sure it is
     * there (ax__shstk_can_park()). */
    ax__shsave *sh_free[128];
    size_t sh_cached;
    ax__shsave *sh_spare;
} ax__stacks;

/* stack.c */
int ax__stack_get(ax_loop *L, size_t size, ax__stack *out);
void ax__stack_put(ax_loop *L, ax__stack *s, size_t size);
void ax__stack_pool_term(ax_loop *L);
int ax__altstack_init(ax_loop *L);
void ax__altstack_term(ax_loop *L);
size_t ax__stack_round(ax_loop *L, size_t size);
size_t ax__stack_used(ax_loop *L, const ax_task *t);
int ax__shstk_attach(ax_loop *L, ax_task *t);
size_t ax__shstk_parked(const ax_task *t);
bool ax__shstk_load(ax_loop *L, ax_task *t);
void ax__shstk_release(ax_loop *L, ax_task *t);
int ax__shstk_can_park(ax_loop *L);

#endif
