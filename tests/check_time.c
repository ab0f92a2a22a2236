/* SPDX-License-Identifier: MIT */
/* check_time.c: tests for axon/time.h (sleep, timeouts). */
#include <math.h>

#include "axtest.h"

Suite *ax_time_suite(void);

/* ------------------------------------------------------------------------ */
/* ax_sleep                                                                 */

static axt_probe order_p[3] = {
    {.sleep = 3.0, .wtag = "3"},
    {.sleep = 1.0, .wtag = "1"},
    {.sleep = 2.0, .wtag = "2"},
};

static void *main_sleep_order(void *arg)
{
    ax_task *t[3];
    (void)arg;
    for (int i = 0; i < 3; i++)
        axt_spawn(&t[i], axt_probe_fn, &order_p[i]);
    for (int i = 0; i < 3; i++)
        axt_await_task(t[i], 0);
    AXT_ASSERT_LOG("123");
    ck_assert_double_eq(order_p[0].woke_at, 3.0);
    ck_assert_double_eq(order_p[1].woke_at, 1.0);
    ck_assert_double_eq(order_p[2].woke_at, 2.0);
    ck_assert_double_eq(ax_now(), 3.0);
    return NULL;
}

/* Sleepers wake in deadline order (spawned 3, 1, 2 -> wake 1, 2, 3), each
 * at exactly its deadline on the virtual clock. */
START_TEST(test_sleep_deadline_order)
{
    AXT_RUN_CLEAN(main_sleep_order, NULL, NULL);
}
END_TEST

static axt_probe eq_p[4] = {
    {.sleep = 1.0, .wtag = "A"},
    {.sleep = 1.0, .wtag = "B"},
    {.sleep = 1.0, .wtag = "C"},
    {.sleep = 1.0, .wtag = "D"},
};

static void *main_sleep_fifo(void *arg)
{
    ax_task *t[4];
    (void)arg;
    for (int i = 0; i < 4; i++)
        axt_spawn(&t[i], axt_probe_fn, &eq_p[i]);
    for (int i = 3; i >= 0; i--)
        axt_await_task(t[i], 0);
    AXT_ASSERT_LOG("ABCD");
    ck_assert_double_eq(ax_now(), 1.0);
    return NULL;
}

/* Equal deadlines fire in the order the timers were set. */
START_TEST(test_sleep_equal_deadlines_fifo)
{
    AXT_RUN_CLEAN(main_sleep_fifo, NULL, NULL);
}
END_TEST

#define NTIMERS 200
static axt_probe heap_p[NTIMERS];
static int heap_order[NTIMERS], heap_n;
static void *sleep_and_record(void *arg)
{
    axt_probe *p = arg;
    p->sleep_rc = ax_sleep(p->sleep);
    p->woke_at = ax_now();
    if (p->sleep_rc == 0)
        heap_order[heap_n++] = (int)(p - heap_p);
    return NULL;
}

static void *main_many_timers(void *arg)
{
    ax_task *t[NTIMERS];
    uint32_t x = 12345;
    int prev = -1;
    (void)arg;
    for (int i = 0; i < NTIMERS; i++) {
        x = x * 1103515245u + 12345u;
        /* whole milliseconds in [1, 50]: many equal deadlines */
        heap_p[i].sleep = (double)((x >> 16) % 50 + 1) / 1000.0;
        axt_spawn(&t[i], sleep_and_record, &heap_p[i]);
    }
    axt_assert_rc(ax_yield(), 0); /* all armed */
    for (int i = 0; i < NTIMERS; i += 7)
        axt_assert_rc(ax_cancel(t[i]), 0); /* timers leave the heap */
    for (int i = 0; i < NTIMERS; i++)
        axt_await_task(t[i], i % 7 == 0 ? AX_ECANCELED : 0);
    ck_assert_int_eq(heap_n, NTIMERS - (NTIMERS + 6) / 7);
    for (int k = 0; k < heap_n; k++) {
        int i = heap_order[k];
        ck_assert_int_ne(i % 7, 0);
        ck_assert_double_eq(heap_p[i].woke_at, heap_p[i].sleep);
        if (prev >= 0) {
            /* by deadline, then in arming (= spawn) order */
            ck_assert(heap_p[prev].sleep < heap_p[i].sleep ||
                      (heap_p[prev].sleep == heap_p[i].sleep && prev < i));
        }
        prev = i;
    }
    return NULL;
}

/* 200 timers with pseudo-random, often equal deadlines, every 7th
 * cancelled: the rest fire by deadline, ties in arming order, each at
 * exactly its deadline. */
START_TEST(test_sleep_many_timers_order)
{
    AXT_RUN_CLEAN(main_many_timers, NULL, NULL);
}
END_TEST

static void *main_no_drift(void *arg)
{
    (void)arg;
    for (int i = 0; i < 10; i++)
        axt_assert_rc(ax_sleep(0.1), 0);
    ck_assert_int_eq(ax_now_ns(), INT64_C(1000000000));
    ck_assert_double_eq(ax_now(), 1.0);
    return NULL;
}

/* Ten sleeps of 0.1 s make exactly 1 s of virtual time (whole ns). */
START_TEST(test_virtual_clock_no_drift)
{
    AXT_RUN_CLEAN(main_no_drift, NULL, NULL);
}
END_TEST

static double busy_done_at = -1.0;
static void *busy_yielder(void *arg)
{
    (void)arg;
    for (int i = 0; i < 50; i++)
        axt_assert_rc(ax_yield(), 0);
    busy_done_at = ax_now();
    axt_log("B");
    return NULL;
}

static void *main_virtual_waits_ready(void *arg)
{
    ax_task *a, *b;
    static axt_probe p = {.sleep = 1.0, .wtag = "A"};
    (void)arg;
    axt_spawn(&a, axt_probe_fn, &p);
    axt_spawn(&b, busy_yielder, NULL);
    axt_await_task(a, 0);
    axt_await_task(b, 0);
    AXT_ASSERT_LOG("BA");
    ck_assert_double_eq(busy_done_at, 0.0);
    ck_assert_double_eq(p.woke_at, 1.0);
    return NULL;
}

/* The virtual clock only jumps when no task is ready: a task that keeps
 * yielding finishes at t=0 before a 1 s sleeper wakes. */
START_TEST(test_virtual_clock_waits_for_ready_tasks)
{
    AXT_RUN_CLEAN(main_virtual_waits_ready, NULL, NULL);
}
END_TEST

static void *main_concurrent_elapsed(void *arg)
{
    ax_task *a, *b;
    static axt_probe p1 = {.sleep = 1.0}, p2 = {.sleep = 2.0};
    (void)arg;
    axt_spawn(&a, axt_probe_fn, &p1);
    axt_spawn(&b, axt_probe_fn, &p2);
    axt_await_task(a, 0);
    axt_await_task(b, 0);
    ck_assert_double_eq(ax_now(), 2.0);
    ck_assert_int_eq(ax_now_ns(), INT64_C(2000000000));
    return NULL;
}

/* Two tasks sleeping 1 s and 2 s concurrently: exactly 2.0 s elapse. */
START_TEST(test_virtual_elapsed_concurrent)
{
    AXT_RUN_CLEAN(main_concurrent_elapsed, NULL, NULL);
}
END_TEST

static void *main_sequential_elapsed(void *arg)
{
    ax_task *a, *b;
    static axt_probe p1 = {.sleep = 1.0}, p2 = {.sleep = 2.0};
    (void)arg;
    axt_spawn(&a, axt_probe_fn, &p1);
    axt_await_task(a, 0);
    ck_assert_double_eq(ax_now(), 1.0);
    axt_spawn(&b, axt_probe_fn, &p2);
    axt_await_task(b, 0);
    ck_assert_double_eq(ax_now(), 3.0);
    return NULL;
}

/* The same sleeps awaited one after the other: exactly 3.0 s. */
START_TEST(test_virtual_elapsed_sequential)
{
    AXT_RUN_CLEAN(main_sequential_elapsed, NULL, NULL);
}
END_TEST

static void *main_sleep_ns(void *arg)
{
    (void)arg;
    axt_assert_rc(ax_sleep_ns(1500), 0);
    ck_assert_int_eq(ax_now_ns(), 1500);
    axt_assert_rc(ax_sleep_ns(INT64_C(2000000000)), 0);
    ck_assert_int_eq(ax_now_ns(), INT64_C(2000001500));
    axt_assert_rc(ax_sleep_ns(-1), AX_EINVAL); /* bad: negative */
    ck_assert_int_eq(ax_now_ns(), INT64_C(2000001500));
    return NULL;
}

/* ax_sleep_ns sleeps exactly that many virtual ns; negative -> AX_EINVAL. */
START_TEST(test_sleep_ns)
{
    AXT_RUN_CLEAN(main_sleep_ns, NULL, NULL);
}
END_TEST

static int zero_flag;
static void *main_sleep_zero(void *arg)
{
    ax_task *t;
    (void)arg;
    axt_spawn(&t, axt_set_flag, &zero_flag);
    axt_assert_rc(ax_sleep(0), 0);
    ck_assert_int_eq(zero_flag, 1); /* the other task ran */
    ck_assert_double_eq(ax_now(), 0.0);
    axt_await_task(t, 0);
    return NULL;
}

/* ax_sleep(0) yields once (another ready task runs) and takes no time. */
START_TEST(test_sleep_zero_yields)
{
    AXT_RUN_CLEAN(main_sleep_zero, NULL, NULL);
}
END_TEST

static int inval_flag;
static void *main_sleep_invalid(void *arg)
{
    ax_task *t;
    (void)arg;
    axt_spawn(&t, axt_set_flag, &inval_flag);
    axt_assert_rc(ax_sleep(-1.0), AX_EINVAL);     /* bad: negative */
    axt_assert_rc(ax_sleep(-1e-9), AX_EINVAL);    /* bad: slightly negative */
    axt_assert_rc(ax_sleep(NAN), AX_EINVAL);      /* bad: NaN */
    axt_assert_rc(ax_sleep(INFINITY), AX_EINVAL); /* bad: infinite */
    axt_assert_rc(ax_sleep(-INFINITY), AX_EINVAL);
    axt_assert_rc(ax_sleep(101.0 * 365.25 * 86400.0), AX_EINVAL); /* >100 y */
    axt_assert_rc(ax_sleep(1e300), AX_EINVAL);                     /* huge */
    /* none of them suspended or moved the clock */
    ck_assert_int_eq(inval_flag, 0);
    ck_assert_double_eq(ax_now(), 0.0);
    axt_await_task(t, 0);
    return NULL;
}

/* Negative, NaN, infinite and above-100-years durations -> AX_EINVAL,
 * without suspending. */
START_TEST(test_sleep_invalid_durations)
{
    AXT_RUN_CLEAN(main_sleep_invalid, NULL, NULL);
}
END_TEST

static void *main_sleep_long_valid(void *arg)
{
    (void)arg;
    axt_assert_rc(ax_sleep(99.0 * 365.0 * 86400.0), 0); /* < 100 years */
    ck_assert_double_eq_tol(ax_now(), 99.0 * 365.0 * 86400.0, 1e-3);
    return NULL;
}

/* 99 years is accepted (virtual clock). */
START_TEST(test_sleep_long_valid)
{
    AXT_RUN_CLEAN(main_sleep_long_valid, NULL, NULL);
}
END_TEST

/* Bad context: sleeping outside a task -> AX_ENOTTASK. */
START_TEST(test_sleep_outside_task)
{
    axt_assert_rc(ax_sleep(0), AX_ENOTTASK);
    axt_assert_rc(ax_sleep(0.001), AX_ENOTTASK);
    axt_assert_rc(ax_sleep_ns(1000), AX_ENOTTASK);
}
END_TEST

static void *main_sleep_cancelled(void *arg)
{
    ax_task *t;
    static axt_probe p = {.sleep = 5.0};
    (void)arg;
    axt_spawn(&t, axt_probe_fn, &p);
    axt_assert_rc(ax_sleep(1.0), 0);
    axt_assert_rc(ax_cancel(t), 0);
    axt_await_task(t, AX_ECANCELED);
    axt_assert_rc(p.sleep_rc, AX_ECANCELED);
    ck_assert_double_eq(p.woke_at, 1.0);
    /* the cancelled timer does not fire later */
    axt_assert_rc(ax_sleep(10.0), 0);
    ck_assert_double_eq(ax_now(), 11.0);
    return NULL;
}

/* A cancelled sleep returns AX_ECANCELED at the time of the cancel. */
START_TEST(test_sleep_cancelled)
{
    AXT_RUN_CLEAN(main_sleep_cancelled, NULL, NULL);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* ax_await_timeout                                                         */

static axt_probe to_p = {.sleep = 10.0, .cleanup_sleep = 0.5, .ret = AXT_P(1)};
static void *main_timeout_task(void *arg)
{
    ax_task *t;
    void *r = AXT_P(0x9);
    (void)arg;
    t = axt_spawn_named("slowpoke", axt_probe_fn, &to_p);
    axt_assert_rc(ax_await_timeout(t, 1.0, &r), AX_ETIMEDOUT);
    /* the task was cancelled and waited for, its clean-up included */
    axt_assert_rc(to_p.sleep_rc, AX_ECANCELED);
    ck_assert_int_eq(to_p.cleanup, 1);
    axt_assert_rc(to_p.cleanup_rc, 0);
    ck_assert_int_eq(to_p.finished, 1);
    ck_assert_double_eq(to_p.woke_at, 1.0);
    ck_assert_double_eq(ax_now(), 1.5);
    return NULL;
}

/* ax_await_timeout on a task: on timeout the task is cancelled, its
 * clean-up runs and is waited for, AX_ETIMEDOUT is returned and the handle
 * is consumed (the report stays clean). */
START_TEST(test_timeout_task)
{
    AXT_RUN_CLEAN(main_timeout_task, NULL, NULL);
}
END_TEST

static void *main_timeout_plain(void *arg)
{
    ax_future *f;
    void *v = NULL;
    (void)arg;
    axt_assert_rc(ax_future_new(&f), 0);
    axt_assert_rc(ax_await_timeout(f, 2.0, &v), AX_ETIMEDOUT);
    ck_assert_double_eq(ax_now(), 2.0);
    ck_assert(!ax_future_done(f)); /* left pending */
    axt_assert_rc(ax_future_set_result(f, AXT_P(8)), 0);
    axt_assert_rc(ax_await(f, &v), 0);
    ck_assert_ptr_eq(v, AXT_P(8));
    axt_assert_rc(ax_future_free(f), 0);
    return NULL;
}

/* On a plain future the timeout leaves it pending (it can complete later). */
START_TEST(test_timeout_plain_future_left_pending)
{
    AXT_RUN_CLEAN(main_timeout_plain, NULL, NULL);
}
END_TEST

static void *set_after(void *arg)
{
    axt_assert_rc(ax_sleep(1.0), 0);
    axt_assert_rc(ax_future_set_result((ax_future *)arg, AXT_P(4)), 0);
    return NULL;
}

static void *main_timeout_success(void *arg)
{
    ax_task *t, *s;
    ax_future *f;
    void *r = NULL;
    static axt_probe p = {.sleep = 1.0, .ret = AXT_P(7)};
    (void)arg;
    axt_spawn(&t, axt_probe_fn, &p);
    axt_assert_rc(ax_await_timeout(t, 5.0, &r), 0);
    ck_assert_ptr_eq(r, AXT_P(7));
    ck_assert_double_eq(ax_now(), 1.0);
    ck_assert_int_eq(p.cleanup, 0);

    axt_assert_rc(ax_future_new(&f), 0);
    axt_spawn(&s, set_after, f);
    r = NULL;
    axt_assert_rc(ax_await_timeout(f, 5.0, &r), 0);
    ck_assert_ptr_eq(r, AXT_P(4));
    ck_assert_double_eq(ax_now(), 2.0);
    axt_await_task(s, 0);
    axt_assert_rc(ax_future_free(f), 0);

    /* a failing task's own code comes through, not AX_ETIMEDOUT */
    axt_spawn(&t, axt_fail_with, AXT_P(-66));
    axt_assert_rc(ax_await_timeout(t, 5.0, NULL), -66);
    return NULL;
}

/* Completion before the timeout: the result (or the task's own failure)
 * comes back at once, without waiting for the timeout. */
START_TEST(test_timeout_success_before)
{
    AXT_RUN_CLEAN(main_timeout_success, NULL, NULL);
}
END_TEST

static void *main_timeout_zero(void *arg)
{
    ax_future *f;
    ax_task *t;
    void *v = NULL;
    (void)arg;
    axt_assert_rc(ax_future_new(&f), 0);
    axt_assert_rc(ax_await_timeout(f, 0.0, &v), AX_ETIMEDOUT); /* pending */
    axt_assert_rc(ax_future_set_result(f, AXT_P(3)), 0);
    axt_assert_rc(ax_await_timeout(f, 0.0, &v), 0); /* done: takes it */
    ck_assert_ptr_eq(v, AXT_P(3));
    axt_assert_rc(ax_future_free(f), 0);

    axt_spawn(&t, axt_return_arg, AXT_P(12));
    axt_assert_rc(ax_yield(), 0);
    ck_assert(ax_task_done(t));
    v = NULL;
    axt_assert_rc(ax_await_timeout(t, 0.0, &v), 0); /* finished task */
    ck_assert_ptr_eq(v, AXT_P(12));
    ck_assert_double_eq(ax_now(), 0.0);
    return NULL;
}

/* A timeout of 0 still takes a done result; on a pending future it times
 * out at once. */
START_TEST(test_timeout_zero_on_done)
{
    AXT_RUN_CLEAN(main_timeout_zero, NULL, NULL);
}
END_TEST

static void *main_timeout_invalid(void *arg)
{
    ax_future *f;
    ax_task *t;
    static axt_probe p = {.sleep = 1.0, .ret = AXT_P(2)};
    (void)arg;
    axt_assert_rc(ax_future_new(&f), 0);
    axt_assert_rc(ax_await_timeout(f, -1.0, NULL), AX_EINVAL); /* negative */
    axt_assert_rc(ax_await_timeout(f, NAN, NULL), AX_EINVAL);  /* NaN */
    ck_assert(!ax_future_done(f));
    axt_assert_rc(ax_future_free(f), 0);

    axt_spawn(&t, axt_probe_fn, &p);
    axt_assert_rc(ax_await_timeout(t, -0.5, NULL), AX_EINVAL);
    axt_assert_rc(ax_await_timeout(t, NAN, NULL), AX_EINVAL);
    ck_assert_double_eq(ax_now(), 0.0); /* did not wait */
    /* nothing was consumed or cancelled: the task is awaited normally */
    ck_assert_ptr_eq(axt_await_task(t, 0), AXT_P(2));
    ck_assert_int_eq(p.cleanup, 0);
    axt_assert_rc(ax_await_timeout_future(NULL, 1.0, NULL), AX_EINVAL);
    return NULL;
}

/* Negative or NaN timeouts -> AX_EINVAL; the task is not cancelled nor its
 * handle consumed. NULL future -> AX_EINVAL. */
START_TEST(test_timeout_invalid)
{
    AXT_RUN_CLEAN(main_timeout_invalid, NULL, NULL);
}
END_TEST

static int to_outer_rc = 1;
static axt_probe to_inner = {.sleep = 10.0};
static void *await_with_timeout(void *arg)
{
    ax_task *t;
    (void)arg;
    axt_spawn(&t, axt_probe_fn, &to_inner);
    to_outer_rc = ax_await_timeout(t, 5.0, NULL);
    return NULL;
}

static void *main_timeout_awaiter_cancelled(void *arg)
{
    ax_task *w;
    (void)arg;
    axt_spawn(&w, await_with_timeout, NULL);
    axt_assert_rc(ax_sleep(1.0), 0);
    axt_assert_rc(ax_cancel(w), 0);
    axt_await_task(w, AX_ECANCELED);
    axt_assert_rc(to_outer_rc, AX_ECANCELED);
    axt_assert_rc(to_inner.sleep_rc, AX_ECANCELED);
    ck_assert_int_eq(to_inner.finished, 1);
    ck_assert_double_eq(ax_now(), 1.0);
    return NULL;
}

/* The waiter of ax_await_timeout is cancelled before the timeout: the
 * awaited task is cancelled too and the call returns AX_ECANCELED. */
START_TEST(test_timeout_awaiter_cancelled)
{
    AXT_RUN_CLEAN(main_timeout_awaiter_cancelled, NULL, NULL);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* The real clock                                                           */

static void *main_real_sleep(void *arg)
{
    double t0 = ax_now();
    int64_t n0 = ax_now_ns();
    (void)arg;
    axt_assert_rc(ax_sleep(0.05), 0);
    ck_assert_msg(ax_now() - t0 >= 0.045, "slept %f s", ax_now() - t0);
    ck_assert_msg(ax_now_ns() - n0 >= INT64_C(45000000), "slept %" PRId64 " ns",
                  ax_now_ns() - n0);
    return NULL;
}

/* Real (monotonic) clock: ax_sleep(0.05) takes at least 0.045 s of
 * ax_now() (a lower bound only). */
START_TEST(test_real_clock_sleep)
{
    axt_assert_rc(ax_test_run_real(main_real_sleep, NULL, NULL), 0);
    AXT_ASSERT_CLEAN();
}
END_TEST

/* A task's timer on the real clock leaves the heap lazily when its wait
 * ends early (framework/timer.h). What that must not change: */

typedef struct later {
    ax_future *f;
    double after;
} later;

/* Completes l->f after l->after seconds. */
static void *complete_later(void *arg)
{
    later *l = arg;
    axt_assert_rc(ax_sleep(l->after), 0);
    axt_assert_rc(ax_future_set_result(l->f, AXT_P(7)), 0);
    return NULL;
}

/* An await with deadline now + @p dl that a helper ends after 10 ms: the
 * task's timer stays behind in the heap, dead, due at the old deadline. */
static void wait_ended_early(double dl)
{
    later l = {.after = 0.01};
    ax_task *t;
    void *v = NULL;
    axt_assert_rc(ax_future_new(&l.f), 0);
    axt_spawn(&t, complete_later, &l);
    axt_assert_rc(ax_await_dl(l.f, ax_deadline_in(dl), &v), 0);
    ck_assert_ptr_eq(v, AXT_P(7));
    axt_await_task(t, 0);
    axt_assert_rc(ax_future_free(l.f), 0);
}

static void *main_lazy_timer(void *arg)
{
    later l = {.after = 0.25};
    ax_task *t;
    double t0;
    void *v = NULL;
    (void)arg;
    /* A later deadline than the dead entry's: the sleep is not cut short
     * at the old one (0.1 s). */
    wait_ended_early(0.1);
    t0 = ax_now();
    axt_assert_rc(ax_sleep(0.3), 0);
    ck_assert_msg(ax_now() - t0 >= 0.29, "woke after %f s", ax_now() - t0);
    /* An await without a deadline is not woken by a dead entry (due at
     * 0.1 s) while it waits for a completion at 0.25 s. */
    wait_ended_early(0.1);
    axt_assert_rc(ax_future_new(&l.f), 0);
    axt_spawn(&t, complete_later, &l);
    t0 = ax_now();
    axt_assert_rc(ax_await(l.f, &v), 0);
    ck_assert_ptr_eq(v, AXT_P(7));
    ck_assert_msg(ax_now() - t0 >= 0.24, "woke after %f s", ax_now() - t0);
    axt_await_task(t, 0);
    axt_assert_rc(ax_future_free(l.f), 0);
    /* An earlier deadline than the dead entry's (60 s) is kept: without
     * it this sleep would take a minute (the test's hang guard). */
    wait_ended_early(60);
    axt_assert_rc(ax_sleep(0.02), 0);
    /* A timeout after a dead entry still fires, with its status. */
    wait_ended_early(60);
    axt_assert_rc(ax_future_new(&l.f), 0);
    axt_assert_rc(ax_await_timeout(l.f, 0.02, &v), AX_ETIMEDOUT);
    axt_assert_rc(ax_future_free(l.f), 0);
    return NULL;
}

/* A task's wait that ends before its deadline, then waits of every kind:
 * a later sleep is not cut short by the old deadline, a wait without a
 * deadline is not woken by it, an earlier deadline is kept, a timeout
 * still fires. */
START_TEST(test_real_clock_timer_left_early)
{
    axt_assert_rc(ax_test_run_real(main_lazy_timer, NULL, NULL), 0);
    AXT_ASSERT_CLEAN();
}
END_TEST

static void *main_lazy_deadlock(void *arg)
{
    ax_future *f;
    (void)arg;
    wait_ended_early(60);
    /* Nothing can complete f: a deadlock, found at once, although the
     * dead entry's deadline is a minute away (the test's hang guard). */
    axt_assert_rc(ax_future_new(&f), 0);
    axt_assert_rc(ax_await(f, NULL), AX_ECANCELED);
    axt_assert_rc(ax_future_free(f), 0);
    return NULL;
}

/* A dead timer entry is not a timer: the deadlock is still found. */
START_TEST(test_real_clock_deadlock_after_early_wait)
{
    axt_assert_rc(ax_test_run_real(main_lazy_deadlock, NULL, NULL),
                  AX_EDEADLK);
    AXT_ASSERT_REPORT_HAS("axon: deadlock");
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Deadlines (the _dl calls)                                                */

#define NS(sec) ((int64_t)((sec)*1e9))

static void *main_deadline_in(void *arg)
{
    ax_future *f, *futs[1];
    size_t idx = 9;
    (void)arg;
    axt_assert_rc(ax_sleep(1.25), 0);
    ck_assert_int_eq(ax_deadline_in(0), ax_now_ns());
    ck_assert_int_eq(ax_deadline_in(2.5), ax_now_ns() + NS(2.5));
    ck_assert_int_eq(ax_deadline_in(-1), AX_NO_DEADLINE);
    ck_assert_int_eq(ax_deadline_in(-1e-9), AX_NO_DEADLINE);
    ck_assert_int_eq(ax_deadline_in(INFINITY), AX_NO_DEADLINE);
    ck_assert_int_eq(ax_deadline_in(1e12), AX_NO_DEADLINE); /* > 100 y */
    /* NaN gives a value below -1 that every _dl call refuses */
    ck_assert(ax_deadline_in(NAN) < AX_NO_DEADLINE);
    axt_assert_rc(ax_future_new(&f), 0);
    futs[0] = f;
    axt_assert_rc(ax_sleep_dl(ax_deadline_in(NAN)), AX_EINVAL);
    axt_assert_rc(ax_await_dl(f, ax_deadline_in(NAN), NULL), AX_EINVAL);
    axt_assert_rc(ax_wait_any_dl(futs, 1, ax_deadline_in(NAN), &idx),
                  AX_EINVAL);
    axt_assert_rc(ax_sleep_dl(-2), AX_EINVAL);
    axt_assert_rc(ax_await_future_dl(NULL, AX_NO_DEADLINE, NULL), AX_EINVAL);
    ck_assert_uint_eq(idx, 9);
    ck_assert_double_eq(ax_now(), 1.25); /* nothing waited */
    axt_assert_rc(ax_future_free(f), 0);
    return NULL;
}

/* ax_deadline_in(): now + seconds on the loop's clock; negative, +inf and
 * beyond 100 years are AX_NO_DEADLINE; NaN is a value the _dl calls reject
 * with AX_EINVAL (as any deadline below -1), without waiting. */
START_TEST(test_deadline_in)
{
    ck_assert(ax_deadline_in(1.0) > 0); /* outside a loop: monotonic */
    axt_assert_rc(ax_sleep_dl(AX_NO_DEADLINE), AX_ENOTTASK);
    axt_assert_rc(ax_await_future_dl(NULL, AX_NO_DEADLINE, NULL), AX_EINVAL);
    AXT_RUN_CLEAN(main_deadline_in, NULL, NULL);
}
END_TEST

static int dl_flag, dl_forever_rc = 1;
static void *sleep_forever(void *arg)
{
    (void)arg;
    dl_forever_rc = ax_sleep_dl(AX_NO_DEADLINE);
    return NULL;
}

static void *main_sleep_dl(void *arg)
{
    ax_task *t;
    int64_t dl;
    (void)arg;
    dl = ax_deadline_in(2.0);
    axt_assert_rc(ax_sleep_dl(dl), 0);
    ck_assert_int_eq(ax_now_ns(), dl);
    /* a deadline already past: no time passes, but the others run once */
    axt_spawn(&t, axt_set_flag, &dl_flag);
    axt_assert_rc(ax_sleep_dl(0), 0);
    ck_assert_int_eq(dl_flag, 1);
    ck_assert_double_eq(ax_now(), 2.0);
    axt_await_task(t, 0);
    /* one deadline across two sleeps: the second ends at the same time */
    dl = ax_deadline_in(3.0);
    axt_assert_rc(ax_sleep(1.0), 0);
    axt_assert_rc(ax_sleep_dl(dl), 0);
    ck_assert_double_eq(ax_now(), 5.0);
    axt_assert_rc(ax_sleep_dl(dl), 0); /* passed now: returns at once */
    ck_assert_double_eq(ax_now(), 5.0);
    /* AX_NO_DEADLINE: until cancelled */
    axt_spawn(&t, sleep_forever, NULL);
    axt_assert_rc(ax_sleep(10.0), 0);
    ck_assert_int_eq(dl_forever_rc, 1); /* still asleep after 10 s */
    axt_assert_rc(ax_cancel(t), 0);
    axt_assert_rc(ax_await(t, NULL), AX_ECANCELED);
    axt_assert_rc(dl_forever_rc, AX_ECANCELED);
    ck_assert_double_eq(ax_now(), 15.0);
    return NULL;
}

/* ax_sleep_dl(): wakes exactly at the deadline; a past deadline yields
 * once without time passing; a deadline carried over two calls bounds
 * both; AX_NO_DEADLINE sleeps until cancelled. */
START_TEST(test_sleep_dl)
{
    AXT_RUN_CLEAN(main_sleep_dl, NULL, NULL);
}
END_TEST

static axt_probe dla_fast = {.sleep = 2.0, .ret = AXT_P(21)};
static axt_probe dla_slow = {
    .sleep = 5.0, .cleanup_sleep = 0.25, .ret = AXT_P(22)};
static axt_probe dla_none = {.sleep = 7.0, .ret = AXT_P(23)};

static void *main_await_dl(void *arg)
{
    ax_task *a, *b, *c;
    ax_future *f;
    void *v = NULL;
    int64_t dl;
    (void)arg;
    axt_assert_rc(ax_future_new(&f), 0);
    /* a plain future times out at the deadline and stays pending */
    axt_assert_rc(ax_await_dl(f, ax_deadline_in(1.0), &v), AX_ETIMEDOUT);
    ck_assert_double_eq(ax_now(), 1.0);
    ck_assert(!ax_future_done(f));
    /* a past deadline still takes a result that is there */
    axt_assert_rc(ax_future_set_result(f, AXT_P(42)), 0);
    axt_assert_rc(ax_await_dl(f, 0, &v), 0);
    ck_assert_ptr_eq(v, AXT_P(42));
    axt_assert_rc(ax_await_future_dl(f, ax_now_ns(), &v), 0);
    ck_assert_double_eq(ax_now(), 1.0);
    axt_assert_rc(ax_future_free(f), 0);
    /* a request-wide budget of 3 s over two awaits: the first finishes at
     * +2 s, the second is cut at +3 s (its task cancelled, its clean-up
     * waited for) */
    dl = ax_deadline_in(3.0);
    a = axt_spawn_named("fast", axt_probe_fn, &dla_fast);
    b = axt_spawn_named("slow", axt_probe_fn, &dla_slow);
    axt_assert_rc(ax_await_dl(a, dl, &v), 0);
    ck_assert_ptr_eq(v, AXT_P(21));
    ck_assert_double_eq(ax_now(), 3.0);
    axt_assert_rc(ax_await_dl(b, dl, &v), AX_ETIMEDOUT);
    ck_assert_double_eq(dla_slow.woke_at, 4.0);
    axt_assert_rc(dla_slow.sleep_rc, AX_ECANCELED);
    ck_assert_int_eq(dla_slow.finished, 1);
    ck_assert_double_eq(ax_now(), 4.25);
    /* AX_NO_DEADLINE waits as long as it takes */
    c = axt_spawn_named("none", axt_probe_fn, &dla_none);
    axt_assert_rc(ax_await_dl(c, AX_NO_DEADLINE, &v), 0);
    ck_assert_ptr_eq(v, AXT_P(23));
    ck_assert_double_eq(ax_now(), 11.25);
    return NULL;
}

/* ax_await_dl(): timeout at the deadline (plain future left pending, task
 * cancelled and waited for); a past deadline takes a done result; one
 * deadline bounds two awaits; AX_NO_DEADLINE waits without limit. */
START_TEST(test_await_dl)
{
    AXT_RUN_CLEAN(main_await_dl, NULL, NULL);
}
END_TEST

static void *complete_after_2s(void *arg)
{
    axt_assert_rc(ax_sleep(2.0), 0);
    axt_assert_rc(ax_future_set_result(arg, NULL), 0);
    return NULL;
}

static void *main_wait_any_dl(void *arg)
{
    ax_future *futs[2];
    ax_task *t;
    size_t idx = 9;
    int64_t dl;
    (void)arg;
    axt_assert_rc(ax_future_new(&futs[0]), 0);
    axt_assert_rc(ax_future_new(&futs[1]), 0);
    dl = ax_deadline_in(1.5);
    axt_assert_rc(ax_wait_any_dl(futs, 2, dl, &idx), AX_ETIMEDOUT);
    ck_assert_double_eq(ax_now(), 1.5);
    /* the same deadline, now past: times out at once... */
    axt_assert_rc(ax_wait_any_dl(futs, 2, dl, &idx), AX_ETIMEDOUT);
    ck_assert_double_eq(ax_now(), 1.5);
    ck_assert_uint_eq(idx, 9);
    /* ...but reports a future already done */
    axt_assert_rc(ax_future_set_result(futs[1], NULL), 0);
    axt_assert_rc(ax_wait_any_dl(futs, 2, dl, &idx), 0);
    ck_assert_uint_eq(idx, 1);
    /* AX_NO_DEADLINE */
    axt_spawn(&t, complete_after_2s, futs[0]);
    axt_assert_rc(ax_wait_any_dl(futs, 1, AX_NO_DEADLINE, &idx), 0);
    ck_assert_uint_eq(idx, 0);
    ck_assert_double_eq(ax_now(), 3.5);
    axt_await_task(t, 0);
    axt_assert_rc(ax_future_free(futs[0]), 0);
    axt_assert_rc(ax_future_free(futs[1]), 0);
    return NULL;
}

/* ax_wait_any_dl(): times out at the deadline; the same deadline once
 * past times out at once yet reports a done future; AX_NO_DEADLINE. */
START_TEST(test_wait_any_dl)
{
    AXT_RUN_CLEAN(main_wait_any_dl, NULL, NULL);
}
END_TEST

Suite *ax_time_suite(void)
{
    Suite *s = suite_create("time");
    TCase *tc = axt_tcase(s, "sleep");
    tcase_add_test(tc, test_sleep_deadline_order);
    tcase_add_test(tc, test_sleep_equal_deadlines_fifo);
    tcase_add_test(tc, test_sleep_many_timers_order);
    tcase_add_test(tc, test_virtual_clock_no_drift);
    tcase_add_test(tc, test_virtual_clock_waits_for_ready_tasks);
    tcase_add_test(tc, test_virtual_elapsed_concurrent);
    tcase_add_test(tc, test_virtual_elapsed_sequential);
    tcase_add_test(tc, test_sleep_ns);
    tcase_add_test(tc, test_sleep_zero_yields);
    tcase_add_test(tc, test_sleep_invalid_durations);
    tcase_add_test(tc, test_sleep_long_valid);
    tcase_add_test(tc, test_sleep_outside_task);
    tcase_add_test(tc, test_sleep_cancelled);

    tc = axt_tcase(s, "timeout");
    tcase_add_test(tc, test_timeout_task);
    tcase_add_test(tc, test_timeout_plain_future_left_pending);
    tcase_add_test(tc, test_timeout_success_before);
    tcase_add_test(tc, test_timeout_zero_on_done);
    tcase_add_test(tc, test_timeout_invalid);
    tcase_add_test(tc, test_timeout_awaiter_cancelled);

    tc = axt_tcase(s, "deadline");
    tcase_add_test(tc, test_deadline_in);
    tcase_add_test(tc, test_sleep_dl);
    tcase_add_test(tc, test_await_dl);
    tcase_add_test(tc, test_wait_any_dl);

    tc = axt_tcase(s, "real_clock");
    tcase_add_test(tc, test_real_clock_sleep);
    tcase_add_test(tc, test_real_clock_timer_left_early);
    tcase_add_test(tc, test_real_clock_deadlock_after_early_wait);
    return s;
}

#ifndef AX_TEST_NO_MAIN
int main(void)
{
    return ax_test_main(ax_time_suite());
}
#endif
