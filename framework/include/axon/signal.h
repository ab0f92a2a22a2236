/* SPDX-License-Identifier: MIT */
/**
 * @file axon/signal.h
 * @brief Awaiting POSIX signals from tasks of any loop.
 *
 * ax_signal_wait() suspends a task until the process receives a signal,
 * like a task awaiting a future that a signal handler completes (asyncio's
 * loop.add_signal_handler, Go's signal.Notify). Signals are caught on loop
 * 0 through libevent and fanned out, by message, to every task waiting for
 * that number on any loop; several waiters are all woken by one signal.
 *
 * Once a signal number has been waited for, the runtime keeps catching it
 * until ax_run() returns, so that one arriving between two waits does not
 * take its default action (end the process); such a signal, with nobody
 * waiting, is dropped. Signals are not queued per waiter: several arriving
 * before a waiter runs wake it once.
 *
 * ax_stop_on_signals() (runtime.h) is the other use of SIGINT/SIGTERM; both
 * may be used together.
 */
#ifndef AXON_SIGNAL_H
#define AXON_SIGNAL_H

#include "axon/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Wait until the process receives signal @p signo.
 *
 * @param signo   a catchable, asynchronous signal: not SIGKILL or SIGSTOP,
 *                nor one the kernel sends to a faulting thread (SIGSEGV,
 *                SIGBUS, SIGILL, SIGFPE, SIGTRAP); between 1 and NSIG - 1.
 * @param timeout seconds; negative means no limit; NaN is AX_EINVAL. A
 *                timeout of 0 returns AX_ETIMEDOUT after the signal is
 *                caught by the runtime: a way to start catching it before
 *                the first real wait.
 * @return 0 when the signal arrived; AX_ETIMEDOUT; AX_ECANCELED; AX_EINVAL
 *         (@p signo, NaN, a timeout above 100 years); AX_ENOTTASK;
 *         AX_ENOMEM if loop 0 could not install the catcher.
 * Suspends: yes (at least for a message round trip to loop 0, also when
 *         it times out or is cancelled: the registration there is withdrawn
 *         first, ignoring cancellation).
 * Thread: any loop's, inside a task.
 */
AX_EXTERN int ax_signal_wait(int signo, double timeout);

/**
 * ax_signal_wait() until an absolute @p deadline (time.h) instead of a
 * timeout: AX_NO_DEADLINE waits without limit.
 * @return as ax_signal_wait(); AX_EINVAL also for a deadline below -1.
 * Suspends: yes.
 */
AX_EXTERN int ax_signal_wait_dl(int signo, int64_t deadline);

#ifdef __cplusplus
}
#endif
#endif
