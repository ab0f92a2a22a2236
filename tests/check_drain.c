/* SPDX-License-Identifier: MIT */
/*
 * check_drain.c: a TCP socket's reads skip the recv() that would only say
 * EAGAIN after a short read proved empty by a write (wait.h,
 * ax__io_wrote()), and never at the cost of an end of stream or a reset.
 *
 * Each case has a server socket read a short request, answer it, and read
 * again, with the peer's end of stream or reset arranged so that its edge
 * is consumed before the server's read (ax_sock_wait_dl() first, after the
 * peer has written and shut down or reset in one go). Were a short read
 * taken for "empty" when it is not, the next read would wait for an edge
 * that never comes and the case would hang (Check's timeout fails it).
 * A read buffer filled exactly must not count as short.
 *
 * By default a loop watches its sockets in an epoll set of its own
 * (ax_build_info() says "sockets=epoll-set": edge-triggered, with
 * EPOLLRDHUP, whatever libevent's back-end), and every case runs once.
 * Built with configure --disable-epoll (the suite's alt row) each socket
 * is a libevent event, and every case runs on each of libevent's
 * back-ends: epoll (edge-triggered, with EV_CLOSED, so the skipping is
 * on), poll (EVENT_NOEPOLL=1: level-triggered, with EV_CLOSED through
 * POLLRDHUP; the skipping is on, and a missed edge would be reported
 * again anyway) and select (EVENT_NOPOLL=1 too: no EV_CLOSED, so every
 * read asks the kernel first, as before).
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "axtest.h"

Suite *ax_drain_suite(void);

/* Each case is one task on one loop, the virtual clock on. */
#define RUN(fn) AXT_RUN_CLEAN((fn), NULL, NULL)

/* Close @p s with a reset (SO_LINGER 0) rather than a FIN. */
static void reset_close(ax_sock *s)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};

    ck_assert_int_eq(setsockopt(ax_sock_fd(s), SOL_SOCKET, SO_LINGER, &lg,
                                sizeof lg),
                     0);
    axt_assert_rc(ax_close(s), 0);
}

/* Let the loop poll once and take @p s's pending edge (with whatever end
 * of stream or reset came with it) before the caller reads. */
static void take_edge(ax_sock *s)
{
    axt_assert_rc(ax_sock_wait_dl(s, AX_SOCK_READABLE, -1), 0);
}

static void expect_read(ax_sock *s, const char *want)
{
    char buf[4096];
    size_t n = strlen(want);
    ssize_t r = ax_read(s, buf, sizeof buf, -1);

    ck_assert_msg(r == (ssize_t)n, "read %zd (%s), want %zu bytes", r,
                  r < 0 ? ax_err_name((int)r) : "bytes", n);
    ck_assert_int_eq(memcmp(buf, want, n), 0);
}

static void expect_eof(ax_sock *s)
{
    char buf[64];

    axt_assert_rc((int)ax_read(s, buf, sizeof buf, -1), 0);
}

/* ------------------------------------------------------------------------ */
/* End of stream                                                            */

static void *main_fin_with_data(void *arg)
{
    ax_sock *srv = NULL, *cli = NULL;
    char buf[8];

    (void)arg;
    axt_tcp_pair(&srv, &cli);
    axt_assert_rc(ax_write_all(cli, "req", 3, -1), 0);
    ck_assert_int_eq(shutdown(ax_sock_fd(cli), SHUT_WR), 0);
    take_edge(srv);
    expect_read(srv, "req");                       /* short */
    axt_assert_rc(ax_write_all(srv, "resp", 4, -1), 0); /* half-closed: ok */
    expect_eof(srv);
    expect_eof(srv);
    axt_assert_rc(ax_write_all(srv, "more", 4, -1), 0);
    axt_assert_rc(ax_close(srv), 0);
    axt_assert_rc(ax_read_exact(cli, buf, 8, -1), 0);
    ck_assert_int_eq(memcmp(buf, "respmore", 8), 0);
    expect_eof(cli);
    axt_assert_rc(ax_close(cli), 0);
    return NULL;
}

/* Request and FIN in one edge: read it short, answer, read: end of
 * stream at once, however often asked. */
START_TEST(test_fin_with_data)
{
    RUN(main_fin_with_data);
}
END_TEST

static void *main_fin_with_line(void *arg)
{
    ax_sock *srv = NULL, *cli = NULL;
    char *line;
    size_t len;

    (void)arg;
    axt_tcp_pair(&srv, &cli);
    axt_assert_rc(ax_write_all(cli, "GET\n", 4, -1), 0);
    ck_assert_int_eq(shutdown(ax_sock_fd(cli), SHUT_WR), 0);
    take_edge(srv);
    axt_assert_rc(ax_read_until(srv, "\n", &line, &len, 100, -1), 0);
    ck_assert_uint_eq(len, 4);
    axt_assert_rc(ax_write_all(srv, "ok\n", 3, -1), 0);
    axt_assert_rc(ax_read_until(srv, "\n", &line, &len, 100, -1), AX_EPIPE);
    axt_assert_rc(ax_close(srv), 0);
    axt_assert_rc(ax_close(cli), 0);
    return NULL;
}

/* The same through ax_read_until()'s buffer: AX_EPIPE, not a hang. */
START_TEST(test_fin_with_line)
{
    RUN(main_fin_with_line);
}
END_TEST

static void *main_fin_later(void *arg)
{
    ax_sock *srv = NULL, *cli = NULL;

    (void)arg;
    axt_tcp_pair(&srv, &cli);
    axt_assert_rc(ax_write_all(cli, "a", 1, -1), 0);
    expect_read(srv, "a");
    axt_assert_rc(ax_write_all(srv, "x", 1, -1), 0);
    /* Now the server's next read waits first; the FIN's own edge ends
     * that wait. */
    expect_read(cli, "x");
    ck_assert_int_eq(shutdown(ax_sock_fd(cli), SHUT_WR), 0);
    expect_eof(srv);
    axt_assert_rc(ax_close(srv), 0);
    expect_eof(cli);
    axt_assert_rc(ax_close(cli), 0);
    return NULL;
}

/* A FIN that comes after the answer wakes the read that skipped its
 * recv(). */
START_TEST(test_fin_later)
{
    RUN(main_fin_later);
}
END_TEST

static void *main_half_close(void *arg)
{
    ax_sock *srv = NULL, *cli = NULL;
    char msg[2] = {0, 0};

    (void)arg;
    axt_tcp_pair(&srv, &cli);
    for (char c = 'a'; c <= 'j'; c++) {
        msg[0] = c;
        axt_assert_rc(ax_write_all(cli, msg, 1, -1), 0);
        expect_read(srv, msg);
        msg[0] = (char)(c - 'a' + 'A');
        axt_assert_rc(ax_write_all(srv, msg, 1, -1), 0);
        expect_read(cli, msg);
    }
    /* Last request and FIN in one go, after a skipped recv(). */
    axt_assert_rc(ax_write_all(cli, "k", 1, -1), 0);
    ck_assert_int_eq(shutdown(ax_sock_fd(cli), SHUT_WR), 0);
    expect_read(srv, "k");
    axt_assert_rc(ax_write_all(srv, "K", 1, -1), 0);
    expect_eof(srv);
    /* The server half-closes too; the client still reads it all. */
    ck_assert_int_eq(shutdown(ax_sock_fd(srv), SHUT_WR), 0);
    expect_read(cli, "K");
    expect_eof(cli);
    axt_assert_rc(ax_close(srv), 0);
    axt_assert_rc(ax_close(cli), 0);
    return NULL;
}

/* Round trips, then the peer half-closes with its last request: every
 * answer arrives, end of stream on both sides. */
START_TEST(test_half_close_then_reads)
{
    RUN(main_half_close);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Reset                                                                    */

/* A read after a reset: end of stream or the reset, never a hang. */
static void expect_gone(ax_sock *s)
{
    char buf[64];
    ssize_t r = ax_read(s, buf, sizeof buf, -1);

    ck_assert_msg(r == 0 || r == AX_ECONNRESET || r == AX_EPIPE,
                  "read after reset: %zd (%s)", r,
                  r < 0 ? ax_err_name((int)r) : "bytes");
}

static void *main_rst_then_write(void *arg)
{
    ax_sock *srv = NULL, *cli = NULL;
    int rc;

    (void)arg;
    axt_tcp_pair(&srv, &cli);
    axt_assert_rc(ax_write_all(cli, "req", 3, -1), 0);
    reset_close(cli);
    take_edge(srv);
    expect_read(srv, "req"); /* short: Linux keeps the data past a reset */
    rc = ax_write_all(srv, "resp", 4, -1);
    ck_assert_msg(rc == AX_EPIPE || rc == AX_ECONNRESET,
                  "write after reset: %d (%s)", rc, ax_err_name(rc));
    expect_gone(srv);
    axt_assert_rc(ax_close(srv), 0);
    return NULL;
}

/* Request and reset in one edge (libevent reports it as EV_READ|EV_WRITE,
 * as if it were data): the answer fails, the next read ends at once. */
START_TEST(test_rst_with_data_then_write)
{
    RUN(main_rst_then_write);
}
END_TEST

static void *main_rst_read_again(void *arg)
{
    ax_sock *srv = NULL, *cli = NULL;

    (void)arg;
    axt_tcp_pair(&srv, &cli);
    axt_assert_rc(ax_write_all(cli, "req", 3, -1), 0);
    reset_close(cli);
    take_edge(srv);
    expect_read(srv, "req");
    expect_gone(srv);
    axt_assert_rc(ax_close(srv), 0);
    return NULL;
}

/* The same without an answer between the reads: a short read alone is no
 * proof of "empty". */
START_TEST(test_rst_with_data_read_again)
{
    RUN(main_rst_read_again);
}
END_TEST

static void *main_rst_later(void *arg)
{
    ax_sock *srv = NULL, *cli = NULL;

    (void)arg;
    axt_tcp_pair(&srv, &cli);
    axt_assert_rc(ax_write_all(cli, "req", 3, -1), 0);
    expect_read(srv, "req");
    axt_assert_rc(ax_write_all(srv, "resp", 4, -1), 0);
    expect_read(cli, "resp");
    reset_close(cli);
    expect_gone(srv);
    axt_assert_rc(ax_close(srv), 0);
    return NULL;
}

/* A reset after the answer wakes the read that skipped its recv(). */
START_TEST(test_rst_later)
{
    RUN(main_rst_later);
}
END_TEST

static void *main_edge_before_write(void *arg)
{
    ax_sock *srv = NULL, *cli = NULL;

    (void)arg;
    axt_tcp_pair(&srv, &cli);
    axt_assert_rc(ax_write_all(cli, "req", 3, -1), 0);
    expect_read(srv, "req");
    /* More comes, and its edge is taken (with the socket's EV_WRITE)
     * before the answer goes out: the answer proves nothing then. */
    axt_assert_rc(ax_write_all(cli, "more", 4, -1), 0);
    axt_assert_rc(ax_sock_wait_dl(srv, AX_SOCK_WRITABLE, -1), 0);
    axt_assert_rc(ax_write_all(srv, "resp", 4, -1), 0);
    expect_read(srv, "more");
    expect_read(cli, "resp");
    axt_assert_rc(ax_close(cli), 0);
    expect_eof(srv);
    axt_assert_rc(ax_close(srv), 0);
    return NULL;
}

/* Bytes whose edge came between a short read and the answer are read,
 * not waited for. */
START_TEST(test_edge_between_read_and_answer)
{
    RUN(main_edge_before_write);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* The fast path and its limits                                             */

static int rounds(void)
{
    return getenv("AX_UNDER_VALGRIND") ? 100 : 1000;
}

static void *main_many_small(void *arg)
{
    ax_sock *srv = NULL, *cli = NULL;
    char req[32], *line;
    size_t len;
    int n = rounds();

    (void)arg;
    axt_tcp_pair(&srv, &cli);
    for (int i = 0; i < n; i++) {
        int k = snprintf(req, sizeof req, "req %d\n", i);
        /* Every 7th time two requests in one write: one short read
         * takes both. */
        bool two = i % 7 == 3 && i + 1 < n;
        if (two)
            k += snprintf(req + k, sizeof req - (size_t)k, "req %d\n", i + 1);
        axt_assert_rc(ax_write_all(cli, req, (size_t)k, -1), 0);
        if (i % 2) {
            expect_read(srv, req);
        } else {
            axt_assert_rc(ax_read_until(srv, "\n", &line, &len, 100, -1), 0);
            ck_assert_int_eq(memcmp(line, req, len), 0);
            if (two) {
                axt_assert_rc(
                    ax_read_until(srv, "\n", &line, &len, 100, -1), 0);
                ck_assert_int_eq(memcmp(line, req + k - (int)len, len), 0);
            }
        }
        axt_assert_rc(ax_write_all(srv, "ok\n", 3, -1), 0);
        expect_read(cli, "ok\n");
        i += two;
    }
    axt_assert_rc(ax_close(cli), 0);
    expect_eof(srv);
    axt_assert_rc(ax_close(srv), 0);
    return NULL;
}

/* Many small requests on one connection, each read short and answered
 * (the path that skips the recv()), through ax_read() and
 * ax_read_until(), then end of stream. */
START_TEST(test_many_small_requests)
{
    RUN(main_many_small);
}
END_TEST

static void *main_exact_fill(void *arg)
{
    ax_sock *srv = NULL, *cli = NULL;
    char buf[4];

    (void)arg;
    axt_tcp_pair(&srv, &cli);
    axt_assert_rc(ax_write_all(cli, "AAAABBBB", 8, -1), 0);
    take_edge(srv);
    axt_assert_rc((int)ax_read(srv, buf, 4, -1), 4); /* full, not short */
    ck_assert_int_eq(memcmp(buf, "AAAA", 4), 0);
    axt_assert_rc(ax_write_all(srv, "x", 1, -1), 0);
    /* No edge will come for BBBB: it was there with AAAA. */
    axt_assert_rc((int)ax_read(srv, buf, 4, -1), 4);
    ck_assert_int_eq(memcmp(buf, "BBBB", 4), 0);
    axt_assert_rc(ax_write_all(srv, "y", 1, -1), 0);
    expect_read(cli, "xy");
    axt_assert_rc(ax_close(cli), 0);
    expect_eof(srv);
    axt_assert_rc(ax_close(srv), 0);
    return NULL;
}

/* A read that fills its buffer exactly is not short: what follows in the
 * socket is read without waiting for an edge. */
START_TEST(test_exact_fill_is_not_short)
{
    RUN(main_exact_fill);
}
END_TEST

static void *main_exact_fill_line(void *arg)
{
    ax_sock *srv = NULL, *cli = NULL;
    size_t n = 4096 + 6, len;
    char *big = malloc(n), *line;

    (void)arg;
    ck_assert_ptr_nonnull(big);
    /* ax_read_until()'s first buffer is 4096 bytes: fill it exactly
     * with one line, and put a second line behind it. */
    memset(big, 'a', 4095);
    big[4095] = '\n';
    memcpy(big + 4096, "line2\n", 6);
    axt_tcp_pair(&srv, &cli);
    axt_assert_rc(ax_write_all(cli, big, n, -1), 0);
    take_edge(srv);
    axt_assert_rc(ax_read_until(srv, "\n", &line, &len, 8192, -1), 0);
    ck_assert_uint_eq(len, 4096);
    axt_assert_rc(ax_write_all(srv, "1", 1, -1), 0);
    axt_assert_rc(ax_read_until(srv, "\n", &line, &len, 8192, -1), 0);
    ck_assert_uint_eq(len, 6);
    ck_assert_int_eq(memcmp(line, "line2\n", 6), 0);
    axt_assert_rc(ax_write_all(srv, "2", 1, -1), 0);
    expect_read(cli, "12");
    axt_assert_rc(ax_close(cli), 0);
    axt_assert_rc(ax_read_until(srv, "\n", &line, &len, 8192, -1), AX_EPIPE);
    axt_assert_rc(ax_close(srv), 0);
    free(big);
    return NULL;
}

/* The same through ax_read_until(): a line that fills its buffer exactly,
 * answered, and the next line already there. */
START_TEST(test_exact_fill_line_is_not_short)
{
    RUN(main_exact_fill_line);
}
END_TEST

static void *main_poll_after_drain(void *arg)
{
    ax_sock *srv = NULL, *cli = NULL;
    char buf[8];

    (void)arg;
    axt_tcp_pair(&srv, &cli);
    axt_assert_rc(ax_write_all(cli, "req", 3, -1), 0);
    expect_read(srv, "req");
    axt_assert_rc(ax_write_all(srv, "resp", 4, -1), 0);
    /* Bytes in the socket whose edge the loop has not polled yet: a zero
     * timeout still takes them. */
    axt_assert_rc(ax_write_all(cli, "zz", 2, -1), 0);
    /* Loopback delivers within the send() unless the kernel deferred its
     * softirq; make sure, without polling the loop. */
    for (int q = 0; q < 2;)
        ck_assert_int_eq(ioctl(ax_sock_fd(srv), FIONREAD, &q), 0);
    axt_assert_rc((int)ax_read(srv, buf, sizeof buf, 0), 2);
    ck_assert_int_eq(memcmp(buf, "zz", 2), 0);
    /* Nothing more came: a zero timeout says so. */
    axt_assert_rc(ax_write_all(srv, "resp", 4, -1), 0);
    axt_assert_rc((int)ax_read(srv, buf, sizeof buf, 0), AX_ETIMEDOUT);
    axt_assert_rc(ax_close(cli), 0);
    axt_assert_rc(ax_close(srv), 0);
    return NULL;
}

/* A read with a zero timeout after a skipped recv() is still a poll of
 * the socket, not of the last edge. */
START_TEST(test_zero_timeout_after_drain)
{
    RUN(main_poll_after_drain);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* ax_try_read(), ax_try_write(): the same knowledge, without waiting       */

/* Whether the loop's back-end registers EV_CLOSED (epoll, poll): only
 * then may a read skip its recv(). The fixtures below set it. */
static bool no_rdhup;

static void *main_try_skips(void *arg)
{
    ax_sock *srv = NULL, *cli = NULL;
    char buf[8];

    (void)arg;
    axt_tcp_pair(&srv, &cli);
    axt_assert_rc(ax_write_all(cli, "req", 3, -1), 0);
    take_edge(srv);
    axt_assert_rc((int)ax_try_read(srv, buf, sizeof buf), 3); /* short */
    axt_assert_rc((int)ax_try_write(srv, "resp", 4), 4);
    /* A recv() now would say end of stream at once: so the first read,
     * which says AX_EAGAIN, made none. The second one does. */
    ck_assert_int_eq(shutdown(ax_sock_fd(srv), SHUT_RD), 0);
    axt_assert_rc((int)ax_try_read(srv, buf, sizeof buf),
                  no_rdhup ? 0 : AX_EAGAIN);
    axt_assert_rc((int)ax_try_read(srv, buf, sizeof buf), 0);
    expect_read(cli, "resp");
    axt_assert_rc(ax_close(cli), 0);
    axt_assert_rc(ax_close(srv), 0);
    return NULL;
}

/* After a short ax_try_read() answered by ax_try_write(), the next
 * ax_try_read() says AX_EAGAIN without a recv() (where the back-end has
 * EV_CLOSED), which is what TLS's reads ride on. */
START_TEST(test_try_read_skips_recv_when_drained)
{
    RUN(main_try_skips);
}
END_TEST

static void *main_try_gone(void *arg)
{
    ax_sock *srv = NULL, *cli = NULL;
    char buf[8];
    ssize_t r;

    (void)arg;
    axt_tcp_pair(&srv, &cli);
    axt_assert_rc(ax_write_all(cli, "req", 3, -1), 0);
    reset_close(cli);
    take_edge(srv);
    axt_assert_rc((int)ax_try_read(srv, buf, sizeof buf), 3);
    r = ax_try_write(srv, "resp", 4);
    ck_assert_msg(r == AX_EPIPE || r == AX_ECONNRESET,
                  "try_write after reset: %zd (%s)", r, ax_err_name((int)r));
    r = ax_try_read(srv, buf, sizeof buf);
    ck_assert_msg(r == 0 || r == AX_ECONNRESET || r == AX_EPIPE,
                  "try_read after reset: %zd (%s)", r,
                  r < 0 ? ax_err_name((int)r) : "bytes");
    axt_assert_rc(ax_close(srv), 0);
    return NULL;
}

/* A reset that came with the request: the answer fails, and the next
 * ax_try_read() reports the end, not AX_EAGAIN (which would leave the
 * caller waiting for an edge that already came). */
START_TEST(test_try_read_after_reset)
{
    RUN(main_try_gone);
}
END_TEST

static void *blocked_reader(void *arg)
{
    char buf[8];

    return (void *)(intptr_t)ax_read((ax_sock *)arg, buf, sizeof buf, -1);
}

static void *try_from_thread(void *arg)
{
    char buf[8];

    return (void *)(intptr_t)ax_try_read((ax_sock *)arg, buf, sizeof buf);
}

static void *main_try_calls(void *arg)
{
    ax_sock *srv = NULL, *cli = NULL, *rd = NULL, *wr = NULL;
    char buf[8], *line;
    size_t len;
    ax_task *t;
    pthread_t th;
    void *res;
    int p[2];

    (void)arg;
    axt_tcp_pair(&srv, &cli);
    /* Nothing there yet. */
    axt_assert_rc((int)ax_try_read(srv, buf, sizeof buf), AX_EAGAIN);
    axt_assert_rc((int)ax_try_read(srv, buf, 0), 0);
    axt_assert_rc((int)ax_try_write(cli, buf, 0), 0);
    /* Bad input: NULL socket, NULL buffer with a length. */
    axt_assert_rc((int)ax_try_read(NULL, buf, sizeof buf), AX_EINVAL);
    axt_assert_rc((int)ax_try_read(srv, NULL, 4), AX_EINVAL);
    axt_assert_rc((int)ax_try_write(NULL, "x", 1), AX_EINVAL);
    axt_assert_rc((int)ax_try_write(cli, NULL, 1), AX_EINVAL);
    /* Bytes ax_read_until() kept come first, then the socket's. */
    axt_assert_rc(ax_write_all(cli, "a\nbc", 4, -1), 0);
    axt_assert_rc(ax_read_until(srv, "\n", &line, &len, 100, -1), 0);
    ck_assert_uint_eq(len, 2);
    axt_assert_rc((int)ax_try_write(cli, "de", 2), 2);
    axt_assert_rc((int)ax_try_read(srv, buf, 1), 1);
    ck_assert_int_eq(buf[0], 'b');
    axt_assert_rc((int)ax_try_read(srv, buf, sizeof buf), 1);
    ck_assert_int_eq(buf[0], 'c');
    for (int q = 0; q < 2;) /* loopback: make sure "de" is in */
        ck_assert_int_eq(ioctl(ax_sock_fd(srv), FIONREAD, &q), 0);
    axt_assert_rc((int)ax_try_read(srv, buf, sizeof buf), 2);
    ck_assert_int_eq(memcmp(buf, "de", 2), 0);
    /* Another task waits to read: AX_EBUSY, as for ax_read(). */
    axt_assert_rc(ax_spawn(&t, blocked_reader, srv), 0);
    ax_yield();
    axt_assert_rc((int)ax_try_read(srv, buf, sizeof buf), AX_EBUSY);
    axt_assert_rc(ax_write_all(cli, "f", 1, -1), 0);
    axt_assert_rc(ax_await(t, &res), 0);
    axt_assert_rc((int)(intptr_t)res, 1);
    /* Not from a task: a thread of its own. */
    ck_assert_int_eq(pthread_create(&th, NULL, try_from_thread, srv), 0);
    ck_assert_int_eq(pthread_join(th, &res), 0);
    axt_assert_rc((int)(intptr_t)res, AX_ENOTTASK);
    /* End of stream: 0. */
    axt_assert_rc(ax_close(cli), 0);
    take_edge(srv);
    axt_assert_rc((int)ax_try_read(srv, buf, sizeof buf), 0);
    axt_assert_rc(ax_close(srv), 0);
    /* A pipe whose reader is gone: AX_EPIPE, and no SIGPIPE. */
    ck_assert_int_eq(pipe(p), 0);
    axt_assert_rc(ax_sock_wrap(p[0], &rd), 0);
    axt_assert_rc(ax_sock_wrap(p[1], &wr), 0);
    axt_assert_rc((int)ax_try_write(wr, "xy", 2), 2);
    axt_assert_rc((int)ax_try_read(rd, buf, sizeof buf), 2);
    axt_assert_rc((int)ax_try_read(rd, buf, sizeof buf), AX_EAGAIN);
    axt_assert_rc(ax_close(rd), 0);
    axt_assert_rc((int)ax_try_write(wr, "z", 1), AX_EPIPE);
    axt_assert_rc(ax_close(wr), 0);
    return NULL;
}

/* ax_try_read() and ax_try_write(): AX_EAGAIN when nothing is there,
 * buffered bytes first, end of stream, and bad input (NULL socket, NULL
 * buffer with a length, a reader already waiting, a plain thread, a pipe
 * whose reader is gone). */
START_TEST(test_try_calls)
{
    RUN(main_try_calls);
}
END_TEST

/* ------------------------------------------------------------------------ */

static void use_poll(void)
{
    setenv("EVENT_NOEPOLL", "1", 1);
}

static void use_select(void)
{
    setenv("EVENT_NOEPOLL", "1", 1);
    setenv("EVENT_NOPOLL", "1", 1);
    no_rdhup = true;
}

static void add_cases(TCase *tc)
{
    tcase_add_test(tc, test_fin_with_data);
    tcase_add_test(tc, test_fin_with_line);
    tcase_add_test(tc, test_fin_later);
    tcase_add_test(tc, test_half_close_then_reads);
    tcase_add_test(tc, test_rst_with_data_then_write);
    tcase_add_test(tc, test_rst_with_data_read_again);
    tcase_add_test(tc, test_rst_later);
    tcase_add_test(tc, test_edge_between_read_and_answer);
    tcase_add_test(tc, test_many_small_requests);
    tcase_add_test(tc, test_exact_fill_is_not_short);
    tcase_add_test(tc, test_exact_fill_line_is_not_short);
    tcase_add_test(tc, test_zero_timeout_after_drain);
    tcase_add_test(tc, test_try_read_skips_recv_when_drained);
    tcase_add_test(tc, test_try_read_after_reset);
    tcase_add_test(tc, test_try_calls);
}

Suite *ax_drain_suite(void)
{
    Suite *s = suite_create("drain");
    TCase *tc = axt_tcase(s, "epoll");

    add_cases(tc);
    /* libevent's back-end does not watch the sockets: nothing to vary. */
    if (strstr(ax_build_info(), "sockets=epoll-set"))
        return s;
    tc = axt_tcase(s, "poll");
    tcase_add_checked_fixture(tc, use_poll, NULL);
    add_cases(tc);
    tc = axt_tcase(s, "select");
    tcase_add_checked_fixture(tc, use_select, NULL);
    add_cases(tc);
    return s;
}

#ifndef AX_TEST_NO_MAIN
int main(void)
{
    return ax_test_main(ax_drain_suite());
}
#endif
