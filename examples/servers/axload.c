/* SPDX-License-Identifier: MIT */
/*
 * axload: a load generator built on axon (a small wrk / redis-benchmark).
 *
 *   axload --port N [--host H] [--loops N] [--connections C]
 *          [--duration S | --requests N] [--mode http|ping|set|get]
 *          [--rate R] [--pipeline P] [--keyspace K] [--value-size B]
 *          [--path /] [--timeout S] [--tls CA [--sni NAME]] [--json]
 *
 * C connections are spread over the loops round-robin (one task per
 * connection, started with ax_spawn_with()). Each keeps P requests in flight:
 * it writes up to P requests in one ax_write_all(), then reads replies one
 * by one, and refills the window after each. Modes:
 *   http  GET PATH HTTP/1.1 with keep-alive; a reply is a status line,
 *         headers and a Content-Length (or chunked) body
 *   ping  RESP "PING"
 *   set   RESP "SET key:<n> <B bytes>", n random in [0, K)
 *   get   RESP "GET key:<n>"
 * Every request's latency (send to reply, ns) goes into the histogram of
 * the loop it ran on: log-linear buckets with 128 sub-buckets per power of
 * two (better than 1% resolution, i.e. 2 significant digits), from 1 ns to
 * 2^64 ns, so p99.99 and the maximum are as exact as the median. The tasks
 * of one loop never run at the same time, so no locks; the histograms are
 * merged at the end. The main task prints progress to stderr every second
 * and a summary to stdout at the end (--json: one JSON object instead).
 *
 * Closed loop (the default): each connection sends its next request as
 * soon as a reply frees its window, so a slow server slows the load down
 * and its stalls hide in few samples (coordinated omission). Open loop
 * (--rate R): R requests/s in all, spread evenly over the connections;
 * request k of a connection is due at a fixed time (start + k * C / R,
 * connections staggered by 1/R) and is sent then, or as soon as its
 * window frees. Its latency runs from when it was DUE, as wrk2 measures,
 * so time spent waiting behind a stalled reply counts; the service time
 * (from the actual send) is reported beside it. Requests still not sent
 * when the run ends are counted as "unsent". The loops then use libevent's
 * precise timers (EVENT_PRECISE_TIMER=1), else every wait would be rounded
 * up to the next millisecond.
 *
 * --tls CA speaks TLS (libaxon-tls) to the server, verifying its
 * certificate against the PEM file CA ("system": the system's store;
 * "none": no verification) and the name --sni (default: --host). Every
 * (re)connection runs a full handshake.
 *
 * It stops by itself: after --duration seconds (default 5) or once
 * --requests requests have been sent and answered. It connects only to
 * --host (default 127.0.0.1). Exit status: 0 if at least one request was
 * answered, 1 if none was, 2 for a usage error.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "cli.h"

#include <axon.h>
#if AXON_HAVE_TLS
#include <axon/tls.h>
#endif
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- histogram ---------------------------------------------------------- */

#define SUB_BITS 7                   /* 128 sub-buckets per power of two */
#define SUB (1u << SUB_BITS)
#define NBUCKETS (2 * SUB + (64 - SUB_BITS - 1) * SUB)

typedef struct hist {
    uint64_t count[NBUCKETS];
    uint64_t total, max, min;
    double sum; /* for the mean */
} hist;

static size_t hist_index(uint64_t v)
{
    int msb, e;

    if (v < 2 * SUB)
        return (size_t)v;
    msb = 63 - __builtin_clzll(v);
    e = msb - SUB_BITS; /* >= 1 */
    return 2 * SUB + (size_t)(e - 1) * SUB + (size_t)((v >> e) - SUB);
}

/* The highest value that falls in bucket @p i. */
static uint64_t hist_upper(size_t i)
{
    size_t e, m;

    if (i < 2 * SUB)
        return i;
    e = (i - 2 * SUB) / SUB + 1;
    m = (i - 2 * SUB) % SUB + SUB;
    return (((uint64_t)m + 1) << e) - 1;
}

static void hist_add(hist *h, uint64_t v)
{
    h->count[hist_index(v)]++;
    h->total++;
    h->sum += (double)v;
    if (v > h->max)
        h->max = v;
    if (!h->min || v < h->min)
        h->min = v;
}

static void hist_merge(hist *dst, const hist *src)
{
    for (size_t i = 0; i < NBUCKETS; i++)
        dst->count[i] += src->count[i];
    dst->total += src->total;
    dst->sum += src->sum;
    if (src->max > dst->max)
        dst->max = src->max;
    if (src->min && (!dst->min || src->min < dst->min))
        dst->min = src->min;
}

/* The value at percentile @p p (0..100), HDR style: the bucket's highest
 * equivalent value, but never more than the maximum seen. */
static uint64_t hist_pct(const hist *h, double p)
{
    uint64_t rank, seen = 0;

    if (!h->total)
        return 0;
    rank = (uint64_t)(p / 100.0 * (double)h->total + 0.5);
    if (rank < 1)
        rank = 1;
    for (size_t i = 0; i < NBUCKETS; i++) {
        seen += h->count[i];
        if (seen >= rank) {
            uint64_t u = hist_upper(i);
            return u < h->max ? u : h->max;
        }
    }
    return h->max;
}

/* ---- configuration and per-loop state ------------------------------------ */

enum mode { M_HTTP, M_PING, M_SET, M_GET };

typedef struct config {
    const char *host, *path;
    int port, loops, conns, pipeline;
    double duration, timeout;
    long long requests; /* 0: run for duration */
    double rate;        /* --rate: requests/s in all; 0: closed loop */
    bool json;          /* --json */
    long long keyspace;
    int value_size;
    enum mode mode;
    const char *tls_ca, *sni; /* --tls, --sni */
} config;

/* One per loop; only that loop's tasks write it (counters are atomics so
 * that the main task may read them for the progress line). */
typedef struct loop_stats {
    _Alignas(64) atomic_uint_least64_t done; /* replies received */
    atomic_uint_least64_t errors;            /* failed requests, connects */
    uint64_t non2xx;                         /* HTTP status >= 400 / 1xx */
    uint64_t err_replies;                    /* RESP "-ERR ..." replies */
    uint64_t reconnects;
    uint64_t unsent;                         /* --rate: due, never sent */
    int first_error;                         /* first socket error seen */
    hist h;                                  /* latency */
    hist svc;                                /* --rate: service time */
} loop_stats;

static config cfg;
static loop_stats *stats;          /* [loops] */
static char *http_req;             /* the preformatted HTTP request */
static size_t http_req_len;
static char *value;                /* --value-size bytes */
static atomic_llong issued;        /* requests sent (--requests mode) */
static int64_t deadline_ns;        /* monotonic; 0 in --requests mode */
#if AXON_HAVE_TLS
static ax_tls_ctx *tls_ctx;        /* --tls */
#define TLS_OR(c, tls_call, plain_call) ((c)->t ? (tls_call) : (plain_call))
#else
#define TLS_OR(c, tls_call, plain_call) (plain_call)
#endif

static int64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void count(atomic_uint_least64_t *c, uint64_t n)
{
    /* Single writer: a relaxed load and store, no locked instruction. */
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

/* ---- connections ---------------------------------------------------------- */

typedef struct conn {
    int id;
    loop_stats *st;
    ax_sock *s;
#if AXON_HAVE_TLS
    ax_tls *t;         /* with --tls: the TLS layer over s */
#endif
    uint64_t rng;
    int64_t *sent;     /* ring of send times, [pipeline]; with --rate
                          the times the requests were due */
    int64_t *actual;   /* --rate: ring of actual send times */
    int64_t start_ns;  /* --rate: when request 0 is due */
    double interval;   /* --rate: ns between two requests */
    long long k;       /* --rate: the next request's number */
    bool exhausted;    /* --rate: nothing more will be due */
    int head, inflight;
    char *out;         /* write batch */
    size_t outcap;
    bool server_closes; /* last HTTP reply said Connection: close */
} conn;

static uint64_t next_rand(conn *c)
{
    /* xorshift64 */
    uint64_t x = c->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return c->rng = x;
}

/* May another request be sent? */
static bool may_send(void)
{
    if (cfg.requests)
        return atomic_fetch_add_explicit(&issued, 1, memory_order_relaxed) <
               cfg.requests;
    return mono_ns() < deadline_ns;
}

/* Append one request to c->out at *len. */
static void build(conn *c, size_t *len)
{
    char *p = c->out + *len;
    int n = 0;

    switch (cfg.mode) {
    case M_HTTP:
        memcpy(p, http_req, http_req_len);
        n = (int)http_req_len;
        break;
    case M_PING:
        memcpy(p, "*1\r\n$4\r\nPING\r\n", 14);
        n = 14;
        break;
    case M_SET:
    case M_GET: {
        char key[32];
        int kl = snprintf(key, sizeof key, "key:%llu",
                          (unsigned long long)(next_rand(c) %
                                               (uint64_t)cfg.keyspace));
        if (cfg.mode == M_GET) {
            n = sprintf(p, "*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", kl, key);
        } else {
            n = sprintf(p, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n", kl,
                        key, cfg.value_size);
            memcpy(p + n, value, (size_t)cfg.value_size);
            n += (int)cfg.value_size;
            memcpy(p + n, "\r\n", 2);
            n += 2;
        }
        break;
    }
    }
    *len += (size_t)n;
}

static size_t request_max(void)
{
    if (cfg.mode == M_HTTP)
        return http_req_len;
    return 96 + (size_t)cfg.value_size;
}

/* The socket calls, over TLS with --tls. */
static int c_read_until(conn *c, const char *delim, char **line, size_t *len,
                        size_t max)
{
    return TLS_OR(c,
                  ax_tls_read_until(c->t, delim, line, len, max, cfg.timeout),
                  ax_read_until(c->s, delim, line, len, max, cfg.timeout));
}

static size_t c_buffered(conn *c)
{
    return TLS_OR(c, ax_tls_buffered(c->t), ax_buffered(c->s));
}

/* Read and drop @p n bytes. */
static int skip(conn *c, size_t n)
{
    char sink[8192];

    while (n) {
        size_t k = n < sizeof sink ? n : sizeof sink;
        ssize_t r = TLS_OR(c, ax_tls_read(c->t, sink, k, cfg.timeout),
                           ax_read(c->s, sink, k, cfg.timeout));
        if (r < 0)
            return (int)r;
        if (r == 0)
            return AX_EPIPE;
        n -= (size_t)r;
    }
    return 0;
}

#define E_PROTO (-5001) /* the server's reply made no sense */

static const char *err_text(int rc)
{
    return rc == E_PROTO ? "protocol error in a reply" : ax_strerror(rc);
}

static bool parse_size(const char *p, const char *end, int base, size_t *out)
{
    size_t v = 0;
    int digits = 0;

    for (; p < end; p++) {
        int d = *p >= '0' && *p <= '9'                  ? *p - '0'
                : base == 16 && *p >= 'a' && *p <= 'f' ? *p - 'a' + 10
                : base == 16 && *p >= 'A' && *p <= 'F' ? *p - 'A' + 10
                                                        : -1;
        if (d < 0)
            break;
        if (++digits > 15)
            return false;
        v = v * (size_t)base + (size_t)d;
    }
    *out = v;
    return digits > 0;
}

/* Read one HTTP response; *status receives its code. */
static int read_http(conn *c, int *status)
{
    char *h, *p, *end;
    size_t len, body = 0;
    bool chunked = false, has_len = false;
    int rc;

    c->server_closes = false;
    if ((rc = c_read_until(c, "\r\n\r\n", &h, &len, 65536)))
        return rc == AX_E2BIG ? E_PROTO : rc;
    end = h + len - 2;
    if (len < 16 || memcmp(h, "HTTP/1.", 7) != 0 || h[8] != ' ' ||
        h[9] < '1' || h[9] > '5' || h[10] < '0' || h[10] > '9' ||
        h[11] < '0' || h[11] > '9')
        return E_PROTO;
    *status = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
    bool v10 = h[7] == '0';
    c->server_closes = v10;
    p = (char *)memchr(h, '\n', len) + 1;
    while (p < end) {
        char *eol = memchr(p, '\r', (size_t)(end - p)), *colon, *v;
        if (!eol)
            return E_PROTO;
        colon = memchr(p, ':', (size_t)(eol - p));
        if (colon) {
            size_t nl = (size_t)(colon - p);
            for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
                ;
            if (nl == 14 && !strncasecmp(p, "content-length", 14)) {
                if (!parse_size(v, eol, 10, &body))
                    return E_PROTO;
                has_len = true;
            } else if (nl == 17 && !strncasecmp(p, "transfer-encoding", 17)) {
                chunked = (eol - v) >= 7 && !strncasecmp(eol - 7, "chunked", 7);
            } else if (nl == 10 && !strncasecmp(p, "connection", 10)) {
                if ((eol - v) >= 5 && !strncasecmp(v, "close", 5))
                    c->server_closes = true;
                else if (v10 && (eol - v) >= 10 &&
                         !strncasecmp(v, "keep-alive", 10))
                    c->server_closes = false;
            }
        }
        p = eol + 2;
    }
    if (*status == 204 || *status == 304 || *status < 200)
        return 0; /* no body */
    if (chunked) {
        for (;;) {
            size_t sz;
            if ((rc = c_read_until(c, "\r\n", &h, &len, 1024)))
                return rc == AX_E2BIG ? E_PROTO : rc;
            if (!parse_size(h, h + len, 16, &sz))
                return E_PROTO;
            if (!sz)
                break;
            if ((rc = skip(c, sz + 2)))
                return rc;
        }
        do { /* trailers */
            if ((rc = c_read_until(c, "\r\n", &h, &len, 65536)))
                return rc == AX_E2BIG ? E_PROTO : rc;
        } while (len > 2);
        return 0;
    }
    if (!has_len)
        return E_PROTO; /* a body up to end of stream: not for a benchmark */
    return skip(c, body);
}

/* Read one RESP value (recursively for arrays). */
static int read_resp(conn *c, int depth, bool *is_err)
{
    char *l;
    size_t len, n;
    int rc;

    if ((rc = c_read_until(c, "\r\n", &l, &len, 65536)))
        return rc == AX_E2BIG ? E_PROTO : rc;
    switch (l[0]) {
    case '+':
    case ':':
        return 0;
    case '-':
        *is_err = true;
        return 0;
    case '$':
        if (len >= 4 && l[1] == '-')
            return 0; /* $-1: nil */
        if (!parse_size(l + 1, l + len - 2, 10, &n))
            return E_PROTO;
        return skip(c, n + 2);
    case '*':
        if (len >= 4 && l[1] == '-')
            return 0; /* *-1: nil array */
        if (!parse_size(l + 1, l + len - 2, 10, &n) || depth > 8)
            return E_PROTO;
        for (size_t i = 0; i < n; i++)
            if ((rc = read_resp(c, depth + 1, is_err)))
                return rc;
        return 0;
    default:
        return E_PROTO;
    }
}

static int read_reply(conn *c)
{
    int rc;

    if (cfg.mode == M_HTTP) {
        int status = 0;
        if ((rc = read_http(c, &status)))
            return rc;
        if (status < 200 || status >= 400)
            c->st->non2xx++;
    } else {
        bool is_err = false;
        if ((rc = read_resp(c, 0, &is_err)))
            return rc;
        if (is_err)
            c->st->err_replies++;
    }
    return 0;
}

static void note_error(conn *c, int rc, uint64_t failed)
{
    count(&c->st->errors, failed);
    if (!c->st->first_error)
        c->st->first_error = rc;
}

/* Run requests on one connection until there is nothing more to send or
 * the connection must be remade. @return 0 when done; 1 to reconnect;
 * a negative code on failure (the in-flight requests count as errors). */
static int pump(conn *c)
{
    for (;;) {
        size_t olen = 0;
        int64_t now;
        int rc;

        /* Fill the window; stamp the new requests just before writing. */
        int before = c->inflight;
        while (c->inflight < cfg.pipeline && may_send()) {
            build(c, &olen);
            c->inflight++;
        }
        if (olen) {
            now = mono_ns();
            for (int k = before; k < c->inflight; k++)
                c->sent[(c->head + k) % cfg.pipeline] = now;
            rc = TLS_OR(c, ax_tls_write_all(c->t, c->out, olen, cfg.timeout),
                        ax_write_all(c->s, c->out, olen, cfg.timeout));
            if (rc)
                return rc;
        }
        if (!c->inflight)
            return 0;
        /* One reply, then any others already buffered (no system call),
         * so that the window is refilled with one write. */
        do {
            if ((rc = read_reply(c)))
                return rc;
            now = mono_ns();
            hist_add(&c->st->h, (uint64_t)(now - c->sent[c->head]));
            c->head = (c->head + 1) % cfg.pipeline;
            c->inflight--;
            count(&c->st->done, 1);
            if (c->server_closes)
                return 1;
        } while (c->inflight && c_buffered(c));
    }
}

/* When request c->k is due. */
static int64_t due_at(const conn *c)
{
    return c->start_ns + (int64_t)((double)c->k * c->interval);
}

/* May the request due at @p due be sent now? In --requests mode it takes
 * one of the requests left; in --duration mode both its due time and now
 * must be before the end (an overdue backlog is not sent past it: it
 * counts as unsent, as wrk2 drops it). */
static bool may_send_due(conn *c, int64_t due, int64_t now)
{
    if (cfg.requests) {
        if (atomic_fetch_add_explicit(&issued, 1, memory_order_relaxed) <
            cfg.requests)
            return true;
    } else if (due < deadline_ns && now < deadline_ns) {
        return true;
    }
    c->exhausted = true;
    return false;
}

/* pump() for --rate: send what is due (up to the window), sleep until the
 * next request is due when nothing is in flight, else read a reply. */
static int pump_rate(conn *c)
{
    for (;;) {
        size_t olen = 0;
        int64_t now = mono_ns(), due;
        int rc;

        while (!c->exhausted && c->inflight < cfg.pipeline &&
               (due = due_at(c)) <= now && may_send_due(c, due, now)) {
            int slot = (c->head + c->inflight) % cfg.pipeline;
            build(c, &olen);
            c->sent[slot] = due;
            c->actual[slot] = now;
            c->inflight++;
            c->k++;
        }
        if (olen) {
            rc = TLS_OR(c, ax_tls_write_all(c->t, c->out, olen, cfg.timeout),
                        ax_write_all(c->s, c->out, olen, cfg.timeout));
            if (rc)
                return rc;
        }
        if (!c->inflight) {
            if (c->exhausted)
                return 0;
            due = due_at(c);
            if (!cfg.requests && due >= deadline_ns) {
                c->exhausted = true;
                return 0;
            }
            if (due > now && (rc = ax_sleep_dl(ax_now_ns() + (due - now))))
                return rc;
            continue;
        }
        do {
            if ((rc = read_reply(c)))
                return rc;
            now = mono_ns();
            hist_add(&c->st->h, (uint64_t)(now - c->sent[c->head]));
            hist_add(&c->st->svc, (uint64_t)(now - c->actual[c->head]));
            c->head = (c->head + 1) % cfg.pipeline;
            c->inflight--;
            count(&c->st->done, 1);
            if (c->server_closes)
                return 1;
        } while (c->inflight && c_buffered(c));
    }
}

static void *conn_main(void *arg)
{
    conn *c = arg;
    int rc;

    c->st = &stats[ax_loop_index(ax_loop_current())];
    for (;;) {
        if (c->exhausted || (cfg.requests ? atomic_load(&issued) >= cfg.requests
                                          : mono_ns() >= deadline_ns))
            break;
#if AXON_HAVE_TLS
        if (tls_ctx) {
            rc = ax_tls_connect(&c->t, tls_ctx, cfg.host, cfg.port, cfg.sni,
                                cfg.timeout);
            if (!rc)
                c->s = ax_tls_sock(c->t);
            else if (rc != AX_ECANCELED && !c->st->first_error)
                fprintf(stderr, "axload: TLS: %s\n", ax_tls_last_error());
        } else
#endif
            rc = ax_connect(&c->s, cfg.host, cfg.port, cfg.timeout);
        if (rc) {
            if (rc == AX_ECANCELED)
                break;
            note_error(c, rc, 1);
            break; /* a refused connect ends this connection */
        }
        c->head = 0;
        c->inflight = 0;
        rc = cfg.rate > 0 ? pump_rate(c) : pump(c);
#if AXON_HAVE_TLS
        if (c->t) {
            ax_tls_close(c->t);
            c->t = NULL;
        } else
#endif
            ax_close(c->s);
        c->s = NULL;
        if (rc == 0)
            break;
        if (rc < 0) {
            if (rc == AX_ECANCELED)
                break;
            note_error(c, rc, c->inflight ? (uint64_t)c->inflight : 1);
        }
        c->st->reconnects++;
    }
    if (cfg.rate > 0 && !cfg.requests) {
        /* Due before the end but never sent: the server (or we) fell
         * behind the schedule. */
        int64_t due = due_at(c);
        if (due < deadline_ns) {
            double n = (double)(deadline_ns - due) / c->interval;
            uint64_t u = (uint64_t)n;
            c->st->unsent += u + ((double)u < n);
        }
    }
    return NULL;
}

/* ---- main --------------------------------------------------------------- */

static void fmt_ns(char *buf, size_t n, uint64_t ns)
{
    if (ns < 1000)
        snprintf(buf, n, "%lluns", (unsigned long long)ns);
    else if (ns < 1000000)
        snprintf(buf, n, "%.2fus", (double)ns / 1e3);
    else if (ns < 1000000000)
        snprintf(buf, n, "%.2fms", (double)ns / 1e6);
    else
        snprintf(buf, n, "%.2fs", (double)ns / 1e9);
}

static uint64_t sum_done(uint64_t *errors)
{
    uint64_t n = 0;

    *errors = 0;
    for (int i = 0; i < cfg.loops; i++) {
        n += atomic_load_explicit(&stats[i].done, memory_order_relaxed);
        *errors += atomic_load_explicit(&stats[i].errors,
                                        memory_order_relaxed);
    }
    return n;
}

static bool progress_stop;

static void *progress_task(void *arg)
{
    int64_t t0 = *(int64_t *)arg, last_t = t0;
    uint64_t last = 0;

    /* Each line at t0 + k seconds, not a second after the last: this task
     * first runs only after every connection's task was spawned, which
     * under a sanitizer on a loaded machine takes long enough that a run
     * of 1.3 s could end before a relative first second. */
    for (int64_t k = 1; !progress_stop; k++) {
        int64_t wait = t0 + k * 1000000000 - mono_ns();
        if (wait > 0 && ax_sleep_ns(wait))
            break;
        int64_t t = mono_ns();
        uint64_t errors, n = sum_done(&errors);
        char target[48] = "";
        if (cfg.rate > 0)
            snprintf(target, sizeof target, " (target %.0f)", cfg.rate);
        fprintf(stderr,
                "axload: %5.1fs %12llu requests %10.0f req/s%s %llu errors\n",
                (double)(t - t0) / 1e9, (unsigned long long)n,
                (double)(n - last) * 1e9 / (double)(t - last_t), target,
                (unsigned long long)errors);
        last = n;
        last_t = t;
        k = (t - t0) / 1000000000; /* late: the next whole second */
    }
    return NULL;
}

static const char *mode_name(enum mode m)
{
    return m == M_HTTP ? "http" : m == M_PING ? "ping" : m == M_SET ? "set"
                                                                     : "get";
}

/* ---- the summary ---------------------------------------------------------- */

typedef struct totals {
    hist h, svc;
    uint64_t done, errors, non2xx, err_replies, reconnects, unsent;
    int first_error;
    double secs;
} totals;

/* The percentiles reported, in text and JSON. */
static const struct {
    const char *name;
    double p;
} pcts[] = {{"p50", 50},     {"p75", 75},        {"p90", 90},
            {"p99", 99},     {"p99.9", 99.9},    {"p99.99", 99.99}};
#define NPCTS (sizeof pcts / sizeof pcts[0])

static void text_hist(const char *label, const hist *h)
{
    char v[32];

    printf("%-11s", label);
    for (size_t i = 0; i < NPCTS; i++) {
        fmt_ns(v, sizeof v, hist_pct(h, pcts[i].p));
        printf(" %s %s ", pcts[i].name, v);
    }
    fmt_ns(v, sizeof v, h->max);
    printf(" max %s\n", v);
}

static void report_text(const totals *t, int nl)
{
    printf("axload: %s%s %s:%d%s, %d connections, %d loops, pipeline %d",
           mode_name(cfg.mode), cfg.tls_ca ? " over TLS" : "", cfg.host,
           cfg.port, cfg.mode == M_HTTP ? cfg.path : "", cfg.conns, nl,
           cfg.pipeline);
    if (cfg.rate > 0)
        printf(", open loop at %.0f req/s", cfg.rate);
    printf("\n");
    printf("requests:   %llu\n", (unsigned long long)t->done);
    printf("errors:     %llu", (unsigned long long)t->errors);
    if (t->first_error)
        printf(" (first: %s)", err_text(t->first_error));
    printf("\n");
    if (cfg.mode == M_HTTP)
        printf("non-2xx/3xx: %llu\n", (unsigned long long)t->non2xx);
    else
        printf("error replies: %llu\n", (unsigned long long)t->err_replies);
    if (t->reconnects)
        printf("reconnects: %llu\n", (unsigned long long)t->reconnects);
    if (cfg.rate > 0 && !cfg.requests)
        printf("unsent:     %llu (due, but the run ended first)\n",
               (unsigned long long)t->unsent);
    printf("duration:   %.2f s\n", t->secs);
    printf("requests/s: %.1f\n",
           t->secs > 0 ? (double)t->done / t->secs : 0.0);
    text_hist("latency:", &t->h);
    if (cfg.rate > 0)
        text_hist("service:", &t->svc);
}

/* @p s as a JSON string. */
static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

static void json_hist(const char *name, const hist *h)
{
    printf("  \"%s\": {\"count\": %llu, \"min\": %llu, \"mean\": %.0f", name,
           (unsigned long long)h->total, (unsigned long long)h->min,
           h->total ? h->sum / (double)h->total : 0.0);
    for (size_t i = 0; i < NPCTS; i++)
        printf(", \"%s\": %llu", pcts[i].name,
               (unsigned long long)hist_pct(h, pcts[i].p));
    printf(", \"max\": %llu}", (unsigned long long)h->max);
}

/* One JSON object on stdout, for CI and bench/servers.sh; latencies in
 * nanoseconds. */
static void report_json(const totals *t, int nl)
{
    printf("{\n  \"tool\": \"axload\",\n  \"mode\": \"%s\",\n  \"tls\": %s,\n"
           "  \"host\": ",
           mode_name(cfg.mode), cfg.tls_ca ? "true" : "false");
    json_str(cfg.host);
    printf(",\n  \"port\": %d,\n  \"path\": ", cfg.port);
    json_str(cfg.mode == M_HTTP ? cfg.path : "");
    printf(",\n  \"connections\": %d,\n  \"loops\": %d,\n  \"pipeline\": %d,\n",
           cfg.conns, nl, cfg.pipeline);
    if (cfg.rate > 0)
        printf("  \"rate\": %.17g,\n", cfg.rate);
    else
        printf("  \"rate\": null,\n");
    printf("  \"duration_s\": %.6f,\n  \"requests\": %llu,\n"
           "  \"requests_per_s\": %.1f,\n  \"errors\": %llu,\n",
           t->secs, (unsigned long long)t->done,
           t->secs > 0 ? (double)t->done / t->secs : 0.0,
           (unsigned long long)t->errors);
    printf("  \"first_error\": ");
    if (t->first_error)
        json_str(err_text(t->first_error));
    else
        printf("null");
    printf(",\n  \"non2xx\": %llu,\n  \"error_replies\": %llu,\n"
           "  \"reconnects\": %llu,\n  \"unsent\": %llu,\n",
           (unsigned long long)t->non2xx, (unsigned long long)t->err_replies,
           (unsigned long long)t->reconnects, (unsigned long long)t->unsent);
    json_hist("latency_ns", &t->h);
    if (cfg.rate > 0) {
        printf(",\n");
        json_hist("service_ns", &t->svc);
    }
    printf("\n}\n");
}

static void *main_task(void *arg)
{
    conn *conns;
    ax_task **tasks, *prog;
    int64_t t0, t1;
    int rc, nl = ax_loop_count();

    (void)arg;
    cfg.loops = nl;
    stats = calloc((size_t)nl, sizeof *stats);
    conns = calloc((size_t)cfg.conns, sizeof *conns);
    tasks = calloc((size_t)cfg.conns, sizeof *tasks);
    if (!stats || !conns || !tasks)
        return ax_task_fail(AX_ENOMEM);
    for (int i = 0; i < cfg.conns; i++) {
        conn *c = &conns[i];
        c->id = i;
        c->rng = 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1);
        c->sent = calloc((size_t)cfg.pipeline, sizeof *c->sent);
        c->actual = calloc((size_t)cfg.pipeline, sizeof *c->actual);
        c->outcap = (size_t)cfg.pipeline * request_max();
        c->out = malloc(c->outcap);
        if (!c->sent || !c->actual || !c->out)
            return ax_task_fail(AX_ENOMEM);
    }
    t0 = mono_ns();
    if (!cfg.requests)
        deadline_ns = t0 + (int64_t)(cfg.duration * 1e9);
    for (int i = 0; i < cfg.conns; i++) {
        /* Each connection carries R/C requests/s; connection i's first is
         * due i/R after the start, so the sends interleave evenly. */
        conns[i].interval = 1e9 * cfg.conns / (cfg.rate > 0 ? cfg.rate : 1);
        conns[i].start_ns = t0 + (int64_t)(1e9 * i /
                                           (cfg.rate > 0 ? cfg.rate : 1));
    }
    for (int i = 0; i < cfg.conns; i++) {
        ax_task_opts o = {.name = "conn", .loop = ax_loop_at(i % nl)};
#if AXON_HAVE_TLS
        if (tls_ctx)
            o.stack_size = AX_TLS_STACK_SIZE; /* OpenSSL's handshake */
#endif
        rc = ax_spawn_with(&tasks[i], conn_main, &conns[i], &o);
        if (rc) {
            fprintf(stderr, "axload: ax_spawn_with: %s\n", ax_strerror(rc));
            for (int j = 0; j < i; j++)
                ax_cancel(tasks[j]);
            for (int j = 0; j < i; j++)
                ax_await(tasks[j], NULL);
            return ax_task_fail(rc);
        }
    }
    if ((rc = ax_spawn(&prog, progress_task, &t0))) {
        fprintf(stderr, "axload: ax_spawn: %s\n", ax_strerror(rc));
        return ax_task_fail(rc);
    }
    for (int i = 0; i < cfg.conns; i++)
        if ((rc = ax_await(tasks[i], NULL)))
            fprintf(stderr, "axload: connection %d: %s\n", i,
                    ax_strerror(rc));
    t1 = mono_ns();
    progress_stop = true;
    ax_cancel(prog);
    ax_await(prog, NULL); /* AX_ECANCELED: expected */

    /* Merge and report. */
    totals *tot = calloc(1, sizeof *tot);
    if (!tot)
        return ax_task_fail(AX_ENOMEM);
    for (int i = 0; i < nl; i++) {
        hist_merge(&tot->h, &stats[i].h);
        hist_merge(&tot->svc, &stats[i].svc);
        tot->done += atomic_load(&stats[i].done);
        tot->errors += atomic_load(&stats[i].errors);
        tot->non2xx += stats[i].non2xx;
        tot->err_replies += stats[i].err_replies;
        tot->reconnects += stats[i].reconnects;
        tot->unsent += stats[i].unsent;
        if (!tot->first_error)
            tot->first_error = stats[i].first_error;
    }
    tot->secs = (double)(t1 - t0) / 1e9;
    if (cfg.json)
        report_json(tot, nl);
    else
        report_text(tot, nl);
    uint64_t done = tot->done;
    fflush(stdout);
    free(tot);
    for (int i = 0; i < cfg.conns; i++) {
        free(conns[i].sent);
        free(conns[i].actual);
        free(conns[i].out);
    }
    free(conns);
    free(tasks);
    free(stats);
    return (void *)(intptr_t)(done > 0);
}

int main(int argc, char **argv)
{
    static const srv_choice modes[] = {{"http", M_HTTP},
                                       {"ping", M_PING},
                                       {"set", M_SET},
                                       {"get", M_GET},
                                       {NULL, 0}};
    bool have_duration = false;
    int mode = M_HTTP;
    const char *rate_arg = NULL;
    const srv_opt own[] = {
        {"connections", "C", SRV_INT, &cfg.conns, 1, 100000, NULL,
         "connections, round-robin over the loops (default 64)", NULL},
        {"duration", "S", SRV_SECONDS, &cfg.duration, 0.001, 86400, NULL,
         "run for S seconds (default 5)", &have_duration},
        {"requests", "N", SRV_LLONG, &cfg.requests, 1, 1e15, NULL,
         "or stop after N requests in all (not with --duration)", NULL},
        {"mode", "M", SRV_CHOICE, &mode, 0, 0, modes,
         "http (GET, keep-alive; default), or RESP: ping, set, get", NULL},
        {"pipeline", "P", SRV_INT, &cfg.pipeline, 1, 1024, NULL,
         "requests in flight per connection (default 1)", NULL},
        {"rate", "R", SRV_STRING, &rate_arg, 0, 0, NULL,
         "open loop: R requests/s in all, spread over the\n"
         "connections; latency from each request's due time\n"
         "(default: closed loop, as fast as replies come)", NULL},
        {"json", NULL, SRV_FLAG, &cfg.json, 0, 0, NULL,
         "print the summary as one JSON object (latencies in ns)", NULL},
        {"keyspace", "K", SRV_LLONG, &cfg.keyspace, 1, 1e12, NULL,
         "keys key:0 .. key:K-1 (default 10000)", NULL},
        {"value-size", "B", SRV_INT, &cfg.value_size, 0, 1 << 20, NULL,
         "SET value size in bytes (default 32)", NULL},
        {"path", "PATH", SRV_STRING, &cfg.path, 0, 0, NULL,
         "HTTP path (default /)", NULL},
        {"timeout", "S", SRV_SECONDS, &cfg.timeout, 0.001, 3600, NULL,
         "per read/write/connect timeout (default 5)", NULL},
        {"tls", "CA", SRV_STRING, &cfg.tls_ca, 0, 0, NULL,
         "speak TLS; verify the server against the PEM file CA,\n"
         "\"system\" (the system's CAs) or \"none\" (no check)", NULL},
        {"sni", "NAME", SRV_STRING, &cfg.sni, 0, 0, NULL,
         "with --tls: the server name to send and check (default --host)",
         NULL},
        {.name = NULL}};
    srv_cli cli = {.prog = "axload", .about = "a load generator",
                   .host = "127.0.0.1", .loops = 1, .port_required = true,
                   .client = true, .opts = own};
    ax_opts opts = {0};
    void *res = NULL;
    int rc;

    cfg = (config){.path = "/", .conns = 64, .pipeline = 1, .duration = 5.0,
                   .timeout = 5.0, .keyspace = 10000, .value_size = 32};
    if ((rc = srv_parse(&cli, argc, argv)) >= 0)
        return rc;
    cfg.host = cli.host;
    cfg.port = cli.port;
    cfg.loops = cli.loops;
    cfg.mode = (enum mode)mode;
    if (cfg.path[0] != '/' || strpbrk(cfg.path, " \r\n"))
        return srv_usage_error(&cli, "--path: '%s' does not start with '/' "
                                     "or has a space or line break",
                               cfg.path);
    if (rate_arg) {
        char *end;
        cfg.rate = strtod(rate_arg, &end);
        /* (NaN fails every comparison) */
        if (!*rate_arg || *end || !(cfg.rate > 0 && cfg.rate <= 1e9))
            return srv_usage_error(&cli, "--rate: '%s' is not a rate in "
                                         "requests/s (a number > 0, at most "
                                         "1e9)",
                                   rate_arg);
    }
    if (have_duration && cfg.requests)
        return srv_usage_error(&cli, "--duration and --requests exclude "
                                     "each other");
    if (cfg.mode == M_HTTP) {
        size_t n = strlen(cfg.path) + strlen(cfg.host) + 64;
        http_req = malloc(n);
        if (!http_req)
            return 1;
        /* wrk's request, byte for byte. */
        http_req_len = (size_t)snprintf(http_req, n,
                                        "GET %s HTTP/1.1\r\nHost: %s:%d\r\n\r\n",
                                        cfg.path, cfg.host, cfg.port);
    }
    if (cfg.sni && !cfg.tls_ca)
        return srv_usage_error(&cli, "--sni needs --tls");
#if AXON_HAVE_TLS
    if (cfg.tls_ca) {
        ax_tls_opts to = {.insecure = !strcmp(cfg.tls_ca, "none")};
        if (strcmp(cfg.tls_ca, "none") && strcmp(cfg.tls_ca, "system"))
            to.ca_file = cfg.tls_ca;
        if (cfg.mode == M_HTTP)
            to.alpn = "http/1.1";
        if ((rc = ax_tls_ctx_new(&tls_ctx, AX_TLS_CLIENT, &to))) {
            fprintf(stderr, "axload: --tls %s: %s: %s\n", cfg.tls_ca,
                    ax_strerror(rc), ax_tls_last_error());
            return 1;
        }
    }
#else
    if (cfg.tls_ca)
        return srv_usage_error(&cli, "--tls: axon was built without OpenSSL "
                                     "(configure --with-openssl)");
#endif
    value = malloc((size_t)cfg.value_size + 1);
    if (!value)
        return 1;
    memset(value, 'x', (size_t)cfg.value_size);
    opts.loops = cfg.loops;
    /* Open loop: requests are due at exact times, and libevent's epoll
     * back-end otherwise rounds every timer up to the next millisecond,
     * which would show as latency. Its precise timers (a timerfd) are
     * asked for through the environment, unless the user set it. */
    if (cfg.rate > 0)
        setenv("EVENT_PRECISE_TIMER", "1", 0);
    rc = ax_run_with(&opts, main_task, NULL, &res);
#if AXON_HAVE_TLS
    ax_tls_ctx_free(tls_ctx);
#endif
    free(http_req);
    free(value);
    if (rc) {
        fprintf(stderr, "axload: %s\n", ax_strerror(rc));
        return 1;
    }
    return res ? 0 : 1;
}
