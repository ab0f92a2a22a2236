/* SPDX-License-Identifier: MIT */
/* check_future.c: tests for axon/future.h (futures, await, cancel). */
#include <pthread.h>

#include <event2/event.h>

#include "axtest.h"

Suite *ax_future_suite(void);

static void *await_future_arg(void *arg)
{
    void *v = NULL;
    int rc = ax_await_future((ax_future *)arg, &v);
    return rc == 0 ? v : ax_task_fail(rc);
}

static ax_future *logged_future;
static void *await_then_log(void *arg)
{
    void *v = NULL;
    int rc = ax_await_future(logged_future, &v);
    axt_log((const char *)arg);
    return rc == 0 ? v : ax_task_fail(rc);
}

/* ------------------------------------------------------------------------ */
/* new / free                                                               */

static void *main_new_free(void *arg)
{
    ax_future *f = NULL;
    void *v = AXT_P(0x77);
    (void)arg;
    axt_assert_rc(ax_future_new(&f), 0);
    ck_assert_ptr_nonnull(f);
    ck_assert(!ax_future_done(f));
    axt_assert_rc(ax_future_result(f, &v), AX_EPENDING);
    axt_assert_rc(ax_future_result(f, NULL), AX_EPENDING);
    axt_assert_rc(ax_future_free(f), 0); /* a pending plain future */
    axt_assert_rc(ax_future_new(NULL), AX_EINVAL);  /* bad input: NULL out */
    axt_assert_rc(ax_future_free(NULL), AX_EINVAL); /* bad input: NULL */
    return NULL;
}

/* new gives a pending future; free works on it; NULL -> AX_EINVAL. */
START_TEST(test_new_free)
{
    AXT_RUN_CLEAN(main_new_free, NULL, NULL);
}
END_TEST

/* ax_future_new outside a loop -> AX_EPERM, *out untouched. */
START_TEST(test_new_outside_loop_eperm)
{
    ax_future *f = AXT_P(0x1);
    axt_assert_rc(ax_future_new(&f), AX_EPERM);
    ck_assert_ptr_eq(f, AXT_P(0x1));
}
END_TEST

/* ------------------------------------------------------------------------ */
/* set_result / set_error                                                   */

static void *main_set_result(void *arg)
{
    ax_future *f;
    void *v = NULL;
    (void)arg;
    axt_assert_rc(ax_future_new(&f), 0);
    axt_assert_rc(ax_future_set_result(f, AXT_P(42)), 0);
    ck_assert(ax_future_done(f));
    axt_assert_rc(ax_future_result(f, &v), 0);
    ck_assert_ptr_eq(v, AXT_P(42));
    axt_assert_rc(ax_future_result(f, NULL), 0);
    /* double set: the first completion stands */
    axt_assert_rc(ax_future_set_result(f, AXT_P(43)), AX_EALREADY);
    axt_assert_rc(ax_future_set_error(f, -5), AX_EALREADY);
    v = NULL;
    axt_assert_rc(ax_await(f, &v), 0); /* done: no suspension */
    ck_assert_ptr_eq(v, AXT_P(42));
    /* awaiting does not consume a future: again */
    v = NULL;
    axt_assert_rc(ax_await(f, &v), 0);
    ck_assert_ptr_eq(v, AXT_P(42));
    axt_assert_rc(ax_future_free(f), 0);
    axt_assert_rc(ax_future_set_result(NULL, NULL), AX_EINVAL); /* NULL */
    return NULL;
}

/* set_result completes once (second set -> AX_EALREADY, value kept). */
START_TEST(test_set_result)
{
    AXT_RUN_CLEAN(main_set_result, NULL, NULL);
}
END_TEST

static void *main_set_error(void *arg)
{
    ax_future *f, *g;
    (void)arg;
    axt_assert_rc(ax_future_new(&f), 0);
    axt_assert_rc(ax_future_set_error(f, -42), 0);
    ck_assert(ax_future_done(f));
    axt_assert_rc(ax_future_result(f, NULL), -42);
    axt_assert_rc(ax_await(f, NULL), -42);
    axt_assert_rc(ax_future_set_error(f, AX_EINVAL), AX_EALREADY);
    axt_assert_rc(ax_future_set_result(f, NULL), AX_EALREADY);
    axt_assert_rc(ax_future_result(f, NULL), -42);
    axt_assert_rc(ax_future_free(f), 0);

    axt_assert_rc(ax_future_new(&g), 0);
    axt_assert_rc(ax_future_set_error(g, 0), AX_EINVAL); /* bad: code 0 */
    axt_assert_rc(ax_future_set_error(g, 5), AX_EINVAL); /* bad: code > 0 */
    ck_assert(!ax_future_done(g));                       /* untouched */
    axt_assert_rc(ax_future_set_error(NULL, -1), AX_EINVAL); /* bad: NULL */
    axt_assert_rc(ax_future_set_error(g, AX_ETIMEDOUT), 0);
    axt_assert_rc(ax_future_result(g, NULL), AX_ETIMEDOUT);
    axt_assert_rc(ax_future_free(g), 0);
    return NULL;
}

/* set_error: the code is the status; set_error(0 or >0) -> AX_EINVAL and
 * the future stays pending; double completion -> AX_EALREADY. */
START_TEST(test_set_error)
{
    AXT_RUN_CLEAN(main_set_error, NULL, NULL);
}
END_TEST

static void *main_task_future_not_settable(void *arg)
{
    ax_task *t;
    ax_future *tf;
    (void)arg;
    axt_spawn(&t, axt_return_arg, AXT_P(3));
    tf = ax_task_future(t);
    ck_assert_ptr_nonnull(tf);
    axt_assert_rc(ax_future_set_result(tf, AXT_P(9)), AX_EINVAL);
    axt_assert_rc(ax_future_set_error(tf, -9), AX_EINVAL);
    axt_assert_rc(ax_future_free(tf), AX_EINVAL);
    ck_assert(!ax_future_done(tf));
    ck_assert_ptr_eq(axt_await_task(t, 0), AXT_P(3)); /* its own result */
    return NULL;
}

/* A task's future cannot be set or freed (AX_EINVAL). */
START_TEST(test_task_future_not_settable)
{
    AXT_RUN_CLEAN(main_task_future_not_settable, NULL, NULL);
}
END_TEST

static void *main_free_with_awaiter(void *arg)
{
    ax_future *f;
    ax_task *w;
    (void)arg;
    axt_assert_rc(ax_future_new(&f), 0);
    axt_spawn(&w, await_future_arg, f);
    axt_assert_rc(ax_yield(), 0); /* w awaits f */
    axt_assert_rc(ax_future_free(f), AX_EBUSY);
    /* nothing was freed: f still works */
    ck_assert(!ax_future_done(f));
    axt_assert_rc(ax_future_set_result(f, AXT_P(6)), 0);
    ck_assert_ptr_eq(axt_await_task(w, 0), AXT_P(6));
    axt_assert_rc(ax_future_free(f), 0);
    return NULL;
}

/* Freeing a future a task awaits -> AX_EBUSY, nothing freed. */
START_TEST(test_free_with_awaiters_ebusy)
{
    AXT_RUN_CLEAN(main_free_with_awaiter, NULL, NULL);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Awaiting                                                                 */

#define NAWAIT 50
static void *main_many_awaiters(void *arg)
{
    ax_future *f;
    ax_task *t[NAWAIT];
    (void)arg;
    axt_assert_rc(ax_future_new(&f), 0);
    for (int i = 0; i < NAWAIT; i++)
        axt_spawn(&t[i], await_future_arg, f);
    axt_assert_rc(ax_yield(), 0); /* all of them await f */
    for (int i = 0; i < NAWAIT; i++)
        ck_assert(!ax_task_done(t[i]));
    axt_assert_rc(ax_future_set_result(f, AXT_P(99)), 0);
    for (int i = 0; i < NAWAIT; i++)
        ck_assert_ptr_eq(axt_await_task(t[i], 0), AXT_P(99));
    axt_assert_rc(ax_future_free(f), 0);
    return NULL;
}

static void *main_awaiters_wake_order(void *arg)
{
    ax_task *t[3];
    (void)arg;
    axt_assert_rc(ax_future_new(&logged_future), 0);
    axt_spawn(&t[0], await_then_log, "A");
    axt_spawn(&t[1], await_then_log, "B");
    axt_spawn(&t[2], await_then_log, "C");
    axt_assert_rc(ax_yield(), 0);
    AXT_ASSERT_LOG("");
    axt_assert_rc(ax_future_set_result(logged_future, NULL), 0);
    for (int i = 2; i >= 0; i--)
        axt_await_task(t[i], 0);
    AXT_ASSERT_LOG("ABC");
    axt_assert_rc(ax_future_free(logged_future), 0);
    return NULL;
}

/* Awaiters woken by one completion run in the order they began awaiting
 * (they become ready together; ready tasks run FIFO). */
START_TEST(test_awaiters_wake_in_order)
{
    AXT_RUN_CLEAN(main_awaiters_wake_order, NULL, NULL);
}
END_TEST

/* Completing a future wakes every one of many awaiters with the value. */
START_TEST(test_many_awaiters_woken)
{
    AXT_RUN_CLEAN(main_many_awaiters, NULL, NULL);
}
END_TEST

static void *main_awaiters_get_error(void *arg)
{
    ax_future *f;
    ax_task *t[3];
    (void)arg;
    axt_assert_rc(ax_future_new(&f), 0);
    for (int i = 0; i < 3; i++)
        axt_spawn(&t[i], await_future_arg, f);
    axt_assert_rc(ax_yield(), 0);
    axt_assert_rc(ax_future_set_error(f, -321), 0);
    for (int i = 0; i < 3; i++)
        axt_await_task(t[i], -321);
    axt_assert_rc(ax_future_free(f), 0);
    return NULL;
}

/* set_error wakes every awaiter with that code. */
START_TEST(test_awaiters_get_error)
{
    AXT_RUN_CLEAN(main_awaiters_get_error, NULL, NULL);
}
END_TEST

static int no_suspend_flag;
static void *main_await_done_no_suspend(void *arg)
{
    ax_future *f;
    ax_task *t;
    void *v = NULL;
    (void)arg;
    axt_assert_rc(ax_future_new(&f), 0);
    axt_assert_rc(ax_future_set_result(f, AXT_P(4)), 0);
    axt_spawn(&t, axt_set_flag, &no_suspend_flag);
    axt_assert_rc(ax_await(f, &v), 0);
    ck_assert_ptr_eq(v, AXT_P(4));
    ck_assert_int_eq(no_suspend_flag, 0); /* main did not suspend */
    axt_await_task(t, 0);
    ck_assert_int_eq(no_suspend_flag, 1);
    axt_assert_rc(ax_future_free(f), 0);
    return NULL;
}

/* Awaiting a done future does not suspend. */
START_TEST(test_await_done_does_not_suspend)
{
    AXT_RUN_CLEAN(main_await_done_no_suspend, NULL, NULL);
}
END_TEST

static void *main_await_null(void *arg)
{
    (void)arg;
    axt_assert_rc(ax_await_future(NULL, NULL), AX_EINVAL); /* bad: NULL */
    return NULL;
}

/* ax_await_future(NULL) -> AX_EINVAL. */
START_TEST(test_await_null_einval)
{
    AXT_RUN_CLEAN(main_await_null, NULL, NULL);
}
END_TEST

static int cb_ran, cb_await_rc = 1, cb_yield_rc = 1, cb_self_null;
static void await_from_event(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    cb_self_null = ax_task_self() == NULL;
    cb_await_rc = ax_await_future((ax_future *)arg, NULL);
    cb_yield_rc = ax_yield();
    cb_ran = 1;
}

static void *main_await_outside_task(void *arg)
{
    ax_future *f;
    struct timeval tv = {0, 0};
    (void)arg;
    axt_assert_rc(ax_future_new(&f), 0);
    ck_assert_int_eq(event_base_once(ax_loop_base(ax_loop_current()), -1,
                                     EV_TIMEOUT, await_from_event, f, &tv),
                     0);
    for (int i = 0; i < 20000 && !cb_ran; i++)
        axt_assert_rc(ax_sleep(0.001), 0);
    ck_assert_int_eq(cb_ran, 1);
    ck_assert(!ax_future_done(f));
    axt_assert_rc(ax_future_free(f), 0);
    return NULL;
}

/* Bad context: ax_await_future from a libevent callback (on the loop's
 * thread but not in a task) -> AX_ENOTTASK, without suspending. */
START_TEST(test_await_outside_task_enottask)
{
    axt_assert_rc(ax_test_run_real(main_await_outside_task, NULL, NULL), 0);
    AXT_ASSERT_CLEAN();
    ck_assert_int_eq(cb_self_null, 1);
    axt_assert_rc(cb_await_rc, AX_ENOTTASK);
    axt_assert_rc(cb_yield_rc, AX_ENOTTASK);
}
END_TEST

/* Cross-loop: a future of loop A awaited on loop B -> AX_EWRONGLOOP. */
static pthread_barrier_t wl_barrier;
static ax_future *wl_future;
static int wl_rc = 1;

static void *main_loop_a(void *arg)
{
    (void)arg;
    if (ax_future_new(&wl_future) != 0)
        return ax_task_fail(AX_ENOMEM);
    pthread_barrier_wait(&wl_barrier); /* 1: published */
    pthread_barrier_wait(&wl_barrier); /* 2: B has tried */
    ax_future_free(wl_future);
    return NULL;
}

static void *main_loop_b(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&wl_barrier); /* 1 */
    wl_rc = ax_await_future(wl_future, NULL);
    pthread_barrier_wait(&wl_barrier); /* 2 */
    return NULL;
}

static void *thread_a(void *arg)
{
    (void)arg;
    return AXT_P(ax_run(main_loop_a, NULL, NULL));
}

START_TEST(test_await_wrong_loop)
{
    pthread_t a;
    void *arc = AXT_P(1);
    int brc;
    ck_assert_int_eq(pthread_barrier_init(&wl_barrier, NULL, 2), 0);
    ck_assert_int_eq(pthread_create(&a, NULL, thread_a, NULL), 0);
    brc = ax_run(main_loop_b, NULL, NULL);
    ck_assert_int_eq(pthread_join(a, &arc), 0);
    pthread_barrier_destroy(&wl_barrier);
    axt_assert_rc(brc, 0);
    axt_assert_rc((int)AXT_I(arc), 0);
    axt_assert_rc(wl_rc, AX_EWRONGLOOP);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Done callbacks                                                           */

static void log_cb(ax_future *f, void *arg)
{
    ck_assert_ptr_nonnull(f);
    ck_assert(ax_future_done(f));
    axt_log((const char *)arg);
}

static void *main_on_done_order(void *arg)
{
    ax_future *f;
    (void)arg;
    axt_assert_rc(ax_future_new(&f), 0);
    axt_assert_rc(ax_future_on_done(f, log_cb, "1"), 0);
    axt_assert_rc(ax_future_on_done(f, log_cb, "2"), 0);
    axt_assert_rc(ax_future_on_done(f, log_cb, "3"), 0);
    AXT_ASSERT_LOG(""); /* not run while pending */
    axt_assert_rc(ax_future_set_result(f, NULL), 0);
    axt_assert_rc(ax_yield(), 0);
    AXT_ASSERT_LOG("123");
    /* already done: runs before on_done returns */
    axt_assert_rc(ax_future_on_done(f, log_cb, "4"), 0);
    AXT_ASSERT_LOG("1234");
    axt_assert_rc(ax_yield(), 0);
    AXT_ASSERT_LOG("1234"); /* each callback ran exactly once */
    axt_assert_rc(ax_future_free(f), 0);
    return NULL;
}

/* on_done callbacks run once each, in the order added; on a done future
 * the callback runs before ax_future_on_done returns. */
START_TEST(test_on_done_order)
{
    AXT_RUN_CLEAN(main_on_done_order, NULL, NULL);
}
END_TEST

static void *main_on_done_null(void *arg)
{
    ax_future *f;
    (void)arg;
    axt_assert_rc(ax_future_new(&f), 0);
    axt_assert_rc(ax_future_on_done(NULL, log_cb, "x"), AX_EINVAL); /* f */
    axt_assert_rc(ax_future_on_done(f, NULL, NULL), AX_EINVAL);     /* cb */
    axt_assert_rc(ax_future_set_result(f, NULL), 0);
    axt_assert_rc(ax_yield(), 0);
    AXT_ASSERT_LOG(""); /* nothing was registered */
    axt_assert_rc(ax_future_free(f), 0);
    return NULL;
}

/* on_done with a NULL future or callback -> AX_EINVAL. */
START_TEST(test_on_done_null_einval)
{
    AXT_RUN_CLEAN(main_on_done_null, NULL, NULL);
}
END_TEST

static int freed_in_cb = 1;
static void free_cb(ax_future *f, void *arg)
{
    (void)arg;
    freed_in_cb = ax_future_free(f);
}

static void *main_free_in_cb(void *arg)
{
    ax_future *f;
    ax_loop_stats s0, s1;
    (void)arg;
    axt_assert_rc(ax_loop_stats_get(&s0), 0);
    axt_assert_rc(ax_future_new(&f), 0);
    axt_assert_rc(ax_future_on_done(f, free_cb, NULL), 0);
    axt_assert_rc(ax_future_set_error(f, -3), 0);
    axt_assert_rc(ax_yield(), 0);
    axt_assert_rc(freed_in_cb, 0);
    axt_assert_rc(ax_loop_stats_get(&s1), 0);
    ck_assert_uint_eq(s1.futures_live, s0.futures_live);
    return NULL;
}

/* A done callback may free its future. */
START_TEST(test_on_done_callback_frees)
{
    AXT_RUN_CLEAN(main_free_in_cb, NULL, NULL);
}
END_TEST

static int free_busy_rc = 1;
static void free_cb_record(ax_future *f, void *arg)
{
    (void)arg;
    free_busy_rc = ax_future_free(f);
}

static void *main_free_in_cb_awaited(void *arg)
{
    ax_future *f;
    ax_task *w;
    (void)arg;
    free_busy_rc = 1;
    axt_assert_rc(ax_future_new(&f), 0);
    axt_assert_rc(ax_future_on_done(f, free_cb_record, NULL), 0);
    axt_spawn(&w, await_future_arg, f);
    axt_assert_rc(ax_yield(), 0); /* w awaits f, after the callback */
    axt_assert_rc(ax_future_set_result(f, AXT_P(6)), 0);
    ck_assert_ptr_eq(axt_await_task(w, 0), AXT_P(6));
    /* The callback ran while w was still awaiting f: the free is refused
     * and the future stays. */
    axt_assert_rc(free_busy_rc, AX_EBUSY);
    axt_assert_rc(ax_future_result(f, NULL), 0);
    axt_assert_rc(ax_future_free(f), 0);
    return NULL;
}

/* A done callback frees its future while a task still awaits it: that free
 * returns AX_EBUSY and the future stays; the awaiter gets the value and
 * there is no use after free (ASan/valgrind). */
START_TEST(test_on_done_free_while_awaited)
{
    AXT_RUN_CLEAN(main_free_in_cb_awaited, NULL, NULL);
}
END_TEST

static ax_future *wa_future;
static void *waits_any_on_it(void *arg)
{
    size_t idx = 9;
    (void)arg;
    axt_assert_rc(ax_wait_any(&wa_future, 1, -1.0, &idx), 0);
    ck_assert_uint_eq(idx, 0);
    return NULL;
}

static void *main_free_in_cb_waited_any(void *arg)
{
    ax_task *w;
    (void)arg;
    free_busy_rc = 1;
    axt_assert_rc(ax_future_new(&wa_future), 0);
    axt_assert_rc(ax_future_on_done(wa_future, free_cb_record, NULL), 0);
    axt_spawn(&w, waits_any_on_it, NULL);
    axt_assert_rc(ax_yield(), 0); /* w waits */
    axt_assert_rc(ax_future_free(wa_future), AX_EBUSY);
    axt_assert_rc(ax_future_set_result(wa_future, NULL), 0);
    axt_await_task(w, 0);
    axt_assert_rc(free_busy_rc, AX_EBUSY); /* w still waited on it */
    axt_assert_rc(ax_future_free(wa_future), 0);
    return NULL;
}

/* The same with a task in ax_wait_any on the future: AX_EBUSY. */
START_TEST(test_on_done_free_while_waited_any)
{
    AXT_RUN_CLEAN(main_free_in_cb_waited_any, NULL, NULL);
}
END_TEST

static void *main_free_in_cb_gathered(void *arg)
{
    ax_future *f, *g;
    void *res[1] = {NULL};
    (void)arg;
    free_busy_rc = 1;
    axt_assert_rc(ax_future_new(&f), 0);
    axt_assert_rc(ax_future_on_done(f, free_cb_record, NULL), 0);
    axt_assert_rc(ax_gather_start(&g, &f, 1, res, NULL, AX_GATHER_FAIL_FAST),
                  0);
    axt_assert_rc(ax_future_free(f), AX_EBUSY); /* the gather waits on it */
    axt_assert_rc(ax_future_set_result(f, AXT_P(7)), 0);
    axt_assert_rc(ax_await(g, NULL), 0);
    ck_assert_ptr_eq(res[0], AXT_P(7));
    ck_assert_msg(free_busy_rc == 0 || free_busy_rc == AX_EBUSY,
                  "free in callback returned %d", free_busy_rc);
    if (free_busy_rc == AX_EBUSY)
        axt_assert_rc(ax_future_free(f), 0);
    axt_assert_rc(ax_future_free(g), 0);
    return NULL;
}

/* The same with a gather waiting on the future: freeing it while the
 * gather is pending -> AX_EBUSY; freeing it from its done callback must be
 * refused or safe for the gather. */
START_TEST(test_on_done_free_while_gathered)
{
    AXT_RUN_CLEAN(main_free_in_cb_gathered, NULL, NULL);
}
END_TEST

static void *main_on_done_task(void *arg)
{
    ax_task *t;
    static axt_probe p = {.sleep = 1.0};
    (void)arg;
    axt_spawn(&t, axt_probe_fn, &p);
    axt_assert_rc(ax_future_on_done(ax_task_future(t), log_cb, "T"), 0);
    axt_assert_rc(ax_sleep(0.5), 0);
    AXT_ASSERT_LOG("");
    axt_await_task(t, 0);
    axt_assert_rc(ax_yield(), 0);
    AXT_ASSERT_LOG("T");
    return NULL;
}

/* A task's future runs its done callbacks when the task ends. */
START_TEST(test_on_done_task_future)
{
    AXT_RUN_CLEAN(main_on_done_task, NULL, NULL);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* ax_future_result, ax_future_done on NULL                                  */

static void *main_result_errors(void *arg)
{
    ax_future *f;
    void *v = AXT_P(0x5);
    (void)arg;
    ck_assert(!ax_future_done(NULL));
    axt_assert_rc(ax_future_result(NULL, &v), AX_EINVAL); /* bad: NULL */
    axt_assert_rc(ax_future_new(&f), 0);
    axt_assert_rc(ax_future_result(f, &v), AX_EPENDING);
    ck_assert_ptr_eq(v, AXT_P(0x5)); /* untouched unless 0 */
    axt_assert_rc(ax_future_free(f), 0);
    return NULL;
}

/* ax_future_result: AX_EPENDING while pending; NULL -> AX_EINVAL. */
START_TEST(test_future_result_pending)
{
    AXT_RUN_CLEAN(main_result_errors, NULL, NULL);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Cancel a plain future                                                    */

static void *main_cancel_plain(void *arg)
{
    ax_future *f;
    ax_task *w[2];
    (void)arg;
    axt_assert_rc(ax_future_new(&f), 0);
    axt_spawn(&w[0], await_future_arg, f);
    axt_spawn(&w[1], await_future_arg, f);
    axt_assert_rc(ax_yield(), 0);
    axt_assert_rc(ax_cancel(f), 0);
    ck_assert(ax_future_done(f));
    axt_assert_rc(ax_future_result(f, NULL), AX_ECANCELED);
    axt_await_task(w[0], AX_ECANCELED);
    axt_await_task(w[1], AX_ECANCELED);
    axt_assert_rc(ax_cancel(f), AX_EALREADY);
    axt_assert_rc(ax_future_set_result(f, NULL), AX_EALREADY);
    axt_assert_rc(ax_future_free(f), 0);

    /* cancelling a future that is already done */
    axt_assert_rc(ax_future_new(&f), 0);
    axt_assert_rc(ax_future_set_result(f, AXT_P(1)), 0);
    axt_assert_rc(ax_cancel(f), AX_EALREADY);
    axt_assert_rc(ax_future_result(f, NULL), 0);
    axt_assert_rc(ax_future_free(f), 0);
    return NULL;
}

/* Cancelling a plain future completes it with AX_ECANCELED: its awaiters
 * get AX_ECANCELED; cancelling a done future -> AX_EALREADY. */
START_TEST(test_cancel_plain_future)
{
    AXT_RUN_CLEAN(main_cancel_plain, NULL, NULL);
}
END_TEST

static int awaiter_rc = 1;
static void *awaiter_records(void *arg)
{
    awaiter_rc = ax_await_future((ax_future *)arg, NULL);
    return NULL;
}

static void *main_cancel_awaiter(void *arg)
{
    ax_future *f;
    ax_task *w;
    (void)arg;
    axt_assert_rc(ax_future_new(&f), 0);
    axt_spawn(&w, awaiter_records, f);
    axt_assert_rc(ax_yield(), 0);
    axt_assert_rc(ax_cancel(w), 0);
    axt_await_task(w, AX_ECANCELED);
    axt_assert_rc(awaiter_rc, AX_ECANCELED);
    ck_assert(!ax_future_done(f)); /* the plain future is left alone */
    axt_assert_rc(ax_future_free(f), 0);
    return NULL;
}

/* Cancelling a task awaiting a plain future: its await returns
 * AX_ECANCELED; the future itself stays pending. */
START_TEST(test_cancel_awaiter_of_plain_future)
{
    AXT_RUN_CLEAN(main_cancel_awaiter, NULL, NULL);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Stale handles and other loops                                            */

static void *main_free_twice(void *arg)
{
    ax_future *f;
    (void)arg;
    axt_assert_rc(ax_future_new(&f), 0);
    axt_assert_rc(ax_future_free(f), 0);
    axt_assert_rc(ax_future_free(f), AX_ESRCH);
    return NULL;
}

/* Freeing a future twice: AX_ESRCH, not a double free. */
START_TEST(test_future_free_twice_returns_esrch)
{
    AXT_RUN_CLEAN(main_free_twice, NULL, NULL);
}
END_TEST

static void never_called(ax_future *f, void *arg)
{
    (void)f;
    (void)arg;
    ck_abort_msg("a done callback ran on a freed future");
}

static void *main_stale_future_calls(void *arg)
{
    ax_future *f, *arr[1];
    ax_future *g;
    size_t idx;
    void *r;
    (void)arg;
    axt_assert_rc(ax_future_new(&f), 0);
    axt_assert_rc(ax_future_set_result(f, AXT_P(1)), 0);
    axt_assert_rc(ax_future_free(f), 0);
    axt_assert_rc(ax_future_set_result(f, NULL), AX_ESRCH);
    axt_assert_rc(ax_future_set_error(f, AX_ETIMEDOUT), AX_ESRCH);
    axt_assert_rc(ax_future_result(f, &r), AX_ESRCH);
    axt_assert_rc(ax_future_on_done(f, never_called, NULL), AX_ESRCH);
    axt_assert_rc(ax_cancel(f), AX_ESRCH);
    axt_assert_rc(ax_await(f, &r), AX_ESRCH);
    ck_assert(!ax_future_done(f));
    arr[0] = f;
    axt_assert_rc(ax_gather_start(&g, arr, 1, NULL, NULL, AX_GATHER_FAIL_FAST),
                  AX_ESRCH);
    axt_assert_rc(ax_wait_any(arr, 1, 0, &idx), AX_ESRCH);
    return NULL;
}

/* Every call on a freed future returns AX_ESRCH (ax_future_done: false). */
START_TEST(test_stale_future_calls_return_esrch)
{
    AXT_RUN_CLEAN(main_stale_future_calls, NULL, NULL);
}
END_TEST

static axt_probe slow_child = {.sleep = 1.0};
static void *main_gather_free_twice(void *arg)
{
    ax_task *t;
    ax_future *g, *arr[1];
    (void)arg;
    axt_spawn(&t, axt_probe_fn, &slow_child);
    arr[0] = ax_task_future(t);
    axt_assert_rc(ax_gather_start(&g, arr, 1, NULL, NULL, AX_GATHER_FAIL_FAST),
                  0);
    /* pending: the first free cancels the child and waits for it */
    axt_assert_rc(ax_future_free(g), 0);
    axt_assert_rc(ax_future_free(g), AX_ESRCH);
    axt_assert_rc(ax_await(g, NULL), AX_ESRCH);
    axt_assert_rc(ax_sleep(0.1), 0); /* the child ends, the gather goes */
    ck_assert(slow_child.cleanup);
    axt_assert_rc(ax_future_free(g), AX_ESRCH);
    return NULL;
}

/* A pending gather freed twice: the second free is AX_ESRCH even while the
 * first still waits for the children to end, and after. */
START_TEST(test_gather_future_free_twice_returns_esrch)
{
    AXT_RUN_CLEAN(main_gather_free_twice, NULL, NULL);
}
END_TEST

typedef struct xfut {
    ax_future *f;
    int free_rc, result_rc, on_done_rc, set_rc;
    bool done;
} xfut;

static void *use_foreign_future(void *arg)
{
    xfut *x = arg;
    void *r;
    x->free_rc = ax_future_free(x->f);
    x->result_rc = ax_future_result(x->f, &r);
    x->on_done_rc = ax_future_on_done(x->f, never_called, NULL);
    x->done = ax_future_done(x->f);
    x->set_rc = ax_future_set_result(x->f, AXT_P(5)); /* cross-loop: fine */
    return NULL;
}

static void *main_future_other_loop(void *arg)
{
    xfut x = {0};
    ax_task *t;
    void *r = NULL;
    (void)arg;
    axt_assert_rc(ax_future_new(&x.f), 0);
    axt_assert_rc(axt_spawn_on(ax_loop_at(1), &t, use_foreign_future, &x), 0);
    axt_assert_rc(ax_await(x.f, &r), 0);
    ck_assert_int_eq(AXT_I(r), 5);
    axt_assert_rc(ax_await(t, NULL), 0);
    axt_assert_rc(x.free_rc, AX_EWRONGLOOP);
    axt_assert_rc(x.result_rc, AX_EWRONGLOOP);
    axt_assert_rc(x.on_done_rc, AX_EWRONGLOOP);
    ck_assert(!x.done);
    axt_assert_rc(x.set_rc, 0);
    axt_assert_rc(ax_future_free(x.f), 0);
    return NULL;
}

/* Freeing, reading or adding a callback to a future of another loop is
 * AX_EWRONGLOOP (nothing happens); completing it from there still works. */
START_TEST(test_future_calls_from_other_loop_return_ewrongloop)
{
    AXT_RUN_LOOPS_CLEAN(2, main_future_other_loop, NULL);
}
END_TEST

Suite *ax_future_suite(void)
{
    Suite *s = suite_create("future");
    TCase *tc = axt_tcase(s, "lifecycle");
    tcase_add_test(tc, test_new_free);
    tcase_add_test(tc, test_new_outside_loop_eperm);
    tcase_add_test(tc, test_set_result);
    tcase_add_test(tc, test_set_error);
    tcase_add_test(tc, test_task_future_not_settable);
    tcase_add_test(tc, test_free_with_awaiters_ebusy);
    tcase_add_test(tc, test_future_result_pending);

    tc = axt_tcase(s, "await");
    tcase_add_test(tc, test_many_awaiters_woken);
    tcase_add_test(tc, test_awaiters_wake_in_order);
    tcase_add_test(tc, test_awaiters_get_error);
    tcase_add_test(tc, test_await_done_does_not_suspend);
    tcase_add_test(tc, test_await_null_einval);
    tcase_add_test(tc, test_await_outside_task_enottask);
    tcase_add_test(tc, test_await_wrong_loop);

    tc = axt_tcase(s, "on_done");
    tcase_add_test(tc, test_on_done_order);
    tcase_add_test(tc, test_on_done_null_einval);
    tcase_add_test(tc, test_on_done_callback_frees);
    tcase_add_test(tc, test_on_done_free_while_awaited);
    tcase_add_test(tc, test_on_done_free_while_gathered);
    tcase_add_test(tc, test_on_done_free_while_waited_any);
    tcase_add_test(tc, test_on_done_task_future);

    tc = axt_tcase(s, "cancel");
    tcase_add_test(tc, test_cancel_plain_future);
    tcase_add_test(tc, test_cancel_awaiter_of_plain_future);

    tc = axt_tcase(s, "misuse");
    tcase_add_test(tc, test_future_free_twice_returns_esrch);
    tcase_add_test(tc, test_stale_future_calls_return_esrch);
    tcase_add_test(tc, test_gather_future_free_twice_returns_esrch);
    tcase_add_test(tc, test_future_calls_from_other_loop_return_ewrongloop);
    return s;
}

#ifndef AX_TEST_NO_MAIN
int main(void)
{
    return ax_test_main(ax_future_suite());
}
#endif
