/* SPDX-License-Identifier: MIT */
/**
 * @file axon/sync.h
 * @brief Synchronisation between the tasks of one loop: asyncio's Lock,
 * Event, Condition, Semaphore, BoundedSemaphore and Barrier.
 *
 * These are for tasks that share a loop (and so never run at the same
 * time, but may suspend in the middle of a change); they are not thread
 * locks. Tasks of different loops talk through futures and actors.
 *
 * Threads and tasks: every call is made on the thread of the object's loop.
 * The waits, and whatever involves a lock's owner (ax_lock_try(),
 * ax_lock_release(), ax_cond_notify()), need a task (AX_ENOTTASK
 * otherwise); the rest may also be called from a callback on the loop
 * (ax_loop_post()). Only the calls documented as suspending ever do.
 *
 * Objects: every constructor hands out an opaque handle that belongs to the
 * loop that made it. The calls below refuse it from another thread with
 * AX_EWRONGLOOP (the query functions answer false or a negative code).
 * A handle is freed with its ax_*_free(), which refuses with AX_EBUSY while
 * a task waits on the object, or has been woken by it and has not yet
 * resumed (as ax_future_free() does), and for a lock that is held or that
 * a condition uses. Objects never freed are reported and freed when
 * ax_run() ends ("N synchronisation object(s) never freed").
 *
 * Stale handles: freed objects are kept by their loop, marked dead, and
 * reused oldest first only after 256 later frees of synchronisation
 * objects (as futures are); until then every call refuses a freed handle
 * with AX_ESRCH, and so it does a handle of the wrong kind (an ax_event
 * passed as an ax_lock). Not detectable: a handle whose memory was since
 * reused for a new object, or a pointer that never was one.
 *
 * Waiting: every suspending call takes a relative timeout in seconds
 * (negative: no limit; NaN or above 100 years: AX_EINVAL) and has a `_dl`
 * twin taking an absolute deadline on the loop's clock (time.h;
 * AX_NO_DEADLINE for none, below -1: AX_EINVAL). What is already there is
 * taken without suspending even when the deadline has passed (a free lock,
 * a set event, a unit of a semaphore); otherwise a passed deadline gives
 * AX_ETIMEDOUT at once. A call that does not need to suspend does not see
 * a pending cancellation either (asyncio's `await` of a free lock does not
 * yield); one that suspends returns AX_ECANCELED once per cancellation.
 *
 * Fairness: waiters are served first come, first served, as asyncio's are.
 * A lock or a semaphore unit given back while tasks wait is handed to the
 * first waiter directly, so a task that calls acquire again at once queues
 * behind it instead of taking the lock back. Tasks woken by an event, a
 * notification or a barrier run in the order they began to wait.
 *
 * Cancellation: a waiter cancelled (or timed out) before it is woken just
 * leaves the queue; one cancelled after it was woken but before it ran
 * does not swallow the wake-up: a lock or a semaphore unit goes on to the
 * next waiter and a condition's notification to the next waiting task, and
 * the cancelled call returns AX_ECANCELED (asyncio's behaviour; the tests
 * port CPython's test_locks.py). An event or a barrier wakes everybody at
 * once; a waiter cancelled after that returns success, and the
 * cancellation stays pending for its next suspension (as ax_await() does
 * with a future that completes at the same instant).
 *
 * Deadlock detection (loop.h) sees these waits: tasks that all wait on
 * locks nobody can release are reported and cancelled.
 */
#ifndef AXON_SYNC_H
#define AXON_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "axon/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A mutual-exclusion lock owned by the task holding it (asyncio.Lock). */
typedef struct ax_lock ax_lock;
/** A flag tasks can wait for (asyncio.Event). */
typedef struct ax_event ax_event;
/** A condition variable over an ax_lock (asyncio.Condition). */
typedef struct ax_cond ax_cond;
/** A counting semaphore, optionally bounded (asyncio.Semaphore,
 *  asyncio.BoundedSemaphore). */
typedef struct ax_sem ax_sem;
/** A barrier for a fixed number of parties (asyncio.Barrier). */
typedef struct ax_barrier ax_barrier;

/* ---- Lock ---------------------------------------------------------------- */

/**
 * Make an unlocked lock on the current loop.
 * @return 0; AX_EINVAL if @p out is NULL; AX_EPERM outside a loop;
 *         AX_ENOMEM. Thread: a loop's. Suspends: no.
 */
AX_EXTERN int ax_lock_new(ax_lock **out);

/**
 * Free a lock.
 * @return 0; AX_EINVAL for NULL; AX_ESRCH for a freed handle; AX_EBUSY if
 *         it is held, a task waits for it, or a condition uses it (nothing
 *         is freed); AX_EWRONGLOOP from another loop's thread.
 * Thread: its loop's. Suspends: no.
 */
AX_EXTERN int ax_lock_free(ax_lock *l);

/**
 * Take the lock, waiting up to @p timeout seconds (negative: no limit) while
 * another task holds it. The lock then belongs to the calling task: only
 * it may release it. A task that ends still holding a lock is reported
 * ("task 'NAME' ended holding lock 0x...; released") and the lock is
 * released for it, so that its waiters are not stranded.
 * @return 0; AX_ETIMEDOUT; AX_ECANCELED; AX_EDEADLK if the calling task
 *         holds it already (asyncio would wait forever); AX_EINVAL for
 *         NULL or a bad timeout; AX_ESRCH; AX_EWRONGLOOP; AX_ENOTTASK
 *         outside a task.
 * Suspends: only while the lock is held by another task.
 */
AX_EXTERN int ax_lock_acquire(ax_lock *l, double timeout);

/** ax_lock_acquire() waiting until @p deadline (AX_NO_DEADLINE: no limit).
 *  @return as ax_lock_acquire(); AX_EINVAL for a deadline below -1. */
AX_EXTERN int ax_lock_acquire_dl(ax_lock *l, int64_t deadline);

/**
 * Take the lock if it is free, without suspending.
 * @return 0; AX_EAGAIN if another task holds it; AX_EDEADLK if the calling
 *         task does; AX_EINVAL; AX_ESRCH; AX_EWRONGLOOP; AX_ENOTTASK.
 */
AX_EXTERN int ax_lock_try(ax_lock *l);

/**
 * Release the lock. If tasks wait, the first of them gets it.
 * @return 0; AX_EPERM if the calling task does not hold it (not locked, or
 *         locked by another task: asyncio's RuntimeError); AX_EINVAL;
 *         AX_ESRCH; AX_EWRONGLOOP; AX_ENOTTASK.
 * Suspends: no.
 */
AX_EXTERN int ax_lock_release(ax_lock *l);

/** Whether some task holds @p l (false for NULL, a freed handle, and a lock
 *  of another loop). Suspends: no. */
AX_EXTERN bool ax_lock_locked(const ax_lock *l);

/* ---- Event --------------------------------------------------------------- */

/**
 * Make an event on the current loop, not set.
 * @return 0; AX_EINVAL if @p out is NULL; AX_EPERM outside a loop;
 *         AX_ENOMEM.
 */
AX_EXTERN int ax_event_new(ax_event **out);

/** Free an event. @return 0; AX_EINVAL; AX_ESRCH; AX_EBUSY while a task
 *  waits on it or has been woken and not yet resumed; AX_EWRONGLOOP. */
AX_EXTERN int ax_event_free(ax_event *e);

/**
 * Wait until the event is set, up to @p timeout seconds (negative: no
 * limit). A task woken by ax_event_set() returns 0 even if the event was
 * cleared again before it ran.
 * @return 0; AX_ETIMEDOUT; AX_ECANCELED; AX_EINVAL; AX_ESRCH;
 *         AX_EWRONGLOOP; AX_ENOTTASK.
 * Suspends: only while the event is not set.
 */
AX_EXTERN int ax_event_wait(ax_event *e, double timeout);

/** ax_event_wait() until @p deadline. @return as ax_event_wait(). */
AX_EXTERN int ax_event_wait_dl(ax_event *e, int64_t deadline);

/**
 * Set the event and wake every task waiting for it, in the order they
 * began to wait. Setting a set event does nothing.
 * @return 0; AX_EINVAL; AX_ESRCH; AX_EWRONGLOOP.
 * Thread: its loop's, from a task or a callback. Suspends: no.
 */
AX_EXTERN int ax_event_set(ax_event *e);

/** Reset the event to not set. @return 0; AX_EINVAL; AX_ESRCH;
 *  AX_EWRONGLOOP. Suspends: no. */
AX_EXTERN int ax_event_clear(ax_event *e);

/** Whether the event is set (false for NULL, a freed handle, and an event
 *  of another loop). */
AX_EXTERN bool ax_event_is_set(const ax_event *e);

/* ---- Condition ----------------------------------------------------------- */

/**
 * Make a condition variable on the current loop.
 * @param lock the lock it works with (asyncio.Condition(lock)), which then
 *             cannot be freed before the condition; NULL: the condition
 *             makes its own, freed with it. Either way ax_cond_lock()
 *             gives it.
 * @return 0; AX_EINVAL if @p out is NULL; AX_ESRCH for a freed @p lock;
 *         AX_EWRONGLOOP for a lock of another loop; AX_EPERM outside a
 *         loop; AX_ENOMEM.
 */
AX_EXTERN int ax_cond_new(ax_cond **out, ax_lock *lock);

/** Free a condition (and its own lock, if it made one). @return 0;
 *  AX_EINVAL; AX_ESRCH; AX_EBUSY while a task waits on it, or its own lock
 *  is held or waited for; AX_EWRONGLOOP. */
AX_EXTERN int ax_cond_free(ax_cond *c);

/** The condition's lock: take it with ax_lock_acquire() around
 *  ax_cond_wait() and ax_cond_notify(). NULL for NULL, a freed handle or a
 *  condition of another loop. */
AX_EXTERN ax_lock *ax_cond_lock(ax_cond *c);

/**
 * Release the condition's lock, wait until notified, then take the lock
 * back (asyncio's Condition.wait). The lock is taken back whatever ends
 * the wait, a timeout or a cancellation included, and the wait for the
 * lock itself ignores cancellations (they are reported after it) and the
 * timeout, which bounds only the wait for a notification. A task notified
 * and cancelled before it ran passes its notification to the next waiting
 * task.
 * @param timeout seconds to wait for a notification; negative: no limit.
 * @return 0 (notified; the lock is held); AX_ETIMEDOUT; AX_ECANCELED (the
 *         lock is held in both cases too); AX_EPERM if the calling task
 *         does not hold the lock (nothing changes); AX_EINVAL; AX_ESRCH;
 *         AX_EWRONGLOOP; AX_ENOTTASK.
 * Suspends: yes, unless a cancellation is pending or the timeout is 0
 * (then it returns at once, the lock still held).
 */
AX_EXTERN int ax_cond_wait(ax_cond *c, double timeout);

/** ax_cond_wait() with a deadline for the notification.
 *  @return as ax_cond_wait(). */
AX_EXTERN int ax_cond_wait_dl(ax_cond *c, int64_t deadline);

/** A predicate for ax_cond_wait_for(): true when the wait is over. */
typedef bool (*ax_pred_fn)(void *arg);

/**
 * Wait until @p pred(arg) is true (asyncio's Condition.wait_for): the
 * predicate is called with the lock held, first at once, then after each
 * notification; @p timeout bounds the whole call.
 * Unlike asyncio, the lock must be held even when the predicate is true
 * at once: the predicate reads what the lock protects.
 * @return 0 (the predicate was true; the lock is held); AX_ETIMEDOUT;
 *         AX_ECANCELED (the lock is held); AX_EPERM if the calling task
 *         does not hold the lock; AX_EINVAL (NULL @p pred too); AX_ESRCH;
 *         AX_EWRONGLOOP; AX_ENOTTASK.
 * Suspends: while the predicate is false.
 */
AX_EXTERN int ax_cond_wait_for(ax_cond *c, ax_pred_fn pred, void *arg,
                               double timeout);

/** ax_cond_wait_for() until @p deadline. @return as ax_cond_wait_for(). */
AX_EXTERN int ax_cond_wait_for_dl(ax_cond *c, ax_pred_fn pred, void *arg,
                                  int64_t deadline);

/**
 * Wake up to @p n of the tasks waiting on the condition, longest waiting
 * first. Each takes the lock back in turn once the caller releases it.
 * @return 0; AX_EPERM if the calling task does not hold the lock;
 *         AX_EINVAL; AX_ESRCH; AX_EWRONGLOOP; AX_ENOTTASK.
 * Suspends: no.
 */
AX_EXTERN int ax_cond_notify(ax_cond *c, size_t n);

/** Wake every task waiting on the condition. @return as ax_cond_notify().
 */
AX_EXTERN int ax_cond_notify_all(ax_cond *c);

/* ---- Semaphore ----------------------------------------------------------- */

/**
 * Make a semaphore with @p value units on the current loop
 * (asyncio.Semaphore(value)).
 * @return 0; AX_EINVAL if @p out is NULL or @p value is negative; AX_EPERM
 *         outside a loop; AX_ENOMEM.
 */
AX_EXTERN int ax_sem_new(ax_sem **out, int value);

/** A bounded semaphore (asyncio.BoundedSemaphore(value)): releasing it
 *  above @p value is an error (AX_EOVERFLOW) instead of a new unit.
 *  @return as ax_sem_new(). */
AX_EXTERN int ax_sem_new_bounded(ax_sem **out, int value);

/** Free a semaphore. @return 0; AX_EINVAL; AX_ESRCH; AX_EBUSY while a
 *  task waits on it or has been woken and not yet resumed; AX_EWRONGLOOP.
 */
AX_EXTERN int ax_sem_free(ax_sem *s);

/**
 * Take a unit, waiting up to @p timeout seconds (negative: no limit) while
 * there is none. As in asyncio since 3.12, a task also queues while tasks
 * that were handed units have not run yet, even if more units are free:
 * it goes behind them (they pass free units on when they run). A
 * semaphore has no owner: any task may release.
 * @return 0; AX_ETIMEDOUT; AX_ECANCELED; AX_EINVAL; AX_ESRCH;
 *         AX_EWRONGLOOP; AX_ENOTTASK.
 * Suspends: only while no unit is free.
 */
AX_EXTERN int ax_sem_acquire(ax_sem *s, double timeout);

/** ax_sem_acquire() until @p deadline. @return as ax_sem_acquire(). */
AX_EXTERN int ax_sem_acquire_dl(ax_sem *s, int64_t deadline);

/** Take a unit without suspending. @return 0; AX_EAGAIN if none is free,
 *  or if tasks handed units have not run yet (see ax_sem_acquire());
 *  AX_EINVAL; AX_ESRCH; AX_EWRONGLOOP. Thread: its loop's, from a task or
 *  a callback. */
AX_EXTERN int ax_sem_try(ax_sem *s);

/**
 * Give a unit back; if tasks wait, the first of them gets it.
 * @return 0; AX_EOVERFLOW for a bounded semaphore already at its initial
 *         value (asyncio's ValueError), or for a count that would pass
 *         INT_MAX; AX_EINVAL; AX_ESRCH; AX_EWRONGLOOP.
 * Thread: its loop's, from a task or a callback. Suspends: no.
 */
AX_EXTERN int ax_sem_release(ax_sem *s);

/** The units free now (>= 0), or AX_EINVAL, AX_ESRCH, AX_EWRONGLOOP. */
AX_EXTERN int ax_sem_value(const ax_sem *s);

/* ---- Barrier ------------------------------------------------------------- */

/**
 * Make a barrier for @p parties tasks on the current loop
 * (asyncio.Barrier(parties)).
 * @return 0; AX_EINVAL if @p out is NULL or @p parties < 1; AX_EPERM
 *         outside a loop; AX_ENOMEM.
 */
AX_EXTERN int ax_barrier_new(ax_barrier **out, int parties);

/** Free a barrier. @return 0; AX_EINVAL; AX_ESRCH; AX_EBUSY while a task
 *  is inside ax_barrier_wait() on it; AX_EWRONGLOOP. */
AX_EXTERN int ax_barrier_free(ax_barrier *b);

/**
 * Wait until @p parties tasks are waiting, then all pass together. While
 * the tasks of one round are leaving (draining) or after ax_barrier_reset()
 * while some are still inside, new arrivals wait for the next round.
 * A task cancelled or timed out before the round is complete leaves the
 * barrier without breaking it (as in asyncio, unlike threading.Barrier).
 * @param timeout seconds (negative: no limit).
 * @return the task's arrival index in its round, 0 to parties - 1 (the
 *         last to arrive gets parties - 1 and passes without suspending);
 *         AX_EBROKEN if the barrier is broken (ax_barrier_abort()) or was
 *         reset while the task waited (asyncio's BrokenBarrierError);
 *         AX_ETIMEDOUT; AX_ECANCELED; AX_EINVAL; AX_ESRCH; AX_EWRONGLOOP;
 *         AX_ENOTTASK.
 * Suspends: until the round is complete.
 */
AX_EXTERN int ax_barrier_wait(ax_barrier *b, double timeout);

/** ax_barrier_wait() until @p deadline. @return as ax_barrier_wait(). */
AX_EXTERN int ax_barrier_wait_dl(ax_barrier *b, int64_t deadline);

/**
 * Return the barrier to its empty, unbroken state. Tasks waiting in it
 * get AX_EBROKEN; tasks arriving before they have all left wait for the
 * reset to finish.
 * @return 0; AX_EINVAL; AX_ESRCH; AX_EWRONGLOOP. Suspends: no.
 */
AX_EXTERN int ax_barrier_reset(ax_barrier *b);

/**
 * Break the barrier: every task waiting in it, and every later
 * ax_barrier_wait() until ax_barrier_reset(), gets AX_EBROKEN.
 * @return 0; AX_EINVAL; AX_ESRCH; AX_EWRONGLOOP. Suspends: no.
 */
AX_EXTERN int ax_barrier_abort(ax_barrier *b);

/** The number of parties (>= 1), or AX_EINVAL, AX_ESRCH, AX_EWRONGLOOP. */
AX_EXTERN int ax_barrier_parties(const ax_barrier *b);

/** How many tasks wait for the current round to fill (0 while it drains
 *  or resets), or AX_EINVAL, AX_ESRCH, AX_EWRONGLOOP. */
AX_EXTERN int ax_barrier_n_waiting(const ax_barrier *b);

/** Whether the barrier is broken (false for NULL, a freed handle and a
 *  barrier of another loop). */
AX_EXTERN bool ax_barrier_broken(const ax_barrier *b);

#ifdef __cplusplus
}
#endif
#endif
