/**
 * @file axon/time.h
 * @brief Sleeping and timeouts.
 *
 * Times are seconds as double at the API and int64 nanoseconds inside.
 * Timers live in one heap per loop; timers with the same deadline fire in
 * the order they were set. Under the virtual clock (ax_opts, runtime.h) they fire as soon
 * as no task is ready, and ax_now() jumps to their deadline.
 */
#ifndef AXON_TIME_H
#define AXON_TIME_H

#include "axon/common.h"
#include "axon/future.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Suspend the current task for @p seconds (asyncio.sleep). 0 yields once.
 * @return 0; AX_ECANCELED if cancelled meanwhile; AX_EINVAL for a negative
 *         or NaN duration (or one above 100 years); AX_ENOTTASK outside a
 *         task. Suspends: yes.
 */
AX_EXTERN int ax_sleep(double seconds);

/** ax_sleep() in nanoseconds; AX_EINVAL if negative. */
AX_EXTERN int ax_sleep_ns(int64_t ns);

/**
 * Await @p f for at most @p seconds (asyncio.wait_for). On timeout a task is
 * cancelled and waited for (it may clean up), a gather future is cancelled,
 * and a plain future is left pending (others may still complete it);
 * the call then returns AX_ETIMEDOUT.
 * @return as ax_await_future(); AX_ETIMEDOUT on timeout; AX_EINVAL for a
 *         negative or NaN timeout. A timeout of 0 still takes a done result.
 * Suspends: yes.
 */
AX_EXTERN int ax_await_timeout_future(ax_future *f, double seconds,
                                      void **result);

#ifndef AX_NO_GENERIC
/** Await a task or future with a timeout; see ax_await_timeout_future(). */
#define ax_await_timeout(x, seconds, result)                                  \
    ax_await_timeout_future(AX_FUTURE(x), (seconds), (result))
#endif

#ifdef __cplusplus
}
#endif
#endif
