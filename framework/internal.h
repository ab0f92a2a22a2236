/* SPDX-License-Identifier: MIT */
/*
 * All private headers of the framework, for the files that use every part
 * (task.c, loop.c, future.c, ...). A file that needs less includes less:
 *
 *   platform.h     config, sanitizers, TLS, CPU pause
 *   ext.h          the extension interface layers build on (actors/)
 *   wait.h         the wait interface framework/net/ builds on
 *   inbox.h        the cross-loop inbox and its doorbell
 *   timer.h        timers and the loop clock
 *   stack.h        task stacks and the context a switch saves
 *   future_impl.h  futures, waiters, cross-loop proxies, gathers
 *   task_impl.h    tasks and groups
 *   loop_impl.h    the loop, the runtime
 *
 * The picture: one ax_loop per thread (reached through a thread-local), a
 * FIFO run queue of ready tasks, a binary heap of timers, a pool of stacks.
 * A task that suspends hands the CPU straight to the next ready task; the
 * loop's own context (the "scheduler", running on the thread's stack) only
 * gets control back when the queue is empty or a round's budget is spent,
 * and then checks timers and polls libevent. Never installed.
 */
#ifndef AX_INTERNAL_H
#define AX_INTERNAL_H

#include "platform.h"
#include "ext.h"
#include "inbox.h"
#include "timer.h"
#include "stack.h"
#include "future_impl.h"
#include "task_impl.h"
#include "loop_impl.h"

#endif
