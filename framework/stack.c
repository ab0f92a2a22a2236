/* SPDX-License-Identifier: MIT */
/*
 * Task stacks: mmap'd, with a PROT_NONE guard region below (AX__GUARD_SIZE,
 * see internal.h for its size), pooled per loop,
 * and the SIGSEGV handler that turns a guard-page hit into a message naming
 * the task.
 *
 * Each guarded stack costs the kernel two memory maps (the guard and the
 * stack cannot merge), made once when the stack is carved and kept while
 * the loop reuses it, and vm.max_map_count is 65530 by default. When
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

#ifdef AX_ASAN
#include <sanitizer/asan_interface.h>
#endif
#if defined(HAVE_VALGRIND) && HAVE_VALGRIND
#include <valgrind/valgrind.h>
#include <valgrind/memcheck.h>
#define AX_VG_REGISTER(lo, hi) VALGRIND_STACK_REGISTER(lo, hi)
#define AX_VG_DEREGISTER(id) VALGRIND_STACK_DEREGISTER(id)
#define AX_VG_UNDEFINED(p, n) VALGRIND_MAKE_MEM_UNDEFINED(p, n)
#else
#define AX_VG_UNDEFINED(p, n) ((void)0)
#define AX_VG_REGISTER(lo, hi) 0u
#define AX_VG_DEREGISTER(id) ((void)(id))
#endif

#ifdef AX_TESTING
#define SLAB_STACKS 4 /* small, so that slabs fill, empty and go cold */
#define HOT_BYTES ((size_t)64 * 1024) /* in the tests too */
#else
#define SLAB_STACKS 64
/* Free stacks of one size beyond this many bytes give their memory back
 * (when a whole slab of them is free). */
#define HOT_BYTES ((size_t)32 * 1024 * 1024)
#endif
/* A slab is at most this large (and holds at least one stack). */
#define SLAB_BYTES ((size_t)8 * 1024 * 1024)

#define MAX_STACK ((size_t)1 << 30)

/*
 * Stacks are carved from slabs: one mmap() holds up to SLAB_STACKS (guard
 * region + stack) pairs. A stack that a task gives back goes on its size's
 * free list (LIFO: the warmest first) and stays carved: its guard page,
 * its valgrind registration and its touched pages go with it to the next
 * task, so reusing it costs no system call and no page fault. Nothing is
 * unmapped before the loop ends; the address space of the loop's peak
 * number of stacks stays reserved (MAP_NORESERVE: no memory).
 *
 * Memory: while more than HOT_BYTES of one size are free, a slab whose
 * stacks are all free is given back with one madvise(MADV_FREE): its pages
 * stay until the kernel needs them, and a stack reused before that is
 * still warm (no fault); after, it faults in zeroed pages as a new one.
 * Before this (slabs unmapped as they emptied, 1,024 stacks pooled), a
 * fan-out of a million tasks unmapped and remapped its slabs on the hot
 * path and a second fan-out of 100,000 faulted every stack in again.
 */
struct ax__slab {
    char *map;
    size_t len;
    ax__slab *next; /* every slab of the loop, for pool_term */
    unsigned n, carved, live; /* live: carved and not on a free list */
    unsigned nguarded;
    bool cold; /* given back with MADV_FREE and not reused since */
};

/* The free stacks and the slab being carved, for one stack size. */
struct ax__stkcls {
    size_t size, len;   /* stack; stack + guard (the stride in a slab) */
    ax__slab *slab;     /* being carved */
    ax__stack *free;    /* LIFO */
    size_t nfree, cap;
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

static ax__stkcls *cls_find(ax_loop *L, size_t size)
{
    ax__stkcls *c;

    for (size_t i = 0; i < L->stk.ncls; i++)
        if (L->stk.cls[i].size == size)
            return &L->stk.cls[i];
    c = ax__realloc(L->stk.cls, (L->stk.ncls + 1) * sizeof *c);
    if (!c)
        return NULL;
    L->stk.cls = c;
    c += L->stk.ncls++;
    memset(c, 0, sizeof *c);
    c->size = size;
    c->len = size + L->stk.guard;
    return c;
}

/* Room for one more stack of @c: c->slab with an uncarved slot. */
static int slab_ready(ax_loop *L, ax__stkcls *c)
{
    ax__slab *sl = c->slab;
    size_t n = SLAB_BYTES / c->len;

    if (sl && sl->carved < sl->n)
        return 0;
    sl = ax__malloc(sizeof *sl);
    if (!sl)
        return AX_ENOMEM;
    sl->n = n < 1 ? 1 : n > SLAB_STACKS ? SLAB_STACKS : (unsigned)n;
    sl->len = c->len * sl->n;
    sl->carved = sl->live = sl->nguarded = 0;
    sl->cold = false;
    if (!(sl->map = map_anon(sl->len))) {
        ax__free(sl);
        return AX_ENOMEM;
    }
    sl->next = L->stk.slabs;
    L->stk.slabs = sl;
    c->slab = sl;
    return 0;
}

/* A new stack from c->slab: its guard, once for its whole life. */
static void carve(ax_loop *L, ax__stkcls *c, ax__stack *out)
{
    ax__slab *sl = c->slab;

    out->slab = sl;
    out->map = sl->map + (size_t)sl->carved++ * c->len;
    out->guarded = take_guard();
    if (out->guarded && mprotect(out->map, L->stk.guard, PROT_NONE) != 0) {
        __atomic_sub_fetch(&guarded_now, 1, __ATOMIC_RELAXED);
        out->guarded = false;
    }
    if (out->guarded)
        sl->nguarded++;
    if (!out->guarded && L->st.stacks_unguarded++ == 0 && !L->stk.warned_maps) {
        L->stk.warned_maps = true;
        ax__report(L, "the kernel's map limit (vm.max_map_count) is near; "
                      "new task stacks get no guard page");
    }
    out->vg_id = AX_VG_REGISTER((char *)out->map + L->stk.guard,
                                (char *)out->map + c->len);
    L->st.stacks_mapped++;
}

int ax__stack_get(ax_loop *L, size_t size, ax__stack *out)
{
    ax__stkcls *c;

    if (size > MAX_STACK)
        return AX_EINVAL;
    size = ax__stack_round(L, size);
    if (!(c = cls_find(L, size)))
        return AX_ENOMEM;
    if (c->nfree) {
        *out = c->free[--c->nfree];
        L->st.stacks_pooled--;
    } else {
        int rc = slab_ready(L, c);
        if (rc)
            return rc;
        carve(L, c, out);
    }
    out->slab->live++;
    out->slab->cold = false;
    return 0;
}

/* Give back the memory of a slab whose stacks are all free. MADV_FREE
 * leaves the pages in place until the kernel needs them; where it is
 * missing, MADV_DONTNEED drops them at once. */
static void slab_cool(ax__slab *sl)
{
    sl->cold = true;
#ifdef MADV_FREE
    if (madvise(sl->map, sl->len, MADV_FREE) == 0)
        return;
#endif
    madvise(sl->map, sl->len, MADV_DONTNEED);
}

void ax__stack_put(ax_loop *L, ax__stack *s, size_t size)
{
    ax__stkcls *c = cls_find(L, size);
    ax__slab *sl = s->slab;

    sl->live--;
    if (c && c->nfree == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        ax__stack *p = ax__realloc(c->free, cap * sizeof *p);
        if (p) {
            c->free = p;
            c->cap = cap;
        }
    }
    /* Without room to list it, the stack stays carved and unused until
     * its slab is unmapped with the loop. */
    if (!c || c->nfree == c->cap)
        return;
    c->free[c->nfree++] = *s;
    L->st.stacks_pooled++;
    if (sl->live == 0 && sl->carved == sl->n && !sl->cold &&
        c->nfree * c->len > HOT_BYTES)
        slab_cool(sl);
}

static void sh_cache_term(ax__stacks *S);

void ax__stack_pool_term(ax_loop *L)
{
    ax__slab *sl, *next;

    if (L->stk.shared.map) {
        ax__stack_put(L, &L->stk.shared, ax__stack_round(L, L->stk.default_size));
        L->stk.shared.map = NULL;
    }
    L->stk.sh_owner = NULL;
    sh_cache_term(&L->stk);

    /* A stack still in use here belongs to a task that was never freed
     * (a bug reported elsewhere): it is unmapped all the same. */
    for (size_t i = 0; i < L->stk.ncls; i++) {
        ax__stkcls *c = &L->stk.cls[i];
        while (c->nfree)
            AX_VG_DEREGISTER(c->free[--c->nfree].vg_id);
        ax__free(c->free);
    }
    ax__free(L->stk.cls);
    L->stk.cls = NULL;
    L->stk.ncls = 0;
    for (sl = L->stk.slabs; sl; sl = next) {
        next = sl->next;
        if (sl->nguarded)
            __atomic_sub_fetch(&guarded_now, sl->nguarded, __ATOMIC_RELAXED);
        L->st.stacks_mapped -= sl->carved;
        munmap(sl->map, sl->len);
        ax__free(sl);
    }
    L->stk.slabs = NULL;
    L->st.stacks_pooled = 0;
    L->st.stacks_unguarded = 0;
}

/* ---- how deep a task's stack went ------------------------------------- */

/*
 * For ax_dump_tasks(): the bytes between the stack's top and the lowest
 * word that is not zero, pages the kernel never gave (mincore) skipped. A
 * fresh stack is all zeroes, so this is the deepest the task went; a
 * reused stack keeps what earlier tasks left, so for a task on one it is
 * the deepest any of them went: an upper bound for this one. Read-only,
 * and not instrumented: the bytes below a fiber's stack pointer are no
 * object ASan or TSan knows, and under valgrind they are undefined (there
 * only the pages count).
 */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((no_sanitize_address, no_sanitize_thread))
#endif
static size_t scan_used(const char *lo, size_t size, size_t page)
{
    size_t npages = size / page, i;
    unsigned char vec[64];
    bool exact = true;

#if defined(HAVE_VALGRIND) && HAVE_VALGRIND
    exact = !RUNNING_ON_VALGRIND;
#endif
    for (i = 0; i < npages; i += sizeof vec) {
        size_t k = npages - i < sizeof vec ? npages - i : sizeof vec;
        if (mincore((void *)(lo + i * page), k * page, vec) != 0)
            return 0;
        for (size_t j = 0; j < k; j++) {
            if (!(vec[j] & 1))
                continue;
            const char *p = lo + (i + j) * page;
            if (!exact)
                return size - (size_t)(p - lo);
            for (size_t w = 0; w < page; w += sizeof(uint64_t))
                if (*(const volatile uint64_t *)(const void *)(p + w))
                    return size - (size_t)(p + w - lo);
        }
    }
    return 0;
}

size_t ax__stack_used(ax_loop *L, const ax_task *t)
{
    if (t->shstk && L->stk.sh_owner != t)
        return ax__shstk_parked(t);
    if (!t->stack.map)
        return 0;
    return scan_used(t->coro.stack_lo, t->coro.stack_size, L->stk.page);
}

/* ---- the shared stack (ax_task_opts.shared_stack) ---------------------- */

/*
 * Shared-stack tasks run on one stack per loop, of the loop's default size,
 * carved like any other (guard region, valgrind registration). The task
 * whose bytes are on it is L->stk.sh_owner. Before another shared task
 * runs there, the owner's live bytes (from the stack pointer its context
 * resumes with, less a margin, to the top) go to a heap buffer sized to
 * fit, and the newcomer's come back from its own, which is then freed: a
 * parked task holds its buffer and its struct, nothing else. The copies
 * are made by code running on another stack (task.c: the scheduler or an
 * own-stack task), never by a task on the shared stack itself.
 *
 * This is sound only because nothing writes into a parked shared task's
 * stack: the waits it may use keep their nodes and result slots in the
 * task struct or on the heap (ARCHITECTURE.md, "Shared stacks").
 */
struct ax__shsave {
    uint32_t len; /* bytes saved */
    uint32_t cap; /* bytes it can hold */
    /* While in the loop's cache the first 8 bytes link to the next. */
    unsigned char bytes[];
};

/* Buffers up to this many bytes are kept when freed, per 32-byte class,
 * up to SH_CACHE_MAX bytes per loop: a burst of parked tasks that all
 * resume (a gather of 100,000 sleepers) leaves its buffers for the next
 * one, instead of handing them to malloc, which gives the heap's top back
 * to the kernel, so the next burst faults every page in again (12,000
 * faults per warm gather in bench/gather, each a first touch). */
#define SH_CLASS 32u
#define SH_NCLASS 128u
#define SH_CACHE_MAX ((size_t)64 << 20)

#ifdef AX_ASAN
#define SH_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define SH_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define SH_POISON(p, n) ((void)(p), (void)(n))
#define SH_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

static ax__shsave *sh_buf_get(ax__stacks *S, size_t len)
{
    size_t c = (len + SH_CLASS - 1) / SH_CLASS;
    ax__shsave *sv;

    if (c && c <= SH_NCLASS && (sv = S->sh_free[c - 1])) {
        SH_UNPOISON(sv->bytes, sizeof sv);
        memcpy(&S->sh_free[c - 1], sv->bytes, sizeof sv);
        SH_UNPOISON(sv->bytes, sv->cap);
        S->sh_cached -= sv->cap;
        return sv;
    }
    if (c <= SH_NCLASS) /* a whole class, so it can be kept */
        len = (c ? c : 1) * SH_CLASS;
    if (len > UINT32_MAX || !(sv = ax__malloc(sizeof *sv + len)))
        return NULL;
    sv->cap = (uint32_t)len;
    return sv;
}

static void sh_buf_put(ax__stacks *S, ax__shsave *sv)
{
    size_t c = sv->cap / SH_CLASS;

    if (sv->cap % SH_CLASS == 0 && c && c <= SH_NCLASS &&
        S->sh_cached + sv->cap <= SH_CACHE_MAX) {
        memcpy(sv->bytes, &S->sh_free[c - 1], sizeof sv);
        S->sh_free[c - 1] = sv;
        S->sh_cached += sv->cap;
        SH_POISON(sv->bytes, sv->cap);
        return;
    }
    ax__free(sv);
}

/* Give a buffer back: the spare (the stack's size) is kept as the spare. */
static void sh_buf_done(ax_loop *L, ax__shsave *sv)
{
    ax__stacks *S = &L->stk;

    if (!sv)
        return;
    if (!S->sh_spare && sv->cap >= L->stk.default_size)
        S->sh_spare = sv;
    else
        sh_buf_put(S, sv);
}

int ax__shstk_can_park(ax_loop *L)
{
    ax__stacks *S = &L->stk;

    if (S->sh_spare)
        return 0;
    S->sh_spare = ax__malloc(sizeof *S->sh_spare + S->default_size);
    if (!S->sh_spare)
        return AX_ENOMEM;
    S->sh_spare->cap = (uint32_t)S->default_size;
    return 0;
}

static void sh_cache_term(ax__stacks *S)
{
    for (size_t c = 0; c < SH_NCLASS; c++) {
        ax__shsave *sv = S->sh_free[c], *next;
        for (; sv; sv = next) {
            SH_UNPOISON(sv->bytes, sv->cap);
            memcpy(&next, sv->bytes, sizeof next);
            ax__free(sv);
        }
        S->sh_free[c] = NULL;
    }
    S->sh_cached = 0;
    ax__free(S->sh_spare);
    S->sh_spare = NULL;
}

/* Bytes kept below the saved stack pointer. The assembly back-ends push
 * everything a switched-out context needs at and above it, so none; with
 * ucontext, the x86-64 red zone's 128 bytes, as insurance (nothing should
 * be live there across the call to swapcontext). Every byte here is in
 * every parked task (bench/parked). */
#if defined(AX_CTX_UCONTEXT) && AX_CTX_UCONTEXT
#define SH_MARGIN 128
#else
#define SH_MARGIN 0
#endif

#ifdef AX_ASAN
/* The bytes hold other frames' poisoned redzones: ASan's memcpy would
 * report them. Copied by hand, uninstrumented (volatile keeps the
 * compiler from turning the loop back into a memcpy call). */
__attribute__((no_sanitize_address)) static void
sh_copy(void *dst, const void *src, size_t n)
{
    volatile unsigned char *d = dst;
    const volatile unsigned char *s = src;

    for (size_t i = 0; i < n; i++)
        d[i] = s[i];
}
#else
#define sh_copy memcpy
#endif

size_t ax__shstk_parked(const ax_task *t)
{
    return t->stack.saved ? t->stack.saved->len : 0;
}

int ax__shstk_attach(ax_loop *L, ax_task *t)
{
    ax__stacks *S = &L->stk;

    if (!S->shared.map) {
        int rc = ax__shstk_can_park(L);
        if (rc || (rc = ax__stack_get(L, S->default_size, &S->shared)))
            return rc;
    }
    t->stack.map = NULL; /* set while its bytes are on the stack */
    t->stack.saved = NULL;
    t->coro.stack_lo = (char *)S->shared.map + S->guard;
    return 0;
}

/* Copy the parked owner @o's live bytes out. Out of memory here could not
 * be returned to anyone (the task is parked, the one to run is chosen), so
 * the loop's spare takes them then: every shared task checked that the
 * spare was there before it switched out (ax__shstk_can_park()). */
static void sh_park(ax_loop *L, ax_task *o)
{
    char *lo = o->coro.stack_lo, *top = lo + o->coro.stack_size;
    char *sp = ax__ctx_sp(&o->coro.ctx), *from = lo;
    ax__shsave *sv;
    size_t len;

    if (sp && sp <= top && sp >= lo + SH_MARGIN)
        from = sp - SH_MARGIN;
    len = (size_t)(top - from);
    sv = sh_buf_get(&L->stk, len);
    if (!sv) {
        sv = L->stk.sh_spare;
        L->stk.sh_spare = NULL;
    }
    if (!sv || sv->cap < len) { /* cannot be: the spare holds a stack */
        ax__report(L, "out of memory parking shared-stack task '%s' "
                      "(%zu bytes)", ax__task_name(o), len);
        abort();
    }
    sv->len = (uint32_t)len;
    /* Memcheck holds the bytes below a stack pointer unaddressable. */
    AX_VG_UNDEFINED(from, (size_t)(sp && from < sp ? sp - from : 0));
    sh_copy(sv->bytes, from, len);
    o->stack.saved = sv;
    o->stack.map = NULL;
}

bool ax__shstk_load(ax_loop *L, ax_task *t)
{
    ax__stacks *S = &L->stk;
    ax__shsave *sv = t->stack.saved;
    char *top = (char *)t->coro.stack_lo + t->coro.stack_size;

    if (S->sh_owner == t) /* cannot be: its map would be set */
        return false;
    if (S->sh_owner)
        sh_park(L, S->sh_owner);
    S->sh_owner = t;
    t->stack.map = S->shared.map;
    if (!sv) { /* never ran: the caller makes its first frame */
#ifdef AX_ASAN
        __asan_unpoison_memory_region(t->coro.stack_lo, t->coro.stack_size);
#endif
        return true;
    }
#ifdef AX_ASAN
    /* Its frames' redzones are not restored: fewer reports, none false. */
    __asan_unpoison_memory_region(top - sv->len, sv->len);
#endif
    AX_VG_UNDEFINED(top - sv->len, sv->len);
    sh_copy(top - sv->len, sv->bytes, sv->len);
    t->stack.saved = NULL;
    sh_buf_done(L, sv);
    return false;
}

void ax__shstk_release(ax_loop *L, ax_task *t)
{
    if (L->stk.sh_owner == t)
        L->stk.sh_owner = NULL;
    sh_buf_done(L, t->stack.saved);
    t->stack.saved = NULL;
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
