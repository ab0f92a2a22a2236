/* SPDX-License-Identifier: MIT */
/*
 * The wait interface (wait.h) on top of the runtime's private structs: the
 * one place where framework/net/ meets the loop, the task and the timer
 * heap.
 *
 * A waiting task uses its own embedded timer for the deadline, as
 * ax_sleep() does, so a wait allocates nothing (the heap array grows
 * amortised). On one thread there is no race between an EAGAIN and the
 * edge that follows it: the libevent callback can only run once the task
 * has suspended and the loop polls.
 */
#include "internal.h"
#include "axon.h"

#include <event2/event.h>
#include <string.h>

#include "wait.h"

#ifdef AX_ASAN
#include <sanitizer/asan_interface.h>
#define IOBUF_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define IOBUF_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define IOBUF_POISON(p, n) ((void)(p), (void)(n))
#define IOBUF_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* 256 KiB per loop at most: more than a loop's tasks read into at once in
 * any server here, and little beside its stacks. */
#define IOBUF_KEEP 64u

/* An edge, in libevent's terms (EV_READ, EV_WRITE, EV_CLOSED) whichever
 * poller saw it. Only wakes: a woken task is queued, and the hook (ax_serve's
 * parked connection) queues its task too (a spawn from outside a task is
 * never eager), so nothing that runs here frees an io; the epoll batch
 * below relies on that. */
static void io_edge(ax__io *io, short what)
{
    /* A FIN: reads go back to asking the kernel until it says 0, since
     * a short read no longer means "empty, an edge will follow". */
    if (what & EV_CLOSED) {
        io->closed = true;
        what |= EV_READ;
    }
    if (what & EV_WRITE) {
        io->ready[AX__IO_WRITE] = true;
        if (io->waiter[AX__IO_WRITE])
            ax__wake(io->waiter[AX__IO_WRITE], 0);
    }
    if (what & EV_READ) {
        io->rd_short = false;
        io->ready[AX__IO_READ] = true;
        if (io->waiter[AX__IO_READ]) {
            ax__wake(io->waiter[AX__IO_READ], 0);
        } else if (io->armed) {
            /* Last: the hook may hand the io to a task of its own. */
            ax__io_hook_disarm(io);
            io->hook->fn(io->hook, 0);
        }
    }
}

static void io_fields(ax__io *io, ax_loop *L, bool rdhup)
{
    io->loop = L;
    io->waiter[AX__IO_READ] = io->waiter[AX__IO_WRITE] = NULL;
    io->ready[AX__IO_READ] = io->ready[AX__IO_WRITE] = true;
    io->rdhup = rdhup;
    io->closed = io->rd_short = io->drained = io->armed = false;
    io->hook = NULL;
}

#if AX_USE_EPOLL
/*
 * The loop's own epoll set. libevent registers a descriptor with a malloc'd
 * struct event (144 bytes with malloc's header) and an entry in its
 * descriptor map (about 40, never given back), and runs every edge through
 * its map, its activation queue and the persistent event's closure. Here
 * a descriptor is one epoll_ctl(ADD) with the io itself as the event's
 * data, and libevent watches the set's descriptor as a single event (an
 * epoll descriptor is readable while edges wait in it). The set is made
 * at a loop's first registration (a loop without sockets has none) and
 * closed by ax__io_set_term() when the loop's thread leaves the loop.
 *
 * An edge costs a second epoll_wait (libevent's says "the set is ready",
 * ours fetches the edges); the scheduler's busy poll (ax__io_poll()) asks
 * the set directly and libevent only for the application's events.
 *
 * All of it here rather than a file of its own: it is a dozen lines around
 * io_edge(), and the fallback (an event per descriptor) sits beside it.
 */
#include <sys/epoll.h>
#include <unistd.h>

/* Edges fetched per epoll_wait; more are fetched while a batch comes back
 * full. */
#define EP_BATCH 64

/* libevent's epoll back-end's mapping, so that both builds see the same
 * edges: an error or a hang-up is read and write (and never EV_CLOSED),
 * else each bit for itself. */
static short ep_what(uint32_t e)
{
    short what = 0;

    if (e & (EPOLLHUP | EPOLLERR))
        return EV_READ | EV_WRITE;
    if (e & EPOLLIN)
        what |= EV_READ;
    if (e & EPOLLOUT)
        what |= EV_WRITE;
    if (e & EPOLLRDHUP)
        what |= EV_CLOSED;
    return what;
}

/* Every edge of a batch is handed out before the next epoll_wait, and
 * io_edge() frees no io (see there), so no data.ptr of a batch can be
 * stale; an io unregistered between two batches (ax__io_term() before its
 * descriptor is closed) has been taken out of the kernel's ready list. */
void ax__io_poll(ax_loop *L)
{
    struct epoll_event evs[EP_BATCH];
    int n;

    do {
        n = epoll_wait(L->ep.fd, evs, EP_BATCH, 0);
        for (int i = 0; i < n; i++)
            io_edge(evs[i].data.ptr, ep_what(evs[i].events));
    } while (n == EP_BATCH);
}

static void on_set(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    ax__io_poll(arg);
}

static int set_open(ax_loop *L)
{
    int fd = epoll_create1(EPOLL_CLOEXEC);

    if (fd < 0)
        return AX_ENOMEM;
    L->ep.ev = event_new(L->base, fd, EV_READ | EV_PERSIST, on_set, L);
    if (!L->ep.ev || event_add(L->ep.ev, NULL) != 0) {
        if (L->ep.ev)
            event_free(L->ep.ev);
        L->ep.ev = NULL;
        close(fd);
        return AX_ENOMEM;
    }
    L->ep.fd = fd;
    L->ep.n = 0;
    return 0;
}

void ax__io_set_term(ax_loop *L)
{
    if (!L->ep.ev)
        return;
    event_free(L->ep.ev);
    L->ep.ev = NULL;
    close(L->ep.fd);
    L->ep.fd = -1;
    L->ep.n = 0;
}

static int io_init(ax__io *io, int fd, bool tcp)
{
    ax_loop *L = ax__tls_loop;
    struct epoll_event e;
    int rc;

    if (!L)
        return AX_EPERM;
    if (!L->ep.ev && (rc = set_open(L)))
        return rc;
    io_fields(io, L, tcp);
    io->reg.fd = fd;
    e.events = EPOLLIN | EPOLLOUT | EPOLLET | (tcp ? EPOLLRDHUP : 0);
    e.data.ptr = io;
    /* Refused (a regular file, the watch limit, a descriptor already in
     * the set): what event_add() said, AX_ENOMEM. */
    if (epoll_ctl(L->ep.fd, EPOLL_CTL_ADD, fd, &e) != 0)
        return AX_ENOMEM;
    L->ep.n++;
    return 0;
}

void ax__io_term(ax__io *io)
{
    ax_loop *L = io->loop;

    ax__io_hook_disarm(io);
    /* Only from the loop's thread while the set is open: after
     * ax__io_set_term() its number may be another set's, or a socket's. */
    if (L && L == ax__tls_loop && L->ep.ev) {
        epoll_ctl(L->ep.fd, EPOLL_CTL_DEL, io->reg.fd, NULL);
        L->ep.n--;
    }
}

#else /* !AX_USE_EPOLL: a libevent event per descriptor */

void ax__io_poll(ax_loop *L)
{
    (void)L;
}

void ax__io_set_term(ax_loop *L)
{
    (void)L;
}

static void on_io(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    io_edge(arg, what);
}

static int io_init(ax__io *io, int fd, bool tcp)
{
    ax_loop *L = ax__tls_loop;
    short what = EV_READ | EV_WRITE | EV_PERSIST | EV_ET;

    if (!L)
        return AX_EPERM;
    io_fields(io, L, tcp && (event_base_get_features(L->base) &
                             EV_FEATURE_EARLY_CLOSE));
    if (io->rdhup)
        what |= EV_CLOSED;
    io->reg.ev = event_new(L->base, fd, what, on_io, io);
    if (!io->reg.ev)
        return AX_ENOMEM;
    if (event_add(io->reg.ev, NULL) != 0) {
        event_free(io->reg.ev);
        io->reg.ev = NULL;
        return AX_ENOMEM;
    }
    return 0;
}

void ax__io_term(ax__io *io)
{
    ax__io_hook_disarm(io);
    event_free(io->reg.ev);
    io->reg.ev = NULL;
}
#endif

int ax__io_init(ax__io *io, int fd)
{
    return io_init(io, fd, false);
}

int ax__io_init_tcp(ax__io *io, int fd)
{
    return io_init(io, fd, true);
}

int ax__io_enter(const ax__io *io, int dir)
{
    ax_task *t = ax__current();

    if (!t)
        return AX_ENOTTASK;
    if (io->loop != t->loop)
        return AX_EWRONGLOOP;
    /* An armed hook holds the reading side only: a task of the owner's
     * may still write (a parked chat member's writer). */
    if (io->waiter[dir] || (io->armed && dir == AX__IO_READ))
        return AX_EBUSY;
    return 0;
}

/* The hook's timer is an ax__timer with a fire callback, in the hook's
 * storage: arming allocates nothing, and a parked descriptor's deadline
 * follows the loop's clock (virtual too), as a task's would. */
_Static_assert(sizeof(ax__timer) <= sizeof(((ax__io_hook *)0)->timer),
               "ax__io_hook's timer storage");

static ax__timer *hook_timer(ax__io_hook *h)
{
    return (ax__timer *)(void *)h->timer.bytes;
}

static void hook_fire(ax_loop *L, ax__timer *tm)
{
    ax__io_hook *h = (ax__io_hook *)(void *)((char *)tm -
                                             offsetof(ax__io_hook, timer));

    (void)L;
    h->io->armed = false;
    h->fn(h, AX_ETIMEDOUT);
}

void ax__io_hook_attach(ax__io *io, ax__io_hook *h)
{
    ax__timer *tm = hook_timer(h);

    memset(tm, 0, sizeof *tm);
    tm->idx = AX__TIMER_IDLE;
    tm->deadline = -1;
    tm->fire = hook_fire;
    h->io = io;
    io->hook = h;
}

/* An idle timer's deadline field is free: it holds the next arming's. */
void ax__io_hook_set_deadline(ax__io_hook *h, int64_t deadline)
{
    hook_timer(h)->deadline = deadline;
}

int64_t ax__io_hook_deadline(const ax__io_hook *h)
{
    return hook_timer((ax__io_hook *)h)->deadline;
}

int ax__io_hook_arm(ax__io *io)
{
    ax_loop *L = io->loop;
    ax__timer *tm = hook_timer(io->hook);

    if (tm->deadline >= 0) {
        if (ax__timer_reserve(L))
            return AX_ENOMEM;
        ax__timer_add(L, tm, tm->deadline);
    }
    io->ready[AX__IO_READ] = false;
    io->rd_short = io->drained = false;
    io->armed = true;
    return 0;
}

void ax__io_hook_disarm(ax__io *io)
{
    if (!io->armed)
        return;
    io->armed = false;
    ax__timer_del(io->loop, hook_timer(io->hook));
}

int ax__io_wait(ax__io *io, int dir, int64_t deadline)
{
    ax_task *t = ax__current();
    ax_loop *L = t->loop;
    int rc = 0;

    io->ready[dir] = false;
    if (dir == AX__IO_READ)
        io->rd_short = io->drained = false;
    if (deadline >= 0) {
        if (deadline <= ax__now(L))
            return AX_ETIMEDOUT;
        t->timer.status = AX_ETIMEDOUT;
        ax__timer_add(L, &t->timer, deadline);
    }
    io->waiter[dir] = t;
    /* Loop: a wake for another reason than ours (none today) must not be
     * taken for readiness. */
    while (!io->ready[dir] && !rc)
        rc = ax__suspend_shs(t, dir == AX__IO_WRITE ? "waiting to write"
                                                : "waiting to read",
                         NULL); /* wait_obj is read as a future */
    io->waiter[dir] = NULL;
    ax__timer_del(L, &t->timer);
    /* An edge that came with the timeout or the cancel wins: the caller
     * retries the system call rather than losing what arrived. */
    return io->ready[dir] ? 0 : rc;
}

int ax__deadline_after(double timeout, int64_t *deadline)
{
    int64_t ns;
    int rc;

    if (timeout != timeout)
        return AX_EINVAL;
    if (timeout < 0) {
        *deadline = -1;
        return 0;
    }
    if ((rc = ax__seconds_to_ns(timeout, &ns)))
        return rc;
    *deadline = ax__clock_ns() + ns;
    return 0;
}

int64_t ax__clock_ns(void)
{
    ax_loop *L = ax__tls_loop;

    return L ? ax__now(L) : ax__mono_ns();
}

int ax__spawn_unrun(ax_task **tp, ax_task_fn fn, void *arg,
                    const struct ax_task_opts *opts,
                    void (*unrun)(void *arg, int status))
{
    ax_loop *L = ax__tls_loop;

    if (!L)
        return AX_EPERM;
    return ax__spawn_on(L, tp, false, fn, arg, opts, unrun);
}

bool ax__shared_stack(void)
{
    ax_task *t = ax__current();

    return t && t->shstk;
}

int ax__park(const char *what)
{
    ax_task *t = ax__current();

    if (!t)
        return AX_ENOTTASK;
    return ax__suspend(t, what, NULL);
}

int ax__park_dl(const char *what, int64_t deadline)
{
    ax_task *t = ax__current();
    ax_loop *L;
    int rc;

    if (!t)
        return AX_ENOTTASK;
    L = t->loop;
    if (deadline >= 0) {
        if (deadline <= ax__now(L))
            return AX_ETIMEDOUT;
        t->timer.status = AX_ETIMEDOUT;
        ax__timer_add(L, &t->timer, deadline);
    }
    /* Counted as a pool wait: the scheduler's one notion of "an answer
     * from outside is coming in real time". */
    L->tpool_waits++;
    rc = ax__suspend(t, what, NULL);
    L->tpool_waits--;
    ax__timer_del(L, &t->timer);
    return rc;
}

/* The resolver's per-loop state rides on an extension slot: the core's
 * one mechanism for per-loop state freed at the runtime's end. */
typedef struct dns_cell {
    void *state;
} dns_cell;

static void (*dns_term)(void *state);

static void *dns_loop_new(ax_loop *L, void *rt)
{
    (void)L;
    (void)rt;
    return ax__calloc(1, sizeof(dns_cell));
}

static void dns_loop_term(ax_loop *L, void *ls, void *rt)
{
    dns_cell *c = ls;

    (void)L;
    (void)rt;
    if (c && c->state && dns_term)
        dns_term(c->state);
    ax__free(c);
}

static ax__ext dns_ext = {
    .name = "dns",
    .loop_new = dns_loop_new,
    .loop_term = dns_loop_term,
};

void **ax__dns_slot(void (*term)(void *state))
{
    ax_loop *L = ax__tls_loop;
    dns_cell *c;

    if (!L)
        return NULL;
    if (!__atomic_load_n(&dns_term, __ATOMIC_ACQUIRE)) {
        void (*none)(void *) = NULL;
        __atomic_compare_exchange_n(&dns_term, &none, term, false,
                                    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
    }
    if (!ax__ext_attach(&dns_ext))
        return NULL;
    c = ax__ext_loop(L, &dns_ext);
    return c ? &c->state : NULL;
}

void ax__unpark(ax_task *t)
{
    ax__wake(t, 0);
}

bool ax__shield(bool on)
{
    ax_task *t = ax__current();
    bool was = t->shielded;

    t->shielded = on;
    return was;
}

int ax__wait_post(ax_loop *to,
                  void (*fn)(ax_loop *L, void *a, void *b, int c, bool drop),
                  void *a, void *b, int c)
{
    return ax__post_call(to, fn, a, b, c);
}

/* ---- read buffers ---------------------------------------------------------- */

/* The loop pointer is compared before it is followed: a socket freed after
 * its loop has gone (or on another thread) never touches the cache. */
void *ax__io_buf_get(const ax__io *io)
{
    ax_loop *L = ax__tls_loop;
    void *b;

    if (!L || L != io->loop || !L->iobuf.head)
        return ax__malloc(AX__IO_BUF);
    b = L->iobuf.head;
    IOBUF_UNPOISON(b, AX__IO_BUF);
    memcpy(&L->iobuf.head, b, sizeof b);
    L->iobuf.n--;
    return b;
}

void ax__io_buf_put(const ax__io *io, void *buf)
{
    ax_loop *L = ax__tls_loop;

    if (!buf)
        return;
    if (!L || L != io->loop || L->iobuf.n >= IOBUF_KEEP) {
        ax__free(buf);
        return;
    }
    memcpy(buf, &L->iobuf.head, sizeof buf);
    L->iobuf.head = buf;
    L->iobuf.n++;
    IOBUF_POISON((char *)buf + sizeof buf, AX__IO_BUF - sizeof buf);
}

void ax__io_bufs_term(ax_loop *L)
{
    void *b = L->iobuf.head, *next;

    for (; b; b = next) {
        IOBUF_UNPOISON(b, AX__IO_BUF);
        memcpy(&next, b, sizeof next);
        ax__free(b);
    }
    L->iobuf.head = NULL;
    L->iobuf.n = 0;
}
