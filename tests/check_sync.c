/* SPDX-License-Identifier: MIT */
/*
 * check_sync.c: tests for axon/sync.h (locks, events, conditions,
 * semaphores, barriers).
 *
 * Most tests port CPython's Lib/test/test_asyncio/test_locks.py (3.12 and
 * later): each is named <class>_<CPython's test name> (lock_, event_,
 * cond_, sem_, barrier_ for LockTests, EventTests, ConditionTests,
 * SemaphoreTests, BarrierTests) and its comment says which test it ports
 * and where axon's C API makes the port differ. The rest are axon's own
 * (handles, loops, timeouts, reports) and have plain names.
 *
 * Translation: `await asyncio.sleep(0)` is step() (ax_yield(): every task
 * ready now runs once before the caller again); where the asyncio test
 * needs "everything that can run has run", settle() sleeps 1 ms of virtual
 * time. asyncio's locks have no owner and its tests often release a lock
 * that a child task holds from the main task; an ax_lock belongs to its
 * holder, so those holders release it themselves when the main task gives
 * them a unit of the semaphore `go`. A release of a lock nobody owns
 * (asyncio's RuntimeError) is AX_EPERM; a ValueError is AX_EINVAL or
 * AX_EOVERFLOW; BrokenBarrierError is AX_EBROKEN.
 *
 * Not ported: the repr tests (test_repr, test_draining_state, which reads
 * the state from repr), the `loop=` and `with await lock` TypeError tests
 * and the context-manager tests, which have no C counterpart.
 */
#include <math.h>

#include "axtest.h"

Suite *ax_sync_suite(void);

#define N 5 /* BarrierTests.N */

static ax_lock *lk;
static ax_sem *go; /* a holder of lk releases it when given a unit */
static ax_event *ev;
static ax_cond *cv;
static ax_sem *sm;
static ax_barrier *br;

/* asyncio.sleep(0) */
static void step(void)
{
    axt_assert_rc(ax_yield(), 0);
}

/* Let every other task run until it blocks. */
static void settle(void)
{
    axt_assert_rc(ax_sleep(0.001), 0);
}

static void *fail_or(int rc, void *value)
{
    return rc ? ax_task_fail(rc) : value;
}

/* Take lk, log the tag, release it at once. */
static void *lock_once(void *arg)
{
    int rc = ax_lock_acquire(lk, -1);

    if (rc)
        return ax_task_fail(rc);
    if (arg)
        axt_log(arg);
    axt_assert_rc(ax_lock_release(lk), 0);
    return AXT_P(1);
}

/* Take lk, log the tag, hold it until main gives a unit of `go`. */
static void *hold_until_go(void *arg)
{
    int rc = ax_lock_acquire(lk, -1);

    if (rc)
        return ax_task_fail(rc);
    if (arg)
        axt_log(arg);
    axt_assert_rc(ax_sem_acquire(go, -1), 0);
    axt_assert_rc(ax_lock_release(lk), 0);
    return AXT_P(1);
}

static void make_lock_and_go(void)
{
    axt_assert_rc(ax_lock_new(&lk), 0);
    axt_assert_rc(ax_sem_new(&go, 0), 0);
}

static void free_lock_and_go(void)
{
    axt_assert_rc(ax_lock_free(lk), 0);
    axt_assert_rc(ax_sem_free(go), 0);
}

/* ======================================================================== */
/* Lock                                                                     */

static void *main_lock_acquire(void *arg)
{
    ax_task *t1, *t2, *t3;

    (void)arg;
    make_lock_and_go();
    axt_assert_rc(ax_lock_acquire(lk, -1), 0);
    axt_spawn(&t1, hold_until_go, "1");
    axt_spawn(&t2, hold_until_go, "2");
    step();
    AXT_ASSERT_LOG("");
    axt_assert_rc(ax_lock_release(lk), 0);
    step();
    AXT_ASSERT_LOG("1");
    step();
    AXT_ASSERT_LOG("1");
    axt_spawn(&t3, hold_until_go, "3");
    axt_assert_rc(ax_sem_release(go), 0); /* t1 releases */
    settle();
    AXT_ASSERT_LOG("12");
    axt_assert_rc(ax_sem_release(go), 0);
    settle();
    AXT_ASSERT_LOG("123");
    axt_assert_rc(ax_sem_release(go), 0);
    ck_assert_int_eq(AXT_I(axt_await_task(t1, 0)), 1);
    ck_assert_int_eq(AXT_I(axt_await_task(t2, 0)), 1);
    ck_assert_int_eq(AXT_I(axt_await_task(t3, 0)), 1);
    ck_assert(!ax_lock_locked(lk));
    free_lock_and_go();
    return NULL;
}

/* Ports LockTests.test_acquire: waiters get the lock in the order they
 * asked, one per release; a task arriving later queues behind them. (The
 * holders release it themselves when main says so.) */
START_TEST(lock_test_acquire)
{
    AXT_RUN_CLEAN(main_lock_acquire, NULL, NULL);
}
END_TEST

static void *main_lock_acquire_cancel(void *arg)
{
    ax_task *t;

    (void)arg;
    axt_assert_rc(ax_lock_new(&lk), 0);
    axt_assert_rc(ax_lock_acquire(lk, -1), 0);
    axt_spawn(&t, lock_once, "x");
    step();
    axt_assert_rc(ax_cancel(t), 0);
    axt_await_task(t, AX_ECANCELED);
    /* lock._waiters is empty: the release finds nobody to hand it to,
     * and a lock nobody waits for can be freed. */
    axt_assert_rc(ax_lock_release(lk), 0);
    ck_assert(!ax_lock_locked(lk));
    AXT_ASSERT_LOG("");
    axt_assert_rc(ax_lock_free(lk), 0);
    return NULL;
}

/* Ports LockTests.test_acquire_cancel: a waiter cancelled while it waits
 * returns AX_ECANCELED and leaves the queue. */
START_TEST(lock_test_acquire_cancel)
{
    AXT_RUN_CLEAN(main_lock_acquire_cancel, NULL, NULL);
}
END_TEST

static ax_future *blocker;

/* lockit(name, blocker): A waits for the blocker while it holds lk. */
static void *lockit(void *arg)
{
    const char *name = arg;
    int rc = ax_lock_acquire(lk, -1);

    if (rc)
        return ax_task_fail(rc);
    axt_log(name);
    if (name[0] == 'A')
        rc = ax_await(blocker, NULL);
    axt_assert_rc(ax_lock_release(lk), 0);
    return fail_or(rc, NULL);
}

static void *main_lock_cancel_race(void *arg)
{
    ax_task *ta, *tb, *tc;

    (void)arg;
    axt_assert_rc(ax_lock_new(&lk), 0);
    axt_assert_rc(ax_future_new(&blocker), 0);
    axt_spawn(&ta, lockit, "A");
    step();
    ck_assert(ax_lock_locked(lk));
    axt_spawn(&tb, lockit, "B");
    step();
    axt_spawn(&tc, lockit, "C");
    step();
    /* The race: B is cancelled and A releases in the same step. */
    axt_assert_rc(ax_future_set_result(blocker, NULL), 0);
    axt_assert_rc(ax_cancel(tb), 0);
    settle();
    ck_assert(!ax_lock_locked(lk));
    ck_assert(ax_task_done(ta));
    axt_await_task(ta, 0);
    axt_await_task(tb, AX_ECANCELED);
    axt_await_task(tc, 0);
    AXT_ASSERT_LOG("AC");
    axt_assert_rc(ax_future_free(blocker), 0);
    axt_assert_rc(ax_lock_free(lk), 0);
    return NULL;
}

/* Ports LockTests.test_cancel_race: A holds the lock, B and C wait; B is
 * cancelled as A releases. The release must pass over B (already woken by
 * its cancellation) to C, not give B a lock it no longer waits for.
 * asyncio checks after one sleep(0) that the lock is free; axon hands the
 * lock to C directly, so the port lets C run first. */
START_TEST(lock_test_cancel_race)
{
    AXT_RUN_CLEAN(main_lock_cancel_race, NULL, NULL);
}
END_TEST

static int lock_count, call_count;

static void *lockit_count(void *arg)
{
    int rc;

    (void)arg;
    call_count++;
    if ((rc = ax_lock_acquire(lk, -1)))
        return ax_task_fail(rc);
    lock_count++;
    axt_assert_rc(ax_lock_release(lk), 0);
    return NULL;
}

static void *main_lock_cancel_release_race(void *arg)
{
    ax_task *t1, *t2, *t3;

    (void)arg;
    axt_assert_rc(ax_lock_new(&lk), 0);
    axt_assert_rc(ax_lock_acquire(lk, -1), 0);
    axt_spawn(&t1, lockit_count, NULL);
    axt_spawn(&t2, lockit_count, NULL);
    axt_spawn(&t3, lockit_count, NULL);
    step();
    /* trigger() */
    axt_assert_rc(ax_cancel(t1), 0);
    axt_assert_rc(ax_lock_release(lk), 0);
    axt_await_task(t1, AX_ECANCELED);
    /* Only one lock was taken, while 3 calls were made. */
    ck_assert_int_eq(lock_count, 1);
    ck_assert_int_eq(call_count, 3);
    ck_assert(ax_task_done(t2));
    /* t2's release handed the lock to t3, which has not run: cancelled
     * now, it must give the lock up (nobody else waits) and fail. */
    axt_assert_rc(ax_cancel(t3), 0);
    step();
    ck_assert(ax_task_done(t3));
    axt_await_task(t2, 0);
    axt_await_task(t3, AX_ECANCELED);
    ck_assert_int_eq(lock_count, 1);
    ck_assert(!ax_lock_locked(lk));
    axt_assert_rc(ax_lock_free(lk), 0);
    return NULL;
}

/* Ports LockTests.test_cancel_release_race (bpo-32734): with three
 * waiters, cancelling the first and releasing in the same step lets
 * exactly one task take the lock. In asyncio t3 stays stuck in acquire()
 * until cancelled; in axon t2's own release hands the lock to t3, which
 * then is cancelled before it runs, and so also exercises the hand-on. */
START_TEST(lock_test_cancel_release_race)
{
    AXT_RUN_CLEAN(main_lock_cancel_release_race, NULL, NULL);
}
END_TEST

static void *main_lock_finished_waiter_cancelled(void *arg)
{
    ax_task *tb, *tc;

    (void)arg;
    make_lock_and_go();
    axt_assert_rc(ax_lock_acquire(lk, -1), 0);
    ck_assert(ax_lock_locked(lk));
    axt_spawn(&tb, lock_once, "B");
    step();
    /* A second waiter, then the first is cancelled and the lock
     * released. Without the fix, the second was not woken up. */
    axt_spawn(&tc, hold_until_go, "C");
    axt_assert_rc(ax_cancel(tb), 0);
    axt_assert_rc(ax_lock_release(lk), 0);
    step();
    ck_assert(ax_lock_locked(lk));
    axt_await_task(tb, AX_ECANCELED);
    axt_assert_rc(ax_sem_release(go), 0);
    axt_await_task(tc, 0);
    AXT_ASSERT_LOG("C");
    free_lock_and_go();
    return NULL;
}

/* Ports LockTests.test_finished_waiter_cancelled. */
START_TEST(lock_test_finished_waiter_cancelled)
{
    AXT_RUN_CLEAN(main_lock_finished_waiter_cancelled, NULL, NULL);
}
END_TEST

static void *main_lock_cancel_after_grant(void *arg)
{
    ax_task *tb, *tc;

    (void)arg;
    axt_assert_rc(ax_lock_new(&lk), 0);
    axt_assert_rc(ax_lock_acquire(lk, -1), 0);
    axt_spawn(&tb, lock_once, "B");
    axt_spawn(&tc, lock_once, "C");
    step();
    axt_assert_rc(ax_lock_release(lk), 0); /* handed to B */
    ck_assert(ax_lock_locked(lk));
    axt_assert_rc(ax_cancel(tb), 0); /* before B runs */
    settle();
    axt_await_task(tb, AX_ECANCELED);
    axt_await_task(tc, 0);
    AXT_ASSERT_LOG("C");
    ck_assert(!ax_lock_locked(lk));
    axt_assert_rc(ax_lock_free(lk), 0);
    return NULL;
}

/* test_finished_waiter_cancelled the other way round: the lock is handed
 * to B and B is cancelled before it runs. B must neither keep the lock
 * nor swallow the wake-up: it returns AX_ECANCELED and C gets the lock
 * (asyncio: the woken waiter sees CancelledError and wakes the next). */
START_TEST(lock_cancel_after_grant)
{
    AXT_RUN_CLEAN(main_lock_cancel_after_grant, NULL, NULL);
}
END_TEST

static int other_release_rc;

static void *release_other(void *arg)
{
    (void)arg;
    other_release_rc = ax_lock_release(lk);
    return NULL;
}

static void *main_lock_release_not_acquired(void *arg)
{
    ax_task *t;

    (void)arg;
    axt_assert_rc(ax_lock_new(&lk), 0);
    axt_assert_rc(ax_lock_release(lk), AX_EPERM);
    /* Held by another task: only the holder releases. */
    axt_assert_rc(ax_lock_acquire(lk, -1), 0);
    axt_spawn(&t, release_other, NULL);
    axt_await_task(t, 0);
    axt_assert_rc(other_release_rc, AX_EPERM);
    ck_assert(ax_lock_locked(lk));
    axt_assert_rc(ax_lock_release(lk), 0);
    axt_assert_rc(ax_lock_free(lk), 0);
    return NULL;
}

/* Ports LockTests.test_release_not_acquired (RuntimeError: AX_EPERM),
 * and a release by a task that does not hold the lock. */
START_TEST(lock_test_release_not_acquired)
{
    AXT_RUN_CLEAN(main_lock_release_not_acquired, NULL, NULL);
}
END_TEST

static void *main_lock_release_no_waiters(void *arg)
{
    (void)arg;
    axt_assert_rc(ax_lock_new(&lk), 0);
    ck_assert(!ax_lock_locked(lk));
    axt_assert_rc(ax_lock_acquire(lk, -1), 0);
    ck_assert(ax_lock_locked(lk));
    axt_assert_rc(ax_lock_release(lk), 0);
    ck_assert(!ax_lock_locked(lk));
    axt_assert_rc(ax_lock_free(lk), 0);
    return NULL;
}

/* Ports LockTests.test_release_no_waiters. */
START_TEST(lock_test_release_no_waiters)
{
    AXT_RUN_CLEAN(main_lock_release_no_waiters, NULL, NULL);
}
END_TEST

static int try_other_rc;

static void *try_other(void *arg)
{
    (void)arg;
    try_other_rc = ax_lock_try(lk);
    return NULL;
}

static void *main_lock_try(void *arg)
{
    ax_task *t;

    (void)arg;
    axt_assert_rc(ax_lock_new(&lk), 0);
    axt_assert_rc(ax_lock_try(lk), 0);
    axt_assert_rc(ax_lock_try(lk), AX_EDEADLK);
    axt_assert_rc(ax_lock_acquire(lk, -1), AX_EDEADLK);
    axt_assert_rc(ax_lock_acquire(lk, 1.0), AX_EDEADLK);
    axt_spawn(&t, try_other, NULL);
    axt_await_task(t, 0);
    axt_assert_rc(try_other_rc, AX_EAGAIN);
    axt_assert_rc(ax_lock_release(lk), 0);
    axt_assert_rc(ax_lock_free(lk), 0);
    ck_assert_double_eq(ax_now(), 0.0);
    return NULL;
}

/* ax_lock_try(): 0 on a free lock, AX_EAGAIN on one held by another task;
 * the holder trying or acquiring again gets AX_EDEADLK (asyncio would
 * wait forever). */
START_TEST(lock_try_and_reacquire)
{
    AXT_RUN_CLEAN(main_lock_try, NULL, NULL);
}
END_TEST

static void *give_go_later(void *arg)
{
    axt_assert_rc(ax_sleep(*(double *)arg), 0);
    axt_assert_rc(ax_sem_release(go), 0);
    return NULL;
}

static void *main_lock_timeouts(void *arg)
{
    static double later = 0.1;
    ax_task *h, *g;

    (void)arg;
    make_lock_and_go();
    axt_spawn(&h, hold_until_go, NULL);
    step();
    ck_assert(ax_lock_locked(lk));
    axt_assert_rc(ax_lock_acquire(lk, 0.5), AX_ETIMEDOUT);
    ck_assert_double_eq(ax_now(), 0.5);
    axt_assert_rc(ax_lock_acquire_dl(lk, ax_deadline_in(0.25)), AX_ETIMEDOUT);
    ck_assert_double_eq(ax_now(), 0.75);
    /* A deadline that has passed times out at once. */
    axt_assert_rc(ax_lock_acquire(lk, 0), AX_ETIMEDOUT);
    axt_assert_rc(ax_lock_acquire_dl(lk, ax_now_ns()), AX_ETIMEDOUT);
    axt_assert_rc(ax_lock_acquire_dl(lk, 0), AX_ETIMEDOUT);
    ck_assert_double_eq(ax_now(), 0.75);
    /* Bad timeouts, on a held lock and on a free one. */
    axt_assert_rc(ax_lock_acquire(lk, NAN), AX_EINVAL);
    axt_assert_rc(ax_lock_acquire(lk, 1e12), AX_EINVAL);
    axt_assert_rc(ax_lock_acquire_dl(lk, -2), AX_EINVAL);
    axt_assert_rc(ax_lock_acquire_dl(lk, ax_deadline_in(NAN)), AX_EINVAL);
    /* Handed over before the timeout: taken. */
    axt_spawn(&g, give_go_later, &later);
    axt_assert_rc(ax_lock_acquire(lk, 1.0), 0);
    ck_assert_double_eq(ax_now(), 0.85);
    axt_assert_rc(ax_lock_release(lk), 0);
    axt_await_task(h, 0);
    axt_await_task(g, 0);
    /* A free lock is taken even with a deadline that has passed. */
    axt_assert_rc(ax_lock_acquire(lk, 0), 0);
    axt_assert_rc(ax_lock_release(lk), 0);
    axt_assert_rc(ax_lock_acquire_dl(lk, 0), 0);
    axt_assert_rc(ax_lock_release(lk), 0);
    axt_assert_rc(ax_lock_acquire(lk, NAN), AX_EINVAL);
    axt_assert_rc(ax_lock_acquire_dl(lk, AX_NO_DEADLINE), 0);
    axt_assert_rc(ax_lock_release(lk), 0);
    free_lock_and_go();
    return NULL;
}

/* Timeouts and deadlines on the virtual clock: exact expiry, a passed
 * deadline times out at once on a held lock and still takes a free one,
 * bad values are AX_EINVAL either way. */
START_TEST(lock_timeouts)
{
    AXT_RUN_CLEAN(main_lock_timeouts, NULL, NULL);
}
END_TEST

static void *main_lock_handoff_fifo(void *arg)
{
    ax_task *w;

    (void)arg;
    axt_assert_rc(ax_lock_new(&lk), 0);
    axt_assert_rc(ax_lock_acquire(lk, -1), 0);
    axt_spawn(&w, lock_once, "W");
    step();
    /* Release and take it again at once: W, who waited, goes first. */
    axt_assert_rc(ax_lock_release(lk), 0);
    axt_assert_rc(ax_lock_try(lk), AX_EAGAIN);
    axt_assert_rc(ax_lock_acquire(lk, -1), 0);
    axt_log("M");
    AXT_ASSERT_LOG("WM");
    axt_assert_rc(ax_lock_release(lk), 0);
    axt_await_task(w, 0);
    axt_assert_rc(ax_lock_free(lk), 0);
    return NULL;
}

/* A release hands the lock to the first waiter: the releaser cannot take
 * it back before the waiter has run (no barging). */
START_TEST(lock_handoff_is_fifo)
{
    AXT_RUN_CLEAN(main_lock_handoff_fifo, NULL, NULL);
}
END_TEST

static void *grab_and_end(void *arg)
{
    (void)arg;
    axt_assert_rc(ax_lock_acquire(lk, -1), 0);
    axt_log("G");
    step(); /* the waiter queues */
    return NULL; /* still holding lk */
}

static void *main_lock_task_ends_holding(void *arg)
{
    ax_task *g, *w;

    (void)arg;
    axt_assert_rc(ax_lock_new(&lk), 0);
    g = axt_spawn_named("grabber", grab_and_end, NULL);
    axt_spawn(&w, lock_once, "W");
    axt_await_task(g, 0);
    axt_await_task(w, 0);
    AXT_ASSERT_LOG("GW");
    ck_assert(!ax_lock_locked(lk));
    axt_assert_rc(ax_lock_free(lk), 0);
    return NULL;
}

/* A task that ends holding a lock is reported by name, and the lock is
 * released for it: its waiter gets it. */
START_TEST(lock_task_ends_holding)
{
    axt_assert_rc(ax_test_run(main_lock_task_ends_holding, NULL, NULL), 0);
    ck_assert_msg(axt_has_line_starting(ax_test_report(),
                                        "axon: task 'grabber' ended holding "
                                        "lock "),
                  "report:\n%s", ax_test_report());
    AXT_ASSERT_REPORT_HAS("; released\n");
    AXT_ASSERT_REPORT_LACKS("never freed");
}
END_TEST

static ax_lock *la, *lb;

static void *abba(void *arg)
{
    ax_lock *first = arg ? la : lb, *second = arg ? lb : la;
    int rc;

    axt_assert_rc(ax_lock_acquire(first, -1), 0);
    step();
    rc = ax_lock_acquire(second, -1);
    if (rc == 0)
        axt_assert_rc(ax_lock_release(second), 0);
    axt_assert_rc(ax_lock_release(first), 0);
    return fail_or(rc, NULL);
}

static int abba_rc[2];

static void *main_lock_deadlock(void *arg)
{
    ax_task *t1, *t2;

    (void)arg;
    axt_assert_rc(ax_lock_new(&la), 0);
    axt_assert_rc(ax_lock_new(&lb), 0);
    axt_spawn(&t1, abba, AXT_P(1));
    axt_spawn(&t2, abba, NULL);
    abba_rc[0] = ax_await(t1, NULL);
    abba_rc[1] = ax_await(t2, NULL);
    axt_assert_rc(ax_lock_free(la), 0);
    axt_assert_rc(ax_lock_free(lb), 0);
    return NULL;
}

/* Two tasks taking two locks in opposite orders: deadlock detection sees
 * the waits, reports them and cancels the tasks, whose acquires return
 * AX_ECANCELED; ax_run() returns AX_EDEADLK. */
START_TEST(lock_deadlock_detected)
{
    axt_assert_rc(ax_test_run(main_lock_deadlock, NULL, NULL), AX_EDEADLK);
    ck_assert_msg(axt_has_line_starting(ax_test_report(), "axon: deadlock"),
                  "report:\n%s", ax_test_report());
    axt_assert_rc(abba_rc[0], AX_ECANCELED);
    axt_assert_rc(abba_rc[1], AX_ECANCELED);
    AXT_ASSERT_REPORT_LACKS("holding");
    AXT_ASSERT_REPORT_LACKS("never freed");
}
END_TEST

/* ======================================================================== */
/* Event                                                                    */

static void *event_waiter(void *arg)
{
    int rc = ax_event_wait(ev, -1);

    if (rc)
        return ax_task_fail(rc);
    if (arg)
        axt_log(arg);
    return AXT_P(1);
}

static void *main_event_wait(void *arg)
{
    ax_task *t1, *t2, *t3;

    (void)arg;
    axt_assert_rc(ax_event_new(&ev), 0);
    ck_assert(!ax_event_is_set(ev));
    axt_spawn(&t1, event_waiter, "1");
    axt_spawn(&t2, event_waiter, "2");
    step();
    AXT_ASSERT_LOG("");
    axt_spawn(&t3, event_waiter, "3");
    axt_assert_rc(ax_event_set(ev), 0);
    step();
    AXT_ASSERT_LOG("312");
    ck_assert(ax_task_done(t1) && ax_task_done(t2) && ax_task_done(t3));
    axt_await_task(t1, 0);
    axt_await_task(t2, 0);
    axt_await_task(t3, 0);
    axt_assert_rc(ax_event_free(ev), 0);
    return NULL;
}

/* Ports EventTests.test_wait: set() wakes the waiters in order; a task
 * started before the set runs first and finds it set ([3, 1, 2]). */
START_TEST(event_test_wait)
{
    AXT_RUN_CLEAN(main_event_wait, NULL, NULL);
}
END_TEST

static void *main_event_wait_on_set(void *arg)
{
    (void)arg;
    axt_assert_rc(ax_event_new(&ev), 0);
    axt_assert_rc(ax_event_set(ev), 0);
    axt_assert_rc(ax_event_wait(ev, -1), 0);
    axt_assert_rc(ax_event_wait(ev, 0), 0);
    axt_assert_rc(ax_event_wait_dl(ev, 0), 0);
    axt_assert_rc(ax_event_free(ev), 0);
    return NULL;
}

/* Ports EventTests.test_wait_on_set: a set event returns at once (also
 * with a timeout of 0 or a deadline already past). */
START_TEST(event_test_wait_on_set)
{
    AXT_RUN_CLEAN(main_event_wait_on_set, NULL, NULL);
}
END_TEST

static void *main_event_wait_cancel(void *arg)
{
    ax_task *t;

    (void)arg;
    axt_assert_rc(ax_event_new(&ev), 0);
    axt_spawn(&t, event_waiter, NULL);
    step();
    axt_assert_rc(ax_cancel(t), 0);
    axt_await_task(t, AX_ECANCELED);
    axt_assert_rc(ax_event_free(ev), 0); /* ev._waiters is empty */
    return NULL;
}

/* Ports EventTests.test_wait_cancel. */
START_TEST(event_test_wait_cancel)
{
    AXT_RUN_CLEAN(main_event_wait_cancel, NULL, NULL);
}
END_TEST

static void *main_event_clear(void *arg)
{
    (void)arg;
    axt_assert_rc(ax_event_new(&ev), 0);
    ck_assert(!ax_event_is_set(ev));
    axt_assert_rc(ax_event_set(ev), 0);
    ck_assert(ax_event_is_set(ev));
    axt_assert_rc(ax_event_clear(ev), 0);
    ck_assert(!ax_event_is_set(ev));
    axt_assert_rc(ax_event_free(ev), 0);
    return NULL;
}

/* Ports EventTests.test_clear. */
START_TEST(event_test_clear)
{
    AXT_RUN_CLEAN(main_event_clear, NULL, NULL);
}
END_TEST

static void *main_event_clear_with_waiters(void *arg)
{
    ax_task *t;

    (void)arg;
    axt_assert_rc(ax_event_new(&ev), 0);
    axt_spawn(&t, event_waiter, "1");
    step();
    AXT_ASSERT_LOG("");
    axt_assert_rc(ax_event_set(ev), 0);
    axt_assert_rc(ax_event_clear(ev), 0);
    ck_assert(!ax_event_is_set(ev));
    axt_assert_rc(ax_event_set(ev), 0);
    axt_assert_rc(ax_event_set(ev), 0);
    /* One waiter, woken and not yet resumed: the event is still busy. */
    axt_assert_rc(ax_event_free(ev), AX_EBUSY);
    step();
    AXT_ASSERT_LOG("1");
    ck_assert(ax_task_done(t));
    ck_assert_int_eq(AXT_I(axt_await_task(t, 0)), 1);
    axt_assert_rc(ax_event_free(ev), 0);
    return NULL;
}

/* Ports EventTests.test_clear_with_waiters: a waiter woken by set()
 * returns success even though the event was cleared before it ran. */
START_TEST(event_test_clear_with_waiters)
{
    AXT_RUN_CLEAN(main_event_clear_with_waiters, NULL, NULL);
}
END_TEST

static void *main_event_timeout(void *arg)
{
    ax_task *t;

    (void)arg;
    axt_assert_rc(ax_event_new(&ev), 0);
    axt_assert_rc(ax_event_wait(ev, 0.5), AX_ETIMEDOUT);
    ck_assert_double_eq(ax_now(), 0.5);
    axt_assert_rc(ax_event_wait_dl(ev, ax_deadline_in(0.5)), AX_ETIMEDOUT);
    ck_assert_double_eq(ax_now(), 1.0);
    axt_assert_rc(ax_event_wait(ev, 0), AX_ETIMEDOUT);
    axt_assert_rc(ax_event_wait(ev, NAN), AX_EINVAL);
    axt_assert_rc(ax_event_wait_dl(ev, -5), AX_EINVAL);
    ck_assert_double_eq(ax_now(), 1.0);
    /* Cancelled after set() woke it, before it ran: success, and the
     * cancellation is delivered at its next suspension. */
    axt_spawn(&t, event_waiter, "w");
    step();
    axt_assert_rc(ax_event_set(ev), 0);
    axt_assert_rc(ax_cancel(t), 0);
    axt_await_task(t, AX_ECANCELED); /* its status: it was cancelled */
    AXT_ASSERT_LOG("w");
    axt_assert_rc(ax_event_free(ev), 0);
    return NULL;
}

/* Event timeouts on the virtual clock; a waiter woken and then cancelled
 * before it ran still returns 0 (an event has nobody to pass it on to). */
START_TEST(event_timeouts_and_late_cancel)
{
    AXT_RUN_CLEAN(main_event_timeout, NULL, NULL);
}
END_TEST

/* ======================================================================== */
/* Condition                                                                */

/* c1..c3 of ConditionTests: take the lock, wait, log, release. */
static void *cond_waiter(void *arg)
{
    ax_lock *l = ax_cond_lock(cv);
    int rc;

    axt_assert_rc(ax_lock_acquire(l, -1), 0);
    rc = ax_cond_wait(cv, -1);
    /* Whatever ended the wait, the lock is ours again. */
    axt_assert_rc(ax_lock_try(l), AX_EDEADLK);
    if (rc == 0 && arg)
        axt_log(arg);
    axt_assert_rc(ax_lock_release(l), 0);
    return fail_or(rc, AXT_P(1));
}

static void *main_cond_wait(void *arg)
{
    ax_task *t1, *t2, *t3;
    ax_lock *l;

    (void)arg;
    axt_assert_rc(ax_cond_new(&cv, NULL), 0);
    l = ax_cond_lock(cv);
    ck_assert_ptr_nonnull(l);
    axt_spawn(&t1, cond_waiter, "1");
    axt_spawn(&t2, cond_waiter, "2");
    axt_spawn(&t3, cond_waiter, "3");
    step();
    AXT_ASSERT_LOG("");
    ck_assert(!ax_lock_locked(l));

    axt_assert_rc(ax_lock_acquire(l, -1), 0);
    axt_assert_rc(ax_cond_notify(cv, 1), 0);
    step();
    AXT_ASSERT_LOG(""); /* t1 woke and waits for the lock */
    ck_assert(ax_lock_locked(l));
    axt_assert_rc(ax_lock_release(l), 0);
    step();
    AXT_ASSERT_LOG("1");

    axt_assert_rc(ax_lock_acquire(l, -1), 0);
    axt_assert_rc(ax_cond_notify(cv, 2), 0);
    step();
    AXT_ASSERT_LOG("1");
    ck_assert(ax_lock_locked(l));
    axt_assert_rc(ax_lock_release(l), 0);
    settle();
    AXT_ASSERT_LOG("123");

    ck_assert_int_eq(AXT_I(axt_await_task(t1, 0)), 1);
    ck_assert_int_eq(AXT_I(axt_await_task(t2, 0)), 1);
    ck_assert_int_eq(AXT_I(axt_await_task(t3, 0)), 1);
    ck_assert(!ax_lock_locked(l));
    axt_assert_rc(ax_cond_free(cv), 0);
    return NULL;
}

/* Ports ConditionTests.test_wait: notified waiters take the lock back one
 * at a time, in the order they waited. (The waiters release the lock
 * themselves instead of main releasing it for them.) */
START_TEST(cond_test_wait)
{
    AXT_RUN_CLEAN(main_cond_wait, NULL, NULL);
}
END_TEST

static void *main_cond_wait_cancel(void *arg)
{
    ax_task *t;

    (void)arg;
    axt_assert_rc(ax_cond_new(&cv, NULL), 0);
    axt_spawn(&t, cond_waiter, "x");
    step();
    ck_assert(!ax_lock_locked(ax_cond_lock(cv)));
    axt_assert_rc(ax_cancel(t), 0);
    axt_await_task(t, AX_ECANCELED); /* it held the lock on return */
    AXT_ASSERT_LOG("");
    axt_assert_rc(ax_cond_free(cv), 0); /* cond._waiters is empty */
    return NULL;
}

/* Ports ConditionTests.test_wait_cancel: a cancelled wait returns
 * AX_ECANCELED with the lock taken back. */
START_TEST(cond_test_wait_cancel)
{
    AXT_RUN_CLEAN(main_cond_wait_cancel, NULL, NULL);
}
END_TEST

static void *main_cond_wait_cancel_contested(void *arg)
{
    ax_task *t;
    ax_lock *l;

    (void)arg;
    axt_assert_rc(ax_cond_new(&cv, NULL), 0);
    l = ax_cond_lock(cv);
    axt_spawn(&t, cond_waiter, "x");
    step();
    ck_assert(!ax_lock_locked(l));
    /* Notify, but contest the lock before cancelling. */
    axt_assert_rc(ax_lock_acquire(l, -1), 0);
    ck_assert(ax_lock_locked(l));
    axt_assert_rc(ax_cond_notify(cv, 1), 0);
    step(); /* the waiter now waits for the lock */
    axt_assert_rc(ax_cancel(t), 0);
    axt_assert_rc(ax_lock_release(l), 0);
    /* The waiter took the lock back before it returned (cond_waiter
     * checks); the cancellation is delivered after that. */
    axt_await_task(t, AX_ECANCELED);
    ck_assert(!ax_lock_locked(l));
    axt_assert_rc(ax_cond_free(cv), 0);
    return NULL;
}

/* Ports ConditionTests.test_wait_cancel_contested: cancelled while it
 * waits to take the lock back after a notification, the waiter still
 * takes it back first. (asyncio's test accepts success or CancelledError;
 * axon reports the cancellation, as CPython does since gh-112202.) */
START_TEST(cond_test_wait_cancel_contested)
{
    AXT_RUN_CLEAN(main_cond_wait_cancel_contested, NULL, NULL);
}
END_TEST

static int waited;

static void *wait_on_cond(void *arg)
{
    ax_lock *l = ax_cond_lock(cv);
    int rc;

    (void)arg;
    axt_assert_rc(ax_lock_acquire(l, -1), 0); /* async with cond: */
    waited = 1;
    rc = ax_cond_wait(cv, -1);
    axt_assert_rc(ax_lock_release(l), 0);
    return fail_or(rc, NULL);
}

static void *main_cond_wait_cancel_after_notify(void *arg)
{
    ax_task *w;
    ax_lock *l;

    (void)arg;
    axt_assert_rc(ax_cond_new(&cv, NULL), 0);
    l = ax_cond_lock(cv);
    axt_spawn(&w, wait_on_cond, NULL);
    step(); /* start waiting */
    axt_assert_rc(ax_lock_acquire(l, -1), 0);
    axt_assert_rc(ax_cond_notify(cv, 1), 0);
    step(); /* get to acquire() */
    axt_assert_rc(ax_cancel(w), 0);
    step(); /* activate cancellation */
    axt_assert_rc(ax_lock_release(l), 0);
    step(); /* cancellation should occur */
    ck_assert(ax_task_done(w));
    axt_await_task(w, AX_ECANCELED);
    ck_assert_int_eq(waited, 1);
    axt_assert_rc(ax_cond_free(cv), 0);
    return NULL;
}

/* Ports ConditionTests.test_wait_cancel_after_notify (bpo-32841). */
START_TEST(cond_test_wait_cancel_after_notify)
{
    AXT_RUN_CLEAN(main_cond_wait_cancel_after_notify, NULL, NULL);
}
END_TEST

static void *main_cond_wait_unacquired(void *arg)
{
    (void)arg;
    axt_assert_rc(ax_cond_new(&cv, NULL), 0);
    axt_assert_rc(ax_cond_wait(cv, -1), AX_EPERM);
    axt_assert_rc(ax_cond_wait_dl(cv, AX_NO_DEADLINE), AX_EPERM);
    axt_assert_rc(ax_cond_free(cv), 0);
    return NULL;
}

/* Ports ConditionTests.test_wait_unacquired (RuntimeError: AX_EPERM). */
START_TEST(cond_test_wait_unacquired)
{
    AXT_RUN_CLEAN(main_cond_wait_unacquired, NULL, NULL);
}
END_TEST

static bool presult;

static bool predicate(void *arg)
{
    (void)arg;
    return presult;
}

static int pred_calls;

static bool counting_predicate(void *arg)
{
    (void)arg;
    pred_calls++;
    return presult;
}

static void *wait_for_c1(void *arg)
{
    ax_lock *l = ax_cond_lock(cv);
    int rc;

    (void)arg;
    axt_assert_rc(ax_lock_acquire(l, -1), 0);
    rc = ax_cond_wait_for(cv, counting_predicate, NULL, -1);
    if (rc == 0)
        axt_log("1");
    axt_assert_rc(ax_lock_release(l), 0);
    return fail_or(rc, AXT_P(1));
}

static void *main_cond_wait_for(void *arg)
{
    ax_task *t;
    ax_lock *l;

    (void)arg;
    axt_assert_rc(ax_cond_new(&cv, NULL), 0);
    l = ax_cond_lock(cv);
    axt_spawn(&t, wait_for_c1, NULL);
    step();
    AXT_ASSERT_LOG("");
    ck_assert_int_eq(pred_calls, 1);

    axt_assert_rc(ax_lock_acquire(l, -1), 0);
    axt_assert_rc(ax_cond_notify(cv, 1), 0);
    axt_assert_rc(ax_lock_release(l), 0);
    step();
    AXT_ASSERT_LOG("");
    ck_assert_int_eq(pred_calls, 2);

    presult = true;
    axt_assert_rc(ax_lock_acquire(l, -1), 0);
    axt_assert_rc(ax_cond_notify(cv, 1), 0);
    axt_assert_rc(ax_lock_release(l), 0);
    step();
    AXT_ASSERT_LOG("1");
    ck_assert(ax_task_done(t));
    ck_assert_int_eq(AXT_I(axt_await_task(t, 0)), 1);
    axt_assert_rc(ax_cond_free(cv), 0);
    return NULL;
}

/* Ports ConditionTests.test_wait_for: the predicate is checked again
 * after each notification, the wait ends when it is true. */
START_TEST(cond_test_wait_for)
{
    AXT_RUN_CLEAN(main_cond_wait_for, NULL, NULL);
}
END_TEST

static bool always(void *arg)
{
    (void)arg;
    return true;
}

static void *main_cond_wait_for_unacquired(void *arg)
{
    ax_lock *l;

    (void)arg;
    axt_assert_rc(ax_cond_new(&cv, NULL), 0);
    l = ax_cond_lock(cv);
    presult = false;
    axt_assert_rc(ax_cond_wait_for(cv, always, NULL, -1), AX_EPERM);
    axt_assert_rc(ax_cond_wait_for(cv, predicate, NULL, -1), AX_EPERM);
    axt_assert_rc(ax_cond_wait_for(cv, NULL, NULL, -1), AX_EINVAL);
    axt_assert_rc(ax_lock_acquire(l, -1), 0);
    axt_assert_rc(ax_cond_wait_for(cv, always, NULL, -1), 0);
    axt_assert_rc(ax_cond_wait_for_dl(cv, always, NULL, 0), 0);
    axt_assert_rc(ax_lock_release(l), 0);
    axt_assert_rc(ax_cond_free(cv), 0);
    return NULL;
}

/* Ports ConditionTests.test_wait_for_unacquired, with one deliberate
 * difference: asyncio returns a predicate that is true at once without
 * the lock, axon refuses with AX_EPERM whatever the predicate says (it
 * reads what the lock protects). With the lock held, a true predicate
 * returns at once, even past the deadline. */
START_TEST(cond_test_wait_for_unacquired)
{
    AXT_RUN_CLEAN(main_cond_wait_for_unacquired, NULL, NULL);
}
END_TEST

static void *main_cond_notify(void *arg)
{
    ax_task *t1, *t2, *t3;
    ax_lock *l;

    (void)arg;
    axt_assert_rc(ax_cond_new(&cv, NULL), 0);
    l = ax_cond_lock(cv);
    axt_spawn(&t1, cond_waiter, "1");
    axt_spawn(&t2, cond_waiter, "2");
    axt_spawn(&t3, cond_waiter, "3");
    step();
    AXT_ASSERT_LOG("");

    axt_assert_rc(ax_lock_acquire(l, -1), 0);
    axt_assert_rc(ax_cond_notify(cv, 1), 0);
    axt_assert_rc(ax_lock_release(l), 0);
    step();
    AXT_ASSERT_LOG("1");

    axt_assert_rc(ax_lock_acquire(l, -1), 0);
    axt_assert_rc(ax_cond_notify(cv, 1), 0);
    axt_assert_rc(ax_cond_notify(cv, 2048), 0);
    axt_assert_rc(ax_lock_release(l), 0);
    step();
    AXT_ASSERT_LOG("123");

    ck_assert(ax_task_done(t1) && ax_task_done(t2) && ax_task_done(t3));
    axt_await_task(t1, 0);
    axt_await_task(t2, 0);
    axt_await_task(t3, 0);
    axt_assert_rc(ax_cond_free(cv), 0);
    return NULL;
}

/* Ports ConditionTests.test_notify: notify(n) wakes n waiters, oldest
 * first; more than there are wakes them all. */
START_TEST(cond_test_notify)
{
    AXT_RUN_CLEAN(main_cond_notify, NULL, NULL);
}
END_TEST

static void *main_cond_notify_all(void *arg)
{
    ax_task *t1, *t2;
    ax_lock *l;

    (void)arg;
    axt_assert_rc(ax_cond_new(&cv, NULL), 0);
    l = ax_cond_lock(cv);
    axt_spawn(&t1, cond_waiter, "1");
    axt_spawn(&t2, cond_waiter, "2");
    step();
    AXT_ASSERT_LOG("");
    axt_assert_rc(ax_lock_acquire(l, -1), 0);
    axt_assert_rc(ax_cond_notify_all(cv), 0);
    axt_assert_rc(ax_lock_release(l), 0);
    step();
    AXT_ASSERT_LOG("12");
    ck_assert(ax_task_done(t1) && ax_task_done(t2));
    axt_await_task(t1, 0);
    axt_await_task(t2, 0);
    axt_assert_rc(ax_cond_free(cv), 0);
    return NULL;
}

/* Ports ConditionTests.test_notify_all. */
START_TEST(cond_test_notify_all)
{
    AXT_RUN_CLEAN(main_cond_notify_all, NULL, NULL);
}
END_TEST

static void *main_cond_notify_unacquired(void *arg)
{
    (void)arg;
    axt_assert_rc(ax_cond_new(&cv, NULL), 0);
    axt_assert_rc(ax_cond_notify(cv, 1), AX_EPERM);
    axt_assert_rc(ax_cond_notify_all(cv), AX_EPERM);
    axt_assert_rc(ax_cond_free(cv), 0);
    return NULL;
}

/* Ports ConditionTests.test_notify_unacquired and
 * test_notify_all_unacquired (RuntimeError: AX_EPERM). */
START_TEST(cond_test_notify_unacquired)
{
    AXT_RUN_CLEAN(main_cond_notify_unacquired, NULL, NULL);
}
END_TEST

/* f(lock, cond) of test_explicit_lock; a NULL lock makes the condition
 * make its own. */
static void explicit_lock_f(ax_lock *lock, ax_cond *cond)
{
    ax_cond *c = cond;

    if (!c)
        axt_assert_rc(ax_cond_new(&c, lock), 0);
    if (!lock)
        lock = ax_cond_lock(c);
    ck_assert_ptr_eq(ax_cond_lock(c), lock);
    ck_assert(!ax_lock_locked(lock));
    axt_assert_rc(ax_lock_acquire(ax_cond_lock(c), -1), 0);
    ck_assert(ax_lock_locked(lock));
    axt_assert_rc(ax_lock_release(ax_cond_lock(c)), 0);
    ck_assert(!ax_lock_locked(lock));
    axt_assert_rc(ax_lock_acquire(lock, -1), 0);
    ck_assert(ax_lock_locked(ax_cond_lock(c)));
    axt_assert_rc(ax_lock_release(lock), 0);
    if (!cond)
        axt_assert_rc(ax_cond_free(c), 0);
}

static void *main_cond_explicit_lock(void *arg)
{
    ax_lock *l;
    ax_cond *c, *c2;

    (void)arg;
    explicit_lock_f(NULL, NULL); /* f(): a condition with its own lock */
    axt_assert_rc(ax_lock_new(&l), 0);
    explicit_lock_f(l, NULL); /* f(Lock()) */
    axt_assert_rc(ax_cond_new(&c, l), 0);
    explicit_lock_f(l, c); /* f(lock, Condition(lock)) */
    /* Two conditions on one lock; the lock cannot go before them. */
    axt_assert_rc(ax_cond_new(&c2, l), 0);
    axt_assert_rc(ax_lock_free(l), AX_EBUSY);
    axt_assert_rc(ax_cond_free(c), 0);
    axt_assert_rc(ax_lock_free(l), AX_EBUSY);
    axt_assert_rc(ax_cond_free(c2), 0);
    axt_assert_rc(ax_lock_free(l), 0);
    /* A condition's own lock goes with it. */
    axt_assert_rc(ax_cond_new(&c, NULL), 0);
    l = ax_cond_lock(c);
    axt_assert_rc(ax_lock_free(l), AX_EBUSY);
    axt_assert_rc(ax_cond_free(c), 0);
    axt_assert_rc(ax_lock_free(l), AX_ESRCH);
    return NULL;
}

/* Ports ConditionTests.test_explicit_lock: a condition over a lock of
 * the caller's behaves as over its own; the lock outlives its
 * conditions. */
START_TEST(cond_test_explicit_lock)
{
    AXT_RUN_CLEAN(main_cond_explicit_lock, NULL, NULL);
}
END_TEST

static void *main_cond_timeout_in_block(void *arg)
{
    ax_lock *l;

    (void)arg;
    axt_assert_rc(ax_cond_new(&cv, NULL), 0);
    l = ax_cond_lock(cv);
    axt_assert_rc(ax_lock_acquire(l, -1), 0);
    axt_assert_rc(ax_cond_wait(cv, 0.5), AX_ETIMEDOUT);
    ck_assert_double_eq(ax_now(), 0.5);
    axt_assert_rc(ax_lock_try(l), AX_EDEADLK); /* held again */
    axt_assert_rc(ax_cond_wait_dl(cv, ax_deadline_in(0.25)), AX_ETIMEDOUT);
    ck_assert_double_eq(ax_now(), 0.75);
    axt_assert_rc(ax_cond_wait(cv, 0), AX_ETIMEDOUT); /* at once */
    axt_assert_rc(ax_cond_wait(cv, NAN), AX_EINVAL);
    axt_assert_rc(ax_cond_wait_dl(cv, -3), AX_EINVAL);
    ck_assert_double_eq(ax_now(), 0.75);
    presult = false;
    axt_assert_rc(ax_cond_wait_for(cv, predicate, NULL, 0.25), AX_ETIMEDOUT);
    ck_assert_double_eq(ax_now(), 1.0);
    axt_assert_rc(ax_lock_release(l), 0);
    axt_assert_rc(ax_cond_free(cv), 0);
    return NULL;
}

/* Ports ConditionTests.test_timeout_in_block (wait_for(cond.wait(), 0.5)
 * while holding the lock): the wait times out with the lock held again. */
START_TEST(cond_test_timeout_in_block)
{
    AXT_RUN_CLEAN(main_cond_timeout_in_block, NULL, NULL);
}
END_TEST

static void *main_cond_pass_notification(void *arg)
{
    ax_task *a, *b;
    ax_lock *l;

    (void)arg;
    axt_assert_rc(ax_cond_new(&cv, NULL), 0);
    l = ax_cond_lock(cv);
    axt_spawn(&a, cond_waiter, "A");
    axt_spawn(&b, cond_waiter, "B");
    step();
    axt_assert_rc(ax_lock_acquire(l, -1), 0);
    axt_assert_rc(ax_cond_notify(cv, 1), 0); /* A */
    axt_assert_rc(ax_cancel(a), 0);         /* before A has run */
    axt_assert_rc(ax_lock_release(l), 0);
    settle();
    axt_await_task(a, AX_ECANCELED);
    ck_assert(ax_task_done(b)); /* A passed its notification to B */
    axt_await_task(b, 0);
    AXT_ASSERT_LOG("B");
    axt_assert_rc(ax_cond_free(cv), 0);
    return NULL;
}

/* A waiter notified and then cancelled before it ran does not swallow the
 * notification: it goes to the next waiter (CPython gh-112202). */
START_TEST(cond_notified_then_cancelled_passes_on)
{
    AXT_RUN_CLEAN(main_cond_pass_notification, NULL, NULL);
}
END_TEST

static void *set_presult_later(void *arg)
{
    ax_lock *l = ax_cond_lock(cv);

    (void)arg;
    axt_assert_rc(ax_sleep(0.5), 0);
    axt_assert_rc(ax_lock_acquire(l, -1), 0);
    presult = true; /* and no notification */
    axt_assert_rc(ax_lock_release(l), 0);
    return NULL;
}

static void *main_cond_wait_for_true_at_timeout(void *arg)
{
    ax_task *t;
    ax_lock *l;

    (void)arg;
    axt_assert_rc(ax_cond_new(&cv, NULL), 0);
    l = ax_cond_lock(cv);
    presult = false;
    axt_spawn(&t, set_presult_later, NULL);
    axt_assert_rc(ax_lock_acquire(l, -1), 0);
    axt_assert_rc(ax_cond_wait_for(cv, predicate, NULL, 1.0), 0);
    ck_assert_double_eq(ax_now(), 1.0);
    axt_assert_rc(ax_lock_release(l), 0);
    axt_await_task(t, 0);
    axt_assert_rc(ax_cond_free(cv), 0);
    return NULL;
}

/* A wait_for whose predicate became true without a notification returns
 * success at its timeout (the predicate is checked a last time, as
 * threading.Condition.wait_for does). */
START_TEST(cond_wait_for_true_at_timeout)
{
    AXT_RUN_CLEAN(main_cond_wait_for_true_at_timeout, NULL, NULL);
}
END_TEST

/* ======================================================================== */
/* Semaphore                                                                */

static void *sem_taker(void *arg)
{
    int rc = ax_sem_acquire(sm, -1);

    if (rc)
        return ax_task_fail(rc);
    if (arg)
        axt_log(arg);
    return AXT_P(1);
}

static void *main_sem_initial_value_zero(void *arg)
{
    (void)arg;
    axt_assert_rc(ax_sem_new(&sm, 0), 0);
    ck_assert_int_eq(ax_sem_value(sm), 0);
    axt_assert_rc(ax_sem_try(sm), AX_EAGAIN); /* locked() */
    axt_assert_rc(ax_sem_acquire(sm, 0), AX_ETIMEDOUT);
    axt_assert_rc(ax_sem_free(sm), 0);
    return NULL;
}

/* Ports SemaphoreTests.test_initial_value_zero. */
START_TEST(sem_test_initial_value_zero)
{
    AXT_RUN_CLEAN(main_sem_initial_value_zero, NULL, NULL);
}
END_TEST

static void *main_sem_semaphore_value(void *arg)
{
    ax_sem *s = NULL;

    (void)arg;
    axt_assert_rc(ax_sem_new(&s, -1), AX_EINVAL);
    axt_assert_rc(ax_sem_new_bounded(&s, -1), AX_EINVAL);
    ck_assert_ptr_null(s);
    axt_assert_rc(ax_sem_new(NULL, 1), AX_EINVAL);
    /* test_semaphore: Semaphore() has one unit. */
    axt_assert_rc(ax_sem_new(&s, 1), 0);
    ck_assert_int_eq(ax_sem_value(s), 1);
    axt_assert_rc(ax_sem_free(s), 0);
    return NULL;
}

/* Ports SemaphoreTests.test_semaphore_value (ValueError: AX_EINVAL) and
 * test_semaphore. */
START_TEST(sem_test_semaphore_value)
{
    AXT_RUN_CLEAN(main_sem_semaphore_value, NULL, NULL);
}
END_TEST

static void *main_sem_acquire(void *arg)
{
    ax_task *t1, *t2, *t3, *t4;

    (void)arg;
    axt_assert_rc(ax_sem_new(&sm, 3), 0);
    axt_assert_rc(ax_sem_acquire(sm, -1), 0);
    axt_assert_rc(ax_sem_acquire(sm, -1), 0);
    ck_assert_int_eq(ax_sem_value(sm), 1);
    axt_spawn(&t1, sem_taker, "1");
    axt_spawn(&t2, sem_taker, "2");
    axt_spawn(&t3, sem_taker, "3");
    step();
    AXT_ASSERT_LOG("1");
    ck_assert_int_eq(ax_sem_value(sm), 0);
    axt_assert_rc(ax_sem_free(sm), AX_EBUSY); /* two waiters */

    axt_spawn(&t4, sem_taker, "4");
    axt_assert_rc(ax_sem_release(sm), 0);
    axt_assert_rc(ax_sem_release(sm), 0);
    ck_assert_int_eq(ax_sem_value(sm), 0);
    step();
    ck_assert_int_eq(ax_sem_value(sm), 0);
    /* The two released units went to the first two waiters, in order;
     * t4 waits (asyncio: "two of t2, t3, t4"). */
    AXT_ASSERT_LOG("123");
    ck_assert(ax_task_done(t1) && ax_task_done(t2) && ax_task_done(t3));
    ck_assert(!ax_task_done(t4));

    axt_assert_rc(ax_sem_release(sm), 0);
    axt_await_task(t1, 0);
    axt_await_task(t2, 0);
    axt_await_task(t3, 0);
    axt_await_task(t4, 0);
    AXT_ASSERT_LOG("1234");
    axt_assert_rc(ax_sem_free(sm), 0);
    return NULL;
}

/* Ports SemaphoreTests.test_acquire. */
START_TEST(sem_test_acquire)
{
    AXT_RUN_CLEAN(main_sem_acquire, NULL, NULL);
}
END_TEST

static void *main_sem_acquire_cancel(void *arg)
{
    ax_task *t;

    (void)arg;
    axt_assert_rc(ax_sem_new(&sm, 1), 0);
    axt_assert_rc(ax_sem_acquire(sm, -1), 0);
    axt_spawn(&t, sem_taker, NULL);
    step();
    axt_assert_rc(ax_cancel(t), 0);
    axt_await_task(t, AX_ECANCELED);
    axt_assert_rc(ax_sem_free(sm), 0); /* no waiter left */
    return NULL;
}

/* Ports SemaphoreTests.test_acquire_cancel. */
START_TEST(sem_test_acquire_cancel)
{
    AXT_RUN_CLEAN(main_sem_acquire_cancel, NULL, NULL);
}
END_TEST

static void *main_sem_acquire_cancel_before_awoken(void *arg)
{
    ax_task *t1, *t2, *t3, *t4;

    (void)arg;
    axt_assert_rc(ax_sem_new(&sm, 0), 0);
    axt_spawn(&t1, sem_taker, NULL);
    axt_spawn(&t2, sem_taker, NULL);
    axt_spawn(&t3, sem_taker, NULL);
    axt_spawn(&t4, sem_taker, NULL);
    step();
    axt_assert_rc(ax_cancel(t1), 0);
    axt_assert_rc(ax_cancel(t2), 0);
    axt_assert_rc(ax_sem_release(sm), 0);
    step();
    step();
    ck_assert(ax_task_done(t3));
    ck_assert(!ax_task_done(t4));
    axt_assert_rc(ax_cancel(t3), AX_EALREADY);
    axt_assert_rc(ax_cancel(t4), 0);
    step();
    axt_await_task(t1, AX_ECANCELED);
    axt_await_task(t2, AX_ECANCELED);
    axt_await_task(t3, 0);
    axt_await_task(t4, AX_ECANCELED);
    ck_assert_int_eq(ax_sem_value(sm), 0);
    axt_assert_rc(ax_sem_free(sm), 0);
    return NULL;
}

/* Ports SemaphoreTests.test_acquire_cancel_before_awoken: a release
 * passes over waiters cancelled before it, to the first live one. */
START_TEST(sem_test_acquire_cancel_before_awoken)
{
    AXT_RUN_CLEAN(main_sem_acquire_cancel_before_awoken, NULL, NULL);
}
END_TEST

static void *main_sem_acquire_hang(void *arg)
{
    ax_task *t1, *t2;

    (void)arg;
    axt_assert_rc(ax_sem_new(&sm, 0), 0);
    axt_spawn(&t1, sem_taker, NULL);
    axt_spawn(&t2, sem_taker, NULL);
    step();
    axt_assert_rc(ax_cancel(t1), 0);
    axt_assert_rc(ax_sem_release(sm), 0);
    step();
    step();
    axt_assert_rc(ax_sem_try(sm), AX_EAGAIN); /* locked() */
    ck_assert(ax_task_done(t2));
    axt_await_task(t1, AX_ECANCELED);
    axt_await_task(t2, 0);
    axt_assert_rc(ax_sem_free(sm), 0);
    return NULL;
}

/* Ports SemaphoreTests.test_acquire_hang. */
START_TEST(sem_test_acquire_hang)
{
    AXT_RUN_CLEAN(main_sem_acquire_hang, NULL, NULL);
}
END_TEST

static ax_task *no_hang_t2;

static void *no_hang_c1(void *arg)
{
    (void)arg;
    axt_assert_rc(ax_sem_acquire(sm, -1), 0); /* async with sem: */
    step();
    axt_assert_rc(ax_sem_release(sm), 0);
    axt_assert_rc(ax_cancel(no_hang_t2), 0);
    return NULL;
}

static void *no_hang_c2(void *arg)
{
    int rc = ax_sem_acquire(sm, -1);

    (void)arg;
    ck_assert_msg(rc != 0, "c2 must not get the semaphore");
    return ax_task_fail(rc);
}

static void *main_sem_acquire_no_hang(void *arg)
{
    ax_task *t1;

    (void)arg;
    axt_assert_rc(ax_sem_new(&sm, 1), 0);
    axt_spawn(&t1, no_hang_c1, NULL);
    axt_spawn(&no_hang_t2, no_hang_c2, NULL);
    axt_await_task(t1, 0);
    axt_await_task(no_hang_t2, AX_ECANCELED);
    axt_assert_rc(ax_sem_acquire(sm, 1.0), 0); /* wait_for(acquire(), 1) */
    ck_assert_double_eq(ax_now(), 0.0);
    axt_assert_rc(ax_sem_release(sm), 0);
    axt_assert_rc(ax_sem_free(sm), 0);
    return NULL;
}

/* Ports SemaphoreTests.test_acquire_no_hang: c2 is handed the unit and
 * cancelled before it runs; it gives the unit back instead of leaking it,
 * so the next acquire does not hang. */
START_TEST(sem_test_acquire_no_hang)
{
    AXT_RUN_CLEAN(main_sem_acquire_no_hang, NULL, NULL);
}
END_TEST

static void *main_sem_release_not_acquired(void *arg)
{
    ax_sem *s;

    (void)arg;
    axt_assert_rc(ax_sem_new_bounded(&s, 1), 0);
    axt_assert_rc(ax_sem_release(s), AX_EOVERFLOW);
    ck_assert_int_eq(ax_sem_value(s), 1);
    axt_assert_rc(ax_sem_acquire(s, -1), 0);
    axt_assert_rc(ax_sem_release(s), 0);
    axt_assert_rc(ax_sem_release(s), AX_EOVERFLOW);
    axt_assert_rc(ax_sem_free(s), 0);
    /* BoundedSemaphore(0) can never be released. */
    axt_assert_rc(ax_sem_new_bounded(&s, 0), 0);
    axt_assert_rc(ax_sem_release(s), AX_EOVERFLOW);
    axt_assert_rc(ax_sem_free(s), 0);
    return NULL;
}

/* Ports SemaphoreTests.test_release_not_acquired: releasing a
 * BoundedSemaphore above its initial value (ValueError) is AX_EOVERFLOW,
 * and changes nothing. */
START_TEST(sem_test_release_not_acquired)
{
    AXT_RUN_CLEAN(main_sem_release_not_acquired, NULL, NULL);
}
END_TEST

static void *main_sem_release_no_waiters(void *arg)
{
    (void)arg;
    axt_assert_rc(ax_sem_new(&sm, 1), 0);
    axt_assert_rc(ax_sem_acquire(sm, -1), 0);
    axt_assert_rc(ax_sem_try(sm), AX_EAGAIN);
    axt_assert_rc(ax_sem_release(sm), 0);
    ck_assert_int_eq(ax_sem_value(sm), 1);
    axt_assert_rc(ax_sem_try(sm), 0);
    axt_assert_rc(ax_sem_release(sm), 0);
    axt_assert_rc(ax_sem_free(sm), 0);
    return NULL;
}

/* Ports SemaphoreTests.test_release_no_waiters. */
START_TEST(sem_test_release_no_waiters)
{
    AXT_RUN_CLEAN(main_sem_release_no_waiters, NULL, NULL);
}
END_TEST

static void *fifo_coro(void *arg)
{
    const char *tag = arg;
    char buf[8];

    for (int round = 1; round <= 2; round++) {
        axt_assert_rc(ax_sem_acquire(sm, -1), 0);
        snprintf(buf, sizeof buf, "%s_%d ", tag, round);
        axt_log(buf);
        axt_assert_rc(ax_sleep(0.01), 0);
        axt_assert_rc(ax_sem_release(sm), 0);
    }
    return NULL;
}

static void *main_sem_acquire_fifo_order(void *arg)
{
    ax_group *g;

    (void)arg;
    axt_assert_rc(ax_sem_new(&sm, 1), 0);
    axt_assert_rc(ax_group_new(&g), 0);
    axt_assert_rc(ax_group_spawn(g, NULL, fifo_coro, "c1"), 0);
    axt_assert_rc(ax_group_spawn(g, NULL, fifo_coro, "c2"), 0);
    axt_assert_rc(ax_group_spawn(g, NULL, fifo_coro, "c3"), 0);
    axt_assert_rc(ax_group_wait(g), 0);
    axt_assert_rc(ax_group_free(g), 0);
    AXT_ASSERT_LOG("c1_1 c2_1 c3_1 c1_2 c2_2 c3_2 ");
    axt_assert_rc(ax_sem_free(sm), 0);
    return NULL;
}

/* Ports SemaphoreTests.test_acquire_fifo_order. */
START_TEST(sem_test_acquire_fifo_order)
{
    AXT_RUN_CLEAN(main_sem_acquire_fifo_order, NULL, NULL);
}
END_TEST

static void *fifo2_c2(void *arg)
{
    (void)arg;
    axt_assert_rc(ax_sem_acquire(sm, -1), 0);
    axt_log("2");
    axt_assert_rc(ax_sem_release(sm), 0);
    axt_assert_rc(ax_sem_acquire(sm, -1), 0);
    axt_log("4");
    return NULL;
}

static void *main_sem_acquire_fifo_order_2(void *arg)
{
    ax_task *t1, *t2, *t3;

    (void)arg;
    axt_assert_rc(ax_sem_new(&sm, 1), 0);
    axt_spawn(&t1, sem_taker, "1");
    axt_spawn(&t2, fifo2_c2, NULL);
    axt_spawn(&t3, sem_taker, "3");
    step();
    axt_assert_rc(ax_sem_release(sm), 0);
    axt_assert_rc(ax_sem_release(sm), 0);
    axt_await_task(t1, 0);
    axt_await_task(t2, 0);
    axt_await_task(t3, 0);
    AXT_ASSERT_LOG("1234");
    axt_assert_rc(ax_sem_free(sm), 0);
    return NULL;
}

/* Ports SemaphoreTests.test_acquire_fifo_order_2: c2 releases and
 * acquires again while c3, handed a unit before, has not run yet; c2 goes
 * behind c3 even though a unit is free ("wait for others to start even if
 * _value > 0"), and c3's turn hands it the unit. */
START_TEST(sem_test_acquire_fifo_order_2)
{
    AXT_RUN_CLEAN(main_sem_acquire_fifo_order_2, NULL, NULL);
}
END_TEST

static void *main_sem_acquire_fifo_order_3(void *arg)
{
    ax_task *t1, *t2, *t3;

    (void)arg;
    axt_assert_rc(ax_sem_new(&sm, 0), 0);
    axt_spawn(&t1, sem_taker, "1");
    axt_spawn(&t2, sem_taker, "2");
    axt_spawn(&t3, sem_taker, "3");
    step();
    axt_assert_rc(ax_cancel(t1), 0);
    step();
    axt_assert_rc(ax_sem_release(sm), 0);
    axt_assert_rc(ax_sem_release(sm), 0);
    axt_await_task(t1, AX_ECANCELED);
    axt_await_task(t2, 0);
    axt_await_task(t3, 0);
    AXT_ASSERT_LOG("23");
    axt_assert_rc(ax_sem_free(sm), 0);
    return NULL;
}

/* Ports SemaphoreTests.test_acquire_fifo_order_3. */
START_TEST(sem_test_acquire_fifo_order_3)
{
    AXT_RUN_CLEAN(main_sem_acquire_fifo_order_3, NULL, NULL);
}
END_TEST

static void *main_sem_limits(void *arg)
{
    ax_sem *s;
    ax_task *t;

    (void)arg;
    axt_assert_rc(ax_sem_new(&s, 2147483647), 0);
    axt_assert_rc(ax_sem_release(s), AX_EOVERFLOW);
    ck_assert_int_eq(ax_sem_value(s), 2147483647);
    axt_assert_rc(ax_sem_free(s), 0);
    /* Timeouts. */
    axt_assert_rc(ax_sem_new(&sm, 0), 0);
    axt_assert_rc(ax_sem_acquire(sm, 0.5), AX_ETIMEDOUT);
    ck_assert_double_eq(ax_now(), 0.5);
    axt_assert_rc(ax_sem_acquire_dl(sm, ax_deadline_in(0.5)), AX_ETIMEDOUT);
    ck_assert_double_eq(ax_now(), 1.0);
    axt_assert_rc(ax_sem_acquire(sm, NAN), AX_EINVAL);
    axt_assert_rc(ax_sem_acquire_dl(sm, -2), AX_EINVAL);
    axt_assert_rc(ax_sem_release(sm), 0);
    axt_assert_rc(ax_sem_acquire_dl(sm, 0), 0); /* there: taken */
    /* A unit handed to a waiter that is cancelled before it runs goes on
     * to the next one. */
    axt_spawn(&t, sem_taker, "a");
    step();
    axt_assert_rc(ax_sem_release(sm), 0);
    axt_assert_rc(ax_cancel(t), 0);
    step();
    axt_await_task(t, AX_ECANCELED);
    ck_assert_int_eq(ax_sem_value(sm), 1);
    AXT_ASSERT_LOG("");
    axt_assert_rc(ax_sem_free(sm), 0);
    return NULL;
}

/* A plain semaphore stops at INT_MAX (AX_EOVERFLOW); timeouts; a unit
 * handed to a waiter cancelled before it ran comes back. */
START_TEST(sem_limits_and_timeouts)
{
    AXT_RUN_CLEAN(main_sem_limits, NULL, NULL);
}
END_TEST

/* ======================================================================== */
/* Barrier                                                                  */

static ax_task *tasks[2 * N];
static int results[2 * N], results1, results2, results3, counter;

static void spawn_n(int n, ax_task_fn fn)
{
    for (int i = 0; i < n; i++)
        axt_spawn(&tasks[i], fn, AXT_P(i));
}

/* gather_tasks(n, coro): results[i] is task i's result (or its code). */
static void gather_n(int n)
{
    for (int i = 0; i < n; i++) {
        void *r = NULL;
        int rc = ax_await(tasks[i], &r);
        results[i] = rc ? rc : (int)AXT_I(r);
    }
}

static void assert_indices(int n)
{
    int seen[2 * N] = {0};

    for (int i = 0; i < n; i++) {
        ck_assert_int_ge(results[i], 0);
        ck_assert_int_lt(results[i], n);
        ck_assert_int_eq(seen[results[i]]++, 0);
    }
}

static void *barrier_wait_task(void *arg)
{
    int i = ax_barrier_wait(br, -1);

    (void)arg;
    return i < 0 ? ax_task_fail(i) : AXT_P(i);
}

static void *main_barrier_parties(void *arg)
{
    ax_barrier *b = NULL;

    (void)arg;
    axt_assert_rc(ax_barrier_new(&b, 0), AX_EINVAL);
    axt_assert_rc(ax_barrier_new(&b, -4), AX_EINVAL);
    axt_assert_rc(ax_barrier_new(NULL, 1), AX_EINVAL);
    ck_assert_ptr_null(b);
    axt_assert_rc(ax_barrier_new(&b, N), 0);
    ck_assert_int_eq(ax_barrier_parties(b), N);
    ck_assert_int_eq(ax_barrier_n_waiting(b), 0);
    ck_assert(!ax_barrier_broken(b));
    axt_assert_rc(ax_barrier_free(b), 0);
    return NULL;
}

/* Ports BarrierTests.test_barrier_parties. */
START_TEST(barrier_test_barrier_parties)
{
    AXT_RUN_CLEAN(main_barrier_parties, NULL, NULL);
}
END_TEST

static void *main_barrier_context_manager(void *arg)
{
    (void)arg;
    axt_assert_rc(ax_barrier_new(&br, 3), 0);
    spawn_n(3, barrier_wait_task);
    gather_n(3);
    assert_indices(3);
    ck_assert_int_eq(ax_barrier_n_waiting(br), 0);
    ck_assert(!ax_barrier_broken(br));
    axt_assert_rc(ax_barrier_free(br), 0);
    return NULL;
}

/* Ports BarrierTests.test_context_manager: each of the parties gets a
 * distinct index 0..parties-1. */
START_TEST(barrier_test_context_manager)
{
    AXT_RUN_CLEAN(main_barrier_context_manager, NULL, NULL);
}
END_TEST

static void *main_barrier_filling_one_task(void *arg)
{
    (void)arg;
    axt_assert_rc(ax_barrier_new(&br, 1), 0);
    ck_assert_int_eq(ax_barrier_wait(br, -1), 0);
    ck_assert_int_eq(ax_barrier_wait(br, 0), 0); /* no wait needed */
    ck_assert_int_eq(ax_barrier_n_waiting(br), 0);
    ck_assert(!ax_barrier_broken(br));
    axt_assert_rc(ax_barrier_free(br), 0);
    return NULL;
}

/* Ports BarrierTests.test_filling_one_task. */
START_TEST(barrier_test_filling_one_task)
{
    AXT_RUN_CLEAN(main_barrier_filling_one_task, NULL, NULL);
}
END_TEST

static void *main_barrier_filling_one_task_twice(void *arg)
{
    ax_task *t1, *t2;

    (void)arg;
    axt_assert_rc(ax_barrier_new(&br, 1), 0);
    axt_spawn(&t1, barrier_wait_task, NULL);
    step();
    ck_assert_int_eq(ax_barrier_n_waiting(br), 0);
    axt_spawn(&t2, barrier_wait_task, NULL);
    step();
    ck_assert(ax_task_done(t1) && ax_task_done(t2));
    ck_assert_int_eq(AXT_I(axt_await_task(t1, 0)), 0);
    ck_assert_int_eq(AXT_I(axt_await_task(t2, 0)), 0);
    ck_assert_int_eq(ax_barrier_n_waiting(br), 0);
    ck_assert(!ax_barrier_broken(br));
    axt_assert_rc(ax_barrier_free(br), 0);
    return NULL;
}

/* Ports BarrierTests.test_filling_one_task_twice. */
START_TEST(barrier_test_filling_one_task_twice)
{
    AXT_RUN_CLEAN(main_barrier_filling_one_task_twice, NULL, NULL);
}
END_TEST

static void *main_barrier_filling_task_by_task(void *arg)
{
    ax_task *t1, *t2, *t3;

    (void)arg;
    axt_assert_rc(ax_barrier_new(&br, 3), 0);
    axt_spawn(&t1, barrier_wait_task, NULL);
    step();
    ck_assert_int_eq(ax_barrier_n_waiting(br), 1);
    axt_spawn(&t2, barrier_wait_task, NULL);
    step();
    ck_assert_int_eq(ax_barrier_n_waiting(br), 2);
    axt_assert_rc(ax_barrier_free(br), AX_EBUSY);
    axt_spawn(&t3, barrier_wait_task, NULL);
    step();
    ck_assert_int_eq(AXT_I(axt_await_task(t1, 0)), 0);
    ck_assert_int_eq(AXT_I(axt_await_task(t2, 0)), 1);
    ck_assert_int_eq(AXT_I(axt_await_task(t3, 0)), 2);
    ck_assert_int_eq(ax_barrier_n_waiting(br), 0);
    ck_assert(!ax_barrier_broken(br));
    axt_assert_rc(ax_barrier_free(br), 0);
    return NULL;
}

/* Ports BarrierTests.test_filling_task_by_task: n_waiting counts the
 * arrivals; the index is the arrival order. */
START_TEST(barrier_test_filling_task_by_task)
{
    AXT_RUN_CLEAN(main_barrier_filling_task_by_task, NULL, NULL);
}
END_TEST

static int n_true, n_false;

static void *wait_twice(void *arg)
{
    (void)arg;
    ck_assert_int_ge(ax_barrier_wait(br, -1), 0);
    n_true++;
    ck_assert_int_ge(ax_barrier_wait(br, -1), 0);
    n_false++;
    return NULL;
}

static void *main_barrier_filling_tasks_wait_twice(void *arg)
{
    (void)arg;
    axt_assert_rc(ax_barrier_new(&br, N), 0);
    spawn_n(N, wait_twice);
    gather_n(N);
    ck_assert_int_eq(n_true, N);
    ck_assert_int_eq(n_false, N);
    ck_assert_int_eq(ax_barrier_n_waiting(br), 0);
    ck_assert(!ax_barrier_broken(br));
    axt_assert_rc(ax_barrier_free(br), 0);
    return NULL;
}

/* Ports BarrierTests.test_filling_tasks_wait_twice. */
START_TEST(barrier_test_filling_tasks_wait_twice)
{
    AXT_RUN_CLEAN(main_barrier_filling_tasks_wait_twice, NULL, NULL);
}
END_TEST

static void *wait_twice_index(void *arg)
{
    int i;

    (void)arg;
    ck_assert_int_ge(ax_barrier_wait(br, -1), 0);
    results1++;
    i = ax_barrier_wait(br, -1);
    ck_assert_int_ge(i, 0);
    results2++;
    return AXT_P(i);
}

static void *main_barrier_check_return_value(void *arg)
{
    (void)arg;
    axt_assert_rc(ax_barrier_new(&br, N), 0);
    spawn_n(N, wait_twice_index);
    gather_n(N);
    ck_assert_int_eq(results1, N);
    ck_assert_int_eq(results2, N);
    assert_indices(N);
    ck_assert_int_eq(ax_barrier_n_waiting(br), 0);
    ck_assert(!ax_barrier_broken(br));
    axt_assert_rc(ax_barrier_free(br), 0);
    return NULL;
}

/* Ports BarrierTests.test_filling_tasks_check_return_value. */
START_TEST(barrier_test_filling_tasks_check_return_value)
{
    AXT_RUN_CLEAN(main_barrier_check_return_value, NULL, NULL);
}
END_TEST

static ax_barrier *br_nowaiting;
static int rewait_n;

static void *blocking_while_draining(void *arg)
{
    (void)arg;
    ck_assert_int_ge(ax_barrier_wait(br, -1), 0); /* first time */
    if (rewait_n > 0) {
        rewait_n--;
        ck_assert_int_ge(ax_barrier_wait(br, -1), 0); /* the rewaiters */
    } else {
        /* wait for the end of the draining state */
        ck_assert_int_ge(ax_barrier_wait(br_nowaiting, -1), 0);
        ck_assert_int_ge(ax_barrier_wait(br, -1), 0);
    }
    return NULL;
}

static void *main_barrier_blocking_while_draining(void *arg)
{
    const int rewait = 2;

    (void)arg;
    rewait_n = rewait;
    axt_assert_rc(ax_barrier_new(&br, N), 0);
    axt_assert_rc(ax_barrier_new(&br_nowaiting, N - rewait), 0);
    spawn_n(N, blocking_while_draining);
    gather_n(N);
    for (int i = 0; i < N; i++)
        axt_assert_rc(results[i], 0);
    axt_assert_rc(ax_barrier_free(br), 0);
    axt_assert_rc(ax_barrier_free(br_nowaiting), 0);
    return NULL;
}

/* Ports BarrierTests.test_blocking_tasks_while_draining: tasks that come
 * back while the round drains wait for the next round; it completes only
 * if the no-waiting barrier was passed exactly N - rewait times. */
START_TEST(barrier_test_blocking_tasks_while_draining)
{
    AXT_RUN_CLEAN(main_barrier_blocking_while_draining, NULL, NULL);
}
END_TEST

static void *wait_and_count(void *arg)
{
    int i = ax_barrier_wait(br, -1);

    (void)arg;
    if (i < 0)
        return ax_task_fail(i);
    results1++;
    return AXT_P(i);
}

static void *main_barrier_filling_tasks_cancel_one(void *arg)
{
    ax_task *t1, *t2, *t3, *t4;

    (void)arg;
    axt_assert_rc(ax_barrier_new(&br, 3), 0);
    axt_spawn(&t1, wait_and_count, NULL);
    step();
    ck_assert_int_eq(ax_barrier_n_waiting(br), 1);
    axt_spawn(&t2, wait_and_count, NULL);
    step();
    ck_assert_int_eq(ax_barrier_n_waiting(br), 2);
    axt_assert_rc(ax_cancel(t1), 0);
    step();
    ck_assert_int_eq(ax_barrier_n_waiting(br), 1);
    axt_await_task(t1, AX_ECANCELED);
    axt_spawn(&t3, wait_and_count, NULL);
    step();
    ck_assert_int_eq(ax_barrier_n_waiting(br), 2);
    axt_spawn(&t4, wait_and_count, NULL);
    axt_await_task(t2, 0);
    axt_await_task(t3, 0);
    axt_await_task(t4, 0);
    ck_assert_int_eq(results1, 3);
    ck_assert_int_eq(ax_barrier_n_waiting(br), 0);
    ck_assert(!ax_barrier_broken(br));
    axt_assert_rc(ax_barrier_free(br), 0);
    return NULL;
}

/* Ports BarrierTests.test_filling_tasks_cancel_one: a cancelled waiter
 * leaves without breaking the barrier. */
START_TEST(barrier_test_filling_tasks_cancel_one)
{
    AXT_RUN_CLEAN(main_barrier_filling_tasks_cancel_one, NULL, NULL);
}
END_TEST

static void *barrier_reset_task(void *arg)
{
    (void)arg;
    axt_assert_rc(ax_barrier_reset(br), 0);
    return NULL;
}

static void *barrier_abort_task(void *arg)
{
    (void)arg;
    axt_assert_rc(ax_barrier_abort(br), 0);
    return NULL;
}

static void *main_barrier_reset_barrier(void *arg)
{
    ax_task *t;

    (void)arg;
    axt_assert_rc(ax_barrier_new(&br, 1), 0);
    axt_spawn(&t, barrier_reset_task, NULL);
    step();
    ck_assert_int_eq(ax_barrier_n_waiting(br), 0);
    ck_assert(!ax_barrier_broken(br));
    axt_await_task(t, 0);
    axt_assert_rc(ax_barrier_free(br), 0);
    return NULL;
}

/* Ports BarrierTests.test_reset_barrier. */
START_TEST(barrier_test_reset_barrier)
{
    AXT_RUN_CLEAN(main_barrier_reset_barrier, NULL, NULL);
}
END_TEST

static void *wait_expect_broken(void *arg)
{
    int i = ax_barrier_wait(br, -1);

    (void)arg;
    if (i == AX_EBROKEN)
        results1++;
    return i < 0 && i != AX_EBROKEN ? ax_task_fail(i) : NULL;
}

static void *main_barrier_reset_while_waiting(void *arg)
{
    ax_task *r;

    (void)arg;
    axt_assert_rc(ax_barrier_new(&br, N), 0);
    spawn_n(N - 1, wait_expect_broken);
    step();
    axt_spawn(&r, barrier_reset_task, NULL);
    gather_n(N - 1);
    axt_await_task(r, 0);
    ck_assert_int_eq(results1, N - 1);
    ck_assert_int_eq(ax_barrier_n_waiting(br), 0);
    ck_assert(!ax_barrier_broken(br));
    axt_assert_rc(ax_barrier_free(br), 0);
    return NULL;
}

/* Ports BarrierTests.test_reset_barrier_while_tasks_waiting: a reset
 * gives AX_EBROKEN to the waiters and leaves the barrier usable. */
START_TEST(barrier_test_reset_barrier_while_tasks_waiting)
{
    AXT_RUN_CLEAN(main_barrier_reset_while_waiting, NULL, NULL);
}
END_TEST

static void *half_draining(void *arg)
{
    int i = ax_barrier_wait(br, -1);

    (void)arg;
    if (i == AX_EBROKEN) {
        results1++; /* still inside when the reset came */
    } else {
        ck_assert_int_ge(i, 0);
        /* barrier._count == N // 2: that many are still inside */
        if (++counter == N - N / 2)
            axt_assert_rc(ax_barrier_reset(br), 0);
    }
    return NULL;
}

static void *main_barrier_reset_half_draining(void *arg)
{
    (void)arg;
    axt_assert_rc(ax_barrier_new(&br, N), 0);
    spawn_n(N, half_draining);
    gather_n(N);
    ck_assert_int_eq(results1, N / 2);
    ck_assert_int_eq(ax_barrier_n_waiting(br), 0);
    ck_assert(!ax_barrier_broken(br));
    /* Not left resetting: a new round fills. */
    ck_assert_int_eq(ax_barrier_wait(br, 0), AX_ETIMEDOUT);
    axt_assert_rc(ax_barrier_free(br), 0);
    return NULL;
}

/* Ports BarrierTests.test_reset_barrier_when_tasks_half_draining: a
 * reset while the round drains breaks the wait of the tasks released but
 * not yet run (asyncio reads barrier._count; the port counts the tasks
 * that passed). */
START_TEST(barrier_test_reset_barrier_when_tasks_half_draining)
{
    AXT_RUN_CLEAN(main_barrier_reset_half_draining, NULL, NULL);
}
END_TEST

static void *half_draining_half_blocking(void *arg)
{
    const int blocking_tasks = N / 2;
    int i = ax_barrier_wait(br, -1);

    (void)arg;
    if (i == AX_EBROKEN) {
        results1++; /* the tasks still waiting */
        ck_assert_int_ge(ax_barrier_wait(br, -1), 0);
    } else {
        ck_assert_int_ge(i, 0);
        if (++counter > blocking_tasks) {
            /* reset now: AX_EBROKEN for the waiting tasks */
            axt_assert_rc(ax_barrier_reset(br), 0);
            ck_assert_int_ge(ax_barrier_wait(br, -1), 0);
        } else if (ax_barrier_wait(br, -1) == AX_EBROKEN) {
            results2++; /* the blocked tasks are not broken */
        }
    }
    return NULL;
}

static void *main_barrier_reset_half_blocking(void *arg)
{
    (void)arg;
    axt_assert_rc(ax_barrier_new(&br, N), 0);
    spawn_n(N, half_draining_half_blocking);
    gather_n(N);
    ck_assert_int_eq(results1, N / 2);
    ck_assert_int_eq(results2, 0);
    ck_assert_int_eq(ax_barrier_n_waiting(br), 0);
    ck_assert(!ax_barrier_broken(br));
    axt_assert_rc(ax_barrier_free(br), 0);
    return NULL;
}

/* Ports BarrierTests.test_reset_barrier_when_tasks_half_draining_half_
 * blocking: the tasks blocked at the entry while the round drained are
 * not broken by the reset; they and the broken ones fill the next round. */
START_TEST(barrier_test_reset_barrier_when_tasks_half_draining_half_blocking)
{
    AXT_RUN_CLEAN(main_barrier_reset_half_blocking, NULL, NULL);
}
END_TEST

static void *waiting_again_coro1(void *arg)
{
    (void)arg;
    if (ax_barrier_wait(br, -1) == AX_EBROKEN)
        results1++;
    ck_assert_int_ge(ax_barrier_wait(br, -1), 0); /* finally: */
    results2++;
    return NULL;
}

static void *waiting_again_coro2(void *arg)
{
    (void)arg;
    ck_assert_int_ge(ax_barrier_wait(br, -1), 0);
    results2++;
    return NULL;
}

static void *main_barrier_reset_waiting_again(void *arg)
{
    ax_task *r, *c2;

    (void)arg;
    axt_assert_rc(ax_barrier_new(&br, N), 0);
    spawn_n(N - 1, waiting_again_coro1);
    /* reset: the N-1 waiting tasks get AX_EBROKEN */
    axt_spawn(&r, barrier_reset_task, NULL);
    step();
    /* complete the waits of their `finally` */
    axt_spawn(&c2, waiting_again_coro2, NULL);
    gather_n(N - 1);
    axt_await_task(r, 0);
    axt_await_task(c2, 0);
    ck_assert(!ax_barrier_broken(br));
    ck_assert_int_eq(results1, N - 1);
    ck_assert_int_eq(results2, N);
    ck_assert_int_eq(ax_barrier_n_waiting(br), 0);
    axt_assert_rc(ax_barrier_free(br), 0);
    return NULL;
}

/* Ports BarrierTests.test_reset_barrier_while_tasks_waiting_and_waiting_
 * again. */
START_TEST(barrier_test_reset_barrier_while_tasks_waiting_and_waiting_again)
{
    AXT_RUN_CLEAN(main_barrier_reset_waiting_again, NULL, NULL);
}
END_TEST

static void *reset_while_draining(void *arg)
{
    (void)arg;
    ck_assert_int_ge(ax_barrier_wait(br, -1), 0);
    if (++counter == N) {
        /* the last task out of the barrier */
        axt_assert_rc(ax_barrier_reset(br), 0);
        ck_assert_int_ge(ax_barrier_wait(br, -1), 0);
    } else if (ax_barrier_wait(br, -1) >= 0) {
        results1++; /* N-1 tasks here */
    } else {
        results2++; /* never */
    }
    /* pass the barrier again: must complete */
    ck_assert_int_ge(ax_barrier_wait(br, -1), 0);
    results3++;
    return NULL;
}

static void *main_barrier_reset_while_draining(void *arg)
{
    (void)arg;
    axt_assert_rc(ax_barrier_new(&br, N), 0);
    spawn_n(N, reset_while_draining);
    gather_n(N);
    ck_assert(!ax_barrier_broken(br));
    ck_assert_int_eq(results1, N - 1);
    ck_assert_int_eq(results2, 0);
    ck_assert_int_eq(results3, N);
    ck_assert_int_eq(ax_barrier_n_waiting(br), 0);
    axt_assert_rc(ax_barrier_free(br), 0);
    return NULL;
}

/* Ports BarrierTests.test_reset_barrier_while_tasks_draining: a reset by
 * the last task out breaks nobody. */
START_TEST(barrier_test_reset_barrier_while_tasks_draining)
{
    AXT_RUN_CLEAN(main_barrier_reset_while_draining, NULL, NULL);
}
END_TEST

static void *main_barrier_abort_barrier(void *arg)
{
    ax_task *t;

    (void)arg;
    axt_assert_rc(ax_barrier_new(&br, 1), 0);
    axt_spawn(&t, barrier_abort_task, NULL);
    step();
    ck_assert_int_eq(ax_barrier_n_waiting(br), 0);
    ck_assert(ax_barrier_broken(br));
    /* Broken until reset, for every later wait. */
    ck_assert_int_eq(ax_barrier_wait(br, -1), AX_EBROKEN);
    axt_assert_rc(ax_barrier_reset(br), 0);
    ck_assert(!ax_barrier_broken(br));
    ck_assert_int_eq(ax_barrier_wait(br, -1), 0);
    axt_await_task(t, 0);
    axt_assert_rc(ax_barrier_free(br), 0);
    return NULL;
}

/* Ports BarrierTests.test_abort_barrier. */
START_TEST(barrier_test_abort_barrier)
{
    AXT_RUN_CLEAN(main_barrier_abort_barrier, NULL, NULL);
}
END_TEST

static void *abort_half_draining_half_blocking(void *arg)
{
    const int blocking_tasks = N / 2;
    int i = ax_barrier_wait(br, -1);

    (void)arg;
    if (i == AX_EBROKEN) {
        results1++; /* tasks waiting to drain */
    } else {
        ck_assert_int_ge(i, 0);
        if (++counter > blocking_tasks)
            axt_assert_rc(ax_barrier_abort(br), 0);
        else if (ax_barrier_wait(br, -1) == AX_EBROKEN)
            results2++; /* blocked tasks, already drained */
    }
    return NULL;
}

static void *main_barrier_abort_half_blocking(void *arg)
{
    (void)arg;
    axt_assert_rc(ax_barrier_new(&br, N), 0);
    spawn_n(N, abort_half_draining_half_blocking);
    gather_n(N);
    ck_assert(ax_barrier_broken(br));
    ck_assert_int_eq(results1, N / 2);
    ck_assert_int_eq(results2, N - N / 2 - 1);
    ck_assert_int_eq(ax_barrier_n_waiting(br), 0);
    axt_assert_rc(ax_barrier_free(br), 0);
    return NULL;
}

/* Ports BarrierTests.test_abort_barrier_when_tasks_half_draining_half_
 * blocking. */
START_TEST(barrier_test_abort_barrier_when_tasks_half_draining_half_blocking)
{
    AXT_RUN_CLEAN(main_barrier_abort_half_blocking, NULL, NULL);
}
END_TEST

static void *abort_when_exception(void *arg)
{
    int i = ax_barrier_wait(br, -1);

    (void)arg;
    if (i == AX_EBROKEN) {
        results2++;
    } else if (i == N / 2) { /* raise RuntimeError */
        axt_assert_rc(ax_barrier_abort(br), 0);
    } else {
        ck_assert_int_ge(i, 0);
        i = ax_barrier_wait(br, -1);
        if (i >= 0)
            results1++;
        else if (i == AX_EBROKEN)
            results2++;
    }
    return NULL;
}

static void *main_barrier_abort_when_exception(void *arg)
{
    (void)arg;
    axt_assert_rc(ax_barrier_new(&br, N), 0);
    spawn_n(N, abort_when_exception);
    gather_n(N);
    ck_assert(ax_barrier_broken(br));
    ck_assert_int_eq(results1, 0);
    ck_assert_int_eq(results2, N - 1);
    ck_assert_int_eq(ax_barrier_n_waiting(br), 0);
    axt_assert_rc(ax_barrier_free(br), 0);
    return NULL;
}

/* Ports BarrierTests.test_abort_barrier_when_exception (threading's
 * lock_tests.test_reset): one party fails and aborts; every other gets
 * AX_EBROKEN, also one released from the round but not yet run. */
START_TEST(barrier_test_abort_barrier_when_exception)
{
    AXT_RUN_CLEAN(main_barrier_abort_when_exception, NULL, NULL);
}
END_TEST

static ax_barrier *br2;

static void *abort_then_reset(void *arg)
{
    int i = ax_barrier_wait(br, -1);

    (void)arg;
    if (i == AX_EBROKEN) {
        results2++;
    } else if (i == N / 2) {
        axt_assert_rc(ax_barrier_abort(br), 0);
    } else {
        i = ax_barrier_wait(br, -1);
        if (i >= 0)
            results1++;
        else if (i == AX_EBROKEN)
            results2++;
    }
    /* Synchronise and reset the barrier: everyone has left it when it is
     * reset, and nobody enters it before. */
    i = ax_barrier_wait(br2, -1);
    ck_assert_int_ge(i, 0);
    if (i == N / 2)
        axt_assert_rc(ax_barrier_reset(br), 0);
    ck_assert_int_ge(ax_barrier_wait(br2, -1), 0);
    ck_assert_int_ge(ax_barrier_wait(br, -1), 0);
    results3++;
    return NULL;
}

static void *main_barrier_abort_then_reset(void *arg)
{
    (void)arg;
    axt_assert_rc(ax_barrier_new(&br, N), 0);
    axt_assert_rc(ax_barrier_new(&br2, N), 0);
    spawn_n(N, abort_then_reset);
    gather_n(N);
    ck_assert(!ax_barrier_broken(br));
    ck_assert_int_eq(results1, 0);
    ck_assert_int_eq(results2, N - 1);
    ck_assert_int_eq(results3, N);
    ck_assert_int_eq(ax_barrier_n_waiting(br), 0);
    axt_assert_rc(ax_barrier_free(br), 0);
    axt_assert_rc(ax_barrier_free(br2), 0);
    return NULL;
}

/* Ports BarrierTests.test_abort_barrier_when_exception_then_resetting
 * (threading's lock_tests.test_abort_and_reset). */
START_TEST(barrier_test_abort_barrier_when_exception_then_resetting)
{
    AXT_RUN_CLEAN(main_barrier_abort_then_reset, NULL, NULL);
}
END_TEST

static void *main_barrier_timeouts(void *arg)
{
    ax_task *t;

    (void)arg;
    axt_assert_rc(ax_barrier_new(&br, 2), 0);
    ck_assert_int_eq(ax_barrier_wait(br, 0.5), AX_ETIMEDOUT);
    ck_assert_double_eq(ax_now(), 0.5);
    ck_assert_int_eq(ax_barrier_n_waiting(br), 0); /* it left */
    ck_assert(!ax_barrier_broken(br));
    ck_assert_int_eq(ax_barrier_wait_dl(br, ax_deadline_in(0.5)),
                     AX_ETIMEDOUT);
    ck_assert_double_eq(ax_now(), 1.0);
    ck_assert_int_eq(ax_barrier_wait(br, NAN), AX_EINVAL);
    ck_assert_int_eq(ax_barrier_wait_dl(br, -2), AX_EINVAL);
    /* The last party passes even with a deadline already past. */
    axt_spawn(&t, barrier_wait_task, NULL);
    step();
    ck_assert_int_eq(ax_barrier_n_waiting(br), 1);
    ck_assert_int_eq(ax_barrier_wait_dl(br, 0), 1);
    ck_assert_int_eq(AXT_I(axt_await_task(t, 0)), 0);
    axt_assert_rc(ax_barrier_free(br), 0);
    return NULL;
}

/* A barrier wait that times out leaves without breaking the barrier (as a
 * cancelled one does in asyncio); the last party never waits. */
START_TEST(barrier_timeouts)
{
    AXT_RUN_CLEAN(main_barrier_timeouts, NULL, NULL);
}
END_TEST

/* ======================================================================== */
/* Handles, loops, reports                                                  */

static void *main_stale_handles(void *arg)
{
    ax_lock *l;
    ax_event *e;
    ax_cond *c;
    ax_sem *s;
    ax_barrier *b;

    (void)arg;
    axt_assert_rc(ax_lock_new(&l), 0);
    axt_assert_rc(ax_event_new(&e), 0);
    axt_assert_rc(ax_cond_new(&c, NULL), 0);
    axt_assert_rc(ax_sem_new(&s, 1), 0);
    axt_assert_rc(ax_barrier_new(&b, 2), 0);

    /* A handle of another kind is no handle. */
    axt_assert_rc(ax_lock_acquire((ax_lock *)e, -1), AX_ESRCH);
    axt_assert_rc(ax_event_set((ax_event *)l), AX_ESRCH);
    axt_assert_rc(ax_sem_release((ax_sem *)b), AX_ESRCH);
    ck_assert_int_eq(ax_barrier_wait((ax_barrier *)s, -1), AX_ESRCH);
    axt_assert_rc(ax_cond_notify((ax_cond *)l, 1), AX_ESRCH);
    axt_assert_rc(ax_cond_new(&c, (ax_lock *)e), AX_ESRCH);

    axt_assert_rc(ax_lock_free(l), 0);
    axt_assert_rc(ax_event_free(e), 0);
    axt_assert_rc(ax_cond_free(c), 0);
    axt_assert_rc(ax_sem_free(s), 0);
    axt_assert_rc(ax_barrier_free(b), 0);

    /* Freed: every call refuses them. */
    axt_assert_rc(ax_lock_free(l), AX_ESRCH);
    axt_assert_rc(ax_lock_acquire(l, -1), AX_ESRCH);
    axt_assert_rc(ax_lock_acquire_dl(l, -1), AX_ESRCH);
    axt_assert_rc(ax_lock_try(l), AX_ESRCH);
    axt_assert_rc(ax_lock_release(l), AX_ESRCH);
    ck_assert(!ax_lock_locked(l));
    axt_assert_rc(ax_event_free(e), AX_ESRCH);
    axt_assert_rc(ax_event_wait(e, -1), AX_ESRCH);
    axt_assert_rc(ax_event_set(e), AX_ESRCH);
    axt_assert_rc(ax_event_clear(e), AX_ESRCH);
    ck_assert(!ax_event_is_set(e));
    axt_assert_rc(ax_cond_free(c), AX_ESRCH);
    axt_assert_rc(ax_cond_wait(c, -1), AX_ESRCH);
    axt_assert_rc(ax_cond_notify_all(c), AX_ESRCH);
    ck_assert_ptr_null(ax_cond_lock(c));
    axt_assert_rc(ax_sem_free(s), AX_ESRCH);
    axt_assert_rc(ax_sem_acquire(s, -1), AX_ESRCH);
    axt_assert_rc(ax_sem_try(s), AX_ESRCH);
    axt_assert_rc(ax_sem_release(s), AX_ESRCH);
    axt_assert_rc(ax_sem_value(s), AX_ESRCH);
    axt_assert_rc(ax_barrier_free(b), AX_ESRCH);
    axt_assert_rc(ax_barrier_wait(b, -1), AX_ESRCH);
    axt_assert_rc(ax_barrier_reset(b), AX_ESRCH);
    axt_assert_rc(ax_barrier_abort(b), AX_ESRCH);
    axt_assert_rc(ax_barrier_parties(b), AX_ESRCH);
    axt_assert_rc(ax_barrier_n_waiting(b), AX_ESRCH);
    ck_assert(!ax_barrier_broken(b));

    /* NULL */
    axt_assert_rc(ax_lock_new(NULL), AX_EINVAL);
    axt_assert_rc(ax_event_new(NULL), AX_EINVAL);
    axt_assert_rc(ax_cond_new(NULL, NULL), AX_EINVAL);
    axt_assert_rc(ax_lock_acquire(NULL, -1), AX_EINVAL);
    axt_assert_rc(ax_lock_free(NULL), AX_EINVAL);
    axt_assert_rc(ax_event_wait(NULL, -1), AX_EINVAL);
    axt_assert_rc(ax_cond_wait_for(NULL, always, NULL, -1), AX_EINVAL);
    axt_assert_rc(ax_sem_acquire(NULL, -1), AX_EINVAL);
    axt_assert_rc(ax_barrier_wait(NULL, -1), AX_EINVAL);
    ck_assert(!ax_lock_locked(NULL));
    ck_assert_ptr_null(ax_cond_lock(NULL));
    return NULL;
}

/* Freed handles, handles of the wrong kind and NULL are refused by every
 * call: AX_ESRCH, AX_EINVAL, false, NULL. */
START_TEST(stale_and_wrong_handles)
{
    AXT_RUN_CLEAN(main_stale_handles, NULL, NULL);
}
END_TEST

static void *main_free_busy(void *arg)
{
    ax_task *t;
    ax_lock *l;

    (void)arg;
    make_lock_and_go();
    axt_assert_rc(ax_lock_acquire(lk, -1), 0);
    axt_assert_rc(ax_lock_free(lk), AX_EBUSY); /* held */
    axt_spawn(&t, lock_once, NULL);
    step();
    axt_assert_rc(ax_lock_release(lk), 0);
    axt_assert_rc(ax_lock_free(lk), AX_EBUSY); /* handed, not yet run */
    axt_await_task(t, 0);

    axt_assert_rc(ax_event_new(&ev), 0);
    axt_spawn(&t, event_waiter, NULL);
    step();
    axt_assert_rc(ax_event_free(ev), AX_EBUSY);
    axt_assert_rc(ax_event_set(ev), 0);
    axt_assert_rc(ax_event_free(ev), AX_EBUSY);
    axt_await_task(t, 0);
    axt_assert_rc(ax_event_free(ev), 0);

    axt_assert_rc(ax_sem_new(&sm, 0), 0);
    axt_spawn(&t, sem_taker, NULL);
    step();
    axt_assert_rc(ax_sem_free(sm), AX_EBUSY);
    axt_assert_rc(ax_sem_release(sm), 0);
    axt_await_task(t, 0);
    axt_assert_rc(ax_sem_free(sm), 0);

    axt_assert_rc(ax_cond_new(&cv, NULL), 0);
    l = ax_cond_lock(cv);
    axt_spawn(&t, cond_waiter, NULL);
    step();
    axt_assert_rc(ax_cond_free(cv), AX_EBUSY); /* a waiter */
    axt_assert_rc(ax_cancel(t), 0);
    axt_await_task(t, AX_ECANCELED);
    axt_assert_rc(ax_lock_acquire(l, -1), 0);
    axt_assert_rc(ax_cond_free(cv), AX_EBUSY); /* its own lock is held */
    axt_assert_rc(ax_lock_release(l), 0);
    axt_assert_rc(ax_cond_free(cv), 0);

    axt_assert_rc(ax_barrier_new(&br, 2), 0);
    axt_spawn(&t, barrier_wait_task, NULL);
    step();
    axt_assert_rc(ax_barrier_free(br), AX_EBUSY);
    ck_assert_int_eq(ax_barrier_wait(br, -1), 1);
    axt_assert_rc(ax_barrier_free(br), AX_EBUSY); /* t not yet out */
    axt_await_task(t, 0);
    axt_assert_rc(ax_barrier_free(br), 0);
    free_lock_and_go();
    return NULL;
}

/* Freeing an object that a task waits on, or that woke a task not yet
 * resumed, or a held lock, is AX_EBUSY and changes nothing. */
START_TEST(free_busy)
{
    AXT_RUN_CLEAN(main_free_busy, NULL, NULL);
}
END_TEST

static int wl_rc[32];
static bool wl_bool[4];
static ax_lock *wl_cond_lock;

static void *use_from_other_loop(void *arg)
{
    ax_cond *c = NULL;
    int k = 0;

    (void)arg;
    wl_rc[k++] = ax_lock_acquire(lk, -1);
    wl_rc[k++] = ax_lock_acquire_dl(lk, -1);
    wl_rc[k++] = ax_lock_try(lk);
    wl_rc[k++] = ax_lock_release(lk);
    wl_rc[k++] = ax_lock_free(lk);
    wl_rc[k++] = ax_event_wait(ev, -1);
    wl_rc[k++] = ax_event_set(ev);
    wl_rc[k++] = ax_event_clear(ev);
    wl_rc[k++] = ax_event_free(ev);
    wl_rc[k++] = ax_cond_wait(cv, -1);
    wl_rc[k++] = ax_cond_notify(cv, 1);
    wl_rc[k++] = ax_cond_free(cv);
    wl_rc[k++] = ax_cond_new(&c, lk); /* test_ambiguous_loops */
    wl_rc[k++] = ax_sem_acquire(sm, -1);
    wl_rc[k++] = ax_sem_try(sm);
    wl_rc[k++] = ax_sem_release(sm);
    wl_rc[k++] = ax_sem_value(sm);
    wl_rc[k++] = ax_sem_free(sm);
    wl_rc[k++] = ax_barrier_wait(br, -1);
    wl_rc[k++] = ax_barrier_reset(br);
    wl_rc[k++] = ax_barrier_abort(br);
    wl_rc[k++] = ax_barrier_parties(br);
    wl_rc[k++] = ax_barrier_free(br);
    ck_assert_int_le(k, 32);
    wl_bool[0] = ax_lock_locked(lk);
    wl_bool[1] = ax_event_is_set(ev);
    wl_bool[2] = ax_barrier_broken(br);
    wl_cond_lock = ax_cond_lock(cv);
    ck_assert_ptr_null(c);
    return AXT_P(k);
}

static void *main_wrong_loop(void *arg)
{
    ax_task *t;
    int k;

    (void)arg;
    axt_assert_rc(ax_lock_new(&lk), 0);
    axt_assert_rc(ax_event_new(&ev), 0);
    axt_assert_rc(ax_cond_new(&cv, NULL), 0);
    axt_assert_rc(ax_sem_new(&sm, 1), 0);
    axt_assert_rc(ax_barrier_new(&br, 1), 0);
    axt_assert_rc(ax_lock_acquire(lk, -1), 0);
    axt_assert_rc(ax_event_set(ev), 0);
    axt_assert_rc(axt_spawn_on(ax_loop_at(1), &t, use_from_other_loop, NULL),
                  0);
    k = (int)AXT_I(axt_await_task(t, 0));
    for (int i = 0; i < k; i++)
        ck_assert_msg(wl_rc[i] == AX_EWRONGLOOP, "call %d: %s", i,
                      ax_err_name(wl_rc[i]));
    ck_assert(!wl_bool[0] && !wl_bool[1] && !wl_bool[2]);
    ck_assert_ptr_null(wl_cond_lock);
    /* Nothing changed here. */
    ck_assert(ax_lock_locked(lk));
    ck_assert(ax_event_is_set(ev));
    ck_assert_int_eq(ax_sem_value(sm), 1);
    axt_assert_rc(ax_lock_release(lk), 0);
    axt_assert_rc(ax_lock_free(lk), 0);
    axt_assert_rc(ax_event_free(ev), 0);
    axt_assert_rc(ax_cond_free(cv), 0);
    axt_assert_rc(ax_sem_free(sm), 0);
    axt_assert_rc(ax_barrier_free(br), 0);
    return NULL;
}

/* Ports ConditionTests.test_ambiguous_loops, for every primitive: used
 * from a task of another loop, every call is AX_EWRONGLOOP (queries answer
 * false or NULL) and nothing changes. */
START_TEST(wrong_loop)
{
    AXT_RUN_LOOPS_CLEAN(2, main_wrong_loop, NULL);
}
END_TEST

static int cb_rc[6];

static void from_callback(void *arg)
{
    (void)arg;
    cb_rc[0] = ax_lock_acquire(lk, -1);
    cb_rc[1] = ax_lock_try(lk);
    cb_rc[2] = ax_lock_release(lk);
    cb_rc[3] = ax_event_set(ev);
    cb_rc[4] = ax_sem_release(sm);
    cb_rc[5] = ax_cond_notify(cv, 1);
}

static void *main_outside_task(void *arg)
{
    ax_task *t;

    (void)arg;
    axt_assert_rc(ax_lock_new(&lk), 0);
    axt_assert_rc(ax_event_new(&ev), 0);
    axt_assert_rc(ax_sem_new(&sm, 0), 0);
    axt_assert_rc(ax_cond_new(&cv, NULL), 0);
    axt_spawn(&t, event_waiter, "E");
    step();
    axt_assert_rc(ax_loop_post(ax_loop_current(), from_callback, NULL), 0);
    axt_assert_rc(ax_sem_acquire(sm, -1), 0); /* the callback's release */
    axt_assert_rc(cb_rc[0], AX_ENOTTASK);
    axt_assert_rc(cb_rc[1], AX_ENOTTASK);
    axt_assert_rc(cb_rc[2], AX_ENOTTASK);
    axt_assert_rc(cb_rc[3], 0);
    axt_assert_rc(cb_rc[4], 0);
    axt_assert_rc(cb_rc[5], AX_ENOTTASK);
    axt_await_task(t, 0);
    AXT_ASSERT_LOG("E");
    axt_assert_rc(ax_lock_free(lk), 0);
    axt_assert_rc(ax_event_free(ev), 0);
    axt_assert_rc(ax_sem_free(sm), 0);
    axt_assert_rc(ax_cond_free(cv), 0);
    return NULL;
}

/* From a callback on the loop (no task): events can be set and
 * semaphores released, locks need a task (AX_ENOTTASK). Outside any loop
 * nothing can be made (AX_EPERM). */
START_TEST(outside_task_and_loop)
{
    ax_lock *l = NULL;
    ax_event *e = NULL;
    ax_cond *c = NULL;
    ax_sem *s = NULL;
    ax_barrier *b = NULL;

    axt_assert_rc(ax_lock_new(&l), AX_EPERM);
    axt_assert_rc(ax_event_new(&e), AX_EPERM);
    axt_assert_rc(ax_cond_new(&c, NULL), AX_EPERM);
    axt_assert_rc(ax_sem_new(&s, 1), AX_EPERM);
    axt_assert_rc(ax_barrier_new(&b, 1), AX_EPERM);
    ck_assert(!l && !e && !c && !s && !b);
    AXT_RUN_CLEAN(main_outside_task, NULL, NULL);
}
END_TEST

static void *main_never_freed(void *arg)
{
    ax_lock *l;
    ax_event *e;
    ax_cond *c;

    (void)arg;
    axt_assert_rc(ax_lock_new(&l), 0);
    axt_assert_rc(ax_event_new(&e), 0);
    axt_assert_rc(ax_cond_new(&c, NULL), 0); /* and its own lock */
    return NULL;
}

/* Objects never freed are reported (a condition's own lock is part of
 * it) and freed at the end of ax_run(): valgrind sees no leak. */
START_TEST(never_freed_reported)
{
    axt_assert_rc(ax_test_run(main_never_freed, NULL, NULL), 0);
    AXT_ASSERT_REPORT_HAS("axon: 3 synchronisation object(s) never freed\n");
}
END_TEST

static void *main_cancel_pending_fast_path(void *arg)
{
    (void)arg;
    axt_assert_rc(ax_lock_new(&lk), 0);
    axt_assert_rc(ax_sem_new(&sm, 1), 0);
    axt_assert_rc(ax_cancel(ax_task_self()), 0);
    /* What is there is taken without suspending, so without seeing the
     * pending cancellation (asyncio: acquiring a free lock does not
     * yield)... */
    axt_assert_rc(ax_lock_acquire(lk, -1), 0);
    axt_assert_rc(ax_sem_acquire(sm, -1), 0);
    /* ...which the first wait then delivers, once. */
    axt_assert_rc(ax_cond_new(&cv, NULL), 0);
    axt_assert_rc(ax_lock_acquire(ax_cond_lock(cv), -1), 0);
    axt_assert_rc(ax_cond_wait(cv, -1), AX_ECANCELED);
    axt_assert_rc(ax_cond_wait(cv, 0.1), AX_ETIMEDOUT);
    axt_assert_rc(ax_lock_release(ax_cond_lock(cv)), 0);
    axt_assert_rc(ax_lock_release(lk), 0);
    axt_assert_rc(ax_lock_free(lk), 0);
    axt_assert_rc(ax_sem_free(sm), 0);
    axt_assert_rc(ax_cond_free(cv), 0);
    return NULL;
}

/* A pending cancellation is not seen by a call that does not suspend and
 * is delivered once by the first that would (a condition wait, with the
 * lock still held). */
START_TEST(cancel_pending_and_fast_paths)
{
    axt_assert_rc(ax_test_run(main_cancel_pending_fast_path, NULL, NULL),
                  AX_ECANCELED);
    AXT_ASSERT_CLEAN();
}
END_TEST

Suite *ax_sync_suite(void)
{
    Suite *s = suite_create("sync");
    TCase *tc = axt_tcase(s, "lock");
    tcase_add_test(tc, lock_test_acquire);
    tcase_add_test(tc, lock_test_acquire_cancel);
    tcase_add_test(tc, lock_test_cancel_race);
    tcase_add_test(tc, lock_test_cancel_release_race);
    tcase_add_test(tc, lock_test_finished_waiter_cancelled);
    tcase_add_test(tc, lock_cancel_after_grant);
    tcase_add_test(tc, lock_test_release_not_acquired);
    tcase_add_test(tc, lock_test_release_no_waiters);
    tcase_add_test(tc, lock_try_and_reacquire);
    tcase_add_test(tc, lock_timeouts);
    tcase_add_test(tc, lock_handoff_is_fifo);
    tcase_add_test(tc, lock_task_ends_holding);
    tcase_add_test(tc, lock_deadlock_detected);

    tc = axt_tcase(s, "event");
    tcase_add_test(tc, event_test_wait);
    tcase_add_test(tc, event_test_wait_on_set);
    tcase_add_test(tc, event_test_wait_cancel);
    tcase_add_test(tc, event_test_clear);
    tcase_add_test(tc, event_test_clear_with_waiters);
    tcase_add_test(tc, event_timeouts_and_late_cancel);

    tc = axt_tcase(s, "cond");
    tcase_add_test(tc, cond_test_wait);
    tcase_add_test(tc, cond_test_wait_cancel);
    tcase_add_test(tc, cond_test_wait_cancel_contested);
    tcase_add_test(tc, cond_test_wait_cancel_after_notify);
    tcase_add_test(tc, cond_test_wait_unacquired);
    tcase_add_test(tc, cond_test_wait_for);
    tcase_add_test(tc, cond_test_wait_for_unacquired);
    tcase_add_test(tc, cond_test_notify);
    tcase_add_test(tc, cond_test_notify_all);
    tcase_add_test(tc, cond_test_notify_unacquired);
    tcase_add_test(tc, cond_test_explicit_lock);
    tcase_add_test(tc, cond_test_timeout_in_block);
    tcase_add_test(tc, cond_notified_then_cancelled_passes_on);
    tcase_add_test(tc, cond_wait_for_true_at_timeout);

    tc = axt_tcase(s, "sem");
    tcase_add_test(tc, sem_test_initial_value_zero);
    tcase_add_test(tc, sem_test_semaphore_value);
    tcase_add_test(tc, sem_test_acquire);
    tcase_add_test(tc, sem_test_acquire_cancel);
    tcase_add_test(tc, sem_test_acquire_cancel_before_awoken);
    tcase_add_test(tc, sem_test_acquire_hang);
    tcase_add_test(tc, sem_test_acquire_no_hang);
    tcase_add_test(tc, sem_test_release_not_acquired);
    tcase_add_test(tc, sem_test_release_no_waiters);
    tcase_add_test(tc, sem_test_acquire_fifo_order);
    tcase_add_test(tc, sem_test_acquire_fifo_order_2);
    tcase_add_test(tc, sem_test_acquire_fifo_order_3);
    tcase_add_test(tc, sem_limits_and_timeouts);

    tc = axt_tcase(s, "barrier");
    tcase_add_test(tc, barrier_test_barrier_parties);
    tcase_add_test(tc, barrier_test_context_manager);
    tcase_add_test(tc, barrier_test_filling_one_task);
    tcase_add_test(tc, barrier_test_filling_one_task_twice);
    tcase_add_test(tc, barrier_test_filling_task_by_task);
    tcase_add_test(tc, barrier_test_filling_tasks_wait_twice);
    tcase_add_test(tc, barrier_test_filling_tasks_check_return_value);
    tcase_add_test(tc, barrier_test_blocking_tasks_while_draining);
    tcase_add_test(tc, barrier_test_filling_tasks_cancel_one);
    tcase_add_test(tc, barrier_test_reset_barrier);
    tcase_add_test(tc, barrier_test_reset_barrier_while_tasks_waiting);
    tcase_add_test(tc, barrier_test_reset_barrier_when_tasks_half_draining);
    tcase_add_test(
        tc, barrier_test_reset_barrier_when_tasks_half_draining_half_blocking);
    tcase_add_test(
        tc, barrier_test_reset_barrier_while_tasks_waiting_and_waiting_again);
    tcase_add_test(tc, barrier_test_reset_barrier_while_tasks_draining);
    tcase_add_test(tc, barrier_test_abort_barrier);
    tcase_add_test(
        tc, barrier_test_abort_barrier_when_tasks_half_draining_half_blocking);
    tcase_add_test(tc, barrier_test_abort_barrier_when_exception);
    tcase_add_test(tc,
                   barrier_test_abort_barrier_when_exception_then_resetting);
    tcase_add_test(tc, barrier_timeouts);

    tc = axt_tcase(s, "handles");
    tcase_add_test(tc, stale_and_wrong_handles);
    tcase_add_test(tc, free_busy);
    tcase_add_test(tc, wrong_loop);
    tcase_add_test(tc, outside_task_and_loop);
    tcase_add_test(tc, never_freed_reported);
    tcase_add_test(tc, cancel_pending_and_fast_paths);
    return s;
}

#ifndef AX_TEST_NO_MAIN
int main(void)
{
    return ax_test_main(ax_sync_suite());
}
#endif
