/* SPDX-License-Identifier: MIT */
/*
 * chat: a line-based chat room.
 *
 *   ./chat --port 7000 &
 *   nc 127.0.0.1 7000        (in two or three terminals)
 *
 * The first line a client sends is its name; after that every line goes to
 * everybody as "<name>: line". Commands: /nick NAME, /who, /quit. Joins and
 * leaves are announced as "* ..." lines.
 *
 * How it is built:
 *  - one room actor, on loop 0 under a supervisor, owns the member list;
 *    nothing else touches it, so there are no locks;
 *  - ax_serve() runs each connection's reader task on some loop; next to it
 *    on the same loop runs a writer actor, the member's address, whose
 *    bounded mailbox (64 lines by default) holds what is still to be sent;
 *  - the reader asks the room (ax_ask) to say each line, and waits for the
 *    answer before the next one, so a fast talker is paced by the room and
 *    cannot flood the members' mailboxes faster than their writers get a
 *    turn; JOIN, /nick and /who are asks as well;
 *  - the room broadcasts with ax_try_send, which never waits: when a
 *    member's mailbox is full that member may be too slow, and the room
 *    drops it instead of stalling everyone else. "Full" alone is not quite
 *    enough: a writer on another loop may simply not have been woken yet
 *    while the room, which runs flat out, fills 64 places in microseconds.
 *    So the room keeps the member's lines in a backlog of its own and
 *    retries; a member whose mailbox stays full for GRACE (1 s), or whose
 *    backlog reaches BACKLOG_MAX (16384) lines, is too slow. The room cannot tell the writer
 *    through its full mailbox, so it posts a call to the member's loop
 *    (ax_loop_post) that cancels the writer; the writer then tries for a
 *    moment to say "* you were too slow, disconnecting" and shuts the
 *    socket, which ends the reader too;
 *  - a line is formatted once and shared by every member's mailbox
 *    (reference counted).
 *
 * --shared-stacks runs every member's reader task and writer actor on
 * their loop's shared stack (ax_serve_opts.shared_stack,
 * ax_actor_opts.shared_stack): an idle member then keeps the few hundred
 * bytes of stack each of the two uses instead of a resident page each
 * (bench/idle.sh).
 *
 * --park-idle gives an idle member no task and no actor at all (about
 * 590 bytes in all, bench/idle.sh): the reader parks with ax_serve_park()
 * between lines, and each line runs in a task of its own (on_line(), the
 * same commands). The member's mailbox becomes a queue on its loop: the
 * room posts each line there (ax_loop_post, park_send()) and counts it
 * until it is written, the same 64-line bound its ax_try_send had, so
 * GRACE, BACKLOG_MAX and the kick work as above. Whoever queues a line
 * to a member without a writer (the room's post, the reader's own
 * answers) spawns one; it writes while lines are queued, the socket
 * parked meanwhile, and ends. A kick is posted too: the writer (spawned
 * for it if need be) says why and shuts the socket, which wakes the
 * parked reader. The member's record is reference-counted (the
 * connection, the room, each line on its way), and a line that arrives
 * once the connection is ending is dropped, so a member may leave while
 * the room is queueing lines to it. Combines with --shared-stacks.
 */
#include "cli.h"
#include "metrics.h"

#include <axon.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define DEFAULT_PORT 7000
#define NAME_MAX_LEN 24
#define LINE_MAX_LEN 4096
#define KICK_LINE "\n* you were too slow, disconnecting\n"
#define GRACE 1.0         /* seconds a mailbox may stay full */
#define BACKLOG_MAX 16384 /* lines the room keeps for a member meanwhile */
#define STOP_GRACE 5      /* seconds a leaving member's writer may flush */
#define STALL 2.0         /* seconds /debug-stall-room holds the room */

typedef struct config {
    const char *host;
    int port;
    int loops;
    size_t mailbox;      /* a member's mailbox, in lines */
    size_t announce_max; /* joins/leaves announced up to this many members */
    bool debug;          /* /debug-crash-room, /debug-stall-room */
    bool shared_stacks;  /* --shared-stacks */
    bool park_idle;      /* --park-idle */
} config;

static config cfg = {"127.0.0.1", DEFAULT_PORT, AX_LOOPS_PER_CPU, 64, 1000,
                     false, false, false};
/* The room's current ref: its supervisor restarts it under a new one,
 * which its start function (room_start) publishes. */
static _Atomic uint64_t room_id;

static ax_actor_ref room_ref(void)
{
    return (ax_actor_ref){atomic_load_explicit(&room_id,
                                               memory_order_acquire)};
}

/* Tags. To a writer: */
enum { W_LINE = 1, W_STOP };
/* To the room: */
enum { R_JOIN = 10, R_SAY, R_NICK, R_WHO, R_LEAVE, R_CRASH, R_STALL };

/* ---- shared text ------------------------------------------------------------ */

/* One formatted line, shared by every mailbox it was sent to. */
typedef struct text {
    atomic_int refs;
    size_t len;
    char s[];
} text;

static text *text_new(const char *s, size_t n)
{
    text *t = malloc(sizeof *t + n + 1);

    if (!t)
        return NULL;
    memcpy(t->s, s, n);
    t->s[n] = '\0';
    atomic_init(&t->refs, 1);
    t->len = n;
    return t;
}

static text *text_fmt(const char *fmt, ...)
{
    va_list ap;
    text *t;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !(t = malloc(sizeof *t + (size_t)n + 1)))
        return NULL;
    va_start(ap, fmt);
    vsnprintf(t->s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    atomic_init(&t->refs, 1);
    t->len = (size_t)n;
    return t;
}

static void text_unref(text *t)
{
    if (t && atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1)
        free(t);
}

/* ---- a connection --------------------------------------------------------- */

/* Shared by the connection's reader task and writer actor (its loop) and
 * the room (loop 0, which keeps a reference while the member is in). Only
 * refs is touched from two threads; the rest belongs to the connection's
 * loop. */
typedef struct mconn {
    atomic_int refs; /* first: conn_ref() */
    ax_loop *loop;
    ax_sock *s;
    ax_actor_ref writer;
    ax_task *writer_task;   /* while the writer runs */
    ax_future *writer_done; /* completed when the writer ends */
    bool kicked;
} mconn;

/* The writer's batch: taken for a round of two lines or more, and given
 * back after its write, so that an idle member's writer holds none. */
#define BATCH 16384

/* Both kinds of member connection (mconn, pconn below) start with their
 * reference count, so one pair of calls serves either. */
static void *conn_ref(void *c)
{
    atomic_fetch_add_explicit((atomic_int *)c, 1, memory_order_relaxed);
    return c;
}

static void conn_unref(void *c)
{
    if (atomic_fetch_sub_explicit((atomic_int *)c, 1,
                                  memory_order_acq_rel) == 1)
        free(c);
}

/*
 * --park-idle: a member without a task or an actor while it is idle. Its
 * reader parks with ax_serve_park() between lines; the lines to send wait
 * in a queue of the connection's loop, and a writer task exists only while
 * that queue has lines. The room's lines come through ax_loop_post (a
 * qline each); @queued counts them from the room's send to their write,
 * the bound the room reads as the actor version's mailbox (cfg.mailbox).
 * Only refs, queued and gone are touched from the room's thread; the rest
 * belongs to the connection's loop. Kept small: an idle member holds this,
 * ax_serve()'s record, its socket and the room's entry.
 */
typedef struct qline {
    struct qline *next;
    struct text *t;
    struct pconn *c; /* from the room (counted in queued); NULL: its own */
} qline;

typedef struct pconn { /* 56 bytes on 64-bit: a 64-byte malloc chunk */
    atomic_int refs;   /* first (conn_ref()): the connection, the room,
                        * each qline in flight */
    atomic_int queued; /* the room's lines not yet written or dropped */
    uint32_t nq;       /* lines in the queue */
    atomic_bool gone;  /* the connection is ending: the room drops it */
    bool kicked;       /* too slow: the writer says so and shuts it */
    bool closing;      /* ending: lines that arrive now are dropped */
    uint8_t loop;      /* its loop's index (AX_LOOPS_MAX is 256) */
    ax_sock *s;
    uint64_t id;       /* in the room (0: not yet) */
    qline *last;       /* the queue, a ring: last->next is the first */
    ax_task *writer;   /* its handle while lines are queued */
    ax_future *waiter; /* the reader's, while it waits for the writer */
} pconn;

_Static_assert(offsetof(mconn, refs) == 0 && offsetof(pconn, refs) == 0,
               "conn_ref() takes either kind by its first field");

/* Room requests. */
typedef struct rmsg {
    uint64_t id;   /* the member (0 for JOIN) */
    void *conn;    /* JOIN: the connection (the room takes a reference):
                    * an mconn, or a pconn with --park-idle */
    char arg[];    /* name or line */
} rmsg;

static rmsg *rmsg_new(uint64_t id, void *conn, const char *arg, size_t len)
{
    rmsg *m = malloc(sizeof *m + len + 1);

    if (!m)
        return NULL;
    m->id = id;
    m->conn = conn;
    memcpy(m->arg, arg, len);
    m->arg[len] = '\0';
    return m;
}

/* The actors' undelivered hook: free what never arrived. */
static void undelivered(int tag, void *data, int reason)
{
    (void)reason;
    if (tag == W_LINE)
        text_unref(data);
    else if (tag >= R_JOIN)
        free(data);
}

/* ---- the room -------------------------------------------------------------- */

/* A member's lines while its mailbox is full: a ring of BACKLOG_MAX,
 * taken when the mailbox is first found full, given back once empty. */
typedef struct backlog {
    size_t head, nlog;
    double full_since;
    text *log[BACKLOG_MAX];
} backlog;

/* Kept small (56 bytes on 64-bit): the room holds one per member. */
typedef struct member {
    uint64_t id;
    void *conn;   /* an mconn, or a pconn with --park-idle */
    backlog *log; /* NULL: nothing waits */
    char name[NAME_MAX_LEN + 1];
    bool drop;    /* leaving at the end of this round: announced as */
    bool kick;    /* ... too slow if set, else as left */
} member;

typedef struct room_state {
    member *m;
    size_t n, cap;
    uint64_t next_id;
    size_t kicked; /* counters, printed at the end */
} room_state;

static member *find_id(room_state *r, uint64_t id)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->m[i].id == id && !r->m[i].drop)
            return &r->m[i];
    return NULL;
}

static member *find_name(room_state *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->m[i].name, name) && !r->m[i].drop)
            return &r->m[i];
    return NULL;
}

/* On the member's loop, posted by the room: the writer's mailbox is full,
 * so it is told by cancelling it. */
static void kick_run(void *arg)
{
    mconn *c = arg;

    if (c->writer_task && !c->kicked) {
        c->kicked = true;
        ax_cancel(c->writer_task);
    }
    conn_unref(c); /* the room's reference, passed with the post */
}

static void park_arrive(void *arg);
static void park_kick_run(void *arg);

/* --park-idle: the room's ax_try_send. On 0 t's reference is the
 * member's; on an error the caller keeps it. Never waits. */
static int park_send(pconn *c, text *t)
{
    qline *q;
    int rc;

    if (atomic_load_explicit(&c->gone, memory_order_acquire))
        return AX_ESRCH;
    if (atomic_load_explicit(&c->queued, memory_order_acquire) >=
        (int)cfg.mailbox)
        return AX_EAGAIN;
    if (!(q = malloc(sizeof *q)))
        return AX_ENOMEM;
    q->next = NULL;
    q->t = t;
    q->c = conn_ref(c); /* for the trip */
    atomic_fetch_add_explicit(&c->queued, 1, memory_order_relaxed);
    if ((rc = ax_loop_post(ax_loop_at(c->loop), park_arrive, q))) {
        atomic_fetch_sub_explicit(&c->queued, 1, memory_order_relaxed);
        conn_unref(c);
        free(q);
    }
    return rc;
}

static int conn_send(void *c, text *t)
{
    if (cfg.park_idle)
        return park_send(c, t);
    return ax_try_send(((mconn *)c)->writer, W_LINE, t);
}

/* Tell the member's loop it was too slow; the room's reference travels
 * with the post. */
static void conn_kick(void *c)
{
    int rc = cfg.park_idle
                 ? ax_loop_post(ax_loop_at(((pconn *)c)->loop), park_kick_run, c)
                 : ax_loop_post(((mconn *)c)->loop, kick_run, c);

    if (rc) {
        fprintf(stderr, "chat: ax_loop_post: %s\n", ax_strerror(rc));
        conn_unref(c);
    }
}

static void mark_gone(room_state *r, member *m, int rc)
{
    m->drop = true;
    /* else its writer has ended: the connection is gone (it "left") */
    if (rc == AX_EAGAIN) {
        m->kick = true;
        r->kicked++;
    }
}

static const char *member_why(const member *m)
{
    return m->kick ? "was too slow and got disconnected" : "left";
}

/* Move what waits in m's backlog into its mailbox, without waiting.
 * A member whose mailbox stays full for GRACE seconds, or whose backlog
 * reaches BACKLOG_MAX lines, is too slow. */
static void flush(room_state *r, member *m)
{
    backlog *b = m->log;

    while (b && b->nlog && !m->drop) {
        int rc = conn_send(m->conn, b->log[b->head]);
        if (rc == AX_EAGAIN && ax_now() - b->full_since < GRACE &&
            b->nlog < BACKLOG_MAX)
            return;
        if (rc) {
            mark_gone(r, m, rc);
            return;
        }
        b->head = (b->head + 1) % BACKLOG_MAX;
        b->nlog--;
        b->full_since = ax_now(); /* it moved: the clock starts over */
    }
    if (b && !b->nlog) {
        free(b);
        m->log = NULL;
    }
}

/* Send t to one member without waiting; mark it to drop if it is gone
 * or too slow. */
static void deliver(room_state *r, member *m, text *t)
{
    int rc;

    flush(r, m);
    if (m->drop)
        return;
    if (!m->log) {
        atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
        rc = conn_send(m->conn, t);
        if (rc == 0)
            return;
        text_unref(t);
        if (rc != AX_EAGAIN) {
            mark_gone(r, m, rc);
            return;
        }
        /* The mailbox is full: keep the line in a backlog, in order. */
        if (!(m->log = malloc(sizeof *m->log))) {
            mark_gone(r, m, AX_EAGAIN);
            return;
        }
        m->log->head = m->log->nlog = 0;
        m->log->full_since = ax_now();
    }
    atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
    m->log->log[(m->log->head + m->log->nlog++) % BACKLOG_MAX] = t;
    flush(r, m); /* too slow already? */
}

static void member_free(member *m)
{
    backlog *b = m->log;

    for (; b && b->nlog; b->nlog--, b->head = (b->head + 1) % BACKLOG_MAX)
        text_unref(b->log[b->head]);
    free(b);
    m->log = NULL;
}

/* Send t to every member still in, without waiting; drops t's reference. */
static void deliver_all(room_state *r, text *t)
{
    for (size_t i = 0; i < r->n; i++)
        if (!r->m[i].drop)
            deliver(r, &r->m[i], t);
    text_unref(t);
}

/* Append "* NAME WHY\n" to a growing announcement. */
static void announce_add(char **buf, size_t *len, size_t *cap,
                         const member *m)
{
    size_t need = strlen(m->name) + strlen(member_why(m)) + 5;

    if (*len + need > *cap) {
        size_t nc = *cap ? *cap * 2 : 256;
        char *nb;
        while (nc < *len + need)
            nc *= 2;
        if (!(nb = realloc(*buf, nc)))
            return; /* the announcement is lost, the member still goes */
        *buf = nb;
        *cap = nc;
    }
    *len += (size_t)snprintf(*buf + *len, *cap - *len, "* %s %s\n", m->name,
                             member_why(m));
}

/*
 * Drop the marked members and announce it. Announcing may mark more (a
 * member whose writer has ended is found out when it is sent to), so this
 * goes round until a round drops nobody: a loop, never a recursion, as a
 * thousand members leaving at once (a network blip) would otherwise nest a
 * thousand broadcasts on the room's stack. Each round's leaves go out as
 * one text, and only while the room is small enough (announce_max): past
 * that, every join or leave told to everyone is quadratic work.
 */
static void sweep(room_state *r)
{
    for (;;) {
        char *buf = NULL;
        size_t len = 0, cap = 0, w = 0, gone = 0;

        for (size_t i = 0; i < r->n; i++) {
            member *m = &r->m[i];
            if (!m->drop) {
                if (w != i)
                    r->m[w] = *m;
                w++;
                continue;
            }
            gone++;
            member_free(m);
            if (m->kick)
                conn_kick(m->conn); /* the reference goes with it */
            else
                conn_unref(m->conn);
            announce_add(&buf, &len, &cap, m);
        }
        r->n = w;
        if (len && r->n <= cfg.announce_max)
            deliver_all(r, text_new(buf, len));
        free(buf);
        if (!gone)
            return;
    }
}

static void broadcast(room_state *r, text *t)
{
    if (!t)
        return;
    deliver_all(r, t);
    sweep(r);
}

static void *room_main(void *arg)
{
    room_state r = {.next_id = 1};
    ax_msg msg;
    int rc;

    (void)arg;
    /* A restarted room starts empty: members of the room that failed are
     * told by ax_reply_error(AX_ESRCH) when they next speak. */
    for (;;) {
        bool waiting = false;
        for (size_t i = 0; i < r.n; i++)
            waiting |= r.m[i].log != NULL;
        /* With a backlog, look again every 10 ms even when nobody talks. */
        rc = ax_recv(&msg, waiting ? 0.01 : -1);
        if (rc == AX_ETIMEDOUT) {
            for (size_t i = 0; i < r.n; i++)
                flush(&r, &r.m[i]);
            sweep(&r);
            continue;
        }
        if (rc)
            break;
        rmsg *q = msg.data;
        member *m = msg.tag == R_JOIN ? NULL : find_id(&r, q->id);
        switch (msg.tag) {
        case R_JOIN:
            if (find_name(&r, q->arg)) {
                ax_reply(&msg, (void *)(uintptr_t)0);
                break;
            }
            if (r.n == r.cap) {
                size_t cap = r.cap ? r.cap * 2 : 16;
                member *nm = realloc(r.m, cap * sizeof *nm);
                if (!nm) {
                    ax_reply_error(&msg, AX_ENOMEM);
                    break;
                }
                r.m = nm;
                r.cap = cap;
            }
            m = &r.m[r.n++];
            *m = (member){.id = r.next_id++, .conn = conn_ref(q->conn)};
            snprintf(m->name, sizeof m->name, "%s", q->arg);
            ax_reply(&msg, (void *)(uintptr_t)m->id);
            if (r.n <= cfg.announce_max)
                broadcast(&r, text_fmt("* %s joined (%zu online)\n", q->arg,
                                       r.n));
            break;
        case R_SAY:
            if (!m) {
                /* Not a member of this room: it restarted. */
                ax_reply_error(&msg, AX_ESRCH);
                break;
            }
            broadcast(&r, text_fmt("%s: %s\n", m->name, q->arg));
            /* The answer is the talker's go-ahead for its next line. */
            ax_reply(&msg, NULL);
            break;
        case R_NICK:
            if (!m) {
                ax_reply_error(&msg, AX_ESRCH);
            } else if (find_name(&r, q->arg)) {
                ax_reply(&msg, (void *)(uintptr_t)0);
            } else {
                char old[NAME_MAX_LEN + 1];
                memcpy(old, m->name, sizeof old);
                snprintf(m->name, sizeof m->name, "%s", q->arg);
                ax_reply(&msg, (void *)(uintptr_t)1);
                broadcast(&r, text_fmt("* %s is now known as %s\n", old,
                                       q->arg));
            }
            break;
        case R_WHO: {
            size_t len = 64;
            char *list;
            if (!m) {
                ax_reply_error(&msg, AX_ESRCH);
                break;
            }
            for (size_t i = 0; i < r.n; i++)
                len += strlen(r.m[i].name) + 2;
            if (!(list = malloc(len))) {
                ax_reply_error(&msg, AX_ENOMEM);
                break;
            }
            int off = snprintf(list, len, "* %zu online:", r.n);
            for (size_t i = 0; i < r.n; i++)
                off += snprintf(list + off, len - (size_t)off, "%s %s",
                                i ? "," : "", r.m[i].name);
            text *t = text_fmt("%s\n", list);
            free(list);
            if (t)
                ax_reply(&msg, t);
            else
                ax_reply_error(&msg, AX_ENOMEM);
            break;
        }
        case R_LEAVE:
            if (m) {
                m->drop = true;
                sweep(&r);
            }
            break;
        case R_STALL: {
            /* --debug only: answer late, as a room busy with thousands of
             * members may, after telling the asker (so that a test knows
             * the ask is in flight). A stop that comes meanwhile must
             * still end the asker. */
            text *t = text_fmt("* the room stalls for %g s\n", STALL);
            if (!m) {
                ax_reply_error(&msg, AX_ESRCH);
                text_unref(t);
                break;
            }
            if (t) {
                deliver(&r, m, t);
                text_unref(t);
            }
            ax_sleep(STALL);
            ax_reply(&msg, NULL);
            sweep(&r);
            break;
        }
        case R_CRASH:
            /* --debug only: fail as a bug would, for the supervisor. */
            ax_reply(&msg, NULL);
            free(q);
            rc = -EIO;
            goto out;
        }
        free(q);
    }
out:
    for (size_t i = 0; i < r.n; i++) {
        member_free(&r.m[i]);
        conn_unref(r.m[i].conn);
    }
    free(r.m);
    if (r.kicked)
        fprintf(stderr, "chat: %zu slow member(s) disconnected\n", r.kicked);
    return rc == AX_ECANCELED || rc == AX_ESHUTDOWN ? NULL : ax_task_fail(rc);
}

/* ---- a member's writer ------------------------------------------------------ */

/* Append t to the batch out[0, *n): the batch is written first when t
 * does not fit, and t alone when it is larger than a batch. */
static int batch_add(ax_sock *s, char *out, size_t *n, const text *t)
{
    int rc = 0;

    if (*n && *n + t->len > BATCH) {
        rc = ax_write_all(s, out, *n, -1);
        *n = 0;
    }
    if (!rc && t->len > BATCH) {
        rc = ax_write_all(s, t->s, t->len, -1);
    } else if (!rc) {
        memcpy(out + *n, t->s, t->len);
        *n += t->len;
    }
    return rc;
}

static void *writer_main(void *arg)
{
    mconn *c = arg;
    ax_msg m;
    int rc;

    c->writer_task = ax_task_self();
    while ((rc = ax_recv(&m, -1)) == 0) {
        /* Take whatever else is queued too and send it in one write:
         * the mailbox then fills only while the socket is stuck. A line
         * alone is written from its shared text, with no copy. */
        bool stop = false;
        text *one = NULL;
        char *out = NULL;
        size_t n = 0;
        do {
            text *t = m.data;
            if (m.tag == W_STOP) {
                stop = true;
                break;
            }
            if (!one && !out) {
                one = t;
                continue;
            }
            if (!out && !(out = malloc(BATCH))) {
                text_unref(t);
                rc = AX_ENOMEM;
                break;
            }
            if (one) {
                rc = batch_add(c->s, out, &n, one);
                text_unref(one);
                one = NULL;
            }
            if (!rc)
                rc = batch_add(c->s, out, &n, t);
            text_unref(t);
        } while (!rc && ax_recv(&m, 0) == 0);
        if (!rc && one)
            rc = ax_write_all(c->s, one->s, one->len, -1);
        text_unref(one);
        if (!rc && n)
            rc = ax_write_all(c->s, out, n, -1);
        free(out);
        if (rc || stop)
            break;
    }
    if (c->kicked) {
        /* Cancelled by the room. Drop what is queued, try briefly to say
         * why (a client that reads nothing will not see it). */
        while (ax_recv(&m, 0) == 0)
            if (m.tag == W_LINE)
                text_unref(m.data);
        ax_write_all(c->s, KICK_LINE, sizeof KICK_LINE - 1, 1.0);
    }
    /* Wake the reader if it still waits on the socket. */
    shutdown(ax_sock_fd(c->s), SHUT_RDWR);
    c->writer_task = NULL;
    ax_future_set_result(c->writer_done, NULL);
    return NULL;
}

/* ---- a member's reader: the connection task --------------------------------- */

/*
 * The end of a connection: let the writer flush what is queued, but not
 * for ever. It is told to stop by W_STOP, or killed when the server is
 * stopping (@p now) or its mailbox is full, and killed in any case after
 * STOP_GRACE seconds; killed, it ends within about a second (the kick
 * line's timeout). So every wait here is bounded, and none ends early on a
 * cancellation, since writer_done is freed next and the writer must be
 * done with it.
 *
 * ax_actor_kill() rather than ax_cancel(c->writer_task): it reaches a
 * writer whose body has not run yet (no writer_task), which the old
 * ax_cancel() missed, leaving the reader in an await without a limit. A
 * writer that ends without its body ever running (its task got no stack)
 * never completes writer_done: it is then no longer alive, and that ends
 * the wait too.
 */
static void writer_stop(mconn *c, bool now)
{
    bool kill = now || ax_try_send(c->writer, W_STOP, NULL) == AX_EAGAIN;

    for (int waited = 0;
         !ax_future_done(c->writer_done) && ax_actor_alive(c->writer);
         waited++) {
        if (kill || waited == STOP_GRACE) {
            ax_actor_kill(c->writer, AX_ESHUTDOWN);
            kill = false;
        }
        ax_await_timeout(c->writer_done, 1.0, NULL);
    }
}


static int park_tell(pconn *c, text *t);

/* Queue @p t (its reference taken) for this member's own client. */
static int say(void *conn, text *t)
{
    int rc;

    if (!t)
        return AX_ENOMEM;
    if (cfg.park_idle)
        return park_tell(conn, t);
    if ((rc = ax_send(((mconn *)conn)->writer, W_LINE, t)))
        text_unref(t);
    return rc;
}

/* Queue a line for this member's own client. */
static int tell(void *conn, const char *s)
{
    return say(conn, text_fmt("%s", s));
}

/* Ask the room and wait for the answer even if cancelled meanwhile (the
 * server is stopping): the answer may carry something to free. The
 * cancellation is then returned, not the answer: it was delivered once,
 * to the await, and a reader that went back to its socket after it would
 * wait there for ever, holding the whole stop up (a member whose /who was
 * in flight at SIGTERM did). */
static int ask_room(int tag, uint64_t id, void *conn, const char *arg,
                    void **val)
{
    rmsg *q = rmsg_new(id, conn, arg, strlen(arg));
    bool cancelled = false;
    void *v = NULL;
    ax_future *f;
    int rc;

    if (!q)
        return AX_ENOMEM;
    if ((rc = ax_ask(room_ref(), tag, q, &f))) {
        free(q);
        return rc;
    }
    while ((rc = ax_await(f, &v)) == AX_ECANCELED && !ax_future_done(f))
        cancelled = true;
    ax_future_free(f);
    if (cancelled) {
        if (rc == 0 && tag == R_WHO)
            text_unref(v);
        return AX_ECANCELED;
    }
    if (rc == 0 && val)
        *val = v;
    return rc;
}

/* A name: trimmed, spaces become '_', at most NAME_MAX_LEN bytes. */
static bool clean_name(const char *in, char *out)
{
    size_t n = 0;

    while (*in == ' ' || *in == '\t')
        in++;
    for (; *in && n < NAME_MAX_LEN; in++) {
        unsigned char ch = (unsigned char)*in;
        if (ch < 32 || ch == 127)
            return false;
        out[n++] = ch == ' ' || ch == '\t' ? '_' : (char)ch;
    }
    while (n && out[n - 1] == '_')
        n--;
    out[n] = '\0';
    return n > 0 && out[0] != '/' && out[0] != '*';
}

/* One line from the client, without its line end: a string in the
 * socket's buffer (its line end overwritten), valid until the next read.
 * Not copied to the stack: a 4 KiB array there would cost every member's
 * task its pages for good. */
static int read_line(ax_sock *s, char **out)
{
    char *line;
    size_t len;
    int rc = ax_read_until(s, "\n", &line, &len, LINE_MAX_LEN, -1);

    if (rc)
        return rc;
    len--;
    if (len && line[len - 1] == '\r')
        len--;
    line[len] = '\0';
    *out = line;
    return 0;
}

#define QUIT 1 /* on_line(): the client said /quit */

/* One line from the client (*id: its member id once it has joined; the
 * first line is the name). @return 0 (go on); QUIT; an error. */
static int on_line(void *conn, uint64_t *id, char *line)
{
    char name[NAME_MAX_LEN + 1];
    void *v;
    int rc;

    if (!*id) {
        if (!clean_name(line, name))
            return tell(conn, "* please send a name (up to 24 characters)\n");
        if ((rc = ask_room(R_JOIN, 0, conn, name, &v)))
            return rc;
        if (!(*id = (uintptr_t)v))
            return tell(conn, "* that name is taken, try another\n");
        return 0;
    }
    if (!line[0])
        return 0;
    if (!strcmp(line, "/quit")) {
        tell(conn, "* bye\n");
        return QUIT;
    } else if (!strcmp(line, "/who")) {
        if ((rc = ask_room(R_WHO, *id, NULL, "", &v)))
            return rc;
        return say(conn, v);
    } else if (!strncmp(line, "/nick", 5) && (line[5] == ' ' || !line[5])) {
        if (!clean_name(line + 5, name))
            return tell(conn, "* usage: /nick NAME\n");
        if ((rc = ask_room(R_NICK, *id, NULL, name, &v)) == 0 && !v)
            rc = tell(conn, "* that name is taken\n");
        return rc;
    } else if (cfg.debug && !strcmp(line, "/debug-crash-room")) {
        return ask_room(R_CRASH, *id, NULL, "", NULL);
    } else if (cfg.debug && !strcmp(line, "/debug-stall-room")) {
        return ask_room(R_STALL, *id, NULL, "", NULL);
    } else if (line[0] == '/') {
        return tell(conn, "* commands: /nick NAME, /who, /quit\n");
    }
    /* One line in flight per talker: however fast a client types, it
     * cannot outrun the room, and every member's writer gets its turn
     * between two lines of the same talker. */
    return ask_room(R_SAY, *id, NULL, line, NULL);
}

/* The reader is done (@p rc: why): say why if the client should know,
 * and leave the room. Cancelled: the server is stopping. Ten thousand
 * members leaving one by one, each announced, would hold the stop up for
 * seconds: the room is going too and forgets them all at once. */
static void leave_room(void *conn, uint64_t id, int rc, bool kicked)
{
    if (rc == AX_E2BIG)
        tell(conn, "* line too long, disconnecting\n");
    else if (rc == AX_ESRCH && id)
        tell(conn, "* the room restarted, please reconnect\n");
    else if (rc && rc != AX_EPIPE && rc != AX_ECONNRESET &&
             rc != AX_ECANCELED && !kicked)
        fprintf(stderr, "chat: connection: %s\n", ax_strerror(rc));
    if (id && rc != AX_ECANCELED) {
        rmsg *q = rmsg_new(id, NULL, "", 0);
        if (q && ax_send(room_ref(), R_LEAVE, q))
            free(q);
    }
}

static void chat_conn(ax_sock *s, void *arg)
{
    ax_actor_opts ao = {0};
    char *line;
    mconn *c = malloc(sizeof *c);
    uint64_t id = 0;
    int rc;

    (void)arg;
    if (!c)
        return;
    c->writer_task = NULL;
    c->kicked = false;
    atomic_init(&c->refs, 1);
    c->loop = ax_loop_current();
    c->s = s;
    if ((rc = ax_future_new(&c->writer_done))) {
        fprintf(stderr, "chat: ax_future_new: %s\n", ax_strerror(rc));
        free(c);
        return;
    }
    ao.capacity = cfg.mailbox;
    ao.name = "writer";
    ao.shared_stack = cfg.shared_stacks;
    if ((rc = ax_actor_spawn(&c->writer, writer_main, c, &ao))) {
        fprintf(stderr, "chat: ax_actor_spawn: %s\n", ax_strerror(rc));
        ax_future_free(c->writer_done);
        free(c);
        return;
    }
    rc = tell(c, "* welcome! what is your name?\n");
    while (!rc && !(rc = read_line(s, &line)))
        rc = on_line(c, &id, line);
    if (rc == QUIT)
        rc = 0;
    leave_room(c, id, rc, c->kicked);
    /* Stopping, the writer is cancelled instead of given time to flush. */
    writer_stop(c, rc == AX_ECANCELED);
    ax_future_free(c->writer_done);
    conn_unref(c);
}

/* ---- --park-idle: a member with no task while it is idle ---------------- */

static void *park_writer(void *arg);

static bool writer_running(const pconn *c)
{
    return c->writer && !ax_task_done(c->writer);
}

/* A writer for c's queue, unless one runs. Failing (out of memory), the
 * next line tries again, and a member whose lines never go is too slow
 * for the room. */
static int park_spawn_writer(pconn *c)
{
    ax_task_opts o = {.name = "writer", .shared_stack = cfg.shared_stacks};

    if (c->writer) {
        if (!ax_task_done(c->writer))
            return 0;
        /* It got no stack and never ran: give its handle up. */
        ax_task_detach(c->writer);
        c->writer = NULL;
    }
    return ax_spawn_with(&c->writer, park_writer, c, &o);
}

static void park_push(pconn *c, qline *q)
{
    if (c->last) {
        q->next = c->last->next;
        c->last->next = q;
    } else {
        q->next = q;
    }
    c->last = q;
    c->nq++;
    park_spawn_writer(c);
}

/* Take the whole queue, first line first (a NULL-ended list). */
static qline *park_take(pconn *c)
{
    qline *first;

    if (!c->last)
        return NULL;
    first = c->last->next;
    c->last->next = NULL;
    c->last = NULL;
    return first;
}

static void qline_free(qline *q)
{
    if (q->c)
        atomic_fetch_sub_explicit(&q->c->queued, 1, memory_order_release);
    text_unref(q->t);
    free(q);
}

static void park_drop(pconn *c)
{
    qline *q = park_take(c), *next;

    for (; q; q = next) {
        next = q->next;
        c->nq--;
        qline_free(q);
    }
}

/* The reader waits for the writer (its end, or room in the queue). */
static void park_wake(pconn *c)
{
    ax_future *f = c->waiter;

    if (f) {
        c->waiter = NULL;
        ax_future_set_result(f, NULL);
    }
}

static int park_tell(pconn *c, text *t)
{
    qline *q;

    if (c->closing) {
        text_unref(t);
        return 0;
    }
    if (!(q = malloc(sizeof *q))) {
        text_unref(t);
        return AX_ENOMEM;
    }
    q->next = NULL;
    q->t = t;
    q->c = NULL;
    park_push(c, q);
    return 0;
}

/* On the member's loop, between tasks: a line from the room. A member
 * that is ending drops it; while it is not, the connection holds its own
 * reference, so the trip's may go. */
static void park_arrive(void *arg)
{
    qline *q = arg;
    pconn *c = q->c;

    if (c->closing)
        qline_free(q);
    else
        park_push(c, q);
    conn_unref(c);
}

/* On the member's loop, posted by the room: too slow. The writer says so
 * and shuts the socket, which wakes the parked reader. */
static void park_kick_run(void *arg)
{
    pconn *c = arg;

    if (!c->closing && !c->kicked) {
        c->kicked = true;
        if (writer_running(c))
            ax_cancel(c->writer);
        else if (park_spawn_writer(c))
            shutdown(ax_sock_fd(c->s), SHUT_RDWR);
    }
    conn_unref(c); /* the room's reference, passed with the post */
}

/* Writes what is queued, the lines that come meanwhile too, and ends when
 * the queue is empty: an idle member has no writer. The socket may be
 * parked by its reader meanwhile (the park holds its reading side only). */
static void *park_writer(void *arg)
{
    pconn *c = arg;
    int rc = 0;

    while (!rc && c->last && !c->kicked) {
        qline *q = park_take(c), *next;
        char *out = NULL;
        size_t n = 0;

        if (!q->next) {
            rc = ax_write_all(c->s, q->t->s, q->t->len, -1);
        } else if (!(out = malloc(BATCH))) {
            rc = AX_ENOMEM;
        } else {
            for (qline *p = q; p && !rc; p = p->next)
                rc = batch_add(c->s, out, &n, p->t);
            if (!rc && n)
                rc = ax_write_all(c->s, out, n, -1);
            free(out);
        }
        for (; q; q = next) {
            next = q->next;
            c->nq--;
            qline_free(q);
        }
        if (c->nq < cfg.mailbox)
            park_wake(c);
    }
    if (rc || c->kicked) {
        /* Too slow, stopped, or the connection broke: no more lines, and
         * the reader wakes if it waits on the socket. */
        c->closing = true;
        atomic_store_explicit(&c->gone, true, memory_order_release);
        park_drop(c);
        if (c->kicked)
            ax_write_all(c->s, KICK_LINE, sizeof KICK_LINE - 1, 1.0);
        shutdown(ax_sock_fd(c->s), SHUT_RDWR);
    }
    c->writer = NULL;
    ax_task_detach(ax_task_self()); /* it frees itself as it ends */
    park_wake(c);
    return NULL;
}

/* Wait up to a second for c's writer to end or to make room. */
static int park_wait(pconn *c)
{
    ax_future *f;
    int rc;

    if (ax_future_new(&f))
        return ax_sleep(0.01) == AX_ECANCELED ? AX_ECANCELED : 0;
    c->waiter = f;
    rc = ax_await_timeout(f, 1.0, NULL);
    if (c->waiter == f)
        c->waiter = NULL;
    ax_future_free(f);
    return rc == AX_ECANCELED ? rc : 0;
}

/* The end of a parked member, as chat_conn's: the writer may flush what
 * is queued, but not for ever (writer_stop's rules). */
static void park_end(pconn *c, int rc)
{
    bool now = rc == AX_ECANCELED;

    leave_room(c, c->id, rc == QUIT ? 0 : rc, c->kicked);
    c->closing = true;
    atomic_store_explicit(&c->gone, true, memory_order_release);
    for (int waited = 0; writer_running(c); waited++) {
        if (now || waited == STOP_GRACE) {
            ax_cancel(c->writer);
            now = false;
        }
        if (park_wait(c) == AX_ECANCELED)
            now = true;
    }
    if (c->writer) { /* one that got no stack */
        ax_task_detach(c->writer);
        c->writer = NULL;
    }
    park_drop(c);
    conn_unref(c);
}

static void park_resume(ax_sock *s, void *arg, int status);

/* Park until the next line, unless @p rc ends the member. Its own lines
 * wait for room in the queue first, as the actor version's ax_send() does
 * for a full mailbox: a client that sends commands and reads nothing does
 * not queue without bound. */
static void park_next(ax_sock *s, pconn *c, int rc)
{
    while (!rc && c->nq >= cfg.mailbox && writer_running(c))
        rc = park_wait(c);
    if (!rc && !(rc = ax_serve_park(s, park_resume, c, -1)))
        return;
    park_end(c, rc);
}

/* A line (or the end, or the server's stop) came for a parked member. */
static void park_resume(ax_sock *s, void *arg, int status)
{
    pconn *c = arg;
    char *line;
    int rc = status;

    if (!rc)
        rc = read_line(s, &line);
    if (!rc)
        rc = on_line(c, &c->id, line);
    park_next(s, c, rc);
}

static void park_conn(ax_sock *s, void *arg)
{
    pconn *c = calloc(1, sizeof *c);

    (void)arg;
    if (!c)
        return;
    atomic_init(&c->refs, 1);
    atomic_init(&c->queued, 0);
    atomic_init(&c->gone, false);
    c->loop = (uint8_t)ax_loop_index(ax_loop_current());
    c->s = s;
    park_next(s, c, tell(c, "* welcome! what is your name?\n"));
}

/* ---- main ---------------------------------------------------------------- */

static void ready(int port, void *arg)
{
    (void)arg;
    printf("listening on %s:%d\n", cfg.host, port);
    fflush(stdout);
}

/* The supervisor's start function for the room: spawn it and publish its
 * ref before anyone can ask (at start and at every restart). */
static int room_start(ax_actor_ref *out, void *arg, const ax_actor_opts *opts)
{
    int rc = ax_actor_spawn(out, room_main, arg, opts);

    if (rc == 0)
        atomic_store_explicit(&room_id, out->id, memory_order_release);
    return rc;
}

static int metrics_port = -1; /* --metrics */

static void *main_task(void *arg)
{
    ax_sup_spec spec = {.name = "room", .start = room_start,
                        .loop = ax_loop_at(0)};
    /* A room that fails more than 3 times in 5 s is a bug, not bad luck:
     * the supervisor then gives up and the server stops. */
    ax_sup_opts sup = {.name = "room-sup", .loop = ax_loop_at(0)};
    ax_serve_opts so = {.ready = ready, .shared_stack = cfg.shared_stacks};
    int rc;

    (void)arg;
    if ((rc = ax_actor_set_undelivered(undelivered)))
        return ax_task_fail(rc);
    if ((rc = ax_stop_on_signals())) {
        fprintf(stderr, "chat: ax_stop_on_signals: %s\n", ax_strerror(rc));
        return ax_task_fail(rc);
    }
    if ((rc = srv_dump_on_sigquit("chat")))
        return ax_task_fail(rc);
    if ((rc = ax_sup_start(NULL, &sup, &spec, 1))) {
        fprintf(stderr, "chat: ax_sup_start: %s\n", ax_strerror(rc));
        return ax_task_fail(rc);
    }
    ax_task *metrics = NULL;
    if (metrics_port >= 0 &&
        (rc = srv_metrics_start("chat", metrics_port, &metrics)))
        return ax_task_fail(rc);
    rc = ax_serve(cfg.host, cfg.port, cfg.park_idle ? park_conn : chat_conn,
                  NULL, &so);
    srv_metrics_stop(metrics);
    if (rc == AX_ECANCELED)
        return NULL; /* SIGINT or SIGTERM */
    fprintf(stderr, "chat: cannot serve on %s:%d: %s\n", cfg.host, cfg.port,
            ax_strerror(rc));
    return ax_task_fail(rc);
}

int main(int argc, char **argv)
{
    const srv_opt own[] = {
        {.name = "mailbox", .meta = "N", .kind = SRV_SIZE, .dst = &cfg.mailbox,
         .min = 1, .max = 1 << 20,
         .help = "lines queued per member before it counts as too\n"
                 "slow and is disconnected (default 64)"},
        {.name = "announce-max", .meta = "N", .kind = SRV_SIZE,
         .dst = &cfg.announce_max, .min = 0, .max = 1e9,
         .help = "announce joins and leaves only while at most N\n"
                 "members are online (default 1000)"},
        {.name = "debug", .kind = SRV_FLAG, .dst = &cfg.debug,
         .help = "accept /debug-crash-room, which makes the\n"
                 "room fail (for tests of its supervisor), and\n"
                 "/debug-stall-room, which holds it for 2 s"},
        {.name = "shared-stacks", .kind = SRV_FLAG,
         .dst = &cfg.shared_stacks,
         .help = "members' reader tasks and writer actors on the\n"
                 "loops' shared stacks: less memory per idle member"},
        {.name = "park-idle", .kind = SRV_FLAG, .dst = &cfg.park_idle,
         .help = "an idle member has no task and no actor: its\n"
                 "reader is parked (ax_serve_park) between lines,\n"
                 "a writer task runs only while lines are queued"},
        SRV_METRICS_OPT(&metrics_port),
        {.name = NULL}};
    srv_cli cli = {.prog = "chat",
                   .about = "a line-based chat room (try: nc 127.0.0.1 PORT)",
                   .host = cfg.host, .port = cfg.port, .loops = cfg.loops,
                   .opts = own};
    ax_opts opts = {0};
    int rc;

    if ((rc = srv_parse(&cli, argc, argv)) >= 0)
        return rc;
    cfg.host = cli.host;
    cfg.port = cli.port;
    cfg.loops = cli.loops;
    opts.loops = cfg.loops;
    rc = ax_run_with(&opts, main_task, NULL, NULL);
    if (rc && rc != AX_ECANCELED) {
        fprintf(stderr, "chat: %s\n", ax_strerror(rc));
        return 1;
    }
    return 0;
}
