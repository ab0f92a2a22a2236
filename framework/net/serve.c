/* SPDX-License-Identifier: MIT */
/*
 * ax_serve(): connections spread over the loops.
 *
 * One shard task per loop keeps the connection tasks of that loop in a
 * list, so that on cancellation it can cancel them and wait for the last
 * one. In REUSEPORT mode every shard owns a listener on the shared port and
 * the kernel spreads connections. In ACCEPTOR mode shard 0 owns the only
 * listener and hands each accepted descriptor to the next shard through
 * that loop's inbox. The server struct is reference-counted because a
 * descriptor in flight may reach a loop after its shard has stopped (it is
 * then closed).
 */
#include <errno.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "axon/error.h"
#include "axon/future.h"
#include "axon/gather.h"
#include "axon/loop.h"
#include "axon/net.h"
#include "axon/task.h"
#include "axon/runtime.h" /* after task.h: it uses ax_task_opts */
#include "axon/time.h"
#include "sock.h"
#include "wait.h"

#define EMFILE_BACKOFF 0.01
#define STOP_WAVE 256 /* parked connections resumed at once on a stop */

typedef struct server server;
typedef struct conn conn;

typedef struct shard {
    server *srv;
    ax_loop *loop;
    ax_sock *listener;
    conn *conns;     /* live connections: running, or parked */
    size_t nrunning; /* those with a task */
    int *fds;        /* descriptors handed over, not yet started */
    size_t nfds, capfds;
    ax_task *task;   /* the shard task, when it waits */
    bool stopping;
} shard;

/*
 * A connection: running (task set) or parked (task NULL, its hook armed,
 * fn the continuation to run). An idle parked connection holds this, its
 * socket and the socket's event, nothing else; this record is kept at
 * 120 bytes (glibc's 128-byte chunk): the socket is found through the
 * hook's io, the park's deadline waits in the hook's timer.
 */
struct conn {
    conn *next, *prev;
    shard *sh;
    ax_task *task;
    union {
        int fd;     /* before the first run: handed over (ACCEPTOR) */
        int status; /* for the continuation about to run */
    } u;
    bool adopted; /* the socket exists (hook.io is set) */
    bool retry;   /* a spawn failed: the hook's timer retries it */
    ax_conn_resume_fn fn; /* set by ax_serve_park() */
    void *farg;
    ax__io_hook hook;
};

struct server {
    atomic_int refs;
    /* REUSEPORT: shards still opening their listener, the first listen
     * error, and the future the caller awaits before ready(). */
    atomic_int listening;
    atomic_int listen_rc;
    ax_future *up;
    int nshards, next;
    ax_serve_opts opts;
    ax_conn_fn handler;
    void *arg;
    const char *host;
    int port;
    shard shards[];
};

static void srv_put(server *srv)
{
    if (atomic_fetch_sub_explicit(&srv->refs, 1, memory_order_acq_rel) == 1)
        ax__free(srv);
}

static void on_hook(ax__io_hook *h, int status);

static conn *conn_of_hook(ax__io_hook *h)
{
    return (conn *)(void *)((char *)h - offsetof(conn, hook));
}

static ax_sock *conn_sock(conn *c)
{
    return ax__sock_of_io(c->hook.io);
}

/* A connection's task is over (ended, parked, or never run): a stopping
 * shard waits for the last one. */
static void running_ended(shard *sh)
{
    sh->nrunning--;
    if (sh->stopping && !sh->nrunning && sh->task)
        ax__unpark(sh->task);
}

/* The connection's task has ended (its socket is closed): unlist it. */
static void conn_gone(conn *c)
{
    shard *sh = c->sh;

    if (c->prev)
        c->prev->next = c->next;
    else
        sh->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    running_ended(sh);
    ax__free(c);
}

/* The task of a running connection: the handler, then each continuation
 * that runs without a wait (bytes already there when it parked). */
static void *conn_main(void *arg)
{
    conn *c = arg;
    shard *sh = c->sh;
    ax_sock *s;

    if (!c->adopted) {
        if (ax__sock_adopt(c->u.fd, true, &s)) {
            close(c->u.fd);
            goto gone;
        }
        ax__io_hook_attach(ax__sock_io(s), &c->hook);
        c->adopted = true;
    }
    s = conn_sock(c);
    if (c->fn) {
        ax_conn_resume_fn fn = c->fn;
        c->fn = NULL;
        fn(s, c->farg, c->u.status);
    } else {
        sh->srv->handler(s, sh->srv->arg);
    }
    while (c->fn) {
        /* Parked by the handler: give the task up unless bytes are
         * there already (or the server is stopping). */
        ax_conn_resume_fn fn = c->fn;
        int st = sh->stopping ? AX_ECANCELED : 0;
        if (!st && ax__sock_idle(s) &&
            !(st = ax__io_hook_arm(ax__sock_io(s)))) {
            c->task = NULL;
            sh->nrunning--;
            return NULL;
        }
        if (st == AX_ENOMEM) /* no timer: wait here instead */
            st = ax_sock_wait_dl(s, AX_SOCK_READABLE,
                                 ax__io_hook_deadline(&c->hook));
        c->fn = NULL;
        fn(s, c->farg, st);
    }
    ax_close(s); /* the handler never closes it (net.h) */
gone:
    conn_gone(c);
    return NULL;
}

static void park_retry(conn *c, int status);

/* On the loop between tasks: the connection's task got no stack and ended
 * without running conn_main(). A new connection is closed (its handler
 * never ran, nothing else holds it); a parked one whose continuation was
 * to run stays parked and retries, as when its task could not be spawned,
 * since only the continuation can free what it was given. Either way the
 * record leaves the running count, or a stop would wait for it for ever. */
static void conn_unrun(void *arg, int status)
{
    conn *c = arg;
    shard *sh = c->sh;

    (void)status;
    c->task = NULL;
    if (!c->fn) {
        if (c->adopted)
            ax_close(conn_sock(c));
        else
            close(c->u.fd);
        conn_gone(c);
        return;
    }
    park_retry(c, c->u.status);
    running_ended(sh);
}

static int spawn_conn(conn *c)
{
    server *srv = c->sh->srv;
    ax_task_opts o = {.stack_size = srv->opts.stack_size,
                      .name = "conn",
                      .shared_stack = srv->opts.shared_stack};
    /* Detached: it frees itself. c->task stays valid while c is listed
     * with it, since the task (or conn_unrun) clears it or unlists c as
     * it ends. */
    int rc = ax__spawn_unrun(&c->task, conn_main, c, &o, conn_unrun);

    if (rc)
        return rc;
    c->sh->nrunning++;
    return 0;
}

/* A parked connection's continuation, in a task of its own. */
static int resume(conn *c, int status)
{
    int rc;

    ax__io_hook_disarm(c->hook.io);
    if (c->sh->stopping)
        status = AX_ECANCELED;
    c->u.status = status;
    if ((rc = spawn_conn(c)) == 0) {
        c->retry = false;
        if (c->sh->stopping)
            ax_cancel(c->task);
    }
    return rc;
}

/* On the loop, outside any task: the parked connection became readable
 * or its deadline passed. */
static void on_hook(ax__io_hook *h, int status)
{
    conn *c = conn_of_hook(h);

    if (c->retry) /* the retry's timer, or an edge meanwhile */
        status = c->u.status;
    if (resume(c, status) == 0)
        return;
    park_retry(c, status);
}

/* No task to be had (out of memory): keep the connection parked and try
 * its continuation again shortly, as accept does out of descriptors. */
static void park_retry(conn *c, int status)
{
    ax__io_hook *h = &c->hook;

    c->retry = true;
    c->u.status = status;
    ax__io_hook_set_deadline(h, ax__clock_ns() +
                                    (int64_t)(EMFILE_BACKOFF * 1e9));
    if (ax__io_hook_arm(h->io)) {
        ax__io_hook_set_deadline(h, -1);
        ax__io_hook_arm(h->io); /* an edge, at least */
    }
}

int ax_serve_park(ax_sock *s, ax_conn_resume_fn fn, void *arg,
                  int64_t deadline)
{
    ax__io *io;
    conn *c;
    int rc;

    if (!s || !fn || deadline < -1)
        return AX_EINVAL;
    io = ax__sock_io(s);
    if ((rc = ax__io_enter(io, AX__IO_READ)))
        return rc;
    if (!io->hook || io->hook->fn != on_hook)
        return AX_EINVAL;
    c = conn_of_hook(io->hook);
    if (c->fn)
        return AX_EBUSY;
    if (c->task != ax_task_self())
        return AX_EPERM;
    if (c->sh->stopping)
        return AX_ECANCELED;
    c->fn = fn;
    c->farg = arg;
    ax__io_hook_set_deadline(&c->hook, deadline);
    return 0;
}

/* The connection task takes @p s, or else @p fd, only when this says 0. */
static int start_conn(shard *sh, ax_sock *s, int fd)
{
    conn *c = ax__calloc(1, sizeof *c);
    int rc;

    if (!c)
        return AX_ENOMEM;
    c->sh = sh;
    c->hook.fn = on_hook;
    if (s) {
        ax__io_hook_attach(ax__sock_io(s), &c->hook);
        c->adopted = true;
    } else {
        c->u.fd = fd;
    }
    if ((rc = spawn_conn(c))) {
        if (s)
            ax__sock_io(s)->hook = NULL;
        ax__free(c);
        return rc;
    }
    c->next = sh->conns;
    if (sh->conns)
        sh->conns->prev = c;
    sh->conns = c;
    return 0;
}

/* On the receiving loop: a descriptor from the acceptor. */
static void handoff_run(ax_loop *L, void *a, void *b, int fd, bool drop)
{
    shard *sh = a;
    server *srv = b;

    (void)L;
    if (!drop && !sh->stopping && sh->nfds == sh->capfds) {
        size_t cap = sh->capfds * 2 + 16;
        int *fds = ax__realloc(sh->fds, cap * sizeof *fds);
        if (fds) {
            sh->fds = fds;
            sh->capfds = cap;
        }
    }
    if (drop || sh->stopping || sh->nfds == sh->capfds) {
        close(fd);
    } else {
        sh->fds[sh->nfds++] = fd;
        if (sh->task)
            ax__unpark(sh->task);
    }
    srv_put(srv);
}

static void hand_off(server *srv, int fd)
{
    shard *sh = &srv->shards[srv->next++ % srv->nshards];

    if (sh->loop == ax_loop_current()) {
        if (start_conn(sh, NULL, fd))
            close(fd);
        return;
    }
    atomic_fetch_add_explicit(&srv->refs, 1, memory_order_relaxed);
    if (ax__wait_post(sh->loop, handoff_run, sh, srv, fd)) {
        close(fd);
        srv_put(srv);
    }
}

static int accept_loop(shard *sh)
{
    server *srv = sh->srv;

    for (;;) {
        ax_sock *c;
        int rc = ax_accept(sh->listener, &c, -1);
        if (rc == AX_EMFILE || rc == AX_ENFILE || rc == AX_ENOMEM ||
            rc == -ENOBUFS) {
            /* Out of descriptors: the pending connection stays queued.
             * Back off instead of spinning on the same error. */
            if ((rc = ax_sleep(EMFILE_BACKOFF)))
                return rc;
            continue;
        }
        if (rc)
            return rc;
        if (srv->opts.mode == AX_SERVE_ACCEPTOR) {
            hand_off(srv, ax_sock_release(c));
        } else if (start_conn(sh, c, -1)) {
            /* The socket goes to the connection task as it is: on this
             * loop, registered once (no epoll_ctl to drop and re-add). */
            ax_close(c);
        }
    }
}

/* Wait for handed-over descriptors (acceptor mode, shards without a
 * listener). */
static int handoff_loop(shard *sh)
{
    for (;;) {
        while (sh->nfds) {
            int fd = sh->fds[--sh->nfds];
            if (start_conn(sh, NULL, fd))
                close(fd);
        }
        sh->task = ax_task_self();
        int rc = ax__park("waiting for connections");
        sh->task = NULL;
        if (rc)
            return rc;
    }
}

static void *shard_main(void *arg)
{
    shard *sh = arg;
    server *srv = sh->srv;
    ax_task *t = ax_task_self();
    bool was;
    int rc;

    if (!sh->listener && (srv->opts.mode == AX_SERVE_REUSEPORT)) {
        ax_listen_opts lo = {.backlog = srv->opts.backlog, .reuseport = true};
        int expect = 0;
        rc = ax_tcp_listen(&sh->listener, srv->host, srv->port, &lo);
        if (rc)
            atomic_compare_exchange_strong(&srv->listen_rc, &expect, rc);
        if (atomic_fetch_sub(&srv->listening, 1) == 1)
            ax_future_set_result(srv->up, NULL); /* from any loop */
        if (rc)
            return ax_task_fail(rc);
    }
    rc = sh->listener ? accept_loop(sh) : handoff_loop(sh);
    /* Stopping: no more connections; cancel the live ones, wait for the
     * last, close what was handed over but never started. */
    sh->stopping = true;
    if (sh->listener)
        ax_close(sh->listener);
    sh->listener = NULL;
    while (sh->nfds)
        close(sh->fds[--sh->nfds]);
    for (conn *c = sh->conns; c; c = c->next)
        if (c->task)
            ax_cancel(c->task);
    /* Shielded: a cancellation (pending or new) would end every park at
     * once, and this would spin instead of waiting for the last
     * connection, which still points at this shard. Parked connections
     * get their continuation (AX_ECANCELED) in waves, so that a stop
     * with 100,000 of them does not make 100,000 tasks at once. */
    was = ax__shield(true);
    while (sh->conns) {
        for (conn *c = sh->conns; c && sh->nrunning < STOP_WAVE;
             c = c->next)
            if (!c->task)
                resume(c, AX_ECANCELED);
        if (!sh->nrunning) { /* none could start: out of memory */
            ax_sleep(EMFILE_BACKOFF);
            continue;
        }
        sh->task = t;
        ax__park("stopping its connections");
        sh->task = NULL;
    }
    ax__shield(was);
    ax__free(sh->fds);
    sh->fds = NULL;
    return rc == AX_ECANCELED ? NULL : ax_task_fail(rc);
}

int ax_serve(const char *host, int port, ax_conn_fn handler, void *arg,
             const ax_serve_opts *opts)
{
    ax_loop *here = ax_loop_current();
    ax_future *futs[AX_LOOPS_MAX];
    ax_listen_opts lo = {0};
    server *srv;
    ax_sock *first;
    int n, rc, started = 0;

    if (!handler || (opts && opts->shared_stack && opts->stack_size))
        return AX_EINVAL;
    if (!ax_task_self())
        return AX_ENOTTASK;
    n = opts && opts->loops > 0 && opts->loops < ax_loop_count()
            ? opts->loops
            : ax_loop_count();
    srv = ax__calloc(1, sizeof *srv + (size_t)n * sizeof(shard));
    if (!srv)
        return AX_ENOMEM;
    atomic_init(&srv->refs, 1);
    if (opts)
        srv->opts = *opts;
    srv->nshards = n;
    srv->handler = handler;
    srv->arg = arg;
    srv->host = host;
    /* The calling loop listens first, so port 0 becomes a real port that
     * the other loops' listeners then share. */
    lo.backlog = srv->opts.backlog;
    lo.reuseport = srv->opts.mode == AX_SERVE_REUSEPORT;
    rc = ax_tcp_listen(&first, host, port, &lo);
    if (rc) {
        ax__free(srv);
        return rc;
    }
    srv->port = ax_sock_port(first);
    /* Shard 0 on the calling loop, then the other loops in order. */
    for (int i = 0, k = 0; i < n; i++) {
        shard *sh = &srv->shards[i];
        sh->srv = srv;
        if (i == 0) {
            sh->loop = here;
            continue;
        }
        if (k == ax_loop_index(here))
            k++;
        sh->loop = ax_loop_at(k++);
    }
    srv->shards[0].listener = first;
    atomic_init(&srv->listen_rc, 0);
    atomic_init(&srv->listening,
                srv->opts.mode == AX_SERVE_REUSEPORT ? n - 1 : 0);
    if (n > 1 && srv->opts.mode == AX_SERVE_REUSEPORT &&
        (rc = ax_future_new(&srv->up))) {
        ax_close(first);
        ax__free(srv);
        return rc;
    }
    for (; started < n; started++) {
        ax_task *st;
        ax_task_opts so = {.name = "serve",
                           .loop = srv->shards[started].loop};
        rc = ax_spawn_with(&st, shard_main, &srv->shards[started], &so);
        if (rc)
            break;
        futs[started] = AX_FUTURE(st);
    }
    /* ready() promises every listener is up: wait for the other loops. */
    if (!rc && srv->up)
        rc = ax_await(srv->up, NULL);
    if (!rc)
        rc = atomic_load(&srv->listen_rc);
    if (!rc && srv->opts.ready)
        srv->opts.ready(srv->port, arg);
    if (rc) {
        for (int i = 0; i < started; i++)
            ax_cancel(futs[i]);
        ax_gather_all(futs, (size_t)started, NULL, NULL);
        if (started == 0)
            ax_close(first); /* shard 0 never ran to close it */
    } else {
        rc = ax_gather(futs, (size_t)n, NULL);
    }
    if (srv->up)
        ax_future_free(srv->up);
    srv_put(srv);
    return rc;
}
