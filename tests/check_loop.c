/* SPDX-License-Identifier: MIT */
/* check_loop.c: tests for axon/loop.h (ax_run, the loop, clocks, reports). */
#include <pthread.h>
#include <time.h>

#include <event2/event.h>

#include "axtest.h"

Suite *ax_loop_suite(void);

/* ------------------------------------------------------------------------ */
/* ax_run / ax_run_with                                                     */

static void *main_returns_value(void *arg)
{
    ck_assert_ptr_eq(arg, AXT_P(0x55));
    return AXT_P(0x1234);
}

/* ax_run returns 0 and stores main's return value in *result. */
START_TEST(test_run_returns_result)
{
    void *r = NULL;
    AXT_RUN_CLEAN(main_returns_value, AXT_P(0x55), &r);
    ck_assert_ptr_eq(r, AXT_P(0x1234));
}
END_TEST

/* result == NULL is allowed (plain ax_run, default options). */
START_TEST(test_run_plain_null_result)
{
    axt_assert_rc(ax_run(main_returns_value, AXT_P(0x55), NULL), 0);
}
END_TEST

/* ax_run_with(opts = NULL) means the defaults. */
START_TEST(test_run_with_null_opts)
{
    void *r = NULL;
    axt_assert_rc(ax_run_with(NULL, main_returns_value, AXT_P(0x55), &r), 0);
    ck_assert_ptr_eq(r, AXT_P(0x1234));
}
END_TEST

/* ax_run returns main's failure code: an axon code and a task's own one. */
START_TEST(test_run_returns_failure_code)
{
    axt_assert_rc(ax_test_run(axt_fail_with, AXT_P(AX_ETIMEDOUT), NULL),
                  AX_ETIMEDOUT);
    axt_assert_rc(ax_test_run(axt_fail_with, AXT_P(-777), NULL), -777);
}
END_TEST

static int self_cancel_rc = 1;
static void *main_cancels_itself(void *arg)
{
    (void)arg;
    axt_assert_rc(ax_cancel(ax_task_self()), 0);
    self_cancel_rc = ax_yield();
    return AXT_P(1); /* returns normally, but was asked to cancel */
}

/* A cancelled main task makes ax_run return AX_ECANCELED. */
START_TEST(test_run_returns_ecanceled)
{
    axt_assert_rc(ax_test_run(main_cancels_itself, NULL, NULL), AX_ECANCELED);
    axt_assert_rc(self_cancel_rc, AX_ECANCELED);
}
END_TEST

/* Bad input: fn == NULL -> AX_EINVAL. */
START_TEST(test_run_null_fn_einval)
{
    ax_opts o;
    memset(&o, 0, sizeof o);
    axt_assert_rc(ax_run(NULL, NULL, NULL), AX_EINVAL);
    axt_assert_rc(ax_run_with(&o, NULL, NULL, NULL), AX_EINVAL);
    axt_assert_rc(ax_run_with(NULL, NULL, NULL, NULL), AX_EINVAL);
}
END_TEST

static int flag_ran;
static void *set_flag_ran(void *arg)
{
    (void)arg;
    flag_ran = 1;
    return NULL;
}

/* Bad input: ax_opts.stack_size above 1 GiB -> AX_EINVAL, fn never runs. */
START_TEST(test_run_with_huge_stack_einval)
{
    ax_opts o;
    memset(&o, 0, sizeof o);
    o.virtual_clock = true;
    o.stack_size = ((size_t)1 << 30) + 4096;
    axt_assert_rc(ax_test_run_with(&o, set_flag_ran, NULL, NULL), AX_EINVAL);
    ck_assert_int_eq(flag_ran, 0);
}
END_TEST

static void *main_nested_run(void *arg)
{
    ax_opts o;
    (void)arg;
    memset(&o, 0, sizeof o);
    axt_assert_rc(ax_run(set_flag_ran, NULL, NULL), AX_ENESTED);
    axt_assert_rc(ax_run_with(&o, set_flag_ran, NULL, NULL), AX_ENESTED);
    /* the text tells what to do instead */
    ck_assert_str_eq(ax_err_name(AX_ENESTED), "AX_ENESTED");
    ck_assert_ptr_nonnull(strstr(ax_strerror(AX_ENESTED), "plain thread"));
    ck_assert_int_eq(flag_ran, 0);
    return NULL;
}

/* Nested ax_run from inside a task -> AX_ENESTED (its own code, not
 * AX_EBUSY's "already awaited"), inner fn never runs. */
START_TEST(test_run_nested_enested)
{
    AXT_RUN_CLEAN(main_nested_run, NULL, NULL);
    ck_assert_int_eq(flag_ran, 0);
}
END_TEST

/* Two loops one after the other on the same thread. */
START_TEST(test_run_twice_sequentially)
{
    void *r = NULL;
    AXT_RUN_CLEAN(main_returns_value, AXT_P(0x55), &r);
    ck_assert_ptr_eq(r, AXT_P(0x1234));
    r = NULL;
    AXT_RUN_CLEAN(main_returns_value, AXT_P(0x55), &r);
    ck_assert_ptr_eq(r, AXT_P(0x1234));
    ck_assert_ptr_null(ax_loop_current());
}
END_TEST

/* ------------------------------------------------------------------------ */
/* ax_loop_current / ax_loop_base                                           */

static ax_loop *seen_loop[2];
static void *record_loop(void *arg)
{
    seen_loop[AXT_I(arg)] = ax_loop_current();
    return NULL;
}

static void *main_loop_current(void *arg)
{
    ax_task *t;
    (void)arg;
    seen_loop[0] = ax_loop_current();
    ck_assert_ptr_nonnull(seen_loop[0]);
    axt_spawn(&t, record_loop, AXT_P(1));
    axt_await_task(t, 0);
    return NULL;
}

/* NULL outside ax_run, the same non-NULL loop in every task inside. */
START_TEST(test_loop_current)
{
    ck_assert_ptr_null(ax_loop_current());
    AXT_RUN_CLEAN(main_loop_current, NULL, NULL);
    ck_assert_ptr_nonnull(seen_loop[0]);
    ck_assert_ptr_eq(seen_loop[0], seen_loop[1]);
    ck_assert_ptr_null(ax_loop_current());
}
END_TEST

static pthread_barrier_t two_loops_barrier;
typedef struct {
    ax_loop *loop;
    int rc;
    char report[256];
} thread_loop;

static void *main_wait_other_loop(void *arg)
{
    thread_loop *tl = arg;
    tl->loop = ax_loop_current();
    /* Both loops are alive at this point. */
    pthread_barrier_wait(&two_loops_barrier);
    return NULL;
}

static void *thread_runs_loop(void *arg)
{
    thread_loop *tl = arg;
    ax_opts o;
    FILE *rep = tmpfile();
    memset(&o, 0, sizeof o);
    o.virtual_clock = true;
    o.report = rep;
    tl->rc = ax_run_with(&o, main_wait_other_loop, tl, NULL);
    if (rep != NULL) {
        axt_read_file(rep, tl->report, sizeof tl->report);
        fclose(rep);
    }
    return NULL;
}

/* One loop per thread: two threads run loops at once (no AX_ENESTED), each
 * sees its own ax_loop_current(). */
START_TEST(test_loop_per_thread)
{
    pthread_t th[2];
    thread_loop tl[2];
    memset(tl, 0, sizeof tl);
    ck_assert_int_eq(pthread_barrier_init(&two_loops_barrier, NULL, 2), 0);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(
            pthread_create(&th[i], NULL, thread_runs_loop, &tl[i]), 0);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
    pthread_barrier_destroy(&two_loops_barrier);
    for (int i = 0; i < 2; i++) {
        axt_assert_rc(tl[i].rc, 0);
        ck_assert_ptr_nonnull(tl[i].loop);
        ck_assert_str_eq(tl[i].report, "");
    }
    ck_assert_ptr_ne(tl[0].loop, tl[1].loop);
}
END_TEST

static int event_fired;
static void on_event(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    event_fired = 1;
}

static void *main_loop_base(void *arg)
{
    struct event_base *base;
    struct timeval tv = {0, 1000};
    (void)arg;
    base = ax_loop_base(ax_loop_current());
    ck_assert_ptr_nonnull(base);
    ck_assert_ptr_null(ax_loop_base(NULL));
    /* It is a working event_base: a libevent timer on it fires. */
    ck_assert_int_eq(event_base_once(base, -1, EV_TIMEOUT, on_event, NULL,
                                     &tv),
                     0);
    for (int i = 0; i < 20000 && !event_fired; i++)
        axt_assert_rc(ax_sleep(0.001), 0);
    ck_assert_int_eq(event_fired, 1);
    return NULL;
}

/* ax_loop_base: non-NULL libevent base whose events fire (real clock);
 * NULL for a NULL loop. */
START_TEST(test_loop_base)
{
    axt_assert_rc(ax_test_run_real(main_loop_base, NULL, NULL), 0);
    AXT_ASSERT_CLEAN();
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Clocks                                                                   */

static void *main_virtual_now(void *arg)
{
    (void)arg;
    ck_assert_double_eq(ax_now(), 0.0);
    ck_assert_int_eq(ax_now_ns(), 0);
    axt_assert_rc(ax_sleep(1.5), 0);
    ck_assert_double_eq(ax_now(), 1.5);
    ck_assert_int_eq(ax_now_ns(), INT64_C(1500000000));
    axt_assert_rc(ax_sleep(0.25), 0);
    ck_assert_double_eq(ax_now(), 1.75);
    return NULL;
}

/* Virtual clock: ax_now() starts at exactly 0 and advances by the time
 * slept; ax_now_ns() agrees. */
START_TEST(test_now_virtual_starts_at_zero)
{
    AXT_RUN_CLEAN(main_virtual_now, NULL, NULL);
}
END_TEST

static void *main_env_virtual(void *arg)
{
    (void)arg;
    ck_assert_double_eq(ax_now(), 0.0);
    /* An hour: only a virtual clock gets through this within the timeout. */
    axt_assert_rc(ax_sleep(3600.0), 0);
    ck_assert_double_eq(ax_now(), 3600.0);
    return NULL;
}

/* AX_VIRTUAL_CLOCK=1 turns the virtual clock on even when the options say
 * otherwise (and for plain ax_run). */
START_TEST(test_virtual_clock_env)
{
    ax_opts o;
    memset(&o, 0, sizeof o);
    o.virtual_clock = false;
    ck_assert_int_eq(setenv("AX_VIRTUAL_CLOCK", "1", 1), 0);
    axt_assert_rc(ax_test_run_with(&o, main_env_virtual, NULL, NULL), 0);
    AXT_ASSERT_CLEAN();
    axt_assert_rc(ax_run(main_env_virtual, NULL, NULL), 0);
    unsetenv("AX_VIRTUAL_CLOCK"); /* matters only with CK_FORK=no */
}
END_TEST

/* Outside a loop ax_now() is the monotonic clock: it never goes back and
 * advances at least by the time slept (lower bound only). */
START_TEST(test_now_outside_loop_monotonic)
{
    struct timespec ts = {0, 20 * 1000 * 1000};
    double a = ax_now();
    int64_t an = ax_now_ns();
    double b;
    int64_t bn;
    ck_assert(a >= 0.0);
    ck_assert(an >= 0);
    while (nanosleep(&ts, &ts) != 0) {
    }
    b = ax_now();
    bn = ax_now_ns();
    ck_assert_msg(b - a >= 0.019, "ax_now advanced %f s over a 20 ms sleep",
                  b - a);
    ck_assert_msg(bn - an >= INT64_C(19000000), "ax_now_ns advanced %" PRId64,
                  bn - an);
}
END_TEST

static void *main_real_now(void *arg)
{
    double t0 = ax_now();
    (void)arg;
    ck_assert(t0 >= 0.0);
    axt_assert_rc(ax_sleep(0.02), 0);
    ck_assert_msg(ax_now() - t0 >= 0.019, "slept 0.02 s, clock moved %f",
                  ax_now() - t0);
    return NULL;
}

/* Real clock inside a loop: non-negative, advances across a sleep. */
START_TEST(test_now_real_clock_in_loop)
{
    axt_assert_rc(ax_test_run_real(main_real_now, NULL, NULL), 0);
    AXT_ASSERT_CLEAN();
}
END_TEST

/* ------------------------------------------------------------------------ */
/* ax_dump_tasks                                                            */

/* Whether some line of text contains a and b but not without (may be NULL). */
static bool line_has(const char *text, const char *a, const char *b,
                     const char *without)
{
    const char *p = text;
    char line[1024];
    while (*p != '\0') {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len >= sizeof line)
            len = sizeof line - 1;
        memcpy(line, p, len);
        line[len] = '\0';
        if (strstr(line, a) && (b == NULL || strstr(line, b)) &&
            (without == NULL || !strstr(line, without)))
            return true;
        if (e == NULL)
            break;
        p = e + 1;
    }
    return false;
}

static void *await_future_arg(void *arg)
{
    return ax_await_future((ax_future *)arg, NULL) == 0 ? AXT_P(1) : NULL;
}

static int joiner_rc = 1;
static void *await_task_arg(void *arg)
{
    joiner_rc = ax_await((ax_task *)arg, NULL);
    return AXT_P(2);
}

static char dump_text[8192];
static void *main_dump(void *arg)
{
    ax_future *f;
    ax_task *sleeper, *waiter, *joiner, *fresh;
    static axt_probe sp = {.sleep = 10.0};
    FILE *out = tmpfile();
    char idbuf[32];
    (void)arg;

    ck_assert_ptr_nonnull(out);
    axt_assert_rc(ax_task_set_name(ax_task_self(), "mainly"), 0);
    axt_assert_rc(ax_future_new(&f), 0);
    sleeper = axt_spawn_named("sleeper", axt_probe_fn, &sp);
    waiter = axt_spawn_named("waiter", await_future_arg, f);
    joiner = axt_spawn_named("joiner", await_task_arg, sleeper);
    axt_assert_rc(ax_yield(), 0); /* all three suspend */
    fresh = axt_spawn_named("fresh", axt_return_arg, NULL);

    axt_assert_rc(ax_dump_tasks(out), 0);
    axt_read_file(out, dump_text, sizeof dump_text);
    fclose(out);

    ck_assert_msg(line_has(dump_text, "mainly", "running", NULL),
                  "main not shown running:\n%s", dump_text);
    ck_assert_msg(line_has(dump_text, "sleeper", "sleeping", "joiner"),
                  "sleeper not shown sleeping:\n%s", dump_text);
    ck_assert_msg(line_has(dump_text, "sleeper", "10", "joiner"),
                  "sleeper's deadline 10 not shown:\n%s", dump_text);
    ck_assert_msg(line_has(dump_text, "waiter", "future", NULL),
                  "waiter not shown awaiting a future:\n%s", dump_text);
    ck_assert_msg(line_has(dump_text, "joiner", "sleeper", NULL) &&
                      line_has(dump_text, "joiner", "await", NULL),
                  "joiner not shown awaiting task 'sleeper':\n%s", dump_text);
    ck_assert_msg(line_has(dump_text, "fresh", "ready", NULL),
                  "fresh not shown ready:\n%s", dump_text);
    snprintf(idbuf, sizeof idbuf, "%" PRIu64, ax_task_id(fresh));
    ck_assert_msg(line_has(dump_text, "fresh", idbuf, NULL),
                  "fresh's id %s not shown:\n%s", idbuf, dump_text);

    /* Clean up: everything awaited, the future freed. */
    axt_assert_rc(ax_future_set_result(f, NULL), 0);
    axt_assert_rc(ax_cancel(sleeper), 0);
    ck_assert_ptr_eq(axt_await_task(waiter, 0), AXT_P(1));
    ck_assert_ptr_eq(axt_await_task(joiner, 0), AXT_P(2));
    axt_await_task(fresh, 0);
    axt_assert_rc(joiner_rc, AX_ECANCELED);
    axt_assert_rc(ax_future_free(f), 0);
    return NULL;
}

/* ax_dump_tasks names every live task with its state: running, sleeping
 * until t, awaiting a future, awaiting task 'x', ready; and its id. */
START_TEST(test_dump_tasks)
{
    AXT_RUN_CLEAN(main_dump, NULL, NULL);
}
END_TEST

/* A task waiting for its group: the dump names the wait, and reads no
 * group as if it were a future (it did, before groups passed NULL). */
static void *group_owner(void *arg)
{
    static axt_probe sp = {.sleep = 5.0};
    ax_group *g;
    (void)arg;
    axt_assert_rc(ax_group_new(&g), 0);
    axt_assert_rc(ax_group_spawn(g, NULL, axt_probe_fn, &sp), 0);
    axt_assert_rc(ax_group_wait(g), 0);
    axt_assert_rc(ax_group_free(g), 0);
    return NULL;
}

static void *main_dump_group(void *arg)
{
    static char text[8192];
    FILE *out = tmpfile();
    ax_task *owner;
    (void)arg;

    ck_assert_ptr_nonnull(out);
    owner = axt_spawn_named("grouper", group_owner, NULL);
    axt_assert_rc(ax_sleep(1.0), 0); /* the owner now waits for its group */
    axt_assert_rc(ax_dump_tasks(out), 0);
    axt_read_file(out, text, sizeof text);
    fclose(out);
    ck_assert_msg(line_has(text, "grouper", "waiting for its group", NULL),
                  "the group wait is not shown:\n%s", text);
    ck_assert_msg(!line_has(text, "grouper", "future", NULL) &&
                      !line_has(text, "grouper", "gather", NULL),
                  "the group was shown as a future:\n%s", text);
    axt_await_task(owner, 0);
    return NULL;
}

START_TEST(test_dump_tasks_group_wait)
{
    AXT_RUN_CLEAN(main_dump_group, NULL, NULL);
}
END_TEST

static void *main_dump_null(void *arg)
{
    (void)arg;
    axt_assert_rc(ax_dump_tasks(NULL), AX_EINVAL); /* bad input: NULL out */
    return NULL;
}

/* ax_dump_tasks: NULL -> AX_EINVAL; outside a loop -> AX_EPERM. */
START_TEST(test_dump_tasks_errors)
{
    FILE *out = tmpfile();
    char buf[64];
    ck_assert_ptr_nonnull(out);
    axt_assert_rc(ax_dump_tasks(out), AX_EPERM);
    axt_read_file(out, buf, sizeof buf);
    fclose(out);
    ck_assert_str_eq(buf, "");
    AXT_RUN_CLEAN(main_dump_null, NULL, NULL);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* ax_build_info                                                            */

static void *build_info_thread(void *arg)
{
    *(const char **)arg = ax_build_info();
    return NULL;
}

/* Names the context back-end, "epoll" and libevent's version; any thread. */
START_TEST(test_build_info)
{
    const char *info = ax_build_info();
    const char *other = NULL;
    pthread_t th;
    ck_assert_ptr_nonnull(info);
    ck_assert_msg(strstr(info, "asm-x86_64") || strstr(info, "asm-aarch64") ||
                      strstr(info, "ucontext"),
                  "no context back-end in \"%s\"", info);
#if defined(__x86_64__)
    ck_assert_msg(!strstr(info, "asm-aarch64"), "wrong back-end: %s", info);
#endif
    ck_assert_msg(strstr(info, "epoll") != NULL, "no \"epoll\" in \"%s\"",
                  info);
    ck_assert_msg(strstr(info, event_get_version()) != NULL,
                  "libevent version %s not in \"%s\"", event_get_version(),
                  info);
    ck_assert_int_eq(pthread_create(&th, NULL, build_info_thread, &other), 0);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_ptr_nonnull(other);
    ck_assert_str_eq(other, info);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* ax_loop_stats_get                                                        */

static void *main_stats(void *arg)
{
    ax_loop_stats s0, s1, s2, s3;
    ax_task *t[3];
    static axt_probe p[3] = {{.sleep = 1.0}, {.sleep = 1.0}, {.sleep = 1.0}};
    ax_future *f;
    (void)arg;

    axt_assert_rc(ax_loop_stats_get(&s0), 0);
    ck_assert_uint_ge(s0.tasks_live, 1); /* main */
    ck_assert_uint_ge(s0.tasks_spawned, 1);
    ck_assert_uint_ge(s0.stacks_mapped, s0.stacks_pooled);

    for (int i = 0; i < 3; i++)
        axt_spawn(&t[i], axt_probe_fn, &p[i]);
    axt_assert_rc(ax_loop_stats_get(&s1), 0);
    ck_assert_uint_eq(s1.tasks_spawned, s0.tasks_spawned + 3);
    ck_assert_uint_eq(s1.tasks_live, s0.tasks_live + 3);

    axt_assert_rc(ax_yield(), 0); /* each child runs to its sleep */
    axt_assert_rc(ax_loop_stats_get(&s2), 0);
    ck_assert_uint_ge(s2.switches, s1.switches + 3);
    ck_assert_uint_ge(s2.stacks_mapped, 3); /* 3 sleeping children */
    ck_assert_uint_ge(s2.stacks_mapped, s2.stacks_pooled);
    ck_assert_uint_eq(s2.stacks_unguarded, 0);

    for (int i = 0; i < 3; i++)
        axt_await_task(t[i], 0);
    axt_assert_rc(ax_yield(), 0);
    axt_assert_rc(ax_loop_stats_get(&s3), 0);
    ck_assert_uint_eq(s3.tasks_live, s0.tasks_live);
    ck_assert_uint_eq(s3.tasks_spawned, s0.tasks_spawned + 3);
    ck_assert_uint_gt(s3.switches, s2.switches);

    axt_assert_rc(ax_future_new(&f), 0);
    axt_assert_rc(ax_loop_stats_get(&s1), 0);
    ck_assert_uint_eq(s1.futures_live, s3.futures_live + 1);
    axt_assert_rc(ax_future_free(f), 0);
    axt_assert_rc(ax_loop_stats_get(&s2), 0);
    ck_assert_uint_eq(s2.futures_live, s3.futures_live);
    return NULL;
}

/* Counters: tasks_spawned/tasks_live follow spawns and awaits, switches
 * grow, stacks_mapped covers live tasks, futures_live follows new/free. */
START_TEST(test_stats)
{
    AXT_RUN_CLEAN(main_stats, NULL, NULL);
}
END_TEST

static void *main_stats_null(void *arg)
{
    (void)arg;
    axt_assert_rc(ax_loop_stats_get(NULL), AX_EINVAL); /* bad input: NULL */
    return NULL;
}

/* ax_loop_stats_get: NULL -> AX_EINVAL; outside a loop -> AX_EPERM. */
START_TEST(test_stats_errors)
{
    ax_loop_stats st;
    axt_assert_rc(ax_loop_stats_get(&st), AX_EPERM);
    AXT_RUN_CLEAN(main_stats_null, NULL, NULL);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Teardown reports                                                         */

static void *main_orphan(void *arg)
{
    (void)arg;
    axt_spawn_named("orphan", axt_return_arg, AXT_P(1));
    return NULL;
}

/* A handle neither awaited nor detached is reported by name. */
START_TEST(test_report_never_awaited)
{
    axt_assert_rc(ax_test_run(main_orphan, NULL, NULL), 0);
    AXT_ASSERT_REPORT_HAS("axon: task 'orphan' was never awaited nor detached");
}
END_TEST

static void *main_detached_failure(void *arg)
{
    ax_task_opts o;
    (void)arg;
    memset(&o, 0, sizeof o);
    o.name = "failer";
    axt_assert_rc(ax_spawn_with(NULL, axt_fail_with, AXT_P(AX_ETIMEDOUT), &o),
                  0);
    axt_assert_rc(ax_yield(), 0); /* it runs and fails */
    return NULL;
}

/* A detached task's failure is reported with its name and code. */
START_TEST(test_report_unretrieved_failure)
{
    axt_assert_rc(ax_test_run(main_detached_failure, NULL, NULL), 0);
    AXT_ASSERT_REPORT_HAS("axon: task 'failer' failed with AX_ETIMEDOUT "
                          "(operation timed out) and nobody retrieved it");
    AXT_ASSERT_REPORT_LACKS("never awaited");
}
END_TEST

static void *main_awaited_failure(void *arg)
{
    ax_task *t;
    (void)arg;
    t = axt_spawn_named("failer", axt_fail_with, AXT_P(AX_ETIMEDOUT));
    axt_await_task(t, AX_ETIMEDOUT);
    return NULL;
}

/* A failure retrieved by ax_await is not reported. */
START_TEST(test_report_retrieved_failure_silent)
{
    AXT_RUN_CLEAN(main_awaited_failure, NULL, NULL);
}
END_TEST

static void *main_leak_futures(void *arg)
{
    ax_future *a, *b;
    (void)arg;
    axt_assert_rc(ax_future_new(&a), 0);
    axt_assert_rc(ax_future_new(&b), 0);
    axt_assert_rc(ax_future_set_result(a, NULL), 0); /* done, still unfreed */
    return NULL;
}

/* Futures never freed are counted in the report. */
START_TEST(test_report_future_never_freed)
{
    axt_assert_rc(ax_test_run(main_leak_futures, NULL, NULL), 0);
    AXT_ASSERT_REPORT_HAS("axon: 2 future(s) never freed");
}
END_TEST

static axt_probe lingerer = {.sleep = 100.0, .cleanup_sleep = 1.0};
static axt_probe leftover = {.sleep = 100.0};
static void *main_leaves_tasks(void *arg)
{
    ax_task_opts o;
    (void)arg;
    memset(&o, 0, sizeof o);
    o.name = "lingerer";
    axt_assert_rc(ax_spawn_with(NULL, axt_probe_fn, &lingerer, &o), 0);
    axt_spawn_named("leftover", axt_probe_fn, &leftover);
    axt_assert_rc(ax_yield(), 0); /* both are now sleeping */
    ck_assert_int_eq(lingerer.started, 1);
    return AXT_P(9);
}

/* When main ends, remaining tasks are cancelled and may clean up, even by
 * suspending again; ax_run still returns main's status and result. */
START_TEST(test_teardown_cancels_remaining)
{
    void *r = NULL;
    axt_assert_rc(ax_test_run(main_leaves_tasks, NULL, &r), 0);
    ck_assert_ptr_eq(r, AXT_P(9));
    axt_assert_rc(lingerer.sleep_rc, AX_ECANCELED);
    ck_assert_int_eq(lingerer.cleanup, 1);
    axt_assert_rc(lingerer.cleanup_rc, 0); /* cancel is delivered once */
    ck_assert_int_eq(lingerer.finished, 1);
    axt_assert_rc(leftover.sleep_rc, AX_ECANCELED);
    ck_assert_int_eq(leftover.cleanup, 1);
    ck_assert_int_eq(leftover.finished, 1);
    AXT_ASSERT_REPORT_HAS("axon: task 'leftover' was never awaited nor "
                          "detached");
    AXT_ASSERT_REPORT_LACKS("'lingerer' was never awaited");
}
END_TEST

static axt_probe unrun = {.sleep = 1.0};
static void *main_spawns_and_leaves(void *arg)
{
    (void)arg;
    axt_assert_rc(ax_spawn(NULL, axt_probe_fn, &unrun), 0);
    ck_assert_int_eq(unrun.started, 0);
    return NULL;
}

/* A task that never ran before main ended still starts at teardown and sees
 * AX_ECANCELED at its first suspension. */
START_TEST(test_teardown_starts_unrun_task)
{
    axt_assert_rc(ax_test_run(main_spawns_and_leaves, NULL, NULL), 0);
    ck_assert_int_eq(unrun.started, 1);
    axt_assert_rc(unrun.sleep_rc, AX_ECANCELED);
    ck_assert_int_eq(unrun.finished, 1);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Deadlock detection                                                       */

static int stuck_rc = 1, main_await_rc = 1, main_after_deadlock;
static void *stuck_body(void *arg)
{
    stuck_rc = ax_await_future((ax_future *)arg, NULL);
    return NULL;
}

static void *main_deadlock(void *arg)
{
    ax_future *f;
    ax_task *t;
    (void)arg;
    axt_assert_rc(ax_future_new(&f), 0);
    t = axt_spawn_named("stuck", stuck_body, f);
    main_await_rc = ax_await(t, NULL); /* nobody will ever complete f */
    main_after_deadlock = 1;
    axt_assert_rc(ax_future_free(f), 0);
    return NULL;
}

/* Every task waits and nothing can wake them: ax_run returns AX_EDEADLK,
 * the tasks are cancelled and a dump naming them is reported. */
START_TEST(test_deadlock_detected)
{
    axt_assert_rc(ax_test_run(main_deadlock, NULL, NULL), AX_EDEADLK);
    ck_assert_msg(axt_has_line_starting(ax_test_report(), "axon: deadlock"),
                  "no line starting \"axon: deadlock\":\n%s", ax_test_report());
    AXT_ASSERT_REPORT_HAS("stuck");
    axt_assert_rc(stuck_rc, AX_ECANCELED);
    axt_assert_rc(main_await_rc, AX_ECANCELED);
    ck_assert_int_eq(main_after_deadlock, 1);
    AXT_ASSERT_REPORT_LACKS("never freed");
}
END_TEST

static void *main_awaits_itself_future(void *arg)
{
    ax_future *f;
    int rc;
    (void)arg;
    axt_assert_rc(ax_future_new(&f), 0);
    rc = ax_await(f, NULL); /* main alone, awaiting a future nobody sets */
    axt_assert_rc(rc, AX_ECANCELED);
    axt_assert_rc(ax_future_free(f), 0);
    return NULL;
}

/* The simplest deadlock: main awaits a future nobody completes. */
START_TEST(test_deadlock_main_alone)
{
    axt_assert_rc(ax_test_run(main_awaits_itself_future, NULL, NULL),
                  AX_EDEADLK);
    ck_assert_msg(axt_has_line_starting(ax_test_report(), "axon: deadlock"),
                  "report:\n%s", ax_test_report());
}
END_TEST

static void *set_later(void *arg)
{
    axt_assert_rc(ax_sleep(5.0), 0);
    axt_assert_rc(ax_future_set_result((ax_future *)arg, AXT_P(3)), 0);
    return NULL;
}

static void *main_waits_for_sleeper(void *arg)
{
    ax_future *f;
    ax_task *t;
    void *v = NULL;
    (void)arg;
    axt_assert_rc(ax_future_new(&f), 0);
    axt_spawn(&t, set_later, f);
    axt_assert_rc(ax_await(f, &v), 0);
    ck_assert_ptr_eq(v, AXT_P(3));
    ck_assert_double_eq(ax_now(), 5.0);
    axt_await_task(t, 0);
    axt_assert_rc(ax_future_free(f), 0);
    return NULL;
}

/* Not a deadlock: a sleeping task will complete the future. */
START_TEST(test_no_deadlock_with_sleeper)
{
    AXT_RUN_CLEAN(main_waits_for_sleeper, NULL, NULL);
}
END_TEST

static void on_event_set_future(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    ax_future_set_result((ax_future *)arg, AXT_P(5));
}

static void *main_waits_for_event(void *arg)
{
    ax_future *f;
    void *v = NULL;
    struct timeval tv = {0, 10 * 1000};
    (void)arg;
    axt_assert_rc(ax_future_new(&f), 0);
    ck_assert_int_eq(event_base_once(ax_loop_base(ax_loop_current()), -1,
                                     EV_TIMEOUT, on_event_set_future, f, &tv),
                     0);
    axt_assert_rc(ax_await(f, &v), 0);
    ck_assert_ptr_eq(v, AXT_P(5));
    axt_assert_rc(ax_future_free(f), 0);
    return NULL;
}

/* Not a deadlock: a user's libevent event (added through ax_loop_base) will
 * complete the future (real clock). */
START_TEST(test_no_deadlock_with_user_event)
{
    axt_assert_rc(ax_test_run_real(main_waits_for_event, NULL, NULL), 0);
    AXT_ASSERT_CLEAN();
}
END_TEST

Suite *ax_loop_suite(void)
{
    Suite *s = suite_create("loop");
    TCase *tc = axt_tcase(s, "run");
    tcase_add_test(tc, test_run_returns_result);
    tcase_add_test(tc, test_run_plain_null_result);
    tcase_add_test(tc, test_run_with_null_opts);
    tcase_add_test(tc, test_run_returns_failure_code);
    tcase_add_test(tc, test_run_returns_ecanceled);
    tcase_add_test(tc, test_run_null_fn_einval);
    tcase_add_test(tc, test_run_with_huge_stack_einval);
    tcase_add_test(tc, test_run_nested_enested);
    tcase_add_test(tc, test_run_twice_sequentially);

    tc = axt_tcase(s, "loop");
    tcase_add_test(tc, test_loop_current);
    tcase_add_test(tc, test_loop_per_thread);
    tcase_add_test(tc, test_loop_base);

    tc = axt_tcase(s, "clock");
    tcase_add_test(tc, test_now_virtual_starts_at_zero);
    tcase_add_test(tc, test_virtual_clock_env);
    tcase_add_test(tc, test_now_outside_loop_monotonic);
    tcase_add_test(tc, test_now_real_clock_in_loop);

    tc = axt_tcase(s, "introspection");
    tcase_add_test(tc, test_dump_tasks);
    tcase_add_test(tc, test_dump_tasks_group_wait);
    tcase_add_test(tc, test_dump_tasks_errors);
    tcase_add_test(tc, test_build_info);
    tcase_add_test(tc, test_stats);
    tcase_add_test(tc, test_stats_errors);

    tc = axt_tcase(s, "teardown");
    tcase_add_test(tc, test_report_never_awaited);
    tcase_add_test(tc, test_report_unretrieved_failure);
    tcase_add_test(tc, test_report_retrieved_failure_silent);
    tcase_add_test(tc, test_report_future_never_freed);
    tcase_add_test(tc, test_teardown_cancels_remaining);
    tcase_add_test(tc, test_teardown_starts_unrun_task);

    tc = axt_tcase(s, "deadlock");
    tcase_add_test(tc, test_deadlock_detected);
    tcase_add_test(tc, test_deadlock_main_alone);
    tcase_add_test(tc, test_no_deadlock_with_sleeper);
    tcase_add_test(tc, test_no_deadlock_with_user_event);
    return s;
}

#ifndef AX_TEST_NO_MAIN
int main(void)
{
    return ax_test_main(ax_loop_suite());
}
#endif
