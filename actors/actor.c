/* SPDX-License-Identifier: MIT */
/*
 * Actors: the ref table, mailboxes, send/recv, ask/reply.
 *
 * A ref is (generation << 32 | slot + 1). Slots live in chunks of 4096
 * that are allocated as needed and never move or go away before the
 * runtime does (type-stable), so a stale ref can always be checked against
 * its slot without touching freed memory. An ended actor's slot goes on a
 * runtime-wide FIFO free list and the next spawn takes it with the
 * generation bumped: a stale ref then fails the generation check. FIFO, so
 * a slot rests as long as possible before it is reused (senders holding a
 * stale ref have long moved on). A slot whose generation reaches
 * UINT32_MAX is retired rather than wrapped, so a generation never repeats
 * (192 bytes lost per 4 billion lives of one slot). At most AX__MAX_ACTORS
 * actors are alive at once.
 *
 * Reuse and senders of other loops: a sender checks the slot's word, takes
 * a place in the mailbox counter and routes by the slot's loop, each a
 * separate step, so it may act on a slot that has meanwhile been reused.
 * Every step is safe on a reused slot: the word, loop, cap and counter are
 * atomics that outlive any one actor; the envelope carries its own
 * generation (e->to), checked again on arrival, and whether it took a
 * place in the counter (e->counted), so a place is given back to the same
 * counter it was taken from whatever the new actor's capacity. Such a
 * stale place shows in the new actor's counter until the envelope arrives
 * and is refused, a moment's undercount of its room. A sender waiting for
 * room on a reused slot is woken by its new owner or at that owner's end,
 * and then sees the generation changed.
 *
 * Everything about an actor except its slot's state word, its loop index
 * and its mailbox counter is touched only on the actor's own loop. A send
 * from elsewhere travels as an envelope through that loop's inbox; the
 * owner checks the slot again when it arrives, so a message to an actor
 * that died meanwhile takes the undelivered path instead of being lost.
 */
#include "actors.h"

#include <assert.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#define CHUNK_BITS 12
#define CHUNK ((size_t)1 << CHUNK_BITS)
#define NCHUNKS ((size_t)1 << 10)
#define AX__MAX_ACTORS (CHUNK * NCHUNKS)
#define NAME_MAX_LEN 63

typedef struct envelope envelope;
typedef struct reply reply;
typedef struct sender_wait sender_wait;

/* 64 bytes, allocated on a cache-line boundary: a message crossing loops
 * then costs one line transfer, not two. In the mailbox the inbox link
 * m.next serves as the queue link. */
struct envelope {
    ax__msg m; /* first: the inbox node */
    ax_actor_ref to, from;
    int tag, reason;
    void *data;
    reply *rep;
    bool system;  /* DOWN/EXIT: not counted as messages */
    bool counted; /* holds a place in the slot's mailbox counter */
    uint8_t home; /* index of the loop whose allocator it came from */
};
_Static_assert(sizeof(envelope) <= 64, "an envelope fits a cache line");

#define ENV_CACHE 4096
#define ENV_BATCH 64

struct ax__env_batch;

/* The actors' state on one loop (ext.h slot): written by that loop only;
 * the counters are read by ax_actor_stats_get() from any loop. */
typedef struct actor_loop {
    ax__actors *A;
    envelope *env_cache; /* free envelopes, linked through their first word */
    size_t n_env_cache;
    struct ax__env_batch *env_ret; /* per home loop: envelopes to return */
    int nloops;
    atomic_ullong n_accepted, n_delivered, n_undelivered, n_dropped;
    /* Places in one mailbox taken for this loop's senders and not used
     * yet (see "backpressure"): any sender of the loop to cr_to uses them
     * first; what is left goes back when the round ends (cr_flush). */
    uint64_t cr_to;       /* the ref they were taken for */
    struct slot *cr_s;    /* whose counter holds them */
    long cr_n;
    long cr_b;            /* places to take at once for cr_to */
    unsigned cr_seq;      /* sends to cr_to one place at a time */
    bool cr_armed;        /* cr_flush is in this loop's inbox */
    ax__msg cr_flush;
    /* Batches of this loop's envelopes given back by other loops (linked
     * through m.next; each batch through data), taken when the cache is
     * empty. Written by other loops: a line of its own. */
    _Alignas(64) _Atomic(envelope *) env_back;
} actor_loop;

static ax__ext actors_ext;

static __attribute__((noinline)) actor_loop *AL_attach(ax_loop *L)
{
    return ax__ext_attach(&actors_ext) ? ax__ext_loop(L, &actors_ext) : NULL;
}

/* The calling loop's actor state, attaching the layer on first use.
 * NULL outside a loop or out of memory. On every message: inline. */
static inline actor_loop *AL(ax_loop *L)
{
    actor_loop *al;

    if (!L)
        return NULL;
    al = ax__ext_loop(L, &actors_ext);
    return al ? al : AL_attach(L);
}

/* Envelopes are made on the sender's loop and end on the receiver's. Freed
 * there, every cross-loop message would be a cross-thread free() (glibc
 * then spends more time in free, consolidation and memalign than axon
 * spends on the message). Instead the receiver collects them per home
 * loop and gives each batch of ENV_BATCH back to the home loop's env_back,
 * where its cache takes them when it runs dry. Not through the home loop's
 * inbox: that is drained only between rounds, and a sender streaming
 * without a pause (a fan-in whose mailbox never fills) would meanwhile
 * find its cache empty and malloc fresh envelopes, thousands per round,
 * only to free most of them when the batches came in. */
static void env_chain_put(actor_loop *al, envelope *e, bool drop);

/* Cache (or, dropping, free) batches linked through m.next. */
static void env_batches_put(actor_loop *al, envelope *b, bool drop)
{
    while (b) {
        envelope *next = (envelope *)atomic_load_explicit(
            &b->m.next, memory_order_relaxed);
        env_chain_put(al, b, drop);
        b = next;
    }
}

static envelope *env_get(ax_loop *L, actor_loop *al)
{
    envelope *e = al->env_cache;

    if (!e && atomic_load_explicit(&al->env_back, memory_order_relaxed)) {
        env_batches_put(al,
                        atomic_exchange_explicit(&al->env_back, NULL,
                                                 memory_order_acquire),
                        false);
        e = al->env_cache;
    }
    if (e) {
        al->env_cache = *(envelope **)e;
        al->n_env_cache--;
    } else if (!(e = ax__aligned_alloc(64, 64))) {
        return NULL;
    }
    e->home = (uint8_t)ax__loop_idx(L);
    return e;
}

static void env_cache_put(actor_loop *al, envelope *e)
{
    if (al->n_env_cache < ENV_CACHE) {
        *(envelope **)e = al->env_cache;
        al->env_cache = e;
        al->n_env_cache++;
        return;
    }
    ax__aligned_free(e);
}

/* Cache (or, dropping, free) a chain of envelopes linked through data. */
static void env_chain_put(actor_loop *al, envelope *e, bool drop)
{
    while (e) {
        envelope *next = e->data;
        if (drop)
            ax__aligned_free(e);
        else
            env_cache_put(al, e);
        e = next;
    }
}


/* Envelopes of one home loop waiting to go back (ax_loop.env_ret). */
struct ax__env_batch {
    envelope *head; /* linked through data */
    unsigned n;
};

static void env_put(ax_loop *L, envelope *e)
{
    int h = e->home;
    struct ax__env_batch *b;
    actor_loop *al = L ? AL(L) : NULL;

    if (!al) {
        ax__aligned_free(e);
        return;
    }
    if (h == ax__loop_idx(L) || h >= al->nloops) {
        env_cache_put(al, e);
        return;
    }
    if (!al->env_ret &&
        !(al->env_ret = ax__calloc((size_t)al->nloops, sizeof *al->env_ret))) {
        ax__aligned_free(e);
        return;
    }
    b = &al->env_ret[h];
    e->data = b->head;
    b->head = e;
    if (++b->n == ENV_BATCH) {
        actor_loop *home = ax__ext_loop(ax__loop_at(L, h), &actors_ext);
        envelope *old =
            atomic_load_explicit(&home->env_back, memory_order_relaxed);
        b->head = NULL;
        b->n = 0;
        do
            atomic_store_explicit(&e->m.next, (ax__msg *)old,
                                  memory_order_relaxed);
        while (!atomic_compare_exchange_weak_explicit(
            &home->env_back, &old, e, memory_order_release,
            memory_order_relaxed));
    }
}

static envelope *env_next(envelope *e)
{
    return (envelope *)atomic_load_explicit(&e->m.next, memory_order_relaxed);
}

static void env_set_next(envelope *e, envelope *n)
{
    atomic_store_explicit(&e->m.next, &n->m, memory_order_relaxed);
}

/* The pending answer of an ax_ask(). Owned by the asker's loop; the
 * replier fills status/value and sends it home. Once an actor has taken
 * the ask with ax_recv() it is also on that actor's list of asks it owes
 * (taker, tnext/tprev: the taker's loop only), so that its end can answer
 * the ones it dropped. Whoever wins `claimed` answers, exactly once. */
struct reply {
    ax__msg m;
    ax_future *f; /* NULL once the asker freed the future */
    ax_loop *home;
    int status;
    void *value;
    atomic_bool claimed;
    ax_loop *tloop;          /* the taker's loop; set by ax_recv() */
    struct ax__actor *taker; /* NULL once off the taker's list */
    reply *tnext, *tprev;
};

struct sender_wait {
    ax__msg m;
    sender_wait *next, *prev;
    ax_task *task;
    ax_loop *loop;
    long grant;  /* places taken for it by its waker; under the slot's lock */
    bool queued, woken;
    bool orphan; /* on the heap, its waiter gone: the wake frees it */
};

/* What every sender reads sits on the first cache line; the mailbox count,
 * written by sender and receiver alike, has a line of its own so that it
 * does not drag the read-mostly fields between CPUs. */
typedef struct slot {
    _Atomic uint64_t word; /* generation << 1 | alive */
    atomic_int loop;
    atomic_size_t cap;     /* 0: unbounded; read by stale senders too */
    struct ax__actor *actor;
    uint32_t free_next;    /* free list: next index + 1; under free_lock */
    _Alignas(64) atomic_long count; /* accepted, not yet received */
    atomic_int nwaiting;
    pthread_mutex_t lock;  /* guards the waiting senders */
    sender_wait *whead, *wtail;
} slot;

typedef struct watch {
    struct watch *next;
    ax_actor_ref who;
    bool link;
} watch;

struct ax__actor {
    ax_task *task;
    ax_loop *loop;
    ax_actor_ref ref;
    slot *s;
    ax_task_fn fn;
    void *arg;
    envelope *head, *tail;
    watch *watchers;
    reply *taken; /* asks taken by ax_recv() and not answered yet */
    int exit_reason; /* set by a linked actor's exit */
    bool receiving;
    bool trap_exits;
};

typedef struct regent {
    char name[NAME_MAX_LEN + 1];
    ax_actor_ref ref;
} regent;

struct ax__actors {
    _Atomic(slot *) chunks[NCHUNKS];
    pthread_mutex_t chunk_lock;
    atomic_size_t next;     /* slots ever made */
    pthread_mutex_t free_lock;
    uint32_t free_head, free_tail; /* index + 1; 0: empty */
    pthread_mutex_t reg_lock;
    regent *names;
    size_t nnames, capnames;
    _Atomic(ax_undelivered_fn) undelivered;
    _Atomic(ax_reply_dropped_fn) reply_dropped;
    int nloops;
    actor_loop **loops; /* for ax_actor_stats_get() */
};

/* ---- the layer's life (ext.h hooks) ------------------------------------- */

static void *actors_rt_new(int nloops)
{
    ax__actors *A = ax__calloc(1, sizeof *A);

    if (!A)
        return NULL;
    A->loops = ax__calloc((size_t)nloops, sizeof *A->loops);
    if (!A->loops) {
        ax__free(A);
        return NULL;
    }
    A->nloops = nloops;
    pthread_mutex_init(&A->chunk_lock, NULL);
    pthread_mutex_init(&A->free_lock, NULL);
    pthread_mutex_init(&A->reg_lock, NULL);
    return A;
}

static void *actors_loop_new(ax_loop *L, void *rt)
{
    ax__actors *A = rt;
    /* Its own cache lines: the counters are written on every message. */
    actor_loop *al = ax__aligned_alloc(64, (sizeof *al + 63) & ~(size_t)63);

    if (!al)
        return NULL;
    memset(al, 0, sizeof *al);
    al->A = A;
    al->nloops = A->nloops;
    A->loops[ax__loop_idx(L)] = al;
    return al;
}

static void actors_loop_term(ax_loop *L, void *ls, void *rt)
{
    actor_loop *al = ls;

    (void)rt;
    if (!al)
        return;
    while (al->env_cache) { /* linked through the first word */
        envelope *e = al->env_cache;
        al->env_cache = *(envelope **)e;
        ax__aligned_free(e);
    }
    if (al->env_ret) {
        for (int i = 0; i < al->nloops; i++)
            env_chain_put(NULL, al->env_ret[i].head, true);
        ax__free(al->env_ret);
    }
    env_batches_put(NULL, atomic_load(&al->env_back), true);
    ((ax__actors *)rt)->loops[ax__loop_idx(L)] = NULL;
    ax__aligned_free(al);
}

static void actors_rt_term(void *rt)
{
    ax__actors *A = rt;
    size_t used;

    if (!A)
        return;
    used = atomic_load(&A->next); /* may run past the table: bounded below */
    for (size_t c = 0; c < NCHUNKS; c++) {
        slot *ch = atomic_load(&A->chunks[c]);
        if (!ch)
            continue;
        for (size_t i = 0; i < CHUNK && c * CHUNK + i < used; i++)
            pthread_mutex_destroy(&ch[i].lock);
        ax__free(ch);
    }
    pthread_mutex_destroy(&A->chunk_lock);
    pthread_mutex_destroy(&A->free_lock);
    pthread_mutex_destroy(&A->reg_lock);
    ax__free(A->names);
    ax__free(A->loops);
    ax__free(A);
}

static ax__ext actors_ext = {
    .name = "actors",
    .rt_new = actors_rt_new,
    .loop_new = actors_loop_new,
    .loop_term = actors_loop_term,
    .rt_term = actors_rt_term,
};

/* The runtime's actor table, attaching the layer on first use. */
static ax__actors *ACT(ax_loop *L)
{
    actor_loop *al = AL(L);

    return al ? al->A : NULL;
}

int ax_actor_set_undelivered(ax_undelivered_fn fn)
{
    ax__actors *A = ACT(ax__loop_self());

    if (!ax__loop_self())
        return AX_EPERM;
    if (!A)
        return AX_ENOMEM;
    atomic_store_explicit(&A->undelivered, fn, memory_order_release);
    return 0;
}

int ax_actor_set_reply_dropped(ax_reply_dropped_fn fn)
{
    ax__actors *A = ACT(ax__loop_self());

    if (!ax__loop_self())
        return AX_EPERM;
    if (!A)
        return AX_ENOMEM;
    atomic_store_explicit(&A->reply_dropped, fn, memory_order_release);
    return 0;
}

int ax_actor_stats_get(ax_actor_stats *st)
{
    ax_loop *L = ax__loop_self();
    ax__actors *A;

    if (!st)
        return AX_EINVAL;
    if (!L)
        return AX_EPERM;
    memset(st, 0, sizeof *st);
    if (!(A = ax__ext_rt(L, &actors_ext)))
        return 0; /* no actor ever ran in this runtime */
    for (int i = 0; i < A->nloops; i++) {
        actor_loop *al = A->loops[i];
        st->msgs_accepted += atomic_load_explicit(&al->n_accepted,
                                                  memory_order_relaxed);
        st->msgs_delivered += atomic_load_explicit(&al->n_delivered,
                                                   memory_order_relaxed);
        st->msgs_undelivered += atomic_load_explicit(&al->n_undelivered,
                                                     memory_order_relaxed);
        st->replies_dropped += atomic_load_explicit(&al->n_dropped,
                                                    memory_order_relaxed);
    }
    return 0;
}

/* ---- refs --------------------------------------------------------------- */

static ax_actor_ref make_ref(size_t idx, uint32_t gen)
{
    return (ax_actor_ref){((uint64_t)gen << 32) | (uint64_t)(idx + 1)};
}

/* The slot a ref names, or NULL for a ref that never named anything. */
static inline slot *slot_of(ax__actors *A, ax_actor_ref ref)
{
    uint64_t idx = (ref.id & 0xffffffffu);

    slot *ch;

    if (!A || !idx || idx > AX__MAX_ACTORS)
        return NULL;
    idx--;
    ch = atomic_load_explicit(&A->chunks[idx >> CHUNK_BITS],
                              memory_order_acquire);
    return ch ? &ch[idx & (CHUNK - 1)] : NULL;
}

/* The slot for a freshly claimed index, allocating its chunk if needed. */
static slot *slot_make(ax__actors *A, size_t idx)
{
    _Atomic(slot *) *cp = &A->chunks[idx >> CHUNK_BITS];
    slot *ch = atomic_load_explicit(cp, memory_order_acquire);

    if (!ch) {
        pthread_mutex_lock(&A->chunk_lock);
        ch = atomic_load_explicit(cp, memory_order_relaxed);
        if (!ch) {
            ch = ax__calloc(CHUNK, sizeof *ch);
            if (ch)
                atomic_store_explicit(cp, ch, memory_order_release);
        }
        pthread_mutex_unlock(&A->chunk_lock);
    }
    if (!ch)
        return NULL;
    /* Made once, kept across reuses: a stale sender may hold it. */
    pthread_mutex_init(&ch[idx & (CHUNK - 1)].lock, NULL);
    return &ch[idx & (CHUNK - 1)];
}

static slot *slot_at(ax__actors *A, size_t idx)
{
    return &atomic_load_explicit(&A->chunks[idx >> CHUNK_BITS],
                                 memory_order_acquire)[idx & (CHUNK - 1)];
}

/* A slot for a new actor: the oldest ended one, or a fresh one. *gen
 * receives the generation the new actor gets. */
static slot *slot_alloc(ax__actors *A, size_t *idx, uint32_t *gen)
{
    size_t i;

    pthread_mutex_lock(&A->free_lock);
    if (A->free_head) {
        slot *s;
        i = A->free_head - 1;
        s = slot_at(A, i);
        A->free_head = s->free_next;
        if (!A->free_head)
            A->free_tail = 0;
        pthread_mutex_unlock(&A->free_lock);
        *idx = i;
        *gen = (uint32_t)(atomic_load_explicit(&s->word,
                                                memory_order_relaxed) >> 1) + 1;
        return s;
    }
    pthread_mutex_unlock(&A->free_lock);
    i = atomic_fetch_add_explicit(&A->next, 1, memory_order_relaxed);
    if (i >= AX__MAX_ACTORS)
        return NULL;
    *idx = i;
    *gen = 1;
    return slot_make(A, i);
}

/* Return a dead slot (its word already says so) for reuse, unless its
 * generation is spent. */
static void slot_free(ax__actors *A, slot *s, size_t idx)
{
    uint32_t i1 = (uint32_t)idx + 1;

    if ((atomic_load_explicit(&s->word, memory_order_relaxed) >> 1) >=
        UINT32_MAX)
        return; /* retired: a generation never repeats */
    s->actor = NULL;
    s->free_next = 0;
    pthread_mutex_lock(&A->free_lock);
    if (A->free_tail)
        slot_at(A, A->free_tail - 1)->free_next = i1;
    else
        A->free_head = i1;
    A->free_tail = i1;
    pthread_mutex_unlock(&A->free_lock);
}

static bool alive(slot *s, ax_actor_ref ref)
{
    uint64_t w = atomic_load_explicit(&s->word, memory_order_acquire);

    return (w & 1) && (w >> 1) == (ref.id >> 32);
}

bool ax_actor_alive(ax_actor_ref ref)
{
    ax__actors *A = ax__ext_rt(ax__loop_self(), &actors_ext);
    slot *s;

    if (!A || !ref.id)
        return false;
    s = slot_of(A, ref);
    return s && alive(s, ref);
}

static ax__actor *self_actor(void)
{
    ax_task *t = ax__task_self();

    return t ? ax__task_owner(t) : NULL;
}

ax_actor_ref ax_actor_self(void)
{
    ax__actor *a = self_actor();

    return a ? a->ref : AX_ACTOR_NONE;
}

/* ---- the undelivered path ------------------------------------------------ */

static void reply_send(reply *r, int status, void *value);

/* A message accepted by ax_send() that will never be received: hand the
 * payload to the application's hook, answer a pending ask with the reason,
 * count it. Runs on whichever loop found out. */
static void undeliver(ax_loop *L, envelope *e, int reason)
{
    actor_loop *al = ax__ext_loop(L, &actors_ext);

    if (!e->system) {
        ax_undelivered_fn fn = atomic_load_explicit(&al->A->undelivered,
                                                    memory_order_acquire);
        AX__COUNT(al->n_undelivered);
        if (fn)
            fn(e->tag, e->data, reason);
    }
    if (e->rep)
        reply_send(e->rep, reason, NULL);
    env_put(ax__loop_self() == L ? L : NULL, e);
}

/* ---- backpressure --------------------------------------------------------- */

/*
 * A bounded mailbox is fair: room goes to the waiting senders in the order
 * they came, and a sender that finds others waiting queues behind them
 * rather than taking room freed meanwhile. Whoever frees room (the
 * receiver, or a sender giving places back) grants it once the mailbox has
 * drained to half: it takes the free places in the counter on the
 * waiters' behalf, an equal share each, and wakes them. A woken sender
 * owns its share, so no sender of a nearer loop can take it first (before
 * this, senders on the receiver's loop, woken at once, took the room that
 * those of other loops, woken through an inbox hop, had been woken for,
 * and a fan-in across loops ran as two phases, one loop at a time).
 *
 * One wake covers a batch of sends: the woken sender uses one place and
 * leaves the rest to its loop (actor_loop.cr_*), where every sender to the
 * same ref uses them before the counter. What the loop has not used when
 * its round ends goes back to the counter (cr_flush_run, queued on the
 * loop's own inbox, which runs before the loop could sleep), and so does
 * what it holds for one ref when a grant for another comes in.
 *
 * The bound counts granted and held places as taken: the counter never
 * passes cap, except for a moment in reserve() by a sender that then gives
 * its place straight back. Places go back to the counter they came from
 * (the slot's, type-stable) and are only used for the ref they were taken
 * for, so grants and held places are safe on a reused slot: a stale one
 * returns as a stale envelope's place does (top of the file).
 */

static void release_room_n(slot *s, long n);

static void sender_wake_run(ax_loop *L, ax__msg *m, bool drop)
{
    sender_wait *w = (sender_wait *)m;

    (void)L;
    (void)drop;
    if (w->orphan) {
        ax__free(w);
        return;
    }
    w->woken = true;
    ax__wake(w->task, 0);
}

static void unqueue(slot *s, sender_wait *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        s->whead = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        s->wtail = w->prev;
    w->queued = false;
    atomic_fetch_sub_explicit(&s->nwaiting, 1, memory_order_seq_cst);
}

/* Under the slot's lock: take @w off the queue and wake it. The caller's
 * own record (it granted places to itself) is only marked. */
static void wake_one(slot *s, sender_wait *w, ax_loop *L, ax_task *self)
{
    unqueue(s, w);
    if (w->task == self && w->loop == L) {
        w->woken = true;
    } else if (w->loop == L) {
        w->woken = true;
        ax__wake(w->task, 0);
    } else {
        w->m.run = sender_wake_run;
        ax__inbox_push(w->loop, &w->m);
    }
}

/* The actor is gone (or its slot reused unbounded): wake every waiting
 * sender without a grant; each sees the new state itself. */
static void wake_all(slot *s)
{
    ax_loop *L = ax__loop_self();
    ax_task *self = ax__task_self();

    if (!atomic_load_explicit(&s->nwaiting, memory_order_seq_cst))
        return;
    pthread_mutex_lock(&s->lock);
    while (s->whead)
        wake_one(s, s->whead, L, self);
    pthread_mutex_unlock(&s->lock);
}

/* Hand the mailbox's free places to the waiting senders, first come first
 * served, an equal share each (at least one while places last). */
static void grant_waiters(slot *s)
{
    ax_loop *L;
    ax_task *self;
    long cap, c;
    int n;

    if (!atomic_load_explicit(&s->nwaiting, memory_order_seq_cst))
        return;
    L = ax__loop_self();
    self = ax__task_self();
    pthread_mutex_lock(&s->lock);
    cap = (long)atomic_load_explicit(&s->cap, memory_order_relaxed);
    n = atomic_load_explicit(&s->nwaiting, memory_order_relaxed);
    c = atomic_load_explicit(&s->count, memory_order_seq_cst);
    while (s->whead && n > 0 && c < cap) {
        long k = (cap - c) / n;
        if (k < 1)
            k = 1;
        /* Senders that found no one waiting take places without the
         * lock: a failed exchange reloads c. */
        if (!atomic_compare_exchange_weak_explicit(&s->count, &c, c + k,
                                                   memory_order_seq_cst,
                                                   memory_order_seq_cst))
            continue;
        c += k;
        s->whead->grant = k;
        wake_one(s, s->whead, L, self);
        n--;
    }
    pthread_mutex_unlock(&s->lock);
}

/* Give back @n places (n > 0). Waking senders per message taken would cost
 * a cross-thread wake per message whenever senders outrun the receiver:
 * they get room in a batch, as much as there is, once the mailbox has
 * drained to half. No wake is lost: while more than half is counted, that
 * many places are still to be given back (messages the receiver has to
 * take, places held or granted, each returned in turn), or the actor ends,
 * which wakes everyone. Stale places of a reused slot (see the top of the
 * file) only delay a grant: each is given back here in turn. */
static void release_room_n(slot *s, long n)
{
    long c, cap;

    c = atomic_fetch_sub_explicit(&s->count, n, memory_order_seq_cst) - n;
    cap = (long)atomic_load_explicit(&s->cap, memory_order_relaxed);
    if (!cap) /* a stale place, the slot reused unbounded */
        wake_all(s);
    else if (c <= cap / 2)
        grant_waiters(s);
}

static void release_room(slot *s, bool counted)
{
    if (counted)
        release_room_n(s, 1);
}

/* Give back the places this loop holds. */
static void cr_return(actor_loop *al)
{
    long n = al->cr_n;

    if (n) {
        al->cr_n = 0;
        release_room_n(al->cr_s, n);
    }
}

/* The loop's senders now send to @to: give back what it holds for
 * another ref, and start again with one place at a time. */
static void cr_switch(actor_loop *al, slot *s, ax_actor_ref to)
{
    cr_return(al);
    al->cr_to = to.id;
    al->cr_s = s;
    al->cr_b = 1;
    al->cr_seq = 0;
}

/* The round in which places were left to the loop has ended. */
static void cr_flush_run(ax_loop *L, ax__msg *m, bool drop)
{
    actor_loop *al =
        (actor_loop *)(void *)((char *)m - offsetof(actor_loop, cr_flush));

    (void)L;
    al->cr_armed = false;
    if (drop) { /* the runtime is gone: no one left to wake */
        if (al->cr_n)
            atomic_fetch_sub_explicit(&al->cr_s->count, al->cr_n,
                                      memory_order_seq_cst);
        al->cr_n = 0;
        return;
    }
    /* Half a batch or more unused: the loop's senders send less than
     * it takes at once. */
    if (2 * al->cr_n >= al->cr_b && al->cr_b > 1)
        al->cr_b /= 2;
    cr_return(al);
}

/* Leave @n granted places in @s (for @to) to the loop until its round
 * ends. */
static void cr_keep(ax_loop *L, actor_loop *al, slot *s, ax_actor_ref to,
                    long n)
{
    if (al->cr_to != to.id)
        cr_switch(al, s, to);
    al->cr_n += n;
    if (!al->cr_armed) {
        al->cr_armed = true;
        al->cr_flush.run = cr_flush_run;
        ax__inbox_push(L, &al->cr_flush);
    }
}

/* Queue behind the senders already waiting, and wait until places are
 * granted (0, *grant > 0), the sender is cancelled (AX_ECANCELED), the
 * deadline passes (AX_ETIMEDOUT) or the actor is gone (AX_ESRCH). 0 with
 * *grant == 0: woken without places (the slot changed), look again. On an
 * error no place is held. */
static int wait_for_room(ax_task *t, slot *s, ax_actor_ref to,
                         int64_t deadline, long *grant)
{
    sender_wait on_stack = {.task = t, .loop = ax__task_loop(t)}, *w;
    long cap;
    bool queued;
    int rc = 0;

    *grant = 0;
    /* Others write the record while the task waits: a task on the
     * shared stack, whose stack is copied away meanwhile, keeps it on
     * the heap instead. */
    if (ax__task_shared(t)) {
        if (!(w = ax__malloc(sizeof *w)))
            return AX_ENOMEM;
        *w = on_stack;
    } else {
        w = &on_stack;
    }
    pthread_mutex_lock(&s->lock);
    w->prev = s->wtail;
    if (s->wtail)
        s->wtail->next = w;
    else
        s->whead = w;
    s->wtail = w;
    w->queued = true;
    atomic_fetch_add_explicit(&s->nwaiting, 1, memory_order_seq_cst);
    pthread_mutex_unlock(&s->lock);
    /* Whoever frees room gives places back and then looks for waiters; we
     * queued and now look at the room: one of us sees the other (both
     * seq_cst). Room to spare is granted in order, maybe to us. */
    cap = (long)atomic_load_explicit(&s->cap, memory_order_relaxed);
    if (cap && alive(s, to)) { /* otherwise look again, not waiting */
        if (atomic_load_explicit(&s->count, memory_order_seq_cst) <= cap / 2)
            grant_waiters(s);
        pthread_mutex_lock(&s->lock);
        queued = w->queued;
        pthread_mutex_unlock(&s->lock);
        if (queued)
            rc = ax__wait_shs(t, deadline, "sending to a full mailbox");
    }
    pthread_mutex_lock(&s->lock);
    if (w->queued)
        unqueue(s, w);
    *grant = w->grant;
    pthread_mutex_unlock(&s->lock);
    /* A wake may be in flight from another loop, pointing at w. On the
     * heap, w is left to it (it runs on this loop, so no lock is needed);
     * on the stack, wait for it. */
    if (!w->woken && w->m.run == sender_wake_run) {
        if (w != &on_stack) {
            w->orphan = true;
            w = NULL;
        } else {
            bool was = ax__shield(true);
            while (!w->woken)
                ax__wait(t, -1, "sending to a full mailbox");
            ax__shield(was);
        }
    }
    if (w != &on_stack)
        ax__free(w);
    if (!rc && !alive(s, to))
        rc = AX_ESRCH;
    if (rc && *grant) {
        release_room_n(s, *grant);
        *grant = 0;
    }
    return rc;
}

/* How many places a sender of @L takes from @s's counter at once: one
 * on the actor's own loop (the counter's line stays there anyway) and in
 * a small mailbox, otherwise a batch that doubles each time the loop uses
 * one up (reserve()) and halves when half of one goes back unused
 * (cr_flush_run). At one place, every CR_PROBE-th send in a row that
 * finds a batch's worth queued tries two, so that a stream of sends finds
 * its way back to batches. A ping-pong or a ring thus stays at one place
 * per message (no flush per round, no probe), while a loop
 * streaming to one actor moves the counter's line once per CR_MAX
 * messages instead of twice per message. */
#define CR_MAX 32
#define CR_PROBE 16

static long cr_batch(actor_loop *al, slot *s, ax_actor_ref to, long cap)
{
    long b, max = cap / 16;

    if (al->cr_to != to.id) {
        al->cr_to = to.id;
        al->cr_s = s;
        al->cr_b = 1;
        al->cr_seq = 0;
    }
    b = al->cr_b;
    if (b == 1) {
        if (++al->cr_seq < CR_PROBE)
            return 1;
        al->cr_seq = 0;
        b = 2;
    }
    return b < max ? b : max < CR_MAX ? max : CR_MAX;
}

/* reserve() beyond its fast path: batches, waiting. */
static __attribute__((noinline)) int
reserve_slow(ax_loop *L, actor_loop *al, ax_task *t, slot *s, ax_actor_ref to,
             bool may_wait, int64_t deadline, bool *counted)
{
    for (;;) {
        size_t cap = atomic_load_explicit(&s->cap, memory_order_relaxed);
        long c, grant;
        int rc;
        if (!cap)
            return 0;
        /* With senders waiting, one that may wait queues behind them. */
        if (!may_wait || !t ||
            !atomic_load_explicit(&s->nwaiting, memory_order_relaxed)) {
            long b = cap >= 32 && atomic_load_explicit(&s->loop,
                                                       memory_order_relaxed) !=
                                          ax__loop_idx(L)
                         ? cr_batch(al, s, to, (long)cap)
                         : 1;
            if (b > 1) {
                /* A batch takes only what is free: a transient excess
                 * would refuse other senders room that is there. */
                c = atomic_load_explicit(&s->count, memory_order_relaxed);
                while (c < (long)cap) {
                    long got = (long)cap - c < b ? (long)cap - c : b;
                    if (atomic_compare_exchange_weak_explicit(
                            &s->count, &c, c + got, memory_order_seq_cst,
                            memory_order_relaxed)) {
                        *counted = true;
                        if (got > 1)
                            cr_keep(L, al, s, to, got - 1);
                        return 0;
                    }
                }
                if (!may_wait || !t)
                    return AX_EAGAIN;
                goto wait;
            }
            c = atomic_fetch_add_explicit(&s->count, 1, memory_order_seq_cst);
            if (c < (long)cap) {
                /* The receiver keeps up (less than a batch queued): no
                 * probe, so a ping-pong stays at one place a message. */
                if (c < CR_MAX)
                    al->cr_seq = 0;
                *counted = true;
                return 0;
            }
            /* Undo through release_room_n(): one who gave a place back
             * while this transient one was counted may have skipped the
             * grant it would otherwise have made. */
            release_room_n(s, 1);
            if (!may_wait || !t)
                return AX_EAGAIN;
        }
    wait:
        if (ax__dl_passed(ax__task_loop(t), deadline))
            return AX_ETIMEDOUT;
        rc = wait_for_room(t, s, to, deadline, &grant);
        if (rc)
            return rc;
        if (grant) {
            *counted = true;
            if (grant > 1)
                cr_keep(L, al, s, to, grant - 1);
            return 0;
        }
    }
}

/* Take a place in the mailbox, waiting for one if allowed; *counted says
 * whether one was taken (none in an unbounded mailbox). Inline, the path
 * of every message: one place from the counter when no one waits (a
 * small mailbox, or a sender on the actor's own loop), or one the loop
 * holds. */
static inline int reserve(ax_loop *L, actor_loop *al, ax_task *t, slot *s,
                          ax_actor_ref to, bool may_wait, int64_t deadline,
                          bool *counted)
{
    size_t cap;

    *counted = false;
    if (__builtin_expect(al->cr_n != 0, 0)) {
        if (al->cr_to == to.id) {
            if (!--al->cr_n && al->cr_b < CR_MAX)
                al->cr_b *= 2;
            *counted = true;
            return 0;
        }
        cr_return(al); /* sending elsewhere now */
    }
    cap = atomic_load_explicit(&s->cap, memory_order_relaxed);
    if (!cap)
        return 0;
    if ((cap < 32 || atomic_load_explicit(&s->loop, memory_order_relaxed) ==
                         ax__loop_idx(L)) &&
        !atomic_load_explicit(&s->nwaiting, memory_order_relaxed)) {
        if (atomic_fetch_add_explicit(&s->count, 1, memory_order_seq_cst) <
            (long)cap) {
            *counted = true;
            return 0;
        }
        release_room_n(s, 1); /* as in reserve_slow() */
        if (!may_wait || !t)
            return AX_EAGAIN;
    }
    return reserve_slow(L, al, t, s, to, may_wait, deadline, counted);
}

/* ---- delivery ------------------------------------------------------------- */

/* On the actor's loop; @s is the slot of e->to (NULL: none). */
static void deliver_to(ax_loop *L, slot *s, envelope *e)
{
    ax__actor *a;

    if (!s || !alive(s, e->to)) {
        if (s)
            release_room(s, e->counted);
        undeliver(L, e, AX_ESRCH);
        return;
    }
    a = s->actor;
    atomic_store_explicit(&e->m.next, NULL, memory_order_relaxed);
    if (a->tail)
        env_set_next(a->tail, e);
    else
        a->head = e;
    a->tail = e;
    if (a->receiving)
        ax__wake(a->task, 0);
}

static void deliver_run(ax_loop *L, ax__msg *m, bool drop)
{
    envelope *e = (envelope *)m;

    if (drop) {
        undeliver(L, e, AX_ESHUTDOWN);
        return;
    }
    deliver_to(L, slot_of(ACT(L), e->to), e);
}

static void route(ax_loop *L, slot *s, envelope *e)
{
    int owner = atomic_load_explicit(&s->loop, memory_order_acquire);

    if (owner == ax__loop_idx(L)) {
        deliver_to(L, s, e);
    } else {
        e->m.run = deliver_run;
        ax__inbox_push(ax__loop_at(L, owner), &e->m);
    }
}

static int send_reason(ax_actor_ref to, int tag, int reason, void *data,
                       reply *rep, bool may_wait, int64_t deadline)
{
    ax_loop *L = ax__loop_self();
    ax_task *t = ax__task_self();
    ax__actor *me = t ? ax__task_owner(t) : NULL;
    actor_loop *al;
    envelope *e;
    slot *s;

    ax__ext_trace(rep ? "ask" : "send", "to", (int64_t)to.id, "tag", tag);
    bool counted;
    int rc;

    if (!to.id || ax__dl_invalid(deadline))
        return AX_EINVAL;
    if (!L)
        return AX_EPERM;
    if (!(al = AL(L)))
        return AX_ENOMEM;
    s = slot_of(al->A, to);
    if (!s || !alive(s, to))
        return AX_ESRCH;
    rc = reserve(L, al, t, s, to, may_wait, deadline, &counted);
    if (rc)
        return rc;
    e = env_get(L, al);
    if (!e) {
        release_room(s, counted);
        return AX_ENOMEM;
    }
    e->to = to;
    e->from = me ? me->ref : AX_ACTOR_NONE;
    e->tag = tag;
    e->reason = reason;
    e->data = data;
    e->rep = rep;
    e->system = false;
    e->counted = counted;
    AX__COUNT(al->n_accepted);
    route(L, s, e);
    return 0;
}

static int send_common(ax_actor_ref to, int tag, void *data, reply *rep,
                       bool may_wait, int64_t deadline)
{
    return send_reason(to, tag, 0, data, rep, may_wait, deadline);
}

/* A DOWN from something that is not a local actor (a remote one): a user
 * message in every respect (bounded, counted, its payload handed to the
 * undelivered hook if lost) that only looks like a monitor's notice. */
int ax_send_down(ax_actor_ref to, int reason, void *data)
{
    if (reason > 0)
        return AX_EINVAL;
    return send_reason(to, AX_MSG_DOWN, reason, data, NULL, false,
                       AX_NO_DEADLINE);
}

int ax_send(ax_actor_ref to, int tag, void *data)
{
    return send_common(to, tag, data, NULL, true, AX_NO_DEADLINE);
}

int ax_send_dl(ax_actor_ref to, int tag, void *data, int64_t deadline)
{
    return send_common(to, tag, data, NULL, true, deadline);
}

int ax_try_send(ax_actor_ref to, int tag, void *data)
{
    return send_common(to, tag, data, NULL, false, AX_NO_DEADLINE);
}

/* DOWN and EXIT notices: never bounded, never counted as user messages. */
static void send_system(ax_loop *L, ax_actor_ref to, int tag,
                        ax_actor_ref from, int reason)
{
    actor_loop *al = AL(L);
    slot *s = al ? slot_of(al->A, to) : NULL;
    envelope *e;

    if (!s || !alive(s, to))
        return;
    e = env_get(L, al);
    if (!e)
        return; /* out of memory: the notice is lost, nothing else */
    memset(e, 0, sizeof *e);
    e->home = (uint8_t)ax__loop_idx(L);
    e->to = to;
    e->from = from;
    e->tag = tag;
    e->reason = reason;
    e->system = true;
    route(L, s, e);
}

int ax_recv(ax_msg *out, double timeout)
{
    ax_task *t = ax__task_self();
    int64_t dl = AX_NO_DEADLINE;
    int rc;

    if (!out || isnan(timeout))
        return AX_EINVAL;
    /* No timeout (the common case) needs no clock. */
    if (timeout >= 0) {
        if (!t || !ax__task_owner(t))
            return AX_ENOTACTOR;
        rc = ax__timeout_to_dl(ax__task_loop(t), timeout, false, &dl);
        if (rc)
            return rc;
    }
    return ax_recv_dl(out, dl);
}

int ax_recv_dl(ax_msg *out, int64_t deadline)
{
    ax__actor *a = self_actor();
    ax_task *t = ax__task_self();
    envelope *e;
    int rc = 0;

    if (!out || ax__dl_invalid(deadline))
        return AX_EINVAL;
    if (!a)
        return AX_ENOTACTOR;
    if (!a->head) {
        if (ax__dl_passed(ax__task_loop(t), deadline))
            return AX_ETIMEDOUT;
        a->receiving = true;
        while (!a->head && !rc)
            rc = ax__wait_shs(t, deadline, "receiving");
        a->receiving = false;
        if (!a->head)
            return rc;
        if (rc == AX_ECANCELED)
            ax__cancel_later(t); /* deliver it next time */
    }
    e = a->head;
    a->head = env_next(e);
    if (!a->head)
        a->tail = NULL;
    out->tag = e->tag;
    out->reason = e->reason;
    out->data = e->data;
    out->from = e->from;
    out->reply_ = e->rep;
    if (e->rep) { /* owed until answered; the actor's end answers it */
        reply *r = e->rep;
        r->tloop = a->loop;
        r->taker = a;
        r->tprev = NULL;
        r->tnext = a->taken;
        if (a->taken)
            a->taken->tprev = r;
        a->taken = r;
    }
    if (!e->system) {
        AX__COUNT(AL(a->loop)->n_delivered);
        release_room(a->s, e->counted);
    }
    env_put(a->loop, e);
    return 0;
}

/* ---- ask / reply -------------------------------------------------------- */

#define REPLIED ((void *)1)

static void reply_home(ax_loop *L, ax__msg *m, bool drop)
{
    reply *r = (reply *)m;

    ax_future *f = r->f;

    if (f) {
        ax__future_on_free(f, NULL, NULL);
        r->f = NULL;
    }
    /* A future freed, cancelled (a gather over asks that failed fast) or
     * timed out no longer wants the reply: count it, as for a gone asker. */
    if (f && !drop && !ax_future_done(f)) {
        ax__future_complete(f, r->status, r->status ? NULL : r->value);
    } else {
        actor_loop *al = ax__ext_loop(L, &actors_ext);
        ax_reply_dropped_fn fn = atomic_load_explicit(&al->A->reply_dropped,
                                                      memory_order_acquire);
        AX__COUNT(al->n_dropped);
        if (fn && !r->status)
            fn(r->value);
    }
    ax__free(r);
}

static void reply_send(reply *r, int status, void *value)
{
    r->status = status;
    r->value = value;
    r->m.run = reply_home;
    ax__inbox_push(r->home, &r->m);
}

/* Off the taker's list; on the taker's loop. */
static void untrack(reply *r)
{
    ax__actor *a = r->taker;

    if (!a)
        return;
    if (r->tprev)
        r->tprev->tnext = r->tnext;
    else
        a->taken = r->tnext;
    if (r->tnext)
        r->tnext->tprev = r->tprev;
    r->taker = NULL;
}

/* An answer given on another loop than the taker's goes home by way of
 * the taker's loop, which takes it off the taker's list first. */
static void reply_via_taker(ax_loop *L, ax__msg *m, bool drop)
{
    reply *r = (reply *)m;

    if (drop) {
        reply_home(L, m, true);
        return;
    }
    untrack(r);
    r->m.run = reply_home;
    ax__inbox_push(r->home, &r->m);
}

/* The asker freed its future: a reply still on its way is dropped when it
 * arrives. Called by ax_future_free() on the future's loop. */
static void ask_forget(ax_future *f, void *arg)
{
    reply *r = arg;

    (void)f;
    r->f = NULL;
}

int ax_ask(ax_actor_ref to, int tag, void *data, ax_future **out)
{
    return ax_ask_dl(to, tag, data, AX_NO_DEADLINE, out);
}

int ax_ask_dl(ax_actor_ref to, int tag, void *data, int64_t deadline,
              ax_future **out)
{
    ax__actor *me = self_actor();
    ax_future *f;
    reply *r;
    int rc;

    if (!out || ax__dl_invalid(deadline))
        return AX_EINVAL;
    if (me && to.id == me->ref.id)
        return AX_EDEADLK;
    rc = ax_future_new(&f);
    if (rc)
        return rc;
    r = ax__calloc(1, sizeof *r);
    if (!r) {
        ax_future_free(f);
        return AX_ENOMEM;
    }
    r->f = f;
    r->home = ax__loop_self();
    ax__future_on_free(f, ask_forget, r);
    rc = send_common(to, tag, data, r, true, deadline);
    if (rc) {
        ax__future_on_free(f, NULL, NULL);
        ax__free(r);
        ax_future_free(f);
        return rc;
    }
    *out = f;
    return 0;
}

int ax_call(ax_actor_ref to, int tag, void *data, double timeout,
            void **value)
{
    ax_task *t = ax__task_self();
    int64_t dl;
    int rc;

    if (!t)
        return AX_ENOTTASK;
    if (isnan(timeout))
        return AX_EINVAL;
    rc = ax__timeout_to_dl(ax__task_loop(t), timeout, true, &dl);
    return rc ? rc : ax_call_dl(to, tag, data, dl, value);
}

/* One deadline bounds both the wait for mailbox room and the wait for the
 * answer, which is the point of the _dl form. */
int ax_call_dl(ax_actor_ref to, int tag, void *data, int64_t deadline,
               void **value)
{
    ax_future *f;
    int rc;

    if (!ax__task_self())
        return AX_ENOTTASK;
    rc = ax_ask_dl(to, tag, data, deadline, &f);
    if (rc)
        return rc;
    rc = ax_await_future_dl(f, deadline, value);
    ax_future_free(f);
    return rc;
}

static int answer(ax_msg *m, int status, void *value)
{
    if (!m || !m->reply_)
        return AX_EINVAL;
    if (m->reply_ == REPLIED)
        return AX_EALREADY;
    ax_loop *L = ax__loop_self();
    reply *r;

    if (!L)
        return AX_EPERM;
    r = m->reply_;
    m->reply_ = REPLIED;
    if (atomic_exchange_explicit(&r->claimed, true, memory_order_acq_rel))
        return AX_EALREADY;
    if (!r->tloop || r->tloop == L) {
        untrack(r);
        reply_send(r, status, value);
    } else {
        r->status = status;
        r->value = value;
        r->m.run = reply_via_taker;
        ax__inbox_push(r->tloop, &r->m);
    }
    return 0;
}

int ax_reply(ax_msg *m, void *value) { return answer(m, 0, value); }

int ax_reply_error(ax_msg *m, int code)
{
    if (code >= 0)
        return AX_EINVAL;
    return answer(m, code, NULL);
}

/* ---- life and death --------------------------------------------------------- */

static void actor_ended(ax_loop *L, ax__actor *a, int reason);

static void *actor_body(void *arg)
{
    ax__actor *a = arg;
    ax_task *t = ax__task_self();
    void *r;
    int reason;

    ax__task_set_owner(t, a);
    r = a->fn(a->arg);
    reason = ax__task_status(t);
    if (reason == AX_ECANCELED && a->exit_reason)
        reason = a->exit_reason;
    actor_ended(ax__task_loop(t), a, reason);
    ax__task_set_owner(t, NULL);
    /* An actor's exit reason goes to its monitors and links; it is not an
     * unretrieved failure. */
    ax__task_retrieved(t);
    if (reason && reason != ax__task_status(t))
        return ax_task_fail(reason);
    return r;
}

/* The actor's task got no stack on its loop and ends without running
 * actor_body(): end the actor here instead, with that status, so that its
 * slot is freed, its mail is undelivered, its askers are answered and its
 * watchers hear (a supervisor then restarts it). */
static void actor_unrun(void *arg, int status)
{
    actor_ended(ax__loop_self(), arg, status);
}

static void actor_ended(ax_loop *L, ax__actor *a, int reason)
{
    slot *s = a->s;
    envelope *e;
    watch *w;
    reply *r;

    atomic_store_explicit(&s->word, (a->ref.id >> 32) << 1,
                          memory_order_seq_cst);
    /* Asks it took and never answered fail now, not at the asker's
     * timeout. One claimed by an answer from another loop is on its way
     * here (reply_via_taker) and only leaves the list. */
    while ((r = a->taken)) {
        untrack(r);
        if (!atomic_exchange_explicit(&r->claimed, true,
                                      memory_order_acq_rel))
            reply_send(r, AX_ESRCH, NULL);
    }
    while ((e = a->head)) {
        a->head = env_next(e);
        release_room(s, e->counted);
        undeliver(L, e, AX_ESRCH);
    }
    a->tail = NULL;
    wake_all(s);
    while ((w = a->watchers)) {
        a->watchers = w->next;
        if (!w->link)
            send_system(L, w->who, AX_MSG_DOWN, a->ref, reason);
        else if (reason)
            ax__link_exit(L, w->who, a->ref, reason);
        ax__free(w);
    }
    slot_free(ACT(L), s, (size_t)(a->ref.id & 0xffffffffu) - 1);
    ax__free(a);
}

int ax_actor_spawn(ax_actor_ref *out, ax_task_fn fn, void *arg,
                   const ax_actor_opts *opts)
{
    ax_loop *L = ax__loop_self();
    ax_loop *loop = opts ? opts->loop : NULL;
    ax_task_opts topts = {0};
    ax_actor_ref ref;
    ax__actors *A;
    ax__actor *a;
    size_t idx = AX__MAX_ACTORS;
    uint32_t gen;
    slot *s;
    int rc;

    if (!fn)
        return AX_EINVAL;
    if (!L)
        return AX_EPERM;
    if (!loop)
        loop = L;
    if (!ax__same_runtime(loop, L))
        return AX_EINVAL;
    if (ax__runtime_stopping(L))
        return AX_ESHUTDOWN;
    if (!(A = ACT(L)))
        return AX_ENOMEM;
    a = ax__calloc(1, sizeof *a);
    if (!a)
        return AX_ENOMEM;
    a->fn = fn;
    a->arg = arg;
    a->trap_exits = opts && opts->trap_exits;
    /* Fill the slot, then publish it with its word. */
    s = slot_alloc(A, &idx, &gen);
    if (!s) {
        ax__free(a);
        return idx >= AX__MAX_ACTORS ? AX_EAGAIN : AX_ENOMEM;
    }
    atomic_store_explicit(&s->cap,
                          opts && opts->unbounded ? 0
                          : opts && opts->capacity ? opts->capacity
                                                   : AX_MAILBOX_DEFAULT,
                          memory_order_relaxed);
    s->actor = a;
    a->s = s;
    a->ref = make_ref(idx, gen);
    atomic_store_explicit(&s->loop, ax__loop_idx(loop), memory_order_relaxed);
    atomic_store_explicit(&s->word, (uint64_t)gen << 1 | 1,
                          memory_order_release);
    topts.name = opts ? opts->name : NULL;
    topts.stack_size = opts ? opts->stack_size : 0;
    topts.shared_stack = opts && opts->shared_stack;
    a->loop = loop;
    ref = a->ref; /* a may be gone as soon as the task can run */
    rc = ax__spawn_on(loop, &a->task, false, actor_body, a, &topts,
                      actor_unrun);
    if (rc) {
        atomic_store_explicit(&s->word, (uint64_t)gen << 1,
                              memory_order_release);
        slot_free(A, s, idx);
        ax__free(a);
        return rc;
    }
    if (out)
        *out = ref;
    return 0;
}

/* Shared with monitor.c. */
ax__actor *ax__actor_lookup(ax_loop *L, ax_actor_ref ref)
{
    slot *s = slot_of(ACT(L), ref);

    if (!s || !alive(s, ref) ||
        atomic_load_explicit(&s->loop, memory_order_relaxed) !=
            ax__loop_idx(L))
        return NULL;
    return s->actor;
}

ax_loop *ax__actor_loop(ax_loop *L, ax_actor_ref ref)
{
    slot *s = slot_of(ACT(L), ref);

    return s ? ax__loop_at(L, atomic_load_explicit(&s->loop,
                                                   memory_order_relaxed))
             : NULL;
}

/* The node is made by the caller of ax_monitor()/ax_link(), before any
 * request leaves: once asked for, a watch cannot be lost to a failed
 * allocation on the watched actor's loop (its watcher would wait for a
 * DOWN that never comes). */
void *ax__actor_watch_new(ax_actor_ref who, bool link)
{
    watch *w = ax__malloc(sizeof *w);

    if (w) {
        w->who = who;
        w->link = link;
        w->next = NULL;
    }
    return w;
}

ax_actor_ref ax__actor_watch_who(const void *node)
{
    return ((const watch *)node)->who;
}

void ax__actor_watch_free(void *node)
{
    ax__free(node);
}

void ax__actor_watch_add(ax__actor *a, void *node)
{
    watch *w = node;

    w->next = a->watchers;
    a->watchers = w;
}

void ax__actor_exit_signal(ax__actor *a, ax_actor_ref from, int reason)
{
    if (a->trap_exits) {
        send_system(a->loop, a->ref, AX_MSG_EXIT, from, reason);
        return;
    }
    if (!a->exit_reason)
        a->exit_reason = reason;
    ax_cancel(a->task);
}

/* ax_actor_kill(): the exit signal that trap_exits cannot catch. */
void ax__actor_kill(ax__actor *a, int reason)
{
    if (!a->exit_reason)
        a->exit_reason = reason;
    ax_cancel(a->task);
}

void ax__actor_down_now(ax_loop *L, ax_actor_ref watcher, ax_actor_ref target)
{
    send_system(L, watcher, AX_MSG_DOWN, target, AX_ESRCH);
}

/* ---- registry ------------------------------------------------------------- */

int ax_register(const char *name, ax_actor_ref ref)
{
    ax_loop *L = ax__loop_self();
    ax__actors *A;
    int rc = 0;
    size_t i;

    if (!name || !*name || strlen(name) > NAME_MAX_LEN || !ref.id)
        return AX_EINVAL;
    if (!L)
        return AX_EPERM;
    if (!(A = ACT(L)))
        return AX_ENOMEM;
    pthread_mutex_lock(&A->reg_lock);
    for (i = 0; i < A->nnames; i++)
        if (!strcmp(A->names[i].name, name))
            break;
    if (i < A->nnames) {
        slot *s = slot_of(A, A->names[i].ref);
        if (s && alive(s, A->names[i].ref))
            rc = AX_EALREADY;
        else
            A->names[i].ref = ref;
    } else {
        if (A->nnames == A->capnames) {
            size_t cap = A->capnames ? A->capnames * 2 : 16;
            regent *n = ax__realloc(A->names, cap * sizeof *n);
            if (!n)
                rc = AX_ENOMEM;
            else {
                A->names = n;
                A->capnames = cap;
            }
        }
        if (!rc) {
            snprintf(A->names[A->nnames].name, sizeof A->names[0].name, "%s",
                     name);
            A->names[A->nnames++].ref = ref;
        }
    }
    pthread_mutex_unlock(&A->reg_lock);
    return rc;
}

int ax_unregister(const char *name)
{
    ax_loop *L = ax__loop_self();
    ax__actors *A;
    int rc = AX_ESRCH;

    if (!name)
        return AX_EINVAL;
    if (!L)
        return AX_EPERM;
    if (!(A = ACT(L)))
        return AX_ENOMEM;
    pthread_mutex_lock(&A->reg_lock);
    for (size_t i = 0; i < A->nnames; i++)
        if (!strcmp(A->names[i].name, name)) {
            A->names[i] = A->names[--A->nnames];
            rc = 0;
            break;
        }
    pthread_mutex_unlock(&A->reg_lock);
    return rc;
}

int ax_whereis(const char *name, ax_actor_ref *out)
{
    ax_loop *L = ax__loop_self();
    ax__actors *A;
    int rc = AX_ESRCH;

    if (!name || !out)
        return AX_EINVAL;
    if (!L)
        return AX_EPERM;
    if (!(A = ACT(L)))
        return AX_ENOMEM;
    pthread_mutex_lock(&A->reg_lock);
    for (size_t i = 0; i < A->nnames; i++)
        if (!strcmp(A->names[i].name, name)) {
            slot *s = slot_of(A, A->names[i].ref);
            if (s && alive(s, A->names[i].ref)) {
                *out = A->names[i].ref;
                rc = 0;
            }
            break;
        }
    pthread_mutex_unlock(&A->reg_lock);
    return rc;
}
