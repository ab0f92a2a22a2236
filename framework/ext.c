/* SPDX-License-Identifier: MIT */
/*
 * The extension interface (ext.h): slots for the layers built on the
 * runtime, and the small set of core calls they are allowed.
 */
#include "internal.h"
#include "axon.h"

#include <stdlib.h>

/* A layer's slot number is the same in every runtime of the process: the
 * first attach anywhere assigns it. */
static atomic_int next_id = 1;

static int ext_id(ax__ext *e)
{
    int id = __atomic_load_n(&e->id, __ATOMIC_ACQUIRE);

    if (id)
        return id;
    /* Two threads may race to assign: both take a number, one wins the
     * compare-and-swap, and the loser's number is simply never used. */
    int mine = atomic_fetch_add(&next_id, 1), zero = 0;
    if (mine > AX__EXT_MAX)
        return -1;
    if (!__atomic_compare_exchange_n(&e->id, &zero, mine, false,
                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return zero;
    return mine;
}

static void *ext_new(ax__rt *rt, ax__ext *e, int id)
{
    void *state = e->rt_new ? e->rt_new(rt->nloops) : NULL;
    int i;

    if (e->rt_new && !state)
        return NULL;
    for (i = 0; i < rt->nloops; i++) {
        ax_loop *L = rt->loops[i];
        void *ls = e->loop_new ? e->loop_new(L, state) : NULL;
        if (e->loop_new && !ls)
            goto fail;
        atomic_store_explicit(&L->pub.ext[id - 1], ls, memory_order_release);
    }
    return state ? state : (void *)e;

fail:
    while (i-- > 0) {
        ax_loop *L = rt->loops[i];
        if (e->loop_term)
            e->loop_term(L, atomic_load(&L->pub.ext[id - 1]), state);
        atomic_store(&L->pub.ext[id - 1], NULL);
    }
    if (e->rt_term)
        e->rt_term(state);
    return NULL;
}

void *ax__ext_attach(ax__ext *e)
{
    ax_loop *L = ax__tls_loop;
    ax__rt *rt;
    void *state;
    int id;

    if (!L || (id = ext_id(e)) < 0)
        return NULL;
    rt = L->rt;
    state = atomic_load_explicit(&rt->ext_state[id - 1], memory_order_acquire);
    if (state)
        return state;
    /* Rare (once per layer and runtime): a lock keeps it simple. Loops read
     * their L->pub.ext[] slot, set here with release before the state. */
    pthread_mutex_lock(&rt->ext_lock);
    state = atomic_load_explicit(&rt->ext_state[id - 1], memory_order_relaxed);
    if (!state && (state = ext_new(rt, e, id))) {
        atomic_store_explicit(&rt->ext[id - 1], e, memory_order_relaxed);
        atomic_store_explicit(&rt->ext_state[id - 1], state,
                              memory_order_release);
    }
    pthread_mutex_unlock(&rt->ext_lock);
    return state;
}

void *ax__ext_rt(ax_loop *L, const ax__ext *e)
{
    int id = __atomic_load_n(&e->id, __ATOMIC_ACQUIRE);

    if (!L || !id)
        return NULL;
    return atomic_load_explicit(&L->rt->ext_state[id - 1],
                                memory_order_acquire);
}

void ax__ext_loop_stop(ax_loop *L)
{
    for (int i = 0; i < AX__EXT_MAX; i++) {
        ax__ext *e = atomic_load_explicit(&L->rt->ext[i], memory_order_acquire);
        if (e && e->loop_stop)
            e->loop_stop(L, atomic_load(&L->pub.ext[i]),
                         atomic_load_explicit(&L->rt->ext_state[i],
                                              memory_order_relaxed));
    }
}

void ax__ext_term(ax__rt *rt)
{
    for (int i = AX__EXT_MAX - 1; i >= 0; i--) {
        ax__ext *e = atomic_load(&rt->ext[i]);
        void *state = atomic_load(&rt->ext_state[i]);
        if (!e)
            continue;
        for (int j = 0; j < rt->nloops; j++) {
            if (e->loop_term)
                e->loop_term(rt->loops[j],
                             atomic_load(&rt->loops[j]->pub.ext[i]), state);
            atomic_store(&rt->loops[j]->pub.ext[i], NULL);
        }
        if (e->rt_term)
            e->rt_term(state);
        atomic_store(&rt->ext[i], NULL);
        atomic_store(&rt->ext_state[i], NULL);
    }
}

/* ---- the core calls a layer may make ---------------------------------- */

int ax__loop_count(ax_loop *L) { return L->rt->nloops; }

ax_loop *ax__loop_at(ax_loop *L, int i)
{
    return i >= 0 && i < L->rt->nloops ? L->rt->loops[i] : NULL;
}

bool ax__same_runtime(const ax_loop *a, const ax_loop *b)
{
    return a && b && a->rt == b->rt;
}

bool ax__runtime_stopping(ax_loop *L)
{
    return atomic_load_explicit(&L->rt->shutting, memory_order_acquire);
}

void ax__task_set_owner(ax_task *t, void *owner) { t->owner = owner; }

ax_loop *ax__task_loop(const ax_task *t) { return t->loop; }

void ax__task_retrieved(ax_task *t) { t->fut.retrieved = true; }

void ax__cancel_later(ax_task *t) { t->cancel_pending = true; }

bool ax__task_shared(const ax_task *t) { return t->shstk; }

int ax__wait_shs(ax_task *t, int64_t deadline, const char *what)
{
    int rc;

    if (deadline < 0)
        return ax__suspend_shs(t, what, NULL);
    if (deadline <= ax__now(t->loop))
        return AX_ETIMEDOUT;
    t->timer.status = AX_ETIMEDOUT;
    ax__timer_add(t->loop, &t->timer, deadline);
    rc = ax__suspend_shs(t, what, NULL);
    ax__timer_del(t->loop, &t->timer);
    return rc;
}

int ax__wait(ax_task *t, int64_t deadline, const char *what)
{
    if (AX__UNLIKELY(t->shstk))
        return AX_ENOTSUP;
    return ax__wait_shs(t, deadline, what);
}

void ax__future_on_free(ax_future *f, void (*fn)(ax_future *f, void *arg),
                        void *arg)
{
    f->on_free = fn;
    f->on_free_arg = fn ? arg : NULL;
}
