/* SPDX-License-Identifier: MIT */
/*
 * gather, wait_any and task groups.
 *
 * A gather is a future with one waiter node per child. Children report in
 * through those nodes; nothing polls. In fail-fast mode the first failure
 * cancels the other children, and the gather completes when the last child
 * has ended, so that when ax_gather() returns no child is still running.
 */
#include "internal.h"
#include "axon.h"
#include "axon/gather.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct gather gather;

typedef struct gchild {
    ax__waiter w;
    /* For a child on another loop, in g->px: a proxy is 200 bytes, and a
     * gather of 100,000 local children would carry 20 MB of them. */
    ax__proxy *proxy;
    gather *g;
    ax_future *f;   /* not touched once done: its owner may free it */
    bool is_task;
    bool remote;
    bool done;
    bool cancelled; /* this gather already passed a cancel on */
} gchild;

struct gather {
    ax_future fut; /* first: a gather is a future */
    gchild *ch;
    ax__proxy *px; /* the remote children's proxies */
    size_t n, remaining;
    void **results;
    int *errors;
    int flags;
    int err;        /* the gather's status so far */
    size_t err_idx; /* collect mode: argument index of err */
    bool cancelled;
    bool free_when_done;
    size_t ops_pending; /* cross-loop cancels not yet acknowledged */
};

static void gather_destroy(gather *g)
{
    if (g->ops_pending) {
        /* Owners still hold pointers into g; the last ack frees it. */
        g->free_when_done = true;
        return;
    }
    for (size_t i = 0; i < g->n; i++) {
        ax_future *f = g->ch[i].f;
        if (g->ch[i].remote)
            continue; /* its handle was consumed on its own loop */
        ax__waiter_remove(f, &g->ch[i].w);
        if (g->ch[i].is_task)
            ax__task_release((ax_task *)f);
    }
    ax__future_untrack(g->fut.loop, &g->fut);
    ax__free(g->ch);
    ax__free(g->px);
    ax__pool_put(&g->fut.loop->pools.gather, g, sizeof *g, &g->fut.magic);
}

static void gather_cancel_children(gather *g)
{
    for (size_t i = 0; i < g->n; i++)
        if (!g->ch[i].done && !g->ch[i].cancelled) {
            g->ch[i].cancelled = true;
            if (g->ch[i].remote) {
                g->ops_pending++;
                ax__proxy_op(g->ch[i].proxy, true);
            } else {
                ax_cancel_future(g->ch[i].f);
            }
        }
}

static void gather_finish(gather *g)
{
    int status = g->cancelled ? AX_ECANCELED : g->err;

    ax__future_complete(&g->fut, status, status ? NULL : (void *)g->results);
    if (g->free_when_done)
        gather_destroy(g);
}

static void child_done(gather *g, size_t i, int status, void *value)
{
    g->ch[i].done = true;
    if (g->results && status == 0)
        g->results[i] = value;
    if (g->errors)
        g->errors[i] = status;
    if (status) {
        if (g->flags == AX_GATHER_COLLECT) {
            if (!g->err || i < g->err_idx) {
                g->err = status;
                g->err_idx = i;
            }
        } else if (!g->err) {
            g->err = status;
            gather_cancel_children(g);
        }
    }
    if (--g->remaining == 0)
        gather_finish(g);
}

static void child_fire(ax__waiter *w, ax_future *f)
{
    gchild *c = (gchild *)w;

    f->retrieved = true;
    child_done(c->g, (size_t)(c - c->g->ch), f->status, f->value);
}

/* A remote child's result, or the acknowledgement of a cancel sent to it,
 * arrived home. */
static void child_home(ax__proxy *p)
{
    gchild *c = p->ctx;
    gather *g = c->g;

    if (p->back && !c->done) {
        child_done(g, (size_t)(c - g->ch), p->status, p->value);
        return;
    }
    if (p->acked && p->op_sent) {
        p->op_sent = false; /* count each ack once */
        if (--g->ops_pending == 0 && g->free_when_done && g->fut.done)
            gather_destroy(g);
    }
}

int ax_gather_start(ax_future **out, ax_future *const *futs, size_t n,
                    void **results, int *errors, int flags)
{
    ax_loop *L = ax__tls_loop;
    gather *g;
    size_t i;
    int rc = 0;

    if (!out || (n && !futs) ||
        (flags != AX_GATHER_FAIL_FAST && flags != AX_GATHER_COLLECT))
        return AX_EINVAL;
    if (!L)
        return AX_EPERM;
    /* Validate everything before taking anything, marking as we go so a
     * duplicate is found in O(n). */
    for (i = 0; i < n && !rc; i++) {
        ax_future *f = futs[i];
        if (!f)
            rc = AX_EINVAL;
        else if (!AX__FUTURE_LIVE(f) || (f->loop == L && f->freed))
            rc = AX_ESRCH;
        else if (f->loop != L)
            rc = f->loop->rt == L->rt ? 0 : AX_EWRONGLOOP;
        else if (f->mark)
            rc = AX_EINVAL;
        else if (f->kind == AX__FUT_TASK && !((ax_task *)f)->has_handle)
            rc = AX_ESRCH; /* awaited or detached already */
        else if (f->kind == AX__FUT_TASK &&
                 (((ax_task *)f)->owned || ((ax_task *)f)->has_awaiter))
            rc = AX_EBUSY;
        else
            f->mark = true;
    }
    for (size_t j = 0; j < i; j++)
        if (futs[j] && AX__FUTURE_LIVE(futs[j]) && futs[j]->loop == L)
            futs[j]->mark = false;
    if (rc)
        return rc;

    size_t nremote = 0;
    for (i = 0; i < n; i++)
        nremote += futs[i]->loop != L;
    g = ax__pool_get(&L->pools.gather, sizeof *g);
    if (!g)
        return AX_ENOMEM;
    g->ch = n ? ax__calloc(n, sizeof *g->ch) : NULL;
    g->px = nremote ? ax__calloc(nremote, sizeof *g->px) : NULL;
    if ((n && !g->ch) || (nremote && !g->px)) {
        ax__free(g->ch);
        ax__free(g->px);
        ax__pool_put(&L->pools.gather, g, sizeof *g, &g->fut.magic);
        return AX_ENOMEM;
    }
    ax__future_init(&g->fut, L, AX__FUT_GATHER);
    ax__future_track(L, &g->fut);
    g->n = g->remaining = n;
    g->results = results;
    g->errors = errors;
    g->flags = flags;
    nremote = 0;
    for (i = 0; i < n; i++) {
        g->ch[i].g = g;
        g->ch[i].f = futs[i];
        g->ch[i].w.fire = child_fire;
        g->ch[i].is_task = futs[i]->kind == AX__FUT_TASK;
        g->ch[i].remote = futs[i]->loop != L;
        if (g->ch[i].remote)
            g->ch[i].proxy = &g->px[nremote++];
        if (g->ch[i].is_task && !g->ch[i].remote)
            ((ax_task *)futs[i])->owned = true;
    }
    /* Register every pending child before handling the done ones, so a
     * fail-fast cancel triggered by a done child reaches all the rest. */
    for (i = 0; i < n; i++) {
        if (g->ch[i].remote) {
            ax__proxy_start(g->ch[i].proxy, futs[i], g->ch[i].is_task,
                            child_home);
            g->ch[i].proxy->ctx = &g->ch[i];
        } else if (!futs[i]->done) {
            ax__waiter_add(futs[i], &g->ch[i].w);
        }
    }
    *out = &g->fut;
    if (n == 0) {
        gather_finish(g);
        return 0;
    }
    for (i = 0; i < n; i++)
        if (!g->ch[i].remote && futs[i]->done) {
            futs[i]->retrieved = true;
            child_done(g, i, futs[i]->status, futs[i]->value);
        }
    return 0;
}

int ax__gather_cancel(ax_future *f)
{
    gather *g = (gather *)f;

    g->cancelled = true;
    gather_cancel_children(g);
    return 0;
}

void ax__gather_free(ax_future *f)
{
    gather *g = (gather *)f;

    if (f->done) {
        gather_destroy(g);
        return;
    }
    g->free_when_done = true;
    ax__gather_cancel(f);
}

/* A shared-stack task's stack is copied away while it waits, so the
 * children's results cannot be written into its arrays as they end: they
 * go to heap arrays, copied over once it runs again. The arrays are
 * written as far as the children got, as on an own stack. */
static int gather_wait_shs(ax_task *t, ax_future *const *futs, size_t n,
                           void **results, int *errors, int flags)
{
    void **res = NULL;
    int *err = NULL;
    ax_future *g;
    int rc;

    if (results) {
        if (!(res = ax__calloc(n, sizeof *res)))
            return AX_ENOMEM;
        memcpy(res, results, n * sizeof *res);
    }
    if (errors) {
        if (!(err = ax__calloc(n, sizeof *err))) {
            ax__free(res);
            return AX_ENOMEM;
        }
        memcpy(err, errors, n * sizeof *err);
    }
    rc = ax_gather_start(&g, futs, n, res, err, flags);
    if (!rc) {
        rc = ax__await(t, g, -1, NULL);
        ax_future_free(g);
        if (res)
            memcpy(results, res, n * sizeof *res);
        if (err)
            memcpy(errors, err, n * sizeof *err);
    }
    ax__free(res);
    ax__free(err);
    return rc;
}

static int gather_wait(ax_future *const *futs, size_t n, void **results,
                       int *errors, int flags)
{
    ax_task *t = ax__current();
    ax_future *g;
    int rc;

    if (!t)
        return AX_ENOTTASK;
    if (AX__UNLIKELY(t->shstk) && n && (results || errors))
        return gather_wait_shs(t, futs, n, results, errors, flags);
    rc = ax_gather_start(&g, futs, n, results, errors, flags);
    if (rc)
        return rc;
    rc = ax__await(t, g, -1, NULL);
    ax_future_free(g);
    return rc;
}

int ax_gather(ax_future *const *futs, size_t n, void **results)
{
    return gather_wait(futs, n, results, NULL, AX_GATHER_FAIL_FAST);
}

int ax_gather_all(ax_future *const *futs, size_t n, void **results,
                  int *errors)
{
    return gather_wait(futs, n, results, errors, AX_GATHER_COLLECT);
}

/* ---- wait_any ----------------------------------------------------------- */

static bool first_done(ax_future *const *futs, size_t n, size_t *index)
{
    for (size_t i = 0; i < n; i++)
        if (futs[i]->done) {
            *index = i;
            return true;
        }
    return false;
}

int ax_wait_any(ax_future *const *futs, size_t n, double timeout,
                size_t *index)
{
    ax_task *t = ax__current();
    int64_t dl;
    int rc;

    if (isnan(timeout))
        return AX_EINVAL;
    if (!t) /* the argument checks come first, in ax_wait_any_dl() */
        return ax_wait_any_dl(futs, n, AX_NO_DEADLINE, index);
    rc = ax__timeout_to_dl(t->loop, timeout, true, &dl);
    return rc ? rc : ax_wait_any_dl(futs, n, dl, index);
}

int ax_wait_any_dl(ax_future *const *futs, size_t n, int64_t deadline,
                   size_t *index)
{
    ax_task *t = ax__current();
    ax__waiter small[8], *w;
    ax_loop *L;
    int rc;

    if (!futs || !n || !index || ax__dl_invalid(deadline))
        return AX_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!futs[i])
            return AX_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!AX__FUTURE_LIVE(futs[i]) ||
            (futs[i]->loop == ax__tls_loop && futs[i]->freed))
            return AX_ESRCH;
    if (!t)
        return AX_ENOTTASK;
    L = t->loop;
    for (size_t i = 0; i < n; i++)
        if (futs[i]->loop != L && futs[i]->loop->rt != L->rt)
            return AX_EWRONGLOOP;
    for (size_t i = 0; i < n; i++)
        if (futs[i]->loop != L)
            return t->shstk ? AX_ENOTSUP
                            : ax__wait_any_remote(t, futs, n, deadline, index);
    if (first_done(futs, n, index))
        return 0;
    if (ax__dl_passed(L, deadline))
        return AX_ETIMEDOUT;
    /* A shared-stack task's stack is copied away while it waits. */
    w = n <= 8 && !t->shstk ? small : ax__calloc(n, sizeof *w);
    if (!w)
        return AX_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        w[i] = (ax__waiter){.fire = ax__waiter_wake_task, .task = t};
        ax__waiter_add(futs[i], &w[i]);
    }
    if (deadline != AX_NO_DEADLINE) {
        t->timer.status = AX_ETIMEDOUT;
        ax__timer_add(L, &t->timer, deadline);
    }
    for (size_t i = 0; i < n; i++)
        futs[i]->nawait++;
    rc = ax__suspend_shs(t, "waiting for any", futs[0]);
    for (size_t i = 0; i < n; i++)
        futs[i]->nawait--;
    ax__timer_del(L, &t->timer);
    for (size_t i = 0; i < n; i++)
        ax__waiter_remove(futs[i], &w[i]);
    if (w != small)
        ax__free(w);
    if (first_done(futs, n, index)) {
        if (rc == AX_ECANCELED)
            t->cancel_pending = true;
        return 0;
    }
    return rc ? rc : AX_ECANCELED;
}

/* ---- task groups -------------------------------------------------------- */

static void group_child_fire(ax__waiter *w, ax_future *f)
{
    ax_group *g = (ax_group *)w->task; /* the node's task slot holds g */

    if (f->status && f->status != AX_ECANCELED && !g->first_err) {
        g->first_err = f->status;
        for (size_t i = 0; i < g->n; i++)
            if (!g->tasks[i]->fut.done)
                ax__task_cancel(g->tasks[i]);
    }
    f->retrieved = true;
    if (--g->remaining == 0 && g->waiting)
        ax__wake(g->owner, 0);
}

int ax_group_new(ax_group **out)
{
    ax_task *t = ax__current();
    ax_group *g;

    if (!out)
        return AX_EINVAL;
    if (!t)
        return AX_ENOTTASK;
    g = ax__pool_get(&t->loop->pools.group, sizeof *g);
    if (!g)
        return AX_ENOMEM;
    ax__set_magic(&g->magic, AX__MAGIC_GROUP);
    g->loop = t->loop;
    g->owner = t;
    g->lnext = t->loop->groups;
    if (g->lnext)
        g->lnext->lprev = g;
    t->loop->groups = g;
    *out = g;
    return 0;
}

int ax_group_spawn(ax_group *g, ax_task **out, ax_task_fn fn, void *arg)
{
    ax_task *t;
    int rc;

    if (!g || !fn)
        return AX_EINVAL;
    if (!AX__GROUP_LIVE(g))
        return AX_ESRCH;
    if (g->loop != ax__tls_loop)
        return AX_EWRONGLOOP;
    if (g->waited)
        return AX_EBUSY;
    if (g->first_err)
        return AX_ECANCELED;
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 8;
        ax_task **ts = ax__realloc(g->tasks, cap * sizeof *ts);
        ax__waiter *ws;
        if (!ts)
            return AX_ENOMEM;
        g->tasks = ts;
        /* Waiter nodes are linked into futures by address; growing the
         * array must move them, so unlink, grow, relink. */
        for (size_t i = 0; i < g->n; i++)
            ax__waiter_remove(&g->tasks[i]->fut, &g->waiters[i]);
        ws = ax__realloc(g->waiters, cap * sizeof *ws);
        if (ws)
            g->waiters = ws;
        for (size_t i = 0; i < g->n; i++)
            if (!g->tasks[i]->fut.done)
                ax__waiter_add(&g->tasks[i]->fut, &g->waiters[i]);
        if (!ws)
            return AX_ENOMEM;
        g->cap = cap;
    }
    rc = ax_spawn(&t, fn, arg);
    if (rc)
        return rc;
    t->owned = true;
    g->tasks[g->n] = t;
    g->waiters[g->n] = (ax__waiter){.fire = group_child_fire,
                                    .task = (ax_task *)g};
    ax__waiter_add(&t->fut, &g->waiters[g->n]);
    g->n++;
    g->remaining++;
    if (out)
        *out = t;
    return 0;
}

int ax_group_wait(ax_group *g)
{
    ax_task *t = ax__current();
    bool cancelled = false;

    if (!g)
        return AX_EINVAL;
    if (!AX__GROUP_LIVE(g))
        return AX_ESRCH;
    if (!t)
        return AX_ENOTTASK;
    if (g->loop != t->loop)
        return AX_EWRONGLOOP;
    if (g->waited || g->waiting || t != g->owner)
        return AX_EBUSY;
    g->waiting = true;
    while (g->remaining) {
        int rc = ax__suspend_shs(t, "waiting for its group", NULL);
        if (rc == AX_ECANCELED && !cancelled) {
            cancelled = true;
            t->shielded = true;
            for (size_t i = 0; i < g->n; i++)
                if (!g->tasks[i]->fut.done)
                    ax__task_cancel(g->tasks[i]);
        }
    }
    if (cancelled)
        t->shielded = false;
    g->waiting = false;
    g->waited = true;
    return cancelled ? AX_ECANCELED : g->first_err;
}

int ax_group_free(ax_group *g)
{
    int rc;

    if (!g)
        return AX_EINVAL;
    if (!AX__GROUP_LIVE(g))
        return AX_ESRCH;
    if (g->loop != ax__tls_loop)
        return AX_EWRONGLOOP;
    rc = g->waited ? 0 : AX_EBUSY;
    ax__group_teardown(g);
    return rc;
}

/* Also used at loop teardown for groups nobody freed. */
void ax__group_teardown(ax_group *g)
{
    ax_loop *L = g->loop;

    for (size_t i = 0; i < g->n; i++) {
        ax_task *t = g->tasks[i];
        ax__waiter_remove(&t->fut, &g->waiters[i]);
        if (!t->fut.done)
            ax__task_cancel(t);
        ax__task_release(t); /* a running one frees itself when done */
    }
    if (g->lprev)
        g->lprev->lnext = g->lnext;
    else
        L->groups = g->lnext;
    if (g->lnext)
        g->lnext->lprev = g->lprev;
    ax__free(g->tasks);
    ax__free(g->waiters);
    ax__pool_put(&L->pools.group, g, sizeof *g, &g->magic);
}
