/* SPDX-License-Identifier: MIT */
/**
 * @file axon/future.h
 * @brief Futures, await and cancel.
 *
 * A future is a one-shot slot: pending, then done with either a result
 * (`void *`) or an error (a negative code, AX_ECANCELED when cancelled).
 * Completing it wakes every task awaiting it and runs its done callbacks.
 *
 * Every task has a future (ax_task_future()); ax_gather_start() returns one.
 * ax_await() and ax_cancel() accept an `ax_task *` or an `ax_future *`.
 *
 * Ownership: a future made by ax_future_new() belongs to its maker, who frees
 * it with ax_future_free() once nobody awaits it. Awaiting a future does not
 * consume it (many tasks may await one future); awaiting a *task* consumes
 * the task's handle (see task.h).
 *
 * Thread: a future belongs to the loop that made it. Completing it
 * (ax_future_set_result/_error), awaiting it and cancelling it work from a
 * task or callback on any loop of the runtime: a completion from another
 * loop travels through the owner loop's inbox and the awaiters resume on
 * their own loops (from a foreign loop AX_EALREADY cannot be known at once,
 * and 0 is returned; the first completion stands). Create and free it on
 * its own loop. Every other call here (free, read, add a callback) returns
 * AX_EWRONGLOOP from another thread.
 *
 * Stale handles: a future that was freed (or a task's future whose handle
 * was given up) is refused with AX_ESRCH ("no such future") by every call
 * taking it, ax_future_free() twice included. Freed futures are kept by
 * their loop, marked dead, and reused oldest first only after 256
 * later frees (or at the end of ax_run()). Not detectable: a stale pointer
 * whose struct was since reused for a new future (the call acts on the new
 * one), and a pointer that never was an axon future. A future freed from
 * inside one of its own done callbacks is gone for every caller at once,
 * although the rest of its callbacks still run.
 */
#ifndef AXON_FUTURE_H
#define AXON_FUTURE_H

#include <stdbool.h>

#include "axon/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Make a pending future on the current loop.
 * @return 0; AX_EINVAL if @p out is NULL; AX_EPERM outside a loop;
 *         AX_ENOMEM.
 */
AX_EXTERN int ax_future_new(ax_future **out);

/**
 * Free a future made by ax_future_new() or ax_gather_start().
 * A pending gather future is cancelled first (its children with it) and
 * freed when they have ended.
 * @return 0; AX_EINVAL for NULL or a task's future (tasks are released by
 *         awaiting or detaching them); AX_EBUSY if tasks are still awaiting
 *         it (nothing is freed); AX_ESRCH if it was freed already (a gather
 *         whose free still waits for its children included);
 *         AX_EWRONGLOOP from another thread than its loop's.
 * Thread: the owner loop's. Suspends: no.
 * Thread: the future's own loop. Suspends: no.
 */
AX_EXTERN int ax_future_free(ax_future *f);

/**
 * Complete @p f with a result and wake its awaiters.
 * @return 0; AX_EINVAL for NULL or a task's future; AX_EALREADY if @p f is
 *         already done (the first completion stands); AX_ESRCH for a freed
 *         future (from another loop, only if freed before the call; one
 *         freed while the completion travels is left alone).
 * Thread: any loop of the runtime. Suspends: no.
 */
AX_EXTERN int ax_future_set_result(ax_future *f, void *value);

/**
 * Complete @p f with an error and wake its awaiters.
 * @param code a negative code.
 * @return 0; AX_EINVAL for NULL, a task's future or @p code >= 0;
 *         AX_EALREADY if already done; AX_ESRCH as ax_future_set_result().
 * Thread: any loop of the runtime. Suspends: no.
 */
AX_EXTERN int ax_future_set_error(ax_future *f, int code);

/** Whether @p f is done (false for NULL, a freed future, and a future of
 *  another loop, whose flag its owner writes: await it instead). */
AX_EXTERN bool ax_future_done(const ax_future *f);

/**
 * Read a done future without waiting.
 * @return its status (0 or its error); AX_EPENDING if not done; AX_EINVAL
 *         for NULL; AX_ESRCH for a freed future; AX_EWRONGLOOP from another
 *         thread than its loop's. @p value (may be NULL) receives the
 *         result on 0.
 */
AX_EXTERN int ax_future_result(const ax_future *f, void **value);

/** A done callback: runs on the future's loop, must not suspend. */
typedef void (*ax_done_fn)(ax_future *f, void *arg);

/**
 * Call cb(f, arg) once @p f is done, in the order callbacks were added.
 * If @p f is already done, cb runs before this call returns.
 * The callback may free @p f if it owns it; while tasks still await @p f
 * that free returns AX_EBUSY and the future stays.
 * @return 0; AX_EINVAL if @p f or @p cb is NULL; AX_ESRCH for a freed
 *         future; AX_EWRONGLOOP from another thread than its loop's (the
 *         callback would run there anyway: post to it with ax_loop_post());
 *         AX_ENOMEM.
 * Thread: the future's own loop. Suspends: no.
 */
AX_EXTERN int ax_future_on_done(ax_future *f, ax_done_fn cb, void *arg);

/**
 * Suspend the current task until @p f is done.
 * If @p f is a task's future, this awaits the task (and consumes its handle,
 * see task.h); if the awaiting task is cancelled meanwhile, the cancellation
 * is passed on to the awaited task, which is then waited for, and the call
 * returns AX_ECANCELED (as asyncio does).
 *
 * @param result may be NULL; receives the result when the return is 0.
 * @return 0; the future's error (the task's own failure code,
 *         AX_ECANCELED, AX_ETIMEDOUT, ...); AX_ECANCELED if the awaiting
 *         task was cancelled; AX_EINVAL for NULL; AX_ENOTTASK outside a
 *         task; AX_EDEADLK if a task awaits itself; AX_EBUSY if the task is
 *         already awaited by another task, or owned by a gather or group;
 *         AX_ESRCH for a freed future, or a task whose handle was given up
 *         (awaited already, or detached: awaiting a task twice is this);
 *         AX_EWRONGLOOP if @p f belongs to another runtime.
 * Thread: a task on any loop of the runtime. Suspends: yes, unless @p f is
 *         already done.
 */
AX_EXTERN int ax_await_future(ax_future *f, void **result);

/**
 * Cancel: for a task, request its cancellation (see task.h); for a gather
 * future, cancel its children; for a plain future, complete it with
 * AX_ECANCELED.
 * @return 0; AX_EALREADY if it is already done; AX_EINVAL for NULL;
 *         AX_ESRCH for a freed future or task (from another loop, only if
 *         freed before the call: the request itself is fire-and-forget).
 * Thread: any loop of the runtime (AX_EALREADY then cannot be known, and 0
 *         is returned). Suspends: no.
 */
AX_EXTERN int ax_cancel_future(ax_future *f);

/**
 * Await @p f for at most @p seconds (asyncio.wait_for): ax_await_future_dl()
 * with the deadline ax_now_ns() + @p seconds. On timeout a task is
 * cancelled and waited for (it may clean up), a gather future is cancelled,
 * and a plain future is left pending (others may still complete it);
 * the call then returns AX_ETIMEDOUT.
 * @return as ax_await_future(); AX_ETIMEDOUT on timeout; AX_EINVAL for a
 *         negative or NaN timeout. A timeout of 0 still takes a done result.
 * Suspends: yes, unless @p f is already done.
 */
AX_EXTERN int ax_await_timeout_future(ax_future *f, double seconds,
                                      void **result);

/**
 * Await @p f until @p deadline (time.h): the twin of
 * ax_await_timeout_future() for a deadline that bounds a whole request.
 * What happens on timeout is the same. AX_NO_DEADLINE waits without limit
 * (then this is ax_await_future()); a deadline already past still takes a
 * done result.
 * @return as ax_await_future(); AX_ETIMEDOUT on timeout; AX_EINVAL for a
 *         deadline below -1 (ax_deadline_in(NAN)).
 * Suspends: yes, unless @p f is already done. Thread: as ax_await_future().
 */
AX_EXTERN int ax_await_future_dl(ax_future *f, int64_t deadline,
                                 void **result);

#if !defined(AX_NO_GENERIC) && !defined(__cplusplus)
/* C: _Generic picks by type. C++ gets overloads of the same names at the
 * end of this header. */
/** The future of a task, or the future itself. */
#define AX_FUTURE(x)                                                          \
    _Generic((x), ax_task *: ax_task_future, ax_future *: ax__future_id)(x)
/** Await a task or a future; see ax_await_future(). */
#define ax_await(x, result) ax_await_future(AX_FUTURE(x), (result))
/** Cancel a task or a future; see ax_cancel_future(). */
#define ax_cancel(x) ax_cancel_future(AX_FUTURE(x))
/** Await a task or future with a timeout; see ax_await_timeout_future(). */
#define ax_await_timeout(x, seconds, result)                                  \
    ax_await_timeout_future(AX_FUTURE(x), (seconds), (result))
/** Await a task or future until a deadline; see ax_await_future_dl(). */
#define ax_await_dl(x, deadline, result)                                      \
    ax_await_future_dl(AX_FUTURE(x), (deadline), (result))
#endif

/* Identity, used by AX_FUTURE. Not for direct use. */
static inline ax_future *ax__future_id(ax_future *f) { return f; }
/** The future that completes when @p t ends (declared in task.h too). */
AX_EXTERN ax_future *ax_task_future(ax_task *t);

#ifdef __cplusplus
}

#ifndef AX_NO_GENERIC
/* C++ has no _Generic: the same calls as overloads for ax_task * and
 * ax_future *, with the meaning of the C macros above. */
inline ax_future *ax__future_of(ax_task *t) { return ax_task_future(t); }
inline ax_future *ax__future_of(ax_future *f) { return f; }
/** The future of a task, or the future itself. */
#define AX_FUTURE(x) ax__future_of(x)
/** Await a task or a future; see ax_await_future(). */
inline int ax_await(ax_task *t, void **result)
{
    return ax_await_future(ax_task_future(t), result);
}
inline int ax_await(ax_future *f, void **result)
{
    return ax_await_future(f, result);
}
/** Cancel a task or a future; see ax_cancel_future(). */
inline int ax_cancel(ax_task *t)
{
    return ax_cancel_future(ax_task_future(t));
}
inline int ax_cancel(ax_future *f) { return ax_cancel_future(f); }
/** Await with a timeout; see ax_await_timeout_future(). */
inline int ax_await_timeout(ax_task *t, double seconds, void **result)
{
    return ax_await_timeout_future(ax_task_future(t), seconds, result);
}
inline int ax_await_timeout(ax_future *f, double seconds, void **result)
{
    return ax_await_timeout_future(f, seconds, result);
}
/** Await until a deadline; see ax_await_future_dl(). */
inline int ax_await_dl(ax_task *t, int64_t deadline, void **result)
{
    return ax_await_future_dl(ax_task_future(t), deadline, result);
}
inline int ax_await_dl(ax_future *f, int64_t deadline, void **result)
{
    return ax_await_future_dl(f, deadline, result);
}
#endif /* AX_NO_GENERIC */
#endif /* __cplusplus */
#endif
