/* SPDX-License-Identifier: MIT */
/* check_stress.c: "nothing is lost" under load (actor.h, runtime.h).
 *
 * 8 senders (2 per loop, 4 loops) send M malloc'd payloads each, round-robin
 * to 8 actors (2 per loop). Half of the actors end after receiving K
 * messages, mid-stream; the others run until told to stop. The receivers
 * and the undelivered hook free the payloads, senders free the ones whose
 * send failed. At the end:
 *   msgs_accepted == msgs_delivered + msgs_undelivered,
 *   accepted == the sends that returned 0 (plus the stop messages),
 *   the hook saw exactly msgs_undelivered messages,
 *   every payload was freed exactly once (allocations == frees),
 *   sends to ended actors returned AX_ESRCH (and there were some),
 *   each sender's messages reached each actor in order.
 *
 * Size: M = 250000 by default (2 million messages); divided by the
 * environment variable AX_STRESS_SCALE (e.g. 10 under sanitizers), and by
 * 100 more when AX_UNDER_VALGRIND is set. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sched.h>
#include <stdatomic.h>

#include "axtest.h"

Suite *ax_stress_suite(void);

#define NLOOPS 4
#define NSEND 8
#define NACT 8
#define CAPACITY 256
#define M_DEFAULT 250000L
#define M_MIN 2000L

enum { T_DATA = 1, T_STOP };

typedef struct payload {
    int sender;
    long seq;
    atomic_int freed;
} payload;

static atomic_long n_alloc, n_free, n_double_free;
static atomic_long hook_calls, hook_bad_reason;

static payload *payload_new(int sender, long seq)
{
    payload *p = malloc(sizeof *p);
    ck_assert_ptr_nonnull(p);
    p->sender = sender;
    p->seq = seq;
    atomic_init(&p->freed, 0);
    atomic_fetch_add_explicit(&n_alloc, 1, memory_order_relaxed);
    return p;
}

static void payload_free(payload *p)
{
    if (atomic_exchange(&p->freed, 1))
        atomic_fetch_add(&n_double_free, 1); /* (ASan would catch it too) */
    atomic_fetch_add_explicit(&n_free, 1, memory_order_relaxed);
    free(p);
}

static void hook(int tag, void *data, int reason)
{
    atomic_fetch_add(&hook_calls, 1);
    if (reason != AX_ESRCH && reason != AX_ESHUTDOWN)
        atomic_fetch_add(&hook_bad_reason, 1);
    if (tag == T_DATA)
        payload_free(data);
}

static long stress_m(void)
{
    long m = M_DEFAULT;
    const char *sc = getenv("AX_STRESS_SCALE");
    if (sc != NULL && atol(sc) > 1)
        m /= atol(sc);
    if (getenv("AX_UNDER_VALGRIND") != NULL)
        m /= 100;
    if (m < M_MIN)
        m = M_MIN;
    return m - m % NACT; /* every actor is offered exactly m messages */
}

typedef struct actor_st {
    ax_actor_ref ref;
    long k; /* end after k messages; 0: until T_STOP */
    long received;
    long last[NSEND];
    int out_of_order;
    int loop_seen;
} actor_st;

typedef struct sender_st {
    int id;
    long m;
    long ok, esrch, other;
    int other_rc;
} sender_st;

static actor_st acts[NACT];
static sender_st snds[NSEND];

static void *receiver(void *arg)
{
    actor_st *a = arg;
    ax_msg m;
    a->loop_seen = ax_loop_index(ax_loop_current());
    for (int i = 0; i < NSEND; i++)
        a->last[i] = -1;
    for (;;) {
        axt_assert_rc(ax_recv(&m, -1), 0);
        if (m.tag == T_STOP)
            return NULL;
        payload *p = m.data;
        if (p->seq <= a->last[p->sender])
            a->out_of_order++;
        a->last[p->sender] = p->seq;
        payload_free(p);
        if (++a->received == a->k)
            return NULL; /* mid-stream: the rest goes to the hook */
    }
}

static void *sender(void *arg)
{
    sender_st *s = arg;
    for (long j = 0; j < s->m; j++) {
        payload *p = payload_new(s->id, j);
        int rc = ax_send(acts[(j + s->id) % NACT].ref, T_DATA, p);
        if (rc == 0) {
            s->ok++;
        } else {
            payload_free(p); /* on error the payload stays ours */
            if (rc == AX_ESRCH) {
                s->esrch++;
            } else {
                s->other++;
                s->other_rc = rc;
            }
        }
    }
    return NULL;
}

static void *main_stress(void *arg)
{
    long m = stress_m();
    ax_actor_opts o = {0};
    ax_future *fs[NSEND];
    ax_actor_stats st;
    long ok = 0, esrch = 0, stops = 0;

    axt_assert_rc(ax_actor_set_undelivered(hook), 0);
    (void)arg;
    o.capacity = CAPACITY;
    /* each actor is offered m messages (NSEND senders, NACT actors) */
    for (int i = 0; i < NACT; i++) {
        acts[i].k = (i % 2) ? m / 4 : 0;
        axt_assert_rc(axt_actor_spawn_on(ax_loop_at(i % NLOOPS), &acts[i].ref,
                                         receiver, &acts[i], &o),
                      0);
    }
    for (int i = 0; i < NSEND; i++) {
        ax_task *t = NULL;
        snds[i].id = i;
        snds[i].m = m;
        axt_assert_rc(
            axt_spawn_on(ax_loop_at((i + 1) % NLOOPS), &t, sender, &snds[i]),
            0);
        fs[i] = AX_FUTURE(t);
    }
    axt_assert_rc(ax_gather(fs, NSEND, NULL), 0);
    for (int i = 0; i < NACT; i++) {
        int rc = ax_send(acts[i].ref, T_STOP, NULL);
        if (rc == 0)
            stops++;
        else
            axt_assert_rc(rc, AX_ESRCH); /* a mortal one, already ended */
    }
    for (int i = 0; i < NACT; i++)
        while (ax_actor_alive(acts[i].ref)) {
            axt_assert_rc(ax_yield(), 0);
            sched_yield();
        }
    for (;;) {
        axt_assert_rc(ax_actor_stats_get(&st), 0);
        if (st.msgs_accepted == st.msgs_delivered + st.msgs_undelivered)
            break;
        axt_assert_rc(ax_yield(), 0);
        sched_yield();
    }
    for (int i = 0; i < NSEND; i++) {
        ck_assert_msg(snds[i].other == 0, "sender %d: ax_send returned %s",
                      i, ax_err_name(snds[i].other_rc));
        ok += snds[i].ok;
        esrch += snds[i].esrch;
        ck_assert_int_eq(snds[i].ok + snds[i].esrch, m);
    }
    for (int i = 0; i < NACT; i++) {
        ck_assert_int_eq(acts[i].out_of_order, 0);
        ck_assert_int_eq(acts[i].loop_seen, i % NLOOPS);
        if (acts[i].k)
            ck_assert_int_eq(acts[i].received, acts[i].k);
        else
            ck_assert_int_eq(acts[i].received, m); /* got all it was sent */
    }
    ck_assert_uint_eq(st.msgs_accepted, (uint64_t)(ok + stops));
    ck_assert_uint_eq(st.msgs_accepted,
                      st.msgs_delivered + st.msgs_undelivered);
    ck_assert_uint_eq((uint64_t)atomic_load(&hook_calls),
                      st.msgs_undelivered);
    ck_assert_int_eq(atomic_load(&hook_bad_reason), 0);
    ck_assert_int_gt(esrch, 0); /* the mortal ones ended mid-stream */
    ck_assert_int_eq(atomic_load(&n_double_free), 0);
    ck_assert_int_eq(atomic_load(&n_alloc), (long)NSEND * m);
    ck_assert_int_eq(atomic_load(&n_free), atomic_load(&n_alloc));
    return NULL;
}

/* See the file comment. */
START_TEST(test_nothing_is_lost_senders_and_mortal_actors_on_4_loops)
{
    ax_opts o;
    int rc;
    memset(&o, 0, sizeof o);
    o.loops = NLOOPS;
    o.virtual_clock = true;
    rc = ax_test_run_with(&o, main_stress, NULL, NULL);
    ck_assert_msg(rc == 0, "ax_run returned %s; report:\n%s",
                  ax_err_name(rc), ax_test_report());
    AXT_ASSERT_CLEAN();
}
END_TEST

Suite *ax_stress_suite(void)
{
    Suite *s = suite_create("stress");
    TCase *tc = axt_tcase(s, "nothing_lost");
    tcase_set_timeout(tc, 300.0); /* a hang guard for slow builds */
    tcase_add_test(tc, test_nothing_is_lost_senders_and_mortal_actors_on_4_loops);
    return s;
}

#ifndef AX_TEST_NO_MAIN
int main(void)
{
    return ax_test_main(ax_stress_suite());
}
#endif
