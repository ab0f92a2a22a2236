/* SPDX-License-Identifier: MIT */
/*
 * ax_wait, ax_as_completed and the cross-loop half of ax_wait_any: watching
 * many futures without taking them.
 *
 * A waitset has one entry per future. This loop's futures get a waiter
 * node; another loop's get a proxy in peek mode (remote.c), which carries
 * the outcome home without consuming the handle or marking it read. Each
 * completion is counted and, for as_completed, queued in order; the task
 * waiting on the set is woken and re-checks its condition itself, so one
 * mechanism serves every mode. Withdrawing a proxy is a message whose
 * acknowledgement says the owner no longer looks at it: only then may the
 * entry's memory go.
 */
#include "internal.h"
#include "axon.h"
#include "axon/gather.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct wset wset;

typedef struct wentry {
    ax__waiter w;
    ax__proxy proxy;
    wset *s;
    ax_future *f;
    int status;
    bool remote, done, withdrawn, acked;
} wentry;

/* Also the as_completed iterator, pooled for handle checks. */
struct wset {
    ax_loop *loop; /* first: see ax__pooled */
    wentry *e;
    size_t n, ndone, nfail, nyield;
    size_t *order;   /* completion order; as_completed only */
    ax_task *waiter; /* the task suspended on the set, if any */
    size_t acks_pending;
    uint32_t magic;  /* AX__MAGIC_WAITSET while live */
    bool pooled, freeing;
    wset *lprev, *lnext; /* the loop's live iterators */
};

struct ax_as_completed {
    wset s;
};

static void entry_done(wentry *e, int status)
{
    wset *s = e->s;

    if (e->done)
        return;
    e->done = true;
    e->status = status;
    if (status && status != AX_ECANCELED)
        s->nfail++;
    if (s->order)
        s->order[s->ndone] = (size_t)(e - s->e);
    s->ndone++;
    if (s->waiter)
        ax__wake(s->waiter, 0);
}

static void entry_fire(ax__waiter *w, ax_future *f)
{
    entry_done((wentry *)w, f->status);
}

static void set_destroy(wset *s)
{
    ax__free(s->e);
    ax__free(s->order);
    if (s->pooled)
        ax__pool_put(&s->loop->pools.waitset, s, sizeof *s, &s->magic);
}

static void entry_home(ax__proxy *p)
{
    wentry *e = p->ctx;
    wset *s = e->s;

    if (p->acked && !e->acked) {
        e->acked = true;
        s->acks_pending--;
        if (s->freeing && !s->acks_pending) {
            set_destroy(s);
            return;
        }
    } else if (p->back && !p->unregistered) {
        entry_done(e, p->status);
    }
    if (s->waiter)
        ax__wake(s->waiter, 0);
}

/* The checks shared by every entry point; @L is the caller's loop. */
static int check_futs(ax_loop *L, ax_future *const *futs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!futs[i])
            return AX_EINVAL;
    for (size_t i = 0; i < n; i++) {
        ax_future *f = futs[i];
        if (!AX__FUTURE_LIVE(f) || (f->loop == L && f->freed))
            return AX_ESRCH;
        if (f->loop != L && f->loop->rt != L->rt)
            return AX_EWRONGLOOP;
        if (f->loop == L && f->kind == AX__FUT_TASK &&
            !((ax_task *)f)->has_handle)
            return AX_ESRCH;
    }
    return 0;
}

static int set_start(wset *s, ax_loop *L, ax_future *const *futs, size_t n,
                     bool ordered)
{
    s->loop = L;
    s->n = n;
    s->e = n ? ax__calloc(n, sizeof *s->e) : NULL;
    s->order = ordered && n ? ax__calloc(n, sizeof *s->order) : NULL;
    if (n && (!s->e || (ordered && !s->order))) {
        ax__free(s->e);
        ax__free(s->order);
        return AX_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        wentry *e = &s->e[i];
        e->s = s;
        e->f = futs[i];
        e->remote = futs[i]->loop != L;
        if (e->remote) {
            ax__proxy_watch(&e->proxy, futs[i], entry_home, e);
        } else if (futs[i]->done) {
            entry_done(e, futs[i]->status);
        } else {
            e->w.fire = entry_fire;
            ax__waiter_add(futs[i], &e->w);
        }
    }
    return 0;
}

/* Drop every registration; returns how many proxies still have to
 * acknowledge. */
static size_t set_withdraw(wset *s)
{
    for (size_t i = 0; i < s->n; i++) {
        wentry *e = &s->e[i];
        if (!e->remote) {
            ax__waiter_remove(e->f, &e->w);
        } else if (!e->withdrawn && !e->proxy.back) {
            e->withdrawn = true;
            s->acks_pending++;
            ax__proxy_op(&e->proxy, false);
        }
    }
    return s->acks_pending;
}

static bool met(const wset *s, int mode)
{
    switch (mode) {
    case AX_WAIT_FIRST_COMPLETED:
        return s->ndone > s->nyield; /* as_completed: one not handed out */
    case AX_WAIT_FIRST_EXCEPTION:
        return s->nfail > 0 || s->ndone == s->n;
    default:
        return s->ndone == s->n;
    }
}

/* Suspend until met() or the deadline or a cancel; 0 when met. */
static int set_wait(ax_task *t, wset *s, int mode, int64_t deadline,
                    const char *what)
{
    ax_loop *L = t->loop;
    bool timer = false;
    int rc = 0;

    while (!met(s, mode) && !rc) {
        if (!timer && ax__dl_passed(L, deadline)) {
            rc = AX_ETIMEDOUT;
            break;
        }
        if (!timer && deadline != AX_NO_DEADLINE) {
            t->timer.status = AX_ETIMEDOUT;
            ax__timer_add(L, &t->timer, deadline);
        }
        timer = true;
        s->waiter = t;
        rc = ax__suspend(t, what, NULL);
        s->waiter = NULL;
    }
    if (timer)
        ax__timer_del(L, &t->timer);
    if (rc && met(s, mode)) {
        /* Met in the same instant: report it; a cancel stays pending. */
        if (rc == AX_ECANCELED)
            t->cancel_pending = true;
        rc = 0;
    }
    return rc;
}

/* Wait, ignoring cancellation, until no other loop looks at the set. */
static void set_settle(ax_task *t, wset *s)
{
    bool was = t->shielded;

    if (!set_withdraw(s))
        return;
    t->shielded = true;
    while (s->acks_pending) {
        s->waiter = t;
        ax__suspend(t, "withdrawing a cross-loop wait", NULL);
        s->waiter = NULL;
    }
    t->shielded = was;
}

/* ---- ax_wait ---------------------------------------------------------- */

int ax_wait(ax_future *const *futs, size_t n, int mode, double timeout,
            size_t *ndone, bool *done)
{
    ax_task *t = ax__current();
    int64_t dl;
    int rc;

    if (isnan(timeout))
        return AX_EINVAL;
    if (!t) /* the argument checks come first, in ax_wait_dl() */
        return ax_wait_dl(futs, n, mode, AX_NO_DEADLINE, ndone, done);
    rc = ax__timeout_to_dl(t->loop, timeout, true, &dl);
    return rc ? rc : ax_wait_dl(futs, n, mode, dl, ndone, done);
}

int ax_wait_dl(ax_future *const *futs, size_t n, int mode, int64_t deadline,
               size_t *ndone, bool *done)
{
    ax_task *t = ax__current();
    wset s = {0};
    int rc;

    if (!futs || !n || ax__dl_invalid(deadline) ||
        (mode != AX_WAIT_ALL_COMPLETED && mode != AX_WAIT_FIRST_COMPLETED &&
         mode != AX_WAIT_FIRST_EXCEPTION))
        return AX_EINVAL;
    if (!ax__tls_loop) {
        for (size_t i = 0; i < n; i++)
            if (!futs[i])
                return AX_EINVAL;
        return AX_ENOTTASK;
    }
    rc = check_futs(ax__tls_loop, futs, n);
    if (rc)
        return rc;
    if (!t)
        return AX_ENOTTASK;
    if (t->shstk) /* the set and its nodes live on the stack */
        return AX_ENOTSUP;
    rc = set_start(&s, t->loop, futs, n, false);
    if (rc)
        return rc;
    rc = set_wait(t, &s, mode, deadline, "waiting for futures");
    set_settle(t, &s);
    if (ndone)
        *ndone = s.ndone;
    if (done)
        for (size_t i = 0; i < n; i++)
            done[i] = s.e[i].done;
    set_destroy(&s);
    return rc;
}

/* ax_wait_any() with a future of another loop among @p futs. */
int ax__wait_any_remote(ax_task *t, ax_future *const *futs, size_t n,
                        int64_t deadline, size_t *index)
{
    wset s = {0};
    int rc;

    rc = set_start(&s, t->loop, futs, n, false);
    if (rc)
        return rc;
    rc = set_wait(t, &s, AX_WAIT_FIRST_COMPLETED, deadline,
                  "waiting for any");
    set_settle(t, &s);
    for (size_t i = 0; i < n && !rc; i++)
        if (s.e[i].done) {
            *index = i;
            break;
        }
    set_destroy(&s);
    return rc;
}

/* ---- as_completed ----------------------------------------------------- */

#define ITER_LIVE(it) (ax__magic(&(it)->s.magic) == AX__MAGIC_WAITSET)

/* Copy @futs to @out without repeats, keeping first occurrences in order.
 * This loop's futures are marked as they are seen (O(n)); another loop's
 * cannot be written to, so those are compared with each other. */
static size_t dedup(ax_loop *L, ax_future *const *futs, size_t n,
                    ax_future **out)
{
    size_t k = 0;

    for (size_t i = 0; i < n; i++) {
        ax_future *f = futs[i];
        bool seen = false;
        if (f->loop == L) {
            seen = f->mark;
            f->mark = true;
        } else {
            for (size_t j = 0; j < k && !seen; j++)
                seen = out[j] == f;
        }
        if (!seen)
            out[k++] = f;
    }
    for (size_t i = 0; i < k; i++)
        if (out[i]->loop == L)
            out[i]->mark = false;
    return k;
}

int ax_as_completed_new(ax_as_completed **it, ax_future *const *futs,
                        size_t n)
{
    ax_loop *L = ax__tls_loop;
    ax_as_completed *a;
    ax_future **uniq;
    size_t nu;
    int rc;

    if (!it || (n && !futs))
        return AX_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!futs[i])
            return AX_EINVAL;
    if (!L)
        return AX_EPERM;
    rc = check_futs(L, futs, n);
    if (rc)
        return rc;
    /* Each future is handed out once, as asyncio makes a set of them:
     * awaiting a task handed out twice would fail the second time. */
    uniq = n ? ax__malloc(n * sizeof *uniq) : NULL;
    if (n && !uniq)
        return AX_ENOMEM;
    nu = dedup(L, futs, n, uniq);
    a = ax__pool_get(&L->pools.waitset, sizeof *a);
    if (!a) {
        ax__free(uniq);
        return AX_ENOMEM;
    }
    memset(a, 0, sizeof *a);
    rc = set_start(&a->s, L, uniq, nu, true);
    ax__free(uniq);
    if (rc) {
        a->s.loop = L;
        ax__pool_put(&L->pools.waitset, a, sizeof *a, &a->s.magic);
        return rc;
    }
    a->s.pooled = true;
    ax__set_magic(&a->s.magic, AX__MAGIC_WAITSET);
    a->s.lnext = L->waitsets;
    if (L->waitsets)
        L->waitsets->lprev = &a->s;
    L->waitsets = &a->s;
    *it = a;
    return 0;
}

int ax_as_completed_next(ax_as_completed *it, ax_future **fut,
                         double timeout)
{
    ax_task *t = ax__current();
    int64_t dl = AX_NO_DEADLINE;
    int rc;

    if (isnan(timeout))
        return AX_EINVAL;
    if (t) {
        rc = ax__timeout_to_dl(t->loop, timeout, true, &dl);
        if (rc)
            return rc;
    }
    return ax_as_completed_next_dl(it, fut, dl);
}

int ax_as_completed_next_dl(ax_as_completed *it, ax_future **fut,
                            int64_t deadline)
{
    ax_task *t = ax__current();
    wset *s;
    int rc;

    if (!it || !fut || ax__dl_invalid(deadline))
        return AX_EINVAL;
    if (!ITER_LIVE(it))
        return AX_ESRCH;
    s = &it->s;
    if (s->loop != ax__tls_loop)
        return AX_EWRONGLOOP;
    if (s->nyield == s->n)
        return AX_EALREADY;
    if (s->nyield == s->ndone) {
        if (s->waiter)
            return AX_EBUSY;
        if (!t)
            return AX_ENOTTASK;
        rc = set_wait(t, s, AX_WAIT_FIRST_COMPLETED, deadline,
                      "waiting for the next completion");
        if (rc)
            return rc;
    }
    *fut = s->e[s->order[s->nyield++]].f;
    return 0;
}

static void untrack(wset *s)
{
    if (s->lprev)
        s->lprev->lnext = s->lnext;
    else
        s->loop->waitsets = s->lnext;
    if (s->lnext)
        s->lnext->lprev = s->lprev;
}

/* At the end of the run, every task gone: iterators nobody freed. One
 * still watching another loop is left allocated, since that loop may yet
 * send an answer to it while the inboxes are dropped. */
size_t ax__waitset_term(ax_loop *L)
{
    size_t n = 0;
    wset *s;

    while ((s = L->waitsets)) {
        bool remote_busy = false;
        n++;
        untrack(s);
        for (size_t i = 0; i < s->n; i++) {
            if (!s->e[i].remote)
                ax__waiter_remove(s->e[i].f, &s->e[i].w);
            else if (!s->e[i].proxy.back)
                remote_busy = true;
        }
        ax__set_magic(&s->magic, AX__MAGIC_DEAD);
        if (!remote_busy)
            set_destroy(s);
    }
    return n;
}

int ax_as_completed_free(ax_as_completed *it)
{
    wset *s;

    if (!it)
        return AX_EINVAL;
    if (!ITER_LIVE(it))
        return AX_ESRCH;
    s = &it->s;
    if (s->loop != ax__tls_loop)
        return AX_EWRONGLOOP;
    if (s->waiter)
        return AX_EBUSY;
    untrack(s);
    if (set_withdraw(s)) {
        /* The last acknowledgement frees it (entry_home). */
        ax__set_magic(&s->magic, AX__MAGIC_DEAD);
        s->freeing = true;
        return 0;
    }
    set_destroy(s);
    return 0;
}
