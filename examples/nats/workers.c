/* SPDX-License-Identifier: MIT */
/*
 * examples/nats/workers -- a worker pool spread over processes and hosts
 * through NATS (examples/nats/README.md).
 *
 *   workers worker URLS         an actor serves "primes" in the queue
 *                               group "pool" until Ctrl-C
 *   workers client URLS [JOBS]  sends JOBS requests (default 20) and prints
 *                               who answered what
 *
 * A job is a record (ax_rec_put): the range [lo, hi) to count primes in;
 * the answer is a record with the count and the worker's node id.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <axon.h>
#include <axon/node.h>

static const char *mode, *urls;
static int count = 20;
static ax_node *node;

static int is_prime(uint32_t n)
{
    uint32_t d;

    if (n < 2)
        return 0;
    for (d = 2; d * d <= n; d++)
        if (n % d == 0)
            return 0;
    return 1;
}

/* One worker actor: answers jobs until its node closes. */
static void *worker(void *arg)
{
    ax_msg m;

    (void)arg;
    while (ax_recv(&m, -1) == 0) {
        ax_node_msg *job = m.data;
        const void *r;
        size_t n, off = 0;
        uint32_t lo, hi, k, primes = 0;
        void *out = NULL;
        size_t olen = 0;
        char cnt[16];

        if (ax_rec_get(job->data, job->len, &off, &r, &n) != 0 || n != 8) {
            ax_node_reply_error(job, AX_EINVAL);
            ax_node_msg_free(job);
            continue;
        }
        memcpy(&lo, r, 4); /* both ends run this program: host order */
        memcpy(&hi, (const char *)r + 4, 4);
        for (k = lo; k < hi; k++)
            primes += (uint32_t)is_prime(k);
        snprintf(cnt, sizeof cnt, "%" PRIu32, primes);
        if (ax_rec_put(&out, &olen, cnt, strlen(cnt)) == 0 &&
            ax_rec_put(&out, &olen, ax_node_id(node),
                       strlen(ax_node_id(node))) == 0)
            ax_node_reply(job, out, olen);
        else
            ax_node_reply_error(job, AX_ENOMEM);
        free(out);
        ax_node_msg_free(job);
    }
    return NULL;
}

static void on_event(ax_node *n, int ev, void *arg)
{
    static const char *names[] = {"", "connected", "disconnected",
                                  "reconnected", "closed"};
    (void)n;
    (void)arg;
    fprintf(stderr, "workers: %s\n", names[ev]);
}

static void *run_worker(void)
{
    ax_actor_ref w;
    int rc;

    /* One actor per process under the name "primes" in the queue group
     * "pool": each job goes to one process of the pool. */
    ax_actor_spawn(&w, worker, NULL, NULL);
    if ((rc = ax_node_register(node, "primes", w, "pool")) != 0) {
        fprintf(stderr, "workers: register: %s\n", ax_strerror(rc));
        return ax_task_fail(rc);
    }
    printf("worker %s serving \"primes\" in group \"pool\"; Ctrl-C stops\n",
           ax_node_id(node));
    fflush(stdout);
    ax_stop_on_signals();
    (void)ax_sleep(1e9); /* until Ctrl-C cancels the main task */
    ax_actor_exit(w, AX_ESHUTDOWN);
    return NULL;
}

static void *run_client(void)
{
    ax_future *f[64];
    int jobs = count, i, j, rc;

    if (jobs > 64)
        jobs = 64;
    for (i = 0; i < jobs; i++) {
        uint32_t range[2] = {(uint32_t)i * 100000u, (uint32_t)(i + 1) * 100000u};
        void *buf = NULL;
        size_t len = 0;

        ax_rec_put(&buf, &len, range, sizeof range);
        rc = ax_node_ask(node, "primes", 1, buf, len, 10.0, &f[i]);
        free(buf); /* the ask copied it */
        if (rc) {
            fprintf(stderr, "workers: ask: %s\n", ax_strerror(rc));
            for (j = 0; j < i; j++) {
                ax_await(f[j], NULL);
                ax_future_free(f[j]);
            }
            return ax_task_fail(rc);
        }
    }
    for (i = 0; i < jobs; i++) {
        void *v;
        rc = ax_await(f[i], &v);
        if (rc == 0) {
            ax_node_bytes *b = v;
            const void *r1, *r2;
            size_t n1, n2, off = 0;
            if (ax_rec_get(b->data, b->len, &off, &r1, &n1) == 0 &&
                ax_rec_get(b->data, b->len, &off, &r2, &n2) == 0)
                printf("[%7d, %7d): %.*s primes, by %.*s\n", i * 100000,
                       (i + 1) * 100000, (int)n1, (const char *)r1, (int)n2,
                       (const char *)r2);
            ax_node_bytes_free(b);
        } else {
            printf("job %d: %s\n", i, ax_strerror(rc));
        }
        ax_future_free(f[i]);
    }
    return NULL;
}

static void *main_task(void *arg)
{
    ax_node_opts o;
    void *res;
    int rc;

    (void)arg;
    memset(&o, 0, sizeof o);
    o.on_event = on_event;
    o.max_reconnect = -1;
    if ((rc = ax_node_connect(&node, urls, &o)) != 0) {
        fprintf(stderr, "workers: cannot connect to %s: %s\n", urls,
                ax_strerror(rc));
        return ax_task_fail(rc);
    }
    res = strcmp(mode, "worker") == 0 ? run_worker() : run_client();
    ax_node_close(node);
    return res;
}

int main(int argc, char **argv)
{
    int rc;

    if (argc < 3 || (strcmp(argv[1], "worker") && strcmp(argv[1], "client"))) {
        fprintf(stderr, "usage: workers worker URLS | workers client URLS [JOBS]\n");
        return 2;
    }
    mode = argv[1];
    urls = argv[2];
    count = argc > 3 ? atoi(argv[3]) : 20;
    if (count < 1)
        count = 1;
    rc = ax_run(main_task, NULL, NULL);
    if (rc && rc != AX_ECANCELED) {
        fprintf(stderr, "workers: %s\n", ax_strerror(rc));
        return 1;
    }
    return 0;
}
