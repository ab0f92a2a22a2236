/* SPDX-License-Identifier: MIT */
/**
 * @file axon/scope.h
 * @brief Timeout scopes (asyncio.timeout), shield, cancellation counts,
 *        and loop callbacks (call_soon, call_later, call_at).
 *
 * A timeout scope bounds everything the running task does between
 * ax_scope_enter() and ax_scope_exit(): when its deadline passes, the task
 * is cancelled (ax_cancel()), so whichever suspending call it is in returns
 * AX_ECANCELED; ax_scope_exit() then turns that cancellation into
 * AX_ETIMEDOUT. A cancellation that came from elsewhere stays AX_ECANCELED.
 * Scopes nest; each one counts cancellation requests as asyncio 3.11 does
 * (ax_task_cancelling(), ax_task_uncancel()), so an inner scope does not
 * take an outer one's timeout for its own and vice versa:
 *
 *     ax_scope s;
 *     ax_scope_enter(&s, 0.5);
 *     rc = ax_recv(...);          // any number of suspending calls
 *     if (rc == 0) rc = ax_send(...);
 *     rc = ax_scope_exit(&s, rc); // AX_ETIMEDOUT if the 0.5 s ran out
 *
 * The ax_scope lives in the caller's storage (usually the task's stack);
 * scopes of one task are exited in the reverse order of entering, before
 * the task's function returns. A task that ends inside a scope is reported
 * and its scopes are closed.
 *
 * Callbacks (ax_call_soon(), ax_call_later(), ax_call_at()) run on the
 * loop between tasks, never inside one: they must not suspend (a
 * suspending call returns AX_ENOTTASK there), but they may spawn tasks,
 * complete futures, cancel tasks and schedule more callbacks. Callbacks
 * still pending when the loop ends are dropped without running.
 *
 * Thread: everything here is for the loop's own thread.
 */
#ifndef AXON_SCOPE_H
#define AXON_SCOPE_H

#include <stdbool.h>

#include "axon/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Bytes of an ax_scope (scope.c checks that its state fits). */
#define AX_SCOPE_SIZE 128

/** A timeout scope: caller-provided storage, opaque. Needs no
 *  initialisation before ax_scope_enter(). */
typedef struct ax_scope {
    union {
        void *align_p;
        int64_t align_i;
        unsigned char bytes[AX_SCOPE_SIZE];
    } opaque;
} ax_scope;

/**
 * Enter a timeout scope of @p seconds for the running task
 * (asyncio.timeout()): ax_scope_enter_dl() with ax_now_ns() + seconds.
 * +infinity (HUGE_VAL) means no deadline (asyncio's None): the scope can
 * still be given one with ax_scope_reschedule(). A negative @p seconds is a
 * deadline in the past, as in asyncio (see ax_scope_enter_dl()).
 * @p s must not be a scope of this task that is still open; storage that
 * was left (ax_scope_exit()) may be entered again.
 * @return 0; AX_EINVAL for NULL or NaN; AX_ENOTTASK outside a task (a
 *         callback included); AX_EBUSY if @p s is open already; AX_ENOMEM
 *         if the loop's timer heap cannot grow.
 * Suspends: no. Thread: the task's loop.
 */
AX_EXTERN int ax_scope_enter(ax_scope *s, double seconds);

/**
 * Enter a timeout scope ending at @p deadline (asyncio.timeout_at()), on
 * the loop's clock (time.h); AX_NO_DEADLINE: none (yet). A deadline that
 * has already passed cancels the task at once, so its next suspension
 * returns AX_ECANCELED (asyncio delivers it at the task's next step: a
 * body that does not suspend again finishes normally in both, and the
 * scope then reports expired but returns the body's status).
 * @return as ax_scope_enter(); AX_EINVAL for a deadline below -1.
 * Suspends: no. Thread: the task's loop.
 */
AX_EXTERN int ax_scope_enter_dl(ax_scope *s, int64_t deadline);

/**
 * Leave the innermost scope of the running task and translate the status
 * the body ended with (asyncio's `__aexit__`): if this scope's deadline
 * fired and @p rc is AX_ECANCELED and no other cancellation request is
 * outstanding (ax_task_uncancel() fell to the count at entry), the result
 * is AX_ETIMEDOUT; otherwise @p rc is returned unchanged. Leaving a scope
 * whose deadline fired always withdraws its request (ax_task_uncancel()),
 * so a cancellation that was never delivered is dropped with it.
 * @return the translated status; AX_EINVAL for NULL; AX_ESRCH for a scope
 *         not entered or already left; AX_EPERM from another task than the
 *         one that entered it; AX_EBUSY if an inner scope is still open.
 * Suspends: no. Thread: the task's loop.
 */
AX_EXTERN int ax_scope_exit(ax_scope *s, int rc);

/**
 * Move the deadline of an open scope (asyncio Timeout.reschedule());
 * AX_NO_DEADLINE removes it.
 * @return 0; AX_EINVAL for NULL or a deadline below -1; AX_ESRCH for a
 *         scope not entered or already left; AX_EALREADY once its deadline
 *         has fired (the task was cancelled); AX_ENOMEM as
 *         ax_scope_enter(). A deadline already past cancels the task at
 *         once. Any task of the loop may call it. Suspends: no.
 *         Thread: the scope's loop.
 */
AX_EXTERN int ax_scope_reschedule(ax_scope *s, int64_t deadline);

/** Whether the scope's deadline fired (asyncio Timeout.expired()); stays
 *  true after ax_scope_exit(). False for NULL or zeroed storage. */
AX_EXTERN bool ax_scope_expired(const ax_scope *s);

/** The scope's deadline (asyncio Timeout.when()); AX_NO_DEADLINE if none,
 *  or for NULL or zeroed storage. */
AX_EXTERN int64_t ax_scope_deadline(const ax_scope *s);

/**
 * Await @p f, but let a cancellation of the calling task leave @p f alone
 * (asyncio.shield()): if the caller is cancelled (or its timeout scope
 * fires) the call returns AX_ECANCELED at once and @p f carries on.
 * On any other return @p f was awaited exactly as by ax_await_future()
 * (a task's handle is then consumed). On AX_ECANCELED a task's handle is
 * NOT consumed: it still belongs to the caller, who must await it (again
 * with ax_shield() if need be) or detach it; the task keeps running.
 * @param result may be NULL; receives the result when the return is 0.
 * @return 0; the future's error; AX_ECANCELED if the caller was
 *         cancelled; AX_EINVAL for NULL; AX_ESRCH for a freed future or a
 *         task whose handle was given up; AX_EBUSY if the task is awaited
 *         by another task or owned by a gather or group; AX_EDEADLK for the
 *         caller's own task; AX_ENOTTASK outside a task; AX_EWRONGLOOP for
 *         a future of another runtime.
 * Suspends: yes, unless @p f is already done. Thread: a task on any loop
 *         of @p f's runtime (for another loop's future the owner checks
 *         the handle when the request arrives; a cancel of the caller then
 *         only withdraws the request, as on one loop).
 */
AX_EXTERN int ax_shield(ax_future *f, void **result);

/**
 * Withdraw one cancellation request of @p t (asyncio Task.uncancel()),
 * for code that catches a cancellation it caused itself, as a timeout
 * scope does. When the count reaches 0 the task is no longer being
 * cancelled: a request not yet delivered is dropped and the task will not
 * end as AX_ECANCELED.
 * @return the number of requests left (>= 0); AX_EINVAL for NULL; AX_ESRCH
 *         for a freed task; AX_EWRONGLOOP for a task of another loop.
 * Suspends: no. Thread: the task's loop.
 */
AX_EXTERN int ax_task_uncancel(ax_task *t);

/**
 * The number of cancellation requests of @p t not withdrawn
 * (asyncio Task.cancelling()): every ax_cancel() of an unfinished task
 * counts, including those a timeout scope makes.
 * @return the count (>= 0); AX_EINVAL for NULL; AX_ESRCH for a freed
 *         task; AX_EWRONGLOOP for a task of another loop.
 * Suspends: no. Thread: the task's loop.
 */
AX_EXTERN int ax_task_cancelling(const ax_task *t);

/** A scheduled callback (ax_call_soon() and the others). */
typedef struct ax_handle ax_handle;

/** A loop callback; runs between tasks and must not suspend. */
typedef void (*ax_callback_fn)(void *arg);

/**
 * Run fn(arg) on @p loop soon (asyncio loop.call_soon()), in the order of
 * the calls: in the loop's callback phase, which comes after each round of
 * ready tasks (at most 256 task runs; a task that yields with nobody else
 * ready lets the phase run first). What a callback schedules runs in the
 * next phase, so a callback that reschedules itself cannot starve tasks.
 * @param loop NULL or the current loop; or another loop of the caller's
 *             runtime (asyncio's call_soon_threadsafe()): then @p out
 *             must be NULL, fn runs on that loop in the order of this
 *             thread's calls, and the call is ax_loop_post() (runtime.h).
 * @param out  NULL, or receives a handle that the caller then owns and
 *             must free with ax_handle_free(), whether or not the
 *             callback ran; without one the loop frees it after the run.
 * @return 0; AX_EINVAL if @p fn is NULL; AX_EPERM outside a loop;
 *         AX_EWRONGLOOP for a loop of another runtime, or a handle asked
 *         for another loop's callback; AX_ENOMEM; for another loop also
 *         AX_ESHUTDOWN (it has stopped) and AX_EAGAIN (its post bound,
 *         ax_opts.max_posts, is reached).
 * Suspends: no. Thread: any loop of the runtime (a task or a callback).
 */
AX_EXTERN int ax_call_soon(ax_loop *loop, ax_callback_fn fn, void *arg,
                           ax_handle **out);

/**
 * Run fn(arg) on the current loop in @p seconds (asyncio
 * loop.call_later()); callbacks due at the same time run in the order
 * they were scheduled. @p out as for ax_call_soon().
 * @return 0; AX_EINVAL if @p fn is NULL or @p seconds is negative, NaN or
 *         above 100 years; AX_EPERM outside a loop; AX_ENOMEM.
 * Suspends: no. Thread: the loop's.
 */
AX_EXTERN int ax_call_later(double seconds, ax_callback_fn fn, void *arg,
                            ax_handle **out);

/**
 * Run fn(arg) on the current loop when its clock reaches @p deadline
 * (asyncio loop.call_at()); a deadline already past runs it soon.
 * @return as ax_call_later(); AX_EINVAL for AX_NO_DEADLINE or below.
 * Suspends: no. Thread: the loop's.
 */
AX_EXTERN int ax_call_at(int64_t deadline, ax_callback_fn fn, void *arg,
                         ax_handle **out);

/**
 * Keep a pending callback from running (asyncio Handle.cancel()).
 * @return 0; AX_EALREADY if it ran (or is running) or was cancelled
 *         already; AX_EINVAL for NULL; AX_ESRCH for a freed handle;
 *         AX_EWRONGLOOP for a handle of another loop.
 * Suspends: no. Thread: the handle's loop.
 */
AX_EXTERN int ax_handle_cancel(ax_handle *h);

/** Whether the callback has run (false for NULL, a freed handle and one of
 *  another loop). */
AX_EXTERN bool ax_handle_ran(const ax_handle *h);

/**
 * Give up a handle that ax_call_soon() and the others handed out; a
 * callback still pending is cancelled first. A handle never freed is
 * reported when the loop ends.
 * @return 0; AX_EINVAL for NULL; AX_ESRCH for a freed handle;
 *         AX_EWRONGLOOP for a handle of another loop.
 * Suspends: no. Thread: the handle's loop (its callback included).
 */
AX_EXTERN int ax_handle_free(ax_handle *h);

#ifdef __cplusplus
}
#endif
#endif
