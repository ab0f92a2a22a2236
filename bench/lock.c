/* SPDX-License-Identifier: MIT */
/*
 * lock: what an ax_lock costs, free and contended.
 *
 *   usage: lock [count]        (default 10,000,000)
 *
 * Measurements:
 *  1. uncontended: one task takes and releases a free lock `count` times
 *     (ax_lock_acquire() + ax_lock_release(), no other task); the figure
 *     is ns per pair. Also with ax_lock_try(), and for a semaphore
 *     (ax_sem_acquire() + ax_sem_release()) for comparison.
 *  2. handoff: two tasks pass one lock back and forth, count/10 handoffs
 *     in all: each holds it, releases it (which hands it to the other, who
 *     waits) and asks again at once (and so waits, behind the other). One
 *     handoff is a release to a waiting task plus the switch to it; the
 *     figure is ns per handoff. The loop's switch counter is printed next
 *     to it: one context switch per handoff is the floor.
 *  3. contended: 8 tasks doing the same around one lock, count/10
 *     handoffs in all (FIFO: each goes to the task that has waited
 *     longest).
 *
 * Timing is wall time (CLOCK_MONOTONIC) around the loops. Nothing is
 * asserted beyond the counts; the program exits 0 unless axon reports an
 * error.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#define BENCH_NAME "lock"
#include "bench.h"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CROWD 8

static uint64_t count = 10000000;
static ax_lock *lock;
static uint64_t handoffs;

static double uncontended_lock(uint64_t n)
{
    int64_t t0 = mono_ns();
    int rc;

    for (uint64_t i = 0; i < n; i++) {
        if ((rc = ax_lock_acquire(lock, -1)) != 0)
            die("ax_lock_acquire", rc);
        if ((rc = ax_lock_release(lock)) != 0)
            die("ax_lock_release", rc);
    }
    return (double)(mono_ns() - t0) / (double)n;
}

static double uncontended_try(uint64_t n)
{
    int64_t t0 = mono_ns();
    int rc;

    for (uint64_t i = 0; i < n; i++) {
        if ((rc = ax_lock_try(lock)) != 0)
            die("ax_lock_try", rc);
        if ((rc = ax_lock_release(lock)) != 0)
            die("ax_lock_release", rc);
    }
    return (double)(mono_ns() - t0) / (double)n;
}

static double uncontended_sem(uint64_t n)
{
    ax_sem *s;
    int64_t t0;
    int rc;

    if ((rc = ax_sem_new(&s, 1)) != 0)
        die("ax_sem_new", rc);
    t0 = mono_ns();
    for (uint64_t i = 0; i < n; i++) {
        if ((rc = ax_sem_acquire(s, -1)) != 0)
            die("ax_sem_acquire", rc);
        if ((rc = ax_sem_release(s)) != 0)
            die("ax_sem_release", rc);
    }
    t0 = mono_ns() - t0;
    if ((rc = ax_sem_free(s)) != 0)
        die("ax_sem_free", rc);
    return (double)t0 / (double)n;
}

static void *passer(void *arg)
{
    uint64_t n = *(const uint64_t *)arg;
    int rc;

    for (uint64_t i = 0; i < n; i++) {
        if ((rc = ax_lock_acquire(lock, -1)) != 0)
            return ax_task_fail(rc);
        handoffs++;
        if ((rc = ax_lock_release(lock)) != 0)
            return ax_task_fail(rc);
    }
    return NULL;
}

/* @ntasks tasks take the lock @per_task times each. They are all queued
 * behind the main task's hold before the clock starts, so from the first
 * release on every acquire but the last waits. ns per handoff. */
static double contended(const char *label, size_t ntasks, uint64_t per_task)
{
    static ax_task *tasks[CROWD];
    ax_loop_stats st0, st1;
    uint64_t total = ntasks * per_task;
    int64_t t0, t1;
    int rc;

    handoffs = 0;
    if ((rc = ax_lock_acquire(lock, -1)) != 0)
        die("ax_lock_acquire", rc);
    for (size_t i = 0; i < ntasks; i++)
        if ((rc = ax_spawn(&tasks[i], passer, &per_task)) != 0)
            die("ax_spawn", rc);
    if ((rc = ax_yield()) != 0) /* every task queues on the lock */
        die("ax_yield", rc);
    if ((rc = ax_loop_stats_get(&st0)) != 0)
        die("ax_loop_stats_get", rc);
    t0 = mono_ns();
    if ((rc = ax_lock_release(lock)) != 0)
        die("ax_lock_release", rc);
    for (size_t i = 0; i < ntasks; i++)
        if ((rc = ax_await(tasks[i], NULL)) != 0)
            die("ax_await", rc);
    t1 = mono_ns();
    if ((rc = ax_loop_stats_get(&st1)) != 0)
        die("ax_loop_stats_get", rc);
    if (handoffs != total) {
        printf("WRONG: %" PRIu64 " acquisitions, expected %" PRIu64 "\n",
               handoffs, total);
        exit(1);
    }
    double ns = (double)(t1 - t0) / (double)total;
    uint64_t sw = st1.switches - st0.switches;
    printf("%-12s %zu tasks %10" PRIu64 " handoffs %7.3f s %7.1f ns/handoff"
           "  %10" PRIu64 " switches (%.3f/handoff)\n",
           label, ntasks, total, (double)(t1 - t0) / 1e9, ns, sw,
           (double)sw / (double)total);
    return ns;
}

static void *bench(void *arg)
{
    uint64_t n = count, per;
    double lock_ns, try_ns, sem_ns, handoff_ns;
    int rc;

    (void)arg;
    if ((rc = ax_lock_new(&lock)) != 0)
        die("ax_lock_new", rc);
    lock_ns = uncontended_lock(n);
    try_ns = uncontended_try(n);
    sem_ns = uncontended_sem(n);
    printf("uncontended  %10" PRIu64 " pairs: acquire+release %6.2f ns, "
           "try+release %6.2f ns, semaphore %6.2f ns\n",
           n, lock_ns, try_ns, sem_ns);
    per = n / 20 ? n / 20 : 1;
    handoff_ns = contended("handoff", 2, per);
    per = n / (10 * CROWD) ? n / (10 * CROWD) : 1;
    contended("contended", CROWD, per);
    if ((rc = ax_lock_free(lock)) != 0)
        die("ax_lock_free", rc);
    printf("RESULT lock_uncontended %s %.6g ns/op lower\n", sysname(),
           lock_ns);
    printf("RESULT lock_handoff %s %.6g ns/handoff lower\n", sysname(),
           handoff_ns);
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
        if (errno != 0 || *end != '\0' || count < 20) {
            fprintf(stderr, "lock: bad count '%s' (at least 20)\n", argv[1]);
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* in order with axon's stderr */
    printf("%s\n", ax_build_info());
    if (getenv("AX_VIRTUAL_CLOCK") != NULL) {
        printf("(AX_VIRTUAL_CLOCK ignored: benchmarks use the real clock)\n");
        unsetenv("AX_VIRTUAL_CLOCK");
    }
    printf("lock: %" PRIu64 " uncontended pairs, %" PRIu64
           " handoffs per contended run\n", count, count / 10);

    int rc = ax_run(bench, NULL, NULL);
    if (rc != 0)
        die("ax_run", rc);
    return 0;
}
