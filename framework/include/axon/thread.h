/* SPDX-License-Identifier: MIT */
/**
 * @file axon/thread.h
 * @brief Blocking work on the runtime's thread pool: ax_to_thread()
 * (asyncio.to_thread, libuv's uv_queue_work).
 *
 * A call that blocks (a database client, compression, a file read, a name
 * lookup through getaddrinfo) would stall every task of the loop it runs
 * on. ax_to_thread() runs it on a pool thread instead and suspends only
 * the calling task; the result comes back through the caller's inbox and
 * the task resumes on its own loop.
 *
 * One pool per runtime, made on first use and shared by every loop. It
 * starts with no thread and grows on demand (a thread is added when a job
 * is queued and no idle thread is there to take it) up to
 * ax_opts.thread_pool_max; threads then stay until the runtime ends.
 * Jobs wait in a bounded FIFO queue (ax_opts.thread_pool_queue places).
 * When it is full the caller suspends until a place frees (backpressure:
 * callers beyond the queue wait, in order, and hold one job each), or,
 * with ax_thread_opts.nowait, gets AX_EAGAIN at once. Nothing grows without
 * bound.
 *
 * Cancellation and deadlines: a cancelled (or timed out) caller returns
 * AX_ECANCELED (AX_ETIMEDOUT) at once. A job that has not started is
 * withdrawn and never runs; ax_thread_opts.release is called with a NULL
 * result (so arg can be freed there). A job already running cannot be
 * interrupted (a blocking call is not cancellable: the thread stays busy
 * until fn returns); when it returns, its result goes to release, or is
 * dropped if there is none. So after a submitted job's caller left,
 * release is called exactly once.
 *
 * Teardown: when the runtime ends, a task still waiting for a job is
 * cancelled like any other task (so jobs not started are withdrawn and
 * never run); ax_run() then waits for the jobs still running to return,
 * hands their results to their release callbacks, and joins every pool
 * thread before it returns. A job that never returns therefore keeps
 * ax_run() from returning.
 *
 * Under the virtual clock (tests) the jobs run in real time, and while a
 * task of the loop waits for one the virtual clock runs no faster than
 * real time: a virtual deadline on a job (or a sleep beside it) passes
 * only once that much real time has passed.
 */
#ifndef AXON_THREAD_H
#define AXON_THREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "axon/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A job: runs on a pool thread, returns its result. It must not call
 *  axon functions that need a loop or a task (there is none on a pool
 *  thread); ax_loop_post() and completing a future are allowed. */
typedef void *(*ax_thread_fn)(void *arg);

/** Receives the result of a job whose caller left (cancelled, timed out,
 *  or the runtime ended) once the job returns, with the job's @p arg;
 *  @p result is NULL for a job withdrawn before it started.
 *  Runs on the pool thread, or on the caller's loop thread when the
 *  result had already been sent home: it must be thread-safe and must not
 *  suspend or call axon functions that need a task. */
typedef void (*ax_thread_release_fn)(void *result, void *arg);

/** Options for ax_to_thread_with(). Zero-initialise. */
typedef struct ax_thread_opts {
    /** Frees a result nobody will read; NULL: the result is dropped. */
    ax_thread_release_fn release;
    /** When the queue is full, fail with AX_EAGAIN instead of waiting for
     *  a place. */
    bool nowait;
} ax_thread_opts;

/**
 * Run fn(arg) on the runtime's thread pool and wait for its result.
 * @param fn     the job; must not be NULL.
 * @param arg    passed to @p fn; owned by the caller, who must keep it
 *               valid until the job has returned (not only until this
 *               call returns: a cancelled call leaves a running job).
 * @param result if not NULL, receives fn's return value.
 * @return 0; AX_EINVAL for a NULL @p fn; AX_ENOTTASK outside a task;
 *         AX_ECANCELED if the caller was cancelled (see the file comment
 *         for what becomes of the job); AX_EAGAIN if no pool thread could
 *         be started; AX_ENOMEM.
 * Thread: a task of any loop. Suspends: yes, until the job has returned
 * (and while the queue is full).
 */
AX_EXTERN int ax_to_thread(ax_thread_fn fn, void *arg, void **result);

/**
 * ax_to_thread() until the absolute @p deadline (ns on ax_now_ns()'s
 * clock, -1: none). The deadline bounds the wait for a place in the queue
 * and for the result; when it passes the call returns as if cancelled.
 * @return as ax_to_thread(); AX_ETIMEDOUT (a deadline already past does
 *         not submit the job, and release is not called);
 *         AX_EINVAL for a deadline below -1.
 */
AX_EXTERN int ax_to_thread_dl(ax_thread_fn fn, void *arg, void **result,
                              int64_t deadline);

/**
 * ax_to_thread_dl() with options (@p opts may be NULL).
 * @return as ax_to_thread_dl(); AX_EAGAIN also when @p opts->nowait is
 *         set and the queue is full (the job is not submitted). Only
 *         AX_ECANCELED and AX_ETIMEDOUT from a wait leave a job behind,
 *         whose release is then called once; any other failure submitted
 *         nothing.
 */
AX_EXTERN int ax_to_thread_with(ax_thread_fn fn, void *arg, void **result,
                                int64_t deadline, const ax_thread_opts *opts);

/** The pool's counters. */
typedef struct ax_thread_stats {
    int threads;      /**< pool threads started so far */
    int max_threads;  /**< the cap (ax_opts.thread_pool_max) */
    int idle;         /**< threads waiting for a job */
    size_t queued;    /**< jobs in the queue, not started */
    size_t queue_cap; /**< places in the queue (ax_opts.thread_pool_queue) */
    size_t waiting;   /**< callers suspended for a place */
    uint64_t done;    /**< jobs that returned */
    uint64_t released;/**< results handed to release (or dropped) */
} ax_thread_stats;

/**
 * Read the pool's counters (zeros but the limits if no job ran yet).
 * @return 0; AX_EINVAL for NULL; AX_EPERM outside a loop.
 * Thread: any loop thread. Suspends: no.
 */
AX_EXTERN int ax_thread_stats_get(ax_thread_stats *st);

#ifdef __cplusplus
}
#endif
#endif
