/*
 * The loop: ax_run(), the scheduler that drives tasks, timers and libevent,
 * teardown with its reports, and the introspection calls.
 *
 * Ready tasks are run straight from this driver rather than from a libevent
 * callback: libevent is polled only when something may be waiting there
 * (events the application added) or when no task is ready. That keeps a
 * yield free of system calls and libevent bookkeeping.
 */
#include "internal.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

AX__TLS ax_loop *ax__tls_loop;

/* How many busy rounds may pass before events the application added get a
 * non-blocking poll. */
#define POLL_EVERY 16

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    ((ax_loop *)arg)->tmr_armed = false;
}

static int loop_init(ax_loop *L, const ax_opts *opts)
{
    const char *env = getenv("AX_VIRTUAL_CLOCK");
    size_t stack = opts && opts->stack_size ? opts->stack_size
                                            : AX_DEFAULT_STACK_SIZE;

    memset(L, 0, sizeof *L);
    L->page = (size_t)sysconf(_SC_PAGESIZE);
#if defined(AX_ASAN) || defined(AX_TSAN)
    /* Instrumented frames are several times larger. */
    if (!(opts && opts->stack_size))
        stack *= 4;
#endif
    L->default_stack = ax__stack_round(L, stack);
    L->virtual_clock = (opts && opts->virtual_clock) ||
                       (env && env[0] && strcmp(env, "0") != 0);
    L->report = opts ? opts->report : NULL;
    L->start_ns = ax__mono_ns();
    L->base = event_base_new();
    if (!L->base)
        goto fail_base;
    L->tmr_ev = evtimer_new(L->base, on_timer, L);
    if (!L->tmr_ev)
        goto fail_timer;
    if (ax__altstack_init(L))
        goto fail_alt;
    ax__coro_init_sched(L);
    return 0;

fail_alt:
    event_free(L->tmr_ev);
fail_timer:
    event_base_free(L->base);
fail_base:
    return AX_ENOMEM;
}

static void loop_term(ax_loop *L)
{
    ax__coro_term_sched(L);
    ax__altstack_term(L);
    ax__stack_pool_term(L);
    free(L->heap);
    event_free(L->tmr_ev);
    event_base_free(L->base);
}

static void cancel_all(ax_loop *L)
{
    for (ax_task *t = L->tasks; t; t = t->lnext)
        if (t->state != AX__T_DONE && !t->cancel_req)
            ax__task_cancel(t);
}

static int user_events(ax_loop *L)
{
    return event_base_get_num_events(L->base, EVENT_BASE_COUNT_ADDED) -
           (L->tmr_armed ? 1 : 0);
}

/* Tasks that still wait when nothing can wake them are beyond help: their
 * stacks hold frames that will never run. Free them so that teardown ends
 * and valgrind stays quiet about axon's own memory. */
static void abandon_stuck(ax_loop *L)
{
    ax_task *t = L->tasks, *next;

    for (; t; t = next) {
        next = t->lnext;
        if (t->state == AX__T_DONE)
            continue;
        ax__report(L, "task '%s' ignored its cancellation and is abandoned",
                   t->name);
        ax__timer_del(L, &t->timer);
        t->state = AX__T_DONE;
        L->nunfinished--;
        t->fut.done = true;
        t->fut.status = AX_ECANCELED;
        while (t->fut.head)
            ax__waiter_remove(&t->fut, t->fut.head);
        L->zombie = t;
        t->has_handle = t->has_handle && t != L->main;
        ax__reap(L);
    }
}

/* Runs until every task has ended (or been abandoned). */
static void drive(ax_loop *L)
{
    unsigned rounds = 0;
    bool stuck_once = false;

    for (;;) {
        ax__run_ready(L);
        if (L->main->state == AX__T_DONE && !L->tearing_down) {
            L->tearing_down = true;
            cancel_all(L);
        }
        if (!L->nunfinished)
            return;
        if (!L->virtual_clock)
            ax__timers_fire(L, ax__now(L));
        if (L->rq_head) {
            if (++rounds % POLL_EVERY == 0 && user_events(L) > 0)
                event_base_loop(L->base, EVLOOP_NONBLOCK);
            continue;
        }
        if (user_events(L) > 0) {
            if (L->virtual_clock && L->nheap) {
                event_base_loop(L->base, EVLOOP_NONBLOCK);
                if (!L->rq_head) {
                    L->vnow = L->heap[0]->deadline > L->vnow
                                  ? L->heap[0]->deadline
                                  : L->vnow;
                    ax__timers_fire(L, L->vnow);
                }
                continue;
            }
        } else if (L->nheap) {
            if (L->virtual_clock) {
                if (L->heap[0]->deadline > L->vnow)
                    L->vnow = L->heap[0]->deadline;
                ax__timers_fire(L, L->vnow);
                continue;
            }
        } else {
            /* Every task waits on a future, and no timer or event can
             * complete one: a deadlock. */
            if (stuck_once || L->tearing_down) {
                abandon_stuck(L);
                return;
            }
            stuck_once = true;
            L->deadlocked = true;
            ax__report(L, "deadlock: %zu task(s) wait and nothing can wake "
                          "them; cancelling them",
                       L->nunfinished);
            ax_dump_tasks(L->report ? L->report : stderr);
            cancel_all(L);
            continue;
        }
        if (L->nheap) {
            int64_t d = L->heap[0]->deadline - ax__now(L);
            struct timeval tv;
            if (d < 0)
                d = 0;
            tv.tv_sec = (time_t)(d / 1000000000);
            tv.tv_usec = (suseconds_t)((d % 1000000000 + 999) / 1000);
            evtimer_add(L->tmr_ev, &tv);
            L->tmr_armed = true;
        }
        event_base_loop(L->base, EVLOOP_ONCE);
        if (L->tmr_armed) {
            evtimer_del(L->tmr_ev);
            L->tmr_armed = false;
        }
        if (!L->virtual_clock)
            ax__timers_fire(L, ax__now(L));
    }
}

static void final_reports(ax_loop *L)
{
    size_t nf = 0, ng = 0;

    while (L->groups) {
        ng++;
        ax__group_teardown(L->groups);
    }
    for (ax_task *t = L->tasks, *next; t; t = next) {
        next = t->lnext;
        if (t == L->main || t->owned)
            continue;
        ax__report(L, "task '%s' was never awaited nor detached", t->name);
        if (t->fut.status && t->fut.status != AX_ECANCELED &&
            !t->fut.retrieved && !t->reported)
            ax__report(L,
                       "task '%s' failed with %s (%s) and nobody retrieved it",
                       t->name, ax_err_name(t->fut.status),
                       ax_strerror(t->fut.status));
        ax__task_release(t);
    }
    for (ax_future *f = L->futures; f; f = f->lnext)
        nf++;
    /* Freeing a gather releases the tasks it owns. */
    while (L->futures) {
        ax_future *f = L->futures;
        while (f->head)
            ax__waiter_remove(f, f->head);
        ax_future_free(f);
    }
    if (nf)
        ax__report(L, "%zu future(s) never freed", nf);
    if (ng)
        ax__report(L, "%zu group(s) never freed", ng);
    while (L->tasks) {
        if (L->tasks != L->main)
            ax__report(L, "task '%s' leaked", L->tasks->name);
        ax__task_free(L->tasks);
    }
}

int ax_run_with(const ax_opts *opts, ax_task_fn fn, void *arg,
                void **result)
{
    ax_task_opts topts = {.name = "main"};
    ax_loop *L;
    int rc;

    if (!fn)
        return AX_EINVAL;
    if (ax__tls_loop)
        return AX_EBUSY;
    if (opts && opts->stack_size > ((size_t)1 << 30))
        return AX_EINVAL;
    L = malloc(sizeof *L);
    if (!L)
        return AX_ENOMEM;
    rc = loop_init(L, opts);
    if (rc)
        goto fail_init;
    ax__tls_loop = L;
    rc = ax_spawn_ex(&L->main, fn, arg, &topts);
    if (rc)
        goto fail_spawn;

    drive(L);

    rc = L->deadlocked ? AX_EDEADLK : L->main->fut.status;
    if (rc == 0 && result)
        *result = L->main->fut.value;
    L->main->fut.retrieved = true;
    final_reports(L);
fail_spawn:
    ax__tls_loop = NULL;
    loop_term(L);
fail_init:
    free(L);
    return rc;
}

int ax_run(ax_task_fn fn, void *arg, void **result)
{
    return ax_run_with(NULL, fn, arg, result);
}

ax_loop *ax_loop_current(void) { return ax__tls_loop; }

void *ax_loop_base(ax_loop *loop) { return loop ? loop->base : NULL; }

static const char *state_name(const ax_task *t)
{
    switch (t->state) {
    case AX__T_READY:
        return "ready";
    case AX__T_RUNNING:
        return "running";
    case AX__T_SUSPENDED:
        return t->wait_what ? t->wait_what : "suspended";
    default:
        return "done";
    }
}

int ax_dump_tasks(FILE *out)
{
    ax_loop *L = ax__tls_loop;
    size_t n = 0;

    if (!out)
        return AX_EINVAL;
    if (!L)
        return AX_EPERM;
    for (ax_task *t = L->tasks; t; t = t->lnext)
        n++;
    fprintf(out, "axon: %zu task(s) at t=%.6f s\n", n,
            (double)ax__now(L) / 1e9);
    for (ax_task *t = L->tasks; t; t = t->lnext) {
        fprintf(out, "  #%llu '%s' %s", (unsigned long long)t->id, t->name,
                state_name(t));
        if (t->state == AX__T_SUSPENDED && t->timer.idx != AX__TIMER_IDLE)
            fprintf(out, " (until t=%.6f s)",
                    (double)t->timer.deadline / 1e9);
        if (t->state == AX__T_SUSPENDED && t->wait_obj &&
            t->wait_obj != &t->timer) {
            const ax_future *f = t->wait_obj;
            if (f->kind == AX__FUT_TASK)
                fprintf(out, " task #%llu '%s'",
                        (unsigned long long)((const ax_task *)f)->id,
                        ((const ax_task *)f)->name);
            else
                fprintf(out, " %s %p",
                        f->kind == AX__FUT_GATHER ? "gather" : "future",
                        (const void *)f);
        }
        if (t->state == AX__T_DONE)
            fprintf(out, " (%s)", ax_err_name(t->fut.status));
        if (t->cancel_req)
            fputs(" [cancelled]", out);
        fputc('\n', out);
    }
    fflush(out);
    return 0;
}

int ax_loop_stats_get(ax_loop_stats *st)
{
    ax_loop *L = ax__tls_loop;

    if (!st)
        return AX_EINVAL;
    if (!L)
        return AX_EPERM;
    *st = L->st;
    return 0;
}

static char build_info[256];
static pthread_once_t build_once = PTHREAD_ONCE_INIT;

static void make_build_info(void)
{
    struct event_base *b = event_base_new();
    const char *method = b ? event_base_get_method(b) : "unknown";

    snprintf(build_info, sizeof build_info,
             "axon %d.%d.%d context=%s doorbell=none(single loop) "
             "sanitizer=%s valgrind=%s libevent=%s method=%s",
             AXON_VERSION_MAJOR, AXON_VERSION_MINOR, AXON_VERSION_PATCH,
             AX_CTX_NAME,
#if defined(AX_ASAN)
             "asan",
#elif defined(AX_TSAN)
             "tsan",
#else
             "none",
#endif
#if defined(HAVE_VALGRIND) && HAVE_VALGRIND
             "yes",
#else
             "no",
#endif
             event_get_version(), method);
    if (b)
        event_base_free(b);
}

const char *ax_build_info(void)
{
    pthread_once(&build_once, make_build_info);
    return build_info;
}
