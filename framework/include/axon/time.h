/* SPDX-License-Identifier: MIT */
/**
 * @file axon/time.h
 * @brief Sleeping, timeouts and deadlines.
 *
 * Times are seconds as double at the API and int64 nanoseconds inside.
 * Timers live in one heap per loop; timers with the same deadline fire in
 * the order they were set.
 *
 * Every call that suspends with a timeout has an absolute-deadline twin,
 * named with `_dl` (libdill's and neco's style): ax_sleep_dl(),
 * ax_await_future_dl(), ax_wait_any_dl(), ax_recv_dl(), ax_send_dl(),
 * ax_ask_dl(), ax_call_dl(). A deadline is an `int64_t` in nanoseconds on
 * the calling loop's clock (ax_now_ns()), so one deadline can bound a
 * whole request made of several calls:
 *
 *     int64_t dl = ax_deadline_in(0.5);
 *     rc = ax_send_dl(db, Q_GET, key, dl);
 *     if (rc == 0) rc = ax_recv_dl(&reply, dl);
 *
 * AX_NO_DEADLINE (-1) means no limit. A deadline already past times out at
 * once, but a result that is already there is still taken (as a timeout of
 * 0 does). Any value below -1 is rejected with AX_EINVAL. Each loop has its
 * own clock: a deadline is meaningful only on the loop that computed it.
 * The relative forms are the deadline forms with the deadline computed on
 * entry. Under the virtual clock (ax_opts, runtime.h) they fire as soon
 * as no task is ready, and ax_now() jumps to their deadline.
 */
#ifndef AXON_TIME_H
#define AXON_TIME_H

#include "axon/common.h"
#include "axon/future.h"

#ifdef __cplusplus
extern "C" {
#endif

/** No deadline: the `_dl` calls wait without a limit. */
#define AX_NO_DEADLINE ((int64_t)-1)

/**
 * The deadline @p seconds from now on the current loop's clock
 * (ax_now_ns() + seconds), for the `_dl` calls.
 * @return the deadline; AX_NO_DEADLINE for a negative @p seconds or one
 *         beyond 100 years (+infinity included); INT64_MIN for NaN, which
 *         every `_dl` call rejects with AX_EINVAL, so a NaN computed
 *         upstream is reported where the deadline is used rather than
 *         turning silently into "no limit".
 * Thread: any; outside a loop the clock is the monotonic one. Suspends: no.
 */
AX_EXTERN int64_t ax_deadline_in(double seconds);

/**
 * Suspend the current task for @p seconds (asyncio.sleep). 0 yields once.
 * @return 0; AX_ECANCELED if cancelled meanwhile; AX_EINVAL for a negative
 *         or NaN duration (or one above 100 years); AX_ENOTTASK outside a
 *         task; AX_ENOMEM if the loop's timer heap could not grow (as
 *         every wait with a deadline: it then returns at once).
 *         Suspends: yes.
 */
AX_EXTERN int ax_sleep(double seconds);

/** ax_sleep() in nanoseconds; AX_EINVAL if negative or above 2^62 ns
 *  (146 years), where now + ns could overflow. */
AX_EXTERN int ax_sleep_ns(int64_t ns);

/**
 * Suspend the current task until the loop's clock reaches @p deadline.
 * A deadline already past yields once, as ax_sleep(0) does;
 * AX_NO_DEADLINE sleeps until the task is cancelled.
 * @return 0; AX_ECANCELED if cancelled meanwhile; AX_EINVAL for a deadline
 *         below -1 (ax_deadline_in(NAN)); AX_ENOTTASK outside a task;
 *         AX_ENOMEM as ax_sleep().
 * Suspends: yes. Thread: a task's own loop.
 */
AX_EXTERN int ax_sleep_dl(int64_t deadline);

#ifdef __cplusplus
}
#endif
#endif
