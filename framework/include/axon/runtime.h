/* SPDX-License-Identifier: MIT */
/**
 * @file axon/runtime.h
 * @brief The entry point, ax_run() (asyncio.run), and the runtime: many
 * loops, one per thread, that talk only by messages.
 *
 * ax_run() makes a loop on the calling thread, runs the given function as
 * the first task (the main task), and when that task ends cancels every
 * task still alive, lets them finish their clean-up, reports misuse (see
 * loop.h) and frees everything.
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
 *  - ax_spawn_with() with ax_task_opts.loop starts a task on another loop;
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
#include <stdbool.h>
#include <stdio.h>

#include "axon/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** ax_opts.log: receives each line of axon's reports (teardown reports,
 *  misuse reports, deadlock dumps), without its newline. Called on the
 *  thread of the loop that reports, so with several loops possibly from
 *  several threads at once; it must not call axon. */
typedef void (*ax_log_fn)(void *arg, const char *line);

/** Options for ax_run_with(). Zero-initialise, then set what you need. */
typedef struct ax_opts {
    /** Default stack size for tasks on this loop; 0 means
     *  AX_DEFAULT_STACK_SIZE. */
    size_t stack_size;
    /** Use a virtual clock: sleeps and timeouts complete as soon as no task
     *  is ready, in deadline order, and ax_now() advances by exactly the
     *  time slept. For tests. The environment variable AX_VIRTUAL_CLOCK=1
     *  turns it on for every ax_run() as well. With several loops the
     *  loops share one virtual time, which advances only when the whole
     *  runtime is quiet (every loop idle, no cross-loop message in flight),
     *  and then to the earliest deadline of all loops: a reply from another
     *  loop always beats a virtual timeout, however slowly that loop runs,
     *  and sleeps end in deadline order across loops too (a loop's clock
     *  catches up with that time when it next wakes, so ax_now() on a loop
     *  that was idle may jump). A thread of yours that posts later
     *  (ax_loop_post) is not waited for. */
    bool virtual_clock;
    /** Where teardown reports and deadlock dumps go; NULL means stderr. */
    FILE *report;
    /** How many loops (threads) the runtime runs: 0 or 1 means one loop on
     *  the calling thread (asyncio.run); AX_LOOPS_PER_CPU one per online
     *  CPU; N means N, loop 0 being the calling thread and the others new
     *  threads. At most AX_LOOPS_MAX. */
    int loops;
    /** axon reports a deadlock when every task waits and nothing can wake
     *  them: no timer, no event of the application (socket, signal, your
     *  libevent events), no post, and with several loops no loop running
     *  and no message between loops in flight. Set this if a thread of
     *  yours (not a loop) will wake a task later, through ax_loop_post()
     *  or by completing a future: axon cannot see a thread that has not
     *  posted yet. A loop that a foreign thread posted to also turns
     *  detection off for the rest of the run. */
    bool external_wakeups;
    /** How many ax_loop_post() calls may wait, posted and not yet run, on
     *  each loop; past it ax_loop_post() fails with AX_EAGAIN. 0 means
     *  AX_MAX_POSTS_DEFAULT. (asyncio's call_soon_threadsafe has no bound:
     *  a thread that posts faster than the loop runs grows memory without
     *  limit, some 48 bytes a post.) */
    size_t max_posts;
    /** The most threads the blocking-work pool (thread.h) may start; it
     *  grows to this on demand. 0 means the online CPU count plus 4, at
     *  most 32 (Python's default executor). At most AX_THREAD_POOL_MAX. */
    int thread_pool_max;
    /** Places in the pool's job queue; callers beyond wait for a place
     *  (backpressure). 0 means AX_THREAD_QUEUE_DEFAULT. */
    size_t thread_pool_queue;
    /** Write a trace of the run to this file, in Chrome's trace event
     *  format (JSON; open it in Perfetto or chrome://tracing): one
     *  timeline per loop, a slice per run of a task (start or resume to
     *  suspend, yield or end, with what it then waits for), task spawns,
     *  actor sends and asks, and cross-loop messages. NULL: the environment
     *  variable AX_TRACE names the file, if set. The file is written while
     *  the runtime runs and completed when ax_run_with() returns. Off, the
     *  trace costs one predictable branch per traced point. */
    const char *trace;
    /** Where reports go as lines, instead of @ref report; NULL: @ref report
     *  (or stderr). See ax_log_fn. */
    ax_log_fn log;
    /** Passed to @ref log. */
    void *log_arg;
} ax_opts;

/** Upper bound for ax_opts.thread_pool_max. */
#define AX_THREAD_POOL_MAX 1024
/** ax_opts.thread_pool_queue when 0. */
#define AX_THREAD_QUEUE_DEFAULT ((size_t)1024)

/** ax_opts.max_posts when 0: 1,048,576 queued posts (about 48 MiB). */
#define AX_MAX_POSTS_DEFAULT ((size_t)1 << 20)

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
 *         ax_task_fail()) or AX_ECANCELED if it failed or was cancelled,
 *         except that a cancellation by SIGINT/SIGTERM after
 *         ax_stop_on_signals() is the requested stop, not a failure: if
 *         the main body then returns normally (not through ax_task_fail())
 *         the result is 0 and *result is what it returned;
 *         AX_EDEADLK if every task ended up waiting on something that
 *         could never happen (the tasks are cancelled and the dump is
 *         reported; with several loops, every loop's tasks, once every
 *         loop is idle and no message between them is in flight; off
 *         with ax_opts.external_wakeups); AX_EINVAL if @p fn is NULL; AX_ENESTED if this thread
 *         already runs a loop (call it from a plain thread, not a task);
 *         AX_ENOMEM.
 * Thread: any thread that is not already running a loop. Blocks the
 * calling thread until the runtime has ended.
 */
AX_EXTERN int ax_run(ax_task_fn fn, void *arg, void **result);

/**
 * ax_run() with options. @p opts may be NULL (the defaults).
 * @return as ax_run(); AX_EINVAL also for a stack size above 1 GiB or a
 *         loop count outside [AX_LOOPS_PER_CPU, AX_LOOPS_MAX], a
 *         negative thread_pool_max or one above AX_THREAD_POOL_MAX;
 *         AX_ENOMEM or AX_EAGAIN if a loop thread could not be started;
 *         the negated errno of fopen() (-ENOENT, -EACCES, ...) if the
 *         trace file (ax_opts.trace or AX_TRACE) cannot be created, before
 *         anything runs; AX_ENOMEM if ax_opts.log's stream cannot be made.
 */
AX_EXTERN int ax_run_with(const ax_opts *opts, ax_task_fn fn, void *arg,
                          void **result);


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
 * Run fn(arg) on @p loop's thread, soon, between tasks
 * (loop.call_soon_threadsafe). Calls posted by one thread run in the order
 * they were posted. fn must not suspend; it may spawn tasks.
 *
 * @return 0, and then fn runs exactly once, even if the runtime is
 *         shutting down (a loop runs what was posted before it stops);
 *         AX_EINVAL for NULL arguments; AX_ESHUTDOWN if the loop has
 *         stopped taking calls (its tasks have all ended), and fn is not
 *         called; AX_EAGAIN if ax_opts.max_posts calls posted to
 *         @p loop are waiting to run (the loop is behind: retry later or
 *         shed the work), and fn is not called; AX_ENOMEM. The loop
 *         pointer itself must still be valid:
 *         it is freed when ax_run() returns.
 * Thread: any thread, including threads that run no loop.
 */
AX_EXTERN int ax_loop_post(ax_loop *loop, void (*fn)(void *arg), void *arg);

/**
 * Server helper: from now on SIGINT and SIGTERM cancel the runtime's main
 * task (on loop 0), which is how a server asks its accept loop to stop; the
 * rest of the shutdown is the usual one. The next SIGINT or SIGTERM after
 * that (a shutdown that is stuck, a user who insists) restores the default
 * disposition and raises the signal again: the process ends at once, as
 * with asyncio.run() and Go's signal.NotifyContext. Not forced on anybody:
 * call it from a task on loop 0. To await signals, see signal.h.
 * A main task stopped this way that catches the cancellation and returns
 * normally makes ax_run() return 0, so `return ax_run(...) ? 1 : 0;` exits
 * 0 on Ctrl-C; to report the stop as a failure, return
 * ax_task_fail(AX_ECANCELED).
 * @return 0; AX_ENOTTASK; AX_EPERM if not on loop 0; AX_ENOMEM.
 * Suspends: no.
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

/**
 * The runtime's and the calling loop's statistics (ax_runtime_stats,
 * ax_loop_stats) as Prometheus text (exposition format 0.0.4), for a
 * `/metrics` answer: `axon_posts_total`, `axon_loops`, and per loop, with a
 * `loop="N"` label, `axon_tasks_spawned_total`, `axon_tasks_live`,
 * `axon_switches_total` and the rest of ax_loop_stats.
 * @param buf  where the text goes, NUL-terminated; may be NULL when @p cap
 *             is 0 (to learn the size).
 * @param cap  the size of @p buf.
 * @param len  NULL, or receives the text's length (without the NUL), also
 *             when it did not fit.
 * @return 0; AX_E2BIG if the text did not fit (then @p buf holds a cut,
 *         NUL-terminated part, and *@p len the length needed); AX_EINVAL
 *         for a NULL @p buf with @p cap > 0; AX_EPERM outside a loop.
 * Thread: a loop's (its own statistics). Suspends: no.
 */
AX_EXTERN int ax_stats_prometheus(char *buf, size_t cap, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
