/* SPDX-License-Identifier: MIT */
/*
 * Futures and awaiting.
 *
 * A future keeps an intrusive doubly-linked list of waiters, so that an
 * awaiting task can register with a node on its own stack (no allocation)
 * and take it back out in O(1) when it is cancelled or times out.
 */
#include "internal.h"
#include "axon.h"

#include <stdlib.h>

static void future_destroy(ax_future *f);

void ax__future_init(ax_future *f, ax_loop *L, uint8_t kind)
{
    ax__set_magic(&f->magic, AX__MAGIC_LIVE | kind);
    f->loop = L;
    f->kind = kind;
}

void ax__future_track(ax_loop *L, ax_future *f)
{
    f->lprev = NULL;
    f->lnext = L->futures;
    if (L->futures)
        L->futures->lprev = f;
    L->futures = f;
    L->st.futures_live++;
}

void ax__future_untrack(ax_loop *L, ax_future *f)
{
    if (f->lprev)
        f->lprev->lnext = f->lnext;
    else
        L->futures = f->lnext;
    if (f->lnext)
        f->lnext->lprev = f->lprev;
    L->st.futures_live--;
}

void ax__waiter_add(ax_future *f, ax__waiter *w)
{
    w->next = NULL;
    w->prev = f->tail;
    if (f->tail)
        f->tail->next = w;
    else
        f->head = w;
    f->tail = w;
    w->linked = true;
}

void ax__waiter_remove(ax_future *f, ax__waiter *w)
{
    if (!w->linked)
        return;
    if (w->prev)
        w->prev->next = w->next;
    else
        f->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        f->tail = w->prev;
    w->linked = false;
}

void ax__waiter_wake_task(ax__waiter *w, ax_future *f)
{
    (void)f;
    ax__wake(w->task, 0);
}

/* The list is detached and every node unlinked before the first callback
 * runs, so a callback may free the future or register elsewhere without
 * breaking this walk. */
void ax__future_complete(ax_future *f, int status, void *value)
{
    ax__waiter *w = f->head, *next;

    f->done = true;
    f->status = status;
    f->value = value;
    f->head = f->tail = NULL;
    for (next = w; next; next = next->next)
        next->linked = false;
    f->completing = true;
    while (w) {
        next = w->next;
        w->fire(w, f);
        w = next;
    }
    f->completing = false;
    if (f->free_deferred)
        future_destroy(f);
}

int ax_future_new(ax_future **out)
{
    ax_loop *L = ax__tls_loop;
    ax_future *f;

    if (!out)
        return AX_EINVAL;
    if (!L)
        return AX_EPERM;
    f = ax__pool_get(&L->pools.future, sizeof *f);
    if (!f)
        return AX_ENOMEM;
    ax__future_init(f, L, AX__FUT_PLAIN);
    ax__future_track(L, f);
    *out = f;
    return 0;
}

typedef struct cb_node {
    ax__waiter w;
    ax_done_fn cb;
    void *arg;
} cb_node;

/* A done callback, inline in whatever task completed @f: counted in
 * L->in_done_cb, so that an eager spawn there does not suspend that task. */
static void run_done_cb(ax_future *f, ax_done_fn cb, void *arg)
{
    ax_loop *L = f->loop; /* cb may free f */

    L->in_done_cb++;
    cb(f, arg);
    L->in_done_cb--;
}

static void cb_fire(ax__waiter *w, ax_future *f)
{
    cb_node *n = (cb_node *)w;
    ax_done_fn cb = n->cb;
    void *arg = n->arg;

    ax__free(n);
    run_done_cb(f, cb, arg);
}

static void future_destroy(ax_future *f)
{
    if (f->on_free)
        f->on_free(f, f->on_free_arg);
    if (f->kind == AX__FUT_GATHER) {
        ax__gather_free(f);
        return;
    }
    ax__future_untrack(f->loop, f);
    ax__pool_put(&f->loop->pools.future, f, sizeof *f, &f->magic);
}

int ax_future_free(ax_future *f)
{
    ax__waiter *w;

    if (!f)
        return AX_EINVAL;
    /* A free that had to wait (completing, or a gather's children still
     * ending) leaves the struct live a while: a second free is as stale
     * as one after the struct went back to the pool. */
    if (!AX__FUTURE_LIVE(f) || f->freed)
        return AX_ESRCH;
    if (f->loop != ax__tls_loop)
        return AX_EWRONGLOOP;
    if (f->kind == AX__FUT_TASK)
        return AX_EINVAL;
    if (f->nawait)
        return AX_EBUSY;
    for (w = f->head; w; w = w->next)
        if (w->fire != cb_fire)
            return AX_EBUSY;
    while ((w = f->head)) {
        ax__waiter_remove(f, w);
        ax__free(w);
    }
    /* A done callback freeing its future while later waiters are still to
     * be told: the free happens when the last of them has been. */
    f->freed = true;
    if (f->completing) {
        f->free_deferred = true;
        return 0;
    }
    future_destroy(f);
    return 0;
}

/* Completion from a thread that does not own the future goes through the
 * owner's inbox; the first completion to arrive there wins. */
static bool foreign(const ax_future *f)
{
    ax_loop *L = ax__tls_loop;

    return f->loop != L;
}

/* Freed, or freed by its owner and only waiting for its children or its
 * callbacks to let go. The second half is the owner's to read: from
 * another loop the owner checks it again when the request arrives. */
static bool gone(const ax_future *f)
{
    return !AX__FUTURE_LIVE(f) || (!foreign(f) && f->freed);
}

int ax_future_set_result(ax_future *f, void *value)
{
    if (!f)
        return AX_EINVAL;
    if (gone(f))
        return AX_ESRCH;
    if (f->kind == AX__FUT_TASK)
        return AX_EINVAL;
    if (foreign(f))
        return ax__remote_complete(f, 0, value);
    if (f->done)
        return AX_EALREADY;
    ax__future_complete(f, 0, value);
    return 0;
}

int ax_future_set_error(ax_future *f, int code)
{
    if (!f || code >= 0)
        return AX_EINVAL;
    if (gone(f))
        return AX_ESRCH;
    if (f->kind == AX__FUT_TASK)
        return AX_EINVAL;
    if (foreign(f))
        return ax__remote_complete(f, code, NULL);
    if (f->done)
        return AX_EALREADY;
    ax__future_complete(f, code, NULL);
    return 0;
}

/* From another loop the flag would be read while its owner writes it. */
bool ax_future_done(const ax_future *f)
{
    return f && !gone(f) && !foreign(f) && f->done;
}

int ax_future_result(const ax_future *f, void **value)
{
    if (!f)
        return AX_EINVAL;
    if (gone(f))
        return AX_ESRCH;
    if (foreign(f))
        return AX_EWRONGLOOP;
    if (!f->done)
        return AX_EPENDING;
    ((ax_future *)f)->retrieved = true;
    if (f->status == 0 && value)
        *value = f->value;
    return f->status;
}

int ax_future_on_done(ax_future *f, ax_done_fn cb, void *arg)
{
    cb_node *n;

    if (!f || !cb)
        return AX_EINVAL;
    if (gone(f))
        return AX_ESRCH;
    if (foreign(f))
        return AX_EWRONGLOOP;
    if (f->done) {
        run_done_cb(f, cb, arg);
        return 0;
    }
    n = ax__calloc(1, sizeof *n);
    if (!n)
        return AX_ENOMEM;
    n->w.fire = cb_fire;
    n->cb = cb;
    n->arg = arg;
    ax__waiter_add(f, &n->w);
    return 0;
}

int ax_cancel_future(ax_future *f)
{
    if (!f)
        return AX_EINVAL;
    if (gone(f))
        return AX_ESRCH;
    if (foreign(f))
        return ax__remote_cancel(f);
    if (f->done)
        return AX_EALREADY;
    switch (f->kind) {
    case AX__FUT_TASK:
        return ax__task_cancel((ax_task *)f);
    case AX__FUT_GATHER:
        return ax__gather_cancel(f);
    default:
        ax__future_complete(f, AX_ECANCELED, NULL);
        return 0;
    }
}

/* Tasks and gathers are cancelled with their awaiter and on timeout, and
 * then waited for, as asyncio does; a plain future may have other
 * awaiters, so it is left alone. */
static bool propagates(const ax_future *f)
{
    return f->kind != AX__FUT_PLAIN;
}

int ax__await(ax_task *t, ax_future *f, int64_t deadline, void **result)
{
    ax_task *ft = f->kind == AX__FUT_TASK ? (ax_task *)f : NULL;
    ax_loop *L = t->loop;
    int rc = 0, status;

    if (f->loop != L)
        return ax__await_remote(t, f, deadline, result);
    if (ft) {
        if (ft == t)
            return AX_EDEADLK;
        /* Awaited or detached: the handle was given up (and the struct
         * lives on only because the task has not ended yet). */
        if (!ft->has_handle)
            return AX_ESRCH;
        if (ft->owned || ft->has_awaiter)
            return AX_EBUSY;
        ft->has_awaiter = true;
    }
    if (!f->done && ax__dl_passed(L, deadline)) {
        rc = AX_ETIMEDOUT;
    } else if (!f->done) {
        ax__waiter w = {.fire = ax__waiter_wake_task, .task = t};
        ax__waiter *wp = ax__waiter_for(t, &w);
        if (!wp) {
            if (ft)
                ft->has_awaiter = false;
            return AX_ENOMEM;
        }
        ax__waiter_add(f, wp);
        if (deadline != AX_NO_DEADLINE) {
            t->timer.status = AX_ETIMEDOUT;
            ax__timer_add(L, &t->timer, deadline);
        }
        f->nawait++;
        rc = ax__suspend_shs(t, "awaiting", f);
        f->nawait--;
        ax__timer_del(L, &t->timer);
        ax__waiter_remove(f, wp);
        ax__waiter_done(wp, &w);
        if (rc && f->done) {
            /* Completed in the same instant as the timeout or the cancel:
             * take the result; a cancellation stays pending. */
            if (rc == AX_ECANCELED)
                t->cancel_pending = true;
            rc = 0;
        }
    }
    if (rc && propagates(f)) {
        ax_cancel_future(f);
        ax__wait_shielded(t, f);
    }
    if (ft)
        ft->has_awaiter = false;
    if (rc && !(ft || propagates(f)))
        return rc;
    status = f->status;
    if (!rc && status == 0 && result)
        *result = f->value;
    f->retrieved = true;
    if (ft)
        ax__task_release(ft); /* f is gone from here on */
    return rc ? rc : status;
}

int ax_await_future(ax_future *f, void **result)
{
    ax_task *t = ax__current();

    if (!f)
        return AX_EINVAL;
    if (gone(f))
        return AX_ESRCH;
    if (!t)
        return AX_ENOTTASK;
    return ax__await(t, f, AX_NO_DEADLINE, result);
}

int ax_await_future_dl(ax_future *f, int64_t deadline, void **result)
{
    ax_task *t = ax__current();

    if (!f || ax__dl_invalid(deadline))
        return AX_EINVAL;
    if (!t)
        return AX_ENOTTASK;
    return ax__await(t, f, deadline, result);
}

int ax_await_timeout_future(ax_future *f, double seconds, void **result)
{
    ax_task *t = ax__current();
    int64_t dl;
    int rc;

    if (!f)
        return AX_EINVAL;
    if (gone(f))
        return AX_ESRCH;
    if (!t)
        return AX_ENOTTASK;
    rc = ax__timeout_to_dl(t->loop, seconds, false, &dl);
    return rc ? rc : ax__await(t, f, dl, result);
}
