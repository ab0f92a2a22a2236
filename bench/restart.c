/* SPDX-License-Identifier: MIT */
/*
 * restart: how fast a one_for_one supervisor brings a crashed child back.
 *
 *   usage: restart [count]   (default 200,000 crashes)
 *
 * A bench actor and a supervisor with one child, all on one loop. The
 * child announces itself to the bench actor (UP, with its ref) as soon as
 * it runs, then waits; the bench actor sends it CRASH, it fails, the
 * supervisor sees its DOWN and starts a new one, which announces itself.
 * One crash-to-UP cycle is timed with CLOCK_MONOTONIC; the figures are the
 * mean latency (crash sent -> new child running) and the restarts per
 * second over the whole timed loop. The intensity (2^30 in 10 ms) never
 * trips. Nothing is asserted.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#define BENCH_NAME "restart"
#include "bench.h"

enum { UP = 1, CRASH };

static uint64_t count = 200000;
static ax_actor_ref bench_ref;

static void *child(void *arg)
{
    ax_msg m;
    int rc;

    (void)arg;
    if ((rc = ax_send(bench_ref, UP, NULL)))
        die("ax_send", rc);
    rc = ax_recv(&m, -1);
    return ax_task_fail(rc ? rc : AX_EPIPE);
}

static void *bench(void *arg)
{
    ax_future *done = arg;
    ax_sup_opts o = {.intensity = 1 << 30, .period = 0.01};
    ax_sup_spec s = {.name = "child", .body = child};
    ax_actor_ref sup;
    ax_msg m;
    int64_t t0, t1;
    int rc;

    bench_ref = ax_actor_self();
    if ((rc = ax_sup_start(&sup, &o, &s, 1)))
        die("ax_sup_start", rc);
    if ((rc = ax_recv(&m, -1)))
        die("ax_recv", rc);
    t0 = mono_ns();
    for (uint64_t i = 0; i < count; i++) {
        ax_actor_ref kid = m.from;

        if ((rc = ax_send(kid, CRASH, NULL)))
            die("ax_send", rc);
        if ((rc = ax_recv(&m, -1)))
            die("ax_recv", rc);
    }
    t1 = mono_ns();
    if ((rc = ax_sup_stop(sup, -1)))
        die("ax_sup_stop", rc);
    printf("RESULT sup_restart_latency %s %.3f us lower\n", sysname(),
           (double)(t1 - t0) / 1e3 / (double)count);
    printf("RESULT sup_restarts_per_s %s %.0f restarts/s higher\n",
           sysname(), (double)count * 1e9 / (double)(t1 - t0));
    if ((rc = ax_future_set_result(done, NULL)))
        die("ax_future_set_result", rc);
    return NULL;
}

static void *main_task(void *arg)
{
    ax_future *done;
    int rc;

    (void)arg;
    if ((rc = ax_future_new(&done)) ||
        (rc = ax_actor_spawn(NULL, bench, done, NULL)) ||
        (rc = ax_await_future(done, NULL)))
        die("main", rc);
    ax_future_free(done);
    return NULL;
}

int main(int argc, char **argv)
{
    int rc;

    if (argc > 1)
        count = strtoull(argv[1], NULL, 10);
    if (!count)
        count = 1;
    rc = ax_run(main_task, NULL, NULL);
    if (rc)
        die("ax_run", rc);
    return 0;
}
