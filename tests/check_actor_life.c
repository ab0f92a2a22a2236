/* SPDX-License-Identifier: MIT */
/* check_actor_life.c: the limits a long-running server hits in the actor
 * layer (axon/actor.h): actor slots reused without a lifetime cap and with
 * stale refs refused, asks that fail when the actor that owes them ends,
 * the reply-dropped hook.
 *
 * AX_ACTOR_LIVES sets how many lives the long test runs (20,000,000 by
 * default; 20,000 under ASan or valgrind, 5,000 under TSan, where the
 * leak and race checks are the point: 200,000 took ten minutes under
 * TSan, and 20,000 a minute, each life a fiber of its own for TSan's
 * runtime; 5,000 are still five rounds of the 1,000 alive, about every
 * slot reused four times). The sanitizers keep the flat-memory assertion
 * with a tolerance for their allocators; valgrind's allocator holds freed
 * blocks back on purpose, so the RSS there says nothing about axon and is
 * not asserted). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "axtest.h"

Suite *ax_actor_life_suite(void);

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define LIFE_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define LIFE_SANITIZED 1
#endif
#endif
#ifndef LIFE_SANITIZED
#define LIFE_SANITIZED 0
#endif

static atomic_long und_count;

static void und_hook(int tag, void *data, int reason)
{
    (void)tag;
    (void)reason;
    atomic_fetch_add(&und_count, 1);
    free(data);
}

static int run_loops(int loops, ax_task_fn fn, void *arg)
{
    ax_opts o;

    memset(&o, 0, sizeof o);
    o.loops = loops;
    o.virtual_clock = true;
    return ax_test_run_with(&o, fn, arg, NULL);
}

#define RUN_CLEAN(loops, fn, arg)                                             \
    do {                                                                      \
        int rc_ = run_loops((loops), (fn), (arg));                            \
        ck_assert_msg(rc_ == 0, "ax_run: %s; report:\n%s", ax_err_name(rc_), \
                      ax_test_report());                                      \
        AXT_ASSERT_CLEAN();                                                   \
    } while (0)

static uint32_t slot_of(ax_actor_ref r) { return (uint32_t)r.id; }
static uint32_t gen_of(ax_actor_ref r) { return (uint32_t)(r.id >> 32); }

/* ------------------------------------------------------------------------ */
/* Slot reuse                                                               */

static void *recv_once(void *arg)
{
    ax_msg m;

    (void)arg;
    axt_assert_rc(ax_recv(&m, -1), 0);
    free(m.data);
    return NULL;
}

static long rss_pages(void)
{
    long size = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fscanf(f, "%ld %ld", &size, &rss), 2);
    fclose(f);
    return rss;
}

static long lives(void)
{
    const char *e = getenv("AX_ACTOR_LIVES");

    if (e && *e)
        return atol(e);
    if (AXT_TSAN)
        return 5000;
    if (getenv("AX_UNDER_VALGRIND") || LIFE_SANITIZED)
        return 20000;
    return 20000000;
}

#define BATCH 1000

static void *main_lives(void *arg)
{
    long n = lives(), base = 0, peak = 0;
    long tol = (LIFE_SANITIZED ? 64 : 16) * (1024 * 1024 / sysconf(_SC_PAGESIZE));
    bool vg = getenv("AX_UNDER_VALGRIND") != NULL;
    ax_actor_ref first = AX_ACTOR_NONE, reused = AX_ACTOR_NONE;
    ax_actor_stats st;

    (void)arg;
    axt_assert_rc(ax_actor_set_undelivered(und_hook), 0);
    for (long i = 0; i < n; i++) {
        ax_actor_ref r;
        axt_assert_rc(ax_actor_spawn(&r, recv_once, NULL, NULL), 0);
        axt_assert_rc(ax_send(r, 1, malloc(16)), 0);
        if (i == 0)
            first = r;
        else if (!reused.id && slot_of(r) == slot_of(first))
            reused = r;
        if (i % BATCH == BATCH - 1)
            axt_assert_rc(ax_yield(), 0); /* the batch runs and ends */
        /* Past the first tenth the pools and caches are warm. */
        if (i == n / 10)
            base = rss_pages();
        else if (i > n / 10 && i % (n / 20) == 0) {
            long now = rss_pages();
            if (now > peak)
                peak = now;
            ck_assert_msg(vg || now <= base + tol,
                          "RSS grew from %ld to %ld pages after %ld lives",
                          base, now, i);
        }
    }
    axt_assert_rc(ax_yield(), 0);
    ck_assert_int_gt(peak, 0);
    /* The first actor's slot came back with a new generation; the old ref
     * is refused and reaches nothing. */
    ck_assert_uint_ne(reused.id, 0);
    ck_assert_uint_gt(gen_of(reused), gen_of(first));
    ck_assert(!ax_actor_alive(first));
    axt_assert_rc(ax_send(first, 1, NULL), AX_ESRCH);
    axt_assert_rc(ax_try_send(first, 1, NULL), AX_ESRCH);
    axt_assert_rc(ax_actor_stats_get(&st), 0);
    ck_assert_uint_eq(st.msgs_accepted, (uint64_t)n);
    ck_assert_uint_eq(st.msgs_delivered, (uint64_t)n);
    ck_assert_int_eq(atomic_load(&und_count), 0);
    return NULL;
}

/* Many lives (20M natively) in one runtime, spawn-send-end with at most
 * 1000 alive: every spawn succeeds (no lifetime cap), RSS stays within a
 * small tolerance of its value after the first tenth, and the first ref is
 * refused once its slot serves a newer actor. */
START_TEST(test_actor_lives_unbounded_rss_flat_stale_ref_esrch)
{
    RUN_CLEAN(1, main_lives, NULL);
}
END_TEST

static void *idle_actor(void *arg)
{
    ax_msg m;

    (void)arg;
    while (ax_recv(&m, -1) == 0) {
        if (m.tag == 0)
            break;
        free(m.data);
    }
    return NULL;
}

static void *main_stale_exact(void *arg)
{
    ax_actor_ref a, b;

    (void)arg;
    axt_assert_rc(ax_actor_set_undelivered(und_hook), 0);
    axt_assert_rc(ax_actor_spawn(&a, idle_actor, NULL, NULL), 0);
    axt_assert_rc(ax_send(a, 0, NULL), 0);
    axt_assert_rc(ax_yield(), 0);
    ck_assert(!ax_actor_alive(a));
    /* The next spawn takes the freed slot. */
    axt_assert_rc(ax_actor_spawn(&b, idle_actor, NULL, NULL), 0);
    ck_assert_uint_eq(slot_of(a), slot_of(b));
    ck_assert_uint_eq(gen_of(b), gen_of(a) + 1);
    ck_assert(ax_actor_alive(b));
    ck_assert(!ax_actor_alive(a));
    axt_assert_rc(ax_send(a, 1, NULL), AX_ESRCH);
    axt_assert_rc(ax_register("b", b), 0);
    axt_assert_rc(ax_send(b, 0, NULL), 0);
    axt_assert_rc(ax_yield(), 0);
    ck_assert(!ax_actor_alive(b));
    axt_assert_rc(ax_whereis("b", &a), AX_ESRCH);
    return NULL;
}

/* One actor ends and the next spawn reuses its slot with generation + 1:
 * the old ref gets AX_ESRCH and is not alive, the new one is. */
START_TEST(test_reused_slot_old_ref_esrch_new_ref_alive)
{
    RUN_CLEAN(1, main_stale_exact, NULL);
}
END_TEST

/* Cross-loop churn: loop 0 spawns actors on loop 1 that end after one
 * message, and each ended actor's ref goes into a table (stored by the
 * actor as it returns, so every ref there is stale). A task on loop 1 and
 * the main task on loop 0 keep sending to refs from the table while their
 * slots are reused: every such send from loop 1 fails with AX_ESRCH (from
 * loop 0 it may still be accepted, see below), no actor receives
 * anything but the one message its spawner sent, and every accepted
 * message is delivered or undelivered. */
/* 20,000 natively; 4,000 (still 15 reuses of every slot of the 256 alive)
 * in a sanitizer build or under valgrind, where both loops spin on
 * ax_yield() waiting for each other and CI's TSan row spent minutes. */
#define CHURN_N (getenv("AX_UNDER_VALGRIND") || LIFE_SANITIZED ? 4000 : 20000)
#define CHURN_REFS 256
static _Atomic uint64_t churn_refs[CHURN_REFS];
static atomic_int churn_done, churn_bad, churn_wrong, churn_ended;

static void *churn_actor(void *arg)
{
    ax_msg m;
    int k;

    (void)arg;
    axt_assert_rc(ax_recv(&m, -1), 0);
    if (m.tag != 7)
        atomic_fetch_add(&churn_wrong, 1);
    free(m.data);
    k = atomic_fetch_add(&churn_ended, 1);
    atomic_store(&churn_refs[k % CHURN_REFS], ax_actor_self().id);
    return NULL;
}

/* From loop 1 (the actors' loop) a ref in the table is always stale; from
 * loop 0 its actor may still be returning, so the send may be accepted
 * (and then undelivered, never received by a newer actor). */
static void churn_send_stale(long k, bool exact)
{
    ax_actor_ref r = {atomic_load(&churn_refs[k % CHURN_REFS])};
    void *p;
    int rc;

    if (!r.id)
        return;
    p = malloc(8);
    rc = ax_try_send(r, 9, p);
    if (rc)
        free(p); /* refused: still ours */
    if (rc != AX_ESRCH && (exact || rc != 0))
        atomic_fetch_add(&churn_bad, 1);
}

static void *churn_sender(void *arg)
{
    long k = 0;

    (void)arg;
    while (!atomic_load(&churn_done)) {
        churn_send_stale(k++, true);
        if (k % 64 == 0)
            axt_assert_rc(ax_yield(), 0);
    }
    return NULL;
}

static void *main_churn(void *arg)
{
    ax_task *snd;
    ax_actor_opts o = {0};
    ax_actor_stats st;

    (void)arg;
    axt_assert_rc(ax_actor_set_undelivered(und_hook), 0);
    o.loop = ax_loop_at(1);
    axt_assert_rc(axt_spawn_on(ax_loop_at(1), &snd, churn_sender, NULL), 0);
    for (int i = 0; i < CHURN_N; i++) {
        ax_actor_ref r;
        axt_assert_rc(ax_actor_spawn(&r, churn_actor, NULL, &o), 0);
        axt_assert_rc(ax_send(r, 7, malloc(8)), 0);
        churn_send_stale(i * 7, false);
        /* A few hundred alive at most (TSan counts each task's fiber as a
         * thread, up to 8128). */
        while (i - atomic_load(&churn_ended) > 256)
            axt_assert_rc(ax_yield(), 0);
    }
    atomic_store(&churn_done, 1);
    axt_assert_rc(ax_await(snd, NULL), 0);
    /* Let the last ones end everywhere: then every accepted message has
     * been delivered or handed to the hook. */
    do {
        axt_assert_rc(ax_yield(), 0);
        axt_assert_rc(ax_actor_stats_get(&st), 0);
    } while (st.msgs_accepted != st.msgs_delivered + st.msgs_undelivered ||
             atomic_load(&churn_ended) < CHURN_N);
    ck_assert_int_eq(atomic_load(&churn_bad), 0);
    ck_assert_int_eq(atomic_load(&churn_wrong), 0);
    /* Only the spawner's messages were received; a stale one accepted
     * from loop 0 went to the undelivered hook. */
    ck_assert_uint_eq(st.msgs_delivered, CHURN_N);
    ck_assert_uint_eq(st.msgs_undelivered, st.msgs_accepted - CHURN_N);
    ck_assert_int_eq(atomic_load(&und_count), (long)st.msgs_undelivered);
    return NULL;
}

START_TEST(test_cross_loop_churn_stale_sends_never_reach_new_actor)
{
    RUN_CLEAN(2, main_churn, NULL);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Asks that end                                                            */

static void *take_and_drop(void *arg)
{
    ax_msg m;

    (void)arg;
    axt_assert_rc(ax_recv(&m, -1), 0); /* the ask, never answered */
    return NULL;
}

static void *main_ask_dropped(void *arg)
{
    ax_actor_ref a;
    ax_actor_opts o = {0};
    int64_t t0;
    void *v = AXT_P(1);

    o.loop = ax_loop_at(ax_loop_count() - 1);
    (void)arg;
    axt_assert_rc(ax_actor_spawn(&a, take_and_drop, NULL, &o), 0);
    t0 = ax_now_ns();
    /* Fails when the actor ends, not at the timeout (virtual clock: no
     * time passes). */
    axt_assert_rc(ax_call(a, 1, NULL, 60.0, &v), AX_ESRCH);
    ck_assert_int_eq(ax_now_ns(), t0);
    return NULL;
}

/* An actor takes an ask with ax_recv() and ends without answering: the
 * asker's ax_call fails with AX_ESRCH at once (not at its 60 s timeout),
 * same loop and across loops, and nothing leaks (ASan/valgrind). */
START_TEST(test_ask_taken_and_dropped_fails_esrch_at_actor_end)
{
    RUN_CLEAN(1, main_ask_dropped, NULL);
    RUN_CLEAN(2, main_ask_dropped, NULL);
}
END_TEST

static void *gate_then_end(void *arg)
{
    axt_assert_rc(ax_await_future(arg, NULL), 0);
    return NULL;
}

static void *main_ask_queued(void *arg)
{
    ax_actor_ref a;
    ax_future *gate, *f;
    int64_t t0 = ax_now_ns();

    (void)arg;
    axt_assert_rc(ax_future_new(&gate), 0);
    axt_assert_rc(ax_actor_spawn(&a, gate_then_end, gate, NULL), 0);
    axt_assert_rc(ax_ask(a, 1, NULL, &f), 0);
    axt_assert_rc(ax_future_set_result(gate, NULL), 0);
    axt_assert_rc(ax_await_timeout_future(f, 60.0, NULL), AX_ESRCH);
    ck_assert_int_eq(ax_now_ns(), t0);
    ax_future_free(f);
    ax_future_free(gate);
    return NULL;
}

/* An ask still in the mailbox when the actor ends fails with AX_ESRCH at
 * its end. */
START_TEST(test_ask_queued_when_actor_ends_fails_esrch)
{
    RUN_CLEAN(1, main_ask_queued, NULL);
}
END_TEST

/* An actor on loop 1 hands each ask to a callback posted to loop 0, which
 * answers it there and then tells the actor; after N asks the actor ends.
 * Every call gets its answer (the answer travels home through the taker's
 * loop, racing with the taker's end for the last one). */
#define FWD_N 200
static ax_loop *fwd_loop0;

typedef struct fwd {
    ax_msg m;
    ax_actor_ref actor;
} fwd;

static void fwd_answer(void *arg)
{
    fwd *w = arg;

    axt_assert_rc(ax_reply(&w->m, AXT_P(AXT_I(w->m.data) + 1)), 0);
    axt_assert_rc(ax_reply(&w->m, NULL), AX_EALREADY);
    axt_assert_rc(ax_try_send(w->actor, 2, NULL), 0);
    free(w);
}

static void *forwarder(void *arg)
{
    (void)arg;
    for (int i = 0; i < FWD_N; i++) {
        fwd *w = malloc(sizeof *w);
        ax_msg done;
        ck_assert_ptr_nonnull(w);
        axt_assert_rc(ax_recv(&w->m, -1), 0);
        ck_assert_int_eq(w->m.tag, 1);
        w->actor = ax_actor_self();
        axt_assert_rc(ax_loop_post(fwd_loop0, fwd_answer, w), 0);
        axt_assert_rc(ax_recv(&done, -1), 0);
        ck_assert_int_eq(done.tag, 2);
    }
    return NULL;
}

static void *fwd_caller(void *arg)
{
    ax_actor_ref a = {(uint64_t)AXT_I(arg)};
    void *v;

    for (int i = 0; i < FWD_N; i++) {
        axt_assert_rc(ax_call(a, 1, AXT_P(i), -1, &v), 0);
        ck_assert_int_eq(AXT_I(v), i + 1);
    }
    return NULL;
}

static void *main_fwd(void *arg)
{
    ax_actor_ref a;
    ax_actor_opts o = {0};
    ax_task *t;

    (void)arg;
    fwd_loop0 = ax_loop_current();
    o.loop = ax_loop_at(1);
    axt_assert_rc(ax_actor_spawn(&a, forwarder, NULL, &o), 0);
    axt_assert_rc(ax_spawn(&t, fwd_caller, AXT_P((intptr_t)a.id)), 0);
    axt_assert_rc(ax_await(t, NULL), 0);
    return NULL;
}

START_TEST(test_ask_answered_on_other_loop_reaches_asker)
{
    RUN_CLEAN(2, main_fwd, NULL);
}
END_TEST

/* The reply-dropped hook. */
static atomic_int dropped_calls;
static atomic_long dropped_sum;

static void dropped_hook(void *value)
{
    atomic_fetch_add(&dropped_calls, 1);
    atomic_fetch_add(&dropped_sum, *(int *)value);
    free(value);
}

static void *slow_replier(void *arg)
{
    ax_msg m;

    (void)arg;
    for (int i = 0; i < 2; i++) {
        int *v = malloc(sizeof *v);
        axt_assert_rc(ax_recv(&m, -1), 0);
        axt_assert_rc(ax_sleep(2.0), 0);
        *v = 40 + i;
        if (m.tag == 1)
            axt_assert_rc(ax_reply(&m, v), 0);
        else {
            free(v);
            axt_assert_rc(ax_reply_error(&m, AX_EINVAL), 0);
        }
    }
    return NULL;
}

static void *main_reply_dropped(void *arg)
{
    ax_actor_ref a;
    ax_actor_opts o = {0};
    ax_actor_stats st;
    void *v;

    (void)arg;
    o.loop = ax_loop_at(ax_loop_count() - 1);
    axt_assert_rc(ax_actor_set_reply_dropped(dropped_hook), 0);
    axt_assert_rc(ax_actor_spawn(&a, slow_replier, NULL, &o), 0);
    /* Gives up (one loop: times out after 1 s; two loops: frees the
     * future, since a reply from another loop beats a virtual timeout);
     * the actor answers at 2 s with a malloc'd value that only the hook
     * can free. Then an error answer, which has no value: counted, the
     * hook not called. */
    for (int tag = 1; tag <= 2; tag++) {
        if (ax_loop_count() == 1) {
            axt_assert_rc(ax_call(a, tag, NULL, 1.0, &v), AX_ETIMEDOUT);
        } else {
            ax_future *f;
            axt_assert_rc(ax_ask(a, tag, NULL, &f), 0);
            ax_future_free(f);
        }
    }
    do {
        axt_assert_rc(ax_sleep(1.0), 0);
        axt_assert_rc(ax_actor_stats_get(&st), 0);
    } while (st.replies_dropped < 2);
    ck_assert_int_eq(atomic_load(&dropped_calls), 1);
    ck_assert_int_eq(atomic_load(&dropped_sum), 40);
    ck_assert_uint_eq(st.replies_dropped, 2);
    return NULL;
}

/* A reply that arrives after the asker gave up goes to the reply-dropped
 * hook (which frees it: valgrind/ASan prove it), same loop and across. */
START_TEST(test_reply_after_timeout_goes_to_reply_dropped_hook)
{
    RUN_CLEAN(1, main_reply_dropped, NULL);
    atomic_store(&dropped_calls, 0);
    atomic_store(&dropped_sum, 0);
    RUN_CLEAN(2, main_reply_dropped, NULL);
}
END_TEST

static void *main_hook_perm(void *arg)
{
    (void)arg;
    axt_assert_rc(ax_actor_set_reply_dropped(NULL), 0);
    return NULL;
}

START_TEST(test_set_reply_dropped_outside_loop_eperm)
{
    axt_assert_rc(ax_actor_set_reply_dropped(dropped_hook), AX_EPERM);
    RUN_CLEAN(1, main_hook_perm, NULL);
}
END_TEST

Suite *ax_actor_life_suite(void)
{
    Suite *s = suite_create("actor_life");
    TCase *tc = axt_tcase(s, "lives");

    /* 20M lives take some seconds natively; a hang guard only. */
    tcase_set_timeout(tc, 900.0);
    tcase_add_test(tc, test_actor_lives_unbounded_rss_flat_stale_ref_esrch);
    tc = axt_tcase(s, "reuse");
    tcase_add_test(tc, test_reused_slot_old_ref_esrch_new_ref_alive);
    tcase_add_test(tc, test_cross_loop_churn_stale_sends_never_reach_new_actor);
    tc = axt_tcase(s, "asks");
    tcase_add_test(tc, test_ask_taken_and_dropped_fails_esrch_at_actor_end);
    tcase_add_test(tc, test_ask_queued_when_actor_ends_fails_esrch);
    tcase_add_test(tc, test_ask_answered_on_other_loop_reaches_asker);
    tcase_add_test(tc, test_reply_after_timeout_goes_to_reply_dropped_hook);
    tcase_add_test(tc, test_set_reply_dropped_outside_loop_eperm);
    return s;
}

#ifndef AX_TEST_NO_MAIN
int main(void)
{
    return ax_test_main(ax_actor_life_suite());
}
#endif
