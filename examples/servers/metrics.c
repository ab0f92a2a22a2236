/* SPDX-License-Identifier: MIT */
/*
 * metrics.c: the --metrics listener of the example servers; see
 * metrics.h.
 *
 * ax_stats_prometheus() prints the runtime's counters and the CALLING
 * loop's, so a request runs it once on each loop (a task spawned there,
 * awaited from here) and merges the texts: Prometheus wants every sample
 * of a metric family in one group, under one HELP and TYPE, so the
 * samples of loops 1.. are put under loop 0's, and their runtime-wide
 * lines (which every loop prints alike) are dropped.
 */
#include "metrics.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HEAD ((size_t)8192)
#define IO_TIMEOUT 5.0

typedef struct metrics {
    const char *prog;
    int port;
    ax_future *ready; /* completed by ready() with the port bound */
} metrics;

/* Runs on one loop: that loop's text, malloc'd (the awaiter frees it). */
static void *loop_text(void *arg)
{
    size_t cap = 4096, len = 0;
    char *buf = NULL;
    int rc;

    (void)arg;
    for (;;) {
        char *nb = realloc(buf, cap);
        if (!nb) {
            free(buf);
            return ax_task_fail(AX_ENOMEM);
        }
        buf = nb;
        rc = ax_stats_prometheus(buf, cap, &len);
        if (rc != AX_E2BIG)
            break;
        cap = len + 1;
    }
    if (rc) {
        free(buf);
        return ax_task_fail(rc);
    }
    return buf;
}

/* The line of @p text that starts with @p name followed by '{', or NULL;
 * *len receives its length with the '\n'. */
static const char *find_sample(const char *text, const char *name,
                               size_t nlen, size_t *len)
{
    for (const char *p = text; *p;) {
        const char *eol = strchr(p, '\n');
        size_t l = eol ? (size_t)(eol - p) + 1 : strlen(p);
        if (l > nlen && !strncmp(p, name, nlen) && p[nlen] == '{') {
            *len = l;
            return p;
        }
        p += l;
    }
    return NULL;
}

/* Every loop's text, merged (see the top); malloc'd, or NULL with *rc. */
static char *collect(size_t *out_len, int *rc)
{
    int n = ax_loop_count();
    char **texts = calloc((size_t)n, sizeof *texts);
    char *out = NULL;
    size_t cap = 0, len = 0;

    *rc = texts ? 0 : AX_ENOMEM;
    for (int i = 0; i < n && !*rc; i++) {
        ax_task_opts o = {.name = "metrics-loop", .loop = ax_loop_at(i)};
        ax_task *t;
        void *res = NULL;
        if (!(*rc = ax_spawn_with(&t, loop_text, NULL, &o)) &&
            !(*rc = ax_await(t, &res)))
            texts[i] = res;
    }
    for (int i = 0; i < n && !*rc; i++)
        cap += strlen(texts[i]);
    if (!*rc && !(out = malloc(cap + 1)))
        *rc = AX_ENOMEM;
    for (const char *p = *rc ? "" : texts[0]; *p;) {
        const char *eol = strchr(p, '\n'), *brace;
        size_t l = eol ? (size_t)(eol - p) + 1 : strlen(p);
        memcpy(out + len, p, l);
        len += l;
        brace = memchr(p, '{', l);
        if (*p != '#' && brace) { /* a per-loop sample: the others' */
            for (int i = 1; i < n; i++) {
                size_t sl;
                const char *s = find_sample(texts[i], p, (size_t)(brace - p),
                                            &sl);
                if (s) {
                    memcpy(out + len, s, sl);
                    len += sl;
                }
            }
        }
        p += l;
    }
    if (out)
        out[len] = '\0';
    for (int i = 0; texts && i < n; i++)
        free(texts[i]);
    free(texts);
    *out_len = len;
    return out;
}

static void reply(ax_sock *c, const char *status, const char *type,
                  const char *body, size_t blen)
{
    char head[256];
    int hl = snprintf(head, sizeof head,
                      "HTTP/1.1 %s\r\nContent-Type: %s\r\n"
                      "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                      status, type, blen);

    if (ax_write_all(c, head, (size_t)hl, IO_TIMEOUT) == 0 && blen)
        ax_write_all(c, body, blen, IO_TIMEOUT);
}

static void metrics_conn(ax_sock *c, void *arg)
{
    char *h, *body;
    size_t len, blen;
    int rc;

    (void)arg;
    if (ax_read_until(c, "\r\n\r\n", &h, &len, MAX_HEAD, IO_TIMEOUT))
        return; /* closed, too long, too slow: nothing to answer */
    /* (the shortest request head, "GET / HTTP/1.0\r\n\r\n", is 18) */
    if (len < 16 || (memcmp(h, "GET ", 4) && memcmp(h, "HEAD ", 5))) {
        reply(c, "405 Method Not Allowed", "text/plain", "", 0);
        return;
    }
    const char *path = h[0] == 'G' ? h + 4 : h + 5;
    if (strncmp(path, "/metrics", 8) ||
        (path[8] != ' ' && path[8] != '?')) {
        reply(c, "404 Not Found", "text/plain", "not found\n", 10);
        return;
    }
    if (!(body = collect(&blen, &rc))) {
        reply(c, "500 Internal Server Error", "text/plain", "", 0);
        return;
    }
    reply(c, "200 OK", "text/plain; version=0.0.4; charset=utf-8", body,
          h[0] == 'G' ? blen : 0);
    free(body);
}

static void ready(int port, void *arg)
{
    metrics *m = arg;

    m->port = port;
    ax_future_set_result(m->ready, NULL);
}

static void *metrics_main(void *arg)
{
    metrics *m = arg;
    /* One listener, on this loop; the requests are rare. */
    ax_serve_opts so = {.mode = AX_SERVE_ACCEPTOR, .loops = 1,
                        .ready = ready};
    int rc = ax_serve("127.0.0.1", m->port, metrics_conn, m, &so);

    return rc == AX_ECANCELED ? NULL : ax_task_fail(rc);
}

int srv_metrics_start(const char *prog, int port, ax_task **out)
{
    static metrics m; /* one per process */
    ax_task_opts o = {.name = "metrics"};
    ax_future *futs[2];
    ax_task *t;
    size_t which = 0;
    int rc;

    m = (metrics){.prog = prog, .port = port};
    *out = NULL;
    if ((rc = ax_future_new(&m.ready)))
        goto fail;
    if ((rc = ax_spawn_with(&t, metrics_main, &m, &o))) {
        ax_future_free(m.ready);
        goto fail;
    }
    futs[0] = m.ready;
    futs[1] = ax_task_future(t);
    rc = ax_wait_any(futs, 2, -1, &which);
    ax_future_free(m.ready);
    if (rc || which == 1) { /* ax_serve failed (or we were cancelled) */
        ax_cancel(t);
        int trc = ax_await(t, NULL);
        rc = rc ? rc : trc;
        goto fail;
    }
    fprintf(stderr, "%s: metrics on http://127.0.0.1:%d/metrics\n", prog,
            m.port);
    *out = t;
    return 0;
fail:
    fprintf(stderr, "%s: --metrics %d: %s\n", prog, port, ax_strerror(rc));
    return rc;
}

void srv_metrics_stop(ax_task *t)
{
    if (!t)
        return;
    ax_cancel(t);
    ax_await(t, NULL); /* AX_ECANCELED: expected */
}

/* ---- kill -QUIT: the task dump ------------------------------------------- */

static const char *dump_prog;

/* Posted to each loop: ax_dump_tasks() speaks for the calling loop only. */
static void dump_here(void *arg)
{
    (void)arg;
    fprintf(stderr, "%s: loop %d:\n", dump_prog,
            ax_loop_index(ax_loop_current()));
    ax_dump_tasks(stderr);
}

static void *dump_main(void *arg)
{
    (void)arg;
    while (ax_signal_wait(SIGQUIT, -1) == 0)
        for (int i = 0; i < ax_loop_count(); i++)
            ax_loop_post(ax_loop_at(i), dump_here, NULL);
    return NULL;
}

int srv_dump_on_sigquit(const char *prog)
{
    ax_task_opts o = {.name = "sigquit-dump"};
    ax_task *t;
    int rc;

    dump_prog = prog;
    /* A timeout of 0 installs the catcher now: a SIGQUIT that comes
     * before the task first waits must not end the process. */
    rc = ax_signal_wait(SIGQUIT, 0);
    if (rc == AX_ETIMEDOUT)
        rc = ax_spawn_with(&t, dump_main, NULL, &o);
    if (rc) {
        fprintf(stderr, "%s: SIGQUIT task dump: %s\n", prog,
                ax_strerror(rc));
        return rc;
    }
    ax_task_detach(t);
    return 0;
}
