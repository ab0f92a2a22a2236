/* SPDX-License-Identifier: MIT */
/*
 * Synchronisation between the tasks of one loop: asyncio's Lock, Event,
 * Condition, Semaphore (bounded or not) and Barrier.
 *
 * All five are one struct (ax__sync) with a kind, a FIFO of waiters and a
 * few fields per kind, so they share one type-stable pool (pool.c) and one
 * handle check. A waiter is a node on the waiting task's own stack, linked
 * into the object's queue; it suspends with ax__suspend() and its deadline
 * is the task's embedded timer, as ax_sleep() does: waiting allocates
 * nothing.
 *
 * The one rule that makes them fair and cancellation-safe: whoever wakes a
 * waiter decides for it. Releasing a lock, a semaphore unit or a
 * notification picks the first waiter whose task is still suspended, takes
 * it off the queue, marks its node granted and wakes it; the lock is then
 * already that task's (a hand-off), so a task that releases and acquires
 * again at once queues behind it. A waiter whose task was woken first by
 * its cancellation or its timer is passed over (ax__wake() keeps the first
 * reason, so it could not be told anyway); it takes itself off the queue
 * when it runs. A granted waiter cancelled before it ran sees the pending
 * cancellation when it resumes, gives what it was granted to the next
 * waiter and returns AX_ECANCELED: asyncio's behaviour, which CPython's
 * test_locks.py pins down and tests/check_sync.c ports. Hence the
 * invariant every fast path relies on: a free lock, or a semaphore with
 * units, has no suspended waiter, so taking it at once is never queue
 * jumping.
 *
 * A lock belongs to the task holding it (t->nlocks counts them), so a
 * task that ends holding one is found and reported in task_finish(); the
 * lock is released for it rather than stranding its waiters.
 *
 * Only the owning loop's thread touches an object. The handle check reads
 * the magic word (atomically, as futures do) and the loop, the first word,
 * which never changes while the struct is live or in quarantine.
 */
#include "internal.h"
#include "axon.h"

#include <limits.h>
#include <stddef.h>

enum { K_LOCK = 1, K_EVENT, K_COND, K_SEM, K_BARRIER };

/* A barrier's state, as asyncio's _BarrierState. */
enum { B_FILLING, B_DRAINING, B_RESETTING, B_BROKEN };

/* A waiting task's node, on its stack. */
typedef struct sw sw;
struct sw {
    sw *next, *prev;
    ax_task *task;
    bool linked;
    bool granted; /* woken by the object, not by a cancel or a timer */
};

typedef struct swq {
    sw *head, *tail;
} swq;

struct ax__sync {
    ax_loop *loop;  /* first: see ax__pooled; set once while live */
    void *pool_link; /* the pool's quarantine link lands here */
    swq q;          /* lock, semaphore: acquirers; event, condition: waiters;
                     * barrier: the tasks waiting for their round */
    ax__sync *lprev, *lnext; /* L->syncs */
    unsigned nwait; /* tasks inside a wait on it, woken or not yet resumed */
    uint32_t magic; /* AX__MAGIC_SYNC | kind while live */
    uint8_t kind;
    bool internal;  /* a condition's own lock: freed with it */
    union {
        struct {
            ax_task *owner;
            unsigned nconds; /* conditions using it */
        } lock;
        struct {
            bool set;
        } event;
        struct {
            ax__sync *lock;
        } cond;
        struct {
            int value;
            int bound;       /* the initial value, if bounded */
            unsigned nwoken; /* waiters granted a unit, not yet resumed */
            bool bounded;
        } sem;
        struct {
            swq entry; /* arrivals waiting for a drain or reset to end */
            int parties;
            int count; /* tasks inside: arrived and not yet left */
            uint8_t state;
        } barrier;
    } u;
};

_Static_assert(offsetof(ax__sync, loop) == offsetof(ax__pooled, loop) &&
                   offsetof(ax__sync, magic) >= sizeof(ax__pooled),
               "the quarantine link would overwrite the loop or the magic");

/* ---- handles, construction ---------------------------------------------- */

/* The object behind handle @h, if it is a live one of @kind owned by the
 * calling thread's loop. */
static inline int get(const void *h, uint8_t kind, ax__sync **out)
{
    ax__sync *s = (ax__sync *)h;

    if (AX__UNLIKELY(!s))
        return AX_EINVAL;
    if (AX__UNLIKELY(ax__magic(&s->magic) != (AX__MAGIC_SYNC | kind)))
        return AX_ESRCH;
    if (AX__UNLIKELY(s->loop != ax__tls_loop))
        return AX_EWRONGLOOP;
    *out = s;
    return 0;
}

/* get(), and the running task (AX_ENOTTASK outside one). */
static inline int get_task(const void *h, uint8_t kind, ax__sync **out,
                           ax_task **t)
{
    int rc = get(h, kind, out);

    if (rc)
        return rc;
    *t = (*out)->loop->pub.current;
    return *t ? 0 : AX_ENOTTASK;
}

static int sync_new(uint8_t kind, ax__sync **out)
{
    ax_loop *L = ax__tls_loop;
    ax__sync *s;

    if (!L)
        return AX_EPERM;
    s = ax__pool_get(&L->pools.sync, sizeof *s);
    if (!s)
        return AX_ENOMEM;
    s->loop = L;
    s->kind = kind;
    s->lnext = L->syncs;
    if (L->syncs)
        L->syncs->lprev = s;
    L->syncs = s;
    ax__set_magic(&s->magic, AX__MAGIC_SYNC | kind);
    *out = s;
    return 0;
}

static void sync_free(ax__sync *s)
{
    ax_loop *L = s->loop;

    if (s->lprev)
        s->lprev->lnext = s->lnext;
    else
        L->syncs = s->lnext;
    if (s->lnext)
        s->lnext->lprev = s->lprev;
    ax__pool_put(&L->pools.sync, s, sizeof *s, &s->magic);
}

/* At the end of ax_run(), after every task: free what was never freed and
 * say how many the program made (a condition's own lock is its part).
 * Waiter nodes are not touched: an abandoned task's may still be linked,
 * on a stack that is gone. */
size_t ax__sync_term(ax_loop *L)
{
    size_t n = 0;

    while (L->syncs) {
        n += !L->syncs->internal;
        sync_free(L->syncs);
    }
    return n;
}

/* ---- waiter queues ------------------------------------------------------ */

static void q_push(swq *q, sw *w)
{
    w->next = NULL;
    w->prev = q->tail;
    if (q->tail)
        q->tail->next = w;
    else
        q->head = w;
    q->tail = w;
    w->linked = true;
}

static void q_unlink(swq *q, sw *w)
{
    if (!w->linked)
        return;
    if (w->prev)
        w->prev->next = w->next;
    else
        q->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        q->tail = w->prev;
    w->linked = false;
}

static void grant(swq *q, sw *w)
{
    q_unlink(q, w);
    w->granted = true;
    ax__wake(w->task, 0);
}

/* Wake the first waiter whose task still sleeps, for it alone. One that a
 * cancellation or its timer woke first is passed over: it no longer waits,
 * and leaves the queue itself when it runs. */
static sw *wake_first(swq *q)
{
    for (sw *w = q->head; w; w = w->next)
        if (w->task->state == AX__T_SUSPENDED) {
            grant(q, w);
            return w;
        }
    return NULL;
}

/* Wake up to @n sleeping waiters, first come first; how many were. */
static size_t wake_n(swq *q, size_t n)
{
    size_t k = 0;

    for (sw *w = q->head, *next; w && k < n; w = next) {
        next = w->next;
        if (w->task->state == AX__T_SUSPENDED) {
            grant(q, w);
            k++;
        }
    }
    return k;
}

static void wake_all(swq *q)
{
    wake_n(q, SIZE_MAX);
}

/*
 * Queue @w on @q and suspend until the node is granted, @deadline passes
 * or the task is cancelled: 0 if granted, else AX_ETIMEDOUT or
 * AX_ECANCELED, the node off the queue either way. A grant that comes
 * after the timer or the cancellation has woken the task cannot happen
 * (wake_first() passes such a task over), so a granted node means the
 * wake-up was the object's. @what names the wait in ax_dump_tasks().
 */
static int q_wait(ax_task *t, swq *q, sw *w, int64_t deadline,
                  const char *what)
{
    ax_loop *L = t->loop;
    sw *local = w;
    int rc = 0;

    /* A shared-stack task's stack is copied away while it waits: its node
     * goes on the heap, and what the object wrote comes back to @local. */
    if (AX__UNLIKELY(t->shstk) && !(w = ax__malloc(sizeof *w)))
        return AX_ENOMEM;
    w->task = t;
    w->granted = false;
    q_push(q, w);
    if (deadline != AX_NO_DEADLINE) {
        t->timer.status = AX_ETIMEDOUT;
        ax__timer_add(L, &t->timer, deadline);
    }
    /* wait_obj stays NULL: ax_dump_tasks() reads it as a future. */
    while (!w->granted && !rc)
        rc = ax__suspend_shs(t, what, NULL);
    ax__timer_del(L, &t->timer);
    if (!w->granted)
        q_unlink(q, w);
    else
        rc = 0;
    if (w != local) {
        *local = *w;
        ax__free(w);
    }
    return rc;
}

/* A granted waiter whose task was cancelled after the grant and before it
 * ran: the cancellation is delivered now, by the caller giving the grant
 * on. (A shielded task keeps it pending, and keeps what it was given.) */
static bool cancelled_after_grant(ax_task *t)
{
    if (!t->cancel_pending || t->shielded)
        return false;
    t->cancel_pending = false;
    return true;
}

/* A relative timeout: checked at once, turned into a deadline only when
 * the call has to wait, so the fast paths read no clock. */
typedef struct when {
    int64_t v; /* ns from now, or a deadline */
    bool rel;
} when;

static int when_rel(double timeout, when *w)
{
    w->rel = true;
    if (timeout < 0) { /* NaN is not below 0: ax__seconds_to_ns refuses it */
        w->v = AX_NO_DEADLINE;
        return 0;
    }
    return ax__seconds_to_ns(timeout, &w->v);
}

static int when_dl(int64_t deadline, when *w)
{
    w->rel = false;
    w->v = deadline;
    return ax__dl_invalid(deadline) ? AX_EINVAL : 0;
}

static int64_t deadline_of(ax_loop *L, when w)
{
    return w.rel && w.v != AX_NO_DEADLINE ? ax__now(L) + w.v : w.v;
}

/* ---- Lock --------------------------------------------------------------- */

static inline void lock_take(ax__sync *l, ax_task *t)
{
    l->u.lock.owner = t;
    t->nlocks++;
}

/* Let the lock go; the first sleeping waiter gets it. */
static void lock_give(ax__sync *l)
{
    sw *w;

    l->u.lock.owner->nlocks--;
    l->u.lock.owner = NULL;
    if (l->q.head && (w = wake_first(&l->q)))
        lock_take(l, w->task);
}

/* The wait, out of line: the fast path below stays a few instructions in
 * its callers (a call here cost the uncontended pair a third). */
static __attribute__((noinline)) int lock_wait(ax_task *t, ax__sync *l,
                                               when wh)
{
    int64_t dl;
    sw w;
    int rc;

    if (l->u.lock.owner == t)
        return AX_EDEADLK;
    dl = deadline_of(t->loop, wh);
    if (ax__dl_passed(t->loop, dl))
        return AX_ETIMEDOUT;
    l->nwait++;
    rc = q_wait(t, &l->q, &w, dl, "waiting for a lock");
    l->nwait--;
    if (rc == 0 && cancelled_after_grant(t)) {
        lock_give(l); /* to the next waiter: the wake-up is not lost */
        rc = AX_ECANCELED;
    }
    return rc;
}

static inline int lock_acquire(ax_task *t, ax__sync *l, when wh)
{
    if (AX__UNLIKELY(l->u.lock.owner))
        return lock_wait(t, l, wh);
    lock_take(l, t);
    return 0;
}

int ax_lock_new(ax_lock **out)
{
    ax__sync *s;
    int rc;

    if (!out)
        return AX_EINVAL;
    if ((rc = sync_new(K_LOCK, &s)))
        return rc;
    *out = (ax_lock *)s;
    return 0;
}

/* Free an event, semaphore or barrier: nobody may be waiting on it. */
static int free_idle(void *h, int kind)
{
    ax__sync *o;
    int rc = get(h, kind, &o);

    if (rc)
        return rc;
    if (o->nwait)
        return AX_EBUSY;
    sync_free(o);
    return 0;
}

int ax_lock_free(ax_lock *h)
{
    ax__sync *l;
    int rc = get(h, K_LOCK, &l);

    if (rc)
        return rc;
    if (l->u.lock.owner || l->nwait || l->u.lock.nconds)
        return AX_EBUSY;
    sync_free(l);
    return 0;
}

int ax_lock_acquire(ax_lock *h, double timeout)
{
    ax__sync *l;
    ax_task *t;
    when wh;
    int rc;

    if ((rc = get_task(h, K_LOCK, &l, &t)) || (rc = when_rel(timeout, &wh)))
        return rc;
    return lock_acquire(t, l, wh);
}

int ax_lock_acquire_dl(ax_lock *h, int64_t deadline)
{
    ax__sync *l;
    ax_task *t;
    when wh;
    int rc;

    if ((rc = get_task(h, K_LOCK, &l, &t)) || (rc = when_dl(deadline, &wh)))
        return rc;
    return lock_acquire(t, l, wh);
}

int ax_lock_try(ax_lock *h)
{
    ax__sync *l;
    ax_task *t;
    int rc;

    if ((rc = get_task(h, K_LOCK, &l, &t)))
        return rc;
    if (l->u.lock.owner)
        return l->u.lock.owner == t ? AX_EDEADLK : AX_EAGAIN;
    lock_take(l, t);
    return 0;
}

int ax_lock_release(ax_lock *h)
{
    ax__sync *l;
    ax_task *t;
    int rc;

    if ((rc = get_task(h, K_LOCK, &l, &t)))
        return rc;
    if (l->u.lock.owner != t)
        return AX_EPERM;
    lock_give(l);
    return 0;
}

bool ax_lock_locked(const ax_lock *h)
{
    ax__sync *l;

    return get(h, K_LOCK, &l) == 0 && l->u.lock.owner;
}

/* From task_finish() (@release) or abandon_stuck() (not): the task ends
 * with @t->nlocks locks held. Found by a walk of the loop's objects, a
 * cost paid only on this mistake. An abandoned task's locks are not handed
 * on: nothing runs any more, and their waiters are being abandoned too,
 * their nodes on stacks that are about to be unmapped. */
void ax__sync_task_ended(ax_task *t, bool release)
{
    ax_loop *L = t->loop;

    for (ax__sync *s = L->syncs; s && t->nlocks; s = s->lnext) {
        if (s->kind != K_LOCK || s->u.lock.owner != t)
            continue;
        ax__report(L, "task '%s' %s holding lock %p%s", ax__task_name(t),
                   release ? "ended" : "was abandoned", (void *)s,
                   release ? "; released" : "");
        if (release) {
            lock_give(s);
        } else {
            s->u.lock.owner = NULL;
            t->nlocks--;
        }
    }
}

/* ---- Event -------------------------------------------------------------- */

static __attribute__((noinline)) int event_wait_slow(ax_task *t,
                                                     ax__sync *e, when wh)
{
    int64_t dl;
    sw w;
    int rc;

    dl = deadline_of(t->loop, wh);
    if (ax__dl_passed(t->loop, dl))
        return AX_ETIMEDOUT;
    e->nwait++;
    /* Granted and then cancelled: 0, the cancellation stays pending. An
     * event wakes everybody, so there is nobody to pass the wake-up to. */
    rc = q_wait(t, &e->q, &w, dl, "waiting for an event");
    e->nwait--;
    return rc;
}

static inline int event_wait(ax_task *t, ax__sync *e, when wh)
{
    return e->u.event.set ? 0 : event_wait_slow(t, e, wh);
}

int ax_event_new(ax_event **out)
{
    ax__sync *s;
    int rc;

    if (!out)
        return AX_EINVAL;
    if ((rc = sync_new(K_EVENT, &s)))
        return rc;
    *out = (ax_event *)s;
    return 0;
}

int ax_event_free(ax_event *h)
{
    return free_idle(h, K_EVENT);
}

int ax_event_wait(ax_event *h, double timeout)
{
    ax__sync *e;
    ax_task *t;
    when wh;
    int rc;

    if ((rc = get_task(h, K_EVENT, &e, &t)) || (rc = when_rel(timeout, &wh)))
        return rc;
    return event_wait(t, e, wh);
}

int ax_event_wait_dl(ax_event *h, int64_t deadline)
{
    ax__sync *e;
    ax_task *t;
    when wh;
    int rc;

    if ((rc = get_task(h, K_EVENT, &e, &t)) || (rc = when_dl(deadline, &wh)))
        return rc;
    return event_wait(t, e, wh);
}

int ax_event_set(ax_event *h)
{
    ax__sync *e;
    int rc = get(h, K_EVENT, &e);

    if (rc)
        return rc;
    if (!e->u.event.set) {
        e->u.event.set = true;
        wake_all(&e->q);
    }
    return 0;
}

int ax_event_clear(ax_event *h)
{
    ax__sync *e;
    int rc = get(h, K_EVENT, &e);

    if (rc)
        return rc;
    e->u.event.set = false;
    return 0;
}

bool ax_event_is_set(const ax_event *h)
{
    ax__sync *e;

    return get(h, K_EVENT, &e) == 0 && e->u.event.set;
}

/* ---- Condition ---------------------------------------------------------- */

/*
 * asyncio's Condition.wait: let the lock go, wait for a notification, then
 * take the lock back whatever ended the wait. Taking it back is shielded
 * and has no deadline (a caller must never return without the lock it
 * came with); a cancellation arriving meanwhile is delivered at the end,
 * and a notification that came with it goes on to the next waiter, as
 * CPython does since gh-112202. The caller holds the lock and has checked
 * the deadline and a pending cancellation.
 */
static int cond_wait(ax_task *t, ax__sync *c, int64_t dl)
{
    ax__sync *l = c->u.cond.lock;
    bool was = t->shielded;
    sw w;
    int rc;

    c->nwait++;
    lock_give(l);
    rc = q_wait(t, &c->q, &w, dl, "waiting on a condition");
    t->shielded = true;
    /* Cannot fail: no deadline, shielded, and the lock is not ours. */
    lock_acquire(t, l, (when){AX_NO_DEADLINE, false});
    t->shielded = was;
    if (cancelled_after_grant(t)) {
        if (rc == 0)
            wake_n(&c->q, 1);
        rc = AX_ECANCELED;
    }
    c->nwait--;
    return rc;
}

/* The checks every wait makes before letting the lock go. */
static int cond_enter(ax_task *t, ax__sync *c, int64_t dl)
{
    if (c->u.cond.lock->u.lock.owner != t)
        return AX_EPERM;
    if (t->cancel_pending && !t->shielded) {
        t->cancel_pending = false;
        return AX_ECANCELED;
    }
    return ax__dl_passed(t->loop, dl) ? AX_ETIMEDOUT : 0;
}

static int cond_wait_when(ax_task *t, ax__sync *c, when wh)
{
    int64_t dl = deadline_of(t->loop, wh);
    int rc = cond_enter(t, c, dl);

    return rc ? rc : cond_wait(t, c, dl);
}

/* Condition.wait_for. A timeout with the predicate true by then counts as
 * success (threading.Condition.wait_for returns the predicate's last
 * value too). */
static int cond_wait_for(ax_task *t, ax__sync *c, ax_pred_fn pred,
                         void *arg, when wh)
{
    int64_t dl;
    int rc;

    if (c->u.cond.lock->u.lock.owner != t)
        return AX_EPERM;
    if (pred(arg))
        return 0;
    dl = deadline_of(t->loop, wh);
    for (;;) {
        if ((rc = cond_enter(t, c, dl)))
            return rc; /* nothing changed since pred() said false */
        rc = cond_wait(t, c, dl);
        if (rc != 0 && rc != AX_ETIMEDOUT)
            return rc;
        if (pred(arg))
            return 0;
        if (rc)
            return rc;
    }
}

int ax_cond_new(ax_cond **out, ax_lock *lock)
{
    ax__sync *c, *l = NULL;
    int rc;

    if (!out)
        return AX_EINVAL;
    if (!ax__tls_loop)
        return AX_EPERM;
    if (lock && (rc = get(lock, K_LOCK, &l)))
        return rc;
    if ((rc = sync_new(K_COND, &c)))
        return rc;
    if (!l) {
        if ((rc = sync_new(K_LOCK, &l))) {
            sync_free(c);
            return rc;
        }
        l->internal = true;
    }
    l->u.lock.nconds++;
    c->u.cond.lock = l;
    *out = (ax_cond *)c;
    return 0;
}

int ax_cond_free(ax_cond *h)
{
    ax__sync *c, *l;
    int rc = get(h, K_COND, &c);

    if (rc)
        return rc;
    l = c->u.cond.lock;
    if (c->nwait || (l->internal && (l->u.lock.owner || l->nwait)))
        return AX_EBUSY;
    l->u.lock.nconds--;
    if (l->internal)
        sync_free(l);
    sync_free(c);
    return 0;
}

ax_lock *ax_cond_lock(ax_cond *h)
{
    ax__sync *c;

    return get(h, K_COND, &c) ? NULL : (ax_lock *)c->u.cond.lock;
}

int ax_cond_wait(ax_cond *h, double timeout)
{
    ax__sync *c;
    ax_task *t;
    when wh;
    int rc;

    if ((rc = get_task(h, K_COND, &c, &t)) || (rc = when_rel(timeout, &wh)))
        return rc;
    return cond_wait_when(t, c, wh);
}

int ax_cond_wait_dl(ax_cond *h, int64_t deadline)
{
    ax__sync *c;
    ax_task *t;
    when wh;
    int rc;

    if ((rc = get_task(h, K_COND, &c, &t)) || (rc = when_dl(deadline, &wh)))
        return rc;
    return cond_wait_when(t, c, wh);
}

int ax_cond_wait_for(ax_cond *h, ax_pred_fn pred, void *arg, double timeout)
{
    ax__sync *c;
    ax_task *t;
    when wh;
    int rc;

    if (!pred)
        return AX_EINVAL;
    if ((rc = get_task(h, K_COND, &c, &t)) || (rc = when_rel(timeout, &wh)))
        return rc;
    return cond_wait_for(t, c, pred, arg, wh);
}

int ax_cond_wait_for_dl(ax_cond *h, ax_pred_fn pred, void *arg,
                        int64_t deadline)
{
    ax__sync *c;
    ax_task *t;
    when wh;
    int rc;

    if (!pred)
        return AX_EINVAL;
    if ((rc = get_task(h, K_COND, &c, &t)) || (rc = when_dl(deadline, &wh)))
        return rc;
    return cond_wait_for(t, c, pred, arg, wh);
}

int ax_cond_notify(ax_cond *h, size_t n)
{
    ax__sync *c;
    ax_task *t;
    int rc;

    if ((rc = get_task(h, K_COND, &c, &t)))
        return rc;
    if (c->u.cond.lock->u.lock.owner != t)
        return AX_EPERM;
    wake_n(&c->q, n);
    return 0;
}

int ax_cond_notify_all(ax_cond *h)
{
    return ax_cond_notify(h, SIZE_MAX);
}

/* ---- Semaphore ---------------------------------------------------------- */

/*
 * The semaphore keeps one more rule than the lock, asyncio's since 3.12
 * ("maintain FIFO, wait for others to start even if _value > 0"): while a
 * waiter that was handed a unit has not run yet, a newcomer queues even if
 * units are free, and each waiter, when it runs, hands free units on to
 * the sleepers queued behind it (sem_settle()). So a task that releases
 * and acquires again goes behind every task woken before it, not just
 * behind the ones still asleep (CPython's test_acquire_fifo_order_2).
 */

/* A unit comes back: straight to the first sleeping waiter, else to the
 * count. */
static void sem_give(ax__sync *s)
{
    if (s->q.head && wake_first(&s->q))
        s->u.sem.nwoken++;
    else
        s->u.sem.value++;
}

/* Free units to the sleepers queued while woken waiters had not run. */
static void sem_settle(ax__sync *s)
{
    while (s->u.sem.value > 0 && s->q.head && wake_first(&s->q)) {
        s->u.sem.value--;
        s->u.sem.nwoken++;
    }
}

static inline bool sem_free_unit(const ax__sync *s)
{
    return s->u.sem.value > 0 && !s->u.sem.nwoken;
}

static __attribute__((noinline)) int sem_wait(ax_task *t, ax__sync *s,
                                              when wh)
{
    int64_t dl;
    sw w;
    int rc;

    dl = deadline_of(t->loop, wh);
    if (ax__dl_passed(t->loop, dl))
        return AX_ETIMEDOUT;
    s->nwait++;
    rc = q_wait(t, &s->q, &w, dl, "waiting for a semaphore");
    s->nwait--;
    if (rc == 0) {
        s->u.sem.nwoken--;
        if (cancelled_after_grant(t)) {
            sem_give(s); /* to the next waiter: the wake-up is not lost */
            rc = AX_ECANCELED;
        }
    }
    sem_settle(s);
    return rc;
}

static inline int sem_acquire(ax_task *t, ax__sync *s, when wh)
{
    if (AX__UNLIKELY(!sem_free_unit(s)))
        return sem_wait(t, s, wh);
    s->u.sem.value--;
    return 0;
}

static int sem_new(ax_sem **out, int value, bool bounded)
{
    ax__sync *s;
    int rc;

    if (!out || value < 0)
        return AX_EINVAL;
    if ((rc = sync_new(K_SEM, &s)))
        return rc;
    s->u.sem.value = value;
    s->u.sem.bound = value;
    s->u.sem.bounded = bounded;
    *out = (ax_sem *)s;
    return 0;
}

int ax_sem_new(ax_sem **out, int value)
{
    return sem_new(out, value, false);
}

int ax_sem_new_bounded(ax_sem **out, int value)
{
    return sem_new(out, value, true);
}

int ax_sem_free(ax_sem *h)
{
    return free_idle(h, K_SEM);
}

int ax_sem_acquire(ax_sem *h, double timeout)
{
    ax__sync *s;
    ax_task *t;
    when wh;
    int rc;

    if ((rc = get_task(h, K_SEM, &s, &t)) || (rc = when_rel(timeout, &wh)))
        return rc;
    return sem_acquire(t, s, wh);
}

int ax_sem_acquire_dl(ax_sem *h, int64_t deadline)
{
    ax__sync *s;
    ax_task *t;
    when wh;
    int rc;

    if ((rc = get_task(h, K_SEM, &s, &t)) || (rc = when_dl(deadline, &wh)))
        return rc;
    return sem_acquire(t, s, wh);
}

int ax_sem_try(ax_sem *h)
{
    ax__sync *s;
    int rc = get(h, K_SEM, &s);

    if (rc)
        return rc;
    if (!sem_free_unit(s))
        return AX_EAGAIN;
    s->u.sem.value--;
    return 0;
}

int ax_sem_release(ax_sem *h)
{
    ax__sync *s;
    int rc = get(h, K_SEM, &s);

    if (rc)
        return rc;
    /* Waiters imply a value of 0, so the bound is checked as asyncio's
     * BoundedSemaphore does: before the unit could go anywhere. */
    if (s->u.sem.bounded ? s->u.sem.value >= s->u.sem.bound
                         : s->u.sem.value == INT_MAX)
        return AX_EOVERFLOW;
    sem_give(s);
    return 0;
}

int ax_sem_value(const ax_sem *h)
{
    ax__sync *s;
    int rc = get(h, K_SEM, &s);

    return rc ? rc : s->u.sem.value;
}

/* ---- Barrier ------------------------------------------------------------ */

/*
 * asyncio's Barrier without the condition inside it: the state machine is
 * the same (filling, draining, resetting, broken), and whatever changes
 * the state wakes the tasks that wait for it to change. A waiter decides
 * by the state when it runs, not when it is woken: a reset between its
 * wake-up and its turn breaks its wait, as in asyncio.
 */
static void barrier_exit(ax__sync *b)
{
    if (--b->u.barrier.count == 0) {
        if (b->u.barrier.state == B_DRAINING ||
            b->u.barrier.state == B_RESETTING)
            b->u.barrier.state = B_FILLING;
        wake_all(&b->u.barrier.entry);
    }
}

static int barrier_wait(ax_task *t, ax__sync *b, when wh)
{
    int64_t dl = AX_NO_DEADLINE;
    bool have_dl = false;
    int index, rc = 0;
    sw w;

    b->nwait++;
    /* Wait while the last round drains or a reset completes. */
    while (b->u.barrier.state == B_DRAINING ||
           b->u.barrier.state == B_RESETTING) {
        if (!have_dl) {
            dl = deadline_of(t->loop, wh);
            have_dl = true;
        }
        rc = ax__dl_passed(t->loop, dl)
                 ? AX_ETIMEDOUT
                 : q_wait(t, &b->u.barrier.entry, &w, dl,
                          "waiting for a barrier to drain");
        if (rc)
            goto out;
    }
    if (b->u.barrier.state == B_BROKEN) {
        rc = AX_EBROKEN;
        goto out;
    }
    index = b->u.barrier.count++;
    if (index + 1 == b->u.barrier.parties) {
        b->u.barrier.state = B_DRAINING;
        wake_all(&b->q);
        rc = index;
    } else {
        if (!have_dl)
            dl = deadline_of(t->loop, wh);
        while (b->u.barrier.state == B_FILLING && !rc)
            rc = ax__dl_passed(t->loop, dl)
                     ? AX_ETIMEDOUT
                     : q_wait(t, &b->q, &w, dl, "waiting at a barrier");
        /* Still filling: cancelled or timed out, and the task just leaves
         * (asyncio's barrier is not broken by a cancelled waiter). If the
         * state moved on meanwhile, the round counted this task: it takes
         * the outcome and a cancellation stays pending. */
        if (b->u.barrier.state != B_FILLING) {
            if (rc == AX_ECANCELED)
                t->cancel_pending = true;
            rc = b->u.barrier.state == B_DRAINING ? index : AX_EBROKEN;
        }
    }
    barrier_exit(b);
out:
    b->nwait--;
    return rc;
}

int ax_barrier_new(ax_barrier **out, int parties)
{
    ax__sync *b;
    int rc;

    if (!out || parties < 1)
        return AX_EINVAL;
    if ((rc = sync_new(K_BARRIER, &b)))
        return rc;
    b->u.barrier.parties = parties;
    b->u.barrier.state = B_FILLING;
    *out = (ax_barrier *)b;
    return 0;
}

int ax_barrier_free(ax_barrier *h)
{
    return free_idle(h, K_BARRIER);
}

int ax_barrier_wait(ax_barrier *h, double timeout)
{
    ax__sync *b;
    ax_task *t;
    when wh;
    int rc;

    if ((rc = get_task(h, K_BARRIER, &b, &t)) ||
        (rc = when_rel(timeout, &wh)))
        return rc;
    return barrier_wait(t, b, wh);
}

int ax_barrier_wait_dl(ax_barrier *h, int64_t deadline)
{
    ax__sync *b;
    ax_task *t;
    when wh;
    int rc;

    if ((rc = get_task(h, K_BARRIER, &b, &t)) ||
        (rc = when_dl(deadline, &wh)))
        return rc;
    return barrier_wait(t, b, wh);
}

int ax_barrier_reset(ax_barrier *h)
{
    ax__sync *b;
    int rc = get(h, K_BARRIER, &b);

    if (rc)
        return rc;
    /* Tasks still inside must leave first (with AX_EBROKEN if they were
     * waiting); the last one out fills the barrier again. */
    b->u.barrier.state = b->u.barrier.count ? B_RESETTING : B_FILLING;
    wake_all(&b->q);
    wake_all(&b->u.barrier.entry);
    return 0;
}

int ax_barrier_abort(ax_barrier *h)
{
    ax__sync *b;
    int rc = get(h, K_BARRIER, &b);

    if (rc)
        return rc;
    b->u.barrier.state = B_BROKEN;
    wake_all(&b->q);
    wake_all(&b->u.barrier.entry);
    return 0;
}

int ax_barrier_parties(const ax_barrier *h)
{
    ax__sync *b;
    int rc = get(h, K_BARRIER, &b);

    return rc ? rc : b->u.barrier.parties;
}

int ax_barrier_n_waiting(const ax_barrier *h)
{
    ax__sync *b;
    int rc = get(h, K_BARRIER, &b);

    if (rc)
        return rc;
    return b->u.barrier.state == B_FILLING ? b->u.barrier.count : 0;
}

bool ax_barrier_broken(const ax_barrier *h)
{
    ax__sync *b;

    return get(h, K_BARRIER, &b) == 0 && b->u.barrier.state == B_BROKEN;
}
