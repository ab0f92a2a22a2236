/* SPDX-License-Identifier: MIT */
/*
 * check_thread.c: tests for axon/thread.h (ax_to_thread, the runtime's
 * blocking-work pool).
 *
 * Jobs that must stay running while the test looks block on a gate (a
 * pthread condition) that the test opens; nothing waits on real time but
 * hang guards. A task that waits only for a job must not be taken for a
 * deadlock: every test below would end in AX_EDEADLK if it were.
 * Code on pool threads records failures in counters that the task asserts.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "axtest.h"

Suite *ax_thread_suite(void);

/* ------------------------------------------------------------------------ */
/* A gate a job can block on, and the counters the jobs keep               */

typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool open;
    atomic_int started;  /* jobs that reached the gate */
    atomic_int ran;      /* jobs that passed it */
    atomic_int released; /* results handed to release() */
    void *last_released;
} gate;

static void gate_init(gate *g)
{
    memset(g, 0, sizeof *g);
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
}

static void gate_open(gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static void gate_term(gate *g)
{
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
}

/* Job: wait for the gate, return a fresh heap value (7). */
static void *gated_job(void *arg)
{
    gate *g = arg;
    int *v;

    atomic_fetch_add(&g->started, 1);
    pthread_mutex_lock(&g->mu);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
    atomic_fetch_add(&g->ran, 1);
    v = malloc(sizeof *v);
    if (v)
        *v = 7;
    return v;
}

static void release_job(void *result, void *arg)
{
    gate *g = arg;

    pthread_mutex_lock(&g->mu);
    g->last_released = result;
    free(result);
    atomic_fetch_add(&g->released, 1);
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* Job: wait until @p arg's gate has released @p want results (a pool-side
 * wait, so the task waiting for this job suspends instead of polling). */
typedef struct until {
    gate *g;
    int want;
} until;

static void *until_released(void *arg)
{
    until *u = arg;
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 30; /* hang guard */
    pthread_mutex_lock(&u->g->mu);
    while (atomic_load(&u->g->released) < u->want)
        if (pthread_cond_timedwait(&u->g->cv, &u->g->mu, &ts))
            break;
    pthread_mutex_unlock(&u->g->mu);
    return AXT_P(atomic_load(&u->g->released));
}

/* The task waits (in small sleeps) until @p n jobs reached the gate. */
static void wait_started(gate *g, int n)
{
    while (atomic_load(&g->started) < n)
        ax_sleep(0.001);
}

static void *square(void *arg)
{
    intptr_t x = AXT_I(arg);
    return AXT_P(x * x);
}

/* ------------------------------------------------------------------------ */
/* Results                                                                  */

static void *results_body(void *arg)
{
    ax_thread_stats st;
    void *r = NULL;

    (void)arg;
    axt_assert_rc(ax_thread_stats_get(&st), 0);
    ck_assert_int_eq(st.threads, 0); /* made on first use */
    ck_assert_int_gt(st.max_threads, 0);
    for (intptr_t i = 0; i < 100; i++) {
        axt_assert_rc(ax_to_thread(square, AXT_P(i), &r), 0);
        ck_assert_int_eq(AXT_I(r), i * i);
    }
    axt_assert_rc(ax_to_thread(square, AXT_P(3), NULL), 0);
    axt_assert_rc(ax_to_thread_dl(square, AXT_P(5), &r, -1), 0);
    ck_assert_int_eq(AXT_I(r), 25);
    axt_assert_rc(ax_to_thread_dl(square, AXT_P(6), &r,
                                  ax_now_ns() + 1000000000000), 0);
    ck_assert_int_eq(AXT_I(r), 36);
    axt_assert_rc(ax_thread_stats_get(&st), 0);
    /* One caller at a time needs one thread. */
    ck_assert_int_eq(st.threads, 1);
    ck_assert_uint_eq(st.done, 103);
    ck_assert_uint_eq(st.queued, 0);
    return NULL;
}

START_TEST(test_results)
{
    AXT_RUN_CLEAN(results_body, NULL, NULL);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Many concurrent jobs from several loops                                  */

enum { PER_LOOP = 40, NLOOPS = 4 };
static atomic_int wrong;

static void *slow_double(void *arg)
{
    usleep(200);
    return AXT_P(AXT_I(arg) * 2);
}

static void *caller(void *arg)
{
    void *r = NULL;
    int rc = ax_to_thread(slow_double, arg, &r);

    if (rc || AXT_I(r) != AXT_I(arg) * 2)
        atomic_fetch_add(&wrong, 1);
    return r;
}

static void *many_body(void *arg)
{
    ax_task *t[NLOOPS * PER_LOOP];
    ax_thread_stats st;
    intptr_t sum = 0, want = 0;

    (void)arg;
    for (int i = 0; i < NLOOPS * PER_LOOP; i++) {
        axt_assert_rc(axt_spawn_on(ax_loop_at(i % NLOOPS), &t[i], caller,
                                   AXT_P(i)),
                      0);
        want += 2 * i;
    }
    for (int i = 0; i < NLOOPS * PER_LOOP; i++)
        sum += AXT_I(axt_await_task(t[i], 0));
    ck_assert_int_eq(atomic_load(&wrong), 0);
    ck_assert_int_eq(sum, want);
    axt_assert_rc(ax_thread_stats_get(&st), 0);
    ck_assert_uint_eq(st.done, NLOOPS * PER_LOOP);
    ck_assert_int_ge(st.threads, 1);
    ck_assert_int_le(st.threads, 3); /* the cap below */
    return NULL;
}

START_TEST(test_many_jobs_several_loops)
{
    ax_opts o;

    memset(&o, 0, sizeof o);
    o.loops = NLOOPS;
    o.thread_pool_max = 3;
    o.thread_pool_queue = 8; /* 160 callers: most wait for a place */
    axt_assert_rc(ax_test_run_with(&o, many_body, NULL, NULL), 0);
    AXT_ASSERT_CLEAN();
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Cancellation                                                             */

typedef struct call {
    gate *g;
    bool nowait;
    int rc;
    void *r;
} call;

static void *gated_caller(void *arg)
{
    call *c = arg;
    ax_thread_opts o = {.release = release_job, .nowait = c->nowait};

    c->rc = ax_to_thread_with(gated_job, c->g, &c->r, -1, &o);
    return NULL;
}

static void *cancel_running_body(void *arg)
{
    gate g;
    call c = {.g = &g};
    until u = {.g = &g, .want = 1};
    ax_task *t;
    void *n = NULL;

    (void)arg;
    gate_init(&g);
    axt_spawn(&t, gated_caller, &c);
    wait_started(&g, 1);
    /* The job runs and blocks: the awaiter is cancelled at once. */
    axt_assert_rc(ax_cancel(t), 0);
    axt_await_task(t, AX_ECANCELED);
    axt_assert_rc(c.rc, AX_ECANCELED);
    ck_assert_int_eq(atomic_load(&g.released), 0);
    ck_assert_int_eq(atomic_load(&g.ran), 0);
    /* When it returns, its result goes to release(). */
    gate_open(&g);
    axt_assert_rc(ax_to_thread(until_released, &u, &n), 0);
    ck_assert_int_eq(AXT_I(n), 1);
    ck_assert_int_eq(atomic_load(&g.ran), 1);
    ck_assert_ptr_nonnull(g.last_released);
    gate_term(&g);
    return NULL;
}

START_TEST(test_cancel_running_job_release)
{
    AXT_RUN_CLEAN(cancel_running_body, NULL, NULL);
}
END_TEST

static void *cancel_queued_body(void *arg)
{
    gate g;
    call a = {.g = &g}, b = {.g = &g};
    ax_task *ta, *tb;
    ax_thread_stats st;

    (void)arg;
    gate_init(&g);
    axt_spawn(&ta, gated_caller, &a);
    wait_started(&g, 1);
    axt_spawn(&tb, gated_caller, &b);
    do {
        ax_sleep(0.001);
        axt_assert_rc(ax_thread_stats_get(&st), 0);
    } while (st.queued < 1);
    /* b's job never started: cancelling withdraws it, it never runs. */
    axt_assert_rc(ax_cancel(tb), 0);
    axt_await_task(tb, AX_ECANCELED);
    axt_assert_rc(b.rc, AX_ECANCELED);
    axt_assert_rc(ax_thread_stats_get(&st), 0);
    ck_assert_uint_eq(st.queued, 0);
    gate_open(&g);
    axt_await_task(ta, 0);
    axt_assert_rc(a.rc, 0);
    ck_assert_int_eq(*(int *)a.r, 7);
    free(a.r);
    ck_assert_int_eq(atomic_load(&g.started), 1);
    ck_assert_int_eq(atomic_load(&g.ran), 1);
    /* Withdrawn: release heard of it once, with no result. */
    ck_assert_int_eq(atomic_load(&g.released), 1);
    ck_assert_ptr_null(g.last_released);
    gate_term(&g);
    return NULL;
}

START_TEST(test_cancel_queued_job_never_runs)
{
    ax_opts o;

    memset(&o, 0, sizeof o);
    o.virtual_clock = true;
    o.thread_pool_max = 1;
    axt_assert_rc(ax_test_run_with(&o, cancel_queued_body, NULL, NULL), 0);
    AXT_ASSERT_CLEAN();
}
END_TEST

static void *deadline_caller(void *arg)
{
    call *c = arg;
    ax_thread_opts o = {.release = release_job};

    /* Real clock: the job blocks until the deadline has passed. */
    c->rc = ax_to_thread_with(gated_job, c->g, &c->r,
                              ax_now_ns() + 20 * (int64_t)1000000, &o);
    return NULL;
}

static void *deadline_body(void *arg)
{
    gate g;
    call c = {.g = &g};
    until u = {.g = &g, .want = 1};
    ax_task *t;
    void *n = NULL;

    (void)arg;
    gate_init(&g);
    axt_spawn(&t, deadline_caller, &c);
    /* Started or still queued when the deadline passes (slow under
     * valgrind): release hears of it once either way. */
    axt_await_task(t, 0);
    axt_assert_rc(c.rc, AX_ETIMEDOUT);
    ck_assert_ptr_null(c.r);
    gate_open(&g);
    axt_assert_rc(ax_to_thread(until_released, &u, &n), 0);
    ck_assert_int_eq(AXT_I(n), 1);
    gate_term(&g);
    return NULL;
}

START_TEST(test_deadline_then_release)
{
    axt_assert_rc(ax_test_run_real(deadline_body, NULL, NULL), 0);
    AXT_ASSERT_CLEAN();
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Backpressure                                                             */

static void *backpressure_body(void *arg)
{
    gate g;
    call a = {.g = &g}, b = {.g = &g}, c = {.g = &g};
    call d = {.g = &g, .nowait = true};
    ax_task *ta, *tb, *tc, *td;
    ax_thread_stats st;

    (void)arg;
    gate_init(&g);
    axt_spawn(&ta, gated_caller, &a); /* runs */
    wait_started(&g, 1);
    axt_spawn(&tb, gated_caller, &b); /* takes the one place */
    axt_spawn(&tc, gated_caller, &c); /* waits for a place */
    do {
        ax_sleep(0.001);
        axt_assert_rc(ax_thread_stats_get(&st), 0);
    } while (st.waiting < 1);
    ck_assert_uint_eq(st.queued, 1);
    ck_assert_uint_eq(st.queue_cap, 1);
    ck_assert_int_eq(st.threads, 1);
    /* The non-suspending form refuses when full. */
    axt_spawn(&td, gated_caller, &d);
    axt_await_task(td, 0);
    axt_assert_rc(d.rc, AX_EAGAIN);
    gate_open(&g);
    axt_await_task(ta, 0);
    axt_await_task(tb, 0);
    axt_await_task(tc, 0);
    axt_assert_rc(a.rc, 0);
    axt_assert_rc(b.rc, 0);
    axt_assert_rc(c.rc, 0);
    ck_assert_int_eq(*(int *)a.r + *(int *)b.r + *(int *)c.r, 21);
    free(a.r);
    free(b.r);
    free(c.r);
    ck_assert_int_eq(atomic_load(&g.ran), 3);
    gate_term(&g);
    return NULL;
}

START_TEST(test_backpressure_full_queue)
{
    ax_opts o;

    memset(&o, 0, sizeof o);
    o.virtual_clock = true;
    o.thread_pool_max = 1;
    o.thread_pool_queue = 1;
    axt_assert_rc(ax_test_run_with(&o, backpressure_body, NULL, NULL), 0);
    AXT_ASSERT_CLEAN();
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Shutdown with jobs in flight                                             */

static gate sd_gate;
static call sd_a = {.g = &sd_gate}, sd_b = {.g = &sd_gate};

static void *opener(void *arg)
{
    (void)arg;
    usleep(20000);
    gate_open(&sd_gate);
    return NULL;
}

static void *shutdown_body(void *arg)
{
    ax_task *ta, *tb;
    pthread_t *th = arg;

    axt_spawn(&ta, gated_caller, &sd_a);
    wait_started(&sd_gate, 1);
    axt_spawn(&tb, gated_caller, &sd_b); /* queued behind a */
    ax_sleep(0.01);
    axt_assert_rc(ax_task_detach(ta), 0);
    axt_assert_rc(ax_task_detach(tb), 0);
    /* The gate opens only after the main task has returned: teardown must
     * wait for the running job. */
    ck_assert_int_eq(pthread_create(th, NULL, opener, NULL), 0);
    return NULL;
}

START_TEST(test_shutdown_with_jobs_in_flight)
{
    ax_opts o;
    pthread_t th;

    memset(&o, 0, sizeof o);
    o.virtual_clock = true;
    o.thread_pool_max = 1;
    gate_init(&sd_gate);
    axt_assert_rc(ax_test_run_with(&o, shutdown_body, &th, NULL), 0);
    AXT_ASSERT_CLEAN();
    pthread_join(th, NULL);
    /* Both callers were cancelled; the running job finished inside
     * ax_run() and went to release(); the queued one never ran (release
     * heard of it with no result). */
    axt_assert_rc(sd_a.rc, AX_ECANCELED);
    axt_assert_rc(sd_b.rc, AX_ECANCELED);
    ck_assert_int_eq(atomic_load(&sd_gate.started), 1);
    ck_assert_int_eq(atomic_load(&sd_gate.ran), 1);
    ck_assert_int_eq(atomic_load(&sd_gate.released), 2);
    gate_term(&sd_gate);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Misuse                                                                   */

static void *outside_thread(void *arg)
{
    ax_thread_stats st;
    (void)arg;
    return AXT_P(ax_to_thread(square, AXT_P(1), NULL) * 1000 +
                 ax_thread_stats_get(&st));
}

static void *misuse_body(void *arg)
{
    void *r = AXT_P(123);

    (void)arg;
    axt_assert_rc(ax_to_thread(NULL, NULL, &r), AX_EINVAL); /* NULL fn */
    ck_assert_ptr_eq(r, AXT_P(123));
    axt_assert_rc(ax_to_thread_dl(square, NULL, &r, -2), AX_EINVAL);
    /* A deadline already past does not submit. */
    axt_assert_rc(ax_to_thread_dl(square, NULL, &r, ax_now_ns()),
                  AX_ETIMEDOUT);
    axt_assert_rc(ax_thread_stats_get(NULL), AX_EINVAL);
    return NULL;
}

START_TEST(test_misuse)
{
    ax_opts o;
    pthread_t th;
    void *r;

    AXT_RUN_CLEAN(misuse_body, NULL, NULL);
    /* Outside any loop: not a task. */
    axt_assert_rc(ax_to_thread(square, AXT_P(2), NULL), AX_ENOTTASK);
    ck_assert_int_eq(pthread_create(&th, NULL, outside_thread, NULL), 0);
    pthread_join(th, &r);
    ck_assert_int_eq(AXT_I(r), AX_ENOTTASK * 1000 + AX_EPERM);
    memset(&o, 0, sizeof o);
    o.thread_pool_max = -1;
    axt_assert_rc(ax_run_with(&o, misuse_body, NULL, NULL), AX_EINVAL);
    o.thread_pool_max = AX_THREAD_POOL_MAX + 1;
    axt_assert_rc(ax_run_with(&o, misuse_body, NULL, NULL), AX_EINVAL);
}
END_TEST

static void *cb_body(void *arg)
{
    int *rc = arg;
    *rc = ax_to_thread(square, AXT_P(2), NULL);
    return NULL;
}

static void posted(void *arg)
{
    /* A loop callback is not a task. */
    cb_body(arg);
}

static void *in_callback_body(void *arg)
{
    int rc = 0;

    (void)arg;
    axt_assert_rc(ax_loop_post(ax_loop_current(), posted, &rc), 0);
    ax_sleep(0.001);
    axt_assert_rc(rc, AX_ENOTTASK);
    return NULL;
}

START_TEST(test_in_loop_callback_enottask)
{
    AXT_RUN_CLEAN(in_callback_body, NULL, NULL);
}
END_TEST

Suite *ax_thread_suite(void)
{
    Suite *s = suite_create("thread");
    TCase *tc;

    tc = axt_tcase(s, "results");
    tcase_add_test(tc, test_results);
    tcase_add_test(tc, test_many_jobs_several_loops);

    tc = axt_tcase(s, "cancel");
    tcase_add_test(tc, test_cancel_running_job_release);
    tcase_add_test(tc, test_cancel_queued_job_never_runs);
    tcase_add_test(tc, test_deadline_then_release);

    tc = axt_tcase(s, "backpressure");
    tcase_add_test(tc, test_backpressure_full_queue);

    tc = axt_tcase(s, "shutdown");
    tcase_add_test(tc, test_shutdown_with_jobs_in_flight);

    tc = axt_tcase(s, "misuse");
    tcase_add_test(tc, test_misuse);
    tcase_add_test(tc, test_in_loop_callback_enottask);
    return s;
}

#ifndef AX_TEST_NO_MAIN
int main(void)
{
    return ax_test_main(ax_thread_suite());
}
#endif
