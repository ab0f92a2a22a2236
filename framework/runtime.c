/* SPDX-License-Identifier: MIT */
/*
 * The runtime: ax_run_with() with one loop per thread, spawning across
 * loops, and the shutdown handshake.
 *
 * Shutdown, in order: the main task (loop 0) ends; every loop is told to
 * tear down (cancel all its tasks) through a flag and its doorbell; the
 * loops keep running, since a cancelled task may still await a task on
 * another loop; when the runtime-wide count of unfinished tasks reaches
 * zero, whoever took it there tells every loop to quit. Each loop thread
 * then reports and frees its own tasks and stacks; ax_run() joins the
 * threads, drops what is still queued in an inbox (each message then frees
 * what it holds), lets the attached layers (ext.h) free their state, and
 * frees the loops.
 */
#include "internal.h"
#include "axon.h"

#include <event2/event.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static void tell_all(ax__rt *rt, size_t flag_offset)
{
    for (int i = 0; i < rt->nloops; i++) {
        ax_loop *L = rt->loops[i];
        atomic_bool *flag = (atomic_bool *)((char *)L + flag_offset);
        atomic_store_explicit(flag, true, memory_order_release);
        ax__bell_ring(&L->inbox.bell);
    }
}

void ax__runtime_main_done(ax_loop *L)
{
    ax__rt *rt = L->rt;

    atomic_store_explicit(&rt->shutting, 1, memory_order_seq_cst);
    if (rt->nloops == 1) {
        ax__loop_teardown(L);
        return;
    }
    tell_all(rt, offsetof(ax_loop, teardown_req));
    if (atomic_load_explicit(&rt->unfinished, memory_order_seq_cst) == 0)
        tell_all(rt, offsetof(ax_loop, quit_req));
}

void ax__runtime_task_ended(ax_loop *L)
{
    ax__rt *rt = L->rt;

    if (atomic_fetch_sub_explicit(&rt->unfinished, 1,
                                  memory_order_seq_cst) == 1 &&
        rt->nloops > 1 &&
        atomic_load_explicit(&rt->shutting, memory_order_seq_cst))
        tell_all(rt, offsetof(ax_loop, quit_req));
}

static void *loop_thread(void *arg)
{
    ax_loop *L = arg;

    ax__loop_enter(L);
    ax__drive(L);
    ax__inbox_close(L);
    ax__final_reports(L);
    ax__loop_leave(L);
    return NULL;
}

static int resolve_loops(const ax_opts *opts)
{
    int n = opts ? opts->loops : 0;

    if (n == AX_LOOPS_PER_CPU) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n = c < 1 ? 1 : c > AX_LOOPS_MAX ? AX_LOOPS_MAX : (int)c;
    }
    if (n == 0)
        n = 1;
    return n < 1 || n > AX_LOOPS_MAX ? -1 : n;
}

static void rt_free(ax__rt *rt, int made)
{
    /* Dropping a message can post another (a request answered with
     * AX_ESHUTDOWN goes to its asker's loop): drain until all are empty. */
    for (bool again = true; again;) {
        again = false;
        for (int i = 0; i < made; i++)
            again |= ax__inbox_drain(rt->loops[i], true) > 0;
    }
    /* No task waits any more: the pool only finishes the jobs still
     * running (their callers left) and joins its threads. */
    ax__tpool_term(rt);
    ax__ext_term(rt);
    ax__trace_close(rt);
    for (int i = 0; i < made; i++) {
        ax__loop_term(rt->loops[i]);
        ax__aligned_free(rt->loops[i]);
    }
    pthread_mutex_destroy(&rt->ext_lock);
    ax__free(rt->loops);
    ax__free(rt->threads);
    ax__free(rt);
}

/* The main body runs through this so that its return value survives a
 * cancellation: a server stopped by SIGINT that returns normally has
 * succeeded (see ax_run_with()), and its result is wanted. */
typedef struct main_call {
    ax_task_fn fn;
    void *arg;
    void *ret;
} main_call;

static void *main_entry(void *p)
{
    main_call *mc = p;

    mc->ret = mc->fn(mc->arg);
    return mc->ret;
}

static int run_with(const ax_opts *opts, ax_task_fn fn, void *arg,
                    void **result)
{
    ax_task_opts topts = {.name = "main"};
    main_call mc = {.fn = fn, .arg = arg};
    int n = resolve_loops(opts), made = 0, started = 1, rc;
    ax__rt *rt;
    ax_loop *L0;

    if (!fn || n < 0 || (opts && opts->stack_size > ((size_t)1 << 30)) ||
        (opts && (opts->thread_pool_max < 0 ||
                  opts->thread_pool_max > AX_THREAD_POOL_MAX)))
        return AX_EINVAL;
    if (ax__tls_loop)
        return AX_ENESTED;
    rt = ax__calloc(1, sizeof *rt);
    if (!rt)
        return AX_ENOMEM;
    rt->nloops = n;
    rt->loops = ax__calloc((size_t)n, sizeof *rt->loops);
    rt->threads = ax__calloc((size_t)n, sizeof *rt->threads);
    if (!rt->loops || !rt->threads) {
        ax__free(rt->loops);
        ax__free(rt->threads);
        ax__free(rt);
        return AX_ENOMEM;
    }
    pthread_mutex_init(&rt->ext_lock, NULL);
    rt->tpool_max = opts ? opts->thread_pool_max : 0;
    rt->tpool_queue = opts ? opts->thread_pool_queue : 0;
    rc = ax__trace_open(rt, opts);
    for (; !rc && made < n; made++) {
        /* The inbox wants its cache-line alignment. */
        size_t sz = (sizeof(ax_loop) + 63) & ~(size_t)63;
        rt->loops[made] = ax__aligned_alloc(64, sz);
        if (!rt->loops[made])
            rc = AX_ENOMEM;
        else if ((rc = ax__loop_init(rt->loops[made], rt, made, opts)))
            ax__aligned_free(rt->loops[made]);
        if (rc)
            break;
    }
    if (rc) {
        rt_free(rt, made);
        return rc;
    }
    L0 = rt->loops[0];
    ax__loop_enter(L0);
    for (; started < n; started++)
        if (pthread_create(&rt->threads[started], NULL, loop_thread,
                           rt->loops[started]) != 0)
            break;
    if (started < n) {
        /* Let the threads that did start run to an empty shutdown. */
        rc = AX_EAGAIN;
        rt->nloops = started;
        tell_all(rt, offsetof(ax_loop, quit_req));
        for (int i = 1; i < started; i++)
            pthread_join(rt->threads[i], NULL);
        ax__loop_leave(L0);
        rt->nloops = n;
        rt_free(rt, n);
        return rc;
    }

    rc = ax_spawn_with(&L0->main, main_entry, &mc, &topts);
    if (rc) {
        ax__runtime_main_done(L0);
        ax__drive(L0);
    } else {
        ax__drive(L0);
        rc = L0->deadlocked ? AX_EDEADLK : L0->main->fut.status;
        /* The signal's cancellation is the stop request, not a failure of
         * the main task; ax_task_fail() (even with AX_ECANCELED) still is. */
        if (rc == AX_ECANCELED && L0->sig_stopped &&
            L0->main->fail_code == 0)
            rc = 0;
        if (rc == 0 && result)
            *result = mc.ret;
        L0->main->fut.retrieved = true;
    }
    ax__inbox_close(L0);
    ax__final_reports(L0);
    for (int i = 1; i < n; i++)
        pthread_join(rt->threads[i], NULL);
    ax__loop_leave(L0);
    rt_free(rt, n);
    return rc;
}

/* Counted so that ax_set_allocator() cannot swap the allocator under a
 * runtime whose memory came from the old one. */
int ax_run_with(const ax_opts *opts, ax_task_fn fn, void *arg,
                void **result)
{
    int rc;

    ax__alloc_runtime(1);
    rc = run_with(opts, fn, arg, result);
    ax__alloc_runtime(-1);
    return rc;
}

int ax_run(ax_task_fn fn, void *arg, void **result)
{
    return ax_run_with(NULL, fn, arg, result);
}

int ax_loop_count(void)
{
    ax_loop *L = ax__tls_loop;

    return L ? L->rt->nloops : 0;
}

ax_loop *ax_loop_at(int i)
{
    ax_loop *L = ax__tls_loop;

    if (!L || i < 0 || i >= L->rt->nloops)
        return NULL;
    return L->rt->loops[i];
}

int ax_loop_index(const ax_loop *loop) { return loop ? loop->pub.index : -1; }

int ax_runtime_stats_get(ax_runtime_stats *st)
{
    ax_loop *L = ax__tls_loop;
    ax__rt *rt;

    if (!st)
        return AX_EINVAL;
    if (!L)
        return AX_EPERM;
    rt = L->rt;
    memset(st, 0, sizeof *st);
    st->posts = atomic_load(&rt->posts);
    return 0;
}

/* ---- signals ----------------------------------------------------------- */

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    ax_loop *L = arg;

    (void)what;
    if (L->sig_seen) {
        /* The shutdown the first one asked for is stuck (or slow): the
         * default action ends the process, as asyncio and Go do. */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    L->sig_seen = true;
    if (L->main && !L->main->fut.done && !L->main->cancel_req) {
        L->sig_stopped = true;
        ax__task_cancel(L->main);
    }
}

int ax_stop_on_signals(void)
{
    ax_task *t = ax__current();
    ax_loop *L;

    if (!t)
        return AX_ENOTTASK;
    L = t->loop;
    if (L->pub.index != 0)
        return AX_EPERM;
    for (int i = 0; i < 2; i++) {
        int sig = i ? SIGTERM : SIGINT;
        if (L->sig_ev[i])
            continue;
        L->sig_ev[i] = evsignal_new(L->base, sig, on_signal, L);
        if (!L->sig_ev[i] || evsignal_add(L->sig_ev[i], NULL) != 0)
            return AX_ENOMEM;
    }
    return 0;
}
