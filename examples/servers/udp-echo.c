/* SPDX-License-Identifier: MIT */
/*
 * udp-echo: sends every UDP datagram back to where it came from.
 *
 *   udp-echo [--host H] [--port N] [--loops N]
 *
 * One socket per loop on the same port (SO_REUSEPORT: the kernel spreads
 * the senders over them), each served by one task that takes what has
 * arrived in one batch (ax_udp_recv_batch: recvmmsg) and sends it all back
 * in one batch (ax_udp_send_batch: sendmmsg). A datagram longer than the
 * 64 KiB buffers cannot arrive over IPv4/IPv6 without jumbograms; if one
 * did, it would be echoed cut, and counted on stderr.
 *
 * Prints "listening on HOST:PORT" once every socket is bound (port 0: a
 * free port). SIGINT/SIGTERM stop it and it exits 0.
 */
#include "cli.h"

#include <axon.h>
#include <stdio.h>
#include <stdlib.h>

#define BATCH 32
#define DGRAM_MAX 65536

typedef struct conf {
    const char *host;
    int port;
} conf;

/* Serve one socket until cancelled. */
static int serve(ax_udp *u)
{
    ax_udp_msg m[BATCH];
    char *bufs = malloc((size_t)BATCH * DGRAM_MAX);
    int rc = 0;

    if (!bufs)
        return AX_ENOMEM;
    for (;;) {
        int n;
        for (int i = 0; i < BATCH; i++)
            m[i] = (ax_udp_msg){.buf = bufs + (size_t)i * DGRAM_MAX,
                                .len = DGRAM_MAX};
        if ((n = ax_udp_recv_batch(u, m, BATCH, -1)) < 0) {
            rc = n;
            break;
        }
        for (int i = 0; i < n; i++) {
            if (m[i].truncated)
                fprintf(stderr, "udp-echo: datagram truncated\n");
            m[i].len = m[i].n; /* back what came, to its sender */
        }
        /* A full send buffer or a sender gone drops the reply, as UDP
         * may; only a cancellation ends the loop. */
        if (ax_udp_send_batch(u, m, (size_t)n, 1.0) == AX_ECANCELED) {
            rc = AX_ECANCELED;
            break;
        }
    }
    free(bufs);
    return rc;
}

/* Loops 1..N-1: a socket of this loop's own on the same port. */
static void *worker(void *arg)
{
    conf *c = arg;
    ax_udp_opts o = {.reuseport = true};
    ax_udp *u;
    int rc = ax_udp_bind(&u, c->host, c->port, &o);

    if (rc)
        return ax_task_fail(rc);
    rc = serve(u);
    ax_udp_close(u);
    return rc == AX_ECANCELED ? NULL : ax_task_fail(rc);
}

static void *main_task(void *arg)
{
    conf *c = arg;
    ax_udp_opts o = {.reuseport = true};
    ax_task *t[AX_LOOPS_MAX];
    ax_udp *u;
    int n = ax_loop_count(), rc;

    ax_stop_on_signals();
    /* Loop 0 binds first, so that port 0 becomes a real one the other
     * loops can share. */
    if ((rc = ax_udp_bind(&u, c->host, c->port, &o))) {
        fprintf(stderr, "udp-echo: bind %s:%d: %s\n", c->host, c->port,
                ax_strerror(rc));
        return ax_task_fail(rc);
    }
    c->port = ax_udp_port(u);
    for (int i = 1; i < n; i++) {
        ax_task_opts to = {.loop = ax_loop_at(i), .name = "udp-echo"};
        if ((rc = ax_spawn_with(&t[i], worker, c, &to)))
            return ax_task_fail(rc);
    }
    printf("listening on %s:%d\n", c->host, c->port);
    fflush(stdout);
    rc = serve(u);
    ax_udp_close(u);
    for (int i = 1; i < n; i++) {
        ax_cancel(t[i]);
        ax_await(t[i], NULL);
    }
    return rc == AX_ECANCELED ? NULL : ax_task_fail(rc);
}

int main(int argc, char **argv)
{
    srv_cli cli = {.prog = "udp-echo",
                   .about = "a UDP server that echoes every datagram",
                   .host = "127.0.0.1", .port = 9000, .loops = 1};
    ax_opts opts = {0};
    conf c;
    int rc;

    if ((rc = srv_parse(&cli, argc, argv)) >= 0)
        return rc;
    c = (conf){.host = cli.host, .port = cli.port};
    opts.loops = cli.loops;
    rc = ax_run_with(&opts, main_task, &c, NULL);
    if (rc && rc != AX_ECANCELED) {
        fprintf(stderr, "udp-echo: %s\n", ax_strerror(rc));
        return 1;
    }
    return 0;
}
