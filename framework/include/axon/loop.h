/* SPDX-License-Identifier: MIT */
/**
 * @file axon/loop.h
 * @brief The event loop: one thread's scheduler.
 *
 * A loop is one thread's scheduler: a libevent event_base, a FIFO queue of
 * ready tasks, a timer heap and a pool of task stacks. Scheduling is
 * cooperative: a task runs until it suspends inside an axon call (await,
 * sleep, yield) or returns. Ready tasks run in the order they became ready.
 *
 * Loops are made and torn down by ax_run() (runtime.h), the only way in;
 * nothing here needs a global init. When a loop ends it cancels every task
 * still alive, lets them finish their clean-up, reports misuse and frees
 * everything.
 *
 * Teardown reports (written to ax_opts.report, stderr by default), in the
 * spirit of asyncio's warnings:
 *  - `axon: task 'NAME' was never awaited nor detached`
 *  - `axon: task 'NAME' failed with AX_E... (text) and nobody retrieved it`
 *  - `axon: N future(s) never freed`
 *  - `axon: deadlock: ...` when every task waits and nothing can wake them,
 *    followed by the task dump (ax_dump_tasks()); with several loops, when
 *    every loop is idle with no timer, no event of the application and no
 *    message between loops in flight, followed by one dump per loop
 *    (`axon: loop I: N task(s) at t=...`). ax_run() then returns
 *    AX_EDEADLK (runtime.h). ax_opts.external_wakeups turns it off.
 */
#ifndef AXON_LOOP_H
#define AXON_LOOP_H

#include <stdbool.h>
#include <stdio.h>

#include "axon/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Default task stack size in bytes (usable bytes; a guard page is added). */
#define AX_DEFAULT_STACK_SIZE ((size_t)64 * 1024)
/** Smallest stack size accepted; smaller requests are rounded up to this. */
#define AX_MIN_STACK_SIZE ((size_t)16 * 1024)

/**
 * The loop running on this thread, or NULL outside ax_run().
 * Thread: any; the answer is about the calling thread.
 */
AX_EXTERN ax_loop *ax_loop_current(void);

/**
 * The libevent event_base behind @p loop (a `struct event_base *`), for
 * adding your own events. Callbacks run on the loop's thread between task
 * runs; they must not suspend. Thread: the loop's own.
 * @return NULL if @p loop is NULL.
 */
AX_EXTERN void *ax_loop_base(ax_loop *loop);

/**
 * Seconds since the current loop started (monotonic, or virtual under the
 * virtual clock). Outside a loop, seconds on the monotonic clock.
 */
AX_EXTERN double ax_now(void);

/** ax_now() in nanoseconds. */
AX_EXTERN int64_t ax_now_ns(void);

/**
 * Print every live task of the current loop: id, name, state and what it
 * waits on (ready, running, sleeping until t, awaiting task 'x', awaiting a
 * future, ...), and for a task that has run, its stack's high-water mark
 * as "stack USED/SIZE B": the bytes below the stack's top that were ever
 * written. A task that got a fresh stack shows its own deepest use; one
 * that reuses the stack of a task that ended shows the deeper of the two
 * (an upper bound), so a small figure is a safe one to size stacks by
 * (ax_task_opts.stack_size). Thread: a loop's thread.
 * @return 0, AX_EINVAL if @p out is NULL, AX_EPERM outside a loop.
 */
AX_EXTERN int ax_dump_tasks(FILE *out);

/**
 * A static string naming how this build works: context back-end
 * ("asm-x86_64", "asm-aarch64" or "ucontext"), the doorbell, how sockets
 * are watched ("sockets=epoll-set": the loop's own epoll set;
 * "sockets=libevent": an event each, configure --disable-epoll), the
 * sanitizer support compiled in, and libevent's version and back-end
 * method ("epoll"). Any thread.
 */
AX_EXTERN const char *ax_build_info(void);

/** Counters of the current loop, for tests and benchmarks. */
typedef struct ax_loop_stats {
    uint64_t tasks_spawned;   /**< tasks created on this loop */
    uint64_t tasks_live;      /**< tasks not yet freed */
    uint64_t switches;        /**< context switches into tasks */
    uint64_t stacks_mapped;   /**< stacks currently mmap'd (in use + pool) */
    uint64_t stacks_pooled;   /**< stacks waiting in the pool */
    uint64_t stacks_unguarded;/**< stacks that got no guard page (the
                                   kernel's map count limit was reached) */
    uint64_t futures_live;    /**< futures not yet freed */
    uint64_t inbox_msgs;      /**< messages taken from this loop's inbox */
    uint64_t inbox_wakeups;   /**< times the loop was woken by its doorbell */
    uint64_t doorbell_rings;  /**< doorbell writes made to this loop */
} ax_loop_stats;

/**
 * Fill @p st with the current loop's counters. Thread: a loop's thread.
 * @return 0, AX_EINVAL if @p st is NULL, AX_EPERM outside a loop.
 */
AX_EXTERN int ax_loop_stats_get(ax_loop_stats *st);

#ifdef __cplusplus
}
#endif
#endif
