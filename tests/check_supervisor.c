/* SPDX-License-Identifier: MIT */
/* check_supervisor.c: tests for supervisor.h: every strategy, restart
 * types, intensity (and a tree that survives a child supervisor giving
 * up), the ways a child crashes, children on another loop, shutdown order
 * and deadlines, simple_one_for_one, and the gen_server helper (call, cast,
 * info, timeouts, deaths, deferred replies). Virtual clock throughout.
 *
 * Workers count their starts in atomics (a child may run on loop 1) and
 * log their ends ("<name>-") so that orders can be compared; the log is
 * only written from one loop per test. */
#include <math.h>
#include <stdatomic.h>

#include "axtest.h"

Suite *ax_supervisor_suite(void);

enum { W_CRASH = 1, W_QUIT, W_LINK };

typedef struct wk {
    const char *name;
    atomic_int starts;
    int crash_first;   /* crash at once on the first N starts */
    bool stubborn;     /* traps exits: ignores the polite signal */
    bool log;          /* log its end */
} wk;

static void wk_end(wk *w)
{
    char buf[32];

    if (w->log) {
        snprintf(buf, sizeof buf, "%s-", w->name);
        axt_log(buf);
    }
}

static void *worker(void *arg)
{
    wk *w = arg;
    int n = atomic_fetch_add(&w->starts, 1) + 1;
    ax_msg m;

    if (n <= w->crash_first)
        return ax_task_fail(AX_EPIPE);
    for (;;) {
        int rc = ax_recv(&m, -1);

        if (rc) {
            wk_end(w);
            return NULL; /* cancelled: ends as AX_ECANCELED or the reason */
        }
        switch (m.tag) {
        case W_CRASH:
            return ax_task_fail((int)AXT_I(m.data));
        case W_QUIT:
            return NULL;
        case W_LINK:
            axt_assert_rc(ax_link(*(ax_actor_ref *)m.data), 0);
            axt_assert_rc(ax_reply(&m, NULL), 0);
            break;
        case AX_MSG_EXIT:
            if (w->stubborn && w->log) {
                char buf[32];
                snprintf(buf, sizeof buf, "%s!", w->name);
                axt_log(buf);
            }
            break;
        }
    }
}

static ax_sup_spec wspec(wk *w)
{
    ax_sup_spec s;

    memset(&s, 0, sizeof s);
    s.name = w->name;
    s.body = worker;
    s.arg = w;
    s.actor.trap_exits = w->stubborn;
    return s;
}

/* The running children, asserting there are @p want. */
static void kids(ax_actor_ref sup, ax_actor_ref *out, size_t want)
{
    size_t n = 99;

    axt_assert_rc(ax_sup_which_children(sup, out, 8, &n), 0);
    ck_assert_uint_eq(n, want);
}

/* Wait (on the virtual clock) until @p w has started @p n times and the
 * supervisor has @p nkids running children again. */
static void wait_starts(ax_actor_ref sup, wk *w, int n, size_t nkids)
{
    ax_actor_ref r[8];
    size_t got = 0;

    for (int i = 0; i < 1000; i++) {
        axt_assert_rc(ax_sup_which_children(sup, r, 8, &got), 0);
        if (atomic_load(&w->starts) >= n && got == nkids)
            break;
        axt_assert_rc(ax_sleep(0.001), 0);
    }
    ck_assert_int_eq(atomic_load(&w->starts), n);
    ck_assert_uint_eq(got, nkids);
}

static int run(int loops, ax_task_fn fn)
{
    ax_opts o;

    memset(&o, 0, sizeof o);
    o.loops = loops;
    o.virtual_clock = true;
    axt_log_reset();
    return ax_test_run_with(&o, fn, NULL, NULL);
}

#define RUN_OK(loops, fn)                                                     \
    do {                                                                      \
        int r_ = run((loops), (fn));                                          \
        ck_assert_msg(r_ == 0, "ax_run returned %d (%s); report:\n%s", r_,    \
                      ax_err_name(r_), ax_test_report());                     \
        AXT_ASSERT_CLEAN();                                                   \
    } while (0)

/* ---- strategies -------------------------------------------------------- */

static wk A, B, C;

static void three(ax_sup_strategy st, ax_actor_ref *sup, ax_actor_ref *r)
{
    ax_sup_opts o;
    ax_sup_spec s[3];

    memset(&o, 0, sizeof o);
    o.strategy = st;
    A = (wk){.name = "a", .log = true};
    B = (wk){.name = "b", .log = true};
    C = (wk){.name = "c", .log = true};
    s[0] = wspec(&A);
    s[1] = wspec(&B);
    s[2] = wspec(&C);
    axt_assert_rc(ax_sup_start(sup, &o, s, 3), 0);
    kids(*sup, r, 3);
    ck_assert_int_eq(atomic_load(&A.starts), 1);
}

static void *main_one_for_one(void *arg)
{
    ax_actor_ref sup, r[8], r2[8];

    (void)arg;
    three(AX_SUP_ONE_FOR_ONE, &sup, r);
    axt_assert_rc(ax_send(r[1], W_CRASH, AXT_P(AX_EPIPE)), 0);
    wait_starts(sup, &B, 2, 3);
    kids(sup, r2, 3);
    ck_assert(ax_ref_eq(r[0], r2[0]) && ax_ref_eq(r[2], r2[2]));
    ck_assert(!ax_ref_eq(r[1], r2[1]));
    ck_assert_int_eq(atomic_load(&A.starts) + atomic_load(&C.starts), 2);
    AXT_ASSERT_LOG("");
    axt_assert_rc(ax_sup_stop(sup, -1), 0);
    AXT_ASSERT_LOG("c-b-a-"); /* reverse start order */
    ck_assert(!ax_actor_alive(sup));
    return NULL;
}

/* one_for_one: only the crashed child restarts, in its place. */
START_TEST(test_one_for_one_restarts_only_the_crashed_child)
{
    RUN_OK(1, main_one_for_one);
}
END_TEST

static void *main_one_for_all(void *arg)
{
    ax_actor_ref sup, r[8], r2[8];

    (void)arg;
    three(AX_SUP_ONE_FOR_ALL, &sup, r);
    axt_assert_rc(ax_send(r[1], W_CRASH, AXT_P(AX_EPIPE)), 0);
    wait_starts(sup, &C, 2, 3);
    AXT_ASSERT_LOG("c-a-");
    ck_assert_int_eq(atomic_load(&A.starts), 2);
    ck_assert_int_eq(atomic_load(&B.starts), 2);
    kids(sup, r2, 3);
    for (int i = 0; i < 3; i++)
        ck_assert(!ax_ref_eq(r[i], r2[i]));
    axt_assert_rc(ax_sup_stop(sup, -1), 0);
    return NULL;
}

/* one_for_all: the others stop in reverse order, all start again. */
START_TEST(test_one_for_all_restarts_every_child)
{
    RUN_OK(1, main_one_for_all);
}
END_TEST

static void *main_rest_for_one(void *arg)
{
    ax_actor_ref sup, r[8], r2[8];

    (void)arg;
    three(AX_SUP_REST_FOR_ONE, &sup, r);
    axt_assert_rc(ax_send(r[1], W_CRASH, AXT_P(AX_EPIPE)), 0);
    wait_starts(sup, &C, 2, 3);
    AXT_ASSERT_LOG("c-");
    ck_assert_int_eq(atomic_load(&A.starts), 1);
    ck_assert_int_eq(atomic_load(&B.starts), 2);
    kids(sup, r2, 3);
    ck_assert(ax_ref_eq(r[0], r2[0]));
    ck_assert(!ax_ref_eq(r[1], r2[1]) && !ax_ref_eq(r[2], r2[2]));
    axt_assert_rc(ax_sup_stop(sup, -1), 0);
    return NULL;
}

/* rest_for_one: the crashed child and those started after it restart. */
START_TEST(test_rest_for_one_restarts_the_later_children)
{
    RUN_OK(1, main_rest_for_one);
}
END_TEST

/* ---- restart types ----------------------------------------------------- */

static void *main_restart_types(void *arg)
{
    ax_sup_opts o;
    ax_sup_spec s[3];
    ax_actor_ref sup, r[8];

    (void)arg;
    memset(&o, 0, sizeof o);
    A = (wk){.name = "perm"};
    B = (wk){.name = "trans"};
    C = (wk){.name = "temp"};
    s[0] = wspec(&A);
    s[1] = wspec(&B);
    s[1].restart = AX_SUP_TRANSIENT;
    s[2] = wspec(&C);
    s[2].restart = AX_SUP_TEMPORARY;
    axt_assert_rc(ax_sup_start(&sup, &o, s, 3), 0);
    kids(sup, r, 3);
    /* transient: an abnormal exit restarts it, a normal one does not */
    axt_assert_rc(ax_send(r[1], W_CRASH, AXT_P(AX_EPIPE)), 0);
    wait_starts(sup, &B, 2, 3);
    kids(sup, r, 3);
    axt_assert_rc(ax_send(r[1], W_QUIT, NULL), 0);
    wait_starts(sup, &B, 2, 2);
    /* temporary: not even after a crash */
    kids(sup, r, 2);
    axt_assert_rc(ax_send(r[1], W_CRASH, AXT_P(AX_EPIPE)), 0);
    wait_starts(sup, &C, 1, 1);
    /* permanent: even after a normal exit */
    kids(sup, r, 1);
    axt_assert_rc(ax_send(r[0], W_QUIT, NULL), 0);
    wait_starts(sup, &A, 2, 1);
    axt_assert_rc(ax_sup_stop(sup, -1), 0);
    return NULL;
}

/* permanent always, transient after a crash only, temporary never. */
START_TEST(test_restart_types_permanent_transient_temporary)
{
    RUN_OK(1, main_restart_types);
}
END_TEST

/* ---- crashes of every kind ---------------------------------------------- */

static void *buddy(void *arg)
{
    ax_msg m;

    (void)arg;
    axt_assert_rc(ax_recv(&m, -1), 0);
    return ax_task_fail(AX_ECONNRESET);
}

static void *main_crash_kinds(void *arg)
{
    ax_sup_opts o;
    ax_sup_spec s[1];
    ax_actor_ref sup, r[8], bud;

    (void)arg;
    memset(&o, 0, sizeof o);
    o.intensity = 10;
    A = (wk){.name = "a"};
    s[0] = wspec(&A);
    s[0].restart = AX_SUP_TRANSIENT; /* so a normal end would not count */
    axt_assert_rc(ax_sup_start(&sup, &o, s, 1), 0);
    /* by cancellation */
    kids(sup, r, 1);
    axt_assert_rc(ax_actor_kill(r[0], AX_ECANCELED), 0);
    wait_starts(sup, &A, 2, 1);
    /* by a linked actor's exit */
    kids(sup, r, 1);
    axt_assert_rc(ax_actor_spawn(&bud, buddy, NULL, NULL), 0);
    axt_assert_rc(ax_call(r[0], W_LINK, &bud, -1, NULL), 0);
    axt_assert_rc(ax_send(bud, W_QUIT, NULL), 0);
    wait_starts(sup, &A, 3, 1);
    /* by a failure code */
    kids(sup, r, 1);
    axt_assert_rc(ax_send(r[0], W_CRASH, AXT_P(-4999)), 0);
    wait_starts(sup, &A, 4, 1);
    axt_assert_rc(ax_sup_stop(sup, -1), 0);
    return NULL;
}

/* A transient child is restarted after a cancellation, a linked actor's
 * crash and a failure code: all abnormal. */
START_TEST(test_crash_by_cancel_link_and_failure_code_restarts)
{
    RUN_OK(1, main_crash_kinds);
}
END_TEST

/* ---- intensity and trees ----------------------------------------------- */

typedef struct tester {
    ax_task_fn fn;
    ax_future *done;
} tester;

static void *tester_body(void *arg)
{
    tester *t = arg;
    void *r = t->fn(NULL);

    axt_assert_rc(ax_future_set_result(t->done, r), 0);
    return NULL;
}

/* Run @p fn in an actor (to monitor) and wait for it. */
static void *in_actor(ax_task_fn fn)
{
    tester t = {.fn = fn};
    void *r;

    axt_assert_rc(ax_future_new(&t.done), 0);
    axt_assert_rc(ax_actor_spawn(NULL, tester_body, &t, NULL), 0);
    axt_assert_rc(ax_await_future(t.done, &r), 0);
    axt_assert_rc(ax_future_free(t.done), 0);
    return r;
}

static void *intensity_body(void *arg)
{
    ax_sup_opts o;
    ax_sup_spec s[1];
    ax_actor_ref sup, r[8];
    ax_msg m;

    (void)arg;
    memset(&o, 0, sizeof o);
    o.intensity = 2;
    o.period = 10;
    A = (wk){.name = "a"};
    s[0] = wspec(&A);
    axt_assert_rc(ax_sup_start(&sup, &o, s, 1), 0);
    axt_assert_rc(ax_monitor(sup), 0);
    for (int i = 1; i <= 3; i++) {
        kids(sup, r, 1);
        axt_assert_rc(ax_send(r[0], W_CRASH, AXT_P(AX_EPIPE)), 0);
        if (i < 3)
            wait_starts(sup, &A, i + 1, 1);
    }
    axt_assert_rc(ax_recv(&m, -1), 0);
    ck_assert_int_eq(m.tag, AX_MSG_DOWN);
    ck_assert(ax_ref_eq(m.from, sup));
    ck_assert_int_eq(m.reason, AX_ERESTARTS);
    ck_assert_int_eq(atomic_load(&A.starts), 3);
    return NULL;
}

static void *main_intensity(void *arg)
{
    (void)arg;
    return in_actor(intensity_body);
}

/* Two restarts in 10 s are allowed; the third crash makes the supervisor
 * stop its child and end with AX_ERESTARTS. */
START_TEST(test_intensity_exhausted_supervisor_fails_erestarts)
{
    RUN_OK(1, main_intensity);
}
END_TEST

static void *main_intensity_window(void *arg)
{
    ax_sup_opts o;
    ax_sup_spec s[1];
    ax_actor_ref sup, r[8];

    (void)arg;
    memset(&o, 0, sizeof o);
    o.intensity = 1;
    o.period = 1;
    A = (wk){.name = "a"};
    s[0] = wspec(&A);
    axt_assert_rc(ax_sup_start(&sup, &o, s, 1), 0);
    for (int i = 1; i <= 4; i++) {
        kids(sup, r, 1);
        axt_assert_rc(ax_send(r[0], W_CRASH, AXT_P(AX_EPIPE)), 0);
        wait_starts(sup, &A, i + 1, 1);
        axt_assert_rc(ax_sleep(1.5), 0); /* older than the period */
    }
    axt_assert_rc(ax_sup_stop(sup, -1), 0);
    return NULL;
}

/* Restarts spread wider than the period never exhaust the intensity. */
START_TEST(test_intensity_counts_only_restarts_within_period)
{
    RUN_OK(1, main_intensity_window);
}
END_TEST

static ax_sup_spec tree_leaf[1];
static ax_sup_child_args tree_args;
static int mid_starts;

static int counting_start(ax_actor_ref *out, void *arg,
                          const ax_actor_opts *opts)
{
    mid_starts++;
    return ax_sup_start_fn_sup(out, arg, opts);
}

static void *main_tree(void *arg)
{
    ax_sup_opts o;
    ax_sup_spec s[1];
    ax_actor_ref top, r[8], leaf[8];

    (void)arg;
    /* The leaf crashes on its first 3 starts; the middle supervisor allows
     * one restart, so it gives up once; the top one restarts it. */
    A = (wk){.name = "leaf", .crash_first = 3};
    tree_leaf[0] = wspec(&A);
    memset(&tree_args, 0, sizeof tree_args);
    tree_args.opts.intensity = 1;
    tree_args.opts.period = 10;
    tree_args.children = tree_leaf;
    tree_args.n = 1;
    memset(s, 0, sizeof s);
    s[0].name = "mid";
    s[0].start = counting_start;
    s[0].arg = &tree_args;
    s[0].shutdown = INFINITY;
    memset(&o, 0, sizeof o);
    mid_starts = 0;
    axt_assert_rc(ax_sup_start(&top, &o, s, 1), 0);
    for (int i = 0; i < 1000 && atomic_load(&A.starts) < 4; i++)
        axt_assert_rc(ax_sleep(0.001), 0);
    ck_assert_int_eq(atomic_load(&A.starts), 4);
    ck_assert_int_eq(mid_starts, 2); /* a new middle supervisor */
    kids(top, r, 1);
    kids(r[0], leaf, 1);
    axt_assert_rc(ax_sup_stop(top, -1), 0);
    ck_assert(!ax_actor_alive(r[0]));
    ck_assert(!ax_actor_alive(leaf[0]));
    return NULL;
}

/* A child supervisor that exhausts its intensity fails upward and its
 * parent restarts it; stopping the top stops the whole tree. */
START_TEST(test_tree_parent_restarts_exhausted_child_supervisor)
{
    RUN_OK(1, main_tree);
}
END_TEST

/* ---- loops -------------------------------------------------------------- */

static void *main_cross_loop(void *arg)
{
    ax_sup_opts o;
    ax_sup_spec s[2];
    ax_actor_ref sup, r[8], r2[8];

    (void)arg;
    memset(&o, 0, sizeof o);
    A = (wk){.name = "a"};
    B = (wk){.name = "b"};
    s[0] = wspec(&A);
    s[0].loop = ax_loop_at(1);
    s[1] = wspec(&B);
    s[1].loop = ax_loop_at(1);
    axt_assert_rc(ax_sup_start(&sup, &o, s, 2), 0);
    kids(sup, r, 2);
    axt_assert_rc(ax_send(r[0], W_CRASH, AXT_P(AX_EPIPE)), 0);
    wait_starts(sup, &A, 2, 2);
    kids(sup, r2, 2);
    ck_assert(ax_ref_eq(r[1], r2[1]));
    axt_assert_rc(ax_sup_terminate_child(sup, r2[1]), 0);
    ck_assert(!ax_actor_alive(r2[1]));
    kids(sup, r, 1);
    axt_assert_rc(ax_sup_stop(sup, -1), 0);
    ck_assert(!ax_actor_alive(r[0]));
    return NULL;
}

/* A supervisor on loop 0 restarts and stops children on loop 1. */
START_TEST(test_supervisor_on_loop0_children_on_loop1)
{
    RUN_OK(2, main_cross_loop);
}
END_TEST

/* ---- shutdown ----------------------------------------------------------- */

static void *main_shutdown_deadline(void *arg)
{
    ax_sup_opts o;
    ax_sup_spec s[3];
    ax_actor_ref sup;
    double t0;

    (void)arg;
    memset(&o, 0, sizeof o);
    A = (wk){.name = "a", .log = true};
    B = (wk){.name = "b", .log = true, .stubborn = true};
    C = (wk){.name = "c", .log = true, .stubborn = true};
    s[0] = wspec(&A);
    s[1] = wspec(&B);
    s[1].shutdown = 2.0;
    s[2] = wspec(&C);
    s[2].shutdown = AX_SUP_BRUTAL_KILL;
    axt_assert_rc(ax_sup_start(&sup, &o, s, 3), 0);
    t0 = ax_now();
    axt_assert_rc(ax_sup_stop(sup, -1), 0);
    /* c killed at once; b ignored the signal, killed after 2 s; a obeyed */
    AXT_ASSERT_LOG("c-b!b-a-");
    ck_assert(fabs(ax_now() - t0 - 2.0) < 0.01);
    return NULL;
}

/* Shutdown runs in reverse start order; a child that ignores the exit
 * signal is killed at its deadline, a brutal-kill one at once. */
START_TEST(test_shutdown_reverse_order_deadline_brutal_kill)
{
    RUN_OK(1, main_shutdown_deadline);
}
END_TEST

static void *sup_exit_body(void *arg)
{
    ax_sup_opts o;
    ax_sup_spec s[1];
    ax_actor_ref sup;
    ax_msg m;

    (void)arg;
    memset(&o, 0, sizeof o);
    A = (wk){.name = "a", .log = true};
    s[0] = wspec(&A);
    axt_assert_rc(ax_sup_start(&sup, &o, s, 1), 0);
    axt_assert_rc(ax_monitor(sup), 0);
    axt_assert_rc(ax_actor_exit(sup, AX_EPIPE), 0);
    axt_assert_rc(ax_recv(&m, -1), 0);
    ck_assert_int_eq(m.tag, AX_MSG_DOWN);
    ck_assert_int_eq(m.reason, AX_EPIPE);
    AXT_ASSERT_LOG("a-");
    return NULL;
}

static void *main_sup_exit(void *arg)
{
    (void)arg;
    return in_actor(sup_exit_body);
}

/* An exit signal from a non-child stops the children, then the
 * supervisor ends with its reason. */
START_TEST(test_exit_signal_stops_children_then_supervisor)
{
    RUN_OK(1, main_sup_exit);
}
END_TEST

/* ---- simple_one_for_one ------------------------------------------------- */

static void *main_simple(void *arg)
{
    ax_sup_opts o;
    ax_sup_spec s[1];
    ax_actor_ref sup, other, c[3], r[8];
    wk w[3] = {{.name = "x"}, {.name = "y"}, {.name = "z"}};

    (void)arg;
    memset(&o, 0, sizeof o);
    o.strategy = AX_SUP_SIMPLE_ONE_FOR_ONE;
    memset(s, 0, sizeof s);
    s[0].body = worker;
    s[0].restart = AX_SUP_TRANSIENT;
    axt_assert_rc(ax_sup_start(&sup, &o, s, 1), 0);
    kids(sup, r, 0);
    for (int i = 0; i < 3; i++)
        axt_assert_rc(ax_sup_start_child(sup, &w[i], &c[i]), 0);
    kids(sup, r, 3);
    ck_assert(ax_ref_eq(r[1], c[1]));
    axt_assert_rc(ax_send(c[1], W_CRASH, AXT_P(AX_EPIPE)), 0);
    wait_starts(sup, &w[1], 2, 3);
    axt_assert_rc(ax_sup_terminate_child(sup, c[0]), 0);
    axt_assert_rc(ax_sup_terminate_child(sup, c[0]), AX_ESRCH);
    axt_assert_rc(ax_send(c[2], W_QUIT, NULL), 0); /* transient, normal */
    wait_starts(sup, &w[2], 1, 1);
    ck_assert_int_eq(atomic_load(&w[0].starts), 1);
    /* start_child is for simple_one_for_one only */
    o.strategy = AX_SUP_ONE_FOR_ONE;
    axt_assert_rc(ax_sup_start(&other, &o, NULL, 0), 0);
    axt_assert_rc(ax_sup_start_child(other, &w[0], NULL), AX_EINVAL);
    axt_assert_rc(ax_sup_stop(other, -1), 0);
    axt_assert_rc(ax_sup_stop(sup, -1), 0);
    axt_assert_rc(ax_sup_stop(sup, -1), AX_ESRCH);
    axt_assert_rc(ax_sup_start_child(sup, &w[0], NULL), AX_ESRCH);
    return NULL;
}

/* Dynamic children from one spec: started with their own argument,
 * restarted with it, terminated one by one. */
START_TEST(test_simple_one_for_one_dynamic_children)
{
    RUN_OK(1, main_simple);
}
END_TEST

static void *main_misuse(void *arg)
{
    ax_sup_opts o;
    ax_sup_spec s[2];
    ax_actor_ref sup;
    size_t n;

    (void)arg;
    memset(&o, 0, sizeof o);
    memset(s, 0, sizeof s);
    axt_assert_rc(ax_sup_start(NULL, &o, s, 1), AX_EINVAL); /* no body */
    s[0].body = worker;
    s[0].shutdown = NAN;
    axt_assert_rc(ax_sup_start(NULL, &o, s, 1), AX_EINVAL);
    s[0].shutdown = -2;
    axt_assert_rc(ax_sup_start(NULL, &o, s, 1), AX_EINVAL);
    s[0].shutdown = 0;
    s[1] = s[0];
    o.strategy = AX_SUP_SIMPLE_ONE_FOR_ONE;
    axt_assert_rc(ax_sup_start(NULL, &o, s, 2), AX_EINVAL);
    axt_assert_rc(ax_sup_start(NULL, &o, NULL, 1), AX_EINVAL);
    axt_assert_rc(ax_sup_which_children(AX_ACTOR_NONE, NULL, 0, &n),
                  AX_EINVAL);
    axt_assert_rc(ax_sup_stop(AX_ACTOR_NONE, -1), AX_EINVAL);
    /* an ask the supervisor does not know is answered, not left waiting */
    o.strategy = AX_SUP_ONE_FOR_ONE;
    axt_assert_rc(ax_sup_start(&sup, &o, NULL, 0), 0);
    axt_assert_rc(ax_call(sup, 5, NULL, -1, NULL), AX_EINVAL);
    axt_assert_rc(ax_send(sup, 6, NULL), 0);
    axt_assert_rc(ax_sup_which_children(sup, NULL, 0, &n), 0);
    ck_assert_uint_eq(n, 0);
    axt_assert_rc(ax_sup_stop(sup, -1), 0);
    return NULL;
}

static int failing_start(ax_actor_ref *out, void *arg,
                         const ax_actor_opts *opts)
{
    (void)out;
    (void)arg;
    (void)opts;
    return AX_EPIPE;
}

static void *main_start_failure(void *arg)
{
    ax_sup_opts o;
    ax_sup_spec s[2];
    ax_actor_ref dead = AX_ACTOR_NONE;

    (void)arg;
    memset(&o, 0, sizeof o);
    A = (wk){.name = "a", .log = true};
    s[0] = wspec(&A);
    memset(&s[1], 0, sizeof s[1]);
    s[1].start = failing_start;
    axt_assert_rc(ax_sup_start(&dead, &o, s, 2), AX_EPIPE);
    ck_assert(dead.id == 0);
    ck_assert_int_eq(atomic_load(&A.starts), 1);
    AXT_ASSERT_LOG("a-"); /* the started child was stopped */
    /* exit signals: misuse */
    axt_assert_rc(ax_actor_exit(AX_ACTOR_NONE, AX_EPIPE), AX_EINVAL);
    axt_assert_rc(ax_actor_kill(AX_ACTOR_NONE, AX_EPIPE), AX_EINVAL);
    axt_assert_rc(ax_actor_spawn(&dead, worker, &A, NULL), 0);
    axt_assert_rc(ax_actor_exit(dead, 0), AX_EINVAL);
    axt_assert_rc(ax_send(dead, W_QUIT, NULL), 0);
    while (ax_actor_alive(dead))
        axt_assert_rc(ax_yield(), 0);
    axt_assert_rc(ax_actor_exit(dead, AX_EPIPE), AX_ESRCH);
    axt_assert_rc(ax_actor_kill(dead, AX_EPIPE), AX_ESRCH);
    return NULL;
}

/* A child that cannot start makes ax_sup_start() return its code, after
 * the children started before it were stopped (no retries at start). */
START_TEST(test_start_failure_returns_code_stops_started)
{
    RUN_OK(1, main_start_failure);
}
END_TEST

/* Bad specs, null refs and unknown asks are refused with AX_EINVAL. */
START_TEST(test_misuse_einval)
{
    RUN_OK(1, main_misuse);
}
END_TEST

/* ---- gen_server ---------------------------------------------------------- */

enum { REQ_GET = 1, REQ_SLOW, REQ_DEFER, REQ_DIE, REQ_STOP, REQ_INLINE };
enum { CAST_ADD = 1, CAST_RELEASE, CAST_CRASH };

typedef struct cstate {
    intptr_t n;
    ax_gs_from *saved;
} cstate;

static int cs_init(void *arg, void **state)
{
    cstate *s;
    int rc;

    if (AXT_I(arg) == 1000 && (rc = ax_sleep(1.0)))
        return rc; /* a slow init, cancelled */
    if (!(s = calloc(1, sizeof *s)))
        return AX_ENOMEM;
    s->n = AXT_I(arg);
    if (s->n < 0) {
        int rc = (int)s->n;

        free(s);
        return rc;
    }
    *state = s;
    return 0;
}

static int cs_call(void *req, ax_gs_from *from, void **reply, void *state)
{
    cstate *s = state;

    switch (AXT_I(req)) {
    case REQ_GET:
        *reply = AXT_P(s->n);
        return AX_GS_REPLY;
    case REQ_SLOW:
        return AX_GS_NOREPLY; /* never answered but by terminate */
    case REQ_DEFER:
        s->saved = from;
        return AX_GS_NOREPLY;
    case REQ_DIE:
        return AX_EPIPE;
    case REQ_STOP:
        *reply = AXT_P(7);
        return AX_GS_STOP;
    case REQ_INLINE:
        axt_assert_rc(ax_gs_reply(from, AXT_P(9)), 0);
        axt_assert_rc(ax_gs_reply(from, AXT_P(10)), AX_EALREADY);
        return AX_GS_NOREPLY;
    }
    return AX_EINVAL;
}

static int cs_cast(void *msg, void *state)
{
    cstate *s = state;

    switch (AXT_I(msg)) {
    case CAST_ADD:
        s->n++;
        return 0;
    case CAST_RELEASE:
        axt_assert_rc(ax_gs_reply(s->saved, AXT_P(42)), 0);
        s->saved = NULL;
        return 0;
    case CAST_CRASH:
        return AX_ECONNRESET;
    }
    return 0;
}

static int cs_info(ax_msg *m, void *state)
{
    cstate *s = state;

    s->n += 100;
    if (m->tag == 9)
        return AX_GS_STOP;
    return 0;
}

static int terminated[4];
static int nterm;

static void cs_term(int reason, void *state)
{
    if (nterm < 4)
        terminated[nterm++] = reason;
    free(state);
}

static const ax_gs_callbacks counter_cb = {cs_init, cs_call, cs_cast,
                                           cs_info, cs_term};

static void *main_gs_basics(void *arg)
{
    ax_actor_ref g;
    void *v;

    (void)arg;
    nterm = 0;
    axt_assert_rc(ax_gs_start(&g, &counter_cb, AXT_P(5), NULL), 0);
    axt_assert_rc(ax_gs_call(g, AXT_P(REQ_GET), -1, &v), 0);
    ck_assert_int_eq(AXT_I(v), 5);
    axt_assert_rc(ax_gs_cast(g, AXT_P(CAST_ADD)), 0);
    axt_assert_rc(ax_send(g, 1, NULL), 0); /* info */
    axt_assert_rc(ax_gs_call(g, AXT_P(REQ_GET), -1, &v), 0);
    ck_assert_int_eq(AXT_I(v), 106);
    axt_assert_rc(ax_gs_call(g, AXT_P(REQ_INLINE), -1, &v), 0);
    ck_assert_int_eq(AXT_I(v), 9);
    axt_assert_rc(ax_gs_reply(NULL, NULL), AX_EINVAL);
    axt_assert_rc(ax_gs_call(g, AXT_P(REQ_STOP), -1, &v), 0);
    ck_assert_int_eq(AXT_I(v), 7);
    axt_assert_rc(ax_gs_call(g, AXT_P(REQ_GET), -1, &v), AX_ESRCH);
    ck_assert_int_eq(nterm, 1);
    ck_assert_int_eq(terminated[0], 0);
    /* init's failure is ax_gs_start's */
    axt_assert_rc(ax_gs_start(&g, &counter_cb, AXT_P(AX_EPIPE), NULL),
                  AX_EPIPE);
    axt_assert_rc(ax_gs_start(&g, NULL, NULL, NULL), AX_EINVAL);
    /* ax_gs_stop runs terminate(0) */
    axt_assert_rc(ax_gs_start(&g, &counter_cb, AXT_P(0), NULL), 0);
    axt_assert_rc(ax_gs_stop(g, -1), 0);
    ck_assert_int_eq(nterm, 2);
    ck_assert_int_eq(terminated[1], 0);
    ck_assert(!ax_actor_alive(g));
    return NULL;
}

/* call, cast and info reach their callbacks; a reply from inside
 * handle_call counts once; AX_GS_STOP answers, runs terminate(0), and
 * later calls see AX_ESRCH; init's code is returned. */
START_TEST(test_gs_call_cast_info_stop)
{
    RUN_OK(1, main_gs_basics);
}
END_TEST

static void *late_caller(void *arg)
{
    ax_actor_ref *g = arg;

    /* gives up after 0.5 s; the server answers later */
    axt_assert_rc(ax_gs_call(*g, AXT_P(REQ_DEFER), 0.5, NULL),
                  AX_ETIMEDOUT);
    return NULL;
}

static void *main_gs_deferred(void *arg)
{
    ax_actor_ref g;
    ax_task *t;
    void *v;
    double t0;

    (void)arg;
    nterm = 0;
    axt_assert_rc(ax_gs_start(&g, &counter_cb, AXT_P(0), NULL), 0);
    /* timeout: AX_ETIMEDOUT after exactly the timeout */
    t0 = ax_now();
    axt_assert_rc(ax_gs_call(g, AXT_P(REQ_SLOW), 1.0, &v), AX_ETIMEDOUT);
    ck_assert(fabs(ax_now() - t0 - 1.0) < 0.001);
    /* a caller that gives up does not harm the server */
    axt_assert_rc(ax_spawn(&t, late_caller, &g), 0);
    axt_assert_rc(ax_await(t, NULL), 0);
    axt_assert_rc(ax_gs_cast(g, AXT_P(CAST_RELEASE)), 0);
    axt_assert_rc(ax_gs_call(g, AXT_P(REQ_GET), -1, &v), 0);
    ck_assert_int_eq(AXT_I(v), 0);
    /* the slow call still pending is answered (and dropped) at the stop */
    axt_assert_rc(ax_gs_stop(g, -1), 0);
    ck_assert_int_eq(nterm, 1);
    return NULL;
}

/* A call that is never answered times out; a caller that gave up leaves
 * the server working. */
START_TEST(test_gs_call_timeout_and_caller_giving_up)
{
    RUN_OK(1, main_gs_deferred);
}
END_TEST

static void *defer_caller(void *arg)
{
    ax_actor_ref *g = arg;
    void *v = NULL;

    axt_assert_rc(ax_gs_call(*g, AXT_P(REQ_DEFER), -1, &v), 0);
    return v;
}

static void *dying_caller(void *arg)
{
    ax_actor_ref *g = arg;

    axt_assert_rc(ax_gs_call(*g, AXT_P(REQ_DEFER), -1, NULL),
                  AX_ECONNRESET);
    return NULL;
}

static void *main_gs_death(void *arg)
{
    ax_actor_ref g;
    ax_task *t;
    void *v;

    (void)arg;
    nterm = 0;
    /* deferred reply: answered from a later cast */
    axt_assert_rc(ax_gs_start(&g, &counter_cb, AXT_P(0), NULL), 0);
    axt_assert_rc(ax_spawn(&t, defer_caller, &g), 0);
    axt_assert_rc(ax_sleep(0.1), 0);
    axt_assert_rc(ax_gs_cast(g, AXT_P(CAST_RELEASE)), 0);
    axt_assert_rc(ax_await(t, &v), 0);
    ck_assert_int_eq(AXT_I(v), 42);
    /* the server dies while handling the call: the caller gets the code */
    axt_assert_rc(ax_gs_call(g, AXT_P(REQ_DIE), -1, &v), AX_EPIPE);
    ck_assert_int_eq(terminated[0], AX_EPIPE);
    axt_assert_rc(ax_gs_call(g, AXT_P(REQ_GET), -1, &v), AX_ESRCH);
    /* ... or while a call waits for its deferred reply */
    axt_assert_rc(ax_gs_start(&g, &counter_cb, AXT_P(0), NULL), 0);
    axt_assert_rc(ax_spawn(&t, dying_caller, &g), 0);
    axt_assert_rc(ax_sleep(0.1), 0);
    axt_assert_rc(ax_gs_cast(g, AXT_P(CAST_CRASH)), 0);
    axt_assert_rc(ax_await(t, NULL), 0);
    ck_assert_int_eq(terminated[1], AX_ECONNRESET);
    return NULL;
}

/* Deferred replies; the callee's death during a call gives the caller the
 * exit reason, a dead callee AX_ESRCH. */
START_TEST(test_gs_deferred_reply_and_callee_death)
{
    RUN_OK(1, main_gs_death);
}
END_TEST

static void *gs_caller_actor(void *arg)
{
    ax_actor_ref *g = arg;

    /* this actor is killed while it waits for the reply */
    ax_gs_call(*g, AXT_P(REQ_DEFER), -1, NULL);
    return NULL;
}

static void *main_gs_caller_death(void *arg)
{
    ax_actor_ref g, c;
    void *v;

    (void)arg;
    nterm = 0;
    axt_assert_rc(ax_gs_start(&g, &counter_cb, AXT_P(0), NULL), 0);
    axt_assert_rc(ax_actor_spawn(&c, gs_caller_actor, &g, NULL), 0);
    axt_assert_rc(ax_sleep(0.1), 0);
    axt_assert_rc(ax_actor_kill(c, AX_EPIPE), 0);
    axt_assert_rc(ax_sleep(0.1), 0);
    ck_assert(!ax_actor_alive(c));
    axt_assert_rc(ax_gs_cast(g, AXT_P(CAST_RELEASE)), 0);
    axt_assert_rc(ax_gs_call(g, AXT_P(REQ_GET), -1, &v), 0);
    ck_assert(ax_actor_alive(g));
    axt_assert_rc(ax_gs_stop(g, -1), 0);
    ck_assert_int_eq(nterm, 1);
    return NULL;
}

static void *slow_starter(void *arg)
{
    ax_actor_ref g = AX_ACTOR_NONE;

    (void)arg;
    axt_assert_rc(ax_gs_start(&g, &counter_cb, AXT_P(1000), NULL),
                  AX_ECANCELED);
    ck_assert(g.id == 0);
    return NULL;
}

static void *main_gs_start_cancelled(void *arg)
{
    ax_task *t;
    double t0 = ax_now();

    (void)arg;
    nterm = 0;
    axt_assert_rc(ax_spawn(&t, slow_starter, NULL), 0);
    axt_assert_rc(ax_sleep(0.1), 0);
    axt_assert_rc(ax_cancel(t), 0);
    axt_assert_rc(ax_await(t, NULL), AX_ECANCELED); /* a cancelled task */
    axt_assert_rc(ax_sleep(0.1), 0);
    ck_assert(ax_now() - t0 < 0.5); /* the server's init did not finish */
    ck_assert_int_eq(nterm, 0);
    return NULL;
}

/* A starter cancelled while init runs takes the server down with it: no
 * orphan, nothing leaked, the run ends at once. */
START_TEST(test_gs_start_cancelled_kills_server)
{
    RUN_OK(1, main_gs_start_cancelled);
}
END_TEST

/* A caller that dies during a call does not crash the server. */
START_TEST(test_gs_caller_death_leaves_server_alive)
{
    RUN_OK(1, main_gs_caller_death);
}
END_TEST

static void *main_gs_supervised(void *arg)
{
    ax_sup_opts o;
    ax_sup_spec s[1];
    ax_actor_ref sup, r[8], r2[8];
    void *v;

    (void)arg;
    nterm = 0;
    memset(&o, 0, sizeof o);
    memset(s, 0, sizeof s);
    s[0].name = "counter";
    s[0].gs = &counter_cb;
    s[0].arg = AXT_P(3);
    s[0].loop = ax_loop_at(1);
    axt_assert_rc(ax_sup_start(&sup, &o, s, 1), 0);
    kids(sup, r, 1);
    axt_assert_rc(ax_gs_cast(r[0], AXT_P(CAST_ADD)), 0);
    axt_assert_rc(ax_gs_call(r[0], AXT_P(REQ_GET), -1, &v), 0);
    ck_assert_int_eq(AXT_I(v), 4);
    axt_assert_rc(ax_gs_cast(r[0], AXT_P(CAST_CRASH)), 0);
    for (int i = 0; i < 1000; i++) {
        kids(sup, r2, 1);
        if (!ax_ref_eq(r[0], r2[0]))
            break;
        axt_assert_rc(ax_sleep(0.001), 0);
    }
    ck_assert(!ax_ref_eq(r[0], r2[0]));
    axt_assert_rc(ax_gs_call(r2[0], AXT_P(REQ_GET), -1, &v), 0);
    ck_assert_int_eq(AXT_I(v), 3); /* fresh state from init */
    axt_assert_rc(ax_sup_stop(sup, -1), 0);
    ck_assert(!ax_actor_alive(r2[0]));
    return NULL;
}

/* A supervised server on loop 1 is a spec with callbacks: a crash gives a
 * fresh server from init. */
START_TEST(test_gs_supervised_on_other_loop_restarts_fresh)
{
    RUN_OK(2, main_gs_supervised);
}
END_TEST

/* ------------------------------------------------------------------------ */

Suite *ax_supervisor_suite(void)
{
    Suite *s = suite_create("supervisor");
    TCase *tc;

    tc = axt_tcase(s, "strategies");
    tcase_add_test(tc, test_one_for_one_restarts_only_the_crashed_child);
    tcase_add_test(tc, test_one_for_all_restarts_every_child);
    tcase_add_test(tc, test_rest_for_one_restarts_the_later_children);
    tcase_add_test(tc, test_simple_one_for_one_dynamic_children);
    tc = axt_tcase(s, "restarts");
    tcase_add_test(tc, test_restart_types_permanent_transient_temporary);
    tcase_add_test(tc, test_crash_by_cancel_link_and_failure_code_restarts);
    tcase_add_test(tc, test_intensity_exhausted_supervisor_fails_erestarts);
    tcase_add_test(tc, test_intensity_counts_only_restarts_within_period);
    tcase_add_test(tc, test_tree_parent_restarts_exhausted_child_supervisor);
    tcase_add_test(tc, test_supervisor_on_loop0_children_on_loop1);
    tc = axt_tcase(s, "shutdown");
    tcase_add_test(tc, test_shutdown_reverse_order_deadline_brutal_kill);
    tcase_add_test(tc, test_exit_signal_stops_children_then_supervisor);
    tcase_add_test(tc, test_misuse_einval);
    tcase_add_test(tc, test_start_failure_returns_code_stops_started);
    tc = axt_tcase(s, "gen_server");
    tcase_add_test(tc, test_gs_call_cast_info_stop);
    tcase_add_test(tc, test_gs_call_timeout_and_caller_giving_up);
    tcase_add_test(tc, test_gs_deferred_reply_and_callee_death);
    tcase_add_test(tc, test_gs_caller_death_leaves_server_alive);
    tcase_add_test(tc, test_gs_start_cancelled_kills_server);
    tcase_add_test(tc, test_gs_supervised_on_other_loop_restarts_fresh);
    return s;
}

#ifndef AX_TEST_NO_MAIN
int main(void)
{
    return ax_test_main(ax_supervisor_suite());
}
#endif
