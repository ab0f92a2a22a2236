/**
 * @file axon/runtime.h
 * @brief Many loops, one per thread, that talk only by messages.
 *
 * ax_run_with() with ax_opts.loops > 1 starts a runtime: loop 0 runs on the
 * calling thread, loops 1..N-1 on threads of their own. A task belongs to
 * the loop it was spawned on for its whole life; loops never share tasks.
 *
 * Each loop has an inbox: a lock-free multi-producer single-consumer queue
 * plus a doorbell (an eventfd, or a pipe where there is none) registered with
 * the loop's event_base. A sender rings the doorbell only when the receiving
 * loop may be asleep; a woken loop drains its whole inbox. Under load that is
 * far less than one doorbell write per message (ax_loop_stats counts both).
 *
 * What crosses loops, and how:
 *  - ax_spawn_on() starts a task on another loop;
 *  - ax_await(), ax_gather() and ax_cancel() accept tasks and futures of
 *    other loops: the request goes to the owner's inbox, and the answer
 *    comes back to the awaiting task's inbox; the awaiter resumes on its
 *    own loop;
 *  - ax_future_set_result(), ax_future_set_error() and ax_cancel() may be
 *    called for a future of another loop (they return 0 at once; the
 *    completion happens on the owner loop, and a second completion is
 *    ignored there);
 *  - ax_loop_post() runs a plain function on a loop, from any thread;
 *  - layers built on the runtime send their messages through the same
 *    inboxes.
 *
 * Shutdown: when the main task (on loop 0) ends, every task on every loop is
 * cancelled, the loops keep running until the last task has finished, then
 * the threads are joined and everything is freed. Messages still queued are
 * dropped: each frees what it holds (a layer's message may be handed to
 * that layer's hook for undelivered messages).
 */
#ifndef AXON_RUNTIME_H
#define AXON_RUNTIME_H

#include <signal.h>

#include "axon/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Number of loops in the current runtime (1 for a plain ax_run()).
 * @return the count, or 0 when called from a thread that runs no loop.
 */
AX_EXTERN int ax_loop_count(void);

/**
 * Loop number @p i of the current runtime (0 is the one ax_run() was called
 * on). The pointer stays valid until ax_run() returns.
 * @return the loop, or NULL if @p i is out of range or the caller runs no
 *         loop.
 */
AX_EXTERN ax_loop *ax_loop_at(int i);

/** The index of @p loop in its runtime; -1 for NULL. Any thread. */
AX_EXTERN int ax_loop_index(const ax_loop *loop);

/**
 * Spawn a task on @p loop (create_task on another thread's loop). The task
 * is queued there behind that loop's ready tasks. The handle works like any
 * other: await it (from any loop of the runtime), pass it to ax_gather(),
 * cancel it, or detach it.
 *
 * @param loop  a loop of the caller's runtime; the current loop is fine.
 * @param out   receives the handle; NULL spawns detached.
 * @return 0; AX_EINVAL (NULL @p loop or @p fn, a loop of another runtime);
 *         AX_EPERM outside a loop; AX_ESHUTDOWN if the runtime is shutting
 *         down; AX_ENOMEM. If the stack cannot be allocated on the target
 *         loop the task ends with AX_ENOMEM without running.
 * Thread: a loop thread of the runtime. Suspends: no.
 */
AX_EXTERN int ax_spawn_on(ax_loop *loop, ax_task **out, ax_task_fn fn,
                          void *arg);

/** ax_spawn_on() with options (name, stack size). */
AX_EXTERN int ax_spawn_on_ex(ax_loop *loop, ax_task **out, ax_task_fn fn,
                             void *arg, const ax_task_opts *opts);

/**
 * Run fn(arg) on @p loop's thread, soon, between tasks
 * (loop.call_soon_threadsafe). Calls posted by one thread run in the order
 * they were posted. fn must not suspend; it may spawn tasks.
 *
 * @return 0, and then fn runs exactly once, even if the runtime is
 *         shutting down (a loop runs what was posted before it stops);
 *         AX_EINVAL for NULL arguments; AX_ESHUTDOWN if the loop has
 *         stopped taking calls (its tasks have all ended), and fn is not
 *         called; AX_ENOMEM. The loop pointer itself must still be valid:
 *         it is freed when ax_run() returns.
 * Thread: any thread, including threads that run no loop.
 */
AX_EXTERN int ax_loop_post(ax_loop *loop, void (*fn)(void *arg), void *arg);

/**
 * Server helper: from now on SIGINT and SIGTERM cancel the runtime's main
 * task (on loop 0), which is how a server asks its accept loop to stop; the
 * rest of the shutdown is the usual one. A second signal while the first is
 * handled is ignored. Not forced on anybody: call it from a task on loop 0.
 * @return 0; AX_ENOTTASK; AX_EPERM if not on loop 0; AX_ENOMEM.
 */
AX_EXTERN int ax_stop_on_signals(void);

/** Runtime-wide counters, for tests and benchmarks. */
typedef struct ax_runtime_stats {
    uint64_t posts;            /**< ax_loop_post calls accepted */
} ax_runtime_stats;

/**
 * Read the runtime-wide counters (a consistent snapshot only when the
 * runtime is quiet).
 * @return 0; AX_EINVAL for NULL; AX_EPERM outside a loop.
 * Thread: any loop thread.
 */
AX_EXTERN int ax_runtime_stats_get(ax_runtime_stats *st);

#ifdef __cplusplus
}
#endif
#endif
