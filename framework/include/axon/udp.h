/* SPDX-License-Identifier: MIT */
/**
 * @file axon/udp.h
 * @brief Awaitable UDP sockets (IPv4 and IPv6), one datagram or a batch
 * per call.
 *
 * Like the stream sockets of net.h, a UDP socket is awaited: each call
 * tries the system call first and suspends the calling task only when the
 * kernel says EAGAIN, on one edge-triggered registration kept for the
 * socket's life. Every call that may suspend takes a timeout in seconds
 * (negative: none) and has a twin ending in _dl taking an absolute
 * deadline (int64 ns on ax_now_ns()'s clock, -1: none; below -1 is
 * AX_EINVAL). A deadline already past still returns a datagram that has
 * arrived, and gives AX_ETIMEDOUT only where the call would have to wait.
 * A cancelled task gets AX_ECANCELED.
 *
 * Batches: ax_udp_recv_batch() and ax_udp_send_batch() move many
 * datagrams per system call with recvmmsg()/sendmmsg() where the system
 * has them (Linux), one recvmsg()/sendmsg() each where not;
 * ax_udp_batch_native() tells which.
 *
 * Truncation is never silent: a datagram longer than the buffer gives
 * AX_ETRUNC from ax_udp_recv() (its first bytes are in the buffer, the
 * rest is lost, as the kernel drops it) and sets `truncated` on the
 * message of a batch.
 *
 * Host strings are numeric addresses ("127.0.0.1", "::1", "0.0.0.0",
 * "::") or "localhost" (127.0.0.1); names are not resolved here
 * (AX_ENAME). Ports are 0..65535 (0 when binding: any free port).
 *
 * A socket belongs to the loop that made it: use it from that loop's
 * tasks. One task may receive while another sends; two receivers (or two
 * senders) at once get AX_EBUSY. A freed socket is detected as such
 * (AX_ESRCH) for a while after ax_udp_close(), not forever.
 */
#ifndef AXON_UDP_H
#define AXON_UDP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "axon/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A UDP socket. */
typedef struct ax_udp ax_udp;

/** An IPv4 or IPv6 socket address; len 0 means "none". Plain data: copy
 *  it freely. */
typedef struct ax_udp_addr {
    union {
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
    } u;
    socklen_t len;
} ax_udp_addr;

/** One datagram of a batch. */
typedef struct ax_udp_msg {
    /** send: the data; recv: where to store it. */
    void *buf;
    /** send: bytes to send; recv: room in buf. */
    size_t len;
    /** recv: bytes stored (at most len). */
    size_t n;
    /** recv: the sender. send: the destination, or len 0 for the peer of
     *  a connected socket. */
    ax_udp_addr addr;
    /** recv: the datagram was longer than len; its tail is lost. */
    bool truncated;
} ax_udp_msg;

/** Options for ax_udp_bind(). Zero-initialise. */
typedef struct ax_udp_opts {
    bool reuseport; /**< SO_REUSEPORT: several sockets share the port */
    bool v6only;    /**< for "::": IPv6 only */
    int rcvbuf;     /**< SO_RCVBUF in bytes; 0: the system's default */
    int sndbuf;     /**< SO_SNDBUF in bytes; 0: the system's default */
} ax_udp_opts;

/**
 * Fill @p a from a numeric @p host (or "localhost"; NULL or "" is
 * 0.0.0.0) and @p port. Any thread; does not suspend.
 * @return 0; AX_EINVAL (NULL @p a, port outside 0..65535, a string that
 *         is neither an address nor a name, such as "1.2.3.4:5");
 *         AX_ENAME (a host name other than "localhost": not resolved).
 */
AX_EXTERN int ax_udp_addr_set(ax_udp_addr *a, const char *host, int port);

/** The port of @p a, or AX_EINVAL (NULL, or not an IPv4/IPv6 address). */
AX_EXTERN int ax_udp_addr_port(const ax_udp_addr *a);

/**
 * Write @p a as text into @p buf ("127.0.0.1:53", "[::1]:53").
 * Any thread; does not suspend.
 * @return the length written (without the NUL); AX_EINVAL (NULL, not an
 *         IPv4/IPv6 address); AX_E2BIG if @p size is too small (64 bytes
 *         are always enough).
 */
AX_EXTERN int ax_udp_addr_str(const ax_udp_addr *a, char *buf, size_t size);

/**
 * Make a UDP socket bound to @p host:@p port (port 0: any free port, see
 * ax_udp_port()). Its family follows @p host ("::" or "::1": IPv6). The
 * socket belongs to the calling loop and to the caller (ax_udp_close()).
 * @param opts may be NULL.
 * @return 0 and *out; the codes of ax_udp_addr_set(); the kernel's
 *         (AX_EADDRINUSE, ...); AX_EPERM outside a loop; AX_ENOMEM.
 * Suspends: no.
 */
AX_EXTERN int ax_udp_bind(ax_udp **out, const char *host, int port,
                          const ax_udp_opts *opts);

/**
 * Make a UDP socket connected to @p host:@p port (port 1..65535), bound
 * to a free local port: it sends to that peer with a NULL address and
 * receives from it only. A peer that is not listening shows up later as
 * AX_ECONNREFUSED from a receive. Belongs to the calling loop and to the
 * caller (ax_udp_close()).
 * @return 0 and *out; the codes of ax_udp_addr_set(); AX_EINVAL for port
 *         0; the kernel's; AX_EPERM outside a loop; AX_ENOMEM.
 * Suspends: no.
 */
AX_EXTERN int ax_udp_connect(ax_udp **out, const char *host, int port);

/**
 * Send one datagram of @p n bytes to @p to (NULL, or len 0: the connected
 * peer). All or nothing: a datagram is never sent in part.
 * @return n; the kernel's errors negated (-EMSGSIZE for a datagram
 *         too large, -EDESTADDRREQ for no address on an unconnected
 *         socket, -EAFNOSUPPORT for an IPv6 address on an IPv4 socket,
 *         AX_ECONNREFUSED after an ICMP error on a connected one); AX_ETIMEDOUT; AX_ECANCELED; AX_EBUSY (another
 *         task is sending); AX_EINVAL (NULL @p u, NULL @p buf with n > 0);
 *         AX_ESRCH (a closed socket); AX_ENOTTASK; AX_EWRONGLOOP.
 * Suspends: only while the send buffer is full.
 */
AX_EXTERN ssize_t ax_udp_send(ax_udp *u, const void *buf, size_t n,
                              const ax_udp_addr *to, double timeout);

/** ax_udp_send() until the absolute @p deadline (-1: none).
 *  @return as ax_udp_send(); AX_EINVAL for a deadline below -1. */
AX_EXTERN ssize_t ax_udp_send_dl(ax_udp *u, const void *buf, size_t n,
                                 const ax_udp_addr *to, int64_t deadline);

/**
 * Receive one datagram into @p buf (room for @p n bytes).
 * @param from receives the sender; may be NULL.
 * @return its length (0 for an empty datagram); AX_ETRUNC if it was
 *         longer than @p n (the first n bytes are in @p buf and *from is
 *         set; the rest is lost); AX_ECONNREFUSED (connected socket, the
 *         peer's port was closed); AX_ETIMEDOUT; AX_ECANCELED; AX_EBUSY
 *         (another task is receiving); AX_EINVAL; AX_ESRCH; AX_ENOTTASK;
 *         AX_EWRONGLOOP.
 * Suspends: until a datagram arrives.
 */
AX_EXTERN ssize_t ax_udp_recv(ax_udp *u, void *buf, size_t n,
                              ax_udp_addr *from, double timeout);

/** ax_udp_recv() until the absolute @p deadline (-1: none). A datagram
 *  already arrived is returned even past the deadline.
 *  @return as ax_udp_recv(); AX_EINVAL for a deadline below -1. */
AX_EXTERN ssize_t ax_udp_recv_dl(ax_udp *u, void *buf, size_t n,
                                 ax_udp_addr *from, int64_t deadline);

/**
 * Receive up to @p count datagrams into @p msgs, waiting for the first
 * one only: what has arrived by then is taken in one recvmmsg() (at most
 * 64 per call). Each message gets n, addr and truncated.
 * @return the number received (1..count); the codes of ax_udp_recv()
 *         except AX_ETRUNC (see `truncated`); AX_EINVAL for NULL @p msgs
 *         or @p count 0.
 * Suspends: until a datagram arrives.
 */
AX_EXTERN int ax_udp_recv_batch(ax_udp *u, ax_udp_msg *msgs, size_t count,
                                double timeout);

/** ax_udp_recv_batch() until the absolute @p deadline (-1: none).
 *  @return as ax_udp_recv_batch(); AX_EINVAL for a deadline below -1. */
AX_EXTERN int ax_udp_recv_batch_dl(ax_udp *u, ax_udp_msg *msgs,
                                   size_t count, int64_t deadline);

/**
 * Send the @p count datagrams of @p msgs in order, with sendmmsg() (64
 * per call), waiting for room in the send buffer as needed. The timeout
 * covers the whole call.
 * @return @p count; or, if an error stops the batch after some were sent,
 *         how many were sent (call again from there to see the error);
 *         else the codes of ax_udp_send(); AX_EINVAL for NULL @p msgs or
 *         @p count 0 or above INT_MAX.
 * Suspends: only while the send buffer is full.
 */
AX_EXTERN int ax_udp_send_batch(ax_udp *u, const ax_udp_msg *msgs,
                                size_t count, double timeout);

/** ax_udp_send_batch() until the absolute @p deadline (-1: none).
 *  @return as ax_udp_send_batch(); AX_EINVAL for a deadline below -1. */
AX_EXTERN int ax_udp_send_batch_dl(ax_udp *u, const ax_udp_msg *msgs,
                                   size_t count, int64_t deadline);

/**
 * Close and free the socket. On its loop's thread.
 * @return 0; AX_EBUSY if a task is waiting on it (in a send or a
 *         receive: cancel that task first; nothing is closed);
 *         AX_EWRONGLOOP from another loop; AX_EINVAL for NULL; AX_ESRCH
 *         for a socket already closed.
 */
AX_EXTERN int ax_udp_close(ax_udp *u);

/** The local port (after binding to port 0), or AX_EINVAL / AX_ESRCH. */
AX_EXTERN int ax_udp_port(const ax_udp *u);

/** The local address into @p a. @return 0; AX_EINVAL; AX_ESRCH; the
 *  kernel's error. */
AX_EXTERN int ax_udp_local_addr(const ax_udp *u, ax_udp_addr *a);

/** The descriptor (for setsockopt and friends), or -1 for NULL or a
 *  closed socket. */
AX_EXTERN int ax_udp_fd(const ax_udp *u);

/** Whether the batch calls use recvmmsg()/sendmmsg() (true) or one
 *  system call per datagram (false). Any thread. */
AX_EXTERN bool ax_udp_batch_native(void);

#ifdef __cplusplus
}
#endif
#endif
