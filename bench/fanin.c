/* SPDX-License-Identifier: MIT */
/*
 * fanin: many senders, one receiver. One sink actor on loop 0; on every
 * loop, S sender tasks (plain tasks, not actors) each ax_send() M messages
 * to it; the sink ax_recv()s and counts them.
 *
 *   usage: fanin [count [senders_per_loop]]
 *          (default 4,000,000 messages in all, 8 senders per loop)
 *
 * loops = AX_LOOPS_PER_CPU, at least 2. M = count / (S * loops). The sink's
 * mailbox has the default bound (AX_MAILBOX_DEFAULT = 1024), so the senders
 * run ahead of the sink until it is full and then wait for room
 * (backpressure): the senders on loop 0 are woken directly, those of the
 * other loops through their loop's inbox. Senders on loop 0 deliver
 * straight into the mailbox; the others' messages cross through loop 0's
 * inbox.
 *
 * Timing: wall time (CLOCK_MONOTONIC) from just before the main task spawns
 * the senders until the sink has received the last message. Figures:
 * messages per second, ns per message, and each loop's inbox counters over
 * the run (read on the loop itself: by the sink for loop 0, by its senders
 * for the others): inbox_msgs, doorbell_rings, inbox_wakeups, and the sink
 * loop's doorbell writes per message, and when each loop's last sender
 * ended (seconds from the start). Nothing is asserted beyond the count;
 * the program exits 0 unless axon reports an error.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#define BENCH_NAME "fanin"
#include "bench.h"
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SENDERS 4096

static uint64_t count = 4000000;
static int per_loop = 8;

static void stats(ax_loop_stats *st)
{
    int rc = ax_loop_stats_get(st);
    if (rc != 0)
        die("ax_loop_stats_get", rc);
}

typedef struct per_loop_st {
    ax_loop_stats st0, st1;
    int started, ended; /* senders of this loop; touched on the loop only */
    int64_t t_end;      /* when this loop's last sender ended */
} per_loop_st;

typedef struct fan {
    ax_actor_ref sink;
    uint64_t total, per_sender;
    ax_future *done;
    int64_t t1;
    uint64_t got;
    per_loop_st loops[AX_LOOPS_MAX];
} fan;

static fan F;

static void *sink(void *arg)
{
    fan *f = arg;
    per_loop_st *pl = &f->loops[0];
    stats(&pl->st0); /* before any sender exists */
    while (f->got < f->total) {
        ax_msg m;
        int rc = ax_recv(&m, -1);
        if (rc != 0)
            die("ax_recv", rc);
        f->got++;
    }
    f->t1 = mono_ns();
    stats(&pl->st1);
    int rc = ax_future_set_result(f->done, NULL);
    if (rc != 0)
        die("ax_future_set_result", rc);
    return NULL;
}

static void *sender(void *arg)
{
    fan *f = arg;
    int li = ax_loop_index(ax_loop_current());
    per_loop_st *pl = &f->loops[li];
    if (li != 0 && pl->started++ == 0)
        stats(&pl->st0);
    for (uint64_t i = 0; i < f->per_sender; i++) {
        int rc = ax_send(f->sink, 1, NULL);
        if (rc != 0)
            die("ax_send", rc);
    }
    if (++pl->ended == per_loop) {
        pl->t_end = mono_ns();
        if (li != 0)
            stats(&pl->st1);
    }
    return NULL;
}

static void *main_task(void *arg)
{
    (void)arg;
    static ax_task *tasks[MAX_SENDERS];
    static ax_future *futs[MAX_SENDERS];
    int n = ax_loop_count();
    int ns = n * per_loop;
    int rc;

    if ((rc = ax_future_new(&F.done)) != 0)
        die("ax_future_new", rc);
    if ((rc = ax_actor_spawn(&F.sink, sink, &F, NULL)) != 0)
        die("ax_actor_spawn", rc);
    if ((rc = ax_yield()) != 0) /* let the sink start and read its stats */
        die("ax_yield", rc);

    int64_t t0 = mono_ns();
    for (int i = 0; i < ns; i++) {
        ax_task_opts o = {.loop = ax_loop_at(i % n)};
        if ((rc = ax_spawn_with(&tasks[i], sender, &F, &o)) != 0)
            die("ax_spawn_with", rc);
        futs[i] = ax_task_future(tasks[i]);
    }
    if ((rc = ax_gather(futs, (size_t)ns, NULL)) != 0)
        die("ax_gather", rc);
    if ((rc = ax_await(F.done, NULL)) != 0)
        die("ax_await", rc);
    ax_future_free(F.done);

    double s = (double)(F.t1 - t0) / 1e9;
    printf("loops=%d, %d senders, %" PRIu64 " msgs each: %" PRIu64
           " msgs %7.3f s %12.0f msgs/s %7.1f ns/msg\n",
           n, ns, F.per_sender, F.got, s, (double)F.got / s,
           (double)(F.t1 - t0) / (double)F.got);
    /* Machine-readable: messages per second into the one sink. */
    printf("RESULT fanin %s %.6g msgs/s higher\n", sysname(),
           (double)F.got / s);
    /* When each loop's last sender ended: with a fair mailbox the loops
     * send side by side and end together; if one loop's senders take the
     * room first, the run is two phases (bench/README.md). */
    printf("    senders ended after:");
    for (int i = 0; i < n; i++)
        printf(" loop %d %.3f s%s", i, (double)(F.loops[i].t_end - t0) / 1e9,
               i + 1 < n ? "," : "\n");
    uint64_t remote = F.total - F.per_sender * (uint64_t)per_loop;
    for (int i = 0; i < n; i++) {
        const ax_loop_stats *a = &F.loops[i].st0, *b = &F.loops[i].st1;
        printf("    loop %d%s: inbox_msgs %" PRIu64 ", doorbell_rings %" PRIu64
               ", inbox_wakeups %" PRIu64 "\n",
               i, i == 0 ? " (sink)" : "", b->inbox_msgs - a->inbox_msgs,
               b->doorbell_rings - a->doorbell_rings,
               b->inbox_wakeups - a->inbox_wakeups);
    }
    uint64_t rings = F.loops[0].st1.doorbell_rings -
                     F.loops[0].st0.doorbell_rings;
    printf("    sink loop: %" PRIu64 " doorbell writes: %.6f per message, "
           "%.6f per cross-loop message (%" PRIu64 ")\n",
           rings, (double)rings / (double)F.got,
           remote ? (double)rings / (double)remote : 0.0, remote);
    return NULL;
}

static void *count_loops(void *arg)
{
    *(int *)arg = ax_loop_count();
    return NULL;
}

static bool parse(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (s[0] < '0' || s[0] > '9')
        return false;
    *out = strtoull(s, &end, 10);
    return errno == 0 && *end == '\0';
}

int main(int argc, char **argv)
{
    uint64_t v;
    if (argc > 3) {
        fprintf(stderr, "usage: %s [count [senders_per_loop]]\n", argv[0]);
        return 2;
    }
    if (argc >= 2) {
        if (!parse(argv[1], &count) || count == 0) {
            fprintf(stderr, "fanin: bad count '%s'\n", argv[1]);
            return 2;
        }
    }
    if (argc == 3) {
        if (!parse(argv[2], &v) || v == 0 || v > MAX_SENDERS / 2) {
            fprintf(stderr, "fanin: bad senders_per_loop '%s'\n", argv[2]);
            return 2;
        }
        per_loop = (int)v;
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* in order with axon's stderr */
    printf("%s\n", ax_build_info());
    if (getenv("AX_VIRTUAL_CLOCK") != NULL) {
        printf("(AX_VIRTUAL_CLOCK ignored: benchmarks use the real clock)\n");
        unsetenv("AX_VIRTUAL_CLOCK");
    }

    ax_opts o;
    memset(&o, 0, sizeof o);
    int ncpu = 0;
    o.loops = AX_LOOPS_PER_CPU;
    int rc = ax_run_with(&o, count_loops, &ncpu, NULL);
    if (rc != 0)
        die("ax_run_with", rc);
    int loops = ncpu < 2 ? 2 : ncpu;
    if ((uint64_t)loops * (uint64_t)per_loop > MAX_SENDERS) {
        fprintf(stderr, "fanin: too many senders\n");
        return 2;
    }
    F.per_sender = count / ((uint64_t)loops * (uint64_t)per_loop);
    if (F.per_sender == 0)
        F.per_sender = 1;
    F.total = F.per_sender * (uint64_t)loops * (uint64_t)per_loop;
    printf("fanin: %" PRIu64 " messages to one sink on loop 0, %d loops x %d"
           " senders, mailbox capacity %d\n",
           F.total, loops, per_loop, AX_MAILBOX_DEFAULT);

    o.loops = loops;
    rc = ax_run_with(&o, main_task, NULL, NULL);
    if (rc != 0)
        die("ax_run_with", rc);
    return 0;
}
