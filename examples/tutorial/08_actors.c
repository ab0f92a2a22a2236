/* SPDX-License-Identifier: MIT */
/*
 * Actors: a counter actor on one loop, asked from a task on another.
 * The actor owns its state; nobody else touches it, so no locks.
 *
 *   Erlang: Counter ! {add, 5}, Counter ! {get, self()}, receive N -> N end
 */
#include <axon.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

enum { ADD = 1, GET = 2, STOP = 3 };

static void *counter(void *arg)
{
    intptr_t total = 0;
    ax_msg m;
    int rc;

    (void)arg;
    while (ax_recv(&m, -1) == 0) {
        if (m.tag == ADD)
            total += (intptr_t)m.data;
        else if (m.tag == GET && (rc = ax_reply(&m, (void *)total)))
            return ax_task_fail(rc);
        else if (m.tag == STOP)
            break;
    }
    return NULL;
}

static void *main_task(void *arg)
{
    ax_actor_opts ao = {.loop = ax_loop_at(ax_loop_count() - 1)};
    ax_actor_ref c;
    void *total;
    int rc;

    (void)arg;
    rc = ax_actor_spawn(&c, counter, NULL, &ao);
    if (rc || (rc = ax_register("counter", c))) { /* see ax_whereis */
        fprintf(stderr, "counter: %s\n", ax_strerror(rc));
        return ax_task_fail(rc);
    }
    for (intptr_t i = 1; i <= 100; i++)
        if ((rc = ax_send(c, ADD, (void *)i)))
            return ax_task_fail(rc);
    rc = ax_call(c, GET, NULL, 1.0, &total); /* ask, wait at most 1 s */
    if (rc) {
        fprintf(stderr, "ax_call: %s\n", ax_strerror(rc));
        return ax_task_fail(rc);
    }
    printf("counter on loop %d says %ld\n", ax_loop_count() - 1,
           (long)(intptr_t)total);
    if (getenv("AX_EXAMPLE_ELAPSED")) /* for tests/check_examples */
        printf("elapsed=%.3f\n", ax_now());
    if ((rc = ax_send(c, STOP, NULL)))
        return ax_task_fail(rc);
    return NULL;
}

int main(void)
{
    ax_opts opts = {.loops = 2};
    int rc = ax_run_with(&opts, main_task, NULL, NULL);

    if (rc)
        fprintf(stderr, "ax_run: %s\n", ax_strerror(rc));
    return rc != 0;
}
