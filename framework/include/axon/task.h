/* SPDX-License-Identifier: MIT */
/**
 * @file axon/task.h
 * @brief Tasks: stackful coroutines (asyncio.create_task).
 *
 * A task runs a plain C function on its own mmap'd stack with a guard page
 * below it. ax_spawn() queues the task on the current loop (ax_spawn_with()
 * on any loop of the runtime); it does not run until the spawner suspends
 * (the seed's "control is still in main's hands").
 *
 * Ownership, like a thread's: the handle that ax_spawn() returns must be
 * given up exactly once, either by awaiting the task (ax_await(), or passing
 * it to ax_gather(), which awaits it for you) or by ax_task_detach(). After
 * a successful await the handle is gone. A handle neither awaited nor
 * detached by the time the loop ends is reported with the task's name.
 *
 * Cancellation (ax_cancel()) is cooperative, as in asyncio: the task's next
 * suspension (or the current one) returns AX_ECANCELED once. The task may
 * then clean up, even suspending again to do so, and return. A task that was
 * asked to cancel ends as AX_ECANCELED unless it fails with its own code.
 * The body always starts: a task cancelled before it first ran sees
 * AX_ECANCELED at its first suspension, so it can still free its argument.
 *
 * A stack overflow hits the guard region below the stack (60 KiB of
 * PROT_NONE, address space only); the process then dies with a message
 * naming the task (a signal handler on an alternate stack), rather than
 * corrupting memory. A single frame larger than the guard (a 200 KiB local
 * array, a big alloca) is caught too when its code was built with
 * -fstack-clash-protection, which touches every page on the way down:
 * axon, its tests and examples are built with it where the compiler has it.
 * Not caught: a frame larger than 60 KiB in code built without it (your
 * own, unless you add the flag; a library's), which can step over the
 * guard into a neighbouring task's stack. Give such a task a stack large
 * enough for the frame (ax_task_opts.stack_size), and build with the flag.
 * Stacks made once the kernel's map limit is near have no guard at all
 * (ax_loop_stats.stacks_unguarded).
 *
 * Misuse is an error, not a crash. A freed task (awaited; detached and
 * ended; released with its gather or group) is refused with AX_ESRCH ("no
 * such task") by every call here and in future.h; one whose handle was
 * given up but which still runs is refused by the calls that take the
 * handle (await, detach, gather). Task structs are kept by the loop after
 * they are freed, marked dead, and reused oldest first, only after 256
 * later tasks have been freed (or at the end of ax_run()), so awaiting or
 * detaching twice is reported. What cannot be detected: a stale
 * handle used after its struct was reused for a new task (the call then
 * acts on the new task), and a pointer that never was an axon object.
 * From another loop a stale handle is refused by the owner loop when the
 * request arrives; for the fire-and-forget calls (ax_task_detach(),
 * ax_cancel()) that refusal cannot be reported and nothing happens.
 *
 * Thread: every function here must be called on the thread of the loop that
 * owns the task, except where it says otherwise (ax_task_detach(),
 * ax_task_id(), and ax_await()/ax_cancel() in future.h work from any loop
 * of the runtime); from elsewhere they return AX_EWRONGLOOP.
 */
#ifndef AXON_TASK_H
#define AXON_TASK_H

#include <stdbool.h>

#include "axon/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Longest task name kept (longer names are truncated). */
#define AX_TASK_NAME_MAX 31

/** Per-task options for ax_spawn_with(). Zero-initialise, then set what
 *  you need: all zeroes is what ax_spawn() does. */
typedef struct ax_task_opts {
    /** Stack size in bytes; 0 means the target loop's default. Rounded up
     *  to whole pages and to at least AX_MIN_STACK_SIZE. */
    size_t stack_size;
    /** Name for reports and ax_dump_tasks(); copied; NULL means "task-ID". */
    const char *name;
    /** The loop to run the task on: NULL means the current loop; another
     *  loop of the caller's runtime (ax_loop_at(), runtime.h) starts it
     *  there (create_task on another thread's loop). */
    ax_loop *loop;
    /** Run on the loop's shared stack instead of a stack of its own
     *  (copy-on-park, as libco's shared stacks): while the task is parked
     *  only the part of its stack in use (typically a few hundred bytes)
     *  is kept, in a heap buffer sized to fit, and copied back before it
     *  resumes. For a million parked tasks; every switch to such a task
     *  that finds another one's bytes on the stack costs two copies.
     *  stack_size must then be 0 (the stack is the loop's default size).
     *
     *  The rule that makes it safe: nothing may write into such a task's
     *  stack while it is parked, because its bytes are elsewhere then.
     *  Never hand a pointer into its stack (a local variable, an array)
     *  to another task, a callback or another loop that may write
     *  through it while this task waits. The runtime keeps to the rule
     *  in the calls that may suspend such a task: ax_yield(), ax_sleep()
     *  and friends, ax_await() and ax_await_future() (and their _dl and
     *  timeout forms) of a task or future of the same loop, ax_gather()
     *  and ax_gather_all() of the same loop's futures, ax_wait_any() of
     *  the same loop's futures, ax_group_wait(), the locks, events,
     *  conditions, semaphores and barriers of sync.h, and socket I/O.
     *  Spawning, cancelling, being cancelled while parked, ax_cancel() and
     *  futures' results work as for any task. Every other suspending call
     *  returns AX_ENOTSUP at once, without waiting: awaiting or gathering
     *  a future of another loop, ax_wait(), ax_shield(), timeout scopes
     *  (ax_scope_enter()), ax_queue get/put/join that would wait,
     *  ax_signal_wait(), name lookups and ax_to_thread().
     *
     *  Parking never fails for want of memory: the loop keeps a spare
     *  buffer of the stack's size for that, and a wait that finds it used
     *  up and cannot replace it returns AX_ENOMEM instead of waiting. The
     *  loop keeps freed buffers (up to 64 MiB) for the next parks. */
    bool shared_stack;
    /** Start at once (asyncio's eager_start, Python 3.12's
     *  eager_task_factory): when spawned by a task on the target loop, the
     *  new task runs before ax_spawn_with() returns, until it first
     *  suspends or ends, and the spawner resumes right after that, ahead
     *  of the tasks that were already ready. The call then suspends the
     *  spawner (it is not a wait: no cancellation is delivered by it). A
     *  fan-out whose children finish without waiting then keeps only the
     *  unfinished ones alive: the classic skynet with eager children holds
     *  tens of tasks at its peak instead of a million (bench/README.md).
     *  Ignored (the task is queued as usual) when the caller is not a task
     *  of the target loop: a loop callback, a future's done callback (even
     *  one running inside a task: it must not suspend), or a spawn onto
     *  another loop. Do not ask for it in other callbacks documented as
     *  "must not suspend" (a queue's item destructor, an actor's
     *  undelivered or reply-dropped hook). */
    bool eager;
} ax_task_opts;

/**
 * Create a task running fn(arg) on the current loop and queue it behind the
 * tasks already ready. It starts when the caller next suspends.
 *
 * @param out  receives the handle; pass NULL to spawn detached.
 * @param fn   the body; must not be NULL.
 * @param arg  passed to @p fn; the caller and the body agree who frees it.
 * @return 0; AX_EINVAL if @p fn is NULL; AX_EPERM outside a loop;
 *         AX_ENOMEM if the task could not be allocated (*out untouched).
 *         The task's stack is taken when it first runs (and given back to
 *         the loop's cache as it ends): if none can be had then, the task
 *         ends with AX_ENOMEM without running, and its handle reports it.
 * Suspends: no. Thread: a loop's thread (from a task, or from a callback).
 */
AX_EXTERN int ax_spawn(ax_task **out, ax_task_fn fn, void *arg);

/**
 * ax_spawn() with options: name, stack size, the loop to run on, a shared
 * stack, an eager start.
 *
 * On another loop (opts->loop) the task is queued there behind that loop's
 * ready tasks. The handle works like any other: await it (from any loop of
 * the runtime), pass it to ax_gather(), cancel it, or detach it.
 *
 * @param opts NULL for the defaults (then this is ax_spawn()).
 * @return as ax_spawn(); AX_EINVAL also for a stack size above 1 GiB or a
 *         loop of another runtime; AX_ESHUTDOWN if opts->loop is another
 *         loop and the runtime is shutting down. If the stack cannot be
 *         allocated when the task first runs, on this loop or another, the
 *         task ends with AX_ENOMEM there without running (the call itself
 *         returned 0). With opts->eager the task may have ended by the
 *         time the call returns; the handle works the same.
 * Suspends: only with opts->eager from a task of the target loop (until
 *         the new task first suspends or ends). Thread: a loop's thread.
 */
AX_EXTERN int ax_spawn_with(ax_task **out, ax_task_fn fn, void *arg,
                            const ax_task_opts *opts);

/**
 * Give up the handle: the task keeps running and frees itself when it ends.
 * If it fails, the failure is reported (nobody can retrieve it).
 * For a task of another loop the request is posted there and 0 returned.
 * @return 0; AX_EINVAL if @p t is NULL; AX_ESRCH if the handle was already
 *         given up (awaited or detached: no such task); AX_EBUSY if a task
 *         is awaiting it or a gather or group owns it; AX_EPERM outside a
 *         loop for a task of a loop. From another loop only a freed task
 *         is refused here; the other errors happen there, unreported.
 * Thread: any loop of the runtime. Suspends: no.
 */
AX_EXTERN int ax_task_detach(ax_task *t);

/**
 * Mark the current task as failed with @p code; return the result of this
 * call from the body: `return ax_task_fail(AX_ETIMEDOUT);`.
 * @param code a negative error code (axon's or your own).
 * @return NULL, always. Outside a task, or with code >= 0, nothing is
 *         recorded (a debug build logs the misuse) and the task would
 *         end normally.
 */
AX_EXTERN void *ax_task_fail(int code);

/**
 * Let every other ready task run once, then continue (asyncio.sleep(0)).
 * @return 0; AX_ECANCELED if the task was cancelled; AX_ENOTTASK outside a
 *         task; AX_ENOMEM for a shared-stack task when no memory can be
 *         set aside to park its bytes (it did not yield). Suspends: yes.
 */
AX_EXTERN int ax_yield(void);

/** The running task, or NULL outside a task. */
AX_EXTERN ax_task *ax_task_self(void);

/**
 * Rename a task; @p name is copied (truncated to AX_TASK_NAME_MAX).
 * @return 0; AX_EINVAL if either argument is NULL; AX_ESRCH for a handle
 *         given up; AX_EWRONGLOOP from any thread but the owner loop's
 *         (reports and the overflow message read the name there).
 *         of another loop. Thread: the task's loop. Suspends: no.
 */
AX_EXTERN int ax_task_set_name(ax_task *t, const char *name);

/** The task's name; "" for NULL, a freed task, or a task of another loop
 *  (the default name is made on first use, by the owner). Valid while the
 *  handle is. */
AX_EXTERN const char *ax_task_name(const ax_task *t);

/** The task's id, unique in the process, counting from 1 (0 for NULL or
 *  a freed task). Thread: any (the id never changes). */
AX_EXTERN uint64_t ax_task_id(const ax_task *t);

/** Whether the task has ended (false for NULL, a freed task, and a task
 *  of another loop: ask its loop, or await it). */
AX_EXTERN bool ax_task_done(const ax_task *t);

/**
 * The outcome of a finished task without awaiting it and without giving up
 * the handle (for tasks owned by a group, or after ax_wait_any()).
 * @return the task's status as ax_await() would; AX_EPENDING if it has not
 *         ended; AX_EINVAL for NULL; AX_ESRCH for a freed task (a handle
 *         already awaited or detached, or released with its group);
 *         AX_EWRONGLOOP for a task of another loop.
 */
AX_EXTERN int ax_task_result(ax_task *t, void **result);

/** The future that completes when @p t ends (for ax_gather() arrays and
 *  ax_wait_any()). It lives as long as the task's handle does. Pure
 *  address arithmetic, so any thread may call it and a stale @p t gives a
 *  stale future, which the calls taking it refuse with AX_ESRCH. */
AX_EXTERN ax_future *ax_task_future(ax_task *t);

#ifdef __cplusplus
}
#endif
#endif
