/* SPDX-License-Identifier: MIT */
/*
 * The optional trace (AX_TRACE=file.json or ax_opts.trace) in Chrome's trace
 * event format, which Perfetto and chrome://tracing draw as one timeline
 * per loop; the log callback behind ax_opts.log; Prometheus text for the
 * stats.
 *
 * Off, the trace costs one predictable branch on a pointer the code
 * already has in cache (ax_loop.pub.trace) at each traced point. On, each
 * loop appends events to a buffer of its own, so loops never contend per
 * event; a full buffer (and the loop's end) is copied to the file under
 * the runtime's lock. Events: a "spawn" instant when a task arrives on its
 * loop, one slice per run of a task from start or resume to suspend,
 * yield or end (the end says its status, a suspension what it waits for),
 * "send"/"ask" instants from the actor layer, and for each cross-loop
 * message a "hop" instant on the sending loop and an "inbox" instant with
 * the count on the receiving one.
 */
#include "internal.h"
#include "axon.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TBUF_FLUSH ((size_t)256 * 1024)

struct ax__trace {
    FILE *out;
    pthread_mutex_t lock;
    int64_t t0;
    bool failed;
};

struct ax__tbuf {
    char *buf;
    size_t len, cap;
    ax__trace *tr;
    int tid;
};

static void tb_flush(ax__tbuf *b)
{
    if (!b->len)
        return;
    pthread_mutex_lock(&b->tr->lock);
    if (fwrite(b->buf, 1, b->len, b->tr->out) != b->len)
        b->tr->failed = true;
    pthread_mutex_unlock(&b->tr->lock);
    b->len = 0;
}

static void tb_vappend(ax__tbuf *b, const char *fmt, va_list ap)
{
    for (;;) {
        va_list cp;
        int n;

        va_copy(cp, ap);
        n = vsnprintf(b->buf + b->len, b->cap - b->len, fmt, cp);
        va_end(cp);
        if (n < 0)
            return;
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            break;
        }
        if (b->len) {
            tb_flush(b); /* room again, then format once more */
            continue;
        }
        /* One event larger than the buffer: grow it. */
        char *nb = realloc(b->buf, (size_t)n + 1);
        if (!nb)
            return;
        b->buf = nb;
        b->cap = (size_t)n + 1;
    }
    if (b->len >= TBUF_FLUSH)
        tb_flush(b);
}

static void tb_append(ax__tbuf *b, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    tb_vappend(b, fmt, ap);
    va_end(ap);
}

/* A JSON string's contents: task names are the application's. */
static void json_str(char *dst, size_t cap, const char *s)
{
    size_t o = 0;

    for (; s && *s && o + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            dst[o++] = '\\';
            dst[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)snprintf(dst + o, cap - o, "\\u%04x", c);
        } else {
            dst[o++] = (char)c;
        }
    }
    dst[o] = '\0';
}

static double ts_us(const ax__tbuf *b)
{
    return (double)(ax__mono_ns() - b->tr->t0) / 1e3;
}

int ax__trace_open(ax__rt *rt, const ax_opts *opts)
{
    const char *path = opts && opts->trace ? opts->trace : getenv("AX_TRACE");
    ax__trace *tr;

    if (!path || !path[0])
        return 0;
    tr = calloc(1, sizeof *tr);
    if (!tr)
        return AX_ENOMEM;
    tr->out = fopen(path, "w");
    if (!tr->out) {
        int rc = errno ? -errno : AX_EINVAL;
        free(tr);
        return rc;
    }
    pthread_mutex_init(&tr->lock, NULL);
    tr->t0 = ax__mono_ns();
    fprintf(tr->out,
            "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n"
            "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%ld,\"tid\":0,"
            "\"args\":{\"name\":\"axon\"}}",
            (long)getpid());
    rt->trace = tr;
    return 0;
}

int ax__trace_close(ax__rt *rt)
{
    ax__trace *tr = rt->trace;
    int rc = 0;

    if (!tr)
        return 0;
    fputs("\n]}\n", tr->out);
    if (fclose(tr->out) != 0 || tr->failed)
        rc = AX_EINVAL;
    pthread_mutex_destroy(&tr->lock);
    free(tr);
    rt->trace = NULL;
    return rc;
}

/* On the loop's thread, when it starts running. */
void ax__trace_loop_start(ax_loop *L)
{
    ax__tbuf *b;

    if (!L->rt->trace)
        return;
    b = calloc(1, sizeof *b);
    if (!b)
        return; /* this loop is left out of the trace */
    b->cap = TBUF_FLUSH + 4096;
    b->buf = malloc(b->cap);
    if (!b->buf) {
        free(b);
        return;
    }
    b->tr = L->rt->trace;
    b->tid = L->pub.index;
    tb_append(b,
              ",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%ld,"
              "\"tid\":%d,\"args\":{\"name\":\"loop %d\"}}",
              (long)getpid(), b->tid, b->tid);
    L->pub.trace = b;
}

/* On the loop's thread, when it is done running. */
void ax__trace_loop_end(ax_loop *L)
{
    ax__tbuf *b = L->pub.trace;

    if (!b)
        return;
    L->pub.trace = NULL;
    tb_flush(b);
    free(b->buf);
    free(b);
}

void ax__trace_task(ax_loop *L, ax_task *t, char ph, const char *what,
                    int status)
{
    ax__tbuf *b = L->pub.trace;
    char name[2 * sizeof t->name + 16];

    json_str(name, sizeof name, ax__task_name(t));
    if (ph == 'B') {
        tb_append(b,
                  ",\n{\"name\":\"%s\",\"cat\":\"task\",\"ph\":\"B\","
                  "\"ts\":%.3f,\"pid\":%ld,\"tid\":%d,"
                  "\"args\":{\"id\":%" PRIu64 "}}",
                  name, ts_us(b), (long)getpid(), b->tid, t->id);
    } else if (ph == 'E') {
        /* what: "end", "yield" or what a suspension waits for. */
        char w[64];
        json_str(w, sizeof w, what ? what : "suspend");
        tb_append(b,
                  ",\n{\"ph\":\"E\",\"ts\":%.3f,\"pid\":%ld,\"tid\":%d,"
                  "\"args\":{\"then\":\"%s\",\"status\":\"%s\"}}",
                  ts_us(b), (long)getpid(), b->tid, w,
                  ax_err_name(status));
    } else { /* 'i': spawn */
        tb_append(b,
                  ",\n{\"name\":\"spawn\",\"cat\":\"task\",\"ph\":\"i\","
                  "\"s\":\"t\",\"ts\":%.3f,\"pid\":%ld,\"tid\":%d,"
                  "\"args\":{\"task\":\"%s\",\"id\":%" PRIu64 "}}",
                  ts_us(b), (long)getpid(), b->tid, name, t->id);
    }
}

void ax__trace_instant(ax__tbuf *b, const char *name, const char *cat,
                       const char *k1, int64_t v1, const char *k2,
                       int64_t v2)
{
    tb_append(b,
              ",\n{\"name\":\"%s\",\"cat\":\"%s\",\"ph\":\"i\",\"s\":\"t\","
              "\"ts\":%.3f,\"pid\":%ld,\"tid\":%d,\"args\":{\"%s\":%" PRId64
              ",\"%s\":%" PRId64 "}}",
              name, cat, ts_us(b), (long)getpid(), b->tid, k1, v1, k2, v2);
}

/* ---- ax_opts.log: reports line by line to a callback ------------------ */

typedef struct logsink {
    ax_log_fn fn;
    void *arg;
    size_t len;
    char line[1024];
} logsink;

static void sink_emit(logsink *s)
{
    s->line[s->len] = '\0';
    s->fn(s->arg, s->line);
    s->len = 0;
}

static ssize_t sink_write(void *cookie, const char *buf, size_t n)
{
    logsink *s = cookie;

    for (size_t i = 0; i < n; i++) {
        if (buf[i] == '\n') {
            sink_emit(s);
            continue;
        }
        /* A longer line is handed over in pieces rather than cut. */
        if (s->len == sizeof s->line - 1)
            sink_emit(s);
        s->line[s->len++] = buf[i];
    }
    return (ssize_t)n;
}

static int sink_close(void *cookie)
{
    logsink *s = cookie;

    if (s->len)
        sink_emit(s);
    free(s);
    return 0;
}

FILE *ax__log_open(ax_log_fn fn, void *arg)
{
    cookie_io_functions_t io = {.write = sink_write, .close = sink_close};
    logsink *s = calloc(1, sizeof *s);
    FILE *f;

    if (!s)
        return NULL;
    s->fn = fn;
    s->arg = arg;
    f = fopencookie(s, "w", io);
    if (!f) {
        free(s);
        return NULL;
    }
    setvbuf(f, NULL, _IOLBF, 0);
    return f;
}

/* ---- Prometheus text --------------------------------------------------- */

int ax_stats_prometheus(char *buf, size_t cap, size_t *len)
{
    ax_loop *L = ax__tls_loop;
    ax_runtime_stats rs;
    ax_loop_stats ls;
    size_t o = 0;
    int idx;

    if (!buf && cap)
        return AX_EINVAL;
    if (!L)
        return AX_EPERM;
    ax_runtime_stats_get(&rs);
    ax_loop_stats_get(&ls);
    idx = L->pub.index;

#define PUT(...)                                                              \
    do {                                                                      \
        int n_ = snprintf(o < cap ? buf + o : NULL, o < cap ? cap - o : 0,    \
                          __VA_ARGS__);                                       \
        if (n_ > 0)                                                           \
            o += (size_t)n_;                                                  \
    } while (0)
#define METRIC(name, type, help, value)                                       \
    do {                                                                      \
        PUT("# HELP axon_%s %s\n# TYPE axon_%s %s\n", name, help, name,     \
            type);                                                            \
        PUT("axon_%s{loop=\"%d\"} %" PRIu64 "\n", name, idx,                  \
            (uint64_t)(value));                                               \
    } while (0)

    PUT("# HELP axon_loops Loops (threads) of the runtime.\n"
        "# TYPE axon_loops gauge\naxon_loops %d\n", L->rt->nloops);
    PUT("# HELP axon_posts_total ax_loop_post calls accepted.\n"
        "# TYPE axon_posts_total counter\naxon_posts_total %" PRIu64 "\n",
        rs.posts);
    METRIC("tasks_spawned_total", "counter", "Tasks created on the loop.",
           ls.tasks_spawned);
    METRIC("tasks_live", "gauge", "Tasks not yet freed.", ls.tasks_live);
    METRIC("switches_total", "counter", "Context switches into tasks.",
           ls.switches);
    METRIC("stacks_mapped", "gauge", "Task stacks mapped (in use and pooled).",
           ls.stacks_mapped);
    METRIC("stacks_pooled", "gauge", "Task stacks waiting in the pool.",
           ls.stacks_pooled);
    METRIC("stacks_unguarded_total", "counter",
           "Stacks made without a guard page.", ls.stacks_unguarded);
    METRIC("futures_live", "gauge", "Futures not yet freed.",
           ls.futures_live);
    METRIC("inbox_msgs_total", "counter",
           "Messages taken from the loop's inbox.", ls.inbox_msgs);
    METRIC("inbox_wakeups_total", "counter",
           "Times the loop was woken by its doorbell.", ls.inbox_wakeups);
    METRIC("doorbell_rings_total", "counter",
           "Doorbell writes made to the loop.", ls.doorbell_rings);
#undef METRIC
#undef PUT
    if (len)
        *len = o;
    return o < cap ? 0 : AX_E2BIG;
}
