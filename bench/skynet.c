/* SPDX-License-Identifier: MIT */
/*
 * skynet: a tree of tasks, fan-out 10, 1,000,000 leaves
 * (https://github.com/atemerev/skynet). A leaf task returns its index; an
 * inner task spawns its 10 children, collects their results and returns
 * the sum. The root must return 499999500000 (sum of 0..999999): checked,
 * "WRONG" and exit 1 otherwise. 1,111,111 tasks are spawned in all.
 *
 *   usage: skynet [leaves]    (default 1,000,000; a power of 10, >= 10)
 *
 * How an inner task collects its children matters, because the ready
 * queue is FIFO:
 *  - classic (ax_spawn all 10, then ax_gather them), the form of the
 *    original benchmark and of Go's, Erlang's and CAF's versions: a spawned
 *    child runs only when its parent suspends, behind every task already
 *    ready, so the tree unfolds level by level and the whole leaf level,
 *    a million tasks, is alive at once. This is the headline (`skynet`).
 *  - depth-first (ax_spawn one child, ax_await it, next child): at most one
 *    task per level exists at a time (7 here), so every stack comes back
 *    from the loop's pool hot (`skynet_dfs`).
 *  - classic with eager children (AX_BENCH_EAGER=1, system axon-eager):
 *    the same program, each child spawned with ax_task_opts.eager, so it
 *    runs at once until it ends (a leaf) or suspends (an inner task, in
 *    its gather) and its parent resumes right after. The tree unfolds
 *    depth first by itself; at most about 10 tasks per level are alive.
 *    Go's scheduler does much the same to its classic form without being
 *    asked (runnext and a 256-slot local queue whose overflow goes to the
 *    back of the global one: about 76,000 goroutines alive at the peak,
 *    bench/README.md).
 * Stacks are 16 KiB (ax_opts.stack_size = AX_MIN_STACK_SIZE); the bodies
 * need far less.
 *
 * Runs (each in its own ax_run_with(); wall time, CLOCK_MONOTONIC, from
 * spawning the root to having its result; ax_run()'s set-up not timed):
 *  1. loops = 1, classic.
 *  2. loops = 1, depth-first.
 *  3. loops = AX_LOOPS_PER_CPU: the root's 10 children go round the loops
 *     with ax_spawn_with() (child i on loop i % N) and the root ax_gather()s
 *     them across loops; below them everything is local and depth-first.
 * After each run: page faults (getrusage) and peak RSS of the process so
 * far, and loop 0's stack counters.
 * Nothing is asserted beyond the sum; exit 0 unless it is wrong or axon
 * reports an error.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#define BENCH_NAME "skynet"
#include "bench.h"
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/resource.h>

#define FANOUT 10

static uint64_t leaves = 1000000;
static int depth; /* levels below the root: leaves = 10^depth */

static uint64_t pow10u(int k)
{
    uint64_t p = 1;
    while (k-- > 0)
        p *= 10;
    return p;
}

/* A node is (first leaf index, level): packed into the argument pointer.
 * Level 0 is a leaf. */
#define NODE(num, level)                                                      \
    ((void *)(uintptr_t)((uint64_t)(num) << 5 | (uint64_t)(level)))
#define NUM(arg) ((uint64_t)(uintptr_t)(arg) >> 5)
#define LEVEL(arg) ((int)((uintptr_t)(arg) & 31))

static void *dfs(void *arg)
{
    uint64_t num = NUM(arg);
    int level = LEVEL(arg);
    if (level == 0)
        return (void *)(uintptr_t)num;
    uint64_t step = pow10u(level - 1), sum = 0;
    for (int i = 0; i < FANOUT; i++) {
        ax_task *t;
        void *res;
        int rc = ax_spawn(&t, dfs, NODE(num + (uint64_t)i * step, level - 1));
        if (rc != 0)
            die("ax_spawn", rc);
        if ((rc = ax_await(t, &res)) != 0)
            die("ax_await", rc);
        sum += (uint64_t)(uintptr_t)res;
    }
    return (void *)(uintptr_t)sum;
}

static void *classic(void *arg)
{
    uint64_t num = NUM(arg);
    int level = LEVEL(arg);
    if (level == 0)
        return (void *)(uintptr_t)num;
    uint64_t step = pow10u(level - 1), sum = 0;
    ax_task *t[FANOUT];
    ax_future *f[FANOUT];
    void *res[FANOUT];
    for (int i = 0; i < FANOUT; i++) {
        int rc = ax_spawn_with(&t[i], classic,
                               NODE(num + (uint64_t)i * step, level - 1),
                               bench_task_opts());
        if (rc != 0)
            die("ax_spawn", rc);
        f[i] = ax_task_future(t[i]);
    }
    int rc = ax_gather(f, FANOUT, res);
    if (rc != 0)
        die("ax_gather", rc);
    for (int i = 0; i < FANOUT; i++)
        sum += (uint64_t)(uintptr_t)res[i];
    return (void *)(uintptr_t)sum;
}

/* The root, multi-loop: children round the loops, gathered. */
static void *spread_root(void *arg)
{
    uint64_t num = NUM(arg);
    int level = LEVEL(arg);
    int n = ax_loop_count();
    uint64_t step = pow10u(level - 1), sum = 0;
    ax_task *t[FANOUT];
    ax_future *f[FANOUT];
    void *res[FANOUT];
    for (int i = 0; i < FANOUT; i++) {
        ax_task_opts o = {.loop = ax_loop_at(i % n)};
        int rc = ax_spawn_with(&t[i], dfs,
                               NODE(num + (uint64_t)i * step, level - 1), &o);
        if (rc != 0)
            die("ax_spawn_with", rc);
        f[i] = ax_task_future(t[i]);
    }
    int rc = ax_gather(f, FANOUT, res);
    if (rc != 0)
        die("ax_gather", rc);
    for (int i = 0; i < FANOUT; i++)
        sum += (uint64_t)(uintptr_t)res[i];
    return (void *)(uintptr_t)sum;
}

typedef struct job {
    ax_task_fn root;
    int depth;
    uint64_t sum;
    int64_t ns;
    uint64_t spawned; /* on loop 0 */
    uint64_t mapped;  /* stacks mapped on loop 0 at the end */
    uint64_t unguarded;
} job;

static void *main_task(void *arg)
{
    job *j = arg;
    ax_task *t;
    void *res;
    ax_loop_stats st0, st1;
    int rc;
    if ((rc = ax_loop_stats_get(&st0)) != 0)
        die("ax_loop_stats_get", rc);
    int64_t t0 = mono_ns();
    if ((rc = ax_spawn(&t, j->root, NODE(0, j->depth))) != 0)
        die("ax_spawn", rc);
    if ((rc = ax_await(t, &res)) != 0)
        die("ax_await", rc);
    j->ns = mono_ns() - t0;
    if ((rc = ax_loop_stats_get(&st1)) != 0)
        die("ax_loop_stats_get", rc);
    j->sum = (uint64_t)(uintptr_t)res;
    j->spawned = st1.tasks_spawned - st0.tasks_spawned;
    j->mapped = st1.stacks_mapped;
    j->unguarded = st1.stacks_unguarded;
    return NULL;
}

static void one(const char *label, const char *row, int loops,
                ax_task_fn root, int d)
{
    struct rusage ru0, ru1;
    uint64_t n = pow10u(d);
    uint64_t tasks = 0;
    for (int k = 0; k <= d; k++)
        tasks += pow10u(k);
    job j = {.root = root, .depth = d};
    ax_opts o;
    memset(&o, 0, sizeof o);
    o.loops = loops;
    o.stack_size = AX_MIN_STACK_SIZE;
    getrusage(RUSAGE_SELF, &ru0);
    int rc = ax_run_with(&o, main_task, &j, NULL);
    getrusage(RUSAGE_SELF, &ru1);
    if (rc != 0)
        die("ax_run_with", rc);
    uint64_t want = n * (n - 1) / 2;
    printf("%-30s %8" PRIu64 " leaves %8" PRIu64 " tasks %7.3f s"
           " %6.1f ns/task  sum %" PRIu64 "%s\n",
           label, n, tasks, (double)j.ns / 1e9,
           (double)j.ns / (double)tasks, j.sum,
           j.sum == want ? "" : "  WRONG");
    printf("    loop 0: %" PRIu64 " tasks spawned, %" PRIu64
           " stacks mapped at the end (%" PRIu64 " unguarded); %ld page"
           " faults in the run; peak RSS so far %ld KiB\n",
           j.spawned, j.mapped, j.unguarded,
           (ru1.ru_minflt + ru1.ru_majflt) - (ru0.ru_minflt + ru0.ru_majflt),
           ru1.ru_maxrss);
    fflush(stdout);
    if (j.sum != want) {
        printf("WRONG: expected %" PRIu64 "\n", want);
        exit(1);
    }
    /* Machine-readable: the one-loop runs; the unit names the size unless
     * it is the standard 1,000,000 leaves. */
    if (row) {
        char unit[32] = "s";
        if (n != 1000000)
            snprintf(unit, sizeof unit, "s@%" PRIu64 "%s",
                     n % 1000000 == 0 ? n / 1000000
                     : n % 1000 == 0  ? n / 1000
                                      : n,
                     n % 1000000 == 0 ? "M" : n % 1000 == 0 ? "k" : "");
        printf("RESULT %s %s %.6g %s lower\n", row, sysname(),
               (double)j.ns / 1e9, unit);
    }
}

int main(int argc, char **argv)
{
    if (argc > 2 || (argc == 2 && (argv[1][0] < '0' || argv[1][0] > '9'))) {
        fprintf(stderr, "usage: %s [leaves]\n", argv[0]);
        return 2;
    }
    if (argc == 2) {
        char *end;
        errno = 0;
        leaves = strtoull(argv[1], &end, 10);
        if (errno != 0 || *end != '\0' || leaves < 10 ||
            leaves > 1000000000) {
            fprintf(stderr, "skynet: bad count '%s'\n", argv[1]);
            return 2;
        }
    }
    for (depth = 0; pow10u(depth) < leaves; depth++)
        ;
    if (pow10u(depth) != leaves) {
        fprintf(stderr, "skynet: %" PRIu64 " is not a power of 10\n",
                leaves);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* in order with axon's stderr */
    printf("%s\n", ax_build_info());
    if (getenv("AX_VIRTUAL_CLOCK") != NULL) {
        printf("(AX_VIRTUAL_CLOCK ignored: benchmarks use the real clock)\n");
        unsetenv("AX_VIRTUAL_CLOCK");
    }
    printf("skynet: fan-out %d, %" PRIu64 " leaves, stacks of %zu KiB\n",
           FANOUT, leaves, AX_MIN_STACK_SIZE / 1024);

    if (bench_shared()) { /* the classic form only, on shared stacks */
        one("loops=1, classic, shared", "skynet", 1, classic, depth);
        return 0;
    }
    if (bench_eager()) { /* the classic form only, children eager */
        one("loops=1, classic, eager", "skynet", 1, classic, depth);
        return 0;
    }
    one("loops=1, classic", "skynet", 1, classic, depth);
    one("loops=1, depth-first", "skynet_dfs", 1, dfs, depth);
    one("loops/CPU, root spread", NULL, AX_LOOPS_PER_CPU, spread_root,
        depth);
    return 0;
}
