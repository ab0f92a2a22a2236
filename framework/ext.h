/* SPDX-License-Identifier: MIT */
/*
 * The runtime's extension interface: how a layer built on the core (such
 * as the one in actors/) keeps state per
 * runtime and per loop and hears about the runtime's life, without the
 * core knowing the layer exists. Never installed.
 *
 * A layer describes itself with a static ax__ext. The first time a task of
 * a runtime uses the layer, ax__ext_attach() makes the layer's runtime-wide
 * state (rt_new) and one state per loop (loop_new); each loop then reaches
 * its own state in one load through ax__ext_loop(). Attaching is lazy so
 * that a program that never uses a layer pays nothing for it, and a build
 * that leaves the layer out has nothing to register.
 *
 * Hooks, in the order the runtime calls them:
 *  - rt_new(nloops) then loop_new(L, rt) for each loop: on the attaching
 *    thread, while other loops may be running (they only read the slot once
 *    it is published);
 *  - loop_stop(L, ls, rt): on L's own thread when the runtime's teardown
 *    reaches it, before its tasks are cancelled;
 *  - loop_term(L, ls, rt): after every loop thread has left and every inbox
 *    has been drained (messages dropped with drop=true), on the thread that
 *    called ax_run();
 *  - rt_term(rt): last, on that same thread.
 * Any hook may be NULL.
 */
#ifndef AX_EXT_H
#define AX_EXT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "axon/common.h"
#include "axon/task.h"
#include "alloc.h"

/* How many layers can attach to one runtime. */
#define AX__EXT_MAX 4

/*
 * The head of every ax_loop: what a layer reads on every message, kept
 * where an inline function can reach it (a call per message cost the
 * actors' same-loop ping-pong a third of its speed). Only the core writes
 * it; ext[] is written once per layer, with release, by whoever attached.
 */
typedef struct ax__tbuf ax__tbuf;
typedef struct ax__loop_pub {
    ax_task *current;              /* the running task; NULL between tasks */
    int index;                     /* in the runtime, 0..nloops-1 */
    _Atomic(void *) ext[AX__EXT_MAX]; /* the attached layers' loop states */
    ax__tbuf *trace; /* the loop's trace buffer (trace.c); NULL: not tracing */
} ax__loop_pub;

typedef struct ax__ext {
    const char *name;
    void *(*rt_new)(int nloops);
    void *(*loop_new)(ax_loop *L, void *rt);
    void (*loop_stop)(ax_loop *L, void *ls, void *rt);
    void (*loop_term)(ax_loop *L, void *ls, void *rt);
    void (*rt_term)(void *rt);
    int id; /* slot, assigned by the first attach; 0: none yet */
} ax__ext;

/*
 * The layer's runtime-wide state for the calling loop's runtime, made on
 * first use. Thread: any loop thread of the runtime. Returns NULL outside a
 * loop, when out of memory, or when AX__EXT_MAX layers are attached.
 */
void *ax__ext_attach(ax__ext *e);

/* @L's state of layer @e, or NULL if it is not attached (yet). Any thread
 * of the runtime; the state itself belongs to @L's thread. */
static inline void *ax__ext_loop(ax_loop *L, const ax__ext *e)
{
    int id = __atomic_load_n(&e->id, __ATOMIC_ACQUIRE);

    if (!L || !id)
        return NULL;
    return atomic_load_explicit(&((ax__loop_pub *)L)->ext[id - 1],
                                memory_order_acquire);
}

/* Same for the runtime-wide state (no attaching). */
void *ax__ext_rt(ax_loop *L, const ax__ext *e);

/* ---- what a layer may use of the core ------------------------------------ */

/* A node of a loop's inbox. run() executes it on the receiving loop; with
 * drop set the loop is gone and it must only release what it holds. */
typedef struct ax__msg ax__msg;
struct ax__msg {
    ax__msg *_Atomic next;
    void (*run)(ax_loop *L, ax__msg *m, bool drop);
};

/* Queue @m on @to's inbox (any thread of the runtime); it runs there
 * between tasks, in push order per producer. */
void ax__inbox_push(ax_loop *to, ax__msg *m);
/* Run fn(L, a, b, c, drop) on @to (any thread): ax__inbox_push() with a
 * malloc'd node. AX_ENOMEM; AX_ESHUTDOWN if @to takes no more calls. */
int ax__post_call(ax_loop *to,
                  void (*fn)(ax_loop *L, void *a, void *b, int c, bool drop),
                  void *a, void *b, int c);

/* The thread's loop and running task (NULL outside). */
extern __thread __attribute__((tls_model("initial-exec"))) ax_loop *ax__tls_loop;
static inline ax_loop *ax__loop_self(void) { return ax__tls_loop; }
static inline ax_task *ax__task_self(void)
{
    ax_loop *L = ax__tls_loop;

    return L ? ((ax__loop_pub *)L)->current : NULL;
}

/* The trace (trace.c), for a layer's own events: an instant named @name
 * with two integer arguments on the current loop's timeline. Off, this is
 * one branch on a pointer of the loop's head. */
void ax__trace_instant(ax__tbuf *b, const char *name, const char *cat,
                       const char *k1, int64_t v1, const char *k2,
                       int64_t v2);
static inline void ax__ext_trace(const char *name, const char *k1, int64_t v1,
                                 const char *k2, int64_t v2)
{
    ax_loop *L = ax__tls_loop;
    ax__tbuf *b = L ? ((ax__loop_pub *)L)->trace : NULL;

    if (__builtin_expect(b != NULL, 0))
        ax__trace_instant(b, name, "msg", k1, v1, k2, v2);
}

/* Loops of a runtime: how many, by index, which index; loop threads of the
 * runtime only. */
int ax__loop_count(ax_loop *L);
ax_loop *ax__loop_at(ax_loop *L, int i);
static inline int ax__loop_idx(const ax_loop *L)
{
    return ((const ax__loop_pub *)L)->index;
}
/* Whether @a and @b belong to the same runtime. */
bool ax__same_runtime(const ax_loop *a, const ax_loop *b);
/* The runtime's main task has ended: no new work should start. */
bool ax__runtime_stopping(ax_loop *L);

/* A task's owner slot: a pointer the layer that spawned the task keeps
 * there (the object whose body the task runs). Owner loop only. */
void ax__task_set_owner(ax_task *t, void *owner);
/* Where a task keeps the slot: read on every message, so inline. task.c
 * checks the number at compile time (_Static_assert). */
#define AX__TASK_OWNER_OFFSET 104
static inline void *ax__task_owner(const ax_task *t)
{
    return *(void *const *)((const char *)t + AX__TASK_OWNER_OFFSET);
}
ax_loop *ax__task_loop(const ax_task *t);
/* The status the task would end with now (0, its failure, ECANCELED). */
int ax__task_status(const ax_task *t);
/* Mark the task's outcome as read: its failure is no teardown report. */
void ax__task_retrieved(ax_task *t);
/* ax_spawn_with() on @loop, except that *tp receives the pointer even when the task
 * is spawned detached (handle false), so it can be cancelled before its
 * body first runs. A task gets its stack when it first runs, on @loop, and
 * one that cannot have it ends with AX_ENOMEM without running @fn: then
 * @unrun (if not NULL) is called with @arg and that status instead, on
 * @loop between tasks, so that the layer frees what @fn would have. */
int ax__spawn_on(ax_loop *loop, ax_task **tp, bool handle, ax_task_fn fn,
                 void *arg, const ax_task_opts *opts,
                 void (*unrun)(void *arg, int status));

/* Suspend the running task @t until ax__wake() or @deadline (ns on the
 * loop's clock, -1: none); returns the wake status, AX_ETIMEDOUT, or
 * AX_ECANCELED (once per cancellation). @what names the wait in
 * ax_dump_tasks(). */
int ax__wait(ax_task *t, int64_t deadline, const char *what);

/* ax__wait() for a caller that keeps nothing on the task's stack that
 * others write while it waits: it also parks a task on the shared stack
 * (ax__wait() refuses those with AX_ENOTSUP), whose stack is copied away
 * meanwhile. May also return AX_ENOMEM (no memory to park). */
int ax__wait_shs(ax_task *t, int64_t deadline, const char *what);
/* Make a suspended task of the calling loop ready; its wait returns
 * @status. */
void ax__wake(ax_task *t, int status);
/* Make the running task's suspensions ignore cancellation (on) or heed it
 * again (off); returns the previous setting. For waits that must not be
 * abandoned, such as one whose waker points into the task's stack.
 * (Shared with wait.h, which implements it.) */
bool ax__shield(bool on);
/* Deliver a cancellation that arrived while the task was not suspended at
 * its next suspension instead (the caller consumed the wake-up). */
void ax__cancel_later(ax_task *t);

/* Whether @t runs on its loop's shared stack (ax_task_opts.shared_stack):
 * then nothing may write into its stack while it waits, so a wait whose
 * state lives there must refuse it (AX_ENOTSUP) before waiting. */
bool ax__task_shared(const ax_task *t);
/* The loop's clock, ns. */
int64_t ax__now(ax_loop *L);
/* Seconds (the API's unit) to ns: AX_EINVAL for NaN, negative or > 100 y. */
int ax__seconds_to_ns(double s, int64_t *ns);
/* A relative timeout as a deadline on L's clock (AX_EINVAL for NaN, above
 * 100 years, or negative unless neg_is_none), and the checks every _dl
 * call makes: a deadline below AX_NO_DEADLINE (-1) is invalid; one at or
 * before now has passed. */
int ax__timeout_to_dl(ax_loop *L, double s, bool neg_is_none, int64_t *dl);
static inline bool ax__dl_invalid(int64_t dl) { return dl < -1; }
static inline bool ax__dl_passed(ax_loop *L, int64_t dl)
{
    return dl != -1 && dl <= ax__now(L);
}

/* Complete a future of the calling loop (it must be pending). */
void ax__future_complete(ax_future *f, int status, void *value);
/* Call fn(f, arg) when the future's owner frees it (on its loop), before
 * the memory goes; NULL removes the hook. One hook per future. */
void ax__future_on_free(ax_future *f, void (*fn)(ax_future *f, void *arg),
                        void *arg);

/* Bump a counter that only the calling loop writes. */
#define AX__COUNT(c)                                                          \
    atomic_store_explicit(&(c), atomic_load_explicit(&(c),                    \
                                                     memory_order_relaxed) + 1, \
                          memory_order_relaxed)

#endif
