/* SPDX-License-Identifier: MIT */
/* check_task.c: tests for axon/task.h (spawn, await, cancel, names, ...). */
#include <pthread.h>
#include <sys/resource.h>

#include "axtest.h"

Suite *ax_task_suite(void);
static void *await_task_arg(void *arg);

/* ------------------------------------------------------------------------ */
/* Spawning and scheduling                                                  */

static int child_flag;
static void *main_spawn_then_yield(void *arg)
{
    ax_task *t;
    (void)arg;
    child_flag = 0;
    axt_spawn(&t, axt_set_flag, &child_flag);
    ck_assert_int_eq(child_flag, 0); /* queued, not run */
    ck_assert(!ax_task_done(t));
    axt_assert_rc(ax_yield(), 0);
    ck_assert_int_eq(child_flag, 1); /* ran while main yielded */
    axt_await_task(t, 0);
    return NULL;
}

/* ax_spawn queues the task; it runs only once the spawner suspends (yield). */
START_TEST(test_spawn_runs_at_yield)
{
    AXT_RUN_CLEAN(main_spawn_then_yield, NULL, NULL);
    ck_assert_int_eq(child_flag, 1);
}
END_TEST

static void *main_spawn_then_await(void *arg)
{
    ax_task *t;
    (void)arg;
    child_flag = 0;
    axt_spawn(&t, axt_set_flag, &child_flag);
    ck_assert_int_eq(child_flag, 0);
    axt_await_task(t, 0);
    ck_assert_int_eq(child_flag, 1);
    return NULL;
}

/* ... or when the spawner awaits it. */
START_TEST(test_spawn_runs_at_await)
{
    AXT_RUN_CLEAN(main_spawn_then_await, NULL, NULL);
}
END_TEST

static void *log_arg(void *arg)
{
    axt_log((const char *)arg);
    return NULL;
}

static void *main_fifo(void *arg)
{
    ax_task *t[3];
    (void)arg;
    axt_spawn(&t[0], log_arg, "A");
    axt_spawn(&t[1], log_arg, "B");
    axt_spawn(&t[2], log_arg, "C");
    /* Await the last first: order is still spawn order. */
    axt_await_task(t[2], 0);
    AXT_ASSERT_LOG("ABC");
    axt_await_task(t[1], 0);
    axt_await_task(t[0], 0);
    return NULL;
}

/* Three tasks run in the order they became ready (FIFO). */
START_TEST(test_fifo_order)
{
    AXT_RUN_CLEAN(main_fifo, NULL, NULL);
    AXT_ASSERT_LOG("ABC");
}
END_TEST

static void *log_yield_log(void *arg)
{
    char s[2] = {((const char *)arg)[0], 0};
    axt_log(s);
    axt_assert_rc(ax_yield(), 0);
    s[0] = (char)(s[0] - 'A' + 'a');
    axt_log(s);
    return NULL;
}

static void *main_yield_order(void *arg)
{
    ax_task *a, *b;
    (void)arg;
    axt_spawn(&a, log_yield_log, "A");
    axt_spawn(&b, log_yield_log, "B");
    axt_log("m");
    axt_assert_rc(ax_yield(), 0);
    /* Each other ready task ran once: A and B both logged, then main. */
    axt_log("M");
    AXT_ASSERT_LOG("mABM");
    axt_await_task(a, 0);
    axt_await_task(b, 0);
    AXT_ASSERT_LOG("mABMab");
    return NULL;
}

/* ax_yield lets every other ready task run once, then continues. */
START_TEST(test_yield_ordering)
{
    AXT_RUN_CLEAN(main_yield_order, NULL, NULL);
}
END_TEST

/* Bad context: ax_yield outside a task -> AX_ENOTTASK. */
START_TEST(test_yield_outside_task)
{
    axt_assert_rc(ax_yield(), AX_ENOTTASK);
    ck_assert_ptr_null(ax_task_self());
}
END_TEST

static void *double_it(void *arg)
{
    return AXT_P(AXT_I(arg) * 2);
}

static void *main_results(void *arg)
{
    ax_task *t[5];
    (void)arg;
    for (int i = 0; i < 5; i++)
        axt_spawn(&t[i], double_it, AXT_P(i + 1));
    for (int i = 0; i < 5; i++)
        ck_assert_ptr_eq(axt_await_task(t[i], 0), AXT_P((i + 1) * 2));
    /* result == NULL is allowed */
    axt_spawn(&t[0], double_it, AXT_P(1));
    axt_assert_rc(ax_await(t[0], NULL), 0);
    return NULL;
}

/* Each task's return value comes back through ax_await. */
START_TEST(test_results)
{
    AXT_RUN_CLEAN(main_results, NULL, NULL);
}
END_TEST

static void *main_await_task_future(void *arg)
{
    ax_task *t;
    ax_future *f;
    void *r = NULL;
    (void)arg;
    axt_spawn(&t, double_it, AXT_P(21));
    f = ax_task_future(t);
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_eq(AX_FUTURE(t), f);
    axt_assert_rc(ax_await_future(f, &r), 0); /* consumes the handle */
    ck_assert_ptr_eq(r, AXT_P(42));
    ck_assert_ptr_null(ax_task_future(NULL));
    return NULL;
}

/* ax_task_future: the task's future; awaiting it awaits the task. */
START_TEST(test_task_future)
{
    AXT_RUN_CLEAN(main_await_task_future, NULL, NULL);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Detach                                                                   */

static int det_flag[3];
static void *main_detached(void *arg)
{
    ax_task *t, *u;
    (void)arg;
    axt_assert_rc(ax_spawn(NULL, axt_set_flag, &det_flag[0]), 0);
    axt_spawn(&t, axt_set_flag, &det_flag[1]);
    axt_assert_rc(ax_task_detach(t), 0); /* before it ran */
    axt_spawn(&u, axt_set_flag, &det_flag[2]);
    axt_assert_rc(ax_yield(), 0);
    ck_assert(ax_task_done(u));
    axt_assert_rc(ax_task_detach(u), 0); /* after it ended */
    ck_assert_int_eq(det_flag[0], 1);
    ck_assert_int_eq(det_flag[1], 1);
    ck_assert_int_eq(det_flag[2], 1);
    return NULL;
}

/* Detached tasks (out == NULL, or ax_task_detach before/after they ran)
 * run, free themselves and are not reported. */
START_TEST(test_detached)
{
    AXT_RUN_CLEAN(main_detached, NULL, NULL);
}
END_TEST

static axt_probe detp = {.sleep = 1.0, .ret = AXT_P(5)};
static void *main_detach_errors(void *arg)
{
    ax_task *t, *w, *g1;
    ax_future *g, *arr[1];
    (void)arg;
    axt_assert_rc(ax_task_detach(NULL), AX_EINVAL); /* bad input: NULL */

    /* awaited by another task -> AX_EBUSY */
    axt_spawn(&t, axt_probe_fn, &detp);
    axt_spawn(&w, await_task_arg, t);
    axt_assert_rc(ax_yield(), 0); /* w now awaits t */
    axt_assert_rc(ax_task_detach(t), AX_EBUSY);
    ck_assert_ptr_eq(axt_await_task(w, 0), AXT_P(5));

    /* owned by a gather -> AX_EBUSY */
    axt_spawn(&g1, double_it, AXT_P(2));
    arr[0] = ax_task_future(g1);
    axt_assert_rc(ax_gather_start(&g, arr, 1, NULL, NULL, AX_GATHER_FAIL_FAST),
                  0);
    axt_assert_rc(ax_task_detach(g1), AX_EBUSY);
    axt_assert_rc(ax_await(g, NULL), 0);
    axt_assert_rc(ax_future_free(g), 0);
    return NULL;
}

/* ax_task_detach errors: NULL -> AX_EINVAL; a task being awaited, or owned
 * by a gather -> AX_EBUSY. */
START_TEST(test_detach_errors)
{
    AXT_RUN_CLEAN(main_detach_errors, NULL, NULL);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* ax_task_fail                                                             */

static void *fail_zero(void *arg)
{
    (void)arg;
    return ax_task_fail(0); /* bad input: code >= 0, ignored */
}

static void *fail_positive(void *arg)
{
    (void)arg;
    ck_assert_ptr_null(ax_task_fail(5)); /* bad input: positive code */
    return AXT_P(8);
}

static void *main_fail_codes(void *arg)
{
    ax_task *t;
    (void)arg;
    axt_spawn(&t, axt_fail_with, AXT_P(AX_ETIMEDOUT));
    axt_await_task(t, AX_ETIMEDOUT);
    axt_spawn(&t, axt_fail_with, AXT_P(-12345)); /* a task's own code */
    axt_await_task(t, -12345);
    axt_spawn(&t, axt_fail_with, AXT_P(AX_ECANCELED));
    axt_await_task(t, AX_ECANCELED);
    axt_spawn(&t, fail_zero, NULL);
    ck_assert_ptr_null(axt_await_task(t, 0));
    axt_spawn(&t, fail_positive, NULL);
    ck_assert_ptr_eq(axt_await_task(t, 0), AXT_P(8));
    return NULL;
}

/* ax_task_fail(code) sets the awaited status; code >= 0 records nothing. */
START_TEST(test_task_fail_codes)
{
    axt_assert_rc(ax_test_run(main_fail_codes, NULL, NULL), 0);
    /* (a debug build may log the misuse, so the report is not checked) */
}
END_TEST

/* ax_task_fail outside a task returns NULL and records nothing. */
START_TEST(test_task_fail_outside_task)
{
    ck_assert_ptr_null(ax_task_fail(AX_EINVAL));
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Names and ids                                                            */

static void *main_names(void *arg)
{
    ax_task *t, *u;
    char want[64], buf[64];
    const char *longname = "abcdefghijklmnopqrstuvwxyz0123456789ABCD"; /* 40 */
    ax_task_opts o;
    (void)arg;

    axt_spawn(&t, axt_return_arg, NULL);
    snprintf(want, sizeof want, "task-%" PRIu64, ax_task_id(t));
    ck_assert_str_eq(ax_task_name(t), want); /* default "task-ID" */

    axt_assert_rc(ax_task_set_name(t, "worker"), 0);
    ck_assert_str_eq(ax_task_name(t), "worker");

    axt_assert_rc(ax_task_set_name(t, longname), 0); /* truncated to 31 */
    ck_assert_uint_eq(strlen(ax_task_name(t)), AX_TASK_NAME_MAX);
    ck_assert_int_eq(strncmp(ax_task_name(t), longname, AX_TASK_NAME_MAX), 0);

    axt_assert_rc(ax_task_set_name(NULL, "x"), AX_EINVAL); /* NULL task */
    axt_assert_rc(ax_task_set_name(t, NULL), AX_EINVAL);   /* NULL name */
    ck_assert_uint_eq(strlen(ax_task_name(t)), AX_TASK_NAME_MAX);
    ck_assert_str_eq(ax_task_name(NULL), "");

    /* spawn_ex copies the name */
    memset(&o, 0, sizeof o);
    strcpy(buf, "copied");
    o.name = buf;
    axt_assert_rc(ax_spawn_with(&u, axt_return_arg, NULL, &o), 0);
    strcpy(buf, "changed");
    ck_assert_str_eq(ax_task_name(u), "copied");
    axt_await_task(u, 0);

    /* spawn_ex with name == NULL -> "task-ID"; opts == NULL allowed */
    o.name = NULL;
    axt_assert_rc(ax_spawn_with(&u, axt_return_arg, NULL, &o), 0);
    snprintf(want, sizeof want, "task-%" PRIu64, ax_task_id(u));
    ck_assert_str_eq(ax_task_name(u), want);
    axt_await_task(u, 0);
    axt_assert_rc(ax_spawn_with(&u, axt_return_arg, NULL, NULL), 0);
    snprintf(want, sizeof want, "task-%" PRIu64, ax_task_id(u));
    ck_assert_str_eq(ax_task_name(u), want);
    axt_await_task(u, 0);

    /* set_name on oneself, long name given at spawn is truncated too */
    axt_assert_rc(ax_task_set_name(ax_task_self(), "me"), 0);
    ck_assert_str_eq(ax_task_name(ax_task_self()), "me");
    o.name = longname;
    axt_assert_rc(ax_spawn_with(&u, axt_return_arg, NULL, &o), 0);
    ck_assert_uint_eq(strlen(ax_task_name(u)), AX_TASK_NAME_MAX);
    axt_await_task(u, 0);

    axt_await_task(t, 0);
    return NULL;
}

/* Names: default "task-ID", set/get, truncation to 31, copies, NULL args. */
START_TEST(test_names)
{
    AXT_RUN_CLEAN(main_names, NULL, NULL);
}
END_TEST

static uint64_t main_ids[2];
static ax_task *self_seen;
static void *record_self(void *arg)
{
    (void)arg;
    self_seen = ax_task_self();
    return NULL;
}

static void *main_ids_fn(void *arg)
{
    enum { N = 100 };
    ax_task *t[N];
    uint64_t ids[N];
    main_ids[AXT_I(arg)] = ax_task_id(ax_task_self());
    ck_assert_ptr_nonnull(ax_task_self());
    for (int i = 0; i < N; i++) {
        axt_spawn(&t[i], axt_return_arg, NULL);
        ids[i] = ax_task_id(t[i]);
        ck_assert_uint_ge(ids[i], 1);
        ck_assert_uint_ne(ids[i], main_ids[AXT_I(arg)]);
        for (int j = 0; j < i; j++)
            ck_assert_uint_ne(ids[i], ids[j]);
    }
    for (int i = 0; i < N; i++)
        axt_await_task(t[i], 0);
    /* ax_task_self() inside a task is its handle */
    axt_spawn(&t[0], record_self, NULL);
    axt_assert_rc(ax_yield(), 0);
    ck_assert_ptr_eq(self_seen, t[0]);
    axt_await_task(t[0], 0);
    return NULL;
}

/* Ids: non-zero, unique within and across loops, count from 1; id(NULL)=0;
 * ax_task_self() is the running task's handle. */
START_TEST(test_ids_unique)
{
    AXT_RUN_CLEAN(main_ids_fn, AXT_P(0), NULL);
    AXT_RUN_CLEAN(main_ids_fn, AXT_P(1), NULL);
    ck_assert_uint_ne(main_ids[0], main_ids[1]);
    ck_assert_uint_eq(ax_task_id(NULL), 0);
    if (axt_forked()) /* a fresh process: the first task is number 1 */
        ck_assert_uint_eq(main_ids[0], 1);
}
END_TEST

#define IDS_PER_THREAD 300
static uint64_t thread_ids[2][IDS_PER_THREAD];
static void *main_collect_ids(void *arg)
{
    uint64_t *out = arg;
    for (int i = 0; i < IDS_PER_THREAD; i++) {
        ax_task *t;
        if (ax_spawn(&t, axt_return_arg, NULL) != 0)
            return ax_task_fail(AX_ENOMEM);
        out[i] = ax_task_id(t);
        if (ax_await(t, NULL) != 0)
            return ax_task_fail(AX_EINVAL);
    }
    return NULL;
}

static void *thread_collect_ids(void *arg)
{
    return AXT_P(ax_run(main_collect_ids, arg, NULL));
}

/* Ids are unique in the process: two loops on two threads at once. */
START_TEST(test_ids_unique_across_threads)
{
    pthread_t th[2];
    void *rc[2];
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, thread_collect_ids,
                                        thread_ids[i]),
                         0);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(pthread_join(th[i], &rc[i]), 0);
        ck_assert_int_eq(AXT_I(rc[i]), 0);
    }
    for (int i = 0; i < IDS_PER_THREAD; i++)
        for (int j = 0; j < IDS_PER_THREAD; j++)
            ck_assert_uint_ne(thread_ids[0][i], thread_ids[1][j]);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* ax_task_done / ax_task_result                                            */

static void *main_done_result(void *arg)
{
    ax_task *t, *f;
    void *r = NULL;
    (void)arg;
    axt_spawn(&t, double_it, AXT_P(4));
    axt_spawn(&f, axt_fail_with, AXT_P(-99));
    ck_assert(!ax_task_done(t));
    axt_assert_rc(ax_task_result(t, &r), AX_EPENDING);
    axt_assert_rc(ax_task_result(t, NULL), AX_EPENDING);
    axt_assert_rc(ax_yield(), 0);
    ck_assert(ax_task_done(t));
    ck_assert(ax_task_done(f));
    axt_assert_rc(ax_task_result(t, &r), 0);
    ck_assert_ptr_eq(r, AXT_P(8));
    axt_assert_rc(ax_task_result(t, NULL), 0);
    axt_assert_rc(ax_task_result(f, &r), -99);
    /* the handle was not given up: it can still be awaited */
    r = NULL;
    ck_assert_ptr_eq(axt_await_task(t, 0), AXT_P(8));
    axt_await_task(f, -99);
    ck_assert(!ax_task_done(NULL));
    axt_assert_rc(ax_task_result(NULL, &r), AX_EINVAL); /* bad input: NULL */
    return NULL;
}

/* ax_task_done/ax_task_result: AX_EPENDING before the end, the status and
 * result after, without consuming the handle; NULL -> false/AX_EINVAL. */
START_TEST(test_done_and_result)
{
    AXT_RUN_CLEAN(main_done_result, NULL, NULL);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Stacks                                                                   */

static void *big_frame(void *arg)
{
    volatile char buf[200 * 1024];
    unsigned sum = 0;
    (void)arg;
    for (size_t i = 0; i < sizeof buf; i += 64)
        buf[i] = (char)i;
    for (size_t i = 0; i < sizeof buf; i += 64)
        sum += (unsigned char)buf[i];
    return AXT_P(sum != 0);
}

static void *main_stack_option(void *arg)
{
    ax_task *t;
    ax_task_opts o;
    (void)arg;
    memset(&o, 0, sizeof o);
    o.stack_size = 512 * 1024;
    axt_assert_rc(ax_spawn_with(&t, big_frame, NULL, &o), 0);
    ck_assert_ptr_eq(axt_await_task(t, 0), AXT_P(1));
    return NULL;
}

/* A task using 200 KiB of stack works with stack_size = 512 KiB (the
 * default 64 KiB would overflow). */
START_TEST(test_stack_size_option)
{
    AXT_RUN_CLEAN(main_stack_option, NULL, NULL);
}
END_TEST

static void *main_loop_default_stack(void *arg)
{
    ax_task *t;
    (void)arg;
    axt_spawn(&t, big_frame, NULL);
    ck_assert_ptr_eq(axt_await_task(t, 0), AXT_P(1));
    return NULL;
}

/* ax_opts.stack_size sets the default for every task on the loop. */
START_TEST(test_loop_default_stack_size)
{
    ax_opts o;
    memset(&o, 0, sizeof o);
    o.virtual_clock = true;
    o.stack_size = 512 * 1024;
    axt_assert_rc(ax_test_run_with(&o, main_loop_default_stack, NULL, NULL),
                  0);
    AXT_ASSERT_CLEAN();
}
END_TEST

static void *small_work(void *arg)
{
    volatile char buf[2048];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (char)i;
    return AXT_P(buf[100] + AXT_I(arg));
}

static void *main_stack_tiny_and_huge(void *arg)
{
    ax_task *t = AXT_P(0x1), *u = NULL;
    ax_task_opts o;
    (void)arg;
    memset(&o, 0, sizeof o);
    o.stack_size = 1; /* rounded up to AX_MIN_STACK_SIZE */
    axt_assert_rc(ax_spawn_with(&u, small_work, AXT_P(1), &o), 0);
    ck_assert_ptr_eq(axt_await_task(u, 0), AXT_P(101));
    o.stack_size = 100000; /* not a page multiple: rounded up */
    axt_assert_rc(ax_spawn_with(&u, small_work, AXT_P(2), &o), 0);
    ck_assert_ptr_eq(axt_await_task(u, 0), AXT_P(102));
    /* bad input: above 1 GiB -> AX_EINVAL, *out untouched */
    o.stack_size = ((size_t)1 << 30) + 1;
    axt_assert_rc(ax_spawn_with(&t, small_work, NULL, &o), AX_EINVAL);
    ck_assert_ptr_eq(t, AXT_P(0x1));
    return NULL;
}

/* Stack sizes are rounded up (1 byte, non-page multiples work); above
 * 1 GiB is AX_EINVAL. */
START_TEST(test_stack_size_rounding_and_limit)
{
    AXT_RUN_CLEAN(main_stack_tiny_and_huge, NULL, NULL);
}
END_TEST

/* RLIMIT_AS games do not mix with sanitizers' shadow memory or valgrind. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define AXT_NO_RLIMIT 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define AXT_NO_RLIMIT 1
#endif
#endif
#ifndef AXT_NO_RLIMIT
#define AXT_NO_RLIMIT 0
#endif

static bool limit_address_space(void)
{
    FILE *f;
    char line[256];
    unsigned long kb = 0;
    struct rlimit rl;

    if (AXT_NO_RLIMIT || getenv("AX_UNDER_VALGRIND") != NULL)
        return false;
    f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return false;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmSize: %lu kB", &kb) == 1)
            break;
    fclose(f);
    if (kb == 0 || getrlimit(RLIMIT_AS, &rl) != 0)
        return false;
    /* room for small allocations, not for a 1 GiB stack */
    rl.rlim_cur = (rlim_t)kb * 1024 + (rlim_t)256 * 1024 * 1024;
    return setrlimit(RLIMIT_AS, &rl) == 0;
}

static void unlimit_address_space(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_AS, &rl);
    }
}

static int enomem_flag;
static void *main_spawn_enomem(void *arg)
{
    ax_task *t = AXT_P(0x1), *u;
    ax_task_opts o;
    ax_loop_stats s0, s1;
    (void)arg;
    memset(&o, 0, sizeof o);
    o.stack_size = (size_t)1 << 30; /* allowed, but cannot be mapped */
    axt_assert_rc(ax_loop_stats_get(&s0), 0);
    /* The stack is taken when the task first runs: the spawn succeeds and
     * the task ends with AX_ENOMEM without running. */
    axt_assert_rc(ax_spawn_with(&t, axt_set_flag, &enomem_flag, &o), 0);
    ck_assert_ptr_ne(t, AXT_P(0x1));
    axt_await_task(t, AX_ENOMEM);
    axt_assert_rc(ax_loop_stats_get(&s1), 0);
    ck_assert_uint_eq(s1.tasks_live, s0.tasks_live);
    ck_assert_uint_eq(s1.stacks_mapped, s0.stacks_mapped);
    /* the loop is fine afterwards */
    axt_spawn(&u, double_it, AXT_P(5));
    ck_assert_ptr_eq(axt_await_task(u, 0), AXT_P(10));
    ck_assert_int_eq(enomem_flag, 0);
    return NULL;
}

/* A stack that cannot be mapped (RLIMIT_AS): the task ends with AX_ENOMEM
 * without running, nothing left behind; ax_run with such a default stack
 * -> AX_ENOMEM. */
START_TEST(test_spawn_enomem)
{
    ax_opts o;
    if (!limit_address_space())
        AXT_SKIP("RLIMIT_AS not usable here (sanitizer, valgrind, or "
                 "setrlimit refused)");
    AXT_RUN_CLEAN(main_spawn_enomem, NULL, NULL);
    memset(&o, 0, sizeof o);
    o.virtual_clock = true;
    o.stack_size = (size_t)1 << 30;
    axt_assert_rc(ax_test_run_with(&o, axt_set_flag, &enomem_flag, NULL),
                  AX_ENOMEM);
    ck_assert_int_eq(enomem_flag, 0);
    unlimit_address_space();
}
END_TEST

/* ThreadSanitizer's runtime limits how many fibers (one per live task) can
 * exist at once (about 8k with gcc 12's libtsan), and each costs it about
 * a millisecond to make and tear down (this case took over a minute of
 * CI's TSan row at 10,000), so under TSan fewer tasks run. */
#if defined(__SANITIZE_THREAD__)
#define MANY_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MANY_TSAN 1
#endif
#endif
#ifdef MANY_TSAN
#define MANY 2000
#define MANY_AT_ONCE 1000
#else
#define MANY 10000
#define MANY_AT_ONCE MANY
#endif
static void *main_many_concurrent(void *arg)
{
    static ax_task *t[MANY_AT_ONCE];
    intptr_t sum = 0;
    ax_loop_stats st;
    (void)arg;
    for (int i = 0; i < MANY_AT_ONCE; i++)
        axt_spawn(&t[i], double_it, AXT_P(i));
    axt_assert_rc(ax_loop_stats_get(&st), 0);
    ck_assert_uint_ge(st.tasks_live, MANY_AT_ONCE);
    for (int i = 0; i < MANY_AT_ONCE; i++)
        sum += AXT_I(axt_await_task(t[i], 0));
    ck_assert_int_eq(sum, (intptr_t)MANY_AT_ONCE * (MANY_AT_ONCE - 1));
    return NULL;
}

/* 10,000 tasks alive at once (1,000 under TSan), all awaited, every
 * result right. */
START_TEST(test_many_tasks_concurrent)
{
    AXT_RUN_CLEAN(main_many_concurrent, NULL, NULL);
}
END_TEST

static void *main_many_sequential(void *arg)
{
    ax_loop_stats s0, s1;
    (void)arg;
    axt_assert_rc(ax_loop_stats_get(&s0), 0);
    for (int i = 0; i < MANY; i++) {
        ax_task *t;
        axt_spawn(&t, double_it, AXT_P(i));
        ck_assert_ptr_eq(axt_await_task(t, 0), AXT_P(2 * i));
    }
    axt_assert_rc(ax_loop_stats_get(&s1), 0);
    ck_assert_uint_eq(s1.tasks_spawned, s0.tasks_spawned + MANY);
    ck_assert_uint_eq(s1.tasks_live, s0.tasks_live);
    /* stacks are reused from the pool, not mapped per task */
    ck_assert_msg(s1.stacks_mapped <= s0.stacks_mapped + 4,
                  "stacks_mapped grew from %" PRIu64 " to %" PRIu64,
                  s0.stacks_mapped, s1.stacks_mapped);
    return NULL;
}

/* 10,000 tasks (2,000 under TSan) one after another reuse pooled stacks:
 * stacks_mapped stays small. */
START_TEST(test_many_tasks_sequential_pool)
{
    AXT_RUN_CLEAN(main_many_sequential, NULL, NULL);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Cancellation                                                             */

static axt_probe csleep = {.sleep = 10.0, .ret = AXT_P(1)};
static void *main_cancel_sleeping(void *arg)
{
    ax_task *t;
    (void)arg;
    axt_spawn(&t, axt_probe_fn, &csleep);
    axt_assert_rc(ax_yield(), 0); /* t sleeps */
    axt_assert_rc(ax_cancel(t), 0);
    axt_await_task(t, AX_ECANCELED);
    axt_assert_rc(csleep.sleep_rc, AX_ECANCELED);
    ck_assert_int_eq(csleep.cleanup, 1);
    ck_assert_double_eq(ax_now(), 0.0); /* the 10 s sleep was cut short */
    return NULL;
}

/* Cancelling a sleeping task: its sleep returns AX_ECANCELED, its outcome
 * is AX_ECANCELED although it returned a value. */
START_TEST(test_cancel_sleeping)
{
    AXT_RUN_CLEAN(main_cancel_sleeping, NULL, NULL);
}
END_TEST

static int once_rc[3] = {1, 1, 1};
static int once_cleanup_done;
static void *cancelled_cleans_up(void *arg)
{
    (void)arg;
    once_rc[0] = ax_sleep(10.0);
    /* clean-up may suspend again: the cancel was delivered once */
    once_rc[1] = ax_sleep(1.0);
    once_rc[2] = ax_yield();
    once_cleanup_done = 1;
    return AXT_P(42);
}

static void *main_cancel_once(void *arg)
{
    ax_task *t;
    (void)arg;
    axt_spawn(&t, cancelled_cleans_up, NULL);
    axt_assert_rc(ax_yield(), 0);
    axt_assert_rc(ax_cancel(t), 0);
    axt_await_task(t, AX_ECANCELED);
    ck_assert_double_eq(ax_now(), 1.0);
    return NULL;
}

/* AX_ECANCELED is delivered once; clean-up may sleep; the outcome is still
 * AX_ECANCELED. */
START_TEST(test_cancel_delivered_once)
{
    AXT_RUN_CLEAN(main_cancel_once, NULL, NULL);
    axt_assert_rc(once_rc[0], AX_ECANCELED);
    axt_assert_rc(once_rc[1], 0);
    axt_assert_rc(once_rc[2], 0);
    ck_assert_int_eq(once_cleanup_done, 1);
}
END_TEST

static void *cancelled_fails_own(void *arg)
{
    (void)arg;
    if (ax_sleep(10.0) == AX_ECANCELED)
        return ax_task_fail(-555);
    return NULL;
}

static void *main_cancel_own_code(void *arg)
{
    ax_task *t;
    (void)arg;
    axt_spawn(&t, cancelled_fails_own, NULL);
    axt_assert_rc(ax_yield(), 0);
    axt_assert_rc(ax_cancel(t), 0);
    axt_await_task(t, -555);
    return NULL;
}

/* A cancelled task failing with its own code ends with that code. */
START_TEST(test_cancel_own_code_wins)
{
    AXT_RUN_CLEAN(main_cancel_own_code, NULL, NULL);
}
END_TEST

static int never_ran_started, never_ran_rc = 1;
static void *first_suspension(void *arg)
{
    (void)arg;
    never_ran_started = 1;
    never_ran_rc = ax_yield();
    return AXT_P(1);
}

static void *main_cancel_before_run(void *arg)
{
    ax_task *t;
    (void)arg;
    axt_spawn(&t, first_suspension, NULL);
    axt_assert_rc(ax_cancel(t), 0); /* before it ever ran */
    ck_assert_int_eq(never_ran_started, 0);
    axt_await_task(t, AX_ECANCELED);
    ck_assert_int_eq(never_ran_started, 1);
    axt_assert_rc(never_ran_rc, AX_ECANCELED);
    return NULL;
}

/* A task cancelled before it ran still starts and sees AX_ECANCELED at its
 * first suspension. */
START_TEST(test_cancel_before_first_run)
{
    AXT_RUN_CLEAN(main_cancel_before_run, NULL, NULL);
}
END_TEST

static void *main_cancel_before_run_nosuspend(void *arg)
{
    ax_task *t;
    (void)arg;
    child_flag = 0;
    axt_spawn(&t, axt_set_flag, &child_flag); /* never suspends */
    axt_assert_rc(ax_cancel(t), 0);
    axt_await_task(t, AX_ECANCELED);
    ck_assert_int_eq(child_flag, 1); /* the body always starts */
    return NULL;
}

/* A task asked to cancel ends as AX_ECANCELED even if it never suspends
 * (it was asked to cancel and did not fail with its own code). */
START_TEST(test_cancel_before_run_no_suspension)
{
    AXT_RUN_CLEAN(main_cancel_before_run_nosuspend, NULL, NULL);
}
END_TEST

static void *main_cancel_finished(void *arg)
{
    ax_task *t;
    (void)arg;
    axt_spawn(&t, double_it, AXT_P(3));
    axt_assert_rc(ax_yield(), 0);
    ck_assert(ax_task_done(t));
    axt_assert_rc(ax_cancel(t), AX_EALREADY);
    ck_assert_ptr_eq(axt_await_task(t, 0), AXT_P(6)); /* outcome unchanged */
    axt_assert_rc(ax_cancel_future(NULL), AX_EINVAL); /* bad input: NULL */
    return NULL;
}

/* Cancelling a finished task -> AX_EALREADY and its result stands. */
START_TEST(test_cancel_finished_ealready)
{
    AXT_RUN_CLEAN(main_cancel_finished, NULL, NULL);
}
END_TEST

static int self_cancel_yield_rc = 1;
static void *cancels_itself(void *arg)
{
    (void)arg;
    axt_assert_rc(ax_cancel(ax_task_self()), 0);
    self_cancel_yield_rc = ax_yield();
    return NULL;
}

static void *main_self_cancel(void *arg)
{
    ax_task *t;
    (void)arg;
    axt_spawn(&t, cancels_itself, NULL);
    axt_await_task(t, AX_ECANCELED);
    axt_assert_rc(self_cancel_yield_rc, AX_ECANCELED);
    return NULL;
}

/* A task may cancel itself: its next suspension returns AX_ECANCELED. */
START_TEST(test_cancel_self)
{
    AXT_RUN_CLEAN(main_self_cancel, NULL, NULL);
}
END_TEST

static axt_probe inner_p = {.sleep = 10.0, .cleanup_sleep = 2.0};
static int outer_await_rc = 1, inner_finished_when_outer_returned;
static void *outer_awaits_inner(void *arg)
{
    ax_task *inner;
    (void)arg;
    inner = axt_spawn_named("inner", axt_probe_fn, &inner_p);
    outer_await_rc = ax_await(inner, NULL);
    inner_finished_when_outer_returned = inner_p.finished;
    return NULL;
}

static void *main_cancel_propagates(void *arg)
{
    ax_task *outer;
    (void)arg;
    outer = axt_spawn_named("outer", outer_awaits_inner, NULL);
    axt_assert_rc(ax_yield(), 0); /* outer spawns inner and awaits it */
    axt_assert_rc(ax_yield(), 0); /* inner sleeps */
    ck_assert_int_eq(inner_p.started, 1);
    axt_assert_rc(ax_cancel(outer), 0);
    axt_await_task(outer, AX_ECANCELED);
    ck_assert_double_eq(ax_now(), 2.0); /* inner's clean-up was waited for */
    return NULL;
}

/* Cancelling a task blocked in ax_await cancels the awaited task, waits for
 * it (its clean-up included) and returns AX_ECANCELED. */
START_TEST(test_cancel_propagates_through_await)
{
    AXT_RUN_CLEAN(main_cancel_propagates, NULL, NULL);
    axt_assert_rc(outer_await_rc, AX_ECANCELED);
    axt_assert_rc(inner_p.sleep_rc, AX_ECANCELED);
    ck_assert_int_eq(inner_p.cleanup, 1);
    axt_assert_rc(inner_p.cleanup_rc, 0);
    ck_assert_int_eq(inner_finished_when_outer_returned, 1);
}
END_TEST

static void *main_cancel_twice(void *arg)
{
    ax_task *t;
    static axt_probe p = {.sleep = 10.0};
    (void)arg;
    axt_spawn(&t, axt_probe_fn, &p);
    axt_assert_rc(ax_yield(), 0);
    axt_assert_rc(ax_cancel(t), 0);
    axt_assert_rc(ax_cancel(t), 0); /* still not done: 0, not AX_EALREADY */
    axt_await_task(t, AX_ECANCELED);
    axt_assert_rc(p.sleep_rc, AX_ECANCELED);
    return NULL;
}

/* A second cancel before the task ended also returns 0. */
START_TEST(test_cancel_twice)
{
    AXT_RUN_CLEAN(main_cancel_twice, NULL, NULL);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Await errors                                                             */

static int self_await_rc = 1;
static void *awaits_itself(void *arg)
{
    (void)arg;
    self_await_rc = ax_await(ax_task_self(), NULL);
    return AXT_P(7);
}

static void *main_self_await(void *arg)
{
    ax_task *t;
    (void)arg;
    axt_assert_rc(ax_await(ax_task_self(), NULL), AX_EDEADLK);
    axt_spawn(&t, awaits_itself, NULL);
    ck_assert_ptr_eq(axt_await_task(t, 0), AXT_P(7));
    axt_assert_rc(self_await_rc, AX_EDEADLK);
    return NULL;
}

/* A task awaiting itself -> AX_EDEADLK (and does not hang). */
START_TEST(test_self_await_edeadlk)
{
    AXT_RUN_CLEAN(main_self_await, NULL, NULL);
}
END_TEST

static void *await_task_arg(void *arg)
{
    void *r = NULL;
    int rc = ax_await((ax_task *)arg, &r);
    return rc == 0 ? r : ax_task_fail(rc);
}

static void *main_second_awaiter(void *arg)
{
    ax_task *t, *w;
    static axt_probe p = {.sleep = 1.0, .ret = AXT_P(11)};
    (void)arg;
    axt_spawn(&t, axt_probe_fn, &p);
    axt_spawn(&w, await_task_arg, t);
    axt_assert_rc(ax_yield(), 0); /* w awaits t */
    axt_assert_rc(ax_await(t, NULL), AX_EBUSY);
    ck_assert_double_eq(ax_now(), 0.0); /* returned without waiting */
    ck_assert_ptr_eq(axt_await_task(w, 0), AXT_P(11));
    return NULL;
}

/* A second awaiter of a task -> AX_EBUSY; the first gets the result. */
START_TEST(test_second_awaiter_ebusy)
{
    AXT_RUN_CLEAN(main_second_awaiter, NULL, NULL);
}
END_TEST

static void *main_spawn_null_fn(void *arg)
{
    ax_task *t = AXT_P(0x1);
    ax_task_opts o;
    (void)arg;
    memset(&o, 0, sizeof o);
    axt_assert_rc(ax_spawn(&t, NULL, NULL), AX_EINVAL); /* bad input: fn */
    ck_assert_ptr_eq(t, AXT_P(0x1));
    axt_assert_rc(ax_spawn_with(&t, NULL, NULL, &o), AX_EINVAL);
    axt_assert_rc(ax_spawn(NULL, NULL, NULL), AX_EINVAL);
    ck_assert_ptr_eq(t, AXT_P(0x1));
    return NULL;
}

/* ax_spawn with fn == NULL -> AX_EINVAL, nothing created. */
START_TEST(test_spawn_null_fn_einval)
{
    AXT_RUN_CLEAN(main_spawn_null_fn, NULL, NULL);
}
END_TEST

/* ax_spawn outside a loop -> AX_EPERM, *out untouched. */
START_TEST(test_spawn_outside_loop_eperm)
{
    ax_task *t = AXT_P(0x1);
    axt_assert_rc(ax_spawn(&t, axt_return_arg, NULL), AX_EPERM);
    ck_assert_ptr_eq(t, AXT_P(0x1));
    axt_assert_rc(ax_spawn_with(&t, axt_return_arg, NULL, NULL), AX_EPERM);
    axt_assert_rc(ax_spawn(NULL, axt_return_arg, NULL), AX_EPERM);
    ck_assert_ptr_eq(t, AXT_P(0x1));
}
END_TEST

static int cb_spawn_flag, cb_spawn_rc = 1;
static void spawn_from_callback(ax_future *f, void *arg)
{
    (void)f;
    (void)arg;
    cb_spawn_rc = ax_spawn(NULL, axt_set_flag, &cb_spawn_flag);
}

static void *main_spawn_from_cb(void *arg)
{
    ax_future *f;
    (void)arg;
    axt_assert_rc(ax_future_new(&f), 0);
    axt_assert_rc(ax_future_on_done(f, spawn_from_callback, NULL), 0);
    axt_assert_rc(ax_future_set_result(f, NULL), 0);
    axt_assert_rc(ax_sleep(1.0), 0);
    axt_assert_rc(cb_spawn_rc, 0);
    ck_assert_int_eq(cb_spawn_flag, 1);
    axt_assert_rc(ax_future_free(f), 0);
    return NULL;
}

/* ax_spawn works from a done callback (a loop's thread, not a task). */
START_TEST(test_spawn_from_callback)
{
    AXT_RUN_CLEAN(main_spawn_from_cb, NULL, NULL);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Stale handles and other loops                                            */

static void *main_await_twice(void *arg)
{
    ax_task *t;
    void *r = NULL;
    (void)arg;
    axt_spawn(&t, double_it, AXT_P(4));
    axt_assert_rc(ax_await(t, &r), 0);
    ck_assert_int_eq(AXT_I(r), 8);
    /* the first await consumed the handle and freed the task */
    axt_assert_rc(ax_await(t, &r), AX_ESRCH);
    axt_assert_rc(ax_await_timeout(t, 1.0, &r), AX_ESRCH);
    return NULL;
}

/* Awaiting a task a second time: AX_ESRCH, not a use of freed memory. */
START_TEST(test_await_task_twice_returns_esrch)
{
    AXT_RUN_CLEAN(main_await_twice, NULL, NULL);
}
END_TEST

static void *main_await_after_detach_ended(void *arg)
{
    ax_task *t;
    (void)arg;
    axt_spawn(&t, double_it, AXT_P(1));
    axt_assert_rc(ax_yield(), 0); /* t runs and ends */
    ck_assert(ax_task_done(t));
    axt_assert_rc(ax_task_detach(t), 0); /* frees it */
    axt_assert_rc(ax_await(t, NULL), AX_ESRCH);
    axt_assert_rc(ax_task_detach(t), AX_ESRCH);
    return NULL;
}

/* Detaching an ended task frees it: a later await or detach is AX_ESRCH. */
START_TEST(test_await_after_detach_of_ended_task)
{
    AXT_RUN_CLEAN(main_await_after_detach_ended, NULL, NULL);
}
END_TEST

static axt_probe live_probe = {.sleep = 1.0};
static void *main_await_after_detach_running(void *arg)
{
    ax_task *t;
    ax_future *arr[1];
    ax_future *g;
    (void)arg;
    axt_spawn(&t, axt_probe_fn, &live_probe);
    axt_assert_rc(ax_task_detach(t), 0);
    /* the struct lives until the task ends, the handle does not */
    axt_assert_rc(ax_await(t, NULL), AX_ESRCH);
    axt_assert_rc(ax_task_detach(t), AX_ESRCH);
    arr[0] = ax_task_future(t);
    axt_assert_rc(ax_gather_start(&g, arr, 1, NULL, NULL, AX_GATHER_FAIL_FAST),
                  AX_ESRCH);
    return NULL;
}

/* A detached task still running: its handle is given up, so await, a second
 * detach and a gather over it are AX_ESRCH too. */
START_TEST(test_await_after_detach_of_running_task_returns_esrch)
{
    AXT_RUN_CLEAN(main_await_after_detach_running, NULL, NULL);
}
END_TEST

static void *main_stale_task_calls(void *arg)
{
    ax_task *t;
    void *r;
    (void)arg;
    axt_spawn(&t, double_it, AXT_P(2));
    axt_assert_rc(ax_await(t, NULL), 0);
    axt_assert_rc(ax_task_set_name(t, "late"), AX_ESRCH);
    axt_assert_rc(ax_task_result(t, &r), AX_ESRCH);
    axt_assert_rc(ax_cancel(t), AX_ESRCH);
    ck_assert(!ax_task_done(t));
    ck_assert_uint_eq(ax_task_id(t), 0);
    ck_assert_str_eq(ax_task_name(t), "");
    return NULL;
}

/* Every call on a freed task: AX_ESRCH, false, 0 or "". */
START_TEST(test_stale_task_calls_return_esrch)
{
    AXT_RUN_CLEAN(main_stale_task_calls, NULL, NULL);
}
END_TEST

static void *main_stale_after_many(void *arg)
{
    ax_task *stale, *t;
    (void)arg;
    axt_spawn(&stale, double_it, AXT_P(1));
    axt_assert_rc(ax_await(stale, NULL), 0);
    /* freed structs are reused oldest first and only after a quarantine
     * of a few hundred: a hundred more tasks leave the stale one dead */
    for (int i = 0; i < 100; i++) {
        axt_spawn(&t, double_it, AXT_P(i));
        ck_assert_ptr_ne(t, stale);
        axt_assert_rc(ax_await(t, NULL), 0);
    }
    axt_assert_rc(ax_await(stale, NULL), AX_ESRCH);
    return NULL;
}

/* A stale handle is still caught after a hundred tasks came and went. */
START_TEST(test_await_stale_task_after_100_spawns_returns_esrch)
{
    AXT_RUN_CLEAN(main_stale_after_many, NULL, NULL);
}
END_TEST

typedef struct xloop {
    ax_future *gate; /* loop 0's: the task on loop 1 waits for it */
    ax_task *t;
} xloop;

static void *await_gate(void *arg)
{
    xloop *x = arg;
    void *r = NULL;
    axt_assert_rc(ax_await(x->gate, &r), 0);
    return r;
}

static void *main_set_name_other_loop(void *arg)
{
    xloop x;
    void *r = NULL;
    (void)arg;
    axt_assert_rc(ax_future_new(&x.gate), 0);
    axt_assert_rc(axt_spawn_on(ax_loop_at(1), &x.t, await_gate, &x), 0);
    axt_assert_rc(ax_task_set_name(x.t, "racy"), AX_EWRONGLOOP);
    axt_assert_rc(ax_task_result(x.t, &r), AX_EWRONGLOOP);
    ck_assert(!ax_task_done(x.t));
    ck_assert_str_eq(ax_task_name(x.t), "");
    ck_assert_uint_ne(ax_task_id(x.t), 0);
    axt_assert_rc(ax_future_set_result(x.gate, AXT_P(9)), 0);
    axt_assert_rc(ax_await(x.t, &r), 0); /* cross-loop await still works */
    ck_assert_int_eq(AXT_I(r), 9);
    axt_assert_rc(ax_await(x.t, &r), AX_ESRCH);
    axt_assert_rc(ax_future_free(x.gate), 0);
    return NULL;
}

/* Renaming (or reading the name or result of) a task of another loop is
 * AX_EWRONGLOOP, not a silent race; await across loops still works, and
 * awaiting it twice is AX_ESRCH there too. */
START_TEST(test_set_name_from_other_loop_returns_ewrongloop)
{
    AXT_RUN_LOOPS_CLEAN(2, main_set_name_other_loop, NULL);
}
END_TEST

static void *nap(void *arg)
{
    (void)arg;
    ax_sleep(1.0); /* cancelled at teardown if still asleep */
    return NULL;
}

static void *main_cross_detach_then_await(void *arg)
{
    ax_task *t;
    (void)arg;
    axt_assert_rc(axt_spawn_on(ax_loop_at(1), &t, nap, NULL), 0);
    axt_assert_rc(ax_task_detach(t), 0); /* posted to loop 1 */
    /* the await reaches loop 1 after the detach did */
    axt_assert_rc(ax_await(t, NULL), AX_ESRCH);
    return NULL;
}

/* Detach from another loop, then await: the owner loop finds the handle
 * given up and the await returns AX_ESRCH. */
START_TEST(test_await_after_cross_loop_detach_returns_esrch)
{
    AXT_RUN_LOOPS_CLEAN(2, main_cross_detach_then_await, NULL);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Eager start (ax_task_opts.eager)                                         */

static const ax_task_opts eager_opts = {.eager = true};

static void *main_eager_runs_at_once(void *arg)
{
    ax_task *t;
    (void)arg;
    child_flag = 0;
    axt_assert_rc(ax_spawn_with(&t, axt_set_flag, &child_flag, &eager_opts),
                  0);
    ck_assert_int_eq(child_flag, 1); /* ran before the call returned */
    ck_assert(ax_task_done(t));
    axt_await_task(t, 0);
    return NULL;
}

/* An eager task runs inside ax_spawn_with() until it ends. */
START_TEST(test_eager_runs_before_spawn_returns)
{
    AXT_RUN_CLEAN(main_eager_runs_at_once, NULL, NULL);
}
END_TEST

static void *main_eager_order(void *arg)
{
    ax_task *a, *e;
    (void)arg;
    axt_spawn(&a, log_arg, "A"); /* ready before the eager one */
    axt_assert_rc(ax_spawn_with(&e, log_yield_log, "E", &eager_opts), 0);
    /* E ran to its yield, then the spawner came back ahead of A. */
    axt_log("m");
    AXT_ASSERT_LOG("Em");
    axt_await_task(a, 0);
    axt_await_task(e, 0);
    AXT_ASSERT_LOG("EmAe");
    return NULL;
}

/* Order: the eager task first, then the spawner ahead of the tasks that
 * were ready already, then those, then the eager task's next turn. */
START_TEST(test_eager_order)
{
    AXT_RUN_CLEAN(main_eager_order, NULL, NULL);
}
END_TEST

static void *eager_chain(void *arg)
{
    uintptr_t n = (uintptr_t)arg;
    ax_task *t;
    void *res;

    if (n == 0)
        return NULL;
    axt_assert_rc(ax_spawn_with(&t, eager_chain, (void *)(n - 1),
                                &eager_opts),
                  0);
    ck_assert(ax_task_done(t)); /* a chain that never waits ends at once */
    axt_assert_rc(ax_await(t, &res), 0);
    return (void *)(n + (uintptr_t)res);
}

static void *eager_tree(void *arg)
{
    uintptr_t level = (uintptr_t)arg;
    ax_task *t[4];
    uintptr_t sum = 1;

    if (level == 0) {
        axt_assert_rc(ax_yield(), 0); /* a leaf that waits once */
        return (void *)1;
    }
    for (int i = 0; i < 4; i++)
        axt_assert_rc(ax_spawn_with(&t[i], eager_tree, (void *)(level - 1),
                                    &eager_opts),
                      0);
    for (int i = 0; i < 4; i++) {
        void *res;
        axt_assert_rc(ax_await(t[i], &res), 0);
        sum += (uintptr_t)res;
    }
    return (void *)sum;
}

static void *main_eager_nested(void *arg)
{
    void *res;
    ax_task *t;
    (void)arg;
    /* 200 nested eager spawns: each frame waits on the stack below it. */
    axt_assert_rc(ax_spawn_with(&t, eager_chain, (void *)200, &eager_opts),
                  0);
    axt_assert_rc(ax_await(t, &res), 0);
    ck_assert_uint_eq((uintptr_t)res, 200u * 201u / 2);
    /* A tree whose leaves wait: 1 + 4 + 16 + 64 + 256 tasks counted. */
    axt_assert_rc(ax_spawn_with(&t, eager_tree, (void *)4, &eager_opts), 0);
    axt_assert_rc(ax_await(t, &res), 0);
    ck_assert_uint_eq((uintptr_t)res, 341);
    return NULL;
}

/* Eager spawns nest (a chain, a tree whose leaves suspend). */
START_TEST(test_eager_nested)
{
    AXT_RUN_CLEAN(main_eager_nested, NULL, NULL);
}
END_TEST

static int eager_self_rc = 1, eager_after_rc = 1, eager_flag;
static void *eager_spawner_cancelled(void *arg)
{
    (void)arg;
    axt_assert_rc(ax_cancel(ax_task_self()), 0);
    eager_self_rc = ax_spawn_with(NULL, axt_set_flag, &eager_flag,
                                  &eager_opts);
    eager_after_rc = ax_yield();
    return NULL;
}

static void *main_eager_cancel_pending(void *arg)
{
    ax_task *t;
    (void)arg;
    eager_flag = 0;
    axt_spawn(&t, eager_spawner_cancelled, NULL);
    axt_await_task(t, AX_ECANCELED);
    axt_assert_rc(eager_self_rc, 0);
    ck_assert_int_eq(eager_flag, 1);
    axt_assert_rc(eager_after_rc, AX_ECANCELED);
    return NULL;
}

/* A spawner with a cancellation pending still spawns (0, the child runs):
 * the eager switch is not a wait; its next wait gets AX_ECANCELED. */
START_TEST(test_eager_keeps_cancel_pending)
{
    AXT_RUN_CLEAN(main_eager_cancel_pending, NULL, NULL);
}
END_TEST

static int eager_cb_flag, eager_cb_rc = 1, eager_cb_ran_inside = -1;
static void eager_from_callback(ax_future *f, void *arg)
{
    (void)f;
    (void)arg;
    eager_cb_rc = ax_spawn_with(NULL, axt_set_flag, &eager_cb_flag,
                                &eager_opts);
    eager_cb_ran_inside = eager_cb_flag;
}

static void *main_eager_from_cb(void *arg)
{
    ax_future *f;
    ax_task *t;
    (void)arg;
    eager_cb_flag = 0;
    axt_assert_rc(ax_future_new(&f), 0);
    axt_assert_rc(ax_future_on_done(f, eager_from_callback, NULL), 0);
    axt_assert_rc(ax_future_set_result(f, NULL), 0);
    axt_assert_rc(ax_sleep(0.01), 0);
    axt_assert_rc(eager_cb_rc, 0);
    ck_assert_int_eq(eager_cb_ran_inside, 0); /* queued, as ax_spawn */
    ck_assert_int_eq(eager_cb_flag, 1);
    axt_assert_rc(ax_future_free(f), 0);
    /* Onto another loop: queued there, the spawner does not wait. */
    ax_task_opts o = {.eager = true, .loop = ax_loop_at(1)};
    axt_assert_rc(ax_spawn_with(&t, axt_return_arg, AXT_P(7), &o), 0);
    void *res;
    axt_assert_rc(ax_await(t, &res), 0);
    ck_assert_ptr_eq(res, AXT_P(7));
    return NULL;
}

/* From a callback (no task to step aside) or onto another loop, eager is
 * ignored: the task is queued as with ax_spawn(). */
START_TEST(test_eager_ignored_outside_task)
{
    AXT_RUN_LOOPS_CLEAN(2, main_eager_from_cb, NULL);
}
END_TEST

Suite *ax_task_suite(void)
{
    Suite *s = suite_create("task");
    TCase *tc = axt_tcase(s, "spawn");
    tcase_add_test(tc, test_spawn_runs_at_yield);
    tcase_add_test(tc, test_spawn_runs_at_await);
    tcase_add_test(tc, test_fifo_order);
    tcase_add_test(tc, test_yield_ordering);
    tcase_add_test(tc, test_yield_outside_task);
    tcase_add_test(tc, test_results);
    tcase_add_test(tc, test_task_future);
    tcase_add_test(tc, test_spawn_null_fn_einval);
    tcase_add_test(tc, test_spawn_outside_loop_eperm);
    tcase_add_test(tc, test_spawn_from_callback);

    tc = axt_tcase(s, "eager");
    tcase_add_test(tc, test_eager_runs_before_spawn_returns);
    tcase_add_test(tc, test_eager_order);
    tcase_add_test(tc, test_eager_nested);
    tcase_add_test(tc, test_eager_keeps_cancel_pending);
    tcase_add_test(tc, test_eager_ignored_outside_task);

    tc = axt_tcase(s, "detach");
    tcase_add_test(tc, test_detached);
    tcase_add_test(tc, test_detach_errors);

    tc = axt_tcase(s, "fail");
    tcase_add_test(tc, test_task_fail_codes);
    tcase_add_test(tc, test_task_fail_outside_task);

    tc = axt_tcase(s, "identity");
    tcase_add_test(tc, test_names);
    tcase_add_test(tc, test_ids_unique);
    tcase_add_test(tc, test_ids_unique_across_threads);
    tcase_add_test(tc, test_done_and_result);

    tc = axt_tcase(s, "stack");
    tcase_add_test(tc, test_stack_size_option);
    tcase_add_test(tc, test_loop_default_stack_size);
    tcase_add_test(tc, test_stack_size_rounding_and_limit);
    tcase_add_test(tc, test_spawn_enomem);

    tc = axt_tcase(s, "many");
    tcase_set_timeout(tc, 300.0); /* hang guard for valgrind, not a bound */
    tcase_add_test(tc, test_many_tasks_concurrent);
    tcase_add_test(tc, test_many_tasks_sequential_pool);

    tc = axt_tcase(s, "cancel");
    tcase_add_test(tc, test_cancel_sleeping);
    tcase_add_test(tc, test_cancel_delivered_once);
    tcase_add_test(tc, test_cancel_own_code_wins);
    tcase_add_test(tc, test_cancel_before_first_run);
    tcase_add_test(tc, test_cancel_before_run_no_suspension);
    tcase_add_test(tc, test_cancel_finished_ealready);
    tcase_add_test(tc, test_cancel_self);
    tcase_add_test(tc, test_cancel_propagates_through_await);
    tcase_add_test(tc, test_cancel_twice);

    tc = axt_tcase(s, "await");
    tcase_add_test(tc, test_self_await_edeadlk);
    tcase_add_test(tc, test_second_awaiter_ebusy);

    tc = axt_tcase(s, "misuse");
    tcase_add_test(tc, test_await_task_twice_returns_esrch);
    tcase_add_test(tc, test_await_after_detach_of_ended_task);
    tcase_add_test(tc, test_await_after_detach_of_running_task_returns_esrch);
    tcase_add_test(tc, test_stale_task_calls_return_esrch);
    tcase_add_test(tc, test_await_stale_task_after_100_spawns_returns_esrch);
    tcase_add_test(tc, test_set_name_from_other_loop_returns_ewrongloop);
    tcase_add_test(tc, test_await_after_cross_loop_detach_returns_esrch);
    return s;
}

#ifndef AX_TEST_NO_MAIN
int main(void)
{
    return ax_test_main(ax_task_suite());
}
#endif
