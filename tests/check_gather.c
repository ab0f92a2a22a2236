/* SPDX-License-Identifier: MIT */
/* check_gather.c: tests for axon/gather.h (gather, wait_any, groups). */
#include <math.h>

#include "axtest.h"

Suite *ax_gather_suite(void);

/* ------------------------------------------------------------------------ */
/* ax_gather                                                                */

static axt_probe rev_p[3] = {
    {.sleep = 3.0, .ret = AXT_P(100), .wtag = "0"},
    {.sleep = 2.0, .ret = AXT_P(101), .wtag = "1"},
    {.sleep = 1.0, .ret = AXT_P(102), .wtag = "2"},
};

static void *main_gather_order(void *arg)
{
    ax_task *t[3];
    ax_future *fs[3];
    void *res[3] = {NULL, NULL, NULL};
    (void)arg;
    for (int i = 0; i < 3; i++) {
        axt_spawn(&t[i], axt_probe_fn, &rev_p[i]);
        fs[i] = AX_FUTURE(t[i]);
    }
    axt_assert_rc(ax_gather(fs, 3, res), 0);
    AXT_ASSERT_LOG("210"); /* they finished in reverse order */
    for (int i = 0; i < 3; i++)
        ck_assert_ptr_eq(res[i], AXT_P(100 + i)); /* argument order */
    ck_assert_double_eq(ax_now(), 3.0);
    return NULL;
}

/* Results land in argument order though the tasks finish in reverse; the
 * gather awaits the tasks (the handles are released: report clean). */
START_TEST(test_gather_argument_order)
{
    AXT_RUN_CLEAN(main_gather_order, NULL, NULL);
}
END_TEST

static void *main_gather_empty(void *arg)
{
    ax_future *g;
    void *v = AXT_P(0x3);
    (void)arg;
    axt_assert_rc(ax_gather(NULL, 0, NULL), 0);
    axt_assert_rc(ax_gather_all(NULL, 0, NULL, NULL), 0);
    axt_assert_rc(
        ax_gather_start(&g, NULL, 0, NULL, NULL, AX_GATHER_FAIL_FAST), 0);
    ck_assert(ax_future_done(g)); /* done at once */
    axt_assert_rc(ax_future_result(g, &v), 0);
    axt_assert_rc(ax_await(g, NULL), 0);
    axt_assert_rc(ax_future_free(g), 0);
    ck_assert_double_eq(ax_now(), 0.0);
    return NULL;
}

/* n == 0: done at once with status 0 (a NULL array is fine then). */
START_TEST(test_gather_empty)
{
    AXT_RUN_CLEAN(main_gather_empty, NULL, NULL);
}
END_TEST

static axt_probe ff_p[3] = {
    {.sleep = 1.0, .fail = -77},
    {.sleep = 5.0, .ret = AXT_P(1)},
    {.sleep = 10.0, .ret = AXT_P(2)},
};

static void *main_gather_fail_fast(void *arg)
{
    ax_task *t[3];
    ax_future *fs[3];
    void *res[3] = {NULL, NULL, NULL};
    (void)arg;
    for (int i = 0; i < 3; i++) {
        axt_spawn(&t[i], axt_probe_fn, &ff_p[i]);
        fs[i] = AX_FUTURE(t[i]);
    }
    axt_assert_rc(ax_gather(fs, 3, res), -77);
    axt_assert_rc(ax_yield(), 0); /* let cancelled siblings finish */
    ck_assert_double_eq(ax_now(), 1.0); /* did not wait for 5 or 10 */
    for (int i = 1; i < 3; i++) {
        axt_assert_rc(ff_p[i].sleep_rc, AX_ECANCELED);
        ck_assert_int_eq(ff_p[i].cleanup, 1);
        ck_assert_int_eq(ff_p[i].finished, 1);
    }
    return NULL;
}

/* Fail-fast: the first failure's code is returned and the siblings still
 * running are cancelled (their clean-up runs). */
START_TEST(test_gather_fail_fast)
{
    AXT_RUN_CLEAN(main_gather_fail_fast, NULL, NULL);
}
END_TEST

static axt_probe col_p[4] = {
    {.sleep = 0.5, .ret = AXT_P(10)},
    {.sleep = 2.0, .fail = -5},
    {.sleep = 1.0, .fail = -7},
    {.sleep = 1.5, .ret = AXT_P(13)},
};

static int ff_order_a_rc = 1;
static void *fails_own_when_cancelled(void *arg)
{
    (void)arg;
    ff_order_a_rc = ax_sleep(5.0);
    if (ff_order_a_rc == AX_ECANCELED)
        return ax_task_fail(-1); /* a lower index, but fails later */
    return NULL;
}

static void *main_gather_fail_fast_order(void *arg)
{
    ax_task *a, *b;
    ax_future *fs[2];
    static axt_probe pb = {.sleep = 1.0, .fail = -2};
    (void)arg;
    axt_spawn(&a, fails_own_when_cancelled, NULL);
    axt_spawn(&b, axt_probe_fn, &pb);
    fs[0] = AX_FUTURE(a);
    fs[1] = AX_FUTURE(b);
    axt_assert_rc(ax_gather(fs, 2, NULL), -2); /* first in completion order */
    axt_assert_rc(ax_yield(), 0);
    axt_assert_rc(ff_order_a_rc, AX_ECANCELED);
    ck_assert_double_eq(ax_now(), 1.0);
    return NULL;
}

/* Fail-fast takes the first failure in completion order, not argument
 * order: index 1 fails at t=1; index 0, cancelled, then fails with -1. */
START_TEST(test_gather_fail_fast_completion_order)
{
    AXT_RUN_CLEAN(main_gather_fail_fast_order, NULL, NULL);
}
END_TEST

static void *main_gather_already_failed(void *arg)
{
    ax_future *f, *fs[2];
    ax_task *t;
    static axt_probe p = {.sleep = 10.0};
    (void)arg;
    axt_assert_rc(ax_future_new(&f), 0);
    axt_assert_rc(ax_future_set_error(f, -9), 0); /* failed before */
    axt_spawn(&t, axt_probe_fn, &p);
    fs[0] = AX_FUTURE(t);
    fs[1] = f;
    axt_assert_rc(ax_gather(fs, 2, NULL), -9);
    axt_assert_rc(ax_yield(), 0);
    ck_assert_double_eq(ax_now(), 0.0);
    ck_assert_int_eq(p.started, 1);
    axt_assert_rc(p.sleep_rc, AX_ECANCELED);
    axt_assert_rc(ax_future_free(f), 0);
    return NULL;
}

/* Fail-fast with a child that had already failed: the gather ends with its
 * code at once and the running sibling is cancelled. */
START_TEST(test_gather_already_failed_child)
{
    AXT_RUN_CLEAN(main_gather_already_failed, NULL, NULL);
}
END_TEST

static void *main_gather_collect(void *arg)
{
    ax_task *t[4];
    ax_future *fs[4];
    void *res[4] = {NULL, NULL, NULL, NULL};
    int errs[4] = {1, 1, 1, 1};
    (void)arg;
    for (int i = 0; i < 4; i++) {
        axt_spawn(&t[i], axt_probe_fn, &col_p[i]);
        fs[i] = AX_FUTURE(t[i]);
    }
    /* -7 fails first in time, but -5 comes first in argument order */
    axt_assert_rc(ax_gather_all(fs, 4, res, errs), -5);
    axt_assert_rc(errs[0], 0);
    axt_assert_rc(errs[1], -5);
    axt_assert_rc(errs[2], -7);
    axt_assert_rc(errs[3], 0);
    ck_assert_ptr_eq(res[0], AXT_P(10));
    ck_assert_ptr_eq(res[3], AXT_P(13));
    ck_assert_double_eq(ax_now(), 2.0); /* waited for all */
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(col_p[i].cleanup, 0); /* nobody was cancelled */
        ck_assert_int_eq(col_p[i].finished, 1);
    }
    return NULL;
}

/* Collect mode: waits for all, errors[] gets each child's code, the status
 * is the first non-zero code in argument order. */
START_TEST(test_gather_collect)
{
    AXT_RUN_CLEAN(main_gather_collect, NULL, NULL);
}
END_TEST

static void *main_gather_collect_start(void *arg)
{
    ax_task *t[2];
    ax_future *fs[2], *g;
    int errs[2] = {1, 1};
    void *res[2] = {NULL, NULL};
    (void)arg;
    axt_spawn(&t[0], axt_fail_with, AXT_P(-8));
    axt_spawn(&t[1], axt_return_arg, AXT_P(9));
    fs[0] = AX_FUTURE(t[0]);
    fs[1] = AX_FUTURE(t[1]);
    axt_assert_rc(ax_gather_start(&g, fs, 2, res, errs, AX_GATHER_COLLECT), 0);
    axt_assert_rc(ax_await(g, NULL), -8);
    axt_assert_rc(errs[0], -8);
    axt_assert_rc(errs[1], 0);
    ck_assert_ptr_eq(res[1], AXT_P(9));
    axt_assert_rc(ax_future_free(g), 0);
    return NULL;
}

/* ax_gather_start with AX_GATHER_COLLECT: same via the returned future. */
START_TEST(test_gather_start_collect)
{
    AXT_RUN_CLEAN(main_gather_collect_start, NULL, NULL);
}
END_TEST

static void *main_gather_nested(void *arg)
{
    ax_task *t[3];
    ax_future *in1, *in2, *outer[2], *fs1[2], *fs2[1];
    static axt_probe p[3] = {{.sleep = 2.0, .ret = AXT_P(1)},
                             {.sleep = 1.0, .ret = AXT_P(2)},
                             {.sleep = 3.0, .ret = AXT_P(3)}};
    void *r1[2] = {NULL, NULL}, *r2[1] = {NULL};
    (void)arg;
    for (int i = 0; i < 3; i++)
        axt_spawn(&t[i], axt_probe_fn, &p[i]);
    fs1[0] = AX_FUTURE(t[0]);
    fs1[1] = AX_FUTURE(t[1]);
    fs2[0] = AX_FUTURE(t[2]);
    axt_assert_rc(ax_gather_start(&in1, fs1, 2, r1, NULL, AX_GATHER_FAIL_FAST),
                  0);
    axt_assert_rc(ax_gather_start(&in2, fs2, 1, r2, NULL, AX_GATHER_FAIL_FAST),
                  0);
    outer[0] = in1;
    outer[1] = in2;
    axt_assert_rc(ax_gather(outer, 2, NULL), 0);
    ck_assert_ptr_eq(r1[0], AXT_P(1));
    ck_assert_ptr_eq(r1[1], AXT_P(2));
    ck_assert_ptr_eq(r2[0], AXT_P(3));
    ck_assert_double_eq(ax_now(), 3.0);
    /* gather futures stay their owner's */
    axt_assert_rc(ax_future_free(in1), 0);
    axt_assert_rc(ax_future_free(in2), 0);
    return NULL;
}

/* A gather of gathers: inner results filled, status 0, then freed. */
START_TEST(test_gather_nested)
{
    AXT_RUN_CLEAN(main_gather_nested, NULL, NULL);
}
END_TEST

static void *main_gather_nested_fail(void *arg)
{
    ax_task *t[3];
    ax_future *in, *outer[2], *fs[2];
    static axt_probe p[3] = {{.sleep = 1.0, .fail = -44},
                             {.sleep = 5.0},
                             {.sleep = 5.0}};
    (void)arg;
    for (int i = 0; i < 3; i++)
        axt_spawn(&t[i], axt_probe_fn, &p[i]);
    fs[0] = AX_FUTURE(t[0]);
    fs[1] = AX_FUTURE(t[1]);
    axt_assert_rc(ax_gather_start(&in, fs, 2, NULL, NULL, AX_GATHER_FAIL_FAST),
                  0);
    outer[0] = in;
    outer[1] = AX_FUTURE(t[2]);
    axt_assert_rc(ax_gather(outer, 2, NULL), -44);
    axt_assert_rc(ax_yield(), 0);
    ck_assert_double_eq(ax_now(), 1.0);
    axt_assert_rc(p[1].sleep_rc, AX_ECANCELED); /* inner sibling */
    axt_assert_rc(p[2].sleep_rc, AX_ECANCELED); /* outer sibling */
    axt_assert_rc(ax_future_result(in, NULL), -44);
    axt_assert_rc(ax_future_free(in), 0);
    return NULL;
}

/* A failure deep in a nested gather propagates and cancels at both levels. */
START_TEST(test_gather_nested_failure)
{
    AXT_RUN_CLEAN(main_gather_nested_fail, NULL, NULL);
}
END_TEST

static axt_probe gc_p[2] = {{.sleep = 10.0, .cleanup_sleep = 1.0},
                            {.sleep = 10.0}};
static void *main_cancel_gather_future(void *arg)
{
    ax_task *t[2];
    ax_future *fs[2], *g;
    double done_at;
    (void)arg;
    for (int i = 0; i < 2; i++) {
        axt_spawn(&t[i], axt_probe_fn, &gc_p[i]);
        fs[i] = AX_FUTURE(t[i]);
    }
    axt_assert_rc(ax_gather_start(&g, fs, 2, NULL, NULL, AX_GATHER_FAIL_FAST),
                  0);
    axt_assert_rc(ax_yield(), 0); /* children sleep */
    axt_assert_rc(ax_cancel(g), 0);
    axt_assert_rc(ax_await(g, NULL), AX_ECANCELED);
    done_at = ax_now();
    axt_assert_rc(ax_yield(), 0);
    for (int i = 0; i < 2; i++) {
        axt_assert_rc(gc_p[i].sleep_rc, AX_ECANCELED);
        ck_assert_int_eq(gc_p[i].cleanup, 1);
    }
    /* cancel is delivered once: the clean-up sleep is not cut short */
    axt_assert_rc(gc_p[0].cleanup_rc, 0);
    /* the gather ended when its last child did, after the 1 s clean-up */
    ck_assert_double_eq(done_at, 1.0);
    axt_assert_rc(ax_cancel(g), AX_EALREADY);
    axt_assert_rc(ax_future_free(g), 0);
    return NULL;
}

/* Cancelling a gather future cancels its children; it ends AX_ECANCELED. */
START_TEST(test_cancel_gather_future)
{
    AXT_RUN_CLEAN(main_cancel_gather_future, NULL, NULL);
    ck_assert_int_eq(gc_p[0].finished, 1);
    ck_assert_int_eq(gc_p[1].finished, 1);
}
END_TEST

static axt_probe fp_p[2] = {{.sleep = 10.0, .cleanup_sleep = 1.0},
                            {.sleep = 10.0}};
static void *main_free_pending_gather(void *arg)
{
    ax_task *t[2];
    ax_future *fs[2], *g;
    (void)arg;
    for (int i = 0; i < 2; i++) {
        axt_spawn(&t[i], axt_probe_fn, &fp_p[i]);
        fs[i] = AX_FUTURE(t[i]);
    }
    axt_assert_rc(ax_gather_start(&g, fs, 2, NULL, NULL, AX_GATHER_FAIL_FAST),
                  0);
    axt_assert_rc(ax_yield(), 0);
    axt_assert_rc(ax_future_free(g), 0); /* cancels, frees when ended */
    axt_assert_rc(ax_sleep(2.0), 0);
    for (int i = 0; i < 2; i++) {
        axt_assert_rc(fp_p[i].sleep_rc, AX_ECANCELED);
        ck_assert_int_eq(fp_p[i].finished, 1);
    }
    axt_assert_rc(fp_p[0].cleanup_rc, 0); /* cancel delivered once */
    ck_assert_double_eq(fp_p[0].woke_at, 0.0);
    return NULL;
}

/* Freeing a pending gather future cancels its children; everything is
 * released (no leak, no report). */
START_TEST(test_free_pending_gather)
{
    AXT_RUN_CLEAN(main_free_pending_gather, NULL, NULL);
}
END_TEST

static axt_probe cw_p[2] = {{.sleep = 10.0, .cleanup_sleep = 1.0},
                            {.sleep = 10.0}};
static int cw_gather_rc = 1, cw_children_done_at_return;
static void *gathers_two(void *arg)
{
    ax_task *t[2];
    ax_future *fs[2];
    (void)arg;
    for (int i = 0; i < 2; i++) {
        axt_spawn(&t[i], axt_probe_fn, &cw_p[i]);
        fs[i] = AX_FUTURE(t[i]);
    }
    cw_gather_rc = ax_gather(fs, 2, NULL);
    cw_children_done_at_return = cw_p[0].finished && cw_p[1].finished;
    return NULL;
}

static void *main_cancel_gatherer(void *arg)
{
    ax_task *w;
    (void)arg;
    axt_spawn(&w, gathers_two, NULL);
    axt_assert_rc(ax_sleep(1.0), 0); /* w gathers, children sleep */
    axt_assert_rc(ax_cancel(w), 0);
    axt_await_task(w, AX_ECANCELED);
    ck_assert_double_eq(ax_now(), 2.0); /* child clean-up waited for */
    return NULL;
}

/* Cancelling the task blocked in ax_gather cancels the children, waits for
 * them, and the gather returns AX_ECANCELED. */
START_TEST(test_cancel_gathering_task)
{
    AXT_RUN_CLEAN(main_cancel_gatherer, NULL, NULL);
    axt_assert_rc(cw_gather_rc, AX_ECANCELED);
    ck_assert_int_eq(cw_children_done_at_return, 1);
    for (int i = 0; i < 2; i++) {
        axt_assert_rc(cw_p[i].sleep_rc, AX_ECANCELED);
        ck_assert_int_eq(cw_p[i].cleanup, 1);
    }
    axt_assert_rc(cw_p[0].cleanup_rc, 0); /* cancel delivered once */
}
END_TEST

static void *set_two_later(void *arg)
{
    ax_future **f = arg;
    axt_assert_rc(ax_sleep(1.0), 0);
    axt_assert_rc(ax_future_set_result(f[1], AXT_P(21)), 0);
    axt_assert_rc(ax_sleep(1.0), 0);
    axt_assert_rc(ax_future_set_result(f[0], AXT_P(20)), 0);
    return NULL;
}

static void *main_gather_plain(void *arg)
{
    ax_future *f[2];
    ax_task *s;
    void *res[2] = {NULL, NULL};
    (void)arg;
    axt_assert_rc(ax_future_new(&f[0]), 0);
    axt_assert_rc(ax_future_new(&f[1]), 0);
    axt_spawn(&s, set_two_later, f);
    axt_assert_rc(ax_gather(f, 2, res), 0);
    ck_assert_ptr_eq(res[0], AXT_P(20));
    ck_assert_ptr_eq(res[1], AXT_P(21));
    ck_assert_double_eq(ax_now(), 2.0);
    axt_await_task(s, 0);
    /* plain futures stay their owner's: freeing them is ours and works */
    axt_assert_rc(ax_future_free(f[0]), 0);
    axt_assert_rc(ax_future_free(f[1]), 0);
    return NULL;
}

/* Gathering plain futures: results in order; the futures stay ours. */
START_TEST(test_gather_plain_futures)
{
    AXT_RUN_CLEAN(main_gather_plain, NULL, NULL);
}
END_TEST

static void *main_gather_mixed(void *arg)
{
    ax_future *f, *fs[2];
    ax_task *t;
    void *res[2] = {NULL, NULL};
    (void)arg;
    axt_assert_rc(ax_future_new(&f), 0);
    axt_assert_rc(ax_future_set_result(f, AXT_P(1)), 0); /* already done */
    axt_spawn(&t, axt_return_arg, AXT_P(2));
    fs[0] = f;
    fs[1] = AX_FUTURE(t);
    axt_assert_rc(ax_gather(fs, 2, res), 0);
    ck_assert_ptr_eq(res[0], AXT_P(1));
    ck_assert_ptr_eq(res[1], AXT_P(2));
    axt_assert_rc(ax_future_free(f), 0);
    return NULL;
}

/* Gathering a done plain future together with a task. */
START_TEST(test_gather_mixed_done_future_and_task)
{
    AXT_RUN_CLEAN(main_gather_mixed, NULL, NULL);
}
END_TEST

static void *main_gather_einval(void *arg)
{
    ax_task *t, *u;
    ax_future *f, *g = AXT_P(0x1), *fs[3];
    (void)arg;
    axt_spawn(&t, axt_return_arg, AXT_P(5));
    axt_spawn(&u, axt_return_arg, AXT_P(6));
    axt_assert_rc(ax_future_new(&f), 0);

    /* NULL array with n > 0 */
    axt_assert_rc(ax_gather(NULL, 2, NULL), AX_EINVAL);
    axt_assert_rc(ax_gather_all(NULL, 1, NULL, NULL), AX_EINVAL);
    axt_assert_rc(
        ax_gather_start(&g, NULL, 1, NULL, NULL, AX_GATHER_FAIL_FAST),
        AX_EINVAL);
    /* a NULL element (after a valid task, which must not be taken) */
    fs[0] = AX_FUTURE(t);
    fs[1] = NULL;
    axt_assert_rc(ax_gather(fs, 2, NULL), AX_EINVAL);
    axt_assert_rc(ax_wait_any(fs, 2, -1.0, NULL), AX_EINVAL);
    /* a duplicate element */
    fs[1] = AX_FUTURE(u);
    fs[2] = AX_FUTURE(t);
    axt_assert_rc(ax_gather(fs, 3, NULL), AX_EINVAL);
    fs[0] = f;
    fs[1] = f;
    axt_assert_rc(ax_gather(fs, 2, NULL), AX_EINVAL);
    /* unknown flags */
    fs[0] = AX_FUTURE(t);
    axt_assert_rc(ax_gather_start(&g, fs, 1, NULL, NULL, 7), AX_EINVAL);
    axt_assert_rc(ax_gather_start(&g, fs, 1, NULL, NULL, -1), AX_EINVAL);
    ck_assert_ptr_eq(g, AXT_P(0x1)); /* never written */

    /* on error nothing was taken: the handles are still ours */
    ck_assert_ptr_eq(axt_await_task(t, 0), AXT_P(5));
    ck_assert_ptr_eq(axt_await_task(u, 0), AXT_P(6));
    axt_assert_rc(ax_future_free(f), 0);
    return NULL;
}

/* AX_EINVAL: NULL array with n > 0, NULL element, duplicate element, bad
 * flags; nothing is taken on error. */
START_TEST(test_gather_einval)
{
    AXT_RUN_CLEAN(main_gather_einval, NULL, NULL);
}
END_TEST

static void *await_task_arg(void *arg)
{
    void *r = NULL;
    int rc = ax_await((ax_task *)arg, &r);
    return rc == 0 ? r : ax_task_fail(rc);
}

static void *main_gather_ebusy(void *arg)
{
    ax_task *t, *w, *u, *v;
    ax_future *fs[2], *g1, *g2 = AXT_P(0x1);
    static axt_probe p = {.sleep = 1.0, .ret = AXT_P(3)};
    (void)arg;
    /* t is awaited by w */
    axt_spawn(&t, axt_probe_fn, &p);
    axt_spawn(&w, await_task_arg, t);
    axt_assert_rc(ax_yield(), 0);
    axt_spawn(&u, axt_return_arg, AXT_P(4));
    fs[0] = AX_FUTURE(u);
    fs[1] = AX_FUTURE(t);
    axt_assert_rc(ax_gather(fs, 2, NULL), AX_EBUSY);
    ck_assert_ptr_eq(axt_await_task(u, 0), AXT_P(4)); /* u not taken */
    ck_assert_ptr_eq(axt_await_task(w, 0), AXT_P(3));

    /* v is owned by a gather already */
    axt_spawn(&v, axt_return_arg, AXT_P(5));
    fs[0] = AX_FUTURE(v);
    axt_assert_rc(ax_gather_start(&g1, fs, 1, NULL, NULL, AX_GATHER_FAIL_FAST),
                  0);
    axt_assert_rc(ax_gather_start(&g2, fs, 1, NULL, NULL, AX_GATHER_FAIL_FAST),
                  AX_EBUSY);
    ck_assert_ptr_eq(g2, AXT_P(0x1));
    axt_assert_rc(ax_await(v, NULL), AX_EBUSY); /* owned by the gather */
    axt_assert_rc(ax_await(g1, NULL), 0);
    axt_assert_rc(ax_future_free(g1), 0);
    return NULL;
}

/* AX_EBUSY for a task already awaited by another task or owned by a
 * gather; on error nothing is taken. */
START_TEST(test_gather_ebusy)
{
    AXT_RUN_CLEAN(main_gather_ebusy, NULL, NULL);
}
END_TEST

/* ax_gather_start outside a loop -> AX_EPERM. */
START_TEST(test_gather_outside_loop_eperm)
{
    ax_future *g = AXT_P(0x1);
    axt_assert_rc(ax_gather_start(&g, NULL, 0, NULL, NULL, AX_GATHER_COLLECT),
                  AX_EPERM);
    ck_assert_ptr_eq(g, AXT_P(0x1));
}
END_TEST

static axt_probe tg_p[2] = {{.sleep = 10.0, .cleanup_sleep = 1.0},
                            {.sleep = 10.0}};
static void *main_timeout_gather(void *arg)
{
    ax_task *t[2];
    ax_future *fs[2], *g;
    (void)arg;
    for (int i = 0; i < 2; i++) {
        axt_spawn(&t[i], axt_probe_fn, &tg_p[i]);
        fs[i] = AX_FUTURE(t[i]);
    }
    axt_assert_rc(ax_gather_start(&g, fs, 2, NULL, NULL, AX_GATHER_FAIL_FAST),
                  0);
    axt_assert_rc(ax_await_timeout(g, 1.0, NULL), AX_ETIMEDOUT);
    /* (whether the cancelled gather is waited for is not specified) */
    ck_assert(ax_now() >= 1.0);
    axt_assert_rc(ax_sleep(2.0), 0);
    for (int i = 0; i < 2; i++) {
        axt_assert_rc(tg_p[i].sleep_rc, AX_ECANCELED);
        ck_assert_int_eq(tg_p[i].finished, 1);
    }
    axt_assert_rc(tg_p[0].cleanup_rc, 0); /* cancel delivered once */
    ck_assert(ax_future_done(g)); /* cancelled, not left pending */
    axt_assert_rc(ax_future_free(g), 0);
    return NULL;
}

/* ax_await_timeout on a gather future: the gather (so its children) is
 * cancelled on timeout. */
START_TEST(test_timeout_cancels_gather)
{
    AXT_RUN_CLEAN(main_timeout_gather, NULL, NULL);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* ax_wait_any                                                              */

static void *main_wait_any(void *arg)
{
    ax_task *t[3];
    ax_future *fs[3];
    static axt_probe p[3] = {{.sleep = 3.0, .ret = AXT_P(0)},
                             {.sleep = 1.0, .ret = AXT_P(1)},
                             {.sleep = 2.0, .ret = AXT_P(2)}};
    size_t idx = 99;
    void *r = NULL;
    (void)arg;
    for (int i = 0; i < 3; i++) {
        axt_spawn(&t[i], axt_probe_fn, &p[i]);
        fs[i] = AX_FUTURE(t[i]);
    }
    axt_assert_rc(ax_wait_any(fs, 3, -1.0, &idx), 0);
    ck_assert_uint_eq(idx, 1);
    ck_assert_double_eq(ax_now(), 1.0);
    /* nothing consumed: read the winner without suspending */
    axt_assert_rc(ax_task_result(t[1], &r), 0);
    ck_assert_ptr_eq(r, AXT_P(1));
    ck_assert_ptr_eq(axt_await_task(t[1], 0), AXT_P(1));
    ck_assert_double_eq(ax_now(), 1.0);
    /* wait again on the rest */
    fs[1] = fs[2];
    axt_assert_rc(ax_wait_any(fs, 2, -1.0, &idx), 0);
    ck_assert_uint_eq(idx, 1); /* t[2], at 2.0 */
    ck_assert_double_eq(ax_now(), 2.0);
    ck_assert_ptr_eq(axt_await_task(t[2], 0), AXT_P(2));
    ck_assert_ptr_eq(axt_await_task(t[0], 0), AXT_P(0));
    return NULL;
}

/* wait_any returns the index of the first done, consuming nothing. */
START_TEST(test_wait_any_first_done)
{
    AXT_RUN_CLEAN(main_wait_any, NULL, NULL);
}
END_TEST

static int wa_flag;
static void *main_wait_any_already_done(void *arg)
{
    ax_future *f[3];
    ax_task *t;
    size_t idx = 99;
    (void)arg;
    for (int i = 0; i < 3; i++)
        axt_assert_rc(ax_future_new(&f[i]), 0);
    axt_assert_rc(ax_future_set_result(f[2], NULL), 0);
    axt_assert_rc(ax_future_set_error(f[1], -3), 0); /* errors count too */
    axt_spawn(&t, axt_set_flag, &wa_flag);
    axt_assert_rc(ax_wait_any(f, 3, 5.0, &idx), 0);
    ck_assert_uint_eq(idx, 1); /* the lowest done index */
    ck_assert_int_eq(wa_flag, 0); /* did not suspend */
    axt_await_task(t, 0);
    for (int i = 0; i < 3; i++)
        axt_assert_rc(ax_future_free(f[i]), 0);
    return NULL;
}

/* Already-done futures: the lowest done index, without suspending. */
START_TEST(test_wait_any_lowest_done_index)
{
    AXT_RUN_CLEAN(main_wait_any_already_done, NULL, NULL);
}
END_TEST

static void *main_wait_any_timeout(void *arg)
{
    ax_future *f[2];
    ax_task *s;
    size_t idx = 99;
    (void)arg;
    for (int i = 0; i < 2; i++)
        axt_assert_rc(ax_future_new(&f[i]), 0);
    axt_assert_rc(ax_wait_any(f, 2, 0.5, &idx), AX_ETIMEDOUT);
    ck_assert_double_eq(ax_now(), 0.5);
    ck_assert(!ax_future_done(f[0]));
    ck_assert(!ax_future_done(f[1]));
    /* negative timeout: no limit */
    axt_spawn(&s, set_two_later, f);
    axt_assert_rc(ax_wait_any(f, 2, -1.0, &idx), 0);
    ck_assert_uint_eq(idx, 1);
    ck_assert_double_eq(ax_now(), 1.5);
    axt_await_task(s, 0);
    for (int i = 0; i < 2; i++)
        axt_assert_rc(ax_future_free(f[i]), 0);
    return NULL;
}

/* wait_any: timeout -> AX_ETIMEDOUT at exactly that time; negative
 * timeout waits without limit. */
START_TEST(test_wait_any_timeout)
{
    AXT_RUN_CLEAN(main_wait_any_timeout, NULL, NULL);
}
END_TEST

static void *main_wait_any_einval(void *arg)
{
    ax_future *f, *fs[2];
    size_t idx = 99;
    (void)arg;
    axt_assert_rc(ax_future_new(&f), 0);
    fs[0] = f;
    fs[1] = NULL;
    axt_assert_rc(ax_wait_any(fs, 0, 1.0, &idx), AX_EINVAL);   /* n == 0 */
    axt_assert_rc(ax_wait_any(NULL, 1, 1.0, &idx), AX_EINVAL); /* NULL arr */
    axt_assert_rc(ax_wait_any(fs, 2, 1.0, &idx), AX_EINVAL);   /* NULL elt */
    axt_assert_rc(ax_wait_any(fs, 1, NAN, &idx), AX_EINVAL);   /* NaN */
    ck_assert_double_eq(ax_now(), 0.0);
    axt_assert_rc(ax_future_free(f), 0);
    return NULL;
}

/* wait_any bad input: n == 0, NULL array, NULL element, NaN -> AX_EINVAL. */
START_TEST(test_wait_any_einval)
{
    AXT_RUN_CLEAN(main_wait_any_einval, NULL, NULL);
}
END_TEST

static int wac_rc = 1;
static void *waits_any(void *arg)
{
    size_t idx;
    wac_rc = ax_wait_any((ax_future *const *)arg, 1, -1.0, &idx);
    return NULL;
}

static void *main_wait_any_cancelled(void *arg)
{
    ax_future *f;
    ax_task *w;
    (void)arg;
    axt_assert_rc(ax_future_new(&f), 0);
    axt_spawn(&w, waits_any, &f);
    axt_assert_rc(ax_yield(), 0);
    axt_assert_rc(ax_cancel(w), 0);
    axt_await_task(w, AX_ECANCELED);
    axt_assert_rc(wac_rc, AX_ECANCELED);
    ck_assert(!ax_future_done(f));
    axt_assert_rc(ax_future_free(f), 0);
    return NULL;
}

/* A task cancelled in wait_any gets AX_ECANCELED. */
START_TEST(test_wait_any_cancelled)
{
    AXT_RUN_CLEAN(main_wait_any_cancelled, NULL, NULL);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Task groups                                                              */

static void *main_group_ok(void *arg)
{
    ax_group *g;
    ax_task *h[3];
    static axt_probe p[3] = {{.sleep = 3.0, .ret = AXT_P(0)},
                             {.sleep = 1.0, .ret = AXT_P(1)},
                             {.sleep = 2.0, .ret = AXT_P(2)}};
    (void)arg;
    axt_assert_rc(ax_group_new(&g), 0);
    for (int i = 0; i < 3; i++)
        axt_assert_rc(ax_group_spawn(g, &h[i], axt_probe_fn, &p[i]), 0);
    axt_assert_rc(ax_group_wait(g), 0);
    ck_assert_double_eq(ax_now(), 3.0);
    for (int i = 0; i < 3; i++) {
        void *r = NULL;
        ck_assert(ax_task_done(h[i]));
        axt_assert_rc(ax_task_result(h[i], &r), 0);
        ck_assert_ptr_eq(r, AXT_P(i));
    }
    axt_assert_rc(ax_group_free(g), 0);
    return NULL;
}

/* A group whose members all succeed: wait returns 0 after the last;
 * results readable with ax_task_result; free returns 0. */
START_TEST(test_group_all_succeed)
{
    AXT_RUN_CLEAN(main_group_ok, NULL, NULL);
}
END_TEST

static axt_probe gf_p[3] = {{.sleep = 1.0, .fail = -33},
                            {.sleep = 10.0, .cleanup_sleep = 1.0},
                            {.sleep = 10.0}};
static void *main_group_fail(void *arg)
{
    ax_group *g;
    ax_task *h[3];
    (void)arg;
    axt_assert_rc(ax_group_new(&g), 0);
    for (int i = 0; i < 3; i++)
        axt_assert_rc(ax_group_spawn(g, &h[i], axt_probe_fn, &gf_p[i]), 0);
    axt_assert_rc(ax_group_wait(g), -33);
    ck_assert_double_eq(ax_now(), 2.0); /* 1 s + member's 1 s clean-up */
    axt_assert_rc(ax_task_result(h[0], NULL), -33);
    for (int i = 1; i < 3; i++) {
        ck_assert(ax_task_done(h[i])); /* all were waited for */
        axt_assert_rc(gf_p[i].sleep_rc, AX_ECANCELED);
        ck_assert_int_eq(gf_p[i].cleanup, 1);
        axt_assert_rc(ax_task_result(h[i], NULL), AX_ECANCELED);
    }
    axt_assert_rc(ax_group_free(g), 0);
    return NULL;
}

/* One member fails: the others are cancelled and waited for, and
 * ax_group_wait returns the failure code. */
START_TEST(test_group_one_fails)
{
    AXT_RUN_CLEAN(main_group_fail, NULL, NULL);
}
END_TEST

static int late_flag;
static void *main_group_spawn_after_failure(void *arg)
{
    ax_group *g;
    ax_task *h = AXT_P(0x1);
    (void)arg;
    axt_assert_rc(ax_group_new(&g), 0);
    axt_assert_rc(ax_group_spawn(g, NULL, axt_fail_with, AXT_P(-12)), 0);
    axt_assert_rc(ax_yield(), 0); /* the member fails */
    axt_assert_rc(ax_group_spawn(g, &h, axt_set_flag, &late_flag),
                  AX_ECANCELED);
    axt_assert_rc(ax_group_wait(g), -12);
    axt_assert_rc(ax_sleep(1.0), 0);
    ck_assert_int_eq(late_flag, 0); /* never started */
    axt_assert_rc(ax_group_free(g), 0);
    return NULL;
}

/* ax_group_spawn after a member failed -> AX_ECANCELED, not started. */
START_TEST(test_group_spawn_after_failure)
{
    AXT_RUN_CLEAN(main_group_spawn_after_failure, NULL, NULL);
}
END_TEST

static axt_probe gcm_p = {.sleep = 1.0, .ret = AXT_P(5)};
static void *cancels_itself(void *arg)
{
    (void)arg;
    axt_assert_rc(ax_cancel(ax_task_self()), 0);
    axt_assert_rc(ax_yield(), AX_ECANCELED);
    return NULL;
}

static void *main_group_cancelled_member(void *arg)
{
    ax_group *g;
    ax_task *a, *b;
    void *r = NULL;
    (void)arg;
    axt_assert_rc(ax_group_new(&g), 0);
    axt_assert_rc(ax_group_spawn(g, &a, cancels_itself, NULL), 0);
    axt_assert_rc(ax_group_spawn(g, &b, axt_probe_fn, &gcm_p), 0);
    axt_assert_rc(ax_group_wait(g), 0); /* AX_ECANCELED is no failure */
    axt_assert_rc(ax_task_result(a, NULL), AX_ECANCELED);
    axt_assert_rc(ax_task_result(b, &r), 0);
    ck_assert_ptr_eq(r, AXT_P(5));
    ck_assert_int_eq(gcm_p.cleanup, 0); /* b was not cancelled */
    ck_assert_double_eq(ax_now(), 1.0);
    axt_assert_rc(ax_group_free(g), 0);
    return NULL;
}

/* A member ending AX_ECANCELED is not a failure: the others go on and
 * ax_group_wait returns 0. */
START_TEST(test_group_cancelled_member_not_failure)
{
    AXT_RUN_CLEAN(main_group_cancelled_member, NULL, NULL);
}
END_TEST

#define GROUP_N 20
static axt_probe gm_p[GROUP_N];
static void *main_group_many(void *arg)
{
    ax_group *g;
    ax_task *h[GROUP_N];
    (void)arg;
    memset(gm_p, 0, sizeof gm_p);
    axt_assert_rc(ax_group_new(&g), 0);
    for (int i = 0; i < GROUP_N; i++) {
        gm_p[i].sleep = (double)(i % 5) + 1.0;
        gm_p[i].ret = AXT_P(i);
        axt_assert_rc(ax_group_spawn(g, &h[i], axt_probe_fn, &gm_p[i]), 0);
        if (i == 3)
            axt_assert_rc(ax_yield(), 0); /* some members already run */
    }
    axt_assert_rc(ax_sleep(1.0), 0); /* the 1 s sleepers end before wait */
    axt_assert_rc(ax_group_wait(g), 0);
    ck_assert_double_eq(ax_now(), 5.0);
    for (int i = 0; i < GROUP_N; i++) {
        void *r = NULL;
        axt_assert_rc(ax_task_result(h[i], &r), 0);
        ck_assert_ptr_eq(r, AXT_P(i));
    }
    axt_assert_rc(ax_group_free(g), 0);
    return NULL;
}

/* A group with more members than fit at first (20): every member is
 * waited for and its result readable. */
START_TEST(test_group_many_members)
{
    AXT_RUN_CLEAN(main_group_many, NULL, NULL);
}
END_TEST

static void *main_group_many_fail(void *arg)
{
    ax_group *g;
    (void)arg;
    memset(gm_p, 0, sizeof gm_p);
    axt_assert_rc(ax_group_new(&g), 0);
    for (int i = 0; i < GROUP_N; i++) {
        gm_p[i].sleep = 10.0;
        if (i == GROUP_N - 1) {
            gm_p[i].sleep = 1.0;
            gm_p[i].fail = -71;
        }
        axt_assert_rc(ax_group_spawn(g, NULL, axt_probe_fn, &gm_p[i]), 0);
    }
    axt_assert_rc(ax_group_wait(g), -71);
    ck_assert_double_eq(ax_now(), 1.0);
    for (int i = 0; i < GROUP_N - 1; i++)
        axt_assert_rc(gm_p[i].sleep_rc, AX_ECANCELED);
    axt_assert_rc(ax_group_free(g), 0);
    return NULL;
}

/* The last of 20 members fails: all 19 others are cancelled. */
START_TEST(test_group_many_members_failure)
{
    AXT_RUN_CLEAN(main_group_many_fail, NULL, NULL);
}
END_TEST

static void *main_group_wait_twice(void *arg)
{
    ax_group *g;
    int f = 0;
    (void)arg;
    axt_assert_rc(ax_group_new(&g), 0);
    axt_assert_rc(ax_group_spawn(g, NULL, axt_set_flag, &f), 0);
    axt_assert_rc(ax_group_wait(g), 0);
    ck_assert_int_eq(f, 1);
    axt_assert_rc(ax_group_wait(g), AX_EBUSY);
    axt_assert_rc(ax_group_spawn(g, NULL, axt_set_flag, &f), AX_EBUSY);
    axt_assert_rc(ax_group_free(g), 0);
    return NULL;
}

/* ax_group_wait twice -> AX_EBUSY; spawning after the wait -> AX_EBUSY. */
START_TEST(test_group_wait_twice_ebusy)
{
    AXT_RUN_CLEAN(main_group_wait_twice, NULL, NULL);
}
END_TEST

static axt_probe gfree_p[2] = {{.sleep = 10.0, .cleanup_sleep = 1.0},
                               {.sleep = 10.0}};
static void *main_group_free_without_wait(void *arg)
{
    ax_group *g;
    (void)arg;
    axt_assert_rc(ax_group_new(&g), 0);
    for (int i = 0; i < 2; i++)
        axt_assert_rc(ax_group_spawn(g, NULL, axt_probe_fn, &gfree_p[i]), 0);
    axt_assert_rc(ax_yield(), 0); /* members sleep */
    axt_assert_rc(ax_group_free(g), AX_EBUSY); /* group freed anyway */
    axt_assert_rc(ax_sleep(2.0), 0);
    for (int i = 0; i < 2; i++) {
        axt_assert_rc(gfree_p[i].sleep_rc, AX_ECANCELED);
        ck_assert_int_eq(gfree_p[i].finished, 1);
    }
    axt_assert_rc(gfree_p[0].cleanup_rc, 0);
    return NULL;
}

/* Freeing a group without waiting: members are cancelled and detached, the
 * call returns AX_EBUSY; nothing leaks or is reported as unawaited. */
START_TEST(test_group_free_without_wait)
{
    axt_assert_rc(ax_test_run(main_group_free_without_wait, NULL, NULL), 0);
    AXT_ASSERT_REPORT_LACKS("never awaited");
    AXT_ASSERT_REPORT_LACKS("never freed");
}
END_TEST

static void *main_group_handles_owned(void *arg)
{
    ax_group *g;
    ax_task *h;
    static axt_probe p = {.sleep = 1.0, .ret = AXT_P(4)};
    void *r = NULL;
    (void)arg;
    axt_assert_rc(ax_group_new(&g), 0);
    axt_assert_rc(ax_group_spawn(g, &h, axt_probe_fn, &p), 0);
    axt_assert_rc(ax_await(h, NULL), AX_EBUSY);   /* owned by the group */
    axt_assert_rc(ax_task_detach(h), AX_EBUSY);   /* owned by the group */
    axt_assert_rc(ax_task_result(h, NULL), AX_EPENDING);
    axt_assert_rc(ax_group_wait(g), 0);
    axt_assert_rc(ax_task_result(h, &r), 0);
    ck_assert_ptr_eq(r, AXT_P(4));
    axt_assert_rc(ax_group_free(g), 0);
    return NULL;
}

/* A member's handle is the group's: await/detach -> AX_EBUSY. */
START_TEST(test_group_member_handles_owned)
{
    AXT_RUN_CLEAN(main_group_handles_owned, NULL, NULL);
}
END_TEST

static ax_group *shared_group;
static int other_wait_rc = 1;
static void *waits_on_shared_group(void *arg)
{
    (void)arg;
    other_wait_rc = ax_group_wait(shared_group);
    return NULL;
}

static void *main_group_other_waiter(void *arg)
{
    ax_task *w;
    int f = 0;
    (void)arg;
    axt_assert_rc(ax_group_new(&shared_group), 0);
    axt_assert_rc(ax_group_spawn(shared_group, NULL, axt_set_flag, &f), 0);
    axt_spawn(&w, waits_on_shared_group, NULL);
    axt_await_task(w, 0);
    axt_assert_rc(other_wait_rc, AX_EBUSY); /* not the owner */
    axt_assert_rc(ax_group_wait(shared_group), 0);
    axt_assert_rc(ax_group_free(shared_group), 0);
    return NULL;
}

/* ax_group_wait from a task other than the owner -> AX_EBUSY. */
START_TEST(test_group_wait_other_task_ebusy)
{
    AXT_RUN_CLEAN(main_group_other_waiter, NULL, NULL);
}
END_TEST

static axt_probe gw_p[2] = {{.sleep = 10.0, .cleanup_sleep = 1.0},
                            {.sleep = 10.0}};
static int gw_rc = 1;
static void *group_owner(void *arg)
{
    ax_group *g;
    (void)arg;
    axt_assert_rc(ax_group_new(&g), 0);
    for (int i = 0; i < 2; i++)
        axt_assert_rc(ax_group_spawn(g, NULL, axt_probe_fn, &gw_p[i]), 0);
    gw_rc = ax_group_wait(g);
    axt_assert_rc(ax_group_free(g), 0);
    return NULL;
}

static void *main_group_waiter_cancelled(void *arg)
{
    ax_task *w;
    (void)arg;
    axt_spawn(&w, group_owner, NULL);
    axt_assert_rc(ax_sleep(1.0), 0);
    axt_assert_rc(ax_cancel(w), 0);
    axt_await_task(w, AX_ECANCELED);
    ck_assert_double_eq(ax_now(), 2.0); /* member clean-up waited for */
    return NULL;
}

/* The waiter of a group is cancelled: members are cancelled and waited
 * for, and ax_group_wait returns AX_ECANCELED. */
START_TEST(test_group_waiter_cancelled)
{
    AXT_RUN_CLEAN(main_group_waiter_cancelled, NULL, NULL);
    axt_assert_rc(gw_rc, AX_ECANCELED);
    for (int i = 0; i < 2; i++) {
        axt_assert_rc(gw_p[i].sleep_rc, AX_ECANCELED);
        ck_assert_int_eq(gw_p[i].finished, 1);
    }
}
END_TEST

static void *main_group_einval(void *arg)
{
    ax_group *g;
    (void)arg;
    axt_assert_rc(ax_group_new(NULL), AX_EINVAL);                  /* out */
    axt_assert_rc(ax_group_wait(NULL), AX_EINVAL);                 /* g */
    axt_assert_rc(ax_group_free(NULL), AX_EINVAL);                 /* g */
    axt_assert_rc(ax_group_spawn(NULL, NULL, axt_set_flag, NULL),  /* g */
                  AX_EINVAL);
    axt_assert_rc(ax_group_new(&g), 0);
    axt_assert_rc(ax_group_spawn(g, NULL, NULL, NULL), AX_EINVAL); /* fn */
    axt_assert_rc(ax_group_wait(g), 0); /* empty group */
    axt_assert_rc(ax_group_free(g), 0);
    return NULL;
}

/* Group bad input: NULL out/group/fn -> AX_EINVAL; an empty group waits
 * at once. */
START_TEST(test_group_einval)
{
    AXT_RUN_CLEAN(main_group_einval, NULL, NULL);
}
END_TEST

/* Bad context: ax_group_new outside a task -> AX_ENOTTASK. */
START_TEST(test_group_new_outside_task)
{
    ax_group *g = AXT_P(0x1);
    axt_assert_rc(ax_group_new(&g), AX_ENOTTASK);
    ck_assert_ptr_eq(g, AXT_P(0x1));
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Stale groups and other loops                                             */

static void *grp_member(void *arg)
{
    return arg;
}

static void *main_group_free_twice(void *arg)
{
    ax_group *g;
    (void)arg;
    axt_assert_rc(ax_group_new(&g), 0);
    axt_assert_rc(ax_group_spawn(g, NULL, grp_member, AXT_P(1)), 0);
    axt_assert_rc(ax_group_wait(g), 0);
    axt_assert_rc(ax_group_free(g), 0);
    axt_assert_rc(ax_group_free(g), AX_ESRCH);
    axt_assert_rc(ax_group_wait(g), AX_ESRCH);
    axt_assert_rc(ax_group_spawn(g, NULL, grp_member, NULL), AX_ESRCH);
    return NULL;
}

/* A freed group: free, wait and spawn are AX_ESRCH. */
START_TEST(test_group_free_twice_returns_esrch)
{
    AXT_RUN_CLEAN(main_group_free_twice, NULL, NULL);
}
END_TEST

typedef struct xgrp {
    ax_group *g;
    int spawn_rc, wait_rc, free_rc;
} xgrp;

static void *use_foreign_group(void *arg)
{
    xgrp *x = arg;
    x->spawn_rc = ax_group_spawn(x->g, NULL, grp_member, NULL);
    x->wait_rc = ax_group_wait(x->g);
    x->free_rc = ax_group_free(x->g);
    return NULL;
}

static void *main_group_other_loop(void *arg)
{
    xgrp x = {0};
    ax_task *t;
    (void)arg;
    axt_assert_rc(ax_group_new(&x.g), 0);
    axt_assert_rc(axt_spawn_on(ax_loop_at(1), &t, use_foreign_group, &x), 0);
    axt_assert_rc(ax_await(t, NULL), 0);
    axt_assert_rc(x.spawn_rc, AX_EWRONGLOOP);
    axt_assert_rc(x.wait_rc, AX_EWRONGLOOP);
    axt_assert_rc(x.free_rc, AX_EWRONGLOOP);
    axt_assert_rc(ax_group_wait(x.g), 0); /* untouched: still empty */
    axt_assert_rc(ax_group_free(x.g), 0);
    return NULL;
}

/* A group used from another loop: AX_EWRONGLOOP and the group untouched. */
START_TEST(test_group_calls_from_other_loop_return_ewrongloop)
{
    AXT_RUN_LOOPS_CLEAN(2, main_group_other_loop, NULL);
}
END_TEST

static void *main_gather_consumed_task(void *arg)
{
    ax_task *t;
    ax_future *g, *arr[1];
    size_t idx;
    (void)arg;
    axt_spawn(&t, grp_member, AXT_P(3));
    axt_assert_rc(ax_await(t, NULL), 0);
    arr[0] = ax_task_future(t);
    axt_assert_rc(ax_gather_start(&g, arr, 1, NULL, NULL, AX_GATHER_FAIL_FAST),
                  AX_ESRCH);
    axt_assert_rc(ax_gather(arr, 1, NULL), AX_ESRCH);
    axt_assert_rc(ax_wait_any(arr, 1, 0, &idx), AX_ESRCH);
    return NULL;
}

/* Gathering or waiting on a task already awaited: AX_ESRCH, nothing taken. */
START_TEST(test_gather_of_awaited_task_returns_esrch)
{
    AXT_RUN_CLEAN(main_gather_consumed_task, NULL, NULL);
}
END_TEST

Suite *ax_gather_suite(void)
{
    Suite *s = suite_create("gather");
    TCase *tc = axt_tcase(s, "gather");
    tcase_add_test(tc, test_gather_argument_order);
    tcase_add_test(tc, test_gather_empty);
    tcase_add_test(tc, test_gather_fail_fast);
    tcase_add_test(tc, test_gather_fail_fast_completion_order);
    tcase_add_test(tc, test_gather_already_failed_child);
    tcase_add_test(tc, test_gather_collect);
    tcase_add_test(tc, test_gather_start_collect);
    tcase_add_test(tc, test_gather_nested);
    tcase_add_test(tc, test_gather_nested_failure);
    tcase_add_test(tc, test_cancel_gather_future);
    tcase_add_test(tc, test_free_pending_gather);
    tcase_add_test(tc, test_cancel_gathering_task);
    tcase_add_test(tc, test_gather_plain_futures);
    tcase_add_test(tc, test_gather_mixed_done_future_and_task);
    tcase_add_test(tc, test_gather_einval);
    tcase_add_test(tc, test_gather_ebusy);
    tcase_add_test(tc, test_gather_outside_loop_eperm);
    tcase_add_test(tc, test_timeout_cancels_gather);

    tc = axt_tcase(s, "wait_any");
    tcase_add_test(tc, test_wait_any_first_done);
    tcase_add_test(tc, test_wait_any_lowest_done_index);
    tcase_add_test(tc, test_wait_any_timeout);
    tcase_add_test(tc, test_wait_any_einval);
    tcase_add_test(tc, test_wait_any_cancelled);

    tc = axt_tcase(s, "group");
    tcase_add_test(tc, test_group_all_succeed);
    tcase_add_test(tc, test_group_one_fails);
    tcase_add_test(tc, test_group_spawn_after_failure);
    tcase_add_test(tc, test_group_many_members);
    tcase_add_test(tc, test_group_many_members_failure);
    tcase_add_test(tc, test_group_cancelled_member_not_failure);
    tcase_add_test(tc, test_group_wait_twice_ebusy);
    tcase_add_test(tc, test_group_free_without_wait);
    tcase_add_test(tc, test_group_member_handles_owned);
    tcase_add_test(tc, test_group_wait_other_task_ebusy);
    tcase_add_test(tc, test_group_waiter_cancelled);
    tcase_add_test(tc, test_group_einval);
    tcase_add_test(tc, test_group_new_outside_task);

    tc = axt_tcase(s, "misuse");
    tcase_add_test(tc, test_group_free_twice_returns_esrch);
    tcase_add_test(tc, test_group_calls_from_other_loop_return_ewrongloop);
    tcase_add_test(tc, test_gather_of_awaited_task_returns_esrch);
    return s;
}

#ifndef AX_TEST_NO_MAIN
int main(void)
{
    return ax_test_main(ax_gather_suite());
}
#endif
