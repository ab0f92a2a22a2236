/* SPDX-License-Identifier: MIT */
/*
 * Tasks and groups from the inside (task.c, gather.c). Never installed.
 */
#ifndef AX_TASK_IMPL_H
#define AX_TASK_IMPL_H

#include "future_impl.h"
#include "stack.h"
#include "timer.h"
#include "alloc.h"
#include "axon/error.h"
#include "axon/task.h"

enum { AX__T_READY, AX__T_RUNNING, AX__T_SUSPENDED, AX__T_DONE };

/* A loop's scheduler state, owned by task.c: the loop's own context (the
 * "scheduler", on the thread's stack) and the FIFO of ready tasks. */
typedef struct ax__runq {
    ax__coro sched;
    ax_task *head, *tail;
    unsigned budget;  /* task runs left in this round */
    ax_task *zombie;  /* finished task whose stack is still to release */
} ax__runq;

struct ax_task {
    ax_future fut; /* first: a task is a future */
    ax__msg spawn_msg; /* ax_spawn_with's message to the owning loop */
    void *owner;       /* the layer's object this task runs (ext.h) */
    ax__coro coro;
    ax__stack stack;
    ax_loop *loop;
    ax_task_fn fn;
    void *arg;
    /* Told instead of fn when the task ends without running (ext.h). */
    void (*unrun)(void *arg, int status);
    ax_task *rnext;          /* run queue */
    ax_task *lprev, *lnext;  /* loop's task list */
    ax__timer timer;
    const char *wait_what;   /* for ax_dump_tasks */
    const void *wait_obj;    /* a future (read as one by the dump) or NULL */
    uint64_t id;
    int fail_code;
    int wake_status;
    unsigned nlocks;         /* ax_locks it holds (sync.c) */
    unsigned ncancels;       /* cancel requests not withdrawn (scope.c) */
    void *scopes;            /* innermost open timeout scope (scope.c) */
    /* For the earliest deadline of the scopes: made by the first scope
     * with a deadline (a pointer, not a timer: 40 bytes more on every
     * parked task showed in bench/parked), freed with the task. */
    ax__timer *scope_timer;
    uint8_t state;
    bool cancel_req;     /* ax_cancel was called: the outcome is ECANCELED */
    bool cancel_pending; /* not yet delivered at a suspension */
    bool shielded;       /* suspensions ignore cancellation */
    bool has_handle;     /* someone may still use the handle */
    bool owned;          /* the handle belongs to a gather or group */
    bool has_awaiter;    /* a task is joining it */
    bool reported;
    bool timer_failed;   /* the next suspension's timer could not be armed */
    bool foreign;        /* the struct came from another loop's pool */
    bool shstk;          /* runs on the loop's shared stack (stack.c) */
    char name[AX_TASK_NAME_MAX + 1];
};

struct ax_group {
    ax_loop *loop; /* first, as in ax_future: see ax__pooled */
    ax_task *owner;
    ax_task **tasks;
    ax__waiter *waiters;
    size_t n, cap, remaining;
    int first_err;
    uint32_t magic; /* AX__MAGIC_GROUP while live */
    bool waiting, waited;
    ax_group *lprev, *lnext;
};

/* task.c */
/*
 * Park the running task until ax__wake(). @obj: the future waited on,
 * shown by ax_dump_tasks(), or NULL. Only for callers that write nothing
 * into the task's stack while it is parked: no waiter node, result slot
 * or request on the stack that another task, a callback or another loop
 * writes to meanwhile. A shared-stack task's stack is copied away while it
 * is parked, so such writes would land in another task's stack.
 */
int ax__suspend_shs(ax_task *t, const char *what, const void *obj);

/* ax__suspend_shs() for callers that may keep state on the stack: on a
 * shared-stack task it refuses to park (AX_ENOTSUP), before any wait. */
static inline int ax__suspend(ax_task *t, const char *what, const void *obj)
{
    if (AX__UNLIKELY(t->shstk))
        return AX_ENOTSUP;
    return ax__suspend_shs(t, what, obj);
}

/* Where a waiter node of @t lives while it parks: @local, on its stack,
 * or for a shared-stack task a heap copy of it (NULL: out of memory).
 * Give it back with ax__waiter_done(). */
static inline ax__waiter *ax__waiter_for(ax_task *t, ax__waiter *local)
{
    ax__waiter *w;

    if (!AX__UNLIKELY(t->shstk))
        return local;
    if ((w = ax__malloc(sizeof *w)))
        *w = *local;
    return w;
}

static inline void ax__waiter_done(ax__waiter *w, ax__waiter *local)
{
    if (w != local)
        ax__free(w);
}
void ax__wake(ax_task *t, int status);
void ax__task_release(ax_task *t);
void ax__run_ready(ax_loop *L);
void ax__reap(ax_loop *L);
void ax__task_free(ax_task *t);
int ax__task_status(const ax_task *t);
const char *ax__task_name(ax_task *t);
int ax__spawn_on(ax_loop *loop, ax_task **tp, bool handle, ax_task_fn fn,
                 void *arg, const ax_task_opts *opts,
                 void (*unrun)(void *arg, int status));
void ax__coro_init_sched(ax_loop *L);
void ax__coro_term_sched(ax_loop *L);
int ax__wait_shielded(ax_task *t, ax_future *f);
int ax__task_cancel(ax_task *t);

/* scope.c */
void ax__scope_task_ended(ax_task *t);
void ax__handles_run(ax_loop *L);
size_t ax__handles_term(ax_loop *L);

#endif
