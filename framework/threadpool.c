/* SPDX-License-Identifier: MIT */
/*
 * The blocking-work pool (<axon/thread.h>): one per runtime, threads
 * started on demand up to a cap, a bounded FIFO queue of jobs, and a FIFO
 * of callers waiting for a place in it.
 *
 * A job is one malloc'd struct that travels: caller -> queue (or the
 * waiting list) -> a pool thread -> the caller's inbox (the job embeds
 * its ax__msg, so handing the result back cannot fail). Its state moves
 * under the pool's mutex between the caller's loop and the pool threads;
 * once pushed to the inbox it belongs to that loop alone.
 *
 * Who frees a job: the caller, when it took the result; the caller, when
 * it withdrew a job not yet started; the pool thread, when the caller had
 * left before the job returned; the inbox message, when the caller left
 * after the push (or the loop is gone). The push is made under the mutex,
 * so a caller that sees POSTED knows the message is in its inbox, and a
 * runtime that has drained its inboxes has no push still to come.
 */
#include "internal.h"
#include "axon.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { J_WAITING, J_QUEUED, J_RUNNING, J_POSTED, J_DONE };

typedef struct job {
    ax__msg m; /* first: the inbox hands back this pointer */
    struct job *prev, *next;
    ax_thread_fn fn;
    void *arg, *result;
    ax_thread_release_fn release;
    ax_loop *loop;
    ax_task *task;
    int state;
    bool abandoned; /* the caller left: the result goes to release */
} job;

typedef struct jlist {
    job *head, *tail;
    size_t n;
} jlist;

typedef struct ax__tpool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    jlist q;       /* queued, not started; at most qcap */
    jlist waiting; /* callers suspended for a place, in order */
    size_t qcap;
    int max, idle, nthreads;
    bool stop;
    pthread_t *threads; /* max entries, nthreads used */
    uint64_t done, released;
} ax__tpool;

static void jl_push(jlist *l, job *j)
{
    j->next = NULL;
    j->prev = l->tail;
    if (l->tail)
        l->tail->next = j;
    else
        l->head = j;
    l->tail = j;
    l->n++;
}

static void jl_unlink(jlist *l, job *j)
{
    if (j->prev)
        j->prev->next = j->next;
    else
        l->head = j->next;
    if (j->next)
        j->next->prev = j->prev;
    else
        l->tail = j->prev;
    l->n--;
}

static job *jl_pop(jlist *l)
{
    job *j = l->head;

    if (j)
        jl_unlink(l, j);
    return j;
}

static int default_max(void)
{
    long c = sysconf(_SC_NPROCESSORS_ONLN);

    if (c < 1)
        c = 1;
    return c + 4 > 32 ? 32 : (int)c + 4;
}

/* A place in the queue has freed: the oldest waiting caller's job takes
 * it. The caller stays suspended; it was waiting for the result anyway. */
static void admit_waiting(ax__tpool *p)
{
    while (p->q.n < p->qcap && p->waiting.head) {
        job *j = jl_pop(&p->waiting);
        j->state = J_QUEUED;
        jl_push(&p->q, j);
    }
}

static void give_up(ax__tpool *p, job *j)
{
    if (j->release)
        j->release(j->result, j->arg);
    ax__free(j);
    pthread_mutex_lock(&p->mu);
    p->released++;
    pthread_mutex_unlock(&p->mu);
}

static void *worker(void *arg)
{
    ax__tpool *p = arg;

    pthread_mutex_lock(&p->mu);
    for (;;) {
        job *j;
        void *r;
        p->idle++;
        while (!p->q.head && !p->stop)
            pthread_cond_wait(&p->cv, &p->mu);
        p->idle--;
        if (p->stop)
            break; /* every caller has gone: see ax__tpool_term() */
        j = jl_pop(&p->q);
        admit_waiting(p);
        j->state = J_RUNNING;
        pthread_mutex_unlock(&p->mu);
        r = j->fn(j->arg);
        pthread_mutex_lock(&p->mu);
        p->done++;
        j->result = r;
        if (j->abandoned) {
            pthread_mutex_unlock(&p->mu);
            give_up(p, j);
            pthread_mutex_lock(&p->mu);
            continue;
        }
        j->state = J_POSTED;
        ax__inbox_push(j->loop, &j->m);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Called with p->mu held. Pool threads take no signal: those go to the
 * loops (ax_stop_on_signals, ax_signal_wait). */
static int start_thread(ax__tpool *p)
{
    sigset_t all, old;
    int rc;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&p->threads[p->nthreads], NULL, worker, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc)
        return rc == ENOMEM ? AX_ENOMEM : AX_EAGAIN;
    p->nthreads++;
    return 0;
}

static ax__tpool *pool_get(ax__rt *rt)
{
    ax__tpool *p = atomic_load_explicit(&rt->tpool, memory_order_acquire);

    if (p)
        return p;
    pthread_mutex_lock(&rt->ext_lock);
    p = atomic_load_explicit(&rt->tpool, memory_order_relaxed);
    if (!p && (p = ax__calloc(1, sizeof *p))) {
        p->max = rt->tpool_max ? rt->tpool_max : default_max();
        p->qcap = rt->tpool_queue ? rt->tpool_queue : AX_THREAD_QUEUE_DEFAULT;
        p->threads = ax__calloc((size_t)p->max, sizeof *p->threads);
        if (!p->threads) {
            ax__free(p);
            p = NULL;
        } else {
            pthread_mutex_init(&p->mu, NULL);
            pthread_cond_init(&p->cv, NULL);
            atomic_store_explicit(&rt->tpool, p, memory_order_release);
        }
    }
    pthread_mutex_unlock(&rt->ext_lock);
    return p;
}

/* The job's result has come home (or the loop is gone). */
static void job_home(ax_loop *L, ax__msg *m, bool drop)
{
    job *j = (job *)m;
    ax__tpool *p = atomic_load_explicit(&L->rt->tpool, memory_order_acquire);

    if (drop || j->abandoned) {
        give_up(p, j);
        return;
    }
    j->state = J_DONE;
    ax__wake(j->task, 0);
}

int ax_to_thread_with(ax_thread_fn fn, void *arg, void **result,
                      int64_t deadline, const ax_thread_opts *opts)
{
    ax_task *t = ax__current();
    ax_loop *L;
    ax__tpool *p;
    job *j;
    int rc = 0;
    bool signal = false;

    if (!fn || ax__dl_invalid(deadline))
        return AX_EINVAL;
    if (!t)
        return AX_ENOTTASK;
    if (t->shstk) /* not audited for the shared stack: refused */
        return AX_ENOTSUP;
    L = t->loop;
    if (ax__dl_passed(L, deadline))
        return AX_ETIMEDOUT;
    if (!(p = pool_get(L->rt)) || !(j = ax__calloc(1, sizeof *j)))
        return AX_ENOMEM;
    j->m.run = job_home;
    j->fn = fn;
    j->arg = arg;
    j->release = opts ? opts->release : NULL;
    j->loop = L;
    j->task = t;
    pthread_mutex_lock(&p->mu);
    if (p->q.n < p->qcap && !p->waiting.head) {
        j->state = J_QUEUED;
        jl_push(&p->q, j);
        /* Threads waiting for work will each take a queued job; start
         * one more only if the queue outnumbers them. */
        if (p->q.n > (size_t)p->idle && p->nthreads < p->max &&
            (rc = start_thread(p)) && p->nthreads > 0)
            rc = 0; /* the running threads will get to it */
        if (rc)
            jl_unlink(&p->q, j);
        else
            signal = p->idle > 0;
    } else if (opts && opts->nowait) {
        rc = AX_EAGAIN;
    } else {
        j->state = J_WAITING;
        jl_push(&p->waiting, j);
    }
    pthread_mutex_unlock(&p->mu);
    /* Signalled after the unlock: a thread woken while we still held the
     * lock would block on it at once (two more futex calls and a context
     * switch per job). The pool outlives this task, so the cv is live. */
    if (signal)
        pthread_cond_signal(&p->cv);
    if (rc) {
        ax__free(j);
        return rc;
    }

    L->tpool_waits++;
    do
        rc = ax__wait(t, deadline, "ax_to_thread");
    while (!rc && j->state != J_DONE);
    L->tpool_waits--;
    if (!rc) {
        if (result)
            *result = j->result;
        ax__free(j);
        return 0;
    }
    /* Cancelled or timed out: leave the job to whoever holds it. */
    pthread_mutex_lock(&p->mu);
    switch (j->state) {
    case J_WAITING:
        jl_unlink(&p->waiting, j);
        break;
    case J_QUEUED:
        jl_unlink(&p->q, j);
        admit_waiting(p);
        break;
    case J_RUNNING: /* the pool thread gives it up */
    case J_POSTED:  /* the inbox message gives it up */
        j->abandoned = true;
        j = NULL;
        break;
    default: /* J_DONE: home, but the wake-up lost to the cancellation */
        pthread_mutex_unlock(&p->mu);
        give_up(p, j);
        return rc;
    }
    pthread_mutex_unlock(&p->mu);
    if (j) {
        /* Withdrawn before it started: release still hears of it, with
         * no result, so that arg has one place where it is freed. */
        if (j->release)
            j->release(NULL, j->arg);
        ax__free(j);
    }
    return rc;
}

int ax_to_thread_dl(ax_thread_fn fn, void *arg, void **result,
                    int64_t deadline)
{
    return ax_to_thread_with(fn, arg, result, deadline, NULL);
}

int ax_to_thread(ax_thread_fn fn, void *arg, void **result)
{
    return ax_to_thread_with(fn, arg, result, -1, NULL);
}

int ax_thread_stats_get(ax_thread_stats *st)
{
    ax_loop *L = ax__tls_loop;
    ax__tpool *p;

    if (!st)
        return AX_EINVAL;
    if (!L)
        return AX_EPERM;
    memset(st, 0, sizeof *st);
    p = atomic_load_explicit(&L->rt->tpool, memory_order_acquire);
    if (!p) {
        st->max_threads = L->rt->tpool_max ? L->rt->tpool_max : default_max();
        st->queue_cap = L->rt->tpool_queue ? L->rt->tpool_queue
                                           : AX_THREAD_QUEUE_DEFAULT;
        return 0;
    }
    pthread_mutex_lock(&p->mu);
    st->threads = p->nthreads;
    st->max_threads = p->max;
    st->idle = p->idle;
    st->queued = p->q.n;
    st->queue_cap = p->qcap;
    st->waiting = p->waiting.n;
    st->done = p->done;
    st->released = p->released;
    pthread_mutex_unlock(&p->mu);
    return 0;
}

/* After every loop has ended and every inbox was drained: no caller is
 * left, so the queue is empty (each cancelled caller withdrew its job) and
 * the threads only finish what runs, giving the results up. Joining them
 * waits for those jobs. */
void ax__tpool_term(ax__rt *rt)
{
    ax__tpool *p = atomic_load_explicit(&rt->tpool, memory_order_acquire);
    job *j;

    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    /* Defensive: a job queued by a caller that never came back (a task
     * abandoned by deadlock detection cannot be, but be sure) is freed
     * unrun. */
    while ((j = jl_pop(&p->q)))
        ax__free(j);
    while ((j = jl_pop(&p->waiting)))
        ax__free(j);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    ax__free(p->threads);
    ax__free(p);
    atomic_store(&rt->tpool, NULL);
}
