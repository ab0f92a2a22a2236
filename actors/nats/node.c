/* SPDX-License-Identifier: MIT */
/*
 * axon/node.h on libnats: a NATS connection on an axon loop.
 *
 * libaxon-nats uses libaxon's public API only (libaxon exports nothing
 * else). libnats reads and writes the socket through the event-loop
 * callbacks below, on the node's loop; but it still calls message
 * handlers and connection callbacks on threads of its own, and attaches a
 * reconnected socket from its reconnect thread. Everything that comes from
 * those threads goes through the hub: a mutex-protected queue that one
 * ax_loop_post() drains on the node's loop, so that the node's state is
 * only ever touched by the loop's thread.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <nats/nats.h>

#include "axon.h"
#include "axon/node.h"

/* ------------------------------------------------------------------ */
/* Wire format: every axon message on NATS starts with this header.      */

#define HDR 12
enum {
    F_CAST = 1, /* a message, no acknowledgement */
    F_SEND,     /* a message, acknowledged when the mailbox took it */
    F_ASK,      /* a request */
    F_REPLY,    /* an answer: status 0 + bytes, or status < 0 */
    F_MON,      /* monitor request: the reply carries the host node's id */
    F_DOWN,     /* to a watcher: status is the DOWN reason */
    F_HB,       /* presence heartbeat */
    F_BYE,      /* orderly close */
    F_PING      /* the node's own flush round trip */
};

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}

/* A request's kind byte with this bit: answer on the ".r." twin of the
 * reply subject (see request()). */
#define F_TWIN 0x80

static void put_hdr(unsigned char *p, int kind, int tag, int status)
{
    p[0] = 'A';
    p[1] = 'X';
    p[2] = 1;
    p[3] = (unsigned char)kind;
    put32(p + 4, (uint32_t)tag);
    put32(p + 8, (uint32_t)status);
}

/* 0 and the header's fields, or AX_EBADFRAME. */
static int parse_hdr(const void *data, size_t len, int *kind, int *tag,
                     int *status)
{
    const unsigned char *p = data;

    if (!p || len < HDR || p[0] != 'A' || p[1] != 'X' || p[2] != 1 ||
        (p[3] & ~F_TWIN) < F_CAST || (p[3] & ~F_TWIN) > F_PING)
        return AX_EBADFRAME;
    *kind = p[3] & ~F_TWIN;
    *tag = (int)get32(p + 4);
    *status = (int)get32(p + 8);
    if (*status > 0)
        return AX_EBADFRAME;
    return 0;
}

static int nats_rc(natsStatus s)
{
    switch (s) {
    case NATS_OK:
        return 0;
    case NATS_MAX_PAYLOAD:
        return AX_E2BIG;
    case NATS_NO_MEMORY:
        return AX_ENOMEM;
    case NATS_CONNECTION_CLOSED:
        return AX_ESHUTDOWN;
    case NATS_NO_SERVER:
        return AX_ECONNREFUSED;
    case NATS_TIMEOUT:
        return AX_ETIMEDOUT;
    case NATS_INVALID_ARG:
    case NATS_INVALID_SUBJECT:
        return AX_EINVAL;
    case NATS_NO_RESPONDERS:
        return AX_ENORESPONDERS;
    default:
        return AX_ENATS;
    }
}

/* ------------------------------------------------------------------ */
/* The hub: what libnats' threads hand to the node's loop.               */

enum { K_PRIV, K_HB, K_EVENT };

typedef struct item {
    natsMsg *m;
    int kind;
    int ev;
} item;

typedef struct hub {
    pthread_mutex_t mu;
    item *q;
    size_t n, cap;
    bool posted;
    bool sync;        /* the adapter's wishes changed off the loop */
    int lib_refs;     /* the node, the connection, each subscription,
                         each pending post: what ax_node_close waits for */
    int user_refs;    /* ax_node_msg objects that can still reply */
    ax_loop *loop;
    struct event_base *base;
    ax_node *node;    /* NULL once the node is gone */
    /* Adapter wishes, written by any thread under mu. */
    natsConnection *nc;
    int fd;
    unsigned gen;
    bool want_r, want_w, detached;
    /* Applied state: the loop's thread only. */
    struct event *rd, *wr;
    unsigned ap_gen;
    bool ar, aw, det_done;
    bool wkick; /* the write event was made active without epoll */
    /* The connection for replies from any thread: read-locked around a
     * publish, write-locked to retire it. */
    pthread_rwlock_t nc_lock;
    bool nc_alive;
    int max_payload;
} hub;

static void hub_free_if_unused(hub *h)
{
    free(h->q);
    pthread_mutex_destroy(&h->mu);
    pthread_rwlock_destroy(&h->nc_lock);
    free(h);
}

/* Called with h->mu held; releases it. */
static void hub_unref_locked(hub *h, bool user)
{
    bool gone;

    if (user)
        h->user_refs--;
    else
        h->lib_refs--;
    gone = h->lib_refs == 0 && h->user_refs == 0 && h->node == NULL;
    pthread_mutex_unlock(&h->mu);
    if (gone)
        hub_free_if_unused(h);
}

static void hub_unref(hub *h, bool user)
{
    pthread_mutex_lock(&h->mu);
    hub_unref_locked(h, user);
}

static void drain(void *arg);

/* Called with h->mu held; releases it. A post that fails (the loop is
 * behind: AX_EAGAIN) leaves the items queued for the next push. */
static void post_locked(hub *h)
{
    int rc;

    if (h->posted) {
        pthread_mutex_unlock(&h->mu);
        return;
    }
    h->posted = true;
    h->lib_refs++;
    pthread_mutex_unlock(&h->mu);
    rc = ax_loop_post(h->loop, drain, h);
    if (rc != 0) {
        pthread_mutex_lock(&h->mu);
        h->posted = false;
        hub_unref_locked(h, false);
    }
}

static void push(hub *h, natsMsg *m, int kind, int ev)
{
    pthread_mutex_lock(&h->mu);
    if (!h->node) {
        pthread_mutex_unlock(&h->mu);
        natsMsg_Destroy(m);
        return;
    }
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        item *q = realloc(h->q, cap * sizeof *q);
        if (!q) {
            pthread_mutex_unlock(&h->mu);
            natsMsg_Destroy(m); /* at most once: lost, like a full buffer */
            return;
        }
        h->q = q;
        h->cap = cap;
    }
    h->q[h->n++] = (item){m, kind, ev};
    post_locked(h);
}

static void on_priv_msg(natsConnection *nc, natsSubscription *sub,
                        natsMsg *m, void *closure)
{
    (void)nc;
    (void)sub;
    push(closure, m, K_PRIV, 0);
}

static void on_hb_msg(natsConnection *nc, natsSubscription *sub, natsMsg *m,
                      void *closure)
{
    (void)nc;
    (void)sub;
    push(closure, m, K_HB, 0);
}

static void on_sub_done(void *closure)
{
    hub_unref(closure, false);
}

static void on_disconnected(natsConnection *nc, void *closure)
{
    (void)nc;
    push(closure, NULL, K_EVENT, AX_NODE_DISCONNECTED);
}

static void on_reconnected(natsConnection *nc, void *closure)
{
    (void)nc;
    push(closure, NULL, K_EVENT, AX_NODE_RECONNECTED);
}

static void on_closed(natsConnection *nc, void *closure)
{
    (void)nc;
    push(closure, NULL, K_EVENT, AX_NODE_CLOSED);
    hub_unref(closure, false);
}

/* ------------------------------------------------------------------ */
/* The event-loop adapter. libnats states what it wants watched; the     */
/* loop's thread makes libevent match. Its reconnect thread may call     */
/* these, and libevent bases made before evthread_use_pthreads() (axon's */
/* are) must not be touched from another thread.                          */

static void poll_names(ax_node *n);

static void ev_cb(evutil_socket_t fd, short what, void *arg)
{
    hub *h = arg;

    (void)fd;
    if (what & EV_READ) {
        natsConnection_ProcessReadEvent(h->nc);
        /* h->node is written by this thread only */
        if (h->node)
            poll_names(h->node);
    }
    if (what & EV_WRITE) {
        bool kicked = h->wkick, w;

        h->wkick = false;
        pthread_mutex_lock(&h->mu);
        w = h->want_w && !h->detached && h->gen == h->ap_gen;
        pthread_mutex_unlock(&h->mu);
        if (w)
            natsConnection_ProcessWriteEvent(h->nc);
        if (kicked) {
            /* The socket did not take everything: epoll says when. */
            pthread_mutex_lock(&h->mu);
            w = h->want_w && !h->detached && h->gen == h->ap_gen;
            pthread_mutex_unlock(&h->mu);
            if (w && h->wr && !h->aw && event_add(h->wr, NULL) == 0)
                h->aw = true;
        }
    }
}

static void reconcile(hub *h)
{
    unsigned gen;
    int fd;
    bool r, w, det;

    pthread_mutex_lock(&h->mu);
    gen = h->gen;
    fd = h->fd;
    r = h->want_r;
    w = h->want_w;
    det = h->detached;
    h->sync = false;
    pthread_mutex_unlock(&h->mu);
    if (det || gen != h->ap_gen) {
        if (h->rd)
            event_free(h->rd);
        if (h->wr)
            event_free(h->wr);
        h->rd = h->wr = NULL;
        h->ar = h->aw = h->wkick = false;
        h->ap_gen = gen;
        if (!det && fd >= 0) {
            h->rd = event_new(h->base, fd, EV_READ | EV_PERSIST, ev_cb, h);
            h->wr = event_new(h->base, fd, EV_WRITE | EV_PERSIST, ev_cb, h);
        }
    }
    if (det) {
        h->det_done = true;
        return;
    }
    if (h->rd && r != h->ar) {
        if (r ? event_add(h->rd, NULL) : event_del(h->rd))
            return;
        h->ar = r;
    }
    /* A write wish is first tried without asking epoll (which would cost
     * two epoll_ctl calls and a wait per publish): the write callback is
     * made active and runs in this loop iteration; only if the socket
     * does not take everything is the event really added. */
    if (h->wr && w && !h->aw && !h->wkick) {
        event_active(h->wr, EV_WRITE, 0);
        h->wkick = true;
    } else if (h->wr && !w && h->aw) {
        if (event_del(h->wr))
            return;
        h->aw = false;
    }
}

/* Called with h->mu held; releases it. */
static void adapter_changed(hub *h)
{
    if (ax_loop_current() == h->loop && !h->sync) {
        pthread_mutex_unlock(&h->mu);
        reconcile(h);
        return;
    }
    h->sync = true;
    post_locked(h);
}

static natsStatus ad_attach(void **user, void *loop, natsConnection *nc,
                            natsSock sock)
{
    hub *h = loop;

    pthread_mutex_lock(&h->mu);
    h->nc = nc;
    h->fd = (int)sock;
    h->gen++;
    h->want_r = true;
    h->want_w = false;
    *user = h;
    adapter_changed(h);
    return NATS_OK;
}

static natsStatus ad_read(void *user, bool add)
{
    hub *h = user;

    pthread_mutex_lock(&h->mu);
    h->want_r = add;
    adapter_changed(h);
    return NATS_OK;
}

static natsStatus ad_write(void *user, bool add)
{
    hub *h = user;

    pthread_mutex_lock(&h->mu);
    h->want_w = add;
    adapter_changed(h);
    return NATS_OK;
}

static natsStatus ad_detach(void *user)
{
    hub *h = user;

    pthread_mutex_lock(&h->mu);
    h->detached = true;
    adapter_changed(h);
    return NATS_OK;
}

/* ------------------------------------------------------------------ */
/* The node.                                                             */

#define NAME_MAX_LEN 128
#define TOKEN_MAX 64
#define SUBJ_MAX 320
#define NBUCKETS 1024

enum { P_ASK, P_SEND, P_MON, P_PING };

typedef struct rmon rmon;

typedef struct pend {
    ax_node *n;
    uint64_t id;
    int type;
    ax_future *fut; /* P_ASK, P_SEND, P_PING */
    rmon *mon;      /* P_MON */
    ax_handle *timer;
    struct pend *next;
} pend;

/* A monitor this node's actors hold on a remote name. */
struct rmon {
    uint64_t id;
    ax_actor_ref who;
    char *name;
    char host[TOKEN_MAX + 1];
    int64_t last_seen;
    int64_t bye_at; /* its node said goodbye (0: not yet) */
    bool active;
    rmon *next;
};

typedef struct watcher {
    char *subject;
    struct watcher *next;
} watcher;

/* A name registered here. */
typedef struct reg {
    char *name;
    ax_actor_ref ref;
    natsSubscription *sub;
    watcher *watchers;
    struct reg *next;
} reg;

struct ax_node {
    hub *h;
    ax_loop *loop;
    natsConnection *nc;
    natsOptions *nopts;
    natsSubscription *priv_sub, *rep_sub, *hb_sub;
    char prefix[TOKEN_MAX * 2 + 2];
    char id[TOKEN_MAX + 1];
    char priv[SUBJ_MAX - 64]; /* <prefix>.node.<id> */
    size_t priv_len;
    size_t name_off; /* strlen("<prefix>.n.") */
    ax_node_opts o;
    bool closing, connected;
    uint64_t next_id;
    pend *buckets[NBUCKETS];
    rmon *rmons;
    reg *regs;
    ax_handle *tick;
    ax_actor_ref agent;
    ax_future *agent_done;
    unsigned char *buf;
    size_t buf_cap;
    ax_node_stats st;
    /* Received messages done with, destroyed in batches: libnats hands
     * each destroyed message to its garbage-collector thread and wakes it
     * if it sleeps, a wake-up (and a thread switch) per message. */
    natsMsg *dead[64];
    int ndead;
    size_t dead_bytes;
};

static void dead_flush(ax_node *n)
{
    int i;

    for (i = 0; i < n->ndead; i++)
        natsMsg_Destroy(n->dead[i]);
    n->ndead = 0;
    n->dead_bytes = 0;
}

/* The loop's thread only. Bounded: 64 messages or 256 KiB of payloads,
 * and the heartbeat tick flushes. */
static void msg_done(ax_node *n, natsMsg *m)
{
    if (!m)
        return;
    n->dead[n->ndead++] = m;
    n->dead_bytes += (size_t)natsMsg_GetDataLength(m);
    if (n->ndead == (int)(sizeof n->dead / sizeof n->dead[0]) ||
        n->dead_bytes > 256 * 1024)
        dead_flush(n);
}

/* What an ax_node_msg hides. */
typedef struct msg_priv {
    natsMsg *m;
    hub *h;
    char *reply; /* NULL: not an ask, or answered */
} msg_priv;

static bool token_ok(const char *s, size_t max, bool dots)
{
    size_t n = 0;
    bool prev_dot = true;

    if (!s)
        return false;
    for (; s[n]; n++) {
        char c = s[n];
        if (n >= max)
            return false;
        if (c == '.') {
            if (!dots || prev_dot)
                return false;
            prev_dot = true;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
        prev_dot = false;
    }
    return n > 0 && !prev_dot;
}

static bool on_node_loop(const ax_node *n)
{
    return ax_loop_current() == n->loop;
}

/* Publish a frame (header + bytes). From any thread for replies (the hub's
 * read lock keeps the connection alive). */
static int hub_publish(hub *h, const char *subj, const char *reply, int kind,
                       int tag, int status, const void *data, size_t len)
{
    unsigned char small[512], *b = small;
    natsStatus s;
    int rc;

    if (len > (size_t)INT32_MAX - HDR)
        return AX_E2BIG;
    if (HDR + len > sizeof small && !(b = malloc(HDR + len)))
        return AX_ENOMEM;
    put_hdr(b, kind, tag, status);
    if (len)
        memcpy(b + HDR, data, len);
    pthread_rwlock_rdlock(&h->nc_lock);
    if (!h->nc_alive) {
        rc = AX_ESHUTDOWN;
    } else if ((int64_t)(HDR + len) > h->max_payload) {
        rc = AX_E2BIG;
    } else {
        s = reply ? natsConnection_PublishRequest(h->nc, subj, reply, b,
                                                  (int)(HDR + len))
                  : natsConnection_Publish(h->nc, subj, b, (int)(HDR + len));
        rc = nats_rc(s);
    }
    pthread_rwlock_unlock(&h->nc_lock);
    if (b != small)
        free(b);
    return rc;
}

static void deliver_event(ax_node *n, int ev)
{
    if (ev == AX_NODE_DISCONNECTED)
        n->connected = false;
    else if (ev == AX_NODE_RECONNECTED || ev == AX_NODE_CONNECTED)
        n->connected = true;
    if (ev == AX_NODE_RECONNECTED)
        n->st.reconnects++;
    if (ev == AX_NODE_CLOSED)
        n->connected = false;
    if (n->o.events_to.id)
        (void)ax_try_send(n->o.events_to, AX_MSG_NODE, (void *)(intptr_t)ev);
    if (n->o.on_event)
        n->o.on_event(n, ev, n->o.on_event_arg);
}

/* ---- pending requests ---- */

static pend **bucket(ax_node *n, uint64_t id)
{
    return &n->buckets[id & (NBUCKETS - 1)];
}

static pend *pend_take(ax_node *n, uint64_t id)
{
    pend **pp = bucket(n, id), *p;

    for (; (p = *pp); pp = &p->next) {
        if (p->id == id) {
            *pp = p->next;
            if (p->timer) {
                ax_handle_free(p->timer); /* cancels it if still pending */
                p->timer = NULL;
            }
            return p;
        }
    }
    return NULL;
}

static void rmon_down(ax_node *n, rmon *m, int reason)
{
    rmon **pp;
    char *name = m->name;

    for (pp = &n->rmons; *pp; pp = &(*pp)->next) {
        if (*pp == m) {
            *pp = m->next;
            break;
        }
    }
    if (ax_send_down(m->who, reason, name) != 0)
        free(name);
    free(m);
}

static void pend_finish(ax_node *n, pend *p, int status, natsMsg *m,
                        const unsigned char *body, size_t len)
{
    ax_node_bytes *b;

    if (p->type == P_MON) {
        if (status < 0) {
            rmon_down(n, p->mon, status);
        } else {
            size_t k = len < TOKEN_MAX ? len : TOKEN_MAX;
            memcpy(p->mon->host, body, k);
            p->mon->host[k] = '\0';
            p->mon->active = true;
            p->mon->last_seen = ax_now_ns();
        }
    } else if (status < 0) {
        (void)ax_future_set_error(p->fut, status);
    } else if (p->type == P_SEND || p->type == P_PING) {
        (void)ax_future_set_result(p->fut, NULL);
    } else if (!(b = malloc(sizeof *b + len + 1))) {
        (void)ax_future_set_error(p->fut, AX_ENOMEM);
    } else {
        char *d = (char *)(b + 1);
        if (len)
            memcpy(d, body, len);
        d[len] = '\0';
        b->data = d;
        b->len = len;
        if (ax_future_set_result(p->fut, b) != 0)
            free(b);
    }
    (void)m;
    free(p);
}

/* ---- registrations and the agent that watches their actors ---- */

static reg *reg_find(ax_node *n, const char *name, size_t len)
{
    reg *r;

    for (r = n->regs; r; r = r->next)
        if (strlen(r->name) == len && memcmp(r->name, name, len) == 0)
            return r;
    return NULL;
}

static void reg_drop(ax_node *n, reg *r, int reason)
{
    reg **pp;
    watcher *w, *wn;

    for (pp = &n->regs; *pp; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    }
    for (w = r->watchers; w; w = wn) {
        wn = w->next;
        (void)hub_publish(n->h, w->subject, NULL, F_DOWN, 0, reason, NULL, 0);
        free(w->subject);
        free(w);
    }
    if (r->sub) {
        natsSubscription_Unsubscribe(r->sub);
        natsSubscription_Destroy(r->sub);
    }
    free(r->name);
    free(r);
}

enum { AGENT_WATCH = 1, AGENT_STOP = 2 };

static void *agent_main(void *arg)
{
    ax_node *n = arg;
    ax_msg m;
    reg *r, *next;

    while (ax_recv(&m, -1) == 0) {
        if (m.tag == AGENT_STOP)
            break;
        if (m.tag == AGENT_WATCH) {
            ax_actor_ref *ref = m.data;
            (void)ax_monitor(*ref);
            free(ref);
        } else if (m.tag == AX_MSG_DOWN) {
            for (r = n->regs; r; r = next) {
                next = r->next;
                if (ax_ref_eq(r->ref, m.from))
                    reg_drop(n, r, m.reason);
            }
        }
    }
    (void)ax_future_set_result(n->agent_done, NULL);
    return NULL;
}

/* ---- the drain: everything libnats' threads sent, on the loop ---- */

/* Where a request is answered: an axon asker (F_TWIN) gets answers on
 * <priv>.r.<id>, the twin of its reply subject <priv>.q.<id>; anyone else
 * on the reply subject itself. */
static const char *answer_subject(const char *reply, const unsigned char *d,
                                  size_t len, char *buf)
{
    const char *dot;
    size_t k;

    if (!reply || len < HDR || !(d[3] & F_TWIN))
        return reply;
    dot = strrchr(reply, '.');
    k = strlen(reply);
    if (!dot || dot - reply < 2 || dot[-1] != 'q' || dot[-2] != '.' ||
        k >= SUBJ_MAX)
        return reply;
    memcpy(buf, reply, k + 1);
    buf[dot - reply - 1] = 'r';
    return buf;
}

static void handle_name(ax_node *n, natsMsg *m)
{
    const char *subj = natsMsg_GetSubject(m);
    const unsigned char *d = (const unsigned char *)natsMsg_GetData(m);
    size_t len = (size_t)natsMsg_GetDataLength(m);
    char abuf[SUBJ_MAX];
    const char *reply = answer_subject(natsMsg_GetReply(m), d, len, abuf);
    int kind, tag, status, rc;
    reg *r;
    ax_node_msg *um;
    msg_priv *mp;

    if (parse_hdr(d, len, &kind, &tag, &status) != 0 ||
        !(kind == F_CAST || kind == F_SEND || kind == F_ASK ||
          kind == F_MON)) {
        n->st.garbage++;
        if (reply)
            (void)hub_publish(n->h, reply, NULL, F_REPLY, 0, AX_EBADFRAME,
                              NULL, 0);
        msg_done(n, m);
        return;
    }
    r = strlen(subj) > n->name_off
            ? reg_find(n, subj + n->name_off, strlen(subj) - n->name_off)
            : NULL;
    if (!r) {
        if (reply)
            (void)hub_publish(n->h, reply, NULL, F_REPLY, 0, AX_ESRCH, NULL,
                              0);
        msg_done(n, m);
        return;
    }
    if (kind == F_MON) {
        watcher *w = reply ? calloc(1, sizeof *w) : NULL;
        if (w && (w->subject = strdup(reply))) {
            w->next = r->watchers;
            r->watchers = w;
            (void)hub_publish(n->h, reply, NULL, F_REPLY, 0, 0, n->id,
                              strlen(n->id));
        } else {
            free(w);
        }
        msg_done(n, m);
        return;
    }
    um = calloc(1, sizeof *um);
    mp = calloc(1, sizeof *mp);
    if (!um || !mp ||
        (kind == F_ASK && reply && !(mp->reply = strdup(reply)))) {
        free(um);
        free(mp);
        if (reply)
            (void)hub_publish(n->h, reply, NULL, F_REPLY, 0, AX_ENOMEM, NULL,
                              0);
        msg_done(n, m);
        return;
    }
    mp->m = m;
    mp->h = n->h;
    um->tag = tag;
    um->data = d + HDR;
    um->len = len - HDR;
    um->wants_reply = mp->reply != NULL;
    um->priv_ = mp;
    pthread_mutex_lock(&n->h->mu);
    n->h->user_refs++;
    pthread_mutex_unlock(&n->h->mu);
    rc = ax_try_send(r->ref, tag, um);
    if (rc != 0) {
        n->st.refused++;
        free(mp->reply);
        mp->reply = NULL;
        ax_node_msg_free(um);
        if (reply)
            (void)hub_publish(n->h, reply, NULL, F_REPLY, 0, rc, NULL, 0);
        return;
    }
    n->st.delivered++;
    if (kind == F_SEND && reply)
        (void)hub_publish(n->h, reply, NULL, F_REPLY, 0, 0, NULL, 0);
}

static void handle_priv(ax_node *n, natsMsg *m);

/* Registered names and answers (<priv>.r.*) use synchronous
 * subscriptions: every message reaches them inside
 * natsConnection_ProcessReadEvent() on this loop, so they are taken right
 * after it, without the hop through a delivery thread and the hub. A
 * synchronous subscription reports "no responders" without the message,
 * and so without the ask it answers: requests therefore carry the reply
 * subject <priv>.q.<id>, where only the server's no-responders status (and
 * the node's own flush ping) arrive, through the asynchronous
 * subscription; axon answerers reply on the twin <priv>.r.<id> (F_TWIN). */
static void poll_names(ax_node *n)
{
    reg *r;
    natsMsg *m;

    for (r = n->regs; r; r = r->next)
        while (r->sub && natsSubscription_NextMsg(&m, r->sub, 0) == NATS_OK)
            handle_name(n, m);
    while (n->rep_sub &&
           natsSubscription_NextMsg(&m, n->rep_sub, 0) == NATS_OK)
        handle_priv(n, m);
}

static void handle_priv(ax_node *n, natsMsg *m)
{
    const char *subj = natsMsg_GetSubject(m) + n->priv_len;
    const unsigned char *d = (const unsigned char *)natsMsg_GetData(m);
    size_t len = (size_t)natsMsg_GetDataLength(m);
    int kind = 0, tag, status = 0;
    uint64_t id;
    pend *p;
    rmon *rm;

    /* subj is ".r.<id>", ".q.<id>" or ".q.p" */
    if (strncmp(subj, ".q.p", 5) == 0) {
        char abuf[SUBJ_MAX];
        const char *reply = answer_subject(natsMsg_GetReply(m), d, len, abuf);
        if (reply)
            (void)hub_publish(n->h, reply, NULL, F_REPLY, 0, 0, NULL, 0);
        msg_done(n, m);
        return;
    }
    if (strncmp(subj, ".r.", 3) != 0 && strncmp(subj, ".q.", 3) != 0) {
        n->st.garbage++;
        msg_done(n, m);
        return;
    }
    id = strtoull(subj + 3, NULL, 10);
    /* A monitor's DOWN comes to the reply subject of its request. */
    if (natsMsg_IsNoResponders(m) ||
        parse_hdr(d, len, &kind, &tag, &status) != 0 || kind != F_DOWN) {
        if (!(p = pend_take(n, id))) {
            if (!natsMsg_IsNoResponders(m) &&
                parse_hdr(d, len, &kind, &tag, &status) != 0)
                n->st.garbage++;
            else
                n->st.late_replies++;
            msg_done(n, m);
            return;
        }
        if (natsMsg_IsNoResponders(m)) {
            status = AX_ENORESPONDERS;
        } else if (parse_hdr(d, len, &kind, &tag, &status) != 0 ||
                   kind != F_REPLY) {
            n->st.garbage++;
            status = AX_EBADFRAME;
        }
        pend_finish(n, p, status, m, d + HDR, status ? 0 : len - HDR);
        msg_done(n, m);
        return;
    }
    for (rm = n->rmons; rm; rm = rm->next) {
        if (rm->id == id) {
            if ((p = pend_take(n, id)))
                free(p); /* the DOWN overtook the monitor's answer */
            rmon_down(n, rm, status);
            break;
        }
    }
    msg_done(n, m);
}

static void handle_hb(ax_node *n, natsMsg *m)
{
    const char *subj = natsMsg_GetSubject(m);
    const char *host = strrchr(subj, '.');
    int kind, tag, status;
    rmon *rm, *next;
    int64_t now = ax_now_ns();

    if (host &&
        parse_hdr(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), &kind,
                  &tag, &status) == 0 &&
        (kind == F_HB || kind == F_BYE)) {
        host++;
        for (rm = n->rmons; rm; rm = next) {
            next = rm->next;
            if (!rm->active || strcmp(rm->host, host) != 0)
                continue;
            /* The BYE comes through another subscription than the DOWNs
             * that the node sent before it, which libnats may hand over
             * later: they get one heartbeat to arrive first. */
            if (kind == F_HB)
                rm->last_seen = now;
            else if (!rm->bye_at)
                rm->bye_at = now;
        }
    } else {
        n->st.garbage++;
    }
    msg_done(n, m);
}

static void drain(void *arg)
{
    hub *h = arg;
    item *q;
    size_t i, cnt;
    bool sync;
    ax_node *n;

    pthread_mutex_lock(&h->mu);
    h->posted = false;
    q = h->q;
    cnt = h->n;
    h->q = NULL;
    h->n = h->cap = 0;
    sync = h->sync;
    n = h->node;
    pthread_mutex_unlock(&h->mu);
    if (sync)
        reconcile(h);
    for (i = 0; i < cnt; i++) {
        if (!n) {
            if (q[i].m)
                natsMsg_Destroy(q[i].m);
            continue;
        }
        switch (q[i].kind) {
        case K_PRIV:
            handle_priv(n, q[i].m);
            break;
        case K_HB:
            handle_hb(n, q[i].m);
            break;
        default:
            deliver_event(n, q[i].ev);
            break;
        }
    }
    free(q);
    hub_unref(h, false);
}

/* ---- timers: ask timeouts and the heartbeat tick ---- */

/* Runs only while the entry is in the table: taking it out cancels the
 * timer (ax_handle_free). */
static void on_expire(void *arg)
{
    pend *p = arg, **pp;
    ax_node *n = p->n;

    for (pp = bucket(n, p->id); *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    ax_handle_free(p->timer);
    p->timer = NULL;
    pend_finish(n, p, AX_ETIMEDOUT, NULL, NULL, 0);
}

static void tick(void *arg)
{
    ax_node *n = arg;
    char subj[SUBJ_MAX];
    int64_t now = ax_now_ns(), limit;
    rmon *rm, *next;

    ax_handle_free(n->tick);
    n->tick = NULL;
    dead_flush(n);
    /* Answers that came in outside a read event (libnats' reconnect
     * thread reads too) wait for the next one at most a heartbeat. */
    poll_names(n);
    snprintf(subj, sizeof subj, "%s.hb.%s", n->prefix, n->id);
    (void)hub_publish(n->h, subj, NULL, F_HB, 0, 0, NULL, 0);
    limit = (int64_t)(n->o.heartbeat * n->o.heartbeat_misses * 1e9);
    for (rm = n->rmons; rm; rm = next) {
        next = rm->next;
        if (rm->active && rm->bye_at &&
            now - rm->bye_at >= (int64_t)(n->o.heartbeat * 1e9))
            rmon_down(n, rm, AX_ESHUTDOWN);
        else if (rm->active && now - rm->last_seen > limit)
            rmon_down(n, rm, AX_ENODEDOWN);
    }
    if (!n->closing)
        (void)ax_call_later(n->o.heartbeat, tick, n, &n->tick);
}

/* Start a request to @p subj; the answer comes to <priv>.r.<id>. */
static int request(ax_node *n, const char *subj, int type, int kind, int tag,
                   const void *data, size_t len, double timeout,
                   ax_future **fut, rmon *mon, uint64_t *idp)
{
    char reply[SUBJ_MAX];
    pend *p;
    int rc;

    if (!(timeout > 0) || timeout > 3.2e9)
        return AX_EINVAL;
    if (!(p = calloc(1, sizeof *p)))
        return AX_ENOMEM;
    p->n = n;
    p->id = ++n->next_id;
    p->type = type;
    p->mon = mon;
    if (fut && (rc = ax_future_new(&p->fut)) != 0) {
        free(p);
        return rc;
    }
    snprintf(reply, sizeof reply, "%s.q.%llu", n->priv,
             (unsigned long long)p->id);
    if ((rc = ax_call_later(timeout, on_expire, p, &p->timer)) != 0) {
        if (p->fut)
            ax_future_free(p->fut);
        free(p);
        return rc;
    }
    /* Into the table before publishing: the answer can only come through
     * the drain, which runs after this returns. */
    p->next = *bucket(n, p->id);
    *bucket(n, p->id) = p;
    rc = hub_publish(n->h, subj, reply, kind | F_TWIN, tag, 0, data, len);
    if (rc != 0) {
        pend_take(n, p->id); /* cancels and frees the timer */
        if (p->fut)
            ax_future_free(p->fut);
        free(p);
        return rc;
    }
    n->st.sent++;
    if (fut)
        *fut = p->fut;
    if (idp)
        *idp = p->id;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Public API.                                                           */

static int check_node(const ax_node *n)
{
    if (!n)
        return AX_EINVAL;
    if (!on_node_loop(n))
        return ax_loop_current() ? AX_EWRONGLOOP : AX_EPERM;
    return 0;
}

static int name_subject(const ax_node *n, const char *name, char *subj)
{
    if (!token_ok(name, NAME_MAX_LEN, true))
        return AX_EINVAL;
    snprintf(subj, SUBJ_MAX, "%s.n.%s", n->prefix, name);
    return 0;
}

static int node_teardown(ax_node *n);
static int await_request(ax_node *n, ax_future *f, uint64_t id,
                         void **value);

int ax_node_connect(ax_node **out, const char *urls,
                    const ax_node_opts *opts)
{
    ax_node *n;
    hub *h;
    natsStatus s = NATS_OK;
    const char *serv[16];
    char *urlcopy = NULL, *tok, *save = NULL;
    int nserv = 0, rc;
    char subj[SUBJ_MAX];
    ax_actor_opts ao;

    if (!out || !urls)
        return AX_EINVAL;
    if (!ax_task_self())
        return AX_ENOTTASK;
    n = calloc(1, sizeof *n);
    h = calloc(1, sizeof *h);
    if (!n || !h) {
        free(n);
        free(h);
        return AX_ENOMEM;
    }
    if (opts)
        n->o = *opts;
    if (!n->o.prefix)
        n->o.prefix = "axon";
    if (n->o.connect_timeout <= 0)
        n->o.connect_timeout = 2;
    if (n->o.max_reconnect == 0)
        n->o.max_reconnect = 60;
    if (n->o.reconnect_wait <= 0)
        n->o.reconnect_wait = 0.5;
    if (n->o.heartbeat <= 0)
        n->o.heartbeat = 1;
    if (n->o.heartbeat_misses <= 0)
        n->o.heartbeat_misses = 3;
    rc = AX_EINVAL;
    if (!token_ok(n->o.prefix, sizeof n->prefix - 1, true) ||
        (n->o.name && !token_ok(n->o.name, TOKEN_MAX, false)) ||
        !isfinite(n->o.connect_timeout) || !isfinite(n->o.reconnect_wait) ||
        !isfinite(n->o.heartbeat) || n->o.heartbeat > 3600)
        goto fail_0;
    strcpy(n->prefix, n->o.prefix);
    n->o.prefix = n->prefix;
    rc = AX_ENOMEM;
    if (!(urlcopy = strdup(urls)))
        goto fail_0;
    for (tok = strtok_r(urlcopy, ", ", &save); tok && nserv < 16;
         tok = strtok_r(NULL, ", ", &save))
        serv[nserv++] = tok;
    rc = AX_EINVAL;
    if (nserv == 0)
        goto fail_1;

    pthread_mutex_init(&h->mu, NULL);
    pthread_rwlock_init(&h->nc_lock, NULL);
    h->loop = ax_loop_current();
    h->base = ax_loop_base(h->loop);
    h->fd = -1;
    h->node = n;
    h->lib_refs = 1; /* the node's */
    n->h = h;
    n->loop = h->loop;

    if (n->o.name) {
        snprintf(n->id, sizeof n->id, "%s", n->o.name);
    } else {
        char *inbox = NULL;
        if (natsInbox_Create(&inbox) != NATS_OK) {
            rc = AX_ENOMEM;
            goto fail_2;
        }
        /* "_INBOX.<nuid>": the nuid is unique enough for a node id */
        snprintf(n->id, sizeof n->id, "%s", strchr(inbox, '.') + 1);
        natsInbox_Destroy(inbox);
    }
    n->priv_len = (size_t)snprintf(n->priv, sizeof n->priv, "%s.node.%s",
                                   n->prefix, n->id);
    n->name_off = strlen(n->prefix) + 3;

    s = natsOptions_Create(&n->nopts);
    if (s == NATS_OK)
        s = natsOptions_SetServers(n->nopts, serv, nserv);
    if (s == NATS_OK)
        s = natsOptions_SetName(n->nopts, n->id);
    if (s == NATS_OK)
        s = natsOptions_SetTimeout(n->nopts,
                                   (int64_t)(n->o.connect_timeout * 1000));
    if (s == NATS_OK)
        s = natsOptions_SetMaxReconnect(n->nopts, n->o.max_reconnect);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectWait(
            n->nopts, (int64_t)(n->o.reconnect_wait * 1000));
    if (s == NATS_OK)
        s = natsOptions_SetReconnectJitter(n->nopts, 100, 1000);
    if (s == NATS_OK && (n->o.user || n->o.password))
        s = natsOptions_SetUserInfo(n->nopts, n->o.user, n->o.password);
    if (s == NATS_OK && n->o.token)
        s = natsOptions_SetToken(n->nopts, n->o.token);
    if (s == NATS_OK && n->o.creds_file)
        s = natsOptions_SetUserCredentialsFromFiles(n->nopts,
                                                    n->o.creds_file, NULL);
    if (s == NATS_OK && (n->o.tls || n->o.ca_file || n->o.cert_file))
        s = natsOptions_SetSecure(n->nopts, true);
    if (s == NATS_OK && n->o.ca_file)
        s = natsOptions_LoadCATrustedCertificates(n->nopts, n->o.ca_file);
    if (s == NATS_OK && n->o.cert_file)
        s = natsOptions_LoadCertificatesChain(n->nopts, n->o.cert_file,
                                              n->o.key_file);
    if (s == NATS_OK)
        s = natsOptions_SetEventLoop(n->nopts, h, ad_attach, ad_read,
                                     ad_write, ad_detach);
    /* Without it every publish wakes libnats' flusher thread, which
     * sleeps 1 ms to gather more and then asks this loop (one more
     * cross-thread post) to watch for writing: a round trip pays that
     * twice. With it a publish on the loop asks for the write event at
     * once; the loop writes what gathered meanwhile in one go. */
    if (s == NATS_OK)
        s = natsOptions_SetSendAsap(n->nopts, true);
    if (s == NATS_OK)
        s = natsOptions_SetDisconnectedCB(n->nopts, on_disconnected, h);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectedCB(n->nopts, on_reconnected, h);
    if (s == NATS_OK)
        s = natsOptions_SetClosedCB(n->nopts, on_closed, h);
    if (s != NATS_OK) {
        rc = nats_rc(s);
        if (rc == AX_ENATS)
            fprintf(stderr, "axon-nats: %s\n", nats_GetLastError(NULL));
        goto fail_3;
    }
    s = natsConnection_Connect(&n->nc, n->nopts);
    if (s != NATS_OK) {
        rc = nats_rc(s);
        if (rc == AX_ENATS)
            fprintf(stderr, "axon-nats: connect: %s: %s\n",
                    natsStatus_GetText(s), nats_GetLastError(NULL));
        /* A socket that libnats attached before failing is detached by
         * then; the loop must still let go of its events. */
        reconcile(h);
        goto fail_3;
    }
    pthread_mutex_lock(&h->mu);
    h->lib_refs++; /* the connection's, until on_closed */
    pthread_mutex_unlock(&h->mu);
    h->nc_alive = true;
    h->max_payload = (int)natsConnection_GetMaxPayload(n->nc);
    n->connected = true;

    snprintf(subj, sizeof subj, "%s.q.*", n->priv);
    pthread_mutex_lock(&h->mu);
    h->lib_refs += 2;
    pthread_mutex_unlock(&h->mu);
    s = natsConnection_Subscribe(&n->priv_sub, n->nc, subj, on_priv_msg, h);
    if (s == NATS_OK)
        s = natsSubscription_SetOnCompleteCB(n->priv_sub, on_sub_done, h);
    else
        hub_unref(h, false);
    snprintf(subj, sizeof subj, "%s.r.*", n->priv);
    if (s == NATS_OK)
        s = natsConnection_SubscribeSync(&n->rep_sub, n->nc, subj);
    snprintf(subj, sizeof subj, "%s.hb.*", n->prefix);
    if (s == NATS_OK)
        s = natsConnection_Subscribe(&n->hb_sub, n->nc, subj, on_hb_msg, h);
    if (s == NATS_OK)
        s = natsSubscription_SetOnCompleteCB(n->hb_sub, on_sub_done, h);
    else
        hub_unref(h, false);
    if (s != NATS_OK) {
        rc = nats_rc(s);
        goto fail_4;
    }
    rc = ax_future_new(&n->agent_done);
    if (rc)
        goto fail_4;
    memset(&ao, 0, sizeof ao);
    ao.unbounded = true;
    ao.name = "axon-nats agent";
    rc = ax_actor_spawn(&n->agent, agent_main, n, &ao);
    if (rc) {
        ax_future_free(n->agent_done);
        goto fail_4;
    }
    rc = ax_call_later(n->o.heartbeat, tick, n, &n->tick);
    if (rc) {
        (void)ax_send(n->agent, AGENT_STOP, NULL);
        (void)ax_await_future(n->agent_done, NULL);
        ax_future_free(n->agent_done);
        goto fail_4;
    }
    free(urlcopy);
    deliver_event(n, AX_NODE_CONNECTED);
    *out = n;
    return 0;

fail_4:
    /* Connected, but the node could not start: the teardown of
     * ax_node_close() takes the connection down. */
    n->closing = true;
    free(urlcopy);
    (void)node_teardown(n);
    return rc;
fail_3:
    if (n->nopts)
        natsOptions_Destroy(n->nopts);
fail_2:
    pthread_mutex_lock(&h->mu);
    h->node = NULL;
    hub_unref_locked(h, false); /* frees the hub */
    free(urlcopy);
    free(n);
    return rc;
fail_1:
    free(urlcopy);
fail_0:
    free(h);
    free(n);
    return rc;
}

/* Take the connection down and free the node: the loop waits until
 * libnats has let go of everything that points into the hub. */
static int node_teardown(ax_node *n)
{
    hub *h = n->h;
    reg *r;
    rmon *rm;
    int i, waited;
    bool done;

    while ((r = n->regs))
        reg_drop(n, r, AX_ESHUTDOWN);
    while ((rm = n->rmons))
        rmon_down(n, rm, AX_ESHUTDOWN);
    for (i = 0; i < NBUCKETS; i++) {
        pend *p;
        while ((p = n->buckets[i])) {
            pend_take(n, p->id);
            if (p->type == P_MON) {
                free(p);
                continue;
            }
            pend_finish(n, p, AX_ESHUTDOWN, NULL, NULL, 0);
        }
    }
    if (n->tick) {
        ax_handle_free(n->tick);
        n->tick = NULL;
    }
    if (n->priv_sub)
        natsSubscription_Unsubscribe(n->priv_sub);
    if (n->rep_sub)
        natsSubscription_Unsubscribe(n->rep_sub);
    if (n->hb_sub)
        natsSubscription_Unsubscribe(n->hb_sub);
    pthread_rwlock_wrlock(&h->nc_lock);
    h->nc_alive = false;
    pthread_rwlock_unlock(&h->nc_lock);
    natsConnection_Close(n->nc);
    if (n->priv_sub)
        natsSubscription_Destroy(n->priv_sub);
    if (n->rep_sub)
        natsSubscription_Destroy(n->rep_sub);
    if (n->hb_sub)
        natsSubscription_Destroy(n->hb_sub);
    /* The closed callback, the subscriptions' completions and the
     * adapter's detach come from libnats' threads; they are quick, but
     * the loop must not end while one is on its way. Bounded: 10 s. */
    for (waited = 0;; waited++) {
        pthread_mutex_lock(&h->mu);
        done = h->lib_refs == 1 && h->det_done && !h->posted;
        pthread_mutex_unlock(&h->mu);
        if (done || waited > 10000)
            break;
        ax_sleep(0.001); /* pending drains (and the detach) run meanwhile */
    }
    dead_flush(n);
    natsConnection_Destroy(n->nc);
    natsOptions_Destroy(n->nopts);
    free(n->buf);
    pthread_mutex_lock(&h->mu);
    h->node = NULL;
    hub_unref_locked(h, false);
    free(n);
    return done ? 0 : AX_ETIMEDOUT;
}

int ax_node_close(ax_node *n)
{
    int rc, frc = 0;
    reg *r;
    char subj[SUBJ_MAX];
    ax_future *f;
    uint64_t id;

    if ((rc = check_node(n)))
        return rc;
    if (!ax_task_self())
        return AX_ENOTTASK;
    if (n->closing)
        return AX_EALREADY;
    n->closing = true;
    /* The agent first: DOWNs of actors that ended before the close are
     * in its mailbox ahead of the stop, and carry their own reasons. */
    (void)ax_send(n->agent, AGENT_STOP, NULL);
    (void)ax_await_future(n->agent_done, NULL);
    ax_future_free(n->agent_done);
    while ((r = n->regs))
        reg_drop(n, r, AX_ESHUTDOWN);
    snprintf(subj, sizeof subj, "%s.hb.%s", n->prefix, n->id);
    (void)hub_publish(n->h, subj, NULL, F_BYE, 0, 0, NULL, 0);
    /* The flush: a round trip through the server to ourselves proves
     * that everything published before it reached the server. */
    snprintf(subj, sizeof subj, "%s.q.p", n->priv);
    if (n->connected && request(n, subj, P_PING, F_PING, 0, NULL, 0, 2.0,
                                &f, NULL, &id) == 0)
        frc = await_request(n, f, id, NULL);
    rc = node_teardown(n);
    return rc ? rc : (frc == AX_ETIMEDOUT ? AX_ETIMEDOUT : 0);
}

const char *ax_node_id(const ax_node *n)
{
    return n ? n->id : NULL;
}

bool ax_node_connected(const ax_node *n)
{
    return n && on_node_loop(n) && n->connected && !n->closing;
}

int ax_node_stats_get(const ax_node *n, ax_node_stats *st)
{
    int rc;

    if (!st)
        return AX_EINVAL;
    if ((rc = check_node(n)))
        return rc;
    *st = n->st;
    return 0;
}

int ax_node_register(ax_node *n, const char *name, ax_actor_ref ref,
                     const char *group)
{
    char subj[SUBJ_MAX];
    reg *r;
    ax_actor_ref *w;
    natsStatus s;
    int rc;

    if ((rc = check_node(n)))
        return rc;
    if (!ref.id || (group && !token_ok(group, TOKEN_MAX, true)))
        return AX_EINVAL;
    if ((rc = name_subject(n, name, subj)))
        return rc;
    if (n->closing)
        return AX_ESHUTDOWN;
    if (reg_find(n, name, strlen(name)))
        return AX_EALREADY;
    r = calloc(1, sizeof *r);
    w = malloc(sizeof *w);
    if (!r || !w || !(r->name = strdup(name))) {
        free(r);
        free(w);
        return AX_ENOMEM;
    }
    r->ref = ref;
    *w = ref;
    s = group ? natsConnection_QueueSubscribeSync(&r->sub, n->nc, subj, group)
              : natsConnection_SubscribeSync(&r->sub, n->nc, subj);
    if (s != NATS_OK) {
        free(r->name);
        free(r);
        free(w);
        return nats_rc(s);
    }
    r->next = n->regs;
    n->regs = r;
    if (ax_try_send(n->agent, AGENT_WATCH, w) != 0)
        free(w);
    return 0;
}

int ax_node_unregister(ax_node *n, const char *name)
{
    reg *r;
    int rc;

    if ((rc = check_node(n)))
        return rc;
    if (!name)
        return AX_EINVAL;
    if (!(r = reg_find(n, name, strlen(name))))
        return AX_ESRCH;
    reg_drop(n, r, AX_ESRCH);
    return 0;
}

int ax_node_cast(ax_node *n, const char *name, int tag, const void *data,
                 size_t len)
{
    char subj[SUBJ_MAX];
    int rc;

    if ((rc = check_node(n)))
        return rc;
    if (!data && len)
        return AX_EINVAL;
    if ((rc = name_subject(n, name, subj)))
        return rc;
    if (n->closing)
        return AX_ESHUTDOWN;
    rc = hub_publish(n->h, subj, NULL, F_CAST, tag, 0, data, len);
    if (rc == 0)
        n->st.sent++;
    return rc;
}

int ax_node_ask(ax_node *n, const char *name, int tag, const void *data,
                size_t len, double timeout, ax_future **reply)
{
    char subj[SUBJ_MAX];
    int rc;

    if ((rc = check_node(n)))
        return rc;
    if (!reply || (!data && len))
        return AX_EINVAL;
    if ((rc = name_subject(n, name, subj)))
        return rc;
    if (n->closing)
        return AX_ESHUTDOWN;
    return request(n, subj, P_ASK, F_ASK, tag, data, len, timeout, reply,
                   NULL, NULL);
}

/* Await a request's future; a caller cancelled meanwhile takes the
 * pending entry out so that the answer finds nothing to complete. */
static int await_request(ax_node *n, ax_future *f, uint64_t id, void **value)
{
    int rc = ax_await_future(f, value);
    pend *p;

    if (!ax_future_done(f) && (p = pend_take(n, id)))
        free(p);
    ax_future_free(f);
    return rc;
}

int ax_node_call(ax_node *n, const char *name, int tag, const void *data,
                 size_t len, double timeout, ax_node_bytes **out)
{
    char subj[SUBJ_MAX];
    ax_future *f;
    uint64_t id;
    void *v = NULL;
    int rc;

    if (out)
        *out = NULL;
    if ((rc = check_node(n)))
        return rc;
    if (!ax_task_self())
        return AX_ENOTTASK;
    if (!data && len)
        return AX_EINVAL;
    if ((rc = name_subject(n, name, subj)))
        return rc;
    if (n->closing)
        return AX_ESHUTDOWN;
    rc = request(n, subj, P_ASK, F_ASK, tag, data, len, timeout, &f, NULL,
                 &id);
    if (rc)
        return rc;
    rc = await_request(n, f, id, &v);
    if (rc == 0 && out)
        *out = v;
    else if (rc == 0)
        ax_node_bytes_free(v);
    return rc;
}

int ax_node_send(ax_node *n, const char *name, int tag, const void *data,
                 size_t len, double timeout)
{
    char subj[SUBJ_MAX];
    ax_future *f;
    uint64_t id;
    int rc;

    if ((rc = check_node(n)))
        return rc;
    if (!ax_task_self())
        return AX_ENOTTASK;
    if (!data && len)
        return AX_EINVAL;
    if ((rc = name_subject(n, name, subj)))
        return rc;
    if (n->closing)
        return AX_ESHUTDOWN;
    rc = request(n, subj, P_SEND, F_SEND, tag, data, len, timeout, &f, NULL,
                 &id);
    if (rc)
        return rc;
    return await_request(n, f, id, NULL);
}

int ax_node_monitor(ax_node *n, const char *name)
{
    char subj[SUBJ_MAX];
    ax_actor_ref me = ax_actor_self();
    rmon *m;
    uint64_t id;
    double wait;
    int rc;

    if ((rc = check_node(n)))
        return rc;
    if ((rc = name_subject(n, name, subj)))
        return rc;
    if (!me.id)
        return AX_ENOTACTOR;
    if (n->closing)
        return AX_ESHUTDOWN;
    if (!(m = calloc(1, sizeof *m)) || !(m->name = strdup(name))) {
        free(m);
        return AX_ENOMEM;
    }
    m->who = me;
    /* The host answers at once; the bound only covers a host that died
     * before it could (then the DOWN says AX_ETIMEDOUT). */
    wait = n->o.heartbeat * n->o.heartbeat_misses;
    rc = request(n, subj, P_MON, F_MON, 0, NULL, 0, wait > 5.0 ? wait : 5.0,
                 NULL, m, &id);
    if (rc) {
        free(m->name);
        free(m);
        return rc;
    }
    /* The DOWN comes to <priv>.d.<id>, the same id as the request's
     * answer: the hosting node sends it to the reply subject it kept,
     * which is <priv>.r.<id>; both arrive through handle_priv(). */
    m->id = id;
    m->next = n->rmons;
    n->rmons = m;
    return 0;
}

/* ---- remote workers under a supervisor ---- */

typedef struct standin {
    ax_node *n;
    char name[NAME_MAX_LEN + 1];
} standin;

/* The supervisor watches this actor; its end is the remote worker's. */
static void *standin_main(void *arg)
{
    standin *si = arg;
    ax_msg m;
    int rc = ax_node_monitor(si->n, si->name);

    while (rc == 0 && (rc = ax_recv(&m, -1)) == 0) {
        if (m.tag == AX_MSG_DOWN) {
            free(m.data); /* the name's copy */
            rc = m.reason;
            free(si);
            return rc ? ax_task_fail(rc) : NULL;
        }
        if (m.tag == AX_MSG_EXIT)
            rc = m.reason; /* trapped (the spec's choice): 0 is no stop */
    }
    /* Stopped by the supervisor (cancelled, or an exit signal trapped):
     * pass it on; the DOWN still on its way is dropped with the mailbox. */
    (void)ax_node_cast(si->n, si->name, AX_MSG_NODE_STOP, NULL, 0);
    free(si);
    return ax_task_fail(rc);
}

int ax_node_sup_start(ax_actor_ref *out, void *arg, const ax_actor_opts *opts)
{
    ax_node_remote *r = arg;
    ax_node_bytes *b = NULL;
    ax_actor_opts o;
    standin *si;
    int rc;

    if (!out || !r || !r->node || (!r->name && !r->spawner))
        return AX_EINVAL;
    if ((rc = check_node(r->node)))
        return rc;
    if (opts && opts->loop && opts->loop != r->node->loop)
        return AX_EWRONGLOOP;
    if (!(si = calloc(1, sizeof *si)))
        return AX_ENOMEM;
    si->n = r->node;
    if (r->spawner) {
        rc = ax_node_call(r->node, r->spawner, AX_MSG_NODE_SPAWN, NULL, 0,
                          r->timeout > 0 ? r->timeout : 5.0, &b);
        if (rc == 0 && (b->len > NAME_MAX_LEN ||
                        strlen(b->data) != b->len ||
                        !token_ok(b->data, NAME_MAX_LEN, true)))
            rc = AX_EINVAL;
        if (rc == 0)
            memcpy(si->name, b->data, b->len + 1);
        ax_node_bytes_free(b);
    } else if (!token_ok(r->name, NAME_MAX_LEN, true)) {
        rc = AX_EINVAL;
    } else {
        strcpy(si->name, r->name);
    }
    if (rc) {
        free(si);
        return rc;
    }
    if (opts)
        o = *opts;
    else
        memset(&o, 0, sizeof o);
    o.loop = r->node->loop;
    if ((rc = ax_actor_spawn(out, standin_main, si, &o)) != 0)
        free(si);
    return rc;
}

/* ---- messages, replies and bytes: any thread ---- */

void ax_node_bytes_free(ax_node_bytes *b)
{
    free(b);
}

static int reply_common(ax_node_msg *m, int status, const void *data,
                        size_t len)
{
    msg_priv *mp;
    int rc;

    if (!m || !(mp = m->priv_) || (!data && len))
        return AX_EINVAL;
    if (!m->wants_reply)
        return AX_EINVAL;
    if (!mp->reply)
        return AX_EALREADY;
    rc = hub_publish(mp->h, mp->reply, NULL, F_REPLY, 0, status, data, len);
    if (rc == AX_E2BIG)
        return rc;
    free(mp->reply);
    mp->reply = NULL;
    return rc == AX_ESHUTDOWN ? AX_ENATS : rc;
}

int ax_node_reply(ax_node_msg *m, const void *data, size_t len)
{
    return reply_common(m, 0, data, len);
}

int ax_node_reply_error(ax_node_msg *m, int code)
{
    if (code >= 0)
        return AX_EINVAL;
    return reply_common(m, code, NULL, 0);
}

void ax_node_msg_free(ax_node_msg *m)
{
    msg_priv *mp;

    if (!m)
        return;
    mp = m->priv_;
    if (mp) {
        if (mp->reply)
            (void)hub_publish(mp->h, mp->reply, NULL, F_REPLY, 0, AX_ESRCH,
                              NULL, 0);
        free(mp->reply);
        /* h->node is written by the loop's thread only */
        if (ax_loop_current() == mp->h->loop && mp->h->node)
            msg_done(mp->h->node, mp->m);
        else
            natsMsg_Destroy(mp->m);
        hub_unref(mp->h, true);
        free(mp);
    }
    free(m);
}

/* ---- length-prefixed records ---- */

int ax_rec_put(void **buf, size_t *len, const void *rec, size_t n)
{
    unsigned char *b;

    if (!buf || !len || (!rec && n) || n > UINT32_MAX)
        return AX_EINVAL;
    if (!(b = realloc(*buf, *len + 4 + n + (*len + 4 + n == 0))))
        return AX_ENOMEM;
    put32(b + *len, (uint32_t)n);
    if (n)
        memcpy(b + *len + 4, rec, n);
    *buf = b;
    *len += 4 + n;
    return 0;
}

int ax_rec_get(const void *buf, size_t len, size_t *off, const void **rec,
               size_t *n)
{
    const unsigned char *b = buf;
    size_t k;

    if (!off || !rec || !n || (!buf && len))
        return AX_EINVAL;
    if (*off == len)
        return AX_EPIPE;
    if (*off > len || len - *off < 4)
        return AX_EBADFRAME;
    k = get32(b + *off);
    if (len - *off - 4 < k)
        return AX_EBADFRAME;
    *rec = b + *off + 4;
    *n = k;
    *off += 4 + k;
    return 0;
}
