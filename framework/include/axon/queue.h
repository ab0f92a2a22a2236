/* SPDX-License-Identifier: MIT */
/**
 * @file axon/queue.h
 * @brief Queues between tasks: asyncio.Queue, and Go's buffered channel
 *        across loops.
 *
 * A queue holds `void *` items in FIFO, LIFO or priority order, bounded
 * (capacity > 0) or not. Getters wait while it is empty, putters while it
 * is full, each in arrival order: an item is handed straight to the oldest
 * waiting getter, a freed slot to the oldest waiting putter.
 *
 * Ownership of items: a put that succeeds hands the item to the queue, a
 * get that succeeds hands it to the getter; a put that fails leaves it with
 * the putter (but see ax_queue_put_future()). Items still in the queue when
 * it is shut down with `immediate`, or freed, go to the release callback of
 * the options (no callback: they are dropped, and whoever made them must
 * know where they are).
 *
 * Thread: a queue belongs to the loop that made it (its owner loop), which
 * alone frees it. Tasks on every loop of the runtime may put, get, join,
 * mark tasks done and shut it down: from another loop the request travels
 * to the owner loop's inbox and the answer comes back to the caller's, so
 * those calls suspend for the round trip (a task only), and may also
 * return AX_ESHUTDOWN when the owner loop has stopped at the runtime's
 * end. On the owner loop nothing is locked and a put or get that need not
 * wait does not suspend.
 *
 * Cancellation (as asyncio): a cancel that reaches a waiting task wins,
 * even if the item or the slot was handed to it in the same instant and
 * the task has not run since: a get then gives the item back (to the next
 * waiting getter, else to the head of the queue) and a put passes its slot
 * on to the next putter, and both return AX_ECANCELED; nothing is lost or
 * put twice. One exception: a put from another loop whose item went in on
 * the owner loop before the cancel got there cannot be undone; it returns
 * 0 and the cancel is delivered at the task's next suspension. A timeout
 * that races with success loses: the item is taken (or put), 0.
 *
 * Shutdown (Python 3.13): after ax_queue_shutdown() puts fail with
 * AX_EQSHUTDOWN, gets take what is left and then fail with AX_EQSHUTDOWN;
 * with `immediate` the items are dropped at once (each through the release
 * callback, each counting as a ax_queue_task_done()) and every waiter is
 * woken with AX_EQSHUTDOWN.
 */
#ifndef AXON_QUEUE_H
#define AXON_QUEUE_H

#include <stdbool.h>

#include "axon/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A queue of `void *` items. */
typedef struct ax_queue ax_queue;

/** The order items come out in. */
typedef enum ax_queue_kind {
    AX_QUEUE_FIFO = 0,    /**< first in, first out (asyncio.Queue) */
    AX_QUEUE_LIFO = 1,    /**< last in, first out (asyncio.LifoQueue) */
    AX_QUEUE_PRIORITY = 2 /**< smallest by cmp first (PriorityQueue) */
} ax_queue_kind;

/** How to make a queue; zeroed is an unbounded FIFO queue. */
typedef struct ax_queue_opts {
    ax_queue_kind kind;
    /** Most items held at once; 0: unbounded. */
    size_t capacity;
    /** AX_QUEUE_PRIORITY only (required there): negative if @p a comes out
     *  before @p b, 0 if equal (then either may come first), positive
     *  otherwise. Runs on the owner loop; must not suspend. */
    int (*cmp)(const void *a, const void *b);
    /** Takes the items the queue drops (immediate shutdown, free, a put
     *  future's item that was never put). Runs on the owner loop; must not
     *  suspend or touch the queue. May be NULL. */
    void (*release)(void *item, void *arg);
    void *release_arg;
} ax_queue_opts;

/**
 * Make a queue owned by the current loop.
 * @param opts may be NULL (unbounded FIFO); copied.
 * @return 0; AX_EINVAL for a NULL @p out, an unknown kind or a priority
 *         queue without cmp; AX_EPERM outside a loop; AX_ENOMEM.
 * Thread: any loop. Suspends: no.
 */
AX_EXTERN int ax_queue_new(ax_queue **out, const ax_queue_opts *opts);

/**
 * Free a queue. Items still in it go to the release callback.
 * @return 0; AX_EINVAL for NULL; AX_ESRCH for a freed queue; AX_EWRONGLOOP
 *         off its owner loop; AX_EBUSY while anybody waits on it, a
 *         request from another loop is under way, or a future made by
 *         ax_queue_get_future()/_put_future()/_join_future() is not yet
 *         freed (nothing is freed then).
 * Thread: the owner loop. Suspends: no.
 */
AX_EXTERN int ax_queue_free(ax_queue *q);

/**
 * Put @p item at the tail (by priority for a priority queue), waiting for a
 * free slot while the queue is full. On success the queue owns @p item.
 * @return 0; AX_EQSHUTDOWN if the queue is (or while waiting was) shut
 *         down; AX_ECANCELED if the task was cancelled while waiting (the
 *         item was not put); AX_EINVAL for NULL; AX_ESRCH for a freed
 *         queue; AX_ENOTTASK if it would wait (or from another loop)
 *         outside a task; AX_EWRONGLOOP for a queue of another runtime.
 * Thread: a task on any loop of the runtime. Suspends: while full, and
 *         from another loop for the round trip.
 */
AX_EXTERN int ax_queue_put(ax_queue *q, void *item);
/** ax_queue_put() waiting at most @p seconds: AX_ETIMEDOUT then (the item
 *  was not put); AX_EINVAL for a negative or NaN timeout. */
AX_EXTERN int ax_queue_put_timeout(ax_queue *q, void *item, double seconds);
/** ax_queue_put() until @p deadline (time.h, AX_NO_DEADLINE: none):
 *  AX_ETIMEDOUT then; AX_EINVAL for a deadline below -1. A deadline
 *  already past still puts if there is room. */
AX_EXTERN int ax_queue_put_dl(ax_queue *q, void *item, int64_t deadline);

/**
 * Take the item at the head, waiting while the queue is empty. On success
 * the caller owns *@p item.
 * @return 0; AX_EQSHUTDOWN if the queue is shut down and empty (or shut
 *         down immediately); AX_ECANCELED if cancelled while waiting (no
 *         item was taken, see the header's note on cancellation);
 *         AX_EINVAL for NULL; AX_ESRCH, AX_ENOTTASK, AX_EWRONGLOOP as
 *         ax_queue_put().
 * Thread: a task on any loop of the runtime. Suspends: while empty, and
 *         from another loop for the round trip.
 */
AX_EXTERN int ax_queue_get(ax_queue *q, void **item);
/** ax_queue_get() waiting at most @p seconds: AX_ETIMEDOUT then;
 *  AX_EINVAL for a negative or NaN timeout. */
AX_EXTERN int ax_queue_get_timeout(ax_queue *q, void **item, double seconds);
/** ax_queue_get() until @p deadline: AX_ETIMEDOUT then; AX_EINVAL for a
 *  deadline below -1. A deadline already past still takes an item. */
AX_EXTERN int ax_queue_get_dl(ax_queue *q, void **item, int64_t deadline);

/**
 * Put without waiting for room (put_nowait).
 * @return 0; AX_EAGAIN if full; otherwise as ax_queue_put().
 * Thread: the owner loop (any code, no task needed), or a task on another
 *         loop. Suspends: only from another loop, for the round trip.
 */
AX_EXTERN int ax_queue_try_put(ax_queue *q, void *item);
/**
 * Get without waiting for an item (get_nowait).
 * @return 0; AX_EAGAIN if empty (and not shut down); otherwise as
 *         ax_queue_get(). Thread and suspension: as ax_queue_try_put().
 */
AX_EXTERN int ax_queue_try_get(ax_queue *q, void **item);

/**
 * How many items the queue holds (0 for NULL or a freed queue). From
 * another loop, a recent value. Thread: any. Suspends: no.
 */
AX_EXTERN size_t ax_queue_size(const ax_queue *q);

/**
 * Say that an item taken from the queue has been dealt with: each put
 * counts one unfinished task, each task_done removes one, ax_queue_join()
 * waits for none to be left.
 * @return 0; AX_EINVAL if called more times than items were put (asyncio's
 *         ValueError) or for NULL; AX_ESRCH; AX_ENOTTASK from another loop
 *         outside a task; AX_EWRONGLOOP for another runtime.
 * Thread: the owner loop, or a task on another loop. Suspends: only from
 *         another loop, for the round trip.
 */
AX_EXTERN int ax_queue_task_done(ax_queue *q);

/**
 * Wait until every item put has been marked done (ax_queue_task_done()).
 * @return 0; AX_ECANCELED; AX_EINVAL for NULL; AX_ESRCH; AX_ENOTTASK;
 *         AX_EWRONGLOOP for another runtime.
 * Thread: a task on any loop of the runtime. Suspends: yes, unless nothing
 *         is unfinished on the owner loop.
 */
AX_EXTERN int ax_queue_join(ax_queue *q);
/** ax_queue_join() until @p deadline: AX_ETIMEDOUT then; AX_EINVAL for a
 *  deadline below -1. */
AX_EXTERN int ax_queue_join_dl(ax_queue *q, int64_t deadline);

/**
 * Shut the queue down (Python 3.13's Queue.shutdown): see the header's
 * paragraph. Shutting down twice is allowed (a later immediate one drops
 * what is left).
 * @return 0; AX_EINVAL for NULL; AX_ESRCH; AX_ENOTTASK from another loop
 *         outside a task; AX_EWRONGLOOP for another runtime.
 * Thread: the owner loop, or a task on another loop. Suspends: only from
 *         another loop, for the round trip.
 */
AX_EXTERN int ax_queue_shutdown(ax_queue *q, bool immediate);

/**
 * Start a get and return a future on the caller's loop that completes
 * with the item (its result) or an error (AX_EQSHUTDOWN), so that
 * ax_wait_any() can wait on several queues and a timer at once (Go's
 * select). The caller frees the future (ax_future_free()).
 *
 * An item handed to a get future belongs to whoever reads the future's
 * result (ax_future_result() or an await). If the future is freed while it
 * holds an item nobody read, or the future was cancelled while the item
 * was on its way from another loop, the item is given back: to the next
 * waiting getter, else to the head of the queue (to the release callback
 * after an immediate shutdown). Cancelling a pending get future withdraws
 * the get.
 * @return 0; AX_EINVAL for NULL; AX_ESRCH; AX_EPERM outside a loop;
 *         AX_EWRONGLOOP for another runtime; AX_ENOMEM.
 * Thread: any loop of the runtime. Suspends: no.
 */
AX_EXTERN int ax_queue_get_future(ax_queue *q, ax_future **fut);

/**
 * Start a put and return a future on the caller's loop that completes
 * with NULL once the item is in the queue, or with an error. The item
 * belongs to the queue from this call on: if the put does not happen
 * (shut down, the future cancelled or freed first), the item goes to the
 * release callback on the owner loop, never back to the caller, because
 * from another loop the caller could not know in time whether it went in.
 * @return 0; AX_EQSHUTDOWN if already shut down, seen on the owner loop
 *         (then, and for every other error returned here, the caller keeps
 *         the item); AX_EINVAL for NULL; AX_ESRCH; AX_EPERM outside a
 *         loop; AX_EWRONGLOOP for another runtime; AX_ENOMEM.
 * Thread: any loop of the runtime. Suspends: no.
 */
AX_EXTERN int ax_queue_put_future(ax_queue *q, void *item, ax_future **fut);

/**
 * A future that completes (with NULL) when ax_queue_join() would return.
 * Errors and thread as ax_queue_get_future().
 */
AX_EXTERN int ax_queue_join_future(ax_queue *q, ax_future **fut);

#ifdef __cplusplus
}
#endif
#endif
