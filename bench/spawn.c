/* SPDX-License-Identifier: MIT */
/*
 * spawn: the cost of a task's whole life: ax_spawn(), the first switch into
 * it, a trivial body, its end, and the ax_await() that reaps it.
 *
 *   usage: spawn [count]        (default 1,000,000)
 *
 * Measurements, each over `count` tasks:
 *  1. serial: spawn one task, await it, repeat. At most one task exists,
 *     so its stack comes back from the loop's pool every time.
 *  2. batch/await: spawn 1000 tasks, then ax_await() each in order; repeat.
 *  3. batch/gather: spawn 1000 tasks, then one ax_gather() of all; repeat.
 * Before them, one cold batch of 1000 is timed on its own: its stacks are
 * freshly mmap'd (with guard pages), which is the price of a pool miss.
 *
 * The body returns its argument, and every result is checked, so the work
 * cannot be skipped. Timing is wall time (CLOCK_MONOTONIC) around the whole
 * loop of each run. Not measured: stack growth (a trivial body touches one
 * or two pages), ax_run()'s own start-up and teardown. Nothing is asserted;
 * the program exits 0 unless axon reports an error.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#define BENCH_NAME "spawn"
#include "bench.h"
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH 1000

static uint64_t count = 1000000;

static void *trivial(void *arg) { return arg; }

static void report(const char *label, uint64_t tasks, int64_t ns)
{
    ax_loop_stats st;
    int rc = ax_loop_stats_get(&st);
    if (rc != 0)
        die("ax_loop_stats_get", rc);
    printf("%-14s %10" PRIu64 " tasks %8.3f s %8.1f ns/task"
           "   (stacks mapped %" PRIu64 ", pooled %" PRIu64 ")\n",
           label, tasks, (double)ns / 1e9, (double)ns / (double)tasks,
           st.stacks_mapped, st.stacks_pooled);
    fflush(stdout);
}

/* Spawn BATCH tasks into @tasks, then reap them one by one or by gather. */
static void batch(ax_task **tasks, bool gather, uintptr_t base)
{
    static ax_future *futs[BATCH];
    static void *results[BATCH];
    int rc;
    for (uintptr_t i = 0; i < BATCH; i++)
        if ((rc = ax_spawn(&tasks[i], trivial, (void *)(base + i))) != 0)
            die("ax_spawn", rc);
    if (gather) {
        for (size_t i = 0; i < BATCH; i++)
            futs[i] = ax_task_future(tasks[i]);
        if ((rc = ax_gather(futs, BATCH, results)) != 0)
            die("ax_gather", rc);
    }
    for (uintptr_t i = 0; i < BATCH; i++) {
        void *res = NULL;
        if (gather)
            res = results[i];
        else if ((rc = ax_await(tasks[i], &res)) != 0)
            die("ax_await", rc);
        if (res != (void *)(base + i))
            die("wrong result", AX_EINVAL);
    }
}

static void *bench(void *arg)
{
    (void)arg;
    static ax_task *tasks[BATCH];
    uint64_t rounds = count / BATCH ? count / BATCH : 1;
    int rc;

    int64_t t0 = mono_ns();
    batch(tasks, false, 1);
    report("cold batch", BATCH, mono_ns() - t0);

    t0 = mono_ns();
    for (uintptr_t i = 1; i <= count; i++) {
        ax_task *t;
        void *res;
        if ((rc = ax_spawn(&t, trivial, (void *)i)) != 0)
            die("ax_spawn", rc);
        if ((rc = ax_await(t, &res)) != 0)
            die("ax_await", rc);
        if (res != (void *)i)
            die("wrong result", AX_EINVAL);
    }
    int64_t serial_ns = mono_ns() - t0;
    report("serial", count, serial_ns);

    t0 = mono_ns();
    for (uint64_t r = 0; r < rounds; r++)
        batch(tasks, false, 1 + (uintptr_t)r);
    report("batch/await", rounds * BATCH, mono_ns() - t0);

    t0 = mono_ns();
    for (uint64_t r = 0; r < rounds; r++)
        batch(tasks, true, 1 + (uintptr_t)r);
    report("batch/gather", rounds * BATCH, mono_ns() - t0);
    /* Machine-readable: the serial figure (spawn one, await it, repeat). */
    printf("RESULT spawn_join %s %.6g ns/task lower\n", sysname(),
           (double)serial_ns / (double)count);
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
        if (errno != 0 || *end != '\0' || count == 0) {
            fprintf(stderr, "spawn: bad count '%s'\n", argv[1]);
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* in order with axon's stderr */
    printf("%s\n", ax_build_info());
    if (getenv("AX_VIRTUAL_CLOCK") != NULL) {
        printf("(AX_VIRTUAL_CLOCK ignored: benchmarks use the real clock)\n");
        unsetenv("AX_VIRTUAL_CLOCK");
    }
    printf("spawn: %" PRIu64 " tasks per run, batches of %d\n", count,
           BATCH);

    int rc = ax_run(bench, NULL, NULL);
    if (rc != 0)
        die("ax_run", rc);
    return 0;
}
