/* SPDX-License-Identifier: MIT */
/* check_actor.c: tests for axon/actor.h (mailboxes, send/recv, ask/reply,
 * registry, the undelivered path), on one loop and across loops.
 *
 * Payloads are malloc'd where ownership matters: the receiver or the
 * undelivered hook frees them, and ASan/valgrind prove nothing leaks.
 * Actors that must not receive yet wait on a "gate" future made by the
 * main task; nothing depends on timing. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "axtest.h"

Suite *ax_actor_suite(void);

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */

static atomic_long und_count, und_esrch, und_eshutdown, und_other_reason;
static atomic_long und_tag_sum;

/* The undelivered hook: counts, checks the reason, frees the payload. */
static void und_hook(int tag, void *data, int reason)
{
    atomic_fetch_add(&und_count, 1);
    atomic_fetch_add(&und_tag_sum, tag);
    if (reason == AX_ESRCH)
        atomic_fetch_add(&und_esrch, 1);
    else if (reason == AX_ESHUTDOWN)
        atomic_fetch_add(&und_eshutdown, 1);
    else
        atomic_fetch_add(&und_other_reason, 1);
    free(data);
}

/* Every test's main task sets the undelivered hook first, then runs the
 * test body in the same task. */
static ax_task_fn act_body;

static void *act_main(void *arg)
{
    axt_assert_rc(ax_actor_set_undelivered(und_hook), 0);
    return act_body(arg);
}

static int act_run(int loops, ax_task_fn fn, void *arg)
{
    ax_opts o;
    memset(&o, 0, sizeof o);
    o.loops = loops;
    o.virtual_clock = true;
    act_body = fn;
    return ax_test_run_with(&o, act_main, arg, NULL);
}

#define ACT_RUN_CLEAN(loops, fn, arg)                                         \
    do {                                                                      \
        int a_rc_ = act_run((loops), (fn), (arg));                            \
        ck_assert_msg(a_rc_ == 0, "ax_run returned %d (%s); report:\n%s",     \
                      a_rc_, ax_err_name(a_rc_), ax_test_report());           \
        AXT_ASSERT_CLEAN();                                                   \
    } while (0)

static int here(void)
{
    return ax_loop_index(ax_loop_current());
}

static void *dup_int(int v)
{
    int *p = malloc(sizeof *p);
    ck_assert_ptr_nonnull(p);
    *p = v;
    return p;
}

static int take_int(void *p)
{
    int v = *(int *)p;
    free(p);
    return v;
}

static void spin_yield(void)
{
    axt_assert_rc(ax_yield(), 0);
    sched_yield();
}

/* Wait until @p ref has ended. */
static void wait_dead(ax_actor_ref ref)
{
    /* Sleep, not spin: under the virtual clock time advances only while
     * every loop is idle, and the actor may be waiting for a timeout. */
    while (ax_actor_alive(ref))
        axt_assert_rc(ax_sleep(0.0001), 0);
}

/* Wait until the runtime's counters are quiet: accepted = delivered +
 * undelivered. Returns the snapshot. */
static ax_actor_stats wait_quiet(void)
{
    ax_actor_stats st;
    for (;;) {
        axt_assert_rc(ax_actor_stats_get(&st), 0);
        if (st.msgs_accepted == st.msgs_delivered + st.msgs_undelivered)
            return st;
        spin_yield();
    }
}

enum { T_PING = 1, T_PONG, T_STOP, T_DATA, T_ASK, T_ERR, T_GO, T_EXIT };

/* ------------------------------------------------------------------------ */
/* Ping-pong                                                                */

typedef struct pp {
    ax_loop *pong_loop;
    int n;
    ax_future *done; /* on loop 0 */
    int pongs, bad;
} pp;

static void *ponger(void *arg)
{
    ax_msg m;
    (void)arg;
    for (;;) {
        axt_assert_rc(ax_recv(&m, -1), 0);
        if (m.tag == T_STOP)
            return NULL;
        ck_assert_int_eq(m.tag, T_PING);
        /* the payload is ours now: send it back (ownership moves again) */
        axt_assert_rc(ax_send(m.from, T_PONG, m.data), 0);
    }
}

static void *pinger(void *arg)
{
    pp *p = arg;
    ax_actor_ref pong;
    ax_msg m;
    axt_assert_rc(axt_actor_spawn_on(p->pong_loop, &pong, ponger, NULL, NULL),
                  0);
    for (int i = 0; i < p->n; i++) {
        axt_assert_rc(ax_send(pong, T_PING, dup_int(i)), 0);
        axt_assert_rc(ax_recv(&m, -1), 0);
        ck_assert_int_eq(m.tag, T_PONG);
        ck_assert(ax_ref_eq(m.from, pong));
        if (take_int(m.data) != i)
            p->bad++;
        p->pongs++;
    }
    axt_assert_rc(ax_send(pong, T_STOP, NULL), 0);
    axt_assert_rc(ax_future_set_result(p->done, NULL), 0);
    return NULL;
}

static void *main_ping_pong(void *arg)
{
    pp p;
    ax_actor_ref ref;
    (void)arg;
    ck_assert(ax_ref_eq(ax_actor_self(), AX_ACTOR_NONE)); /* not an actor */
    for (int where = 0; where < 2; where++) {
        memset(&p, 0, sizeof p);
        p.n = 2000;
        p.pong_loop = ax_loop_at(where == 0 ? 0 : 2); /* same loop, across */
        axt_assert_rc(ax_future_new(&p.done), 0);
        axt_assert_rc(ax_actor_spawn(&ref, pinger, &p, NULL), 0);
        ck_assert(ref.id != 0);
        axt_assert_rc(ax_await(p.done, NULL), 0);
        axt_assert_rc(ax_future_free(p.done), 0);
        ck_assert_int_eq(p.pongs, p.n);
        ck_assert_int_eq(p.bad, 0);
    }
    ax_actor_stats st = wait_quiet();
    ck_assert_uint_ge(st.msgs_delivered, 4 * 2000 + 2);
    return NULL;
}

/* Ping-pong of 2000 malloc'd payloads between two actors on one loop, then
 * across loops; `from` names the sender; payloads change owners. */
START_TEST(test_ping_pong_same_loop_and_across_loops)
{
    ACT_RUN_CLEAN(3, main_ping_pong, NULL);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* FIFO per sender                                                          */

#define FIFO_SENDERS 8
#define FIFO_MSGS 10000

typedef struct fifo {
    ax_actor_ref to;
    ax_future *done;
    long received;
    int bad;
    int last[FIFO_SENDERS];
} fifo;

static void *fifo_receiver(void *arg)
{
    fifo *f = arg;
    ax_msg m;
    for (int i = 0; i < FIFO_SENDERS; i++)
        f->last[i] = -1;
    while (f->received < (long)FIFO_SENDERS * FIFO_MSGS) {
        axt_assert_rc(ax_recv(&m, -1), 0);
        ck_assert(m.tag >= 0 && m.tag < FIFO_SENDERS);
        int seq = (int)AXT_I(m.data);
        if (seq <= f->last[m.tag])
            f->bad++;
        f->last[m.tag] = seq;
        f->received++;
    }
    axt_assert_rc(ax_future_set_result(f->done, NULL), 0);
    return NULL;
}

typedef struct fifo_arg {
    fifo *f;
    int id;
} fifo_arg;

static void *fifo_sender(void *arg)
{
    fifo *f = ((fifo_arg *)arg)->f;
    int id = ((fifo_arg *)arg)->id;
    for (int i = 0; i < FIFO_MSGS; i++)
        axt_assert_rc(ax_send(f->to, id, AXT_P(i)), 0);
    return NULL;
}

static void *main_fifo(void *arg)
{
    static fifo f;
    fifo_arg args[FIFO_SENDERS];
    ax_task *t[FIFO_SENDERS];
    (void)arg;
    memset(&f, 0, sizeof f);
    axt_assert_rc(ax_future_new(&f.done), 0);
    axt_assert_rc(
        axt_actor_spawn_on(ax_loop_at(1), &f.to, fifo_receiver, &f, NULL), 0);
    for (int i = 0; i < FIFO_SENDERS; i++) {
        args[i].f = &f;
        args[i].id = i;
        axt_assert_rc(
            axt_spawn_on(ax_loop_at(i % 4), &t[i], fifo_sender, &args[i]), 0);
    }
    for (int i = 0; i < FIFO_SENDERS; i++)
        axt_assert_rc(ax_await(t[i], NULL), 0);
    axt_assert_rc(ax_await(f.done, NULL), 0);
    axt_assert_rc(ax_future_free(f.done), 0);
    ck_assert_int_eq(f.bad, 0);
    for (int i = 0; i < FIFO_SENDERS; i++)
        ck_assert_int_eq(f.last[i], FIFO_MSGS - 1);
    return NULL;
}

/* 10,000 numbered messages from each of 8 senders spread over 4 loops (the
 * receiver's own loop among them) to one actor with the default bounded
 * mailbox: each sender's sequence arrives strictly increasing. */
START_TEST(test_per_sender_fifo_10000_from_senders_on_every_loop)
{
    ACT_RUN_CLEAN(4, main_fifo, NULL);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Backpressure                                                             */

typedef struct gated {
    ax_future *gate; /* on loop 0: result 1 = receive, 2 = end at once */
    int want;        /* messages to receive */
    int got[16];
    int n;
    ax_future *done;
} gated;

static void *gated_actor(void *arg)
{
    gated *g = arg;
    void *v = NULL;
    ax_msg m;
    axt_assert_rc(ax_await(g->gate, &v), 0);
    if (AXT_I(v) == 2)
        return NULL; /* end with the mailbox full */
    while (g->n < g->want) {
        axt_assert_rc(ax_recv(&m, -1), 0);
        g->got[g->n++] = take_int(m.data);
    }
    axt_assert_rc(ax_future_set_result(g->done, NULL), 0);
    return NULL;
}

typedef struct blocked_sender {
    ax_actor_ref to;
    int value;
    atomic_int before, after;
    int rc;
    void *payload;
} blocked_sender;

static void *blocking_send(void *arg)
{
    blocked_sender *b = arg;
    b->payload = dup_int(b->value);
    atomic_store(&b->before, 1);
    b->rc = ax_send(b->to, T_DATA, b->payload);
    atomic_store(&b->after, 1);
    if (b->rc != 0)
        free(b->payload); /* on error the payload stays ours */
    return NULL;
}

static int cb_try_rc = 1, cb_send_rc = 1;
static ax_actor_ref cb_to;

static void send_from_callback(void *arg)
{
    cb_try_rc = ax_try_send(cb_to, T_DATA, NULL);
    cb_send_rc = ax_send(cb_to, T_DATA, NULL);
    axt_assert_rc(ax_future_set_result(arg, NULL), 0);
}

static void *main_backpressure(void *arg)
{
    static gated g;
    static blocked_sender b = {.value = 5};
    ax_actor_opts o = {0};
    ax_actor_ref ref;
    ax_task *s = NULL;
    ax_future *f = NULL;
    void *p;
    (void)arg;
    memset(&g, 0, sizeof g);
    g.want = 5;
    axt_assert_rc(ax_future_new(&g.gate), 0);
    axt_assert_rc(ax_future_new(&g.done), 0);
    o.capacity = 4;
    axt_assert_rc(axt_actor_spawn_on(ax_loop_at(1), &ref, gated_actor, &g, &o),
                  0);
    for (int i = 0; i < 4; i++)
        axt_assert_rc(ax_try_send(ref, T_DATA, dup_int(i + 1)), 0);
    p = dup_int(99);
    axt_assert_rc(ax_try_send(ref, T_DATA, p), AX_EAGAIN); /* full */
    free(p); /* still ours */
    /* from a loop callback (not a task), ax_send fails instead of waiting */
    cb_to = ref;
    axt_assert_rc(ax_future_new(&f), 0);
    axt_assert_rc(ax_loop_post(ax_loop_at(2), send_from_callback, f), 0);
    axt_assert_rc(ax_await(f, NULL), 0);
    axt_assert_rc(ax_future_free(f), 0);
    axt_assert_rc(cb_try_rc, AX_EAGAIN);
    axt_assert_rc(cb_send_rc, AX_EAGAIN);
    /* a task on loop 2 sends: it is suspended until there is room */
    b.to = ref;
    axt_assert_rc(axt_spawn_on(ax_loop_at(2), &s, blocking_send, &b), 0);
    while (!atomic_load(&b.before))
        spin_yield();
    for (int i = 0; i < 100; i++)
        spin_yield();
    ck_assert_int_eq(atomic_load(&b.after), 0); /* blocked: nobody drains */
    axt_assert_rc(ax_future_set_result(g.gate, AXT_P(1)), 0);
    axt_assert_rc(ax_await(s, NULL), 0);
    axt_assert_rc(b.rc, 0);
    axt_assert_rc(ax_await(g.done, NULL), 0);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(g.got[i], i + 1); /* the blocked one came last */
    axt_assert_rc(ax_future_free(g.gate), 0);
    axt_assert_rc(ax_future_free(g.done), 0);
    return NULL;
}

/* Capacity 4: the 5th ax_try_send is AX_EAGAIN (payload stays the
 * sender's); from a loop callback ax_send is AX_EAGAIN too; ax_send from a
 * task on another loop suspends until the receiver drains, then succeeds
 * and its message arrives after the first four. */
START_TEST(test_full_mailbox_try_send_eagain_send_blocks_until_drained)
{
    ACT_RUN_CLEAN(3, main_backpressure, NULL);
}
END_TEST

static void *main_send_cancelled_or_target_ends(void *arg)
{
    static gated g;
    static blocked_sender b1 = {.value = 10}, b2 = {.value = 11};
    ax_actor_opts o = {0};
    ax_actor_ref ref;
    ax_task *s1 = NULL, *s2 = NULL;
    (void)arg;
    memset(&g, 0, sizeof g);
    axt_assert_rc(ax_future_new(&g.gate), 0);
    o.capacity = 2;
    axt_assert_rc(axt_actor_spawn_on(ax_loop_at(1), &ref, gated_actor, &g, &o),
                  0);
    axt_assert_rc(ax_try_send(ref, 100, dup_int(0)), 0);
    axt_assert_rc(ax_try_send(ref, 200, dup_int(0)), 0);
    b1.to = b2.to = ref;
    axt_assert_rc(ax_spawn(&s1, blocking_send, &b1), 0);
    axt_assert_rc(axt_spawn_on(ax_loop_at(2), &s2, blocking_send, &b2), 0);
    while (!atomic_load(&b1.before) || !atomic_load(&b2.before))
        spin_yield();
    /* the local sender is cancelled while waiting for room */
    axt_assert_rc(ax_cancel(s1), 0);
    axt_assert_rc(ax_await(s1, NULL), AX_ECANCELED);
    axt_assert_rc(b1.rc, AX_ECANCELED);
    /* the actor ends with a full mailbox: the other sender gets AX_ESRCH,
     * the two queued messages go to the hook with reason AX_ESRCH */
    axt_assert_rc(ax_future_set_result(g.gate, AXT_P(2)), 0);
    axt_assert_rc(ax_await(s2, NULL), 0);
    axt_assert_rc(b2.rc, AX_ESRCH);
    wait_dead(ref);
    ax_actor_stats st = wait_quiet();
    ck_assert_int_eq(atomic_load(&und_count), 2);
    ck_assert_int_eq(atomic_load(&und_esrch), 2);
    ck_assert_int_eq(atomic_load(&und_tag_sum), 300);
    ck_assert_uint_eq(st.msgs_accepted, 2);
    ck_assert_uint_eq(st.msgs_undelivered, 2);
    axt_assert_rc(ax_send(ref, T_DATA, NULL), AX_ESRCH);
    axt_assert_rc(ax_future_free(g.gate), 0);
    return NULL;
}

/* A sender waiting for room gets AX_ECANCELED when cancelled and AX_ESRCH
 * when the actor ends; the messages left in the ended actor's mailbox go
 * to the undelivered hook with reason AX_ESRCH and are counted. */
START_TEST(test_waiting_sender_cancelled_or_target_ends)
{
    ACT_RUN_CLEAN(3, main_send_cancelled_or_target_ends, NULL);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Fair mailbox: room goes to waiting senders in order, a share each       */

/* Under the virtual clock a sleep of the main task returns only once every
 * loop is idle: every sender then waits for room or has ended, and the
 * receiver waits for its next gate. The tests step the receiver that way,
 * with no spinning and no timing. */
static void quiet(void)
{
    axt_assert_rc(ax_sleep(0.01), 0);
}

#define FAIR_CAP 64
#define FAIR_SENDERS 4 /* two on loop 0 (the receiver's), two on loop 1 */
#define FAIR_N 200     /* messages per sender */
#define FAIR_TOTAL (FAIR_SENDERS * FAIR_N)
#define FAIR_STEPS (FAIR_TOTAL / FAIR_CAP + 2)

typedef struct fair {
    ax_actor_ref to;
    ax_future *gate[FAIR_STEPS]; /* step k: take FAIR_CAP messages */
    ax_future *done;
    atomic_long accepted;   /* ax_send() returned 0 */
    atomic_long per_loop[2]; /* the same, per sender loop */
    atomic_int ended[2];     /* senders of the loop that have ended */
    long received, worst;    /* worst: most accepted and not yet received */
    int next[FAIR_SENDERS];
    int bad_order;
} fair;

static fair FR;

static void *fair_receiver(void *arg)
{
    fair *f = arg;
    ax_msg m;
    for (int k = 0; f->received < FAIR_TOTAL; k++) {
        axt_assert_rc(ax_await(f->gate[k], NULL), 0);
        for (int j = 0; j < FAIR_CAP && f->received < FAIR_TOTAL; j++) {
            long held = atomic_load(&f->accepted) - f->received;
            if (held > f->worst)
                f->worst = held;
            axt_assert_rc(ax_recv(&m, -1), 0);
            ck_assert_int_ge(m.tag, 0);
            ck_assert_int_lt(m.tag, FAIR_SENDERS);
            if (AXT_I(m.data) != f->next[m.tag]++)
                f->bad_order++;
            f->received++;
        }
    }
    axt_assert_rc(ax_future_set_result(f->done, NULL), 0);
    return NULL;
}

static void *fair_sender(void *arg)
{
    int id = AXT_I(arg);
    int li = here();
    for (int i = 0; i < FAIR_N; i++) {
        axt_assert_rc(ax_send(FR.to, id, AXT_P(i)), 0);
        atomic_fetch_add(&FR.accepted, 1);
        atomic_fetch_add(&FR.per_loop[li], 1);
    }
    atomic_fetch_add(&FR.ended[li], 1);
    return NULL;
}

static void *main_fair(void *arg)
{
    ax_actor_opts o = {.capacity = FAIR_CAP};
    ax_task *s[FAIR_SENDERS];
    long prev[2] = {0, 0};
    int k = 0, fair_steps = 0;
    (void)arg;
    memset(&FR, 0, sizeof FR);
    for (int i = 0; i < FAIR_STEPS; i++)
        axt_assert_rc(ax_future_new(&FR.gate[i]), 0);
    axt_assert_rc(ax_future_new(&FR.done), 0);
    axt_assert_rc(
        axt_actor_spawn_on(ax_loop_at(0), &FR.to, fair_receiver, &FR, &o), 0);
    for (int i = 0; i < FAIR_SENDERS; i++)
        axt_assert_rc(axt_spawn_on(ax_loop_at(i / 2), &s[i], fair_sender,
                                   AXT_P(i)),
                      0);
    quiet();
    /* Nobody receives yet: the mailbox took exactly its capacity. */
    ck_assert_int_eq(atomic_load(&FR.accepted), FAIR_CAP);
    prev[0] = atomic_load(&FR.per_loop[0]);
    prev[1] = atomic_load(&FR.per_loop[1]);
    while (FR.received < FAIR_TOTAL) {
        bool both = atomic_load(&FR.ended[0]) < FAIR_SENDERS / 2 &&
                    atomic_load(&FR.ended[1]) < FAIR_SENDERS / 2;
        long now[2];
        ck_assert_int_lt(k, FAIR_STEPS);
        axt_assert_rc(ax_future_set_result(FR.gate[k++], NULL), 0);
        quiet();
        now[0] = atomic_load(&FR.per_loop[0]);
        now[1] = atomic_load(&FR.per_loop[1]);
        /* The receiver took a mailbox's worth: while both loops still
         * have senders, both loops' senders got room. */
        if (both) {
            ck_assert_msg(now[0] > prev[0] && now[1] > prev[1],
                          "step %d: loop 0 %ld -> %ld, loop 1 %ld -> %ld", k,
                          prev[0], now[0], prev[1], now[1]);
            fair_steps++;
        }
        prev[0] = now[0];
        prev[1] = now[1];
    }
    for (int i = 0; i < FAIR_SENDERS; i++)
        axt_assert_rc(ax_await(s[i], NULL), 0);
    axt_assert_rc(ax_await(FR.done, NULL), 0);
    ck_assert_int_ge(fair_steps, 3);
    ck_assert_int_eq(FR.received, FAIR_TOTAL);
    ck_assert_int_eq(FR.bad_order, 0);
    for (int i = 0; i < FAIR_SENDERS; i++)
        ck_assert_int_eq(FR.next[i], FAIR_N);
    ck_assert_int_le(FR.worst, FAIR_CAP);
    for (int i = 0; i < FAIR_STEPS; i++)
        axt_assert_rc(ax_future_free(FR.gate[i]), 0);
    axt_assert_rc(ax_future_free(FR.done), 0);
    return NULL;
}

/* Two senders on the receiver's loop and two on another flood a mailbox of
 * capacity 64 that the receiver drains a mailbox's worth at a time: the
 * mailbox never holds more than 64 (accepted and not yet received, as the
 * senders count them), each sender's messages arrive once and in order,
 * and in every step while both loops still send, the senders of both
 * loops got room (a sender woken on the receiver's loop used to take the
 * room the other loop's senders had been woken for). */
START_TEST(test_fair_mailbox_both_loops_progress_within_bound)
{
    ACT_RUN_CLEAN(2, main_fair, NULL);
}
END_TEST

typedef struct granted {
    ax_future *gate;
    int try_rc;
    int got;
    ax_future *done;
} granted;

static void *granted_receiver(void *arg)
{
    granted *g = arg;
    ax_msg m;
    axt_assert_rc(ax_await(g->gate, NULL), 0);
    /* 4 -> 2 held: the 2 free places go to the 2 waiting senders */
    for (int i = 0; i < 2; i++) {
        axt_assert_rc(ax_recv(&m, -1), 0);
        free(m.data);
        g->got++;
    }
    g->try_rc = ax_try_send(ax_actor_self(), T_DATA, NULL);
    while (g->got < 6 + (g->try_rc == 0 ? 1 : 0)) {
        axt_assert_rc(ax_recv(&m, -1), 0);
        free(m.data);
        g->got++;
    }
    axt_assert_rc(ax_future_set_result(g->done, NULL), 0);
    return NULL;
}

static void *main_try_send_granted(void *arg)
{
    static granted g;
    static blocked_sender b1 = {.value = 1}, b2 = {.value = 2};
    ax_actor_opts o = {.capacity = 4};
    ax_actor_ref ref;
    ax_task *s1, *s2;
    (void)arg;
    memset(&g, 0, sizeof g);
    axt_assert_rc(ax_future_new(&g.gate), 0);
    axt_assert_rc(ax_future_new(&g.done), 0);
    axt_assert_rc(axt_actor_spawn_on(ax_loop_at(0), &ref, granted_receiver,
                                     &g, &o),
                  0);
    for (int i = 0; i < 4; i++)
        axt_assert_rc(ax_try_send(ref, T_DATA, NULL), 0);
    b1.to = b2.to = ref;
    axt_assert_rc(axt_spawn_on(ax_loop_at(1), &s1, blocking_send, &b1), 0);
    axt_assert_rc(axt_spawn_on(ax_loop_at(1), &s2, blocking_send, &b2), 0);
    quiet(); /* both wait for room */
    ck_assert_int_eq(atomic_load(&b1.after) + atomic_load(&b2.after), 0);
    axt_assert_rc(ax_future_set_result(g.gate, NULL), 0);
    axt_assert_rc(ax_await(g.done, NULL), 0);
    axt_assert_rc(g.try_rc, AX_EAGAIN);
    axt_assert_rc(ax_await(s1, NULL), 0);
    axt_assert_rc(ax_await(s2, NULL), 0);
    axt_assert_rc(b1.rc, 0);
    axt_assert_rc(b2.rc, 0);
    ck_assert_int_eq(g.got, 6);
    axt_assert_rc(ax_future_free(g.gate), 0);
    axt_assert_rc(ax_future_free(g.done), 0);
    return NULL;
}

/* Capacity 4, full, two senders of another loop waiting: the receiver
 * takes two messages, which grants the two free places to the waiters, so
 * its own ax_try_send() right after is AX_EAGAIN (the room is theirs);
 * both waiters' messages then arrive. */
START_TEST(test_try_send_eagain_when_room_is_granted_to_waiters)
{
    ACT_RUN_CLEAN(2, main_try_send_granted, NULL);
}
END_TEST

/* Receives g->want messages after g->gate, then stays until g->done2. */
typedef struct staying {
    gated g;
    ax_future *gate2;
} staying;

static void *staying_actor(void *arg)
{
    staying *st = arg;
    gated *g = &st->g;
    ax_msg m;
    axt_assert_rc(ax_await(g->gate, NULL), 0);
    while (g->n < g->want) {
        axt_assert_rc(ax_recv(&m, -1), 0);
        g->got[g->n++] = take_int(m.data);
    }
    axt_assert_rc(ax_future_set_result(g->done, NULL), 0);
    axt_assert_rc(ax_await(st->gate2, NULL), 0);
    return NULL; /* ends with its mailbox full */
}

typedef struct dl_sender {
    ax_actor_ref to;
    int rc;
} dl_sender;

static void *deadline_send(void *arg)
{
    dl_sender *d = arg;
    d->rc = ax_send_dl(d->to, T_DATA, NULL, ax_deadline_in(1.0));
    return NULL;
}

static void *main_waiters_give_back(void *arg)
{
    static staying sg;
    gated *gp = &sg.g;
    static blocked_sender bc = {.value = 7}, b3 = {.value = 3},
                          b4 = {.value = 4}, b5 = {.value = 5},
                          b6 = {.value = 6};
    static dl_sender d;
    ax_actor_opts o = {.capacity = 4};
    ax_actor_ref ref;
    ax_task *tc, *td, *t3, *t4, *t5, *t6;
    (void)arg;
    memset(&sg, 0, sizeof sg);
    axt_assert_rc(ax_future_new(&gp->gate), 0);
    axt_assert_rc(ax_future_new(&gp->done), 0);
    axt_assert_rc(ax_future_new(&sg.gate2), 0);
    gp->want = 6;
    axt_assert_rc(
        axt_actor_spawn_on(ax_loop_at(0), &ref, staying_actor, &sg, &o), 0);
    for (int i = 0; i < 4; i++)
        axt_assert_rc(ax_try_send(ref, T_DATA, dup_int(i)), 0);
    bc.to = b3.to = b4.to = b5.to = b6.to = d.to = ref;
    /* waiting: one to be cancelled (loop 0), one with a deadline (loop 1),
     * then one per loop that stays */
    axt_assert_rc(axt_spawn_on(ax_loop_at(0), &tc, blocking_send, &bc), 0);
    axt_assert_rc(axt_spawn_on(ax_loop_at(1), &td, deadline_send, &d), 0);
    quiet();
    axt_assert_rc(axt_spawn_on(ax_loop_at(0), &t3, blocking_send, &b3), 0);
    axt_assert_rc(axt_spawn_on(ax_loop_at(1), &t4, blocking_send, &b4), 0);
    quiet();
    axt_assert_rc(ax_cancel(tc), 0);
    axt_assert_rc(ax_await(tc, NULL), AX_ECANCELED);
    axt_assert_rc(bc.rc, AX_ECANCELED);
    axt_assert_rc(ax_sleep(2.0), 0); /* past the deadline */
    axt_assert_rc(ax_await(td, NULL), 0);
    axt_assert_rc(d.rc, AX_ETIMEDOUT);
    /* The two that stayed get in after the first four. */
    axt_assert_rc(ax_future_set_result(gp->gate, NULL), 0);
    axt_assert_rc(ax_await(gp->done, NULL), 0);
    axt_assert_rc(ax_await(t3, NULL), 0);
    axt_assert_rc(ax_await(t4, NULL), 0);
    axt_assert_rc(b3.rc, 0);
    axt_assert_rc(b4.rc, 0);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(gp->got[i], i);
    ck_assert_int_eq(gp->got[4] + gp->got[5], 7);
    quiet();
    /* No place was kept by those who left: the mailbox takes 4 again. */
    for (int i = 0; i < 4; i++)
        axt_assert_rc(ax_try_send(ref, T_DATA, dup_int(10 + i)), 0);
    axt_assert_rc(ax_try_send(ref, T_DATA, NULL), AX_EAGAIN);
    /* The actor ends with senders of both loops waiting: both AX_ESRCH. */
    b5.to = b6.to = ref;
    axt_assert_rc(axt_spawn_on(ax_loop_at(0), &t5, blocking_send, &b5), 0);
    axt_assert_rc(axt_spawn_on(ax_loop_at(1), &t6, blocking_send, &b6), 0);
    quiet();
    ck_assert_int_eq(atomic_load(&b5.after) + atomic_load(&b6.after), 0);
    axt_assert_rc(ax_future_set_result(sg.gate2, NULL), 0);
    axt_assert_rc(ax_await(t5, NULL), 0);
    axt_assert_rc(ax_await(t6, NULL), 0);
    axt_assert_rc(b5.rc, AX_ESRCH);
    axt_assert_rc(b6.rc, AX_ESRCH);
    wait_dead(ref);
    ax_actor_stats st = wait_quiet();
    ck_assert_int_eq(atomic_load(&und_esrch), 4);
    ck_assert_uint_eq(st.msgs_accepted, 10);
    axt_assert_rc(ax_future_free(gp->gate), 0);
    axt_assert_rc(ax_future_free(gp->done), 0);
    axt_assert_rc(ax_future_free(sg.gate2), 0);
    return NULL;
}

/* Capacity 4, full; senders of both loops wait: one cancelled and one whose
 * deadline passes leave with AX_ECANCELED / AX_ETIMEDOUT, the other two get
 * in after the first four once the receiver drains; then the mailbox takes
 * exactly 4 again (no place kept by those who left), and when the actor
 * ends, senders waiting on both loops get AX_ESRCH. */
START_TEST(test_waiters_leaving_give_back_room_and_death_wakes_all)
{
    ACT_RUN_CLEAN(2, main_waiters_give_back, NULL);
}
END_TEST

#define NUNB 100000

static void *main_unbounded(void *arg)
{
    static gated g;
    ax_actor_opts o = {0};
    ax_actor_ref ref;
    (void)arg;
    memset(&g, 0, sizeof g);
    axt_assert_rc(ax_future_new(&g.gate), 0);
    axt_assert_rc(ax_future_new(&g.done), 0);
    o.unbounded = true;
    o.capacity = 0; /* ignored when unbounded */
    g.want = 0;
    axt_assert_rc(axt_actor_spawn_on(ax_loop_at(1), &ref, gated_actor, &g, &o),
                  0);
    for (int i = 0; i < NUNB; i++)
        axt_assert_rc(ax_try_send(ref, T_DATA, dup_int(i)), 0);
    /* end the actor without receiving: every payload goes to the hook */
    axt_assert_rc(ax_future_set_result(g.gate, AXT_P(2)), 0);
    wait_dead(ref);
    ax_actor_stats st = wait_quiet();
    ck_assert_uint_eq(st.msgs_accepted, NUNB);
    ck_assert_int_eq(atomic_load(&und_count), NUNB);
    axt_assert_rc(ax_future_free(g.gate), 0);
    axt_assert_rc(ax_future_free(g.done), 0);
    return NULL;
}

/* An unbounded mailbox takes 100,000 messages from ax_try_send without
 * AX_EAGAIN (capacity 0 is fine then); they end in the hook when the actor
 * ends without reading them. */
START_TEST(test_unbounded_mailbox_takes_100000_without_blocking)
{
    ACT_RUN_CLEAN(2, main_unbounded, NULL);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* ask / call / reply                                                       */

typedef struct srv_report {
    int reply_twice, reply_err_after, reply_plain, reply_null, err_pos;
    int ask_self, ask_null;
} srv_report;

static srv_report srv;

static void *server(void *arg)
{
    bool first_done = false;
    ax_msg m;
    ax_future *f = NULL;
    (void)arg;
    for (;;) {
        axt_assert_rc(ax_recv(&m, -1), 0);
        switch (m.tag) {
        case T_ASK: /* reply x + 1, then try again */
            axt_assert_rc(ax_reply(&m, AXT_P(AXT_I(m.data) + 1)), 0);
            if (!first_done) { /* recorded once: later asks read them */
                first_done = true;
                srv.reply_twice = ax_reply(&m, NULL);
                srv.reply_err_after = ax_reply_error(&m, -5);
            }
            break;
        case T_ERR:
            srv.err_pos = ax_reply_error(&m, 3); /* not negative */
            axt_assert_rc(ax_reply_error(&m, (int)AXT_I(m.data)), 0);
            break;
        case T_DATA: /* a plain message is not an ask */
            srv.reply_plain = ax_reply(&m, NULL);
            srv.reply_null = ax_reply(NULL, NULL);
            srv.ask_self = ax_ask(ax_actor_self(), T_ASK, NULL, &f);
            srv.ask_null = ax_ask(m.from, T_ASK, NULL, NULL);
            break;
        case T_STOP:
            return NULL;
        }
    }
}

static void *asker_on_loop3(void *arg)
{
    ax_actor_ref s = *(ax_actor_ref *)arg;
    void *v = NULL;
    axt_assert_rc(ax_call(s, T_ASK, AXT_P(1000), -1, &v), 0);
    ck_assert_ptr_eq(v, AXT_P(1001));
    ck_assert_int_eq(here(), 3);
    return NULL;
}

static void *main_ask(void *arg)
{
    static ax_actor_ref s;
    ax_future *f = NULL;
    ax_task *t = NULL;
    void *v = NULL;
    (void)arg;
    axt_assert_rc(axt_actor_spawn_on(ax_loop_at(2), &s, server, NULL, NULL),
                  0);
    /* ask + await, from a plain task on loop 0 */
    axt_assert_rc(ax_ask(s, T_ASK, AXT_P(41), &f), 0);
    axt_assert_rc(ax_await(f, &v), 0);
    ck_assert_ptr_eq(v, AXT_P(42));
    ck_assert_int_eq(here(), 0);
    axt_assert_rc(ax_future_free(f), 0);
    /* call (its answer also tells that the server is past the first ask) */
    axt_assert_rc(ax_call(s, T_ASK, AXT_P(7), -1, &v), 0); /* no limit: a
        finite one would race the virtual clock of this idle loop */
    ck_assert_ptr_eq(v, AXT_P(8));
    axt_assert_rc(srv.reply_twice, AX_EALREADY);
    axt_assert_rc(srv.reply_err_after, AX_EALREADY);
    /* reply_error: the asker's future fails with the code given */
    axt_assert_rc(ax_call(s, T_ERR, AXT_P(-55), -1, &v), -55);
    axt_assert_rc(srv.err_pos, AX_EINVAL);
    axt_assert_rc(ax_call(s, T_ERR, AXT_P(AX_ECANCELED), -1, NULL),
                  AX_ECANCELED);
    /* from another loop */
    axt_assert_rc(axt_spawn_on(ax_loop_at(3), &t, asker_on_loop3, &s), 0);
    axt_assert_rc(ax_await(t, NULL), 0);
    /* a plain message; its handler checks the misuse cases */
    axt_assert_rc(ax_send(s, T_DATA, NULL), 0);
    axt_assert_rc(ax_call(s, T_ASK, AXT_P(0), -1, &v), 0); /* a barrier */
    axt_assert_rc(srv.reply_plain, AX_EINVAL);
    axt_assert_rc(srv.reply_null, AX_EINVAL);
    axt_assert_rc(srv.ask_self, AX_EDEADLK);
    axt_assert_rc(srv.ask_null, AX_EINVAL);
    /* bad input: NULL reply pointer from a plain task */
    axt_assert_rc(ax_ask(s, T_ASK, NULL, NULL), AX_EINVAL);
    axt_assert_rc(ax_send(s, T_STOP, NULL), 0);
    wait_dead(s);
    /* ask / call of an ended actor */
    axt_assert_rc(ax_ask(s, T_ASK, NULL, &f), AX_ESRCH);
    axt_assert_rc(ax_call(s, T_ASK, NULL, 1.0, &v), AX_ESRCH);
    ax_actor_stats st = wait_quiet();
    ck_assert_uint_eq(st.replies_dropped, 0);
    return NULL;
}

/* ask/call/reply across loops (askers on loops 0 and 3, server on loop 2);
 * ax_reply_error with a code; replying twice AX_EALREADY; ax_reply on a
 * plain message or NULL AX_EINVAL; an actor asking itself AX_EDEADLK;
 * NULL reply pointer AX_EINVAL; asking an ended actor AX_ESRCH. */
START_TEST(test_ask_call_reply_across_loops)
{
    ACT_RUN_CLEAN(4, main_ask, NULL);
}
END_TEST

static void *late_replier(void *arg)
{
    ax_msg ask, go;
    (void)arg;
    axt_assert_rc(ax_recv(&ask, -1), 0);
    ck_assert_int_eq(ask.tag, T_ASK);
    axt_assert_rc(ax_recv(&go, -1), 0); /* the asker has given up by now */
    ck_assert_int_eq(go.tag, T_GO);
    axt_assert_rc(ax_reply(&ask, AXT_P(1)), 0);
    return NULL;
}

static void *main_reply_dropped(void *arg)
{
    ax_actor_ref r;
    ax_future *f = NULL;
    ax_actor_stats st;
    void *v = AXT_P(3);
    (void)arg;
    axt_assert_rc(
        axt_actor_spawn_on(ax_loop_at(1), &r, late_replier, NULL, NULL), 0);
    axt_assert_rc(ax_ask(r, T_ASK, NULL, &f), 0);
    axt_assert_rc(ax_await_timeout(f, 1.0, &v), AX_ETIMEDOUT);
    ck_assert_ptr_eq(v, AXT_P(3));
    axt_assert_rc(ax_future_free(f), 0); /* the asker is gone */
    axt_assert_rc(ax_send(r, T_GO, NULL), 0);
    for (;;) {
        axt_assert_rc(ax_actor_stats_get(&st), 0);
        if (st.replies_dropped > 0)
            break;
        spin_yield();
    }
    wait_dead(r);
    for (int i = 0; i < 10; i++)
        spin_yield();
    axt_assert_rc(ax_actor_stats_get(&st), 0);
    ck_assert_uint_eq(st.replies_dropped, 1);
    return NULL;
}

/* A reply that arrives after the asker timed out and freed its future is
 * dropped (nothing touched) and counted in replies_dropped. */
START_TEST(test_reply_to_gone_asker_counted_in_replies_dropped)
{
    ACT_RUN_CLEAN(2, main_reply_dropped, NULL);
}
END_TEST

static void *main_reply_after_cancel(void *arg)
{
    ax_actor_ref r[2];
    ax_future *f[2] = {NULL, NULL};
    ax_actor_stats st;
    void *v = AXT_P(3);
    ax_future *g = NULL;
    (void)arg;
    for (int i = 0; i < 2; i++) {
        axt_assert_rc(
            axt_actor_spawn_on(ax_loop_at(1), &r[i], late_replier, NULL, NULL),
            0);
        axt_assert_rc(ax_ask(r[i], T_ASK, NULL, &f[i]), 0);
    }
    /* One ask cancelled on its own, one through a gather that times out
     * (wait_for cancels the gather, which cancels its children). */
    axt_assert_rc(ax_cancel(f[0]), 0);
    axt_assert_rc(ax_gather_start(&g, &f[1], 1, NULL, NULL,
                                  AX_GATHER_FAIL_FAST),
                  0);
    axt_assert_rc(ax_await_timeout(g, 0.05, &v), AX_ETIMEDOUT);
    axt_assert_rc(ax_future_free(g), 0);
    for (int i = 0; i < 2; i++)
        axt_assert_rc(ax_send(r[i], T_GO, NULL), 0);
    for (;;) {
        axt_assert_rc(ax_actor_stats_get(&st), 0);
        if (st.replies_dropped >= 2)
            break;
        spin_yield();
    }
    wait_dead(r[0]);
    wait_dead(r[1]);
    /* The futures keep their outcome: the late replies did not land. */
    axt_assert_rc(ax_await(f[0], &v), AX_ECANCELED);
    axt_assert_rc(ax_await(f[1], &v), AX_ECANCELED);
    ck_assert_ptr_eq(v, AXT_P(3));
    axt_assert_rc(ax_actor_stats_get(&st), 0);
    ck_assert_uint_eq(st.replies_dropped, 2);
    for (int i = 0; i < 2; i++)
        axt_assert_rc(ax_future_free(f[i]), 0);
    return NULL;
}

/* Replies that arrive after the asker cancelled its future or timed out
 * on it (the future still allocated) are dropped and counted too. */
START_TEST(test_reply_after_cancel_or_timeout_counted_in_replies_dropped)
{
    ACT_RUN_CLEAN(2, main_reply_after_cancel, NULL);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Bad inputs                                                               */

static int recv_rc[6];
static double recv_t0, recv_t1;

static void *recv_checker(void *arg)
{
    ax_msg m;
    (void)arg;
    recv_rc[0] = ax_recv(NULL, -1);
    recv_rc[1] = ax_recv(&m, NAN);
    recv_rc[2] = ax_recv(&m, 0);
    recv_t0 = ax_now();
    recv_rc[3] = ax_recv(&m, 2.5);
    recv_t1 = ax_now();
    recv_rc[4] = ax_link(ax_actor_self());
    return NULL;
}

static atomic_int noop_calls; /* actors on two loops bump it */
static void *noop_actor(void *arg)
{
    (void)arg;
    noop_calls++;
    return NULL;
}

/* A second runtime on a plain thread, for "a loop of another runtime". */
static atomic_uintptr_t other_loop;
static atomic_int other_done;

static void *other_main(void *arg)
{
    (void)arg;
    atomic_store(&other_loop, (uintptr_t)ax_loop_current());
    while (!atomic_load(&other_done))
        axt_assert_rc(ax_sleep(0.001), 0);
    return NULL;
}

static void *other_runtime_thread(void *arg)
{
    ax_opts o;
    memset(&o, 0, sizeof o);
    o.loops = 2;
    (void)arg;
    unsetenv("AX_VIRTUAL_CLOCK");
    return AXT_P(ax_run_with(&o, other_main, NULL, NULL));
}

static atomic_int plain_send_rc, plain_spawn_rc;
static void *plain_thread(void *arg)
{
    ax_actor_ref r = *(ax_actor_ref *)arg;
    atomic_store(&plain_send_rc, ax_send(r, T_DATA, NULL));
    atomic_store(&plain_spawn_rc,
                 ax_actor_spawn(NULL, noop_actor, NULL, NULL));
    return NULL;
}

static void *main_bad_inputs(void *arg)
{
    ax_actor_opts o = {0};
    ax_actor_ref ref, dead, forged;
    ax_msg m;
    ax_future *f = NULL;
    pthread_t th;
    void *thr = NULL;
    (void)arg;
    /* recv outside an actor */
    axt_assert_rc(ax_recv(&m, -1), AX_ENOTACTOR);
    axt_assert_rc(ax_recv(&m, 0), AX_ENOTACTOR);
    /* spawn: NULL fn; zeroed options are the defaults */
    axt_assert_rc(ax_actor_spawn(&ref, NULL, NULL, NULL), AX_EINVAL);
    axt_assert_rc(ax_actor_spawn(&ref, noop_actor, NULL, &o), 0);
    o.stack_size = ((size_t)1 << 30) + 1;
    axt_assert_rc(ax_actor_spawn(&ref, noop_actor, NULL, &o), AX_EINVAL);
    o.stack_size = 0;
    /* an actor that ends at once */
    axt_assert_rc(
        axt_actor_spawn_on(ax_loop_at(1), &dead, noop_actor, NULL, NULL), 0);
    wait_dead(dead);
    ck_assert(!ax_actor_alive(dead));
    axt_assert_rc(ax_send(dead, T_DATA, NULL), AX_ESRCH);
    axt_assert_rc(ax_try_send(dead, T_DATA, NULL), AX_ESRCH);
    /* forged refs */
    const uint64_t forge[] = {UINT64_C(0xdeadbeef12345678),
                              dead.id + (UINT64_C(1) << 32),
                              dead.id + 1,
                              UINT64_C(0xffffffff),
                              UINT64_C(0x00000001ffffffff),
                              UINT64_MAX};
    for (size_t i = 0; i < sizeof forge / sizeof forge[0]; i++) {
        forged.id = forge[i];
        ck_assert(!ax_actor_alive(forged));
        axt_assert_rc(ax_send(forged, T_DATA, NULL), AX_ESRCH);
        axt_assert_rc(ax_try_send(forged, T_DATA, NULL), AX_ESRCH);
        axt_assert_rc(ax_ask(forged, T_ASK, NULL, &f), AX_ESRCH);
    }
    /* null ref */
    ck_assert(!ax_actor_alive(AX_ACTOR_NONE));
    axt_assert_rc(ax_send(AX_ACTOR_NONE, T_DATA, NULL), AX_EINVAL);
    axt_assert_rc(ax_try_send(AX_ACTOR_NONE, T_DATA, NULL), AX_EINVAL);
    axt_assert_rc(ax_ask(AX_ACTOR_NONE, T_ASK, NULL, &f), AX_EINVAL);
    /* recv misuse and timeouts, inside an actor on loop 1 */
    axt_assert_rc(
        axt_actor_spawn_on(ax_loop_at(1), &ref, recv_checker, NULL, NULL), 0);
    wait_dead(ref);
    axt_assert_rc(recv_rc[0], AX_EINVAL);    /* NULL out */
    axt_assert_rc(recv_rc[1], AX_EINVAL);    /* NaN timeout */
    axt_assert_rc(recv_rc[2], AX_ETIMEDOUT); /* 0, empty */
    axt_assert_rc(recv_rc[3], AX_ETIMEDOUT);
    ck_assert_double_eq(recv_t1 - recv_t0, 2.5); /* virtual clock */
    axt_assert_rc(recv_rc[4], AX_EINVAL); /* link to yourself */
    /* from a plain thread: no loop */
    ck_assert_int_eq(pthread_create(&th, NULL, plain_thread, &dead), 0);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    axt_assert_rc(atomic_load(&plain_send_rc), AX_EPERM);
    axt_assert_rc(atomic_load(&plain_spawn_rc), AX_EPERM);
    /* a loop of another runtime */
    ck_assert_int_eq(pthread_create(&th, NULL, other_runtime_thread, NULL),
                     0);
    while (!atomic_load(&other_loop))
        spin_yield();
    axt_assert_rc(axt_actor_spawn_on((ax_loop *)atomic_load(&other_loop), &ref,
                                     noop_actor, NULL, NULL),
                  AX_EINVAL);
    atomic_store(&other_done, 1);
    ck_assert_int_eq(pthread_join(th, &thr), 0);
    ck_assert_int_eq((int)AXT_I(thr), 0);
    /* the zeroed-options one too */
    ck_assert_int_eq(atomic_load(&noop_calls), 2);
    return NULL;
}

/* Bad inputs: recv outside an actor AX_ENOTACTOR; NULL fn, a stack above
 * 1 GiB AX_EINVAL (zeroed options are valid); send/try_send to an ended
 * actor and forged refs (random ids, bumped generation, unused slot, huge
 * slot) AX_ESRCH; null ref AX_EINVAL; recv NULL / NaN AX_EINVAL; recv timeout
 * AX_ETIMEDOUT after exactly the timeout; no loop AX_EPERM; a loop of another
 * runtime AX_EINVAL. */
START_TEST(test_bad_inputs_and_dead_or_forged_refs)
{
    ACT_RUN_CLEAN(2, main_bad_inputs, NULL);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Registry                                                                 */

static void *wait_stop(void *arg)
{
    ax_msg m;
    (void)arg;
    do
        axt_assert_rc(ax_recv(&m, -1), 0);
    while (m.tag != T_STOP);
    return NULL;
}

static int reg_remote_rc = 1;
static ax_actor_ref reg_remote_ref;

static void *whereis_on_loop3(void *arg)
{
    (void)arg;
    reg_remote_rc = ax_whereis("server", &reg_remote_ref);
    return NULL;
}

static void *main_registry(void *arg)
{
    ax_actor_ref a, b, got;
    ax_task *t = NULL;
    char name63[64], name64[65];
    (void)arg;
    memset(name63, 'n', 63);
    name63[63] = '\0';
    memset(name64, 'n', 64);
    name64[64] = '\0';
    axt_assert_rc(axt_actor_spawn_on(ax_loop_at(1), &a, wait_stop, NULL, NULL),
                  0);
    axt_assert_rc(axt_actor_spawn_on(ax_loop_at(2), &b, wait_stop, NULL, NULL),
                  0);
    axt_assert_rc(ax_whereis("server", &got), AX_ESRCH);
    axt_assert_rc(ax_register("server", a), 0);
    axt_assert_rc(ax_whereis("server", &got), 0);
    ck_assert(ax_ref_eq(got, a));
    /* registry is runtime-wide */
    axt_assert_rc(axt_spawn_on(ax_loop_at(3), &t, whereis_on_loop3, NULL), 0);
    axt_assert_rc(ax_await(t, NULL), 0);
    axt_assert_rc(reg_remote_rc, 0);
    ck_assert(ax_ref_eq(reg_remote_ref, a));
    /* taken by a live actor */
    axt_assert_rc(ax_register("server", b), AX_EALREADY);
    /* bad names and refs */
    axt_assert_rc(ax_register(NULL, b), AX_EINVAL);
    axt_assert_rc(ax_register("", b), AX_EINVAL);
    axt_assert_rc(ax_register(name64, b), AX_EINVAL); /* 64 bytes: long */
    axt_assert_rc(ax_register("x", AX_ACTOR_NONE), AX_EINVAL);
    axt_assert_rc(ax_whereis(NULL, &got), AX_EINVAL);
    axt_assert_rc(ax_whereis("server", NULL), AX_EINVAL);
    axt_assert_rc(ax_unregister(NULL), AX_EINVAL);
    axt_assert_rc(ax_register(name63, b), 0); /* 63 bytes: fine */
    axt_assert_rc(ax_whereis(name63, &got), 0);
    ck_assert(ax_ref_eq(got, b));
    /* the name is free again once its actor has ended */
    axt_assert_rc(ax_send(a, T_STOP, NULL), 0);
    wait_dead(a);
    axt_assert_rc(ax_whereis("server", &got), AX_ESRCH);
    axt_assert_rc(ax_register("server", b), 0);
    axt_assert_rc(ax_whereis("server", &got), 0);
    ck_assert(ax_ref_eq(got, b));
    /* unregister */
    axt_assert_rc(ax_unregister("server"), 0);
    axt_assert_rc(ax_whereis("server", &got), AX_ESRCH);
    axt_assert_rc(ax_unregister("server"), AX_ESRCH);
    axt_assert_rc(ax_unregister("never-registered"), AX_ESRCH);
    axt_assert_rc(ax_send(b, T_STOP, NULL), 0);
    wait_dead(b);
    axt_assert_rc(ax_whereis(name63, &got), AX_ESRCH);
    return NULL;
}

/* Registry: register/whereis (from any loop), a name held by a live actor
 * is AX_EALREADY, bad names (NULL, empty, 64 bytes) and null refs AX_EINVAL,
 * a name is free again after its actor ends, unregister then AX_ESRCH. */
START_TEST(test_registry_register_whereis_unregister)
{
    ACT_RUN_CLEAN(4, main_registry, NULL);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Shutdown                                                                 */

/* Written by the stuck actors of every loop: atomic. */
static atomic_int shut_spawn_rc = 1;
static void *stuck_actor(void *arg)
{
    ax_future *f = NULL;
    (void)arg;
    axt_assert_rc(ax_future_new(&f), 0);
    axt_assert_rc(ax_await(f, NULL), AX_ECANCELED); /* never receives */
    atomic_store(&shut_spawn_rc, ax_actor_spawn(NULL, noop_actor, NULL, NULL));
    axt_assert_rc(ax_future_free(f), 0);
    return NULL;
}

static void *main_left_at_shutdown(void *arg)
{
    ax_actor_ref r[3];
    (void)arg;
    for (int i = 0; i < 3; i++) {
        axt_assert_rc(
            axt_actor_spawn_on(ax_loop_at(i), &r[i], stuck_actor, NULL, NULL),
            0);
        for (int j = 0; j < 4; j++)
            axt_assert_rc(ax_send(r[i], 1, dup_int(j)), 0);
    }
    return NULL;
}

/* Messages still queued when the runtime stops (the actors never received)
 * reach the undelivered hook, which frees the payloads; actors spawned
 * during shutdown get AX_ESHUTDOWN. */
START_TEST(test_messages_left_at_shutdown_reach_undelivered_hook)
{
    ACT_RUN_CLEAN(3, main_left_at_shutdown, NULL);
    ck_assert_int_eq(atomic_load(&und_count), 12);
    ck_assert_int_eq(atomic_load(&und_other_reason), 0);
    ck_assert_int_eq(atomic_load(&und_esrch) + atomic_load(&und_eshutdown),
                     12);
    axt_assert_rc(atomic_load(&shut_spawn_rc), AX_ESHUTDOWN);
    ck_assert_int_eq(atomic_load(&noop_calls), 0);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Deadlines (the _dl calls)                                                */

static int rdl_rc[6];
static double rdl_t[6];

static void *recv_dl_actor(void *arg)
{
    int64_t dl = ax_deadline_in(1.0);
    ax_msg m;
    (void)arg;
    rdl_rc[0] = ax_recv_dl(&m, dl); /* empty: times out at 1.0 */
    rdl_t[0] = ax_now();
    rdl_rc[1] = ax_recv_dl(&m, ax_deadline_in(NAN));
    rdl_rc[2] = ax_recv_dl(NULL, AX_NO_DEADLINE);
    rdl_rc[3] = ax_recv_dl(&m, AX_NO_DEADLINE); /* the message sent at 3.0 */
    rdl_t[3] = ax_now();
    /* dl is long past: a message already there is still taken... */
    rdl_rc[4] = ax_recv_dl(&m, dl);
    /* ...and an empty mailbox times out at once */
    rdl_rc[5] = ax_recv_dl(&m, dl);
    rdl_t[5] = ax_now();
    return NULL;
}

/* Answers T_ASK after sleeping data milliseconds, with data. */
static void *slow_server(void *arg)
{
    ax_msg m;
    (void)arg;
    for (;;) {
        axt_assert_rc(ax_recv(&m, -1), 0);
        if (m.tag == T_STOP)
            return NULL;
        axt_assert_rc(ax_sleep((double)AXT_I(m.data) / 1000), 0);
        axt_assert_rc(ax_reply(&m, m.data), 0);
    }
}

static void *main_recv_call_dl(void *arg)
{
    ax_actor_ref r, srv_ref;
    void *v = NULL;
    int64_t dl;
    int64_t t0;
    (void)arg;
    axt_assert_rc(ax_actor_spawn(&r, recv_dl_actor, NULL, NULL), 0);
    axt_assert_rc(ax_sleep(3.0), 0);
    axt_assert_rc(ax_try_send(r, T_DATA, NULL), 0);
    axt_assert_rc(ax_try_send(r, T_DATA, NULL), 0);
    wait_dead(r);
    axt_assert_rc(rdl_rc[0], AX_ETIMEDOUT);
    ck_assert_double_eq(rdl_t[0], 1.0);
    axt_assert_rc(rdl_rc[1], AX_EINVAL);
    axt_assert_rc(rdl_rc[2], AX_EINVAL);
    axt_assert_rc(rdl_rc[3], 0);
    ck_assert_double_eq(rdl_t[3], 3.0);
    axt_assert_rc(rdl_rc[4], 0);
    axt_assert_rc(rdl_rc[5], AX_ETIMEDOUT);
    ck_assert_double_eq(rdl_t[5], 3.0);

    /* ax_call_dl: one 3 s budget for two calls of 2 s each; the first
     * answers at +2, the second is cut at +3. (On this loop: each loop has
     * its own virtual clock, and sleeps on two loops are not ordered.) */
    axt_assert_rc(ax_actor_spawn(&srv_ref, slow_server, NULL, NULL), 0);
    t0 = ax_now_ns();
    dl = ax_deadline_in(3.0);
    axt_assert_rc(ax_call_dl(srv_ref, T_ASK, AXT_P(2000), dl, &v), 0);
    ck_assert_ptr_eq(v, AXT_P(2000));
    ck_assert_int_eq(ax_now_ns() - t0, (int64_t)(2.0 * 1e9));
    axt_assert_rc(ax_call_dl(srv_ref, T_ASK, AXT_P(2000), dl, &v),
                  AX_ETIMEDOUT);
    ck_assert_int_eq(ax_now_ns() - t0, (int64_t)(3.0 * 1e9));
    /* past, NaN, none */
    axt_assert_rc(ax_call_dl(srv_ref, T_ASK, AXT_P(1), 0, &v), AX_ETIMEDOUT);
    axt_assert_rc(
        ax_call_dl(srv_ref, T_ASK, AXT_P(1), ax_deadline_in(NAN), &v),
        AX_EINVAL);
    axt_assert_rc(ax_call(srv_ref, T_ASK, AXT_P(1), NAN, &v), AX_EINVAL);
    v = NULL;
    axt_assert_rc(ax_call_dl(srv_ref, T_ASK, AXT_P(500), AX_NO_DEADLINE, &v),
                  0);
    ck_assert_ptr_eq(v, AXT_P(500));
    axt_assert_rc(ax_send(srv_ref, T_STOP, NULL), 0);
    wait_dead(srv_ref);
    return NULL;
}

/* ax_recv_dl(): times out at the deadline; NaN and NULL are AX_EINVAL;
 * AX_NO_DEADLINE waits; a past deadline takes a message that is there and
 * times out at once otherwise. ax_call_dl(): one deadline over two calls,
 * a past deadline, NaN, AX_NO_DEADLINE. */
START_TEST(test_recv_dl_and_call_dl)
{
    ACT_RUN_CLEAN(2, main_recv_call_dl, NULL);
}
END_TEST

static void *main_send_dl(void *arg)
{
    ax_actor_opts o;
    ax_actor_ref ref;
    ax_future *f = NULL;
    gated g;
    void *p;
    int64_t t0;
    (void)arg;
    memset(&g, 0, sizeof g);
    memset(&o, 0, sizeof o);
    axt_assert_rc(ax_future_new(&g.gate), 0);
    axt_assert_rc(ax_future_new(&g.done), 0);
    o.capacity = 1;
    o.loop = ax_loop_at(1);
    g.want = 2;
    axt_assert_rc(ax_actor_spawn(&ref, gated_actor, &g, &o), 0);
    axt_assert_rc(ax_try_send(ref, T_DATA, dup_int(1)), 0); /* now full */
    p = dup_int(2);
    t0 = ax_now_ns();
    axt_assert_rc(ax_send_dl(ref, T_DATA, p, ax_deadline_in(0.5)),
                  AX_ETIMEDOUT);
    ck_assert_int_eq(ax_now_ns() - t0, (int64_t)(0.5 * 1e9));
    axt_assert_rc(ax_send_dl(ref, T_DATA, p, 0), AX_ETIMEDOUT); /* past */
    axt_assert_rc(ax_send_dl(ref, T_DATA, p, ax_deadline_in(NAN)), AX_EINVAL);
    axt_assert_rc(ax_ask_dl(ref, T_ASK, p, ax_deadline_in(0.25), &f),
                  AX_ETIMEDOUT);
    ck_assert_ptr_null(f);
    /* ax_call's timeout bounds the wait for room too */
    axt_assert_rc(ax_call(ref, T_ASK, p, 0.25, NULL), AX_ETIMEDOUT);
    ck_assert_int_eq(ax_now_ns() - t0, (int64_t)(1.0 * 1e9));
    free(p); /* every failed send left it ours */
    /* the gate opens: the actor drains, and a send waiting with a
     * deadline gets in long before it */
    axt_assert_rc(ax_future_set_result(g.gate, AXT_P(1)), 0);
    t0 = ax_now_ns();
    axt_assert_rc(ax_send_dl(ref, T_DATA, dup_int(3), ax_deadline_in(60)), 0);
    ck_assert(ax_now_ns() - t0 < (int64_t)60 * 1000000000);
    axt_assert_rc(ax_await(g.done, NULL), 0);
    ck_assert_int_eq(g.got[0], 1);
    ck_assert_int_eq(g.got[1], 3);
    wait_dead(ref);
    axt_assert_rc(ax_future_free(g.gate), 0);
    axt_assert_rc(ax_future_free(g.done), 0);
    return NULL;
}

/* ax_send_dl() and ax_ask_dl() on a full mailbox of another loop: time
 * out at the deadline, or at once when it has passed, leaving the payload
 * the sender's; NaN is AX_EINVAL; with room they succeed. */
START_TEST(test_send_dl_and_ask_dl_on_full_mailbox)
{
    ACT_RUN_CLEAN(2, main_send_dl, NULL);
}
END_TEST

static void *main_default_capacity(void *arg)
{
    ax_actor_opts o;
    ax_actor_ref ref;
    gated g;
    (void)arg;
    memset(&g, 0, sizeof g);
    memset(&o, 0, sizeof o); /* capacity 0: AX_MAILBOX_DEFAULT */
    axt_assert_rc(ax_future_new(&g.gate), 0);
    axt_assert_rc(ax_actor_spawn(&ref, gated_actor, &g, &o), 0);
    for (int i = 0; i < AX_MAILBOX_DEFAULT; i++)
        axt_assert_rc(ax_try_send(ref, T_DATA, NULL), 0);
    axt_assert_rc(ax_try_send(ref, T_DATA, NULL), AX_EAGAIN);
    axt_assert_rc(ax_future_set_result(g.gate, AXT_P(2)), 0); /* end */
    wait_dead(ref);
    axt_assert_rc(ax_future_free(g.gate), 0);
    return NULL;
}

/* Zeroed ax_actor_opts: a mailbox of exactly AX_MAILBOX_DEFAULT. */
START_TEST(test_zeroed_opts_default_capacity)
{
    ACT_RUN_CLEAN(1, main_default_capacity, NULL);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* On the shared stack                                                      */

#define SHS_SENDERS 3
#define SHS_N 40

typedef struct shs {
    ax_actor_ref sink;
    int got, last[SHS_SENDERS];
    long sum;
    bool in_order, on_shared;
    ax_future *done;
} shs;

static bool refuses_scope(void)
{
    ax_scope sc;

    /* A timeout scope keeps its node on the stack: refused there. */
    return ax_scope_enter(&sc, 1.0) == AX_ENOTSUP;
}

/* Takes SHS_SENDERS * SHS_N messages slowly (a yield after each, so the
 * senders find the mailbox full), answers asks with their value + 1. */
static void *shs_sink(void *arg)
{
    shs *x = arg;
    ax_msg m;

    x->on_shared = refuses_scope();
    x->in_order = true;
    for (int i = 0; i < SHS_SENDERS; i++)
        x->last[i] = -1;
    while (x->got < SHS_SENDERS * SHS_N) {
        axt_assert_rc(ax_recv(&m, -1), 0);
        int v = (int)AXT_I(m.data);
        if (m.reply_) {
            axt_assert_rc(ax_reply(&m, AXT_P(v + 1)), 0);
            continue;
        }
        /* tag = sender, data = its sequence number */
        if (m.tag < 0 || m.tag >= SHS_SENDERS || v != x->last[m.tag] + 1)
            x->in_order = false;
        else
            x->last[m.tag] = v;
        x->sum += v;
        x->got++;
        ax_yield();
    }
    axt_assert_rc(ax_future_set_result(x->done, NULL), 0);
    return NULL;
}

typedef struct shs_sender {
    shs *x;
    int id, rc, asked;
    bool on_shared;
} shs_sender;

static void *shs_send(void *arg)
{
    shs_sender *p = arg;
    void *v;

    p->on_shared = refuses_scope();
    for (int i = 0; i < SHS_N && !p->rc; i++) {
        p->rc = ax_send(p->x->sink, p->id, AXT_P(i));
        if (!p->rc && i % 10 == 0 &&
            !(p->rc = ax_call(p->x->sink, 0, AXT_P(i), -1, &v)))
            p->asked += (int)AXT_I(v) == i + 1;
    }
    return NULL;
}

static void *main_shared_stack(void *arg)
{
    static shs x;
    static shs_sender snd[SHS_SENDERS];
    ax_actor_opts o = {.capacity = 2, .shared_stack = true};
    ax_task_opts to = {.shared_stack = true};
    ax_task *t[SHS_SENDERS];
    ax_actor_ref ref;
    (void)arg;
    memset(&x, 0, sizeof x);
    axt_assert_rc(ax_future_new(&x.done), 0);
    o.loop = ax_loop_at(1);
    axt_assert_rc(ax_actor_spawn(&x.sink, shs_sink, &x, &o), 0);
    /* Two senders on the sink's loop, one on another: woken directly and
     * through the inbox. */
    for (int i = 0; i < SHS_SENDERS; i++) {
        snd[i] = (shs_sender){.x = &x, .id = i};
        to.loop = ax_loop_at(i == 0 ? 0 : 1);
        axt_assert_rc(ax_spawn_with(&t[i], shs_send, &snd[i], &to), 0);
    }
    for (int i = 0; i < SHS_SENDERS; i++) {
        axt_assert_rc(ax_await(t[i], NULL), 0);
        axt_assert_rc(snd[i].rc, 0);
        ck_assert(snd[i].on_shared);
        ck_assert_int_eq(snd[i].asked, SHS_N / 10);
    }
    axt_assert_rc(ax_await(x.done, NULL), 0);
    ck_assert(x.on_shared);
    ck_assert(x.in_order);
    ck_assert_int_eq(x.got, SHS_SENDERS * SHS_N);
    ck_assert_int_eq(x.sum, (long)SHS_SENDERS * SHS_N * (SHS_N - 1) / 2);
    axt_assert_rc(ax_future_free(x.done), 0);
    /* Bad input: a shared stack has the loop's size, not its own. */
    o = (ax_actor_opts){.shared_stack = true, .stack_size = 1 << 16};
    axt_assert_rc(ax_actor_spawn(&ref, shs_sink, &x, &o), AX_EINVAL);
    return NULL;
}

/* An actor on the shared stack receives and answers asks, and tasks on
 * the shared stack send to its full mailbox (capacity 2) from its loop and
 * from another: they wait for room (before, AX_ENOTSUP) and every message
 * arrives, in each sender's order. shared_stack with stack_size is
 * AX_EINVAL. */
START_TEST(test_shared_stack_actor_and_waiting_senders)
{
    ACT_RUN_CLEAN(2, main_shared_stack, NULL);
}
END_TEST

static void *shs_never(void *arg)
{
    ax_msg m;

    (void)arg;
    ax_sleep(3600); /* takes nothing */
    while (ax_recv(&m, 0) == 0)
        ;
    return NULL;
}

static void *shs_send_dl(void *arg)
{
    ax_actor_ref to = *(ax_actor_ref *)arg;
    int rc = ax_send_dl(to, 1, NULL, ax_deadline_in(0.5));

    return AXT_P(rc);
}

static void *main_shared_stack_deadline(void *arg)
{
    ax_actor_opts o = {.capacity = 1, .loop = NULL};
    ax_task_opts to = {.shared_stack = true};
    ax_actor_ref ref;
    ax_task *t, *u;
    void *res;
    (void)arg;
    o.loop = ax_loop_at(1);
    axt_assert_rc(ax_actor_spawn(&ref, shs_never, NULL, &o), 0);
    axt_assert_rc(ax_try_send(ref, 1, NULL), 0); /* full */
    /* Waiting senders on either loop, each given up at its deadline. */
    axt_assert_rc(ax_spawn_with(&t, shs_send_dl, &ref, &to), 0);
    to.loop = ax_loop_at(1);
    axt_assert_rc(ax_spawn_with(&u, shs_send_dl, &ref, &to), 0);
    axt_assert_rc(ax_await(t, &res), 0);
    axt_assert_rc((int)AXT_I(res), AX_ETIMEDOUT);
    axt_assert_rc(ax_await(u, &res), 0);
    axt_assert_rc((int)AXT_I(res), AX_ETIMEDOUT);
    axt_assert_rc(ax_actor_kill(ref, AX_ECANCELED), 0);
    return NULL;
}

/* A sender on the shared stack whose wait for room ends at its deadline
 * (its record is on the heap there) gets AX_ETIMEDOUT and leaks nothing. */
START_TEST(test_shared_stack_sender_deadline)
{
    ACT_RUN_CLEAN(2, main_shared_stack_deadline, NULL);
}
END_TEST

/* ------------------------------------------------------------------------ */

Suite *ax_actor_suite(void)
{
    Suite *s = suite_create("actor");
    TCase *tc;

    tc = axt_tcase(s, "messages");
    tcase_add_test(tc, test_ping_pong_same_loop_and_across_loops);
    tcase_add_test(tc, test_per_sender_fifo_10000_from_senders_on_every_loop);

    tc = axt_tcase(s, "mailbox");
    tcase_add_test(tc,
                   test_full_mailbox_try_send_eagain_send_blocks_until_drained);
    tcase_add_test(tc, test_waiting_sender_cancelled_or_target_ends);
    tcase_add_test(tc, test_unbounded_mailbox_takes_100000_without_blocking);
    tcase_add_test(tc, test_messages_left_at_shutdown_reach_undelivered_hook);

    tc = axt_tcase(s, "fair");
    tcase_add_test(tc, test_fair_mailbox_both_loops_progress_within_bound);
    tcase_add_test(tc, test_try_send_eagain_when_room_is_granted_to_waiters);
    tcase_add_test(tc, test_waiters_leaving_give_back_room_and_death_wakes_all);

    tc = axt_tcase(s, "ask");
    tcase_add_test(tc, test_ask_call_reply_across_loops);
    tcase_add_test(tc, test_reply_to_gone_asker_counted_in_replies_dropped);
    tcase_add_test(tc,
                   test_reply_after_cancel_or_timeout_counted_in_replies_dropped);

    tc = axt_tcase(s, "deadline");
    tcase_add_test(tc, test_recv_dl_and_call_dl);
    tcase_add_test(tc, test_send_dl_and_ask_dl_on_full_mailbox);
    tcase_add_test(tc, test_zeroed_opts_default_capacity);

    tc = axt_tcase(s, "errors");
    tcase_add_test(tc, test_bad_inputs_and_dead_or_forged_refs);

    tc = axt_tcase(s, "registry");
    tcase_add_test(tc, test_registry_register_whereis_unregister);

    tc = axt_tcase(s, "shared-stack");
    tcase_add_test(tc, test_shared_stack_actor_and_waiting_senders);
    tcase_add_test(tc, test_shared_stack_sender_deadline);
    return s;
}

#ifndef AX_TEST_NO_MAIN
int main(void)
{
    return ax_test_main(ax_actor_suite());
}
#endif
