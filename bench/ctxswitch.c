/* SPDX-License-Identifier: MIT */
/*
 * ctxswitch: the cost of ax_yield(), i.e. of one task handing the CPU to
 * another through the loop.
 *
 *   usage: ctxswitch [count]        (default 10,000,000)
 *
 * Three measurements, each of `count` yields in total:
 *  1. ping-pong: two tasks call ax_yield() in turn, count/2 times each.
 *     Every yield suspends one task and resumes the other, so one yield is
 *     one task-to-task switch; the figure is wall time / yields.
 *  2. solo: one task yields with nothing else ready. No other task can
 *     run, so this is the floor: the yield's bookkeeping, plus a pass
 *     through the scheduler (which polls libevent) whenever the loop's
 *     round budget runs out; the switches column shows how often.
 *  3. ring: 100 tasks yield in turn (count/100 each): like ping-pong, with
 *     100 stacks' worth of cache traffic.
 * Alongside each, the loop's own counter (ax_loop_stats.switches, context
 * switches into tasks) is printed, in total and per yield: it shows how
 * many raw switches a yield costs in this implementation. The raw switch
 * (framework/ctx/) cannot be timed alone through the public API; these
 * figures include the ready-queue work around it.
 *
 * Timing is wall time (CLOCK_MONOTONIC) around spawning, running and
 * awaiting the tasks; spawning a handful of tasks is negligible next to
 * millions of yields. Nothing is asserted; the program exits 0 unless axon
 * reports an error.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#define BENCH_NAME "ctxswitch"
#include "bench.h"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RING 100

static uint64_t count = 10000000;

static void *yielder(void *arg)
{
    uint64_t n = *(const uint64_t *)arg;
    for (uint64_t i = 0; i < n; i++) {
        int rc = ax_yield();
        if (rc != 0)
            return ax_task_fail(rc);
    }
    return NULL;
}

/* Run @ntasks tasks that yield @per_task times each; print the figures. */
static double run(const char *label, size_t ntasks, uint64_t per_task)
{
    static ax_task *tasks[RING];
    ax_loop_stats st0, st1;
    int rc = ax_loop_stats_get(&st0);
    if (rc != 0)
        die("ax_loop_stats_get", rc);

    int64_t t0 = mono_ns();
    for (size_t i = 0; i < ntasks; i++)
        if ((rc = ax_spawn(&tasks[i], yielder, &per_task)) != 0)
            die("ax_spawn", rc);
    for (size_t i = 0; i < ntasks; i++)
        if ((rc = ax_await(tasks[i], NULL)) != 0)
            die("ax_await", rc);
    int64_t t1 = mono_ns();

    if ((rc = ax_loop_stats_get(&st1)) != 0)
        die("ax_loop_stats_get", rc);
    uint64_t yields = ntasks * per_task;
    double ns = (double)(t1 - t0) / (double)yields;
    uint64_t sw = st1.switches - st0.switches;
    printf("%-10s %3zu task(s) %10" PRIu64 " yields %7.3f s %7.1f ns/yield"
           "  %10" PRIu64 " switches (%.4f/yield)\n",
           label, ntasks, yields, (double)(t1 - t0) / 1e9, ns, sw,
           (double)sw / (double)yields);
    fflush(stdout);
    return (double)(t1 - t0) / 1e9;
}

static void *bench(void *arg)
{
    (void)arg;
    uint64_t n = count;
    uint64_t pp = n / 2 ? n / 2 : 1;
    double secs = run("ping-pong", 2, pp);
    double pp_ns = secs * 1e9 / (double)(2 * pp);
    /* Keep the default run short on a slow back-end (ucontext). */
    if (secs > 3.0) {
        n = (uint64_t)((double)n * 3.0 / secs);
        printf("(slow: the next runs use %" PRIu64 " yields)\n", n);
    }
    run("solo", 1, n ? n : 1);
    run("ring", RING, n / RING ? n / RING : 1);
    /* Machine-readable: the ping-pong figure (one yield = one switch). */
    printf("RESULT ctxswitch %s %.6g ns/switch lower\n", sysname(), pp_ns);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 2 || (argc == 2 && (argv[1][0] < '0' || argv[1][0] > '9'))) {
        fprintf(stderr, "usage: %s [count]\n", argv[0]);
        return 2;
    }
    if (argc == 2) {
        char *end;
        errno = 0;
        count = strtoull(argv[1], &end, 10);
        if (errno != 0 || *end != '\0' || count < 2) {
            fprintf(stderr, "ctxswitch: bad count '%s'\n", argv[1]);
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* in order with axon's stderr */
    printf("%s\n", ax_build_info());
    if (getenv("AX_VIRTUAL_CLOCK") != NULL) {
        printf("(AX_VIRTUAL_CLOCK ignored: benchmarks use the real clock)\n");
        unsetenv("AX_VIRTUAL_CLOCK");
    }
    printf("ctxswitch: %" PRIu64 " yields per run\n", count);

    int rc = ax_run(bench, NULL, NULL);
    if (rc != 0)
        die("ax_run", rc);
    return 0;
}
