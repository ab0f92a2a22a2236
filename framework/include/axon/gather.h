/* SPDX-License-Identifier: MIT */
/**
 * @file axon/gather.h
 * @brief Waiting on many: gather, wait_any and task groups.
 *
 * ax_gather() is asyncio.gather: it waits for every future and puts the
 * results in argument order, whatever order they finish in. Arrays hold
 * `ax_future *`; pass tasks as ax_task_future(t) or AX_FUTURE(t). A gather
 * *awaits* the tasks given to it: their handles belong to the gather from
 * then on and are released with it. Plain futures stay their owners'.
 *
 * Two modes:
 *  - AX_GATHER_FAIL_FAST: the first failure (in completion order) ends the
 *    gather with that code, and the children still running are cancelled
 *    (asyncio leaves them running; in C nobody could await them after).
 *  - AX_GATHER_COLLECT: wait for all; per-child codes go to @p errors, and
 *    the gather's own status is the first non-zero code in argument order
 *    (asyncio's return_exceptions=True).
 * Cancelling a gather cancels its children. A gather future can itself be
 * gathered (nested gathers).
 *
 * Thread: the current loop's thread. ax_gather_start(), ax_gather() and
 * ax_gather_all() accept tasks and futures of any loop of the runtime (the
 * gather awaits them through their owners' inboxes, see runtime.h), and
 * so do ax_wait_any(), ax_wait() and ax_as_completed; the group calls take
 * only this loop's. Group calls
 * from another thread than the group's loop return AX_EWRONGLOOP; a freed
 * group, or a freed future or given-up task in an array, is AX_ESRCH (see
 * future.h for what stays undetectable: a stale pointer whose struct was
 * reused).
 */
#ifndef AXON_GATHER_H
#define AXON_GATHER_H

#include "axon/common.h"
#include "axon/future.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    AX_GATHER_FAIL_FAST = 0, /**< first failure ends it, cancels the rest */
    AX_GATHER_COLLECT = 1    /**< wait for all, report each child's code */
};

/**
 * Start a gather and return its future without waiting.
 *
 * @param out     receives the gather future: free it with ax_future_free()
 *                (which first cancels it if it is still pending).
 * @param futs    @p n futures (tasks via AX_FUTURE); none NULL, no
 *                duplicates. The array itself is copied.
 * @param n       may be 0: the future is done at once.
 * @param results NULL, or @p n slots; slot i receives future i's result.
 *                Must stay valid until the gather is done.
 * @param errors  NULL, or @p n slots for each child's status (0 or code).
 *                Must stay valid until the gather is done.
 * @param flags   AX_GATHER_FAIL_FAST or AX_GATHER_COLLECT.
 * @return 0; AX_EINVAL (NULL array with n > 0, a NULL or duplicate element,
 *         unknown flags); AX_ESRCH for a freed future or a task whose
 *         handle was given up (awaited or detached); AX_EBUSY if a task is
 *         already awaited or owned; AX_EWRONGLOOP for a future of another
 *         runtime; AX_EPERM outside a loop; AX_ENOMEM. On error nothing is
 *         taken.
 */
AX_EXTERN int ax_gather_start(ax_future **out, ax_future *const *futs,
                              size_t n, void **results, int *errors,
                              int flags);

/**
 * Gather in fail-fast mode and wait (asyncio.gather).
 * @return 0 when all succeeded; else the first failure; plus ax_await's and
 *         ax_gather_start's codes. If the caller is cancelled, the children
 *         are cancelled and waited for, and AX_ECANCELED is returned.
 * Suspends: yes (unless n is 0).
 */
AX_EXTERN int ax_gather(ax_future *const *futs, size_t n, void **results);

/**
 * Gather in collect mode and wait (return_exceptions=True).
 * @return 0 if every child succeeded, else the first non-zero child code in
 *         argument order (each child's code is in @p errors); plus the codes
 *         of ax_gather().
 */
AX_EXTERN int ax_gather_all(ax_future *const *futs, size_t n, void **results,
                            int *errors);

/**
 * Wait until at least one of @p futs is done (asyncio.wait with
 * FIRST_COMPLETED) over futures and tasks of any loop of the runtime.
 * Nothing is consumed: read the winner as ax_wait() says (this loop's with
 * ax_await(), which then does not suspend, or ax_task_result()).
 *
 * @param index   receives the lowest index of a done future.
 * @param timeout seconds; negative means no limit; NaN is AX_EINVAL.
 * @return 0; AX_ETIMEDOUT; AX_ECANCELED; AX_EINVAL (NULL, n == 0, NULL
 *         element, NaN or a timeout above 100 years); AX_ESRCH for a freed
 *         element; AX_ENOTTASK; AX_EWRONGLOOP for an element of another
 *         runtime; AX_ENOMEM (more than 8 futures, or any of another loop).
 * Suspends: yes, unless one of this loop's is already done.
 */
AX_EXTERN int ax_wait_any(ax_future *const *futs, size_t n, double timeout,
                          size_t *index);

/**
 * ax_wait_any() until an absolute @p deadline (time.h) instead of a
 * timeout: AX_NO_DEADLINE waits without limit; a deadline already past
 * still reports a future that is already done.
 * @return as ax_wait_any(); AX_EINVAL also for a deadline below -1
 *         (ax_deadline_in(NAN)).
 * Suspends: yes, unless one is already done.
 */
AX_EXTERN int ax_wait_any_dl(ax_future *const *futs, size_t n,
                             int64_t deadline, size_t *index);

enum {
    AX_WAIT_ALL_COMPLETED = 0,   /**< every future is done */
    AX_WAIT_FIRST_COMPLETED = 1, /**< at least one is done */
    /** one ended with a code other than AX_ECANCELED, or all are done */
    AX_WAIT_FIRST_EXCEPTION = 2
};

/**
 * Wait until @p mode is met over @p futs (asyncio.wait). The futures and
 * tasks may belong to any loop of the runtime. Nothing is consumed: no
 * handle is taken, no outcome marked as read, nothing cancelled, not even
 * on timeout or cancellation.
 *
 * Reading the outcomes afterwards: for this loop's, ax_future_result() and
 * ax_task_result() (or ax_await(), which then does not suspend). Another
 * loop's future or task is read with ax_await() / ax_await_future(): they
 * do not wait for it again, only for one message round trip to its loop
 * (ax_task_result() there stays AX_EWRONGLOOP: its fields belong to the
 * other thread).
 *
 * @param futs    @p n futures (tasks via AX_FUTURE); none NULL;
 *                duplicates allowed (each index is reported). The array is
 *                not kept.
 * @param n       at least 1.
 * @param mode    AX_WAIT_ALL_COMPLETED, AX_WAIT_FIRST_COMPLETED or
 *                AX_WAIT_FIRST_EXCEPTION.
 * @param timeout seconds; negative means no limit; NaN is AX_EINVAL.
 * @param ndone   NULL, or receives how many of @p futs are done, also when
 *                the call fails with AX_ETIMEDOUT or AX_ECANCELED.
 * @param done    NULL, or @p n flags: done[i] tells whether futs[i] is
 *                done (set in the same cases as @p ndone).
 * @return 0 when @p mode is met; AX_ETIMEDOUT (those already done are
 *         reported); AX_ECANCELED; AX_EINVAL (NULL array, n == 0, a NULL
 *         element, unknown mode, NaN or a timeout above 100 years);
 *         AX_ESRCH for a freed future or a task whose handle was given up
 *         (one of another loop found stale only there counts as done with
 *         AX_ESRCH); AX_EWRONGLOOP for one of another runtime; AX_ENOTTASK;
 *         AX_ENOMEM. On AX_EINVAL, AX_ESRCH, AX_EWRONGLOOP, AX_ENOTTASK or
 *         AX_ENOMEM nothing is reported in @p ndone / @p done.
 * Suspends: yes, unless @p mode is met by this loop's futures already
 *         (another loop's are learned of by message, so they always
 *         suspend). Before returning it waits, ignoring cancellation, until
 *         the other loops have dropped its registrations.
 * Thread: the current loop's, inside a task.
 */
AX_EXTERN int ax_wait(ax_future *const *futs, size_t n, int mode,
                      double timeout, size_t *ndone, bool *done);

/**
 * ax_wait() until an absolute @p deadline (time.h): AX_NO_DEADLINE waits
 * without limit; a deadline already past still reports this loop's futures
 * that are done.
 * @return as ax_wait(); AX_EINVAL also for a deadline below -1.
 * Suspends: as ax_wait().
 */
AX_EXTERN int ax_wait_dl(ax_future *const *futs, size_t n, int mode,
                         int64_t deadline, size_t *ndone, bool *done);

/** An iterator over futures in completion order (ax_as_completed_new). */
typedef struct ax_as_completed ax_as_completed;

/**
 * Start watching @p futs, of any loop of the runtime, to yield them in the
 * order they complete (asyncio.as_completed). Nothing is consumed, as with
 * ax_wait(); every future must stay valid (not freed, a task's handle not
 * given up) until ax_as_completed_free().
 *
 * @param it   receives the iterator; free it with ax_as_completed_free().
 * @param futs @p n futures (tasks via AX_FUTURE), none NULL; the array is
 *             copied, and a future given twice is handed out once (asyncio
 *             takes a set). @p n may be 0 (nothing to yield). The timeout
 *             is per ax_as_completed_next() call; for one over the whole
 *             iteration (asyncio's), pass one deadline to the _dl form.
 * @return 0; AX_EINVAL; AX_ESRCH for a freed future or a task whose handle
 *         was given up; AX_EWRONGLOOP for one of another runtime; AX_EPERM
 *         outside a loop; AX_ENOMEM. On error nothing is kept.
 * Suspends: no. Thread: a loop's; the iterator belongs to that loop.
 */
AX_EXTERN int ax_as_completed_new(ax_as_completed **it,
                                  ax_future *const *futs, size_t n);

/**
 * Wait for the next future to complete and hand it out in @p fut (one of
 * the array given to ax_as_completed_new(), still owned by the caller; read
 * it as ax_wait() says). Each is handed out once.
 *
 * @param timeout seconds; negative means no limit; NaN is AX_EINVAL.
 * @return 0; AX_EALREADY when every future has been handed out;
 *         AX_ETIMEDOUT; AX_ECANCELED; AX_EINVAL (NULL argument, NaN or a
 *         timeout above 100 years); AX_ESRCH for a freed iterator;
 *         AX_EWRONGLOOP from another loop; AX_EBUSY if another task is
 *         waiting on it; AX_ENOTTASK when it would have to suspend outside
 *         a task.
 * Suspends: yes, unless a completed future is waiting to be handed out.
 */
AX_EXTERN int ax_as_completed_next(ax_as_completed *it, ax_future **fut,
                                   double timeout);

/**
 * ax_as_completed_next() until an absolute @p deadline (time.h).
 * @return as ax_as_completed_next(); AX_EINVAL for a deadline below -1.
 */
AX_EXTERN int ax_as_completed_next_dl(ax_as_completed *it, ax_future **fut,
                                      int64_t deadline);

/**
 * Stop watching and free the iterator. Futures not handed out are left
 * alone. Registrations on other loops are withdrawn by message; the memory
 * goes when they are acknowledged, so the call does not suspend, but the
 * iterator's loop must keep running until then (ending the runtime is fine).
 * One never freed is reported at the end of ax_run() (as futures are).
 * While an iterator watches a pending future of this loop,
 * ax_future_free() of that future returns AX_EBUSY.
 * @return 0; AX_EINVAL for NULL; AX_ESRCH if freed already; AX_EWRONGLOOP
 *         from another loop; AX_EBUSY while a task waits in
 *         ax_as_completed_next() (nothing is freed).
 * Suspends: no.
 */
AX_EXTERN int ax_as_completed_free(ax_as_completed *it);

/**
 * Make a task group (asyncio.TaskGroup) owned by the current task.
 * @return 0; AX_EINVAL if @p out is NULL; AX_ENOTTASK outside a task;
 *         AX_ENOMEM.
 */
AX_EXTERN int ax_group_new(ax_group **out);

/**
 * Spawn a task into the group. If a member has already failed, the new task
 * is not started and AX_ECANCELED is returned.
 * @param out NULL, or receives a handle that stays owned by the group: read
 *            it with ax_task_result() after ax_group_wait(); do not await or
 *            detach it. Valid until ax_group_free().
 * @return 0; AX_EINVAL; AX_ESRCH for a freed group; AX_EWRONGLOOP from
 *         another thread than the group's loop; AX_ECANCELED; AX_EBUSY
 *         after ax_group_wait() returned; AX_ENOMEM. Suspends: no.
 */
AX_EXTERN int ax_group_spawn(ax_group *g, ax_task **out, ax_task_fn fn,
                             void *arg);

/**
 * Wait for every member. When one fails (a code other than AX_ECANCELED),
 * the others are cancelled; all are waited for in any case. If the waiting
 * task is itself cancelled, the members are cancelled and waited for too.
 * @return 0; the first member failure; AX_ECANCELED if the waiter was
 *         cancelled; AX_EINVAL; AX_ESRCH for a freed group; AX_ENOTTASK;
 *         AX_EWRONGLOOP from a task of another loop; AX_EBUSY if called
 *         twice or from another task than the owner.
 * Suspends: yes.
 */
AX_EXTERN int ax_group_wait(ax_group *g);

/**
 * Free the group and its members' handles. If ax_group_wait() has not
 * completed, the members are cancelled and detached (so they free
 * themselves) and the call returns AX_EBUSY after freeing the group.
 * @return 0; AX_EBUSY as described; AX_EINVAL for NULL; AX_ESRCH if it
 *         was freed already; AX_EWRONGLOOP from another thread than the
 *         group's loop (nothing is freed).
 * Suspends: no.
 */
AX_EXTERN int ax_group_free(ax_group *g);

#ifdef __cplusplus
}
#endif
#endif
