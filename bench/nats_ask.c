/* SPDX-License-Identifier: MIT */
/*
 * bench/nats_ask -- remote ask round trips through one local nats-server:
 * axon (ax_node_call to an actor registered on a node) beside raw libnats
 * request/reply (natsConnection_Request to a subscription that answers on
 * libnats' own thread), the floor of what the client library can do, with
 * its default options (system libnats: a publish waits for the flusher
 * thread) and with natsOptions_SetSendAsap (libnats-asap: the publishing
 * thread writes), and beside Go's official client (bench/peers/gonats,
 * system go-nats) when it is built.
 *
 *   bench/nats_ask [URL|-] [N] [SYSTEMS]
 *
 * Without URL (or with "-") it starts nats-server itself on a free
 * loopback port (and kills it at the end). One requester at a time, N
 * round trips (default 20000) after 1000 of warm-up; prints round trips
 * per second and latency percentiles for each. Payload: 16 bytes each
 * way. SYSTEMS (a comma-separated list of libnats, libnats-asap, go-nats,
 * axon; default all) picks the rows, for a profiler. The Go peer is the program named by AX_GO_NATS ("none": skip it),
 * else bench/peers/gonats/axbench-go-nats under the current directory
 * (bench/peers/gonats/build.sh bench/peers/gonats in the build directory
 * makes it).
 */
#define BENCH_NAME "nats_ask"
#include "bench.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <axon/node.h>
#include <nats/nats.h>

static const char *url, *only;

static bool want(const char *sys)
{
    size_t k = strlen(sys);
    const char *p = only;

    if (!only)
        return true;
    while ((p = strstr(p, sys))) {
        if ((p == only || p[-1] == ',') && (p[k] == ',' || p[k] == '\0'))
            return true;
        p += k;
    }
    return false;
}
static int N = 20000;
static int64_t *lat;

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void report(const char *sys, int64_t total)
{
    double rps = N / (total / 1e9);

    qsort(lat, (size_t)N, sizeof *lat, cmp64);
    printf("%-10s %9.0f round-trips/s  p50 %6.1f us  p90 %6.1f us  "
           "p99 %6.1f us  p99.9 %6.1f us\n",
           sys, rps, lat[N / 2] / 1e3, lat[N * 9 / 10] / 1e3,
           lat[N * 99 / 100] / 1e3, lat[N * 999 / 1000] / 1e3);
    printf("RESULT nats_ask %s %.6g round-trips/s higher\n", sys, rps);
    printf("RESULT nats_ask_p99 %s %.6g us lower\n", sys,
           lat[N * 99 / 100] / 1e3);
}

/* ---- raw libnats ---- */

static void raw_echo(natsConnection *nc, natsSubscription *sub, natsMsg *m,
                     void *closure)
{
    (void)sub;
    (void)closure;
    natsConnection_Publish(nc, natsMsg_GetReply(m), natsMsg_GetData(m),
                           natsMsg_GetDataLength(m));
    natsMsg_Destroy(m);
}

static void run_raw(bool asap)
{
    natsOptions *o = NULL;
    natsConnection *nc = NULL;
    natsSubscription *sub = NULL;
    natsMsg *r = NULL;
    char payload[16] = "0123456789abcde";
    int64_t t0, t;
    int i;

    if (natsOptions_Create(&o) != NATS_OK ||
        natsOptions_SetURL(o, url) != NATS_OK ||
        natsOptions_SetSendAsap(o, asap) != NATS_OK ||
        natsConnection_Connect(&nc, o) != NATS_OK ||
        natsConnection_Subscribe(&sub, nc, "bench.echo", raw_echo, NULL) !=
            NATS_OK ||
        natsConnection_Flush(nc) != NATS_OK) {
        fprintf(stderr, "nats_ask: raw libnats: %s\n",
                nats_GetLastError(NULL));
        exit(1);
    }
    for (i = -1000; i < N; i++) {
        t = mono_ns();
        if (natsConnection_Request(&r, nc, "bench.echo", payload,
                                   sizeof payload, 5000) != NATS_OK) {
            fprintf(stderr, "nats_ask: raw request failed\n");
            exit(1);
        }
        natsMsg_Destroy(r);
        if (i == 0)
            t0 = t;
        if (i >= 0)
            lat[i] = mono_ns() - t;
    }
    report(asap ? "libnats-asap" : "libnats", mono_ns() - t0);
    natsSubscription_Destroy(sub);
    natsConnection_Destroy(nc);
    natsOptions_Destroy(o);
}

/* ---- Go's client, a program of its own on the same server ---- */

static void run_go(void)
{
    const char *exe = getenv("AX_GO_NATS");
    char ns[16];
    pid_t pid;
    int st;

    if (exe && strcmp(exe, "none") == 0)
        return;
    if (!exe)
        exe = "bench/peers/gonats/axbench-go-nats";
    if (access(exe, X_OK) != 0) {
        printf("go-nats    (no %s: bench/peers/gonats/build.sh builds it)\n",
               exe);
        return;
    }
    snprintf(ns, sizeof ns, "%d", N);
    fflush(stdout);
    if ((pid = fork()) == 0) {
        execl(exe, exe, url, ns, (char *)NULL);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) ||
        WEXITSTATUS(st) != 0)
        fprintf(stderr, "nats_ask: %s failed\n", exe);
}

/* ---- axon ---- */

static void *echo_actor(void *arg)
{
    ax_msg m;

    (void)arg;
    while (ax_recv(&m, -1) == 0) {
        ax_node_msg *nm = m.data;
        int stop = nm->tag == 2;
        ax_node_reply(nm, nm->data, nm->len);
        ax_node_msg_free(nm);
        if (stop)
            break;
    }
    return NULL;
}

static void *axon_main(void *arg)
{
    ax_node *n;
    ax_actor_ref a;
    ax_node_bytes *b;
    char payload[16] = "0123456789abcde";
    int64_t t0 = 0, t;
    int i, rc;

    (void)arg;
    if ((rc = ax_node_connect(&n, url, NULL)) != 0)
        die("ax_node_connect", rc);
    ax_actor_spawn(&a, echo_actor, NULL, NULL);
    if ((rc = ax_node_register(n, "bench.echo", a, NULL)) != 0)
        die("ax_node_register", rc);
    for (i = -1000; i < N; i++) {
        t = mono_ns();
        if ((rc = ax_node_call(n, "bench.echo", 1, payload, sizeof payload,
                               5.0, &b)) != 0)
            die("ax_node_call", rc);
        ax_node_bytes_free(b);
        if (i == 0)
            t0 = t;
        if (i >= 0)
            lat[i] = mono_ns() - t;
    }
    report(sysname(), mono_ns() - t0);
    ax_node_call(n, "bench.echo", 2, NULL, 0, 5.0, NULL);
    ax_node_close(n);
    return NULL;
}

static pid_t start_server(char *buf, size_t n)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port, i;
    char ps[16];
    pid_t pid;

    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        perror("nats_ask: free port");
        exit(1);
    }
    port = ntohs(a.sin_port);
    close(fd);
    snprintf(ps, sizeof ps, "%d", port);
    snprintf(buf, n, "nats://127.0.0.1:%d", port);
    if ((pid = fork()) == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        execlp("nats-server", "nats-server", "-a", "127.0.0.1", "-p", ps,
               (char *)NULL);
        execl("/usr/sbin/nats-server", "nats-server", "-a", "127.0.0.1", "-p",
              ps, (char *)NULL);
        _exit(127);
    }
    for (i = 0; i < 500; i++) {
        fd = socket(AF_INET, SOCK_STREAM, 0);
        a.sin_port = htons((uint16_t)port);
        if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
            close(fd);
            return pid;
        }
        close(fd);
        usleep(10000);
    }
    fprintf(stderr, "nats_ask: nats-server did not start (apt-get install "
                    "nats-server, or pass a URL)\n");
    kill(pid, SIGKILL);
    exit(1);
}

int main(int argc, char **argv)
{
    char own[64];
    pid_t server = -1;
    int rc;

    if (argc > 2)
        N = atoi(argv[2]);
    if (argc > 3)
        only = argv[3];
    if (N < 1000)
        N = 1000;
    if (argc > 1 && strcmp(argv[1], "-") != 0) {
        url = argv[1];
    } else {
        server = start_server(own, sizeof own);
        url = own;
    }
    if (!(lat = malloc((size_t)N * sizeof *lat)))
        return 1;
    printf("nats_ask: %d round trips through %s, 16-byte payloads\n", N, url);
    if (want("libnats"))
        run_raw(false);
    if (want("libnats-asap"))
        run_raw(true);
    if (want("go-nats"))
        run_go();
    if (want(sysname()) && (rc = ax_run(axon_main, NULL, NULL)) != 0)
        die("ax_run", rc);
    free(lat);
    if (server > 0) {
        kill(server, SIGKILL);
        waitpid(server, NULL, 0);
    }
    return 0;
}
