/* SPDX-License-Identifier: MIT */
/* check_stack.c: task stacks are taken when a task first runs, given back
 * as it ends, reused (every size, also after their slab was given back to
 * the kernel) without two live tasks ever sharing one, and ax_dump_tasks()
 * reports each stack's high-water mark. */
#include <alloca.h>

#include "axtest.h"

Suite *ax_stack_suite(void);

/* ------------------------------------------------------------------------ */
/* When a task has a stack                                                  */

static int ran;
static void *count_run(void *arg)
{
    ran++;
    return arg;
}

#define FAN 100

static void *main_taken_at_first_run(void *arg)
{
    static ax_task *t[FAN];
    ax_loop_stats s0, s1, s2;
    (void)arg;
    /* a first task so that a stack of the default size exists */
    axt_spawn(&t[0], count_run, AXT_P(0));
    axt_await_task(t[0], 0);
    axt_assert_rc(ax_loop_stats_get(&s0), 0);
    for (int i = 0; i < FAN; i++)
        axt_spawn(&t[i], count_run, AXT_P(i));
    axt_assert_rc(ax_loop_stats_get(&s1), 0);
    ck_assert_uint_eq(s1.tasks_live, s0.tasks_live + FAN);
    /* spawned, not run: no stack taken from the cache or mapped */
    ck_assert_uint_eq(s1.stacks_mapped, s0.stacks_mapped);
    ck_assert_uint_eq(s1.stacks_pooled, s0.stacks_pooled);
    for (int i = 0; i < FAN; i++)
        ck_assert_ptr_eq(axt_await_task(t[i], 0), AXT_P(i));
    ck_assert_int_eq(ran, FAN + 1);
    axt_assert_rc(ax_loop_stats_get(&s2), 0);
    /* each ended before the next ran and gave its stack to it */
    ck_assert_msg(s2.stacks_mapped <= s0.stacks_mapped + 1,
                  "%d tasks run one after another mapped %" PRIu64
                  " stacks more",
                  FAN, s2.stacks_mapped - s0.stacks_mapped);
    return NULL;
}

/* A hundred spawned children that each end without suspending: no stack is
 * taken before they run, and they run on the same one or two stacks. */
START_TEST(test_stack_taken_at_first_run)
{
    ran = 0;
    AXT_RUN_CLEAN(main_taken_at_first_run, NULL, NULL);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Reuse                                                                    */

/* More than the bytes of free stacks a loop keeps warm, so that whole
 * slabs of them are given back to the kernel (MADV_FREE) and then
 * reused. */
#define MANY 600
#define MARK 2048

/* Fill MARK bytes of its own stack with its index, let every other task
 * run, then check that nobody wrote over them. */
static void *marker(void *arg)
{
    unsigned char id = (unsigned char)(AXT_I(arg) * 7 + 1);
    volatile unsigned char *p = alloca(MARK);
    int rc;
    for (size_t i = 0; i < MARK; i++)
        p[i] = id;
    if ((rc = ax_sleep(0.001)) != 0)
        return ax_task_fail(rc);
    for (size_t i = 0; i < MARK; i++)
        if (p[i] != id)
            return ax_task_fail(AX_EINVAL);
    return arg;
}

static void fan_out(size_t stack_size)
{
    static ax_task *t[MANY];
    ax_task_opts o;
    memset(&o, 0, sizeof o);
    o.stack_size = stack_size;
    for (int i = 0; i < MANY; i++)
        axt_assert_rc(ax_spawn_with(&t[i], marker, AXT_P(i), &o), 0);
    for (int i = 0; i < MANY; i++)
        ck_assert_ptr_eq(axt_await_task(t[i], 0), AXT_P(i));
}

static void *main_reuse(void *arg)
{
    static const size_t sizes[] = {0, 32 * 1024, 100 * 1024};
    ax_loop_stats s0, s1;
    (void)arg;
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        fan_out(sizes[k]);
        axt_assert_rc(ax_loop_stats_get(&s0), 0);
        ck_assert_uint_ge(s0.stacks_mapped, MANY);
        ck_assert_uint_ge(s0.stacks_pooled, MANY);
        /* again, twice: every stack comes from the cache */
        fan_out(sizes[k]);
        fan_out(sizes[k]);
        axt_assert_rc(ax_loop_stats_get(&s1), 0);
        ck_assert_msg(s1.stacks_mapped == s0.stacks_mapped,
                      "stack size %zu: a second fan-out of %d mapped %" PRIu64
                      " more stacks",
                      sizes[k], MANY, s1.stacks_mapped - s0.stacks_mapped);
        ck_assert_uint_eq(s1.stacks_pooled, s0.stacks_pooled);
    }
    return NULL;
}

/* Fan-outs of 600 sleeping tasks, three times for each of three stack
 * sizes: each task finds its own marks intact on its stack after all the
 * others ran (no stack is given to two live tasks, including stacks whose
 * memory went back to the kernel in between), and the second and third
 * fan-outs map no stack. */
START_TEST(test_stack_reuse_every_size)
{
    AXT_RUN_CLEAN(main_reuse, NULL, NULL);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* High-water mark in ax_dump_tasks()                                       */

#define DEEP (40 * 1024)

static void *deep(void *arg)
{
    volatile char *p = alloca(DEEP);
    (void)arg;
    memset((char *)p, 0x5a, DEEP);
    p[0] = 1;
    ax_sleep(10.0);
    return NULL;
}

static void *shallow(void *arg)
{
    (void)arg;
    ax_sleep(10.0);
    return NULL;
}

/* The "stack USED/SIZE B" of the dump line that names @name. */
static bool stack_figures(const char *text, const char *name, size_t *used,
                          size_t *size)
{
    char needle[64], line[512];
    const char *p;
    snprintf(needle, sizeof needle, "'%s'", name);
    if (!axt_line_with(text, needle, line, sizeof line))
        return false;
    p = strstr(line, " stack ");
    return p != NULL && sscanf(p, " stack %zu/%zu B", used, size) == 2;
}

static char dump_text[8192];

static void dump(void)
{
    FILE *out = tmpfile();
    ck_assert_ptr_nonnull(out);
    axt_assert_rc(ax_dump_tasks(out), 0);
    axt_read_file(out, dump_text, sizeof dump_text);
    fclose(out);
}

static void *main_high_water(void *arg)
{
    ax_task *d, *s, *f, *h;
    size_t used, size, dused, sused;
    (void)arg;
    d = axt_spawn_named("deep", deep, NULL);
    s = axt_spawn_named("shallow", shallow, NULL);
    axt_assert_rc(ax_yield(), 0); /* both run to their sleep */
    f = axt_spawn_named("fresh", shallow, NULL);
    dump();
    ck_assert_msg(stack_figures(dump_text, "deep", &dused, &size),
                  "no stack figures for 'deep':\n%s", dump_text);
    ck_assert_msg(dused >= DEEP && dused <= size,
                  "deep used %zu of %zu, wrote %d:\n%s", dused, size, DEEP,
                  dump_text);
    ck_assert_msg(stack_figures(dump_text, "shallow", &sused, &size),
                  "no stack figures for 'shallow':\n%s", dump_text);
    ck_assert_msg(sused > 0 && sused < DEEP,
                  "shallow (a fresh stack) used %zu:\n%s", sused, dump_text);
    /* not run yet: no stack to report */
    ck_assert_msg(!stack_figures(dump_text, "fresh", &used, &size),
                  "'fresh' has not run but shows a stack:\n%s", dump_text);
    ck_assert_msg(axt_line_with(dump_text, "'fresh'", NULL, 0),
                  "'fresh' missing:\n%s", dump_text);

    /* deep's stack, given back as it ends, goes to the next task that
     * runs: the figure there is an upper bound, at least deep's */
    axt_assert_rc(ax_cancel(d), 0);
    axt_await_task(d, AX_ECANCELED);
    h = axt_spawn_named("heir", shallow, NULL);
    axt_assert_rc(ax_yield(), 0);
    dump();
    ck_assert_msg(stack_figures(dump_text, "heir", &used, &size),
                  "no stack figures for 'heir':\n%s", dump_text);
    ck_assert_msg(used >= DEEP, "heir on deep's stack shows %zu:\n%s", used,
                  dump_text);
    ax_task *rest[] = {s, f, h};
    for (int i = 0; i < 3; i++) {
        axt_assert_rc(ax_cancel(rest[i]), 0);
        axt_await_task(rest[i], AX_ECANCELED);
    }
    return NULL;
}

/* ax_dump_tasks() shows "stack USED/SIZE B": at least the 40 KiB a task
 * wrote, little for a task that only sleeps on a fresh stack, nothing for
 * a task that has not run, and the deeper figure on a reused stack. */
START_TEST(test_stack_high_water_in_dump)
{
    /* ASan moves large locals to its fake stack, so a deep frame need not
     * touch the task's own stack at all. */
#if defined(__SANITIZE_ADDRESS__)
    AXT_SKIP("built with ASan: locals may live on its fake stack");
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    AXT_SKIP("built with ASan: locals may live on its fake stack");
#endif
#endif
    AXT_RUN_CLEAN(main_high_water, NULL, NULL);
}
END_TEST

Suite *ax_stack_suite(void)
{
    Suite *s = suite_create("stack");
    TCase *tc = axt_tcase(s, "stack");
    tcase_add_test(tc, test_stack_taken_at_first_run);
    tcase_add_test(tc, test_stack_reuse_every_size);
    tcase_add_test(tc, test_stack_high_water_in_dump);
    return s;
}

#ifndef AX_TEST_NO_MAIN
int main(void)
{
    return ax_test_main(ax_stack_suite());
}
#endif
