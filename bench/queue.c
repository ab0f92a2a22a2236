/* SPDX-License-Identifier: MIT */
/*
 * queue: items through an ax_queue (asyncio.Queue; Go's buffered channel).
 *
 *   usage: queue [items]        (default 2,000,000)
 *
 * queue_same: one producer and one consumer task on one loop, a queue of
 * capacity 128: the producer puts 1..items, the consumer gets them all.
 * queue_cross: the same with the queue and the consumer on loop 0 and the
 * producer on loop 1, so every put travels to the owner loop and its
 * answer back. The consumer checks the sum ("WRONG" and exit 1 otherwise).
 *
 * select: Go's select over channels. SELECT_N producers on one loop, each
 * putting items/SELECT_N items into its own queue of capacity 128; one
 * consumer waits on a get future of every queue with ax_wait_any(), takes
 * the item of the one that completed and starts a new get on that queue.
 *
 * Timing: wall time (CLOCK_MONOTONIC) from before the spawns until the
 * consumer has the last item. `RESULT queue_same axon <items/s> items/s
 * higher`, `RESULT queue_cross ...` and `RESULT select ...`.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#define BENCH_NAME "queue"
#include "bench.h"
#include <errno.h>
#include <inttypes.h>

static uint64_t count = 2000000;

static void *producer(void *arg)
{
    ax_queue *q = arg;

    for (uint64_t i = 1; i <= count; i++) {
        int rc = ax_queue_put(q, (void *)(uintptr_t)i);
        if (rc != 0)
            die("ax_queue_put", rc);
    }
    return NULL;
}

static void *consumer(void *arg)
{
    ax_queue *q = arg;
    uint64_t sum = 0;

    for (uint64_t i = 0; i < count; i++) {
        void *v;
        int rc = ax_queue_get(q, &v);
        if (rc != 0)
            die("ax_queue_get", rc);
        sum += (uint64_t)(uintptr_t)v;
    }
    return (void *)(uintptr_t)sum;
}

#define SELECT_N 4

static void *select_consumer(void *arg)
{
    ax_queue **qs = arg;
    ax_future *f[SELECT_N];
    uint64_t sum = 0, got = 0, want = count / SELECT_N * SELECT_N;
    int rc;

    for (int i = 0; i < SELECT_N; i++)
        if ((rc = ax_queue_get_future(qs[i], &f[i])) != 0)
            die("ax_queue_get_future", rc);
    while (got < want) {
        size_t k;
        void *v;
        if ((rc = ax_wait_any(f, SELECT_N, -1, &k)) != 0)
            die("ax_wait_any", rc);
        if ((rc = ax_future_result(f[k], &v)) != 0)
            die("ax_future_result", rc);
        sum += (uint64_t)(uintptr_t)v;
        got++;
        ax_future_free(f[k]);
        if ((rc = ax_queue_get_future(qs[k], &f[k])) != 0)
            die("ax_queue_get_future", rc);
    }
    /* The last round's gets are still pending: cancelling withdraws them. */
    for (int i = 0; i < SELECT_N; i++) {
        ax_cancel_future(f[i]);
        ax_future_free(f[i]);
    }
    return (void *)(uintptr_t)sum;
}

static void *select_producer(void *arg)
{
    ax_queue *q = arg;

    for (uint64_t i = 1; i <= count / SELECT_N; i++) {
        int rc = ax_queue_put(q, (void *)(uintptr_t)i);
        if (rc != 0)
            die("ax_queue_put", rc);
    }
    return NULL;
}

static void *bench_select(void *arg)
{
    ax_queue_opts qo = {.kind = AX_QUEUE_FIFO, .capacity = 128};
    ax_queue *qs[SELECT_N];
    ax_task *p[SELECT_N], *c;
    uint64_t per = count / SELECT_N;
    void *sum = NULL;
    int rc;

    (void)arg;
    for (int i = 0; i < SELECT_N; i++)
        if ((rc = ax_queue_new(&qs[i], &qo)) != 0)
            die("ax_queue_new", rc);
    int64_t t0 = mono_ns();
    if ((rc = ax_spawn(&c, select_consumer, qs)) != 0)
        die("ax_spawn", rc);
    for (int i = 0; i < SELECT_N; i++)
        if ((rc = ax_spawn(&p[i], select_producer, qs[i])) != 0)
            die("ax_spawn", rc);
    if ((rc = ax_await(c, &sum)) != 0)
        die("ax_await", rc);
    int64_t ns = mono_ns() - t0;
    for (int i = 0; i < SELECT_N; i++)
        if ((rc = ax_await(p[i], NULL)) != 0)
            die("ax_await", rc);
    if ((uint64_t)(uintptr_t)sum != SELECT_N * (per * (per + 1) / 2)) {
        printf("WRONG select sum\n");
        exit(1);
    }
    for (int i = 0; i < SELECT_N; i++)
        if ((rc = ax_queue_free(qs[i])) != 0)
            die("ax_queue_free", rc);
    printf("RESULT select %s %.0f items/s higher\n", sysname(),
           (double)(per * SELECT_N) * 1e9 / (double)ns);
    return NULL;
}

static void *bench(void *arg)
{
    int cross = *(int *)arg;
    ax_queue_opts qo = {.kind = AX_QUEUE_FIFO, .capacity = 128};
    ax_task_opts to = {0};
    ax_queue *q;
    ax_task *p, *c;
    void *sum = NULL;
    int rc;

    if ((rc = ax_queue_new(&q, &qo)) != 0)
        die("ax_queue_new", rc);
    if (cross)
        to.loop = ax_loop_at(1);
    int64_t t0 = mono_ns();
    if ((rc = ax_spawn(&c, consumer, q)) != 0 ||
        (rc = ax_spawn_with(&p, producer, q, &to)) != 0)
        die("ax_spawn", rc);
    if ((rc = ax_await(c, &sum)) != 0 || (rc = ax_await(p, NULL)) != 0)
        die("ax_await", rc);
    int64_t ns = mono_ns() - t0;
    if ((uint64_t)(uintptr_t)sum != count * (count + 1) / 2) {
        printf("WRONG sum\n");
        exit(1);
    }
    if ((rc = ax_queue_free(q)) != 0)
        die("ax_queue_free", rc);
    printf("RESULT %s %s %.0f items/s higher\n",
           cross ? "queue_cross" : "queue_same", sysname(),
           (double)count * 1e9 / (double)ns);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 2 || (argc == 2 && (argv[1][0] < '0' || argv[1][0] > '9'))) {
        fprintf(stderr, "usage: %s [items]\n", argv[0]);
        return 2;
    }
    if (argc == 2) {
        char *end;
        errno = 0;
        count = strtoull(argv[1], &end, 10);
        if (errno != 0 || *end != '\0' || count == 0 || count > 1u << 30) {
            fprintf(stderr, "queue: bad count '%s'\n", argv[1]);
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("%s\n", ax_build_info());
    unsetenv("AX_VIRTUAL_CLOCK"); /* benchmarks use the real clock */
    printf("queue: %" PRIu64 " items, capacity 128\n", count);
    for (int cross = 0; cross < 2; cross++) {
        ax_opts o;
        memset(&o, 0, sizeof o);
        o.loops = cross ? 2 : 1;
        int rc = ax_run_with(&o, bench, &cross, NULL);
        if (rc != 0)
            die("ax_run_with", rc);
    }
    int rc = ax_run(bench_select, NULL, NULL);
    if (rc != 0)
        die("ax_run", rc);
    return 0;
}
