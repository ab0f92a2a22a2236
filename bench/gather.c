/* SPDX-License-Identifier: MIT */
/*
 * gather: one task gathers many children that each sleep 1 ms
 * (asyncio.gather of 100,000 `asyncio.sleep(0.001)` coroutines).
 *
 *   usage: gather [count]        (default 100,000 children)
 *
 * The main task spawns `count` children; child i calls ax_sleep(0.001) on
 * the real clock and returns i. One ax_gather() collects them all; the sum
 * of the results must be count*(count-1)/2: checked, "WRONG" and exit 1
 * otherwise.
 *
 * Timing: wall time (CLOCK_MONOTONIC) from just before the first ax_spawn()
 * until ax_gather() returns, i.e. spawning, the first switch into every
 * child, arming and firing `count` timers, ending and reaping the children.
 * The sleep itself is a floor of 1 ms. ax_run()'s set-up and teardown are
 * not timed. Three gathers in one ax_run(): the first is the figure
 * (`RESULT gather_fanout axon <seconds> s lower` at the end; the unit is
 * s@10k and the like for another count), the second and third show the
 * same on warm stacks, which the loop kept from the first. Each line gives
 * the page faults and the CPU time (getrusage: user + system, robust on a
 * shared machine where the wall time is not) during that gather.
 *
 * Stacks: 100,000 live tasks. With the default 64 KiB stacks, each guarded
 * stack is two kernel memory maps and vm.max_map_count (65530 by default)
 * is reached near 28,000 tasks, after which the loop hands out unguarded
 * stacks (counted in ax_loop_stats.stacks_unguarded, printed). The bodies
 * need little, so this uses ax_opts.stack_size = 16 KiB (AX_MIN_STACK_SIZE):
 * less memory to fault in; the map limit applies all the same.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#define BENCH_NAME "gather"
#include "bench.h"
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static uint64_t count = 100000;

static void *child(void *arg)
{
    int rc = ax_sleep(0.001);
    if (rc != 0)
        return ax_task_fail(rc);
    return arg; /* its index */
}

#define ROUNDS 3

typedef struct job {
    int64_t ns;
    uint64_t sum;
    long faults;
    double cpu; /* user + system seconds of the process */
    ax_loop_stats st;
} job;

static long faults_now(double *cpu)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    return ru.ru_minflt + ru.ru_majflt;
}

static void *bench(void *arg)
{
    job *j = arg;
    ax_future **futs = malloc(count * sizeof *futs);
    void **results = malloc(count * sizeof *results);
    if (futs == NULL || results == NULL)
        die("malloc", AX_ENOMEM);
    memset(futs, 0, count * sizeof *futs);       /* resident before timing */
    memset(results, 0, count * sizeof *results);

    double c0, c1;
    long f0 = faults_now(&c0);
    int64_t t0 = mono_ns();
    for (uint64_t i = 0; i < count; i++) {
        ax_task *t;
        int rc = ax_spawn_with(&t, child, (void *)(uintptr_t)i,
                               bench_task_opts());
        if (rc != 0)
            die("ax_spawn", rc);
        futs[i] = ax_task_future(t);
    }
    int rc = ax_gather(futs, (size_t)count, results);
    if (rc != 0)
        die("ax_gather", rc);
    j->ns = mono_ns() - t0;
    j->faults = faults_now(&c1) - f0;
    j->cpu = c1 - c0;

    if ((rc = ax_loop_stats_get(&j->st)) != 0)
        die("ax_loop_stats_get", rc);
    for (uint64_t i = 0; i < count; i++)
        j->sum += (uint64_t)(uintptr_t)results[i];
    free(futs);
    free(results);
    return NULL;
}

static void *rounds(void *arg)
{
    job *j = arg;
    for (int r = 0; r < ROUNDS; r++)
        bench(&j[r]);
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
        if (errno != 0 || *end != '\0' || count == 0 ||
            count > (uint64_t)SIZE_MAX / sizeof(void *)) {
            fprintf(stderr, "gather: bad count '%s'\n", argv[1]);
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* in order with axon's stderr */
    printf("%s\n", ax_build_info());
    if (getenv("AX_VIRTUAL_CLOCK") != NULL) {
        printf("(AX_VIRTUAL_CLOCK ignored: benchmarks use the real clock)\n");
        unsetenv("AX_VIRTUAL_CLOCK");
    }
    printf("gather: %" PRIu64 " children, each ax_sleep(0.001), one "
           "ax_gather(); stacks of %zu KiB\n",
           count, AX_MIN_STACK_SIZE / 1024);

    job js[ROUNDS];
    memset(js, 0, sizeof js);
    ax_opts o;
    memset(&o, 0, sizeof o);
    o.stack_size = AX_MIN_STACK_SIZE;
    int rc = ax_run_with(&o, rounds, js, NULL);
    if (rc != 0)
        die("ax_run_with", rc);

    uint64_t want = count * (count - 1) / 2;
    for (int r = 0; r < ROUNDS; r++) {
        job *j = &js[r];
        printf("gather %10" PRIu64 " children %7.3f s %8.1f ns/child  sum %"
               PRIu64 "%s  (%s)\n",
               count, (double)j->ns / 1e9, (double)j->ns / (double)count,
               j->sum, j->sum == want ? "" : "  WRONG",
               r == 0 ? "cold: the figure" : "warm");
        printf("    %ld page faults, %.3f s CPU; after it: stacks mapped %"
               PRIu64
               " (unguarded %" PRIu64 ", free %" PRIu64
               "), tasks spawned %" PRIu64 "\n",
               j->faults, j->cpu, j->st.stacks_mapped, j->st.stacks_unguarded,
               j->st.stacks_pooled, j->st.tasks_spawned);
        if (j->sum != want) {
            printf("WRONG: expected %" PRIu64 "\n", want);
            return 1;
        }
    }
    double s = (double)js[0].ns / 1e9;
    /* The unit names the size unless it is the standard 100,000. */
    char unit[32] = "s";
    if (count != 100000)
        snprintf(unit, sizeof unit, "s@%" PRIu64 "%s",
                 count % 1000 == 0 ? count / 1000 : count,
                 count % 1000 == 0 ? "k" : "");
    printf("RESULT gather_fanout %s %.6g %s lower\n", sysname(), s, unit);
    return 0;
}
