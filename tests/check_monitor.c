/* SPDX-License-Identifier: MIT */
/* check_monitor.c: tests for ax_monitor() and ax_link() (actor.h): DOWN
 * messages and their reasons, links with Erlang semantics, trap_exits, and
 * the misuse codes, on one loop and across loops.
 *
 * Each test runs an observer actor that does the work and records what it
 * saw; the main task waits for it through a future and then checks. A
 * linking actor sends the "go" to its partner itself, after ax_link(), so
 * that the link is in place first (messages from one sender arrive in
 * order, and the link request travels the same way). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sched.h>
#include <stdatomic.h>

#include "axtest.h"

Suite *ax_monitor_suite(void);

enum { T_GO = 1, T_STOP, T_FAIL, T_PING };

static int mon_run(int loops, ax_task_fn fn, void *arg)
{
    ax_opts o;
    memset(&o, 0, sizeof o);
    o.loops = loops;
    o.virtual_clock = true;
    return ax_test_run_with(&o, fn, arg, NULL);
}

/* Actors that fail end as failed detached tasks, which the loop may report;
 * the report must not contain anything else. */
#define MON_RUN_OK(loops, fn, arg)                                            \
    do {                                                                      \
        int m_rc_ = mon_run((loops), (fn), (arg));                            \
        ck_assert_msg(m_rc_ == 0, "ax_run returned %d (%s); report:\n%s",     \
                      m_rc_, ax_err_name(m_rc_), ax_test_report());           \
        AXT_ASSERT_REPORT_LACKS("never awaited");                             \
        AXT_ASSERT_REPORT_LACKS("never freed");                               \
        AXT_ASSERT_REPORT_LACKS("deadlock");                                  \
        AXT_ASSERT_REPORT_LACKS("leaked");                                    \
        AXT_ASSERT_REPORT_LACKS("abandoned");                                 \
    } while (0)

static void spin_yield(void)
{
    axt_assert_rc(ax_yield(), 0);
    sched_yield();
}

/* Receive the next message, which must be a DOWN from @p from. */
static int recv_down(ax_actor_ref from)
{
    ax_msg m;
    axt_assert_rc(ax_recv(&m, -1), 0);
    ck_assert_int_eq(m.tag, AX_MSG_DOWN);
    ck_assert_msg(ax_ref_eq(m.from, from), "DOWN from %" PRIx64
                  ", want %" PRIx64, m.from.id, from.id);
    ck_assert_ptr_null(m.data);
    return m.reason;
}

/* ------------------------------------------------------------------------ */
/* Targets                                                                  */

/* Waits for one message: T_STOP returns normally, T_FAIL fails with the
 * code in data, anything else is answered (if an ask) and ignored. */
static void *target(void *arg)
{
    ax_msg m;
    (void)arg;
    for (;;) {
        int rc = ax_recv(&m, -1);
        if (rc)
            return NULL; /* cancelled */
        if (m.tag == T_STOP)
            return AXT_P(1);
        if (m.tag == T_FAIL)
            return ax_task_fail((int)AXT_I(m.data));
        if (m.tag == T_PING)
            axt_assert_rc(ax_reply(&m, AXT_P(2)), 0);
    }
}

/* Waits for a message, then cancels itself: ends as AX_ECANCELED. */
static void *self_cancel(void *arg)
{
    ax_msg m;
    (void)arg;
    axt_assert_rc(ax_recv(&m, -1), 0);
    axt_assert_rc(ax_cancel(ax_task_self()), 0);
    axt_assert_rc(ax_recv(&m, -1), AX_ECANCELED);
    return NULL;
}

static void *returns_at_once(void *arg)
{
    (void)arg;
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Monitors                                                                 */

typedef struct obs {
    ax_future *done; /* on loop 0 */
    int reasons[8];
    int rcs[8];
    int n;
} obs;

static void obs_done(obs *o)
{
    axt_assert_rc(ax_future_set_result(o->done, NULL), 0);
}

static void *observe_reasons(void *arg)
{
    obs *o = arg;
    ax_actor_ref t;
    int nl = ax_loop_count();
    /* normal return, on every loop */
    for (int i = 0; i < nl; i++) {
        axt_assert_rc(
            axt_actor_spawn_on(ax_loop_at(i), &t, target, NULL, NULL), 0);
        axt_assert_rc(ax_monitor(t), 0);
        axt_assert_rc(ax_send(t, T_STOP, NULL), 0);
        o->reasons[o->n++] = recv_down(t);
    }
    /* failure code */
    axt_assert_rc(
        axt_actor_spawn_on(ax_loop_at(nl - 1), &t, target, NULL, NULL), 0);
    axt_assert_rc(ax_monitor(t), 0);
    axt_assert_rc(ax_send(t, T_FAIL, AXT_P(-66)), 0);
    o->reasons[o->n++] = recv_down(t);
    /* cancellation */
    axt_assert_rc(
        axt_actor_spawn_on(ax_loop_at(1), &t, self_cancel, NULL, NULL), 0);
    axt_assert_rc(ax_monitor(t), 0);
    axt_assert_rc(ax_send(t, T_GO, NULL), 0); /* after the monitor */
    o->reasons[o->n++] = recv_down(t);
    obs_done(o);
    return NULL;
}

static void *main_reasons(void *arg)
{
    obs o;
    (void)arg;
    memset(&o, 0, sizeof o);
    axt_assert_rc(ax_future_new(&o.done), 0);
    axt_assert_rc(ax_actor_spawn(NULL, observe_reasons, &o, NULL), 0);
    axt_assert_rc(ax_await(o.done, NULL), 0);
    axt_assert_rc(ax_future_free(o.done), 0);
    ck_assert_int_eq(o.n, 6);
    for (int i = 0; i < 4; i++)
        axt_assert_rc(o.reasons[i], 0);
    axt_assert_rc(o.reasons[4], -66);
    axt_assert_rc(o.reasons[5], AX_ECANCELED);
    return NULL;
}

/* A monitor gets one DOWN whose reason is 0 for a normal return (targets on
 * every loop, the observer's own included), the failure code for
 * ax_task_fail(-66), and AX_ECANCELED for a cancelled actor. */
START_TEST(test_monitor_down_reason_normal_failure_cancelled)
{
    MON_RUN_OK(4, main_reasons, NULL);
}
END_TEST

static void *observe_dead(void *arg)
{
    obs *o = arg;
    ax_actor_ref t, forged = {UINT64_C(0x7777777700000123)};
    axt_assert_rc(
        axt_actor_spawn_on(ax_loop_at(1), &t, returns_at_once, NULL, NULL), 0);
    while (ax_actor_alive(t))
        spin_yield();
    o->rcs[0] = ax_monitor(t);
    o->reasons[o->n++] = recv_down(t);
    o->rcs[1] = ax_monitor(forged); /* never existed */
    o->reasons[o->n++] = recv_down(forged);
    o->rcs[2] = ax_monitor(AX_ACTOR_NONE);
    obs_done(o);
    return NULL;
}

static void *main_dead(void *arg)
{
    obs o;
    (void)arg;
    memset(&o, 0, sizeof o);
    axt_assert_rc(ax_future_new(&o.done), 0);
    axt_assert_rc(ax_actor_spawn(NULL, observe_dead, &o, NULL), 0);
    axt_assert_rc(ax_await(o.done, NULL), 0);
    axt_assert_rc(ax_future_free(o.done), 0);
    axt_assert_rc(o.rcs[0], 0);
    axt_assert_rc(o.reasons[0], AX_ESRCH);
    axt_assert_rc(o.rcs[1], 0);
    axt_assert_rc(o.reasons[1], AX_ESRCH);
    axt_assert_rc(o.rcs[2], AX_EINVAL); /* null ref */
    /* outside an actor */
    axt_assert_rc(ax_monitor((ax_actor_ref){1}), AX_ENOTACTOR);
    axt_assert_rc(ax_link((ax_actor_ref){1}), AX_ENOTACTOR);
    return NULL;
}

/* Monitoring an actor that already ended (on another loop) gives a DOWN at
 * once with reason AX_ESRCH; so does a forged ref; a null ref is
 * AX_EINVAL; monitor and link outside an actor are AX_ENOTACTOR. */
START_TEST(test_monitor_dead_or_forged_target_down_esrch)
{
    MON_RUN_OK(2, main_dead, NULL);
    AXT_ASSERT_CLEAN();
}
END_TEST

static void *observe_many(void *arg)
{
    obs *o = arg;
    ax_actor_ref t[3];
    for (int i = 0; i < 3; i++) {
        axt_assert_rc(
            axt_actor_spawn_on(ax_loop_at(i + 1), &t[i], target, NULL, NULL),
            0);
        axt_assert_rc(ax_monitor(t[i]), 0);
    }
    /* end them in reverse order, with different reasons */
    for (int i = 2; i >= 0; i--) {
        axt_assert_rc(ax_send(t[i], T_FAIL, AXT_P(-10 - i)), 0);
        o->reasons[o->n++] = recv_down(t[i]);
    }
    obs_done(o);
    return NULL;
}

static void *main_many(void *arg)
{
    obs o[2];
    (void)arg;
    memset(o, 0, sizeof o);
    for (int k = 0; k < 2; k++) {
        axt_assert_rc(ax_future_new(&o[k].done), 0);
        axt_assert_rc(axt_actor_spawn_on(ax_loop_at(k * 2), NULL, observe_many,
                                         &o[k], NULL),
                      0);
    }
    for (int k = 0; k < 2; k++) {
        axt_assert_rc(ax_await(o[k].done, NULL), 0);
        axt_assert_rc(ax_future_free(o[k].done), 0);
        for (int i = 0; i < 3; i++)
            axt_assert_rc(o[k].reasons[i], -12 + i);
    }
    return NULL;
}

/* Monitors across loops: observers on loops 0 and 2 each watch targets on
 * loops 1..3 and get each DOWN with the right `from` and reason. */
START_TEST(test_monitors_across_loops)
{
    MON_RUN_OK(4, main_many, NULL);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Links                                                                    */

typedef struct linker_arg {
    ax_actor_ref partner;
    int go_tag;     /* sent to the partner after linking */
    void *go_data;
    int link_rc;
    int fail;       /* if non-zero: fail with it after linking */
} linker_arg;

/* Links to its partner, sends it the go, then fails or waits forever. */
static void *linker(void *arg)
{
    linker_arg *la = arg;
    ax_msg m;
    /* first a T_GO, sent after whoever watches us set its monitor */
    axt_assert_rc(ax_recv(&m, -1), 0);
    ck_assert_int_eq(m.tag, T_GO);
    la->link_rc = ax_link(la->partner);
    if (la->go_tag)
        axt_assert_rc(ax_send(la->partner, la->go_tag, la->go_data), 0);
    if (la->fail)
        return ax_task_fail(la->fail);
    for (;;) {
        int rc = ax_recv(&m, -1);
        if (rc)
            return NULL; /* cancelled: the link's reason is our exit */
        if (m.tag == T_PING)
            axt_assert_rc(ax_reply(&m, AXT_P(3)), 0);
        if (m.tag == T_STOP)
            return NULL;
    }
}

typedef struct link_obs {
    ax_future *done;
    linker_arg la;
    int reason_a, reason_b, alive_after, ping_rc;
    void *ping_v;
    int mode; /* 0: partner fails; 1: linker fails; 2: partner stops */
} link_obs;

static void *observe_link(void *arg)
{
    link_obs *o = arg;
    ax_actor_ref a, b;
    axt_assert_rc(axt_actor_spawn_on(ax_loop_at(2), &b, target, NULL, NULL),
                  0);
    axt_assert_rc(ax_monitor(b), 0);
    /* make sure the partner is running before the linker can fail (an
     * exit that reaches an actor that has not started yet is the subject of
     * test_link_failure_before_partner_started_kills_it) */
    axt_assert_rc(ax_call(b, T_PING, NULL, -1, NULL), 0);
    o->la.partner = b;
    if (o->mode == 0) {
        o->la.go_tag = T_FAIL;
        o->la.go_data = AXT_P(-66);
    } else if (o->mode == 1) {
        o->la.fail = -67;
    } else {
        o->la.go_tag = T_STOP;
    }
    axt_assert_rc(axt_actor_spawn_on(ax_loop_at(1), &a, linker, &o->la, NULL),
                  0);
    axt_assert_rc(ax_monitor(a), 0);
    axt_assert_rc(ax_send(a, T_GO, NULL), 0);
    if (o->mode == 2) {
        o->reason_b = recv_down(b);
        /* the linker lives on and still answers */
        o->ping_rc = ax_call(a, T_PING, NULL, -1, &o->ping_v);
        o->alive_after = ax_actor_alive(a);
        axt_assert_rc(ax_send(a, T_STOP, NULL), 0);
        o->reason_a = recv_down(a);
    } else {
        /* both end; the DOWNs may come in either order */
        for (int i = 0; i < 2; i++) {
            ax_msg m;
            axt_assert_rc(ax_recv(&m, -1), 0);
            ck_assert_int_eq(m.tag, AX_MSG_DOWN);
            if (ax_ref_eq(m.from, a))
                o->reason_a = m.reason;
            else if (ax_ref_eq(m.from, b))
                o->reason_b = m.reason;
            else
                ck_abort_msg("DOWN from a stranger");
        }
    }
    axt_assert_rc(ax_future_set_result(o->done, NULL), 0);
    return NULL;
}

static void *main_link(void *arg)
{
    link_obs o;
    memset(&o, 0, sizeof o);
    o.mode = (int)AXT_I(arg);
    axt_assert_rc(ax_future_new(&o.done), 0);
    axt_assert_rc(ax_actor_spawn(NULL, observe_link, &o, NULL), 0);
    axt_assert_rc(ax_await(o.done, NULL), 0);
    axt_assert_rc(ax_future_free(o.done), 0);
    axt_assert_rc(o.la.link_rc, 0);
    switch (o.mode) {
    case 0: /* the partner failed: the linker ends with the same reason */
        axt_assert_rc(o.reason_b, -66);
        axt_assert_rc(o.reason_a, -66);
        break;
    case 1: /* the linker failed: the partner ends with the same reason */
        axt_assert_rc(o.reason_a, -67);
        axt_assert_rc(o.reason_b, -67);
        break;
    default: /* a normal exit does not propagate */
        axt_assert_rc(o.reason_b, 0);
        axt_assert_rc(o.ping_rc, 0);
        ck_assert_ptr_eq(o.ping_v, AXT_P(3));
        ck_assert_int_eq(o.alive_after, 1);
        axt_assert_rc(o.reason_a, 0);
        break;
    }
    return NULL;
}

/* Link across loops (linker on loop 1, partner on loop 2, observer with
 * monitors on loop 0): the partner fails with -66, so the linker is
 * killed and ends with -66 too. */
START_TEST(test_link_partner_failure_kills_linker_same_reason)
{
    MON_RUN_OK(3, main_link, AXT_P(0));
}
END_TEST

/* The other direction: the linker fails with -67; the partner ends with
 * -67. */
START_TEST(test_link_linker_failure_kills_partner_same_reason)
{
    MON_RUN_OK(3, main_link, AXT_P(1));
}
END_TEST

/* A normal exit (reason 0) does not propagate: the linked actor lives on
 * and answers. */
START_TEST(test_link_normal_exit_does_not_propagate)
{
    MON_RUN_OK(3, main_link, AXT_P(2));
    AXT_ASSERT_CLEAN();
}
END_TEST

/* The linker spawns its partner on its own loop, links and fails at once,
 * before the partner's body has run: the partner must still be killed. */
typedef struct early {
    ax_actor_ref partner;
    int link_rc;
} early;

static void *spawn_link_fail(void *arg)
{
    early *e = arg;
    axt_assert_rc(ax_actor_spawn(&e->partner, target, NULL, NULL), 0);
    e->link_rc = ax_link(e->partner);
    return ax_task_fail(-69); /* no suspension since the spawn */
}

typedef struct early_obs {
    ax_future *done;
    early e;
    int reason_a, call_rc;
    void *call_v;
} early_obs;

static void *observe_early(void *arg)
{
    early_obs *o = arg;
    ax_actor_ref a;
    axt_assert_rc(
        axt_actor_spawn_on(ax_loop_at(1), &a, spawn_link_fail, &o->e, NULL),
        0);
    axt_assert_rc(ax_monitor(a), 0);
    o->reason_a = recv_down(a);
    /* the partner was told when the linker ended; a call to it must not be
     * answered by its body (AX_ESRCH: it has ended or ends with it queued) */
    o->call_rc = ax_call(o->e.partner, T_PING, NULL, -1, &o->call_v);
    axt_assert_rc(ax_future_set_result(o->done, NULL), 0);
    return NULL;
}

static void *main_early(void *arg)
{
    static early_obs o;
    (void)arg;
    axt_assert_rc(ax_future_new(&o.done), 0);
    axt_assert_rc(ax_actor_spawn(NULL, observe_early, &o, NULL), 0);
    axt_assert_rc(ax_await(o.done, NULL), 0);
    axt_assert_rc(ax_future_free(o.done), 0);
    axt_assert_rc(o.e.link_rc, 0);
    /* -69, or AX_ESRCH if the monitor arrived after the linker's end */
    ck_assert(o.reason_a == -69 || o.reason_a == AX_ESRCH);
    ck_assert_msg(o.call_rc == AX_ESRCH,
                  "linked partner survived its partner's failure: call "
                  "returned %s (%p)",
                  ax_err_name(o.call_rc), o.call_v);
    return NULL;
}

START_TEST(test_link_failure_before_partner_started_kills_it)
{
    MON_RUN_OK(2, main_early, NULL);
}
END_TEST

/* trap_exits */

typedef struct trap {
    ax_future *done;
    ax_actor_ref failer, got_from;
    int got_tag, got_reason, alive;
    int after_tag;
    atomic_int got_second; /* the trapper has taken its second message */
} trap;

static void *trapper(void *arg)
{
    trap *t = arg;
    ax_msg m;
    axt_assert_rc(ax_recv(&m, -1), 0); /* a ping: we are running */
    ck_assert_int_eq(m.tag, T_PING);
    axt_assert_rc(ax_reply(&m, NULL), 0);
    axt_assert_rc(ax_recv(&m, -1), 0);
    t->got_tag = m.tag;
    t->got_reason = m.reason;
    t->got_from = m.from;
    t->alive = ax_actor_alive(ax_actor_self());
    atomic_store(&t->got_second, 1);
    /* still running: a normal message is received next */
    axt_assert_rc(ax_recv(&m, -1), 0);
    t->after_tag = m.tag;
    axt_assert_rc(ax_future_set_result(t->done, NULL), 0);
    return NULL;
}

static void *main_trap(void *arg)
{
    static trap t;
    static linker_arg la;
    ax_actor_opts o = {0};
    ax_actor_ref b;
    (void)arg;
    memset(&t, 0, sizeof t);
    axt_assert_rc(ax_future_new(&t.done), 0);
    o.trap_exits = true;
    axt_assert_rc(axt_actor_spawn_on(ax_loop_at(2), &b, trapper, &t, &o), 0);
    axt_assert_rc(ax_call(b, T_PING, NULL, -1, NULL), 0);
    la.partner = b;
    la.fail = -68;
    axt_assert_rc(
        axt_actor_spawn_on(ax_loop_at(1), &t.failer, linker, &la, NULL), 0);
    axt_assert_rc(ax_send(t.failer, T_GO, NULL), 0);
    /* The trapper's third message, once it has the second. (The failer
     * being gone is not enough: its EXIT and this PING come from different
     * loops, and messages from two senders have no order.) */
    while (!atomic_load(&t.got_second))
        axt_assert_rc(ax_sleep(0.0001), 0);
    axt_assert_rc(ax_send(b, T_PING, NULL), 0);
    axt_assert_rc(ax_await(t.done, NULL), 0);
    axt_assert_rc(ax_future_free(t.done), 0);
    axt_assert_rc(la.link_rc, 0);
    ck_assert_int_eq(t.got_tag, AX_MSG_EXIT);
    axt_assert_rc(t.got_reason, -68);
    ck_assert(ax_ref_eq(t.got_from, t.failer));
    ck_assert_int_eq(t.alive, 1);
    ck_assert_int_eq(t.after_tag, T_PING);
    return NULL;
}

/* An actor with trap_exits linked to one that fails gets an AX_MSG_EXIT
 * message (from the failed actor, its reason) instead of dying. */
START_TEST(test_trap_exits_turns_kill_into_exit_message)
{
    MON_RUN_OK(3, main_trap, NULL);
}
END_TEST

/* Link misuse */

static int lm_rc[4];

static void *link_misuse(void *arg)
{
    ax_actor_ref dead = *(ax_actor_ref *)arg;
    lm_rc[0] = ax_link(dead);
    lm_rc[1] = ax_link(ax_actor_self());
    lm_rc[2] = ax_link(AX_ACTOR_NONE);
    lm_rc[3] = ax_link((ax_actor_ref){UINT64_C(0x5555555500000777)});
    return NULL;
}

static void *main_link_misuse(void *arg)
{
    static ax_actor_ref dead, m;
    (void)arg;
    axt_assert_rc(
        axt_actor_spawn_on(ax_loop_at(1), &dead, returns_at_once, NULL, NULL),
        0);
    while (ax_actor_alive(dead))
        spin_yield();
    axt_assert_rc(
        axt_actor_spawn_on(ax_loop_at(1), &m, link_misuse, &dead, NULL), 0);
    while (ax_actor_alive(m))
        spin_yield();
    axt_assert_rc(lm_rc[0], AX_ESRCH);  /* ended */
    axt_assert_rc(lm_rc[1], AX_EINVAL); /* yourself */
    axt_assert_rc(lm_rc[2], AX_EINVAL); /* null ref */
    axt_assert_rc(lm_rc[3], AX_ESRCH);  /* forged */
    axt_assert_rc(ax_link(dead), AX_ENOTACTOR); /* not an actor */
    return NULL;
}

/* ax_link to an ended actor or a forged ref AX_ESRCH, to yourself or a
 * null ref AX_EINVAL, outside an actor AX_ENOTACTOR; the misusing actor is
 * not killed by any of it (it returns normally). */
START_TEST(test_link_dead_self_null_outside_actor)
{
    MON_RUN_OK(2, main_link_misuse, NULL);
    AXT_ASSERT_CLEAN();
}
END_TEST

/* ------------------------------------------------------------------------ */

Suite *ax_monitor_suite(void)
{
    Suite *s = suite_create("monitor");
    TCase *tc;

    tc = axt_tcase(s, "monitor");
    tcase_add_test(tc, test_monitor_down_reason_normal_failure_cancelled);
    tcase_add_test(tc, test_monitor_dead_or_forged_target_down_esrch);
    tcase_add_test(tc, test_monitors_across_loops);

    tc = axt_tcase(s, "link");
    tcase_add_test(tc, test_link_partner_failure_kills_linker_same_reason);
    tcase_add_test(tc, test_link_linker_failure_kills_partner_same_reason);
    tcase_add_test(tc, test_link_normal_exit_does_not_propagate);
    tcase_add_test(tc, test_link_failure_before_partner_started_kills_it);
    tcase_add_test(tc, test_trap_exits_turns_kill_into_exit_message);
    tcase_add_test(tc, test_link_dead_self_null_outside_actor);
    return s;
}

#ifndef AX_TEST_NO_MAIN
int main(void)
{
    return ax_test_main(ax_monitor_suite());
}
#endif
