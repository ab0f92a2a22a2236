/* SPDX-License-Identifier: MIT */
/*
 * Supervisors, on the public actor API only: a supervisor is an actor that
 * traps exits and monitors each child; a DOWN message drives the strategy.
 *
 * axon has no selective receive, so while the supervisor waits for one
 * child's DOWN (stopping it) every other message is set aside in a stash
 * and handled afterwards, in arrival order. The stash is checked before
 * the mailbox, both by the main loop and by the next wait.
 *
 * API requests travel as asks with a heap request that both sides hold a
 * reference to, so a caller that gives up (timeout, cancel) leaves nothing
 * dangling. The supervisor drains its mailbox before it ends; a request
 * that arrives after that is handed to the undelivered hook by the actor
 * layer and its few bytes leak (the caller sees AX_ESRCH).
 */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "axon.h"
#include "axon/supervisor.h"
#include "ext.h"

/* Private tags: the supervisor's mailbox takes nothing else but DOWN/EXIT. */
enum {
    SUP_INIT = 0x7fff1000,
    SUP_START_CHILD,
    SUP_TERMINATE,
    SUP_WHICH,
    SUP_STOP
};

typedef struct request {
    atomic_int refs;
    void *arg;
    ax_actor_ref ref;
    size_t cap, n;
    ax_actor_ref out[];
} request;

typedef struct child {
    void *arg;
    ax_actor_ref ref; /* {0}: not running */
    bool parked;      /* ended for good: not restarted by any strategy */
} child;

typedef struct sup {
    ax_sup_opts opts;
    ax_sup_spec *specs;
    size_t nspecs;
    child *kids;
    size_t nkids, capkids;
    int64_t *stamps; /* restart times, a ring that grows up to `max` */
    size_t max, cap, head, count;
    ax_msg *stash;
    size_t nstash, capstash;
    bool cancelled;
} sup;

static void req_put(request *rq)
{
    if (rq && atomic_fetch_sub_explicit(&rq->refs, 1,
                                        memory_order_acq_rel) == 1)
        ax__free(rq);
}

static const ax_sup_spec *spec_of(sup *S, size_t i)
{
    return S->opts.strategy == AX_SUP_SIMPLE_ONE_FOR_ONE ? &S->specs[0]
                                                         : &S->specs[i];
}

/* ---- the stash ---------------------------------------------------------- */

static int stash_push(sup *S, const ax_msg *m)
{
    if (S->nstash == S->capstash) {
        size_t cap = S->capstash ? 2 * S->capstash : 8;
        ax_msg *n = ax__realloc(S->stash, cap * sizeof *n);

        if (!n)
            return AX_ENOMEM;
        S->stash = n;
        S->capstash = cap;
    }
    S->stash[S->nstash++] = *m;
    return 0;
}

/* O(n) removal, fine for the handful of messages a stop sets aside. */
static void stash_take(sup *S, size_t i, ax_msg *out)
{
    *out = S->stash[i];
    memmove(&S->stash[i], &S->stash[i + 1],
            (S->nstash - i - 1) * sizeof *S->stash);
    S->nstash--;
}

/* Wait for @p ref's DOWN until @p dl. A cancellation is remembered (the
 * supervisor then stops once it is done) and the wait goes on: a child
 * half stopped must not be forgotten. */
static int wait_down(sup *S, ax_actor_ref ref, int64_t dl)
{
    ax_msg m;
    int rc;

    for (size_t i = 0; i < S->nstash; i++)
        if (S->stash[i].tag == AX_MSG_DOWN && ax_ref_eq(S->stash[i].from, ref)) {
            stash_take(S, i, &m);
            return 0;
        }
    for (;;) {
        rc = ax_recv_dl(&m, dl);
        if (rc == AX_ECANCELED) {
            S->cancelled = true;
            continue;
        }
        if (rc)
            return rc;
        if (m.tag == AX_MSG_DOWN && ax_ref_eq(m.from, ref))
            return 0;
        if ((rc = stash_push(S, &m))) {
            if (m.reply_)
                ax_reply_error(&m, rc);
            return rc;
        }
    }
}

/* ---- starting and stopping children ------------------------------------- */

static int start_one(sup *S, size_t i)
{
    const ax_sup_spec *sp = spec_of(S, i);
    child *k = &S->kids[i];
    ax_actor_opts ao = sp->actor;
    ax_actor_ref ref = AX_ACTOR_NONE;
    int rc;

    ao.loop = sp->loop ? sp->loop : ax_loop_current();
    ao.name = sp->name;
    if (sp->start)
        rc = sp->start(&ref, k->arg, &ao);
    else if (sp->gs)
        rc = ax_gs_start(&ref, sp->gs, k->arg, &ao);
    else
        rc = ax_actor_spawn(&ref, sp->body, k->arg, &ao);
    if (rc == AX_ECANCELED) /* cancelled while a start function waited */
        S->cancelled = true;
    if (rc)
        return rc;
    if (!ref.id)
        return AX_EINVAL; /* a start function that forgot *out */
    /* A child that ended already still gets its DOWN (reason AX_ESRCH),
     * and is then restarted as crashed. */
    if ((rc = ax_monitor(ref))) {
        ax_actor_kill(ref, AX_ESHUTDOWN);
        return rc;
    }
    k->ref = ref;
    return 0;
}

/* Stop child @p i as its spec says. Tasks are cooperative: after the kill
 * the wait has no limit, see the header. */
static void stop_one(sup *S, size_t i)
{
    const ax_sup_spec *sp = spec_of(S, i);
    ax_actor_ref r = S->kids[i].ref;
    int64_t dl = AX_NO_DEADLINE;

    if (!r.id)
        return;
    S->kids[i].ref = AX_ACTOR_NONE;
    if (sp->shutdown < 0) {
        ax_actor_kill(r, AX_ESHUTDOWN);
    } else {
        ax_actor_exit(r, AX_ESHUTDOWN);
        if (!isinf(sp->shutdown))
            dl = ax_deadline_in(sp->shutdown ? sp->shutdown
                                             : AX_SUP_SHUTDOWN_DEFAULT);
        if (wait_down(S, r, dl) != AX_ETIMEDOUT)
            return;
        ax_actor_kill(r, AX_ESHUTDOWN);
    }
    wait_down(S, r, AX_NO_DEADLINE);
}

static void stop_all(sup *S)
{
    for (size_t i = S->nkids; i-- > 0;)
        stop_one(S, i);
}

static void remove_kid(sup *S, size_t i)
{
    memmove(&S->kids[i], &S->kids[i + 1],
            (S->nkids - i - 1) * sizeof *S->kids);
    S->nkids--;
}

static int add_kid(sup *S, void *arg, size_t *idx)
{
    if (S->nkids == S->capkids) {
        size_t cap = S->capkids ? 2 * S->capkids : 8;
        child *n = ax__realloc(S->kids, cap * sizeof *n);

        if (!n)
            return AX_ENOMEM;
        S->kids = n;
        S->capkids = cap;
    }
    *idx = S->nkids++;
    S->kids[*idx] = (child){.arg = arg};
    return 0;
}

/* One more restart now: AX_ERESTARTS if that exceeds the intensity,
 * AX_ENOMEM if the record of it cannot grow (the supervisor then ends with
 * the true reason rather than a made-up intensity overflow). */
static int restart_allowed(sup *S)
{
    int64_t now = ax_now_ns();
    double period = S->opts.period > 0 ? S->opts.period : 5.0;
    int64_t since = now - (int64_t)(period * 1e9);

    while (S->count && S->stamps[S->head] <= since) {
        S->head = (S->head + 1) % S->cap;
        S->count--;
    }
    if (S->count >= S->max)
        return AX_ERESTARTS;
    /* Grown on demand: a generous intensity costs nothing until used. */
    if (S->count == S->cap) {
        size_t cap = S->cap ? 2 * S->cap : 4;
        int64_t *n;

        if (cap > S->max)
            cap = S->max;
        if (!(n = ax__malloc(cap * sizeof *n)))
            return AX_ENOMEM;
        for (size_t i = 0; i < S->count; i++)
            n[i] = S->stamps[(S->head + i) % S->cap];
        ax__free(S->stamps);
        S->stamps = n;
        S->cap = cap;
        S->head = 0;
    }
    S->stamps[(S->head + S->count++) % S->cap] = now;
    return 0;
}

/* (Re)start the stopped, unparked children in [lo, hi) in order. On a
 * restart a failed start counts as one more restart, so a child that
 * cannot start exhausts the intensity rather than looping; at init the
 * first failure is the answer. */
static int start_range(sup *S, size_t lo, size_t hi, bool retry)
{
    int rc;

    for (size_t i = lo; i < hi; i++) {
        if (S->kids[i].ref.id || S->kids[i].parked)
            continue;
        while ((rc = start_one(S, i))) {
            if (!retry)
                return rc;
            if ((rc = restart_allowed(S)))
                return rc;
        }
    }
    return 0;
}

static int on_down(sup *S, ax_actor_ref from, int reason)
{
    const ax_sup_spec *sp;
    size_t i;
    bool again;
    int rc;

    for (i = 0; i < S->nkids; i++)
        if (ax_ref_eq(S->kids[i].ref, from))
            break;
    if (i == S->nkids)
        return 0; /* a child stopped on purpose, or a stray monitor */
    sp = spec_of(S, i);
    S->kids[i].ref = AX_ACTOR_NONE;
    again = sp->restart == AX_SUP_PERMANENT ||
            (sp->restart == AX_SUP_TRANSIENT && reason != 0 &&
             reason != AX_ESHUTDOWN);
    if (!again) {
        if (S->opts.strategy == AX_SUP_SIMPLE_ONE_FOR_ONE)
            remove_kid(S, i);
        else
            S->kids[i].parked = true;
        return 0;
    }
    if ((rc = restart_allowed(S)))
        return rc;
    switch (S->opts.strategy) {
    case AX_SUP_ONE_FOR_ALL:
        stop_all(S);
        return start_range(S, 0, S->nkids, true);
    case AX_SUP_REST_FOR_ONE:
        for (size_t j = S->nkids; j-- > i + 1;)
            stop_one(S, j);
        return start_range(S, i, S->nkids, true);
    default:
        return start_range(S, i, i + 1, true);
    }
}

/* ---- requests ----------------------------------------------------------- */

static void on_request(sup *S, ax_msg *m)
{
    request *rq = m->data;
    size_t i;
    int rc = 0;

    switch (m->tag) {
    case SUP_START_CHILD:
        if (S->opts.strategy != AX_SUP_SIMPLE_ONE_FOR_ONE) {
            rc = AX_EINVAL;
            break;
        }
        if ((rc = add_kid(S, rq->arg, &i)))
            break;
        if ((rc = start_one(S, i))) {
            remove_kid(S, i);
            break;
        }
        rq->ref = S->kids[i].ref;
        break;
    case SUP_TERMINATE:
        rc = AX_ESRCH;
        for (i = 0; i < S->nkids; i++)
            if (ax_ref_eq(S->kids[i].ref, rq->ref)) {
                stop_one(S, i);
                if (S->opts.strategy == AX_SUP_SIMPLE_ONE_FOR_ONE)
                    remove_kid(S, i);
                else
                    S->kids[i].parked = true;
                rc = 0;
                break;
            }
        break;
    case SUP_WHICH:
        rq->n = 0;
        for (i = 0; i < S->nkids; i++)
            if (S->kids[i].ref.id) {
                if (rq->n < rq->cap)
                    rq->out[rq->n] = S->kids[i].ref;
                rq->n++;
            }
        break;
    }
    if (rc)
        ax_reply_error(m, rc);
    else
        ax_reply(m, NULL);
    req_put(rq);
}

/* Answer what is left, so that no asker waits for a supervisor that is
 * gone and no request leaks. */
static void drain(sup *S)
{
    ax_msg m;

    for (;;) {
        if (S->nstash)
            stash_take(S, 0, &m);
        else if (ax_recv_dl(&m, 0))
            return;
        if (!m.reply_)
            continue;
        ax_reply_error(&m, AX_ESRCH);
        if (m.tag == SUP_START_CHILD || m.tag == SUP_TERMINATE ||
            m.tag == SUP_WHICH)
            req_put(m.data);
    }
}

static void sup_free(sup *S)
{
    ax__free(S->specs);
    ax__free(S->kids);
    ax__free(S->stamps);
    ax__free(S->stash);
    ax__free(S);
}

static void *sup_body(void *arg)
{
    sup *S = arg;
    ax_msg m;
    int reason = 0, rc;

    /* The starter's ask is the first message: only it knows the ref. */
    rc = ax_recv(&m, -1);
    if (rc || m.tag != SUP_INIT) {
        if (!rc && m.reply_)
            ax_reply_error(&m, AX_EINVAL);
        sup_free(S);
        return ax_task_fail(rc ? rc : AX_EINVAL);
    }
    if ((rc = start_range(S, 0, S->nkids, false)) == 0 && !S->cancelled) {
        ax_reply(&m, NULL);
    } else {
        stop_all(S);
        ax_reply_error(&m, rc ? rc : AX_ECANCELED);
        drain(S);
        sup_free(S);
        return ax_task_fail(rc ? rc : AX_ECANCELED);
    }
    while (!reason) {
        if (S->cancelled) {
            reason = AX_ECANCELED;
            break;
        }
        if (S->nstash) {
            stash_take(S, 0, &m);
        } else if ((rc = ax_recv(&m, -1))) {
            reason = rc;
            break;
        }
        switch (m.tag) {
        case AX_MSG_DOWN:
            reason = on_down(S, m.from, m.reason);
            break;
        case AX_MSG_EXIT:
            /* From a child: its DOWN follows. From anyone else (a parent
             * stopping us, a crashed link): stop with that reason. */
            for (size_t i = 0; i < S->nkids; i++)
                if (ax_ref_eq(S->kids[i].ref, m.from))
                    goto next;
            reason = m.reason;
            break;
        case SUP_STOP:
            stop_all(S);
            drain(S);
            ax_reply(&m, NULL);
            sup_free(S);
            return NULL;
        case SUP_START_CHILD:
        case SUP_TERMINATE:
        case SUP_WHICH:
            on_request(S, &m);
            break;
        default:
            /* Not ours: answer an ask so its caller does not wait; the
             * payload, whatever it is, is left alone. */
            if (m.reply_)
                ax_reply_error(&m, AX_EINVAL);
        }
    next:;
    }
    stop_all(S);
    drain(S);
    sup_free(S);
    return ax_task_fail(reason);
}

/* ---- public ------------------------------------------------------------- */

static bool spec_ok(const ax_sup_spec *sp)
{
    return (sp->start || sp->body || sp->gs) && !isnan(sp->shutdown) &&
           (sp->shutdown >= 0 || sp->shutdown == AX_SUP_BRUTAL_KILL);
}

int ax_sup_start(ax_actor_ref *out, const ax_sup_opts *opts,
                 const ax_sup_spec *children, size_t n)
{
    ax_sup_opts o = {0};
    ax_actor_opts ao = {0};
    ax_actor_ref ref;
    sup *S;
    int rc;

    if (opts)
        o = *opts;
    if ((n && !children) || isnan(o.period) || o.period < 0 ||
        (unsigned)o.strategy > AX_SUP_SIMPLE_ONE_FOR_ONE ||
        (o.strategy == AX_SUP_SIMPLE_ONE_FOR_ONE && n != 1))
        return AX_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!spec_ok(&children[i]))
            return AX_EINVAL;
    if (!ax_task_self())
        return AX_ENOTTASK;
    S = ax__calloc(1, sizeof *S);
    if (!S)
        return AX_ENOMEM;
    S->opts = o;
    S->max = o.intensity == 0 ? 3 : o.intensity < 0 ? 0 : (size_t)o.intensity;
    S->nspecs = n;
    if (n && !(S->specs = ax__malloc(n * sizeof *S->specs))) {
        sup_free(S);
        return AX_ENOMEM;
    }
    if (n)
        memcpy(S->specs, children, n * sizeof *children);
    if (o.strategy != AX_SUP_SIMPLE_ONE_FOR_ONE)
        for (size_t i = 0; i < n; i++) {
            size_t idx;

            if ((rc = add_kid(S, children[i].arg, &idx))) {
                sup_free(S);
                return rc;
            }
        }
    ao.trap_exits = true;
    ao.unbounded = true; /* DOWNs and requests never wait for room */
    ao.name = o.name;
    ao.loop = o.loop;
    if ((rc = ax_actor_spawn(&ref, sup_body, S, &ao))) {
        sup_free(S);
        return rc;
    }
    rc = ax_call(ref, SUP_INIT, NULL, -1, NULL);
    if (rc == AX_ECANCELED) /* as in ax_gs_start(): no orphans */
        ax_actor_kill(ref, AX_ECANCELED);
    if (rc == 0 && out)
        *out = ref;
    return rc;
}

int ax_sup_start_fn_sup(ax_actor_ref *out, void *arg,
                        const ax_actor_opts *opts)
{
    ax_sup_child_args *a = arg;
    ax_sup_opts o;

    if (!a)
        return AX_EINVAL;
    o = a->opts;
    if (opts) {
        o.loop = opts->loop;
        o.name = opts->name;
    }
    return ax_sup_start(out, &o, a->children, a->n);
}

/* Ask the supervisor. Once the ask is sent the request is shared until
 * both sides let go (*sent); before, it is freed here. */
static int request_call(ax_actor_ref sup, int tag, request *rq, bool *sent)
{
    ax_future *f;
    int rc;

    *sent = false;
    if (!ax_task_self()) {
        ax__free(rq);
        return AX_ENOTTASK;
    }
    atomic_init(&rq->refs, 2);
    rc = ax_ask(sup, tag, rq, &f);
    if (rc) {
        ax__free(rq);
        return rc;
    }
    *sent = true;
    rc = ax_await_future(f, NULL);
    ax_future_free(f);
    return rc;
}

int ax_sup_start_child(ax_actor_ref sup, void *arg, ax_actor_ref *ref)
{
    request *rq;
    bool sent;
    int rc;

    if (!sup.id)
        return AX_EINVAL;
    if (!(rq = ax__calloc(1, sizeof *rq)))
        return AX_ENOMEM;
    rq->arg = arg;
    rc = request_call(sup, SUP_START_CHILD, rq, &sent);
    if (!sent)
        return rc;
    if (rc == 0 && ref)
        *ref = rq->ref;
    req_put(rq);
    return rc;
}

int ax_sup_terminate_child(ax_actor_ref sup, ax_actor_ref child)
{
    request *rq;
    bool sent;
    int rc;

    if (!sup.id || !child.id)
        return AX_EINVAL;
    if (!(rq = ax__calloc(1, sizeof *rq)))
        return AX_ENOMEM;
    rq->ref = child;
    rc = request_call(sup, SUP_TERMINATE, rq, &sent);
    if (sent)
        req_put(rq);
    return rc;
}

int ax_sup_which_children(ax_actor_ref sup, ax_actor_ref *out, size_t cap,
                          size_t *n)
{
    request *rq;
    bool sent;
    int rc;

    if (!sup.id || !n || (cap && !out) ||
        cap > (SIZE_MAX - sizeof *rq) / sizeof *out)
        return AX_EINVAL;
    if (!(rq = ax__calloc(1, sizeof *rq + cap * sizeof *out)))
        return AX_ENOMEM;
    rq->cap = cap;
    rc = request_call(sup, SUP_WHICH, rq, &sent);
    if (!sent)
        return rc;
    if (rc == 0) {
        *n = rq->n;
        if (cap)
            memcpy(out, rq->out, (rq->n < cap ? rq->n : cap) * sizeof *out);
    }
    req_put(rq);
    return rc;
}

int ax_sup_stop(ax_actor_ref sup, double timeout)
{
    int64_t dl;
    int rc;

    if (!ax_task_self())
        return AX_ENOTTASK;
    if (isnan(timeout))
        return AX_EINVAL;
    rc = ax__timeout_to_dl(ax_loop_current(), timeout, true, &dl);
    return rc ? rc : ax_sup_stop_dl(sup, dl);
}

int ax_sup_stop_dl(ax_actor_ref sup, int64_t deadline)
{
    if (!sup.id || ax__dl_invalid(deadline))
        return AX_EINVAL;
    return ax_call_dl(sup, SUP_STOP, NULL, deadline, NULL);
}
