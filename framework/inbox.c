/* SPDX-License-Identifier: MIT */
/*
 * The cross-loop inbox: an intrusive multi-producer single-consumer queue
 * (Vyukov's: a producer is one atomic exchange and one store, the consumer
 * takes nodes without atomic read-modify-writes) plus the doorbell.
 *
 * The sleep protocol makes the doorbell rare. The consumer announces
 * `sleeping = 1` and then checks the queue once more before it blocks; a
 * producer enqueues and then checks `sleeping`. Both sides use sequentially
 * consistent operations, so at least one of them sees the other: either the
 * consumer finds the message and does not block, or the producer sees the
 * flag, clears it and rings. A busy consumer never announces, so a stream of
 * messages to a busy loop costs no system call at all.
 */
#include "loop_impl.h"
#include "axon.h"

void ax__inbox_init(ax__inbox *q)
{
    atomic_store_explicit(&q->stub.next, NULL, memory_order_relaxed);
    atomic_store_explicit(&q->head, &q->stub, memory_order_relaxed);
    q->tail = &q->stub;
    atomic_store_explicit(&q->sleeping, 0, memory_order_relaxed);
    atomic_store_explicit(&q->rings, 0, memory_order_relaxed);
}

static void push(ax__inbox *q, ax__msg *m)
{
    ax__msg *prev;

    atomic_store_explicit(&m->next, NULL, memory_order_relaxed);
    prev = atomic_exchange_explicit(&q->head, m, memory_order_seq_cst);
    /* Between the exchange and this store the queue is "cut": the consumer
     * sees the head moved but not the link yet, and waits a moment. */
    atomic_store_explicit(&prev->next, m, memory_order_release);
}

void ax__inbox_push(ax_loop *L, ax__msg *m)
{
    ax__inbox *q = &L->inbox;

    if (q->vclock) /* counted until run: virtual time waits */
        atomic_fetch_add_explicit(&L->rt->vinflight, 1, memory_order_seq_cst);
    if (AX__UNLIKELY(L->rt->trace)) {
        /* On the sender's timeline (a thread without a loop has none). */
        ax_loop *me = ax__tls_loop;
        if (me && me->pub.trace)
            ax__trace_instant(me->pub.trace, "hop", "hop", "to_loop",
                              L->pub.index, "from_loop", me->pub.index);
    }
    push(q, m);
    if (atomic_load_explicit(&q->sleeping, memory_order_seq_cst) &&
        atomic_exchange_explicit(&q->sleeping, 0, memory_order_seq_cst)) {
        atomic_fetch_add_explicit(&q->rings, 1, memory_order_relaxed);
        ax__bell_ring(&q->bell);
    }
}

/* NULL when empty or when a producer is between its two steps; the caller
 * tells these apart with ax__inbox_busy(). */
static ax__msg *pop(ax__inbox *q)
{
    ax__msg *tail = q->tail;
    ax__msg *next = atomic_load_explicit(&tail->next, memory_order_acquire);

    if (tail == &q->stub) {
        if (!next)
            return NULL;
        q->tail = next;
        tail = next;
        next = atomic_load_explicit(&tail->next, memory_order_acquire);
    }
    if (next) {
        q->tail = next;
        return tail;
    }
    if (tail != atomic_load_explicit(&q->head, memory_order_acquire))
        return NULL; /* cut: the producer has not linked yet */
    push(q, &q->stub);
    next = atomic_load_explicit(&tail->next, memory_order_acquire);
    if (next) {
        q->tail = next;
        return tail;
    }
    return NULL;
}

bool ax__inbox_busy(ax_loop *L)
{
    ax__inbox *q = &L->inbox;

    return q->tail != &q->stub ||
           atomic_load_explicit(&q->stub.next, memory_order_acquire) ||
           atomic_load_explicit(&q->head, memory_order_seq_cst) != &q->stub;
}

size_t ax__inbox_drain(ax_loop *L, bool drop)
{
    ax__msg *m;
    size_t n = 0;

    while ((m = pop(&L->inbox))) {
        m->run(L, m, drop);
        n++;
    }
    L->st.inbox_msgs += n;
    if (AX__UNLIKELY(L->pub.trace) && n)
        ax__trace_instant(L->pub.trace, "inbox", "hop", "msgs", (int64_t)n,
                          "loop", L->pub.index);
    if (L->tm.virtual_clock && n)
        atomic_fetch_sub_explicit(&L->rt->vinflight, (long)n,
                                  memory_order_seq_cst);
    return n;
}

/* Announce sleep; false means a message slipped in and the caller must not
 * block. */
bool ax__inbox_sleep(ax_loop *L)
{
    ax__inbox *q = &L->inbox;

    atomic_store_explicit(&q->sleeping, 1, memory_order_seq_cst);
    if (ax__inbox_busy(L)) {
        atomic_store_explicit(&q->sleeping, 0, memory_order_relaxed);
        return false;
    }
    return true;
}

void ax__inbox_awake(ax_loop *L)
{
    atomic_store_explicit(&L->inbox.sleeping, 0, memory_order_relaxed);
}

/* ---- posted calls --------------------------------------------------------- */

typedef struct post {
    ax__msg m;
    void (*fn)(void *);
    void *arg;
} post;

static void run_post(ax_loop *L, ax__msg *m, bool drop)
{
    post *p = (post *)m;

    if (!drop)
        p->fn(p->arg);
    ax__free(p);
    atomic_fetch_sub_explicit(&L->posts_queued, 1, memory_order_relaxed);
}

int ax_loop_post(ax_loop *loop, void (*fn)(void *arg), void *arg)
{
    post *p;

    if (!loop || !fn)
        return AX_EINVAL;
    p = ax__malloc(sizeof *p);
    if (!p)
        return AX_ENOMEM;
    /* Announce, then check: a closing loop sets `closed` and waits for
     * `posting` to drop to zero before its last drain, so every post that
     * returns 0 runs, and every later one sees AX_ESHUTDOWN. */
    atomic_fetch_add_explicit(&loop->posting, 1, memory_order_seq_cst);
    if (atomic_load_explicit(&loop->closed, memory_order_seq_cst)) {
        atomic_fetch_sub_explicit(&loop->posting, 1, memory_order_seq_cst);
        ax__free(p);
        return AX_ESHUTDOWN;
    }
    /* A place is taken before the node is queued and given back after it
     * ran, so the bound holds however many threads post at once. */
    if (atomic_fetch_add_explicit(&loop->posts_queued, 1,
                                  memory_order_relaxed) >= loop->max_posts) {
        atomic_fetch_sub_explicit(&loop->posts_queued, 1,
                                  memory_order_relaxed);
        atomic_fetch_sub_explicit(&loop->posting, 1, memory_order_seq_cst);
        ax__free(p);
        return AX_EAGAIN;
    }
    p->m.run = run_post;
    p->fn = fn;
    p->arg = arg;
    atomic_fetch_add_explicit(&loop->rt->posts, 1, memory_order_relaxed);
    if (!ax__tls_loop)
        atomic_store_explicit(&loop->foreign_posts, true,
                              memory_order_relaxed);
    ax__inbox_push(loop, &p->m);
    atomic_fetch_sub_explicit(&loop->posting, 1, memory_order_seq_cst);
    return 0;
}

/* The last thing a loop does before its reports: refuse new posts, wait
 * for the ones being made, and run what is queued. */
void ax__inbox_close(ax_loop *L)
{
    atomic_store_explicit(&L->closed, true, memory_order_seq_cst);
    while (atomic_load_explicit(&L->posting, memory_order_seq_cst))
        AX__CPU_RELAX();
    ax__inbox_drain(L, false);
}

/* A closure for the internal cross-loop operations that are not on a hot
 * path (cancel, complete, detach): one small allocation each. */
typedef struct call {
    ax__msg m;
    void (*fn)(ax_loop *L, void *a, void *b, int c, bool drop);
    void *a, *b;
    int c;
} call;

static void run_call(ax_loop *L, ax__msg *m, bool drop)
{
    call *k = (call *)m;

    k->fn(L, k->a, k->b, k->c, drop);
    ax__free(k);
}

int ax__post_call(ax_loop *to,
                  void (*fn)(ax_loop *L, void *a, void *b, int c, bool drop),
                  void *a, void *b, int c)
{
    call *k = ax__malloc(sizeof *k);

    if (!k)
        return AX_ENOMEM;
    k->m.run = run_call;
    k->fn = fn;
    k->a = a;
    k->b = b;
    k->c = c;
    ax__inbox_push(to, &k->m);
    return 0;
}
