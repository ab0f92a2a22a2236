/* SPDX-License-Identifier: MIT */
/*
 * check_scope.c: tests for axon/scope.h (timeout scopes, shield,
 * cancelling/uncancel, loop callbacks).
 *
 * The timeout tests port CPython's Lib/test/test_asyncio/test_timeouts.py
 * (TimeoutTests): each is named timeouts_<CPython's test name> and its
 * comment says where the C API makes the port differ. `async with
 * asyncio.timeout(x) as cm: body` is ax_scope_enter(&cm, x); rc = body;
 * rc = ax_scope_exit(&cm, rc); TimeoutError is AX_ETIMEDOUT,
 * CancelledError AX_ECANCELED, RuntimeError AX_ESRCH/AX_EBUSY/AX_ENOTTASK.
 * Everything runs under the virtual clock; where the asyncio test keeps
 * the loop busy with time.sleep() so that deadlines pass while the task
 * computes, the port moves those deadlines to "now" with
 * ax_scope_reschedule(), which is what the busy loop amounts to.
 * Not ported: the repr tests (no repr) and test_timeout_exception_cause
 * (no exception chaining). The rest are axon's own and have plain names.
 */
#include <math.h>

#include "axtest.h"

Suite *ax_scope_suite(void);

static void *fail_or(int rc, void *value)
{
    return rc ? ax_task_fail(rc) : value;
}

/* ======================================================================== */
/* TimeoutTests                                                             */

static void *main_timeout_basic(void *arg)
{
    ax_scope cm;

    (void)arg;
    axt_assert_rc(ax_scope_enter(&cm, 0.01), 0);
    axt_assert_rc(ax_scope_exit(&cm, ax_sleep(10)), AX_ETIMEDOUT);
    ck_assert(ax_scope_expired(&cm));
    ck_assert(ax_now() < 0.02);
    ck_assert_int_eq(ax_task_cancelling(ax_task_self()), 0);
    return NULL;
}

/* Ports test_timeout_basic. */
START_TEST(timeouts_test_timeout_basic)
{
    AXT_RUN_CLEAN(main_timeout_basic, NULL, NULL);
}
END_TEST

static void *main_timeout_at_basic(void *arg)
{
    ax_scope cm;
    int64_t deadline = ax_now_ns() + 10000000;

    (void)arg;
    axt_assert_rc(ax_scope_enter_dl(&cm, deadline), 0);
    axt_assert_rc(ax_scope_exit(&cm, ax_sleep(10)), AX_ETIMEDOUT);
    ck_assert(ax_scope_expired(&cm));
    ck_assert_int_eq(ax_scope_deadline(&cm), deadline);
    return NULL;
}

/* Ports test_timeout_at_basic. */
START_TEST(timeouts_test_timeout_at_basic)
{
    AXT_RUN_CLEAN(main_timeout_at_basic, NULL, NULL);
}
END_TEST

static void *main_nested_timeouts(void *arg)
{
    ax_scope cm1, cm2;
    int64_t deadline = ax_now_ns() + 10000000;
    int rc;

    (void)arg;
    axt_assert_rc(ax_scope_enter_dl(&cm1, deadline), 0);
    axt_assert_rc(ax_scope_enter_dl(&cm2, deadline), 0);
    rc = ax_scope_exit(&cm2, ax_sleep(10));
    /* Only the outermost scope turns it into a timeout. */
    axt_assert_rc(rc, AX_ECANCELED);
    axt_assert_rc(ax_scope_exit(&cm1, rc), AX_ETIMEDOUT);
    ck_assert(ax_scope_expired(&cm1));
    ck_assert(ax_scope_expired(&cm2));
    return NULL;
}

/* Ports test_nested_timeouts: two scopes with one deadline. */
START_TEST(timeouts_test_nested_timeouts)
{
    AXT_RUN_CLEAN(main_nested_timeouts, NULL, NULL);
}
END_TEST

static void *main_waiter_cancelled(void *arg)
{
    ax_scope cm;
    int rc;

    (void)arg;
    axt_assert_rc(ax_scope_enter(&cm, 0.01), 0);
    rc = ax_sleep(10);
    axt_assert_rc(rc, AX_ECANCELED); /* the waiter sees a cancellation */
    axt_assert_rc(ax_scope_exit(&cm, rc), AX_ETIMEDOUT);
    return NULL;
}

/* Ports test_waiter_cancelled. */
START_TEST(timeouts_test_waiter_cancelled)
{
    AXT_RUN_CLEAN(main_waiter_cancelled, NULL, NULL);
}
END_TEST

static void *main_timeout_not_called(void *arg)
{
    ax_scope cm;

    (void)arg;
    axt_assert_rc(ax_scope_enter(&cm, 10), 0);
    axt_assert_rc(ax_scope_exit(&cm, ax_sleep(0.01)), 0);
    ck_assert(!ax_scope_expired(&cm));
    ck_assert_int_gt(ax_scope_deadline(&cm), ax_now_ns());
    return NULL;
}

/* Ports test_timeout_not_called. */
START_TEST(timeouts_test_timeout_not_called)
{
    AXT_RUN_CLEAN(main_timeout_not_called, NULL, NULL);
}
END_TEST

static void *main_timeout_disabled(void *arg)
{
    ax_scope cm;

    (void)arg;
    axt_assert_rc(ax_scope_enter(&cm, HUGE_VAL), 0);
    axt_assert_rc(ax_scope_exit(&cm, ax_sleep(0.01)), 0);
    ck_assert(!ax_scope_expired(&cm));
    ck_assert_int_eq(ax_scope_deadline(&cm), AX_NO_DEADLINE);
    return NULL;
}

/* Ports test_timeout_disabled: asyncio.timeout(None) is +infinity. */
START_TEST(timeouts_test_timeout_disabled)
{
    AXT_RUN_CLEAN(main_timeout_disabled, NULL, NULL);
}
END_TEST

static void *main_timeout_at_disabled(void *arg)
{
    ax_scope cm;

    (void)arg;
    axt_assert_rc(ax_scope_enter_dl(&cm, AX_NO_DEADLINE), 0);
    axt_assert_rc(ax_scope_exit(&cm, ax_sleep(0.01)), 0);
    ck_assert(!ax_scope_expired(&cm));
    ck_assert_int_eq(ax_scope_deadline(&cm), AX_NO_DEADLINE);
    return NULL;
}

/* Ports test_timeout_at_disabled: timeout_at(None) is AX_NO_DEADLINE. */
START_TEST(timeouts_test_timeout_at_disabled)
{
    AXT_RUN_CLEAN(main_timeout_at_disabled, NULL, NULL);
}
END_TEST

/* The body of the zero / past tests: sleep @p secs inside a scope of
 * @p timeout and check what the scope says. */
static void zero_case(double timeout, double secs)
{
    ax_scope cm;
    int64_t t0 = ax_now_ns(), t1;

    axt_assert_rc(ax_scope_enter(&cm, timeout), 0);
    axt_assert_rc(ax_scope_exit(&cm, ax_sleep(secs)), AX_ETIMEDOUT);
    t1 = ax_now_ns();
    ck_assert(ax_scope_expired(&cm));
    ck_assert_int_le(ax_scope_deadline(&cm), t1);
    if (timeout >= 0)
        ck_assert_int_le(t0, ax_scope_deadline(&cm));
    else
        ck_assert_int_ge(t0, ax_scope_deadline(&cm));
}

static void *main_timeout_zero(void *arg)
{
    (void)arg;
    zero_case(0, 10);
    return NULL;
}

/* Ports test_timeout_zero. */
START_TEST(timeouts_test_timeout_zero)
{
    AXT_RUN_CLEAN(main_timeout_zero, NULL, NULL);
}
END_TEST

static void *main_timeout_zero_sleep_zero(void *arg)
{
    (void)arg;
    zero_case(0, 0);
    return NULL;
}

/* Ports test_timeout_zero_sleep_zero: even a bare yield, with nobody else
 * ready, sees the timeout. */
START_TEST(timeouts_test_timeout_zero_sleep_zero)
{
    AXT_RUN_CLEAN(main_timeout_zero_sleep_zero, NULL, NULL);
}
END_TEST

static void *main_timeout_in_the_past_sleep_zero(void *arg)
{
    (void)arg;
    axt_assert_rc(ax_sleep(20), 0); /* so that now - 11 s is on the clock */
    zero_case(-11, 0);
    return NULL;
}

/* Ports test_timeout_in_the_past_sleep_zero. */
START_TEST(timeouts_test_timeout_in_the_past_sleep_zero)
{
    AXT_RUN_CLEAN(main_timeout_in_the_past_sleep_zero, NULL, NULL);
}
END_TEST

static void *main_foreign_exception_passed(void *arg)
{
    ax_scope cm;

    (void)arg;
    axt_assert_rc(ax_scope_enter(&cm, 0.01), 0);
    axt_assert_rc(ax_scope_exit(&cm, AX_EPIPE), AX_EPIPE);
    ck_assert(!ax_scope_expired(&cm));
    return NULL;
}

/* Ports test_foreign_exception_passed: KeyError is the body's own code. */
START_TEST(timeouts_test_foreign_exception_passed)
{
    AXT_RUN_CLEAN(main_foreign_exception_passed, NULL, NULL);
}
END_TEST

/* crash(): cleans up after its sleep with an error of its own. */
static int crash(void)
{
    (void)ax_sleep(1);
    return AX_EOVERFLOW; /* 1/0 in the finally clause */
}

static void *main_foreign_exception_on_timeout(void *arg)
{
    ax_scope cm;

    (void)arg;
    axt_assert_rc(ax_scope_enter(&cm, 0.01), 0);
    axt_assert_rc(ax_scope_exit(&cm, crash()), AX_EOVERFLOW);
    /* The scope's own request is withdrawn all the same. */
    ck_assert_int_eq(ax_task_cancelling(ax_task_self()), 0);
    return NULL;
}

/* Ports test_foreign_exception_on_timeout. */
START_TEST(timeouts_test_foreign_exception_on_timeout)
{
    AXT_RUN_CLEAN(main_foreign_exception_on_timeout, NULL, NULL);
}
END_TEST

static void *foreign_cancel(void *arg)
{
    ax_scope cm;

    (void)arg;
    axt_assert_rc(ax_scope_enter(&cm, 10), 0);
    axt_assert_rc(ax_cancel(ax_task_self()), 0);
    axt_assert_rc(ax_scope_exit(&cm, ax_sleep(10)), AX_ECANCELED);
    ck_assert(!ax_scope_expired(&cm));
    ck_assert(ax_now() < 1);
    return ax_task_fail(AX_ECANCELED);
}

static void *main_foreign_cancel(void *arg)
{
    ax_task *t;

    (void)arg;
    axt_spawn(&t, foreign_cancel, NULL);
    axt_await_task(t, AX_ECANCELED);
    return NULL;
}

/* Ports test_foreign_cancel_doesnt_timeout_if_not_expired (in a task of
 * its own, which then ends cancelled, as asyncio's test method does). */
START_TEST(timeouts_test_foreign_cancel_doesnt_timeout_if_not_expired)
{
    AXT_RUN_CLEAN(main_foreign_cancel, NULL, NULL);
}
END_TEST

static void *outer(void *arg)
{
    ax_scope cm;

    (void)arg;
    axt_assert_rc(ax_scope_enter(&cm, 0.001), 0);
    axt_assert_rc(ax_scope_exit(&cm, ax_sleep(10)), AX_ETIMEDOUT);
    return AXT_P(7);
}

static void *main_outer_task_is_not_cancelled(void *arg)
{
    ax_task *t;

    (void)arg;
    axt_spawn(&t, outer, NULL);
    /* Done, and not cancelled: it ends with its own result. */
    ck_assert_int_eq(AXT_I(axt_await_task(t, 0)), 7);
    return NULL;
}

/* Ports test_outer_task_is_not_cancelled. */
START_TEST(timeouts_test_outer_task_is_not_cancelled)
{
    AXT_RUN_CLEAN(main_outer_task_is_not_cancelled, NULL, NULL);
}
END_TEST

static void *main_nested_timeouts_concurrent(void *arg)
{
    ax_scope o, i;
    int rc;

    (void)arg;
    axt_assert_rc(ax_scope_enter(&o, 0.002), 0);
    axt_assert_rc(ax_scope_enter(&i, 0.1), 0);
    /* "Crunch some numbers" for 10 ms: the outer deadline passes. */
    axt_assert_rc(ax_scope_reschedule(&o, ax_now_ns()), 0);
    rc = ax_scope_exit(&i, ax_sleep(1));
    axt_assert_rc(rc, AX_ECANCELED); /* not the inner scope's timeout */
    ck_assert(!ax_scope_expired(&i));
    axt_assert_rc(ax_scope_exit(&o, rc), AX_ETIMEDOUT);
    return NULL;
}

/* Ports test_nested_timeouts_concurrent: the outer deadline passes while
 * an inner scope with a later one is open. */
START_TEST(timeouts_test_nested_timeouts_concurrent)
{
    AXT_RUN_CLEAN(main_nested_timeouts_concurrent, NULL, NULL);
}
END_TEST

static void *main_nested_timeouts_loop_busy(void *arg)
{
    ax_scope o, i;
    int64_t t0 = ax_now_ns();
    int rc;

    (void)arg;
    axt_assert_rc(ax_scope_enter(&o, 0.1), 0);
    axt_assert_rc(ax_scope_enter(&i, 0.01), 0);
    /* The loop is busy for 100 ms: both deadlines pass. */
    axt_assert_rc(ax_scope_reschedule(&i, ax_now_ns()), 0);
    axt_assert_rc(ax_scope_reschedule(&o, ax_now_ns()), 0);
    rc = ax_scope_exit(&i, ax_sleep(1));
    ck_assert(rc == AX_ETIMEDOUT || rc == AX_ECANCELED);
    if (rc == AX_ETIMEDOUT) /* caught by the inner scope */
        rc = ax_sleep(10);  /* which the outer one must interrupt */
    axt_assert_rc(ax_scope_exit(&o, rc), AX_ETIMEDOUT);
    ck_assert_int_le(ax_now_ns(), t0 + 1000000000);
    ck_assert_int_eq(ax_task_cancelling(ax_task_self()), 0);
    return NULL;
}

/* Ports test_nested_timeouts_loop_busy: both deadlines have passed when
 * the task first suspends; the outer scope still ends the work. */
START_TEST(timeouts_test_nested_timeouts_loop_busy)
{
    AXT_RUN_CLEAN(main_nested_timeouts_loop_busy, NULL, NULL);
}
END_TEST

static ax_future *fut;

static void *resched_f(void *arg)
{
    ax_scope cm;
    int64_t deadline1 = *(int64_t *)arg;
    int rc;

    axt_assert_rc(ax_scope_enter_dl(&cm, deadline1), 0);
    axt_assert_rc(ax_future_set_result(fut, &cm), 0);
    rc = ax_scope_exit(&cm, ax_sleep(50));
    /* cm's storage is about to go: check what main checks after await. */
    ck_assert(!ax_scope_expired(&cm));
    return fail_or(rc, NULL);
}

static void *main_reschedule(void *arg)
{
    int64_t deadline1 = ax_now_ns() + 10 * INT64_C(1000000000);
    int64_t deadline2 = deadline1 + 20 * INT64_C(1000000000);
    ax_scope *cm;
    ax_task *t;
    void *r;

    (void)arg;
    axt_assert_rc(ax_future_new(&fut), 0);
    axt_spawn(&t, resched_f, &deadline1);
    axt_assert_rc(ax_await(fut, &r), 0);
    cm = r;
    ck_assert_int_eq(ax_scope_deadline(cm), deadline1);
    axt_assert_rc(ax_scope_reschedule(cm, deadline2), 0);
    ck_assert_int_eq(ax_scope_deadline(cm), deadline2);
    axt_assert_rc(ax_scope_reschedule(cm, AX_NO_DEADLINE), 0);
    ck_assert_int_eq(ax_scope_deadline(cm), AX_NO_DEADLINE);
    axt_assert_rc(ax_cancel(t), 0);
    axt_await_task(t, AX_ECANCELED);
    axt_assert_rc(ax_future_free(fut), 0);
    return NULL;
}

/* Ports test_reschedule: another task moves and removes the deadline. */
START_TEST(timeouts_test_reschedule)
{
    AXT_RUN_CLEAN(main_reschedule, NULL, NULL);
}
END_TEST

static void *main_nested_timeout_in_finally(void *arg)
{
    ax_scope o, i;
    int rc;

    (void)arg;
    axt_assert_rc(ax_scope_enter(&o, 0.01), 0);
    rc = ax_sleep(1);
    axt_assert_rc(rc, AX_ECANCELED);
    /* finally: */
    axt_assert_rc(ax_scope_enter(&i, 0.01), 0);
    axt_assert_rc(ax_scope_exit(&i, ax_sleep(10)), AX_ETIMEDOUT);
    axt_assert_rc(ax_scope_exit(&o, rc), AX_ETIMEDOUT);
    return NULL;
}

/* Ports test_nested_timeout_in_finally. */
START_TEST(timeouts_test_nested_timeout_in_finally)
{
    AXT_RUN_CLEAN(main_nested_timeout_in_finally, NULL, NULL);
}
END_TEST

static void *after_cancellation(void *arg)
{
    ax_scope cm;
    bool cancel_inside = arg != NULL;

    axt_assert_rc(ax_cancel(ax_task_self()), 0);
    axt_assert_rc(ax_sleep(1), AX_ECANCELED); /* caught */
    /* finally: */
    axt_assert_rc(ax_scope_enter(&cm, cancel_inside ? 1.0 : 0.0), 0);
    if (cancel_inside)
        axt_assert_rc(ax_cancel(ax_task_self()), 0);
    axt_assert_rc(ax_scope_exit(&cm, ax_sleep(cancel_inside ? 2 : 1)),
                  cancel_inside ? AX_ECANCELED : AX_ETIMEDOUT);
    return NULL;
}

static void *main_after_cancellation(void *arg)
{
    ax_task *t;

    axt_spawn(&t, after_cancellation, arg);
    /* The first request was never withdrawn: the task ends cancelled. */
    axt_await_task(t, AX_ECANCELED);
    return NULL;
}

/* Ports test_timeout_after_cancellation: a scope in the clean-up after a
 * cancellation that was caught still times out. */
START_TEST(timeouts_test_timeout_after_cancellation)
{
    AXT_RUN_CLEAN(main_after_cancellation, NULL, NULL);
}
END_TEST

/* Ports test_cancel_in_timeout_after_cancellation. */
START_TEST(timeouts_test_cancel_in_timeout_after_cancellation)
{
    AXT_RUN_CLEAN(main_after_cancellation, AXT_P(1), NULL);
}
END_TEST

static void *main_timeout_already_entered(void *arg)
{
    ax_scope cm;

    (void)arg;
    axt_assert_rc(ax_scope_enter(&cm, 0.01), 0);
    axt_assert_rc(ax_scope_enter(&cm, 0.01), AX_EBUSY);
    axt_assert_rc(ax_scope_exit(&cm, 0), 0);
    return NULL;
}

/* Ports test_timeout_already_entered: RuntimeError is AX_EBUSY. */
START_TEST(timeouts_test_timeout_already_entered)
{
    AXT_RUN_CLEAN(main_timeout_already_entered, NULL, NULL);
}
END_TEST

static void *main_timeout_double_enter(void *arg)
{
    ax_scope cm;

    (void)arg;
    axt_assert_rc(ax_scope_enter(&cm, 0.01), 0);
    axt_assert_rc(ax_scope_exit(&cm, 0), 0);
    axt_assert_rc(ax_scope_exit(&cm, 0), AX_ESRCH);
    /* Unlike asyncio's Timeout object, left storage may be reused. */
    axt_assert_rc(ax_scope_enter(&cm, 0.01), 0);
    axt_assert_rc(ax_scope_exit(&cm, ax_sleep(1)), AX_ETIMEDOUT);
    return NULL;
}

/* Ports test_timeout_double_enter: leaving twice is AX_ESRCH; entering
 * again is allowed in C, where the storage is the caller's. */
START_TEST(timeouts_test_timeout_double_enter)
{
    AXT_RUN_CLEAN(main_timeout_double_enter, NULL, NULL);
}
END_TEST

static void *main_timeout_finished(void *arg)
{
    ax_scope cm;

    (void)arg;
    axt_assert_rc(ax_scope_enter(&cm, 0.01), 0);
    axt_assert_rc(ax_scope_exit(&cm, 0), 0);
    axt_assert_rc(ax_scope_reschedule(&cm, ax_deadline_in(0.02)), AX_ESRCH);
    return NULL;
}

/* Ports test_timeout_finished. */
START_TEST(timeouts_test_timeout_finished)
{
    AXT_RUN_CLEAN(main_timeout_finished, NULL, NULL);
}
END_TEST

static void *main_timeout_not_entered(void *arg)
{
    ax_scope cm;

    (void)arg;
    memset(&cm, 0, sizeof cm);
    axt_assert_rc(ax_scope_reschedule(&cm, ax_deadline_in(0.02)), AX_ESRCH);
    ck_assert(!ax_scope_expired(&cm));
    return NULL;
}

/* Ports test_timeout_not_entered (zeroed storage). */
START_TEST(timeouts_test_timeout_not_entered)
{
    AXT_RUN_CLEAN(main_timeout_not_entered, NULL, NULL);
}
END_TEST

static int without_task_rc = 1;

static void enter_from_callback(void *arg)
{
    ax_scope *cm = arg;

    without_task_rc = ax_scope_enter(cm, 0.01);
}

static void *main_timeout_without_task(void *arg)
{
    ax_scope cm;

    (void)arg;
    memset(&cm, 0, sizeof cm);
    axt_assert_rc(ax_call_soon(NULL, enter_from_callback, &cm, NULL), 0);
    axt_assert_rc(ax_sleep(0.001), 0);
    axt_assert_rc(without_task_rc, AX_ENOTTASK);
    axt_assert_rc(ax_scope_reschedule(&cm, ax_deadline_in(0.02)), AX_ESRCH);
    return NULL;
}

/* Ports test_timeout_without_task: entered from a loop callback. */
START_TEST(timeouts_test_timeout_without_task)
{
    AXT_RUN_CLEAN(main_timeout_without_task, NULL, NULL);
}
END_TEST

/* ======================================================================== */
/* axon's own: scopes                                                       */

static ax_future *never;

static void *main_scope_bounds_every_call(void *arg)
{
    ax_scope cm;
    int rc;

    (void)arg;
    axt_assert_rc(ax_future_new(&never), 0);
    axt_assert_rc(ax_scope_enter(&cm, 1), 0);
    rc = ax_sleep(0.4);
    if (!rc)
        rc = ax_sleep(0.4);
    if (!rc)
        rc = ax_await(never, NULL); /* cut short at 1 s */
    axt_assert_rc(ax_scope_exit(&cm, rc), AX_ETIMEDOUT);
    ck_assert_int_eq(ax_now_ns(), INT64_C(1000000000));
    axt_assert_rc(ax_future_free(never), 0);
    return NULL;
}

/* One deadline bounds a sequence of suspending calls. */
START_TEST(scope_bounds_a_sequence_of_calls)
{
    AXT_RUN_CLEAN(main_scope_bounds_every_call, NULL, NULL);
}
END_TEST

static void *main_inner_fires_outer_untouched(void *arg)
{
    ax_scope o, i;

    (void)arg;
    axt_assert_rc(ax_scope_enter(&o, 5), 0);
    axt_assert_rc(ax_scope_enter(&i, 1), 0);
    axt_assert_rc(ax_scope_exit(&i, ax_sleep(10)), AX_ETIMEDOUT);
    axt_assert_rc(ax_sleep(1), 0); /* nothing left over */
    axt_assert_rc(ax_scope_exit(&o, 0), 0);
    ck_assert(!ax_scope_expired(&o));
    ck_assert_int_eq(ax_now_ns(), INT64_C(2000000000));
    return NULL;
}

/* An inner timeout does not leave a cancellation behind for the outer. */
START_TEST(scope_inner_timeout_leaves_outer_alone)
{
    AXT_RUN_CLEAN(main_inner_fires_outer_untouched, NULL, NULL);
}
END_TEST

static void *main_earliest_deadline_wins(void *arg)
{
    ax_scope o, i;
    int rc;

    (void)arg;
    axt_assert_rc(ax_scope_enter(&o, 1), 0);
    axt_assert_rc(ax_scope_enter(&i, 5), 0);
    rc = ax_scope_exit(&i, ax_sleep(10));
    axt_assert_rc(rc, AX_ECANCELED); /* the outer scope's, passed on */
    ck_assert_int_eq(ax_now_ns(), INT64_C(1000000000));
    axt_assert_rc(ax_scope_exit(&o, rc), AX_ETIMEDOUT);
    /* The inner scope's later deadline is gone with it. */
    axt_assert_rc(ax_sleep(10), 0);
    return NULL;
}

/* An outer scope with the earlier deadline cuts through an inner one. */
START_TEST(scope_earliest_deadline_wins)
{
    AXT_RUN_CLEAN(main_earliest_deadline_wins, NULL, NULL);
}
END_TEST

static ax_task *victim;

static void *scoped_sleeper(void *arg)
{
    ax_scope cm;
    int rc;

    (void)arg;
    axt_assert_rc(ax_scope_enter(&cm, 10), 0);
    rc = ax_scope_exit(&cm, ax_sleep(20));
    return fail_or(rc, NULL);
}

static void *main_external_cancel_stays(void *arg)
{
    (void)arg;
    axt_spawn(&victim, scoped_sleeper, NULL);
    axt_assert_rc(ax_sleep(1), 0);
    axt_assert_rc(ax_cancel(victim), 0);
    axt_await_task(victim, AX_ECANCELED);
    return NULL;
}

/* A cancellation from another task stays AX_ECANCELED. */
START_TEST(scope_external_cancel_stays_canceled)
{
    AXT_RUN_CLEAN(main_external_cancel_stays, NULL, NULL);
}
END_TEST

static void *no_suspend_after_expiry(void *arg)
{
    ax_scope cm;

    (void)arg;
    axt_assert_rc(ax_scope_enter(&cm, 0), 0);
    /* The body never suspends: it finishes, and the undelivered request
     * goes with the scope. */
    axt_assert_rc(ax_scope_exit(&cm, 0), 0);
    ck_assert(ax_scope_expired(&cm));
    ck_assert_int_eq(ax_task_cancelling(ax_task_self()), 0);
    axt_assert_rc(ax_sleep(1), 0);
    return AXT_P(3);
}

static void *main_no_suspend_after_expiry(void *arg)
{
    ax_task *t;

    (void)arg;
    axt_spawn(&t, no_suspend_after_expiry, NULL);
    ck_assert_int_eq(AXT_I(axt_await_task(t, 0)), 3);
    return NULL;
}

/* An expired scope whose body did not suspend again drops its request. */
START_TEST(scope_expired_without_suspension_is_dropped)
{
    AXT_RUN_CLEAN(main_no_suspend_after_expiry, NULL, NULL);
}
END_TEST

static void *main_exit_misuse(void *arg)
{
    ax_scope o, i;

    (void)arg;
    axt_assert_rc(ax_scope_enter(NULL, 1), AX_EINVAL);
    axt_assert_rc(ax_scope_enter(&o, NAN), AX_EINVAL);
    axt_assert_rc(ax_scope_enter_dl(&o, -2), AX_EINVAL);
    axt_assert_rc(ax_scope_exit(NULL, 0), AX_EINVAL);
    axt_assert_rc(ax_scope_enter(&o, 1), 0);
    axt_assert_rc(ax_scope_enter(&i, 1), 0);
    axt_assert_rc(ax_scope_exit(&o, 0), AX_EBUSY);
    axt_assert_rc(ax_scope_reschedule(&i, -5), AX_EINVAL);
    axt_assert_rc(ax_scope_exit(&i, 0), 0);
    axt_assert_rc(ax_scope_exit(&o, 0), 0);
    return NULL;
}

/* Scopes are left innermost first; bad arguments are refused. */
START_TEST(scope_misuse_refused)
{
    AXT_RUN_CLEAN(main_exit_misuse, NULL, NULL);
}
END_TEST

static void *main_reschedule_after_fire(void *arg)
{
    ax_scope cm;
    int rc;

    (void)arg;
    axt_assert_rc(ax_scope_enter(&cm, 1), 0);
    rc = ax_sleep(2);
    axt_assert_rc(ax_scope_reschedule(&cm, ax_deadline_in(5)), AX_EALREADY);
    axt_assert_rc(ax_scope_exit(&cm, rc), AX_ETIMEDOUT);
    return NULL;
}

/* A scope that fired cannot be moved any more. */
START_TEST(scope_reschedule_after_fire_is_ealready)
{
    AXT_RUN_CLEAN(main_reschedule_after_fire, NULL, NULL);
}
END_TEST

static void *leaves_scope_open(void *arg)
{
    ax_scope cm;

    (void)arg;
    axt_assert_rc(ax_scope_enter(&cm, 1), 0);
    return NULL;
}

static void *main_task_ends_in_scope(void *arg)
{
    ax_task *t;

    (void)arg;
    axt_spawn(&t, leaves_scope_open, NULL);
    axt_await_task(t, 0);
    axt_assert_rc(ax_sleep(2), 0); /* the timer must not fire */
    return NULL;
}

/* A task that returns inside a scope is reported; its timer goes. */
START_TEST(scope_task_ending_inside_is_reported)
{
    ck_assert_int_eq(ax_test_run(main_task_ends_in_scope, NULL, NULL), 0);
    AXT_ASSERT_REPORT_HAS("ended inside a timeout scope");
}
END_TEST

/* ======================================================================== */
/* cancelling / uncancel                                                    */

static void *main_cancelling_counts(void *arg)
{
    ax_task *self = ax_task_self(), *t;

    (void)arg;
    ck_assert_int_eq(ax_task_cancelling(self), 0);
    axt_assert_rc(ax_cancel(self), 0);
    axt_assert_rc(ax_cancel(self), 0);
    ck_assert_int_eq(ax_task_cancelling(self), 2);
    axt_assert_rc(ax_yield(), AX_ECANCELED); /* delivered once */
    axt_assert_rc(ax_yield(), 0);
    ck_assert_int_eq(ax_task_uncancel(self), 1);
    ck_assert_int_eq(ax_task_uncancel(self), 0);
    ck_assert_int_eq(ax_task_uncancel(self), 0);
    /* Withdrawing a request not yet delivered drops it. */
    axt_assert_rc(ax_cancel(self), 0);
    ck_assert_int_eq(ax_task_uncancel(self), 0);
    axt_assert_rc(ax_sleep(1), 0);
    axt_assert_rc(ax_task_cancelling(NULL), AX_EINVAL);
    axt_assert_rc(ax_task_uncancel(NULL), AX_EINVAL);
    axt_spawn(&t, axt_return_arg, NULL);
    axt_await_task(t, 0);
    axt_assert_rc(ax_task_cancelling(t), AX_ESRCH);
    axt_assert_rc(ax_task_uncancel(t), AX_ESRCH);
    return NULL; /* and the main task ends normally, not cancelled */
}

/* Task.cancelling()/uncancel(): every request counts, withdrawing the
 * last one means the task is no longer being cancelled. */
START_TEST(cancelling_counts_and_uncancel_withdraws)
{
    AXT_RUN_CLEAN(main_cancelling_counts, NULL, NULL);
}
END_TEST

/* ======================================================================== */
/* shield                                                                   */

static void *worker(void *arg)
{
    int rc = ax_sleep(*(double *)arg);

    return fail_or(rc, AXT_P(42));
}

static void *main_shield_keeps_inner(void *arg)
{
    double d = 2;
    ax_scope cm;
    ax_task *t;
    void *r = NULL;

    (void)arg;
    axt_spawn(&t, worker, &d);
    axt_assert_rc(ax_scope_enter(&cm, 1), 0);
    axt_assert_rc(ax_scope_exit(&cm, ax_shield(ax_task_future(t), &r)),
                  AX_ETIMEDOUT);
    ck_assert_int_eq(ax_now_ns(), INT64_C(1000000000));
    /* The handle is still ours and the worker still runs. */
    ck_assert(!ax_task_done(t));
    axt_assert_rc(ax_shield(ax_task_future(t), &r), 0);
    ck_assert_int_eq(AXT_I(r), 42);
    ck_assert_int_eq(ax_now_ns(), INT64_C(2000000000));
    /* Consumed by the successful shield, like an await. */
    axt_assert_rc(ax_task_detach(t), AX_ESRCH);
    return NULL;
}

/* asyncio.shield: the awaiting task's timeout does not reach the task. */
START_TEST(shield_inner_survives_outer_timeout)
{
    AXT_RUN_CLEAN(main_shield_keeps_inner, NULL, NULL);
}
END_TEST

static void *shield_waiter(void *arg)
{
    void *r;
    int rc = ax_shield(arg, &r);

    return fail_or(rc, r);
}

static void *main_shield_plain_future(void *arg)
{
    ax_future *f;
    ax_task *w1, *w2;
    void *r;

    (void)arg;
    axt_assert_rc(ax_future_new(&f), 0);
    axt_spawn(&w1, shield_waiter, f);
    axt_spawn(&w2, shield_waiter, f);
    axt_assert_rc(ax_yield(), 0);
    axt_assert_rc(ax_cancel(w1), 0);
    axt_await_task(w1, AX_ECANCELED);
    ck_assert(!ax_future_done(f)); /* not cancelled with its waiter */
    axt_assert_rc(ax_future_set_result(f, AXT_P(5)), 0);
    ck_assert_int_eq(AXT_I(axt_await_task(w2, 0)), 5);
    axt_assert_rc(ax_shield(f, &r), 0); /* done: at once */
    ck_assert_int_eq(AXT_I(r), 5);
    axt_assert_rc(ax_future_free(f), 0);
    return NULL;
}

/* Shielding a plain future: a cancelled waiter leaves it pending. */
START_TEST(shield_plain_future_left_pending)
{
    AXT_RUN_CLEAN(main_shield_plain_future, NULL, NULL);
}
END_TEST

static void *main_shield_errors(void *arg)
{
    double d = 1;
    ax_task *t, *w;

    (void)arg;
    axt_assert_rc(ax_shield(NULL, NULL), AX_EINVAL);
    axt_assert_rc(ax_shield(ax_task_future(ax_task_self()), NULL),
                  AX_EDEADLK);
    axt_spawn(&t, worker, &d);
    axt_spawn(&w, shield_waiter, ax_task_future(t));
    axt_assert_rc(ax_yield(), 0);
    /* w holds the await: nobody else may take the handle meanwhile. */
    axt_assert_rc(ax_shield(ax_task_future(t), NULL), AX_EBUSY);
    axt_assert_rc(ax_task_detach(t), AX_EBUSY);
    ck_assert_int_eq(AXT_I(axt_await_task(w, 0)), 42);
    axt_assert_rc(ax_shield(ax_task_future(t), NULL), AX_ESRCH);
    return NULL;
}

/* ax_shield's handle checks. */
START_TEST(shield_refuses_bad_handles)
{
    AXT_RUN_CLEAN(main_shield_errors, NULL, NULL);
}
END_TEST

/* Across loops: the gated worker runs on loop 1, the shielding task on
 * loop 0. A gate, not a sleep: the loops' virtual clocks do not order a
 * sleep there against one here. */
static void *gated_worker(void *arg)
{
    void *r = NULL;
    int rc = ax_await_future(arg, &r);

    return fail_or(rc, AXT_P(42));
}

static void *main_shield_cross(void *arg)
{
    ax_future *gate;
    ax_task *t, *w;
    void *r = NULL;

    (void)arg;
    axt_assert_rc(ax_future_new(&gate), 0);
    axt_assert_rc(axt_spawn_on(ax_loop_at(1), &t, gated_worker, gate), 0);
    axt_spawn(&w, shield_waiter, ax_task_future(t));
    axt_assert_rc(ax_sleep(0.01), 0);
    axt_assert_rc(ax_cancel(w), 0);
    axt_await_task(w, AX_ECANCELED);
    /* The cancel stopped at the shield: the worker still waits for the
     * gate, and its handle is still ours (a second shield takes it). */
    axt_assert_rc(ax_future_set_result(gate, NULL), 0);
    axt_assert_rc(ax_shield(ax_task_future(t), &r), 0);
    ck_assert_int_eq(AXT_I(r), 42);
    axt_assert_rc(ax_future_free(gate), 0);
    return NULL;
}

/* asyncio.shield across loops: a cancelled shielding task leaves the
 * other loop's task running, and its handle with the caller. */
START_TEST(shield_across_loops)
{
    AXT_RUN_LOOPS_CLEAN(2, main_shield_cross, NULL);
}
END_TEST

static void note_loop(void *arg)
{
    __atomic_store_n((int *)arg, ax_loop_index(ax_loop_current()) + 1,
                     __ATOMIC_RELEASE);
}

static void *main_call_soon_cross(void *arg)
{
    int where = 0;
    ax_handle *h = NULL;

    (void)arg;
    axt_assert_rc(ax_call_soon(ax_loop_at(1), note_loop, &where, &h),
                  AX_EWRONGLOOP);
    ck_assert_ptr_null(h);
    axt_assert_rc(ax_call_soon(ax_loop_at(1), note_loop, &where, NULL), 0);
    for (int i = 0; i < 1000 && !__atomic_load_n(&where, __ATOMIC_ACQUIRE);
         i++)
        axt_assert_rc(ax_sleep(0.001), 0);
    ck_assert_int_eq(__atomic_load_n(&where, __ATOMIC_ACQUIRE), 2);
    return NULL;
}

/* call_soon_threadsafe: a callback for another loop of the runtime runs
 * there; a cancellable handle for it is refused. */
START_TEST(call_soon_other_loop)
{
    AXT_RUN_LOOPS_CLEAN(2, main_call_soon_cross, NULL);
}
END_TEST

/* ======================================================================== */
/* call_soon / call_later / call_at                                         */

static void log_cb(void *arg)
{
    axt_log(arg);
}

static void *main_call_order(void *arg)
{
    ax_handle *h;

    (void)arg;
    axt_assert_rc(ax_call_later(0.2, log_cb, "c", NULL), 0);
    axt_assert_rc(ax_call_later(0.1, log_cb, "b", NULL), 0);
    axt_assert_rc(ax_call_at(ax_now_ns() + 200000000, log_cb, "d", NULL), 0);
    axt_assert_rc(ax_call_soon(NULL, log_cb, "a", NULL), 0);
    axt_assert_rc(ax_call_later(0.15, log_cb, "x", &h), 0);
    AXT_ASSERT_LOG(""); /* nothing runs inside the task */
    axt_assert_rc(ax_yield(), 0);
    AXT_ASSERT_LOG("a");
    axt_assert_rc(ax_handle_cancel(h), 0);
    axt_assert_rc(ax_handle_cancel(h), AX_EALREADY);
    axt_assert_rc(ax_sleep(0.1), 0);
    AXT_ASSERT_LOG("ab");
    axt_assert_rc(ax_sleep(1), 0);
    AXT_ASSERT_LOG("abcd"); /* equal deadlines: in the order scheduled */
    ck_assert(!ax_handle_ran(h));
    axt_assert_rc(ax_handle_free(h), 0);
    axt_assert_rc(ax_handle_free(h), AX_ESRCH);
    axt_assert_rc(ax_handle_cancel(h), AX_ESRCH);
    return NULL;
}

/* Callbacks run by deadline, ties in scheduling order; a cancelled one
 * never runs; a freed handle is refused. */
START_TEST(call_later_order_and_cancel)
{
    AXT_RUN_CLEAN(main_call_order, NULL, NULL);
}
END_TEST

static void *main_handle_after_run(void *arg)
{
    ax_handle *h, *h2;

    (void)arg;
    axt_assert_rc(ax_call_soon(ax_loop_current(), log_cb, "a", &h), 0);
    axt_assert_rc(ax_call_later(0, log_cb, "b", &h2), 0);
    axt_assert_rc(ax_sleep(0.001), 0);
    AXT_ASSERT_LOG("ab");
    ck_assert(ax_handle_ran(h));
    axt_assert_rc(ax_handle_cancel(h), AX_EALREADY);
    axt_assert_rc(ax_handle_free(h), 0);
    axt_assert_rc(ax_handle_free(h2), 0);
    /* A pending callback freed is cancelled. */
    axt_assert_rc(ax_call_later(1, log_cb, "z", &h), 0);
    axt_assert_rc(ax_handle_free(h), 0);
    axt_assert_rc(ax_call_soon(NULL, log_cb, "y", &h), 0);
    axt_assert_rc(ax_handle_free(h), 0);
    axt_assert_rc(ax_sleep(2), 0);
    AXT_ASSERT_LOG("ab");
    return NULL;
}

/* AX_EALREADY once it ran; freeing a pending handle cancels it. */
START_TEST(handle_ran_then_ealready)
{
    AXT_RUN_CLEAN(main_handle_after_run, NULL, NULL);
}
END_TEST

static void *spawned_body(void *arg)
{
    axt_log(arg);
    return NULL;
}

static void spawn_cb(void *arg)
{
    axt_assert_rc(ax_sleep(1), AX_ENOTTASK); /* must not suspend */
    axt_assert_rc(ax_spawn(NULL, spawned_body, arg), 0);
}

static void *main_callback_spawns(void *arg)
{
    (void)arg;
    axt_assert_rc(ax_call_later(0.5, spawn_cb, "s", NULL), 0);
    axt_assert_rc(ax_sleep(1), 0);
    AXT_ASSERT_LOG("s");
    return NULL;
}

/* A callback may spawn a task, and cannot suspend. */
START_TEST(callback_spawns_a_task)
{
    AXT_RUN_CLEAN(main_callback_spawns, NULL, NULL);
}
END_TEST

static ax_future *cb_fut;

static void complete_cb(void *arg)
{
    axt_assert_rc(ax_future_set_result(cb_fut, arg), 0);
}

static void *main_callback_wakes(void *arg)
{
    void *r;

    (void)arg;
    axt_assert_rc(ax_future_new(&cb_fut), 0);
    axt_assert_rc(ax_call_later(3, complete_cb, AXT_P(9), NULL), 0);
    /* Nothing else is pending: the timer alone keeps this from being a
     * deadlock. */
    axt_assert_rc(ax_await(cb_fut, &r), 0);
    ck_assert_int_eq(AXT_I(r), 9);
    ck_assert_int_eq(ax_now_ns(), 3 * INT64_C(1000000000));
    axt_assert_rc(ax_future_free(cb_fut), 0);
    return NULL;
}

/* A callback completes the future a task waits for. */
START_TEST(callback_completes_future)
{
    AXT_RUN_CLEAN(main_callback_wakes, NULL, NULL);
}
END_TEST

static void resched_cb(void *arg)
{
    int *n = arg;

    if (++*n < 5)
        axt_assert_rc(ax_call_soon(NULL, resched_cb, n, NULL), 0);
}

static void *main_call_soon_fair(void *arg)
{
    int n = 0;

    (void)arg;
    axt_assert_rc(ax_call_soon(NULL, resched_cb, &n, NULL), 0);
    axt_assert_rc(ax_yield(), 0);
    /* One round ran the callback once: what it scheduled waits. */
    ck_assert_int_eq(n, 1);
    axt_assert_rc(ax_sleep(0.001), 0);
    ck_assert_int_eq(n, 5);
    return NULL;
}

/* A callback that schedules itself runs once per round. */
START_TEST(call_soon_runs_once_per_round)
{
    AXT_RUN_CLEAN(main_call_soon_fair, NULL, NULL);
}
END_TEST

static void *main_call_errors(void *arg)
{
    ax_handle *h;

    (void)arg;
    axt_assert_rc(ax_call_soon(NULL, NULL, NULL, NULL), AX_EINVAL);
    axt_assert_rc(ax_call_later(-1, log_cb, NULL, NULL), AX_EINVAL);
    axt_assert_rc(ax_call_later(NAN, log_cb, NULL, NULL), AX_EINVAL);
    axt_assert_rc(ax_call_at(AX_NO_DEADLINE, log_cb, NULL, NULL), AX_EINVAL);
    axt_assert_rc(ax_handle_cancel(NULL), AX_EINVAL);
    axt_assert_rc(ax_handle_free(NULL), AX_EINVAL);
    ck_assert(!ax_handle_ran(NULL));
    /* Never freed: reported at the end. */
    axt_assert_rc(ax_call_later(100, log_cb, "n", &h), 0);
    return NULL;
}

/* Bad arguments; a handle never freed is reported, its callback dropped. */
START_TEST(call_errors_and_unfreed_handle)
{
    ck_assert_int_eq(ax_test_run(main_call_errors, NULL, NULL), 0);
    AXT_ASSERT_REPORT_HAS("1 callback handle(s) never freed");
    AXT_ASSERT_LOG("");
}
END_TEST

START_TEST(call_outside_loop)
{
    axt_assert_rc(ax_call_soon(NULL, log_cb, NULL, NULL), AX_EPERM);
    axt_assert_rc(ax_call_later(1, log_cb, NULL, NULL), AX_EPERM);
    axt_assert_rc(ax_call_at(1, log_cb, NULL, NULL), AX_EPERM);
    axt_assert_rc(ax_scope_enter(NULL, 1), AX_EINVAL);
    {
        ax_scope s;
        axt_assert_rc(ax_scope_enter(&s, 1), AX_ENOTTASK);
    }
}
END_TEST

Suite *ax_scope_suite(void)
{
    Suite *s = suite_create("scope");
    TCase *tc = axt_tcase(s, "timeouts");

    tcase_add_test(tc, timeouts_test_timeout_basic);
    tcase_add_test(tc, timeouts_test_timeout_at_basic);
    tcase_add_test(tc, timeouts_test_nested_timeouts);
    tcase_add_test(tc, timeouts_test_waiter_cancelled);
    tcase_add_test(tc, timeouts_test_timeout_not_called);
    tcase_add_test(tc, timeouts_test_timeout_disabled);
    tcase_add_test(tc, timeouts_test_timeout_at_disabled);
    tcase_add_test(tc, timeouts_test_timeout_zero);
    tcase_add_test(tc, timeouts_test_timeout_zero_sleep_zero);
    tcase_add_test(tc, timeouts_test_timeout_in_the_past_sleep_zero);
    tcase_add_test(tc, timeouts_test_foreign_exception_passed);
    tcase_add_test(tc, timeouts_test_foreign_exception_on_timeout);
    tcase_add_test(tc,
                   timeouts_test_foreign_cancel_doesnt_timeout_if_not_expired);
    tcase_add_test(tc, timeouts_test_outer_task_is_not_cancelled);
    tcase_add_test(tc, timeouts_test_nested_timeouts_concurrent);
    tcase_add_test(tc, timeouts_test_nested_timeouts_loop_busy);
    tcase_add_test(tc, timeouts_test_reschedule);
    tcase_add_test(tc, timeouts_test_nested_timeout_in_finally);
    tcase_add_test(tc, timeouts_test_timeout_after_cancellation);
    tcase_add_test(tc, timeouts_test_cancel_in_timeout_after_cancellation);
    tcase_add_test(tc, timeouts_test_timeout_already_entered);
    tcase_add_test(tc, timeouts_test_timeout_double_enter);
    tcase_add_test(tc, timeouts_test_timeout_finished);
    tcase_add_test(tc, timeouts_test_timeout_not_entered);
    tcase_add_test(tc, timeouts_test_timeout_without_task);

    tc = axt_tcase(s, "scopes");
    tcase_add_test(tc, scope_bounds_a_sequence_of_calls);
    tcase_add_test(tc, scope_inner_timeout_leaves_outer_alone);
    tcase_add_test(tc, scope_earliest_deadline_wins);
    tcase_add_test(tc, scope_external_cancel_stays_canceled);
    tcase_add_test(tc, scope_expired_without_suspension_is_dropped);
    tcase_add_test(tc, scope_misuse_refused);
    tcase_add_test(tc, scope_reschedule_after_fire_is_ealready);
    tcase_add_test(tc, scope_task_ending_inside_is_reported);
    tcase_add_test(tc, cancelling_counts_and_uncancel_withdraws);

    tc = axt_tcase(s, "shield");
    tcase_add_test(tc, shield_inner_survives_outer_timeout);
    tcase_add_test(tc, shield_plain_future_left_pending);
    tcase_add_test(tc, shield_refuses_bad_handles);

    tc = axt_tcase(s, "callbacks");
    tcase_add_test(tc, call_later_order_and_cancel);
    tcase_add_test(tc, handle_ran_then_ealready);
    tcase_add_test(tc, callback_spawns_a_task);
    tcase_add_test(tc, callback_completes_future);
    tcase_add_test(tc, call_soon_runs_once_per_round);
    tcase_add_test(tc, call_errors_and_unfreed_handle);
    tcase_add_test(tc, call_outside_loop);
    tcase_add_test(tc, shield_across_loops);
    tcase_add_test(tc, call_soon_other_loop);
    return s;
}

#ifndef AX_TEST_NO_MAIN
int main(void)
{
    return ax_test_main(ax_scope_suite());
}
#endif
