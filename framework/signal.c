/* SPDX-License-Identifier: MIT */
/*
 * ax_signal_wait: signals caught on loop 0 (libevent's evsignal allows one
 * base per process to own the handlers) and fanned out to waiters of every
 * loop.
 *
 * A waiter lives on its task's stack and carries two messages, as a
 * cross-loop proxy does (remote.c): the first goes to loop 0 to register
 * and comes back when the signal fires; the second withdraws it and always
 * comes back as an acknowledgement, after which loop 0 no longer looks at
 * the waiter and the stack frame may go. Loop 0's inbox and the home inbox
 * are FIFO per producer, so a wake-up sent before the withdrawal arrives
 * home before the acknowledgement.
 */
#include "internal.h"
#include "axon.h"
#include "axon/signal.h"

#include <event2/event.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>

typedef struct sigwaiter sigwaiter;
struct sigwaiter {
    ax__msg m;  /* home -> loop 0 (register), loop 0 -> home (fired) */
    ax__msg op; /* home -> loop 0 (withdraw), loop 0 -> home (ack) */
    sigwaiter *next, *prev; /* loop 0's list for the signal */
    ax_task *task;
    ax_loop *home;
    int signo;
    int status;  /* set by loop 0 before the wake-up is sent */
    bool linked; /* loop 0 side */
    bool back, acked; /* home side */
};

/* Loop 0's catchers, made on first use. */
struct ax__sigs {
    struct event *ev[NSIG];
    sigwaiter *head[NSIG];
};

static void sig_home(ax_loop *L, ax__msg *m, bool drop)
{
    sigwaiter *w = (sigwaiter *)m;

    (void)L;
    if (drop)
        return; /* only after every task ended: nobody waits */
    w->back = true;
    ax__wake(w->task, 0);
}

static void send_home(sigwaiter *w, int status)
{
    w->status = status;
    w->m.run = sig_home;
    ax__inbox_push(w->home, &w->m);
}

static void unlink_waiter(struct ax__sigs *s, sigwaiter *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        s->head[w->signo] = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->linked = false;
}

/* Loop 0: the signal arrived. */
static void on_caught(evutil_socket_t sig, short what, void *arg)
{
    struct ax__sigs *s = arg;
    sigwaiter *w;

    (void)what;
    while ((w = s->head[sig])) {
        unlink_waiter(s, w);
        send_home(w, 0);
    }
}

static int catch_signal(ax_loop *L, int signo)
{
    struct ax__sigs *s = L->sigs;

    if (!s) {
        s = ax__calloc(1, sizeof *s);
        if (!s)
            return AX_ENOMEM;
        L->sigs = s;
    }
    if (s->ev[signo])
        return 0;
    s->ev[signo] = evsignal_new(L->base, signo, on_caught, s);
    if (!s->ev[signo])
        return AX_ENOMEM;
    if (evsignal_add(s->ev[signo], NULL) != 0) {
        event_free(s->ev[signo]);
        s->ev[signo] = NULL;
        return AX_ENOMEM;
    }
    return 0;
}

/* Loop 0: a waiter arrives. */
static void sig_register(ax_loop *L, ax__msg *m, bool drop)
{
    sigwaiter *w = (sigwaiter *)m;
    struct ax__sigs *s;
    int rc;

    if (drop)
        return;
    rc = catch_signal(L, w->signo);
    if (rc) {
        send_home(w, rc);
        return;
    }
    s = L->sigs;
    w->prev = NULL;
    w->next = s->head[w->signo];
    if (w->next)
        w->next->prev = w;
    s->head[w->signo] = w;
    w->linked = true;
}

static void sig_ack(ax_loop *L, ax__msg *m, bool drop)
{
    sigwaiter *w = (sigwaiter *)((char *)m - offsetof(sigwaiter, op));

    (void)L;
    if (drop)
        return;
    w->acked = true;
    ax__wake(w->task, 0);
}

/* Loop 0: the waiter gives up. */
static void sig_withdraw(ax_loop *L, ax__msg *m, bool drop)
{
    sigwaiter *w = (sigwaiter *)((char *)m - offsetof(sigwaiter, op));

    if (drop)
        return;
    if (w->linked)
        unlink_waiter(L->sigs, w);
    w->op.run = sig_ack;
    ax__inbox_push(w->home, &w->op);
}

void ax__signal_term(ax_loop *L)
{
    struct ax__sigs *s = L->sigs;

    if (!s)
        return;
    for (int i = 0; i < NSIG; i++)
        if (s->ev[i])
            event_free(s->ev[i]); /* restores the previous disposition */
    ax__free(s);
    L->sigs = NULL;
}

static bool catchable(int signo)
{
    return signo > 0 && signo < NSIG && signo != SIGKILL &&
           signo != SIGSTOP && signo != SIGSEGV && signo != SIGBUS &&
           signo != SIGILL && signo != SIGFPE && signo != SIGTRAP;
}

int ax_signal_wait(int signo, double timeout)
{
    ax_task *t = ax__current();
    int64_t dl;
    int rc;

    if (isnan(timeout))
        return AX_EINVAL;
    if (!t)
        return ax_signal_wait_dl(signo, AX_NO_DEADLINE);
    rc = ax__timeout_to_dl(t->loop, timeout, true, &dl);
    return rc ? rc : ax_signal_wait_dl(signo, dl);
}

int ax_signal_wait_dl(int signo, int64_t deadline)
{
    ax_task *t = ax__current();
    sigwaiter w;
    ax_loop *L;
    bool was;
    int rc = 0;

    /* memset, not {0}: the first member's first field is an atomic
     * pointer, which clang will not initialise from the integer 0. */
    memset(&w, 0, sizeof w);
    if (!catchable(signo) || ax__dl_invalid(deadline))
        return AX_EINVAL;
    if (!t)
        return AX_ENOTTASK;
    if (t->shstk) /* the waiter lives on the stack */
        return AX_ENOTSUP;
    if (t->cancel_pending && !t->shielded) {
        t->cancel_pending = false;
        return AX_ECANCELED;
    }
    L = t->loop;
    w.task = t;
    w.home = L;
    w.signo = signo;
    w.m.run = sig_register;
    ax__inbox_push(L->rt->loops[0], &w.m);
    if (ax__dl_passed(L, deadline)) {
        rc = AX_ETIMEDOUT;
    } else if (deadline != AX_NO_DEADLINE) {
        t->timer.status = AX_ETIMEDOUT;
        ax__timer_add(L, &t->timer, deadline);
    }
    while (!rc && !w.back)
        rc = ax__suspend(t, "waiting for a signal", NULL);
    ax__timer_del(L, &t->timer);
    if (!rc || w.back) {
        /* Came in the same instant as a cancel: a cancel stays pending. */
        if (rc == AX_ECANCELED)
            t->cancel_pending = true;
        return w.status;
    }
    w.op.run = sig_withdraw;
    ax__inbox_push(L->rt->loops[0], &w.op);
    was = t->shielded;
    t->shielded = true;
    while (!w.acked)
        ax__suspend(t, "withdrawing a signal wait", NULL);
    t->shielded = was;
    if (w.back) {
        /* The signal beat the withdrawal: it counts. */
        if (rc == AX_ECANCELED)
            t->cancel_pending = true;
        return w.status;
    }
    return rc;
}
