/* SPDX-License-Identifier: MIT */
/*
 * check_queue.c: tests for axon/queue.h.
 *
 * The tests named test_<name> with a "CPython:" comment port the cases of
 * CPython's Lib/test/test_asyncio/test_queues.py (3.13) to one loop under
 * the virtual clock; `await asyncio.sleep(0)` is ax_yield(), a task made
 * with create_task is ax_spawn. The others cover what asyncio has not:
 * futures (select), the release callback, and queues used across loops.
 */
#include "axtest.h"

Suite *ax_queue_suite(void);

/* A FIFO or LIFO queue (mkq_kind() also makes priority queues). */
static ax_queue *mkq(ax_queue_kind kind, size_t cap)
{
    ax_queue_opts o;
    ax_queue *q = NULL;

    memset(&o, 0, sizeof o);
    o.kind = kind;
    o.capacity = cap;
    axt_assert_rc(ax_queue_new(&q, &o), 0);
    return q;
}

static int cmp_int(const void *a, const void *b)
{
    intptr_t x = AXT_I(a), y = AXT_I(b);
    return (x > y) - (x < y);
}

static ax_queue *mkq_kind(ax_queue_kind kind, size_t cap)
{
    ax_queue_opts o;
    ax_queue *q = NULL;

    if (kind != AX_QUEUE_PRIORITY)
        return mkq(kind, cap);
    memset(&o, 0, sizeof o);
    o.kind = kind;
    o.capacity = cap;
    o.cmp = cmp_int;
    axt_assert_rc(ax_queue_new(&q, &o), 0);
    return q;
}

static void *get_one(void *arg)
{
    void *v = NULL;
    int rc = ax_queue_get(arg, &v);
    return rc ? ax_task_fail(rc) : v;
}

static void *put_arg_q;
static void *put_one(void *arg)
{
    int rc = ax_queue_put(put_arg_q, arg);
    return rc ? ax_task_fail(rc) : AXT_P(1);
}

static void *join_one(void *arg)
{
    int rc = ax_queue_join(arg);
    return rc ? ax_task_fail(rc) : AXT_P(1);
}

static void *try_get_val(ax_queue *q)
{
    void *v = NULL;
    axt_assert_rc(ax_queue_try_get(q, &v), 0);
    return v;
}

/* ---- QueueBasicTests --------------------------------------------------- */

static void *main_empty(void *arg)
{
    ax_queue *q = mkq(AX_QUEUE_FIFO, 0);
    void *v = NULL;
    (void)arg;
    ck_assert_uint_eq(ax_queue_size(q), 0);
    axt_assert_rc(ax_queue_put(q, AXT_P(1)), 0);
    ck_assert_uint_eq(ax_queue_size(q), 1);
    axt_assert_rc(ax_queue_get(q, &v), 0);
    ck_assert_ptr_eq(v, AXT_P(1));
    ck_assert_uint_eq(ax_queue_size(q), 0);
    axt_assert_rc(ax_queue_free(q), 0);
    return NULL;
}

/* CPython: QueueBasicTests.test_empty */
START_TEST(test_empty)
{
    AXT_RUN_CLEAN(main_empty, NULL, NULL);
}
END_TEST

static void *main_full(void *arg)
{
    ax_queue *q = mkq(AX_QUEUE_FIFO, 0), *q1 = mkq(AX_QUEUE_FIFO, 1);
    (void)arg;
    for (int i = 0; i < 1000; i++) /* unbounded: never full */
        axt_assert_rc(ax_queue_try_put(q, AXT_P(i)), 0);
    axt_assert_rc(ax_queue_put(q1, AXT_P(1)), 0);
    axt_assert_rc(ax_queue_try_put(q1, AXT_P(2)), AX_EAGAIN);
    axt_assert_rc(ax_queue_free(q), 0);
    axt_assert_rc(ax_queue_free(q1), 0);
    return NULL;
}

/* CPython: QueueBasicTests.test_full (and QueuePutTests.
 * test_nonblocking_put_exception: a full queue refuses put_nowait). */
START_TEST(test_full)
{
    AXT_RUN_CLEAN(main_full, NULL, NULL);
}
END_TEST

static void *main_order(void *arg)
{
    static const int in[3] = {1, 3, 2};
    static const int want[3][3] = {{1, 3, 2}, {2, 3, 1}, {1, 2, 3}};
    (void)arg;
    for (int k = 0; k < 3; k++) {
        ax_queue *q = mkq_kind((ax_queue_kind)k, 0);
        for (int i = 0; i < 3; i++)
            axt_assert_rc(ax_queue_put(q, AXT_P(in[i])), 0);
        for (int i = 0; i < 3; i++) {
            void *v = NULL;
            axt_assert_rc(ax_queue_get(q, &v), 0);
            ck_assert_int_eq(AXT_I(v), want[k][i]);
        }
        axt_assert_rc(ax_queue_free(q), 0);
    }
    return NULL;
}

/* CPython: QueueBasicTests.test_order, LifoQueueTests.test_order,
 * PriorityQueueTests.test_order. */
START_TEST(test_order)
{
    AXT_RUN_CLEAN(main_order, NULL, NULL);
}
END_TEST

static int have_been_put;
static void *putter3(void *arg)
{
    for (int i = 0; i < 3; i++) {
        axt_assert_rc(ax_queue_put(arg, AXT_P(i)), 0);
        have_been_put = i + 1;
    }
    return AXT_P(1);
}

static void *main_maxsize(void *arg)
{
    ax_queue *q = mkq(AX_QUEUE_FIFO, 2);
    ax_task *t;
    void *v = NULL;
    (void)arg;
    axt_spawn(&t, putter3, q);
    ax_yield();
    ax_yield();
    ck_assert_int_eq(have_been_put, 2); /* blocked after two */
    axt_assert_rc(ax_queue_get(q, &v), 0);
    ck_assert_ptr_eq(v, AXT_P(0));
    ax_yield();
    ck_assert_int_eq(have_been_put, 3);
    ck_assert_ptr_eq(try_get_val(q), AXT_P(1));
    ck_assert_ptr_eq(try_get_val(q), AXT_P(2));
    axt_assert_rc(ax_await(t, &v), 0);
    ck_assert_ptr_eq(v, AXT_P(1));
    axt_assert_rc(ax_queue_free(q), 0);
    return NULL;
}

/* CPython: QueueBasicTests.test_maxsize */
START_TEST(test_maxsize)
{
    AXT_RUN_CLEAN(main_maxsize, NULL, NULL);
}
END_TEST

/* ---- QueueGetTests ------------------------------------------------------ */

static void *main_blocking_get(void *arg)
{
    ax_queue *q = mkq(AX_QUEUE_FIFO, 0);
    void *v = NULL;
    (void)arg;
    axt_assert_rc(ax_queue_try_put(q, AXT_P(1)), 0);
    axt_assert_rc(ax_queue_get(q, &v), 0);
    ck_assert_ptr_eq(v, AXT_P(1));
    axt_assert_rc(ax_queue_try_get(q, &v), AX_EAGAIN);
    axt_assert_rc(ax_queue_free(q), 0);
    return NULL;
}

/* CPython: QueueGetTests.test_blocking_get, test_nonblocking_get,
 * test_nonblocking_get_exception (get_nowait on empty: AX_EAGAIN). */
START_TEST(test_blocking_get)
{
    AXT_RUN_CLEAN(main_blocking_get, NULL, NULL);
}
END_TEST

static void *main_get_with_putters(void *arg)
{
    ax_queue *q = mkq(AX_QUEUE_FIFO, 1);
    ax_task *t;
    void *v = NULL;
    (void)arg;
    axt_assert_rc(ax_queue_put(q, AXT_P(1)), 0);
    put_arg_q = q;
    axt_spawn(&t, put_one, AXT_P(2));
    ax_yield(); /* the putter waits */
    ck_assert(!ax_task_done(t));
    axt_assert_rc(ax_queue_get(q, &v), 0);
    ck_assert_ptr_eq(v, AXT_P(1));
    axt_assert_rc(ax_await(t, NULL), 0); /* the get woke it */
    ck_assert_ptr_eq(try_get_val(q), AXT_P(2));
    axt_assert_rc(ax_queue_free(q), 0);
    return NULL;
}

/* CPython: QueueGetTests.test_get_with_putters */
START_TEST(test_get_with_putters)
{
    AXT_RUN_CLEAN(main_get_with_putters, NULL, NULL);
}
END_TEST

static void *late_put(void *arg)
{
    axt_assert_rc(ax_sleep(0.01), 0);
    axt_assert_rc(ax_queue_try_put(arg, AXT_P(1)), 0);
    return NULL;
}

static void *main_blocking_get_wait(void *arg)
{
    ax_queue *q = mkq(AX_QUEUE_FIFO, 0);
    ax_task *g, *p;
    void *v = NULL;
    (void)arg;
    axt_spawn(&g, get_one, q);
    ax_yield();
    ck_assert(!ax_task_done(g));
    axt_spawn(&p, late_put, q);
    axt_assert_rc(ax_await(g, &v), 0);
    ck_assert_ptr_eq(v, AXT_P(1));
    ck_assert_double_eq(ax_now(), 0.01);
    axt_assert_rc(ax_await(p, NULL), 0);
    axt_assert_rc(ax_queue_free(q), 0);
    return NULL;
}

/* CPython: QueueGetTests.test_blocking_get_wait */
START_TEST(test_blocking_get_wait)
{
    AXT_RUN_CLEAN(main_blocking_get_wait, NULL, NULL);
}
END_TEST

static void *main_get_cancelled_race(void *arg)
{
    ax_queue *q = mkq(AX_QUEUE_FIFO, 0);
    ax_task *t1, *t2;
    void *v = NULL;
    (void)arg;
    axt_spawn(&t1, get_one, q);
    axt_spawn(&t2, get_one, q);
    ax_yield();
    axt_assert_rc(ax_cancel(t1), 0);
    ax_yield();
    ck_assert(ax_task_done(t1));
    axt_assert_rc(ax_queue_put(q, AXT_P('a')), 0);
    ax_yield();
    axt_assert_rc(ax_await(t2, &v), 0);
    ck_assert_ptr_eq(v, AXT_P('a'));
    axt_assert_rc(ax_await(t1, NULL), AX_ECANCELED);
    axt_assert_rc(ax_queue_free(q), 0);
    return NULL;
}

/* CPython: QueueGetTests.test_get_cancelled_race */
START_TEST(test_get_cancelled_race)
{
    AXT_RUN_CLEAN(main_get_cancelled_race, NULL, NULL);
}
END_TEST

static void *main_get_with_waiting_putters(void *arg)
{
    ax_queue *q = mkq(AX_QUEUE_FIFO, 1);
    ax_task *a, *b;
    void *v = NULL;
    (void)arg;
    put_arg_q = q;
    axt_spawn(&a, put_one, AXT_P('a'));
    axt_spawn(&b, put_one, AXT_P('b'));
    axt_assert_rc(ax_queue_get(q, &v), 0);
    ck_assert_ptr_eq(v, AXT_P('a'));
    axt_assert_rc(ax_queue_get(q, &v), 0);
    ck_assert_ptr_eq(v, AXT_P('b'));
    axt_assert_rc(ax_await(a, NULL), 0);
    axt_assert_rc(ax_await(b, NULL), 0);
    axt_assert_rc(ax_queue_free(q), 0);
    return NULL;
}

/* CPython: QueueGetTests.test_get_with_waiting_putters */
START_TEST(test_get_with_waiting_putters)
{
    AXT_RUN_CLEAN(main_get_with_waiting_putters, NULL, NULL);
}
END_TEST

static void *consumer5(void *arg)
{
    void *v;
    for (int i = 0; i < 5; i++) {
        axt_assert_rc(ax_queue_get(arg, &v), 0);
        ck_assert_int_eq(AXT_I(v), i);
    }
    return NULL;
}

static void *producer5(void *arg)
{
    for (int i = 0; i < 5; i++)
        axt_assert_rc(ax_queue_put(arg, AXT_P(i)), 0);
    return NULL;
}

static void *main_why_are_getters_waiting(void *arg)
{
    ax_queue *q = mkq(AX_QUEUE_FIFO, 1);
    ax_task *p, *c;
    (void)arg;
    axt_spawn(&p, producer5, q);
    axt_spawn(&c, consumer5, q);
    axt_assert_rc(ax_await(p, NULL), 0);
    axt_assert_rc(ax_await(c, NULL), 0);
    axt_assert_rc(ax_queue_free(q), 0);
    return NULL;
}

/* CPython: QueueGetTests.test_why_are_getters_waiting (and
 * QueuePutTests.test_why_are_putters_waiting: neither side hangs). */
START_TEST(test_why_are_getters_waiting)
{
    AXT_RUN_CLEAN(main_why_are_getters_waiting, NULL, NULL);
}
END_TEST

static void *main_cancelled_getters_not_held(void *arg)
{
    ax_queue *q = mkq(AX_QUEUE_FIFO, 5);
    void *v = NULL;
    (void)arg;
    axt_assert_rc(ax_queue_get_timeout(q, &v, 0.1), AX_ETIMEDOUT);
    ck_assert_double_eq(ax_now(), 0.1);
    /* No getter left behind: the free would say AX_EBUSY, and an item put
     * now stays in the queue instead of going to a ghost. */
    axt_assert_rc(ax_queue_try_put(q, AXT_P(7)), 0);
    ck_assert_uint_eq(ax_queue_size(q), 1);
    ck_assert_ptr_eq(try_get_val(q), AXT_P(7));
    axt_assert_rc(ax_queue_get_dl(q, &v, ax_now_ns() + 1000), AX_ETIMEDOUT);
    axt_assert_rc(ax_queue_free(q), 0);
    return NULL;
}

/* CPython: QueueGetTests.test_cancelled_getters_not_being_held_in_self_getters */
START_TEST(test_cancelled_getters_not_being_held_in_self_getters)
{
    AXT_RUN_CLEAN(main_cancelled_getters_not_held, NULL, NULL);
}
END_TEST

/* ---- QueuePutTests ------------------------------------------------------ */

static int put_finished;
static void *put_two(void *arg)
{
    axt_assert_rc(ax_queue_put(arg, AXT_P(1)), 0);
    axt_assert_rc(ax_queue_put(arg, AXT_P(2)), 0);
    put_finished = 1;
    return NULL;
}

static void *late_get(void *arg)
{
    void *v;
    axt_assert_rc(ax_sleep(0.01), 0);
    axt_assert_rc(ax_queue_try_get(arg, &v), 0);
    ck_assert_ptr_eq(v, AXT_P(1));
    return NULL;
}

static void *main_blocking_put_wait(void *arg)
{
    ax_queue *q = mkq(AX_QUEUE_FIFO, 1);
    ax_task *p, *g;
    (void)arg;
    axt_spawn(&g, late_get, q);
    axt_spawn(&p, put_two, q);
    ax_yield();
    ck_assert_int_eq(put_finished, 0);
    axt_assert_rc(ax_await(p, NULL), 0);
    ck_assert_int_eq(put_finished, 1);
    ck_assert_double_eq(ax_now(), 0.01);
    axt_assert_rc(ax_await(g, NULL), 0);
    ck_assert_ptr_eq(try_get_val(q), AXT_P(2));
    axt_assert_rc(ax_queue_free(q), 0);
    return NULL;
}

/* CPython: QueuePutTests.test_blocking_put_wait (and test_blocking_put,
 * test_nonblocking_put) */
START_TEST(test_blocking_put_wait)
{
    AXT_RUN_CLEAN(main_blocking_put_wait, NULL, NULL);
}
END_TEST

static void *main_get_cancel_drop_one(void *arg)
{
    ax_queue *q = mkq(AX_QUEUE_FIFO, 0);
    ax_task *r;
    void *v = NULL;
    int rc;
    (void)arg;
    axt_spawn(&r, get_one, q);
    ax_yield();
    axt_assert_rc(ax_queue_try_put(q, AXT_P(1)), 0); /* handed to r */
    axt_assert_rc(ax_queue_try_put(q, AXT_P(2)), 0);
    axt_assert_rc(ax_cancel(r), 0);
    rc = ax_await(r, &v);
    if (rc == AX_ECANCELED) { /* try again */
        axt_spawn(&r, get_one, q);
        rc = ax_await(r, &v);
    }
    axt_assert_rc(rc, 0);
    ck_assert_ptr_eq(v, AXT_P(1)); /* 2 would mean 1 was dropped */
    ck_assert_ptr_eq(try_get_val(q), AXT_P(2));
    axt_assert_rc(ax_queue_free(q), 0);
    return NULL;
}

/* CPython: QueuePutTests.test_get_cancel_drop_one_pending_reader */
START_TEST(test_get_cancel_drop_one_pending_reader)
{
    AXT_RUN_CLEAN(main_get_cancel_drop_one, NULL, NULL);
}
END_TEST

static void *main_get_cancel_drop_many(void *arg)
{
    ax_queue *q = mkq(AX_QUEUE_FIFO, 0);
    ax_task *r1, *r2, *r3;
    void *v2 = NULL, *v3 = NULL;
    (void)arg;
    axt_spawn(&r1, get_one, q);
    axt_spawn(&r2, get_one, q);
    axt_spawn(&r3, get_one, q);
    ax_yield();
    axt_assert_rc(ax_queue_try_put(q, AXT_P(1)), 0);
    axt_assert_rc(ax_queue_try_put(q, AXT_P(2)), 0);
    axt_assert_rc(ax_cancel(r1), 0);
    axt_assert_rc(ax_await(r1, NULL), AX_ECANCELED);
    axt_assert_rc(ax_await(r3, &v3), 0);
    axt_assert_rc(ax_await(r2, &v2), 0);
    ck_assert_int_eq(AXT_I(v2) + AXT_I(v3), 3); /* {1, 2} in some order */
    ck_assert_int_ne(AXT_I(v2), AXT_I(v3));
    ck_assert_uint_eq(ax_queue_size(q), 0);
    axt_assert_rc(ax_queue_free(q), 0);
    return NULL;
}

/* CPython: QueuePutTests.test_get_cancel_drop_many_pending_readers */
START_TEST(test_get_cancel_drop_many_pending_readers)
{
    AXT_RUN_CLEAN(main_get_cancel_drop_many, NULL, NULL);
}
END_TEST

static void *main_put_cancel_drop(void *arg)
{
    ax_queue *q = mkq(AX_QUEUE_FIFO, 1);
    ax_task *w;
    int rc;
    (void)arg;
    put_arg_q = q;
    axt_assert_rc(ax_queue_try_put(q, AXT_P(1)), 0);
    axt_spawn(&w, put_one, AXT_P(2)); /* has to wait: size 1 */
    ax_yield();
    ck_assert_ptr_eq(try_get_val(q), AXT_P(1)); /* the slot goes to w */
    axt_assert_rc(ax_cancel(w), 0);
    rc = ax_await(w, NULL);
    if (rc == AX_ECANCELED) { /* try again */
        axt_spawn(&w, put_one, AXT_P(2));
        rc = ax_await(w, NULL);
    }
    axt_assert_rc(rc, 0);
    ck_assert_ptr_eq(try_get_val(q), AXT_P(2));
    ck_assert_uint_eq(ax_queue_size(q), 0);
    axt_assert_rc(ax_queue_free(q), 0);
    return NULL;
}

/* CPython: QueuePutTests.test_put_cancel_drop */
START_TEST(test_put_cancel_drop)
{
    AXT_RUN_CLEAN(main_put_cancel_drop, NULL, NULL);
}
END_TEST

static void *main_put_cancelled_race(void *arg)
{
    ax_queue *q = mkq(AX_QUEUE_FIFO, 1);
    ax_task *a, *b, *c;
    (void)arg;
    put_arg_q = q;
    axt_spawn(&a, put_one, AXT_P('a'));
    axt_spawn(&b, put_one, AXT_P('b'));
    axt_spawn(&c, put_one, AXT_P('X'));
    ax_yield();
    ck_assert(ax_task_done(a));
    ck_assert(!ax_task_done(b));
    axt_assert_rc(ax_cancel(c), 0);
    ax_yield();
    ck_assert(ax_task_done(c));
    ck_assert_ptr_eq(try_get_val(q), AXT_P('a'));
    ax_yield();
    ck_assert_ptr_eq(try_get_val(q), AXT_P('b'));
    axt_assert_rc(ax_await(b, NULL), 0);
    axt_assert_rc(ax_await(a, NULL), 0);
    axt_assert_rc(ax_await(c, NULL), AX_ECANCELED);
    axt_assert_rc(ax_queue_try_get(q, &(void *){NULL}), AX_EAGAIN);
    axt_assert_rc(ax_queue_free(q), 0);
    return NULL;
}

/* CPython: QueuePutTests.test_put_cancelled_race */
START_TEST(test_put_cancelled_race)
{
    AXT_RUN_CLEAN(main_put_cancelled_race, NULL, NULL);
}
END_TEST

static void *main_put_with_waiting_getters(void *arg)
{
    ax_queue *q = mkq(AX_QUEUE_FIFO, 0);
    ax_task *t;
    void *v = NULL;
    (void)arg;
    axt_spawn(&t, get_one, q);
    ax_yield();
    axt_assert_rc(ax_queue_put(q, AXT_P('a')), 0);
    axt_assert_rc(ax_await(t, &v), 0);
    ck_assert_ptr_eq(v, AXT_P('a'));
    axt_assert_rc(ax_queue_free(q), 0);
    return NULL;
}

/* CPython: QueuePutTests.test_put_with_waiting_getters (and
 * test_put_cancelled: the putter is done when the getter has the item) */
START_TEST(test_put_with_waiting_getters)
{
    AXT_RUN_CLEAN(main_put_with_waiting_getters, NULL, NULL);
}
END_TEST

static void *main_cancelled_puts_not_held(void *arg)
{
    ax_queue *q = mkq(AX_QUEUE_FIFO, 1);
    ax_task *t;
    (void)arg;
    put_arg_q = q;
    axt_assert_rc(ax_queue_try_put(q, AXT_P(1)), 0);
    axt_spawn(&t, put_one, AXT_P(1));
    ax_yield();
    axt_assert_rc(ax_queue_free(q), AX_EBUSY); /* a putter waits */
    axt_assert_rc(ax_cancel(t), 0);
    axt_assert_rc(ax_await(t, NULL), AX_ECANCELED);
    ck_assert_ptr_eq(try_get_val(q), AXT_P(1));
    axt_assert_rc(ax_queue_free(q), 0); /* nobody left in the list */
    return NULL;
}

/* CPython: QueuePutTests.test_cancelled_puts_not_being_held_in_self_putters */
START_TEST(test_cancelled_puts_not_being_held_in_self_putters)
{
    AXT_RUN_CLEAN(main_cancelled_puts_not_held, NULL, NULL);
}
END_TEST

static void *main_cancelled_put_silence(void *arg)
{
    ax_queue *q = mkq(AX_QUEUE_FIFO, 1);
    ax_task *t;
    (void)arg;
    put_arg_q = q;
    axt_assert_rc(ax_queue_try_put(q, AXT_P(1)), 0);
    axt_spawn(&t, put_one, AXT_P(2));
    ax_yield();
    ck_assert_ptr_eq(try_get_val(q), AXT_P(1)); /* wakes the putter */
    axt_assert_rc(ax_cancel(t), 0);
    axt_assert_rc(ax_await(t, NULL), AX_ECANCELED);
    /* Not put, and its slot is free again. */
    ck_assert_uint_eq(ax_queue_size(q), 0);
    axt_assert_rc(ax_queue_try_put(q, AXT_P(3)), 0);
    axt_assert_rc(ax_queue_free(q), 0);
    return NULL;
}

/* CPython: QueuePutTests.test_cancelled_put_silence_value_error_exception */
START_TEST(test_cancelled_put_silence_value_error_exception)
{
    AXT_RUN_CLEAN(main_cancelled_put_silence, NULL, NULL);
}
END_TEST

/* ---- join ---------------------------------------------------------------- */

static void *main_task_done_underflow(void *arg)
{
    (void)arg;
    for (int k = 0; k < 3; k++) {
        ax_queue *q = mkq_kind((ax_queue_kind)k, 0);
        axt_assert_rc(ax_queue_task_done(q), AX_EINVAL);
        axt_assert_rc(ax_queue_free(q), 0);
    }
    return NULL;
}

/* CPython: _QueueJoinTestMixin.test_task_done_underflow (all 3 kinds) */
START_TEST(test_task_done_underflow)
{
    AXT_RUN_CLEAN(main_task_done_underflow, NULL, NULL);
}
END_TEST

static intptr_t accumulator;
static void *worker(void *arg)
{
    for (;;) {
        void *v;
        int rc = ax_queue_get(arg, &v);
        if (rc)
            return ax_task_fail(rc);
        if (AXT_I(v) < 0) {
            axt_assert_rc(ax_queue_task_done(arg), 0);
            return NULL;
        }
        accumulator += AXT_I(v);
        axt_assert_rc(ax_queue_task_done(arg), 0);
    }
}

static void *main_task_done(void *arg)
{
    (void)arg;
    for (int k = 0; k < 3; k++) {
        ax_queue *q = mkq_kind((ax_queue_kind)k, 0);
        ax_task *w[2];
        accumulator = 0;
        for (int i = 0; i < 100; i++)
            axt_assert_rc(ax_queue_try_put(q, AXT_P(i)), 0);
        for (int i = 0; i < 2; i++)
            axt_spawn(&w[i], worker, q);
        axt_assert_rc(ax_queue_join(q), 0);
        ck_assert_int_eq(accumulator, 4950);
        for (int i = 0; i < 2; i++)
            axt_assert_rc(ax_queue_try_put(q, AXT_P(-1)), 0);
        for (int i = 0; i < 2; i++)
            axt_assert_rc(ax_await(w[i], NULL), 0);
        axt_assert_rc(ax_queue_join(q), 0);
        axt_assert_rc(ax_queue_free(q), 0);
    }
    return NULL;
}

/* CPython: _QueueJoinTestMixin.test_task_done (all 3 kinds) */
START_TEST(test_task_done)
{
    AXT_RUN_CLEAN(main_task_done, NULL, NULL);
}
END_TEST

static void *main_join_empty_queue(void *arg)
{
    ax_queue *q = mkq(AX_QUEUE_FIFO, 0);
    (void)arg;
    axt_assert_rc(ax_queue_join(q), 0);
    axt_assert_rc(ax_queue_join(q), 0);
    axt_assert_rc(ax_queue_try_put(q, AXT_P(1)), 0);
    axt_assert_rc(ax_queue_join_dl(q, ax_now_ns() + 5000000), AX_ETIMEDOUT);
    ck_assert_double_eq(ax_now(), 0.005);
    axt_assert_rc(ax_queue_free(q), 0);
    return NULL;
}

/* CPython: _QueueJoinTestMixin.test_join_empty_queue */
START_TEST(test_join_empty_queue)
{
    AXT_RUN_CLEAN(main_join_empty_queue, NULL, NULL);
}
END_TEST

/* ---- shutdown (3.13) ------------------------------------------------------ */

static void assert_shut(ax_queue *q)
{
    void *v = NULL;
    axt_assert_rc(ax_queue_put(q, AXT_P(9)), AX_EQSHUTDOWN);
    axt_assert_rc(ax_queue_try_put(q, AXT_P(9)), AX_EQSHUTDOWN);
    axt_assert_rc(ax_queue_get(q, &v), AX_EQSHUTDOWN);
    axt_assert_rc(ax_queue_try_get(q, &v), AX_EQSHUTDOWN);
}

static void *main_shutdown_empty(void *arg)
{
    (void)arg;
    for (int k = 0; k < 3; k++) {
        ax_queue *q = mkq_kind((ax_queue_kind)k, 0);
        ax_task *g;
        axt_spawn(&g, get_one, q);
        ax_yield();
        axt_assert_rc(ax_queue_shutdown(q, false), 0);
        ck_assert_uint_eq(ax_queue_size(q), 0);
        axt_assert_rc(ax_queue_join(q), 0);
        ax_yield();
        ck_assert(ax_task_done(g));
        axt_assert_rc(ax_await(g, NULL), AX_EQSHUTDOWN);
        assert_shut(q);
        axt_assert_rc(ax_queue_free(q), 0);
    }
    return NULL;
}

/* CPython: _QueueShutdownTestMixin.test_shutdown_empty (all 3 kinds) */
START_TEST(test_shutdown_empty)
{
    AXT_RUN_CLEAN(main_shutdown_empty, NULL, NULL);
}
END_TEST

static void *main_shutdown_nonempty(void *arg)
{
    (void)arg;
    for (int k = 0; k < 3; k++) {
        ax_queue *q = mkq_kind((ax_queue_kind)k, 1);
        ax_task *j, *p;
        void *v = NULL;
        put_arg_q = q;
        axt_assert_rc(ax_queue_try_put(q, AXT_P(1)), 0);
        axt_spawn(&j, join_one, q);
        axt_spawn(&p, put_one, AXT_P(2));
        ax_yield();
        ck_assert(!ax_task_done(p));
        axt_assert_rc(ax_queue_shutdown(q, false), 0);
        ck_assert_uint_eq(ax_queue_size(q), 1);
        ax_yield();
        ck_assert(ax_task_done(p));
        axt_assert_rc(ax_await(p, NULL), AX_EQSHUTDOWN);
        axt_assert_rc(ax_queue_get(q, &v), 0); /* what is left, then no */
        ck_assert_ptr_eq(v, AXT_P(1));
        ax_yield();
        ck_assert(!ax_task_done(j));
        assert_shut(q);
        axt_assert_rc(ax_queue_task_done(q), 0);
        ax_yield();
        ck_assert(ax_task_done(j));
        axt_assert_rc(ax_await(j, NULL), 0);
        axt_assert_rc(ax_queue_task_done(q), AX_EINVAL);
        axt_assert_rc(ax_queue_free(q), 0);
    }
    return NULL;
}

/* CPython: _QueueShutdownTestMixin.test_shutdown_nonempty (all 3 kinds) */
START_TEST(test_shutdown_nonempty)
{
    AXT_RUN_CLEAN(main_shutdown_nonempty, NULL, NULL);
}
END_TEST

static int released;
static intptr_t released_sum;
static void rel(void *item, void *arg)
{
    ck_assert_ptr_eq(arg, &released);
    released++;
    released_sum += AXT_I(item);
}

static ax_queue *mkq_rel(ax_queue_kind kind, size_t cap)
{
    ax_queue_opts o;
    ax_queue *q = NULL;
    memset(&o, 0, sizeof o);
    o.kind = kind;
    o.capacity = cap;
    o.cmp = cmp_int;
    o.release = rel;
    o.release_arg = &released;
    axt_assert_rc(ax_queue_new(&q, &o), 0);
    return q;
}

static void *main_shutdown_immediate(void *arg)
{
    (void)arg;
    for (int k = 0; k < 3; k++) {
        ax_queue *q = mkq_rel((ax_queue_kind)k, 0);
        ax_task *j;
        released = 0;
        axt_assert_rc(ax_queue_try_put(q, AXT_P(5)), 0);
        axt_spawn(&j, join_one, q);
        axt_assert_rc(ax_queue_shutdown(q, true), 0);
        ck_assert_uint_eq(ax_queue_size(q), 0);
        ck_assert_int_eq(released, 1); /* dropped through the callback */
        ax_yield();
        ck_assert(ax_task_done(j));
        axt_assert_rc(ax_await(j, NULL), 0);
        assert_shut(q);
        axt_assert_rc(ax_queue_task_done(q), AX_EINVAL);
        axt_assert_rc(ax_queue_free(q), 0);
    }
    return NULL;
}

/* CPython: _QueueShutdownTestMixin.test_shutdown_immediate (all 3 kinds;
 * the dropped item goes to the release callback) */
START_TEST(test_shutdown_immediate)
{
    AXT_RUN_CLEAN(main_shutdown_immediate, NULL, NULL);
}
END_TEST

static void *main_shutdown_immediate_unfinished(void *arg)
{
    (void)arg;
    for (int k = 0; k < 3; k++) {
        ax_queue *q = mkq_kind((ax_queue_kind)k, 0);
        ax_task *j;
        void *v = NULL;
        axt_assert_rc(ax_queue_try_put(q, AXT_P(1)), 0);
        axt_assert_rc(ax_queue_try_put(q, AXT_P(1)), 0);
        axt_spawn(&j, join_one, q);
        axt_assert_rc(ax_queue_get(q, &v), 0);
        axt_assert_rc(ax_queue_shutdown(q, true), 0); /* unfinished 2 -> 1 */
        ck_assert_uint_eq(ax_queue_size(q), 0);
        ax_yield();
        ck_assert(!ax_task_done(j));
        assert_shut(q);
        axt_assert_rc(ax_queue_task_done(q), 0);
        axt_assert_rc(ax_queue_task_done(q), AX_EINVAL);
        ax_yield();
        ck_assert(ax_task_done(j));
        axt_assert_rc(ax_await(j, NULL), 0);
        axt_assert_rc(ax_queue_free(q), 0);
    }
    return NULL;
}

/* CPython: _QueueShutdownTestMixin.test_shutdown_immediate_with_unfinished */
START_TEST(test_shutdown_immediate_with_unfinished)
{
    AXT_RUN_CLEAN(main_shutdown_immediate_unfinished, NULL, NULL);
}
END_TEST

static void *main_shutdown_wakes_putters_getters(void *arg)
{
    ax_queue *q = mkq_rel(AX_QUEUE_FIFO, 1), *e = mkq(AX_QUEUE_FIFO, 0);
    ax_task *p, *g;
    (void)arg;
    released = 0;
    put_arg_q = q;
    axt_assert_rc(ax_queue_try_put(q, AXT_P(1)), 0);
    axt_spawn(&p, put_one, AXT_P(2));
    axt_spawn(&g, get_one, e);
    ax_yield();
    axt_assert_rc(ax_queue_shutdown(q, true), 0);
    axt_assert_rc(ax_queue_shutdown(e, true), 0);
    axt_assert_rc(ax_await(p, NULL), AX_EQSHUTDOWN); /* its item stays its */
    axt_assert_rc(ax_await(g, NULL), AX_EQSHUTDOWN);
    ck_assert_int_eq(released, 1);
    axt_assert_rc(ax_queue_free(q), 0);
    axt_assert_rc(ax_queue_free(e), 0);
    return NULL;
}

/* An immediate shutdown wakes every waiter with AX_EQSHUTDOWN; a waiting
 * putter's item was never the queue's and is not released. */
START_TEST(test_shutdown_immediate_wakes_every_waiter)
{
    AXT_RUN_CLEAN(main_shutdown_wakes_putters_getters, NULL, NULL);
}
END_TEST

/* ---- handles, errors, release ------------------------------------------------ */

static void *main_errors(void *arg)
{
    ax_queue *q, *stale;
    ax_queue_opts o;
    void *v;
    (void)arg;
    memset(&o, 0, sizeof o);
    axt_assert_rc(ax_queue_new(NULL, NULL), AX_EINVAL);
    o.kind = AX_QUEUE_PRIORITY; /* no cmp */
    axt_assert_rc(ax_queue_new(&q, &o), AX_EINVAL);
    o.kind = (ax_queue_kind)7;
    axt_assert_rc(ax_queue_new(&q, &o), AX_EINVAL);
    axt_assert_rc(ax_queue_free(NULL), AX_EINVAL);
    axt_assert_rc(ax_queue_get(NULL, &v), AX_EINVAL);
    axt_assert_rc(ax_queue_put(NULL, NULL), AX_EINVAL);
    stale = mkq(AX_QUEUE_FIFO, 0);
    axt_assert_rc(ax_queue_get(stale, NULL), AX_EINVAL);
    axt_assert_rc(ax_queue_get_timeout(stale, &v, -1.0), AX_EINVAL);
    axt_assert_rc(ax_queue_put_dl(stale, NULL, -2), AX_EINVAL);
    axt_assert_rc(ax_queue_free(stale), 0);
    axt_assert_rc(ax_queue_free(stale), AX_ESRCH);
    axt_assert_rc(ax_queue_put(stale, NULL), AX_ESRCH);
    axt_assert_rc(ax_queue_try_get(stale, &v), AX_ESRCH);
    axt_assert_rc(ax_queue_task_done(stale), AX_ESRCH);
    axt_assert_rc(ax_queue_get_future(stale, &(ax_future *){NULL}), AX_ESRCH);
    ck_assert_uint_eq(ax_queue_size(stale), 0);
    return NULL;
}

/* Bad arguments are AX_EINVAL; a freed queue is AX_ESRCH everywhere. */
START_TEST(test_errors_and_stale_handles)
{
    AXT_RUN_CLEAN(main_errors, NULL, NULL);
}
END_TEST

static void *main_outside_task(void *arg)
{
    ax_queue *q = arg;
    void *v = NULL;
    /* A callback of the owner loop may use the nowait forms; waiting
     * needs a task. */
    axt_assert_rc(ax_queue_try_put(q, AXT_P(1)), 0);
    axt_assert_rc(ax_queue_try_get(q, &v), 0);
    axt_assert_rc(ax_queue_get(q, &v), AX_ENOTTASK);
    return NULL;
}

static void post_cb(void *arg)
{
    main_outside_task(arg);
}

static void *main_callback(void *arg)
{
    ax_queue *q = mkq(AX_QUEUE_FIFO, 0);
    (void)arg;
    axt_assert_rc(ax_loop_post(ax_loop_current(), post_cb, q), 0);
    axt_assert_rc(ax_sleep(0.001), 0);
    ck_assert_uint_eq(ax_queue_size(q), 0);
    axt_assert_rc(ax_queue_free(q), 0);
    return NULL;
}

/* Outside a task: the nowait calls work, a call that would wait is
 * AX_ENOTTASK. */
START_TEST(test_outside_task_nowait_only)
{
    AXT_RUN_CLEAN(main_callback, NULL, NULL);
}
END_TEST

static void *main_free_releases(void *arg)
{
    ax_queue *q = mkq_rel(AX_QUEUE_LIFO, 0);
    (void)arg;
    released = 0;
    released_sum = 0;
    for (int i = 1; i <= 4; i++)
        axt_assert_rc(ax_queue_try_put(q, AXT_P(i)), 0);
    ck_assert_ptr_eq(try_get_val(q), AXT_P(4));
    axt_assert_rc(ax_queue_free(q), 0);
    ck_assert_int_eq(released, 3);
    ck_assert_int_eq(released_sum, 6);
    return NULL;
}

/* Items still in a freed queue go to the release callback. */
START_TEST(test_free_releases_items)
{
    AXT_RUN_CLEAN(main_free_releases, NULL, NULL);
}
END_TEST

static void *main_deadlines(void *arg)
{
    ax_queue *q = mkq(AX_QUEUE_FIFO, 1);
    void *v = NULL;
    (void)arg;
    /* A deadline already past still puts if there is room, still takes an
     * item that is there. */
    axt_assert_rc(ax_queue_put_dl(q, AXT_P(1), ax_now_ns()), 0);
    axt_assert_rc(ax_queue_put_dl(q, AXT_P(2), ax_now_ns()), AX_ETIMEDOUT);
    axt_assert_rc(ax_queue_put_timeout(q, AXT_P(2), 0.5), AX_ETIMEDOUT);
    ck_assert_double_eq(ax_now(), 0.5);
    ck_assert_uint_eq(ax_queue_size(q), 1); /* 2 was not put */
    axt_assert_rc(ax_queue_get_dl(q, &v, ax_now_ns()), 0);
    ck_assert_ptr_eq(v, AXT_P(1));
    axt_assert_rc(ax_queue_get_timeout(q, &v, 0.0), AX_ETIMEDOUT);
    axt_assert_rc(ax_queue_get_dl(q, &v, AX_NO_DEADLINE - 1), AX_EINVAL);
    axt_assert_rc(ax_queue_free(q), 0);
    return NULL;
}

/* Timeouts and deadlines: a past deadline does what needs no waiting; a
 * put that times out leaves the item with the putter. */
START_TEST(test_deadlines_and_timeouts)
{
    AXT_RUN_CLEAN(main_deadlines, NULL, NULL);
}
END_TEST

static void *main_priority_bounded(void *arg)
{
    ax_queue *q = mkq_kind(AX_QUEUE_PRIORITY, 3);
    ax_task *p[3];
    ax_future *f;
    void *v = NULL;
    (void)arg;
    put_arg_q = q;
    for (int i = 0; i < 3; i++)
        axt_assert_rc(ax_queue_try_put(q, AXT_P(10 * (i + 1))), 0);
    for (int i = 0; i < 3; i++) /* 5, 15, 25 wait, in this order */
        axt_spawn(&p[i], put_one, AXT_P(10 * i + 5));
    ax_yield();
    ck_assert_uint_eq(ax_queue_size(q), 3);
    /* Each get frees a slot for the oldest putter, in order. */
    axt_assert_rc(ax_queue_get(q, &v), 0);
    ck_assert_ptr_eq(v, AXT_P(10));
    ax_yield();
    axt_assert_rc(ax_queue_get(q, &v), 0);
    ck_assert_ptr_eq(v, AXT_P(5));
    /* An item given back by a future freed unread comes out first again
     * by priority. */
    axt_assert_rc(ax_queue_get_future(q, &f), 0);
    axt_assert_rc(ax_future_free(f), 0);
    for (int i = 0; i < 3; i++)
        axt_assert_rc(ax_await(p[i], NULL), 0);
    {
        static const int want[] = {15, 20, 25, 30};
        for (int i = 0; i < 4; i++) {
            axt_assert_rc(ax_queue_try_get(q, &v), 0);
            ck_assert_int_eq(AXT_I(v), want[i]);
        }
    }
    axt_assert_rc(ax_queue_free(q), 0);
    return NULL;
}

/* A bounded priority queue: putters get slots in arrival order, items
 * come out by priority, an item given back keeps its place. */
START_TEST(test_priority_bounded_putters_in_order)
{
    AXT_RUN_CLEAN(main_priority_bounded, NULL, NULL);
}
END_TEST

/* ---- futures: select ------------------------------------------------------- */

static void *late_put_q2(void *arg)
{
    axt_assert_rc(ax_sleep(0.5), 0);
    axt_assert_rc(ax_queue_put(arg, AXT_P(22)), 0);
    return NULL;
}

static void *main_select(void *arg)
{
    ax_queue *q1 = mkq(AX_QUEUE_FIFO, 0), *q2 = mkq(AX_QUEUE_FIFO, 0);
    ax_future *f[2];
    ax_task *t;
    size_t idx = 9;
    void *v = NULL;
    (void)arg;
    axt_assert_rc(ax_queue_get_future(q1, &f[0]), 0);
    axt_assert_rc(ax_queue_get_future(q2, &f[1]), 0);
    /* Nothing comes: the timeout. */
    axt_assert_rc(ax_wait_any(f, 2, 0.25, &idx), AX_ETIMEDOUT);
    ck_assert_double_eq(ax_now(), 0.25);
    axt_spawn(&t, late_put_q2, q2);
    axt_assert_rc(ax_wait_any(f, 2, 1.0, &idx), 0);
    ck_assert_uint_eq(idx, 1);
    ck_assert_double_eq(ax_now(), 0.75);
    axt_assert_rc(ax_future_result(f[1], &v), 0);
    ck_assert_ptr_eq(v, AXT_P(22));
    axt_assert_rc(ax_queue_free(q1), AX_EBUSY); /* f[0] still there */
    /* The losing get is withdrawn when its future goes: a later item
     * stays in q1. */
    axt_assert_rc(ax_future_free(f[0]), 0);
    axt_assert_rc(ax_future_free(f[1]), 0);
    axt_assert_rc(ax_queue_try_put(q1, AXT_P(11)), 0);
    ck_assert_uint_eq(ax_queue_size(q1), 1);
    axt_assert_rc(ax_await(t, NULL), 0);
    axt_assert_rc(ax_queue_free(q1), 0);
    axt_assert_rc(ax_queue_free(q2), 0);
    return NULL;
}

/* Go's select: get futures of two queues and a timeout in ax_wait_any. */
START_TEST(test_select_two_queues_and_timeout)
{
    AXT_RUN_CLEAN(main_select, NULL, NULL);
}
END_TEST

static void *main_future_unread_item(void *arg)
{
    ax_queue *q = mkq(AX_QUEUE_FIFO, 0);
    ax_future *f, *g;
    ax_task *t;
    void *v = NULL;
    (void)arg;
    axt_assert_rc(ax_queue_get_future(q, &f), 0);
    axt_assert_rc(ax_queue_try_put(q, AXT_P(1)), 0); /* handed to f */
    axt_assert_rc(ax_queue_try_put(q, AXT_P(2)), 0);
    ck_assert(ax_future_done(f));
    ck_assert_uint_eq(ax_queue_size(q), 1);
    axt_assert_rc(ax_future_free(f), 0); /* unread: 1 goes back first */
    ck_assert_uint_eq(ax_queue_size(q), 2);
    ck_assert_ptr_eq(try_get_val(q), AXT_P(1));
    /* A read one stays read. */
    axt_assert_rc(ax_queue_get_future(q, &f), 0);
    axt_assert_rc(ax_future_result(f, &v), 0);
    ck_assert_ptr_eq(v, AXT_P(2));
    axt_assert_rc(ax_future_free(f), 0);
    ck_assert_uint_eq(ax_queue_size(q), 0);
    /* Given back while a getter waits: the getter has it. */
    axt_spawn(&t, get_one, q);
    axt_assert_rc(ax_queue_get_future(q, &g), 0);
    ax_yield(); /* t waits behind g */
    axt_assert_rc(ax_queue_try_put(q, AXT_P(3)), 0); /* to g */
    axt_assert_rc(ax_future_free(g), 0);
    axt_assert_rc(ax_await(t, &v), 0);
    ck_assert_ptr_eq(v, AXT_P(3));
    /* A cancelled pending get future is withdrawn. */
    axt_assert_rc(ax_queue_get_future(q, &f), 0);
    axt_assert_rc(ax_cancel(f), 0);
    axt_assert_rc(ax_queue_try_put(q, AXT_P(4)), 0);
    ck_assert_uint_eq(ax_queue_size(q), 1);
    axt_assert_rc(ax_future_result(f, NULL), AX_ECANCELED);
    axt_assert_rc(ax_future_free(f), 0);
    axt_assert_rc(ax_queue_free(q), 0);
    return NULL;
}

/* A get future freed with an item nobody read gives it back (to the head,
 * or to the next getter); cancelling a pending one withdraws it. */
START_TEST(test_get_future_unread_item_goes_back)
{
    AXT_RUN_CLEAN(main_future_unread_item, NULL, NULL);
}
END_TEST

static void *main_put_future(void *arg)
{
    ax_queue *q = mkq_rel(AX_QUEUE_FIFO, 1);
    ax_future *f, *g, *j;
    (void)arg;
    released = 0;
    released_sum = 0;
    axt_assert_rc(ax_queue_put_future(q, AXT_P(1), &f), 0);
    ck_assert(ax_future_done(f)); /* room: in at once */
    axt_assert_rc(ax_future_result(f, NULL), 0);
    axt_assert_rc(ax_queue_put_future(q, AXT_P(2), &g), 0);
    ck_assert(!ax_future_done(g));
    axt_assert_rc(ax_queue_join_future(q, &j), 0);
    ck_assert(!ax_future_done(j));
    ck_assert_ptr_eq(try_get_val(q), AXT_P(1)); /* 2 goes in */
    ck_assert(ax_future_done(g));
    ck_assert_ptr_eq(try_get_val(q), AXT_P(2));
    axt_assert_rc(ax_future_free(g), 0);
    /* A pending put cancelled: the item goes to the release callback. */
    axt_assert_rc(ax_queue_try_put(q, AXT_P(3)), 0);
    axt_assert_rc(ax_future_free(f), 0);
    axt_assert_rc(ax_queue_put_future(q, AXT_P(40), &f), 0);
    axt_assert_rc(ax_cancel(f), 0);
    ck_assert_int_eq(released, 1);
    ck_assert_int_eq(released_sum, 40);
    axt_assert_rc(ax_future_free(f), 0);
    /* Freed while pending: released too. */
    axt_assert_rc(ax_queue_put_future(q, AXT_P(50), &f), 0);
    axt_assert_rc(ax_future_free(f), 0);
    ck_assert_int_eq(released, 2);
    for (int i = 0; i < 3; i++)
        axt_assert_rc(ax_queue_task_done(q), 0);
    ck_assert(ax_future_done(j));
    axt_assert_rc(ax_await(j, NULL), 0);
    axt_assert_rc(ax_future_free(j), 0);
    axt_assert_rc(ax_queue_shutdown(q, false), 0);
    axt_assert_rc(ax_queue_put_future(q, AXT_P(60), &f), AX_EQSHUTDOWN);
    axt_assert_rc(ax_queue_free(q), 0);
    ck_assert_int_eq(released, 3); /* 3 was still in the queue */
    return NULL;
}

/* A put future owns its item: in when there is room, released when the
 * put is cancelled or freed first; a join future completes at 0. */
START_TEST(test_put_future_and_join_future)
{
    AXT_RUN_CLEAN(main_put_future, NULL, NULL);
}
END_TEST

/* ---- across loops ---------------------------------------------------------- */

typedef struct xs {
    ax_queue *q;
    long per;         /* items per producer */
    int id;
    long count;       /* a consumer's */
    uint64_t sum;
} xs;

static void *x_producer(void *arg)
{
    xs *s = arg;
    for (long i = 0; i < s->per; i++) {
        int rc = ax_queue_put(s->q, AXT_P(s->id * s->per + i + 1));
        if (rc)
            return ax_task_fail(rc);
    }
    return NULL;
}

static void *x_consumer(void *arg)
{
    xs *s = arg;
    for (;;) {
        void *v;
        int rc = ax_queue_get(s->q, &v);
        if (rc == AX_EQSHUTDOWN)
            return NULL;
        if (rc)
            return ax_task_fail(rc);
        s->count++;
        s->sum += (uint64_t)AXT_I(v);
    }
}

static void *main_cross(void *arg)
{
    long total = getenv("AX_UNDER_VALGRIND") ? 20000 : 1000000;
    const char *scale = getenv("AX_STRESS_SCALE"); /* the repeat rounds */
    if (scale && atol(scale) > 1)
        total /= atol(scale);
    ax_queue *q;
    ax_queue_opts o;
    xs p[4], c[4];
    ax_task *tp[4], *tc[4];
    long count = 0;
    uint64_t sum = 0, n = (uint64_t)total;
    (void)arg;
    memset(&o, 0, sizeof o);
    o.capacity = 256;
    axt_assert_rc(ax_queue_new(&q, &o), 0);
    for (int i = 0; i < 4; i++) {
        memset(&p[i], 0, sizeof p[i]);
        memset(&c[i], 0, sizeof c[i]);
        p[i].q = c[i].q = q;
        p[i].per = total / 4;
        p[i].id = i;
        axt_assert_rc(axt_spawn_on(ax_loop_at(i % 2), &tp[i], x_producer,
                                   &p[i]), 0);
        axt_assert_rc(axt_spawn_on(ax_loop_at((i + 1) % 2), &tc[i],
                                   x_consumer, &c[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        axt_assert_rc(ax_await(tp[i], NULL), 0);
    axt_assert_rc(ax_queue_shutdown(q, false), 0); /* consumers drain */
    for (int i = 0; i < 4; i++) {
        axt_assert_rc(ax_await(tc[i], NULL), 0);
        count += c[i].count;
        sum += c[i].sum;
    }
    ck_assert_int_eq(count, total);
    ck_assert_uint_eq(sum, n * (n + 1) / 2);
    axt_assert_rc(ax_queue_free(q), 0);
    return NULL;
}

/* 4 producers and 4 consumers on 2 loops through one queue owned by loop
 * 0: every item arrives exactly once (count and sum). */
START_TEST(test_cross_loop_producers_consumers)
{
    AXT_RUN_LOOPS_CLEAN(2, main_cross, NULL);
}
END_TEST

static void *x_select(void *arg)
{
    ax_queue **qs = arg;
    ax_future *f[2];
    size_t idx = 9;
    void *v = NULL;
    axt_assert_rc(ax_queue_get_future(qs[0], &f[0]), 0);
    axt_assert_rc(ax_queue_get_future(qs[1], &f[1]), 0);
    /* No timeout: the loops' virtual clocks do not order a sleep over
     * there against a timeout here. */
    axt_assert_rc(ax_wait_any(f, 2, -1.0, &idx), 0);
    ck_assert_uint_eq(idx, 1);
    axt_assert_rc(ax_future_result(f[1], &v), 0);
    ck_assert_ptr_eq(v, AXT_P(2));
    axt_assert_rc(ax_future_free(f[0]), 0);
    axt_assert_rc(ax_future_free(f[1]), 0);
    /* Timeout from another loop, and a try that finds nothing. */
    axt_assert_rc(ax_queue_get_timeout(qs[0], &v, 0.1), AX_ETIMEDOUT);
    axt_assert_rc(ax_queue_try_get(qs[0], &v), AX_EAGAIN);
    axt_assert_rc(ax_queue_put(qs[0], AXT_P(5)), 0);
    axt_assert_rc(ax_queue_task_done(qs[1]), 0);
    axt_assert_rc(ax_queue_task_done(qs[1]), AX_EINVAL);
    return NULL;
}

static void *main_cross_select(void *arg)
{
    ax_queue *qs[2];
    ax_task *t;
    (void)arg;
    qs[0] = mkq(AX_QUEUE_FIFO, 0);
    qs[1] = mkq(AX_QUEUE_FIFO, 0);
    axt_assert_rc(axt_spawn_on(ax_loop_at(1), &t, x_select, qs), 0);
    axt_assert_rc(ax_queue_put(qs[1], AXT_P(2)), 0);
    axt_assert_rc(ax_await(t, NULL), 0);
    ck_assert_ptr_eq(try_get_val(qs[0]), AXT_P(5));
    ck_assert_uint_eq(ax_queue_size(qs[0]), 0);
    axt_assert_rc(ax_queue_free(qs[0]), 0);
    axt_assert_rc(ax_queue_free(qs[1]), 0);
    return NULL;
}

/* Select from another loop: get futures on the caller's loop, the first
 * item wins, the loser is withdrawn (the queue frees clean). */
START_TEST(test_cross_loop_select)
{
    AXT_RUN_LOOPS_CLEAN(2, main_cross_select, NULL);
}
END_TEST

static void *x_cancelled_getter(void *arg)
{
    void *v = NULL;
    int rc = ax_queue_get(arg, &v);
    return rc ? ax_task_fail(rc) : v;
}

static void *main_cross_cancel(void *arg)
{
    ax_queue *q = mkq(AX_QUEUE_FIFO, 0);
    ax_task *t;
    void *v = NULL;
    (void)arg;
    for (int i = 0; i < 50; i++) {
        int rc;
        axt_assert_rc(axt_spawn_on(ax_loop_at(1), &t, x_cancelled_getter, q),
                      0);
        for (int k = 0; k < i % 5; k++)
            ax_yield();
        axt_assert_rc(ax_queue_try_put(q, AXT_P(i + 1)), 0);
        axt_assert_rc(ax_cancel(t), 0);
        rc = ax_await(t, &v);
        if (rc == 0) {
            ck_assert_ptr_eq(v, AXT_P(i + 1));
        } else {
            /* Cancelled: the item is back (or never left). */
            axt_assert_rc(rc, AX_ECANCELED);
            for (int k = 0; k < 10 && ax_queue_size(q) == 0; k++)
                axt_assert_rc(ax_sleep(0.001), 0);
            ck_assert_ptr_eq(try_get_val(q), AXT_P(i + 1));
        }
        ck_assert_uint_eq(ax_queue_size(q), 0);
    }
    axt_assert_rc(ax_queue_free(q), 0);
    return NULL;
}

/* A getter on another loop cancelled around the moment it is handed an
 * item: the item is either its result or back in the queue, never lost. */
START_TEST(test_cross_loop_cancelled_getter_loses_nothing)
{
    AXT_RUN_LOOPS_CLEAN(2, main_cross_cancel, NULL);
}
END_TEST

static void *x_futures(void *arg)
{
    ax_queue *q = arg;
    ax_future *f;
    size_t idx = 9;
    /* A get future from here that receives an item nobody reads: freed,
     * the item travels back to the queue, which is full again (cap 1). */
    axt_assert_rc(ax_queue_get_future(q, &f), 0);
    axt_assert_rc(ax_wait_any(&f, 1, -1.0, &idx), 0);
    axt_assert_rc(ax_future_free(f), 0);
    /* A put future into the full queue, cancelled before there is room:
     * its item goes to the release callback on the owner loop. */
    axt_assert_rc(ax_queue_put_future(q, AXT_P(30), &f), 0);
    ck_assert(!ax_future_done(f)); /* the cancel follows it to the owner */
    axt_assert_rc(ax_cancel(f), 0);
    axt_assert_rc(ax_future_free(f), 0);
    /* Join from here waits for the owner's task_done. */
    axt_assert_rc(ax_queue_join(q), 0);
    /* Shutdown from here wakes the owner loop's getter. */
    axt_assert_rc(ax_queue_shutdown(q, false), 0);
    return NULL;
}

static void *main_cross_futures(void *arg)
{
    ax_queue *q = mkq_rel(AX_QUEUE_FIFO, 1);
    ax_task *t, *g;
    void *v = NULL;
    (void)arg;
    released = 0;
    released_sum = 0;
    axt_assert_rc(axt_spawn_on(ax_loop_at(1), &t, x_futures, q), 0);
    axt_assert_rc(ax_sleep(0.01), 0);
    axt_assert_rc(ax_queue_put(q, AXT_P(7)), 0); /* to the get future */
    for (int k = 0; k < 1000 && released == 0; k++)
        axt_assert_rc(ax_sleep(0.001), 0);
    ck_assert_int_eq(released, 1);
    ck_assert_int_eq(released_sum, 30);
    axt_assert_rc(ax_queue_get(q, &v), 0); /* back, unread */
    ck_assert_ptr_eq(v, AXT_P(7));
    ck_assert_uint_eq(ax_queue_size(q), 0);
    axt_spawn(&g, get_one, q);
    axt_assert_rc(ax_queue_task_done(q), 0);
    axt_assert_rc(ax_await(t, NULL), 0);
    axt_assert_rc(ax_await(g, NULL), AX_EQSHUTDOWN);
    axt_assert_rc(ax_queue_free(q), 0);
    return NULL;
}

/* Futures, join and shutdown from another loop: an unread item comes
 * back, a cancelled put future's item is released on the owner loop, the
 * remote join and shutdown act on the owner's queue. */
START_TEST(test_cross_loop_futures_join_shutdown)
{
    AXT_RUN_LOOPS_CLEAN(2, main_cross_futures, NULL);
}
END_TEST

/* ---- credits: puts from another loop that need no round trip ------------- */

typedef struct xput {
    ax_queue *q;
    long first, n;
    long done; /* puts that returned 0 */
} xput;

static void *x_put_n(void *arg)
{
    xput *p = arg;
    for (long i = 0; i < p->n; i++) {
        int rc = ax_queue_put(p->q, AXT_P(p->first + i));
        if (rc == AX_EQSHUTDOWN)
            return NULL;
        if (rc)
            return ax_task_fail(rc);
        p->done++;
    }
    return NULL;
}

static void *main_credit_bound(void *arg)
{
    ax_queue *q = mkq(AX_QUEUE_FIFO, 8);
    xput p = {.q = q, .first = 1, .n = 1};
    ax_task *t;
    (void)arg;
    /* One put from loop 1: the answer lends loop 1 some of the 7 free
     * slots, which it keeps, unspent. */
    axt_assert_rc(axt_spawn_on(ax_loop_at(1), &t, x_put_n, &p), 0);
    axt_assert_rc(ax_await(t, NULL), 0);
    ck_assert_uint_eq(ax_queue_size(q), 1);
    /* Seven puts here must all fit (capacity 8): the ones that find the
     * free slots lent away wait until loop 1 gives them back. Without
     * the revoke the fifth would wait for ever. */
    for (long i = 0; i < 7; i++)
        axt_assert_rc(ax_queue_put(q, AXT_P(10 + i)), 0);
    ck_assert_uint_eq(ax_queue_size(q), 8);
    axt_assert_rc(ax_queue_try_put(q, AXT_P(99)), AX_EAGAIN);
    /* Order: the remote item first, then this loop's. */
    ck_assert_ptr_eq(try_get_val(q), AXT_P(1));
    for (long i = 0; i < 7; i++)
        ck_assert_ptr_eq(try_get_val(q), AXT_P(10 + i));
    /* A burst from loop 1 into the empty queue, spending credits: never
     * more than the capacity in the queue, every item once, in order. */
    p.first = 100;
    p.n = 50;
    p.done = 0;
    axt_assert_rc(axt_spawn_on(ax_loop_at(1), &t, x_put_n, &p), 0);
    for (long i = 0; i < 50; i++) {
        void *v = NULL;
        ck_assert_uint_le(ax_queue_size(q), 8);
        axt_assert_rc(ax_queue_get(q, &v), 0);
        ck_assert_ptr_eq(v, AXT_P(100 + i));
    }
    axt_assert_rc(ax_await(t, NULL), 0);
    ck_assert_int_eq(p.done, 50);
    ck_assert_uint_eq(ax_queue_size(q), 0);
    /* Freed while loop 1 may still hold credits: gone for the caller at
     * once (a stale handle), the memory when the credits are back. */
    axt_assert_rc(ax_queue_free(q), 0);
    axt_assert_rc(ax_queue_try_put(q, AXT_P(1)), AX_ESRCH);
    return NULL;
}

/* Puts from another loop spend lent slots without a round trip, yet the
 * capacity holds, per-sender order holds, and slots lent to a loop that
 * stopped putting come back when a putter here needs them. */
START_TEST(test_cross_loop_credits_bound_order_revoke)
{
    AXT_RUN_LOOPS_CLEAN(2, main_credit_bound, NULL);
}
END_TEST

static void *main_credit_shutdown(void *arg)
{
    ax_queue *q = mkq_rel(AX_QUEUE_FIFO, 0);
    xput p;
    ax_task *t;
    long got = 0;
    (void)arg;
    released = 0;
    released_sum = 0;
    memset(&p, 0, sizeof p);
    p.q = q;
    p.first = 1;
    p.n = 100000;
    axt_assert_rc(axt_spawn_on(ax_loop_at(1), &t, x_put_n, &p), 0);
    while (got < 500) {
        void *v;
        axt_assert_rc(ax_queue_get(q, &v), 0);
        got++;
    }
    /* Items sent on credit may be on their way: an immediate shutdown
     * hands them to the release callback when they land. */
    axt_assert_rc(ax_queue_shutdown(q, true), 0);
    axt_assert_rc(ax_await(t, NULL), 0);
    ck_assert_int_lt(p.done, 100000);
    /* Conservation: every put that returned 0 was got or released. The
     * in-flight ones land before the producer's end reached us (one
     * inbox, one sender). */
    ck_assert_int_eq(got + released, p.done);
    axt_assert_rc(ax_queue_free(q), 0);
    return NULL;
}

/* An immediate shutdown while another loop is putting on credit: no item
 * is lost or counted twice (got + released = puts that returned 0). */
START_TEST(test_cross_loop_credits_shutdown_conserves)
{
    AXT_RUN_LOOPS_CLEAN(2, main_credit_shutdown, NULL);
}
END_TEST

Suite *ax_queue_suite(void)
{
    Suite *s = suite_create("queue");
    TCase *tc = tcase_create("asyncio");
    TCase *x = tcase_create("axon");
    /* Its own case, so that the suite's repeat rounds can run just it. */
    TCase *xl = tcase_create("cross");

    tcase_set_timeout(tc, AXT_TIMEOUT);
    tcase_set_timeout(x, AXT_TIMEOUT * 3);
    tcase_add_test(tc, test_empty);
    tcase_add_test(tc, test_full);
    tcase_add_test(tc, test_order);
    tcase_add_test(tc, test_maxsize);
    tcase_add_test(tc, test_blocking_get);
    tcase_add_test(tc, test_get_with_putters);
    tcase_add_test(tc, test_blocking_get_wait);
    tcase_add_test(tc, test_get_cancelled_race);
    tcase_add_test(tc, test_get_with_waiting_putters);
    tcase_add_test(tc, test_why_are_getters_waiting);
    tcase_add_test(tc, test_cancelled_getters_not_being_held_in_self_getters);
    tcase_add_test(tc, test_blocking_put_wait);
    tcase_add_test(tc, test_get_cancel_drop_one_pending_reader);
    tcase_add_test(tc, test_get_cancel_drop_many_pending_readers);
    tcase_add_test(tc, test_put_cancel_drop);
    tcase_add_test(tc, test_put_cancelled_race);
    tcase_add_test(tc, test_put_with_waiting_getters);
    tcase_add_test(tc, test_cancelled_puts_not_being_held_in_self_putters);
    tcase_add_test(tc, test_cancelled_put_silence_value_error_exception);
    tcase_add_test(tc, test_task_done_underflow);
    tcase_add_test(tc, test_task_done);
    tcase_add_test(tc, test_join_empty_queue);
    tcase_add_test(tc, test_shutdown_empty);
    tcase_add_test(tc, test_shutdown_nonempty);
    tcase_add_test(tc, test_shutdown_immediate);
    tcase_add_test(tc, test_shutdown_immediate_with_unfinished);
    suite_add_tcase(s, tc);
    tcase_add_test(x, test_shutdown_immediate_wakes_every_waiter);
    tcase_add_test(x, test_errors_and_stale_handles);
    tcase_add_test(x, test_outside_task_nowait_only);
    tcase_add_test(x, test_free_releases_items);
    tcase_add_test(x, test_deadlines_and_timeouts);
    tcase_add_test(x, test_priority_bounded_putters_in_order);
    tcase_add_test(x, test_select_two_queues_and_timeout);
    tcase_add_test(x, test_get_future_unread_item_goes_back);
    tcase_add_test(x, test_put_future_and_join_future);
    suite_add_tcase(s, x);
    tcase_set_timeout(xl, AXT_TIMEOUT * 3);
    tcase_add_test(xl, test_cross_loop_producers_consumers);
    tcase_add_test(xl, test_cross_loop_select);
    tcase_add_test(xl, test_cross_loop_cancelled_getter_loses_nothing);
    tcase_add_test(xl, test_cross_loop_futures_join_shutdown);
    tcase_add_test(xl, test_cross_loop_credits_bound_order_revoke);
    tcase_add_test(xl, test_cross_loop_credits_shutdown_conserves);
    suite_add_tcase(s, xl);
    return s;
}

int main(void)
{
    return ax_test_main(ax_queue_suite());
}
