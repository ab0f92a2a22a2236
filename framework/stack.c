/* SPDX-License-Identifier: MIT */
/*
 * Task stacks: mmap'd, with a PROT_NONE guard region below (AX__GUARD_SIZE,
 * see internal.h for its size), pooled per loop,
 * and the SIGSEGV handler that turns a guard-page hit into a message naming
 * the task.
 *
 * Each guarded stack costs the kernel two memory maps (the guard and the
 * stack cannot merge), and vm.max_map_count is 65530 by default. When
 * mprotect() fails for that reason the stack is used without a guard page,
 * counted in ax_loop_stats.stacks_unguarded and reported once, instead of
 * refusing the task. Unguarded stacks merge with their neighbours, so a
 * million of them fit.
 */
#include "loop_impl.h"
#include "task_impl.h"
#include "axon.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(HAVE_VALGRIND) && HAVE_VALGRIND
#include <valgrind/valgrind.h>
#define AX_VG_REGISTER(lo, hi) VALGRIND_STACK_REGISTER(lo, hi)
#define AX_VG_DEREGISTER(id) VALGRIND_STACK_DEREGISTER(id)
#else
#define AX_VG_REGISTER(lo, hi) 0u
#define AX_VG_DEREGISTER(id) ((void)(id))
#endif

#ifdef AX_TESTING
#define POOL_MAX 4    /* small, so the unmap path runs in the tests */
#define SLAB_STACKS 4 /* and slabs fill, empty and go in the tests too */
#else
#define POOL_MAX 1024
#define SLAB_STACKS 64
#endif

#define MAX_STACK ((size_t)1 << 30)

/*
 * Default-size stacks are carved from slabs: one mmap() holds SLAB_STACKS
 * (guard page + stack) pairs, and goes back with one munmap() once every
 * stack carved from it has been released. A fan-out of 100,000 tasks
 * then costs 1,600 maps instead of 100,000 maps and as many unmaps, which
 * were most of its time (mmap/munmap and their VMA work, not the page
 * faults). The price: a released stack's touched pages stay resident
 * until the rest of its slab is released too (at most SLAB_STACKS - 1
 * stacks held by one straggler).
 */
struct ax__slab {
    char *map;
    size_t len, stride;
    unsigned n, carved, live; /* live: carved and not released */
};

size_t ax__stack_round(ax_loop *L, size_t size)
{
    if (size < AX_MIN_STACK_SIZE)
        size = AX_MIN_STACK_SIZE;
    return (size + L->stk.page - 1) & ~(L->stk.page - 1);
}

/* Guard pages stop while this many maps are still free, leaving room for
 * malloc, libraries and the unguarded stacks (which merge with their
 * neighbours and so hardly cost maps). */
#define MAP_RESERVE 8192

static long guard_budget = -1; /* guarded stacks allowed, process-wide */
static long guarded_now;       /* atomic */
static pthread_once_t budget_once = PTHREAD_ONCE_INIT;

static void read_map_limit(void)
{
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    long max = 65530;

    if (f) {
        if (fscanf(f, "%ld", &max) != 1)
            max = 65530;
        fclose(f);
    }
    guard_budget = max > 2 * MAP_RESERVE ? (max - MAP_RESERVE) / 2 : 0;
}

static bool take_guard(void)
{
    pthread_once(&budget_once, read_map_limit);
    if (__atomic_add_fetch(&guarded_now, 1, __ATOMIC_RELAXED) <= guard_budget)
        return true;
    __atomic_sub_fetch(&guarded_now, 1, __ATOMIC_RELAXED);
    return false;
}

static void *map_anon(size_t len)
{
    if (ax__map_check(len))
        return NULL;
    void *map = mmap(NULL, len, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                     -1, 0);

    return map == MAP_FAILED ? NULL : map;
}

static void slab_free(ax_loop *L, ax__slab *sl)
{
    if (L->stk.slab == sl)
        L->stk.slab = NULL;
    munmap(sl->map, sl->len);
    ax__free(sl);
}

/* A stack leaves the loop: its guard and valgrind registration go, and its
 * memory with its own map or the last stack of its slab. */
static void stack_release(ax_loop *L, ax__stack *s)
{
    if (s->guarded)
        __atomic_sub_fetch(&guarded_now, 1, __ATOMIC_RELAXED);
    else if (L->st.stacks_unguarded)
        L->st.stacks_unguarded--;
    AX_VG_DEREGISTER(s->vg_id);
    if (!s->slab)
        munmap(s->map, s->maplen);
    else if (--s->slab->live == 0 && s->slab->carved == s->slab->n)
        slab_free(L, s->slab); /* a partly carved one goes at pool_term */
    L->st.stacks_mapped--;
}

/* Room for one more default-size stack: L->stk.slab with an uncarved slot. */
static int slab_ready(ax_loop *L, size_t stride)
{
    ax__slab *sl = L->stk.slab;

    if (sl && sl->carved < sl->n)
        return 0;
    /* A full slab lives on through its stacks; the last release frees it. */
    L->stk.slab = NULL;
    sl = ax__malloc(sizeof *sl);
    if (!sl)
        return AX_ENOMEM;
    sl->stride = stride;
    sl->n = SLAB_STACKS;
    sl->len = stride * sl->n;
    sl->carved = sl->live = 0;
    if (!(sl->map = map_anon(sl->len))) {
        ax__free(sl);
        return AX_ENOMEM;
    }
    L->stk.slab = sl;
    return 0;
}

int ax__stack_get(ax_loop *L, size_t size, ax__stack *out)
{
    size_t len;

    if (size > MAX_STACK)
        return AX_EINVAL;
    size = ax__stack_round(L, size);
    len = size + L->stk.guard;
    out->slab = NULL;
    if (size == L->stk.default_size) {
        if (L->stk.n) {
            *out = L->stk.pool[--L->stk.n];
            L->st.stacks_pooled = L->stk.n;
            return 0;
        }
        int rc = slab_ready(L, len);
        if (rc)
            return rc;
        out->slab = L->stk.slab;
        out->map = L->stk.slab->map + (size_t)L->stk.slab->carved++ * len;
        L->stk.slab->live++;
    } else if (!(out->map = map_anon(len))) {
        return AX_ENOMEM;
    }
    out->maplen = len;
    out->guarded = take_guard();
    if (out->guarded && mprotect(out->map, L->stk.guard, PROT_NONE) != 0) {
        __atomic_sub_fetch(&guarded_now, 1, __ATOMIC_RELAXED);
        out->guarded = false;
    }
    if (!out->guarded && L->st.stacks_unguarded++ == 0 && !L->stk.warned_maps) {
        L->stk.warned_maps = true;
        ax__report(L, "the kernel's map limit (vm.max_map_count) is near; "
                      "new task stacks get no guard page");
    }
    out->vg_id = AX_VG_REGISTER((char *)out->map + L->stk.guard,
                                (char *)out->map + len);
    L->st.stacks_mapped++;
    return 0;
}

void ax__stack_put(ax_loop *L, ax__stack *s, size_t size)
{
    if (size == L->stk.default_size && L->stk.n < POOL_MAX) {
        if (L->stk.n == L->stk.cap) {
            size_t cap = L->stk.cap ? L->stk.cap * 2 : 16;
            ax__stack *p = ax__realloc(L->stk.pool, cap * sizeof *p);
            if (p) {
                L->stk.pool = p;
                L->stk.cap = cap;
            }
        }
        if (L->stk.n < L->stk.cap) {
            L->stk.pool[L->stk.n++] = *s;
            L->st.stacks_pooled = L->stk.n;
            return;
        }
    }
    stack_release(L, s);
}

void ax__stack_pool_term(ax_loop *L)
{
    while (L->stk.n)
        stack_release(L, &L->stk.pool[--L->stk.n]);
    if (L->stk.slab && L->stk.slab->live == 0)
        slab_free(L, L->stk.slab);
    ax__free(L->stk.pool);
    L->stk.pool = NULL;
    L->stk.cap = 0;
    L->st.stacks_pooled = 0;
}

/* ---- stack overflow detection ------------------------------------------ */

#define ALTSTACK_SIZE ((size_t)64 * 1024)
/* A fault this close below the guard region is still called an overflow:
 * a frame a little larger than the guard, from code built without stack
 * clash protection, may land there first. */
#define NEAR_BELOW ((uintptr_t)64 * 1024)

static struct sigaction old_segv, old_bus;
static pthread_once_t handler_once = PTHREAD_ONCE_INIT;

static void put(const char *s)
{
    ssize_t r = write(STDERR_FILENO, s, strlen(s));
    (void)r;
}

static void put_u64(uint64_t v)
{
    char buf[24];
    char *p = buf + sizeof buf - 1;

    *p = '\0';
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(p);
}

static void chain(int sig, siginfo_t *si, void *uc)
{
    struct sigaction *old = sig == SIGBUS ? &old_bus : &old_segv;

    if ((old->sa_flags & SA_SIGINFO) && old->sa_sigaction) {
        old->sa_sigaction(sig, si, uc);
        return;
    }
    if (old->sa_handler != SIG_IGN && old->sa_handler != SIG_DFL &&
        old->sa_handler) {
        old->sa_handler(sig);
        return;
    }
    /* Re-raise with the default action: returning re-executes the
     * faulting instruction. */
    signal(sig, SIG_DFL);
}

/* Only async-signal-safe calls here: write(), signal(), abort(). */
static void on_fault(int sig, siginfo_t *si, void *uc)
{
    ax_loop *L = ax__tls_loop;
    ax_task *t = L ? L->pub.current : NULL;

    if (t && t->stack.map) {
        uintptr_t a = (uintptr_t)si->si_addr;
        uintptr_t lo = (uintptr_t)t->stack.map;
        uintptr_t top = (uintptr_t)t->coro.stack_lo;
        if (a < top && a + NEAR_BELOW >= lo) {
            put("axon: stack overflow in task '");
            if (t->name[0]) {
                put(t->name);
            } else {
                put("task-");
                put_u64(t->id);
            }
            put("' (id ");
            put_u64(t->id);
            put(", stack ");
            put_u64(t->coro.stack_size);
            put(" bytes); give it more with ax_task_opts.stack_size\n");
            signal(SIGABRT, SIG_DFL);
            abort();
        }
    }
    chain(sig, si, uc);
}

static void install_handler(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &old_segv);
    sigaction(SIGBUS, &sa, &old_bus);
}

/* Each loop thread needs its own alternate stack: the faulting stack is the
 * one that overflowed, so the handler cannot run on it. An existing
 * alternate stack (the application's, or a sanitizer's) is kept. */
int ax__altstack_init(ax_loop *L)
{
    stack_t ss, old;

    pthread_once(&handler_once, install_handler);
    if (sigaltstack(NULL, &old) == 0 && !(old.ss_flags & SS_DISABLE))
        return 0;
    L->stk.altstack = ax__malloc(ALTSTACK_SIZE);
    if (!L->stk.altstack)
        return AX_ENOMEM;
    ss.ss_sp = L->stk.altstack;
    ss.ss_size = ALTSTACK_SIZE;
    ss.ss_flags = 0;
    if (sigaltstack(&ss, NULL) != 0) {
        ax__free(L->stk.altstack);
        L->stk.altstack = NULL;
    }
    return 0;
}

void ax__altstack_term(ax_loop *L)
{
    stack_t ss;

    if (!L->stk.altstack)
        return;
    memset(&ss, 0, sizeof ss);
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, NULL);
    ax__free(L->stk.altstack);
    L->stk.altstack = NULL;
}
