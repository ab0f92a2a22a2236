/* SPDX-License-Identifier: MIT */
/*
 * ring: the thread-ring benchmark with actors. 503 actors form a ring; a
 * token (an integer, carried in the message's data pointer) goes round it,
 * decremented at every hop, until it reaches 0.
 *
 *   usage: ring [hops]        (default 10,000,000)
 *
 * Two runs, each in its own ax_run_with():
 *  1. loops = 1: every actor on the one loop. A hop is one ax_send() and
 *     one ax_recv(), i.e. one message and one task-to-task switch.
 *  2. loops = AX_LOOPS_PER_CPU, actor i on loop i % N: with N = 2 every hop
 *     but one per lap (502 -> 0) crosses threads through the receiving
 *     loop's inbox. Only one message is ever in flight, so this is a
 *     latency chain: one loop works while the others wait for the token.
 *
 * Timing: wall time (CLOCK_MONOTONIC) from just before the main task sends
 * the token to actor 0 until the actor that receives 0 reads the clock.
 * Spawning the ring and stopping it (a STOP message to each actor) are not
 * timed. Figures: total time, hops per second and ns per hop; for the
 * spread run also loop 0's inbox counters (read by the main task, on loop
 * 0, before and after). Nothing is asserted; the program exits 0 unless
 * axon reports an error.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#define BENCH_NAME "ring"
#include "bench.h"
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RING 503

enum { T_TOKEN = 1, T_STOP };

static uint64_t hops = 10000000;
static char loop0[256]; /* loop 0's counters, printed after the figure */

typedef struct ring {
    ax_actor_ref refs[RING];
    ax_future *done;      /* the token reached 0 */
    ax_future *stopped;   /* every actor has seen STOP */
    atomic_int live;
    int64_t t1;           /* written by the actor that saw 0 */
    int last;             /* which actor that was */
} ring;

typedef struct member {
    ring *r;
    int i;
} member;

static void *actor(void *arg)
{
    member *me = arg;
    ring *r = me->r;
    ax_actor_ref next = AX_ACTOR_NONE; /* refs[] is complete once a
                                          message arrives */
    for (;;) {
        ax_msg m;
        int rc = ax_recv(&m, -1);
        if (rc != 0)
            die("ax_recv", rc);
        if (m.tag == T_STOP)
            break;
        uintptr_t t = (uintptr_t)m.data;
        if (t == 0) {
            r->t1 = mono_ns();
            r->last = me->i;
            if ((rc = ax_future_set_result(r->done, NULL)) != 0)
                die("ax_future_set_result", rc);
            continue;
        }
        if (!next.id)
            next = r->refs[(me->i + 1) % RING];
        if ((rc = ax_send(next, T_TOKEN, (void *)(t - 1))) != 0)
            die("ax_send", rc);
    }
    if (atomic_fetch_sub(&r->live, 1) == 1) {
        int rc = ax_future_set_result(r->stopped, NULL);
        if (rc != 0)
            die("ax_future_set_result", rc);
    }
    return NULL;
}

static void *main_task(void *arg)
{
    int64_t *ns = arg;
    static member members[RING];
    static ring r;
    ax_loop_stats st0, st1;
    int nloops = ax_loop_count();
    int rc;

    memset(&r, 0, sizeof r);
    atomic_store(&r.live, RING);
    if ((rc = ax_future_new(&r.done)) != 0 ||
        (rc = ax_future_new(&r.stopped)) != 0)
        die("ax_future_new", rc);
    for (int i = 0; i < RING; i++) {
        ax_actor_opts ao = {.loop = ax_loop_at(i % nloops)};
        members[i] = (member){&r, i};
        if ((rc = ax_actor_spawn(&r.refs[i], actor, &members[i], &ao)) != 0)
            die("ax_actor_spawn", rc);
    }
    if ((rc = ax_loop_stats_get(&st0)) != 0)
        die("ax_loop_stats_get", rc);
    int64_t t0 = mono_ns();
    if ((rc = ax_send(r.refs[0], T_TOKEN, (void *)(uintptr_t)hops)) != 0)
        die("ax_send", rc);
    if ((rc = ax_await(r.done, NULL)) != 0)
        die("ax_await", rc);
    *ns = r.t1 - t0;
    if ((rc = ax_loop_stats_get(&st1)) != 0)
        die("ax_loop_stats_get", rc);

    for (int i = 0; i < RING; i++)
        if ((rc = ax_send(r.refs[i], T_STOP, NULL)) != 0)
            die("ax_send", rc);
    if ((rc = ax_await(r.stopped, NULL)) != 0)
        die("ax_await", rc);
    ax_future_free(r.done);
    ax_future_free(r.stopped);

    if (nloops > 1)
        snprintf(loop0, sizeof loop0,
                 "    loop 0: inbox_msgs %" PRIu64 ", doorbell_rings %" PRIu64
                 ", inbox_wakeups %" PRIu64 " (%.6f rings per hop)\n",
                 st1.inbox_msgs - st0.inbox_msgs,
                 st1.doorbell_rings - st0.doorbell_rings,
                 st1.inbox_wakeups - st0.inbox_wakeups,
                 (double)(st1.doorbell_rings - st0.doorbell_rings) /
                     (double)hops);
    (void)r.last;
    return NULL;
}

static void one(const char *label, int loops)
{
    ax_opts o;
    int64_t ns = 0;
    memset(&o, 0, sizeof o);
    o.loops = loops;
    int rc = ax_run_with(&o, main_task, &ns, NULL);
    if (rc != 0)
        die("ax_run_with", rc);
    double s = (double)ns / 1e9;
    printf("%-22s %10" PRIu64 " hops %7.3f s %12.0f hops/s %8.1f ns/hop\n",
           label, hops, s, (double)hops / s, (double)ns / (double)hops);
    fputs(loop0, stdout);
    loop0[0] = '\0';
    /* Machine-readable: the one-loop run. */
    if (loops == 1)
        printf("RESULT ring %s %.6g hops/s higher\n", sysname(),
               (double)hops / s);
    fflush(stdout);
}

static void *count_loops(void *arg)
{
    *(int *)arg = ax_loop_count();
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 2 || (argc == 2 && (argv[1][0] < '0' || argv[1][0] > '9'))) {
        fprintf(stderr, "usage: %s [hops]\n", argv[0]);
        return 2;
    }
    if (argc == 2) {
        char *end;
        errno = 0;
        hops = strtoull(argv[1], &end, 10);
        if (errno != 0 || *end != '\0' || hops == 0 ||
            hops > (uint64_t)UINTPTR_MAX) {
            fprintf(stderr, "ring: bad count '%s'\n", argv[1]);
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* in order with axon's stderr */
    printf("%s\n", ax_build_info());
    if (getenv("AX_VIRTUAL_CLOCK") != NULL) {
        printf("(AX_VIRTUAL_CLOCK ignored: benchmarks use the real clock)\n");
        unsetenv("AX_VIRTUAL_CLOCK");
    }
    int ncpu = 0;
    ax_opts o;
    memset(&o, 0, sizeof o);
    o.loops = AX_LOOPS_PER_CPU;
    int rc = ax_run_with(&o, count_loops, &ncpu, NULL);
    if (rc != 0)
        die("ax_run_with", rc);
    printf("ring: %d actors, %" PRIu64 " hops; AX_LOOPS_PER_CPU = %d loop(s)"
           "\n", RING, hops, ncpu);

    one("loops=1", 1);
    char label[32];
    snprintf(label, sizeof label, "loops=%d (i %% %d)", ncpu, ncpu);
    one(label, AX_LOOPS_PER_CPU);
    return 0;
}
