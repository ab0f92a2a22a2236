/* SPDX-License-Identifier: MIT */
/*
 * A pipeline through a bounded queue (asyncio.Queue(maxsize=4)): producers
 * on loop 0, which owns the queue, consumers on loop 1, which reach it
 * through loop 0's inbox. The consumers take until q.shutdown() (3.13).
 */
#include <axon.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

enum { PRODUCERS = 2, CONSUMERS = 3, ITEMS = 50 /* per producer */ };

static long count, sum; /* only loop 1's tasks touch them */

static void *produce(void *arg)
{
    static intptr_t next = 1; /* only loop 0's tasks touch it */
    int rc = 0;

    for (int i = 0; i < ITEMS && !rc; i++)
        rc = ax_queue_put(arg, (void *)next++);
    return rc ? ax_task_fail(rc) : NULL;
}

static void *consume(void *arg)
{
    void *item;
    int rc;

    while ((rc = ax_queue_get(arg, &item)) == 0) {
        count++;
        sum += (long)(intptr_t)item;
    }
    return rc == AX_EQSHUTDOWN ? NULL : ax_task_fail(rc); /* drained? */
}

static void *main_task(void *arg)
{
    ax_queue_opts qo = {.capacity = 4};
    ax_task_opts on1 = {.loop = ax_loop_at(1)};
    ax_future *prod[PRODUCERS], *cons[CONSUMERS];
    ax_queue *q;
    ax_task *t;
    int rc = ax_queue_new(&q, &qo);

    for (int i = 0; i < CONSUMERS && !rc; i++)
        if (!(rc = ax_spawn_with(&t, consume, q, &on1)))
            cons[i] = AX_FUTURE(t);
    for (int i = 0; i < PRODUCERS && !rc; i++)
        if (!(rc = ax_spawn(&t, produce, q)))
            prod[i] = AX_FUTURE(t);
    if (rc || (rc = ax_gather(prod, PRODUCERS, NULL)) ||
        (rc = ax_queue_shutdown(q, false)) ||
        (rc = ax_gather(cons, CONSUMERS, NULL)) || (rc = ax_queue_free(q))) {
        fprintf(stderr, "pipeline: %s\n", ax_strerror(rc));
        return ax_task_fail(rc); /* tasks left are cancelled at exit */
    }
    printf("%d producers on loop 0 put %d items\n", PRODUCERS,
           PRODUCERS * ITEMS);
    printf("%d consumers on loop 1 got %ld items, sum %ld\n", CONSUMERS,
           count, sum);
    if (getenv("AX_EXAMPLE_ELAPSED")) /* for tests/check_examples */
        printf("elapsed=%.3f\n", ax_now());
    return arg;
}

int main(void)
{
    ax_opts opts = {.loops = 2};
    int rc = ax_run_with(&opts, main_task, NULL, NULL);

    if (rc)
        fprintf(stderr, "ax_run: %s\n", ax_strerror(rc));
    return rc != 0;
}
