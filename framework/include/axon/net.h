/* SPDX-License-Identifier: MIT */
/**
 * @file axon/net.h
 * @brief Awaitable sockets: TCP (IPv4, IPv6) and Unix stream sockets.
 *
 * Sockets are awaited, not called back. Every call that may block tries the
 * system call first and suspends the calling task only when the kernel says
 * EAGAIN (one exception: a TCP read after a short read that a successful
 * write has followed waits for the next edge first, as the socket is known
 * to be empty then, sparing the recv() that would say EAGAIN); readiness
 * comes from the loop's libevent base (one edge-triggered registration per
 * socket for its whole life, so waiting costs no epoll_ctl per operation).
 * Each call takes a timeout in seconds (negative: none) and returns
 * AX_ECANCELED when the task is cancelled meanwhile.
 *
 * Deadlines: every call that may suspend has a twin ending in _dl that
 * takes an absolute deadline instead, int64 nanoseconds on the calling
 * loop's clock (ax_now_ns(); the virtual clock under the virtual clock),
 * -1 for none. One deadline can so bound a whole request, e.g.
 *
 *     int64_t dl = ax_now_ns() + 2000000000; // 2 s for the exchange
 *     rc = ax_read_exact_dl(s, hdr, sizeof hdr, dl);
 *     if (!rc) rc = ax_write_all_dl(s, reply, n, dl);
 *
 * A deadline already past still returns what needs no waiting (buffered or
 * already arrived bytes, room in the send buffer, a pending connection)
 * and gives AX_ETIMEDOUT only where the call would have to wait. A deadline
 * below -1 is AX_EINVAL. The timeout forms are the same calls with
 * deadline = now + timeout.
 *
 * A socket belongs to the loop that made it; use it from tasks of that loop.
 * One task may read while another writes the same socket; two readers (or
 * two writers) at once get AX_EBUSY. To move a connection to another loop,
 * detach its descriptor (ax_sock_release()) and wrap it there
 * (ax_sock_wrap()); ax_serve() does this for you.
 *
 * Errors are the kernel's, negated (AX_ECONNRESET == -ECONNRESET, ...);
 * ax_strerror() names them. End of stream is a read of 0 bytes.
 */
#ifndef AXON_NET_H
#define AXON_NET_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "axon/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A socket (listening or connected). */
typedef struct ax_sock ax_sock;

/** Options for ax_tcp_listen(). Zero-initialise. */
typedef struct ax_listen_opts {
    int backlog;    /**< 0: SOMAXCONN */
    bool reuseport; /**< SO_REUSEPORT: several listeners share the port */
    bool v6only;    /**< for "::": IPv6 only */
} ax_listen_opts;

/**
 * Listen on @p host:@p port. @p host is a numeric address ("127.0.0.1",
 * "::1", "0.0.0.0", "::"), "localhost", or NULL/"" for every IPv4 address.
 * Port 0 picks a free port (see ax_sock_port()).
 * @return 0; AX_ENAME for a host name other than "localhost" (names are
 *         not resolved here, to keep the loop from blocking on DNS);
 *         AX_EINVAL (bad port, a host that is neither an address nor a
 *         name, such as "127.0.0.1:80"); the kernel's error
 *         (AX_EADDRINUSE, ...); AX_EPERM outside a loop; AX_ENOMEM.
 * Suspends: no.
 */
AX_EXTERN int ax_tcp_listen(ax_sock **out, const char *host, int port,
                            const ax_listen_opts *opts);

/** Listen on a Unix stream socket at @p path (an existing socket file is
 *  replaced). @return as ax_tcp_listen(). */
AX_EXTERN int ax_unix_listen(ax_sock **out, const char *path,
                             const ax_listen_opts *opts);

/**
 * Accept a connection.
 * @return 0 and *out; AX_ETIMEDOUT; AX_ECANCELED; AX_EMFILE/AX_ENFILE when
 *         out of descriptors (the caller should back off: ax_serve() sleeps
 *         and retries); AX_EINVAL if @p l is not listening; AX_ENOTTASK.
 * Suspends: until a connection arrives.
 */
AX_EXTERN int ax_accept(ax_sock *l, ax_sock **out, double timeout);

/** ax_accept() until the absolute @p deadline (ns on ax_now_ns()'s clock;
 *  -1: none). A connection already queued is taken even past the
 *  deadline. @return as ax_accept(); AX_EINVAL for a deadline below -1. */
AX_EXTERN int ax_accept_dl(ax_sock *l, ax_sock **out, int64_t deadline);

/**
 * Connect to @p host:@p port. @p host is a numeric IPv4 or IPv6 address,
 * "localhost" (127.0.0.1), NULL (127.0.0.1), or a host name, resolved on
 * the loop as by ax_getaddrinfo() (dns.h: DNS and the hosts file,
 * AX_DNS_SERVER / AX_HOSTS_FILE). A name's addresses, IPv4 and IPv6, are
 * tried with Happy Eyeballs (RFC 8305, asyncio's happy_eyeballs_delay of
 * 0.25 s): the families interleaved, the first address's first; the next
 * attempt starts when the previous one failed or 250 ms after it started,
 * while the earlier ones go on; the first handshake to complete wins and
 * the other attempts are closed. The timeout covers the lookup and every
 * attempt. The new socket belongs to the caller (ax_close()).
 * @return 0; for a name, the codes of ax_getaddrinfo() (AX_ENONAME,
 *         AX_EDNSFAIL, ...; ax_dns_last_error() has the reason), and when
 *         every address failed the first attempt's error;
 *         AX_ECONNREFUSED and other kernel errors; AX_ETIMEDOUT;
 *         AX_ECANCELED; AX_EINVAL (NULL @p out, port 0 or out of range,
 *         NaN timeout, a host that is neither an address nor a valid
 *         name); AX_ENOTTASK.
 * Suspends: for a name's lookup, and until the handshake completes (not
 * for a Unix socket that accepts at once).
 */
AX_EXTERN int ax_connect(ax_sock **out, const char *host, int port,
                         double timeout);

/** ax_connect() until the absolute @p deadline (ns on ax_now_ns()'s clock;
 *  -1: none). @return as ax_connect(); AX_EINVAL for a deadline below
 *  -1. */
AX_EXTERN int ax_connect_dl(ax_sock **out, const char *host, int port,
                            int64_t deadline);

/** Connect to a Unix stream socket. @return as ax_connect() (no name
 *  lookup, so none of its codes). */
AX_EXTERN int ax_unix_connect(ax_sock **out, const char *path,
                              double timeout);

/** ax_unix_connect() until the absolute @p deadline (-1: none).
 *  @return as ax_unix_connect(); AX_EINVAL for a deadline below -1. */
AX_EXTERN int ax_unix_connect_dl(ax_sock **out, const char *path,
                                 int64_t deadline);

/**
 * Read up to @p n bytes. Bytes buffered by ax_read_until() come first.
 * @return the count read (> 0); 0 at end of stream; AX_ETIMEDOUT;
 *         AX_ECANCELED; AX_ECONNRESET and other kernel errors; AX_EBUSY if
 *         another task is reading; AX_EINVAL.
 */
AX_EXTERN ssize_t ax_read(ax_sock *s, void *buf, size_t n, double timeout);

/** ax_read() until the absolute @p deadline (-1: none). Bytes buffered or
 *  already arrived are returned even past the deadline.
 *  @return as ax_read(); AX_EINVAL for a deadline below -1. */
AX_EXTERN ssize_t ax_read_dl(ax_sock *s, void *buf, size_t n,
                             int64_t deadline);

/**
 * Read exactly @p n bytes.
 * @return 0; AX_EPIPE if the stream ended first (what was read is lost);
 *         the codes of ax_read(). The timeout covers the whole call.
 */
AX_EXTERN int ax_read_exact(ax_sock *s, void *buf, size_t n, double timeout);

/** ax_read_exact() until the absolute @p deadline (-1: none).
 *  @return as ax_read_exact(); AX_EINVAL for a deadline below -1. */
AX_EXTERN int ax_read_exact_dl(ax_sock *s, void *buf, size_t n,
                               int64_t deadline);

/**
 * Buffered read up to and including @p delim (e.g. "\r\n").
 * @param line receives a pointer into the socket's buffer, valid until the
 *             next read call on @p s; the delimiter is included.
 * @param len  receives the length including the delimiter.
 * @param max  the longest line accepted (the buffer grows up to it).
 * While it waits with nothing buffered, the socket holds no buffer (it is
 * freed, and taken again when bytes arrive): an idle connection waiting
 * for its next line costs no buffer memory.
 * @return 0; AX_E2BIG if no delimiter within @p max bytes (the bytes stay
 *         buffered); AX_EPIPE at end of stream before a delimiter; the
 *         codes of ax_read(). The timeout covers the whole call.
 */
AX_EXTERN int ax_read_until(ax_sock *s, const char *delim, char **line,
                            size_t *len, size_t max, double timeout);

/** ax_read_until() until the absolute @p deadline (-1: none). On
 *  AX_ETIMEDOUT the partial line stays buffered, as with the timeout form.
 *  @return as ax_read_until(); AX_EINVAL for a deadline below -1. */
AX_EXTERN int ax_read_until_dl(ax_sock *s, const char *delim, char **line,
                               size_t *len, size_t max, int64_t deadline);

/** Bytes already buffered by ax_read_until() and not yet consumed. */
AX_EXTERN size_t ax_buffered(const ax_sock *s);

/**
 * Write up to @p n bytes (at least one, once writable).
 * @return the count written; AX_EPIPE when the peer is gone; AX_ETIMEDOUT;
 *         AX_ECANCELED; AX_EBUSY if another task is writing; AX_EINVAL.
 * SIGPIPE is never raised.
 */
AX_EXTERN ssize_t ax_write(ax_sock *s, const void *buf, size_t n,
                           double timeout);

/** ax_write() until the absolute @p deadline (-1: none); with room in the
 *  send buffer it writes even past the deadline.
 *  @return as ax_write(); AX_EINVAL for a deadline below -1. */
AX_EXTERN ssize_t ax_write_dl(ax_sock *s, const void *buf, size_t n,
                              int64_t deadline);

/**
 * Write all @p n bytes, waiting for the peer to read as needed (this is
 * where a slow reader pushes back). The timeout covers the whole call.
 * @return 0; the codes of ax_write().
 */
AX_EXTERN int ax_write_all(ax_sock *s, const void *buf, size_t n,
                           double timeout);

/** ax_write_all() until the absolute @p deadline (-1: none). On
 *  AX_ETIMEDOUT part of the data may have been sent.
 *  @return as ax_write_all(); AX_EINVAL for a deadline below -1. */
AX_EXTERN int ax_write_all_dl(ax_sock *s, const void *buf, size_t n,
                              int64_t deadline);

/**
 * Close and free the socket.
 * @return 0; AX_EBUSY if another task is waiting on it (cancel that task
 *         first; nothing is closed); AX_EINVAL for NULL.
 */
AX_EXTERN int ax_close(ax_sock *s);

/**
 * Take the descriptor out of @p s and free @p s without closing it (to
 * hand a connection to another loop).
 * @return the descriptor; AX_EBUSY if a task waits on it; AX_EINVAL.
 */
AX_EXTERN int ax_sock_release(ax_sock *s);

/** Wrap a connected, listening or any stream descriptor for the current
 *  loop (made non-blocking). The socket owns @p fd from now on. A
 *  descriptor that is not a socket (a pipe's end, a character device) is
 *  read and written with read()/write() instead of recv()/send(), with
 *  the same calls, deadlines and errors; a write to a pipe whose reader
 *  is gone gives AX_EPIPE and no SIGPIPE here either.
 *  @return 0; AX_EINVAL (fd < 0); AX_EBADF (not open); AX_EPERM outside
 *  a loop; AX_ENOMEM. */
AX_EXTERN int ax_sock_wrap(int fd, ax_sock **out);

/** The descriptor (for setsockopt and friends), or -1 for NULL. */
AX_EXTERN int ax_sock_fd(const ax_sock *s);

/** The local port of a TCP socket (after listening on port 0), or a
 *  negative code. */
AX_EXTERN int ax_sock_port(const ax_sock *s);

/** A direction for ax_sock_wait_dl(). */
typedef enum ax_sock_ready {
    AX_SOCK_READABLE = 0,
    AX_SOCK_WRITABLE = 1
} ax_sock_ready;

/**
 * Wait until @p s's descriptor is readable or writable again, for code
 * that does its own I/O on ax_sock_fd() (the TLS library, a protocol
 * driver) and still wants the loop's waiting, deadlines and cancellation.
 * Readiness is edge-triggered: call this only after your own non-blocking
 * read or write on the descriptor said EAGAIN; it waits for the next edge,
 * so called without that it may sleep although data is there. Bytes
 * buffered by ax_read_until() are not looked at.
 * @param dir      AX_SOCK_READABLE or AX_SOCK_WRITABLE.
 * @param deadline absolute, on ax_now_ns()'s clock; -1: none. Already
 *                 past: AX_ETIMEDOUT at once.
 * @return 0 (ready: retry your call); AX_ETIMEDOUT; AX_ECANCELED;
 *         AX_EBUSY if another task waits in that direction (this takes
 *         the same slot as ax_read()/ax_write()); AX_EINVAL (NULL, bad
 *         @p dir, deadline below -1); AX_ENOTTASK; AX_EWRONGLOOP.
 * Thread: a task of the socket's loop. Suspends: yes.
 */
AX_EXTERN int ax_sock_wait_dl(ax_sock *s, ax_sock_ready dir,
                              int64_t deadline);

/**
 * Read what is there now, without waiting: for code that drives its own
 * protocol on the socket (the TLS library's BIO, a parser that wants to
 * know whether more bytes are already in). Bytes buffered by
 * ax_read_until() come first. At most one system call, and none when the
 * socket is known to be empty: after a short read answered by a
 * successful write (see ax_read()), a TCP socket is empty until its next
 * edge, so this says AX_EAGAIN at once and ax_sock_wait_dl() then waits
 * for that edge. Use this instead of your own recv() on ax_sock_fd() to
 * get that saving; both may be mixed freely otherwise.
 * @param buf  where up to @p n bytes go (may be NULL if @p n is 0).
 * @return bytes read (> 0); 0 at end of stream or for @p n == 0;
 *         AX_EAGAIN if nothing is there now (wait with ax_sock_wait_dl(s,
 *         AX_SOCK_READABLE, ...), then call again); a negative errno
 *         code (AX_ECONNRESET...); AX_EINVAL (NULL @p s, NULL @p buf with
 *         @p n > 0); AX_ENOTTASK; AX_EWRONGLOOP; AX_EBUSY if another task
 *         waits to read.
 * Thread: a task of the socket's loop. Suspends: never.
 */
AX_EXTERN ssize_t ax_try_read(ax_sock *s, void *buf, size_t n);

/**
 * Write what the socket takes now, without waiting: one system call (no
 * SIGPIPE, on pipes either). A successful write is what lets a later
 * ax_try_read() or ax_read() skip the recv() that would only say EAGAIN.
 * @return bytes written (> 0, maybe fewer than @p n); 0 for @p n == 0;
 *         AX_EAGAIN if the socket's send buffer is full (wait with
 *         ax_sock_wait_dl(s, AX_SOCK_WRITABLE, ...)); AX_EPIPE or another
 *         negative errno code; AX_EINVAL (NULL @p s, NULL @p buf with
 *         @p n > 0); AX_ENOTTASK; AX_EWRONGLOOP; AX_EBUSY if another task
 *         waits to write.
 * Thread: a task of the socket's loop. Suspends: never.
 */
AX_EXTERN ssize_t ax_try_write(ax_sock *s, const void *buf, size_t n);

/** How ax_serve() spreads connections over the loops. */
typedef enum ax_serve_mode {
    /** One listener per loop on the same port (SO_REUSEPORT); the kernel
     *  spreads connections. The default. A port held by a socket without
     *  SO_REUSEPORT gives AX_EADDRINUSE; but the kernel lets another
     *  process of the same user that also sets SO_REUSEPORT share the
     *  port silently. Use AX_SERVE_ACCEPTOR where that must be an error. */
    AX_SERVE_REUSEPORT = 0,
    /** One listener on the calling loop; accepted descriptors are handed
     *  to the loops round-robin. */
    AX_SERVE_ACCEPTOR = 1
} ax_serve_mode;

/** Options for ax_serve(). Zero-initialise. */
typedef struct ax_serve_opts {
    ax_serve_mode mode;
    int backlog;       /**< 0: SOMAXCONN */
    int loops;         /**< use loops 0..loops-1; 0: all */
    size_t stack_size; /**< connection tasks' stack; 0: default */
    /** Connection tasks on their loop's shared stack
     *  (ax_task_opts.shared_stack): an idle connection then holds the few
     *  hundred bytes of stack it uses, not a resident page. The handler
     *  may use only the waits that document support for it (socket I/O,
     *  sleeps, same-loop awaits, sync.h; the others return AX_ENOTSUP),
     *  and every switch between connections copies their bytes.
     *  stack_size must then be 0. */
    bool shared_stack;
    /** Called on the calling loop once every listener is up, with the
     *  port actually bound (useful with port 0). May be NULL. */
    void (*ready)(int port, void *arg);
} ax_serve_opts;

/** A connection handler: runs as its own task on some loop, with @p conn
 *  to read and write. ax_serve() closes @p conn when the handler returns;
 *  the handler must not close it. A cancelled handler (the server is
 *  stopping) sees AX_ECANCELED from its next socket call and should
 *  return. */
typedef void (*ax_conn_fn)(ax_sock *conn, void *arg);

/**
 * The continuation of a parked connection (ax_serve_park()): runs as a new
 * task of the connection's loop, exactly once per successful park, with
 * the @p arg given to the park and @p status:
 *  - 0: the connection is readable: bytes, the end of stream or an error
 *    (a read tells which);
 *  - AX_ETIMEDOUT: the park's deadline passed with nothing to read;
 *  - AX_ECANCELED: the server is stopping (the task is cancelled, so
 *    socket calls return AX_ECANCELED): release what @p arg holds and
 *    return;
 *  - another negative code: the park could not wait (the task waited in
 *    its place; AX_ENOMEM, ...): as AX_ETIMEDOUT, the connection is
 *    usable.
 * It is a handler like the first: it may read and write @p conn, park it
 * again, or return, and then ax_serve() closes @p conn. Whatever the
 * status, it owns @p arg from now on.
 */
typedef void (*ax_conn_resume_fn)(ax_sock *conn, void *arg, int status);

/**
 * Serve connections until the calling task is cancelled: listeners on the
 * chosen loops, a task per connection running handler(conn, arg). Accept
 * errors are survived: out of descriptors (EMFILE) backs off 10 ms and
 * retries instead of spinning; aborted connections are skipped.
 * On cancellation the listeners close, the connection tasks are cancelled
 * and waited for, and AX_ECANCELED is returned.
 * @return AX_ECANCELED (normal end); a listen error (AX_EADDRINUSE, ...);
 *         AX_EINVAL (no handler, a bad port, shared_stack with a
 *         stack_size); AX_ENOTTASK.
 */
AX_EXTERN int ax_serve(const char *host, int port, ax_conn_fn handler,
                       void *arg, const ax_serve_opts *opts);

/**
 * Park an idle connection of ax_serve(): the calling handler gives
 * @p conn up until its next bytes arrive, and its task ends, so an idle
 * connection holds no task and no stack, only its socket, the socket's
 * event and ax_serve()'s record of it (a few hundred bytes, as nginx's
 * connection struct). When bytes (or the end of stream) arrive, or at
 * @p deadline, fn(conn, arg, status) runs in a new task of the same loop,
 * with ax_serve_opts' stack options (ax_conn_resume_fn says which
 * status). Per-connection state travels in @p arg: nothing on the
 * handler's stack survives.
 *
 * The cost moves to busy connections: each wake-up from a park starts a
 * task where a waiting handler would only be woken. Park what is likely
 * to stay idle (a keep-alive connection between requests), not every
 * short wait.
 *
 * The park takes effect when the calling handler (or continuation)
 * returns: it must return soon after a 0, without touching @p conn again
 * (not even ax_close(): ax_serve() owns it). Bytes already there then
 * (buffered by ax_read_until(), or in the kernel) run @p fn at once in the
 * same task, with status 0. The socket's empty read buffer is given back
 * while it is parked.
 *
 * The park holds the reading side only: another task of the same loop may
 * write to @p conn meanwhile (a writer of the connection's own, as
 * examples/servers/chat.c's --park-idle has). Such a task must be done
 * with @p conn before a continuation returns without parking again, since
 * ax_serve() then closes it.
 *
 * The server's stop (the ax_serve() task cancelled: SIGTERM through
 * ax_stop_on_signals(), say) runs every parked connection's @p fn with
 * AX_ECANCELED, a few hundred at a time, and ax_serve() returns only once
 * each has returned: parked connections are closed, never leaked. A peer
 * that closes a parked connection makes it readable: @p fn reads the end
 * of stream and returns, and the connection is freed.
 *
 * @param conn     the connection ax_serve() handed to the calling task
 *                 (its handler's or a continuation's).
 * @param fn       the continuation; not NULL.
 * @param arg      passed to @p fn; the caller's (ax_serve() never frees
 *                 it).
 * @param deadline absolute, on ax_now_ns()'s clock (ax_deadline_in());
 *                 -1: none. Already past: @p fn runs at the loop's next
 *                 turn with AX_ETIMEDOUT (unless bytes are there).
 * @return 0 (parked: return); AX_EINVAL (NULL @p conn or @p fn, a
 *         deadline below -1, a socket that is not a connection of
 *         ax_serve(): a listener, one of your own); AX_EBUSY (already
 *         parked, or another task waits to read @p conn); AX_EPERM (a task
 *         other than the one running @p conn's handler); AX_ECANCELED
 *         (the server is stopping: return, @p conn is closed);
 *         AX_ENOTTASK (not in a task); AX_EWRONGLOOP (a task of another
 *         loop). On an error nothing is parked: the caller still has
 *         @p conn and @p arg.
 * Thread: the task running @p conn's handler. Suspends: no.
 */
AX_EXTERN int ax_serve_park(ax_sock *conn, ax_conn_resume_fn fn, void *arg,
                            int64_t deadline);

#ifdef __cplusplus
}
#endif
#endif
