/* SPDX-License-Identifier: MIT */
/*
 * check_sharedstack.c: tasks on the loop's shared stack
 * (ax_task_opts.shared_stack): many parked at once on every supported
 * wait, their locals intact across parks, results and cancellation, and
 * the calls they must refuse with AX_ENOTSUP.
 */
#include <stdlib.h>
#include <string.h>

#include "axtest.h"

Suite *ax_sharedstack_suite(void);

static const ax_task_opts SH = {.shared_stack = true};
static const ax_task_opts SH_EAGER = {.shared_stack = true, .eager = true};

/* Enough tasks that the stack changes hands all the time; fewer under
 * valgrind, where each copy is slow, and under TSan, where each task is a
 * fiber of its own (400 cost the tsan row 14 s in two cases). */
static int ntasks(void)
{
    return getenv("AX_UNDER_VALGRIND") ? 40 : AXT_TSAN ? 100 : 400;
}

/* A local array filled from @seed, checked after every park: a wrong or
 * partial copy back shows here. */
#define NLOC 96
static unsigned fill(unsigned *a, unsigned seed)
{
    unsigned sum = 0;
    for (int i = 0; i < NLOC; i++) {
        a[i] = seed * 2654435761u + (unsigned)i * 40503u;
        sum += a[i] ^ (unsigned)i;
    }
    return sum;
}

static unsigned sum_of(const volatile unsigned *a)
{
    unsigned sum = 0;
    for (int i = 0; i < NLOC; i++)
        sum += a[i] ^ (unsigned)i;
    return sum;
}

static ax_future *gate; /* set by main: releases the awaiters */
static ax_lock *lk;
static int in_lock, lock_max;

/* Parks on sleep, yield, a future, a lock and a nested gather, checking
 * its locals each time; returns seed + 1 only if every check held. */
static void *worker(void *arg)
{
    unsigned seed = (unsigned)AXT_I(arg);
    volatile unsigned loc[NLOC];
    unsigned want = fill((unsigned *)loc, seed);
    void *v = NULL;

    ck_assert_int_eq(ax_sleep(0.001 * (seed % 7 + 1)), 0);
    ck_assert_uint_eq(sum_of(loc), want);
    ck_assert_int_eq(ax_yield(), 0);
    ck_assert_uint_eq(sum_of(loc), want);
    ck_assert_int_eq(ax_await_future(gate, &v), 0);
    ck_assert_ptr_eq(v, AXT_P(77));
    ck_assert_uint_eq(sum_of(loc), want);
    ck_assert_int_eq(ax_lock_acquire(lk, -1), 0);
    if (++in_lock > lock_max)
        lock_max = in_lock;
    ck_assert_int_eq(ax_sleep(0.001), 0); /* others queue on the lock */
    in_lock--;
    ck_assert_int_eq(ax_lock_release(lk), 0);
    ck_assert_uint_eq(sum_of(loc), want);
    return AXT_P(seed + 1);
}

static void *main_many(void *arg)
{
    int n = ntasks();
    ax_task **t = calloc((size_t)n, sizeof *t);
    ax_future **fs = calloc((size_t)n, sizeof *fs);
    void **res = calloc((size_t)n, sizeof *res);
    (void)arg;
    ck_assert(t && fs && res);
    axt_assert_rc(ax_future_new(&gate), 0);
    axt_assert_rc(ax_lock_new(&lk), 0);
    for (int i = 0; i < n; i++) {
        axt_assert_rc(ax_spawn_with(&t[i], worker, AXT_P(i), &SH), 0);
        fs[i] = AX_FUTURE(t[i]);
    }
    axt_assert_rc(ax_sleep(0.5), 0); /* all parked on the gate now */
    axt_assert_rc(ax_future_set_result(gate, AXT_P(77)), 0);
    axt_assert_rc(ax_gather(fs, (size_t)n, res), 0);
    for (int i = 0; i < n; i++)
        ck_assert_ptr_eq(res[i], AXT_P(i + 1));
    ck_assert_int_eq(lock_max, 1);
    axt_assert_rc(ax_lock_free(lk), 0);
    axt_assert_rc(ax_future_free(gate), 0);
    free(t);
    free(fs);
    free(res);
    return NULL;
}

/* Hundreds of shared-stack tasks (100 under TSan, 40 under valgrind)
 * parked at once on sleep, a future and a lock, gathered by an own-stack
 * task: every result right, every local array intact, the lock held by
 * one at a time. */
START_TEST(test_many_parked)
{
    AXT_RUN_CLEAN(main_many, NULL, NULL);
}
END_TEST

/* ------------------------------------------------------------------------ */

static void *leaf(void *arg)
{
    ck_assert_int_eq(ax_sleep(0.01), 0);
    return AXT_P(AXT_I(arg) * 3);
}

/* A shared-stack task that spawns shared-stack children, gathers them
 * into an array on its own stack (written while it is parked: the runtime
 * must not write there), awaits one more and waits on a group. */
static const ax_task_opts *kid_opts = &SH; /* nester's children */

static void *nester(void *arg)
{
    intptr_t base = AXT_I(arg);
    volatile unsigned loc[NLOC];
    unsigned want = fill((unsigned *)loc, (unsigned)base);
    ax_task *c[5], *one;
    ax_future *fs[5];
    void *res[5] = {0};
    int errs[5] = {1, 1, 1, 1, 1};
    void *v = NULL;
    intptr_t sum = 0;
    ax_group *g;

    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(
            ax_spawn_with(&c[i], leaf, AXT_P(base + i), kid_opts), 0);
        fs[i] = AX_FUTURE(c[i]);
    }
    ck_assert_int_eq(ax_gather_all(fs, 5, res, errs), 0);
    for (int i = 0; i < 5; i++) {
        ck_assert_ptr_eq(res[i], AXT_P((base + i) * 3));
        ck_assert_int_eq(errs[i], 0);
        sum += AXT_I(res[i]);
    }
    ck_assert_uint_eq(sum_of(loc), want);
    ck_assert_int_eq(ax_spawn_with(&one, leaf, AXT_P(base), kid_opts), 0);
    ck_assert_int_eq(ax_await(one, &v), 0);
    ck_assert_ptr_eq(v, AXT_P(base * 3));
    ck_assert_int_eq(ax_group_new(&g), 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(ax_group_spawn(g, NULL, leaf, AXT_P(i)), 0);
    ck_assert_int_eq(ax_group_wait(g), 0);
    ck_assert_int_eq(ax_group_free(g), 0);
    ck_assert_uint_eq(sum_of(loc), want);
    return AXT_P(sum);
}

static void *main_nested(void *arg)
{
    ax_task *t[8];
    ax_future *fs[8];
    void *res[8];
    (void)arg;
    for (int i = 0; i < 8; i++) {
        axt_assert_rc(ax_spawn_with(&t[i], nester, AXT_P(i * 10), &SH), 0);
        fs[i] = AX_FUTURE(t[i]);
    }
    axt_assert_rc(ax_gather(fs, 8, res), 0);
    for (int i = 0; i < 8; i++)
        ck_assert_ptr_eq(res[i], AXT_P(3 * (5 * i * 10 + 10)));
    return NULL;
}

START_TEST(test_nested)
{
    AXT_RUN_CLEAN(main_nested, NULL, NULL);
}
END_TEST

/* The same with eager children: each starts on the shared stack while its
 * spawner, also a shared-stack task, is in the middle of a spawn call, so
 * the spawner's bytes are parked there and then. */
START_TEST(test_nested_eager)
{
    kid_opts = &SH_EAGER;
    AXT_RUN_CLEAN(main_nested, NULL, NULL);
    kid_opts = &SH;
}
END_TEST

/* ------------------------------------------------------------------------ */

static int cancelled_seen;

static void *sleeper(void *arg)
{
    volatile unsigned loc[NLOC];
    unsigned want = fill((unsigned *)loc, (unsigned)AXT_I(arg));
    int rc = ax_sleep(3600);

    ck_assert_int_eq(rc, AX_ECANCELED);
    ck_assert_uint_eq(sum_of(loc), want);
    /* Clean-up may park again after the cancellation. */
    ck_assert_int_eq(ax_sleep(0.001), 0);
    ck_assert_uint_eq(sum_of(loc), want);
    cancelled_seen++;
    return NULL;
}

static void *main_cancel(void *arg)
{
    int n = ntasks();
    ax_task **t = calloc((size_t)n, sizeof *t);
    (void)arg;
    ck_assert_ptr_nonnull(t);
    cancelled_seen = 0;
    for (int i = 0; i < n; i++)
        axt_assert_rc(ax_spawn_with(&t[i], sleeper, AXT_P(i), &SH), 0);
    axt_assert_rc(ax_sleep(1), 0);
    for (int i = n - 1; i >= 0; i--)
        axt_assert_rc(ax_cancel(t[i]), 0);
    for (int i = 0; i < n; i++)
        axt_assert_rc(ax_await(t[i], NULL), AX_ECANCELED);
    ck_assert_int_eq(cancelled_seen, n);
    free(t);
    return NULL;
}

/* Cancelled while parked, in reverse order: each wakes with
 * AX_ECANCELED, its locals intact, parks again to clean up, and ends
 * cancelled. */
START_TEST(test_cancel_parked)
{
    AXT_RUN_CLEAN(main_cancel, NULL, NULL);
}
END_TEST

/* ------------------------------------------------------------------------ */

static void *refuser(void *arg)
{
    ax_scope sc;
    ax_queue *q;
    ax_future *f;
    void *item = NULL;
    size_t nd = 0;
    (void)arg;
    ck_assert_int_eq(ax_future_new(&f), 0);
    /* Waits whose state lives on the caller's stack: refused before any
     * wait, and nothing is left registered. */
    ck_assert_int_eq(ax_scope_enter(&sc, 1.0), AX_ENOTSUP);
    ck_assert_int_eq(ax_wait(&f, 1, AX_WAIT_ALL_COMPLETED, 1.0, &nd, NULL),
                     AX_ENOTSUP);
    ck_assert_int_eq(ax_queue_new(&q, NULL), 0);
    ck_assert_int_eq(ax_queue_get(q, &item), AX_ENOTSUP);
    /* What needs no wait still works, and so does the wait through a
     * future. */
    ck_assert_int_eq(ax_queue_put(q, AXT_P(5)), 0);
    ck_assert_int_eq(ax_queue_get(q, &item), 0);
    ck_assert_ptr_eq(item, AXT_P(5));
    ck_assert_int_eq(ax_queue_free(q), 0);
    ck_assert_int_eq(ax_future_set_result(f, AXT_P(9)), 0);
    ck_assert_int_eq(ax_await_future(f, &item), 0);
    ck_assert_ptr_eq(item, AXT_P(9));
    ck_assert_int_eq(ax_future_free(f), 0);
    return AXT_P(1);
}

static void *main_misuse(void *arg)
{
    ax_task_opts bad = {.shared_stack = true, .stack_size = 256 * 1024};
    ax_task *t;
    void *v = NULL;
    (void)arg;
    /* stack_size with shared_stack: the stack is the loop's. */
    axt_assert_rc(ax_spawn_with(&t, refuser, NULL, &bad), AX_EINVAL);
    axt_assert_rc(ax_spawn_with(&t, refuser, NULL, &SH), 0);
    axt_assert_rc(ax_await(t, &v), 0);
    ck_assert_ptr_eq(v, AXT_P(1));
    return NULL;
}

/* The calls a shared-stack task may not make return AX_ENOTSUP; a stack
 * size with the option is AX_EINVAL. */
START_TEST(test_misuse)
{
    AXT_RUN_CLEAN(main_misuse, NULL, NULL);
}
END_TEST

/* ------------------------------------------------------------------------ */

static void *deep(void *arg)
{
    int depth = (int)AXT_I(arg);
    volatile unsigned loc[NLOC];
    unsigned want = fill((unsigned *)loc, (unsigned)depth);

    if (depth > 0) {
        deep(AXT_P(depth - 1)); /* a deeper stack at the park below */
    } else {
        ck_assert_int_eq(ax_sleep(0.001), 0);
        ck_assert_int_eq(ax_yield(), 0);
    }
    ck_assert_uint_eq(sum_of(loc), want);
    return AXT_P(depth);
}

static void *main_mixed(void *arg)
{
    ax_task *t[40];
    (void)arg;
    /* Own-stack and shared-stack tasks interleaved, parked at different
     * depths, so every kind of switch happens. */
    for (int i = 0; i < 40; i++) {
        ax_task_opts o = {.shared_stack = i % 3 != 0};
        axt_assert_rc(ax_spawn_with(&t[i], deep, AXT_P(i % 13), &o), 0);
    }
    for (int i = 0; i < 40; i++) {
        void *v = NULL;
        axt_assert_rc(ax_await(t[i], &v), 0);
        ck_assert_ptr_eq(v, AXT_P(i % 13));
    }
    return NULL;
}

START_TEST(test_mixed_depths)
{
    AXT_RUN_CLEAN(main_mixed, NULL, NULL);
}
END_TEST

Suite *ax_sharedstack_suite(void)
{
    Suite *s = suite_create("sharedstack");
    TCase *tc = axt_tcase(s, "sharedstack");

    tcase_add_test(tc, test_many_parked);
    tcase_add_test(tc, test_nested);
    tcase_add_test(tc, test_nested_eager);
    tcase_add_test(tc, test_cancel_parked);
    tcase_add_test(tc, test_misuse);
    tcase_add_test(tc, test_mixed_depths);
    return s;
}

#ifndef AX_TEST_NO_MAIN
int main(void)
{
    return ax_test_main(ax_sharedstack_suite());
}
#endif
