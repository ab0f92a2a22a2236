/* SPDX-License-Identifier: MIT */
/*
 * Awaiting, cancelling and completing futures that belong to another loop.
 *
 * Nothing here touches another loop's objects from this thread. A request
 * travels to the owner's inbox, runs there, and the answer travels back.
 * The awaiting side keeps a proxy: the owner registers the proxy's waiter
 * on the future and, when it completes, copies status and value into the
 * proxy and sends it home. A second message (op) carries a cancel or an
 * unregister to the owner and always comes back as an acknowledgement, so
 * the home side knows when the owner has stopped looking at the proxy and
 * may free it (it usually lives on the awaiting task's stack).
 */
#include "internal.h"
#include "axon.h"

#include <string.h>

static void proxy_home(ax_loop *L, ax__msg *m, bool drop)
{
    ax__proxy *p = (ax__proxy *)m;

    (void)L;
    (void)drop;
    p->back = true;
    p->home_cb(p);
}

static void send_home(ax__proxy *p)
{
    p->m.run = proxy_home;
    ax__inbox_push(p->home, &p->m);
}

/* Owner side: the future completed. */
static void proxy_fire(ax__waiter *w, ax_future *f)
{
    ax__proxy *p = (ax__proxy *)((char *)w - offsetof(ax__proxy, w));

    p->fired = true;
    p->status = f->status;
    p->value = f->value;
    if (!p->peek)
        f->retrieved = true;
    f->nawait--;
    if (p->join) {
        ax_task *t = (ax_task *)f;
        t->has_awaiter = false;
        ax__task_release(t);
    }
    send_home(p);
}

/* Owner side: the proxy arrives. */
static void proxy_register(ax_loop *L, ax__msg *m, bool drop)
{
    ax__proxy *p = (ax__proxy *)m;
    ax_future *f = p->f;

    (void)L;
    if (drop) {
        p->status = AX_ESHUTDOWN;
        send_home(p);
        return;
    }
    /* The home side checked the handle before posting, but the owner
     * may have freed it since; only here is the answer certain. */
    if (!AX__FUTURE_LIVE(f) || f->freed ||
        (p->join && !((ax_task *)f)->has_handle)) {
        p->status = AX_ESRCH;
        p->rejected = true;
        send_home(p);
        return;
    }
    if (p->join) {
        ax_task *t = (ax_task *)f;
        if (t->owned || t->has_awaiter) {
            p->status = AX_EBUSY;
            p->rejected = true;
            send_home(p);
            return;
        }
        t->has_awaiter = true;
    }
    f->nawait++;
    p->w.fire = proxy_fire;
    p->w.task = NULL;
    if (f->done)
        proxy_fire(&p->w, f);
    else
        ax__waiter_add(f, &p->w);
}

static void proxy_init(ax__proxy *p, ax_future *f, bool join,
                       void (*home_cb)(ax__proxy *p))
{
    memset(p, 0, sizeof *p);
    p->f = f;
    p->owner = f->loop;
    p->home = ax__tls_loop;
    p->join = join;
    p->home_cb = home_cb;
    p->m.run = proxy_register;
}

void ax__proxy_start(ax__proxy *p, ax_future *f, bool join,
                     void (*home_cb)(ax__proxy *p))
{
    proxy_init(p, f, join, home_cb);
    ax__inbox_push(f->loop, &p->m);
}

/* Everything the owner reads is set before the push publishes it. */
void ax__proxy_watch(ax__proxy *p, ax_future *f,
                     void (*home_cb)(ax__proxy *p), void *ctx)
{
    proxy_init(p, f, false, home_cb);
    p->peek = true;
    p->ctx = ctx;
    ax__inbox_push(f->loop, &p->m);
}

static void op_ack(ax_loop *L, ax__msg *m, bool drop)
{
    ax__proxy *p = (ax__proxy *)((char *)m - offsetof(ax__proxy, op));

    (void)L;
    (void)drop;
    p->acked = true;
    p->home_cb(p);
}

/* Owner side: cancel the future (tasks, gathers, and plain futures whose
 * canceller asked for it), or take the waiter back (a plain future whose
 * awaiter gave up). Then acknowledge. */
static void op_run(ax_loop *L, ax__msg *m, bool drop)
{
    ax__proxy *p = (ax__proxy *)((char *)m - offsetof(ax__proxy, op));
    ax_future *f = p->f;

    (void)L;
    /* Once fired, the owner is done with f (a task may be freed already):
     * the result is on its way home and there is nothing to cancel. */
    if (!drop && !p->fired) {
        if (p->op_cancel) {
            if (!f->done)
                ax_cancel_future(f);
        } else if (p->w.linked) {
            ax__waiter_remove(f, &p->w);
            f->nawait--;
            if (p->join)
                ((ax_task *)f)->has_awaiter = false;
            p->status = AX_ECANCELED;
            p->unregistered = true;
            send_home(p);
        }
    }
    p->op.run = op_ack;
    ax__inbox_push(p->home, &p->op);
}

void ax__proxy_op(ax__proxy *p, bool cancel)
{
    p->op_cancel = cancel;
    p->op_sent = true;
    p->op.run = op_run;
    ax__inbox_push(p->owner, &p->op);
}

/* Only what the home side wrote itself: an unregistered waiter comes home
 * too (op_run() sends it), and a flag the owner set would be read here
 * while it writes it. */
bool ax__proxy_settled(const ax__proxy *p)
{
    return p->back && (!p->op_sent || p->acked);
}

/* ---- await ------------------------------------------------------------ */

static void await_home(ax__proxy *p)
{
    ax__wake(p->task, 0);
}

static void wait_settled(ax_task *t, ax__proxy *p)
{
    bool was = t->shielded;

    t->shielded = true;
    while (!ax__proxy_settled(p))
        ax__suspend(t, "finishing a cross-loop await", NULL);
    t->shielded = was;
}

/* shield: giving up only takes the waiter back (ax_shield()); the future
 * carries on and a task's handle stays the caller's. */
static int await_remote(ax_task *t, ax_future *f, int64_t deadline,
                        void **result, bool shield)
{
    ax_loop *L = t->loop;
    bool join = f->kind == AX__FUT_TASK;
    bool plain = f->kind == AX__FUT_PLAIN; /* f may be freed later */
    ax__proxy p;
    int rc = 0;

    if (f->loop->rt != L->rt)
        return AX_EWRONGLOOP;
    if (t->shstk) /* the proxy lives on the stack */
        return AX_ENOTSUP;
    if (t->cancel_pending && !t->shielded) {
        t->cancel_pending = false;
        return AX_ECANCELED;
    }
    ax__proxy_start(&p, f, join, await_home);
    p.task = t;
    if (ax__dl_passed(L, deadline)) {
        rc = AX_ETIMEDOUT;
    } else if (deadline != AX_NO_DEADLINE) {
        t->timer.status = AX_ETIMEDOUT;
        ax__timer_add(L, &t->timer, deadline);
    }
    while (!rc && !p.back) {
        rc = ax__suspend(t, "awaiting", f);
        if (p.back && rc) {
            /* The answer came in the same instant: take it; a cancel
             * stays pending for the next suspension. */
            if (rc == AX_ECANCELED)
                t->cancel_pending = true;
            rc = 0;
        }
    }
    ax__timer_del(L, &t->timer);
    if (rc) {
        /* Gave up (cancelled or timed out): tasks and gathers are
         * cancelled and waited for, as locally; a plain future only loses
         * this waiter. */
        /* f must not be touched once settled: a task's handle is
         * consumed (and the task maybe freed) over there. */
        ax__proxy_op(&p, !plain && !shield);
        wait_settled(t, &p);
        if (!shield || p.unregistered || p.rejected || p.status == AX_ESHUTDOWN)
            return rc;
        /* Shielded, and the answer crossed the withdrawal: the result is
         * the caller's (a task's handle was consumed over there), and a
         * cancel waits for the next suspension, as ax_shield() does on
         * one loop. */
        if (rc == AX_ECANCELED)
            t->cancel_pending = true;
    } else {
        wait_settled(t, &p);
    }
    if (p.rejected)
        return p.status;
    if (p.status == 0 && result)
        *result = p.value;
    return p.status;
}

int ax__await_remote(ax_task *t, ax_future *f, int64_t deadline,
                     void **result)
{
    return await_remote(t, f, deadline, result, false);
}

int ax__shield_remote(ax_task *t, ax_future *f, void **result)
{
    return await_remote(t, f, AX_NO_DEADLINE, result, true);
}

/* ---- fire-and-forget operations --------------------------------------- */

static void do_cancel(ax_loop *L, void *a, void *b, int c, bool drop)
{
    (void)L;
    (void)b;
    (void)c;
    /* Fire-and-forget: the caller got 0 already, a stale handle found
     * only here is dropped. */
    if (!drop && AX__FUTURE_LIVE(a) && !((ax_future *)a)->freed &&
        !((ax_future *)a)->done)
        ax_cancel_future(a);
}

static void do_complete(ax_loop *L, void *a, void *b, int c, bool drop)
{
    ax_future *f = a;

    (void)L;
    if (!drop && AX__FUTURE_LIVE(f) && !f->freed && !f->done)
        ax__future_complete(f, c, c ? NULL : b);
}

static void do_detach(ax_loop *L, void *a, void *b, int c, bool drop)
{
    (void)L;
    (void)b;
    (void)c;
    if (!drop)
        ax_task_detach(a);
}

int ax__remote_cancel(ax_future *f)
{
    return ax__post_call(f->loop, do_cancel, f, NULL, 0);
}

int ax__remote_complete(ax_future *f, int status, void *value)
{
    return ax__post_call(f->loop, do_complete, f, value, status);
}

int ax__remote_detach(ax_task *t)
{
    return ax__post_call(t->loop, do_detach, t, NULL, 0);
}
