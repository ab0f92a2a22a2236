/* SPDX-License-Identifier: MIT */
/**
 * @file axon/alloc.h
 * @brief Replacing the allocator axon uses (SQLite's SQLITE_CONFIG_MALLOC).
 *
 * Every block of memory the runtime, the network layer and the actors take
 * goes through one allocator: libc's malloc/realloc/free unless
 * ax_set_allocator() installed another. Task stacks are mapped with mmap()
 * instead; before each new mapping the runtime asks the allocator's
 * optional @c map callback, which may refuse it as if memory were out.
 *
 * The hook exists for two uses: routing axon's memory to an arena or a
 * counting allocator, and testing what happens when memory runs out (a
 * test allocator that fails the k-th request; see tests/check_alloc.c).
 * Every operation that allocates returns AX_ENOMEM, or reports it to its
 * awaiter, when a request fails, and leaves nothing behind.
 *
 * libevent's own allocations (event bases, events, evbuffers) do not go
 * through this hook: libevent has one process-wide setting
 * (event_set_mem_functions) that also governs the application's own use
 * of libevent, so axon leaves it to the application.
 */
#ifndef AXON_ALLOC_H
#define AXON_ALLOC_H

#include "axon/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** An allocator: three functions and the pointer they are given back. */
typedef struct ax_allocator {
    /** malloc(): a block of at least @p size bytes (size > 0) aligned for
     *  any object, or NULL. */
    void *(*alloc)(void *ud, size_t size);
    /** realloc() with a non-NULL @p ptr from this allocator and a size
     *  above 0: NULL leaves @p ptr as it was. */
    void *(*resize)(void *ud, void *ptr, size_t size);
    /** free() of a non-NULL block from this allocator. */
    void (*release)(void *ud, void *ptr);
    /** Optional (NULL: always allowed): asked before @p size bytes of task
     *  stack are mapped with mmap(); nonzero refuses the mapping, which the
     *  runtime then treats as out of memory. */
    int (*map)(void *ud, size_t size);
    /** Passed to every callback. */
    void *ud;
} ax_allocator;

/**
 * Install @p a as the allocator of every runtime started from now on, or
 * go back to libc's with NULL. The struct is copied.
 *
 * The callbacks may be called from any loop thread at once: they must be
 * thread-safe. Memory taken with one allocator is given back to the same
 * one, which is why the allocator can only change while no runtime exists.
 *
 * @param a  the allocator (alloc, resize and release all set), or NULL.
 * @return 0; AX_EINVAL if a callback among alloc, resize, release is
 *         NULL; AX_EBUSY while a runtime is running (between the start
 *         and the return of ax_run()).
 * Suspends: no.
 * Thread: any, but not concurrently with ax_run() being entered.
 */
AX_EXTERN int ax_set_allocator(const ax_allocator *a);

/**
 * Copy the installed allocator into @p out (all fields NULL for libc's).
 * @return 0; AX_EINVAL for a NULL @p out.
 * Suspends: no. Thread: any.
 */
AX_EXTERN int ax_get_allocator(ax_allocator *out);

#ifdef __cplusplus
}
#endif

#endif /* AXON_ALLOC_H */
