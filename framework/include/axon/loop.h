/**
 * @file axon/loop.h
 * @brief The event loop and its entry point, ax_run() (asyncio.run).
 *
 * A loop is one thread's scheduler: a libevent event_base, a FIFO queue of
 * ready tasks, a timer heap and a pool of task stacks. Scheduling is
 * cooperative: a task runs until it suspends inside an axon call (await,
 * sleep, yield) or returns. Ready tasks run in the order they became ready.
 *
 * ax_run() makes a loop on the calling thread, runs the given function as
 * the first task, and when that task ends cancels every task still alive,
 * lets them finish their clean-up, reports misuse (see below) and frees
 * everything. It is the only way in; nothing here needs a global init.
 *
 * Teardown reports (written to ax_opts.report, stderr by default), in the
 * spirit of asyncio's warnings:
 *  - `axon: task 'NAME' was never awaited nor detached`
 *  - `axon: task 'NAME' failed with AX_E... (text) and nobody retrieved it`
 *  - `axon: N future(s) never freed`
 *  - `axon: deadlock: ...` when every task waits and nothing can wake them.
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

/** Options for ax_run_with(). Zero-initialise, then set what you need. */
typedef struct ax_opts {
    /** Default stack size for tasks on this loop; 0 means
     *  AX_DEFAULT_STACK_SIZE. */
    size_t stack_size;
    /** Use a virtual clock: sleeps and timeouts complete as soon as no task
     *  is ready, in deadline order, and ax_now() advances by exactly the
     *  time slept. For tests. The environment variable AX_VIRTUAL_CLOCK=1
     *  turns it on for every ax_run() as well. With several loops each loop
     *  has its own virtual clock, which advances only when the whole
     *  runtime is quiet (every loop idle, no cross-loop message in flight):
     *  a reply from another loop always beats a virtual timeout, however
     *  slowly that loop runs, but the order of sleeps on different loops is
     *  not exact. A thread of yours that posts later (ax_loop_post) is not
     *  waited for. */
    bool virtual_clock;
    /** Where teardown reports and deadlock dumps go; NULL means stderr. */
    FILE *report;
    /** How many loops (threads) the runtime runs: 0 or 1 means one loop on
     *  the calling thread (asyncio.run); AX_LOOPS_PER_CPU one per online
     *  CPU; N means N, loop 0 being the calling thread and the others new
     *  threads. At most AX_LOOPS_MAX. See runtime.h. */
    int loops;
    /** With a single loop, axon reports a deadlock when every task waits
     *  and no timer, event or post can wake them. Set this if a thread of
     *  yours will wake a task later through ax_loop_post(). */
    bool external_wakeups;
} ax_opts;

/** ax_opts.loops: one loop per online CPU. */
#define AX_LOOPS_PER_CPU (-1)
/** Upper bound for ax_opts.loops. */
#define AX_LOOPS_MAX 256

/**
 * Run @p fn as the first task of a new loop on this thread and return when it
 * has ended and the loop has been torn down (asyncio.run).
 *
 * @param fn     the main task body; must not be NULL.
 * @param arg    passed to @p fn, owned by the caller.
 * @param result if not NULL, receives @p fn's return value on success.
 * @return 0 if the main task returned normally; its failure code (see
 *         ax_task_fail()) or AX_ECANCELED if it failed or was cancelled;
 *         AX_EDEADLK if every task ended up waiting on something that
 *         could never happen (the tasks are cancelled and the dump is
 *         reported); AX_EINVAL if @p fn is NULL; AX_EBUSY if this thread
 *         already runs a loop (call it from a plain thread, not a task);
 *         AX_ENOMEM.
 * Thread: any thread that is not already running a loop.
 */
AX_EXTERN int ax_run(ax_task_fn fn, void *arg, void **result);

/**
 * ax_run() with options. @p opts may be NULL (the defaults).
 * @return as ax_run(); AX_EINVAL also for a stack size above 1 GiB or a
 *         loop count outside [AX_LOOPS_PER_CPU, AX_LOOPS_MAX]; AX_ENOMEM or
 *         AX_EAGAIN if a loop thread could not be started.
 */
AX_EXTERN int ax_run_with(const ax_opts *opts, ax_task_fn fn, void *arg,
                          void **result);

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
 * future, ...). Thread: a loop's thread.
 * @return 0, AX_EINVAL if @p out is NULL, AX_EPERM outside a loop.
 */
AX_EXTERN int ax_dump_tasks(FILE *out);

/**
 * A static string naming how this build works: context back-end
 * ("asm-x86_64", "asm-aarch64" or "ucontext"), the doorbell, the sanitizer
 * support compiled in, and libevent's version and back-end method
 * ("epoll"). Any thread.
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
