/* SPDX-License-Identifier: MIT */
/* check_wait.c: tests for ax_wait and ax_as_completed (axon/gather.h),
 * across loops too. Cases named test_wait_* / test_as_completed_* port
 * CPython's Lib/test/test_asyncio/test_tasks.py cases of the same name. */
#include <math.h>

#include "axtest.h"

Suite *ax_wait_suite(void);

/* Sleeps arg milliseconds and returns arg. */
static void *nap(void *arg)
{
    int rc = ax_sleep((double)AXT_I(arg) / 1000.0);
    if (rc)
        return ax_task_fail(rc);
    return arg;
}

/* Sleeps arg milliseconds, then fails with -77. */
static void *nap_fail(void *arg)
{
    int rc = ax_sleep((double)AXT_I(arg) / 1000.0);
    return ax_task_fail(rc ? rc : -77);
}

static void *main_wait(void *arg)
{
    ax_task *a, *b;
    ax_future *fs[2];
    bool done[2] = {false, false};
    size_t nd = 0;
    (void)arg;
    axt_spawn(&a, nap, AXT_P(100));
    axt_spawn(&b, nap, AXT_P(150));
    fs[0] = AX_FUTURE(b);
    fs[1] = AX_FUTURE(a);
    axt_assert_rc(ax_wait(fs, 2, AX_WAIT_ALL_COMPLETED, -1, &nd, done), 0);
    ck_assert_double_eq(ax_now(), 0.15);
    ck_assert_uint_eq(nd, 2);
    ck_assert(done[0] && done[1]);
    /* nothing consumed: the handles still read */
    ck_assert_ptr_eq(axt_await_task(a, 0), AXT_P(100));
    ck_assert_ptr_eq(axt_await_task(b, 0), AXT_P(150));
    return NULL;
}

/* CPython test_wait: ALL_COMPLETED returns when the last is done. */
START_TEST(test_wait)
{
    AXT_RUN_CLEAN(main_wait, NULL, NULL);
}
END_TEST

static void *main_wait_duplicate(void *arg)
{
    ax_task *a;
    ax_future *fs[2];
    size_t nd = 0;
    (void)arg;
    axt_spawn(&a, nap, AXT_P(10));
    fs[0] = fs[1] = AX_FUTURE(a);
    axt_assert_rc(ax_wait(fs, 2, AX_WAIT_ALL_COMPLETED, -1, &nd, NULL), 0);
    ck_assert_uint_eq(nd, 2);
    ck_assert_ptr_eq(axt_await_task(a, 0), AXT_P(10));
    return NULL;
}

/* CPython test_wait_duplicate_coroutines: the same future twice is fine. */
START_TEST(test_wait_duplicate_coroutines)
{
    AXT_RUN_CLEAN(main_wait_duplicate, NULL, NULL);
}
END_TEST

static void *main_wait_errors(void *arg)
{
    ax_future *f, *fs[2];
    (void)arg;
    axt_assert_rc(ax_future_new(&f), 0);
    fs[0] = f;
    fs[1] = NULL;
    axt_assert_rc(ax_wait(fs, 0, AX_WAIT_ALL_COMPLETED, 1, NULL, NULL),
                  AX_EINVAL);
    axt_assert_rc(ax_wait(NULL, 1, AX_WAIT_ALL_COMPLETED, 1, NULL, NULL),
                  AX_EINVAL);
    axt_assert_rc(ax_wait(fs, 2, AX_WAIT_ALL_COMPLETED, 1, NULL, NULL),
                  AX_EINVAL);
    axt_assert_rc(ax_wait(fs, 1, 7, 1, NULL, NULL), AX_EINVAL);
    axt_assert_rc(ax_wait(fs, 1, AX_WAIT_ALL_COMPLETED, NAN, NULL, NULL),
                  AX_EINVAL);
    axt_assert_rc(ax_wait_dl(fs, 1, AX_WAIT_ALL_COMPLETED, -2, NULL, NULL),
                  AX_EINVAL);
    ck_assert_double_eq(ax_now(), 0.0);
    axt_assert_rc(ax_future_free(f), 0);
    axt_assert_rc(ax_wait(fs, 1, AX_WAIT_ALL_COMPLETED, 1, NULL, NULL),
                  AX_ESRCH);
    return NULL;
}

/* CPython test_wait_errors: empty set, bad mode (plus NULL, NaN, a freed
 * future) are refused without waiting. */
START_TEST(test_wait_errors)
{
    AXT_RUN_CLEAN(main_wait_errors, NULL, NULL);
}
END_TEST

static void *main_wait_first_completed(void *arg)
{
    ax_task *a, *b;
    ax_future *fs[2];
    bool done[2];
    size_t nd = 0;
    (void)arg;
    axt_spawn(&a, nap, AXT_P(10000));
    axt_spawn(&b, nap, AXT_P(100));
    fs[0] = AX_FUTURE(b);
    fs[1] = AX_FUTURE(a);
    axt_assert_rc(ax_wait(fs, 2, AX_WAIT_FIRST_COMPLETED, -1, &nd, done), 0);
    ck_assert_double_eq(ax_now(), 0.1);
    ck_assert_uint_eq(nd, 1);
    ck_assert(done[0] && !done[1]);
    ck_assert(!ax_future_done(AX_FUTURE(a))); /* left running */
    axt_assert_rc(ax_cancel(a), 0);
    axt_await_task(a, AX_ECANCELED);
    axt_await_task(b, 0);
    return NULL;
}

/* CPython test_wait_first_completed: returns at the first, the rest run. */
START_TEST(test_wait_first_completed)
{
    AXT_RUN_CLEAN(main_wait_first_completed, NULL, NULL);
}
END_TEST

static int rd_flag;
static void *main_wait_really_done(void *arg)
{
    ax_future *f[2];
    ax_task *t;
    size_t nd = 0;
    (void)arg;
    for (int i = 0; i < 2; i++)
        axt_assert_rc(ax_future_new(&f[i]), 0);
    axt_assert_rc(ax_future_set_result(f[0], NULL), 0);
    axt_assert_rc(ax_future_set_error(f[1], -5), 0);
    axt_spawn(&t, axt_set_flag, &rd_flag);
    axt_assert_rc(ax_wait(f, 2, AX_WAIT_FIRST_COMPLETED, 0, &nd, NULL), 0);
    ck_assert_uint_eq(nd, 2);
    ck_assert_int_eq(rd_flag, 0); /* did not suspend */
    axt_assert_rc(ax_future_result(f[1], NULL), -5); /* still unread */
    axt_await_task(t, 0);
    for (int i = 0; i < 2; i++)
        axt_assert_rc(ax_future_free(f[i]), 0);
    return NULL;
}

/* CPython test_wait_really_done: all done already, even with timeout 0:
 * returned at once. */
START_TEST(test_wait_really_done)
{
    AXT_RUN_CLEAN(main_wait_really_done, NULL, NULL);
}
END_TEST

static void *main_wait_concurrent_complete(void *arg)
{
    ax_task *a, *b;
    ax_future *fs[2];
    bool done[2];
    size_t nd = 0;
    (void)arg;
    axt_spawn(&a, nap, AXT_P(100));
    axt_spawn(&b, nap, AXT_P(150));
    fs[0] = AX_FUTURE(b);
    fs[1] = AX_FUTURE(a);
    axt_assert_rc(ax_wait(fs, 2, AX_WAIT_ALL_COMPLETED, 0.1, &nd, done),
                  AX_ETIMEDOUT);
    ck_assert_double_eq(ax_now(), 0.1);
    /* Unlike asyncio, the waiter's timer (armed before a's) wakes it
     * before a has run its last step: a is not done yet ... */
    ck_assert_uint_eq(nd, 0);
    /* ... and is once it has run, still in the same instant. */
    axt_assert_rc(ax_yield(), 0);
    axt_assert_rc(ax_wait(fs, 2, AX_WAIT_ALL_COMPLETED, 0, &nd, done),
                  AX_ETIMEDOUT);
    ck_assert_double_eq(ax_now(), 0.1);
    ck_assert_uint_eq(nd, 1);
    ck_assert(!done[0] && done[1]);
    axt_await_task(a, 0);
    axt_await_task(b, 0);
    return NULL;
}

/* CPython test_wait_concurrent_complete: a task ending at the very time
 * of the timeout. asyncio reports it done; here it is done once it has
 * run, which a yield lets it do (the difference is noted above). */
START_TEST(test_wait_concurrent_complete)
{
    AXT_RUN_CLEAN(main_wait_concurrent_complete, NULL, NULL);
}
END_TEST

static void *main_wait_first_exception(void *arg)
{
    ax_task *a, *b;
    ax_future *fs[2];
    bool done[2];
    size_t nd = 0;
    intptr_t when = AXT_I(arg);
    (void)arg;
    axt_spawn(&a, nap, AXT_P(10000));
    axt_spawn(&b, nap_fail, AXT_P(when));
    fs[0] = AX_FUTURE(a);
    fs[1] = AX_FUTURE(b);
    axt_assert_rc(ax_wait(fs, 2, AX_WAIT_FIRST_EXCEPTION, -1, &nd, done), 0);
    ck_assert_double_eq(ax_now(), (double)when / 1000.0);
    ck_assert_uint_eq(nd, 1);
    ck_assert(!done[0] && done[1]);
    axt_assert_rc(ax_task_result(b, NULL), -77);
    axt_assert_rc(ax_cancel(a), 0);
    axt_await_task(a, AX_ECANCELED);
    axt_await_task(b, -77);
    return NULL;
}

/* CPython test_wait_first_exception: a failure ends the wait at once. */
START_TEST(test_wait_first_exception)
{
    AXT_RUN_CLEAN(main_wait_first_exception, AXT_P(0), NULL);
}
END_TEST

/* CPython test_wait_first_exception_in_wait: the failure comes later. */
START_TEST(test_wait_first_exception_in_wait)
{
    AXT_RUN_CLEAN(main_wait_first_exception, AXT_P(10), NULL);
}
END_TEST

static void *main_wait_first_exception_cancel(void *arg)
{
    ax_task *a, *b;
    ax_future *fs[2];
    size_t nd = 0;
    (void)arg;
    axt_spawn(&a, nap, AXT_P(100));
    axt_spawn(&b, nap, AXT_P(50));
    fs[0] = AX_FUTURE(a);
    fs[1] = AX_FUTURE(b);
    axt_assert_rc(ax_cancel(b), 0);
    axt_assert_rc(ax_wait(fs, 2, AX_WAIT_FIRST_EXCEPTION, -1, &nd, NULL), 0);
    ck_assert_double_eq(ax_now(), 0.1); /* a cancel is no exception */
    ck_assert_uint_eq(nd, 2);
    axt_await_task(a, 0);
    axt_await_task(b, AX_ECANCELED);
    return NULL;
}

/* FIRST_EXCEPTION does not count a cancelled one (asyncio neither). */
START_TEST(test_wait_first_exception_ignores_cancelled)
{
    AXT_RUN_CLEAN(main_wait_first_exception_cancel, NULL, NULL);
}
END_TEST

static void *main_wait_with_exception(void *arg)
{
    ax_task *a, *b;
    ax_future *fs[2];
    size_t nd = 0;
    (void)arg;
    axt_spawn(&a, nap_fail, AXT_P(100));
    axt_spawn(&b, nap, AXT_P(150));
    fs[0] = AX_FUTURE(a);
    fs[1] = AX_FUTURE(b);
    axt_assert_rc(ax_wait(fs, 2, AX_WAIT_ALL_COMPLETED, -1, &nd, NULL), 0);
    ck_assert_double_eq(ax_now(), 0.15);
    ck_assert_uint_eq(nd, 2);
    axt_await_task(a, -77);
    axt_await_task(b, 0);
    return NULL;
}

/* CPython test_wait_with_exception: ALL_COMPLETED waits past a failure. */
START_TEST(test_wait_with_exception)
{
    AXT_RUN_CLEAN(main_wait_with_exception, NULL, NULL);
}
END_TEST

static void *main_wait_with_timeout(void *arg)
{
    ax_task *a, *b;
    ax_future *fs[2];
    bool done[2];
    size_t nd = 0;
    (void)arg;
    axt_spawn(&a, nap, AXT_P(100));
    axt_spawn(&b, nap, AXT_P(150));
    fs[0] = AX_FUTURE(a);
    fs[1] = AX_FUTURE(b);
    axt_assert_rc(ax_wait(fs, 2, AX_WAIT_ALL_COMPLETED, 0.11, &nd, done),
                  AX_ETIMEDOUT);
    ck_assert_double_eq(ax_now(), 0.11);
    ck_assert_uint_eq(nd, 1);
    ck_assert(done[0] && !done[1]);
    ck_assert(!ax_future_done(AX_FUTURE(b))); /* not cancelled */
    axt_await_task(b, 0);
    axt_await_task(a, 0);
    return NULL;
}

/* CPython test_wait_with_timeout: reports what finished, cancels nothing. */
START_TEST(test_wait_with_timeout)
{
    AXT_RUN_CLEAN(main_wait_with_timeout, NULL, NULL);
}
END_TEST

static void *waiter_of(void *arg)
{
    size_t nd = 9;
    int rc = ax_wait((ax_future *const *)arg, 1, AX_WAIT_ALL_COMPLETED, -1,
                     &nd, NULL);
    ck_assert_uint_eq(nd, 0);
    return ax_task_fail(rc);
}

static void *main_wait_cancelled(void *arg)
{
    ax_future *f;
    ax_task *w;
    (void)arg;
    axt_assert_rc(ax_future_new(&f), 0);
    axt_spawn(&w, waiter_of, &f);
    axt_assert_rc(ax_sleep(1), 0);
    axt_assert_rc(ax_cancel(w), 0);
    axt_await_task(w, AX_ECANCELED);
    ck_assert(!ax_future_done(f)); /* the future is left alone */
    axt_assert_rc(ax_future_free(f), 0);
    return NULL;
}

/* Cancelling the waiter: AX_ECANCELED, the future untouched. */
START_TEST(test_wait_cancelled_waiter)
{
    AXT_RUN_CLEAN(main_wait_cancelled, NULL, NULL);
}
END_TEST

/* ---- across loops ------------------------------------------------------ */

/* Each loop has its own virtual clock, so the cross-loop cases order the
 * completions by hand: the remote tasks wait for a gate of loop 0. */
typedef struct gate {
    ax_future *f;
    intptr_t ret;
    int fail;
} gate;

static void *gated(void *arg)
{
    gate *g = arg;
    int rc = ax_await_future(g->f, NULL);
    if (rc || g->fail)
        return ax_task_fail(rc ? rc : g->fail);
    return AXT_P(g->ret);
}

static void gates_new(gate *g, int n)
{
    for (int i = 0; i < n; i++) {
        axt_assert_rc(ax_future_new(&g[i].f), 0);
        g[i].ret = 100 + i;
        g[i].fail = 0;
    }
}

static void gates_free(gate *g, int n)
{
    for (int i = 0; i < n; i++)
        axt_assert_rc(ax_future_free(g[i].f), 0);
}

static void *main_wait_cross(void *arg)
{
    ax_task *a, *b, *c;
    ax_future *fs[3];
    gate g[2];
    bool done[3];
    size_t nd = 0, idx = 9;
    (void)arg;
    gates_new(g, 2);
    g[1].fail = -77;
    axt_assert_rc(axt_spawn_on(ax_loop_at(1), &a, gated, &g[0]), 0);
    axt_assert_rc(axt_spawn_on(ax_loop_at(2), &b, gated, &g[1]), 0);
    axt_spawn(&c, nap, AXT_P(200));
    fs[0] = AX_FUTURE(a);
    fs[1] = AX_FUTURE(b);
    fs[2] = AX_FUTURE(c);
    axt_assert_rc(ax_future_set_result(g[1].f, NULL), 0);
    axt_assert_rc(ax_wait_any(fs, 3, -1, &idx), 0);
    ck_assert_uint_eq(idx, 1);
    axt_assert_rc(ax_wait(fs, 3, AX_WAIT_FIRST_EXCEPTION, -1, &nd, done), 0);
    ck_assert_uint_eq(nd, 1);
    ck_assert(!done[0] && done[1] && !done[2]);
    ck_assert_double_eq(ax_now(), 0.0);
    axt_assert_rc(ax_future_set_result(g[0].f, NULL), 0);
    axt_assert_rc(ax_wait(fs, 3, AX_WAIT_ALL_COMPLETED, -1, &nd, done), 0);
    ck_assert_uint_eq(nd, 3);
    ck_assert(done[0] && done[1] && done[2]);
    ck_assert_double_eq(ax_now(), 0.2);
    /* another loop's outcome is read with ax_await, without waiting */
    axt_assert_rc(ax_task_result(a, NULL), AX_EWRONGLOOP);
    ck_assert_ptr_eq(axt_await_task(a, 0), AXT_P(100));
    axt_await_task(b, -77);
    ck_assert_ptr_eq(axt_await_task(c, 0), AXT_P(200));
    ck_assert_double_eq(ax_now(), 0.2);
    gates_free(g, 2);
    return NULL;
}

/* wait and wait_any over tasks of three loops, handles untouched. */
START_TEST(test_wait_across_loops)
{
    AXT_RUN_LOOPS_CLEAN(3, main_wait_cross, NULL);
}
END_TEST

static void *main_wait_cross_timeout(void *arg)
{
    ax_task *a;
    ax_future *fs[1];
    gate g[1];
    size_t nd = 9, idx;
    (void)arg;
    gates_new(g, 1);
    axt_assert_rc(axt_spawn_on(ax_loop_at(1), &a, gated, &g[0]), 0);
    fs[0] = AX_FUTURE(a);
    axt_assert_rc(ax_wait(fs, 1, AX_WAIT_ALL_COMPLETED, 0.5, &nd, NULL),
                  AX_ETIMEDOUT);
    ck_assert_uint_eq(nd, 0);
    ck_assert_double_eq(ax_now(), 0.5);
    axt_assert_rc(ax_wait_any(fs, 1, 0.1, &idx), AX_ETIMEDOUT);
    axt_assert_rc(ax_future_set_result(g[0].f, NULL), 0);
    ck_assert_ptr_eq(axt_await_task(a, 0), AXT_P(100)); /* not cancelled */
    gates_free(g, 1);
    return NULL;
}

/* A timed-out wait on another loop's task withdraws and leaves it alone. */
START_TEST(test_wait_across_loops_timeout)
{
    AXT_RUN_LOOPS_CLEAN(2, main_wait_cross_timeout, NULL);
}
END_TEST

static void *main_as_completed_cross(void *arg)
{
    ax_task *t[3];
    ax_future *fs[3], *f;
    ax_as_completed *it;
    gate g[2];
    (void)arg;
    gates_new(g, 2);
    axt_assert_rc(axt_spawn_on(ax_loop_at(1), &t[0], gated, &g[0]), 0);
    axt_assert_rc(axt_spawn_on(ax_loop_at(2), &t[1], gated, &g[1]), 0);
    axt_spawn(&t[2], nap, AXT_P(50));
    for (int i = 0; i < 3; i++)
        fs[i] = AX_FUTURE(t[i]);
    axt_assert_rc(ax_as_completed_new(&it, fs, 3), 0);
    axt_assert_rc(ax_future_set_result(g[1].f, NULL), 0);
    axt_assert_rc(ax_as_completed_next(it, &f, -1), 0);
    ck_assert_ptr_eq(f, fs[1]);
    axt_assert_rc(ax_future_set_result(g[0].f, NULL), 0);
    axt_assert_rc(ax_as_completed_next(it, &f, -1), 0);
    ck_assert_ptr_eq(f, fs[0]);
    axt_assert_rc(ax_as_completed_next(it, &f, -1), 0);
    ck_assert_ptr_eq(f, fs[2]);
    ck_assert_double_eq(ax_now(), 0.05);
    axt_assert_rc(ax_as_completed_next(it, &f, -1), AX_EALREADY);
    axt_assert_rc(ax_as_completed_free(it), 0);
    ck_assert_ptr_eq(axt_await_task(t[0], 0), AXT_P(100));
    ck_assert_ptr_eq(axt_await_task(t[1], 0), AXT_P(101));
    ck_assert_ptr_eq(axt_await_task(t[2], 0), AXT_P(50));
    gates_free(g, 2);
    return NULL;
}

/* test_as_completed with two of the tasks on other loops. */
START_TEST(test_as_completed_across_loops)
{
    AXT_RUN_LOOPS_CLEAN(3, main_as_completed_cross, NULL);
}
END_TEST

static void *main_as_completed_timeout_cross(void *arg)
{
    ax_task *a, *b;
    ax_future *fs[2], *f = NULL;
    ax_as_completed *it;
    gate g[1];
    (void)arg;
    gates_new(g, 1);
    axt_assert_rc(axt_spawn_on(ax_loop_at(1), &a, gated, &g[0]), 0);
    axt_spawn(&b, nap, AXT_P(10));
    fs[0] = AX_FUTURE(a);
    fs[1] = AX_FUTURE(b);
    axt_assert_rc(ax_as_completed_new(&it, fs, 2), 0);
    axt_assert_rc(ax_as_completed_next(it, &f, 0.1), 0);
    ck_assert_ptr_eq(f, fs[1]);
    axt_assert_rc(ax_as_completed_next(it, &f, 0.1), AX_ETIMEDOUT);
    ck_assert_double_eq(ax_now(), 0.11);
    /* freed with one still pending on another loop: withdrawn by message */
    axt_assert_rc(ax_as_completed_free(it), 0);
    axt_await_task(b, 0);
    axt_assert_rc(ax_future_set_result(g[0].f, NULL), 0);
    ck_assert_ptr_eq(axt_await_task(a, 0), AXT_P(100));
    gates_free(g, 1);
    return NULL;
}

/* test_as_completed_with_timeout with the slow one on another loop. */
START_TEST(test_as_completed_with_timeout_across_loops)
{
    AXT_RUN_LOOPS_CLEAN(2, main_as_completed_timeout_cross, NULL);
}
END_TEST

/* ---- as_completed ------------------------------------------------------ */

static void *main_as_completed(void *arg)
{
    ax_task *t[3];
    ax_future *fs[3], *f;
    ax_as_completed *it;
    int ms[3] = {150, 50, 100};
    intptr_t want[3] = {50, 100, 150};
    (void)arg;
    for (int i = 0; i < 3; i++) {
        axt_spawn(&t[i], nap, AXT_P(ms[i]));
        fs[i] = AX_FUTURE(t[i]);
    }
    axt_assert_rc(ax_as_completed_new(&it, fs, 3), 0);
    for (int i = 0; i < 3; i++) {
        axt_assert_rc(ax_as_completed_next(it, &f, -1), 0);
        ck_assert_double_eq(ax_now(), (double)want[i] / 1000.0);
        ck_assert_ptr_eq(axt_await_task((ax_task *)f, 0), AXT_P(want[i]));
    }
    axt_assert_rc(ax_as_completed_next(it, &f, -1), AX_EALREADY);
    axt_assert_rc(ax_as_completed_free(it), 0);
    axt_assert_rc(ax_as_completed_free(it), AX_ESRCH);
    return NULL;
}

/* CPython test_as_completed: yielded in completion order; exhausted after
 * the last; the handle is dead after free. */
START_TEST(test_as_completed)
{
    AXT_RUN_CLEAN(main_as_completed, NULL, NULL);
}
END_TEST

static void *main_as_completed_timeout(void *arg)
{
    ax_task *a, *b;
    ax_future *fs[2], *f = NULL;
    ax_as_completed *it;
    (void)arg;
    axt_spawn(&a, nap, AXT_P(5000));
    axt_spawn(&b, nap, AXT_P(10));
    fs[0] = AX_FUTURE(a);
    fs[1] = AX_FUTURE(b);
    axt_assert_rc(ax_as_completed_new(&it, fs, 2), 0);
    axt_assert_rc(ax_as_completed_next(it, &f, 0.1), 0);
    ck_assert_ptr_eq(f, fs[1]);
    axt_assert_rc(ax_as_completed_next(it, &f, 0.1), AX_ETIMEDOUT);
    ck_assert_double_eq(ax_now(), 0.11);
    axt_assert_rc(ax_as_completed_free(it), 0); /* one still pending */
    axt_await_task(b, 0);
    axt_assert_rc(ax_cancel(a), 0);
    axt_await_task(a, AX_ECANCELED);
    return NULL;
}

/* CPython test_as_completed_with_timeout: AX_ETIMEDOUT for the slow one;
 * the iterator can be freed with it still pending. */
START_TEST(test_as_completed_with_timeout)
{
    AXT_RUN_CLEAN(main_as_completed_timeout, NULL, NULL);
}
END_TEST

static void *main_as_completed_unused_timeout(void *arg)
{
    ax_task *a;
    ax_future *fs[1], *f;
    ax_as_completed *it;
    (void)arg;
    axt_spawn(&a, nap, AXT_P(10));
    fs[0] = AX_FUTURE(a);
    axt_assert_rc(ax_as_completed_new(&it, fs, 1), 0);
    axt_assert_rc(ax_as_completed_next(it, &f, 0.5), 0);
    ck_assert_double_eq(ax_now(), 0.01);
    axt_assert_rc(ax_as_completed_next(it, &f, 0.5), AX_EALREADY);
    axt_assert_rc(ax_as_completed_free(it), 0);
    axt_await_task(a, 0);
    return NULL;
}

/* CPython test_as_completed_with_unused_timeout. */
START_TEST(test_as_completed_with_unused_timeout)
{
    AXT_RUN_CLEAN(main_as_completed_unused_timeout, NULL, NULL);
}
END_TEST

static void *main_as_completed_reverse_wait(void *arg)
{
    ax_task *a, *b;
    ax_future *fs[2], *f1, *f2;
    ax_as_completed *it;
    (void)arg;
    axt_spawn(&a, nap, AXT_P(50));
    axt_spawn(&b, nap, AXT_P(20));
    fs[0] = AX_FUTURE(a);
    fs[1] = AX_FUTURE(b);
    axt_assert_rc(ax_as_completed_new(&it, fs, 2), 0);
    axt_assert_rc(ax_sleep(1), 0); /* both done before the first next */
    axt_assert_rc(ax_as_completed_next(it, &f1, 0), 0);
    axt_assert_rc(ax_as_completed_next(it, &f2, 0), 0);
    ck_assert_ptr_eq(f1, fs[1]);
    ck_assert_ptr_eq(f2, fs[0]);
    axt_assert_rc(ax_as_completed_free(it), 0);
    axt_await_task(a, 0);
    axt_await_task(b, 0);
    return NULL;
}

/* CPython test_as_completed_reverse_wait: completion order is kept even
 * when they are taken after all finished. */
START_TEST(test_as_completed_reverse_wait)
{
    AXT_RUN_CLEAN(main_as_completed_reverse_wait, NULL, NULL);
}
END_TEST

static void *main_as_completed_duplicates(void *arg)
{
    ax_task *ham, *spam;
    ax_future *fs[3], *f;
    ax_as_completed *it;
    int n = 0;
    (void)arg;
    axt_spawn(&ham, nap, AXT_P(10));
    axt_spawn(&spam, nap, AXT_P(20));
    fs[0] = fs[1] = AX_FUTURE(ham);
    fs[2] = AX_FUTURE(spam);
    axt_assert_rc(ax_as_completed_new(&it, fs, 3), 0);
    while (ax_as_completed_next(it, &f, -1) == 0) {
        ck_assert_ptr_eq(f, fs[n ? 2 : 0]);
        ck_assert_ptr_nonnull(axt_await_task((ax_task *)f, 0));
        n++;
    }
    ck_assert_int_eq(n, 2);
    axt_assert_rc(ax_as_completed_free(it), 0);
    return NULL;
}

/* CPython test_as_completed_duplicate_coroutines: a future given twice is
 * handed out once. */
START_TEST(test_as_completed_duplicate_coroutines)
{
    AXT_RUN_CLEAN(main_as_completed_duplicates, NULL, NULL);
}
END_TEST

static void *main_as_completed_misuse(void *arg)
{
    ax_as_completed *it;
    ax_future *f, *fs[1] = {NULL};
    (void)arg;
    axt_assert_rc(ax_as_completed_new(NULL, fs, 0), AX_EINVAL);
    axt_assert_rc(ax_as_completed_new(&it, fs, 1), AX_EINVAL);
    axt_assert_rc(ax_as_completed_new(&it, fs, 0), 0); /* empty: fine */
    axt_assert_rc(ax_as_completed_next(it, NULL, 0), AX_EINVAL);
    axt_assert_rc(ax_as_completed_next(it, &f, NAN), AX_EINVAL);
    axt_assert_rc(ax_as_completed_next_dl(it, &f, -2), AX_EINVAL);
    axt_assert_rc(ax_as_completed_next(it, &f, 0), AX_EALREADY);
    axt_assert_rc(ax_as_completed_free(it), 0);
    axt_assert_rc(ax_as_completed_next(it, &f, 0), AX_ESRCH);
    axt_assert_rc(ax_as_completed_free(NULL), AX_EINVAL);
    return NULL;
}

/* as_completed bad input: EINVAL; a freed iterator: ESRCH. */
START_TEST(test_as_completed_misuse)
{
    AXT_RUN_CLEAN(main_as_completed_misuse, NULL, NULL);
}
END_TEST

static void *main_as_completed_leaked(void *arg)
{
    ax_task *a;
    ax_future *fs[1], *f;
    ax_as_completed *it;
    (void)arg;
    axt_spawn(&a, nap, AXT_P(10));
    fs[0] = AX_FUTURE(a);
    axt_assert_rc(ax_as_completed_new(&it, fs, 1), 0);
    axt_assert_rc(ax_as_completed_next(it, &f, -1), 0);
    axt_await_task(a, 0);
    return NULL; /* the iterator is never freed */
}

/* An iterator nobody freed is reported (and freed) when the loop ends. */
START_TEST(test_as_completed_never_freed_is_reported)
{
    axt_assert_rc(ax_test_run(main_as_completed_leaked, NULL, NULL), 0);
    ck_assert_ptr_nonnull(
        strstr(ax_test_report(), "1 as_completed iterator(s) never freed"));
}
END_TEST

Suite *ax_wait_suite(void)
{
    Suite *s = suite_create("wait");
    TCase *tc = axt_tcase(s, "wait");

    tcase_add_test(tc, test_wait);
    tcase_add_test(tc, test_wait_duplicate_coroutines);
    tcase_add_test(tc, test_wait_errors);
    tcase_add_test(tc, test_wait_first_completed);
    tcase_add_test(tc, test_wait_really_done);
    tcase_add_test(tc, test_wait_concurrent_complete);
    tcase_add_test(tc, test_wait_first_exception);
    tcase_add_test(tc, test_wait_first_exception_in_wait);
    tcase_add_test(tc, test_wait_first_exception_ignores_cancelled);
    tcase_add_test(tc, test_wait_with_exception);
    tcase_add_test(tc, test_wait_with_timeout);
    tcase_add_test(tc, test_wait_cancelled_waiter);
    tcase_add_test(tc, test_wait_across_loops);
    tcase_add_test(tc, test_wait_across_loops_timeout);

    tc = axt_tcase(s, "as_completed");
    tcase_add_test(tc, test_as_completed);
    tcase_add_test(tc, test_as_completed_across_loops);
    tcase_add_test(tc, test_as_completed_with_timeout);
    tcase_add_test(tc, test_as_completed_with_timeout_across_loops);
    tcase_add_test(tc, test_as_completed_with_unused_timeout);
    tcase_add_test(tc, test_as_completed_reverse_wait);
    tcase_add_test(tc, test_as_completed_duplicate_coroutines);
    tcase_add_test(tc, test_as_completed_misuse);
    tcase_add_test(tc, test_as_completed_never_freed_is_reported);
    return s;
}

#ifndef AX_TEST_NO_MAIN
int main(void)
{
    return ax_test_main(ax_wait_suite());
}
#endif
