/* SPDX-License-Identifier: MIT */
/*
 * udp_echo: UDP echo packets/s on loopback, one loop: a client task sends
 * a window of W datagrams of 64 bytes with one ax_udp_send_batch(), an
 * echo task takes them with ax_udp_recv_batch() and sends them back in
 * one batch, and the client collects the W replies before the next
 * window. Also the same with one datagram per call (W = 1 path:
 * ax_udp_send / ax_udp_recv). Prints figures, asserts nothing.
 *
 *   udp_echo [count [window]]      (200,000 datagrams, window 32)
 */
#define BENCH_NAME "udp_echo"
#include "bench.h"

#define SIZE 64
#define WMAX 64

static long count = 200000;
static int window = 32;

static void *echo(void *arg)
{
    ax_udp *s = arg;
    static char bufs[WMAX][SIZE];
    ax_udp_msg m[WMAX];
    for (;;) {
        int n;
        for (int i = 0; i < WMAX; i++)
            m[i] = (ax_udp_msg){.buf = bufs[i], .len = SIZE};
        if ((n = ax_udp_recv_batch(s, m, WMAX, -1)) < 0)
            return NULL; /* cancelled */
        for (int i = 0; i < n; i++)
            m[i].len = m[i].n;
        if (ax_udp_send_batch(s, m, (size_t)n, -1) < 0)
            return NULL;
    }
}

static double run(ax_udp *c, const ax_udp_addr *to, bool batch)
{
    static char out[WMAX][SIZE], in[WMAX][SIZE];
    ax_udp_msg m[WMAX];
    int64_t t0 = mono_ns();
    long done = 0;
    int rc;

    while (done < count) {
        int w = batch ? window : 1, got = 0;
        if (batch) {
            for (int i = 0; i < w; i++)
                m[i] = (ax_udp_msg){.buf = out[i], .len = SIZE, .addr = *to};
            if ((rc = ax_udp_send_batch(c, m, (size_t)w, 5.0)) != w)
                die("send_batch", rc < 0 ? rc : AX_EAGAIN);
            while (got < w) {
                for (int i = 0; i < w - got; i++)
                    m[i] = (ax_udp_msg){.buf = in[i], .len = SIZE};
                if ((rc = ax_udp_recv_batch(c, m, (size_t)(w - got), 5.0)) < 0)
                    die("recv_batch", rc);
                got += rc;
            }
        } else {
            if ((rc = (int)ax_udp_send(c, out[0], SIZE, to, 5.0)) < 0)
                die("send", rc);
            if ((rc = (int)ax_udp_recv(c, in[0], SIZE, NULL, 5.0)) < 0)
                die("recv", rc);
        }
        done += w;
    }
    return (double)done / ((double)(mono_ns() - t0) / 1e9);
}

static void *main_task(void *arg)
{
    ax_udp *s, *c;
    ax_udp_addr to;
    ax_task *t;
    double single, batched;
    int rc;
    (void)arg;

    if ((rc = ax_udp_bind(&s, "127.0.0.1", 0, NULL)) ||
        (rc = ax_udp_bind(&c, "127.0.0.1", 0, NULL)) ||
        (rc = ax_udp_addr_set(&to, "127.0.0.1", ax_udp_port(s))) ||
        (rc = ax_spawn(&t, echo, s)))
        die("setup", rc);
    single = run(c, &to, false);
    batched = run(c, &to, true);
    ax_cancel(t);
    ax_await(t, NULL);
    ax_udp_close(c);
    ax_udp_close(s);
    printf("udp echo, %ld datagrams of %d bytes, one loop, loopback\n",
           count, SIZE);
    printf("  one per call          %10.0f datagrams/s\n", single);
    printf("  batches of %-3d        %10.0f datagrams/s (recvmmsg/sendmmsg: "
           "%s)\n", window, batched, ax_udp_batch_native() ? "yes" : "no");
    printf("RESULT udp_echo %s %.6g datagrams/s higher\n", sysname(),
           batched);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        count = atol(argv[1]);
    if (argc > 2)
        window = atoi(argv[2]);
    if (count <= 0 || window < 1 || window > WMAX) {
        fprintf(stderr, "usage: udp_echo [count [window 1..%d]]\n", WMAX);
        return 2;
    }
    return ax_run(main_task, NULL, NULL) ? 1 : 0;
}
