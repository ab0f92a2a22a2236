/* SPDX-License-Identifier: MIT */
/*
 * The one door to memory (axon/alloc.h): every malloc, calloc, realloc
 * and free of framework/, framework/net/ and actors/ is one of these, so
 * that an installed allocator sees them all and a test can fail any one.
 * Included by every layer (through ext.h and wait.h too). Never installed.
 *
 * The allocator can only change while no runtime exists, and a loop
 * thread is created after the change, so reading it without atomics is
 * race-free; the cost for libc's allocator is one predictable branch.
 */
#ifndef AX_ALLOC_H
#define AX_ALLOC_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "axon/alloc.h"
#include "axon/error.h"

/* The installed allocator; alloc == NULL means libc's. */
extern ax_allocator ax__allocator;

/* Runtimes between the start and the end of ax_run(): ax_set_allocator()
 * refuses while any exists. */
void ax__alloc_runtime(int delta);

static inline void *ax__malloc(size_t n)
{
    if (__builtin_expect(ax__allocator.alloc != NULL, 0))
        return ax__allocator.alloc(ax__allocator.ud, n ? n : 1);
    return malloc(n);
}

static inline void *ax__calloc(size_t n, size_t size)
{
    void *p;

    if (__builtin_expect(ax__allocator.alloc == NULL, 1))
        return calloc(n, size);
    if (size && n > SIZE_MAX / size)
        return NULL;
    n *= size;
    if ((p = ax__allocator.alloc(ax__allocator.ud, n ? n : 1)))
        memset(p, 0, n);
    return p;
}

static inline void *ax__realloc(void *p, size_t n)
{
    if (__builtin_expect(ax__allocator.alloc == NULL, 1))
        return realloc(p, n);
    if (!p)
        return ax__allocator.alloc(ax__allocator.ud, n ? n : 1);
    return ax__allocator.resize(ax__allocator.ud, p, n ? n : 1);
}

static inline void ax__free(void *p)
{
    if (__builtin_expect(ax__allocator.alloc == NULL, 1))
        free(p);
    else if (p)
        ax__allocator.release(ax__allocator.ud, p);
}

/* A block aligned to @align (a power of two, at most 4096), freed with
 * ax__aligned_free(). An installed allocator only promises malloc's
 * alignment, so the block is over-allocated and the real start kept
 * just below the aligned one. */
static inline void *ax__aligned_alloc(size_t align, size_t n)
{
    char *raw, *p;

    if (__builtin_expect(ax__allocator.alloc == NULL, 1))
        return aligned_alloc(align, (n + align - 1) & ~(align - 1));
    if (!(raw = ax__allocator.alloc(ax__allocator.ud, n + align + sizeof(void *))))
        return NULL;
    p = (char *)(((uintptr_t)raw + sizeof(void *) + align - 1) &
                 ~(uintptr_t)(align - 1));
    memcpy(p - sizeof(void *), &raw, sizeof raw);
    return p;
}

static inline void ax__aligned_free(void *p)
{
    void *raw;

    if (__builtin_expect(ax__allocator.alloc == NULL, 1) || !p) {
        free(p);
        return;
    }
    memcpy(&raw, (char *)p - sizeof(void *), sizeof raw);
    ax__allocator.release(ax__allocator.ud, raw);
}

/* Before a task stack (or a signal stack) is mapped: 0 to go ahead,
 * AX_ENOMEM if the allocator refuses. */
static inline int ax__map_check(size_t len)
{
    if (__builtin_expect(ax__allocator.map == NULL, 1))
        return 0;
    return ax__allocator.map(ax__allocator.ud, len) ? AX_ENOMEM : 0;
}

#endif
