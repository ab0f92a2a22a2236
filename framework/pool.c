/* SPDX-License-Identifier: MIT */
/*
 * Type-stable memory for handles: per-loop pools of freed tasks, futures,
 * gathers, groups and synchronisation objects (see AX__MAGIC_LIVE in
 * future_impl.h for why).
 *
 * A pool is a FIFO of freed structs. get() takes the oldest only when more
 * than AX__QUARANTINE wait behind it, else it asks malloc; so a freed
 * struct keeps its dead magic word for at least AX__QUARANTINE further
 * frees of its kind, and a stale handle used within that window is caught.
 * The cost: the pool holds what the busiest moment freed, up to KEEP_BYTES of
 * them, until the runtime ends (then everything goes back to malloc),
 * and a reused struct is colder in the cache than the one malloc would
 * have handed back.
 * Only the loop that owns a pool touches it.
 */
#include "internal.h"

#include <stddef.h>
#include <string.h>

#ifdef AX_ASAN
#include <sanitizer/asan_interface.h>
/* Quarantined structs are poisoned but for the link and the magic word,
 * so that axon's own use of a freed struct is reported, not just a
 * user's. */
#define POISON(o, n) ASAN_POISON_MEMORY_REGION(o, n)
#define UNPOISON(o, n) ASAN_UNPOISON_MEMORY_REGION(o, n)
#else
#define POISON(o, n) ((void)(o), (void)(n))
#define UNPOISON(o, n) ((void)(o), (void)(n))
#endif

/* Small enough that a reused struct is still in L2 (a task is under 512
 * bytes: 256 of them are 128 KiB), which keeps spawn+join within noise of
 * plain malloc; large enough to outlast the usual await-then-await-again
 * or free-then-free-again mistake by a long way. */
#ifndef AX__QUARANTINE
#define AX__QUARANTINE 256
#endif

/* Beyond this many bytes of one kind, the oldest goes back to malloc: a
 * burst of a million tasks must not pin half a gigabyte. Those structs
 * were freed a long time ago, far outside the window a check could
 * promise anyway. As large as the shared stacks' buffer cache (stack.c),
 * so that a second burst of 100,000 parked tasks (about 190,000 task
 * structs fit) finds its memory warm: handed to malloc, the heap's top
 * goes back to the kernel and every page faults in again. */
#define KEEP_BYTES ((size_t)64 << 20)

#define KEEP sizeof(ax__pooled)

static void drop_oldest(ax__pool *p)
{
    ax__pooled *o = p->head;

    p->head = o->next;
    if (!p->head)
        p->tail = NULL;
    p->n--;
    UNPOISON(o, p->size);
    ax__free(o);
}

void *ax__pool_get(ax__pool *p, size_t size)
{
    ax__pooled *o = p->head;

    if (p->n <= AX__QUARANTINE)
        return ax__calloc(1, size);
    p->head = o->next;
    p->n--;
    UNPOISON(o, size);
    memset(o, 0, size);
    return o;
}

void ax__pool_put(ax__pool *p, void *obj, size_t size, uint32_t *magic)
{
    ax__pooled *o = obj;
    size_t m = (size_t)((char *)magic - (char *)obj);

    ax__set_magic(magic, AX__MAGIC_DEAD);
    o->next = NULL;
    p->size = size;
    if (p->tail)
        p->tail->next = o;
    else
        p->head = o;
    p->tail = o;
    p->n++;
    POISON((char *)o + KEEP, m - KEEP);
    POISON((char *)magic + sizeof *magic, size - m - sizeof *magic);
    if (p->n * size > KEEP_BYTES)
        drop_oldest(p);
}

void ax__pool_put_foreign(ax__pool *p, void *obj, size_t size,
                          uint32_t *magic)
{
    ax__pool_put(p, obj, size, magic);
    /* It was taken from another loop's pool, which already lost it: kept
     * here, it would be a struct this pool never handed out, and a loop
     * whose tasks are all spawned from elsewhere (a supervisor's workers)
     * would collect one per task up to KEEP_BYTES. Above the quarantine the
     * pool keeps its size; the oldest, outside the window, goes. */
    if (p->n > AX__QUARANTINE + 1)
        drop_oldest(p);
}

static void pool_drain(ax__pool *p)
{
    ax__pooled *o, *next;

    for (o = p->head; o; o = next) {
        next = o->next;
        /* Unpoisoned whole: free() only looks at its own header, but
         * malloc may hand the chunk out again with our poison on it. */
        UNPOISON(o, p->size);
        ax__free(o);
    }
    p->head = p->tail = NULL;
    p->n = 0;
}

/* After the loop's last object is gone: at the end of ax__loop_term(). */
void ax__pools_term(ax_loop *L)
{
    pool_drain(&L->pools.task);
    pool_drain(&L->pools.future);
    pool_drain(&L->pools.gather);
    pool_drain(&L->pools.group);
    pool_drain(&L->pools.queue);
    pool_drain(&L->pools.sync);
    pool_drain(&L->pools.waitset);
    pool_drain(&L->pools.handle);
}

_Static_assert(offsetof(ax_future, magic) >= sizeof(ax__pooled) &&
                   offsetof(ax_group, magic) >= sizeof(ax__pooled),
               "the quarantine link would overwrite the magic word");
_Static_assert(offsetof(ax_future, loop) == offsetof(ax__pooled, loop) &&
                   offsetof(ax_group, loop) == offsetof(ax__pooled, loop),
               "the quarantine link would overwrite the owner loop");
