/* SPDX-License-Identifier: MIT */
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
#include "axon.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

AX__TLS ax_loop *ax__tls_loop;

static void dump_loop(ax_loop *L, FILE *out, bool name_loop);

/* How many busy rounds may pass before events the application added get a
 * non-blocking poll. */
#define POLL_EVERY 16

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    ((ax_loop *)arg)->tm.armed = false;
}

static void on_bell(evutil_socket_t fd, short what, void *arg)
{
    ax_loop *L = arg;

    (void)fd;
    (void)what;
    ax__bell_drain(&L->inbox.bell);
    L->st.inbox_wakeups++;
}

/* Everything that can be made on the thread that calls ax_run(); the rest
 * (TLS, the alternate signal stack, sanitizer fibers) is made by
 * ax__loop_enter() on the loop's own thread. */
int ax__loop_init(ax_loop *L, ax__rt *rt, int index, const ax_opts *opts)
{
    const char *env = getenv("AX_VIRTUAL_CLOCK");
    size_t stack = opts && opts->stack_size ? opts->stack_size
                                            : AX_DEFAULT_STACK_SIZE;

    memset(L, 0, sizeof *L);
    L->rt = rt;
    L->pub.index = index;
    L->stk.page = (size_t)sysconf(_SC_PAGESIZE);
    L->stk.guard = (AX__GUARD_SIZE + L->stk.page - 1) & ~(L->stk.page - 1);
#if defined(AX_ASAN) || defined(AX_TSAN)
    /* Instrumented frames are several times larger. */
    if (!(opts && opts->stack_size))
        stack *= 4;
#endif
    L->stk.default_size = ax__stack_round(L, stack);
    L->tm.virtual_clock = (opts && opts->virtual_clock) ||
                       (env && env[0] && strcmp(env, "0") != 0);
    L->deadlock_check = !(opts && opts->external_wakeups);
    L->report = opts ? opts->report : NULL;
    L->max_posts = opts && opts->max_posts ? opts->max_posts
                                           : AX_MAX_POSTS_DEFAULT;
    L->tm.start_ns = ax__mono_ns();
    ax__inbox_init(&L->inbox);
    L->inbox.vclock = L->tm.virtual_clock;
    atomic_init(&L->vnext, INT64_MAX);
    if (ax__bell_init(&L->inbox.bell))
        goto fail_bell;
    L->base = event_base_new();
    if (!L->base)
        goto fail_base;
    L->tm.ev = evtimer_new(L->base, on_timer, L);
    if (!L->tm.ev)
        goto fail_timer;
    L->bell_ev = event_new(L->base, L->inbox.bell.rfd, EV_READ | EV_PERSIST,
                           on_bell, L);
    if (!L->bell_ev || event_add(L->bell_ev, NULL) != 0)
        goto fail_ev;
    if (opts && opts->log) {
        /* Every report path writes to L->report: the callback sits
         * behind a stream of its own (trace.c). */
        L->log_sink = ax__log_open(opts->log, opts->log_arg);
        if (!L->log_sink)
            goto fail_ev;
        L->report = L->log_sink;
    }
    return 0;

fail_ev:
    if (L->bell_ev)
        event_free(L->bell_ev);
    event_free(L->tm.ev);
fail_timer:
    event_base_free(L->base);
fail_base:
    ax__bell_term(&L->inbox.bell);
fail_bell:
    return AX_ENOMEM;
}

int ax__loop_enter(ax_loop *L)
{
    ax__tls_loop = L;
    ax__trace_loop_start(L);
    ax__coro_init_sched(L);
    return ax__altstack_init(L);
}

void ax__loop_leave(ax_loop *L)
{
    ax__trace_loop_end(L);
    ax__coro_term_sched(L);
    ax__altstack_term(L);
    ax__stack_pool_term(L);
    ax__io_bufs_term(L);
    /* After the final reports, the last code of this loop that could
     * close a socket with the loop's thread still in it. */
    ax__io_set_term(L);
    ax__tls_loop = NULL;
}

/* After every thread has left: nothing can post any more. */
void ax__loop_term(ax_loop *L)
{
    ax__inbox_drain(L, true);
    ax__free(L->tm.heap);
    for (int i = 0; i < 2; i++)
        if (L->sig_ev[i])
            event_free(L->sig_ev[i]);
    ax__signal_term(L);
    event_free(L->bell_ev);
    event_free(L->tm.ev);
    event_base_free(L->base);
    ax__bell_term(&L->inbox.bell);
    if (L->log_sink)
        fclose(L->log_sink);
    /* Last: draining the inbox above may still free a task that never
     * arrived. */
    ax__pools_term(L);
}

/* The runtime's teardown reached this loop: the layers hear it first
 * (they may refuse new work), then every task is cancelled. */
void ax__loop_teardown(ax_loop *L)
{
    L->tearing_down = true;
    atomic_store_explicit(&L->teardown_ack, true, memory_order_seq_cst);
    ax__ext_loop_stop(L);
    ax__cancel_all(L);
}

void ax__cancel_all(ax_loop *L)
{
    for (ax_task *t = L->tasks; t; t = t->lnext)
        if (t->state != AX__T_DONE && !t->cancel_req)
            ax__task_cancel(t);
}

/* Events added to libevent besides axon's own: the doorbell, the timer
 * and the epoll set's event (wait.c). */
static int other_events(ax_loop *L)
{
    return event_base_get_num_events(L->base, EVENT_BASE_COUNT_ADDED) - 1 -
           (L->tm.armed ? 1 : 0) - (L->ep.ev ? 1 : 0);
}

/* Events the application added: the others, and every descriptor in the
 * loop's epoll set (the set's own event counts as none: with no socket
 * open it cannot wake a task). */
static int user_events(ax_loop *L)
{
    return other_events(L) + (int)L->ep.n;
}

/* A poll that does not block. With only sockets, the epoll set asked
 * directly: one system call, where going through libevent costs its
 * epoll_wait and then the set's. With other events in libevent (the
 * application's, ax_stop_on_signals()'s) libevent alone, which reaches the
 * set through its event: its epoll_wait, and the set's only when edges
 * wait there (asking both always cost two). */
static void poll_nonblock(ax_loop *L)
{
    if (other_events(L) > 0)
        event_base_loop(L->base, EVLOOP_NONBLOCK);
    else if (L->ep.n)
        ax__io_poll(L);
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
                   ax__task_name(t));
        /* Its locks are reported but not handed on: their waiters are
         * being abandoned too, their queue nodes on stacks about to go. */
        if (t->nlocks)
            ax__sync_task_ended(t, false);
        if (t->scopes)
            ax__scope_task_ended(t);
        ax__timer_del_now(L, &t->timer);
        t->state = AX__T_DONE;
        L->nunfinished--;
        ax__runtime_task_ended(L);
        t->fut.done = true;
        t->fut.status = AX_ECANCELED;
        while (t->fut.head)
            ax__waiter_remove(&t->fut, t->fut.head);
        L->rq.zombie = t;
        t->has_handle = t->has_handle && t != L->main;
        ax__reap(L);
    }
}

/* For the top's key, not its settled deadline: the key is never later
 * than any live timer's, so at worst the loop wakes early once and
 * ax__timers_fire() settles it. Settling here moved a postponed top
 * (timer.h) on every sleep of the loop: ~140 instructions per request of
 * http-hello, what the lazy removal had saved. */
static void arm_timer(ax_loop *L)
{
    int64_t d = L->tm.heap[0]->deadline - ax__now(L);
    struct timeval tv;

    if (d < 0)
        d = 0;
    tv.tv_sec = (time_t)(d / 1000000000);
    tv.tv_usec = (suseconds_t)((d % 1000000000 + 999) / 1000);
    evtimer_add(L->tm.ev, &tv);
    L->tm.armed = true;
}

static void virtual_sync(ax_loop *L);

static void virtual_advance(ax_loop *L)
{
    int64_t g;

    virtual_sync(L);
    if (L->tm.heap[0]->deadline > L->tm.vnow)
        L->tm.vnow = L->tm.heap[0]->deadline;
    g = atomic_load_explicit(&L->rt->vclock, memory_order_relaxed);
    while (g < L->tm.vnow &&
           !atomic_compare_exchange_weak_explicit(&L->rt->vclock, &g,
                                                  L->tm.vnow,
                                                  memory_order_release,
                                                  memory_order_relaxed))
        ;
    ax__timers_fire(L, L->tm.vnow);
}

/* Nothing is ready, no timer is set, nothing was added to libevent, and
 * (single loop) nobody else can post: every task waits for a future that
 * nothing can complete. Returns true when drive() should give up. */
static bool on_deadlock(ax_loop *L, bool *stuck_once)
{
    if (*stuck_once || L->tearing_down) {
        abandon_stuck(L);
        return true;
    }
    *stuck_once = true;
    L->deadlocked = true;
    ax__report(L, "deadlock: %zu task(s) wait and nothing can wake them; "
                  "cancelling them",
               L->nunfinished);
    ax_dump_tasks(L->report ? L->report : stderr);
    ax__cancel_all(L);
    return false;
}

/* How long an idle loop of a multi-loop runtime polls its inbox before it
 * blocks in the kernel. A cross-thread wake-up through the doorbell costs
 * tens of microseconds (write, epoll, scheduler); an answer that arrives
 * within this window costs none of that, which is what makes cross-loop
 * request/response fast. The price is this much CPU per idle period. */
#define SPIN_NS INT64_C(50000)

static bool spin_for_work(ax_loop *L)
{
    int64_t end;

    if (L->rt->nloops == 1)
        return false;
    end = ax__mono_ns() + SPIN_NS;
    for (unsigned i = 1;; i++) {
        if (ax__inbox_busy(L))
            return true;
        AX__CPU_RELAX();
        if (!(i & 63) && ax__mono_ns() >= end)
            return false;
    }
}

/* With several loops, virtual time must not run ahead of an answer that
 * another loop is about to send. A loop advances its clock only when the
 * whole runtime is quiet: every loop idle (vidle) and no message pushed
 * and not yet run (vinflight). Loops read each other's state at different
 * instants, so a loop turning busy meanwhile must be seen: each
 * idle-to-busy turn bumps vepoch, and a check that saw vepoch move is void.
 * (The previous rule, "no traffic here for 2 ms of real time", let a
 * timeout fire early when the answering loop was slow, as under TSan.)
 *
 * Of the quiet loops, only the one whose next deadline is the earliest
 * (vnext) advances; the others wait for it. Without that rule a loop that
 * polls with short sleeps kept bumping vepoch and advanced its own clock
 * by thousands of seconds while a loop with a later timer never saw a
 * quiet window (minutes under valgrind, which runs one thread at a time).
 * Every advance raises rt->vclock, and a loop turning busy catches its
 * clock up to it, so the loops share one virtual time: a loop's timers
 * are never earlier than the deadline another loop advanced to, since
 * that one was the earliest of all. */
static void virtual_sync(ax_loop *L)
{
    int64_t g = atomic_load_explicit(&L->rt->vclock, memory_order_acquire);

    if (g > L->tm.vnow)
        L->tm.vnow = g;
}

static void virtual_busy(ax_loop *L)
{
    if (L->tm.virtual_clock && atomic_load_explicit(&L->vidle,
                                                 memory_order_relaxed)) {
        atomic_store_explicit(&L->vidle, false, memory_order_seq_cst);
        atomic_fetch_add_explicit(&L->rt->vepoch, 1, memory_order_seq_cst);
        virtual_sync(L);
    }
}

/* NEXT: this loop's earliest deadline, INT64_MAX when it has no timer
 * that virtual time drives (it blocks instead). Published before vidle so
 * that a loop seeing this one idle sees its deadline too. */
static void virtual_idle(ax_loop *L, int64_t next)
{
    if (L->tm.virtual_clock) {
        atomic_store_explicit(&L->vnext, next, memory_order_seq_cst);
        atomic_store_explicit(&L->vidle, true, memory_order_seq_cst);
    }
}

static bool virtual_quiet(ax_loop *L)
{
    ax__rt *rt = L->rt;
    unsigned long epoch;
    int64_t mine = L->tm.heap[0]->deadline;
    struct timespec nap = {0, 20000};

    if (rt->nloops == 1)
        return true;
    virtual_idle(L, mine);
    epoch = atomic_load_explicit(&rt->vepoch, memory_order_seq_cst);
    if (atomic_load_explicit(&rt->vinflight, memory_order_seq_cst))
        goto busy;
    for (int i = 0; i < rt->nloops; i++) {
        ax_loop *o = rt->loops[i];

        if (!atomic_load_explicit(&o->vidle, memory_order_seq_cst) ||
            atomic_load_explicit(&o->vnext, memory_order_seq_cst) < mine)
            goto busy;
    }
    if (atomic_load_explicit(&rt->vinflight, memory_order_seq_cst) == 0 &&
        atomic_load_explicit(&rt->vepoch, memory_order_seq_cst) == epoch)
        return true;
busy:
    nanosleep(&nap, NULL);
    return false;
}

/* Deadlock with several loops. A loop that is about to block with nothing
 * of its own that could wake a task (no timer, no event of the
 * application, no foreign poster) raises dl_idle and checks the others;
 * the last loop to get there finds the runtime stuck. Done only on the way
 * to blocking, after the spin, so that a busy runtime never pays for it.
 *
 * Loops read each other at different instants, so a loop that wakes
 * meanwhile must be seen: dropping dl_idle bumps dl_epoch before the loop
 * does anything, and a check that saw dl_epoch move is void (as in
 * virtual_quiet()). Two passes: the first sees every loop idle, so from
 * its end on no loop runs and nothing new can be sent; the second then
 * finds every inbox empty and no flag (teardown, deadlock) waiting to be
 * taken in, so nothing was still in flight. The claim is a
 * compare-and-swap on dl_epoch: of two loops that both find the runtime
 * stuck only one reports, and the bump voids every other check. */
static void stuck_leave(ax_loop *L)
{
    if (atomic_load_explicit(&L->dl_idle, memory_order_relaxed)) {
        atomic_store_explicit(&L->dl_idle, false, memory_order_seq_cst);
        atomic_fetch_add_explicit(&L->rt->dl_epoch, 1, memory_order_seq_cst);
    }
}

static bool loop_quiet(ax_loop *o, bool inbox)
{
    if (!atomic_load_explicit(&o->dl_idle, memory_order_seq_cst) ||
        atomic_load_explicit(&o->foreign_posts, memory_order_seq_cst))
        return false;
    if (!inbox)
        return true;
    return atomic_load_explicit(&o->inbox.head, memory_order_seq_cst) ==
               &o->inbox.stub &&
           !(atomic_load_explicit(&o->teardown_req, memory_order_seq_cst) &&
             !atomic_load_explicit(&o->teardown_ack, memory_order_seq_cst)) &&
           atomic_load_explicit(&o->deadlock_req, memory_order_seq_cst) ==
               atomic_load_explicit(&o->deadlock_ack, memory_order_seq_cst);
}

static bool runtime_stuck(ax_loop *L)
{
    ax__rt *rt = L->rt;
    unsigned long epoch;

    atomic_store_explicit(&L->dl_idle, true, memory_order_seq_cst);
    epoch = atomic_load_explicit(&rt->dl_epoch, memory_order_seq_cst);
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < rt->nloops; i++)
            if (!loop_quiet(rt->loops[i], pass == 1))
                return false;
    if (atomic_load_explicit(&rt->unfinished, memory_order_seq_cst) <= 0 ||
        atomic_load_explicit(&L->quit_req, memory_order_seq_cst))
        return false;
    return atomic_compare_exchange_strong_explicit(
        &rt->dl_epoch, &epoch, epoch + 1, memory_order_seq_cst,
        memory_order_seq_cst);
}

/* Found by runtime_stuck(): report every loop's tasks while they all
 * still hold still, then have each loop take the verdict (stuck_take()). */
static void stuck_report(ax_loop *L)
{
    ax__rt *rt = L->rt;
    FILE *out = L->report ? L->report : stderr;

    /* Not idle any more before anyone is told: a loop woken by the flag
     * below must not find this one still idle, with its own flag not yet
     * set, and claim a second deadlock. */
    stuck_leave(L);
    ax__report(L, "deadlock: %ld task(s) on %d loops wait and nothing can "
                  "wake them; cancelling them",
               (long)atomic_load_explicit(&rt->unfinished,
                                          memory_order_seq_cst),
               rt->nloops);
    for (int i = 0; i < rt->nloops; i++)
        dump_loop(rt->loops[i], out, true);
    for (int i = 0; i < rt->nloops; i++)
        atomic_fetch_add_explicit(&rt->loops[i]->deadlock_req, 1,
                                  memory_order_seq_cst);
    for (int i = 0; i < rt->nloops; i++)
        if (rt->loops[i] != L)
            ax__bell_ring(&rt->loops[i]->inbox.bell);
}

/* A task that waits again after the deadlock's cancellation is not
 * abandoned as with one loop: its stack may hold a proxy that another
 * loop's future still links to (remote.c), which that loop would write
 * through after the stack went back to the pool. It is named, once, and
 * the runtime stays stuck (as it did before several loops had detection). */
static void stuck_take(ax_loop *L, unsigned req)
{
    stuck_leave(L);
    atomic_store_explicit(&L->deadlock_ack, req, memory_order_seq_cst);
    if (!L->deadlocked) {
        L->deadlocked = true;
        ax__cancel_all(L);
        return;
    }
    /* No more checks: they would only find the same tasks again. */
    L->deadlock_check = false;
    for (ax_task *t = L->tasks; t; t = t->lnext)
        if (t->state != AX__T_DONE)
            ax__report(L, "task '%s' ignored its cancellation; the runtime "
                          "cannot end",
                       ax__task_name(t));
}

/* The scheduler: runs until this loop may stop. A single loop stops when
 * its last task has ended; in a runtime of several loops each one stops
 * when told to (ax__runtime_*), after every loop's last task. */
static void drive(ax_loop *L)
{
    unsigned rounds = 0;
    bool stuck_once = false, stuck, armed;

    for (;;) {
        if (L->tm.virtual_clock &&
            (L->rq.head || L->cb.head || ax__inbox_busy(L)))
            virtual_busy(L);
        stuck_leave(L);
        ax__inbox_drain(L, false);
        /* Before the tasks: a callback whose timer fired with a task's
         * runs first, as asyncio orders them. */
        if (AX__UNLIKELY(L->cb.head))
            ax__handles_run(L);
        ax__run_ready(L);
        if (L->main && L->main->state == AX__T_DONE && !L->tearing_down)
            ax__runtime_main_done(L);
        if (atomic_load_explicit(&L->teardown_req, memory_order_acquire) &&
            !L->tearing_down) {
            ax__loop_teardown(L);
        }
        if (AX__UNLIKELY(atomic_load_explicit(&L->deadlock_req,
                                              memory_order_acquire) !=
                         atomic_load_explicit(&L->deadlock_ack,
                                              memory_order_relaxed))) {
            /* Again from the top: the main task may have ended here. */
            stuck_take(L, atomic_load_explicit(&L->deadlock_req,
                                               memory_order_acquire));
            continue;
        }
        if (L->rt->nloops == 1 ? !L->nunfinished
                               : atomic_load_explicit(&L->quit_req,
                                                      memory_order_acquire) &&
                                     !L->nunfinished && !L->rq.head)
            return;
        if (!L->tm.virtual_clock)
            ax__timers_fire(L, ax__now(L));
        if (L->rq.head || ax__inbox_busy(L) || L->cb.head) {
            if (++rounds % POLL_EVERY == 0 && user_events(L) > 0)
                poll_nonblock(L);
            continue;
        }
        /* A pool job runs in real time: virtual time stands still while a
         * task of this loop waits for one, as it does for a message. */
        if (L->tm.virtual_clock && L->tm.n && !L->tpool_waits) {
            if (!virtual_quiet(L))
                continue;
            if (user_events(L) > 0) {
                virtual_busy(L);
                poll_nonblock(L);
                ax__inbox_drain(L, false);
            }
            if (!L->rq.head) {
                virtual_busy(L);
                virtual_advance(L);
            }
            continue;
        }
        stuck = !ax__timers_live(&L->tm) && user_events(L) <= 0 &&
                L->deadlock_check &&
                !L->tpool_waits &&
                !atomic_load_explicit(&L->foreign_posts, memory_order_relaxed);
        if (stuck && L->rt->nloops == 1) {
            if (on_deadlock(L, &stuck_once))
                return;
            continue;
        }
        virtual_idle(L, INT64_MAX);
        if (spin_for_work(L))
            continue;
        if (stuck && runtime_stuck(L)) {
            stuck_report(L);
            continue;
        }
        if (!ax__inbox_sleep(L))
            continue;
        if (ax__timers_live(&L->tm))
            arm_timer(L);
        armed = ax__timers_live(&L->tm) != 0;
        event_base_loop(L->base, EVLOOP_ONCE);
        virtual_busy(L);
        ax__inbox_awake(L);
        if (L->tm.armed) {
            evtimer_del(L->tm.ev);
            L->tm.armed = false;
        } else if (armed && L->tm.virtual_clock && L->tpool_waits) {
            /* Waiting for a pool job, the virtual clock keeps real
             * time's pace: the earliest deadline has passed in real
             * time too. */
            virtual_advance(L);
        }
    }
}

void ax__drive(ax_loop *L) { drive(L); }

void ax__final_reports(ax_loop *L)
{
    size_t nf = 0, ng = 0, ns, nw;

    /* First: they hold waiter nodes on the futures freed below. */
    if ((nw = ax__waitset_term(L)))
        ax__report(L, "%zu as_completed iterator(s) never freed", nw);
    while (L->groups) {
        ng++;
        ax__group_teardown(L->groups);
    }
    for (ax_task *t = L->tasks, *next; t; t = next) {
        next = t->lnext;
        if (t == L->main || t->owned)
            continue;
        ax__report(L, "task '%s' was never awaited nor detached",
                   ax__task_name(t));
        if (t->fut.status && t->fut.status != AX_ECANCELED &&
            !t->fut.retrieved && !t->reported)
            ax__report(L,
                       "task '%s' failed with %s (%s) and nobody retrieved it",
                       ax__task_name(t), ax_err_name(t->fut.status),
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
    /* Every task has ended: nobody waits on these any more. */
    if ((ns = ax__sync_term(L)))
        ax__report(L, "%zu synchronisation object(s) never freed", ns);
    if (ng)
        ax__report(L, "%zu group(s) never freed", ng);
    if ((ns = ax__handles_term(L)))
        ax__report(L, "%zu callback handle(s) never freed", ns);
    while (L->tasks) {
        if (L->tasks != L->main)
            ax__report(L, "task '%s' leaked", ax__task_name(L->tasks));
        ax__task_free(L->tasks);
    }
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

/* Also called by the loop that found a deadlock of several loops, for
 * every loop: the others are idle then and stay so until it rings them
 * (runtime_stuck()), so their lists hold still while it reads. */
static void dump_loop(ax_loop *L, FILE *out, bool name_loop)
{
    size_t n = 0;

    for (ax_task *t = L->tasks; t; t = t->lnext)
        n++;
    if (name_loop)
        fprintf(out, "axon: loop %d: %zu task(s) at t=%.6f s\n", L->pub.index,
                n, (double)ax__now(L) / 1e9);
    else
        fprintf(out, "axon: %zu task(s) at t=%.6f s\n", n,
                (double)ax__now(L) / 1e9);
    for (ax_task *t = L->tasks; t; t = t->lnext) {
        fprintf(out, "  #%llu '%s' %s", (unsigned long long)t->id,
                ax__task_name(t),
                state_name(t));
        if (t->state == AX__T_SUSPENDED && ax__timer_armed(&t->timer))
            fprintf(out, " (until t=%.6f s)", (double)t->timer.due / 1e9);
        if (t->state == AX__T_SUSPENDED && t->wait_obj &&
            t->wait_obj != &t->timer) {
            const ax_future *f = t->wait_obj;
            if (f->kind == AX__FUT_TASK)
                fprintf(out, " task #%llu '%s'",
                        (unsigned long long)((const ax_task *)f)->id,
                        ax__task_name((ax_task *)f));
            else
                fprintf(out, " %s %p",
                        f->kind == AX__FUT_GATHER ? "gather" : "future",
                        (const void *)f);
        }
        if (t->state == AX__T_DONE)
            fprintf(out, " (%s)", ax_err_name(t->fut.status));
        if (t->cancel_req)
            fputs(" [cancelled]", out);
        /* The stack's high-water mark (stack.c: exact on a fresh stack,
         * an upper bound on a reused one); none before the first run. */
        if (t->stack.map || (t->shstk && t->coro.stack_lo))
            fprintf(out, " stack %zu/%zu B", ax__stack_used(L, t),
                    t->coro.stack_size);
        fputc('\n', out);
    }
    fflush(out);
}

int ax_dump_tasks(FILE *out)
{
    ax_loop *L = ax__tls_loop;

    if (!out)
        return AX_EINVAL;
    if (!L)
        return AX_EPERM;
    dump_loop(L, out, false);
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
    st->doorbell_rings =
        atomic_load_explicit(&L->inbox.rings, memory_order_relaxed);
    return 0;
}

static char build_info[256];
static pthread_once_t build_once = PTHREAD_ONCE_INIT;

static void make_build_info(void)
{
    struct event_base *b = event_base_new();
    const char *method = b ? event_base_get_method(b) : "unknown";

    snprintf(build_info, sizeof build_info,
             "axon %d.%d.%d context=%s doorbell=%s sockets=%s "
             "sanitizer=%s valgrind=%s libevent=%s method=%s",
             AXON_VERSION_MAJOR, AXON_VERSION_MINOR, AXON_VERSION_PATCH,
             AX_CTX_NAME, ax__bell_name(),
             AX_USE_EPOLL ? "epoll-set" : "libevent",
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
