/* SPDX-License-Identifier: MIT */
/*
 * Tasks: spawning, switching, suspending, waking, cancelling, finishing.
 *
 * Switching is direct: a task that suspends resumes the next ready task
 * itself, so a yield between two tasks is one context switch, not two. The
 * scheduler context (the thread's own stack) runs only when the run queue is
 * empty or a round's budget is used up; then it looks at timers and
 * libevent. A finished task cannot free the stack it is running on, so it
 * leaves itself in L->rq.zombie and whoever runs next releases it.
 *
 * A task gets its stack when it first runs, not when it is spawned, and
 * gives it back as it ends: a fan-out whose children run one after
 * another (skynet's leaves: a million spawned before the first runs) then
 * needs one stack at a time for them, warm from the loop's cache, instead
 * of a million.
 */
#include "internal.h"
#include "axon.h"

#include <stddef.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(offsetof(ax_task, owner) == AX__TASK_OWNER_OFFSET,
               "ext.h's AX__TASK_OWNER_OFFSET must follow struct ax_task");

#ifdef AX_ASAN
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef AX_TSAN
#include <sanitizer/tsan_interface.h>
#endif

/* Tasks run per round before the scheduler looks at timers and I/O:
 * large enough to amortise a clock read, small enough to keep I/O latency
 * to a few microseconds of task work per round. */
#define ROUND_BUDGET 256

static uint64_t next_task_id = 1; /* process-wide, hence atomic */

static void coro_switch(ax__coro *from, ax__coro *to, bool from_exiting)
{
#ifdef AX_ASAN
    __sanitizer_start_switch_fiber(from_exiting ? NULL : &from->asan_fake,
                                   to->stack_lo, to->stack_size);
#endif
#ifdef AX_TSAN
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
    (void)from_exiting;
    ax__ctx_switch(&from->ctx, &to->ctx);
#ifdef AX_ASAN
    __sanitizer_finish_switch_fiber(from->asan_fake, NULL, NULL);
#endif
}

void ax__coro_init_sched(ax_loop *L)
{
#ifdef AX_ASAN
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        pthread_attr_getstack(&attr, &L->rq.sched.stack_lo,
                              &L->rq.sched.stack_size);
        pthread_attr_destroy(&attr);
    }
#endif
#ifdef AX_TSAN
    L->rq.sched.tsan_fiber = __tsan_get_current_fiber();
#endif
    (void)L;
}

void ax__coro_term_sched(ax_loop *L) { (void)L; }

static void rq_push(ax_loop *L, ax_task *t)
{
    t->rnext = NULL;
    if (L->rq.tail)
        L->rq.tail->rnext = t;
    else
        L->rq.head = t;
    L->rq.tail = t;
}

static void rq_push_front(ax_loop *L, ax_task *t)
{
    t->rnext = L->rq.head;
    L->rq.head = t;
    if (!L->rq.tail)
        L->rq.tail = t;
}

static ax_task *rq_pop(ax_loop *L)
{
    ax_task *t = L->rq.head;

    if (t) {
        L->rq.head = t->rnext;
        if (!L->rq.head)
            L->rq.tail = NULL;
    }
    return t;
}

static void task_entry(void *p);

/* A task's first run: its stack (and TSan fiber). A shared-stack task's
 * first frame is made when its bytes are first loaded (shstk_load). */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((always_inline)) inline
#endif
static int task_start(ax_loop *L, ax_task *t)
{
    int rc = AX__UNLIKELY(t->shstk)
                 ? ax__shstk_attach(L, t)
                 : ax__stack_get(L, t->coro.stack_size, &t->stack);

    if (rc)
        return rc;
#ifdef AX_TSAN
    t->coro.tsan_fiber = __tsan_create_fiber(0);
    if (!t->coro.tsan_fiber) {
        if (t->shstk)
            ax__shstk_release(L, t);
        else
            ax__stack_put(L, &t->stack, t->coro.stack_size);
        t->stack.map = NULL;
        return AX_ENOMEM;
    }
#endif
    if (t->shstk)
        return 0;
    t->coro.stack_lo = (char *)t->stack.map + L->stk.guard;
    ax__ctx_make(&t->coro.ctx, t->coro.stack_lo, t->coro.stack_size,
                 task_entry, t);
    return 0;
}

/* A task that cannot have a stack ends with AX_ENOMEM without running; its
 * handle works as for any ended task. The layer that spawned it is told
 * first: its body would have freed the layer's object (an actor's slot and
 * mailbox), which would otherwise stay alive for ever, holding its
 * messages and keeping its askers waiting. */
static void task_end_unrun(ax_loop *L, ax_task *t, int status)
{
    if (t->unrun)
        t->unrun(t->arg, status);
    t->state = AX__T_DONE;
    L->nunfinished--;
    ax__runtime_task_ended(L);
    ax__future_complete(&t->fut, status, NULL);
    if (!t->has_handle)
        ax__task_free(t);
}

/*
 * A shared-stack task about to run whose bytes are not on the shared stack
 * (its stack.map is NULL then, so the common path pays no test for it):
 * park the owner's, put its own back, from code running on another stack.
 * A task on the shared stack (@from) cannot copy over it: it leaves the
 * task at the head of the queue and the exchange to the scheduler, to
 * which it then switches (switch_out finds no next task).
 * @return 0 (t may run); 1 (left to the scheduler); an error from its
 * first run's task_start().
 */
static int shstk_ready(ax_loop *L, ax_task *t, const ax_task *from)
{
    if (from && from->shstk) {
        rq_push_front(L, t);
        return 1;
    }
    if (!t->coro.stack_lo) {
        int rc = task_start(L, t);
        if (rc)
            return rc;
    }
    if (ax__shstk_load(L, t))
        ax__ctx_make(&t->coro.ctx, t->coro.stack_lo, t->coro.stack_size,
                     task_entry, t);
    return 0;
}

/* rq_pop_runnable() for a task @t that has no stack in place: its first
 * run, or a shared-stack task whose bytes are parked. Out of line, so that
 * the switch to a task that has its stack stays short (bench/ctxswitch). */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline))
#endif
static ax_task *rq_pop_slow(ax_loop *L, ax_task *t, const ax_task *from)
{
    for (; t && !t->stack.map; t = rq_pop(L)) {
        int rc = t->shstk ? shstk_ready(L, t, from) : task_start(L, t);
        if (!rc)
            break;
        if (rc == 1)
            return NULL;
        /* A handle reports it to whoever awaits, a layer's hook to its
         * own users; a detached task would vanish silently. */
        if (!t->has_handle && !t->unrun) {
            t->reported = true;
            ax__report(L, "task '%s' got no stack (%s) and ended without "
                          "running", ax__task_name(t), ax_err_name(rc));
        }
        task_end_unrun(L, t, rc);
    }
    return t;
}

/* The next ready task, with its stack; @from: the task asking (NULL: the
 * scheduler). */
static ax_task *rq_pop_runnable(ax_loop *L, const ax_task *from)
{
    ax_task *t = rq_pop(L);

    if (AX__UNLIKELY(t && !t->stack.map))
        return rq_pop_slow(L, t, from);
    return t;
}

void ax__wake(ax_task *t, int status)
{
    if (t->state != AX__T_SUSPENDED)
        return; /* already woken: the first reason stands */
    t->state = AX__T_READY;
    t->wake_status = status;
    rq_push(t->loop, t);
}

/* Release the stack of a task that finished while it was running. */
void ax__reap(ax_loop *L)
{
    ax_task *t = L->rq.zombie;

    if (!t)
        return;
    L->rq.zombie = NULL;
    if (AX__UNLIKELY(t->shstk))
        ax__shstk_release(L, t);
    else if (t->stack.map)
        ax__stack_put(L, &t->stack, t->coro.stack_size);
    t->stack.map = NULL;
#ifdef AX_TSAN
    __tsan_destroy_fiber(t->coro.tsan_fiber);
    t->coro.tsan_fiber = NULL;
#endif
    if (!t->has_handle)
        ax__task_free(t);
}

/* Give the CPU to the next ready task, or back to the scheduler. */
static void switch_out(ax_task *t, bool exiting)
{
    ax_loop *L = t->loop;
    ax_task *next = NULL;

    if (L->rq.budget) {
        next = rq_pop_runnable(L, t);
        if (next)
            L->rq.budget--;
    }
    if (next == t) { /* a yield with nobody else ready */
        if (!AX__UNLIKELY(L->cb.head)) {
            t->state = AX__T_RUNNING;
            return;
        }
        /* Callbacks are due (scope.c): end the round so that they run
         * before this task continues, as asyncio.sleep(0) lets them. */
        L->rq.budget = 0;
        rq_push(L, t);
        next = NULL;
    }
    if (AX__UNLIKELY(L->pub.trace)) {
        ax__trace_task(L, t, 'E',
                       exiting ? "end"
                       : t->state == AX__T_READY ? "yield"
                                                 : t->wait_what,
                       exiting ? ax__task_status(t) : 0);
        if (next)
            ax__trace_task(L, next, 'B', NULL, 0);
    }
    if (next) {
        next->state = AX__T_RUNNING;
        L->pub.current = next;
        L->st.switches++;
        coro_switch(&t->coro, &next->coro, exiting);
    } else {
        L->pub.current = NULL;
        coro_switch(&t->coro, &L->rq.sched, exiting);
    }
    /* Running again: whoever switched here set L->pub.current to t. */
    ax__reap(L);
}

int ax__suspend_shs(ax_task *t, const char *what, const void *obj)
{
    /* Waiting without the timer that bounds the wait could be forever. */
    if (t->timer_failed) {
        t->timer_failed = false;
        return AX_ENOMEM;
    }
    if (t->cancel_pending && !t->shielded) {
        t->cancel_pending = false;
        return AX_ECANCELED;
    }
    /* Its bytes may have to leave the shared stack while it waits. */
    if (AX__UNLIKELY(t->shstk) && ax__shstk_can_park(t->loop))
        return AX_ENOMEM;
    t->state = AX__T_SUSPENDED;
    t->wait_what = what;
    t->wait_obj = obj;
    switch_out(t, false);
    t->wait_what = NULL;
    t->wait_obj = NULL;
    return t->wake_status;
}

int ax_yield(void)
{
    ax_task *t = ax__current();

    if (!t)
        return AX_ENOTTASK;
    if (t->cancel_pending && !t->shielded) {
        t->cancel_pending = false;
        return AX_ECANCELED;
    }
    if (AX__UNLIKELY(t->shstk) && ax__shstk_can_park(t->loop))
        return AX_ENOMEM;
    t->state = AX__T_READY;
    t->wake_status = 0;
    rq_push(t->loop, t);
    switch_out(t, false);
    return t->wake_status;
}

void ax__run_ready(ax_loop *L)
{
    ax_task *t;

    L->rq.budget = ROUND_BUDGET;
    while (L->rq.budget && (t = rq_pop_runnable(L, NULL))) {
        L->rq.budget--;
        t->state = AX__T_RUNNING;
        L->pub.current = t;
        L->st.switches++;
        if (AX__UNLIKELY(L->pub.trace))
            ax__trace_task(L, t, 'B', NULL, 0);
        coro_switch(&L->rq.sched, &t->coro, false);
        ax__reap(L);
    }
    L->pub.current = NULL;
}

int ax__task_status(const ax_task *t)
{
    if (t->fail_code < 0)
        return t->fail_code;
    return t->cancel_req ? AX_ECANCELED : 0;
}

static void task_finish(ax_task *t, void *value)
{
    ax_loop *L = t->loop;
    int status;

    /* A lock left held would strand its waiters: report it, let it go. */
    if (AX__UNLIKELY(t->nlocks))
        ax__sync_task_ended(t, true);
    if (AX__UNLIKELY(t->scopes))
        ax__scope_task_ended(t);
    status = ax__task_status(t);
    /* Its timer may still be in the heap, dead (timer.h). */
    ax__timer_del_now(L, &t->timer);
    t->state = AX__T_DONE;
    L->nunfinished--;
    ax__runtime_task_ended(L);
    ax__future_complete(&t->fut, status, status ? NULL : value);
    if (!t->has_handle && status && status != AX_ECANCELED &&
        !t->fut.retrieved) {
        t->reported = true;
        ax__report(L, "task '%s' failed with %s (%s) and nobody retrieved it",
                   ax__task_name(t), ax_err_name(status),
                   ax_strerror(status));
    }
    L->rq.zombie = t;
    switch_out(t, true);
    abort(); /* a finished task is never resumed */
}

static void task_entry(void *p)
{
    ax_task *t = p;

#ifdef AX_ASAN
    __sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
    ax__reap(t->loop);
    task_finish(t, t->fn(t->arg));
}

void ax__task_free(ax_task *t)
{
    ax_loop *L = t->loop;

    if (t->lprev)
        t->lprev->lnext = t->lnext;
    else
        L->tasks = t->lnext;
    if (t->lnext)
        t->lnext->lprev = t->lprev;
    L->st.tasks_live--;
    if (t->scope_timer) {
        ax__timer_del(L, t->scope_timer);
        ax__free(t->scope_timer);
    }
    if (t->foreign)
        ax__pool_put_foreign(&L->pools.task, t, sizeof *t, &t->fut.magic);
    else
        ax__pool_put(&L->pools.task, t, sizeof *t, &t->fut.magic);
}

void ax__task_release(ax_task *t)
{
    t->has_handle = false;
    t->owned = false;
    if (t->state == AX__T_DONE && !t->stack.map)
        ax__task_free(t);
}

/* First half of a spawn, on the spawning thread: the struct and what never
 * changes. The second half, task_arrive(), runs on the owning loop. */
static int task_new(ax_loop *L, ax_task **tp, ax_task_fn fn, void *arg,
                    const ax_task_opts *opts, bool handle)
{
    size_t size;
    ax_task *t;

    if (!fn || !L)
        return AX_EINVAL;
    size = opts && opts->stack_size ? opts->stack_size : L->stk.default_size;
    if (size > ((size_t)1 << 30))
        return AX_EINVAL;
    /* One shared stack per loop, of its default size. */
    if (opts && opts->shared_stack && opts->stack_size)
        return AX_EINVAL;
    /* From the spawning loop's pool, the only one this thread may touch;
     * it goes back to the owner's when freed there. */
    t = ax__pool_get(&ax__tls_loop->pools.task, sizeof *t);
    if (!t)
        return AX_ENOMEM;
    ax__future_init(&t->fut, L, AX__FUT_TASK);
    t->foreign = ax__tls_loop != L;
    t->loop = L;
    t->fn = fn;
    t->arg = arg;
    t->id = __atomic_fetch_add(&next_task_id, 1, __ATOMIC_RELAXED);
    t->timer.idx = AX__TIMER_IDLE;
    t->timer.task = t;
    t->has_handle = handle;
    t->coro.stack_size = ax__stack_round(L, size);
    t->shstk = opts && opts->shared_stack;
    /* The default name "task-ID" is made when first asked for: formatting
     * it on every spawn was a quarter of skynet's time. */
    if (opts && opts->name)
        snprintf(t->name, sizeof t->name, "%s", opts->name);
    *tp = t;
    return 0;
}

/* The stack comes when the task first runs (rq_pop_runnable). @front:
 * ahead of the tasks already ready (an eager start). */
static int task_arrive(ax_loop *L, ax_task *t, bool front)
{
    t->stack.map = NULL;
    t->lnext = L->tasks;
    if (L->tasks)
        L->tasks->lprev = t;
    L->tasks = t;
    L->st.tasks_spawned++;
    if (AX__UNLIKELY(L->pub.trace))
        ax__trace_task(L, t, 'i', NULL, 0);
    L->st.tasks_live++;
    L->nunfinished++;
    /* Teardown cancels what exists; a task spawned during it (by clean-up
     * code) starts cancelled, so teardown cannot be kept alive forever. */
    if (L->tearing_down) {
        t->cancel_req = true;
        t->cancel_pending = true;
    }
    t->state = AX__T_READY;
    if (front)
        rq_push_front(L, t);
    else
        rq_push(L, t);
    return 0;
}

/* An eager start: the spawner steps aside for its new task, which is at the
 * head of the queue, and is next in line itself, so it resumes as soon as
 * the task first suspends or ends. Unlike ax_yield() this is not a wait: a
 * pending cancellation stays pending for the spawner's next one. */
static void eager_switch(ax_loop *L, ax_task *self)
{
    ax_task *t = L->rq.head;

    /* Without memory to park its bytes, the spawner keeps the CPU; the
     * task still runs first when it next suspends. */
    if (AX__UNLIKELY(self->shstk) && ax__shstk_can_park(L))
        return;

    self->state = AX__T_READY;
    self->wake_status = 0;
    self->rnext = t->rnext;
    t->rnext = self;
    if (L->rq.tail == t)
        L->rq.tail = self;
    switch_out(self, false);
}

int ax_spawn_with(ax_task **out, ax_task_fn fn, void *arg,
                  const ax_task_opts *opts)
{
    ax_loop *L = ax__tls_loop;
    ax_loop *target = opts && opts->loop ? opts->loop : L;
    ax_task *t;
    int rc;

    if (!fn)
        return AX_EINVAL;
    if (!L)
        return AX_EPERM;
    rc = ax__spawn_on(target, &t, out != NULL, fn, arg, opts, NULL);
    if (!rc && out)
        *out = t;
    return rc;
}

int ax_spawn(ax_task **out, ax_task_fn fn, void *arg)
{
    return ax_spawn_with(out, fn, arg, NULL);
}

/* The spawn message, on the target loop. A task whose stack cannot be had
 * there ends with AX_ENOMEM without running, and its handle works as for
 * any ended task. */
static void spawn_arrive(ax_loop *L, ax__msg *m, bool drop)
{
    ax_task *t = (ax_task *)((char *)m - offsetof(ax_task, spawn_msg));

    if (drop || task_arrive(L, t, false)) {
        t->lnext = L->tasks;
        if (L->tasks)
            L->tasks->lprev = t;
        L->tasks = t;
        L->st.tasks_live++;
        t->state = AX__T_DONE;
        ax__runtime_task_ended(L);
        ax__future_complete(&t->fut, AX_ENOMEM, NULL);
        if (!t->has_handle)
            ax__task_free(t);
    }
}

/* Spawn on any loop of the runtime. With @handle false the task is
 * detached, yet *tp still receives its pointer (for a layer on top, which
 * must be able to cancel its task before the body first runs; the pointer
 * is valid until the task ends). */
int ax__spawn_on(ax_loop *loop, ax_task **tp, bool handle, ax_task_fn fn,
                 void *arg, const ax_task_opts *opts,
                 void (*unrun)(void *arg, int status))
{
    ax_loop *L = ax__tls_loop;
    ax_task *t;
    int rc;

    if (!loop || !fn)
        return AX_EINVAL;
    if (!L)
        return AX_EPERM;
    if (loop->rt != L->rt)
        return AX_EINVAL;
    if (loop != L &&
        atomic_load_explicit(&L->rt->shutting, memory_order_acquire))
        return AX_ESHUTDOWN;
    rc = task_new(loop, &t, fn, arg, opts, handle);
    if (rc)
        return rc;
    t->unrun = unrun;
    atomic_fetch_add_explicit(&L->rt->unfinished, 1, memory_order_seq_cst);
    if (tp)
        *tp = t;
    if (loop == L) {
        ax_task *self = L->pub.current;
        bool eager = opts && opts->eager && self &&
                     self->state == AX__T_RUNNING && !L->in_done_cb;

        rc = task_arrive(L, t, eager);
        if (rc) {
            atomic_fetch_sub_explicit(&L->rt->unfinished, 1,
                                      memory_order_seq_cst);
            ax__pool_put(&L->pools.task, t, sizeof *t, &t->fut.magic);
        } else if (eager) {
            eager_switch(L, self);
        }
        return rc;
    }
    t->spawn_msg.run = spawn_arrive;
    ax__inbox_push(loop, &t->spawn_msg);
    return 0;
}

int ax_task_detach(ax_task *t)
{
    if (!t)
        return AX_EINVAL;
    if (!AX__TASK_LIVE(t))
        return AX_ESRCH;
    if (t->loop != ax__tls_loop)
        return ax__tls_loop ? ax__remote_detach(t) : AX_EPERM;
    /* Detached or awaited already: the struct lives on until the task
     * ends, but this handle is no longer anybody's. */
    if (!t->has_handle)
        return AX_ESRCH;
    if (t->owned || t->has_awaiter)
        return AX_EBUSY;
    if (t->state == AX__T_DONE && !t->fut.retrieved && !t->reported &&
        t->fut.status && t->fut.status != AX_ECANCELED) {
        t->reported = true;
        ax__report(t->loop,
                   "task '%s' failed with %s (%s) and nobody retrieved it",
                   ax__task_name(t), ax_err_name(t->fut.status),
                   ax_strerror(t->fut.status));
    }
    ax__task_release(t);
    return 0;
}

void *ax_task_fail(int code)
{
    ax_task *t = ax__current();

    if (t && code < 0)
        t->fail_code = code;
#ifdef AX_DEBUG
    else
        ax__report(ax__tls_loop, "ax_task_fail(%d) ignored: %s", code,
                   t ? "code must be negative" : "not in a task");
#endif
    return NULL;
}

ax_task *ax_task_self(void) { return ax__current(); }

int ax_task_set_name(ax_task *t, const char *name)
{
    if (!t || !name)
        return AX_EINVAL;
    if (!AX__TASK_LIVE(t))
        return AX_ESRCH;
    /* Reports and the overflow handler read the name on the owner's
     * thread: a write from another one would race them. */
    if (t->loop != ax__tls_loop)
        return AX_EWRONGLOOP;
    snprintf(t->name, sizeof t->name, "%s", name);
    return 0;
}

const char *ax__task_name(ax_task *t)
{
    if (!t->name[0])
        snprintf(t->name, sizeof t->name, "task-%llu",
                 (unsigned long long)t->id);
    return t->name;
}

const char *ax_task_name(const ax_task *t)
{
    /* The default name is written on first use, so only the owner may. */
    if (!t || !AX__TASK_LIVE(t) || t->loop != ax__tls_loop)
        return "";
    return ax__task_name((ax_task *)t);
}

/* The id never changes after the spawn, so any thread may read it. */
uint64_t ax_task_id(const ax_task *t)
{
    return t && AX__TASK_LIVE(t) ? t->id : 0;
}

bool ax_task_done(const ax_task *t)
{
    return t && AX__TASK_LIVE(t) && t->loop == ax__tls_loop &&
           t->state == AX__T_DONE;
}

int ax_task_result(ax_task *t, void **result)
{
    if (!t)
        return AX_EINVAL;
    if (!AX__TASK_LIVE(t))
        return AX_ESRCH;
    if (t->loop != ax__tls_loop)
        return AX_EWRONGLOOP;
    if (t->state != AX__T_DONE)
        return AX_EPENDING;
    t->fut.retrieved = true;
    if (t->fut.status == 0 && result)
        *result = t->fut.value;
    return t->fut.status;
}

ax_future *ax_task_future(ax_task *t) { return t ? &t->fut : NULL; }

/* Cancellation is a request: wake the task if it is parked (its suspension
 * returns AX_ECANCELED and it cleans up its own registrations), else leave
 * it pending for the next suspension. */
int ax__task_cancel(ax_task *t)
{
    if (t->state == AX__T_DONE)
        return AX_EALREADY;
    t->ncancels++; /* every request counts, as Task.cancelling() does */
    /* A request not yet delivered is not repeated: asking twice before the
     * task runs must not cut into its clean-up afterwards. */
    if (t->cancel_pending ||
        (t->state == AX__T_READY && t->wake_status == AX_ECANCELED))
        return 0;
    t->cancel_req = true;
    if (t->state == AX__T_SUSPENDED && !t->shielded)
        ax__wake(t, AX_ECANCELED);
    else
        t->cancel_pending = true;
    return 0;
}

/* Wait for @f ignoring cancellation: used after passing a cancellation on,
 * to let the cancelled party finish. A cancellation that arrives meanwhile
 * stays pending for the caller's next suspension. */
int ax__wait_shielded(ax_task *t, ax_future *f)
{
    ax__waiter w = {.fire = ax__waiter_wake_task, .task = t};
    ax__waiter *wp = ax__waiter_for(t, &w);
    bool was = t->shielded;

    t->shielded = true;
    while (!f->done) {
        if (!wp) { /* no node to park with (out of memory): poll */
            ax_sleep_ns(1000000);
            continue;
        }
        ax__waiter_add(f, wp);
        f->nawait++;
        ax__suspend_shs(t, "finishing a cancelled await", f);
        f->nawait--;
        ax__waiter_remove(f, wp);
    }
    t->shielded = was;
    ax__waiter_done(wp, &w);
    return f->status;
}
