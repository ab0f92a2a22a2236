/* SPDX-License-Identifier: MIT */
/*
 * Timeout scopes, shield, cancellation counts, and loop callbacks.
 *
 * A scope is asyncio's Timeout on a stackful task: its deadline is a timer
 * in the loop's heap whose firing cancels the task like any ax_cancel(),
 * so every suspending call obeys it without knowing scopes exist, and the
 * suspension path pays nothing. What makes nesting right is the count of
 * cancellation requests (asyncio 3.11's cancelling()/uncancel()): a scope
 * remembers the count on entry and, leaving after its timer fired, takes
 * its own request back; only if no request is left above that mark was
 * the cancellation its own, and it becomes AX_ETIMEDOUT.
 *
 * Callbacks run in a phase of their own after the ready tasks (loop.c),
 * never from inside the timer heap walk: a callback may add or cancel
 * timers, and a timer that fires only moves its handle to that queue.
 */
#include "internal.h"
#include "axon.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>

#define SCOPE_OPEN 0xA7065C00u
#define SCOPE_LEFT 0xA7065D00u

/* What lives in the caller's ax_scope. The timer does not: it is the
 * task's (t->scope_timer, armed for the earliest deadline of its open
 * scopes), so a body that returns inside a scope leaves nothing in the
 * heap that points into its dead frame. */
typedef struct scope {
    uint32_t magic;
    bool fired;
    unsigned cancelling; /* the task's count when the scope was entered */
    ax_task *task;
    struct scope *parent;
    int64_t deadline;
} scope;

_Static_assert(sizeof(scope) <= sizeof(ax_scope),
               "AX_SCOPE_SIZE is too small for a scope");
_Static_assert(_Alignof(scope) <= _Alignof(ax_scope),
               "ax_scope is not aligned enough for a scope");

static scope *S(ax_scope *s) { return (scope *)(void *)s; }
static const scope *CS(const ax_scope *s)
{
    return (const scope *)(const void *)s;
}

/* Fire every open scope of @t whose deadline has passed (each one is a
 * cancellation request of its own, as each asyncio Timeout's is), then arm
 * the task's timer for the earliest deadline left. The timer heap cannot
 * fail to grow: every arming reserved its slot first. */
static void scopes_update(ax_task *t)
{
    ax_loop *L = t->loop;
    int64_t now = ax__now(L), next = AX_NO_DEADLINE;

    if (t->scope_timer)
        ax__timer_del(L, t->scope_timer);
    for (scope *sc = t->scopes; sc; sc = sc->parent) {
        if (sc->fired || sc->deadline == AX_NO_DEADLINE)
            continue;
        /* A deadline already past cancels now, not at the next timer
         * round: a task that only yields (ax_yield() with nobody else
         * ready comes straight back) would otherwise never see it, where
         * asyncio's call_soon(_on_timeout) runs before the next step. */
        if (sc->deadline <= now) {
            sc->fired = true;
            ax__task_cancel(t);
        } else if (next == AX_NO_DEADLINE || sc->deadline < next) {
            next = sc->deadline;
        }
    }
    if (next != AX_NO_DEADLINE) /* a deadline made the timer first */
        ax__timer_add(L, t->scope_timer, next);
}

static void scope_timer_fire(ax_loop *L, ax__timer *tm);

/* The task's scope timer, made when a scope first has a deadline. */
static int scope_timer_ready(ax_task *t)
{
    if (t->scope_timer)
        return 0;
    t->scope_timer = ax__calloc(1, sizeof *t->scope_timer);
    if (!t->scope_timer)
        return AX_ENOMEM;
    t->scope_timer->idx = AX__TIMER_IDLE;
    t->scope_timer->task = t;
    t->scope_timer->fire = scope_timer_fire;
    return 0;
}

static void scope_timer_fire(ax_loop *L, ax__timer *tm)
{
    (void)L;
    scopes_update(tm->task);
}

int ax_scope_enter_dl(ax_scope *s, int64_t deadline)
{
    ax_task *t = ax__current();
    scope *sc = S(s);

    if (!s || ax__dl_invalid(deadline))
        return AX_EINVAL;
    if (!t)
        return AX_ENOTTASK;
    /* The scope is the caller's storage, written by its deadline. */
    if (t->shstk)
        return AX_ENOTSUP;
    for (scope *o = t->scopes; o; o = o->parent)
        if (o == sc)
            return AX_EBUSY;
    if (deadline != AX_NO_DEADLINE &&
        (scope_timer_ready(t) || ax__timer_reserve(t->loop)))
        return AX_ENOMEM;
    sc->fired = false;
    sc->cancelling = t->ncancels;
    sc->task = t;
    sc->deadline = deadline;
    sc->parent = t->scopes;
    t->scopes = sc;
    sc->magic = SCOPE_OPEN;
    if (deadline != AX_NO_DEADLINE)
        scopes_update(t);
    return 0;
}

int ax_scope_enter(ax_scope *s, double seconds)
{
    ax_task *t = ax__current();
    int64_t dl;
    int rc;

    if (!s || isnan(seconds))
        return AX_EINVAL;
    if (!t)
        return AX_ENOTTASK;
    if (isinf(seconds) && seconds > 0)
        return ax_scope_enter_dl(s, AX_NO_DEADLINE);
    if (seconds < 0) {
        /* In the past, as asyncio.timeout(-11) is: clamped to the clock's
         * start, since negative deadlines mean something else here. */
        int64_t ns;
        rc = ax__seconds_to_ns(-seconds, &ns);
        dl = ax__now(t->loop);
        dl = rc || ns > dl ? 0 : dl - ns;
        return ax_scope_enter_dl(s, dl);
    }
    rc = ax__timeout_to_dl(t->loop, seconds, false, &dl);
    return rc ? rc : ax_scope_enter_dl(s, dl);
}

static void scope_close(scope *sc)
{
    ax_task *t = sc->task;

    t->scopes = sc->parent;
    sc->magic = SCOPE_LEFT;
    if (t->scope_timer && t->scope_timer->idx != AX__TIMER_IDLE)
        scopes_update(t);
}

static unsigned uncancel(ax_task *t)
{
    if (t->ncancels)
        t->ncancels--;
    /* Nobody wants the task cancelled any more: a request that was not
     * delivered yet goes, and the task will not end as cancelled. */
    if (!t->ncancels) {
        t->cancel_pending = false;
        t->cancel_req = false;
    }
    return t->ncancels;
}

int ax_scope_exit(ax_scope *s, int rc)
{
    scope *sc = S(s);
    ax_task *t = ax__current();

    if (!s)
        return AX_EINVAL;
    if (sc->magic != SCOPE_OPEN)
        return AX_ESRCH;
    if (sc->task != t)
        return AX_EPERM;
    if (t->scopes != sc)
        return AX_EBUSY;
    /* Decided before the timer moves on to the outer scopes, which may
     * fire as it does. */
    if (sc->fired && uncancel(t) <= sc->cancelling && rc == AX_ECANCELED)
        rc = AX_ETIMEDOUT;
    scope_close(sc);
    return rc;
}

int ax_scope_reschedule(ax_scope *s, int64_t deadline)
{
    scope *sc = S(s);

    if (!s || ax__dl_invalid(deadline))
        return AX_EINVAL;
    if (sc->magic != SCOPE_OPEN)
        return AX_ESRCH;
    if (sc->task->loop != ax__tls_loop)
        return AX_EWRONGLOOP;
    if (sc->fired)
        return AX_EALREADY;
    if (deadline != AX_NO_DEADLINE &&
        (scope_timer_ready(sc->task) || ax__timer_reserve(sc->task->loop)))
        return AX_ENOMEM;
    sc->deadline = deadline;
    scopes_update(sc->task);
    return 0;
}

bool ax_scope_expired(const ax_scope *s)
{
    const scope *sc = CS(s);

    return s && (sc->magic == SCOPE_OPEN || sc->magic == SCOPE_LEFT) &&
           sc->fired;
}

int64_t ax_scope_deadline(const ax_scope *s)
{
    const scope *sc = CS(s);

    if (!s || (sc->magic != SCOPE_OPEN && sc->magic != SCOPE_LEFT))
        return AX_NO_DEADLINE;
    return sc->deadline;
}

/* The task's function returned inside scopes: their storage went with its
 * frame, so it is not read; the task's timer is all there is to undo. */
void ax__scope_task_ended(ax_task *t)
{
    ax__report(t->loop, "task '%s' ended inside a timeout scope",
               ax__task_name(t));
    if (t->scope_timer)
        ax__timer_del(t->loop, t->scope_timer);
    t->scopes = NULL;
}

/* ---- shield, cancelling, uncancel ---------------------------------------- */

int ax_shield(ax_future *f, void **result)
{
    ax_task *t = ax__current();
    ax_task *ft;
    int rc = 0;

    if (!f)
        return AX_EINVAL;
    if (!AX__FUTURE_LIVE(f))
        return AX_ESRCH;
    if (!t)
        return AX_ENOTTASK;
    if (f->loop != t->loop) {
        /* The owner checks the handle (ESRCH, EBUSY) when the request
         * arrives: its fields are not ours to read from here. */
        if (!ax__same_runtime(f->loop, t->loop))
            return AX_EWRONGLOOP;
        return ax__shield_remote(t, f, result);
    }
    if (f->freed)
        return AX_ESRCH;
    ft = f->kind == AX__FUT_TASK ? (ax_task *)f : NULL;
    if (ft) {
        if (ft == t)
            return AX_EDEADLK;
        if (!ft->has_handle)
            return AX_ESRCH;
        if (ft->owned || ft->has_awaiter)
            return AX_EBUSY;
    }
    if (!f->done) {
        ax__waiter w = {.fire = ax__waiter_wake_task, .task = t};
        ax__waiter_add(f, &w);
        f->nawait++;
        if (ft)
            ft->has_awaiter = true;
        while (!f->done && !rc)
            rc = ax__suspend(t, "shielded await", f);
        if (ft)
            ft->has_awaiter = false;
        f->nawait--;
        ax__waiter_remove(f, &w);
        if (!f->done)
            return rc; /* f carries on, and the handle stays the caller's */
        if (rc == AX_ECANCELED) /* done in the same instant: keep both */
            t->cancel_pending = true;
    }
    return ax__await(t, f, AX_NO_DEADLINE, result);
}

static int task_check(const ax_task *t)
{
    if (!t)
        return AX_EINVAL;
    if (!AX__TASK_LIVE(t))
        return AX_ESRCH;
    if (t->loop != ax__tls_loop)
        return AX_EWRONGLOOP;
    return 0;
}

int ax_task_uncancel(ax_task *t)
{
    int rc = task_check(t);

    return rc ? rc : (int)uncancel(t);
}

int ax_task_cancelling(const ax_task *t)
{
    int rc = task_check(t);

    return rc ? rc : (int)t->ncancels;
}

/* ---- callbacks ------------------------------------------------------------ */

enum { H_TIMED, H_DUE, H_RAN, H_CANCELLED };

struct ax_handle {
    ax_loop *loop; /* first: see ax__pooled */
    ax_handle *next; /* in the due queue */
    ax__timer timer;
    ax_callback_fn fn;
    void *arg;
    ax_handle *lprev, *lnext; /* L->cb.all */
    uint32_t magic;
    uint8_t state;
    bool owned; /* the caller holds the handle */
};

_Static_assert(offsetof(ax_handle, magic) >= sizeof(ax__pooled) &&
                   offsetof(ax_handle, loop) == offsetof(ax__pooled, loop),
               "the quarantine link would overwrite the handle's checks");

static void handle_free(ax_loop *L, ax_handle *h)
{
    if (h->lprev)
        h->lprev->lnext = h->lnext;
    else
        L->cb.all = h->lnext;
    if (h->lnext)
        h->lnext->lprev = h->lprev;
    ax__pool_put(&L->pools.handle, h, sizeof *h, &h->magic);
}

static void make_due(ax_loop *L, ax_handle *h)
{
    h->state = H_DUE;
    h->next = NULL;
    if (L->cb.tail)
        L->cb.tail->next = h;
    else
        L->cb.head = h;
    L->cb.tail = h;
}

static void handle_fire(ax_loop *L, ax__timer *tm)
{
    make_due(L, (ax_handle *)(void *)((char *)tm -
                                      offsetof(ax_handle, timer)));
}

static int schedule(ax_loop *L, int64_t deadline, ax_callback_fn fn,
                    void *arg, ax_handle **out)
{
    ax_handle *h;

    if (deadline != AX_NO_DEADLINE && ax__timer_reserve(L))
        return AX_ENOMEM;
    h = ax__pool_get(&L->pools.handle, sizeof *h);
    if (!h)
        return AX_ENOMEM;
    h->loop = L;
    h->fn = fn;
    h->arg = arg;
    h->owned = out != NULL;
    h->timer.idx = AX__TIMER_IDLE;
    h->timer.fire = handle_fire;
    h->lnext = L->cb.all;
    if (L->cb.all)
        L->cb.all->lprev = h;
    L->cb.all = h;
    ax__set_magic(&h->magic, AX__MAGIC_HANDLE);
    if (deadline == AX_NO_DEADLINE) {
        make_due(L, h);
    } else {
        h->state = H_TIMED;
        ax__timer_add(L, &h->timer, deadline);
    }
    if (out)
        *out = h;
    return 0;
}

int ax_call_soon(ax_loop *loop, ax_callback_fn fn, void *arg,
                 ax_handle **out)
{
    ax_loop *L = ax__tls_loop;

    if (!fn)
        return AX_EINVAL;
    if (!L)
        return AX_EPERM;
    if (loop && loop != L) {
        /* asyncio's call_soon_threadsafe: the other loop's inbox keeps
         * the callers' order. A handle would be cancelled from here
         * while that loop runs it: not offered across loops. */
        if (out || !ax__same_runtime(loop, L))
            return AX_EWRONGLOOP;
        return ax_loop_post(loop, fn, arg);
    }
    return schedule(L, AX_NO_DEADLINE, fn, arg, out);
}

int ax_call_at(int64_t deadline, ax_callback_fn fn, void *arg,
               ax_handle **out)
{
    ax_loop *L = ax__tls_loop;

    if (!fn || deadline < 0)
        return AX_EINVAL;
    if (!L)
        return AX_EPERM;
    return schedule(L, deadline, fn, arg, out);
}

int ax_call_later(double seconds, ax_callback_fn fn, void *arg,
                  ax_handle **out)
{
    ax_loop *L = ax__tls_loop;
    int64_t dl;
    int rc;

    if (!fn)
        return AX_EINVAL;
    if (!L)
        return AX_EPERM;
    rc = ax__timeout_to_dl(L, seconds, false, &dl);
    return rc ? rc : schedule(L, dl, fn, arg, out);
}

static int handle_check(const ax_handle *h)
{
    if (!h)
        return AX_EINVAL;
    if (ax__magic(&h->magic) != AX__MAGIC_HANDLE || !h->owned)
        return AX_ESRCH;
    if (h->loop != ax__tls_loop)
        return AX_EWRONGLOOP;
    return 0;
}

int ax_handle_cancel(ax_handle *h)
{
    int rc = handle_check(h);

    if (rc)
        return rc;
    if (h->state == H_RAN || h->state == H_CANCELLED)
        return AX_EALREADY;
    /* A due handle stays in the queue; the run phase skips it. */
    if (h->state == H_TIMED)
        ax__timer_del(h->loop, &h->timer);
    h->state = H_CANCELLED;
    return 0;
}

bool ax_handle_ran(const ax_handle *h)
{
    return !handle_check(h) && h->state == H_RAN;
}

int ax_handle_free(ax_handle *h)
{
    int rc = handle_check(h);

    if (rc)
        return rc;
    h->owned = false;
    if (h->state == H_DUE) {
        /* Still linked in the due queue: the run phase frees it. */
        h->state = H_CANCELLED;
        return 0;
    }
    if (h->state == H_TIMED)
        ax__timer_del(h->loop, &h->timer);
    handle_free(h->loop, h);
    return 0;
}

/* The loop's callback phase: what is due now runs; what these callbacks
 * schedule runs in the next round, so a callback that keeps rescheduling
 * itself cannot starve the tasks. */
void ax__handles_run(ax_loop *L)
{
    ax_handle *h = L->cb.head, *next;

    L->cb.head = L->cb.tail = NULL;
    for (; h; h = next) {
        next = h->next;
        if (h->state == H_CANCELLED) {
            if (!h->owned)
                handle_free(L, h);
            continue;
        }
        h->state = H_RAN;
        if (h->owned) {
            h->fn(h->arg); /* which may free h */
        } else {
            h->fn(h->arg);
            handle_free(L, h);
        }
    }
}

/* At the end of the loop: pending callbacks are dropped; handles their
 * callers never freed are counted for the report. */
size_t ax__handles_term(ax_loop *L)
{
    size_t n = 0;

    while (L->cb.all) {
        ax_handle *h = L->cb.all;
        if (h->owned)
            n++;
        ax__timer_del(L, &h->timer);
        handle_free(L, h);
    }
    L->cb.head = L->cb.tail = NULL;
    return n;
}
