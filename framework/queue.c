/* SPDX-License-Identifier: MIT */
/*
 * Queues (axon/queue.h): asyncio.Queue on one loop, a buffered channel
 * across the loops of a runtime.
 *
 * Everything about a queue (items, waiters, counters) is touched only on
 * its owner loop, so nothing is locked. A request from another loop is a
 * qop that travels to the owner's inbox (m), is answered there, and comes
 * home on the same node; giving up early sends a second node (w) that
 * withdraws the request and always comes back as an acknowledgement, so
 * the home side knows when the owner has stopped looking at the qop (the
 * pattern of remote.c's proxies).
 *
 * Hand-off is eager: an item goes straight to the oldest waiting getter,
 * a freed slot straight to the oldest waiting putter. So a waiter list is
 * never non-empty together with what it waits for (getters wait only
 * while the queue is empty, putters only while it is full), a cancelled
 * waiter only has to unlink itself, and FIFO fairness needs no re-checks.
 * The price is the one case asyncio does not have: a getter cancelled
 * after it was handed an item gives the item back (unget()).
 *
 * Credits: a put from another loop would cost a round trip per item (two
 * inbox hops, and a wake-up of each loop when they park between items).
 * So the owner's answer to a task's put from loop i may carry a grant of
 * free slots, counted as lent (they stay free for nobody else); loop i
 * then spends one per put by sending the item one way (owner_credit_put)
 * and returns at once, the way an item goes into a Go channel's buffer.
 * Grants are made only while no putter waits and at most half the free
 * room goes out, so a local putter still finds room; when a putter has to
 * wait (or a non-waiting put fails) while slots are lent, the owner asks
 * the holders for their unspent credits back (a revoke node that comes
 * home with the count). Items and the revoke answer travel through the
 * same inbox from the same sender, so per-sender order holds and the
 * owner's count of what loop i holds is exact once the answer is in.
 */
#include "internal.h"
#include "axon.h"

#include <stdlib.h>
#include <string.h>

enum { OP_GET, OP_PUT, OP_JOIN, OP_DONE, OP_SHUT };

typedef struct qop qop;
struct qop {
    ax__msg m;        /* home -> owner (submit), owner -> home (answer) */
    ax__msg w;        /* home -> owner (withdraw), owner -> home (ack) */
    qop *next, *prev; /* on one of the queue's wait lists (owner side) */
    struct qlist *list;
    ax_queue *q;
    void (*fire)(qop *op); /* owner side: the answer is in status/item */
    ax_task *task;    /* the waiting task (same loop or home loop) */
    ax_future *fut;   /* future form: the caller's future, NULL once freed */
    ax_loop *home;
    void *item;
    int status;
    uint8_t kind;
    bool nowait, immediate;
    bool owns_item;   /* a put future's item: released if never put */
    bool reserve;     /* a task's put on the owner loop: woken with a slot
                         kept for it, it puts the item itself */
    bool fired;       /* owner: answered (read at home after the answer) */
    bool withdrawn;   /* owner: taken back unanswered */
    bool back, wsent, acked; /* home side */
    bool handed;      /* the item went into the future */
    bool want_credit; /* a task's put from another loop: grant it slots */
    size_t grant;     /* owner -> home: slots lent with this answer */
};

/* Credits of one loop for one queue: n is touched only by that loop (its
 * own cache line, next to nothing the owner writes); lent and revoking
 * only by the owner. */
typedef struct qhome {
    _Alignas(64) size_t n;
} qhome;

typedef struct qlend {
    size_t lent;    /* granted to the loop, neither spent nor returned */
    bool revoking;  /* a revoke is on its way there or back */
} qlend;

/* The node a revoke travels on, there and back. */
typedef struct qrevoke {
    ax__msg m;
    ax_queue *q;
    size_t n;
    int idx;
} qrevoke;

typedef struct qlist {
    qop *head, *tail;
} qlist;

struct ax_queue {
    ax_loop *loop; /* first: see ax__pooled */
    void **buf;
    size_t bufcap, head, n;
    size_t capacity;
    uint32_t magic; /* AX__MAGIC_QUEUE while live */
    ax_queue_kind kind;
    int (*cmp)(const void *a, const void *b);
    void (*release)(void *item, void *arg);
    void *release_arg;
    qlist getters, putters, joiners;
    size_t unfinished;
    size_t reserved; /* slots kept for woken putters not yet back */
    size_t busy;     /* tasks of the owner loop inside a wait */
    bool shut, shut_now;
    bool zombie;     /* freed while slots were lent: see ax_queue_free() */
    size_t lent;     /* slots granted to other loops, not yet spent */
    unsigned revokes; /* revoke nodes under way */
    int nloops;
    qhome *home;     /* [nloops], NULL with one loop */
    qlend *lend;     /* [nloops] */
    atomic_bool shut_pub; /* shut, for other loops' credit path */
    /* Written by the owner on every change, read by ax_queue_size() from
     * anywhere: a relaxed store costs a plain mov. */
    atomic_size_t npub;
    /* Requests from other loops under way, and futures not yet freed:
     * ax_queue_free() refuses while any is. Touched off the hot path. */
    atomic_long refs;
};

_Static_assert(offsetof(ax_queue, magic) >= sizeof(ax__pooled) &&
                   offsetof(ax_queue, loop) == offsetof(ax__pooled, loop),
               "the quarantine link would overwrite the queue's magic word");

/* ---- storage: a ring (FIFO), a stack (LIFO) or a binary heap ----------- */

static int buf_grow(ax_queue *q)
{
    size_t nc = q->bufcap ? q->bufcap * 2 : 16;
    void **nb;

    if (q->capacity && nc > q->capacity + 1)
        nc = q->capacity + 1; /* +1: room for one item given back */
    if (nc <= q->bufcap)
        nc = q->bufcap + 16;
    nb = ax__malloc(nc * sizeof *nb);
    if (!nb)
        return AX_ENOMEM;
    for (size_t i = 0; i < q->n; i++)
        nb[i] = q->buf[(q->head + i) % q->bufcap];
    ax__free(q->buf);
    q->buf = nb;
    q->bufcap = nc;
    q->head = 0;
    return 0;
}

static void heap_up(ax_queue *q, size_t i)
{
    void *x = q->buf[i];

    while (i) {
        size_t p = (i - 1) / 2;
        if (q->cmp(x, q->buf[p]) >= 0)
            break;
        q->buf[i] = q->buf[p];
        i = p;
    }
    q->buf[i] = x;
}

static void heap_down(ax_queue *q)
{
    size_t i = 0, n = q->n;
    void *x = q->buf[0];

    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && q->cmp(q->buf[c + 1], q->buf[c]) < 0)
            c++;
        if (q->cmp(q->buf[c], x) >= 0)
            break;
        q->buf[i] = q->buf[c];
        i = c;
    }
    q->buf[i] = x;
}

/* @front: an item given back goes where the next get finds it first. */
static int buf_put(ax_queue *q, void *item, bool front)
{
    if (q->n == q->bufcap && buf_grow(q))
        return AX_ENOMEM;
    switch (q->kind) {
    case AX_QUEUE_FIFO:
        if (front) {
            q->head = (q->head + q->bufcap - 1) % q->bufcap;
            q->buf[q->head] = item;
        } else {
            q->buf[(q->head + q->n) % q->bufcap] = item;
        }
        q->n++;
        break;
    case AX_QUEUE_LIFO:
        q->buf[q->n++] = item;
        break;
    default:
        q->buf[q->n] = item;
        heap_up(q, q->n++);
        break;
    }
    return 0;
}

static void *buf_take(ax_queue *q)
{
    void *item;

    switch (q->kind) {
    case AX_QUEUE_FIFO:
        item = q->buf[q->head];
        q->head = (q->head + 1) % q->bufcap;
        q->n--;
        return item;
    case AX_QUEUE_LIFO:
        return q->buf[--q->n];
    default:
        item = q->buf[0];
        if (--q->n) {
            q->buf[0] = q->buf[q->n];
            heap_down(q);
        }
        return item;
    }
}

static void publish(ax_queue *q)
{
    atomic_store_explicit(&q->npub, q->n, memory_order_relaxed);
}

static bool has_room(const ax_queue *q)
{
    return !q->capacity || q->n + q->reserved + q->lent < q->capacity;
}

/* ---- the owner side ----------------------------------------------------- */

static void link_op(qlist *l, qop *op)
{
    op->next = NULL;
    op->prev = l->tail;
    if (l->tail)
        l->tail->next = op;
    else
        l->head = op;
    l->tail = op;
    op->list = l;
}

static void unlink_op(qop *op)
{
    qlist *l = op->list;

    if (!l)
        return;
    if (op->prev)
        op->prev->next = op->next;
    else
        l->head = op->next;
    if (op->next)
        op->next->prev = op->prev;
    else
        l->tail = op->prev;
    op->list = NULL;
}

static void drop_item(ax_queue *q, void *item)
{
    if (q->release)
        q->release(item, q->release_arg);
}

static void op_fire(qop *op, int status, void *item)
{
    unlink_op(op);
    op->status = status;
    if (op->kind == OP_GET)
        op->item = item; /* a putter keeps its own for the release */
    op->fired = true;
    /* A put future's item that did not go in is nobody's but the queue's:
     * from another loop the caller cannot learn in time that it is free. */
    if (op->owns_item && status)
        drop_item(op->q, op->item);
    op->fire(op);
}

static void fire_all(qlist *l, int status)
{
    while (l->head)
        op_fire(l->head, status, NULL);
}

static void one_done(ax_queue *q)
{
    if (q->unfinished && --q->unfinished == 0)
        fire_all(&q->joiners, 0);
}

/* An item that may go in: to the oldest waiting getter, else stored. */
static int deliver(ax_queue *q, void *item)
{
    if (q->getters.head) {
        op_fire(q->getters.head, 0, item);
        return 0;
    }
    return buf_put(q, item, false);
}

/* A slot came free: the oldest waiting putters get it. A task of this
 * loop is woken with the slot kept for it, and puts its item when it runs,
 * so that a cancel arriving in between still means "not put" (asyncio's
 * meaning) and the slot passes on; a request from another loop or a
 * future has nobody to run later, so its item goes in now. */
static void admit(ax_queue *q)
{
    while (q->putters.head && has_room(q)) {
        qop *p = q->putters.head;
        if (p->reserve) {
            q->reserved++;
        } else {
            if (deliver(q, p->item))
                break; /* out of memory: it stays waiting */
            q->unfinished++;
        }
        op_fire(p, 0, NULL);
    }
}

/* An item a getter could not keep (cancelled in the instant it was handed
 * over, or its future freed unread): the next getter, else the head. The
 * queue may hold capacity + 1 for a while then, and keeps its count of
 * unfinished tasks: the item was counted when it was put. */
static void unget(ax_queue *q, void *item)
{
    if (q->shut_now) {
        drop_item(q, item);
        one_done(q);
    } else if (q->getters.head) {
        op_fire(q->getters.head, 0, item);
    } else if (buf_put(q, item, true)) {
        drop_item(q, item); /* out of memory: the release callback has it */
    }
    publish(q);
}

static void do_shutdown(ax_queue *q, bool immediate)
{
    q->shut = true;
    atomic_store_explicit(&q->shut_pub, true, memory_order_release);
    if (immediate) {
        q->shut_now = true;
        while (q->n) {
            drop_item(q, buf_take(q));
            if (q->unfinished)
                q->unfinished--;
        }
        publish(q);
        if (!q->unfinished)
            fire_all(&q->joiners, 0);
    }
    fire_all(&q->getters, AX_EQSHUTDOWN);
    fire_all(&q->putters, AX_EQSHUTDOWN);
}

/* ---- credits (see the top of the file) ----------------------------------- */

enum { CREDIT_MAX = 64 };

static void grant(ax_queue *q, qop *op)
{
    size_t g = CREDIT_MAX, used = q->n + q->reserved + q->lent;

    if (!q->lend || q->shut || q->putters.head)
        return;
    if (q->capacity) {
        if (used >= q->capacity)
            return;
        if ((q->capacity - used) / 2 < g)
            g = (q->capacity - used) / 2;
    }
    if (!g)
        return;
    op->grant = g;
    q->lent += g;
    q->lend[ax__loop_idx(op->home)].lent += g;
}

static void reap(ax_queue *q);

/* Lent slots came back (spent or returned): a freed queue may go now;
 * a live one has room for its waiting putters. */
static void lent_settled(ax_queue *q, bool drop)
{
    if (q->zombie)
        reap(q);
    else if (!drop)
        admit(q);
}

static void owner_returned(ax_loop *L, ax__msg *m, bool drop)
{
    qrevoke *r = (qrevoke *)m;
    ax_queue *q = r->q;

    (void)L;
    (void)drop; /* the count is needed either way */
    q->lend[r->idx].lent -= r->n;
    q->lend[r->idx].revoking = false;
    q->lent -= r->n;
    q->revokes--;
    ax__free(r);
    lent_settled(q, drop);
}

/* On the holder loop: give every unspent credit back. */
static void home_revoke(ax_loop *L, ax__msg *m, bool drop)
{
    qrevoke *r = (qrevoke *)m;

    (void)drop;
    r->n = r->q->home[ax__loop_idx(L)].n;
    r->q->home[ax__loop_idx(L)].n = 0;
    r->m.run = owner_returned;
    ax__inbox_push(r->q->loop, &r->m);
}

static void revoke_all(ax_queue *q)
{
    if (!q->lent)
        return;
    for (int i = 0; i < q->nloops; i++) {
        qrevoke *r;
        if (!q->lend[i].lent || q->lend[i].revoking)
            continue;
        /* Out of memory: the slots stay lent until the holder spends
         * them or a later revoke gets through. */
        if (!(r = ax__malloc(sizeof *r)))
            return;
        r->q = q;
        r->idx = i;
        r->n = 0;
        r->m.run = home_revoke;
        q->lend[i].revoking = true;
        q->revokes++;
        ax__inbox_push(ax__loop_at(q->loop, i), &r->m);
    }
}

/* A credited item arrives: it was the queue's from the moment its put
 * returned, so after an immediate shutdown or a free it goes to the
 * release callback. */
static void owner_credit_put(ax_loop *L, void *a, void *b, int c, bool drop)
{
    ax_queue *q = a;

    (void)L;
    q->lend[c].lent--;
    q->lent--;
    if (drop || q->zombie || q->shut_now || deliver(q, b)) {
        drop_item(q, b);
    } else {
        q->unfinished++;
        publish(q);
    }
    lent_settled(q, drop);
}

/* Another loop's put with a credit in hand: one message, no answer. */
static bool credit_put(ax_queue *q, ax_loop *L, void *item)
{
    qhome *h;

    if (!q->home)
        return false;
    h = &q->home[ax__loop_idx(L)];
    if (!h->n || atomic_load_explicit(&q->shut_pub, memory_order_acquire))
        return false;
    if (ax__post_call(q->loop, owner_credit_put, q, item, ax__loop_idx(L)))
        return false; /* out of memory: the round trip says so */
    h->n--;
    return true;
}

/* Answer @op now, or put it on a wait list (nowait: AX_EAGAIN instead). */
static void submit(ax_queue *q, qop *op)
{
    switch (op->kind) {
    case OP_GET:
        if (q->n) {
            void *item = buf_take(q);
            admit(q);
            publish(q);
            op_fire(op, 0, item);
        } else if (q->shut) {
            op_fire(op, AX_EQSHUTDOWN, NULL);
        } else if (op->nowait) {
            op_fire(op, AX_EAGAIN, NULL);
        } else {
            link_op(&q->getters, op);
        }
        break;
    case OP_PUT:
        if (q->shut) {
            op_fire(op, AX_EQSHUTDOWN, NULL);
        } else if (has_room(q) && !q->putters.head) {
            if (deliver(q, op->item)) {
                op_fire(op, AX_ENOMEM, NULL);
                break;
            }
            q->unfinished++;
            publish(q);
            if (op->want_credit)
                grant(q, op);
            op_fire(op, 0, NULL);
        } else if (op->nowait) {
            revoke_all(q);
            op_fire(op, AX_EAGAIN, NULL);
        } else {
            link_op(&q->putters, op);
            revoke_all(q);
        }
        break;
    case OP_JOIN:
        if (!q->unfinished)
            op_fire(op, 0, NULL);
        else if (op->nowait)
            op_fire(op, AX_EAGAIN, NULL);
        else
            link_op(&q->joiners, op);
        break;
    case OP_DONE:
        if (!q->unfinished) {
            op_fire(op, AX_EINVAL, NULL);
        } else {
            one_done(q);
            op_fire(op, 0, NULL);
        }
        break;
    default:
        do_shutdown(q, op->immediate);
        op_fire(op, 0, NULL);
        break;
    }
}

/* Take back a request that has not been answered. */
static void withdraw(qop *op)
{
    unlink_op(op);
    op->withdrawn = true;
    op->fired = true;
    op->status = AX_ECANCELED;
    if (op->owns_item)
        drop_item(op->q, op->item);
}

/* ---- handles ------------------------------------------------------------ */

static int check(const ax_queue *q)
{
    ax_loop *L = ax__tls_loop;

    if (!q)
        return AX_EINVAL;
    if (ax__magic(&q->magic) != AX__MAGIC_QUEUE)
        return AX_ESRCH;
    if (L && L != q->loop && !ax__same_runtime(L, q->loop))
        return AX_EWRONGLOOP;
    return 0;
}

int ax_queue_new(ax_queue **out, const ax_queue_opts *opts)
{
    ax_loop *L = ax__tls_loop;
    ax_queue_opts o = {0};
    ax_queue *q;

    if (opts)
        o = *opts;
    if (!out || (unsigned)o.kind > AX_QUEUE_PRIORITY ||
        (o.kind == AX_QUEUE_PRIORITY && !o.cmp))
        return AX_EINVAL;
    if (!L)
        return AX_EPERM;
    q = ax__pool_get(&L->pools.queue, sizeof *q);
    if (!q)
        return AX_ENOMEM;
    q->loop = L;
    q->kind = o.kind;
    q->capacity = o.capacity;
    q->cmp = o.cmp;
    q->release = o.release;
    q->release_arg = o.release_arg;
    atomic_init(&q->npub, 0);
    atomic_init(&q->refs, 0);
    atomic_init(&q->shut_pub, false);
    q->nloops = ax__loop_count(L);
    if (q->nloops > 1) {
        q->home = ax__aligned_alloc(_Alignof(qhome),
                                (size_t)q->nloops * sizeof *q->home);
        q->lend = ax__calloc((size_t)q->nloops, sizeof *q->lend);
        if (!q->home || !q->lend) {
            ax__aligned_free(q->home);
            ax__free(q->lend);
            ax__pool_put(&L->pools.queue, q, sizeof *q, &q->magic);
            return AX_ENOMEM;
        }
        memset(q->home, 0, (size_t)q->nloops * sizeof *q->home);
    }
    ax__set_magic(&q->magic, AX__MAGIC_QUEUE);
    *out = q;
    return 0;
}

int ax_queue_free(ax_queue *q)
{
    int rc = check(q);

    if (rc)
        return rc;
    if (q->loop != ax__tls_loop)
        return AX_EWRONGLOOP;
    if (q->busy || q->reserved || q->getters.head || q->putters.head ||
        q->joiners.head || atomic_load(&q->refs))
        return AX_EBUSY;
    while (q->n)
        drop_item(q, buf_take(q));
    if (q->lent || q->revokes) {
        /* Items sent on credit may be on their way: the memory stays
         * until every lent slot is spent or returned (reap()); for the
         * caller the queue is gone now. */
        q->zombie = true;
        ax__set_magic(&q->magic, AX__MAGIC_DEAD);
        revoke_all(q);
        return 0;
    }
    reap(q);
    return 0;
}

static void reap(ax_queue *q)
{
    if (q->lent || q->revokes)
        return;
    ax__free(q->buf);
    ax__aligned_free(q->home);
    ax__free(q->lend);
    ax__pool_put(&q->loop->pools.queue, q, sizeof *q, &q->magic);
}

size_t ax_queue_size(const ax_queue *q)
{
    if (!q || ax__magic(&q->magic) != AX__MAGIC_QUEUE)
        return 0;
    return atomic_load_explicit(&q->npub, memory_order_relaxed);
}

/* ---- a task waiting on the owner loop ------------------------------------ */

static void fire_task(qop *op)
{
    if (op->task) /* NULL: a nowait call from a callback */
        ax__wake(op->task, 0);
}

/* @op is linked; wait for its answer, the deadline or a cancel. */
static int wait_here(ax_queue *q, qop *op, int64_t dl)
{
    ax_task *t = op->task;
    ax_loop *L = t->loop;
    bool cancel;
    int rc = 0;

    if (dl != AX_NO_DEADLINE) {
        t->timer.status = AX_ETIMEDOUT;
        ax__timer_add(L, &t->timer, dl);
    }
    q->busy++;
    while (!rc && !op->fired)
        rc = ax__suspend(t, op->kind == OP_GET   ? "queue get"
                            : op->kind == OP_PUT ? "queue put"
                                                 : "queue join",
                         NULL);
    q->busy--;
    ax__timer_del(L, &t->timer);
    if (!op->fired) {
        unlink_op(op);
        return rc;
    }
    /* Answered, and maybe cancelled in the same instant or before the
     * task ran again: then the cancel wins at this await, as in asyncio,
     * and what was handed over passes on (the item to the next getter,
     * the slot to the next putter). */
    cancel = rc == AX_ECANCELED || (t->cancel_pending && !t->shielded);
    if (cancel)
        t->cancel_pending = false;
    if (op->kind == OP_GET && op->status == 0 && cancel)
        unget(q, op->item);
    if (op->kind == OP_PUT && op->status == 0 && op->reserve) {
        q->reserved--;
        if (cancel)
            rc = AX_ECANCELED;
        else if (q->shut)
            rc = AX_EQSHUTDOWN;
        else if (!(rc = deliver(q, op->item)))
            q->unfinished++;
        admit(q);
        publish(q);
        return rc;
    }
    return cancel ? AX_ECANCELED : op->status;
}

/* ---- a task on another loop ---------------------------------------------- */

static void home_answer(ax_loop *L, ax__msg *m, bool drop);

static void fire_home(qop *op)
{
    op->m.run = home_answer;
    ax__inbox_push(op->home, &op->m);
}

static void owner_submit(ax_loop *L, ax__msg *m, bool drop)
{
    qop *op = (qop *)m;

    (void)L;
    op->fire = fire_home;
    if (drop) {
        op->fired = true;
        op->status = AX_ESHUTDOWN;
        fire_home(op);
        return;
    }
    submit(op->q, op);
}

static void home_ack(ax_loop *L, ax__msg *m, bool drop);

static void owner_withdraw(ax_loop *L, ax__msg *m, bool drop)
{
    qop *op = (qop *)((char *)m - offsetof(qop, w));

    (void)L;
    /* Answered already: the answer is on its way home, nothing to undo. */
    if (!drop && !op->fired) {
        withdraw(op);
        fire_home(op);
    }
    op->w.run = home_ack;
    ax__inbox_push(op->home, &op->w);
}

static void owner_unget(ax_loop *L, void *a, void *b, int c, bool drop)
{
    ax_queue *q = a;

    (void)L;
    (void)c;
    if (drop)
        drop_item(q, b);
    else
        unget(q, b);
    atomic_fetch_sub(&q->refs, 1);
}

static bool settled(const qop *op)
{
    return op->back && (!op->wsent || op->acked);
}

static void send_withdraw(qop *op)
{
    op->wsent = true;
    op->w.run = owner_withdraw;
    ax__inbox_push(op->q->loop, &op->w);
}

/* An item taken for a getter that is no longer there goes back to the
 * owner; this ends the request's hold on the queue either way. */
static void finish_remote(qop *op, bool give_back)
{
    ax_queue *q = op->q;

    if (give_back && ax__post_call(q->loop, owner_unget, q, op->item, 0) == 0)
        return;
    atomic_fetch_sub(&q->refs, 1);
}

static int call_remote(ax_queue *q, qop *op, ax_task *t, int64_t dl)
{
    ax_loop *L = t->loop;
    bool was, cancel;
    int rc = 0;

    if (t->cancel_pending && !t->shielded) {
        t->cancel_pending = false;
        return AX_ECANCELED;
    }
    op->q = q;
    op->task = t;
    op->home = L;
    op->want_credit = op->kind == OP_PUT && !op->nowait;
    op->m.run = owner_submit;
    atomic_fetch_add(&q->refs, 1);
    ax__inbox_push(q->loop, &op->m);
    if (dl != AX_NO_DEADLINE && !op->nowait) {
        t->timer.status = AX_ETIMEDOUT;
        ax__timer_add(L, &t->timer, dl);
    }
    while (!rc && !op->back)
        rc = ax__suspend(t, "queue (other loop)", NULL);
    ax__timer_del(L, &t->timer);
    if (!op->back)
        send_withdraw(op);
    was = t->shielded;
    t->shielded = true;
    while (!settled(op))
        ax__suspend(t, "finishing a queue request", NULL);
    t->shielded = was;
    if (op->withdrawn) {
        finish_remote(op, false);
        return rc;
    }
    if (op->grant)
        q->home[ax__loop_idx(L)].n += op->grant;
    /* Answered. A cancel that came meanwhile wins, as on the owner loop,
     * except over a put that happened over there: that cannot be undone,
     * so it returns 0 and the cancel waits for the next suspension. */
    cancel = rc == AX_ECANCELED || (t->cancel_pending && !t->shielded);
    if (cancel && !(op->kind == OP_PUT && op->status == 0)) {
        t->cancel_pending = false;
        finish_remote(op, op->kind == OP_GET && op->status == 0);
        return AX_ECANCELED;
    }
    if (cancel)
        t->cancel_pending = true;
    finish_remote(op, false);
    return op->status;
}

/* ---- futures --------------------------------------------------------------- */

static void fut_release(qop *op, bool unread)
{
    ax_queue *q = op->q;
    bool give_back = op->fired && !op->withdrawn && op->kind == OP_GET &&
                     op->status == 0 && (!op->handed || unread);

    if (q->loop == op->home) {
        if (give_back)
            unget(q, op->item);
        atomic_fetch_sub(&q->refs, 1);
    } else {
        finish_remote(op, give_back);
    }
    ax__free(op);
}

/* The caller's future: answered, or ended by someone else (cancelled). */
static void fut_answer(qop *op)
{
    ax_future *f = op->fut;

    if (!f || f->done)
        return;
    op->handed = true;
    ax__future_complete(f, op->status,
                        op->kind == OP_GET && !op->status ? op->item : NULL);
}

static void fut_done(ax_future *f, void *arg)
{
    qop *op = arg;

    (void)f;
    if (op->q->loop == op->home) {
        if (!op->fired)
            withdraw(op);
    } else if (!op->back && !op->wsent) {
        send_withdraw(op);
    }
}

static void fut_freed(ax_future *f, void *arg)
{
    qop *op = arg;
    bool unread = !f->retrieved;

    op->fut = NULL;
    if (op->q->loop == op->home) {
        if (!op->fired)
            withdraw(op);
        fut_release(op, unread);
        return;
    }
    op->handed = op->handed && !unread;
    if (!op->back && !op->wsent)
        send_withdraw(op);
    if (settled(op))
        fut_release(op, false);
}

static void home_answer(ax_loop *L, ax__msg *m, bool drop)
{
    qop *op = (qop *)m;

    (void)L;
    if (drop)
        return;
    op->back = true;
    if (op->task) {
        ax__wake(op->task, 0);
        return;
    }
    fut_answer(op);
    if (!op->fut && settled(op))
        fut_release(op, false);
}

static void home_ack(ax_loop *L, ax__msg *m, bool drop)
{
    qop *op = (qop *)((char *)m - offsetof(qop, w));

    (void)L;
    if (drop)
        return;
    op->acked = true;
    if (op->task) {
        ax__wake(op->task, 0);
        return;
    }
    if (!op->fut && settled(op))
        fut_release(op, false);
}

static int op_future(ax_queue *q, uint8_t kind, void *item, ax_future **out)
{
    ax_loop *L = ax__tls_loop;
    ax_future *f;
    qop *op;
    int rc = check(q);

    if (rc)
        return rc;
    if (!out)
        return AX_EINVAL;
    if (!L)
        return AX_EPERM;
    if (kind == OP_PUT && q->loop == L && q->shut)
        return AX_EQSHUTDOWN;
    op = ax__calloc(1, sizeof *op);
    if (!op)
        return AX_ENOMEM;
    rc = ax_future_new(&f);
    if (rc)
        goto fail_fut;
    op->q = q;
    op->kind = kind;
    op->item = item;
    op->owns_item = kind == OP_PUT;
    op->fut = f;
    op->home = L;
    rc = ax_future_on_done(f, fut_done, op);
    if (rc)
        goto fail_cb;
    ax__future_on_free(f, fut_freed, op);
    atomic_fetch_add(&q->refs, 1);
    if (q->loop == L) {
        op->fire = fut_answer;
        submit(q, op);
    } else {
        op->m.run = owner_submit;
        ax__inbox_push(q->loop, &op->m);
    }
    *out = f;
    return 0;
fail_cb:
    ax_future_free(f);
fail_fut:
    ax__free(op);
    return rc;
}

int ax_queue_get_future(ax_queue *q, ax_future **fut)
{
    return op_future(q, OP_GET, NULL, fut);
}

int ax_queue_put_future(ax_queue *q, void *item, ax_future **fut)
{
    return op_future(q, OP_PUT, item, fut);
}

int ax_queue_join_future(ax_queue *q, ax_future **fut)
{
    return op_future(q, OP_JOIN, NULL, fut);
}

/* ---- the calls ------------------------------------------------------------- */

/* Every call but the fast paths: on the owner loop answer or wait; from
 * another loop, the round trip. A deadline already past is a nowait
 * request, so that what is there is still taken. */
static int slow(ax_queue *q, qop *op, int64_t dl)
{
    ax_loop *L = ax__tls_loop;
    ax_task *t = ax__current();
    bool try = op->nowait;
    int rc;

    if (L && ax__dl_passed(L, dl))
        op->nowait = true;
    op->q = q;
    if (q->loop == L) {
        if (!op->nowait && !t)
            return AX_ENOTTASK;
        op->task = t;
        op->fire = fire_task;
        op->reserve = op->kind == OP_PUT;
        submit(q, op);
        rc = op->fired ? op->status : wait_here(q, op, dl);
    } else {
        if (!t)
            return AX_ENOTTASK;
        /* The answer is written into op, on the caller's stack. */
        if (t->shstk)
            return AX_ENOTSUP;
        rc = call_remote(q, op, t, dl);
    }
    return rc == AX_EAGAIN && !try ? AX_ETIMEDOUT : rc;
}

static int do_get(ax_queue *q, void **item, int64_t dl, bool nowait)
{
    qop op;
    int rc = check(q);

    if (rc)
        return rc;
    if (!item)
        return AX_EINVAL;
    /* The owner loop's fast path: an item there, no list to look at. */
    if (q->loop == ax__tls_loop && q->n) {
        *item = buf_take(q);
        if (q->putters.head)
            admit(q);
        publish(q);
        return 0;
    }
    memset(&op, 0, sizeof op);
    op.kind = OP_GET;
    op.nowait = nowait;
    rc = slow(q, &op, dl);
    if (!rc)
        *item = op.item;
    return rc;
}

static int do_put(ax_queue *q, void *item, int64_t dl, bool nowait)
{
    qop op;
    int rc = check(q);

    if (rc)
        return rc;
    if (q->loop == ax__tls_loop && !q->shut && !q->getters.head &&
        !q->putters.head && q->n < q->bufcap && has_room(q)) {
        buf_put(q, item, false); /* cannot fail: there is room */
        q->unfinished++;
        publish(q);
        return 0;
    }
    if (q->loop != ax__tls_loop && ax__tls_loop && credit_put(q, ax__tls_loop, item))
        return 0;
    memset(&op, 0, sizeof op);
    op.kind = OP_PUT;
    op.item = item;
    op.nowait = nowait;
    return slow(q, &op, dl);
}

int ax_queue_get(ax_queue *q, void **item)
{
    return do_get(q, item, AX_NO_DEADLINE, false);
}

int ax_queue_get_dl(ax_queue *q, void **item, int64_t deadline)
{
    if (ax__dl_invalid(deadline))
        return AX_EINVAL;
    return do_get(q, item, deadline, false);
}

int ax_queue_get_timeout(ax_queue *q, void **item, double seconds)
{
    ax_loop *L = ax__tls_loop;
    int64_t dl = AX_NO_DEADLINE;
    int rc;

    if (L && (rc = ax__timeout_to_dl(L, seconds, false, &dl)))
        return rc;
    return do_get(q, item, dl, false);
}

int ax_queue_try_get(ax_queue *q, void **item)
{
    return do_get(q, item, AX_NO_DEADLINE, true);
}

int ax_queue_put(ax_queue *q, void *item)
{
    return do_put(q, item, AX_NO_DEADLINE, false);
}

int ax_queue_put_dl(ax_queue *q, void *item, int64_t deadline)
{
    if (ax__dl_invalid(deadline))
        return AX_EINVAL;
    return do_put(q, item, deadline, false);
}

int ax_queue_put_timeout(ax_queue *q, void *item, double seconds)
{
    ax_loop *L = ax__tls_loop;
    int64_t dl = AX_NO_DEADLINE;
    int rc;

    if (L && (rc = ax__timeout_to_dl(L, seconds, false, &dl)))
        return rc;
    return do_put(q, item, dl, false);
}

int ax_queue_try_put(ax_queue *q, void *item)
{
    return do_put(q, item, AX_NO_DEADLINE, true);
}

int ax_queue_task_done(ax_queue *q)
{
    qop op;
    int rc = check(q);

    if (rc)
        return rc;
    memset(&op, 0, sizeof op);
    op.kind = OP_DONE;
    op.nowait = true;
    return slow(q, &op, AX_NO_DEADLINE);
}

int ax_queue_join_dl(ax_queue *q, int64_t deadline)
{
    qop op;
    int rc = check(q);

    if (rc)
        return rc;
    if (ax__dl_invalid(deadline))
        return AX_EINVAL;
    memset(&op, 0, sizeof op);
    op.kind = OP_JOIN;
    return slow(q, &op, deadline);
}

int ax_queue_join(ax_queue *q)
{
    return ax_queue_join_dl(q, AX_NO_DEADLINE);
}

int ax_queue_shutdown(ax_queue *q, bool immediate)
{
    qop op;
    int rc = check(q);

    if (rc)
        return rc;
    memset(&op, 0, sizeof op);
    op.kind = OP_SHUT;
    op.nowait = true;
    op.immediate = immediate;
    return slow(q, &op, AX_NO_DEADLINE);
}
