/* SPDX-License-Identifier: MIT */
/*
 * The wait interface: everything framework/net/ may use of the runtime.
 * Private, never installed.
 *
 * The parts above the runtime (sockets, ax_serve) see no loop or task
 * struct. They get what libuv's uv__io_t and libdill's libdillimpl.h give
 * their network code, and no more:
 *
 *   - an fd watcher (ax__io), registered once per descriptor, edge-triggered
 *     for read and write, and "suspend until ready, the deadline or a
 *     cancellation" for one direction. On Linux the descriptors of a loop
 *     are in an epoll set of the loop's own, which libevent watches as a
 *     single event: a descriptor costs no libevent event and no entry in
 *     libevent's descriptor map (configure --disable-epoll: an event each);
 *   - the calling loop's clock, and a relative timeout turned into a
 *     deadline on it;
 *   - parking a task until another piece of code on its loop unparks it;
 *   - shielding the calling task from cancellation for a section;
 *   - posting a call to another loop that is told when the loop is gone.
 *
 * Deadlines are int64 nanoseconds on the calling loop's clock (ax_now_ns(),
 * the virtual one under the virtual clock); -1 means none.
 *
 * Unless a call says otherwise it must be made on the thread of the loop
 * that owns the object, and it does not suspend.
 */
#ifndef AX_WAIT_H
#define AX_WAIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "axon/common.h"
#include "alloc.h"

struct event;
struct ax__io_hook;
struct ax_task_opts;

/* Directions, also the index into ax__io's per-direction arrays. */
enum { AX__IO_READ = 0, AX__IO_WRITE = 1 };

/*
 * An fd watcher, embedded in its owner (a socket). The fields are read by
 * its owner; only wait.c and the inline calls below write them. `ready`
 * starts true: the first operation finds out with its system call, so a
 * fresh descriptor costs no poll. The owner clears nothing itself:
 * ax__io_wait() forgets the stale edge when the system call said EAGAIN,
 * and ax__io_wrote() when a short read has been proved to have emptied
 * the socket (see ax__io_init_tcp()).
 */
typedef struct ax__io {
    /* Where it is registered (wait.c): by default the descriptor, in its
     * loop's own epoll set; with configure --disable-epoll (or without
     * epoll) a libevent event of its own. One layout either way, so that
     * this header does not depend on config.h. */
    union {
        int fd;
        struct event *ev;
    } reg;
    ax_loop *loop;      /* the loop it is registered with */
    ax_task *waiter[2]; /* the task waiting per direction, or NULL */
    bool ready[2];      /* no EAGAIN seen since the last edge */
    bool rdhup;         /* registered with EV_CLOSED (a FIN has an edge) */
    bool closed;        /* an EV_CLOSED edge came: the peer sent its FIN */
    bool rd_short;      /* last read short, no read edge or wait since */
    bool drained;       /* ready[READ] was cleared by ax__io_wrote() */
    bool armed;         /* hook is armed: no task may use the io */
    struct ax__io_hook *hook; /* its owner's callback (ax__io_hook_attach) */
} ax__io;

/*
 * A callback in place of a task, for an owner that lets its task end
 * while its descriptor is idle (ax_serve's parked connections): armed, it
 * runs at the descriptor's next read edge (data, the end of stream, an
 * error) or at a deadline, whichever comes first, once. It lives in the
 * owner's record, which must outlive the arming; the timer is wait.c's,
 * opaque here.
 */
typedef struct ax__io_hook {
    /* On the loop, outside any task (from the loop's event or timer
     * phase): @p status is 0 for a read edge, AX_ETIMEDOUT for the
     * deadline. The hook is disarmed before the call. It may spawn tasks
     * and re-arm; it must not free the io, nor any other (the loop's
     * epoll batch may hold an edge for it still: wait.c). */
    void (*fn)(struct ax__io_hook *h, int status);
    ax__io *io;
    union {
        int64_t align;
        unsigned char bytes[48];
    } timer;
} ax__io_hook;

/*
 * Register @p fd (already non-blocking) with the calling thread's loop,
 * edge-triggered for read and write, until ax__io_term(). One registration
 * for the descriptor's whole life: waiting costs no epoll_ctl. The first
 * registration of a loop makes its epoll set (close-on-exec).
 * @return 0; AX_EPERM if the thread runs no loop; AX_ENOMEM (also when
 *         the kernel refuses the descriptor, as libevent's event_add()
 *         would: a regular file, the watch limit).
 */
int ax__io_init(ax__io *io, int fd);

/*
 * ax__io_init() for a TCP socket, adding EPOLLRDHUP (libevent's EV_CLOSED
 * under --disable-epoll, when the loop's back-end has it: epoll; not poll
 * or select). Then a short read
 * followed by a successful write can spare the recv() that would only say
 * EAGAIN; see ax__io_read_done(). Elsewhere the same as ax__io_init().
 * @return 0; AX_EPERM if the thread runs no loop; AX_ENOMEM.
 */
int ax__io_init_tcp(ax__io *io, int fd);

/*
 * Record a read of @p got bytes (> 0) into room for @p want: a short one
 * may mean the socket is empty (the owner knows it is a TCP socket, where
 * the kernel returns short only with the receive queue empty, or at an
 * urgent mark: a peer's MSG_OOB can hold back the bytes after it until
 * its next send, as it does with nginx). Only a hint until ax__io_wrote()
 * confirms it.
 */
static inline void ax__io_read_done(ax__io *io, size_t got, size_t want)
{
    io->rd_short = got < want && io->rdhup && !io->closed;
}

/* A read that returned nothing, end of stream or an error: no hint. */
static inline void ax__io_read_none(ax__io *io)
{
    io->rd_short = false;
}

/*
 * Record a successful write system call (any number of bytes > 0). After
 * a short read with no read edge since, it proves the read left the
 * socket empty with nothing pending but edges still to come: a FIN that
 * had come would have shown as EV_CLOSED (io->closed), and a reset or
 * error that had come (libevent folds those into EV_READ|EV_WRITE, so they
 * cannot be told from data) would have made this write fail, since the
 * kernel keeps them (sk_err, SEND_SHUTDOWN) until taken. So the next read
 * may wait for the next edge without a recv() first.
 */
static inline void ax__io_wrote(ax__io *io)
{
    if (io->rd_short) {
        io->rd_short = false;
        io->drained = true;
        io->ready[AX__IO_READ] = false;
    }
}

/*
 * Whether the next read should wait for an edge before its system call:
 * ax__io_wrote() proved the socket empty and no edge has come since. It
 * forgets the proof: after the wait (or if it times out) reads go back to
 * trying first.
 */
static inline bool ax__io_take_drained(ax__io *io)
{
    bool d = io->drained && !io->ready[AX__IO_READ];

    io->drained = false;
    return d;
}

/*
 * Unregister. The caller guarantees nobody waits (ax__io_busy() false), and
 * calls this BEFORE closing the descriptor: once closed its number may name
 * another thread's new socket, which the unregistration would touch; and
 * while a forked child still holds a copy of the descriptor, closing it
 * would not take it out of the epoll set, whose next edge would then carry
 * a pointer to the freed io. Called after the loop's thread has left the
 * loop (a layer's end-of-runtime cleanup), it touches nothing: the set
 * has been closed with every registration in it.
 */
void ax__io_term(ax__io *io);

/*
 * Read buffers of AX__IO_BUF bytes kept warm by the loop. A socket gives
 * its buffer back whenever it waits with nothing buffered, so that an idle
 * connection holds none, and takes one at its next read: through
 * malloc() and free() that was about 300 instructions per request of
 * http-hello (callgrind), and each request's buffer a cold one.
 * ax__io_buf_get(): a buffer from @p io's loop's cache, else malloc'd;
 * NULL when out of memory. ax__io_buf_put(): give one back (NULL: none);
 * kept while called on @p io's loop and the cache holds fewer than 64,
 * else freed. Either may be called on any thread: off the loop they are
 * malloc and free.
 */
#define AX__IO_BUF ((size_t)4096)
void *ax__io_buf_get(const ax__io *io);
void ax__io_buf_put(const ax__io *io, void *buf);

/* Is a task waiting on @p io in either direction, or is its hook armed? */
static inline bool ax__io_busy(const ax__io *io)
{
    return io->waiter[AX__IO_READ] || io->waiter[AX__IO_WRITE] || io->armed;
}

/*
 * Give @p io its owner's hook @p h (not armed yet), for the descriptor's
 * life: the owner finds its record from the io again through io->hook.
 */
void ax__io_hook_attach(ax__io *io, ax__io_hook *h);

/*
 * The deadline of @p h's next arming (-1: none), kept in the hook's timer
 * storage while it is not armed (so its owner needs no field for it).
 */
void ax__io_hook_set_deadline(ax__io_hook *h, int64_t deadline);
int64_t ax__io_hook_deadline(const ax__io_hook *h);

/*
 * Arm the attached hook: h->fn(h, 0) at @p io's next read edge, or
 * h->fn(h, AX_ETIMEDOUT) at its deadline (ax__io_hook_set_deadline(); a
 * deadline already past fires at the loop's next timer phase). Only when
 * the descriptor is known to be empty (a read said EAGAIN, or
 * ax__io_take_drained() proved it) and no task waits to read: an edge
 * already seen would not come again. Until it fires or is disarmed,
 * ax__io_enter() refuses reads and ax__io_busy() the io (AX_EBUSY);
 * writes may go on (a write edge wakes a writer, the hook waits for a
 * read edge).
 * @return 0; AX_ENOMEM (the timer heap could not grow; not armed).
 * Thread: @p io's loop, in or outside a task. Suspends: no.
 */
int ax__io_hook_arm(ax__io *io);

/* Disarm @p io's hook if armed (its callback will not run). */
void ax__io_hook_disarm(ax__io *io);

/*
 * Check that the caller may operate on @p io in direction @p dir: called
 * from a task, on @p io's loop, no other task waits in that direction,
 * and for a read, no hook is armed.
 * The cheap prelude of every socket operation; it does not look at time.
 * @return 0; AX_ENOTTASK; AX_EWRONGLOOP; AX_EBUSY.
 */
int ax__io_enter(const ax__io *io, int dir);

/*
 * Suspend the calling task until @p io is ready in direction @p dir, the
 * @p deadline passes (-1: never) or the task is cancelled. Call it only
 * after the system call said EAGAIN (and after ax__io_enter() said 0): it
 * forgets the edge seen so far and waits for the next one. A deadline
 * already past returns at once, without suspending.
 * @return 0 (ready: retry the system call); AX_ETIMEDOUT; AX_ECANCELED.
 * Suspends: yes.
 */
int ax__io_wait(ax__io *io, int dir, int64_t deadline);

/*
 * Turn a relative @p timeout in seconds into a deadline on the calling
 * loop's clock: negative gives -1 (none), so do callers' "-1: forever".
 * Outside a loop the monotonic clock is used (the caller then fails with
 * AX_ENOTTASK anyway).
 * @return 0 and *deadline; AX_EINVAL for NaN or more than 100 years.
 * Any thread.
 */
int ax__deadline_after(double timeout, int64_t *deadline);

/* The calling loop's clock in nanoseconds (virtual under the virtual
 * clock); the monotonic clock outside a loop. Any thread. */
int64_t ax__clock_ns(void);

/*
 * Suspend the calling task until ax__unpark() or a cancellation (unless
 * shielded). @p what names the wait in ax_dump_tasks(). A park may also end
 * early for no reason the caller knows; callers loop on their condition.
 * @return 0 (unparked); AX_ECANCELED; AX_ENOTTASK.
 * Suspends: yes.
 */
int ax__park(const char *what);

/* Whether the calling task runs on its loop's shared stack
 * (ax_task_opts.shared_stack). Its stack is copied away while it waits, so
 * a wait whose state lives on the stack (written by a callback while the
 * task is parked) must refuse it with AX_ENOTSUP before starting. Socket
 * waits (ax__io_wait) are fine: their state is in the ax__io. */
bool ax__shared_stack(void);

/*
 * ax__park() bounded by @p deadline (-1: none), for an answer that comes
 * from outside the loop's tasks in real time: a name server's reply, one
 * of several connection handshakes. While the task waits here the loop is
 * not counted as deadlocked, and the virtual clock keeps real time's pace
 * (as while it waits for a pool job), so a virtual deadline cannot pass
 * before the real answer had the time to come. A deadline already past
 * returns at once, without suspending.
 * @return 0 (unparked, or woken early: loop on your condition);
 *         AX_ETIMEDOUT; AX_ECANCELED; AX_ENOTTASK.
 * Suspends: yes.
 */
int ax__park_dl(const char *what, int64_t deadline);

/*
 * The calling loop's slot for the resolver's state (framework/net/dns.c),
 * NULL until the resolver stores something there; @p term frees a stored
 * state when the runtime ends: once per loop, after every loop thread
 * stopped (so on another thread) and before the loop's event_base is
 * freed. The first call's @p term is the one used.
 * @return the slot; NULL outside a loop or when out of memory.
 */
void **ax__dns_slot(void (*term)(void *state));

/*
 * Spawn @p fn(@p arg) detached on the calling loop, as ax_spawn_with()
 * (opts->loop is ignored), for an owner that keeps a record per task: the
 * task takes its stack when it first runs, and one that cannot have it
 * (AX_ENOMEM) ends without running @p fn; then @p unrun(@p arg, status)
 * is called instead, on the loop between tasks, so that the owner frees
 * what @p fn would have. *tp receives the task, valid until it ends (for
 * a cancellation before it runs).
 * @return 0; AX_EPERM outside a loop; AX_EINVAL; AX_ENOMEM.
 */
int ax__spawn_unrun(ax_task **tp, ax_task_fn fn, void *arg,
                    const struct ax_task_opts *opts,
                    void (*unrun)(void *arg, int status));

/*
 * Make @p t, parked in ax__park(), ready to run. Only for a task known to
 * be parked there: keep the pointer only around the park. A task already
 * woken keeps its first reason. Not thread-safe: @p t's loop only.
 */
void ax__unpark(ax_task *t);

/*
 * Shield the calling task from cancellation (@p on) or stop (!@p on);
 * a cancellation arriving meanwhile stays pending for the first unshielded
 * suspension. @return the previous setting, to restore nested sections:
 *     bool was = ax__shield(true); ...; ax__shield(was);
 * Called from a task.
 */
bool ax__shield(bool on);

/*
 * Run fn(L, a, b, c, drop) on loop @p to, from any thread. With drop true
 * the loop has closed: fn must only release what a, b and c hold (close a
 * descriptor, drop a reference). Order is kept per sending thread.
 * @return 0; AX_ENOMEM (fn will not run). Thread-safe.
 */
int ax__wait_post(ax_loop *to,
                  void (*fn)(ax_loop *L, void *a, void *b, int c, bool drop),
                  void *a, void *b, int c);

#endif
