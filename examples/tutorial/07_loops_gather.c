/* SPDX-License-Identifier: MIT */
/*
 * gather across loops: one loop per CPU, ten workers spread over them,
 * results in argument order whatever loop they ran on.
 *
 *   async def work(i): await asyncio.sleep(0.1); return i * i
 *   results = await asyncio.gather(*(work(i) for i in range(10)))
 *
 * asyncio has one loop; here each worker runs on loop i % N (its own
 * thread), and the gathering task resumes on its own loop.
 */
#include <axon.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define N 10

static void *work(void *arg)
{
    intptr_t i = (intptr_t)arg;
    int rc = ax_sleep(0.1);

    if (rc)
        return ax_task_fail(rc);
    printf("work(%ld) ran on loop %d\n", (long)i,
           ax_loop_index(ax_loop_current()));
    return (void *)(i * i);
}

static void *main_task(void *arg)
{
    ax_future *futs[N];
    void *results[N];
    int loops = ax_loop_count(), rc;

    (void)arg;
    for (intptr_t i = 0; i < N; i++) {
        ax_task *t;
        ax_task_opts o = {.loop = ax_loop_at((int)(i % loops))};
        rc = ax_spawn_with(&t, work, (void *)i, &o);
        if (rc) {
            fprintf(stderr, "ax_spawn_with: %s\n", ax_strerror(rc));
            return ax_task_fail(rc); /* spawned ones are cancelled at exit */
        }
        futs[i] = AX_FUTURE(t);
    }
    rc = ax_gather(futs, N, results);
    if (rc) {
        fprintf(stderr, "ax_gather: %s\n", ax_strerror(rc));
        return ax_task_fail(rc);
    }
    printf("[");
    for (int i = 0; i < N; i++)
        printf("%s%ld", i ? ", " : "", (long)(intptr_t)results[i]);
    printf("] on %d loops, back on loop %d\n", loops,
           ax_loop_index(ax_loop_current()));
    if (getenv("AX_EXAMPLE_ELAPSED")) /* for tests/check_examples */
        printf("elapsed=%.3f\n", ax_now());
    return NULL;
}

int main(void)
{
    ax_opts opts = {.loops = AX_LOOPS_PER_CPU};
    int rc = ax_run_with(&opts, main_task, NULL, NULL);

    if (rc)
        fprintf(stderr, "ax_run: %s\n", ax_strerror(rc));
    return rc != 0;
}
