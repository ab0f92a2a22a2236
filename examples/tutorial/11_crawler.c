/* SPDX-License-Identifier: MIT */
/*
 * A rate-limited fan-out: eight fake fetches, at most three at a time
 * (async with asyncio.Semaphore(3)), each given one second (wait_for).
 */
#include <axon.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define N 8
#define K 3

static const double cost[N] = {0.3, 1.5, 0.2, 0.7, 2.5, 0.5, 0.1, 1.2};
static ax_sem *sem;
static int running, most, fetched;

static void *fetch(void *arg) /* the I/O, faked by a sleep */
{
    int rc = ax_sleep(cost[(intptr_t)arg]);

    return rc ? ax_task_fail(rc) : NULL;
}

static void *crawl(void *arg)
{
    double start;
    ax_task *t;
    int rc;

    if ((rc = ax_sem_acquire(sem, -1)))
        return ax_task_fail(rc);
    start = ax_now();
    most = ++running > most ? running : most;
    rc = ax_spawn(&t, fetch, arg);
    if (!rc)
        rc = ax_await_timeout(t, 1.0, NULL); /* cancels it on timeout */
    fetched += rc == 0;
    if (rc == 0 || rc == AX_ETIMEDOUT)
        printf("url %d: %s %.3f s\n", (int)(intptr_t)arg,
               rc ? "timed out after" : "fetched in", ax_now() - start);
    running--;
    ax_sem_release(sem); /* cannot fail: we hold a unit */
    return rc && rc != AX_ETIMEDOUT ? ax_task_fail(rc) : NULL;
}

static void *main_task(void *arg)
{
    ax_future *fs[N];
    ax_task *t;
    int rc;

    (void)arg;
    if ((rc = ax_sem_new(&sem, K)))
        return ax_task_fail(rc);
    for (intptr_t i = 0; i < N && !rc; i++)
        if (!(rc = ax_spawn(&t, crawl, (void *)i)))
            fs[i] = AX_FUTURE(t);
    if (rc || (rc = ax_gather(fs, N, NULL)) || (rc = ax_sem_free(sem))) {
        fprintf(stderr, "crawler: %s\n", ax_strerror(rc));
        return ax_task_fail(rc); /* tasks left are cancelled at exit */
    }
    printf("%d fetched, %d timed out, at most %d at a time\n", fetched,
           N - fetched, most);
    if (getenv("AX_EXAMPLE_ELAPSED")) /* for tests/check_examples */
        printf("elapsed=%.3f\n", ax_now());
    return NULL;
}

int main(void)
{
    int rc = ax_run(main_task, NULL, NULL);

    if (rc)
        fprintf(stderr, "ax_run: %s\n", ax_strerror(rc));
    return rc != 0;
}
