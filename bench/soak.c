/* SPDX-License-Identifier: MIT */
/*
 * soak: random actors, asks, cancels, crashes and restarts across loops,
 * for a given time, with conservation checked at the end.
 *
 *   usage: soak [seconds] [loops] [round-seconds]   (default 20 2 1)
 *
 * Each round starts a one_for_one supervisor with one worker actor per
 * loop and one client task per loop. Clients, until the round's end, pick
 * at random: ask a worker (and await the answer with a short timeout, or
 * give up on it at once), send it a cast, crash it (the supervisor
 * restarts it), spawn a short task and await or cancel it, or sleep. Then
 * the round stops everything and measures, on every loop, live tasks,
 * futures and stacks, and for the process its descriptors, resident
 * memory and the blocks held through the allocator hook (axon/alloc.h).
 *
 * The exit status is the verdict of a correctness check, not of a timing:
 *  - casts sent = casts received + casts returned as undelivered;
 *  - the runtime's messages: accepted = delivered + undelivered;
 *  - tasks spawned = tasks awaited; worker starts = worker ends;
 *  - after every round, the same live tasks, futures, stacks in use and
 *    descriptors as after the first; the blocks held do not keep growing
 *    (the last round holds at most 25% + 256 more than the fewest seen
 *    after the first round: caches and pools fill up to their bounds).
 * Figures are printed per round and at the end; non-zero on a breach.
 * CI runs it for 20 s (tests/suite.sh, row `soak`); by hand for hours:
 *   bench/soak 14400 4 10
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#define BENCH_NAME "soak"
#include "bench.h"

#include <dirent.h>
#include <stdatomic.h>
#include <unistd.h>

enum { CAST = 1, ASK, CRASH };

#define MAXLOOPS 16
#define MAXROUNDS 100000

static atomic_long casts_sent, casts_received, casts_undelivered;
static atomic_long asks_sent, asks_answered, asks_abandoned, asks_failed;
static atomic_long crashes, tasks_spawned, tasks_joined;
static atomic_long worker_starts, worker_ends, blocks;
static bool failed;

#define CHECK(c, ...)                                                         \
    do {                                                                      \
        if (!(c)) {                                                           \
            fprintf(stderr, "soak: FAILED: " __VA_ARGS__);                    \
            fputc('\n', stderr);                                              \
            failed = true;                                                    \
        }                                                                     \
    } while (0)

/* ---- the allocator hook: blocks held ------------------------------------ */

static void *c_alloc(void *ud, size_t n)
{
    void *p = malloc(n);

    (void)ud;
    if (p)
        atomic_fetch_add_explicit(&blocks, 1, memory_order_relaxed);
    return p;
}

static void *c_resize(void *ud, void *p, size_t n)
{
    (void)ud;
    return realloc(p, n);
}

static void c_release(void *ud, void *p)
{
    (void)ud;
    atomic_fetch_sub_explicit(&blocks, 1, memory_order_relaxed);
    free(p);
}

/* ---- actors and tasks ---------------------------------------------------- */

static void *worker(void *arg)
{
    ax_msg m;

    (void)arg;
    atomic_fetch_add(&worker_starts, 1);
    for (;;) {
        int rc = ax_recv(&m, -1);
        if (rc) {
            atomic_fetch_add(&worker_ends, 1);
            return ax_task_fail(rc);
        }
        if (m.tag == CAST)
            atomic_fetch_add(&casts_received, 1);
        if (m.reply_)
            ax_reply(&m, m.data);
        if (m.tag == CRASH) {
            atomic_fetch_add(&worker_ends, 1);
            return ax_task_fail(AX_EPIPE);
        }
    }
}

static void undelivered(int tag, void *data, int reason)
{
    (void)reason;
    (void)data;
    if (tag == CAST)
        atomic_fetch_add(&casts_undelivered, 1);
}

static uint32_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (uint32_t)(*s >> 32);
}

static void *short_task(void *arg)
{
    ax_sleep((double)(uintptr_t)arg / 1e6);
    return NULL;
}

typedef struct round_st {
    ax_actor_ref sup;
    int64_t end; /* ns on the loops' clock */
    uint64_t seed;
} round_st;

static void *client(void *arg)
{
    round_st *R = arg;
    uint64_t s = R->seed ^ ((uint64_t)ax_loop_index(ax_loop_current()) + 1) *
                               0x9e3779b97f4a7c15u;
    ax_actor_ref kids[MAXLOOPS];
    size_t nk = 0;

    while (ax_now_ns() < R->end) {
        uint32_t r = rnd(&s) % 100;
        ax_actor_ref w;
        ax_future *f;
        ax_task *t;
        int rc;

        /* A fresh view now and then: restarts make refs stale, and
         * stale refs are part of the load (AX_ESRCH). */
        if (nk == 0 || r < 5) {
            if (ax_sup_which_children(R->sup, kids, MAXLOOPS, &nk) || !nk) {
                nk = 0;
                ax_sleep(0.001);
                continue;
            }
        }
        w = kids[rnd(&s) % nk];
        if (r < 45) {
            if (ax_ask(w, ASK, (void *)(uintptr_t)r, &f) == 0) {
                atomic_fetch_add(&asks_sent, 1);
                if (rnd(&s) % 4 == 0) {
                    atomic_fetch_add(&asks_abandoned, 1); /* give up */
                } else if (ax_await_timeout_future(f, 0.002, NULL) == 0) {
                    atomic_fetch_add(&asks_answered, 1);
                } else {
                    atomic_fetch_add(&asks_failed, 1);
                }
                ax_future_free(f);
            }
        } else if (r < 75) {
            if (ax_try_send(w, CAST, NULL) == 0)
                atomic_fetch_add(&casts_sent, 1);
            else
                ax_yield();
        } else if (r < 77) {
            if (ax_try_send(w, CRASH, NULL) == 0)
                atomic_fetch_add(&crashes, 1);
        } else if (r < 92) {
            rc = ax_spawn(&t, short_task, (void *)(uintptr_t)(rnd(&s) % 2000));
            if (rc == 0) {
                atomic_fetch_add(&tasks_spawned, 1);
                if (rnd(&s) % 2)
                    ax_cancel(t);
                ax_await(t, NULL);
                atomic_fetch_add(&tasks_joined, 1);
            }
        } else {
            ax_sleep((rnd(&s) % 1000) / 1e6);
        }
    }
    return NULL;
}

/* ---- measuring ------------------------------------------------------------ */

typedef struct sample {
    uint64_t tasks_live, futures_live, stacks_used, stacks_pooled;
    long fds, rss_kb, blocks;
} sample;

static void *loop_stats(void *arg)
{
    ax_loop_stats st;

    if (ax_loop_stats_get(&st) == 0) {
        sample *sm = arg;
        /* This task itself is not part of the picture. */
        sm->tasks_live += st.tasks_live - 1;
        sm->futures_live += st.futures_live;
        sm->stacks_used += st.stacks_mapped - st.stacks_pooled - 1;
        sm->stacks_pooled += st.stacks_pooled;
    }
    return NULL;
}

static long count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    long n = 0;

    if (!d)
        return -1;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the directory's own */
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, res = 0;

    if (f) {
        if (fscanf(f, "%ld %ld", &size, &res) != 2)
            res = 0;
        fclose(f);
    }
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static void measure(sample *sm)
{
    memset(sm, 0, sizeof *sm);
    for (int i = 0; i < ax_loop_count(); i++) {
        ax_task_opts o = {.name = "stats", .loop = ax_loop_at(i)};
        ax_task *t;
        if (ax_spawn_with(&t, loop_stats, sm, &o) == 0)
            ax_await(t, NULL);
    }
    /* The main task, which measures. */
    sm->fds = count_fds();
    sm->rss_kb = rss_kb();
    sm->blocks = atomic_load(&blocks);
}

/* ---- the soak ------------------------------------------------------------- */

static double seconds = 20, round_s = 1;
static int nloops = 2;
static sample samples[MAXROUNDS];

static void *soak(void *arg)
{
    int64_t t0 = ax_now_ns(), stop = t0 + (int64_t)(seconds * 1e9);
    int n = ax_loop_count(), rounds = 0;
    ax_sup_spec spec[MAXLOOPS];
    ax_sup_opts so = {.strategy = AX_SUP_ONE_FOR_ONE,
                      .intensity = 1 << 30, .period = 1};
    long min_blocks = -1;
    int rc;

    (void)arg;
    ax_actor_set_undelivered(undelivered);
    for (int i = 0; i < n; i++)
        spec[i] = (ax_sup_spec){.name = "worker", .body = worker,
                                .loop = ax_loop_at(i),
                                .actor = {.capacity = 64}};
    while (rounds < MAXROUNDS && (rounds == 0 || ax_now_ns() < stop)) {
        round_st R = {.end = ax_now_ns() + (int64_t)(round_s * 1e9),
                      .seed = 0x5eed + (uint64_t)rounds};
        ax_task *cl[MAXLOOPS];
        sample *sm = &samples[rounds];

        if ((rc = ax_sup_start(&R.sup, &so, spec, (size_t)n)))
            die("ax_sup_start", rc);
        for (int i = 0; i < n; i++) {
            ax_task_opts o = {.name = "client", .loop = ax_loop_at(i)};
            if ((rc = ax_spawn_with(&cl[i], client, &R, &o)))
                die("ax_spawn_with", rc);
        }
        for (int i = 0; i < n; i++)
            ax_await(cl[i], NULL);
        if ((rc = ax_sup_stop(R.sup, 10.0)))
            die("ax_sup_stop", rc);
        /* Let the last answers to abandoned asks and the envelopes going
         * home settle before counting. */
        for (int i = 0; i < 5; i++)
            ax_sleep(0.002);
        measure(sm);
        printf("round %3d: %6.1f s  tasks %llu  futures %llu  stacks "
               "%llu+%llu pooled  fds %ld  rss %ld KiB  blocks %ld\n",
               rounds + 1, (ax_now_ns() - t0) / 1e9,
               (unsigned long long)sm->tasks_live,
               (unsigned long long)sm->futures_live,
               (unsigned long long)sm->stacks_used,
               (unsigned long long)sm->stacks_pooled, sm->fds, sm->rss_kb,
               sm->blocks);
        fflush(stdout);
        if (rounds > 0) {
            CHECK(sm->tasks_live == samples[0].tasks_live,
                  "round %d: %llu live tasks, %llu after round 1", rounds + 1,
                  (unsigned long long)sm->tasks_live,
                  (unsigned long long)samples[0].tasks_live);
            CHECK(sm->futures_live == samples[0].futures_live,
                  "round %d: %llu live futures, %llu after round 1",
                  rounds + 1, (unsigned long long)sm->futures_live,
                  (unsigned long long)samples[0].futures_live);
            CHECK(sm->stacks_used == samples[0].stacks_used,
                  "round %d: %llu stacks in use, %llu after round 1",
                  rounds + 1, (unsigned long long)sm->stacks_used,
                  (unsigned long long)samples[0].stacks_used);
            CHECK(sm->fds == samples[0].fds,
                  "round %d: %ld descriptors, %ld after round 1", rounds + 1,
                  sm->fds, samples[0].fds);
            if (min_blocks < 0 || sm->blocks < min_blocks)
                min_blocks = sm->blocks;
        }
        rounds++;
    }
    if (rounds > 1) {
        long last = samples[rounds - 1].blocks;
        CHECK(last <= min_blocks + min_blocks / 4 + 256,
              "blocks held grew to %ld (fewest after round 1: %ld)", last,
              min_blocks);
    }

    ax_actor_stats st;
    if ((rc = ax_actor_stats_get(&st)))
        die("ax_actor_stats_get", rc);
    printf("soak: %d rounds in %.1f s on %d loops\n", rounds,
           (ax_now_ns() - t0) / 1e9, n);
    printf("soak: casts %ld sent = %ld received + %ld undelivered\n",
           atomic_load(&casts_sent), atomic_load(&casts_received),
           atomic_load(&casts_undelivered));
    printf("soak: asks %ld (%ld answered, %ld timed out or failed, %ld "
           "abandoned); crashes %ld; worker starts %ld, ends %ld\n",
           atomic_load(&asks_sent), atomic_load(&asks_answered),
           atomic_load(&asks_failed), atomic_load(&asks_abandoned),
           atomic_load(&crashes), atomic_load(&worker_starts),
           atomic_load(&worker_ends));
    printf("soak: tasks %ld spawned, %ld awaited\n",
           atomic_load(&tasks_spawned), atomic_load(&tasks_joined));
    printf("soak: messages %llu accepted = %llu delivered + %llu "
           "undelivered; %llu replies dropped\n",
           (unsigned long long)st.msgs_accepted,
           (unsigned long long)st.msgs_delivered,
           (unsigned long long)st.msgs_undelivered,
           (unsigned long long)st.replies_dropped);
    CHECK(atomic_load(&casts_sent) ==
              atomic_load(&casts_received) + atomic_load(&casts_undelivered),
          "casts sent != received + undelivered");
    CHECK(st.msgs_accepted == st.msgs_delivered + st.msgs_undelivered,
          "messages accepted != delivered + undelivered");
    CHECK(atomic_load(&tasks_spawned) == atomic_load(&tasks_joined),
          "tasks spawned != awaited");
    CHECK(atomic_load(&worker_starts) == atomic_load(&worker_ends),
          "worker starts != ends");
    CHECK(atomic_load(&asks_sent) > 0 && atomic_load(&crashes) > 0,
          "the load did nothing");
    return NULL;
}

int main(int argc, char **argv)
{
    static const ax_allocator al = {.alloc = c_alloc, .resize = c_resize,
                                    .release = c_release};
    ax_opts o;
    int rc;

    if (argc > 1)
        seconds = atof(argv[1]);
    if (argc > 2)
        nloops = atoi(argv[2]);
    if (argc > 3)
        round_s = atof(argv[3]);
    if (!(seconds > 0) || nloops < 1 || nloops > MAXLOOPS || !(round_s > 0)) {
        fprintf(stderr, "usage: soak [seconds] [loops 1..%d] [round-seconds]\n",
                MAXLOOPS);
        return 2;
    }
    if ((rc = ax_set_allocator(&al)))
        die("ax_set_allocator", rc);
    memset(&o, 0, sizeof o);
    o.loops = nloops;
    if ((rc = ax_run_with(&o, soak, NULL, NULL)))
        die("ax_run", rc);
    /* Everything the runtime took came back when it ended. */
    CHECK(atomic_load(&blocks) == 0, "%ld blocks held after ax_run",
          atomic_load(&blocks));
    printf("soak: %s\n", failed ? "FAILED" : "conservation holds");
    return failed ? 1 : 0;
}
