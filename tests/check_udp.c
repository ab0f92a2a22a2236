/* SPDX-License-Identifier: MIT */
/*
 * check_udp.c: tests for axon/udp.h (awaitable UDP sockets and batches).
 *
 * Both ends live in this process, on loopback. Timeouts that must fire run
 * on the virtual clock (exact lower bounds, no real waiting); where a wait
 * must end by an event (an ICMP error) the clock is real and the timeout a
 * hang guard only. Every socket is closed and every task awaited: the loop
 * must close clean.
 */
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "axtest.h"

Suite *ax_udp_suite(void);

/* Two sockets bound on @p host with free ports; *to_b is b's address. */
static void pair(const char *host, ax_udp **a, ax_udp **b, ax_udp_addr *to_b)
{
    axt_assert_rc(ax_udp_bind(a, host, 0, NULL), 0);
    axt_assert_rc(ax_udp_bind(b, host, 0, NULL), 0);
    axt_assert_rc(ax_udp_addr_set(to_b, host, ax_udp_port(*b)), 0);
}

/* ---- echo ---------------------------------------------------------------- */

static void *echo_server(void *arg)
{
    ax_udp *s = arg;
    char buf[256];
    ax_udp_addr from;

    for (;;) {
        ssize_t n = ax_udp_recv(s, buf, sizeof buf, &from, -1);
        if (n == AX_ECANCELED)
            return NULL;
        ck_assert_int_ge(n, 0);
        if (n == 4 && !memcmp(buf, "quit", 4))
            return NULL;
        ck_assert_int_eq(ax_udp_send(s, buf, (size_t)n, &from, -1), n);
    }
}

static void *main_echo(void *arg)
{
    const char *host = arg;
    ax_udp *c, *s;
    ax_udp_addr to_s, from, mine;
    ax_task *t;
    char buf[64];

    if (ax_udp_bind(&c, host, 0, NULL) == -EADDRNOTAVAIL)
        return AXT_P(1); /* no such loopback here */
    axt_assert_rc(ax_udp_bind(&s, host, 0, NULL), 0);
    axt_assert_rc(ax_udp_addr_set(&to_s, host, ax_udp_port(s)), 0);
    axt_spawn(&t, echo_server, s);
    for (int i = 0; i < 20; i++) {
        int n = snprintf(buf, sizeof buf, "hello %d", i);
        ck_assert_int_eq(ax_udp_send(c, buf, (size_t)n, &to_s, -1), n);
        memset(buf, 0, sizeof buf);
        ck_assert_int_eq(ax_udp_recv(c, buf, sizeof buf, &from, -1), n);
        ck_assert_int_eq(strncmp(buf, "hello ", 6), 0);
        ck_assert_int_eq(atoi(buf + 6), i);
        /* The reply comes from the server's address. */
        ck_assert_int_eq(ax_udp_addr_port(&from), ax_udp_port(s));
        ck_assert_int_eq(from.u.sa.sa_family, to_s.u.sa.sa_family);
    }
    /* The server saw our address: its reply came back to this socket. */
    axt_assert_rc(ax_udp_local_addr(c, &mine), 0);
    ck_assert_int_eq(ax_udp_addr_port(&mine), ax_udp_port(c));
    ck_assert_int_eq(ax_udp_send(c, "quit", 4, &to_s, -1), 4);
    axt_assert_rc(ax_await(t, NULL), 0);
    axt_assert_rc(ax_udp_close(c), 0);
    axt_assert_rc(ax_udp_close(s), 0);
    return NULL;
}

START_TEST(test_echo_v4)
{
    void *r = NULL;
    AXT_RUN_CLEAN(main_echo, "127.0.0.1", &r);
    ck_assert_ptr_null(r);
}
END_TEST

START_TEST(test_echo_v6)
{
    void *r = NULL;
    AXT_RUN_CLEAN(main_echo, "::1", &r);
    if (r)
        AXT_SKIP("no IPv6 loopback (::1 cannot be bound)");
}
END_TEST

START_TEST(test_echo_localhost)
{
    void *r = NULL;
    AXT_RUN_CLEAN(main_echo, "localhost", &r);
    ck_assert_ptr_null(r);
}
END_TEST

/* A connected socket sends with no address and hears only its peer. */
static void *main_connected(void *arg)
{
    ax_udp *s, *c, *other;
    ax_udp_addr from, to_s;
    ax_task *t;
    char buf[16];
    (void)arg;

    axt_assert_rc(ax_udp_bind(&s, "127.0.0.1", 0, NULL), 0);
    axt_assert_rc(ax_udp_connect(&c, "localhost", ax_udp_port(s)), 0);
    axt_spawn(&t, echo_server, s);
    ck_assert_int_eq(ax_udp_send(c, "ping", 4, NULL, -1), 4);
    ck_assert_int_eq(ax_udp_recv(c, buf, sizeof buf, &from, -1), 4);
    ck_assert_int_eq(memcmp(buf, "ping", 4), 0);
    ck_assert_int_eq(ax_udp_addr_port(&from), ax_udp_port(s));
    /* A datagram from a third socket is filtered out by the kernel. */
    axt_assert_rc(ax_udp_bind(&other, "127.0.0.1", 0, NULL), 0);
    axt_assert_rc(ax_udp_addr_set(&to_s, "127.0.0.1", ax_udp_port(c)), 0);
    ck_assert_int_eq(ax_udp_send(other, "noise", 5, &to_s, -1), 5);
    axt_assert_rc(ax_udp_recv(c, buf, sizeof buf, NULL, 0), AX_ETIMEDOUT);
    ck_assert_int_eq(ax_udp_send(c, "quit", 4, NULL, -1), 4);
    axt_assert_rc(ax_await(t, NULL), 0);
    axt_assert_rc(ax_udp_close(other), 0);
    axt_assert_rc(ax_udp_close(c), 0);
    axt_assert_rc(ax_udp_close(s), 0);
    return NULL;
}

START_TEST(test_connected)
{
    AXT_RUN_CLEAN(main_connected, NULL, NULL);
}
END_TEST

/* A connected socket whose peer port is closed hears ECONNREFUSED (real
 * clock: the ICMP error wakes the receive). */
static void *main_refused(void *arg)
{
    ax_udp *tmp, *c;
    char buf[8];
    int port;
    (void)arg;

    axt_assert_rc(ax_udp_bind(&tmp, "127.0.0.1", 0, NULL), 0);
    port = ax_udp_port(tmp);
    axt_assert_rc(ax_udp_close(tmp), 0);
    axt_assert_rc(ax_udp_connect(&c, "127.0.0.1", port), 0);
    ck_assert_int_eq(ax_udp_send(c, "x", 1, NULL, -1), 1);
    axt_assert_rc(ax_udp_recv(c, buf, sizeof buf, NULL, 30.0),
                  AX_ECONNREFUSED);
    axt_assert_rc(ax_udp_close(c), 0);
    return NULL;
}

START_TEST(test_connect_refused)
{
    int rc = ax_test_run_real(main_refused, NULL, NULL);
    ck_assert_msg(rc == 0, "rc %d; %s", rc, ax_test_report());
    AXT_ASSERT_CLEAN();
}
END_TEST

/* ---- batches ------------------------------------------------------------- */

#define NB 150

static void *main_batch(void *arg)
{
    ax_udp *a, *b;
    ax_udp_addr to_b, mine;
    static char out[NB][40], in[NB][40];
    ax_udp_msg m[NB];
    int got = 0, calls = 0;
    (void)arg;

    pair("127.0.0.1", &a, &b, &to_b);
    axt_assert_rc(ax_udp_local_addr(a, &mine), 0);
    memset(m, 0, sizeof m);
    for (int i = 0; i < NB; i++) {
        int n = snprintf(out[i], sizeof out[i], "datagram %d", i);
        /* sizes 1..40 so each message's length is checked too */
        m[i].buf = out[i];
        m[i].len = (size_t)n;
        m[i].addr = to_b;
    }
    /* More than one system call's worth (64) in one batch. */
    ck_assert_int_eq(ax_udp_send_batch(a, m, NB, -1), NB);
    while (got < NB) {
        ax_udp_msg r[NB];
        int n;
        memset(r, 0, sizeof r);
        for (int i = got; i < NB; i++) {
            r[i - got].buf = in[i];
            r[i - got].len = sizeof in[i];
        }
        n = ax_udp_recv_batch(b, r, (size_t)(NB - got), -1);
        ck_assert_int_ge(n, 1);
        ck_assert_int_le(n, 64);
        for (int i = 0; i < n; i++) {
            int k = got + i;
            ck_assert(!r[i].truncated);
            ck_assert_uint_eq(r[i].n, m[k].len);
            ck_assert_int_eq(memcmp(in[k], out[k], r[i].n), 0);
            ck_assert_int_eq(ax_udp_addr_port(&r[i].addr),
                             ax_udp_addr_port(&mine));
        }
        got += n;
        calls++;
    }
    ck_assert_int_eq(got, NB);
    /* Everything had arrived before the first receive: batches of 64. */
    if (ax_udp_batch_native())
        ck_assert_int_eq(calls, 3);
    axt_assert_rc(ax_udp_close(a), 0);
    axt_assert_rc(ax_udp_close(b), 0);
    return NULL;
}

START_TEST(test_batch_round_trip)
{
    AXT_RUN_CLEAN(main_batch, NULL, NULL);
}
END_TEST

/* A connected socket's batch: addr.len 0 means the peer; a truncated
 * datagram in the middle of a batch is flagged, its neighbours whole. */
static void *main_batch_trunc(void *arg)
{
    ax_udp *s, *c;
    char big[100], rb[3][50];
    ax_udp_msg m[3], r[3];
    (void)arg;

    memset(big, 'B', sizeof big);
    axt_assert_rc(ax_udp_bind(&s, "127.0.0.1", 0, NULL), 0);
    axt_assert_rc(ax_udp_connect(&c, "127.0.0.1", ax_udp_port(s)), 0);
    memset(m, 0, sizeof m);
    m[0] = (ax_udp_msg){.buf = "first", .len = 5};
    m[1] = (ax_udp_msg){.buf = big, .len = sizeof big};
    m[2] = (ax_udp_msg){.buf = "", .len = 0}; /* empty datagram */
    ck_assert_int_eq(ax_udp_send_batch(c, m, 3, -1), 3);
    memset(r, 0, sizeof r);
    for (int i = 0; i < 3; i++)
        r[i] = (ax_udp_msg){.buf = rb[i], .len = sizeof rb[i]};
    /* One at a time is also a batch: the first, then two. */
    ck_assert_int_eq(ax_udp_recv_batch(s, r, 1, -1), 1);
    ck_assert_uint_eq(r[0].n, 5);
    ck_assert(!r[0].truncated);
    ck_assert_int_eq(ax_udp_recv_batch(s, r + 1, 2, -1), 2);
    ck_assert(r[1].truncated);
    ck_assert_uint_eq(r[1].n, sizeof rb[1]);
    ck_assert_int_eq(rb[1][0], 'B');
    ck_assert(!r[2].truncated);
    ck_assert_uint_eq(r[2].n, 0);
    axt_assert_rc(ax_udp_close(c), 0);
    axt_assert_rc(ax_udp_close(s), 0);
    return NULL;
}

START_TEST(test_batch_truncated_and_empty)
{
    AXT_RUN_CLEAN(main_batch_trunc, NULL, NULL);
}
END_TEST

/* ---- truncation ---------------------------------------------------------- */

static void *main_trunc(void *arg)
{
    ax_udp *a, *b;
    ax_udp_addr to_b, from;
    char big[1000], buf[10];
    (void)arg;

    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + i % 26);
    pair("127.0.0.1", &a, &b, &to_b);
    ck_assert_int_eq(ax_udp_send(a, big, sizeof big, &to_b, -1),
                     (ssize_t)sizeof big);
    ck_assert_int_eq(ax_udp_send(a, "next", 4, &to_b, -1), 4);
    memset(&from, 0, sizeof from);
    axt_assert_rc(ax_udp_recv(b, buf, sizeof buf, &from, -1), AX_ETRUNC);
    ck_assert_int_eq(memcmp(buf, big, sizeof buf), 0);
    ck_assert_int_eq(ax_udp_addr_port(&from), ax_udp_port(a));
    /* The rest of the long one is gone; the next is whole. */
    ck_assert_int_eq(ax_udp_recv(b, buf, sizeof buf, NULL, -1), 4);
    ck_assert_int_eq(memcmp(buf, "next", 4), 0);
    /* A zero-byte buffer truncates anything but an empty datagram. */
    ck_assert_int_eq(ax_udp_send(a, "x", 1, &to_b, -1), 1);
    axt_assert_rc(ax_udp_recv(b, NULL, 0, NULL, -1), AX_ETRUNC);
    ck_assert_int_eq(ax_udp_send(a, "", 0, &to_b, -1), 0);
    ck_assert_int_eq(ax_udp_recv(b, NULL, 0, NULL, -1), 0);
    ck_assert_str_eq(ax_err_name(AX_ETRUNC), "AX_ETRUNC");
    axt_assert_rc(ax_udp_close(a), 0);
    axt_assert_rc(ax_udp_close(b), 0);
    return NULL;
}

START_TEST(test_truncation_reported)
{
    AXT_RUN_CLEAN(main_trunc, NULL, NULL);
}
END_TEST

/* ---- deadlines ----------------------------------------------------------- */

static void *main_deadlines(void *arg)
{
    ax_udp *a, *b;
    ax_udp_addr to_b;
    ax_udp_msg m = {0};
    char buf[8];
    int64_t t0;
    (void)arg;

    pair("127.0.0.1", &a, &b, &to_b);
    m.buf = buf;
    m.len = sizeof buf;
    t0 = ax_now_ns();
    axt_assert_rc(ax_udp_recv(b, buf, sizeof buf, NULL, 4.0), AX_ETIMEDOUT);
    ck_assert(ax_now_ns() - t0 >= 4000000000);
    t0 = ax_now_ns();
    axt_assert_rc(ax_udp_recv_dl(b, buf, sizeof buf, NULL, t0 + 1000000),
                  AX_ETIMEDOUT);
    ck_assert(ax_now_ns() - t0 >= 1000000);
    axt_assert_rc(ax_udp_recv_batch(b, &m, 1, 2.5), AX_ETIMEDOUT);
    axt_assert_rc(ax_udp_recv_batch_dl(b, &m, 1, ax_now_ns() + 5),
                  AX_ETIMEDOUT);
    /* A past deadline returns what has arrived, and times out otherwise. */
    ck_assert_int_eq(ax_udp_send_dl(a, "late", 4, &to_b, 0), 4);
    ck_assert_int_eq(ax_udp_recv_dl(b, buf, sizeof buf, NULL, 0), 4);
    axt_assert_rc(ax_udp_recv_dl(b, buf, sizeof buf, NULL, 0), AX_ETIMEDOUT);
    ck_assert_int_eq(ax_udp_send(a, "b", 1, &to_b, 0), 1);
    ck_assert_int_eq(ax_udp_recv_batch(b, &m, 1, 0), 1);
    ck_assert_int_eq(ax_udp_send_batch_dl(a, &(ax_udp_msg){.buf = "c",
                                                          .len = 1,
                                                          .addr = to_b},
                                          1, 0),
                     1);
    ck_assert_int_eq(ax_udp_recv_batch_dl(b, &m, 1, 0), 1);
    /* Bad deadlines and timeouts. */
    axt_assert_rc(ax_udp_recv_dl(b, buf, sizeof buf, NULL, -2), AX_EINVAL);
    axt_assert_rc(ax_udp_send_dl(a, "x", 1, &to_b, -7), AX_EINVAL);
    axt_assert_rc(ax_udp_recv_batch_dl(b, &m, 1, -2), AX_EINVAL);
    axt_assert_rc(ax_udp_send_batch_dl(a, &m, 1, -2), AX_EINVAL);
    axt_assert_rc(ax_udp_recv(b, buf, sizeof buf, NULL, NAN), AX_EINVAL);
    axt_assert_rc(ax_udp_close(a), 0);
    axt_assert_rc(ax_udp_close(b), 0);
    return NULL;
}

START_TEST(test_deadlines)
{
    AXT_RUN_CLEAN(main_deadlines, NULL, NULL);
}
END_TEST

/* A datagram sent later by another task ends a receive with no timeout. */
static void *late_sender(void *arg)
{
    ax_udp_addr *to = arg;
    ax_udp *s;

    axt_assert_rc(ax_sleep(3.0), 0);
    axt_assert_rc(ax_udp_bind(&s, "127.0.0.1", 0, NULL), 0);
    ck_assert_int_eq(ax_udp_send(s, "late", 4, to, -1), 4);
    axt_assert_rc(ax_udp_close(s), 0);
    return NULL;
}

static void *main_wait_then_data(void *arg)
{
    ax_udp *b;
    ax_udp_addr to_b;
    ax_task *t;
    char buf[8];
    int64_t t0 = ax_now_ns();
    (void)arg;

    axt_assert_rc(ax_udp_bind(&b, "127.0.0.1", 0, NULL), 0);
    axt_assert_rc(ax_udp_addr_set(&to_b, "127.0.0.1", ax_udp_port(b)), 0);
    axt_spawn(&t, late_sender, &to_b);
    ck_assert_int_eq(ax_udp_recv(b, buf, sizeof buf, NULL, 10.0), 4);
    ck_assert(ax_now_ns() - t0 >= 3000000000);
    axt_assert_rc(ax_await(t, NULL), 0);
    axt_assert_rc(ax_udp_close(b), 0);
    return NULL;
}

START_TEST(test_recv_waits_for_data)
{
    AXT_RUN_CLEAN(main_wait_then_data, NULL, NULL);
}
END_TEST

/* ---- close while waiting, cancel, two receivers --------------------------- */

static void *blocked_recv(void *arg)
{
    char buf[8];
    return AXT_P(ax_udp_recv(arg, buf, sizeof buf, NULL, -1));
}

static void *main_close_busy(void *arg)
{
    ax_udp *u;
    ax_task *t;
    char buf[8];
    void *r = NULL;
    (void)arg;

    axt_assert_rc(ax_udp_bind(&u, "127.0.0.1", 0, NULL), 0);
    axt_spawn(&t, blocked_recv, u);
    axt_assert_rc(ax_yield(), 0);
    /* Another task waits: closing would pull the socket from under it. */
    axt_assert_rc(ax_udp_close(u), AX_EBUSY);
    /* Two receivers at once. */
    axt_assert_rc(ax_udp_recv(u, buf, sizeof buf, NULL, -1), AX_EBUSY);
    ax_cancel(t);
    axt_assert_rc(ax_await(t, &r), AX_ECANCELED);
    axt_assert_rc(ax_udp_close(u), 0);
    return NULL;
}

START_TEST(test_close_while_waiting_ebusy)
{
    AXT_RUN_CLEAN(main_close_busy, NULL, NULL);
}
END_TEST

/* ---- misuse -------------------------------------------------------------- */

static void *main_bad_inputs(void *arg)
{
    ax_udp *u, *stale, *out = AXT_P(0x1);
    ax_udp_addr a;
    ax_udp_msg m = {0};
    char buf[64];
    (void)arg;

    /* Address strings and ports. */
    axt_assert_rc(ax_udp_addr_set(&a, "1.2.3.4:5", 1), AX_EINVAL);
    axt_assert_rc(ax_udp_addr_set(&a, "not an address", 1), AX_EINVAL);
    axt_assert_rc(ax_udp_addr_set(&a, "example.com", 1), AX_ENAME);
    axt_assert_rc(ax_udp_addr_set(&a, "::1::2", 1), AX_EINVAL);
    axt_assert_rc(ax_udp_addr_set(&a, "127.0.0.1", -1), AX_EINVAL);
    axt_assert_rc(ax_udp_addr_set(&a, "127.0.0.1", 65536), AX_EINVAL);
    axt_assert_rc(ax_udp_addr_set(NULL, "127.0.0.1", 1), AX_EINVAL);
    axt_assert_rc(ax_udp_bind(&out, "127.0.0.1:80", 0, NULL), AX_EINVAL);
    axt_assert_rc(ax_udp_bind(&out, "127.0.0.1", 70000, NULL), AX_EINVAL);
    axt_assert_rc(ax_udp_bind(&out, "no.such.host", 0, NULL), AX_ENAME);
    axt_assert_rc(ax_udp_bind(NULL, "127.0.0.1", 0, NULL), AX_EINVAL);
    axt_assert_rc(ax_udp_connect(&out, "127.0.0.1", 0), AX_EINVAL);
    axt_assert_rc(ax_udp_connect(&out, "127.0.0.1", -5), AX_EINVAL);
    axt_assert_rc(ax_udp_connect(&out, "[::1]", 53), AX_EINVAL);
    axt_assert_rc(ax_udp_connect(NULL, "127.0.0.1", 53), AX_EINVAL);
    ck_assert_ptr_eq(out, AXT_P(0x1)); /* untouched on failure */
    axt_assert_rc(ax_udp_addr_port(NULL), AX_EINVAL);
    memset(&a, 0, sizeof a);
    axt_assert_rc(ax_udp_addr_port(&a), AX_EINVAL);
    axt_assert_rc(ax_udp_addr_str(&a, buf, sizeof buf), AX_EINVAL);
    /* Formatting, and a buffer too small for it. */
    axt_assert_rc(ax_udp_addr_set(&a, "::1", 5353), 0);
    ck_assert_int_eq(ax_udp_addr_str(&a, buf, sizeof buf), 10);
    ck_assert_str_eq(buf, "[::1]:5353");
    axt_assert_rc(ax_udp_addr_str(&a, buf, 5), AX_E2BIG);
    axt_assert_rc(ax_udp_addr_set(&a, NULL, 7), 0);
    ck_assert_int_eq(ax_udp_addr_str(&a, buf, sizeof buf), 9);
    ck_assert_str_eq(buf, "0.0.0.0:7");

    /* NULL sockets and buffers. */
    axt_assert_rc(ax_udp_send(NULL, "x", 1, NULL, -1), AX_EINVAL);
    axt_assert_rc(ax_udp_recv(NULL, buf, 1, NULL, -1), AX_EINVAL);
    axt_assert_rc(ax_udp_recv_batch(NULL, &m, 1, -1), AX_EINVAL);
    axt_assert_rc(ax_udp_send_batch(NULL, &m, 1, -1), AX_EINVAL);
    axt_assert_rc(ax_udp_close(NULL), AX_EINVAL);
    axt_assert_rc(ax_udp_port(NULL), AX_EINVAL);
    ck_assert_int_eq(ax_udp_fd(NULL), -1);
    axt_assert_rc(ax_udp_bind(&u, "127.0.0.1", 0, NULL), 0);
    axt_assert_rc(ax_udp_send(u, NULL, 1, NULL, -1), AX_EINVAL);
    axt_assert_rc(ax_udp_recv(u, NULL, 1, NULL, -1), AX_EINVAL);
    axt_assert_rc(ax_udp_recv_batch(u, NULL, 1, -1), AX_EINVAL);
    axt_assert_rc(ax_udp_recv_batch(u, &m, 0, -1), AX_EINVAL);
    m.len = 4; /* NULL buf with a length */
    axt_assert_rc(ax_udp_recv_batch(u, &m, 1, -1), AX_EINVAL);
    axt_assert_rc(ax_udp_send_batch(u, &m, 1, -1), AX_EINVAL);
    axt_assert_rc(ax_udp_send_batch(u, NULL, 1, -1), AX_EINVAL);
    /* No destination on an unconnected socket: the kernel's word. */
    axt_assert_rc(ax_udp_send(u, "x", 1, NULL, -1), -EDESTADDRREQ);
    /* A destination of another family. */
    axt_assert_rc(ax_udp_addr_set(&a, "::1", 9), 0);
    axt_assert_rc(ax_udp_send(u, "x", 1, &a, -1), -EAFNOSUPPORT);
    /* An address whose length says one thing and family another. */
    a.len = 3;
    axt_assert_rc(ax_udp_send(u, "x", 1, &a, -1), AX_EINVAL);
    ck_assert_int_ge(ax_udp_fd(u), 0);

    /* A stale handle: every call says so, none touches freed memory. */
    stale = u;
    axt_assert_rc(ax_udp_close(u), 0);
    axt_assert_rc(ax_udp_close(stale), AX_ESRCH);
    axt_assert_rc(ax_udp_send(stale, "x", 1, NULL, -1), AX_ESRCH);
    axt_assert_rc(ax_udp_recv(stale, buf, 1, NULL, -1), AX_ESRCH);
    axt_assert_rc(ax_udp_recv_batch(stale, &m, 1, -1), AX_ESRCH);
    axt_assert_rc(ax_udp_send_batch(stale, &m, 1, -1), AX_ESRCH);
    axt_assert_rc(ax_udp_port(stale), AX_ESRCH);
    axt_assert_rc(ax_udp_local_addr(stale, &a), AX_ESRCH);
    ck_assert_int_eq(ax_udp_fd(stale), -1);
    return NULL;
}

START_TEST(test_bad_inputs)
{
    AXT_RUN_CLEAN(main_bad_inputs, NULL, NULL);
}
END_TEST

/* Outside a loop: nothing is made. */
START_TEST(test_outside_loop_eperm)
{
    ax_udp *u = AXT_P(0x1);
    axt_assert_rc(ax_udp_bind(&u, "127.0.0.1", 0, NULL), AX_EPERM);
    axt_assert_rc(ax_udp_connect(&u, "127.0.0.1", 9), AX_EPERM);
    ck_assert_ptr_eq(u, AXT_P(0x1));
}
END_TEST

/* A socket of loop 0 used from loop 1. */
static ax_udp *shared_u;

static void *other_loop_user(void *arg)
{
    char buf[4];
    (void)arg;
    return AXT_P(ax_udp_recv(shared_u, buf, sizeof buf, NULL, 0) * 1000 +
                 ax_udp_close(shared_u));
}

static void *main_wrong_loop(void *arg)
{
    ax_task *t;
    void *r = NULL;
    (void)arg;

    axt_assert_rc(ax_udp_bind(&shared_u, "127.0.0.1", 0, NULL), 0);
    axt_assert_rc(axt_spawn_on(ax_loop_at(1), &t, other_loop_user, NULL), 0);
    axt_assert_rc(ax_await(t, &r), 0);
    ck_assert_int_eq(AXT_I(r), AX_EWRONGLOOP * 1000 + AX_EWRONGLOOP);
    axt_assert_rc(ax_udp_close(shared_u), 0);
    return NULL;
}

START_TEST(test_wrong_loop)
{
    AXT_RUN_LOOPS_CLEAN(2, main_wrong_loop, NULL);
}
END_TEST

Suite *ax_udp_suite(void)
{
    Suite *s = suite_create("udp");
    TCase *tc = axt_tcase(s, "echo");
    tcase_add_test(tc, test_echo_v4);
    tcase_add_test(tc, test_echo_v6);
    tcase_add_test(tc, test_echo_localhost);
    tcase_add_test(tc, test_connected);
    tcase_add_test(tc, test_connect_refused);

    tc = axt_tcase(s, "batch");
    tcase_add_test(tc, test_batch_round_trip);
    tcase_add_test(tc, test_batch_truncated_and_empty);
    tcase_add_test(tc, test_truncation_reported);

    tc = axt_tcase(s, "deadline");
    tcase_add_test(tc, test_deadlines);
    tcase_add_test(tc, test_recv_waits_for_data);
    tcase_add_test(tc, test_close_while_waiting_ebusy);

    tc = axt_tcase(s, "misuse");
    tcase_add_test(tc, test_bad_inputs);
    tcase_add_test(tc, test_outside_loop_eperm);
    tcase_add_test(tc, test_wrong_loop);
    return s;
}

#ifndef AX_TEST_NO_MAIN
int main(void)
{
    return ax_test_main(ax_udp_suite());
}
#endif
