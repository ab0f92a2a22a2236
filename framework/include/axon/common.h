/* SPDX-License-Identifier: MIT */
/**
 * @file axon/common.h
 * @brief Shared declarations: visibility marker and the opaque types.
 *
 * Every object axon hands out is opaque and owned by exactly one loop (the
 * loop of the thread that made it). Unless a function's documentation says
 * otherwise it may only be called on that loop's thread.
 */
#ifndef AXON_COMMON_H
#define AXON_COMMON_H

#include <stddef.h>
#include <stdint.h>

#if defined(AXON_BUILDING) && defined(__GNUC__)
#define AX_EXTERN __attribute__((visibility("default")))
#else
#define AX_EXTERN
#endif

#ifdef __cplusplus
extern "C" {
#endif

/** An event loop: one per thread, wrapping a libevent event_base. */
typedef struct ax_loop ax_loop;
/** A task: a stackful coroutine running a plain C function. */
typedef struct ax_task ax_task;
/** A one-shot result slot that tasks can await. */
typedef struct ax_future ax_future;
/** A task group (asyncio.TaskGroup). */
typedef struct ax_group ax_group;

/**
 * A task body. It runs on its own stack, may suspend only inside axon calls,
 * and its return value becomes the task's result. To fail instead, return
 * ax_task_fail(code).
 */
typedef void *(*ax_task_fn)(void *arg);

#ifdef __cplusplus
}
#endif
#endif
