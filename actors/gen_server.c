/* SPDX-License-Identifier: MIT */
/*
 * The gen_server helper: an actor's receive loop over callbacks, on the
 * public actor API. A call is an ask; the server keeps every call it has
 * not answered yet (AX_GS_NOREPLY) in a list, so that when it ends each
 * one is answered with the exit reason instead of leaving its caller
 * waiting for a reply that cannot come (Erlang's callers get the exit
 * reason through a monitor; ours get it through the reply).
 */
#include <stdlib.h>
#include <string.h>

#include "axon.h"
#include "axon/supervisor.h"
#include "ext.h"

/* Private tags, above any a reasonable application picks. */
enum { GS_INIT = 0x7fff2000, GS_CALL, GS_CAST, GS_STOP };

typedef struct server server;

struct ax_gs_from {
    ax_msg m;
    server *srv;
    ax_gs_from *prev, *next;
    bool answered; /* by ax_gs_reply() inside its own handle_call */
};

struct server {
    const ax_gs_callbacks *cb;
    void *arg;
    void *state;
    ax_actor_ref parent; /* whoever started us: its exit signal stops us */
    ax_loop *loop;
    ax_gs_from *pending; /* calls kept with AX_GS_NOREPLY */
    ax_gs_from *spare;   /* one handle reused by calls answered at once */
    ax_gs_from *current; /* the call handle_call is handling */
};

static void unlink_from(ax_gs_from *f)
{
    if (f->prev)
        f->prev->next = f->next;
    else
        f->srv->pending = f->next;
    if (f->next)
        f->next->prev = f->prev;
}

/* A callback's verdict: 0 go on, else the exit reason (AX_GS_STOP -> 0
 * through *stop). */
static bool verdict(int r, int *reason)
{
    if (r == AX_GS_STOP) {
        *reason = 0;
        return true;
    }
    if (r < 0) {
        *reason = r;
        return true;
    }
    return false;
}

static bool on_call(server *S, ax_msg *m, int *reason)
{
    ax_gs_from *f = S->spare;
    void *reply = NULL;
    int r;

    if (!f && !(f = ax__malloc(sizeof *f))) {
        ax_reply_error(m, AX_ENOMEM);
        return false;
    }
    S->spare = NULL;
    memset(f, 0, sizeof *f);
    f->m = *m;
    f->srv = S;
    S->current = f;
    r = S->cb->handle_call ? S->cb->handle_call(m->data, f, &reply, S->state)
                           : AX_EINVAL;
    S->current = NULL;
    if (f->answered) {
        /* Answered already through ax_gs_reply(): whatever it returned,
         * the handle is done with. */
        S->spare = f;
        return r < 0 || r == AX_GS_STOP ? verdict(r, reason) : false;
    }
    if (r == AX_GS_NOREPLY) {
        f->next = S->pending;
        if (S->pending)
            S->pending->prev = f;
        S->pending = f;
        return false;
    }
    if (r < 0)
        ax_reply_error(&f->m, r);
    else
        ax_reply(&f->m, reply);
    S->spare = f;
    return verdict(r, reason);
}

static void *gs_body(void *arg)
{
    server *S = arg;
    ax_msg m, stop = {0};
    bool stopping = false, done = false;
    int reason = 0, rc;

    S->loop = ax_loop_current();
    rc = ax_recv(&m, -1);
    if (rc || m.tag != GS_INIT) {
        /* Only the starter knows our ref before init, so neither happens
         * but through a cancellation. */
        if (!rc && m.reply_)
            ax_reply_error(&m, AX_EINVAL);
        ax__free(S);
        return ax_task_fail(rc ? rc : AX_EINVAL);
    }
    rc = S->cb->init ? S->cb->init(S->arg, &S->state) : 0;
    if (rc) {
        ax_reply_error(&m, rc < 0 ? rc : AX_EINVAL);
        ax__free(S);
        return ax_task_fail(rc < 0 ? rc : AX_EINVAL);
    }
    ax_reply(&m, NULL);
    while (!done) {
        if ((rc = ax_recv(&m, -1))) {
            reason = rc;
            break;
        }
        switch (m.tag) {
        case GS_CALL:
            done = on_call(S, &m, &reason);
            break;
        case GS_CAST:
            done = S->cb->handle_cast &&
                   verdict(S->cb->handle_cast(m.data, S->state), &reason);
            break;
        case GS_STOP:
            stop = m;
            stopping = done = true;
            break;
        case AX_MSG_EXIT:
            if (m.reason && ax_ref_eq(m.from, S->parent)) {
                reason = m.reason;
                done = true;
                break;
            }
            /* fall through */
        default:
            done = S->cb->handle_info &&
                   verdict(S->cb->handle_info(&m, S->state), &reason);
            /* An ask that handle_info left unanswered must not leave its
             * caller waiting (AX_EALREADY if it was answered). */
            if (m.reply_)
                ax_reply_error(&m, AX_EINVAL);
        }
    }
    if (S->cb->terminate)
        S->cb->terminate(reason, S->state);
    while (S->pending) {
        ax_gs_from *f = S->pending;

        unlink_from(f);
        ax_reply_error(&f->m, reason ? reason : AX_ESHUTDOWN);
        ax__free(f);
    }
    if (stopping)
        ax_reply(&stop, NULL);
    ax__free(S->spare);
    ax__free(S);
    return reason ? ax_task_fail(reason) : NULL;
}

int ax_gs_start(ax_actor_ref *out, const ax_gs_callbacks *cb, void *arg,
                const ax_actor_opts *opts)
{
    ax_actor_ref ref;
    server *S;
    int rc;

    if (!cb)
        return AX_EINVAL;
    if (!ax_task_self())
        return AX_ENOTTASK;
    if (!(S = ax__calloc(1, sizeof *S)))
        return AX_ENOMEM;
    S->cb = cb;
    S->arg = arg;
    S->parent = ax_actor_self();
    if ((rc = ax_actor_spawn(&ref, gs_body, S, opts))) {
        ax__free(S);
        return rc;
    }
    /* From here the server owns S, whatever happens to this call. A
     * caller that gives up takes the server down with it rather than
     * leave an actor nobody knows the ref of. */
    rc = ax_call(ref, GS_INIT, NULL, -1, NULL);
    if (rc == AX_ECANCELED)
        ax_actor_kill(ref, AX_ECANCELED);
    if (rc == 0 && out)
        *out = ref;
    return rc;
}

int ax_gs_call(ax_actor_ref server, void *req, double timeout, void **reply)
{
    return ax_call(server, GS_CALL, req, timeout, reply);
}

int ax_gs_call_dl(ax_actor_ref server, void *req, int64_t deadline,
                  void **reply)
{
    return ax_call_dl(server, GS_CALL, req, deadline, reply);
}

int ax_gs_cast(ax_actor_ref server, void *msg)
{
    return ax_send(server, GS_CAST, msg);
}

int ax_gs_reply(ax_gs_from *from, void *value)
{
    int rc;

    if (!from)
        return AX_EINVAL;
    if (from->srv->loop != ax_loop_current())
        return AX_EWRONGLOOP;
    if (from == from->srv->current) {
        /* Inside its own handle_call: on_call() keeps the handle. */
        if (from->answered)
            return AX_EALREADY;
        from->answered = true;
        return ax_reply(&from->m, value);
    }
    unlink_from(from);
    rc = ax_reply(&from->m, value);
    ax__free(from);
    return rc;
}

int ax_gs_stop(ax_actor_ref server, double timeout)
{
    return ax_call(server, GS_STOP, NULL, timeout, NULL);
}
