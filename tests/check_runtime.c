/* SPDX-License-Identifier: MIT */
/* check_runtime.c: tests for axon/runtime.h (many loops, one per thread):
 * loop numbering, spawn_on, cross-loop await/gather/cancel/complete,
 * ax_loop_post from foreign threads, shutdown, doorbell batching, signals,
 * and the virtual clock with several loops.
 *
 * Waiting for something that happens on another loop is done by polling an
 * atomic counter between ax_yield()s (no upper bound on time: the test
 * case's timeout is the only hang guard). Tasks that must still be running
 * when something else happens wait on a future nobody completes, so that
 * the virtual clock cannot end them early. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

#include "axtest.h"

Suite *ax_runtime_suite(void);

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */

/* Run @p fn as the main task of a runtime of @p loops loops. */
static int rt_run(int loops, bool virt, ax_task_fn fn, void *arg,
                  void **result)
{
    ax_opts o;
    memset(&o, 0, sizeof o);
    o.loops = loops;
    o.virtual_clock = virt;
    if (!virt)
        unsetenv("AX_VIRTUAL_CLOCK");
    return ax_test_run_with(&o, fn, arg, result);
}

#define RT_RUN_CLEAN(loops, virt, fn, arg, resultp)                           \
    do {                                                                      \
        int rt_rc_ = rt_run((loops), (virt), (fn), (arg), (resultp));         \
        ck_assert_msg(rt_rc_ == 0, "ax_run returned %d (%s); report:\n%s",    \
                      rt_rc_, ax_err_name(rt_rc_), ax_test_report());         \
        AXT_ASSERT_CLEAN();                                                   \
    } while (0)

/* The index of the loop the caller runs on (-1 outside a loop). */
static int here(void)
{
    return ax_loop_index(ax_loop_current());
}

/* Let other loops make progress until *c >= n (no time limit). */
static void wait_count(atomic_int *c, int n)
{
    while (atomic_load(c) < n) {
        axt_assert_rc(ax_yield(), 0);
        sched_yield();
    }
}

/* A child that waits for a future nobody completes, so only a cancellation
 * ends it. It records where it ran, what its wait returned, and where its
 * clean-up ran. */
typedef struct waiter {
    int loop_seen;
    int rc;
    int cleanup_loop;
    atomic_int *started;
    atomic_int *cleaned;
} waiter;

static void *wait_forever(void *arg)
{
    waiter *w = arg;
    ax_future *f = NULL;
    w->loop_seen = here();
    w->cleanup_loop = -1;
    axt_assert_rc(ax_future_new(&f), 0);
    if (w->started)
        atomic_fetch_add(w->started, 1);
    w->rc = ax_await(f, NULL);
    w->cleanup_loop = here();
    axt_assert_rc(ax_future_free(f), 0);
    if (w->cleaned)
        atomic_fetch_add(w->cleaned, 1);
    return AXT_P(1);
}

/* Returns its own loop index, after yielding a little. */
static void *where_am_i(void *arg)
{
    int n = (int)AXT_I(arg);
    for (int i = 0; i < n; i++)
        axt_assert_rc(ax_yield(), 0);
    ck_assert_int_eq(ax_loop_count(), 4);
    ck_assert_ptr_eq(ax_loop_at(here()), ax_loop_current());
    return AXT_P(here());
}

/* ------------------------------------------------------------------------ */
/* Loop numbering                                                           */

static void *main_count_at_index(void *arg)
{
    (void)arg;
    ck_assert_int_eq(ax_loop_count(), 4);
    ck_assert_ptr_eq(ax_loop_at(0), ax_loop_current());
    for (int i = 0; i < 4; i++) {
        ck_assert_ptr_nonnull(ax_loop_at(i));
        ck_assert_int_eq(ax_loop_index(ax_loop_at(i)), i);
        for (int j = 0; j < i; j++)
            ck_assert_ptr_ne(ax_loop_at(i), ax_loop_at(j));
    }
    /* bad inputs: out of range */
    ck_assert_ptr_null(ax_loop_at(-1));
    ck_assert_ptr_null(ax_loop_at(4));
    ck_assert_ptr_null(ax_loop_at(INT_MAX));
    ck_assert_int_eq(ax_loop_index(NULL), -1);
    return NULL;
}

/* ax_loop_count/at/index with 4 loops; out-of-range indices give NULL;
 * outside a loop the count is 0 and ax_loop_at() NULL. */
START_TEST(test_loop_count_at_index)
{
    ck_assert_int_eq(ax_loop_count(), 0);
    ck_assert_ptr_null(ax_loop_at(0));
    ck_assert_ptr_null(ax_loop_current());
    RT_RUN_CLEAN(4, true, main_count_at_index, NULL, NULL);
    ck_assert_int_eq(ax_loop_count(), 0);
}
END_TEST

static void *main_count_one(void *arg)
{
    (void)arg;
    ck_assert_int_eq(ax_loop_count(), 1);
    ck_assert_ptr_eq(ax_loop_at(0), ax_loop_current());
    ck_assert_ptr_null(ax_loop_at(1));
    ck_assert_int_eq(here(), 0);
    return NULL;
}

/* loops = 0 and loops = 1 (and plain ax_run) mean one loop. */
START_TEST(test_loop_count_zero_and_one_mean_one_loop)
{
    RT_RUN_CLEAN(0, true, main_count_one, NULL, NULL);
    RT_RUN_CLEAN(1, true, main_count_one, NULL, NULL);
    AXT_RUN_CLEAN(main_count_one, NULL, NULL);
}
END_TEST

static void *main_per_cpu(void *arg)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    (void)arg;
    if (cpus > AX_LOOPS_MAX)
        cpus = AX_LOOPS_MAX;
    ck_assert_int_eq(ax_loop_count(), (int)cpus);
    ck_assert_int_eq(ax_loop_index(ax_loop_at((int)cpus - 1)),
                     (int)cpus - 1);
    return NULL;
}

/* AX_LOOPS_PER_CPU starts one loop per online CPU. */
START_TEST(test_loops_per_cpu_is_online_cpus)
{
    RT_RUN_CLEAN(AX_LOOPS_PER_CPU, true, main_per_cpu, NULL, NULL);
}
END_TEST

static int never_ran;
static void *mark_ran(void *arg)
{
    (void)arg;
    never_ran = 1;
    return NULL;
}

static void *main_count_max(void *arg)
{
    (void)arg;
    ck_assert_int_eq(ax_loop_count(), AX_LOOPS_MAX);
    ck_assert_int_eq(ax_loop_index(ax_loop_at(AX_LOOPS_MAX - 1)),
                     AX_LOOPS_MAX - 1);
    ck_assert_ptr_null(ax_loop_at(AX_LOOPS_MAX));
    return NULL;
}

/* Bad inputs: loops > AX_LOOPS_MAX (257, INT_MAX) and < -1 (-2, INT_MIN)
 * are AX_EINVAL and the main task never runs; AX_LOOPS_MAX itself works. */
START_TEST(test_loops_out_of_range_einval)
{
    const int bad[] = {AX_LOOPS_MAX + 1, INT_MAX, -2, INT_MIN};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        axt_assert_rc(rt_run(bad[i], true, mark_ran, NULL, NULL), AX_EINVAL);
        ck_assert_int_eq(never_ran, 0);
    }
    RT_RUN_CLEAN(AX_LOOPS_MAX, true, main_count_max, NULL, NULL);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* spawn_on                                                                 */

static void *main_spawn_on_every_loop(void *arg)
{
    ax_task *t[8];
    (void)arg;
    for (int i = 0; i < 8; i++)
        axt_assert_rc(
            axt_spawn_on(ax_loop_at(i % 4), &t[i], where_am_i, AXT_P(i)), 0);
    for (int i = 0; i < 8; i++) {
        void *r = NULL;
        axt_assert_rc(ax_await(t[i], &r), 0);
        ck_assert_int_eq((int)AXT_I(r), i % 4);
        ck_assert_int_eq(here(), 0); /* the awaiter resumes on its loop */
    }
    /* detached (out == NULL) on another loop */
    static int flag;
    axt_assert_rc(axt_spawn_on(ax_loop_at(3), NULL, axt_set_flag, &flag), 0);
    return NULL;
}

/* ax_spawn_with() to every loop (the current one too): each task runs on the
 * loop it was given (ax_loop_index inside). */
START_TEST(test_spawn_on_every_loop_runs_there)
{
    RT_RUN_CLEAN(4, true, main_spawn_on_every_loop, NULL, NULL);
}
END_TEST

/* A second runtime on a plain thread, to get a loop of another runtime. */
static atomic_uintptr_t other_loop;
static atomic_int other_done;

static void *other_main(void *arg)
{
    (void)arg;
    atomic_store(&other_loop, (uintptr_t)ax_loop_current());
    while (!atomic_load(&other_done))
        axt_assert_rc(ax_sleep(0.001), 0);
    return NULL;
}

static void *other_runtime_thread(void *arg)
{
    ax_opts o;
    memset(&o, 0, sizeof o);
    o.loops = 2;
    (void)arg;
    return AXT_P(ax_run_with(&o, other_main, NULL, NULL));
}

static atomic_int spawn_from_thread_rc;
static void *plain_thread_spawn_on(void *arg)
{
    atomic_store(&spawn_from_thread_rc,
                 axt_spawn_on((ax_loop *)arg, NULL, mark_ran, NULL));
    return NULL;
}

static void *main_spawn_on_bad(void *arg)
{
    pthread_t th;
    void *thr = NULL;
    ax_task *t = NULL;
    (void)arg;
    /* NULL fn */
    axt_assert_rc(axt_spawn_on(ax_loop_at(1), &t, NULL, NULL), AX_EINVAL);
    ck_assert_ptr_null(t);
    /* NULL loop: the current one */
    axt_assert_rc(axt_spawn_on(NULL, &t, axt_return_arg, AXT_P(5)), 0);
    ck_assert_ptr_eq(axt_await_task(t, 0), AXT_P(5));
    t = NULL;
    /* from a thread that runs no loop */
    ck_assert_int_eq(
        pthread_create(&th, NULL, plain_thread_spawn_on, ax_loop_at(1)), 0);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    axt_assert_rc(atomic_load(&spawn_from_thread_rc), AX_EPERM);
    /* a loop of another runtime */
    ck_assert_int_eq(pthread_create(&th, NULL, other_runtime_thread, NULL),
                     0);
    while (!atomic_load(&other_loop))
        axt_assert_rc(ax_sleep(0.001), 0);
    axt_assert_rc(
        axt_spawn_on((ax_loop *)atomic_load(&other_loop), &t, mark_ran, NULL),
        AX_EINVAL);
    atomic_store(&other_done, 1);
    ck_assert_int_eq(pthread_join(th, &thr), 0);
    ck_assert_int_eq((int)AXT_I(thr), 0);
    ck_assert_int_eq(never_ran, 0);
    return NULL;
}

/* Bad inputs to ax_spawn_with() on another loop: NULL fn (AX_EINVAL), a
 * plain thread (AX_EPERM), a loop of another runtime (AX_EINVAL); a NULL
 * loop is the current one. */
START_TEST(test_spawn_on_bad_args)
{
    RT_RUN_CLEAN(2, false, main_spawn_on_bad, NULL, NULL);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Cross-loop await                                                         */

static void *return_after_sleep(void *arg)
{
    axt_assert_rc(ax_sleep(1.0), 0);
    return arg;
}

static void *await_from_loop1(void *arg)
{
    ax_task *t = NULL;
    void *r = NULL;
    (void)arg;
    ck_assert_int_eq(here(), 1);
    axt_assert_rc(axt_spawn_on(ax_loop_at(2), &t, where_am_i, AXT_P(3)), 0);
    axt_assert_rc(ax_await(t, &r), 0);
    ck_assert_int_eq((int)AXT_I(r), 2);
    ck_assert_int_eq(here(), 1);
    axt_assert_rc(axt_spawn_on(ax_loop_at(3), &t, axt_fail_with, AXT_P(-1234)),
                  0);
    axt_assert_rc(ax_await(t, NULL), -1234);
    ck_assert_int_eq(here(), 1);
    return AXT_P(77);
}

static void *main_await_remote(void *arg)
{
    ax_task *t = NULL;
    void *r = NULL;
    (void)arg;
    /* a result */
    axt_assert_rc(axt_spawn_on(ax_loop_at(1), &t, axt_return_arg, AXT_P(7)),
                  0);
    ck_assert(!ax_task_done(t)); /* another loop's task: false */
    axt_assert_rc(ax_task_result(t, NULL), AX_EWRONGLOOP);
    axt_assert_rc(ax_await(t, &r), 0);
    ck_assert_ptr_eq(r, AXT_P(7));
    ck_assert_int_eq(here(), 0);
    /* after a sleep there */
    axt_assert_rc(
        axt_spawn_on(ax_loop_at(3), &t, return_after_sleep, AXT_P(8)), 0);
    axt_assert_rc(ax_await(t, &r), 0);
    ck_assert_ptr_eq(r, AXT_P(8));
    ck_assert_int_eq(here(), 0);
    /* a failure code */
    axt_assert_rc(axt_spawn_on(ax_loop_at(2), &t, axt_fail_with, AXT_P(-42)),
                  0);
    axt_assert_rc(ax_await(t, &r), -42);
    ck_assert_int_eq(here(), 0);
    /* an awaiter that is not on loop 0 */
    axt_assert_rc(axt_spawn_on(ax_loop_at(1), &t, await_from_loop1, NULL), 0);
    axt_assert_rc(ax_await(t, &r), 0);
    ck_assert_ptr_eq(r, AXT_P(77));
    return NULL;
}

/* ax_await() of a task on another loop returns its result or its failure
 * code; the awaiter resumes on its own loop (loop 0, and loop 1 awaiting
 * loops 2 and 3). */
START_TEST(test_await_remote_result_and_failure)
{
    RT_RUN_CLEAN(4, true, main_await_remote, NULL, NULL);
}
END_TEST

static void *main_cancel_remote_running(void *arg)
{
    ax_task *t = NULL;
    static atomic_int started;
    static waiter w = {.started = &started};
    (void)arg;
    axt_assert_rc(axt_spawn_on(ax_loop_at(1), &t, wait_forever, &w), 0);
    wait_count(&started, 1);
    axt_assert_rc(ax_cancel(t), 0);
    axt_assert_rc(ax_await(t, NULL), AX_ECANCELED);
    axt_assert_rc(w.rc, AX_ECANCELED);
    ck_assert_int_eq(w.cleanup_loop, 1);
    return NULL;
}

/* ax_cancel() of a running task on another loop: 0 at once, the task's wait
 * returns AX_ECANCELED there, its clean-up runs on its loop, and awaiting
 * it returns AX_ECANCELED. */
START_TEST(test_cancel_remote_running_task)
{
    RT_RUN_CLEAN(3, true, main_cancel_remote_running, NULL, NULL);
}
END_TEST

static void *main_cancel_before_start(void *arg)
{
    ax_task *t[3];
    static waiter w[3];
    (void)arg;
    for (int i = 0; i < 3; i++) {
        axt_assert_rc(
            axt_spawn_on(ax_loop_at(i + 1), &t[i], wait_forever, &w[i]), 0);
        axt_assert_rc(ax_cancel(t[i]), 0); /* before it could run */
    }
    for (int i = 0; i < 3; i++) {
        axt_assert_rc(ax_await(t[i], NULL), AX_ECANCELED);
        ck_assert_int_eq(w[i].loop_seen, i + 1); /* the body still ran */
        axt_assert_rc(w[i].rc, AX_ECANCELED);
        ck_assert_int_eq(w[i].cleanup_loop, i + 1);
    }
    return NULL;
}

/* ax_cancel() right after ax_spawn_with() on another loop: the body still
 * starts on its loop and sees AX_ECANCELED at its first suspension. */
START_TEST(test_cancel_remote_task_before_it_starts)
{
    RT_RUN_CLEAN(4, true, main_cancel_before_start, NULL, NULL);
}
END_TEST

static void *main_await_timeout_remote(void *arg)
{
    ax_task *t = NULL;
    static atomic_int started, cleaned;
    static waiter w = {.started = &started, .cleaned = &cleaned};
    void *r = AXT_P(5);
    (void)arg;
    axt_assert_rc(axt_spawn_on(ax_loop_at(2), &t, wait_forever, &w), 0);
    axt_assert_rc(ax_await_timeout(t, 1.5, &r), AX_ETIMEDOUT);
    ck_assert_int_eq(here(), 0);
    ck_assert_ptr_eq(r, AXT_P(5)); /* untouched */
    /* the remote task was cancelled and waited for */
    ck_assert_int_eq(atomic_load(&cleaned), 1);
    axt_assert_rc(w.rc, AX_ECANCELED);
    ck_assert_int_eq(w.loop_seen, 2);
    ck_assert_int_eq(w.cleanup_loop, 2);
    /* (a remote task finishing within a finite timeout is not tested here:
     * under the virtual clock this idle loop would jump to the deadline) */
    /* bad input: NaN / negative timeout */
    axt_assert_rc(axt_spawn_on(ax_loop_at(1), &t, axt_return_arg, AXT_P(10)),
                  0);
    axt_assert_rc(ax_await_timeout(t, -1.0, &r), AX_EINVAL);
    axt_assert_rc(ax_await(t, &r), 0);
    ck_assert_ptr_eq(r, AXT_P(10));
    return NULL;
}

/* ax_await_timeout() on a task of another loop that never ends: AX_ETIMEDOUT,
 * and by then the task was cancelled and its clean-up ran on its own loop. */
START_TEST(test_await_timeout_remote_cancels_task)
{
    RT_RUN_CLEAN(3, true, main_await_timeout_remote, NULL, NULL);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Cross-loop gather                                                        */

/* 1,000 children, 250 under TSan and valgrind (a fiber each, and every
 * cross-loop wake-up checked: the case took 16 s of the tsan row, five
 * times with the repeat row): either way every loop gets many children,
 * and every mix of yields (i % 3) and sleeps (i % 5, i % 7) comes up. */
#define NKIDS 1000
static int nkids(void)
{
    return AXT_TSAN || getenv("AX_UNDER_VALGRIND") ? 250 : NKIDS;
}

typedef struct kid {
    int i;
    int loop_seen;
} kid;

static void *kid_fn(void *arg)
{
    kid *k = arg;
    for (int j = 0; j < k->i % 3; j++)
        axt_assert_rc(ax_yield(), 0);
    if (k->i % 5 == 0)
        axt_assert_rc(ax_sleep(0.001 * (k->i % 7)), 0);
    k->loop_seen = here();
    return AXT_P(k->i * 3 + 1);
}

static void *main_gather_1000(void *arg)
{
    static kid k[NKIDS];
    static ax_future *fs[NKIDS];
    static void *res[NKIDS];
    int n = nkids();
    (void)arg;
    for (int i = 0; i < n; i++) {
        ax_task *t = NULL;
        k[i].i = i;
        k[i].loop_seen = -1;
        axt_assert_rc(axt_spawn_on(ax_loop_at(i % 4), &t, kid_fn, &k[i]), 0);
        fs[i] = AX_FUTURE(t);
    }
    axt_assert_rc(ax_gather(fs, (size_t)n, res), 0);
    ck_assert_int_eq(here(), 0);
    for (int i = 0; i < n; i++) {
        ck_assert_ptr_eq(res[i], AXT_P(i * 3 + 1)); /* argument order */
        ck_assert_int_eq(k[i].loop_seen, i % 4);
    }
    return NULL;
}

/* ax_gather() of 1000 children (250 under TSan and valgrind) spread
 * round-robin over 4 loops: each ran on its loop, and the results come
 * back in argument order. */
START_TEST(test_gather_1000_children_round_robin_4_loops)
{
    RT_RUN_CLEAN(4, true, main_gather_1000, NULL, NULL);
}
END_TEST

static void *main_gather_fail_fast(void *arg)
{
    static atomic_int started, cleaned;
    static waiter w[6];
    ax_future *fs[7];
    void *res[7];
    ax_task *t = NULL;
    (void)arg;
    for (int i = 0; i < 6; i++) {
        w[i].started = &started;
        w[i].cleaned = &cleaned;
        axt_assert_rc(axt_spawn_on(ax_loop_at(i % 4), &t, wait_forever, &w[i]),
                      0);
        fs[i] = AX_FUTURE(t);
    }
    axt_assert_rc(axt_spawn_on(ax_loop_at(3), &t, axt_fail_with, AXT_P(-77)),
                  0);
    fs[6] = AX_FUTURE(t);
    axt_assert_rc(ax_gather(fs, 7, res), -77);
    ck_assert_int_eq(here(), 0);
    /* the others were cancelled; their clean-ups run on their loops */
    wait_count(&cleaned, 6);
    for (int i = 0; i < 6; i++) {
        axt_assert_rc(w[i].rc, AX_ECANCELED);
        ck_assert_int_eq(w[i].cleanup_loop, i % 4);
    }
    return NULL;
}

/* Fail-fast gather spanning every loop: one child on loop 3 fails; the
 * gather returns its code and the children on every loop are cancelled
 * (their clean-ups run, on their own loops). */
START_TEST(test_gather_fail_fast_across_loops_cancels_rest)
{
    RT_RUN_CLEAN(4, true, main_gather_fail_fast, NULL, NULL);
}
END_TEST

static void *main_gather_collect(void *arg)
{
    static kid k[8];
    ax_future *fs[8];
    void *res[8];
    int errs[8];
    (void)arg;
    for (int i = 0; i < 8; i++) {
        ax_task *t = NULL;
        k[i].i = i;
        if (i == 2 || i == 5)
            axt_assert_rc(axt_spawn_on(ax_loop_at(i % 4), &t, axt_fail_with,
                                       AXT_P(-100 - i)),
                          0);
        else
            axt_assert_rc(axt_spawn_on(ax_loop_at(i % 4), &t, kid_fn, &k[i]),
                          0);
        fs[i] = AX_FUTURE(t);
        res[i] = NULL;
        errs[i] = 1;
    }
    axt_assert_rc(ax_gather_all(fs, 8, res, errs), -102);
    for (int i = 0; i < 8; i++) {
        if (i == 2 || i == 5) {
            axt_assert_rc(errs[i], -100 - i);
        } else {
            axt_assert_rc(errs[i], 0);
            ck_assert_ptr_eq(res[i], AXT_P(i * 3 + 1));
            ck_assert_int_eq(k[i].loop_seen, i % 4);
        }
    }
    return NULL;
}

/* Collect-mode gather across loops: every child runs to its end, per-child
 * codes land in errors[], the status is the first failure in argument
 * order (-102, not -105). */
START_TEST(test_gather_collect_across_loops)
{
    RT_RUN_CLEAN(4, true, main_gather_collect, NULL, NULL);
}
END_TEST

static atomic_int gc_started, gc_cleaned;
static waiter gc_w[6];
static int gc_rc = 1, gc_cleaned_at_return = -1;

static void *gathering_task(void *arg)
{
    ax_future *fs[6];
    (void)arg;
    for (int i = 0; i < 6; i++) {
        ax_task *t = NULL;
        gc_w[i].started = &gc_started;
        gc_w[i].cleaned = &gc_cleaned;
        axt_assert_rc(
            axt_spawn_on(ax_loop_at(1 + i % 3), &t, wait_forever, &gc_w[i]),
            0);
        fs[i] = AX_FUTURE(t);
    }
    gc_rc = ax_gather(fs, 6, NULL);
    /* "the children are cancelled and waited for" */
    gc_cleaned_at_return = atomic_load(&gc_cleaned);
    ck_assert_int_eq(here(), 0);
    return NULL;
}

static void *main_cancel_gatherer(void *arg)
{
    ax_task *g = NULL;
    (void)arg;
    axt_spawn(&g, gathering_task, NULL);
    wait_count(&gc_started, 6);
    axt_assert_rc(ax_cancel(g), 0);
    axt_assert_rc(ax_await(g, NULL), AX_ECANCELED);
    axt_assert_rc(gc_rc, AX_ECANCELED);
    ck_assert_int_eq(gc_cleaned_at_return, 6);
    for (int i = 0; i < 6; i++) {
        axt_assert_rc(gc_w[i].rc, AX_ECANCELED);
        ck_assert_int_eq(gc_w[i].cleanup_loop, 1 + i % 3);
    }
    return NULL;
}

/* Cancelling a task blocked in ax_gather() over children on loops 1..3
 * cancels them; ax_gather() returns AX_ECANCELED only after they ended. */
START_TEST(test_cancel_gathering_task_cancels_remote_children)
{
    RT_RUN_CLEAN(4, true, main_cancel_gatherer, NULL, NULL);
}
END_TEST

/* Level 2: gathers 4 leaves, one per loop, and sums them. */
static void *inner_gather(void *arg)
{
    int base = (int)AXT_I(arg);
    ax_future *fs[4];
    void *res[4];
    intptr_t sum = 0;
    kid *mine = malloc(4 * sizeof *mine);
    ck_assert_ptr_nonnull(mine);
    for (int i = 0; i < 4; i++) {
        ax_task *t = NULL;
        mine[i].i = base + i;
        axt_assert_rc(
            axt_spawn_on(ax_loop_at((base + i) % 4), &t, kid_fn, &mine[i]), 0);
        fs[i] = AX_FUTURE(t);
    }
    axt_assert_rc(ax_gather(fs, 4, res), 0);
    for (int i = 0; i < 4; i++) {
        ck_assert_ptr_eq(res[i], AXT_P((base + i) * 3 + 1));
        ck_assert_int_eq(mine[i].loop_seen, (base + i) % 4);
        sum += AXT_I(res[i]);
    }
    free(mine);
    return AXT_P(sum);
}

static void *main_nested(void *arg)
{
    ax_future *fs[6];
    void *res[6];
    (void)arg;
    for (int i = 0; i < 6; i++) {
        ax_task *t = NULL;
        axt_assert_rc(axt_spawn_on(ax_loop_at((i + 1) % 4), &t, inner_gather,
                                   AXT_P(i * 10)),
                      0);
        fs[i] = AX_FUTURE(t);
    }
    axt_assert_rc(ax_gather(fs, 6, res), 0);
    for (int i = 0; i < 6; i++) {
        intptr_t want = 0;
        for (int j = 0; j < 4; j++)
            want += (i * 10 + j) * 3 + 1;
        ck_assert_int_eq(AXT_I(res[i]), want);
    }
    return NULL;
}

/* Nested gathers across loops: loop 0 gathers tasks on every loop, each of
 * which gathers leaves on every loop. */
START_TEST(test_nested_gathers_across_loops)
{
    RT_RUN_CLEAN(4, true, main_nested, NULL, NULL);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Completing futures from another loop                                    */

typedef struct completer {
    ax_future *f;
    int code;   /* 0: set_result */
    int rc1, rc2;
} completer;

static void *complete_remote(void *arg)
{
    completer *c = arg;
    ck_assert_int_ne(here(), 0);
    if (c->code == 0) {
        c->rc1 = ax_future_set_result(c->f, AXT_P(42));
        c->rc2 = ax_future_set_result(c->f, AXT_P(43)); /* ignored there */
    } else {
        c->rc1 = ax_future_set_error(c->f, c->code);
        c->rc2 = ax_future_set_result(c->f, AXT_P(43)); /* ignored there */
    }
    return NULL;
}

typedef struct fut_waiter {
    ax_future *f;
    int rc;
    void *v;
    int loop_after;
} fut_waiter;

static void *await_plain_future(void *arg)
{
    fut_waiter *w = arg;
    w->rc = ax_await(w->f, &w->v);
    w->loop_after = here();
    return NULL;
}

static void *main_complete_remote(void *arg)
{
    ax_future *f = NULL;
    ax_task *c = NULL, *a[3];
    completer cp = {0};
    fut_waiter fw[3];
    void *v = NULL;
    (void)arg;
    for (int round = 0; round < 2; round++) {
        int want = round == 0 ? 0 : -33;
        axt_assert_rc(ax_future_new(&f), 0);
        /* awaiters: two on the owner (loop 0), one on loop 2 */
        for (int i = 0; i < 3; i++) {
            memset(&fw[i], 0, sizeof fw[i]);
            fw[i].f = f;
            fw[i].rc = 1;
            axt_assert_rc(axt_spawn_on(ax_loop_at(i == 2 ? 2 : 0), &a[i],
                                       await_plain_future, &fw[i]),
                          0);
        }
        for (int i = 0; i < 5; i++)
            axt_assert_rc(ax_yield(), 0); /* let the local ones wait */
        cp.f = f;
        cp.code = want;
        axt_assert_rc(axt_spawn_on(ax_loop_at(1), &c, complete_remote, &cp),
                      0);
        axt_assert_rc(ax_await(c, NULL), 0);
        axt_assert_rc(cp.rc1, 0);
        axt_assert_rc(cp.rc2, 0); /* "return 0 at once" */
        axt_assert_rc(ax_await(f, &v), want);
        if (want == 0)
            ck_assert_ptr_eq(v, AXT_P(42)); /* the first completion stands */
        for (int i = 0; i < 3; i++) {
            axt_assert_rc(ax_await(a[i], NULL), 0);
            axt_assert_rc(fw[i].rc, want);
            if (want == 0)
                ck_assert_ptr_eq(fw[i].v, AXT_P(42));
            ck_assert_int_eq(fw[i].loop_after, i == 2 ? 2 : 0);
        }
        axt_assert_rc(ax_future_free(f), 0);
    }
    return NULL;
}

/* ax_future_set_result()/set_error() on a future of loop 0 from a task on
 * loop 1: 0 at once; the future completes on loop 0 and wakes its awaiters
 * (local ones and one on loop 2); a second completion is ignored. */
START_TEST(test_complete_future_from_other_loop)
{
    RT_RUN_CLEAN(3, true, main_complete_remote, NULL, NULL);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* ax_loop_post                                                             */

#define NPOSTS 10000

typedef struct post_ctx {
    ax_loop *target;
    ax_future *done; /* on loop 0 */
    int next;        /* touched on the target loop only */
    int bad_order;
    int wrong_thread;
    int plain_count, plain_at0_null, plain_cur_null, target_index;
    int einval1, einval2;
} post_ctx;

typedef struct post_item {
    post_ctx *c;
    int seq;
} post_item;

static post_item post_items[NPOSTS];

static void posted_fn(void *arg)
{
    post_item *it = arg;
    post_ctx *c = it->c;
    if (ax_loop_current() != c->target)
        c->wrong_thread++;
    if (it->seq != c->next)
        c->bad_order++;
    c->next = it->seq + 1;
    if (it->seq == NPOSTS - 1)
        ck_assert_int_eq(ax_future_set_result(c->done, AXT_P(c->next)), 0);
}

static void *poster_thread(void *arg)
{
    post_ctx *c = arg;
    c->plain_count = ax_loop_count();
    c->plain_at0_null = ax_loop_at(0) == NULL;
    c->plain_cur_null = ax_loop_current() == NULL;
    c->target_index = ax_loop_index(c->target); /* any thread */
    c->einval1 = ax_loop_post(NULL, posted_fn, NULL);
    c->einval2 = ax_loop_post(c->target, NULL, NULL);
    for (int i = 0; i < NPOSTS; i++) {
        post_items[i].c = c;
        post_items[i].seq = i;
        int rc = ax_loop_post(c->target, posted_fn, &post_items[i]);
        if (rc != 0)
            return AXT_P(rc);
    }
    return NULL;
}

static void *main_post_foreign(void *arg)
{
    static post_ctx c;
    pthread_t th;
    void *v = NULL, *thr = AXT_P(1);
    ax_runtime_stats st;
    (void)arg;
    for (int target = 1; target >= 0; target--) {
        memset(&c, 0, sizeof c);
        c.target = ax_loop_at(target);
        axt_assert_rc(ax_future_new(&c.done), 0);
        ck_assert_int_eq(pthread_create(&th, NULL, poster_thread, &c), 0);
        axt_assert_rc(ax_await(c.done, &v), 0);
        ck_assert_int_eq(pthread_join(th, &thr), 0);
        ck_assert_ptr_null(thr);
        ck_assert_int_eq((int)AXT_I(v), NPOSTS);
        ck_assert_int_eq(c.next, NPOSTS);
        ck_assert_int_eq(c.bad_order, 0);    /* FIFO per posting thread */
        ck_assert_int_eq(c.wrong_thread, 0); /* ran on the loop's thread */
        ck_assert_int_eq(c.plain_count, 0);
        ck_assert(c.plain_at0_null);
        ck_assert(c.plain_cur_null);
        ck_assert_int_eq(c.target_index, target);
        axt_assert_rc(c.einval1, AX_EINVAL); /* NULL loop */
        axt_assert_rc(c.einval2, AX_EINVAL); /* NULL fn */
        axt_assert_rc(ax_future_free(c.done), 0);
    }
    axt_assert_rc(ax_runtime_stats_get(&st), 0);
    ck_assert_uint_ge(st.posts, 2 * NPOSTS);
    axt_assert_rc(ax_runtime_stats_get(NULL), AX_EINVAL);
    return NULL;
}

/* ax_loop_post() from a plain pthread: 10,000 calls to loop 1 (then loop 0)
 * run on that loop's thread (ax_loop_current() inside) in the order they
 * were posted; NULL loop or fn is AX_EINVAL; from a plain thread
 * ax_loop_count() is 0 and ax_loop_at() NULL. */
START_TEST(test_post_from_foreign_thread_fifo_on_loop_thread)
{
    ax_opts o;
    int rc;
    memset(&o, 0, sizeof o);
    o.loops = 2;
    o.virtual_clock = true;
    /* The posting thread may not have posted yet when every loop idles. */
    o.external_wakeups = true;
    rc = ax_test_run_with(&o, main_post_foreign, NULL, NULL);
    ck_assert_msg(rc == 0, "ax_run returned %s; report:\n%s",
                  ax_err_name(rc), ax_test_report());
    AXT_ASSERT_CLEAN();
    /* outside any loop */
    axt_assert_rc(ax_loop_post(NULL, posted_fn, NULL), AX_EINVAL);
}
END_TEST

/* A plain thread posts faster than the loop runs, with max_posts = 64: the
 * loop's only task holds the thread until the thread has met AX_EAGAIN (so
 * it must appear), then lets the loop run. Every post that returned 0 ran
 * exactly once, every refused one never. */
#define BP_MAX 64
#define BP_N 20000
static atomic_int bp_ran[BP_N];
static signed char bp_rc[BP_N]; /* 1 accepted, -1 AX_EAGAIN, -2 other */
static atomic_int bp_refused, bp_accepted, bp_done;

static void bp_fn(void *arg)
{
    atomic_fetch_add(&bp_ran[(intptr_t)arg], 1);
}

static void *bp_thread(void *arg)
{
    ax_loop *l = arg;

    for (intptr_t i = 0; i < BP_N; i++) {
        int rc = ax_loop_post(l, bp_fn, (void *)i);
        if (rc == 0) {
            bp_rc[i] = 1;
            atomic_fetch_add(&bp_accepted, 1);
        } else {
            bp_rc[i] = rc == AX_EAGAIN ? -1 : -2;
            atomic_fetch_add(&bp_refused, 1);
        }
    }
    atomic_store(&bp_done, 1);
    return NULL;
}

static void *main_post_bounded(void *arg)
{
    pthread_t th;
    int ran = 0;

    (void)arg;
    ck_assert_int_eq(pthread_create(&th, NULL, bp_thread, ax_loop_current()),
                     0);
    /* The loop runs nothing while this task spins: the thread fills the
     * queue and is refused. */
    while (!atomic_load(&bp_refused))
        sched_yield();
    ck_assert_int_eq(atomic_load(&bp_accepted), BP_MAX);
    while (!atomic_load(&bp_done) || ran < atomic_load(&bp_accepted)) {
        axt_assert_rc(ax_yield(), 0);
        ran = 0;
        for (int i = 0; i < BP_N; i++)
            ran += atomic_load(&bp_ran[i]);
    }
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    for (int i = 0; i < BP_N; i++) {
        ck_assert_int_ne(bp_rc[i], -2);
        ck_assert_int_eq(atomic_load(&bp_ran[i]), bp_rc[i] == 1 ? 1 : 0);
    }
    ck_assert_int_ge(atomic_load(&bp_refused), 1);
    return NULL;
}

START_TEST(test_post_bounded_eagain_past_max_posts_none_lost)
{
    ax_opts o;

    memset(&o, 0, sizeof o);
    o.virtual_clock = true;
    o.external_wakeups = true;
    o.max_posts = BP_MAX;
    axt_assert_rc(ax_test_run_with(&o, main_post_bounded, NULL, NULL), 0);
    AXT_ASSERT_CLEAN();
}
END_TEST

/* Posts racing with shutdown. A plain thread posts to loop 0 in a loop
 * until it gets AX_ESHUTDOWN, while the runtime shuts down. Every call
 * returns 0 or AX_ESHUTDOWN; each call that returned 0 ran exactly once
 * (runtime.h: 0 means the loop took the call; "on error fn is not
 * called").
 *
 * The loop pointer is only valid until ax_run() returns, so the thread must
 * have stopped by then: the teardown report (a deliberately leaked future
 * on loop 0, reported after loop 0 has closed) goes to a FILE whose write
 * function waits until the thread has seen AX_ESHUTDOWN. */
static atomic_long sd_ok, sd_ran, sd_other;
static atomic_int sd_stopped, sd_other_rc;

static void sd_fn(void *arg)
{
    (void)arg;
    atomic_fetch_add(&sd_ran, 1);
}

static void *sd_thread(void *arg)
{
    ax_loop *l = arg;
    for (;;) {
        int rc;
        /* Keep at most 1000 posts in flight: an unthrottled producer
         * outruns a loop slowed down by valgrind and floods memory. */
        while (atomic_load(&sd_ok) - atomic_load(&sd_ran) > 1000)
            sched_yield();
        rc = ax_loop_post(l, sd_fn, NULL);
        if (rc == 0) {
            atomic_fetch_add(&sd_ok, 1);
        } else {
            if (rc != AX_ESHUTDOWN) {
                atomic_fetch_add(&sd_other, 1);
                atomic_store(&sd_other_rc, rc);
            }
            break;
        }
    }
    atomic_store(&sd_stopped, 1);
    return NULL;
}

static ssize_t sd_cookie_write(void *c, const char *buf, size_t n)
{
    (void)buf;
    while (!atomic_load(&sd_stopped))
        sched_yield();
    *(size_t *)c += n;
    return (ssize_t)n;
}

static void *slow_cleanup(void *arg)
{
    (void)arg;
    if (ax_sleep(1e6) == AX_ECANCELED)
        for (int i = 0; i < 200; i++)
            ax_yield();
    return NULL;
}

static pthread_t sd_th;

static void *main_post_shutdown(void *arg)
{
    ax_future *leak = NULL;
    (void)arg;
    axt_assert_rc(ax_future_new(&leak), 0); /* reported at teardown */
    for (int i = 1; i < 3; i++)
        axt_assert_rc(axt_spawn_on(ax_loop_at(i), NULL, slow_cleanup, NULL),
                      0);
    ck_assert_int_eq(pthread_create(&sd_th, NULL, sd_thread, ax_loop_at(0)),
                     0);
    while (atomic_load(&sd_ran) < 1000)
        axt_assert_rc(ax_yield(), 0);
    return NULL; /* shutdown starts while the thread keeps posting */
}

START_TEST(test_post_racing_shutdown_ok_or_eshutdown)
{
    size_t written = 0;
    cookie_io_functions_t io = {.write = sd_cookie_write};
    FILE *rep = fopencookie(&written, "w", io);
    ax_opts o;
    ck_assert_ptr_nonnull(rep);
    setvbuf(rep, NULL, _IONBF, 0);
    memset(&o, 0, sizeof o);
    o.loops = 3;
    o.virtual_clock = true;
    o.report = rep;
    axt_assert_rc(ax_run_with(&o, main_post_shutdown, NULL, NULL), 0);
    ck_assert_int_eq(pthread_join(sd_th, NULL), 0);
    fclose(rep);
    ck_assert_uint_gt(written, 0); /* the leak was reported */
    ck_assert_int_eq(atomic_load(&sd_stopped), 1);
    ck_assert_msg(atomic_load(&sd_other) == 0,
                  "ax_loop_post returned %s during shutdown",
                  ax_err_name(atomic_load(&sd_other_rc)));
    ck_assert_msg(atomic_load(&sd_ran) == atomic_load(&sd_ok),
                  "%ld posts returned 0 but %ld ran",
                  atomic_load(&sd_ok), atomic_load(&sd_ran));
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Shutdown                                                                 */

typedef struct sleeper {
    int loop_seen;
    int sleep_rc;
    int cleanup_loop;
    int cleanup_sleep_rc;
    int spawn_rc;
} sleeper;

#define SLEEPERS_PER_LOOP 3
static atomic_int sl_started, sl_cleaned;
static sleeper sl[4 * SLEEPERS_PER_LOOP];
static waiter sl_far = {.started = &sl_started};
static int sl_await_rc = 1, sl_await_loop = -1;

static void *sleeper_fn(void *arg)
{
    sleeper *s = arg;
    s->loop_seen = here();
    atomic_fetch_add(&sl_started, 1);
    s->sleep_rc = ax_sleep(1e6);
    s->cleanup_loop = here();
    /* clean-up may suspend again; spawning elsewhere is refused now */
    s->cleanup_sleep_rc = ax_sleep(0.001);
    s->spawn_rc =
        axt_spawn_on(ax_loop_at((here() + 1) % 4), NULL, mark_ran, NULL);
    atomic_fetch_add(&sl_cleaned, 1);
    return NULL;
}

/* A task on loop 2 awaiting a task on loop 3 when shutdown comes. */
static void *await_far(void *arg)
{
    ax_task *t = NULL;
    (void)arg;
    axt_assert_rc(axt_spawn_on(ax_loop_at(3), &t, wait_forever, &sl_far), 0);
    atomic_fetch_add(&sl_started, 1);
    sl_await_rc = ax_await(t, NULL);
    sl_await_loop = here();
    return NULL;
}

static void *main_shutdown(void *arg)
{
    int fail = (int)AXT_I(arg);
    for (int i = 0; i < 4 * SLEEPERS_PER_LOOP; i++)
        axt_assert_rc(
            axt_spawn_on(ax_loop_at(i % 4), NULL, sleeper_fn, &sl[i]), 0);
    axt_assert_rc(axt_spawn_on(ax_loop_at(2), NULL, await_far, NULL), 0);
    while (atomic_load(&sl_started) < 4 * SLEEPERS_PER_LOOP + 2)
        axt_assert_rc(ax_sleep(0.0005), 0);
    if (fail)
        return ax_task_fail(fail);
    return AXT_P(99);
}

static void check_sleepers(void)
{
    ck_assert_int_eq(atomic_load(&sl_cleaned), 4 * SLEEPERS_PER_LOOP);
    for (int i = 0; i < 4 * SLEEPERS_PER_LOOP; i++) {
        ck_assert_int_eq(sl[i].loop_seen, i % 4);
        axt_assert_rc(sl[i].sleep_rc, AX_ECANCELED);
        ck_assert_int_eq(sl[i].cleanup_loop, i % 4);
        axt_assert_rc(sl[i].cleanup_sleep_rc, 0);
        axt_assert_rc(sl[i].spawn_rc, AX_ESHUTDOWN);
    }
    axt_assert_rc(sl_await_rc, AX_ECANCELED);
    ck_assert_int_eq(sl_await_loop, 2);
    axt_assert_rc(sl_far.rc, AX_ECANCELED);
    ck_assert_int_eq(sl_far.cleanup_loop, 3);
    ck_assert_int_eq(never_ran, 0);
}

/* When the main task returns, every task on every loop is cancelled (the
 * sleeps return AX_ECANCELED, clean-ups run on their own loops and may
 * suspend; spawn_on is AX_ESHUTDOWN by then; a cross-loop await is
 * cancelled too), and ax_run returns main's status and result. */
START_TEST(test_shutdown_cancels_sleeping_tasks_on_every_loop)
{
    void *r = NULL;
    RT_RUN_CLEAN(4, false, main_shutdown, NULL, &r);
    ck_assert_ptr_eq(r, AXT_P(99));
    check_sleepers();
}
END_TEST

/* Same, but the main task fails: ax_run returns its code. */
START_TEST(test_shutdown_main_failure_is_ax_run_status)
{
    axt_assert_rc(rt_run(4, false, main_shutdown, AXT_P(-9), NULL), -9);
    check_sleepers();
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Doorbell batching                                                        */

#define NFLOOD 100000

static atomic_int fl_spin_started, fl_stop;
static atomic_long fl_ran;
static ax_loop_stats fl_stats;
static ax_future *fl_done;

static void *busy_spinner(void *arg)
{
    (void)arg;
    atomic_store(&fl_spin_started, 1);
    while (!atomic_load(&fl_stop))
        axt_assert_rc(ax_yield(), 0);
    return NULL;
}

static void flood_fn(void *arg)
{
    (void)arg;
    atomic_fetch_add(&fl_ran, 1);
}

static void *read_stats_task(void *arg)
{
    (void)arg;
    axt_assert_rc(ax_loop_stats_get(&fl_stats), 0);
    axt_assert_rc(ax_loop_stats_get(NULL), AX_EINVAL);
    axt_assert_rc(ax_future_set_result(fl_done, NULL), 0);
    return NULL;
}

/* Posted after the flood; the counters are read from a task it spawns, so
 * that the inbox batch this call came in is finished (and counted). */
static void read_stats(void *arg)
{
    (void)arg;
    axt_assert_rc(ax_spawn(NULL, read_stats_task, NULL), 0);
}

static void *main_flood(void *arg)
{
    ax_task *spin = NULL;
    ax_loop *l1 = ax_loop_at(1);
    (void)arg;
    axt_assert_rc(ax_future_new(&fl_done), 0);
    axt_assert_rc(axt_spawn_on(l1, &spin, busy_spinner, NULL), 0);
    wait_count(&fl_spin_started, 1);
    for (int i = 0; i < NFLOOD; i++)
        axt_assert_rc(ax_loop_post(l1, flood_fn, NULL), 0);
    axt_assert_rc(ax_loop_post(l1, read_stats, NULL), 0);
    axt_assert_rc(ax_await(fl_done, NULL), 0);
    atomic_store(&fl_stop, 1);
    axt_assert_rc(ax_await(spin, NULL), 0);
    axt_assert_rc(ax_future_free(fl_done), 0);
    ck_assert_int_eq(atomic_load(&fl_ran), NFLOOD);
    ck_assert_uint_ge(fl_stats.inbox_msgs, NFLOOD);
    ck_assert_msg(fl_stats.doorbell_rings < NFLOOD / 10,
                  "%" PRIu64 " doorbell rings for %d posts",
                  fl_stats.doorbell_rings, NFLOOD);
    ck_assert_uint_le(fl_stats.inbox_wakeups, fl_stats.doorbell_rings + 1);
    return NULL;
}

/* 100,000 ax_loop_post() calls from loop 0 to a busy loop 1: all run, and
 * loop 1's doorbell rang for far fewer than 10% of them. */
START_TEST(test_doorbell_batching_flood_100k_posts)
{
    RT_RUN_CLEAN(2, true, main_flood, NULL, NULL);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* ax_stop_on_signals                                                       */

static int sig_eperm = 1, sig_enottask_cb = 1;

static void *stop_signals_on_loop1(void *arg)
{
    (void)arg;
    sig_eperm = ax_stop_on_signals();
    return NULL;
}

static void stop_signals_in_callback(void *arg)
{
    sig_enottask_cb = ax_stop_on_signals();
    axt_assert_rc(ax_future_set_result(arg, NULL), 0);
}

static void *raise_sigint_thread(void *arg)
{
    (void)arg;
    raise(SIGINT); /* a second one would end the process: check_signal */
    return NULL;
}

/* The signals come from a plain thread, as a terminal's ^C would: a handler
 * run on a task's stack works natively but confuses valgrind, which cannot
 * build its signal frame there. */
static void *raise_sigint(void *arg)
{
    pthread_t th;
    (void)arg;
    ck_assert_int_eq(pthread_create(&th, NULL, raise_sigint_thread, NULL), 0);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    return NULL;
}

static int sig_sleep_rc = 1, sig_cleanup_rc = 1;

static void *main_signals(void *arg)
{
    ax_task *t = NULL;
    ax_future *f = NULL;
    (void)arg;
    axt_assert_rc(ax_stop_on_signals(), 0);
    axt_assert_rc(ax_stop_on_signals(), 0); /* twice is fine */
    axt_assert_rc(axt_spawn_on(ax_loop_at(1), &t, stop_signals_on_loop1, NULL),
                  0);
    axt_assert_rc(ax_await(t, NULL), 0);
    axt_assert_rc(sig_eperm, AX_EPERM);
    axt_assert_rc(ax_future_new(&f), 0);
    axt_assert_rc(
        ax_loop_post(ax_loop_current(), stop_signals_in_callback, f), 0);
    axt_assert_rc(ax_await(f, NULL), 0);
    axt_assert_rc(ax_future_free(f), 0);
    axt_assert_rc(sig_enottask_cb, AX_ENOTTASK);
    axt_assert_rc(ax_spawn(NULL, raise_sigint, NULL), 0);
    sig_sleep_rc = ax_sleep(1e6);
    sig_cleanup_rc = ax_sleep(0.01);
    return AXT_P(77);
}

/* ax_stop_on_signals(): SIGINT from another thread cancels the main task's
 * sleep (AX_ECANCELED); the main task returns normally, so ax_run returns
 * 0 and its result (the stop was asked for; a server's main exits 0).
 * From a task on loop 1 it is AX_EPERM, from a loop callback or outside
 * any loop AX_ENOTTASK. */
START_TEST(test_stop_on_signals_sigint_cancels_main)
{
    void *r = NULL;
    axt_assert_rc(ax_stop_on_signals(), AX_ENOTTASK);
    axt_assert_rc(rt_run(2, false, main_signals, NULL, &r), 0);
    ck_assert_ptr_eq(r, AXT_P(77));
    axt_assert_rc(sig_sleep_rc, AX_ECANCELED);
    axt_assert_rc(sig_cleanup_rc, 0);
    AXT_ASSERT_CLEAN();
}
END_TEST

static void *main_signal_then_fail(void *arg)
{
    int code = (int)AXT_I(arg);
    axt_assert_rc(ax_stop_on_signals(), 0);
    axt_assert_rc(ax_spawn(NULL, raise_sigint, NULL), 0);
    axt_assert_rc(ax_sleep(1e6), AX_ECANCELED);
    return ax_task_fail(code);
}

/* After a signal, a main task that fails (ax_task_fail) still makes ax_run
 * return the failure: AX_ECANCELED when it says so, or its own code. */
START_TEST(test_stop_on_signals_main_fails)
{
    void *r = AXT_P(1);
    axt_assert_rc(
        rt_run(2, false, main_signal_then_fail, AXT_P(AX_ECANCELED), &r),
        AX_ECANCELED);
    ck_assert_ptr_eq(r, AXT_P(1)); /* untouched */
    axt_assert_rc(rt_run(1, false, main_signal_then_fail, AXT_P(-5432), &r),
                  -5432);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Virtual clock with several loops                                         */

static void *exact_sleeper(void *arg)
{
    int64_t step = (int64_t)AXT_I(arg);
    for (int k = 1; k <= 10; k++) {
        int64_t before = ax_now_ns();
        axt_assert_rc(ax_sleep_ns(step * k), 0);
        ck_assert_int_eq(ax_now_ns() - before, step * k);
    }
    return AXT_P(here());
}

static void *main_virtual_4(void *arg)
{
    ax_future *fs[8];
    void *res[8];
    int64_t before;
    (void)arg;
    for (int i = 0; i < 8; i++) {
        ax_task *t = NULL;
        axt_assert_rc(axt_spawn_on(ax_loop_at(i % 4), &t, exact_sleeper,
                                   AXT_P((i + 1) * INT64_C(250000000))),
                      0);
        fs[i] = AX_FUTURE(t);
    }
    axt_assert_rc(ax_gather(fs, 8, res), 0);
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq((int)AXT_I(res[i]), i % 4);
    before = ax_now_ns();
    axt_assert_rc(ax_sleep(3600.0), 0); /* an hour, virtually */
    ck_assert_int_eq(ax_now_ns() - before, INT64_C(3600000000000));
    return NULL;
}

/* Under the virtual clock with 4 loops, sleeps on every loop take exactly
 * the time asked for on that loop's clock (and an hour costs nothing). */
START_TEST(test_virtual_clock_4_loops_sleeps_exact)
{
    RT_RUN_CLEAN(4, true, main_virtual_4, NULL, NULL);
}
END_TEST

/* ------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------ */
/* Deadlock across loops                                                    */

/* The owner frees its future once the other side's await has let go of it;
 * that release travels as a message, so it may still be on its way. */
static void free_when_unwatched(ax_future *f)
{
    int rc;
    while ((rc = ax_future_free(f)) == AX_EBUSY)
        (void)ax_yield(); /* AX_ECANCELED once: the deadlock's cancel */
    axt_assert_rc(rc, 0);
}

/* Await @p t, which the deadlock cancelled: it ends AX_ECANCELED. */
static int await_past_cancel(ax_task *t)
{
    int rc = ax_await(t, NULL);
    return rc == AX_ECANCELED ? 0 : rc;
}

static ax_future *_Atomic xl_fut[2];
static atomic_int xl_rc[2], xl_left;

/* Side @p arg (0 or 1) makes a future on its loop, then awaits the other
 * side's, which nobody will complete. */
static void *xl_side(void *arg)
{
    int me = (int)AXT_I(arg);
    ax_future *f;

    axt_assert_rc(ax_future_new(&f), 0);
    atomic_store(&xl_fut[me], f);
    while (!atomic_load(&xl_fut[!me]))
        axt_assert_rc(ax_yield(), 0);
    atomic_store(&xl_rc[me], ax_await(atomic_load(&xl_fut[!me]), NULL));
    atomic_fetch_add(&xl_left, 1);
    while (atomic_load(&xl_left) < 2)
        (void)ax_yield();
    free_when_unwatched(f);
    return NULL;
}

static void *main_cross_await(void *arg)
{
    ax_task_opts o;
    ax_task *t[2];
    (void)arg;
    atomic_store(&xl_fut[0], NULL);
    atomic_store(&xl_fut[1], NULL);
    atomic_store(&xl_left, 0);
    for (int i = 0; i < 2; i++) {
        memset(&o, 0, sizeof o);
        o.loop = ax_loop_at(i);
        o.name = i ? "side-on-loop-1" : "side-on-loop-0";
        axt_assert_rc(ax_spawn_with(&t[i], xl_side, AXT_P(i), &o), 0);
    }
    for (int i = 0; i < 2; i++)
        axt_assert_rc(await_past_cancel(t[i]), 0);
    return NULL;
}

static void check_cross_await(bool virt)
{
    axt_assert_rc(rt_run(2, virt, main_cross_await, NULL, NULL),
                  AX_EDEADLK);
    ck_assert_msg(axt_has_line_starting(ax_test_report(), "axon: deadlock"),
                  "report:\n%s", ax_test_report());
    AXT_ASSERT_REPORT_HAS("axon: loop 0:");
    AXT_ASSERT_REPORT_HAS("axon: loop 1:");
    AXT_ASSERT_REPORT_HAS("'side-on-loop-0' awaiting future");
    AXT_ASSERT_REPORT_HAS("'side-on-loop-1' awaiting future");
    axt_assert_rc(atomic_load(&xl_rc[0]), AX_ECANCELED);
    axt_assert_rc(atomic_load(&xl_rc[1]), AX_ECANCELED);
    AXT_ASSERT_REPORT_LACKS("never freed");
    AXT_ASSERT_REPORT_LACKS("never awaited");
    AXT_ASSERT_REPORT_LACKS("abandoned");
}

/* Two loops, each task awaiting the other's future that nobody completes:
 * reported with both tasks named, cancelled, and ax_run() is AX_EDEADLK. */
START_TEST(test_deadlock_two_loops_await_each_other_virtual_clock)
{
    check_cross_await(true);
}
END_TEST

START_TEST(test_deadlock_two_loops_await_each_other_real_clock)
{
    check_cross_await(false);
}
END_TEST

static ax_future *_Atomic gx_fut;
static atomic_int gx_gathered;
static int gx_rc, gx_hold_rc;

/* On loop 1: owns a future nobody completes and waits, stuck as well, on
 * one of its own; stays until the gather on loop 0 has ended. */
static void *gx_holder(void *arg)
{
    ax_future *f, *h;
    (void)arg;
    axt_assert_rc(ax_future_new(&f), 0);
    axt_assert_rc(ax_future_new(&h), 0);
    atomic_store(&gx_fut, f);
    gx_hold_rc = ax_await(h, NULL);
    while (!atomic_load(&gx_gathered))
        (void)ax_yield();
    axt_assert_rc(ax_future_free(h), 0);
    free_when_unwatched(f);
    return NULL;
}

static void *main_gather_remote_never(void *arg)
{
    ax_task_opts o;
    ax_task *t;
    ax_future *fs[1];
    (void)arg;
    atomic_store(&gx_fut, NULL);
    atomic_store(&gx_gathered, 0);
    memset(&o, 0, sizeof o);
    o.loop = ax_loop_at(1);
    o.name = "holder";
    axt_assert_rc(ax_spawn_with(&t, gx_holder, NULL, &o), 0);
    while (!atomic_load(&gx_fut))
        axt_assert_rc(ax_yield(), 0);
    fs[0] = atomic_load(&gx_fut);
    gx_rc = ax_gather(fs, 1, NULL);
    atomic_store(&gx_gathered, 1);
    axt_assert_rc(await_past_cancel(t), 0);
    return NULL;
}

/* A gather on loop 0 over a future of loop 1 that nobody completes. */
START_TEST(test_deadlock_gather_over_remote_future_never_completed)
{
    axt_assert_rc(rt_run(2, true, main_gather_remote_never, NULL, NULL),
                  AX_EDEADLK);
    ck_assert_msg(axt_has_line_starting(ax_test_report(), "axon: deadlock"),
                  "report:\n%s", ax_test_report());
    AXT_ASSERT_REPORT_HAS("'holder' awaiting future");
    AXT_ASSERT_REPORT_HAS("'main' awaiting gather");
    axt_assert_rc(gx_rc, AX_ECANCELED);
    axt_assert_rc(gx_hold_rc, AX_ECANCELED);
    AXT_ASSERT_REPORT_LACKS("never freed");
    AXT_ASSERT_REPORT_LACKS("never awaited");
    AXT_ASSERT_REPORT_LACKS("abandoned");
}
END_TEST

static void *sleep_then_return(void *arg)
{
    axt_assert_rc(ax_sleep(*(double *)arg), 0);
    return AXT_P(7);
}

static double sl_secs;
static void *main_await_remote_sleeper(void *arg)
{
    ax_task *t;
    void *r = NULL;
    (void)arg;
    axt_assert_rc(axt_spawn_on(ax_loop_at(1), &t, sleep_then_return,
                               &sl_secs),
                  0);
    axt_assert_rc(ax_await(t, &r), 0);
    ck_assert_ptr_eq(r, AXT_P(7));
    return NULL;
}

/* Not a deadlock: loop 0 waits for a task of loop 1 that sleeps 1 s. */
START_TEST(test_no_deadlock_remote_sleeper_virtual_clock)
{
    sl_secs = 1.0;
    RT_RUN_CLEAN(2, true, main_await_remote_sleeper, NULL, NULL);
}
END_TEST

START_TEST(test_no_deadlock_remote_sleeper_real_clock)
{
    sl_secs = 0.02;
    RT_RUN_CLEAN(2, false, main_await_remote_sleeper, NULL, NULL);
}
END_TEST

/* A chain of tasks, each spawned on the other loop and awaited, where
 * every tenth hop keeps its loop busy without yielding for a while: the
 * loop waiting for it is idle, nothing is in flight, yet it is not stuck. */
static void *hop(void *arg)
{
    long left = (long)AXT_I(arg);
    ax_task *t;
    void *r = NULL;

    if (left % 10 == 0) {
        struct timespec nap = {0, 2000000};
        nanosleep(&nap, NULL);
    }
    if (left == 0)
        return AXT_P(1);
    axt_assert_rc(axt_spawn_on(ax_loop_at(1 - here()), &t, hop,
                               AXT_P(left - 1)),
                  0);
    axt_assert_rc(ax_await(t, &r), 0);
    return AXT_P(AXT_I(r) + 1);
}

static void *main_slow_hops(void *arg)
{
    void *r = hop(arg);
    ck_assert_int_eq((int)AXT_I(r), (int)AXT_I(arg) + 1);
    return NULL;
}

START_TEST(test_no_deadlock_slow_cross_loop_hops_virtual_clock)
{
    RT_RUN_CLEAN(2, true, main_slow_hops, AXT_P(60), NULL);
}
END_TEST

START_TEST(test_no_deadlock_slow_cross_loop_hops_real_clock)
{
    RT_RUN_CLEAN(2, false, main_slow_hops, AXT_P(60), NULL);
}
END_TEST

static void *complete_later_thread(void *arg)
{
    struct timespec nap = {0, 30000000};
    nanosleep(&nap, NULL);
    return AXT_P(ax_future_set_result((ax_future *)arg, AXT_P(9)));
}

static void *main_foreign_completes(void *arg)
{
    pthread_t th;
    ax_future *f;
    void *v = NULL, *thr = NULL;
    (void)arg;
    axt_assert_rc(ax_future_new(&f), 0);
    ck_assert_int_eq(pthread_create(&th, NULL, complete_later_thread, f), 0);
    axt_assert_rc(ax_await(f, &v), 0);
    ck_assert_ptr_eq(v, AXT_P(9));
    ck_assert_int_eq(pthread_join(th, &thr), 0);
    axt_assert_rc((int)AXT_I(thr), 0);
    axt_assert_rc(ax_future_free(f), 0);
    return NULL;
}

/* external_wakeups: a thread of the application completes the future
 * later, so every loop idling meanwhile is no deadlock. */
START_TEST(test_no_deadlock_external_wakeups_foreign_thread_completes)
{
    ax_opts o;
    int rc;
    memset(&o, 0, sizeof o);
    o.loops = 2;
    o.external_wakeups = true;
    unsetenv("AX_VIRTUAL_CLOCK");
    rc = ax_test_run_with(&o, main_foreign_completes, NULL, NULL);
    ck_assert_msg(rc == 0, "ax_run returned %s; report:\n%s",
                  ax_err_name(rc), ax_test_report());
    AXT_ASSERT_CLEAN();
}
END_TEST

Suite *ax_runtime_suite(void)
{
    Suite *s = suite_create("runtime");
    TCase *tc;

    tc = axt_tcase(s, "loops");
    tcase_add_test(tc, test_loop_count_at_index);
    tcase_add_test(tc, test_loop_count_zero_and_one_mean_one_loop);
    tcase_add_test(tc, test_loops_per_cpu_is_online_cpus);
    tcase_add_test(tc, test_loops_out_of_range_einval);

    tc = axt_tcase(s, "spawn_on");
    tcase_add_test(tc, test_spawn_on_every_loop_runs_there);
    tcase_add_test(tc, test_spawn_on_bad_args);

    tc = axt_tcase(s, "await");
    tcase_add_test(tc, test_await_remote_result_and_failure);
    tcase_add_test(tc, test_cancel_remote_running_task);
    tcase_add_test(tc, test_cancel_remote_task_before_it_starts);
    tcase_add_test(tc, test_await_timeout_remote_cancels_task);

    tc = axt_tcase(s, "gather");
    tcase_add_test(tc, test_gather_1000_children_round_robin_4_loops);
    tcase_add_test(tc, test_gather_fail_fast_across_loops_cancels_rest);
    tcase_add_test(tc, test_gather_collect_across_loops);
    tcase_add_test(tc, test_cancel_gathering_task_cancels_remote_children);
    tcase_add_test(tc, test_nested_gathers_across_loops);

    tc = axt_tcase(s, "future");
    tcase_add_test(tc, test_complete_future_from_other_loop);

    tc = axt_tcase(s, "post");
    tcase_add_test(tc, test_post_from_foreign_thread_fifo_on_loop_thread);
    tcase_add_test(tc, test_post_racing_shutdown_ok_or_eshutdown);
    tcase_add_test(tc, test_post_bounded_eagain_past_max_posts_none_lost);
    tcase_add_test(tc, test_doorbell_batching_flood_100k_posts);

    tc = axt_tcase(s, "shutdown");
    tcase_add_test(tc, test_shutdown_cancels_sleeping_tasks_on_every_loop);
    tcase_add_test(tc, test_shutdown_main_failure_is_ax_run_status);
    tcase_add_test(tc, test_stop_on_signals_sigint_cancels_main);
    tcase_add_test(tc, test_stop_on_signals_main_fails);

    tc = axt_tcase(s, "clock");
    tcase_add_test(tc, test_virtual_clock_4_loops_sleeps_exact);

    tc = axt_tcase(s, "deadlock");
    tcase_add_test(tc, test_deadlock_two_loops_await_each_other_virtual_clock);
    tcase_add_test(tc, test_deadlock_two_loops_await_each_other_real_clock);
    tcase_add_test(tc, test_deadlock_gather_over_remote_future_never_completed);
    tcase_add_test(tc, test_no_deadlock_remote_sleeper_virtual_clock);
    tcase_add_test(tc, test_no_deadlock_remote_sleeper_real_clock);
    tcase_add_test(tc, test_no_deadlock_slow_cross_loop_hops_virtual_clock);
    tcase_add_test(tc, test_no_deadlock_slow_cross_loop_hops_real_clock);
    tcase_add_test(tc, test_no_deadlock_external_wakeups_foreign_thread_completes);
    return s;
}

#ifndef AX_TEST_NO_MAIN
int main(void)
{
    return ax_test_main(ax_runtime_suite());
}
#endif
