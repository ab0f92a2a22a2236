/* SPDX-License-Identifier: MIT */
/*
 * pingpong: two actors exchanging messages with ax_send()/ax_recv().
 *
 *   usage: pingpong [count [a|b|c]]   (default 2,000,000 same-loop round
 *                              trips; the cross-loop runs use count/4;
 *                              a letter runs that run alone, e.g. under
 *                              `perf stat` or callgrind)
 *
 * Three runs, each in its own ax_run_with():
 *  a. same loop (loops = 1): the pinger sends a PING to the ponger and
 *     waits in ax_recv() for the PONG, `count` times. One round trip is two
 *     messages and two task switches.
 *  b. cross loop (loops = 2): the same, the pinger on loop 0 and the ponger
 *     on loop 1, count/4 round trips. Every message crosses threads through
 *     the receiving loop's inbox.
 *  c. cross loop, batched: the pinger on loop 0 keeps a window of W = 64
 *     PINGs in flight (sends one more for every PONG it receives), the
 *     ponger on loop 1 answers each; `count` PINGs in all (it is fast:
 *     count/4 would be over in a few tens of milliseconds).
 *
 * Figures: round trips per second and messages per second (both
 * directions counted) over the wall time (CLOCK_MONOTONIC) of the timed
 * loop; for a and b, round-trip latency percentiles from a sample (every
 * 16th round trip is timed with clock_gettime, sorted at the end). For the
 * cross-loop runs, each actor reads its own loop's counters
 * (ax_loop_stats_get: inbox_msgs, doorbell_rings, inbox_wakeups) just
 * before and after the timed loop, and the doorbell writes per message are
 * printed. The runs start with an untimed handshake (one round trip) so
 * both actors are up; spawning and ax_run() set-up are not timed. Nothing
 * is asserted; the program exits 0 unless axon reports an error.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#define BENCH_NAME "pingpong"
#include "bench.h"
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WINDOW 64
#define SAMPLE_EVERY 16

enum { T_START = 1, T_PING, T_PONG, T_STOP, T_ACK };

static uint64_t count = 2000000;

static void stats(ax_loop_stats *st)
{
    int rc = ax_loop_stats_get(st);
    if (rc != 0)
        die("ax_loop_stats_get", rc);
}

/* One run's shared state. Each actor writes only its own fields; the main
 * task reads them after `done` completed. */
typedef struct run {
    bool batched;
    uint64_t n;           /* round trips (a, b) or PINGs (c) */
    ax_actor_ref ponger;
    ax_future *done;      /* completed by the pinger at the very end */
    int64_t ns;           /* timed loop, wall time */
    int64_t *samples;     /* round-trip times, every SAMPLE_EVERY-th */
    size_t nsamples;
    ax_loop_stats ping0, ping1; /* the pinger's loop, before/after */
    ax_loop_stats pong0, pong1; /* the ponger's loop, before/after */
} run;

static ax_msg recv_or_die(void)
{
    ax_msg m;
    int rc = ax_recv(&m, -1);
    if (rc != 0)
        die("ax_recv", rc);
    return m;
}

static void send_or_die(ax_actor_ref to, int tag)
{
    int rc = ax_send(to, tag, NULL);
    if (rc != 0)
        die("ax_send", rc);
}

static void *ponger(void *arg)
{
    run *r = arg;
    for (;;) {
        ax_msg m = recv_or_die();
        switch (m.tag) {
        case T_PING:
            send_or_die(m.from, T_PONG);
            break;
        case T_START:
            stats(&r->pong0);
            send_or_die(m.from, T_START);
            break;
        case T_STOP:
            stats(&r->pong1);
            send_or_die(m.from, T_ACK);
            return NULL;
        default:
            die("unexpected tag", AX_EINVAL);
        }
    }
}

static void expect(int tag)
{
    ax_msg m = recv_or_die();
    if (m.tag != tag)
        die("unexpected tag", AX_EINVAL);
}

static void *pinger(void *arg)
{
    run *r = arg;
    ax_actor_ref to = r->ponger;

    /* Handshake: the ponger is running and has read its counters. */
    send_or_die(to, T_START);
    expect(T_START);
    stats(&r->ping0);

    int64_t t0 = mono_ns();
    if (!r->batched) {
        for (uint64_t i = 0; i < r->n; i++) {
            if (i % SAMPLE_EVERY == 0) {
                int64_t s = mono_ns();
                send_or_die(to, T_PING);
                expect(T_PONG);
                r->samples[r->nsamples++] = mono_ns() - s;
            } else {
                send_or_die(to, T_PING);
                expect(T_PONG);
            }
        }
    } else {
        uint64_t sent = 0, got = 0;
        while (sent < r->n && sent < WINDOW) {
            send_or_die(to, T_PING);
            sent++;
        }
        while (got < r->n) {
            expect(T_PONG);
            got++;
            if (sent < r->n) {
                send_or_die(to, T_PING);
                sent++;
            }
        }
    }
    r->ns = mono_ns() - t0;

    stats(&r->ping1);
    send_or_die(to, T_STOP);
    expect(T_ACK);
    int rc = ax_future_set_result(r->done, NULL);
    if (rc != 0)
        die("ax_future_set_result", rc);
    return NULL;
}

static void *main_task(void *arg)
{
    run *r = arg;
    int n = ax_loop_count();
    int rc;

    if ((rc = ax_future_new(&r->done)) != 0)
        die("ax_future_new", rc);
    ax_actor_opts far = {.loop = ax_loop_at(n - 1)};
    if ((rc = ax_actor_spawn(&r->ponger, ponger, r, &far)) != 0)
        die("ax_actor_spawn", rc);
    if ((rc = ax_actor_spawn(NULL, pinger, r, NULL)) != 0)
        die("ax_actor_spawn", rc);
    if ((rc = ax_await(r->done, NULL)) != 0)
        die("ax_await", rc);
    ax_future_free(r->done);
    return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void print_latency(run *r)
{
    static const double ps[] = {0.50, 0.90, 0.99, 0.999};
    static const char *names[] = {"p50", "p90", "p99", "p99.9"};
    if (r->nsamples == 0)
        return;
    qsort(r->samples, r->nsamples, sizeof r->samples[0], cmp_i64);
    printf("    round-trip latency (%zu samples, 1 in %d):", r->nsamples,
           SAMPLE_EVERY);
    for (size_t i = 0; i < 4; i++) { /* nearest rank */
        size_t k = (size_t)(ps[i] * (double)(r->nsamples - 1) + 0.5);
        printf(" %s %" PRId64 " ns%s", names[i], r->samples[k],
               i < 3 ? "," : "");
    }
    printf(" (max %" PRId64 " ns)\n", r->samples[r->nsamples - 1]);
}

static void print_loop(const char *who, int loop, const ax_loop_stats *a,
                       const ax_loop_stats *b, uint64_t msgs_in)
{
    uint64_t rings = b->doorbell_rings - a->doorbell_rings;
    uint64_t inbox = b->inbox_msgs - a->inbox_msgs;
    uint64_t wake = b->inbox_wakeups - a->inbox_wakeups;
    printf("    loop %d (%s): inbox_msgs %" PRIu64 ", doorbell_rings %" PRIu64
           ", inbox_wakeups %" PRIu64 "; %.6f doorbell writes per message "
           "received\n",
           loop, who, inbox, rings, wake,
           msgs_in ? (double)rings / (double)msgs_in : 0.0);
}

static void one(const char *label, int loops, bool batched, uint64_t n)
{
    run r;
    memset(&r, 0, sizeof r);
    r.batched = batched;
    r.n = n;
    if (!batched) {
        r.samples = malloc((n / SAMPLE_EVERY + 1) * sizeof *r.samples);
        if (!r.samples)
            die("malloc", AX_ENOMEM);
    }
    ax_opts o;
    memset(&o, 0, sizeof o);
    o.loops = loops;
    int rc = ax_run_with(&o, main_task, &r, NULL);
    if (rc != 0)
        die("ax_run_with", rc);

    double s = (double)r.ns / 1e9;
    uint64_t msgs = 2 * n;
    printf("%-22s loops=%d %9" PRIu64 " %s %7.3f s  %11.0f round trips/s"
           "  %11.0f msgs/s  %7.1f ns/round trip\n",
           label, loops, n, batched ? "PINGs      " : "round trips", s,
           (double)n / s, (double)msgs / s, (double)r.ns / (double)n);
    print_latency(&r);
    if (loops > 1) {
        uint64_t rings = (r.ping1.doorbell_rings - r.ping0.doorbell_rings) +
                         (r.pong1.doorbell_rings - r.pong0.doorbell_rings);
        print_loop("pinger", 0, &r.ping0, &r.ping1, n);
        print_loop("ponger", loops - 1, &r.pong0, &r.pong1, n);
        printf("    both ways: %" PRIu64 " doorbell writes for %" PRIu64
               " messages = %.6f per message\n",
               rings, msgs, (double)rings / (double)msgs);
    }
    /* Machine-readable: runs a (same loop) and b (cross loop). */
    if (!batched)
        printf("RESULT %s %s %.6g round-trips/s higher\n",
               loops == 1 ? "pingpong_same" : "pingpong_cross", sysname(),
               (double)n / s);
    fflush(stdout);
    free(r.samples);
}

int main(int argc, char **argv)
{
    const char *only = argc == 3 ? argv[2] : "abc";
    if (argc > 3 || (argc >= 2 && (argv[1][0] < '0' || argv[1][0] > '9')) ||
        (argc == 3 && strcmp(only, "a") && strcmp(only, "b") &&
         strcmp(only, "c"))) {
        fprintf(stderr, "usage: %s [count [a|b|c]]\n", argv[0]);
        return 2;
    }
    if (argc >= 2) {
        char *end;
        errno = 0;
        count = strtoull(argv[1], &end, 10);
        if (errno != 0 || *end != '\0' || count < 4) {
            fprintf(stderr, "pingpong: bad count '%s'\n", argv[1]);
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* in order with axon's stderr */
    printf("%s\n", ax_build_info());
    if (getenv("AX_VIRTUAL_CLOCK") != NULL) {
        printf("(AX_VIRTUAL_CLOCK ignored: benchmarks use the real clock)\n");
        unsetenv("AX_VIRTUAL_CLOCK");
    }
    printf("pingpong: %" PRIu64 " round trips on one loop, %" PRIu64
           " across loops; %" PRIu64 " PINGs, window %d, batched\n",
           count, count / 4, count, WINDOW);

    if (strchr(only, 'a'))
        one("a. same loop", 1, false, count);
    if (strchr(only, 'b'))
        one("b. cross loop", 2, false, count / 4);
    if (strchr(only, 'c'))
        one("c. cross loop, W=64", 2, true, count);
    return 0;
}
