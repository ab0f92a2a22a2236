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
 * gather awaits them through their owners' inboxes, see runtime.h);
 * ax_wait_any() and the group calls take only this loop's. Group calls
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
 * FIRST_COMPLETED). Nothing is consumed: read the winner with
 * ax_await() (which then does not suspend) or ax_task_result().
 *
 * @param index   receives the lowest index of a done future.
 * @param timeout seconds; negative means no limit; NaN is AX_EINVAL.
 * @return 0; AX_ETIMEDOUT; AX_ECANCELED; AX_EINVAL (NULL, n == 0, NULL
 *         element, NaN or a timeout above 100 years); AX_ESRCH for a freed
 *         element; AX_ENOTTASK; AX_EWRONGLOOP for an element of another
 *         loop; AX_ENOMEM (more than 8 futures).
 * Suspends: yes, unless one is already done.
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
